#!/usr/bin/env bash
# The production backends' benchmarks: bench/backends.sh BUILD_DIR (run by bench/run.sh).
# Starts a throwaway PostgreSQL 15 + Redis (tests/harness/backends.sh, fsync off) in a temp
# directory, stopped on exit, and prints:
#   1. checkpoint save per super-step on SQLite, PostgreSQL and Redis (bench_saver)
#   2. HTTP qualification invoke against /health of the same server, SQLite and PostgreSQL
#   3. pipeline runs/s (POST /api/runs until every run settled) with one API instance and
#      with two behind nginx plus a `sales-agent worker`, on PostgreSQL + Redis
#   4. bytes per finished pipeline run on PostgreSQL, before and after retention
#   5. a soak under wrk (SOAK_SECONDS): RSS, open fds, database size every 10 s while the
#      retention sweep runs, on SQLite and PostgreSQL (SOAK_BACKENDS)
# Settings: BENCH_DURATION (10s), BENCH_CONNECTIONS (32), BENCH_SAVER_PUTS (3000),
# BENCH_RUNS (500), BENCH_PG_STORAGE_RUNS (200), SOAK_SECONDS (60),
# SOAK_BACKENDS ("sqlite postgresql"), BENCH_SECTIONS ("1 2 3 4 5": which of the above run).
set -euo pipefail
build=$(realpath "${1:-build}")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
duration=${BENCH_DURATION:-10s}
conns=${BENCH_CONNECTIONS:-32}
runs=${BENCH_RUNS:-500}
soak=${SOAK_SECONDS:-60}
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bin="$build/sales-agent"
PG_BIN=${SA_PG_BIN:-/usr/lib/postgresql/15/bin}

missing=
[ -x "$PG_BIN/initdb" ] || missing="$missing $PG_BIN/initdb"
for c in redis-server redis-cli psql wrk curl nginx pgbouncer; do
  command -v "$c" >/dev/null || missing="$missing $c"
done
if [ -n "$missing" ]; then
  echo "(skipped: missing$missing; scripts/deps.sh installs them)"
  exit 0
fi

tmp=$(mktemp -d /tmp/sa-bench-XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -f "$tmp/nginx/nginx.conf" ]; then "$root/tests/harness/nginx.sh" stop "$tmp/nginx" 2>/dev/null || true; fi
  if [ -f "$tmp/backends/backends.env" ]; then "$root/tests/harness/backends.sh" stop "$tmp/backends" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
"$root/tests/harness/backends.sh" start "$tmp/backends" 2>/dev/null
# shellcheck disable=SC1091
. "$tmp/backends/backends.env"
admin=$SA_TEST_PG_ADMIN_URL
redis=$SA_TEST_REDIS_URL
pg_base=${admin%/postgres}
newdb() { # name: a fresh database, its URL printed
  psql -q "$admin" -c "CREATE DATABASE $1" >/dev/null
  echo "$pg_base/$1"
}
sql() { psql -qtA "$1" -c "$2"; }

# Rate limits on but never refusing (their cost is in the figures); mail to a Maildir.
export RATE_LIMIT_PER_MINUTE=10000000 AGENT_RATE_LIMIT_PER_HOUR=1000000000 \
  MAIL_TRANSPORT="maildir:$tmp/mail" DATA_DIR="$root/data"

# start NAME VAR=VALUE... -- ARGS...: sales-agent ARGS with VARs set, in the background;
# sets pid (and port when it serves). Output in $tmp/NAME.out and .log.
start() {
  local name=$1
  shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" "$bin" "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
  pid=$!
  pids+=("$pid")
  if [ "$1" = serve ]; then
    port=$(wait_port "$tmp/$name.out")
    [ -n "$port" ] || { echo "$name did not start:"; tail -20 "$tmp/$name.log"; exit 1; }
  fi
}
stop() { # pid: SIGTERM and wait
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

echo "machine: $(nproc) cores shared by the servers, the backends and wrk; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
echo "PostgreSQL 15 and Redis 7 on loopback, throwaway settings (fsync off, synchronous_commit off, no Redis persistence)"

want() { # N: whether section N is asked for (BENCH_SECTIONS, default all)
  case " ${BENCH_SECTIONS:-1 2 3 4 5} " in *" $1 "*) return 0 ;; esac
  return 1
}
lead() { # i tag: a lead whose pipeline finishes without an approval
  printf '{"company_name":"Bench %s %d Bakery","industry":"Food","company_size":"1-10",' "$2" "$1"
  printf '"country":"US","contact_info":{"name":"Bo %d","email":"bo%d.%s@bakery%d.example"}}' \
    "$1" "$1" "$2" "$1"
}
now() { date +%s.%N; }

