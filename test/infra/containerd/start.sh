#!/usr/bin/env bash
# Starts the tests' own containerd (Debian's containerd 1.6, installed with docker.io) beside the
# one dockerd runs: its own socket, root and state directories, so tests never see or touch
# Docker's containers (containerd's `moby` namespace) or anything else on the machine. The CRI
# plugin is on with a CNI bridge (host-local IPAM on a private /24; a loopback-only CNI
# config makes every sandbox fail), for the CRI runtime's tests.
#
# The workload image (busybox, imported offline into dockerd by prepare-machine.sh) is imported
# into the `default` namespace (where nerdctl and `ctr` create containers) and `k8s.io` (CRI).
#
# Idempotent: a running instance is kept. Prints `export CROWSNEST_TEST_CONTAINERD_SOCKET=<socket>`
# on stdout; all else to stderr. Stop it with test/infra/containerd/stop.sh.
#
# A second instance (the test kubelet's, test/infra/kubernetes/start.sh) runs from the same
# script with its own CROWSNEST_TEST_CONTAINERD_DIR, _STATE_DIR, _LOG, _SUBNET and _BRIDGE.
set -euo pipefail

BASE=${CROWSNEST_TEST_CONTAINERD_DIR:-/var/lib/crowsnest-test-containerd}
STATE=${CROWSNEST_TEST_CONTAINERD_STATE_DIR:-/run/crowsnest-test-containerd}
SOCKET=$STATE/containerd.sock
CONFIG=$BASE/config.toml
CNI_CONF_DIR=$BASE/cni
LOG=${CROWSNEST_TEST_CONTAINERD_LOG:-/var/log/crowsnest-test-containerd.log}
PID_FILE=$STATE/containerd.pid
WORKLOAD_IMAGE=${CROWSNEST_TEST_WORKLOAD_IMAGE:-crowsnest-test/busybox:1}
SUBNET=${CROWSNEST_TEST_CONTAINERD_SUBNET:-10.88.77.0/24}
# At most 15 characters (a Linux interface name).
BRIDGE=${CROWSNEST_TEST_CONTAINERD_BRIDGE:-crowsnest-cri0}

say() { echo "[containerd] $*" >&2; }
ctr_() { ctr --address "$SOCKET" "$@"; }

running() {
  [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null && ctr_ version >/dev/null 2>&1
}

write_config() {
  mkdir -p "$BASE/root" "$STATE" "$CNI_CONF_DIR" "$BASE/opt"
  cat >"$CONFIG" <<TOML
version = 2
root = "$BASE/root"
state = "$STATE/state"

[grpc]
  address = "$SOCKET"

[ttrpc]
  address = "$STATE/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$BASE/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "docker.io/crowsnest-test/pause:1"
    disable_apparmor = true
    # Sandboxes ask for oom_score_adj -998, which needs CAP_SYS_RESOURCE; machines (and
    # containers) without it fail every sandbox in runc. Never below containerd's own value.
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$CNI_CONF_DIR"
TOML
  cat >"$CNI_CONF_DIR/10-crowsnest-test.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "crowsnest-test",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$SUBNET" }]], "dataDir": "$BASE/cni-ipam" }
    },
    { "type": "loopback" }
  ]
}
JSON
}

# The CRI plugin's sandbox ("pause") image, made offline from the workload image: a process
# that only sleeps, as the pod's first container holding its namespaces.
PAUSE_IMAGE=crowsnest-test/pause:1
build_pause_image() {
  docker image inspect "$PAUSE_IMAGE" >/dev/null 2>&1 && return 0
  say "building $PAUSE_IMAGE from $WORKLOAD_IMAGE"
  docker create --name crowsnest-pause-source "$WORKLOAD_IMAGE" true >/dev/null
  docker export crowsnest-pause-source |
    docker import --change 'CMD ["/bin/sleep", "2147483647"]' - "$PAUSE_IMAGE" >/dev/null
  docker rm crowsnest-pause-source >/dev/null
}

import_images() {
  build_pause_image
  if ! ctr_ -n k8s.io images check "name==docker.io/$PAUSE_IMAGE" 2>/dev/null | grep -q .; then
    say "importing $PAUSE_IMAGE into namespace k8s.io"
    docker save "$PAUSE_IMAGE" | ctr_ -n k8s.io images import - >&2
  fi
  for namespace in default k8s.io; do
    if ! ctr_ -n "$namespace" images check "name==docker.io/$WORKLOAD_IMAGE" 2>/dev/null | grep -q .; then
      say "importing $WORKLOAD_IMAGE into namespace $namespace"
      docker save "$WORKLOAD_IMAGE" | ctr_ -n "$namespace" images import - >&2
    fi
  done
}

if running; then
  say "running (pid $(cat "$PID_FILE"))"
else
  command -v containerd >/dev/null || { say "containerd is not installed (apt-get install docker.io)"; exit 1; }
  [ -x /usr/lib/cni/bridge ] || { say "CNI plugins missing (apt-get install containernetworking-plugins)"; exit 1; }
  write_config
  say "starting containerd on $SOCKET (log $LOG)"
  setsid nohup containerd --config "$CONFIG" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 60); do
    ctr_ version >/dev/null 2>&1 && break
    sleep 0.5
  done
  running || { tail -20 "$LOG" >&2; say "containerd did not answer within 30 s"; exit 1; }
fi
import_images
echo "export CROWSNEST_TEST_CONTAINERD_SOCKET=$SOCKET"
