# SPDX-License-Identifier: MIT
# Guest script "hv-crash": load hv_vmbus (which registers the Hyper-V crash
# reporting) and panic the kernel through sysrq.
. /ohv/lib.sh

modprobe hv_vmbus || ohv_fail "hv_vmbus did not load"
sleep 1
echo "ohv-crashing"
echo c >/proc/sysrq-trigger
ohv_fail "the kernel did not panic"
