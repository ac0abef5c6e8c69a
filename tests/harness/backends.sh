#!/usr/bin/env bash
# Throwaway PostgreSQL 15 and Redis servers for the tests (the ctest fixture "backends",
# tests/CMakeLists.txt) and for developers (scripts/services.sh).
#
#   backends.sh start DIR    start both on free loopback ports; write DIR/backends.env
#   backends.sh stop DIR     stop both; remove DIR and the servers' files
#   backends.sh status DIR   print DIR/backends.env; exit 1 unless both servers answer
#   backends.sh down-pg DIR | up-pg DIR | down-redis DIR | up-redis DIR
#                            an outage: stop one server (PostgreSQL: fast shutdown, its data
#                            kept; Redis: SHUTDOWN NOSAVE, its data lost as on a restart
#                            without persistence), and start it again on the same port
#
# DIR/backends.env (sourced by tests/harness/with-backends.sh) holds:
#   SA_TEST_PG_ADMIN_URL   postgresql://sa@127.0.0.1:PORT/postgres (superuser sa, trust auth)
#   SA_TEST_REDIS_URL      redis://127.0.0.1:PORT
#   SA_BACKENDS_*          what stop needs (ports, pids, the servers' directory), and the
#                          port of a PgBouncer in transaction mode in front of the cluster
#
# The servers' files (cluster, sockets, logs) live in a mktemp directory under /tmp, not in
# DIR: initdb refuses to run as root, so as root the cluster belongs to the user postgres,
# which must be able to reach its directory (a build tree under /root or a CI home may be
# closed to it) and whose Unix socket path must stay under 107 bytes. Start first stops
# whatever a killed earlier run left in DIR. The cluster is tuned for throwaway data
# (fsync off, no full-page writes); never point it at anything you want to keep.
set -euo pipefail

PG_BIN=${SA_PG_BIN:-/usr/lib/postgresql/15/bin}

die() {
  echo "backends: $*" >&2
  exit 1
}

# Runs a PostgreSQL tool as the cluster's owner: postgres when we are root, else ourselves.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# shellcheck source=tests/harness/ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

show_log() {
  if [ -f "$1" ]; then
    echo "---- $1 ----" >&2
    tail -n 40 "$1" >&2
    echo "---- end of $1 ----" >&2
  fi
}

# Appends KEY=VALUE to the env file (values never hold spaces or quotes).
record() {
  echo "$1=$2" >>"$ENV_FILE"
}

start_pg() {
  local tmp=$1 port attempt
  # pg: the cluster; run: its socket and log (the server writes both)
  mkdir -p "$tmp/pg" "$tmp/run"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the user postgres (package postgresql-15)"
    chown postgres: "$tmp/pg" "$tmp/run"
  fi
  [ -x "$PG_BIN/initdb" ] || die "no $PG_BIN/initdb: install postgresql-15 (scripts/deps.sh)"
  # C.UTF-8: code-point order like SQLite's BINARY collation, and Unicode-aware character
  # classes (pg_trgm's trigrams of "Müller", upper/lower of non-ASCII letters).
  if ! as_pg "$PG_BIN/initdb" -D "$tmp/pg" -A trust -U sa --no-sync -E UTF8 --locale=C.UTF-8 \
       >"$tmp/initdb.log" 2>&1; then
    show_log "$tmp/initdb.log"
    die "initdb failed"
  fi
  for attempt in 1 2 3 4 5; do
    port=$(pick_port 20000)
    if as_pg "$PG_BIN/pg_ctl" -D "$tmp/pg" -l "$tmp/run/pg.log" -w -t 60 -o \
         "-h 127.0.0.1 -p $port -k $tmp/run -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200" \
         start >"$tmp/pg_ctl.out" 2>&1; then
      record SA_BACKENDS_PG_PORT "$port"
      record SA_BACKENDS_PG_PID "$(head -n 1 "$tmp/pg/postmaster.pid")"
      record SA_TEST_PG_ADMIN_URL "postgresql://sa@127.0.0.1:$port/postgres"
      return 0
    fi
    # lost the port to someone else: another one; anything else is fatal
    grep -q 'could not bind\|Address already in use' "$tmp/run/pg.log" 2>/dev/null || break
    echo "backends: PostgreSQL port $port was taken; trying another" >&2
  done
  show_log "$tmp/pg_ctl.out"
  show_log "$tmp/run/pg.log"
  die "PostgreSQL did not start"
}

