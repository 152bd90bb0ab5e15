# SPDX-License-Identifier: MIT
# Guest script "sw-internal": a VM on an internal switch. Pings the host's
# address on the switch (ohv.host), downloads 1 MiB from it over TCP (port
# 5555) and prints its SHA-256, the receive counters and the offloads
# ethtool shows, then tries to send from a spoofed MAC
# (expected to be dropped by the port), then waits for link down/up.
. /ohv/scripts/sw-lib.sh

host=$(ohv_arg host)
sw_up
sw_ping host "$host" 10
echo "ohv-sw-ready"
st=/sys/class/net/$dev/statistics
p0=$(cat $st/rx_packets) b0=$(cat $st/rx_bytes)
timeout 120 nc "$host" 5555 >/tmp/dl
echo "ohv-sw-dl-rx packets=$(($(cat $st/rx_packets) - p0)) bytes=$(($(cat $st/rx_bytes) - b0))"
echo "ohv-sw-dl-bytes=$(wc -c </tmp/dl) ohv-sw-dl-sha=$(sha256sum /tmp/dl | cut -d' ' -f1)"
if command -v ethtool >/dev/null; then
	k=$(ethtool -k "$dev" 2>/dev/null)
	echo "ohv-sw-offload tso=$(echo "$k" | sed -n 's/^tcp-segmentation-offload: \([a-z]*\).*/\1/p')" \
		"lro=$(echo "$k" | sed -n 's/^large-receive-offload: \([a-z]*\).*/\1/p')"
fi
[ -n "$(ohv_arg spoofip)" ] && sw_spoof spoof "$host"
sw_ping host-again "$host" 3
sw_end
