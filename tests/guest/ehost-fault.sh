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
# /init (it may have used our devices), and a kernel that did not boot at all
# (no "Linux version" line: e.g. test_boot's deliberate triple fault).
ehost_early_crash()
{
	[[ ${OPENHV_EHOST:-} == 1 ]] || return 1
	grep -q "guest triple fault" <<<"$2" || return 1
	grep -aq "Linux version" "$1" 2>/dev/null || return 1
	! grep -aq "Run /init as init process" "$1" 2>/dev/null
}
