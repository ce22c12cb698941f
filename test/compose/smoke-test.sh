#!/usr/bin/env bash
# The compose smoke test: runs the unmodified docker-compose.yml end to end, as a user would.
#   1. builds local stand-ins for the public images it needs (build-stand-ins.sh; never pulls);
#   2. `up --build -d` under a unique project and network name, with the .env file the quick
#      start's ./init.sh writes (the socket's group, an API token) plus the API on a free
#      loopback port; an override used only here publishes NATS on a free loopback port for the
#      subscriber and builds on the host's network (smoke.override.yml says why);
#   3. waits until every service is healthy;
#   4. starts a workload container on this host, then sees it in GET /api/v1/containers with
#      current stats (asked for by its name and by `docker ps`'s short id) and its log line,
#      sees its stats and its `start` event on the NATS subjects with a plain subscriber and
#      with crowsnest-bus (in the api's container, and on the named network), checks that the
#      agents' Docker API proxy refuses create, kill, exec and delete from inside the watcher
#      while the agents have no socket of their own, stops the workload and sees the `die`
#      event (on the bus and in the API), checks /readyz, that the API refuses a request
#      without a token but serves the bus contract and the dashboard, and that no service restarted;
#   5. always: removes the workload, `down -v`, and removes the image it built; on failure it
#      first prints every service's logs.
# The whole run is time-boxed (CROWSNEST_SMOKE_TIMEOUT_S, default 900 s).
#
#   bash test/compose/smoke-test.sh          from a prepared machine (test/infra/prepare-machine.sh)
# CROWSNEST_SMOKE_COMPOSE="docker compose" runs it with Compose v2 where that is installed;
# CROWSNEST_SMOKE_KEEP_IMAGE=1 keeps the built image and its build cache (faster reruns).
set -euo pipefail
cd "$(dirname "$0")/../.."

budget_s=${CROWSNEST_SMOKE_TIMEOUT_S:-900}
compose_command=${CROWSNEST_SMOKE_COMPOSE:-docker-compose}
workload_image=${CROWSNEST_TEST_WORKLOAD_IMAGE:-crowsnest-test/busybox:1}
prefix=crowsnest
started_s=$SECONDS
step_started_s=$SECONDS

step() {
  printf '\n[compose-smoke %3ds] ==> %s\n' "$((SECONDS - started_s))" "$*"
  step_started_s=$SECONDS
}
say() { printf '[compose-smoke %3ds]     %s\n' "$((SECONDS - started_s))" "$*"; }
fail() {
  printf '[compose-smoke %3ds] FAILED: %s\n' "$((SECONDS - started_s))" "$*" >&2
  exit 1
}
remaining_s() {
  local left=$((budget_s - (SECONDS - started_s)))
  [ "$left" -gt 0 ] || fail "out of time: the whole test may take ${budget_s}s"
  echo "$left"
}
# A step's own limit, never past the test's.
limit_s() {
  local left
  left=$(remaining_s)
  echo $(($1 < left ? $1 : left))
}

# wait_until SECONDS WHAT COMMAND...: runs COMMAND every second until it succeeds.
wait_until() {
  local seconds what deadline
  seconds=$(limit_s "$1")
  what=$2
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "waited ${seconds}s for $what"
    sleep 1
  done
}

# json EXPRESSION: evaluates a JavaScript expression over the JSON document on stdin (`j`);
# prints the value, or fails when it is undefined, null or false.
json() {
  node -e '
    const j = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
    const v = eval(process.argv[1]);
    if (v === undefined || v === null || v === false) process.exit(1);
    console.log(typeof v === "object" ? JSON.stringify(v) : String(v));
  ' "$1"
}

# --- preflight ------------------------------------------------------------------------------
step "preflight"
command -v "${compose_command%% *}" >/dev/null || fail "$compose_command is not installed"
docker info >/dev/null 2>&1 || fail "dockerd is not reachable"
docker image inspect "$workload_image" >/dev/null 2>&1 ||
  fail "the workload image $workload_image is missing (test/infra/prepare-machine.sh builds it)"
