# SPDX-License-Identifier: MIT
# Guest script "hv-sigbench": a latency-bound VMBus workload for comparing
# guest->host signalling paths: 4 KiB O_DIRECT reads at queue depth 1 from
# LUN 0 for a fixed count, so every request rings the channel once. Prints
# ohv-sigbench-iops=N.
. /ohv/lib.sh
. /ohv/scripts/disk-lib.sh

disk_load || ohv_fail "hv_storvsc did not load"
d=$(disk_by_lun 0) || ohv_fail "no disk at LUN 0"
n=4000
now() { cut -d' ' -f1 /proc/uptime; }
dd if=/dev/$d of=/dev/null bs=4k count=100 iflag=direct 2>/dev/null ||
	ohv_fail "this dd cannot do iflag=direct"
t0=$(now)
dd if=/dev/$d of=/dev/null bs=4k count=$n iflag=direct 2>/dev/null || ohv_fail "read failed"
t1=$(now)
echo "ohv-sigbench-iops=$(awk -v n=$n -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')"
ohv_pass
ohv_poweroff
