# SPDX-License-Identifier: MIT
# Guest script "sw-peer": a VM on a switch with other VMs (or a LAN host).
# Pings each address of ohv.reach (comma-separated; each must answer) and
# ohv.noreach (each must not answer, tried after the reachable ones so the
# peers are up), optionally sends from a spoofed MAC (ohv.spoofip, towards
# the first ohv.reach), then waits for the host to set the port down.
# ohv.reachtries (default 60) bounds the pings per reachable address: a
# guest whose peer boots after it gives the peer that much longer.
. /ohv/scripts/sw-lib.sh

sw_up
for a in $(ohv_arg reach | tr , ' '); do
	# peers boot at their own pace: keep trying for a while
	sw_ping "reach-$a" "$a" "$(ohv_arg reachtries 60)"
done
for a in $(ohv_arg noreach | tr , ' '); do
	sw_ping "noreach-$a" "$a" 3
done
first=$(ohv_arg reach | cut -d, -f1)
[ -n "$(ohv_arg spoofip)" ] && sw_spoof spoof "$first"
sw_end
