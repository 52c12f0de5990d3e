#!/bin/sh
# Installs the Debian packages the build, the tests and `make run` need,
# only when some are missing. Safe to run again; needs root (or sudo) only
# when it has something to install.
set -eu

BUILD_PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev
 libev-dev libssl-dev libluajit-5.1-dev libhyperscan-dev libpcre2-dev
 libhiredis-dev libicu-dev libc-ares-dev liblmdb-dev libsqlite3-dev libpq-dev
 libcrypt-dev libxxhash-dev"
TEST_PKGS="python3 python3-pytest redis-server rspamd openssl curl wrk
 python3-dnslib python3-dkim python3-spf python3-yaml publicsuffix postfix
 swaks postgresql"
TEST_PKGS="$TEST_PKGS nodejs npm chromium"

# Node.js may come from elsewhere (NodeSource's nodejs bundles npm and
# conflicts with Debian's npm package): what the tests need is the commands.
provided() {
	case "$1" in
	nodejs) command -v node >/dev/null 2>&1 ;;
	npm) command -v npm >/dev/null 2>&1 ;;
	*) return 1 ;;
	esac
}

missing=""
for p in $BUILD_PKGS ${WITH_TEST_PKGS:+$TEST_PKGS}; do
	provided "$p" && continue
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "setup-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# Debian's rspamd, postfix and postgresql packages are only peers for tests
# (rspamc, the daemon, a private Postfix in front of our milter, a private
# PostgreSQL cluster): keep their services from starting and taking
# 11333/11334, port 25 or 5432, and keep postfix's
# debconf from asking for a mailer type (the tests write their own main.cf).
if echo "$missing" | grep -q postfix; then
	echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
fi
if echo "$missing" | grep -Eq 'rspamd|postfix|postgresql' && [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod +x /usr/sbin/policy-rc.d
	trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -q --no-install-recommends $missing
