#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler and the kubelet for the tests'
# Kubernetes cluster, offline: from Debian bookworm's `kubernetes` source package (upstream v1.20.2
# with its vendored dependencies) and Debian's Go, since this machine reaches no container
# registry and no Go module proxy.
#
# One change to the source: the vendored github.com/modern-go/reflect2 v1.0.1 crashes on Go
# 1.18 and later (bookworm has 1.19) as soon as a request body with a map is decoded — every
# create of an object with labels. It is replaced by Debian's reflect2 1.0.2, which fixes that
# and nothing else (kubernetes itself moved to it in v1.23).
#
# Everything lives outside the checkout, keyed by the source package's version and this
# script's RECIPE, so a rerun on the same machine finds the binaries and returns in seconds:
#   $CACHE_DIR/apt/            a private apt configuration with deb-src entries
#   $CACHE_DIR/src/<version>/  the downloaded and unpacked source, and a GOPATH around it
#   $CACHE_DIR/go-cache/       Go's build cache (a changed version rebuilds in minutes, not ten)
#   $CACHE_DIR/bin/<version>+<recipe>/  the binaries; $CACHE_DIR/bin/current points at them
#
# Prints the binaries' directory on stdout; everything else goes to stderr.
set -euo pipefail

CACHE_DIR=${CROWSNEST_KUBERNETES_CACHE_DIR:-/var/cache/crowsnest-kubernetes}
# The upstream release the bookworm package carries; reported by `kubectl version` and /version.
GIT_VERSION=v1.20.2
GIT_MAJOR=1
GIT_MINOR=20
# The kubelet last: a cached build is complete when the last one is there.
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet)
# Raise it whenever a change here changes the binaries, so cached ones are not reused.
RECIPE=crowsnest3
# Raise it whenever a change here changes the unpacked source tree (the binaries' RECIPE alone
# does not need a fresh unpack and `make gen_openapi`).
SOURCE_RECIPE=crowsnest2
REFLECT2_SOURCE=/usr/share/gocode/src/github.com/modern-go/reflect2

say() { printf '[kubernetes-build] %s\n' "$*" >&2; }

APT_DIR=$CACHE_DIR/apt
apt_private() {
  apt-get -q \
    -o "Dir::Etc::SourceList=$APT_DIR/sources.list" \
    -o "Dir::Etc::SourceParts=$APT_DIR/sources.list.d" \
    -o "Dir::State::Lists=$APT_DIR/lists" \
    -o "Dir::Cache=$APT_DIR/cache" \
    "$@"
}
apt_cache_private() {
  apt-cache \
    -o "Dir::Etc::SourceList=$APT_DIR/sources.list" \
    -o "Dir::Etc::SourceParts=$APT_DIR/sources.list.d" \
    -o "Dir::State::Lists=$APT_DIR/lists" \
    -o "Dir::Cache=$APT_DIR/cache" \
    "$@"
}

