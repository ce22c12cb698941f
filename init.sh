#!/bin/sh
# The quick start's first step: writes .env beside docker-compose.yml with the two settings
# every host needs — the group of the Docker socket and an API token — when there is no .env
# yet. An existing .env is never changed, so its token stays valid; the token is printed once,
# when it is made. POSIX sh and tools only (ls, od, tr, awk), for Linux and macOS alike.
#
#   ./init.sh && docker compose up -d --build       (Compose v2)
#   ./init.sh && docker-compose up -d --build       (docker-compose 1.29)
#
# DOCKER_SOCKET: where dockerd's socket is on this host (default /var/run/docker.sock).
# CROWSNEST_ENV_FILE: the file to write instead of .env beside this script (the smoke test's).
set -eu

cd "$(dirname "$0")"
env_file=${CROWSNEST_ENV_FILE:-.env}
socket=${DOCKER_SOCKET:-/var/run/docker.sock}

say() { printf 'init: %s\n' "$*" >&2; }

if [ -e "$env_file" ] || [ -L "$env_file" ]; then
  say "$env_file exists: left as it is (the API token is its CROWSNEST_API_READ_TOKENS)"
  exit 0
fi

# The socket's group, for the unprivileged proxy that reads it. `ls -lnL` is POSIX (GNU's
# `stat -c` is not on macOS); -L looks through Docker Desktop's symlink.
if [ "$(uname -s)" = Darwin ]; then
  # Docker Desktop: containers see the socket inside its Linux VM, owned by root:root and, since
  # Desktop 4.19, writable by root only; the Mac's own socket group means nothing in there. The
  # proxy therefore runs as root inside that VM (docs/compose.md).
  gid=0
  proxy_user=root
elif [ -S "$socket" ]; then
  gid=$(ls -lnL "$socket" | awk '{ print $4 }')
  proxy_user=
else
  say "no Docker socket at $socket (set DOCKER_SOCKET to its path); nothing written"
  exit 1
fi
case $gid in
  '' | *[!0-9]*)
    say "cannot read the group of $socket (ls -lnL gave '$gid'); nothing written"
    exit 1
    ;;
esac

# 24 random bytes as 48 hex characters: a token the api accepts (16 to 256 of A-Za-z0-9-._~+/=).
token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
if [ "${#token}" -ne 48 ]; then
  say "could not read 24 random bytes from /dev/urandom; nothing written"
  exit 1
fi

# Only for this user (the token is a secret), and only if no .env appeared meanwhile: with
# noclobber the shell creates the file exclusively.
umask 077
set -C
{
  printf '# Written by init.sh on %s; .env.example lists every other setting.\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '# Group that owns the Docker socket: the read-only Docker API proxy reads it through it.\n'
  printf 'DOCKER_GID=%s\n' "$gid"
  if [ -n "$proxy_user" ]; then
    printf '# Docker Desktop: only root may use the socket inside its VM.\n'
    printf 'CROWSNEST_DOCKER_API_PROXY_USER=%s\n' "$proxy_user"
  fi
  printf '# Bearer token for the API: curl -H "Authorization: Bearer <token>" localhost:8080/api/v1/containers\n'
  printf 'CROWSNEST_API_READ_TOKENS=%s\n' "$token"
} >"$env_file"
set +C

say "wrote $env_file (DOCKER_GID=$gid)"
printf 'Your API token (shown only now; it stays in %s as CROWSNEST_API_READ_TOKENS):\n%s\n' "$env_file" "$token"
