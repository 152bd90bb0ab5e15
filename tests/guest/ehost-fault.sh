# SPDX-License-Identifier: MIT
# Source this file. ehost_early_crash CONSOLE_LOG REASON: true when, inside the
# emulated host, a stock guest kernel triple-faulted before it ran /init.
#
# Why: QEMU's TCG emulation of nested SVM sometimes starts a guest with the
# emulated host's (L1's) own CPU state (tests/guest/l2-fault.sh). Besides the
# vCPU that then spins in L1's KVM, the same fault shows as a triple fault in
# the first second of boot: measured 2026-11-23 in the emulated host, 2 of 19
# boots of one 1-vCPU guest at a time through openhvd (one of each kind),
# at a point in boot where the guest had not yet touched a device of ours.
# KVM resets the vCPU on a triple fault, so its registers cannot prove it.
# Tests boot such a guest once more and print an "EHOST-RETRY" line
# (tools/check.sh lists them); a second crash is a test failure.
#
# Not counted: anything outside the emulated host, a guest that got as far as
# /init (it may have used our devices), and a kernel that printed something
# other than the stock kernel's banner (test_boot's deliberate triple fault
# does not come through here: it runs its own image without a retry).
ehost_early_crash()
{
	[[ ${OPENHV_EHOST:-} == 1 ]] || return 1
	grep -q "guest triple fault" <<<"$2" || return 1
	# The stock kernel printed its banner, or nothing at all: a console with
	# only openhv's own lines (seen 2026-11-23: a 4-vCPU boot of test_boot
	# triple-faulted on vCPU 0 before the kernel's first message, in a run
	# whose 1- and 2-vCPU boots and the rerun's 4-vCPU boot were fine).
	if ! grep -aq "Linux version" "$1" 2>/dev/null; then
		[[ -f $1 ]] || return 1
		tr -d '\r' <"$1" | grep -avqE '^(openhv|[[:space:]]*$)' && return 1
	fi
	! grep -aq "Run /init as init process" "$1" 2>/dev/null
}