if want 1; then
echo
echo "-- 1. checkpoint save per super-step: $build/bench_saver -n ${BENCH_SAVER_PUTS:-3000} sqlite://... postgresql://... redis://.../1"
saver_db=$(newdb saver)
DATABASE_URL="$saver_db" "$bin" migrate >/dev/null # the checkpoint table
"$build/bench_saver" -n "${BENCH_SAVER_PUTS:-3000}" "sqlite://$tmp/saver.db" "$saver_db" "$redis/1"
fi

if want 2; then
echo
echo "-- 2. HTTP: wrk -t2 -d$duration --latency (bench/invoke.lua: qualification invoke with its write; /health caches its probe for 1 s, so it is the trivial-endpoint limit)"
printf '%-12s %-40s %10s %10s %10s %8s\n' backend "endpoint (connections)" req/s p50_ms p99_ms non2xx
http_backend() { # label DATABASE_URL
  start "http-$1" -- serve --port 0 --database-url "$2"
  local key
  key=$(wait_key "$tmp/http-$1.out")
  [ -n "$key" ] || { echo "no API key printed"; cat "$tmp/http-$1.out"; exit 1; }
  export SA_BENCH_KEY=$key
  local u="http://127.0.0.1:$port" h_rps h_p50 h_p99 h_bad q_rps q_p50 q_p99 q_bad m_rps m_p50 m_p99 m_bad
  read -r h_rps h_p50 h_p99 h_bad < <(run_wrk -c"$conns" "$u/health")
  read -r q_rps q_p50 q_p99 q_bad < <(run_wrk -c"$conns" -s "$here/invoke.lua" "$u/api/langgraph/invoke")
  read -r m_rps m_p50 m_p99 m_bad < <(run_wrk -c2 -s "$here/invoke.lua" "$u/api/langgraph/invoke")
  stop "$pid"
  printf '%-12s %-40s %10s %10s %10s %8s\n' "$1" "GET /health (c=$conns)" "$h_rps" "$(to_ms "$h_p50")" "$(to_ms "$h_p99")" "$h_bad"
  printf '%-12s %-40s %10s %10s %10s %8s\n' "$1" "POST /api/langgraph/invoke (c=$conns)" "$q_rps" "$(to_ms "$q_p50")" "$(to_ms "$q_p99")" "$q_bad"
  printf '%-12s %-40s %10s %10s %10s %8s\n' "$1" "POST /api/langgraph/invoke (c=2)" "$m_rps" "$(to_ms "$m_p50")" "$(to_ms "$m_p99")" "$m_bad"
  echo "$1 $q_rps $h_rps $(to_ms "$m_p50")" >>"$tmp/http.ratios"
}
http_backend sqlite "sqlite://$tmp/http.db"
http_backend postgresql "$(newdb http)"
while read -r b q h p; do
  t=50
  [ "$b" = postgresql ] && t=30
  awk -v b="$b" -v q="$q" -v h="$h" -v p="$p" -v t="$t" 'BEGIN {
    printf "%-12s invoke = %.0f%% of /health at c='"$conns"' (target >= %d%%); invoke p50 at c=2 %.2f ms (target < 1 ms)\n", b, 100*q/h, t, p }'
done <"$tmp/http.ratios"
fi

