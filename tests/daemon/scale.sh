#!/bin/bash
# SPDX-License-Identifier: MIT
# 20 VMs created, started and stopped concurrently, several cycles: states
# must be right every time and openhvd must not grow in descriptors or memory.
. "$(dirname "$0")/lib.sh"

N=${SCALE_VMS:-20}
CYCLES=${SCALE_CYCLES:-4}
start_daemon
K=$(make_fake_kernel)

# all_vms CMD...: run "openhv vm CMD... sI" for every VM at once and wait for them
# (not for openhvd, which is also a background job of this shell).
all_vms() {
	local pids= i
	for i in $(seq $N); do vm "$@" "s$i" >/dev/null & pids="$pids $!"; done
	wait $pids
}

all_vms create --kernel "$K" --memory 64M
check "$N VMs created concurrently" test "$(vm list | grep -c '^s[0-9]* *off')" = "$N"

fds() { ls /proc/"$DAEMON_PID"/fd | wc -l; }
rss() { awk '$1 == "VmRSS:" { print $2 }' /proc/"$DAEMON_PID"/status; }

for c in $(seq "$CYCLES"); do
	t0=$(date +%s%N)
	all_vms start
	t1=$(date +%s%N)
	running=$(vm list | grep -c ' running ')
	check "cycle $c: all $N running ($(( (t1 - t0) / 1000000 )) ms)" test "$running" = "$N"
	workers=$(vm list --json | python3 -c 'import json,sys
print(len({v["worker_pid"] for v in json.load(sys.stdin)["vms"] if v["worker_pid"]}))')
	check "cycle $c: $N distinct workers" test "$workers" = "$N"
	all_vms stop
	off=$(vm list | grep -c ' off ')
	check "cycle $c: all $N off after stop" test "$off" = "$N"
	sleep 0.2
	if [ "$c" = 1 ]; then
		FD1=$(fds)
		RSS1=$(rss)
	fi
	diag "cycle $c: openhvd has $(fds) fds, VmRSS $(rss) kB"
done
FDN=$(fds)
RSSN=$(rss)
check "no fd growth across cycles ($FD1 -> $FDN)" test "$FDN" -le "$FD1"
check "no memory growth across cycles ($RSS1 -> $RSSN kB, <= 512 kB allowed)" \
	test $((RSSN - RSS1)) -le 512
check "no zombie workers" test -z "$(ps --ppid "$DAEMON_PID" -o stat= | grep Z)"
all_vms delete
check "all deleted" test -z "$(ls -A "$STATE/vms")"
finish
