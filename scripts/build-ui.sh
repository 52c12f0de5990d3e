#!/bin/sh
# Builds the web UI's third-party part: installs the chart library from
# npm (versions pinned by interface/package-lock.json) and copies the one
# file the page loads into interface/build/, which the controller serves.
# Nothing from npm is committed. Once node_modules/ matches the lock file
# no network is needed, so later builds work offline.
# Without npm this only says so and succeeds: the UI then runs without
# charts, and `make build` still works on machines without node.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
UI="$ROOT/interface"

if ! command -v npm >/dev/null 2>&1; then
	echo "build-ui: npm not found, skipping the web UI's chart library" >&2
	exit 0
fi

cd "$UI"
# npm records what it installed in node_modules/.package-lock.json;
# reinstall only when package-lock.json is newer (or nothing is there).
if [ ! -f node_modules/.package-lock.json ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ] ||
   [ ! -f node_modules/chart.js/dist/chart.umd.js ]; then
	npm ci --no-audit --no-fund --loglevel=error
fi

mkdir -p build
for f in chart.umd.js; do
	if ! cmp -s "node_modules/chart.js/dist/$f" "build/$f"; then
		cp "node_modules/chart.js/dist/$f" "build/$f.tmp"
		mv "build/$f.tmp" "build/$f"
	fi
done
cp node_modules/chart.js/LICENSE.md build/chart.js-LICENSE.md