start_redis() {
  local tmp=$1 port attempt pid i
  command -v redis-server >/dev/null || die "no redis-server: install redis-server (scripts/deps.sh)"
  for attempt in 1 2 3 4 5; do
    port=$(pick_port 20000)
    rm -f "$tmp/redis.pid"
    : >"$tmp/redis.log"
    # 1024 logical databases: with-backends.sh gives each run a block of 64, and the
    # integration harness each server directory one of those
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
      --dir "$tmp" --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log" --databases 1024 \
      >/dev/null 2>&1 || true
    # daemonized, it forks before it binds: wait until it answers, and make sure the server
    # answering is ours (its process id), not one that held the port already
    for i in $(seq 1 100); do
      pid=$(cat "$tmp/redis.pid" 2>/dev/null || true)
      if [ -n "$pid" ] &&
         [ "$(redis-cli -p "$port" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')" = "$pid" ]; then
        record SA_BACKENDS_REDIS_PORT "$port"
        record SA_BACKENDS_REDIS_PID "$pid"
        record SA_TEST_REDIS_URL "redis://127.0.0.1:$port"
        return 0
      fi
      if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
        break
      fi
      sleep 0.05
    done
    pid=$(cat "$tmp/redis.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
    fi
    grep -q 'Address already in use' "$tmp/redis.log" 2>/dev/null || break
    echo "backends: Redis port $port was taken; trying another" >&2
  done
  show_log "$tmp/redis.log"
  die "Redis did not start"
}

# PgBouncer in transaction mode in front of the cluster (every database, as the client's
# user), for the tests that check the store works behind it. It refuses to run as root.
start_pgbouncer() {
  local tmp=$1 pg_port=$2 port attempt pid i
  command -v pgbouncer >/dev/null || die "no pgbouncer: install pgbouncer (scripts/deps.sh)"
  echo '"sa" ""' >"$tmp/run/userlist.txt"
  for attempt in 1 2 3 4 5; do
    port=$(pick_port 20000)
    printf '%s\n' "[databases]" "* = host=127.0.0.1 port=$pg_port" "[pgbouncer]" \
      "listen_addr = 127.0.0.1" "listen_port = $port" "unix_socket_dir =" "auth_type = trust" \
      "auth_file = $tmp/run/userlist.txt" "pool_mode = transaction" "max_client_conn = 500" \
      "default_pool_size = 20" "logfile = $tmp/run/pgbouncer.log" \
      "pidfile = $tmp/run/pgbouncer.pid" >"$tmp/run/pgbouncer.ini"
    if [ "$(id -u)" -eq 0 ]; then
      chown postgres: "$tmp/run/pgbouncer.ini" "$tmp/run/userlist.txt"
    fi
    rm -f "$tmp/run/pgbouncer.pid"
    if as_pg pgbouncer -d -q "$tmp/run/pgbouncer.ini" >"$tmp/pgbouncer.out" 2>&1; then
      for i in $(seq 1 100); do
        pid=$(cat "$tmp/run/pgbouncer.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres -U sa; then
          record SA_BACKENDS_PGBOUNCER_PORT "$port"
          record SA_BACKENDS_PGBOUNCER_PID "$pid"
          return 0
        fi
        sleep 0.05
      done
    fi
    pid=$(cat "$tmp/run/pgbouncer.pid" 2>/dev/null || true)
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null || true
    fi
    grep -q 'Address already in use' "$tmp/run/pgbouncer.log" 2>/dev/null || break
    echo "backends: PgBouncer port $port was taken; trying another" >&2
  done
  show_log "$tmp/pgbouncer.out"
  show_log "$tmp/run/pgbouncer.log"
  die "PgBouncer did not start"
}

# Waits up to 10 s for process $1 to exit.
wait_gone() {
  local i
  for i in $(seq 1 200); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.05
  done
  return 1
}

# Removes $1 only when it is ours: absent, empty, or holding a backends.env.
remove_dir() {
  if [ -f "$1/backends.env" ] || [ -z "$(ls -A "$1" 2>/dev/null)" ]; then
    rm -rf "$1"
  else
    die "$1 is not a directory backends.sh made (no backends.env); not removing it"
  fi
}

cmd_stop() {
  local dir=$1 pid
  local SA_BACKENDS_TMP='' SA_BACKENDS_PG_PID='' SA_BACKENDS_REDIS_PID='' SA_BACKENDS_REDIS_PORT=''
  local SA_BACKENDS_PGBOUNCER_PID=''
  if [ -f "$dir/backends.env" ]; then
    # shellcheck disable=SC1091
    . "$dir/backends.env"
  fi
  case "$SA_BACKENDS_TMP" in
    /tmp/sa-backends-*) ;;
    *) SA_BACKENDS_TMP='' ;; # never remove anything else
  esac
  if [ -n "$SA_BACKENDS_TMP" ] && [ -f "$SA_BACKENDS_TMP/pg/postmaster.pid" ]; then
    # immediate: the data is thrown away, so no shutdown checkpoint is worth waiting for
    as_pg "$PG_BIN/pg_ctl" -D "$SA_BACKENDS_TMP/pg" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  # SHUTDOWN answers at once where SIGTERM waits for Redis's next tick; only when the
  # server on the port is ours
  if [ -n "${SA_BACKENDS_REDIS_PORT:-}" ] && [ -n "$SA_BACKENDS_REDIS_PID" ] &&
     [ "$(redis-cli -p "$SA_BACKENDS_REDIS_PORT" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')" = "$SA_BACKENDS_REDIS_PID" ]; then
    redis-cli -p "$SA_BACKENDS_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
  # what pg_ctl could not stop (its directory gone, say), by process id
  for pid in $SA_BACKENDS_PGBOUNCER_PID $SA_BACKENDS_PG_PID $SA_BACKENDS_REDIS_PID; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
  done
  if [ -n "$SA_BACKENDS_TMP" ]; then
    rm -rf "$SA_BACKENDS_TMP"
  fi
  remove_dir "$dir"
}

