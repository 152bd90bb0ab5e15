#!/bin/bash
# SPDX-License-Identifier: MIT
# Network benchmark: openhv (netvsp + hv_netvsc, with and without the TAP
# offloads; OHV_BENCH_VMMS picks the configurations) vs QEMU microvm (virtio-net, vhost off), same guest kernel and
# image, same TAP, same memory and vCPUs, one after the other on this host.
# Runs where /dev/kvm is (use bench/network/run.sh). iperf3 TCP throughput
# both ways for SECS seconds each and 100 pings at 10 ms (average and 99th
# percentile round trip), over 169.254.100.0/24 on a TAP; nothing leaves
# the host. usage: bench_network.sh OPENHV KERNEL INITRD [SECS] [RUNS]
set -uo pipefail
openhv=$1 kernel=$2 initrd=$3 secs=${4:-10} runs=${5:-1}
tap=ohvbench0
tmp=$(mktemp -d /tmp/ohv-netbench.XXXXXX)
trap '[ -n "${iperf:-}" ] && kill "$iperf" 2>/dev/null; ip link del "$tap" 2>/dev/null; rm -rf "$tmp"' EXIT
command -v iperf3 >/dev/null || { echo "bench_network: iperf3 is missing; apt-get install iperf3" >&2; exit 1; }
ip link del "$tap" 2>/dev/null
ip tuntap add dev "$tap" mode tap || { echo "bench_network: cannot create a TAP (need root)" >&2; exit 1; }
ip addr add 169.254.100.1/24 dev "$tap"
ip link set "$tap" up
iperf3 -s -B 169.254.100.1 >"$tmp/iperf.log" 2>&1 &
iperf=$!
sleep 0.5

# OHV_BENCH_STREAMS=N: iperf3 -P N (parallel TCP streams; vRSS spreads them).
streams=${OHV_BENCH_STREAMS:-1}
append="console=ttyS0 panic=-1 ohv.script=net-bench ohv.netsecs=$secs ohv.pings=100 ohv.streams=$streams"
printf "%-18s %3s %10s %10s %10s %10s\n" vmm run "g->h Mb/s" "h->g Mb/s" "ping avg" "ping p99"
declare -A sum_tx sum_rx sum_avg sum_p99
# openhv: all offloads (host GSO frames cut in user space); openhv-csum: the
# host kernel segments, we only finish checksums; openhv-nooffload: no
# virtio-net header on the TAP (the state before offloads); openhv-1q: all
# offloads but one channel (no vRSS sub-channels).
vmms=${OHV_BENCH_VMMS:-openhv openhv-csum openhv-nooffload qemu-virtio}
# OHV_BENCH_OPENHV_ALT=BINARY adds "openhv-alt": a second openhv build (e.g.
# the commit before a change) with all offloads, in the same run.
alt=${OHV_BENCH_OPENHV_ALT:-}
if [ -n "$alt" ]; then
	[ -x "$alt" ] || { echo "bench_network: OHV_BENCH_OPENHV_ALT=$alt is not an executable" >&2; exit 1; }
	vmms="$vmms openhv-alt"
