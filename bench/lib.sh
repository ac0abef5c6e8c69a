#!/usr/bin/env bash
# Shared by bench/run.sh and bench/backends.sh (sourced, not run): wrk's figures, and a
# sales-agent server started in the background with its port and first API key.

# wrk args...: prints "rps p50 p99 non2xx" (wrk -t2 -d$duration --latency; the caller
# sets duration)
run_wrk() {
  local out rps p50 p99 non2xx
  # shellcheck disable=SC2154 # duration: the caller's
  out=$(wrk -t2 -d"$duration" --latency "$@")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$rps $p50 $p99 ${non2xx:-0}"
}

# wrk prints 512.00us / 1.20ms / 1.01s: milliseconds
to_ms() {
  awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v+0 } else { sub(/s$/,"",v); print v*1000 } }'
}

# The port a server listens on, from the line it prints on stdout ($1), waited for 10 s;
# empty when it did not start.
wait_port() {
  local port=''
  for _ in $(seq 200); do
    port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$1")
    [ -n "$port" ] && break
    sleep 0.05
  done
  echo "$port"
}

# The first admin key, printed once on stdout ($1) by a fresh install; empty after 5 s.
wait_key() {
  local key=''
  for _ in $(seq 100); do
    key=$(grep -o 'sa_[0-9a-f]\{16\}_[A-Za-z0-9_-]\{43\}' "$1" | head -n 1 || true)
    [ -n "$key" ] && break
    sleep 0.05
  done
  echo "$key"
}
