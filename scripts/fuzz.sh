#!/bin/sh
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for the
# given number of seconds (default 60) on a seed corpus made from
# ../shared/corpus and the target's own seeds. Crashes are left as
# crash-* files in build-fuzz/ and make the script fail.
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
CC=clang cmake -S . -B build-fuzz -DFUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
CORPUS=${CORPUS_DIR:-../shared/corpus}
status=0
for bin in build-fuzz/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	work="build-fuzz/corpus-$name"
	mkdir -p "$work"
	seeds="test/fuzz/seeds/${name#fuzz_}"
	[ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
	if [ "$name" = fuzz_mime ] && [ -d "$CORPUS" ]; then
		# a spread of real messages as seeds
		find "$CORPUS" -name '*.eml' | sort | awk 'NR % 60 == 0' | while read -r f; do
			cp -n "$f" "$work/" 2>/dev/null || true
		done
	fi
	dict=""
	[ -f "test/fuzz/$name.dict" ] && dict="-dict=$PWD/test/fuzz/$name.dict"
	echo "fuzz: $name for ${SECONDS_EACH}s"
	if ! (cd build-fuzz && "./fuzz/$name" $dict -max_total_time="$SECONDS_EACH" \
		-max_len=262144 -rss_limit_mb=2048 -print_final_stats=1 "corpus-$name" \
		2>"$name.log"); then
		echo "fuzz: $name FAILED, see build-fuzz/$name.log"
		tail -40 "build-fuzz/$name.log"
		status=1
	else
		grep -E 'stat::number_of_executed_units|cov:' "build-fuzz/$name.log" | tail -2
	fi
done
exit $status