cmd_start() {
  local dir=$1 tmp
  if [ -e "$dir" ]; then
    if [ -f "$dir/backends.env" ]; then
      echo "backends: stopping what an earlier run left in $dir" >&2
    fi
    cmd_stop "$dir"
  fi
  mkdir -p "$dir"
  ENV_FILE="$dir/backends.env"
  # any failure from here on (die, set -e) stops what did start and removes it all
  trap 'cmd_stop "$dir"' EXIT
  tmp=$(mktemp -d /tmp/sa-backends-XXXXXX)
  chmod 755 "$tmp"
  : >"$ENV_FILE"
  record SA_BACKENDS_TMP "$tmp" # first, so that cleanup finds it
  start_pg "$tmp"
  start_redis "$tmp"
  start_pgbouncer "$tmp" "$(sed -n 's/^SA_BACKENDS_PG_PORT=//p' "$ENV_FILE")"
  trap - EXIT
  echo "backends: up: $(grep -h '^SA_TEST_.*_URL=' "$ENV_FILE" | tr '\n' ' ')" >&2
}

cmd_status() {
  local dir=$1
  [ -f "$dir/backends.env" ] || { echo "backends: nothing started in $dir" >&2; return 1; }
  # shellcheck disable=SC1091
  . "$dir/backends.env"
  cat "$dir/backends.env"
  as_pg "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$SA_BACKENDS_PG_PORT" || { echo "backends: PostgreSQL does not answer" >&2; return 1; }
  [ "$(redis-cli -p "$SA_BACKENDS_REDIS_PORT" ping 2>/dev/null)" = PONG ] || { echo "backends: Redis does not answer" >&2; return 1; }
}

# The outage commands (tests/integration/test_api_outage.c).
cmd_down_pg() {
  . "$1/backends.env"
  as_pg "$PG_BIN/pg_ctl" -D "$SA_BACKENDS_TMP/pg" -m fast -w -t 30 stop >/dev/null
}
cmd_up_pg() {
  . "$1/backends.env"
  local tmp=$SA_BACKENDS_TMP
  as_pg "$PG_BIN/pg_ctl" -D "$tmp/pg" -l "$tmp/run/pg.log" -w -t 60 -o \
    "-h 127.0.0.1 -p $SA_BACKENDS_PG_PORT -k $tmp/run -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200" \
    start >"$tmp/pg_ctl.out" 2>&1 || { show_log "$tmp/pg_ctl.out"; die "PostgreSQL did not start again"; }
  ENV_FILE="$1/backends.env"
  sed -i '/^SA_BACKENDS_PG_PID=/d' "$ENV_FILE"
  record SA_BACKENDS_PG_PID "$(head -n 1 "$tmp/pg/postmaster.pid")"
}
cmd_down_redis() {
  . "$1/backends.env"
  redis-cli -p "$SA_BACKENDS_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  wait_gone "$SA_BACKENDS_REDIS_PID" || die "Redis did not stop"
}
cmd_up_redis() {
  . "$1/backends.env"
  local tmp=$SA_BACKENDS_TMP i pid
  rm -f "$tmp/redis.pid"
  redis-server --port "$SA_BACKENDS_REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save '' \
    --appendonly no --dir "$tmp" --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log" \
    --databases 1024 >/dev/null 2>&1 || die "Redis did not start again"
  for i in $(seq 1 100); do
    pid=$(cat "$tmp/redis.pid" 2>/dev/null || true)
    [ -n "$pid" ] && [ "$(redis-cli -p "$SA_BACKENDS_REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
    sleep 0.05
  done
  [ -n "$pid" ] || die "Redis did not start again"
  ENV_FILE="$1/backends.env"
  sed -i '/^SA_BACKENDS_REDIS_PID=/d' "$ENV_FILE"
  record SA_BACKENDS_REDIS_PID "$pid"
}

[ $# -eq 2 ] || die "usage: backends.sh start|stop|status|down-pg|up-pg|down-redis|up-redis DIR"
dir=$(realpath -m "$2")
case "$1" in
  start) cmd_start "$dir" ;;
  stop) cmd_stop "$dir" ;;
  status) cmd_status "$dir" ;;
  down-pg) cmd_down_pg "$dir" ;;
  up-pg) cmd_up_pg "$dir" ;;
  down-redis) cmd_down_redis "$dir" ;;
  up-redis) cmd_up_redis "$dir" ;;
  *) die "usage: backends.sh start|stop|status|down-pg|up-pg|down-redis|up-redis DIR" ;;
esac
