# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared set-up of the real-guest service tests (guest.sh, guest-disks.sh,
# guest-diff.sh): sourcing it checks KERNEL/INITRD, starts openhvd with the
# real VM engine and defines wait_log, ms and con. The tests are split in
# three scripts so that each runs in its own emulated host when there is no
# hardware virtualization: an emulated-host failure (docs/testing.md, "Known
# problems") then costs one part, not the whole quarter hour.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../guest/ehost-fault.sh"

: "${KERNEL:?set KERNEL and INITRD (eval \"\$(tools/mkguest.sh)\")}"
: "${INITRD:?set KERNEL and INITRD}"
BOOT_TIMEOUT=${GUEST_BOOT_TIMEOUT:-180}
OHV_ENGINE=kvm
start_daemon
LOG="$STATE/logs"

# wait_log NAME PATTERN SECONDS: the console log of NAME shows PATTERN within
# SECONDS of wall-clock time. A VM that ends before that stops the wait at
# once. On a timeout the ends of the VM's console and worker logs go to the
# TAP output and the VM is killed, so a guest stuck spinning does not slow
# down the rest of the run.
#
# In the emulated host a guest that triple-faults before its kernel has run
# /init is booted once more (ehost_early_crash, tests/guest/lib.sh): that is
# the emulated host's nested-SVM fault (docs/testing.md, "Known problems"),
# which nothing the guest did yet can explain. The "# EHOST-RETRY" line says
# so and tools/check.sh lists it; a second such crash fails the check.
wait_log() {
	local end=$((SECONDS + $3)) tries=0 n st
	while :; do
		n=0
		while :; do
			grep -q "$2" "$LOG/$1.console.log" 2>/dev/null && return 0
			[ $SECONDS -lt $end ] || break
			sleep 0.2
			# Once a second: has the VM ended? (the plain "vm show", no JSON
			# parser: this runs for every boot in the emulated host)
			n=$((n + 1))
			[ $((n % 5)) -eq 0 ] || continue
			st=$("$OPENHV" vm show "$1" 2>/dev/null | sed -n 's/^State: *\([a-z]*\).*/\1/p')
			[ "$st" = crashed ] || [ "$st" = off ] && break
		done
		# One more look: the pattern may have come out just before the VM ended.
		grep -q "$2" "$LOG/$1.console.log" 2>/dev/null && return 0
		[ $tries -eq 0 ] && [ "$(vm_state "$1")" = crashed ] &&
			ehost_early_crash "$LOG/$1.console.log" "$(vm_reason "$1")" || break
		tries=1
		diag "EHOST-RETRY: $1 triple-faulted in early boot in the emulated host ($(vm_reason "$1")); console ends:"
		tail -n 3 "$LOG/$1.console.log" 2>/dev/null | tr -d '\r' | awk '{ print "#   " $0 }'
		diag "booting $1 once more (docs/testing.md, \"Known problems\")"
		: >"$LOG/$1.console.log"
		"$OPENHV" vm start "$1" >/dev/null 2>&1 || break
		end=$((SECONDS + $3))
	done
	diag "$1: no \"$2\" within $3 s (state $(vm_state "$1"); reason: $(vm_reason "$1")); console log ends:"
	tail -n 25 "$LOG/$1.console.log" 2>/dev/null | tr -d '\r' | awk '{ print "#   " $0 }'
	diag "$1: worker log ends:"
	tail -n 15 "$LOG/$1.worker.log" 2>/dev/null | sed 's/^/#   /'
	# Where the worker's threads are (a VMM deadlock and a guest spinning in
	# KVM_RUN look alike from the console).
	local pid t
	pid=$(vm_pid "$1")
	for t in /proc/${pid:-none}/task/*; do
		[ -r "$t/stat" ] || continue
		diag "$1: thread ${t##*/} state $(cut -d' ' -f3 "$t/stat") wchan $(cat "$t/wchan" 2>/dev/null) utime+stime $(cut -d' ' -f14,15 "$t/stat")"
	done
	dmesg 2>/dev/null | grep -a "lockup\|rcu:\|kvm" | tail -n 5 | sed 's/^/#   L1: /'
	# A guest given the emulated host's own state (tests/guest/l2-fault.sh)
	# is an emulated-host failure: stop with 125 for a retry in a fresh one.
	local why
	if [ -n "$pid" ] && why=$("$(dirname "$0")/../guest/l2-fault.sh" "$pid"); then
		diag "$why"
		diag "stopping as an emulated-host failure (exit 125)"
		exit 125
	fi
	"$OPENHV" vm kill "$1" >/dev/null 2>&1
	return 1
}

ms() { echo $(( $(date +%s%N) / 1000000 )); }


# con NAME SECONDS OUTFILE: feed stdin to the guest's console line by line,
# then keep listening for SECONDS.
con() {
	( sleep 1; while IFS= read -r l; do printf '%s\n' "$l"; sleep 0.5; done; sleep "$2" ) |
		timeout $(($2 + 30)) "$OPENHV" vm console "$1" >"$3" 2>&1
}

