#!/bin/bash
# SPDX-License-Identifier: MIT
# Network soak: one openhv guest runs iperf3 against the host for a long
# time (tools/guest/scripts/net-soak.sh) and we report whether it finished,
# how many 10-s rounds it did, and how it ended. For chasing crashes that
# take minutes of traffic to show; not part of `make check`.
# usage: bench/network/soak.sh [SECS] [LRO] [rx|tx] [REPEATS]
#   LRO: on or off (the guest's LRO = our RSC), or a list like on,off that
#   the repeats take in turn. Progress lines are shown as they come.
# Runs inside the emulated host when there is no hardware virtualization.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
build=${OPENHV_BUILD:-build}
if [ "${1:-}" != --inside ]; then
	tools/deps.sh
	[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
	ninja -C "$build" >/dev/null
	eval "$(tools/mkguest.sh)"
	exec tools/with-kvm --timeout $(( (${1:-300} + 240) * ${4:-1} + 120 )) bash "$0" --inside \
		"$top/$build/src/cli/openhv" "$KERNEL" "$INITRD" "$@"
fi
shift
openhv=$1 kernel=$2 initrd=$3 secs=${4:-300} lros=${5:-on} dir=${6:-rx} repeats=${7:-1}
IFS=, read -r -a lro_list <<<"$lros"
TAP=ohvsoak0
tmp=$(mktemp -d /tmp/ohv-soak.XXXXXX)
cleanup()
{
	[ -n "${vm:-}" ] && kill -KILL "$vm" 2>/dev/null
	[ -n "${iperf:-}" ] && kill "$iperf" 2>/dev/null
	ip link del "$TAP" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
ip link del "$TAP" 2>/dev/null || true
ip tuntap add dev "$TAP" mode tap
ip addr add 169.254.100.1/24 dev "$TAP"
ip link set "$TAP" up
iperf3 -s -B 169.254.100.1 >/dev/null 2>&1 &
iperf=$!
for r in $(seq 1 "$repeats"); do
	log=$tmp/soak.$r.log
	lro=${lro_list[$(( (r - 1) % ${#lro_list[@]} ))]}
	echo "# soak $r: lro=$lro, starting"
	start=$SECONDS
	"$openhv" run --kernel "$kernel" --initrd "$initrd" --memory 512M --cpus 2 \
		--nic "tap=$TAP" --cmdline "console=ttyS0 panic=-1 ohv.script=net-soak ohv.soaksecs=$secs ohv.lro=$lro ohv.soakdir=$dir" \
		</dev/null >"$log" 2>&1 &
	vm=$!
	tail -n +1 --pid="$vm" -F "$log" 2>/dev/null | grep -a --line-buffered -E "ohv-soak|triple fault|ohv-result" |
		sed -u "s/^/#   /" &
	follow=$!
	end=$((SECONDS + secs + 240))
	while kill -0 "$vm" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 1; done
	if kill -0 "$vm" 2>/dev/null; then
		# Before killing it: is a vCPU running L1's code (the emulated
		# host's known fault), and where are the VMM's threads?
		"$top/tests/guest/l2-fault.sh" "$vm" | sed 's/^/# /' || echo "# l2-fault.sh: no vCPU found in L1's code"
		for t in /proc/$vm/task/*; do
			echo "# thread $(cat "$t/comm" 2>/dev/null): state $(awk '{ print $3 }' "$t/stat" 2>/dev/null), wchan $(cat "$t/wchan" 2>/dev/null)"
		done
		kill -KILL "$vm"
		how="hung (killed after $((SECONDS - start)) s)"
	fi
	wait "$vm" && rc=0 || rc=$?
	vm=
	wait "$follow" 2>/dev/null || true
	rounds=$(grep -ac "ohv-soak round=" "$log" || true)
	if grep -aq "ohv-result=pass" "$log"; then how="finished"
	elif grep -aq "guest triple fault" "$log"; then how="triple fault after $((SECONDS - start)) s"
	else how=${how:-"ended rc=$rc after $((SECONDS - start)) s"}; fi
	mbps=$(sed -n 's/.*ohv-soak round=[0-9]* mbps=\([0-9.]*\).*/\1/p' "$log" | tr -d '\r' |
		awk '{ s += $1; n++ } END { if (n) printf "%.0f", s / n; else print "-" }')
	echo "soak $r: lro=$lro dir=$dir secs=$secs: $how; $rounds rounds, mean $mbps Mbit/s, rc=$rc"
	if [ "$how" != finished ]; then
		echo "# log tail:"
		tail -n 15 "$log" | tr -d '\r' | sed 's/^/#   /'
	fi
	how=
done
