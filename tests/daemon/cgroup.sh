#!/bin/bash
# SPDX-License-Identifier: MIT
# cgroup v2 placement of workers (openhvd --cgroup DIR): each worker lands in
# DIR/NAME; memory.max, pids.max and cpu.max are set for every controller the
# hierarchy delegates, and a missing controller is reported, not fatal.
# Needs root and a writable cgroup2 mount (CGROUP2_ROOT, else the first one
# found); skipped otherwise. In the emulated host this sees a full hierarchy.
. "$(dirname "$0")/lib.sh"

ROOT=${CGROUP2_ROOT:-$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)}
if [ "$(id -u)" != 0 ] || [ -z "$ROOT" ] || [ ! -w "$ROOT/cgroup.procs" ]; then
	echo "1..0 # SKIP no writable cgroup v2 hierarchy here (needs root and cgroup2)"
	exit 0
fi
DIR="$ROOT/openhv-test-$$"
mkdir "$DIR" || { echo "1..0 # SKIP cannot create $DIR"; exit 0; }
cg_cleanup() {
	local d
	for d in "$DIR"/*/; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	rmdir "$DIR" 2>/dev/null
}
# Offer the test directory every controller the root can delegate.
for c in memory pids cpu; do
	grep -qw "$c" "$ROOT/cgroup.controllers" 2>/dev/null &&
		echo "+$c" >"$ROOT/cgroup.subtree_control" 2>/dev/null
done
AVAIL=$(cat "$DIR/cgroup.controllers" 2>/dev/null)
diag "controllers delegated to the test cgroup: ${AVAIL:-none}"

start_daemon --cgroup "$DIR"
K=$(make_fake_kernel)

expect_rc 0 "create c1 (96 MiB, 2 CPUs)" vm create c1 --kernel "$K" --memory 96M --cpus 2
expect_rc 0 "start c1" vm start c1
check "c1 running" wait_state c1 running 5
PID=$(vm_pid c1)
check "the worker is in its own cgroup DIR/c1" grep -qx "$PID" "$DIR/c1/cgroup.procs"
for c in memory pids cpu; do
	if grep -qw "$c" <<<"$AVAIL"; then
		case $c in
		memory) check "memory.max = guest RAM + 256 MiB" \
			test "$(cat "$DIR/c1/memory.max")" = $(((96 + 256) * 1024 * 1024)) ;;
		pids) check "pids.max = CPUs + 32" test "$(cat "$DIR/c1/pids.max")" = 34 ;;
		cpu) check "cpu.max = (CPUs + 1) x period" \
			test "$(cat "$DIR/c1/cpu.max")" = "300000 100000" ;;
		esac
	else
		check "missing $c controller reported" \
			grep -q "the $c controller is not available" "$T_DIR/openhvd.log"
		check "no $c limit file in the VM's cgroup" test ! -e "$DIR/c1/$c.max"
	fi
done
expect_rc 0 "stop c1" vm stop c1
check "c1 off" wait_state c1 off 5
check "the VM's cgroup is removed when its worker ends" test ! -d "$DIR/c1"

stop_daemon
# A directory that is not a cgroup: reported, VMs still run.
NOTCG="$T_DIR/notcg"
mkdir -p "$NOTCG"
start_daemon --cgroup "$NOTCG"
check "a non-cgroup directory is reported" grep -q "not a writable cgroup v2 directory" \
	"$T_DIR/openhvd.log"
expect_rc 0 "c1 still starts without cgroup limits" vm start c1
check "c1 running without limits" wait_state c1 running 5
"$OPENHV" vm kill c1 >/dev/null 2>&1
wait_state c1 off 5
stop_daemon
cg_cleanup
finish
