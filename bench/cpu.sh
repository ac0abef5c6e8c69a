#!/usr/bin/env bash
# CPU cost per request of GET /health and of the qualification invoke (bench/invoke.lua,
# with its write), on SQLite and PostgreSQL: bench/cpu.sh BUILD_DIR [sqlite|postgresql...]
#
# On a shared machine wall-clock req/s moves with the neighbours' load; the CPU time the
# server spends per request does much less. For each endpoint: wrk -t1 -c$CPU_CONNECTIONS
# -d$CPU_DURATION, and the server's utime+stime (/proc/PID/stat) before and after, divided
# by the requests wrk completed. On PostgreSQL the database's own CPU (every postgres
# process of the throwaway cluster) is printed beside it. Then CPU_RATIO_RUNS (3) short
# back-to-back wrk runs of each endpoint at BENCH_CONNECTIONS (32): the median req/s of
# each and their ratio, and the invoke's p50 at 2 connections.
# Settings: CPU_DURATION (5s), CPU_CONNECTIONS (8), CPU_RATIO_RUNS (3), BENCH_DURATION
# (3s, per ratio run), BENCH_CONNECTIONS (32).
set -euo pipefail
build=$(realpath "${1:-build}")
shift || true
backends=${*:-sqlite postgresql}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cpu_duration=${CPU_DURATION:-5s}
cpu_conns=${CPU_CONNECTIONS:-8}
ratio_runs=${CPU_RATIO_RUNS:-3}
duration=${BENCH_DURATION:-3s}
conns=${BENCH_CONNECTIONS:-32}
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bin="$build/sales-agent"
tck=$(getconf CLK_TCK)

tmp=$(mktemp -d /tmp/sa-cpu-XXXXXX)
chmod 755 "$tmp"
spid=
cleanup() {
  if [ -n "$spid" ]; then kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; fi
  if [ -f "$tmp/backends/backends.env" ]; then "$root/tests/harness/backends.sh" stop "$tmp/backends" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
export RATE_LIMIT_PER_MINUTE=10000000 AGENT_RATE_LIMIT_PER_HOUR=1000000000 \
  MAIL_TRANSPORT="maildir:$tmp/mail" DATA_DIR="$root/data"

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# the CPU ticks of every process of the throwaway cluster (0 without one)
pg_ticks() {
  local pm=${pg_postmaster:-} t=0 p
  [ -n "$pm" ] || { echo 0; return; }
  for p in $pm $(pgrep -P "$pm" || true); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(ticks "$p")))
  done
  echo "$t"
}
# cost label url [wrk args]: one wrk run; prints requests, server and database µs/request
cost() {
  local label=$1 url=$2
  shift 2
  local s0 d0 s1 d1 out n
  s0=$(ticks "$spid")
  d0=$(pg_ticks)
  out=$(wrk -t1 -c"$cpu_conns" -d"$cpu_duration" "$@" "$url")
  s1=$(ticks "$spid")
  d1=$(pg_ticks)
  n=$(awk '/requests in/ { print $1 }' <<<"$out")
  awk -v l="$label" -v n="$n" -v s="$((s1 - s0))" -v d="$((d1 - d0))" -v t="$tck" 'BEGIN {
    printf "  %-30s %8d requests   server %7.1f us/req   database %7.1f us/req\n", l, n, s*1e6/t/n, d*1e6/t/n }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for b in $backends; do
  case $b in
    sqlite) url="sqlite://$tmp/cpu.db" pg_postmaster= ;;
    postgresql)
      [ -f "$tmp/backends/backends.env" ] || "$root/tests/harness/backends.sh" start "$tmp/backends" >/dev/null 2>&1
      # shellcheck disable=SC1091
      . "$tmp/backends/backends.env"
      psql -q "$SA_TEST_PG_ADMIN_URL" -c "CREATE DATABASE cpu" >/dev/null
      url="${SA_TEST_PG_ADMIN_URL%/postgres}/cpu"
      pg_postmaster=$SA_BACKENDS_PG_PID
      ;;
    *) echo "unknown backend $b"; exit 1 ;;
  esac
  "$bin" serve --port 0 --database-url "$url" >"$tmp/$b.out" 2>"$tmp/$b.log" &
  spid=$!
  port=$(wait_port "$tmp/$b.out")
  [ -n "$port" ] || { echo "$b: server did not start"; tail "$tmp/$b.log"; exit 1; }
  SA_BENCH_KEY=$(wait_key "$tmp/$b.out")
  export SA_BENCH_KEY
  u="http://127.0.0.1:$port"
  echo "$b: load average $(cut -d' ' -f1-3 /proc/loadavg); wrk -t1 -c$cpu_conns -d$cpu_duration"
  wrk -t1 -c4 -d1s -s "$here/invoke.lua" "$u/api/langgraph/invoke" >/dev/null # warm up
  cost "GET /health" "$u/health"
  cost "POST /api/langgraph/invoke" "$u/api/langgraph/invoke" -s "$here/invoke.lua"
  : >"$tmp/h" && : >"$tmp/q"
  for _ in $(seq "$ratio_runs"); do
    read -r rps _ <<<"$(run_wrk -c"$conns" "$u/health")"
    echo "$rps" >>"$tmp/h"
    read -r rps _ <<<"$(run_wrk -c"$conns" -s "$here/invoke.lua" "$u/api/langgraph/invoke")"
    echo "$rps" >>"$tmp/q"
  done
  read -r _ p50 _ <<<"$(run_wrk -c2 -s "$here/invoke.lua" "$u/api/langgraph/invoke")"
  h=$(median <"$tmp/h")
  q=$(median <"$tmp/q")
  awk -v b="$b" -v h="$h" -v q="$q" -v c="$conns" -v n="$ratio_runs" -v p="$(to_ms "$p50")" 'BEGIN {
    printf "  wrk -t2 -c%d, median of %d: /health %.0f req/s, invoke %.0f req/s = %.1f%% of /health; invoke p50 at c=2 %.2f ms\n", c, n, h, q, 100*q/h, p }'
  echo "  5xx answers logged: $(grep -c "\"status\":5" "$tmp/$b.log" || true)"
  kill "$spid"
  wait "$spid" 2>/dev/null || true
  spid=
done
