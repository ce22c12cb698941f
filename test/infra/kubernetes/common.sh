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

# In the order they start; stop.sh stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)

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
  executable=$(readlink -f "/proc/$pid/exe" 2>/dev/null) || return 1
  [ "$(basename "$executable")" = "$name" ] || return 1
  echo "$pid"
}

is_running() { running_pid "$1" >/dev/null; }

remove_pid_file() { rm -f "$RUN_DIR/$1.pid"; }

api_server_ready() {
  curl -fsS --max-time 3 --cacert "$PKI_DIR/ca.crt" \
    --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" "$API_SERVER_URL/readyz" >/dev/null
}
