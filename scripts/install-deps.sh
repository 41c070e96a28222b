#!/bin/sh
# Installs every Debian package Cordon needs to build, test, demo and bench.
# Idempotent: installs only what is missing, runs `apt-get update` only when
# something is missing. The only script in the tree that installs anything.
set -eu

PKGS="
build-essential cmake pkg-config clang clang-format
libseccomp-dev libcap-dev libnl-3-dev libnl-route-3-dev libssl-dev
liblua5.4-dev lua5.4 libsqlite3-dev sqlite3 libevent-dev libjansson-dev
libnftables-dev nftables
libcmocka-dev python3 python3-pytest python3-botocore curl iproute2
bubblewrap iperf3 libclang-rt-14-dev
"
# --bench: also the baselines only bench/ uses (bench/jobs compares SQL jobs
# with PostgreSQL 15 + PL/Lua on a server it starts itself). Not in CI: the
# server package is large and CI does not run benchmarks.
if [ "${1:-}" = "--bench" ]; then
	PKGS="$PKGS postgresql-15 postgresql-15-pllua"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
