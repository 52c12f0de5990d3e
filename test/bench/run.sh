#!/bin/sh
# Benchmarks (not part of `make test`): MIME parse throughput over the whole
# corpus, and /checkv2 requests per second with 16 concurrent keep-alive
# clients (wrk), for our daemon and, in the same run, Debian's rspamd 3.4 as
# the peer. Prints each figure and the ratio ours/peer.
#   usage: test/bench/run.sh [seconds-per-load-run]
set -eu
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
CORPUS=${CORPUS_DIR:-../shared/corpus}
BUILD=${RSPAMD_BUILD:-build}

echo "== MIME parse throughput (whole corpus, 5 passes)"
"$BUILD/bench/bench_mime" "$CORPUS"/easy-ham-1 "$CORPUS"/easy-ham-2 "$CORPUS"/hard-ham-1 \
	"$CORPUS"/spam-1 "$CORPUS"/spam-2

echo "== /checkv2 with 16 concurrent keep-alive clients for ${DURATION}s"
exec /usr/bin/python3 test/bench/bench_checkv2.py "$DURATION"
