#!/usr/bin/env bash
# Starts the tests' Kubernetes cluster on loopback: etcd, kube-apiserver (RBAC, a generated CA),
# kube-controller-manager (without the node lifecycle controller, so fake nodes are never
# evicted), kube-scheduler, and one real node: a kubelet on its own containerd (CRI plugin, CNI
# bridge), from the binaries test/infra/kubernetes/build.sh made. Tests also register fake nodes
# whose kubelet endpoints a stand-in serves (test/support/kubelet-stand-in.ts), for what a real
# kubelet cannot be made to do; this script signs the stand-in's serving certificate.
#
# Idempotent: a component that is running is kept; one that is not (first start, or a machine
# whose processes were all killed, leaving pid files behind) is started. Objects from earlier
# runs stay in etcd; tests use unique namespaces and node names.
#
# Prints `export CROWSNEST_TEST_KUBECONFIG=<admin kubeconfig>` and
# `export CROWSNEST_TEST_KUBELET_NODE=<the real node's name>` on stdout; all else to stderr.
# Stop it with test/infra/kubernetes/stop.sh.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$SCRIPT_DIR/common.sh"

READY_TIMEOUT_SECONDS=${CROWSNEST_KUBERNETES_READY_TIMEOUT:-90}
CERT_DAYS=3650
SERVICE_CIDR=10.96.0.0/24
# Only pods that tolerate it run on the real node: a test's pods that select no node must not
# land there (and pull nothing, or run for real).
KUBELET_TAINT=crowsnest.test/real-kubelet=true:NoSchedule
KUBELET_READY_TIMEOUT_SECONDS=${CROWSNEST_KUBERNETES_KUBELET_READY_TIMEOUT:-120}

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

# The real node's name. The API server reaches a kubelet at its Hostname address first, and
# the kubelet listens on 127.0.0.1 only: the machine's host name when it resolves to a loopback
# address (as Debian's /etc/hosts makes it), else localhost.
kubelet_node_name() {
  local name
  name=$(hostname | tr '[:upper:]' '[:lower:]')
  if getent ahostsv4 "$name" 2>/dev/null | awk '{print $1}' | grep -q '^127\.'; then
    echo "$name"
  else
    echo localhost
  fi
}

# The kubelet's client certificate (its node identity, bound to the system:node role below) and
# its serving certificate (the API server checks it against the CA, for the node's name).
generate_kubelet_certificates() {
  local node=$1
  [ "$(cat "$PKI_DIR/kubelet.node" 2>/dev/null)" = "$node" ] && return 0
  say "generating the kubelet's certificates for node $node"
  sign kubelet-client "/O=system:nodes/CN=system:node:$node"
  sign kubelet-serving "/CN=$node" "DNS:$node,DNS:localhost,IP:127.0.0.1"
  echo "$node" >"$PKI_DIR/kubelet.node"
}

write_kubelet_config() {
  mkdir -p "$KUBELET_DIR"
  cat >"$STATE_DIR/kubelet-config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $PKI_DIR/kubelet-serving.crt
tlsPrivateKeyFile: $PKI_DIR/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI_DIR/ca.crt}
authorization:
  mode: Webhook
# runc in the kubelet's containerd uses cgroupfs (no systemd here).
cgroupDriver: cgroupfs
failSwapOn: false
# Lowering its own oom_score_adj needs CAP_SYS_RESOURCE, which this machine does not grant.
oomScoreAdj: 0
# The images are imported offline and cannot be pulled again: never collect them, and evict
# nothing for a disk the other tests fill.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
# The machine's iptables belong to dockerd; pods here need no service proxying.
makeIPTablesUtilChains: false
resolvConf: /etc/resolv.conf
YAML
}

api() {
  curl -fsS --max-time 10 --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" \
    --key "$PKI_DIR/admin.key" "$@"
}