fi
# Interleaved (run 1 of every configuration, then run 2...): load drifts on
# a shared machine hit every configuration alike.
for r in $(seq 1 "$runs"); do
	for vmm in $vmms; do
		log=$tmp/$vmm.$r.log
		# a fresh iperf3 server per VM: a client that died cannot leave it busy
		kill "$iperf" 2>/dev/null
		wait "$iperf" 2>/dev/null
		iperf3 -s -B 169.254.100.1 >"$tmp/iperf.log" 2>&1 &
		iperf=$!
		sleep 0.5
		case $vmm in
		openhv | openhv-csum | openhv-nooffload | openhv-alt | openhv-1q)
			bin=$openhv queues=
			case $vmm in openhv) off=1 ;; openhv-csum) off=csum ;; openhv-alt) off=1 bin=$alt ;;
			openhv-1q) off=1 queues=1 ;; *) off=0 ;; esac
			OPENHV_NETVSP_QUEUES=$queues OPENHV_NETVSP_OFFLOAD=$off timeout 900 "$bin" run --kernel "$kernel" \
				--initrd "$initrd" --memory 512M --cpus 2 \
				--nic "tap=$tap,mac=02:6f:68:00:00:42" --cmdline "$append" </dev/null >"$log" 2>&1 ;;
		qemu-virtio)
			timeout 900 qemu-system-x86_64 -M microvm -accel kvm -cpu host -m 512 -smp 2 \
				-nodefaults -no-user-config -nographic -no-reboot -serial stdio \
				-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=off" \
				-device virtio-net-device,netdev=n0,mac=02:6f:68:00:00:43 \
				-kernel "$kernel" -initrd "$initrd" -append "$append" </dev/null >"$log" 2>&1 ;;
		esac
		tx=$(grep -aoE "ohv-bench-tx-mbps=[0-9.]+" "$log" | cut -d= -f2)
		rx=$(grep -aoE "ohv-bench-rx-mbps=[0-9.]+" "$log" | cut -d= -f2)
		avg=$(grep -aoE "avg-ms=[0-9.]+" "$log" | cut -d= -f2)
		p99=$(grep -aoE "p99-ms=[0-9.]+" "$log" | cut -d= -f2)
		if grep -q "ohv-result=pass" "$log" && [ -n "$tx" ] && [ -n "$rx" ]; then
			printf "%-18s %3s %10s %10s %10s %10s\n" "$vmm" "$r" "$tx" "$rx" "$avg" "$p99"
			sum_tx[$vmm]=$(awk -v a="${sum_tx[$vmm]:-0}" -v b="$tx" 'BEGIN { print a + b }')
			sum_rx[$vmm]=$(awk -v a="${sum_rx[$vmm]:-0}" -v b="$rx" 'BEGIN { print a + b }')
			sum_avg[$vmm]=$(awk -v a="${sum_avg[$vmm]:-0}" -v b="$avg" 'BEGIN { print a + b }')
			sum_p99[$vmm]=$(awk -v a="${sum_p99[$vmm]:-0}" -v b="$p99" 'BEGIN { print a + b }')
		else
			printf "%-18s %3s %10s %10s %10s %10s\n" "$vmm" "$r" failed failed - -
			grep -aE "ohv-|error|Error|iperf3|Kernel panic|BUG:|Oops|RIP:" "$log" | tail -n 12 |
				sed 's/^/#   /'
			tail -n 5 "$tmp/iperf.log" | sed 's/^/#   host iperf3: /'
		fi
		grep -ao "ohv-bench-offload.*" "$log" | head -n 1 | sed "s/^/#   $vmm: /"
	done
done
# Ratios against QEMU virtio-net (throughput: higher is better; latency: lower).
q=qemu-virtio
for vmm in openhv openhv-csum openhv-nooffload openhv-alt openhv-1q; do
	[ -n "${sum_tx[$vmm]:-}" ] && [ -n "${sum_tx[$q]:-}" ] || continue
	awk -v n="$vmm" -v t="${sum_tx[$vmm]}" -v r="${sum_rx[$vmm]}" -v a="${sum_avg[$vmm]}" \
		-v p="${sum_p99[$vmm]}" -v qt="${sum_tx[$q]}" -v qr="${sum_rx[$q]}" \
		-v qa="${sum_avg[$q]}" -v qp="${sum_p99[$q]}" 'BEGIN {
		printf "ratio %s / qemu-virtio: g->h %.2fx  h->g %.2fx  ping avg %.2fx  p99 %.2fx\n",
			n, (qt > 0 ? t / qt : 0), (qr > 0 ? r / qr : 0), (qa > 0 ? a / qa : 0),
			(qp > 0 ? p / qp : 0) }'
done
