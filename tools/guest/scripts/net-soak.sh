# SPDX-License-Identifier: MIT
# Guest script "net-soak": bring up the synthetic NIC with 169.254.100.2/24
# and run iperf3 against 169.254.100.1 over and over for ohv.soaksecs
# seconds (default 300), in ohv.soakdir direction (rx: host -> guest, the
# default; tx: guest -> host), with the driver's LRO (host RSC) set to
# ohv.lro (on or off). One "ohv-soak" line per 10-s round, so a crash shows
# how far the guest got (bench/network/soak.sh).
. /ohv/lib.sh

HOST=169.254.100.1
secs=$(ohv_arg soaksecs 300)
dir=$(ohv_arg soakdir rx)
lro=$(ohv_arg lro on)
modprobe hv_vmbus && modprobe hv_netvsc || ohv_fail "hv_netvsc did not load"
command -v iperf3 >/dev/null || ohv_fail "no iperf3 in the guest image (install iperf3 on the host)"
dev=$(ohv_netvsc_dev) || ohv_fail "no hv_netvsc interface appeared"
ip link set lo up
ip addr add 169.254.100.2/24 dev "$dev"
ip link set "$dev" up
ping -c 1 -W 10 $HOST >/dev/null 2>&1 || ping -c 1 -W 10 $HOST >/dev/null 2>&1 ||
	ohv_fail "host not reachable"
if command -v ethtool >/dev/null; then
	ethtool -K "$dev" lro "$lro" 2>/dev/null || echo "ohv-soak-warn: cannot set lro $lro"
	echo "ohv-soak-lro=$(ethtool -k "$dev" | sed -n 's/^large-receive-offload: \([a-z]*\).*/\1/p')"
fi
[ "$dir" = rx ] && rev=-R || rev=
round=0
end=$(($(cut -d. -f1 /proc/uptime) + secs))
while [ "$(cut -d. -f1 /proc/uptime)" -lt $end ]; do
	round=$((round + 1))
	if timeout 60 iperf3 -c $HOST -t 10 -f m $rev >/tmp/iperf 2>&1; then
		echo "ohv-soak round=$round mbps=$(awk '/receiver/ { print $7 }' /tmp/iperf | tail -n 1)"
	else
		echo "ohv-soak round=$round fail"
		tail -n 3 /tmp/iperf
	fi
done
s=/sys/class/net/$dev/statistics
echo "ohv-soak-done rounds=$round rx_packets=$(cat $s/rx_packets) rx_bytes=$(cat $s/rx_bytes) rx_errors=$(cat $s/rx_errors)"
ohv_pass
ohv_poweroff
