# SPDX-License-Identifier: MIT
# Guest script "net-bench": bring up the first Ethernet interface, whichever
# driver serves it (hv_netvsc under openhv, virtio_net under QEMU), with
# 169.254.100.2/24, then measure against 169.254.100.1
# (bench/network/bench_network.sh): iperf3 TCP guest -> host and host ->
# guest for ohv.netsecs seconds each (default 10) with ohv.streams parallel
# TCP streams (default 1), and the round trip of
# ohv.pings pings (default 100, 10 ms apart): average and 99th percentile.
. /ohv/lib.sh

HOST=169.254.100.1
secs=$(ohv_arg netsecs 10)
pings=$(ohv_arg pings 100)
streams=$(ohv_arg streams 1)
modprobe hv_vmbus 2>/dev/null && modprobe hv_netvsc 2>/dev/null
modprobe virtio_mmio 2>/dev/null
modprobe virtio_pci 2>/dev/null
modprobe virtio_net 2>/dev/null
command -v iperf3 >/dev/null || ohv_fail "no iperf3 in the guest image (install iperf3 on the host)"
dev=
i=0
while [ -z "$dev" ] && [ $i -lt 100 ]; do
	for d in /sys/class/net/*; do
		[ "$(basename "$d")" = lo ] && continue
		[ -e "$d/device" ] && dev=$(basename "$d")
	done
	[ -n "$dev" ] || sleep 0.1
	i=$((i + 1))
done
[ -n "$dev" ] || ohv_fail "no network interface appeared"
echo "ohv-bench-dev=$dev driver=$(basename "$(readlink /sys/class/net/$dev/device/driver)")"
ip link set lo up
ip addr add 169.254.100.2/24 dev "$dev"
ip link set "$dev" up
ping -c 1 -W 10 $HOST >/dev/null 2>&1 || ping -c 1 -W 10 $HOST >/dev/null 2>&1 ||
	ohv_fail "host not reachable"
if command -v ethtool >/dev/null; then
	echo "ohv-bench-offload $(ethtool -k "$dev" | grep -E '^(tx-checksumming|tcp-segmentation-offload|rx-checksumming):' | tr -d ' ' | tr '\n' ' ')channels=$(ethtool -l "$dev" 2>/dev/null | sed -n 's/^Combined:[[:space:]]*//p' | tail -n 1)"
fi
for dir in tx rx; do
	[ $dir = rx ] && rev=-R || rev=
	if timeout $((secs * 3 + 60)) iperf3 -c $HOST -t "$secs" -P "$streams" -f m $rev >/tmp/iperf 2>&1; then
		# one stream: its receiver line; several: the [SUM] receiver line
		echo "ohv-bench-$dir-mbps=$(awk '/receiver/ { v = $1 == "[SUM]" ? $6 : $7 } END { print v }' /tmp/iperf)"
	else
		echo "ohv-bench-$dir-mbps=fail"
		tail -n 3 /tmp/iperf
	fi
done
ping -c "$pings" -i 0.01 -W 5 $HOST >/tmp/ping 2>&1
sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' /tmp/ping | sort -n >/tmp/rtt
n=$(wc -l </tmp/rtt)
[ "$n" -gt 0 ] || { tail -n 3 /tmp/ping; ohv_fail "no ping replies"; }
avg=$(awk '{ s += $1 } END { printf "%.3f", s / NR }' /tmp/rtt)
p99=$(sed -n "$(( (n * 99 + 99) / 100 ))p" /tmp/rtt)
echo "ohv-bench-ping n=$n avg-ms=$avg p99-ms=$p99"
ohv_pass
ohv_poweroff
