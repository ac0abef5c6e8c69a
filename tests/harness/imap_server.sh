#!/usr/bin/env bash
# A throwaway IMAP server for the IMAP poller's tests (tests/integration/test_api_imap.c):
# Debian's Dovecot (package dovecot-imapd, scripts/deps.sh) run as an unprivileged user
# with a configuration of its own, one passwd-file user, Maildir storage in DIR, plaintext
# login on 127.0.0.1 only (Dovecot counts a loopback connection as secured) and a free
# port. It never touches the system's Dovecot service, its configuration or port 143.
#
#   imap_server.sh start DIR     start it (DIR is made; must not exist or be one of ours);
#                                write DIR/imap.env: SA_IMAP_PORT, SA_IMAP_USER,
#                                SA_IMAP_PASSWORD, SA_IMAP_PID
#   imap_server.sh deliver DIR FILE
#                                deliver FILE (a raw message) into the user's INBOX as an
#                                MTA does: written in tmp/, renamed into new/
#   imap_server.sh down DIR      stop the server (the mail is kept)
#   imap_server.sh up DIR        start it again on the same port
#   imap_server.sh renumber DIR  stop it, drop the INBOX's UID list and indexes (the flags
#                                stay in the Maildir file names), start it again: the
#                                mailbox gets a new UIDVALIDITY, as after a server migration
#   imap_server.sh stop DIR      stop it and remove DIR
#
# As root, the server runs as the user nobody (DIR is made theirs); else as ourselves.
set -euo pipefail

USER_NAME=replies@pipewise.example
PASSWORD='imap-t3st-pass'

die() {
  echo "imap_server: $*" >&2
  exit 1
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u nobody -- "$@"
  else
    "$@"
  fi
}

# shellcheck source=tests/harness/ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

write_conf() {
  local dir=$1 port=$2 user group uid gid
  if [ "$(id -u)" -eq 0 ]; then
    user=nobody
    group=$(id -gn nobody)
  else
    user=$(id -un)
    group=$(id -gn)
  fi
  uid=$(id -u "$user")
  gid=$(id -g "$user")
  # every service runs as the one user, without chroot (an unprivileged master cannot
  # change users or chroot); the master's sockets and state live in DIR
  cat >"$dir/dovecot.conf" <<EOF
protocols = imap
listen = 127.0.0.1
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
ssl = no
auth_mechanisms = plain login
default_internal_user = $user
default_internal_group = $group
default_login_user = $user
mail_location = maildir:$dir/mail/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/passwd
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$dir/home/%u
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
service stats {
  chroot =
}
service auth {
  user = $user
}
service auth-worker {
  user = $user
}
service pop3-login {
  chroot =
}
service submission-login {
  chroot =
}
service imap-urlauth-login {
  chroot =
}
EOF
}

# Starts the master (it daemonizes) and waits until it answers on the port.
launch() {
  local dir=$1 port=$2 _
  rm -f "$dir/run/master.pid"
  as_owner /usr/sbin/dovecot -c "$dir/dovecot.conf" >"$dir/start.out" 2>&1 || return 1
  for _ in $(seq 1 200); do
    if [ -s "$dir/run/master.pid" ] && port_busy "$port"; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}

cmd_start() {
  local dir=$1 port _
  command -v /usr/sbin/dovecot >/dev/null || [ -x /usr/sbin/dovecot ] ||
    die "no /usr/sbin/dovecot: install dovecot-imapd (scripts/deps.sh)"
  [ ! -e "$dir" ] || [ -f "$dir/imap.env" ] || die "$dir exists and is not ours"
  [ ! -e "$dir" ] || cmd_stop "$dir"
  mkdir -p "$dir/run" "$dir/state" "$dir/home" "$dir/mail/$USER_NAME"/{tmp,new,cur}
  chmod 755 "$dir"
  echo "$USER_NAME:{PLAIN}$PASSWORD" >"$dir/passwd"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R nobody: "$dir"
  fi
  for _ in 1 2 3 4 5; do
    port=$(pick_port 30000)
    write_conf "$dir" "$port"
    if launch "$dir" "$port"; then
      printf '%s\n' "SA_IMAP_PORT=$port" "SA_IMAP_USER=$USER_NAME" "SA_IMAP_PASSWORD=$PASSWORD" \
        "SA_IMAP_PID=$(cat "$dir/run/master.pid")" >"$dir/imap.env"
      return 0
    fi
    grep -q 'Address already in use' "$dir/dovecot.log" "$dir/start.out" 2>/dev/null || break
  done
  cat "$dir/start.out" "$dir/dovecot.log" >&2 2>/dev/null || true
  die "dovecot did not start"
}

cmd_down() {
  local dir=$1 pid _
  pid=$(cat "$dir/run/master.pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
}

cmd_up() {
  local dir=$1
  # shellcheck disable=SC1091
  . "$dir/imap.env"
  launch "$dir" "$SA_IMAP_PORT" || { cat "$dir/dovecot.log" >&2; die "dovecot did not start again"; }
  sed -i "s/^SA_IMAP_PID=.*/SA_IMAP_PID=$(cat "$dir/run/master.pid")/" "$dir/imap.env"
}

cmd_renumber() {
  local dir=$1
  cmd_down "$dir"
  rm -f "$dir/mail/$USER_NAME"/dovecot-uidlist "$dir/mail/$USER_NAME"/dovecot.index* \
    "$dir/mail/$USER_NAME"/dovecot-uidvalidity*
  sleep 1 # UIDVALIDITY is a time in seconds: the new one must differ
  cmd_up "$dir"
}

cmd_deliver() {
  local dir=$1 file=$2 name
  name="$(date +%s).$$.$RANDOM.sa-test"
  as_owner cp "$file" "$dir/mail/$USER_NAME/tmp/$name"
  as_owner mv "$dir/mail/$USER_NAME/tmp/$name" "$dir/mail/$USER_NAME/new/$name"
}

cmd_stop() {
  local dir=$1
  [ -f "$dir/imap.env" ] || [ ! -e "$dir" ] || die "$dir is not ours; not removing it"
  cmd_down "$dir"
  rm -rf "$dir"
}

[ $# -ge 2 ] || die "usage: imap_server.sh start|deliver|down|up|renumber|stop DIR [FILE]"
case "$1" in
  start) cmd_start "$2" ;;
  deliver) [ $# -eq 3 ] || die "deliver DIR FILE"; cmd_deliver "$2" "$3" ;;
  down) cmd_down "$2" ;;
  up) cmd_up "$2" ;;
  renumber) cmd_renumber "$2" ;;
  stop) cmd_stop "$2" ;;
  *) die "unknown command $1" ;;
esac
