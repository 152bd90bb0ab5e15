#!/bin/bash
# SPDX-License-Identifier: MIT
# A worker that stops answering (SIGSTOP) must not hold up the service:
# requests for other VMs are answered while requests for the hung VM wait,
# those time out with a clear 503-style error, and a stop of the hung VM
# ends in a kill.
. "$(dirname "$0")/lib.sh"

start_daemon
K=$(make_fake_kernel)

ms() { echo $(( $(date +%s%N) / 1000000 )); }

for n in h1 h2 h3; do
	expect_rc 0 "create $n" vm create $n --kernel "$K" --memory 64M
	expect_rc 0 "start $n" vm start $n
done
check "all three running" wait_state h3 running 5
HUNG=$(vm_pid h1)
kill -STOP "$HUNG"

# Several requests to the hung worker at once, in the background.
T0=$(ms)
for i in 1 2 3 4; do
	"$OPENHV" vm pause h1 >"$T_DIR/p$i.out" 2>&1 &
	eval "PP$i=\$!"
done
sleep 0.3
# Meanwhile: other VMs are served at once. A service loop blocked on h1
# would hold each of these until h1's 3 s command timeout; on a loaded
# machine a request may take a few hundred ms, never seconds.
WORST=0
PENDING_SEEN=no
for i in 1 2 3; do
	for cmd in "list" "pause h2" "resume h2"; do
		A=$(ms)
		"$OPENHV" vm $cmd >/dev/null 2>&1 || WORST=99999
		B=$(ms)
		[ $((B - A)) -gt "$WORST" ] && WORST=$((B - A))
	done
	# While h1's requests are younger than their timeout they must still wait.
	[ $i = 1 ] && [ $(($(ms) - T0)) -lt 2500 ] && kill -0 "$PP1" 2>/dev/null && PENDING_SEEN=yes
done
check "other VMs answered while h1 hangs (slowest request $WORST ms)" test "$WORST" -lt 2000
check "h2 still running" test "$(vm_state h2)" = running
check "h1's requests were still waiting while the others were served" test "$PENDING_SEEN" = yes
RC=0
for i in 1 2 3 4; do
	eval "wait \$PP$i" && RC=1
done
T2=$(ms)
check "requests to the hung worker failed" test "$RC" = 0
check "they failed after the 3 s command timeout ($((T2 - T0)) ms)" \
	test $((T2 - T0)) -ge 2900 -a $((T2 - T0)) -lt 8000
check "the error says the worker did not answer" grep -q "did not answer" "$T_DIR/p1.out"
check "h1 state unchanged (running)" test "$(vm_state h1)" = running

# guest info (needs a reply too) to the hung worker: bounded as well.
A=$(ms)
"$OPENHV" vm guest h1 >"$T_DIR/g.out" 2>&1
B=$(ms)
check "guest info to the hung worker ends within 5 s" test $((B - A)) -lt 5000

# Stop: the worker cannot take it, so the VM is killed and ends off.
expect_rc 0 "stop the hung VM" vm stop h1
check "h1 off after the stop" wait_state h1 off 15
check "h1's reason says it was killed" grep -qi "kill" <<<"$(vm_reason h1)"
check "the hung worker is gone" gone "$HUNG"
check "h2 and h3 still running" test "$(vm_state h2)" = running -a "$(vm_state h3)" = running
expect_rc 0 "h1 starts again" vm start h1
check "h1 running again" wait_state h1 running 5

# A client that gives up while waiting does not disturb the service.
PID3=$(vm_pid h3)
kill -STOP "$PID3"
timeout 0.5 "$OPENHV" vm pause h3 >/dev/null 2>&1
sleep 3.5
kill -CONT "$PID3"
check "service answers after a client left mid-request" "$OPENHV" vm list
check "h3's late pause still reaches the service's state" wait_state h3 paused 3

for n in h1 h2 h3; do
	"$OPENHV" vm kill $n >/dev/null 2>&1
done
check "all off" wait_state h3 off 5
finish
