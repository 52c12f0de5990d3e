#!/bin/sh
# `make run`: every worker on the development ports with state under
# ./var (DESIGN.md section 3): scanner 11333, controller 11334, milter
# 11332, SMTP 2525 / submission 2587 / SMTPS 2465, IMAP 2143 / IMAPS 2993,
# POP3 2110 / POP3S 2995. Your conf/local.d/ is
# used as it is; the port overlay goes into ./var/dev-conf/local.d/ only
# for the files you did not write yourself. A demo domain and mailbox are
# made on the first run; the password is kept in ./var/demo-password.
set -eu
BUILD=${BUILD:-build}
STATE=./var
# absolute: include paths are relative to the including file
DEV="$(pwd)/var/dev-conf"
mkdir -p "$DEV/local.d" "$STATE"
if [ -d conf/local.d ]; then
	cp -a conf/local.d/. "$DEV/local.d/"
fi
overlay() {
	[ -e "conf/local.d/$1" ] || printf '%s\n' "$2" > "$DEV/local.d/$1"
}
overlay worker-smtp.inc 'bind_socket = "localhost:2525";'
overlay worker-submission.inc 'bind_socket = "localhost:2587";'
overlay worker-smtps.inc 'bind_socket = "localhost:2465";'
overlay worker-imap.inc 'bind_socket = "localhost:2143";'
overlay worker-imaps.inc 'bind_socket = "localhost:2993";'
overlay worker-pop3.inc 'bind_socket = "localhost:2110";'
overlay worker-pop3s.inc 'bind_socket = "localhost:2995";'
overlay mta.conf 'myhostname = "localhost";'
export RSPAMD_LOCAL_CONFDIR="$DEV"
ADM="./$BUILD/bin/rspamadm -c conf/rspamd.conf --state-dir $STATE"
if [ ! -s "$STATE/demo-password" ]; then
	$ADM domain list | grep -qx example.test || $ADM domain add example.test
	pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
	(umask 077 && printf '%s\n' "$pw" > "$STATE/demo-password")
	printf '%s\n' "$pw" | $ADM user add demo@example.test --password-stdin --quota 1G
fi
echo "make run: demo mailbox demo@example.test, password $(cat "$STATE/demo-password")"
echo "make run: SMTP localhost:2525, submission localhost:2587 (STARTTLS+AUTH), SMTPS localhost:2465"
echo "make run: IMAP localhost:2143 (STARTTLS) / 2993, POP3 localhost:2110 (STLS) / 2995"
echo "make run: web interface http://127.0.0.1:11334/"
exec "./$BUILD/bin/rspamd" -f -c conf/rspamd.conf --state-dir "$STATE"
