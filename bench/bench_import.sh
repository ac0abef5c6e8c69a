#!/usr/bin/env bash
# Import throughput and peak memory of `sales-agent import` (the CLI: read, validate, fold
# duplicates, qualify, write) on generated HubSpot-style exports (bench/gen_leads.c), each
# into a fresh temporary SQLite database: bench/bench_import.sh BUILD_DIR [ROWS...]
# (default 10000 100000). peak_RSS is the process's maximum resident set (GNU time): it
# includes file-backed pages (the CSV, mapped by the CLI, and SQLite's mmap of the
# database, up to 256 MB), which the kernel can drop; peak_anon is the largest anonymous
# resident set (the heap: what the import allocates), sampled from /proc every 50 ms.
# cpu_s is user + system time of both of the import's threads: on a shared machine it moves
# less than seconds (wall) does.
set -euo pipefail
build=${1:-build}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
root=$(cd "$(dirname "$0")/.." && pwd)
[ -x /usr/bin/time ] || { echo "bench_import needs GNU time (apt-get install time)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '%-8s %8s %8s %8s %9s %12s %13s %8s %7s %5s\n' rows file_MB seconds cpu_s rows/s peak_RSS_MB peak_anon_MB created merged exit
for n in "${sizes[@]}"; do
  "$build/gen_leads" "$n" >"$tmp/leads.csv"
  rm -f "$tmp"/bench.db*
  set +e
  /usr/bin/time -f '%e %M %U %S' -o "$tmp/time" \
    "$build/sales-agent" import --log-level warn --data-dir "$root/data" \
    --database-url "sqlite://$tmp/bench.db" "$tmp/leads.csv" >"$tmp/report.json" 2>"$tmp/err" &
  tpid=$!
  anon=0
  while kill -0 "$tpid" 2>/dev/null; do
    for p in $(pgrep -P "$tpid" 2>/dev/null); do
      a=$(awk '/^RssAnon:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
      [ -n "$a" ] && [ "$a" -gt "$anon" ] && anon=$a
    done
    sleep 0.05
  done
  wait "$tpid"
  status=$?
  set -e
  read -r secs kb usr sys < <(tail -n 1 "$tmp/time") # GNU time puts "Command exited ..." first
  created=$(sed -n 's/^  "created": \([0-9]*\),*/\1/p' "$tmp/report.json")
  merged=$(sed -n 's/^  "merged_in_file": \([0-9]*\),*/\1/p' "$tmp/report.json")
  mb=$(du -m "$tmp/leads.csv" | cut -f1)
  awk -v n="$n" -v mb="$mb" -v s="$secs" -v kb="$kb" -v an="$anon" -v c="${created:--}" \
      -v m="${merged:--}" -v st="$status" -v cpu="$(awk -v u="$usr" -v y="$sys" 'BEGIN {print u + y}')" \
      'BEGIN { printf "%-8d %8d %8.2f %8.2f %9.0f %12.1f %13.1f %8s %7s %5d\n",
      n, mb, s, cpu, (st == 0 && s > 0 ? n / s : 0), kb / 1024, an / 1024, c, m, st }'
  [ "$status" -eq 0 ] || sed 's/^/  /' "$tmp/err" | tail -n 3
done
