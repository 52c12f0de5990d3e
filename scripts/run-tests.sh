#!/bin/sh
# Runs every test: C unit tests (ctest), functional tests (pytest) and the
# load tests (test/stress) on the normal build, the unit and functional tests
# again on an ASan+UBSan build, then a short libFuzzer run of every fuzz
# target. Prints one summary line per suite and a final
# "N passed, N failed" over the suites. Exit status non-zero if any failed.
set -u
cd "$(dirname "$0")/.."
JOBS=$(nproc)
PYTEST="/usr/bin/python3 -m pytest"
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
passed=0
failed=0
failed_names=""

suite() {
	name=$1
	shift
	echo "=== $name: $*"
	if "$@"; then
		passed=$((passed + 1))
		echo "=== $name: ok"
	else
		failed=$((failed + 1))
		failed_names="$failed_names $name"
		echo "=== $name: FAILED"
	fi
}

build_dir() {
	dir=$1
	shift
	cmake -S . -B "$dir" "$@" >/dev/null && cmake --build "$dir" -j"$JOBS" >/dev/null
}

suite banned-functions ./scripts/check-banned.sh
suite unit sh -c "cd build && ctest --output-on-failure -j$JOBS"
suite functional env RSPAMD_BUILD="$PWD/build" $PYTEST -q -p no:cacheprovider test/functional
# The load tests (2,000 SMTP sessions, 5,000 idle IMAP connections, a 60 s
# scan storm) take about 5 minutes; SKIP_STRESS=1 leaves them out.
if [ "${SKIP_STRESS:-0}" != 1 ]; then
	suite stress env RSPAMD_BUILD="$PWD/build" $PYTEST -q -s -p no:cacheprovider test/stress
fi

if [ "${SKIP_SANITIZE:-0}" != 1 ]; then
	suite asan-build build_dir build-asan -DSANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	suite asan-unit sh -c "cd build-asan && ctest --output-on-failure -j$JOBS"
	suite asan-functional env RSPAMD_BUILD="$PWD/build-asan" $PYTEST -q -p no:cacheprovider test/functional
	unset ASAN_OPTIONS UBSAN_OPTIONS
fi
if [ "${SKIP_FUZZ:-0}" != 1 ]; then
	suite fuzz ./scripts/fuzz.sh "$FUZZ_SECONDS"
fi

echo "test suites:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
