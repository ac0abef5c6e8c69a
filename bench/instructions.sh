#!/usr/bin/env bash
# Instructions per request (valgrind's callgrind), for before/after comparisons that do not
# move with the load of a shared machine: bench/instructions.sh BUILD_DIR [invoke|health]
# [SECONDS]
#
# Starts the server under callgrind on a fresh SQLite file (or on INSTR_DATABASE_URL), warms
# it up, zeroes the counters, runs wrk -t1 -c2 for SECONDS (20; bench/invoke.lua for
# invoke), dumps the counters and prints the server's instructions per request wrk
# completed, every thread counted (the two requests in flight at the end are noise). System calls are not counted (the kernel's side), and `rep stos` counts one
# instruction per byte, so the memset of libmicrohttpd's connection pool (128 KB per request)
# weighs more here than in CPU time. The profile stays in the printed file
# (callgrind_annotate --inclusive=yes FILE).
set -euo pipefail
build=$(realpath "${1:-build}")
what=${2:-invoke}
seconds=${3:-20}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
command -v valgrind >/dev/null || { echo "instructions.sh needs valgrind"; exit 1; }
out=$(mktemp -d /tmp/sa-instr-XXXXXX)
vpid=
cleanup() {
  if [ -n "$vpid" ]; then kill "$vpid" 2>/dev/null || true; wait "$vpid" 2>/dev/null || true; fi
}
trap cleanup EXIT
export RATE_LIMIT_PER_MINUTE=10000000 AGENT_RATE_LIMIT_PER_HOUR=1000000000 \
  MAIL_TRANSPORT="maildir:$out/mail" DATA_DIR="$root/data"
valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
  "$build/sales-agent" serve --port 0 --database-url "${INSTR_DATABASE_URL:-sqlite://$out/db.sqlite}" \
  >"$out/server.out" 2>"$out/server.log" &
vpid=$!
port=''
for _ in $(seq 600); do # valgrind starts slowly
  port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$out/server.out")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "the server did not start"; tail "$out/server.log"; exit 1; }
SA_BENCH_KEY=$(wait_key "$out/server.out")
export SA_BENCH_KEY
case $what in
  invoke) url="http://127.0.0.1:$port/api/langgraph/invoke" script="dofile(\"$here/invoke.lua\")" ;;
  health) url="http://127.0.0.1:$port/health" script='wrk.method = "GET"' ;;
  *) echo "usage: $0 BUILD_DIR [invoke|health] [SECONDS]"; exit 1 ;;
esac
cat >"$out/load.lua" <<LUA
$script
LUA
wrk -t1 -c2 -d3s -s "$out/load.lua" "$url" >/dev/null # warm-up
callgrind_control -z "$vpid" >/dev/null
reqs=$(wrk -t1 -c2 -d"$seconds"s -s "$out/load.lua" "$url" | awk '/requests in/ { print $1 }')
callgrind_control -d "$vpid" >/dev/null
kill "$vpid"
wait "$vpid" 2>/dev/null || true
vpid=
dump="$out/callgrind.out.1" # the first dump (callgrind_control -d)
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
echo "$what: $reqs requests, $((total / reqs)) instructions per request ($dump)"
echo "5xx answers logged: $(grep -c '"status":5' "$out/server.log" || true)"
