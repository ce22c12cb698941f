#!/usr/bin/env bash
# The official postgres image's entrypoint semantics, for the stand-in image:
# - `docker run image -c foo=bar` runs `postgres -c foo=bar`; `--version` and `--help` just print;
# - started as root, it prepares PGDATA and the socket directory and re-runs itself as postgres;
# - on an empty PGDATA it runs initdb (superuser POSTGRES_USER with POSTGRES_PASSWORD, extra
#   POSTGRES_INITDB_ARGS), allows password logins from anywhere (POSTGRES_HOST_AUTH_METHOD,
#   default scram-sha-256), creates POSTGRES_DB, and runs /docker-entrypoint-initdb.d/*
#   (*.sh, *.sql, *.sql.gz, *.sql.xz, *.sql.zst) against a server listening only on its socket;
# - each POSTGRES_* setting may instead come from a file named by POSTGRES_*_FILE.
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR from $VAR or from the file named by $VAR_FILE.
file_env() {
  local var=$1 file_var="${1}_FILE" def=${2:-}
  if [ "${!var:-}" ] && [ "${!file_var:-}" ]; then
    printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$var" "$file_var"
    exit 1
  fi
  local val=$def
  if [ "${!var:-}" ]; then
    val=${!var}
  elif [ "${!file_var:-}" ]; then
    val=$(<"${!file_var}")
  fi
  export "$var"="$val"
  unset "$file_var"
}

docker_setup_env() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"
  declare -g DATABASE_ALREADY_EXISTS=
  if [ -s "$PGDATA/PG_VERSION" ]; then
    DATABASE_ALREADY_EXISTS=true
  fi
}

docker_create_db_directories() {
  local user
  user=$(id -u)
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" || :
  mkdir -p /var/run/postgresql || :
  chmod 03775 /var/run/postgresql || :
  if [ "$user" = 0 ]; then
    find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
  fi
}

docker_verify_minimum_env() {
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    {
      echo 'Error: Database is uninitialized and superuser password is not specified.'
      echo '       You must specify POSTGRES_PASSWORD to a non-empty value for the'
      echo '       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".'
      echo
      echo '       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all'
      echo '       connections without a password. This is *not* recommended.'
    } >&2
    exit 1
  fi
}

docker_init_database_dir() {
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is word-split on purpose, as upstream does.
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    $POSTGRES_INITDB_ARGS
}

pg_setup_hba_conf() {
  local auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  {
    printf '\n'
    if [ "$auth" = trust ]; then
      printf '# warning trust is enabled for all connections\n'
    fi
    printf 'host all all all %s\n' "$auth"
  } >>"$PGDATA/pg_hba.conf"
}

docker_temp_server_start() {
  PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
}

docker_temp_server_stop() {
  PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -m fast -w stop
}

docker_process_sql() {
  local query_runner=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  if [ -n "$POSTGRES_DB" ]; then
    query_runner+=(--dbname "$POSTGRES_DB")
  fi
  PGHOST='' PGHOSTADDR='' "${query_runner[@]}" "$@"
}

# The database is created while connected to `postgres`; the name to create is the real one.
# shellcheck disable=SC2097,SC2098
docker_setup_db() {
  if [ "$POSTGRES_DB" != postgres ]; then
    local exists
    exists=$(POSTGRES_DB=postgres docker_process_sql --dbname postgres --set db="$POSTGRES_DB" \
      --tuples-only <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
    if [ -z "$exists" ]; then
      POSTGRES_DB=postgres docker_process_sql --dbname postgres --set db="$POSTGRES_DB" \
        <<<'CREATE DATABASE :"db";'
    fi
  fi
}

docker_process_init_files() {
  local f
  for f; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then
          printf '%s: running %s\n' "$0" "$f"
          "$f"
        else
          printf '%s: sourcing %s\n' "$0" "$f"
          # shellcheck disable=SC1090
          . "$f"
        fi
        ;;
      *.sql) printf '%s: running %s\n' "$0" "$f"; docker_process_sql -f "$f" ;;
      *.sql.gz) printf '%s: running %s\n' "$0" "$f"; gunzip -c "$f" | docker_process_sql ;;
      *.sql.xz) printf '%s: running %s\n' "$0" "$f"; xzcat "$f" | docker_process_sql ;;
      *.sql.zst) printf '%s: running %s\n' "$0" "$f"; zstd -dc "$f" | docker_process_sql ;;
      *) printf '%s: ignoring %s\n' "$0" "$f" ;;
    esac
  done
}

# `postgres --version` and friends print and exit: no initialization for them.
pg_want_help() {
  local arg
  for arg; do
    case "$arg" in
      -'?' | --help | --describe-config | -V | --version) return 0 ;;
    esac
  done
  return 1
}

if [ "${1:0:1}" = - ]; then
  set -- postgres "$@"
fi

if [ "$1" = postgres ] && ! pg_want_help "$@"; then
  docker_setup_env
  docker_create_db_directories
  if [ "$(id -u)" = 0 ]; then
    exec gosu postgres "${BASH_SOURCE[0]}" "$@"
  fi
  if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
    docker_verify_minimum_env
    docker_init_database_dir
    pg_setup_hba_conf
    export PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
    docker_temp_server_start
    docker_setup_db
    docker_process_init_files /docker-entrypoint-initdb.d/*
    docker_temp_server_stop
    unset PGPASSWORD
    printf '\nPostgreSQL init process complete; ready for start up.\n\n'
  else
    printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
  fi
fi

exec "$@"
