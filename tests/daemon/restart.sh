#!/bin/bash
# SPDX-License-Identifier: MIT
# openhvd restarts: running workers are found again through their runtime
# sockets; a VM whose worker died meanwhile is reported as crashed.
. "$(dirname "$0")/lib.sh"

start_daemon
K=$(make_fake_kernel)
for n in r1 r2; do
	vm create $n --kernel "$K" --memory 64M >/dev/null
	vm start $n >/dev/null
done
vm pause r2 >/dev/null
P1=$(vm_pid r1)
P2=$(vm_pid r2)
WORKER_PIDS="$P1 $P2"
stop_daemon
check "workers outlive the service" kill -0 "$P1"
check "runtime sockets remain" test -S "$STATE/run/r1.sock" -a -S "$STATE/run/r2.sock"
kill -9 "$P2"
sleep 0.2
start_daemon
check "r1 reattached: running, same worker" test "$(vm_state r1)" = running -a "$(vm_pid r1)" = "$P1"
check "r2 reported crashed" test "$(vm_state r2)" = crashed
check "r2 reason says the worker ended while openhvd was down" \
	grep -q "not running" <<<"$(vm_reason r2)"
check "stale runtime socket removed" test ! -e "$STATE/run/r2.sock"
expect_rc 0 "pause through the new service" vm pause r1
expect_rc 0 "resume through the new service" vm resume r1
printf 'after restart\n' | timeout 3 "$OPENHV" vm console r1 >"$T_DIR/con" 2>&1
check "console works after reattach" grep -q "r1: after restart" "$T_DIR/con"
expect_rc 0 "stop a reattached VM" vm stop r1
check "r1 off" test "$(vm_state r1)" = off
check "reattached worker gone" gone "$P1"

# A second openhvd on the same state dir is refused.
"$OPENHVD" --socket "$T_DIR/other.sock" --state-dir "$STATE" --test-engine >"$T_DIR/second" 2>&1
check "second service on the same state dir refused" test $? != 0
check "with a clear message" grep -q "another openhvd" "$T_DIR/second"

# A corrupt configuration file is reported and skipped, the rest still load.
stop_daemon
echo '{"name":"bad","kernel":' >"$STATE/vms/bad.json"
start_daemon
check "corrupt config skipped" test "$(vm_state bad)" = ""
check "corrupt config reported in the log" grep -q "bad.json" "$T_DIR/openhvd.log"
check "other VMs still loaded" test "$(vm_state r1)" = off
finish
