#!/usr/bin/env bash
# nginx in front of several API instances, for the multi-instance tests:
#
#   nginx.sh start DIR PORT UPSTREAM_PORT...   listen on 127.0.0.1:PORT (0: a free port),
#                                              round-robin over 127.0.0.1:UPSTREAM_PORT...
#                                              except /threads/{thread_id}/... (below);
#                                              prints the port it listens on
#   nginx.sh stop DIR                          stop it and remove DIR
#
# DIR holds nginx.conf, its pid file, error log and temporary files (it is created; an
# earlier nginx left in it is stopped first). Responses are not buffered (server-sent
# events pass through as they are written). A request an instance refuses (it is dead) goes
# to the next one; a request already sent is not repeated elsewhere (nginx never retries a
# POST it sent), so the requests a killed instance held get a 502.
#
# The Agent Server API's runs execute, and keep their records and events, on the instance
# that took them (docs/scale-out.md, "The Agent Server API"): /threads/{thread_id} and
# every request under it (its runs, join, stream, cancel, state) go to the instance a
# consistent hash of the thread id picks, so a thread's runs, their readers and the
# thread's status meet there. Thread records are in the database: POST /threads and
# POST /threads/search go round-robin like everything else. DIR/upstreams.log says which
# instance answered each request ("METHOD URI STATUS UPSTREAM").
set -euo pipefail

die() {
  echo "nginx.sh: $*" >&2
  exit 1
}

# shellcheck source=tests/harness/ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

write_conf() {
  local dir=$1 port=$2 up
  shift 2
  {
    # as root the workers would switch to nobody, who cannot write DIR
    if [ "$(id -u)" -eq 0 ]; then echo "user root;"; fi
    cat <<EOF
worker_processes 1;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  access_log $dir/access.log;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  client_max_body_size 0;
  # the thread id of /threads/{thread_id}/... ("" elsewhere)
  map \$uri \$as_thread {
    "~^/threads/(?!search$)([^/]+)(/|$)" \$1;
    default "";
  }
  log_format upstreams '\$request_method \$uri \$status \$upstream_addr';
  upstream sales_agent {
EOF
    for up in "$@"; do
      echo "    server 127.0.0.1:$up max_fails=1 fail_timeout=2s;"
    done
    cat <<EOF
    keepalive 16;
  }
  upstream sales_agent_threads {
    hash \$as_thread consistent;
EOF
    for up in "$@"; do
      echo "    server 127.0.0.1:$up max_fails=1 fail_timeout=2s;"
    done
    cat <<EOF
    keepalive 16;
  }
  server {
    listen 127.0.0.1:$port;
    access_log $dir/upstreams.log upstreams;
    location / {
      proxy_pass http://sales_agent;
      include $dir/proxy.conf;
    }
    location ~ ^/threads/(?!search$)[^/]+(/|$) {
      proxy_pass http://sales_agent_threads;
      include $dir/proxy.conf;
    }
  }
}
EOF
  } >"$dir/nginx.conf"
  cat >"$dir/proxy.conf" <<EOF
proxy_http_version 1.1;
proxy_set_header Connection "";
proxy_set_header Host \$host;
proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
proxy_buffering off;
proxy_request_buffering off;
proxy_read_timeout 300s;
proxy_next_upstream error timeout;
proxy_next_upstream_tries 2;
EOF
}

cmd_stop() {
  local dir=$1 pid i
  if [ -f "$dir/nginx.pid" ]; then
    pid=$(cat "$dir/nginx.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -QUIT "$pid" 2>/dev/null || true # graceful: workers finish their requests
      for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
      done
      kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true
    fi
  fi
  if [ -f "$dir/nginx.conf" ] || [ -z "$(ls -A "$dir" 2>/dev/null)" ]; then
    rm -rf "$dir"
  else
    die "$dir holds no nginx.conf: not removing it"
  fi
}

cmd_start() {
  local dir=$1 port=$2 attempt i
  shift 2
  [ $# -gt 0 ] || die "no upstream port"
  command -v nginx >/dev/null || die "no nginx: install nginx-light (scripts/deps.sh)"
  [ -e "$dir" ] && cmd_stop "$dir"
  mkdir -p "$dir/tmp"
  for attempt in 1 2 3 4 5; do
    local p=$port
    [ "$p" = 0 ] && p=$(pick_port 20000)
    write_conf "$dir" "$p" "$@"
    : >"$dir/error.log"
    # -e: the error log before the configuration is read (else /var/log/nginx)
    if nginx -q -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" -g "daemon on; pid $dir/nginx.pid;" \
         2>>"$dir/error.log"; then
      for i in $(seq 1 100); do
        if [ -s "$dir/nginx.pid" ] && port_busy "$p"; then
          echo "$p" >"$dir/nginx.port"
          echo "$p"
          return 0
        fi
        sleep 0.05
      done
    fi
    [ "$port" = 0 ] && grep -q 'Address already in use' "$dir/error.log" || break
  done
  echo "---- $dir/error.log ----" >&2
  cat "$dir/error.log" >&2
  cmd_stop "$dir"
  die "nginx did not start"
}

[ $# -ge 2 ] || die "usage: nginx.sh start DIR PORT UPSTREAM_PORT... | nginx.sh stop DIR"
dir=$(realpath -m "$2")
case "$1" in
  start)
    [ $# -ge 4 ] || die "usage: nginx.sh start DIR PORT UPSTREAM_PORT..."
    shift 2
    cmd_start "$dir" "$@"
    ;;
  stop) cmd_stop "$dir" ;;
  *) die "usage: nginx.sh start DIR PORT UPSTREAM_PORT... | nginx.sh stop DIR" ;;
esac
