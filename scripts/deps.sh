#!/usr/bin/env bash
# Installs the Debian packages sales-agent needs to build, test and benchmark.
# Idempotent and quiet when everything is present. As root it runs apt-get
# directly; otherwise through sudo when available, else it prints the command.
set -euo pipefail

# Packages by purpose; "make test" and "make bench" need the tool packages too.
PKGS=(
  build-essential cmake pkg-config
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libzstd-dev libcsv-dev
  libpq-dev postgresql # the PostgreSQL store; its tests start a throwaway cluster
  libical-dev tzdata
  libjwt-dev libssl-dev
  libcmocka-dev libcurl4-openssl-dev curl
  wrk sqlite3 time
  python3 python3-icalendar # the integration tests parse delivered mail (email) and invites (icalendar)
  # sending by SMTP (issue 15): the tests' SMTP server and DKIM verifier (Ed25519 needs nacl)
  python3-aiosmtpd python3-dkim python3-nacl openssl
  # PostgreSQL and Redis: the client libraries the backends link, and the servers make test
  # starts (tests/harness/backends.sh; postgresql-15 includes contrib, so pg_trgm; PgBouncer
  # in front of it for test_store_contract_pgbouncer); nginx for the multi-instance tests
  # (tests/harness/nginx.sh); util-linux for runuser and flock
  libpq-dev postgresql-15 pgbouncer redis-server libhiredis-dev nginx-light util-linux
  # the IMAP poller's tests: a throwaway Dovecot run unprivileged by tests/harness/imap_server.sh
  # (installed with its system service kept stopped: see no_service_start below)
  dovecot-imapd
  # the web console's browser tests (tests/web/, issue 16): Debian's chromium, driven by
  # playwright-core, which downloads no browser of its own
  chromium
)

# `scripts/deps.sh clang` adds the fuzzing toolchain (make fuzz), `scripts/deps.sh lint`
# clang-tidy (make lint).
if [ "${1:-}" = clang ]; then PKGS+=(clang libclang-rt-14-dev); fi
if [ "${1:-}" = lint ]; then PKGS+=(clang-tidy); fi
# `scripts/deps.sh openapi` (make test): Node.js from Debian when there is no node, then the
# npm packages of tests/openapi/ and tests/sdk/ (their committed lock files) when missing or
# out of date.
if [ "${1:-}" = openapi ] && ! command -v node >/dev/null 2>&1; then PKGS+=(nodejs npm); fi
openapi_npm() {
  local root dir
  root="$(cd "$(dirname "$0")/.." && pwd)"
  # tests/openapi: the API document's checks; tests/sdk: the vendors' SDKs against the fake;
  # tests/web: playwright-core for the web console's browser tests (issue 16);
  # tests/langgraph-sdk: @langchain/langgraph-sdk against our Agent Server API (issue 16)
  for dir in "$root/tests/openapi" "$root/tests/sdk" "$root/tests/web" "$root/tests/langgraph-sdk"; do
    if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
       [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
      echo "deps: npm ci in ${dir#"$root"/}" >&2
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
  done
}

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  [ "${1:-}" = openapi ] && openapi_npm
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
cmd=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
# Packages such as dovecot-imapd start a system service on install (port 143 on every
# address, on a machine others share). The tests start their own servers, so while apt
# runs, a policy-rc.d refuses every service start (invoke-rc.d's documented hook, exit
# 101), unless the machine has a policy of its own already.
POLICY=/usr/sbin/policy-rc.d
# no_service_start PRIV CMD...: PRIV is "" (root) or sudo.
no_service_start() {
  local priv=$1 rc=0
  shift
  if [ -e "$POLICY" ]; then
    $priv "$@"
    return
  fi
  # removed however apt ends: an interrupted install must not leave services refused
  # shellcheck disable=SC2064 # priv is expanded now, on purpose (a local)
  trap "$priv rm -f '$POLICY'" EXIT
  trap 'exit 130' INT TERM
  $priv sh -c "printf '#!/bin/sh\nexit 101\n' >$POLICY && chmod 755 $POLICY"
  $priv "$@" || rc=$?
  $priv rm -f "$POLICY"
  trap - EXIT INT TERM
  return $rc
}
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq
  no_service_start "" env DEBIAN_FRONTEND=noninteractive "${cmd[@]}" >/dev/null
elif command -v sudo >/dev/null 2>&1; then
  sudo apt-get update -qq
  no_service_start sudo DEBIAN_FRONTEND=noninteractive "${cmd[@]}" >/dev/null
else
  echo "deps: missing packages; run as root:" >&2
  echo "  apt-get update && ${cmd[*]}" >&2
  exit 1
fi
[ "${1:-}" = openapi ] && openapi_npm
exit 0
