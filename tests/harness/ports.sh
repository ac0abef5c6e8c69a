# shellcheck shell=bash
# Free loopback ports for the harness's servers, sourced by backends.sh, nginx.sh and
# imap_server.sh (each defines die).

# True when something accepts TCP connections on 127.0.0.1:$1.
port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pick_port LOW: a port in LOW..LOW+9999 (20000 for most: below the kernel's ephemeral
# range, so the ports the integration tests take with bind(0) never collide with it) that
# nobody listens on now. The server may still lose a race for it: the callers retry.
pick_port() {
  local low=$1 p _
  for _ in $(seq 1 50); do
    p=$((low + RANDOM % 10000))
    port_busy "$p" || { echo "$p"; return 0; }
  done
  die "no free port in $low-$((low + 9999)) after 50 tries"
}
