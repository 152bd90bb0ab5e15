# SPDX-License-Identifier: MIT
# Guest script "disk-bench": sequential write (with fsync) and uncached read
# of LUN 0 with busybox dd, 1 MiB requests; prints ohv-bench-* lines in MB/s.
. /ohv/lib.sh
. /ohv/scripts/disk-lib.sh

disk_load || ohv_fail "hv_storvsc did not load"
d=$(disk_by_lun 0) || ohv_fail "no disk at LUN 0"
mb=$(($(blockdev --getsize64 /dev/$d) / 1048576))
now() { cut -d' ' -f1 /proc/uptime; }
rate() { awk -v mb="$mb" -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", mb / (b - a) }'; }
t0=$(now)
dd if=/dev/zero of=/dev/$d bs=1M count=$mb conv=fsync 2>/dev/null || ohv_fail "write failed"
t1=$(now)
sync
echo 3 >/proc/sys/vm/drop_caches
t2=$(now)
dd if=/dev/$d of=/dev/null bs=1M 2>/dev/null || ohv_fail "read failed"
t3=$(now)
echo "ohv-bench-mb=$mb ohv-bench-write=$(rate "$t0" "$t1") ohv-bench-read=$(rate "$t2" "$t3")"
ohv_pass
ohv_poweroff