install_build_tools() {
  local missing=() package
  # start.sh needs etcd, openssl and curl; the rest builds.
  for package in golang-go etcd-server etcd-client rsync dpkg-dev make golang-github-modern-go-reflect2-dev \
    openssl curl; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$package")
  done
  [ "${#missing[@]}" = 0 ] && return 0
  [ "$(id -u)" = 0 ] || { say "must run as root to install ${missing[*]}"; exit 1; }
  say "apt-get install ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

# The machine's own apt configuration has binary entries only; the source package comes from
# the same mirrors and suites, declared as deb-src in a private directory so the machine's
# configuration stays untouched.
write_private_sources() {
  mkdir -p "$APT_DIR/sources.list.d" "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
  : >"$APT_DIR/sources.list"
  local file
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    sed -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb-src/' "$file" \
      >"$APT_DIR/sources.list.d/$(basename "$file")"
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    sed -nE 's/^deb([[:space:]])/deb-src\1/p' "$file" >>"$APT_DIR/sources.list"
  done
}

# The source package's version, from the private lists (fetched once; offline afterwards).
source_version() {
  if ! apt_cache_private showsrc kubernetes 2>/dev/null | grep -q '^Version:'; then
    write_private_sources
    say "apt-get update (private deb-src lists in $APT_DIR)"
    apt_private update >&2
  fi
  apt_cache_private showsrc kubernetes | sed -n 's/^Version: //p' | sort -V | tail -1
}

unpack_source() {
  local version=$1 src_dir=$2
  [ -f "$src_dir/tree/.unpacked-$SOURCE_RECIPE" ] && return 0
  rm -rf "$src_dir/tree"
  if [ ! -f "$src_dir/download/.complete" ]; then
    rm -rf "$src_dir/download"
    mkdir -p "$src_dir/download"
    say "apt-get source --download-only kubernetes=$version"
    (cd "$src_dir/download" && apt_private source --download-only "kubernetes=$version" >&2)
    touch "$src_dir/download/.complete"
  fi
  say "unpacking the source (Debian's patches applied)"
  dpkg-source --no-check -x "$src_dir"/download/kubernetes_*.dsc "$src_dir/tree" >&2
  # dpkg-source leaves a copy of the upstream tarball beside the tree.
  rm -f "$src_dir"/kubernetes_*.orig.tar.*
  say "replacing the vendored reflect2 with Debian's $(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev)"
  rsync -a --delete --exclude '*_test.go' "$REFLECT2_SOURCE/" "$src_dir/tree/vendor/github.com/modern-go/reflect2/"
  touch "$src_dir/tree/.unpacked-$SOURCE_RECIPE"
}

build_components() {
  local src_dir=$1 out_dir=$2
  local gopath=$src_dir/gopath
  mkdir -p "$gopath/src/k8s.io" "$CACHE_DIR/go-cache"
  ln -sfn "$src_dir/tree" "$gopath/src/k8s.io/kubernetes"
  export GOPATH=$gopath GOCACHE=$CACHE_DIR/go-cache GO111MODULE=off CGO_ENABLED=0 GOPROXY=off GOFLAGS=
  # Go's GOPATH mode resolves the vendor directory only from inside $GOPATH/src.
  cd "$gopath/src/k8s.io/kubernetes"
  if [ ! -f .openapi-generated ]; then
    say "make gen_openapi"
    make gen_openapi >&2
    touch .openapi-generated
  fi
  local ldflags='' package
  for package in k8s.io/kubernetes/vendor/k8s.io/component-base/version \
    k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
    ldflags+=" -X $package.gitVersion=$GIT_VERSION -X $package.gitMajor=$GIT_MAJOR"
    ldflags+=" -X $package.gitMinor=$GIT_MINOR -X $package.gitTreeState=clean"
  done
  local staging=$out_dir.partial component started
  rm -rf "$staging"
  mkdir -p "$staging"
  for component in "${COMPONENTS[@]}"; do
    started=$SECONDS
    say "go build $component"
    go build -o "$staging/$component" -ldflags "-s -w$ldflags" "k8s.io/kubernetes/cmd/$component" >&2
    say "built $component in $((SECONDS - started))s"
  done
  mv "$staging" "$out_dir"
}

main() {
  local started=$SECONDS
  mkdir -p "$CACHE_DIR/bin" "$CACHE_DIR/src"
  # One build at a time (CI and a developer's shell may both ask).
  exec 9>"$CACHE_DIR/build.lock"
  flock 9
  install_build_tools
  local version
  version=$(source_version)
  [ -n "$version" ] || { say "no kubernetes source package found in the deb-src lists"; exit 1; }
  local build_id=$version+$RECIPE
  local out_dir=$CACHE_DIR/bin/$build_id
  if [ ! -x "$out_dir/${COMPONENTS[-1]}" ]; then
    say "building kubernetes $version (upstream $GIT_VERSION); a cold build takes ~10 min on 2 cores, 4.5 of them for the kubelet"
    unpack_source "$version" "$CACHE_DIR/src/$version"
    (build_components "$CACHE_DIR/src/$version" "$out_dir")
  fi
  ln -sfn "$build_id" "$CACHE_DIR/bin/current"
  # Binaries of other versions or recipes are not used again (running ones keep their inode).
  find "$CACHE_DIR/bin" -mindepth 1 -maxdepth 1 -type d ! -name "$build_id" -exec rm -rf {} +
  say "binaries for kubernetes $build_id ready in $out_dir ($((SECONDS - started))s)"
  echo "$out_dir"
}

main
