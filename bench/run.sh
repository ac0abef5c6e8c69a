#!/usr/bin/env bash
# Runs every benchmark and prints its figures: bench/run.sh BUILD_DIR
# HTTP: wrk against a release server on a temporary SQLite database, /health (the
# trivial-endpoint limit) and the qualification invoke (with its SQLite write), same run.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
duration=${BENCH_DURATION:-10s}
conns=${BENCH_CONNECTIONS:-32}

echo "== in-process scoring"
"$build/bench_score" "${BENCH_ITERATIONS:-200000}"

echo
echo "== HTTP on loopback (wrk -t2 -c$conns -d$duration; server: 2 threads; machine: $(nproc) cores shared by server and wrk)"
tmp=$(mktemp -d)
# Default configuration (info logs, one JSON line per request, to a file); port 0 = any.
"$build/sales-agent" serve --port 0 --threads 2 \
  --database-url "sqlite://$tmp/bench.db" --data-dir "$root/data" >"$tmp/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$tmp/server.log")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "server did not start:"; cat "$tmp/server.log"; exit 1; }

run_wrk() { # name, args...: prints "rps p50_ms p99_ms"
  local out
  out=$(wrk -t2 -c"$conns" -d"$duration" --latency "$@")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local non2xx
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$rps $p50 $p99 ${non2xx:-0}"
}
to_ms() { # wrk prints 512.00us / 1.20ms / 1.01s
  awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v+0 } else { sub(/s$/,"",v); print v*1000 } }'
}

read -r h_rps h_p50 h_p99 h_bad < <(run_wrk "http://127.0.0.1:$port/health")
read -r q_rps q_p50 q_p99 q_bad < <(run_wrk -s "$here/invoke.lua" "http://127.0.0.1:$port/api/langgraph/invoke")
rows=$(sqlite3 "$tmp/bench.db" 'select count(*) from agent_executions' 2>/dev/null || echo '?')

printf '%-34s %10s %10s %10s %8s\n' endpoint req/s p50_ms p99_ms non2xx
printf '%-34s %10s %10s %10s %8s\n' "GET /health" "$h_rps" "$(to_ms "$h_p50")" "$(to_ms "$h_p99")" "$h_bad"
printf '%-34s %10s %10s %10s %8s\n' "POST /api/langgraph/invoke" "$q_rps" "$(to_ms "$q_p50")" "$(to_ms "$q_p99")" "$q_bad"
awk -v q="$q_rps" -v h="$h_rps" 'BEGIN { printf "invoke throughput = %.0f%% of /health; ", 100*q/h }'
awk -v p="$(to_ms "$q_p50")" 'BEGIN { printf "invoke p50 vs seed 633 ms: %.0fx faster\n", 633/p }'
echo "executions written during the run: $rows"
