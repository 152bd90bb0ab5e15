# SPDX-License-Identifier: MIT
# Guest script "disk-fsync": write 1 MiB to LUN 0 at 2 MiB with fsync, say
# so, then wait to be killed (the host kills openhv with SIGKILL and checks
# the data is in the image).
. /ohv/lib.sh
. /ohv/scripts/disk-lib.sh

disk_load || ohv_fail "hv_storvsc did not load"
d=$(disk_by_lun 0) || ohv_fail "no disk at LUN 0"
yes "ohv-fsync-pattern" | head -c 1048576 | dd of=/dev/$d bs=4096 seek=512 conv=fsync 2>/dev/null ||
	ohv_fail "write with fsync failed"
echo "ohv-fsync-done"
sleep 600
