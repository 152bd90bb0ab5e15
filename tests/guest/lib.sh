# SPDX-License-Identifier: MIT
# Shared helpers for guest tests (TAP output). Source this file.
# Needs OPENHV_BIN (the openhv binary), OPENHV_KERNEL and OPENHV_INITRD (the
# default guest from tools/mkguest.sh); OPENHV_* variables cross into the
# emulated host.
OPENHV=${OPENHV_BIN:?set OPENHV_BIN to the openhv binary}
KERNEL=${OPENHV_KERNEL:?set OPENHV_KERNEL (see tools/mkguest.sh)}
INITRD=${OPENHV_INITRD:?set OPENHV_INITRD (see tools/mkguest.sh)}

. "$(dirname "${BASH_SOURCE[0]}")/ehost-fault.sh"

t_n=0
t_failed=0
t_skipped=0

t_ok()   { t_n=$((t_n + 1)); echo "ok $t_n - $*"; }
t_fail() { t_n=$((t_n + 1)); t_failed=$((t_failed + 1)); echo "not ok $t_n - $*"; }
t_skip() { t_n=$((t_n + 1)); t_skipped=$((t_skipped + 1)); echo "ok $t_n - $1 # SKIP $2"; }
t_diag() { sed 's/^/#   /'; }
t_done() { echo "1..$t_n"; [ "$t_failed" -eq 0 ]; }

# t_check NAME CONDITION-COMMAND... : ok if the command succeeds.
t_check()
{
	local name=$1
	shift
	if "$@"; then t_ok "$name"; else t_fail "$name"; fi
}

# ehost_fault_check PID: inside the emulated host, a VMM process PID whose
# guest runs L1's own code (tests/guest/l2-fault.sh) makes the script stop with
# 125, the emulated-host failure status `make check` retries in a fresh one.
ehost_fault_check()
{
	local why
	why=$("$(dirname "${BASH_SOURCE[0]}")/l2-fault.sh" "$1") || return 0
	echo "# $why"
	echo "# stopping this script as an emulated-host failure (exit 125)"
	kill -KILL "$1" 2>/dev/null
	exit 125
}

# guest_run LOG [openhv run options...]: run a VM with console to LOG
# (stdout+stderr), stdin from /dev/null, bounded by OHV_GUEST_TIMEOUT
# seconds (then rc=124, after a look for an emulated-host fault). Sets rc.
# A stock kernel that triple-faults in early boot in the emulated host is run
# once more (ehost_early_crash in tests/guest/ehost-fault.sh), with an
# "EHOST-RETRY" line.
guest_run()
{
	local log=$1 try
	shift
	for try in 1 2; do
		guest_run_once "$log" "$@"
		[ "$try" -eq 1 ] && [ "$rc" -ne 0 ] &&
			ehost_early_crash "$log" "$(grep -a 'guest triple fault' "$log" | head -n 1)" || return 0
		ehost_retry_note "the guest" "$log"
	done
}

# ehost_retry_note WHO LOG: the EHOST-RETRY lines (tools/check.sh lists them)
# before a guest that triple-faulted in early boot is started once more.
ehost_retry_note()
{
	echo "# EHOST-RETRY: $1 triple-faulted in early boot in the emulated host; log ends:"
	tail -n 3 "$2" | tr -d '\r' | awk '{ print "#   " $0 }'
	echo "# starting it once more (docs/testing.md, \"Known problems\")"
}

guest_run_once()
{
	local log=$1 pid end
	shift
	"$OPENHV" run --kernel "$KERNEL" --initrd "$INITRD" "$@" </dev/null >"$log" 2>&1 &
	pid=$!
	end=$((SECONDS + ${OHV_GUEST_TIMEOUT:-300}))
	while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		ehost_fault_check "$pid"
		kill -TERM "$pid" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rc=124
	else
		wait "$pid"
		rc=$?
	fi
}

# Guests in the background, for scripts that talk to their guest while it runs:
#   vm_start LOG SECONDS ARGS...  openhv run ARGS in the background (stdin from
#       /dev/null, output to LOG), killed after SECONDS (0: no limit); its PID
#       is ${vm_pid[LOG]}
#   vm_wait_for LOG REGEX SECONDS  poll LOG until REGEX shows up (status 0), or
#       the VM exits or SECONDS pass (status 1; a VM still running is first
#       checked for an emulated-host fault)
#   vm_wait LOG SECONDS  wait for the VM to exit, killing it after SECONDS;
#       sets rc
#   vm_kill_all  kill every VM still running (for a cleanup trap)
# As in guest_run, a stock kernel that triple-faulted in early boot inside the
# emulated host (tests/guest/ehost-fault.sh) is started once more, by
# vm_wait_for, with the same options and an "EHOST-RETRY" line.
declare -gA vm_pid vm_args vm_wd vm_wdpid vm_retried

vm_start()
{
	local log=$1
	vm_wd[$log]=$2
	shift 2
	vm_args[$log]=$(printf '%q ' "$@")
	unset 'vm_retried[$log]'
	vm_launch "$log" "$@"
}

vm_launch()
{
	local log=$1
	shift
	"$OPENHV" run "$@" </dev/null >"$log" 2>&1 &
	vm_pid[$log]=$!
	vm_wdpid[$log]=
	if [ "${vm_wd[$log]}" -gt 0 ]; then
		( sleep "${vm_wd[$log]}"; kill -KILL "${vm_pid[$log]}" ) >/dev/null 2>&1 &
		vm_wdpid[$log]=$!
	fi
}

vm_wait_for()
{
	local i
	for i in $(seq 1 "$3"); do
		grep -qE "$2" "$1" && return 0
		if ! kill -0 "${vm_pid[$1]}" 2>/dev/null; then
			grep -qE "$2" "$1" && return 0
			vm_retry "$1" || return 1
		fi
		sleep 1
	done
	kill -0 "${vm_pid[$1]}" 2>/dev/null && ehost_fault_check "${vm_pid[$1]}"
	return 1
}

# vm_retry LOG: start the VM of LOG once more if this is its first early crash.
vm_retry()
{
	[ -z "${vm_retried[$1]:-}" ] || return 1
	ehost_early_crash "$1" "$(grep -a -m 1 'guest triple fault' "$1")" || return 1
	vm_retried[$1]=1
	[ -n "${vm_wdpid[$1]}" ] && kill "${vm_wdpid[$1]}" 2>/dev/null
	ehost_retry_note "$(basename "$1" .log)" "$1"
	eval "vm_launch \"\$1\" ${vm_args[$1]}"
}

vm_wait()
{
	local pid=${vm_pid[$1]} end=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
		sleep 0.5
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	[ -n "${vm_wdpid[$1]}" ] && kill "${vm_wdpid[$1]}" 2>/dev/null
	return 0
}

vm_kill_all()
{
	local p
	for p in "${vm_pid[@]}" "${vm_wdpid[@]}"; do
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	done
}

# Count lines in LOG matching an extended regex.
count() { grep -cE "$2" "$1" 2>/dev/null || true; }
# The value of KEY=VALUE printed by the guest.
value() { grep -aoE "$2=[^[:space:]]*" "$1" | head -n1 | cut -d= -f2 | tr -d '\r'; }
