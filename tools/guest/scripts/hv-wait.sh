# SPDX-License-Identifier: MIT
# Guest script "hv-wait": load the Hyper-V drivers and wait, so the host can
# drive the integration services (graceful shutdown, heartbeat). Prints
# "ohv-hv-ready" once hv_utils is bound; powers off after 10 minutes at most.
. /ohv/lib.sh

modprobe hv_vmbus || ohv_fail "hv_vmbus did not load"
modprobe hv_utils || ohv_fail "hv_utils did not load"
for _ in $(seq 1 50); do
	[ -e /sys/bus/vmbus/drivers/hv_utils ] && break
	sleep 0.2
done
echo "ohv-hv-ready"
sleep 600
ohv_fail "nobody shut the guest down within 10 minutes"
