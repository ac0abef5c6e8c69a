#!/usr/bin/env bash
# Runs one test command against the servers backends.sh started, each run in data of its own:
#
#   with-backends.sh [--dir DIR] [--name NAME] [--saver redis|pg] [--pgbouncer]
#                    [--migrate SALES_AGENT] CMD [ARGS...]
#
# DIR (default $SA_BACKENDS_DIR) holds backends.env. Before CMD runs, a fresh PostgreSQL
# database is created (named after NAME, default CMD's base name, plus a random part) and
# a block of 64 Redis logical databases is taken for the run (backends.sh's Redis has 1024:
# blocks 1-15, a lock per block, so parallel runs never share one) and flushed. CMD sees:
#   SA_TEST_PG_URL        postgresql://sa@127.0.0.1:PORT/THATDB
#   SA_TEST_PG_ADMIN_URL  the cluster's postgres database (to create more databases)
#   SA_TEST_REDIS_URL     redis://127.0.0.1:PORT/N, N the block's first database
#   SA_TEST_REDIS_DBS     64: N+1 ... N+63 are the run's too (the integration harness gives
#                         each server directory one)
#   SA_TEST_SAVER_URL     with --saver: SA_TEST_REDIS_URL or SA_TEST_PG_URL
# With --pgbouncer, SA_TEST_PG_URL goes through the PgBouncer (transaction mode) that
# backends.sh runs in front of the cluster, to the same database. With --migrate, the
# database gets the schema first (`SALES_AGENT migrate`), for programs that open a saver
# or store without migrating (test_graph on the PostgreSQL saver).
# and the literal words @PG_URL@ and @REDIS_URL@ in ARGS are replaced by those URLs.
#
# Afterwards the database is dropped, with every database CMD made named THATDB_* (the
# integration harness makes one per server), and the Redis database is flushed. When CMD
# fails they are kept and named, for a look with psql/redis-cli while the servers run
# (`ctest -R NAME -FC backends` leaves them running). The exit status is CMD's.
set -uo pipefail

PG_BIN=${SA_PG_BIN:-/usr/lib/postgresql/15/bin}
dir=${SA_BACKENDS_DIR:-}
name=''
saver=''
pgbouncer=''
migrate=''

die() {
  echo "with-backends: $*" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --saver) saver=$2; shift 2 ;;
    --pgbouncer) pgbouncer=1; shift ;;
    --migrate) migrate=$2; shift 2 ;;
    --) shift; break ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || die "usage: with-backends.sh [--dir DIR] [--name NAME] [--saver redis|pg] [--pgbouncer] [--migrate SALES_AGENT] CMD [ARGS...]"
[ -n "$dir" ] || die "no backends directory: pass --dir DIR or set SA_BACKENDS_DIR"
[ -f "$dir/backends.env" ] ||
  die "$dir/backends.env is missing: the servers are not running (tests/harness/backends.sh start $dir; ctest runs it as the test backends_start)"
set -a
# shellcheck disable=SC1091
. "$dir/backends.env"
set +a

psql_admin() {
  "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$SA_TEST_PG_ADMIN_URL" "$@"
}

