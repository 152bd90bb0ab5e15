# SPDX-License-Identifier: MIT
# Guest script "hv-timesync": print the wall clock as the (possibly wrong)
# emulated RTC set it, load hv_utils so the time-sync service corrects it,
# then print the clock again. The host compares both with its own time.
. /ohv/lib.sh

echo "ohv-time-before=$(date +%s)"
modprobe hv_vmbus || ohv_fail "hv_vmbus did not load"
modprobe hv_utils || ohv_fail "hv_utils did not load"
# The first time sample sets the clock; give it a few seconds to arrive.
sleep 5
echo "ohv-time-after=$(date +%s)"
ohv_pass
ohv_poweroff
