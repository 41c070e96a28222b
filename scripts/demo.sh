#!/bin/sh
# `make demo`: runs the most complete real thing Cordon can do in this build.
# (Once the job path exists: start cordond with embedded chunk servers, create
# a project, upload data and UDFs, run a 4-node job, print results, plan,
# timings and audit trail, shut down.)
set -eu
cd "$(dirname "$0")/.."
: "${CORDON_BUILD_DIR:=$PWD/build}"
BIN="$CORDON_BUILD_DIR/bin"

echo "== Cordon binaries"
for b in cordon cordond cordon-node cordon-chunkd; do
	"$BIN/$b" --version | head -1
done
echo
echo "== built against"
"$BIN/cordon" --version | tail -n +2
