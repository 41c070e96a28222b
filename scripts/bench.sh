#!/bin/sh
# Runs every benchmark: bench/<name>/run (executable), each printing one line
# per figure: "<what>: cordon X, <baseline> Y, ratio R". Expects a Release
# build in $CORDON_BUILD_DIR (make bench does that).
set -eu
cd "$(dirname "$0")/.."
: "${CORDON_BUILD_DIR:=$PWD/build-release}"
export CORDON_BUILD_DIR
found=0
for b in bench/*/run; do
	[ -x "$b" ] || continue
	found=1
	echo "== $(basename "$(dirname "$b")")"
	"$b"
done
[ $found -eq 1 ] || echo "bench: no benchmarks yet"