[ -d node_modules/@nats-io/transport-node ] || fail "run pnpm install first (the subscriber uses @nats-io/transport-node)"
if [ "$(docker network inspect bridge --format '{{ index .Options "com.docker.network.bridge.name" }}' 2>/dev/null)" = docker0 ] &&
  [ ! -e /sys/class/net/docker0 ]; then
  say "warning: dockerd's default bridge docker0 is gone (a dockerd started with --bridge=none deletes it);"
  say "         containers on the default network cannot start. This test does not use it."
fi
say "$($compose_command version --short 2>/dev/null || $compose_command version | head -1), docker $(docker version --format '{{.Server.Version}}')"

# --- stand-ins --------------------------------------------------------------------------------
step "stand-in images for the tags docker-compose.yml and the Dockerfile use"
timeout "$(limit_s 600)" bash test/compose/build-stand-ins.sh | sed 's/^/      /'
say "stand-ins ready in $((SECONDS - step_started_s))s"

# --- the stack ------------------------------------------------------------------------------
suffix=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
project=crowsnest-smoke-$suffix
workload=$project-workload
image=crowsnest-smoke-$suffix:local
proxy_image=crowsnest-smoke-proxy-$suffix:local
work=$(mktemp -d "${TMPDIR:-/tmp}/$project.XXXXXX")
subscriber_pid=
failed=1

# The .env the quick start's ./init.sh writes, plus a free API port, this run's image tags and
# its own network (a second stack on one host needs its own; other runs may be up).
CROWSNEST_ENV_FILE=$work/env sh ./init.sh 2>&1 >/dev/null | sed 's/^/      /'
token=$(sed -n 's/^CROWSNEST_API_READ_TOKENS=//p' "$work/env")
[ -n "$token" ] || fail "init.sh wrote no token"
cat >>"$work/env" <<EOF
CROWSNEST_API_PUBLISH=127.0.0.1:
CROWSNEST_IMAGE=$image
CROWSNEST_DOCKER_API_PROXY_IMAGE=$proxy_image
CROWSNEST_NETWORK=$project
EOF

# The compose command line of this run (an array, so `timeout` can run it).
read -r -a compose_cmd <<<"$compose_command"
compose_cmd+=(--env-file "$work/env" -p "$project" -f docker-compose.yml -f test/compose/smoke.override.yml)
compose() { "${compose_cmd[@]}" "$@"; }

service_logs() {
  local service
  for service in $(compose config --services 2>/dev/null); do
    printf '\n----- logs of %s -----\n' "$service"
    timeout 30 "${compose_cmd[@]}" logs --no-color --tail=300 "$service" 2>&1 || true
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "$failed" = 1 ]; then
    printf '\n[compose-smoke] FAILED after %ss; state and logs of every service follow\n' "$((SECONDS - started_s))"
    timeout 30 "${compose_cmd[@]}" ps 2>&1
    service_logs
    if [ -s "$work/bus.log" ]; then
      printf '\n----- what the subscriber received (last 40 lines) -----\n'
      tail -40 "$work/bus.log" | cut -c1-400
    fi
    if [ -s "$work/bus.err" ]; then
      printf '\n----- what the subscriber wrote to stderr -----\n'
      tail -20 "$work/bus.err" | cut -c1-400
    fi
    [ "$rc" != 0 ] || rc=1
  fi
  printf '\n[compose-smoke] cleaning up %s\n' "$project"
  [ -z "$subscriber_pid" ] || kill "$subscriber_pid" 2>/dev/null
  docker rm -f "$workload" >/dev/null 2>&1
  timeout 120 "${compose_cmd[@]}" down -v --remove-orphans --timeout 20 2>&1 | sed 's/^/      /'
  if [ "${CROWSNEST_SMOKE_KEEP_IMAGE:-}" != 1 ]; then
    docker rmi --no-prune "$image" "$proxy_image" >/dev/null 2>&1
    if [ -s "$work/up.log" ]; then
      # A failed build step leaves its container behind.
      grep -oE 'Running in [0-9a-f]{12}$' "$work/up.log" | cut -d' ' -f3 | xargs -r docker rm -f >/dev/null 2>&1
      # The images this run's build created (its stages' steps), not those it took from the
      # build cache, which belong to whoever built them first. A step's image goes once the
      # steps built on it are gone: repeat until a round removes nothing.
      local ids id kept left
      ids=$(grep -oE -e '---> [0-9a-f]{12}$' -e '^Successfully built [0-9a-f]{12}$' "$work/up.log" |
        grep -oE '[0-9a-f]{12}$' | sort -u | while read -r id; do
          grep -q "^sha256:$id" "$work/images-before" || echo "$id"
        done)
      while [ -n "$ids" ]; do
        left=$(wc -w <<<"$ids")
        kept=
        for id in $ids; do
          docker rmi --no-prune "$id" >/dev/null 2>&1 || kept="$kept $id"
        done
        ids=$kept
        [ "$(wc -w <<<"$ids")" -lt "$left" ] || break
      done
    fi
  fi
  rm -rf "$work"
  printf '[compose-smoke] done in %ss\n' "$((SECONDS - started_s))"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "docker-compose.yml is valid for $compose_command"
