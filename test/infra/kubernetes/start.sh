#!/usr/bin/env bash
# Starts the tests' Kubernetes control plane on loopback: etcd, kube-apiserver (RBAC, a
# generated CA), kube-controller-manager (without the node lifecycle controller, so fake nodes
# are never evicted) and kube-scheduler, from the binaries test/infra/kubernetes/build.sh made.
# No kubelet: tests register fake nodes and serve the kubelet's endpoints with a stand-in
# (test/support/kubelet-stand-in.ts) whose serving certificate this script signs.
#
# Idempotent: a component that is running is kept; one that is not (first start, or a machine
# whose processes were all killed, leaving pid files behind) is started. Objects from earlier
# runs stay in etcd; tests use unique namespaces and node names.
#
# Prints `export CROWSNEST_TEST_KUBECONFIG=<admin kubeconfig>` on stdout; all else to stderr.
# Stop it with test/infra/kubernetes/stop.sh.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$SCRIPT_DIR/common.sh"

READY_TIMEOUT_SECONDS=${CROWSNEST_KUBERNETES_READY_TIMEOUT:-90}
CERT_DAYS=3650
SERVICE_CIDR=10.96.0.0/24

# --- certificates -------------------------------------------------------------
# sign <name> <subject> [subjectAltName]: a key and a certificate signed by the cluster's CA.
sign() {
  local name=$1 subject=$2 alt_names=${3:-} extensions
  extensions=$(mktemp)
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ -n "$alt_names" ]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "subjectAltName=$alt_names"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } >"$extensions"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI_DIR/$name.key" -subj "$subject" \
    -out "$PKI_DIR/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI_DIR/$name.csr" -CA "$PKI_DIR/ca.crt" -CAkey "$PKI_DIR/ca.key" \
    -CAcreateserial -days "$CERT_DAYS" -extfile "$extensions" -out "$PKI_DIR/$name.crt" 2>/dev/null
  rm -f "$PKI_DIR/$name.csr" "$extensions"
}