if want 3; then
echo
echo "-- 3. pipeline runs: $runs x POST /api/runs (curl -Z --parallel-max 16, keep-alive), until every run settled (runs.status in the database), PostgreSQL + Redis"
pipeline_runs() { # label base_url db_url key: prints "submit_s settled_s runs_per_s statuses"
  local label=$1 url=$2 db=$3 key=$4 cfg="$tmp/runs-$1.curl" i t0 t1 t2 settled=0 total
  : >"$cfg"
  for i in $(seq "$runs"); do
    [ "$i" -gt 1 ] && echo next >>"$cfg"
    printf 'url = "%s/api/runs"\nheader = "Content-Type: application/json"\nheader = "Authorization: Bearer %s"\ndata = "%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
      "$url" "$key" "$(printf '{"input":%s}' "$(lead "$i" "$label")" | sed 's/"/\\"/g')" >>"$cfg"
  done
  t0=$(now)
  curl -sS -Z --parallel-max 16 -K "$cfg" >"$tmp/runs-$label.codes" 2>"$tmp/runs-$label.err" || true
  t1=$(now)
  total=$(sql "$db" "SELECT count(*) FROM runs")
  for i in $(seq 6000); do # 10 minutes at most
    settled=$(sql "$db" "SELECT count(*) FROM runs WHERE status NOT IN ('queued', 'running')")
    [ "$settled" -ge "$total" ] && break
    sleep 0.1
  done
  t2=$(now)
  local accepted statuses
  accepted=$(grep -c '^202$' "$tmp/runs-$label.codes" || true)
  statuses=$(sql "$db" "SELECT string_agg(status || '=' || n, ',') FROM (SELECT status, count(*) n FROM runs GROUP BY 1 ORDER BY 1) s")
  awk -v a="$accepted" -v tot="$total" -v s="$settled" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v st="$statuses" \
    'BEGIN { printf "%d %d %d %.2f %.2f %.1f %s\n", a, tot, s, t1 - t0, t2 - t0, s / (t2 - t0), st }'
}
printf '%-46s %8s %8s %8s %9s %10s %8s  %s\n' setup accepted stored settled submit_s settled_s runs/s statuses
# one instance, RUN_WORKERS=2
db1=$(newdb runs1)
start runs1 REDIS_URL="$redis/2" RUN_WORKERS=2 -- serve --port 0 --database-url "$db1"
one_pid=$pid
key=$(wait_key "$tmp/runs1.out")
read -r a tot s ts tt rps st < <(pipeline_runs one "http://127.0.0.1:$port" "$db1" "$key")
printf '%-46s %8s %8s %8s %9s %10s %8s  %s\n' "1 API instance (RUN_WORKERS=2)" "$a" "$tot" "$s" "$ts" "$tt" "$rps" "$st"
one_rps=$rps
stop "$one_pid"
# two instances (RUN_WORKERS=2 each) behind nginx, and one worker (RUN_WORKERS=2)
db2=$(newdb runs2)
start runs2a REDIS_URL="$redis/3" RUN_WORKERS=2 -- serve --port 0 --database-url "$db2"
a_pid=$pid a_port=$port
key=$(wait_key "$tmp/runs2a.out")
start runs2b REDIS_URL="$redis/3" RUN_WORKERS=2 -- serve --port 0 --database-url "$db2"
b_pid=$pid b_port=$port
start runs2w REDIS_URL="$redis/3" RUN_WORKERS=2 -- worker --database-url "$db2"
w_pid=$pid
nport=$("$root/tests/harness/nginx.sh" start "$tmp/nginx" 0 "$a_port" "$b_port")
read -r a tot s ts tt rps st < <(pipeline_runs two "http://127.0.0.1:$nport" "$db2" "$key")
printf '%-46s %8s %8s %8s %9s %10s %8s  %s\n' "2 API instances (2 each) + nginx + 1 worker (2)" "$a" "$tot" "$s" "$ts" "$tt" "$rps" "$st"
awk -v a="$rps" -v b="$one_rps" 'BEGIN { printf "two instances + worker = %.2fx one instance (6 run threads against 2, same 2 cores)\n", a / b }'
"$root/tests/harness/nginx.sh" stop "$tmp/nginx"
stop "$w_pid"
stop "$b_pid"
stop "$a_pid"
fi

