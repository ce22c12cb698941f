#!/usr/bin/env bash
# Stops the tests' containerd started by start.sh: its tasks' shims first, then containerd.
# CROWSNEST_TEST_CONTAINERD_STATE_DIR picks another instance (the test kubelet's).
set -euo pipefail
STATE=${CROWSNEST_TEST_CONTAINERD_STATE_DIR:-/run/crowsnest-test-containerd}
SOCKET=$STATE/containerd.sock
PID_FILE=$STATE/containerd.pid
if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  for namespace in $(ctr --address "$SOCKET" namespaces list -q 2>/dev/null); do
    for task in $(ctr --address "$SOCKET" -n "$namespace" tasks list -q 2>/dev/null); do
      # Deleted, not only killed: a task's shim lives until its task is deleted, holding
      # whatever descriptors it inherited.
      ctr --address "$SOCKET" -n "$namespace" tasks delete --force "$task" >/dev/null 2>&1 || true
    done
  done
  kill "$(cat "$PID_FILE")"
  for _ in $(seq 1 40); do kill -0 "$(cat "$PID_FILE")" 2>/dev/null || break; sleep 0.25; done
fi
rm -f "$PID_FILE"
