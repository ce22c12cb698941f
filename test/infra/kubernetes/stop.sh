#!/usr/bin/env bash
# Stops the tests' Kubernetes control plane started by start.sh, by the PIDs it recorded
# (never by name: other clusters or etcds on the machine are not ours). Its data, certificates
# and logs stay for the next start.
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

for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
  stop_component "${COMPONENTS[$i]}"
done