if want 4; then
echo
n=${BENCH_PG_STORAGE_RUNS:-200}
echo "-- 4. bytes per finished pipeline run on PostgreSQL ($n x POST /api/langgraph/invoke pipeline, checkpoints in PostgreSQL; then sales-agent prune on a moved clock: CLOCK_FILE)"
db3=$(newdb storage)
t0=$(date -u +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
iso "$t0" >"$tmp/clock"
# payload: the live rows' bytes (pg_column_size of each row, TOASTed values as stored);
# relation: heap + indexes + TOAST after VACUUM FULL (deleted rows' space given back)
pg_sizes() {
  psql -q "$db3" -c "VACUUM FULL" >/dev/null
  sql "$db3" "SELECT coalesce(sum((xpath('/row/s/text()', query_to_xml(format('SELECT coalesce(sum(pg_column_size(t.*)), 0) AS s FROM %I.%I t', n.nspname, c.relname), false, true, '')))[1]::text::bigint), 0), coalesce(sum(pg_total_relation_size(c.oid)), 0)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'" | tr '|' ' '
}
start storage AUTH=off CLOCK_FILE="$tmp/clock" RETENTION_SWEEP_SECONDS=0 LOG_LEVEL=warn OUTBOX_POLL_MS=0 -- \
  serve --port 0 --database-url "$db3"
read -r p0 r0 < <(pg_sizes)
for i in $(seq "$n"); do
  curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d "{\"agent_type\":\"pipeline\",\"input\":$(lead "$i" s)}" "http://127.0.0.1:$port/api/langgraph/invoke" ||
    { echo "invoke failed"; exit 1; }
done
stop "$pid"
read -r p1 r1 < <(pg_sizes)
iso $((t0 + 2 * 86400)) >"$tmp/clock"
echo "prune at +2 days: $(CLOCK_FILE="$tmp/clock" DATABASE_URL="$db3" "$bin" prune)"
read -r p2 r2 < <(pg_sizes)
iso $((t0 + 31 * 86400)) >"$tmp/clock"
echo "prune at +31 days: $(CLOCK_FILE="$tmp/clock" DATABASE_URL="$db3" "$bin" prune)"
read -r p3 r3 < <(pg_sizes)
printf '%-46s %10s %12s\n' "bytes per pipeline run" payload relations
per() { awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" -v n="$n" -v l="$5" 'BEGIN { printf "%-46s %10.0f %12.0f\n", l, (a-b)/n, (c-d)/n }'; }
per "$p1" "$p0" "$r1" "$r0" "  before retention"
per "$p2" "$p0" "$r2" "$r0" "  after checkpoint retention (+2 days)"
per "$p3" "$p0" "$r3" "$r0" "  after execution retention (+31 days)"
echo "(target: under 8 KB per finished run kept; relations include index pages, so a small N overstates them)"
fi

if want 5; then
echo
echo "-- 5. soak: wrk -t2 -c$conns -d${soak}s bench/invoke.lua, RETENTION_SWEEP_SECONDS=5, EXECUTION_RETENTION_SECONDS=20, CHECKPOINT_RETENTION_SECONDS=20"
soak_backend() { # label DATABASE_URL
  local label=$1 url=$2 key t r0 r1 f0 f1 d0 d1
  start "soak-$label" RETENTION_SWEEP_SECONDS=5 EXECUTION_RETENTION_SECONDS=20 CHECKPOINT_RETENTION_SECONDS=20 -- \
    serve --port 0 --database-url "$url"
  local spid=$pid
  key=$(wait_key "$tmp/soak-$label.out")
  dbsize() {
    if [ "$label" = sqlite ]; then
      echo $(( $(stat -c %s "$tmp/soak.db") + $(stat -c %s "$tmp/soak.db-wal" 2>/dev/null || echo 0) ))
    else
      sql "$url" "SELECT pg_database_size(current_database())"
    fi
  }
  sample() { # t: prints a row, sets last
    local rss fds db
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$spid/status")
    fds=$(find "/proc/$spid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    db=$(dbsize)
    printf '%-12s %6s %10s %8s %10s\n' "$label" "$1" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" "$fds" "$(mb "$db")"
    last="$rss $fds $db"
  }
  printf '%-12s %6s %10s %8s %10s\n' backend t_s rss_mb fds db_mb
  local last r10 d10
  sample 0
  read -r r0 f0 d0 <<<"$last"
  SA_BENCH_KEY=$key wrk -t2 -c"$conns" -d"${soak}s" --latency -s "$here/invoke.lua" \
    "http://127.0.0.1:$port/api/langgraph/invoke" >"$tmp/soak-$label.wrk" &
  local wpid=$!
  for t in $(seq 10 10 "$soak"); do
    sleep 10
    sample "$t"
    [ "$t" = 10 ] && read -r r10 _ d10 <<<"$last"
  done
  wait "$wpid" || true
  read -r r1 f1 d1 <<<"$last"
  awk -v r0="$r0" -v r1="$r1" -v f0="$f0" -v f1="$f1" -v d0="$d0" -v d1="$d1" -v l="$label" 'BEGIN {
    printf "%-12s growth start->end: RSS %+.1f MB, fds %+d, database %+.1f MB\n", l, (r1-r0)/1024, f1-f0, (d1-d0)/1048576 }'
  [ -n "$r10" ] && awk -v r0="$r10" -v r1="$r1" -v d0="$d10" -v d1="$d1" -v l="$label" 'BEGIN {
    printf "%-12s growth 10 s->end (warm): RSS %+.1f MB, database %+.1f MB\n", l, (r1-r0)/1024, (d1-d0)/1048576 }'
  echo "$label wrk: $(awk '/Requests\/sec/ {print $2 " req/s"} /Non-2xx/ {print $0}' "$tmp/soak-$label.wrk" | tr '\n' ' ')"
  if [ "$label" = postgresql ]; then # where the bytes are: the largest tables, indexes included
    echo "$label largest tables at the end (MB with indexes; dead rows):"
    sql "$url" "SELECT string_agg(format('  %s %s (%s dead)', relname,
        round(pg_total_relation_size(relid) / 1048576.0, 1), n_dead_tup), E'\n'
        ORDER BY pg_total_relation_size(relid) DESC)
      FROM (SELECT * FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC LIMIT 6) t"
  fi
  stop "$spid"
}
for b in ${SOAK_BACKENDS:-sqlite postgresql}; do
  case $b in
    sqlite) soak_backend sqlite "sqlite://$tmp/soak.db" ;;
    postgresql) soak_backend postgresql "$(newdb soak)" ;;
  esac
done
fi
