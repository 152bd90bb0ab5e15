# SPDX-License-Identifier: MIT
# Guest script "hv-reboot": bring VMBus up, list its devices, then reboot.
# The host counts how many boots saw the devices.
. /ohv/lib.sh

modprobe hv_vmbus || ohv_fail "hv_vmbus did not load"
modprobe hv_utils || ohv_fail "hv_utils did not load"
sleep 1
n=0
for d in /sys/bus/vmbus/devices/*; do
	[ -e "$d/class_id" ] && n=$((n + 1))
done
echo "ohv-vmbus-devices=$n"
echo "ohv-rebooting"
sync
reboot -f
