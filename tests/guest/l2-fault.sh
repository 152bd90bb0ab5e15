#!/bin/bash
# SPDX-License-Identifier: MIT
# l2-fault.sh PID: inside the emulated host, tell whether a virtual processor of
# the VMM process PID is running the emulated host's own code.
#
# Why: QEMU's TCG emulation of nested SVM (7.2, Debian 12) sometimes hands a
# nested (L2) guest the state of the emulated host's kernel (L1) at its VMRUN
# instruction: the guest's RIP then points into L1's kvm_amd module and its
# CR3 at L1 memory far beyond the guest's RAM, and the vCPU spins in KVM on
# nested page faults for ever, with no console output. Seen with several
# guests booting at once (about one boot in ten with four at once). A VMM in
# user space cannot put L1's addresses into a guest's registers, so a guest
# found there is an emulated-host failure, not a product one.
#
# How: trace kvm_exit events of PID's threads for a second and look for a
# guest RIP inside an L1 kernel module (/proc/modules).
#
# Prints one line and exits 0 when it finds that; exits 1 otherwise (also
# outside the emulated host or without tracefs).
set -u
pid=${1:?usage: l2-fault.sh PID}
[[ ${OPENHV_EHOST:-} == 1 ]] || exit 1
[[ -d /proc/$pid/task ]] || exit 1
t=/sys/kernel/tracing
[[ -d $t/events/kvm ]] || mount -t tracefs nodev "$t" 2>/dev/null
[[ -w $t/set_event_pid && -d $t/events/kvm/kvm_exit ]] || exit 1

echo 0 >"$t/tracing_on"
: >"$t/trace"
ls "/proc/$pid/task" | tr '\n' ' ' >"$t/set_event_pid" 2>/dev/null || exit 1
echo 1 >"$t/events/kvm/kvm_exit/enable"
echo 1 >"$t/tracing_on"
sleep 1
echo 0 >"$t/tracing_on"
echo 0 >"$t/events/kvm/kvm_exit/enable"
rips=$(grep -o 'reason [a-z_]* rip 0x[0-9a-f]*' "$t/trace" | sort | uniq -c | sort -rn | head -n 3)
: >"$t/set_event_pid"
: >"$t/trace"

found=
while read -r count _ reason _ rip; do
	[[ -n $rip ]] || continue
	while read -r mod size _ _ _ base; do
		[[ $base == 0x* ]] || continue
		# 64-bit addresses wrap to negative in bash; lo <= rip < hi still
		# compares right as module space does not straddle the sign bit.
		if (( rip >= base && rip < base + size )); then
			found="$count exits ($reason) in 1 s at guest RIP $rip, inside L1's $mod module"
			break 2
		fi
	done </proc/modules
done <<<"$rips"
[[ -n $found ]] || exit 1
echo "emulated-host fault: a virtual processor of process $pid runs the emulated host's own code ($found): TCG's nested SVM gave the guest L1's state (see tests/guest/l2-fault.sh)"
exit 0