generate_certificates() {
  # Written last, so a run interrupted halfway generates everything again.
  [ -f "$PKI_DIR/.complete" ] && return 0
  say "generating certificates in $PKI_DIR"
  rm -rf "$PKI_DIR"
  mkdir -p "$PKI_DIR"
  chmod 700 "$PKI_DIR"
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI_DIR/ca.key" -days "$CERT_DAYS" \
    -subj "/CN=crowsnest-test-kubernetes-ca" -out "$PKI_DIR/ca.crt" 2>/dev/null
  local kubernetes_ip=${SERVICE_CIDR%.*/*}.1
  sign apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,DNS:localhost,IP:$kubernetes_ip,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign admin "/O=system:masters/CN=crowsnest-test-admin"
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  sign front-proxy-client "/CN=front-proxy-client"
  sign controller-manager "/CN=system:kube-controller-manager"
  sign scheduler "/CN=system:kube-scheduler"
  # The kubelet stand-in serves on 127.0.0.1 for fake nodes whose Hostname address is localhost.
  sign kubelet-stand-in "/CN=crowsnest-kubelet-stand-in" "IP:127.0.0.1,DNS:localhost"
  openssl genrsa -out "$PKI_DIR/service-account.key" 2048 2>/dev/null
  openssl rsa -in "$PKI_DIR/service-account.key" -pubout -out "$PKI_DIR/service-account.pub" 2>/dev/null
  touch "$PKI_DIR/.complete"
}

# write_kubeconfig <file> <certificate name>: a kubeconfig with the certificates embedded, so
# it is one self-contained file for the tests and the product's client.
write_kubeconfig() {
  local file=$1 cert=$2
  local temporary=$file.partial
  cat >"$temporary" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: crowsnest-test
  cluster:
    server: $API_SERVER_URL
    certificate-authority-data: $(base64 -w0 "$PKI_DIR/ca.crt")
users:
- name: $cert
  user:
    client-certificate-data: $(base64 -w0 "$PKI_DIR/$cert.crt")
    client-key-data: $(base64 -w0 "$PKI_DIR/$cert.key")
contexts:
- name: crowsnest-test
  context:
    cluster: crowsnest-test
    user: $cert
current-context: crowsnest-test
KUBECONFIG
  chmod 600 "$temporary"
  mv "$temporary" "$file"
}

# --- processes ----------------------------------------------------------------
# launch <name> <binary> args...: runs a component in its own session, logging to its file.
launch() {
  local name=$1 binary=$2; shift 2
  say "starting $name"
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  local log=$LOG_DIR/$name.log
  # The logs outlive runs; past 50 MB only the newest 10 MB are kept.
  if [ "$(stat -c %s "$log" 2>/dev/null || echo 0)" -gt $((50 * 1024 * 1024)) ]; then
    tail -c $((10 * 1024 * 1024)) "$log" >"$log.kept" && mv "$log.kept" "$log"
  fi
  printf '\n===== %s starting %s\n' "$(date -u +%FT%TZ)" "$name" >>"$log"
  # Without fd 9, start.lock: a component holding it would block every later start.
  setsid nohup "$binary" "$@" >>"$log" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN_DIR/$name.pid"
  LAUNCHED+=("$name")
}
LAUNCHED=()

start_etcd() {
  is_running etcd && return 0
  remove_pid_file etcd
  mkdir -p "$STATE_DIR/etcd"
  chmod 700 "$STATE_DIR/etcd"
  launch etcd "$(command -v etcd)" \
    --name crowsnest-test \
    --data-dir "$STATE_DIR/etcd" \
    --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "crowsnest-test=http://127.0.0.1:$ETCD_PEER_PORT" \
    --logger zap --log-outputs stderr \
    --quota-backend-bytes $((2 * 1024 * 1024 * 1024)) \
    --auto-compaction-retention 1
  wait_for 30 "etcd to answer" etcd_healthy || fail_with_logs etcd
}

etcd_healthy() {
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_URL" --command-timeout 2s endpoint health >/dev/null 2>&1
}

start_apiserver() {
  is_running kube-apiserver && return 0
  remove_pid_file kube-apiserver
  local pki=$PKI_DIR
  launch kube-apiserver "$BIN_DIR/kube-apiserver" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_SERVER_PORT" \
    --etcd-servers "$ETCD_URL" --etcd-prefix /crowsnest-test \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --authorization-mode RBAC \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/service-account.pub" \
    --service-account-signing-key-file "$pki/service-account.key" \
    --kubelet-preferred-address-types Hostname,InternalIP \
    --kubelet-certificate-authority "$pki/ca.crt" \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
    --proxy-client-cert-file "$pki/front-proxy-client.crt" \
    --proxy-client-key-file "$pki/front-proxy-client.key" \
    --requestheader-client-ca-file "$pki/ca.crt" \
    --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User \
    --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --endpoint-reconciler-type none \
    --allow-privileged \
    --profiling=false
}

start_controller_manager() {
  is_running kube-controller-manager && return 0
  remove_pid_file kube-controller-manager
  local kubeconfig=$STATE_DIR/controller-manager.kubeconfig
  # Without leader election: after the machine's processes were killed, the dead instance's
  # lease would delay the new one by its whole lease duration.
  launch kube-controller-manager "$BIN_DIR/kube-controller-manager" \
    --kubeconfig "$kubeconfig" \
    --authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$CONTROLLER_MANAGER_PORT" --port 0 \
    --controllers '*,-nodelifecycle' \
    --leader-elect=false \
    --use-service-account-credentials \
    --service-account-private-key-file "$PKI_DIR/service-account.key" \
    --root-ca-file "$PKI_DIR/ca.crt" \
    --cluster-signing-cert-file "$PKI_DIR/ca.crt" --cluster-signing-key-file "$PKI_DIR/ca.key" \
    --profiling=false
}

start_scheduler() {
  is_running kube-scheduler && return 0
  remove_pid_file kube-scheduler
  local kubeconfig=$STATE_DIR/scheduler.kubeconfig
  launch kube-scheduler "$BIN_DIR/kube-scheduler" \
    --kubeconfig "$kubeconfig" \
    --authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --port 0 \
    --leader-elect=false \
    --profiling=false
}

fail_with_logs() {
  local name
  for name in "$@"; do
    say "---- last lines of $LOG_DIR/$name.log"
    tail -n 30 "$LOG_DIR/$name.log" >&2 || true
  done
  exit 1
}

main() {
  local started=$SECONDS
  [ -x "$BIN_DIR/kube-apiserver" ] || { say "no binaries in $BIN_DIR; run build.sh first"; exit 1; }
  command -v etcd >/dev/null || { say "etcd is not installed; run build.sh first"; exit 1; }
  mkdir -p "$STATE_DIR" "$LOG_DIR" "$RUN_DIR"
  chmod 700 "$STATE_DIR"
  # One start at a time: two would both find a component missing and start it twice.
  exec 9>"$RUN_DIR/start.lock"
  flock 9
  generate_certificates
  write_kubeconfig "$ADMIN_KUBECONFIG" admin
  write_kubeconfig "$STATE_DIR/controller-manager.kubeconfig" controller-manager
  write_kubeconfig "$STATE_DIR/scheduler.kubeconfig" scheduler
  start_etcd
  start_apiserver
  wait_for "$READY_TIMEOUT_SECONDS" "kube-apiserver /readyz" api_server_ready \
    || fail_with_logs etcd kube-apiserver
  start_controller_manager
  start_scheduler
  # The controller manager and the scheduler exit within a second on a bad flag or an
  # unreachable API server; nothing else tells.
  [ "${#LAUNCHED[@]}" = 0 ] || sleep 1
  local name
  for name in kube-controller-manager kube-scheduler; do
    is_running "$name" || { say "$name exited"; fail_with_logs "$name"; }
  done
  if [ "${#LAUNCHED[@]}" = 0 ]; then
    say "kubernetes control plane already running at $API_SERVER_URL"
  else
    say "kubernetes control plane ready at $API_SERVER_URL after starting ${LAUNCHED[*]} ($((SECONDS - started))s)"
  fi
  echo "export CROWSNEST_TEST_KUBECONFIG=$ADMIN_KUBECONFIG"
}

main
