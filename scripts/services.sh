#!/usr/bin/env bash
# PostgreSQL and Redis for `make run` on a developer's machine: the same throwaway servers
# the tests start (tests/harness/backends.sh), kept in var/services until stopped.
#
#   scripts/services.sh start    start them (stopping earlier ones), create the database
#                                sales_agent, print the settings to use
#   scripts/services.sh env      print the settings again (export lines, for eval)
#   scripts/services.sh stop     stop them; their data is gone
#
#   eval "$(scripts/services.sh start)" && make run
#
# The data lives in /tmp and does not survive `stop` (nor a reboot): these are for trying
# the production backends, not for keeping anything.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/var/services"
backends="$root/tests/harness/backends.sh"

print_env() {
  # shellcheck disable=SC1091
  . "$dir/backends.env"
  echo "export DATABASE_URL=postgresql://sa@127.0.0.1:$SA_BACKENDS_PG_PORT/sales_agent"
  echo "export REDIS_URL=$SA_TEST_REDIS_URL"
}

case "${1:-}" in
  start)
    bash "$backends" start "$dir"
    # shellcheck disable=SC1091
    . "$dir/backends.env"
    /usr/lib/postgresql/15/bin/psql -X -q "$SA_TEST_PG_ADMIN_URL" -c 'CREATE DATABASE sales_agent'
    print_env
    echo "services: stop them with scripts/services.sh stop" >&2
    ;;
  env)
    [ -f "$dir/backends.env" ] || { echo "services: not started (scripts/services.sh start)" >&2; exit 1; }
    print_env
    ;;
  stop) bash "$backends" stop "$dir" ;;
  *)
    echo "usage: scripts/services.sh start|env|stop" >&2
    exit 2
    ;;
esac
