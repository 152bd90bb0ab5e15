# SPDX-License-Identifier: MIT
# Guest script "hv-probe": load the Hyper-V drivers and list what VMBus offers.
# Passes when hv_vmbus loads and connects (only under a Hyper-V style VMM).
. /ohv/lib.sh

grep -qw hypervisor /proc/cpuinfo || ohv_fail "no hypervisor CPUID bit"
modprobe hv_vmbus || ohv_fail "hv_vmbus did not load (no Hyper-V interface: $(dmesg | grep -i -e vmbus -e hyper | tail -n 1))"
for m in hv_utils hv_balloon hv_storvsc hv_netvsc hv_sock; do
	modprobe "$m" || echo "ohv-warn: $m did not load"
done
# hv_utils prints "<name> IC version" once the host has answered its
# negotiation, which is asynchronous to modprobe; under TCG it can take a few
# seconds. Wait for the three it binds (up to 30 s) rather than a fixed time.
for _ in $(seq 1 150); do
	ics=$(dmesg | grep -c -e 'Heartbeat IC version' -e 'Shutdown IC version' -e 'TimeSync IC version')
	[ "$ics" -ge 3 ] && break
	sleep 0.2
done
echo "ohv-ic-negotiated=$ics"
n=0
for d in /sys/bus/vmbus/devices/*; do
	[ -e "$d/class_id" ] || continue
	echo "ohv-vmbus-device=$(basename "$d") class=$(cat "$d/class_id")"
	n=$((n + 1))
done
echo "ohv-vmbus-devices=$n"
# Lazy EOI: the guest says it took the enlightened APIC, and how many
# interrupts it has handled so far (the host counts the EOI writes it saw).
echo "ohv-apic=$(dmesg | grep -o 'Using enlightened APIC ([a-z0-9]* mode)' | head -n 1)"
echo "ohv-irqs-total=$(awk 'NR > 1 { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }' /proc/interrupts)"
ohv_pass
ohv_poweroff