compose config --quiet

step "up --build -d (project $project)"
docker images --all --quiet --no-trunc | sort -u >"$work/images-before"
if ! timeout "$(limit_s 600)" "${compose_cmd[@]}" up --build -d >"$work/up.log" 2>&1; then
  tail -60 "$work/up.log"
  fail "up --build -d failed"
fi
grep -E '^(Creating|Starting|Successfully tagged|Step [0-9]+/[0-9]+ : FROM)' "$work/up.log" | sed 's/^/      /' || true
say "built and started in $((SECONDS - step_started_s))s"

step "every service healthy"
services=$(compose config --services | sort)
# Prints the services that are not healthy yet; fails as soon as one has restarted or exited.
unhealthy_services() {
  local ids service status health restarts
  local -A seen=()
  ids=$(compose ps -q)
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086 # one id per word
    while read -r service status health restarts exit_code; do
      seen[$service]=1
      if [ "$service" = nats-auth ]; then
        # The one-shot step that makes the NATS users: done once it exited 0.
        case "$status $exit_code" in
          "exited 0") ;;
          "created "* | "running "*) echo "$service(running)" ;;
          *) fail "nats-auth did not finish cleanly: status $status, exit code $exit_code" ;;
        esac
        continue
      fi
      case "$status $health $restarts" in
        "running healthy 0") ;;
        running\ *\ 0) echo "$service($health)" ;;
        *) fail "$service is not running cleanly: status $status, health $health, $restarts restarts" ;;
      esac
    done < <(docker inspect --format '{{ index .Config.Labels "com.docker.compose.service" }} {{ .State.Status }} {{ if .State.Health }}{{ .State.Health.Status }}{{ else }}none{{ end }} {{ .RestartCount }} {{ .State.ExitCode }}' $ids)
  fi
  for service in $services; do
    [ -n "${seen[$service]:-}" ] || echo "$service(no container)"
  done
}
all_healthy() {
  local pending
  # A service that restarted or exited ends the test (the reason is printed by the check).
  pending=$(unhealthy_services) || exit 1
  [ -z "$pending" ] && return 0
  if [ "$SECONDS" -ge "${next_report_s:-0}" ]; then
    say "waiting for: ${pending//$'\n'/ }"
    next_report_s=$((SECONDS + 10))
  fi
  return 1
}
wait_until 180 "every service to be healthy" all_healthy
say "healthy: ${services//$'\n'/ } ($((SECONDS - step_started_s))s)"

api_address=$(compose port api 8080)
nats_address=$(compose port nats 4222)
api_url=http://$api_address
say "api at $api_url, nats at nats://$nats_address"
api() { curl -fsS --max-time 5 -H "Authorization: Bearer $token" "$api_url$1"; }

step "a plain subscriber on the NATS subjects, as the api's NATS user"
# NATS has users (nats-auth made them): the subscriber reads as the api does.
api_credentials=$(compose exec -T api cat /etc/crowsnest/nats-auth/crowsnest-api.env) ||
  fail "the api has no NATS credentials file"
CROWSNEST_SMOKE_NATS_USER=$(sed -n 's/^CROWSNEST_NATS_USER=//p' <<<"$api_credentials" | tr -d '\r') \
  CROWSNEST_SMOKE_NATS_PASSWORD=$(sed -n 's/^CROWSNEST_NATS_PASSWORD=//p' <<<"$api_credentials" | tr -d '\r') \
  node test/compose/bus-subscriber.ts "nats://$nats_address" \
  "$prefix.v1.stats.*.docker.$workload" "$prefix.v1.events.*.docker.container.*" \
  >"$work/bus.log" 2>"$work/bus.err" &
