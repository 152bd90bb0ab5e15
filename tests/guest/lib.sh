# SPDX-License-Identifier: MIT
# Shared helpers for guest tests (TAP output). Source this file.
# Needs OPENHV_BIN (the openhv binary), OPENHV_KERNEL and OPENHV_INITRD (the
# default guest from tools/mkguest.sh); OPENHV_* variables cross into the
# emulated host.
OPENHV=${OPENHV_BIN:?set OPENHV_BIN to the openhv binary}
KERNEL=${OPENHV_KERNEL:?set OPENHV_KERNEL (see tools/mkguest.sh)}
INITRD=${OPENHV_INITRD:?set OPENHV_INITRD (see tools/mkguest.sh)}

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
guest_run()
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

# Count lines in LOG matching an extended regex.
count() { grep -cE "$2" "$1" 2>/dev/null || true; }
# The value of KEY=VALUE printed by the guest.
value() { grep -aoE "$2=[^[:space:]]*" "$1" | head -n1 | cut -d= -f2 | tr -d '\r'; }
