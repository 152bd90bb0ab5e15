# SPDX-License-Identifier: MIT
# Guest script "hv-timesync": print the wall clock as the (possibly wrong)
# emulated RTC set it, load hv_utils so the time-sync service corrects it,
# then print the clock again. The host compares both with its own time.
. /ohv/lib.sh

# Wall clock in seconds with microseconds (busybox date has no %N; adjtimex
# reports the kernel's time with its fraction).
now() {
	adjtimex 2>/dev/null | awk '/time.tv_sec/ { s = $2 } /time.tv_usec/ { u = $2 }
		END { if (s != "") printf "%d.%06d\n", s, u; else exit 1 }' || date +%s
}
echo "ohv-time-before=$(now)"
modprobe hv_vmbus || ohv_fail "hv_vmbus did not load"
modprobe hv_utils || ohv_fail "hv_utils did not load"
# The first time sample sets the clock; give it a few seconds to arrive.
sleep 5
echo "ohv-time-after=$(now)"
# Keep running a moment: the host reads the line while we are still up.
sleep 2
ohv_pass
ohv_poweroff