subscriber_pid=$!
subscribed() { grep -q '^subscribed$' "$work/bus.log"; }
wait_until 20 "the subscriber to subscribe" subscribed
say "subscribed to $prefix.v1.stats.*.docker.$workload and $prefix.v1.events.*.docker.container.*"

step "a workload container on this host: $workload"
docker run -d --name "$workload" --network none --label "dev.crowsnest.smoke=$project" \
  "$workload_image" sh -c 'echo "hello from $HOSTNAME"; trap "exit 0" TERM; while :; do sleep 1; done' >/dev/null
workload_started_s=$SECONDS
say "started from $workload_image"

step "GET /api/v1/containers lists it, with current stats by its name and by docker ps's id"
container_id() {
  api "/api/v1/containers?name=$workload" 2>/dev/null |
    json "j.data.find((c) => c.name === '$workload' && c.state === 'running')?.id" >"$work/id"
}
wait_until 60 "GET /api/v1/containers to list $workload as running" container_id
id=$(cat "$work/id")
say "listed as container $id after $((SECONDS - workload_started_s))s"
current_stats() {
  api "/api/v1/containers/$id/stats/current" 2>/dev/null >"$work/stats.json" &&
    json "Date.now() - Date.parse(j.ts) < 60000" <"$work/stats.json" >/dev/null
}
# The collector samples a new container from its first tick after dockerd lists it, so its first
# sample comes within two intervals (10 s each by default) of its start; 10 s more for the
# store's batching and a loaded machine.
first_sample_s=$((2 * 10 + 10))
wait_until $((first_sample_s - (SECONDS - workload_started_s))) \
  "current stats of $workload in the API within ${first_sample_s}s of its start" current_stats
say "current stats after $((SECONDS - workload_started_s))s: $(json "'ts ' + j.ts + ', mem_used ' + j.mem_used + ', pids ' + j.pids" <"$work/stats.json")"
short_id=$(docker ps --filter "name=^$workload\$" --format '{{.ID}}')
for ref in "$workload" "$short_id"; do
  api "/api/v1/containers/$ref/stats/current" | json "j.container_id === $id" >/dev/null ||
    fail "GET /api/v1/containers/$ref/stats/current is not container $id's"
done
say "the same by its name and by $short_id"

step "its logs through the API (api, the bus, the watcher, the Docker API proxy, dockerd)"
logs_have_hello() {
  api "/api/v1/containers/$id/logs?tail=20" 2>/dev/null |
    json "j.lines.find((line) => line.text.startsWith('hello from '))?.text" >"$work/hello"
}
wait_until 30 "the workload's first log line in GET /api/v1/containers/$id/logs" logs_have_hello
say "log line: $(cat "$work/hello")"

step "its stats and its start event on the bus"
# bus_has SUBJECT-REGEX TEXT: a message on a matching subject whose line contains TEXT.
bus_has() { grep -E "^$1 " "$work/bus.log" | grep -F "$2" >/dev/null; }
subject_prefix="${prefix//./\\.}\\.v1"
wait_until 60 "a stats message on $prefix.v1.stats.<host>.docker.$workload" \
  bus_has "$subject_prefix\\.stats\\.[^ .]+\\.docker\\.$workload" "\"name\":\"$workload\""
say "stats: $(grep -E "^$subject_prefix\\.stats\\." "$work/bus.log" | head -1 | cut -d' ' -f1)"
wait_until 30 "a start event for $workload" \
  bus_has "$subject_prefix\\.events\\.[^ .]+\\.docker\\.container\\.start" "\"name\":\"$workload\""
say "start: $(grep -E "^$subject_prefix\\.events\\.[^ .]+\\.docker\\.container\\.start " "$work/bus.log" | grep -F "\"name\":\"$workload\"" | head -1 | cut -d' ' -f1)"

step "crowsnest-bus in the api's container, and on the named network"
bus_line=$(timeout "$(limit_s 60)" "${compose_cmd[@]}" exec -T api crowsnest-bus --count 1 \
  "$prefix.v1.stats.*.docker.$workload" 2>/dev/null) || fail "compose exec api crowsnest-bus printed no stats of $workload"
