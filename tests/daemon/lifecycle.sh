#!/bin/bash
# SPDX-License-Identifier: MIT
# Full VM lifecycle through the `openhv vm` CLI against a private openhvd.
. "$(dirname "$0")/lib.sh"

start_daemon
K=$(make_fake_kernel)

# The service opens the TAP when the VM starts: use a real one when this
# machine lets us make it, else leave the NIC out of the started VM.
TAP=ohvlc$$
if make_tap "$TAP"; then
	NIC_OPT=(--nic "$TAP,mac=00:15:5d:00:00:01")
else
	diag "cannot create a TAP here (needs root and /dev/net/tun): web1 runs without a NIC"
	NIC_OPT=()
fi
expect_rc 0 "create web1" vm create web1 --kernel "$K" --memory 256M --cpus 2 \
	--cmdline "console=ttyS0 quiet" --disk "$K,ro" "${NIC_OPT[@]}"
check "config file written" test -s "$STATE/vms/web1.json"
expect_rc 5 "create duplicate name refused" vm create web1 --kernel "$K"
expect_rc 2 "create with path-traversal name refused" vm create ../../etc/x --kernel "$K"
expect_rc 2 "create with absurd memory refused" vm create big --kernel "$K" --memory 64T
expect_rc 2 "create with 0 cpus refused" vm create zero --kernel "$K" --cpus 0
expect_rc 2 "create without kernel refused" vm create nokernel
check "refused creates left no files" test "$(ls "$STATE/vms")" = web1.json
expect_rc 0 "list" vm list
check "list shows web1 off" grep -q "web1 *off" "$T_DIR/out"
expect_rc 0 "show" vm show web1
check "show has memory and NIC" grep -q "Memory: *256 MiB" "$T_DIR/out"
expect_rc 4 "show unknown VM" vm show nosuch

expect_rc 0 "start" vm start web1
check "state running" test "$(vm_state web1)" = running
check "worker pid reported" test -n "$(vm_pid web1)"
expect_rc 5 "start while running refused" vm start web1
expect_rc 5 "edit while running refused" vm edit web1 --memory 512M
expect_rc 5 "delete while running refused" vm delete web1
expect_rc 5 "resume while running refused" vm resume web1
expect_rc 0 "pause" vm pause web1
check "state paused" test "$(vm_state web1)" = paused
expect_rc 5 "pause while paused refused" vm pause web1
expect_rc 0 "resume" vm resume web1
check "state running again" test "$(vm_state web1)" = running

# Console: output from the worker, input to it.
printf 'hello console\n' | timeout 5 "$OPENHV" vm console web1 >"$T_DIR/console.out" 2>&1 &
CPID=$!
sleep 1
check "console shows the boot banner" grep -q "idle test engine: VM web1" "$T_DIR/console.out"
check "console input reaches the VM" grep -q "web1: hello console" "$T_DIR/console.out"
kill $CPID 2>/dev/null; wait $CPID 2>/dev/null
check "console log kept in the state dir" grep -q "hello console" "$STATE/logs/web1.console.log"

OLD_PID=$(vm_pid web1)
expect_rc 0 "restart" vm restart web1
check "running after restart with a new worker" \
	test "$(vm_state web1)" = running -a "$(vm_pid web1)" != "$OLD_PID"
expect_rc 0 "stop" vm stop web1
check "state off after stop" test "$(vm_state web1)" = off
check "stop reason says hard stop" grep -q "stopped" <<<"$(vm_reason web1)"
check "runtime socket removed" test ! -e "$STATE/run/web1.sock"
expect_rc 5 "stop while off refused" vm stop web1

expect_rc 0 "edit while off" vm edit web1 --memory 512M --cpus 4 --no-disks --no-nics
check "edit stored" grep -q '"memory_bytes":536870912' "$STATE/vms/web1.json"
check "edit cleared disks" grep -q '"disks":\[\]' "$STATE/vms/web1.json"
expect_rc 2 "edit with a bad value refused" vm edit web1 --cpus 999
check "refused edit changed nothing" grep -q '"cpus":4' "$STATE/vms/web1.json"

# Guest-driven ends (the idle engine acts on console lines).
vm start web1 >/dev/null
printf 'poweroff\n' | timeout 5 "$OPENHV" vm console web1 >/dev/null 2>&1
check "guest power-off -> off" wait_state web1 off 5
check "power-off reason" grep -q "powered off" <<<"$(vm_reason web1)"
vm start web1 >/dev/null
printf 'crash\n' | timeout 5 "$OPENHV" vm console web1 >/dev/null 2>&1
check "guest crash -> crashed" wait_state web1 crashed 5
check "crash reason" grep -q "crash" <<<"$(vm_reason web1)"
expect_rc 0 "start a crashed VM" vm start web1
expect_rc 0 "kill" vm kill web1
check "killed VM is off" test "$(vm_state web1)" = off

# A start that cannot work leaves the VM off with a clear error.
vm edit web1 --kernel "$T_DIR/missing-kernel" >/dev/null
expect_rc 2 "start with a missing kernel refused" vm start web1
check "error names the missing file" grep -q "missing-kernel" "$T_DIR/err"
check "still off" test "$(vm_state web1)" = off

expect_rc 0 "delete" vm delete web1
check "config file removed" test ! -e "$STATE/vms/web1.json"
check "logs removed" test ! -e "$STATE/logs/web1.console.log"
expect_rc 4 "delete again" vm delete web1
OPENHV_SOCKET="$T_DIR/nope.sock" expect_rc 3 "unreachable service" "$OPENHV" vm list
finish
