#!/usr/bin/env bash
# Stops the tests' Kubernetes cluster started by start.sh, by the PIDs it recorded (never by
# name: other clusters, etcds or kubelets on the machine are not ours): the kubelet, then its
# containerd (with the pods' containers), then the control plane. The sysctls the kubelet set
# get the machine's values back. Data, certificates and logs stay for the next start.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$SCRIPT_DIR/common.sh"

stop_component() {
  local name=$1 pid
  if pid=$(running_pid "$name"); then
    say "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    if ! wait_for 15 "$name to stop" bash -c "! kill -0 $pid 2>/dev/null"; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  remove_pid_file "$name"
}

restore_sysctls() {
  [ -f "$SAVED_SYSCTLS" ] || return 0
  local setting
  while read -r setting; do
    sysctl -q -w "$setting" >/dev/null || say "could not restore $setting"
  done <"$SAVED_SYSCTLS"
  rm -f "$SAVED_SYSCTLS"
}

for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
  stop_component "${COMPONENTS[$i]}"
  if [ "${COMPONENTS[$i]}" = kubelet ]; then
    kubelet_containerd stop
    restore_sysctls
  fi
done
