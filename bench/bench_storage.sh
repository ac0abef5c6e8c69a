#!/usr/bin/env bash
# Storage per invocation and what retention keeps: bench/bench_storage.sh BUILD_DIR [N]
# (default 200). A server on a fresh SQLite file (AUTH=off, loopback, its sweep off, time
# from a CLOCK_FILE) takes N qualification invokes, then N pipeline invokes of leads that
# finish (no approval: nothing waits for a human), each a new lead; the bytes SQLite holds
# per table (dbstat: payload = the rows' bytes, pages = the B-tree pages they fill) are
# printed per invocation. Then the clock moves past CHECKPOINT_RETENTION_SECONDS (1 day)
# and `sales-agent prune` runs: bytes per finished pipeline run kept; then past
# EXECUTION_RETENTION_SECONDS (30 days) and prune again. BUILD_DIR's binary may be an
# older one without `prune` (the "before" figures): the prune steps are then skipped.
# Prints also the WAL's size before and after the prune (it truncates it).
set -euo pipefail
build=${1:-build}
n=${2:-200}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$build/sales-agent"
command -v sqlite3 >/dev/null || { echo "bench_storage needs the sqlite3 shell"; exit 1; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
db="$tmp/bench.db"
t0=$(date -u +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
iso "$t0" >"$tmp/clock"
export AUTH=off RATE_LIMIT_PER_MINUTE=0 AGENT_RATE_LIMIT_PER_HOUR=0 OUTBOX_POLL_MS=0 \
  RETENTION_SWEEP_SECONDS=0 CLOCK_FILE="$tmp/clock" LOG_LEVEL=warn \
  MAIL_TRANSPORT="maildir:$tmp/mail" DATABASE_URL="sqlite://$db" DATA_DIR="$root/data"

"$bin" serve --port 0 >"$tmp/server.out" 2>"$tmp/server.log" &
pid=$!
port=
for _ in $(seq 200); do
  port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$tmp/server.out")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "server did not start:"; cat "$tmp/server.log"; exit 1; }
url="http://127.0.0.1:$port/api/langgraph/invoke"

# table -> "payload pages" bytes, indexes and FTS shadow tables counted with their table
sizes() {
  sqlite3 "$db" "SELECT CASE WHEN m.tbl_name LIKE 'lead_fts%' THEN 'leads' ELSE m.tbl_name END,
    sum(d.payload), sum(d.pgsize) FROM dbstat d JOIN sqlite_master m ON m.name = d.name
    GROUP BY 1 ORDER BY 1" | tr '|' ' '
}
per_table() { # before_file after_file count label
  join -a2 -e0 -o 2.1,1.2,2.2,1.3,2.3 <(sort "$1") <(sort "$2") |
    awk -v n="$3" -v l="$4" '{dp = ($3 - $2) / n; dg = ($5 - $4) / n;
      if (dp > 0 || dg > 0) printf "  %-22s %-20s %10.0f %10.0f\n", l, $1, dp, dg}'
}
lead() { # i kind: a lead that finishes its pipeline (no approval) or is only qualified
  printf '{"company_name":"Bench %s %d Bakery","industry":"Food","company_size":"1-10",' "$2" "$1"
  printf '"country":"US","contact_info":{"name":"Bo %d","email":"bo%d.%s@bakery%d.example"}}' \
    "$1" "$1" "$2" "$1"
}
invoke() { # agent_type lead
  curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d "{\"agent_type\":\"$1\",\"input\":$2}" "$url" || { echo "invoke failed"; exit 1; }
}

printf '%-24s %-20s %10s %10s\n' "bytes per invocation" table payload pages
sizes >"$tmp/s0"
for i in $(seq "$n"); do invoke qualification "$(lead "$i" q)"; done
sizes >"$tmp/s1"
per_table "$tmp/s0" "$tmp/s1" "$n" qualification
for i in $(seq "$n"); do invoke pipeline "$(lead "$i" p)"; done
sizes >"$tmp/s2"
per_table "$tmp/s1" "$tmp/s2" "$n" "pipeline (finished)"
tot() { awk '{p += $2; g += $3} END {print p + 0, g + 0}' "$1"; }
read -r p0 g0 < <(tot "$tmp/s0")
read -r p1 g1 < <(tot "$tmp/s1")
read -r p2 g2 < <(tot "$tmp/s2")
awk -v a="$p1" -v b="$p0" -v c="$g1" -v d="$g0" -v n="$n" \
  'BEGIN { printf "%-45s %10.0f %10.0f\n", "  qualification, all tables", (a-b)/n, (c-d)/n }'
awk -v a="$p2" -v b="$p1" -v c="$g2" -v d="$g1" -v n="$n" \
  'BEGIN { printf "%-45s %10.0f %10.0f\n", "  pipeline run (finished), all tables", (a-b)/n, (c-d)/n }'
wal_before=$(stat -c %s "$db-wal" 2>/dev/null || echo 0)
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=

if ! "$bin" prune --help >/dev/null 2>&1; then
  echo "($bin has no prune command: retention figures skipped)"
  exit 0
fi
# checkpoint retention (1 day) passed: finished threads keep their final state only
iso $((t0 + 2 * 86400)) >"$tmp/clock"
echo "prune at +2 days: $("$bin" prune)"
sizes >"$tmp/s3"
read -r p3 g3 < <(tot "$tmp/s3")
# executions (30 days) too
iso $((t0 + 31 * 86400)) >"$tmp/clock"
echo "prune at +31 days: $("$bin" prune)"
sizes >"$tmp/s4"
read -r p4 g4 < <(tot "$tmp/s4")
printf '%-45s %10s %10s\n' "kept per invocation (both kinds)" payload pages
awk -v a="$p2" -v b="$p0" -v c="$g2" -v d="$g0" -v n="$n" \
  'BEGIN { printf "%-45s %10.0f %10.0f\n", "  before retention", (a-b)/(2*n), (c-d)/(2*n) }'
awk -v a="$p3" -v b="$p0" -v c="$g3" -v d="$g0" -v n="$n" \
  'BEGIN { printf "%-45s %10.0f %10.0f\n", "  after checkpoint retention (+2 days)", (a-b)/(2*n), (c-d)/(2*n) }'
awk -v a="$p4" -v b="$p0" -v c="$g4" -v d="$g0" -v n="$n" \
  'BEGIN { printf "%-45s %10.0f %10.0f\n", "  after execution retention (+31 days)", (a-b)/(2*n), (c-d)/(2*n) }'
echo "per table after both (per finished pipeline run + qualification):"
per_table "$tmp/s0" "$tmp/s4" "$n" "kept"
echo "WAL: $wal_before bytes before prune, $(stat -c %s "$db-wal" 2>/dev/null || echo 0) after"
