#!/usr/bin/env bash
# The one command that takes a fresh clone to a green test run, on a developer's machine or
# in CI: prepares the machine (Node 24, pnpm, Postgres, NATS, dockerd, the test image, a
# Kubernetes API server),
# installs, lints, type-checks, builds, validates docker-compose.yml, runs every test, and
# then runs docker-compose.yml for real (test/compose/smoke-test.sh; skipped with
# CROWSNEST_SKIP_COMPOSE_SMOKE=1 for a quicker local run).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# The test Kubernetes control plane that preparing the machine starts is stopped by its PIDs
# when CI ends, however it ends (CROWSNEST_KEEP_KUBERNETES=1 keeps it for the next local run).
stop_kubernetes() {
  [ "${CROWSNEST_KEEP_KUBERNETES:-}" = 1 ] || bash test/infra/kubernetes/stop.sh || true
}
trap stop_kubernetes EXIT

step "preparing the machine"
# Captured first: `eval "$(...)"` alone would ignore the script failing and run the tests
# on a half-prepared machine.
machine_env=$(bash test/infra/prepare-machine.sh)
eval "$machine_env"
node --version

step "installing dependencies"
pnpm install --frozen-lockfile

step "lint and format check"
pnpm lint

step "type check"
pnpm typecheck

step "build"
pnpm build

step "docker-compose.yml is valid, alone and with the direct-socket option"
docker-compose -f docker-compose.yml config --quiet
docker-compose -f docker-compose.yml -f docker-compose.direct-socket.yml config --quiet

step "unit and integration tests"
pnpm test

# Last, and time-boxed: it builds images and runs the whole product for a few minutes.
if [ "${CROWSNEST_SKIP_COMPOSE_SMOKE:-}" = 1 ]; then
  step "compose smoke test skipped (CROWSNEST_SKIP_COMPOSE_SMOKE=1)"
else
  step "compose smoke test: docker-compose.yml up for real"
  timeout -k 60 1200 bash test/compose/smoke-test.sh
fi
