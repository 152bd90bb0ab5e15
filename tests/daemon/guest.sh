#!/bin/bash
# SPDX-License-Identifier: MIT
# Real guests through openhvd (the VM engine in sandboxed workers): a guest
# that powers off by itself, an interactive one, crash isolation and the
# integration services. Needs hardware-assisted KVM, so run it through the
# emulated host when the machine has none:
#
#   eval "$(tools/mkguest.sh)"; export KERNEL INITRD
#   OPENHVD=build/src/daemon/openhvd OPENHV=build/src/cli/openhv \
#   OPENHV_WORKER=build/src/worker/openhv-worker tools/with-kvm tests/daemon/guest.sh
#
# Not part of the "daemon" suite for that reason.
. "$(dirname "$0")/guest-lib.sh"

# 1. A guest that reports and powers off by itself.
expect_rc 0 "create g1" vm create g1 --kernel "$KERNEL" --initrd "$INITRD" --memory 256M \
	--cpus 2 --cmdline "console=ttyS0 ohv.script=info"
T0=$(ms)
expect_rc 0 "start g1" vm start g1
check "g1 worker sandboxed" grep -q seccomp <<<"$(vm show g1)"
check "g1 guest init reached" wait_log g1 "openhv-guest: init reached" "$BOOT_TIMEOUT"
T1=$(ms)
diag "g1: start request to guest init: $((T1 - T0)) ms"
check "g1 powers off by itself" wait_state g1 off "$BOOT_TIMEOUT"
check "g1 off reason is a power-off" grep -qi "poweroff\|powered off" <<<"$(vm_reason g1)"
check "g1 sees 2 CPUs" grep -q "ohv-cpus=2" "$LOG/g1.console.log"
check "g1 script passed" grep -q "ohv-result=pass" "$LOG/g1.console.log"

# 2. An interactive guest: console in and out, pause/resume, hard stop.
expect_rc 0 "create g2" vm create g2 --kernel "$KERNEL" --initrd "$INITRD" --memory 256M \
	--cmdline "console=ttyS0 ohv.shell=1"
expect_rc 0 "start g2" vm start g2
check "g2 shell up" wait_log g2 "interactive shell" "$BOOT_TIMEOUT"
( sleep 1; echo "echo marker-\$((6*7))"; sleep 3 ) | timeout 10 "$OPENHV" vm console g2 >"$T_DIR/g2.con" 2>&1
check "console input runs in the guest" grep -q "marker-42" "$T_DIR/g2.con"
expect_rc 0 "pause g2" vm pause g2
expect_rc 0 "resume g2" vm resume g2
( sleep 1; echo "echo after-resume"; sleep 3 ) | timeout 10 "$OPENHV" vm console g2 >"$T_DIR/g2b.con" 2>&1
check "guest runs after resume" grep -q "after-resume" "$T_DIR/g2b.con"

# 3. Crash isolation with real guests: kill one worker, the other guest lives.
expect_rc 0 "create g3" vm create g3 --kernel "$KERNEL" --initrd "$INITRD" --memory 256M \
	--cmdline "console=ttyS0 ohv.shell=1"
expect_rc 0 "start g3" vm start g3
check "g3 shell up" wait_log g3 "interactive shell" "$BOOT_TIMEOUT"
kill -9 "$(vm_pid g3)"
check "g3 crashed" wait_state g3 crashed 10
check "g2 still running" test "$(vm_state g2)" = running
( sleep 1; echo "echo still-alive"; sleep 3 ) | timeout 10 "$OPENHV" vm console g2 >"$T_DIR/g2c.con" 2>&1
check "g2 guest still answers" grep -q "still-alive" "$T_DIR/g2c.con"
# Integration services through the worker: load the guest's Hyper-V drivers,
# read guest info, then a graceful stop (the guest powers off when its
# shutdown service took the request, else the worker stops it hard).
( sleep 1; echo "modprobe hv_utils; echo modprobe-rc=\$?"; sleep 15 ) |
	timeout 30 "$OPENHV" vm console g2 >"$T_DIR/g2d.con" 2>&1
grep 'modprobe-rc' "$T_DIR/g2d.con" | tail -1 | sed 's/^/# /'
expect_rc 0 "guest info of g2" vm guest g2
check "guest info is JSON with VMBus state" grep -q '"vmbus_connected"' "$T_DIR/out"
sed 's/^/# guest info: /' "$T_DIR/out"
SHUTDOWN_READY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["shutdown_ready"])' "$T_DIR/out" 2>/dev/null)
expect_rc 0 "stop g2 (graceful with a 20 s grace period)" vm stop --timeout 20 g2
check "g2 off" test "$(vm_state g2)" = off
diag "g2 stop: $(vm_reason g2)"
if [ "$SHUTDOWN_READY" = True ]; then
	# The guest kernel logs the request; whether it then powers off depends on
	# its init (the test guest's shell-script init ignores the poweroff signal,
	# so the worker stops it hard after the grace period).
	check "graceful stop: the request reached the guest kernel" \
		grep -qi "shutdown request" "$LOG/g2.console.log"
fi
tail -n 5 "$LOG/g2.console.log" | tr -d '\r' | sed 's/^/# g2 console: /'

sed 's/^/# worker: /' "$LOG"/*.worker.log 2>/dev/null | head -20
finish
