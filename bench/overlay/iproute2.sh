#!/bin/sh
# The baseline of bench/overlay/run: the same 8-node topology built and torn
# down with ip(8), as an operator's script would (ip netns add; veth peers
# created directly in the node netns; addresses; links up; ip netns del).
# Runs only inside the benchmark's own network and mount namespaces.
set -eu
N=${1:-8}
J=ob$$
ip netns add "${J}h"
ip -n "${J}h" link set lo up
ip -n "${J}h" link add br0 type bridge
ip -n "${J}h" link set br0 up
i=0
while [ "$i" -lt "$N" ]; do
	ip netns add "${J}n$i"
	ip -n "${J}h" link add "p$i" type veth peer name eth0 netns "${J}n$i"
	ip -n "${J}h" link set "p$i" master br0 up
	ip -n "${J}n$i" addr add "10.250.0.$((i + 2))/24" dev eth0
	ip -n "${J}n$i" link set eth0 up
	ip -n "${J}n$i" link set lo up
	i=$((i + 1))
done
i=0
while [ "$i" -lt "$N" ]; do
	ip netns del "${J}n$i"
	i=$((i + 1))
done
ip netns del "${J}h"
