# SPDX-License-Identifier: MIT
# Guest script "net-bench": bring up the first Ethernet interface, whichever
# driver serves it (hv_netvsc under openhv, virtio_net under QEMU), with
# 169.254.100.2/24, then time a TCP download and an upload of ohv.netmb MiB
# (default 8) against 169.254.100.1 (bench/network/bench_network.sh).
. /ohv/lib.sh

HOST=169.254.100.1
mb=$(ohv_arg netmb 8)
modprobe hv_vmbus 2>/dev/null && modprobe hv_netvsc 2>/dev/null
modprobe virtio_mmio 2>/dev/null
modprobe virtio_pci 2>/dev/null
modprobe virtio_net 2>/dev/null
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
dd if=/dev/urandom of=/tmp/ul bs=1048576 count="$mb" 2>/dev/null
t0=$(cut -d' ' -f1 /proc/uptime)
timeout 300 nc $HOST 5555 >/tmp/dl
t1=$(cut -d' ' -f1 /proc/uptime)
echo "ohv-bench-dl=$(wc -c </tmp/dl) ohv-bench-dl-seconds=$t0..$t1"
rm -f /tmp/dl
t0=$(cut -d' ' -f1 /proc/uptime)
timeout 300 nc $HOST 5556 </tmp/ul >/dev/null
t1=$(cut -d' ' -f1 /proc/uptime)
echo "ohv-bench-ul-seconds=$t0..$t1"
ohv_pass
ohv_poweroff
