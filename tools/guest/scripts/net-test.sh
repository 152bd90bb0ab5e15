# SPDX-License-Identifier: MIT
# Guest script "net-test": bring up the synthetic NIC (hv_netvsc) with a
# link-local address and exercise it against the host side of the TAP that
# tests/guest/test_network.sh prepared (169.254.100.1): ping, a download and
# an upload over TCP with SHA-256 checks (the download's receive counters
# show whether the host coalesced it), the offloads ethtool shows, iperf3
# both ways, vRSS (the channels in use, and TCP downloads spread over the
# receive queues), MTU 9000 with a large ping (the driver reconnects and
# must get its sub-channels again), then watch the carrier go down and up
# while the host toggles its TAP. Only 169.254.100.0/24 is used.
. /ohv/lib.sh

HOST=169.254.100.1
ME=169.254.100.2

modprobe hv_vmbus || ohv_fail "hv_vmbus did not load"
modprobe hv_netvsc || ohv_fail "hv_netvsc did not load"
dev=$(ohv_netvsc_dev) || ohv_fail "no hv_netvsc interface appeared ($(dmesg | grep -i netvsc | tail -n 1))"
echo "ohv-net-dev=$dev mac=$(cat /sys/class/net/$dev/address) mtu=$(cat /sys/class/net/$dev/mtu)"
ip link set lo up
ip addr add $ME/24 dev "$dev" || ohv_fail "cannot set the address"
ip link set "$dev" up || ohv_fail "cannot bring $dev up"
i=0
while [ "$(cat /sys/class/net/$dev/carrier 2>/dev/null)" != 1 ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
echo "ohv-net-carrier=$(cat /sys/class/net/$dev/carrier 2>/dev/null)"

if ping -c 3 -W 5 $HOST >/tmp/ping 2>&1; then
	echo "ohv-net-ping-host=ok"
else
	echo "ohv-net-ping-host=fail"
	cat /tmp/ping
	# What the driver and the interrupts say (for the host test's log).
	echo "ohv-net-diag channels: $(ethtool -l "$dev" 2>/dev/null | grep -i combined | tr -s ' \t' ' ' | tr '\n' ' ')"
	ethtool -S "$dev" 2>/dev/null | grep -E "queue_[0-9]+_packets|wake_queue|stop_queue" | tr -s ' ' | tr '\n' ' ' | sed 's/^/ohv-net-diag stats: /'
	echo
	grep -E "HYP|HRE|HVS" /proc/interrupts | tr -s ' ' | sed 's/^/ohv-net-diag irq: /'
	dmesg | grep -iE "netvsc|hv_vmbus|vmbus|channel" | tail -n 15 | sed 's/^/ohv-net-diag dmesg: /'
fi
echo "ohv-net-ready"

# Download: the host serves a file on 5555 and closes. The interface's
# receive counters show how it arrived: more bytes per packet than a frame
# holds means the host coalesced segments (RSC, the driver's LRO).
st=/sys/class/net/$dev/statistics
p0=$(cat $st/rx_packets) b0=$(cat $st/rx_bytes)
t0=$(cut -d' ' -f1 /proc/uptime)
timeout 120 nc $HOST 5555 >/tmp/dl
t1=$(cut -d' ' -f1 /proc/uptime)
echo "ohv-net-dl-seconds=$t0..$t1"
echo "ohv-net-dl-rx packets=$(($(cat $st/rx_packets) - p0)) bytes=$(($(cat $st/rx_bytes) - b0))"
echo "ohv-net-dl-bytes=$(wc -c </tmp/dl) ohv-net-dl-sha=$(sha256sum /tmp/dl | cut -d' ' -f1)"
# Upload: the host reads a known number of bytes on 5556, then closes.
dd if=/dev/urandom of=/tmp/ul bs=65536 count=16 2>/dev/null
echo "ohv-net-ul-sha=$(sha256sum /tmp/ul | cut -d' ' -f1)"
t0=$(cut -d' ' -f1 /proc/uptime)
timeout 120 nc $HOST 5556 </tmp/ul >/dev/null
t1=$(cut -d' ' -f1 /proc/uptime)
echo "ohv-net-ul-seconds=$t0..$t1"
echo "ohv-net-ul-done"

# Offloads: what the driver negotiated (ethtool), then iperf3 both ways
# against the host's iperf3 server (tests/guest/test_network.sh).
if command -v ethtool >/dev/null; then
	k=$(ethtool -k "$dev" 2>/dev/null)
	echo "ohv-net-offload tx-csum=$(echo "$k" | sed -n 's/^tx-checksumming: \([a-z]*\).*/\1/p')" \
		"tso=$(echo "$k" | sed -n 's/^tcp-segmentation-offload: \([a-z]*\).*/\1/p')" \
		"rx-csum=$(echo "$k" | sed -n 's/^rx-checksumming: \([a-z]*\).*/\1/p')" \
		"lro=$(echo "$k" | sed -n 's/^large-receive-offload: \([a-z]*\).*/\1/p')"
fi
if command -v iperf3 >/dev/null; then
	for dir in tx rx; do
		[ $dir = rx ] && rev=-R || rev=
		if timeout 60 iperf3 -c $HOST -t 3 -f m $rev >/tmp/iperf 2>&1; then
			echo "ohv-net-iperf-$dir=$(awk '/receiver/ { print $7 }' /tmp/iperf | tail -n 1)"
		else
			echo "ohv-net-iperf-$dir=fail"
			tail -n 3 /tmp/iperf
		fi
	done
else
	echo "ohv-net-iperf-tx=missing"
fi
# vRSS: with more than one vCPU the driver asks for sub-channels (one per
# vCPU) in a work item after the probe. Then TCP downloads from the host
# (port 5557, a new source port each) until both receive queues carried
# some: each flow lands on the queue its hash names.
channels()
{
	ethtool -l "$dev" 2>/dev/null | sed -n 's/^Combined:[[:space:]]*\([0-9]*\).*/\1/p' | tail -n 1
}
# Wait up to 10 s until the driver uses one channel per vCPU.
wait_channels()
{
	i=0
	while [ "$(channels)" != "$cpus" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
cpus=$(grep -c ^processor /proc/cpuinfo)
rxq()
{
	ethtool -S "$dev" 2>/dev/null | sed -n "s/^[[:space:]]*rx_queue_$1_packets: \([0-9]*\).*/\1/p"
}
if command -v ethtool >/dev/null; then
	wait_channels
	echo "ohv-net-channels=$(channels) cpus=$cpus"
	if [ "$(channels)" = 2 ]; then
		a0=$(rxq 0) a1=$(rxq 1) n=0 spread=no
		while [ $n -lt 24 ]; do
			n=$((n + 1))
			timeout 20 nc $HOST 5557 >/dev/null
			if [ $(($(rxq 0) - a0)) -ge 4 ] && [ $(($(rxq 1) - a1)) -ge 4 ]; then
				spread=ok
				break
			fi
		done
		echo "ohv-net-rxq-spread=$spread flows=$n q0=$(($(rxq 0) - a0)) q1=$(($(rxq 1) - a1))"
	fi
fi
# Jumbo frames: the driver reconnects with the new MTU, the host follows.
if ip link set "$dev" mtu 9000 2>/tmp/mtu; then
	i=0
	while [ "$(cat /sys/class/net/$dev/carrier 2>/dev/null)" != 1 ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	echo "ohv-net-mtu=$(cat /sys/class/net/$dev/mtu)"
	if ping -c 2 -W 5 -s 8000 $HOST >/dev/null 2>&1; then
		echo "ohv-net-ping-jumbo=ok"
	else
		echo "ohv-net-ping-jumbo=fail"
	fi
	sleep 3 # the host looks at its TAP's MTU now
	ip link set "$dev" mtu 1500
	if command -v ethtool >/dev/null; then
		# Two reconnects later the driver has its sub-channels again.
		wait_channels
		echo "ohv-net-channels-after-mtu=$(channels)"
	fi
else
	echo "ohv-net-mtu=refused $(cat /tmp/mtu)"
fi

# Link: the host sets its TAP down, then up again.
echo "ohv-net-wait-link"
i=0
while [ "$(cat /sys/class/net/$dev/carrier 2>/dev/null)" = 1 ] && [ $i -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
echo "ohv-net-link-down carrier=$(cat /sys/class/net/$dev/carrier 2>/dev/null)"
i=0
while [ "$(cat /sys/class/net/$dev/carrier 2>/dev/null)" != 1 ] && [ $i -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
echo "ohv-net-link-up carrier=$(cat /sys/class/net/$dev/carrier 2>/dev/null)"
if ping -c 2 -W 5 $HOST >/dev/null 2>&1; then
	echo "ohv-net-ping-after-link=ok"
else
	echo "ohv-net-ping-after-link=fail"
fi
s=/sys/class/net/$dev/statistics
echo "ohv-net-stats rx_packets=$(cat $s/rx_packets) tx_packets=$(cat $s/tx_packets) rx_errors=$(cat $s/rx_errors) tx_errors=$(cat $s/tx_errors) rx_dropped=$(cat $s/rx_dropped)"
ohv_pass
ohv_poweroff