# ---- a fresh PostgreSQL database ---------------------------------------------------------
# Lower case, [a-z0-9_], at most 63 bytes with the "_N" suffixes the harness adds.
[ -n "$name" ] || name=$(basename "$1")
base=$(printf '%s' "$name" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_' '_' | cut -c1-36)
db="t_${base}_$$_$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
if ! out=$(psql_admin -c "CREATE DATABASE \"$db\"" 2>&1); then
  echo "$out" >&2
  die "could not create database $db on $SA_TEST_PG_ADMIN_URL"
fi
pg_port=$SA_BACKENDS_PG_PORT
if [ -n "$pgbouncer" ]; then
  pg_port=${SA_BACKENDS_PGBOUNCER_PORT:?backends.env names no PgBouncer}
fi
export SA_TEST_PG_URL="postgresql://sa@127.0.0.1:$pg_port/$db"
if [ -n "$migrate" ]; then
  data_dir="$(cd "$(dirname "$0")/../.." && pwd)/data"
  if ! out=$("$migrate" migrate --database-url "$SA_TEST_PG_URL" --data-dir "$data_dir" 2>&1); then
    echo "$out" >&2
    die "$migrate migrate failed on database $db (kept)"
  fi
fi

# ---- Redis logical databases of its own ---------------------------------------------------
# Holding the lock file of block B (fd 9, closed for CMD so a server it leaves behind
# cannot keep it) reserves databases 64*B ... 64*B+63 until this script exits.
block=''
for b in $(seq 1 15); do
  exec 9>"$dir/redis-block.$b.lock"
  if flock -n 9; then
    block=$b
    break
  fi
  exec 9>&-
done
if [ -z "$block" ]; then # 15 runs at once: queue behind one of them
  block=$(($$ % 15 + 1))
  exec 9>"$dir/redis-block.$block.lock"
  flock -w 600 9 || die "no Redis databases free for 600 s"
fi
redis_n=$((64 * block))
# Flushes the block's 64 databases over one connection; true when all 64 said OK.
redis_flush() {
  local i
  [ "$(for i in $(seq 0 63); do printf 'SELECT %d\nFLUSHDB\n' $((redis_n + i)); done |
        redis-cli -p "$SA_BACKENDS_REDIS_PORT" 2>&1 | grep -c '^OK$')" = 128 ]
}
redis_flush || die "Redis on port $SA_BACKENDS_REDIS_PORT did not flush databases $redis_n-$((redis_n + 63)) (started with --databases 1024?)"
export SA_TEST_REDIS_URL="$SA_TEST_REDIS_URL/$redis_n"
export SA_TEST_REDIS_DBS=64

case "$saver" in
  '') ;;
  redis) export SA_TEST_SAVER_URL="$SA_TEST_REDIS_URL" ;;
  pg) export SA_TEST_SAVER_URL="$SA_TEST_PG_URL" ;;
  *) die "--saver $saver: expected redis or pg" ;;
esac

args=()
for a in "$@"; do
  a=${a//@PG_URL@/$SA_TEST_PG_URL}
  a=${a//@REDIS_URL@/$SA_TEST_REDIS_URL}
  args+=("$a")
done

echo "with-backends: $name on PostgreSQL database $db${pgbouncer:+ through PgBouncer}, Redis databases $redis_n-$((redis_n + 63))" >&2

# ---- run it ------------------------------------------------------------------------------
# In the background, so a TERM (ctest's timeout, ^C) reaches CMD at once and the data is
# kept for a look, like any failure.
"${args[@]}" 9>&- &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP
wait "$child"
rc=$?
while kill -0 "$child" 2>/dev/null; do # wait returned early for a trapped signal
  wait "$child"
  rc=$?
done
trap - TERM INT HUP

# ---- clean up ----------------------------------------------------------------------------
# The databases CMD made: THATDB_<anything> (LIKE's _ escaped).
like="$(printf '%s' "$db" | sed 's/_/\\_/g')\\_%"
made=$(psql_admin -c "SELECT datname FROM pg_database WHERE datname = '$db' OR datname LIKE '$like' ORDER BY 1" 2>/dev/null | tr '\n' ' ')
if [ "$rc" -eq 0 ]; then
  for d in $made; do
    psql_admin -c "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1 ||
      echo "with-backends: could not drop database $d" >&2
  done
  redis_flush || true
else
  echo "with-backends: $name exited with status $rc; kept for inspection: PostgreSQL databases ${made:-$db}on $SA_TEST_PG_ADMIN_URL, Redis databases $redis_n-$((redis_n + 63)) on port $SA_BACKENDS_REDIS_PORT (until the servers stop)" >&2
fi
exit "$rc"
