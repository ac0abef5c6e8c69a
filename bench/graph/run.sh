#!/usr/bin/env bash
# The graph-engine comparison, one command (make bench-graph): our engine
# (build/bench_graph) and LangGraph.js (peer.mjs) on the same three workloads, back to
# back, each workload in its own process. Prints a table, then one machine-readable
# line per workload: bench graph/<workload>: ours_us=<median> peer_us=<median> speedup=<x>
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
export BENCH_GRAPH_N=${BENCH_GRAPH_N:-2000}

if [ ! -d "$here/node_modules/@langchain/langgraph" ]; then
  echo "installing LangGraph.js (npm ci; builds better-sqlite3 from source, ~1 min)" >&2
  (cd "$here" && npm_config_nodedir=${npm_config_nodedir:-/usr} npm ci --no-audit --no-fund >&2)
fi

workloads=(linear fanout linear_sqlite)
declare -A ours peer
for w in "${workloads[@]}"; do
  ours[$w]=$("$build/bench_graph" "$w")
  peer[$w]=$(cd "$here" && node peer.mjs "$w" | tail -n 1)
done

field() { # json key -> value (flat JSON lines written by our two programs)
  sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"
}

printf '%-14s %-12s %10s %10s %10s %12s %14s %6s\n' workload engine median_us p99_us inv/s \
  peak_rss_kb ckpt_bytes/thr ckpts
for w in "${workloads[@]}"; do
  for e in ours peer; do
    line=${ours[$w]}
    [ "$e" = peer ] && line=${peer[$w]}
    if [ -n "$(field "$line" skipped)" ]; then
      printf '%-14s %-12s skipped: %s\n' "$w" "$(field "$line" engine)" "$(field "$line" skipped)"
      continue
    fi
    printf '%-14s %-12s %10s %10s %10s %12s %14s %6s\n' "$w" "$(field "$line" engine)" \
      "$(field "$line" median_us)" "$(field "$line" p99_us)" "$(field "$line" inv_per_s)" \
      "$(field "$line" peak_rss_kb)" "$(field "$line" checkpoint_bytes_per_thread)" \
      "$(field "$line" checkpoints_per_thread)"
  done
done
echo "(LangGraph.js $(field "${peer[linear]}" version), n=$BENCH_GRAPH_N invocations per workload, a new thread each)"
for w in "${workloads[@]}"; do
  o=$(field "${ours[$w]}" median_us)
  p=$(field "${peer[$w]}" median_us)
  if [ -z "$p" ]; then
    echo "bench graph/$w: ours_us=$o peer_us=skipped speedup=n/a"
  else
    awk -v w="$w" -v o="$o" -v p="$p" \
      'BEGIN { printf "bench graph/%s: ours_us=%s peer_us=%s speedup=%.1f\n", w, o, p, p / o }'
  fi
done
