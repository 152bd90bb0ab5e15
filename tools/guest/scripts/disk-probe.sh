# SPDX-License-Identifier: MIT
# Guest script "disk-probe": load hv_storvsc, wait for the SCSI disks and
# print what the guest sees for each (one ohv-disk line per block device).
. /ohv/lib.sh
. /ohv/scripts/disk-lib.sh

disk_load || ohv_fail "hv_storvsc did not load"
disk_list
ohv_pass
ohv_poweroff
