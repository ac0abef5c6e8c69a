#!/usr/bin/env bash
# Runs every benchmark and prints its figures: bench/run.sh BUILD_DIR
# HTTP: wrk against a release server on a temporary SQLite database, /health (the
# trivial-endpoint limit) and the qualification invoke (with its SQLite write), same run.
# Last, bench/backends.sh: savers, HTTP, pipeline runs, storage and a soak on PostgreSQL
# and Redis of its own.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
duration=${BENCH_DURATION:-10s}
conns=${BENCH_CONNECTIONS:-32}
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

echo "== in-process scoring"
"$build/bench_score" "${BENCH_ITERATIONS:-200000}"

echo
echo "== agents and the pipeline in process (each run stores its lead and execution)"
"$build/bench_agents" "${BENCH_AGENT_RUNS:-2000}"

echo
echo "== LLM layer in process against the fake vendor (engine cost per call, first token, pipeline at 200 ms a call, token relay through HTTP)"
"$build/bench_llm" "${BENCH_LLM_CALLS:-2000}" "${BENCH_LLM_PIPELINES:-7}" "${BENCH_LLM_RELAYS:-50}"

# issue 15, Apollo enrichment
echo
echo "== enrichment: cache hit vs provider call (Apollo, the fake on loopback)"
"$build/bench_enrich" "${BENCH_ENRICH_COMPANIES:-500}"

echo
echo "== CRM sync through the outbox against the fake HubSpot (requests issued, seconds)"
"$build/bench_crm" "${BENCH_CRM_LEADS:-10000}"

echo
echo "== intent recognition in process (training, held-out replies, turn latency)"
"$build/bench_intent" "${BENCH_INTENT_ROUNDS:-20}"

echo
echo "== access control in process (per /api/ request: API key -> principal, one rate-limit token)"
"$build/bench_access" "${BENCH_ACCESS_OPS:-200000}"

echo
echo "== sending by SMTP to a local aiosmtpd (STARTTLS + AUTH): connection reused vs new per message"
"$build/bench_smtp" "${BENCH_SMTP_MESSAGES:-300}"

echo
echo "== rate limiter in process (ns per take)"
"$build/bench_limiter" "${BENCH_LIMITER_OPS:-1000000}"

echo
echo "== SQLite store: one invocation write (lead upsert + execution, one transaction)"
"$build/bench_store" "${BENCH_WRITES:-5000}"

echo
echo "== lead search: q and sort at ${BENCH_SEARCH_LEADS:-100000} leads (count + page of 50)"
"$build/bench_search" "${BENCH_SEARCH_LEADS:-100000}"

echo
echo "== HTTP on loopback (wrk -t2 -d$duration; server: default threads; machine: $(nproc) cores shared by server and wrk)"
tmp=$(mktemp -d)
# Default configuration (info logs, one JSON line per request, to a file; AUTH=on, every
# /api/ request checked against its key); port 0 = any. The rate limits stay on but high
# enough never to refuse, so their cost is in the figures and no request is a 429.
RATE_LIMIT_PER_MINUTE=10000000 AGENT_RATE_LIMIT_PER_HOUR=1000000000 \
"$build/sales-agent" serve --port 0 \
  --database-url "sqlite://$tmp/bench.db" --data-dir "$root/data" >"$tmp/server.out" 2>"$tmp/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(wait_port "$tmp/server.out")
[ -n "$port" ] || { echo "server did not start:"; cat "$tmp/server.log"; exit 1; }
# the first admin key, printed once on stdout by a fresh install
key=$(wait_key "$tmp/server.out")
[ -n "$key" ] || { echo "no API key printed:"; cat "$tmp/server.out"; exit 1; }
export SA_BENCH_KEY=$key

printf '%-44s %10s %10s %10s %8s\n' "endpoint (connections)" req/s p50_ms p99_ms non2xx
row() { printf '%-44s %10s %10s %10s %8s\n' "$1" "$2" "$(to_ms "$3")" "$(to_ms "$4")" "$5"; }
invoke_url="http://127.0.0.1:$port/api/langgraph/invoke"
read -r h_rps h_p50 h_p99 h_bad < <(run_wrk -c"$conns" "http://127.0.0.1:$port/health")
row "GET /health (c=$conns)" "$h_rps" "$h_p50" "$h_p99" "$h_bad"
read -r a_rps a_p50 a_p99 a_bad < <(run_wrk -c"$conns" -H "Authorization: Bearer $key" \
  "http://127.0.0.1:$port/api/agents/status")
row "GET /api/agents/status, API key (c=$conns)" "$a_rps" "$a_p50" "$a_p99" "$a_bad"
read -r q_rps q_p50 q_p99 q_bad < <(run_wrk -c"$conns" -s "$here/invoke.lua" "$invoke_url")
row "POST /api/langgraph/invoke (c=$conns)" "$q_rps" "$q_p50" "$q_p99" "$q_bad"
read -r l_rps l_p50 l_p99 l_bad < <(run_wrk -c2 "http://127.0.0.1:$port/health")
row "GET /health (c=2)" "$l_rps" "$l_p50" "$l_p99" "$l_bad"
read -r m_rps m_p50 m_p99 m_bad < <(run_wrk -c2 -s "$here/invoke.lua" "$invoke_url")
row "POST /api/langgraph/invoke (c=2)" "$m_rps" "$m_p50" "$m_p99" "$m_bad"
read -r p_rps p_p50 p_p99 p_bad < <(run_wrk -c"$conns" -s "$here/pipeline.lua" "$invoke_url")
row "POST invoke pipeline (c=$conns)" "$p_rps" "$p_p50" "$p_p99" "$p_bad"
read -r s_rps s_p50 s_p99 s_bad < <(run_wrk -c2 -s "$here/pipeline.lua" "$invoke_url")
row "POST invoke pipeline (c=2)" "$s_rps" "$s_p50" "$s_p99" "$s_bad"
rows=$(sqlite3 "$tmp/bench.db" 'select count(*) from agent_executions' 2>/dev/null || echo '?')
awk -v a="$a_rps" -v h="$h_rps" 'BEGIN { printf "/api/agents/status with a key = %.0f%% of /health (no key) at the same concurrency\n", 100*a/h }'
awk -v q="$q_rps" -v h="$h_rps" 'BEGIN { printf "invoke throughput = %.0f%% of /health at the same concurrency\n", 100*q/h }'
awk -v p="$(to_ms "$m_p50")" 'BEGIN { printf "invoke p50 at c=2 vs the seed 633 ms: %.0fx faster\n", 633/p }'
awk -v p="$(to_ms "$s_p50")" 'BEGIN { printf "pipeline p50 at c=2 vs the seed ~12.6 s for these four agents: %.0fx faster\n", 12633/p }'
echo "executions written during the run: $rows"

echo
echo "== storage per invocation, and what retention keeps (sales-agent prune on a moved clock)"
"$here/bench_storage.sh" "$build" "${BENCH_STORAGE_RUNS:-200}"

echo
echo "== import: sales-agent import of generated HubSpot exports into a fresh SQLite file (GNU time)"
"$here/bench_import.sh" "$build" ${BENCH_IMPORT_ROWS:-10000 100000}

echo
echo "== production backends: savers, HTTP, pipeline runs, storage and a soak on PostgreSQL and Redis"
"$here/backends.sh" "$build"