say "exec api crowsnest-bus: $bus_line"
[[ $bus_line == *" stats "*"/$workload "*"cpu "* ]] || fail "crowsnest-bus printed '$bus_line', not a stats line of $workload"
# With the api's NATS user, from its volume.
bus_line=$(timeout "$(limit_s 60)" docker run --rm --network "$project" -e CROWSNEST_NATS_URL=nats://nats:4222 \
  --volumes-from "$(compose ps -q api)" -e CROWSNEST_NATS_CREDENTIALS_FILE=/etc/crowsnest/nats-auth/crowsnest-api.env \
  "$image" crowsnest-bus --count 1 "$prefix.v1.stats.*.docker.$workload" 2>/dev/null) ||
  fail "crowsnest-bus on the network $project printed nothing"
say "docker run --network $project … crowsnest-bus: $bus_line"

step "the shipped NATS users: this host's agents speak only for this host"
# This host's subject token, from the collector's own stats of the workload.
host_token=$(grep -E "^$subject_prefix\\.stats\\.[^ .]+\\.docker\\.$workload " "$work/bus.log" | head -1 | cut -d' ' -f1 | cut -d. -f4)
[ -n "$host_token" ] || fail "no stats subject of $workload to read this host's name from"
# What a taken-over collector would try, with the credentials the collector runs with; its own
# subjects are in use already (the stats above). In the image, the NATS client is the shared
# package's dependency.
# shellcheck disable=SC2016 # the script is JavaScript, run in the collector
compose exec -T -w /app/packages/shared collector node -e '
  const { readFileSync } = require("node:fs");
  const { connect } = require("@nats-io/transport-node");
  const { jetstream } = require("@nats-io/jetstream");
  const credentials = Object.fromEntries(readFileSync(process.env.CROWSNEST_NATS_CREDENTIALS_FILE, "utf8")
    .split("\n").filter((line) => line.includes("=")).map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
  const [prefix, own] = process.argv.slice(1);
  (async () => {
    const nc = await connect({ servers: process.env.CROWSNEST_NATS_URL, user: credentials.CROWSNEST_NATS_USER,
      pass: credentials.CROWSNEST_NATS_PASSWORD, inboxPrefix: credentials.CROWSNEST_NATS_INBOX_PREFIX });
    console.log(`connected as ${credentials.CROWSNEST_NATS_USER} (this host: ${own})`);
    const js = jetstream(nc, { timeout: 5000 });
    for (const subject of [`${prefix}.v1.stats.other-host.docker.web`, `${prefix}.v1.events.other-host.docker.container.die`,
      `${prefix}.v1.host.other-host`, `${prefix}.v1.alerts.${own}.web`]) {
      const outcome = await js.publish(subject, "{}").then(() => "stored", (error) => error.message);
      console.log(`publish ${subject}: ${outcome}`);
    }
    const snoop = nc.subscribe(`${prefix}.v1.rpc.other-host.logs`);
    const outcome = await (async () => { try { for await (const _ of snoop) return "received"; return "ended"; }
      catch (error) { return error.message; } })();
    console.log(`subscribe ${prefix}.v1.rpc.other-host.logs: ${outcome}`);
    await nc.close();
  })();' "$prefix" "$host_token" >"$work/nats-users.log" 2>&1 || true
sed 's/^/      /' "$work/nats-users.log" | cut -c1-200
[ "$(grep -c ': Permissions Violation for Publish to ' "$work/nats-users.log")" = 4 ] ||
  fail "the collector's NATS user could publish another host's stats, events or host sample, or an alert transition"
grep -q ': Permissions Violation for Subscription to ' "$work/nats-users.log" ||
  fail "the collector's NATS user could subscribe to another host's log requests"
say "another host's stats, events and host sample, an alert transition, another host's log requests: all refused"

step "the agents' Docker API is read-only"
# What an intruder in the watcher would try (the issue: POST /containers/create through the
# read-only mount succeeded), through the only Docker socket the agents have.
compose exec -T watcher sh -c '! test -e /var/run/docker.sock' ||
  fail "the watcher has dockerd's socket itself"
compose exec -T collector sh -c '! test -e /var/run/docker.sock' ||
  fail "the collector has dockerd's socket itself"
# shellcheck disable=SC2016 # the script is JavaScript, run in the watcher
compose exec -T watcher node -e '
  const http = require("node:http");
  const call = (method, path) => new Promise((resolve) => {
    const request = http.request({ socketPath: "/run/crowsnest-docker/docker.sock", method, path,
      headers: { "Content-Type": "application/json" } }, (response) => {
        let body = ""; response.on("data", (chunk) => (body += chunk));
        response.on("end", () => resolve(`${method} ${path} ${response.statusCode} ${body.trim()}`));
      });
    request.on("error", (error) => resolve(`${method} ${path} error ${error.message}`));
    request.end(method === "POST" ? JSON.stringify({ Image: process.argv[1], Cmd: ["true"] }) : undefined);
  });
  const [workload, intruder] = process.argv.slice(2);
  (async () => {
    for (const [method, path] of [
      ["POST", `/containers/create?name=${intruder}`], ["POST", `/v1.41/containers/create?name=${intruder}`],
      ["POST", `/containers/${workload}/kill`], ["POST", `/containers/${workload}/exec`],
      ["DELETE", `/containers/${workload}?force=1`], ["GET", `/containers/${workload}/archive?path=/`],
      ["GET", `/containers/${workload}/json`],
    ]) console.log(await call(method, path));
  })();' "$workload_image" "$workload" "$project-intruder" >"$work/proxy.log"
sed 's/^/      /' "$work/proxy.log" | cut -c1-160
[ "$(grep -c ' 403 {"message":"refused by the Crowsnest read-only Docker API proxy' "$work/proxy.log")" = 6 ] ||
  fail "the proxy did not refuse all six writes and file reads"
grep -q "^GET /containers/$workload/json 200 " "$work/proxy.log" || fail "the proxy did not pass inspect on"
! docker container inspect "$project-intruder" >/dev/null 2>&1 || fail "a container was created through the proxy"
[ "$(docker inspect --format '{{.State.Running}}' "$workload")" = true ] || fail "the workload was killed through the proxy"
say "create, kill, exec, delete and archive refused (403); inspect passed; the workload still runs"

step "stop it: the die event"
docker stop --time 10 "$workload" >/dev/null
wait_until 30 "a die event for $workload on the bus" \
  bus_has "$subject_prefix\\.events\\.[^ .]+\\.docker\\.container\\.die" "\"name\":\"$workload\""
say "die on the bus: $(grep -E "^$subject_prefix\\.events\\.[^ .]+\\.docker\\.container\\.die " "$work/bus.log" | grep -F "\"name\":\"$workload\"" | head -1 | cut -d' ' -f2- | json "'exit_code ' + j.exit_code")"
die_in_api() {
  api "/api/v1/containers/$id/events?action=die" 2>/dev/null | json "j.data.length > 0" >/dev/null
}
wait_until 30 "the die event in GET /api/v1/containers/$id/events" die_in_api
say "die in GET /api/v1/containers/$id/events"

step "readiness, and no service restarted"
readyz=$(curl -fsS --max-time 5 "$api_url/readyz") || fail "/readyz did not answer 200"
say "/readyz: $readyz"
status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$api_url/api/v1/containers")
[ "$status" = 401 ] || fail "GET /api/v1/containers without a token answered $status, not 401"
say "without a token: 401"
contract=$(curl -fsS --max-time 5 "$api_url/api/v1/asyncapi.json") ||
  fail "GET /api/v1/asyncapi.json (the bus contract the image copies from contract/) did not answer 200"
[[ $contract == *'"asyncapi": "3.0.0"'* ]] || fail "GET /api/v1/asyncapi.json is not the AsyncAPI document"
say "the bus contract's AsyncAPI document, without a token"
dashboard=$(curl -fsS --max-time 5 "$api_url/") || fail "GET / (the dashboard the image builds in) did not answer 200"
[[ $dashboard == *'<title>Crowsnest</title>'* ]] || fail "GET / is not the dashboard's page"
asset=$(printf '%s' "$dashboard" | grep -o '/assets/main-[A-Za-z0-9]*\.js' | head -n 1)
[ -n "$asset" ] && curl -fsS --max-time 5 -o /dev/null "$api_url$asset" || fail "the dashboard's script $asset is not served"
say "the dashboard at /, with its script $asset"
pending=$(unhealthy_services) || exit 1
[ -z "$pending" ] || fail "not healthy any more: $pending"
say "all healthy, none restarted"

failed=0
step "passed in $((SECONDS - started_s))s"
