# Shared by start.sh and stop.sh: where the tests' Kubernetes control plane lives and how its
# processes are recognised. Sourced, not run.

CACHE_DIR=${CROWSNEST_KUBERNETES_CACHE_DIR:-/var/cache/crowsnest-kubernetes}
BIN_DIR=${CROWSNEST_KUBERNETES_BIN_DIR:-$CACHE_DIR/bin/current}
STATE_DIR=${CROWSNEST_KUBERNETES_STATE_DIR:-/var/lib/crowsnest-kubernetes}
PKI_DIR=$STATE_DIR/pki
LOG_DIR=$STATE_DIR/log
RUN_DIR=$STATE_DIR/run
ADMIN_KUBECONFIG=$STATE_DIR/admin.kubeconfig

# Below the ephemeral port range (32768+), where docker-proxy and outgoing connections land.
ETCD_PORT=${CROWSNEST_KUBERNETES_ETCD_PORT:-12379}
ETCD_PEER_PORT=$((ETCD_PORT + 1))
ETCD_URL=http://127.0.0.1:$ETCD_PORT
API_SERVER_PORT=${CROWSNEST_KUBERNETES_API_SERVER_PORT:-16443}
API_SERVER_URL=https://127.0.0.1:$API_SERVER_PORT
CONTROLLER_MANAGER_PORT=$((API_SERVER_PORT + 1))
SCHEDULER_PORT=$((API_SERVER_PORT + 2))

# The kubelet: a node of the test cluster running real pods, on its own containerd (CRI plugin,
# CNI bridge), never the CRI runtime tests' one (a kubelet kills every sandbox in its runtime that
# is not one of its pods).
KUBELET_PORT=${CROWSNEST_KUBERNETES_KUBELET_PORT:-10250}
KUBELET_HEALTHZ_PORT=$((KUBELET_PORT - 2))
KUBELET_DIR=$STATE_DIR/kubelet
KUBELET_CONTAINERD_DIR=$STATE_DIR/containerd
KUBELET_CONTAINERD_STATE_DIR=${CROWSNEST_KUBERNETES_CONTAINERD_STATE_DIR:-/run/crowsnest-kubernetes-containerd}
KUBELET_CONTAINERD_SOCKET=$KUBELET_CONTAINERD_STATE_DIR/containerd.sock
# The kubelet changes these sysctls on start, as on every node; stop.sh puts the machine's back.
KUBELET_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
SAVED_SYSCTLS=$STATE_DIR/sysctls-before-kubelet

# In the order they start; stop.sh stops them in reverse. CROWSNEST_KUBERNETES_KUBELET=0: the
# control plane alone (a private second one beside the shared cluster: two kubelets on one
# machine would remove each other's pod cgroups and /var/log/pods directories).
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)
WITH_KUBELET=${CROWSNEST_KUBERNETES_KUBELET:-1}
[ "$WITH_KUBELET" = 0 ] || COMPONENTS+=(kubelet)

# Runs test/infra/containerd's script (start.sh or stop.sh) for the kubelet's containerd.
kubelet_containerd() {
  CROWSNEST_TEST_CONTAINERD_DIR=$KUBELET_CONTAINERD_DIR \
    CROWSNEST_TEST_CONTAINERD_STATE_DIR=$KUBELET_CONTAINERD_STATE_DIR \
    CROWSNEST_TEST_CONTAINERD_LOG=$LOG_DIR/containerd.log \
    CROWSNEST_TEST_CONTAINERD_SUBNET=${CROWSNEST_KUBERNETES_POD_SUBNET:-10.88.78.0/24} \
    CROWSNEST_TEST_CONTAINERD_BRIDGE=${CROWSNEST_KUBERNETES_POD_BRIDGE:-crowsnest-kub0} \
    bash "$SCRIPT_DIR/../containerd/$1.sh"
}

say() { printf '[kubernetes] %s\n' "$*" >&2; }

# Waits until a command succeeds, up to a number of seconds.
wait_for() {
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  say "timed out after ${seconds}s waiting for $what"
  return 1
}

# The pid in a component's pid file, when that process is alive and runs the component's
# program (by name: a rebuild may have moved the binary). After the machine's processes were
# killed the file stays behind, and its pid may since belong to something else.
running_pid() {
  local name=$1 pid executable
  pid=$(cat "$RUN_DIR/$name.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  grep -q '^State:.*zombie' "/proc/$pid/status" 2>/dev/null && return 1
  executable=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  # A build of another recipe deletes the binaries that are running: " (deleted)" follows then.
  executable=${executable% (deleted)}
  [ "$(basename "$executable")" = "$name" ] || return 1
  echo "$pid"
}

is_running() { running_pid "$1" >/dev/null; }

remove_pid_file() { rm -f "$RUN_DIR/$1.pid"; }

api_server_ready() {
  curl -fsS --max-time 3 --cacert "$PKI_DIR/ca.crt" \
    --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" "$API_SERVER_URL/readyz" >/dev/null
}
