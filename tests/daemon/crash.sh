#!/bin/bash
# SPDX-License-Identifier: MIT
# kill -9 of one worker: that VM becomes "crashed" with the reason, the other
# VMs keep running, the service keeps answering, and the VM can start again.
. "$(dirname "$0")/lib.sh"

start_daemon
K=$(make_fake_kernel)
for n in c1 c2 c3; do
	vm create $n --kernel "$K" --memory 128M >/dev/null
	vm start $n >/dev/null
done
check "three VMs running" test "$(vm list | grep -c running)" = 3
P1=$(vm_pid c1)
P2=$(vm_pid c2)
P3=$(vm_pid c3)
check "workers are separate processes" test "$P1" != "$P2" -a "$P2" != "$P3"
kill -9 "$P2"
check "killed VM is crashed" wait_state c2 crashed 5
check "reason names the signal" grep -q "killed by signal 9" <<<"$(vm_reason c2)"
check "c1 still running, same worker" test "$(vm_state c1)" = running -a "$(vm_pid c1)" = "$P1"
check "c3 still running, same worker" test "$(vm_state c3)" = running -a "$(vm_pid c3)" = "$P3"
check "c1 worker process alive" kill -0 "$P1"
expect_rc 0 "service still answers" vm list
check "runtime socket of the crashed VM removed" test ! -e "$STATE/run/c2.sock"
expect_rc 0 "crashed VM starts again" vm start c2
check "c2 running with a new worker" test "$(vm_state c2)" = running -a "$(vm_pid c2)" != "$P2"

# A worker that dies while stopping still ends in a defined state.
P1=$(vm_pid c1)
vm stop --no-wait c1 >/dev/null
kill -9 "$P1" 2>/dev/null
check "VM killed during stop ends off or crashed" bash -c '
	for i in $(seq 100); do
		s=$("$OPENHV" vm show --json c1 | python3 -c "import json,sys; print(json.load(sys.stdin)[\"state\"])")
		[ "$s" = off ] || [ "$s" = crashed ] && exit 0; sleep 0.05; done; exit 1'

# Malformed client traffic does not disturb the service.
printf 'GARBAGE\r\n\r\n' | timeout 20 python3 -c '
import socket,sys,os
s=socket.socket(socket.AF_UNIX); s.connect(os.environ["OPENHV_SOCKET"]); s.sendall(sys.stdin.buffer.read()); print(s.recv(4096).decode().split("\r\n")[0])' >"$T_DIR/garbage" 2>&1
check "garbage request answered with 400" grep -q "400" "$T_DIR/garbage"
timeout 20 python3 -c '
import socket,os
s=socket.socket(socket.AF_UNIX); s.connect(os.environ["OPENHV_SOCKET"]); s.sendall(b"GET /v1/vms HTTP/1.1\r\nHost: x\r\n")' 2>/dev/null
expect_rc 0 "service answers after a half-sent request" vm list
check "c3 unaffected throughout" test "$(vm_state c3)" = running -a "$(vm_pid c3)" = "$P3"
for n in c2 c3; do vm kill $n >/dev/null; done
finish
