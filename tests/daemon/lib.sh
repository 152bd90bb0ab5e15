# SPDX-License-Identifier: MIT
# Shared helpers for the openhvd service tests: TAP output, a private openhvd
# (idle test engine unless OHV_ENGINE=kvm) in a temp state dir, and cleanup
# that stops exactly the processes the test started.
#
# Environment (set by meson): OPENHVD, OPENHV, OPENHV_WORKER.

set -u
: "${OPENHVD:?set OPENHVD to the openhvd executable}"
: "${OPENHV:?set OPENHV to the openhv executable}"

T_N=0
T_FAIL=0
T_DIR=$(mktemp -d /tmp/ohv-daemon-test.XXXXXX)
export OPENHV_SOCKET="$T_DIR/openhvd.sock"
STATE="$T_DIR/state"
DAEMON_PID=

ok() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $*"
}

not_ok() {
	T_N=$((T_N + 1))
	T_FAIL=$((T_FAIL + 1))
	echo "not ok $T_N - $*"
}

# check DESCRIPTION COMMAND...: one TAP line from a command's exit status.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

diag() {
	echo "# $*"
}

# expect_rc RC DESCRIPTION COMMAND...: the command must exit with RC.
expect_rc() {
	local want=$1 what=$2 rc
	shift 2
	"$@" >"$T_DIR/out" 2>"$T_DIR/err"
	rc=$?
	if [ "$rc" = "$want" ]; then
		ok "$what (exit $rc)"
	else
		not_ok "$what (exit $rc, wanted $want)"
		sed 's/^/#   /' "$T_DIR/out" "$T_DIR/err"
	fi
}

vm() {
	"$OPENHV" vm "$@"
}

# json_field FIELD < json: print a top-level field of a JSON object.
json_field() {
	python3 -c 'import json,sys
try:
    v = json.load(sys.stdin).get(sys.argv[1])
except ValueError:
    v = None
print("" if v is None else v)' "$1"
}

vm_state() {
	vm show --json "$1" 2>/dev/null | json_field state
}

vm_reason() {
	vm show --json "$1" 2>/dev/null | json_field state_reason
}

vm_pid() {
	vm show --json "$1" 2>/dev/null | json_field worker_pid
}

# wait_state NAME STATE [SECONDS]: wall-clock bounded (each poll runs the CLI
# and python3, which take a good part of a second in the emulated host, so a
# poll count would stretch the limit many times over).
wait_state() {
	local end=$((SECONDS + ${3:-10}))
	while :; do
		[ "$(vm_state "$1")" = "$2" ] && return 0
		[ $SECONDS -lt $end ] || return 1
		sleep 0.05
	done
}

start_daemon() {
	local engine_opt=--test-engine
	[ "${OHV_ENGINE:-idle}" = kvm ] && engine_opt=
	"$OPENHVD" --socket "$OPENHV_SOCKET" --state-dir "$STATE" $engine_opt \
		${OPENHV_WORKER:+--worker "$OPENHV_WORKER"} "$@" >>"$T_DIR/openhvd.log" 2>&1 &
	DAEMON_PID=$!
	local i=0
	while [ $i -lt 100 ]; do
		[ -S "$OPENHV_SOCKET" ] && "$OPENHV" vm list >/dev/null 2>&1 && return 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "Bail out! openhvd did not come up; log:"
	sed 's/^/# /' "$T_DIR/openhvd.log"
	exit 1
}

stop_daemon() {
	if [ -n "$DAEMON_PID" ]; then
		kill "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
		DAEMON_PID=
	fi
}

# Worker pids recorded while the service was up, for cleanup.
WORKER_PIDS=
remember_workers() {
	local p
	for p in $(vm list --json 2>/dev/null | python3 -c 'import json,sys
for v in json.load(sys.stdin)["vms"]:
    if v["worker_pid"]: print(v["worker_pid"])'); do
		WORKER_PIDS="$WORKER_PIDS $p"
	done
}

# out_has PATTERN COMMAND...: COMMAND's output matches PATTERN (no process
# substitution: the emulated host has no /dev/fd).
out_has() {
	local pat=$1
	shift
	"$@" 2>/dev/null | grep -q -- "$pat"
}

# make_tap NAME: create a TAP interface owned by this test (needs root and
# /dev/net/tun); removed at exit. Fails quietly when that is not possible.
TEST_TAPS=
make_tap() {
	[ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] || return 1
	ip tuntap add dev "$1" mode tap >/dev/null 2>&1 || return 1
	TEST_TAPS="$TEST_TAPS $1"
}

cleanup() {
	local t
	for t in $TEST_TAPS; do
		ip link del "$t" >/dev/null 2>&1
	done
	if [ -n "$DAEMON_PID" ]; then
		remember_workers
		stop_daemon
	fi
	local p
	for p in $WORKER_PIDS; do
		# Only our workers: check the process is an openhv-worker before killing it.
		if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = openhv-worker ]; then
			kill -9 "$p" 2>/dev/null
		fi
	done
	if [ "${KEEP_TEST_DIR:-0}" = 1 ] || [ "$T_FAIL" != 0 ]; then
		echo "# test directory kept: $T_DIR"
	else
		rm -rf "$T_DIR"
	fi
}
trap cleanup EXIT
# A test killed by a timeout still cleans up (workers outlive openhvd by design).
trap 'exit 130' INT TERM HUP

finish() {
	echo "1..$T_N"
	[ "$T_FAIL" = 0 ]
	exit $?
}

# A file that stands in for a kernel for the idle engine (the real engine
# needs a real one: see guest.sh).
# gone PID: the process has ended (or is a zombie waiting for its new parent).
gone() {
	[ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

make_fake_kernel() {
	head -c 65536 /dev/urandom >"$T_DIR/bzImage"
	echo "$T_DIR/bzImage"
}