# The system:node role for the kubelet's identity (the API server authorizes with RBAC only; no
# Node authorizer).
bind_kubelet_role() {
  local node=$1
  api -X PATCH -H 'Content-Type: application/apply-patch+yaml' --data-binary @- \
    "$API_SERVER_URL/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/crowsnest-test-kubelet?fieldManager=crowsnest-test-infra&force=true" \
    >/dev/null <<JSON
{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
 "metadata": {"name": "crowsnest-test-kubelet"},
 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node"},
 "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:node:$node"}]}
JSON
}

kubelet_healthy() { curl -fsS --max-time 3 "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz" >/dev/null; }

# A Node left by an earlier run still says Ready (nothing marks a silent node NotReady here):
# the kubelet's own health comes first.
node_ready() {
  kubelet_healthy || return 1
  # Pretty-printed for curl: squeezed to one line first.
  api "$API_SERVER_URL/api/v1/nodes/$1" | tr -d ' \n' | grep -q '"type":"Ready","status":"True"'
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

save_sysctls() {
  [ -f "$SAVED_SYSCTLS" ] && return 0
  local name
  for name in "${KUBELET_SYSCTLS[@]}"; do
    echo "$name=$(sysctl -n "$name")"
  done >"$SAVED_SYSCTLS.partial"
  mv "$SAVED_SYSCTLS.partial" "$SAVED_SYSCTLS"
}

start_kubelet() {
  local node=$1
  is_running kubelet && return 0
  remove_pid_file kubelet
  save_sysctls
  launch kubelet "$BIN_DIR/kubelet" \
    --config "$STATE_DIR/kubelet-config.yaml" \
    --kubeconfig "$STATE_DIR/kubelet.kubeconfig" \
    --root-dir "$KUBELET_DIR" \
    --hostname-override "$node" \
    --container-runtime remote \
    --container-runtime-endpoint "unix://$KUBELET_CONTAINERD_SOCKET" \
    --register-with-taints "$KUBELET_TAINT" \
    --node-labels crowsnest.test/real-kubelet=true
}

# The admission plugin taints every new node not-ready; the node lifecycle controller that would
# lift the taint once the kubelet reports Ready is off in the test cluster. Ours stays.
untaint_not_ready() {
  local node=$1 key=${KUBELET_TAINT%%=*} rest=${KUBELET_TAINT#*=}
  api -X PATCH -H 'Content-Type: application/merge-patch+json' \
    --data-binary "{\"spec\": {\"taints\": [{\"key\": \"$key\", \"value\": \"${rest%%:*}\", \"effect\": \"${rest#*:}\"}]}}" \
    "$API_SERVER_URL/api/v1/nodes/$node" >/dev/null
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
  local component
  for component in "${COMPONENTS[@]:1}"; do
    [ -x "$BIN_DIR/$component" ] || { say "no $component in $BIN_DIR; run build.sh first"; exit 1; }
  done
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
  local node=""
  if [ "$WITH_KUBELET" != 0 ]; then
    node=$(kubelet_node_name)
    generate_kubelet_certificates "$node"
    write_kubeconfig "$STATE_DIR/kubelet.kubeconfig" kubelet-client
    write_kubelet_config
  fi
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
  local nodes=none
  if [ "$WITH_KUBELET" != 0 ]; then
    # Without fd 9, start.lock: containerd would hold it for as long as it runs.
    kubelet_containerd start >/dev/null 9>&-
    bind_kubelet_role "$node"
    start_kubelet "$node"
    wait_for "$KUBELET_READY_TIMEOUT_SECONDS" "node $node to be Ready" node_ready "$node" \
      || { is_running kubelet || say "kubelet exited"; fail_with_logs kubelet; }
    untaint_not_ready "$node"
    nodes="node $node Ready"
  fi
  if [ "${#LAUNCHED[@]}" = 0 ]; then
    say "kubernetes cluster already running at $API_SERVER_URL ($nodes)"
  else
    say "kubernetes cluster ready at $API_SERVER_URL ($nodes) after starting ${LAUNCHED[*]} ($((SECONDS - started))s)"
  fi
  echo "export CROWSNEST_TEST_KUBECONFIG=$ADMIN_KUBECONFIG"
  [ -z "$node" ] || echo "export CROWSNEST_TEST_KUBELET_NODE=$node"
}

main
