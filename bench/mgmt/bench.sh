#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Management-service benchmark (not part of the test suite).
#
#   bench/mgmt/bench.sh BUILD_DIR            service-only figures with the idle
#                                            test engine (no KVM needed):
#                                            creates/s, starts/s, memory per
#                                            worker and of the service
#   bench/mgmt/bench.sh --guest BUILD_DIR    adds create+start -> guest init
#                                            through the service vs `openhv
#                                            run`; needs hardware KVM, so run
#                                            it as: tools/with-kvm -- env
#                                            KERNEL=.. INITRD=.. bench/mgmt/bench.sh --guest BUILD
#
# Prints a Markdown table on stdout.
set -u
# Braces: bash reads the whole script first, so editing it cannot disturb a run.
{
guest=0
[ "${1:-}" = --guest ] && { guest=1; shift; }
B=$(realpath "${1:?usage: bench.sh [--guest] BUILD_DIR}")
OPENHVD=$B/src/daemon/openhvd
OPENHV=$B/src/cli/openhv
WORKER=$B/src/worker/openhv-worker
N=${BENCH_VMS:-100}
RUNS=${BENCH_RUNS:-3}
D=$(mktemp -d /tmp/ohv-bench.XXXXXX)
export OPENHV_SOCKET=$D/s.sock
DPID=

cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT

start_service() {
	"$OPENHVD" --socket "$OPENHV_SOCKET" --state-dir "$D/state" --worker "$WORKER" "$@" \
		>"$D/openhvd.log" 2>&1 &
	DPID=$!
	for _ in $(seq 100); do "$OPENHV" vm list >/dev/null 2>&1 && return; sleep 0.05; done
	echo "openhvd did not start" >&2
	exit 1
}

stop_service() {
	kill "$DPID"; wait "$DPID" 2>/dev/null; DPID=
	rm -rf "$D/state"
}

ms() { echo $(( $(date +%s%N) / 1000000 )); }
kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/${3:-status}"; }
row() { printf '| %s | %s |\n' "$1" "$2"; }

echo "| measurement | value |"
echo "|---|---|"

# --- service only (idle test engine) ---
start_service --test-engine
echo bzImage-stand-in >"$D/k"
RSS0=$(kb "$DPID" VmRSS)
t0=$(ms)
for i in $(seq $N); do "$OPENHV" vm create "b$i" --kernel "$D/k" --memory 64M >/dev/null; done
t1=$(ms)
row "VM creates through the CLI, sequential ($N)" "$(( N * 1000 / (t1 - t0 + 1) )) /s ($(( (t1 - t0) * 1000 / N )) µs each)"
# Service-side latency without process start-up: one client process, many requests.
python3 - "$OPENHV_SOCKET" "$D/k" "$N" >"$D/lat" <<'PY'
import socket, sys, time
sock, kernel, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def req(method, path, body=b""):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (method, path, len(body)) + body)
    while s.recv(65536):
        pass
    s.close()
def timed(label, fn):
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    print("%s|%.2f ms per request (%d/s)" % (label, (time.perf_counter() - t) * 1000 / n, n / (time.perf_counter() - t)))
timed("API create (POST /v1/vms, 2 fsyncs)", lambda i: req(b"POST", b"/v1/vms", b'{"name":"p%d","kernel":"%s"}' % (i, kernel.encode())))
timed("API edit (PATCH, 2 fsyncs)", lambda i: req(b"PATCH", b"/v1/vms/p%d" % i, b'{"cpus":2}'))
timed("API show (GET /v1/vms/NAME)", lambda i: req(b"GET", b"/v1/vms/p%d" % i))
timed("API list of %d VMs (GET /v1/vms)" % (2 * n), lambda i: req(b"GET", b"/v1/vms"))
PY
while IFS='|' read -r what val; do row "$what" "$val"; done <"$D/lat"
M=${BENCH_START_VMS:-20}
t0=$(ms)
pids=
for i in $(seq $M); do "$OPENHV" vm start "b$i" >/dev/null & pids="$pids $!"; done
wait $pids
t1=$(ms)
row "start $M VMs concurrently until all running (idle engine)" "$(( t1 - t0 )) ms ($(( M * 1000 / (t1 - t0 + 1) )) starts/s)"
pss_sum=0; rss_sum=0
for p in $("$OPENHV" vm list --json | python3 -c 'import json,sys
for v in json.load(sys.stdin)["vms"]:
    if v["worker_pid"]: print(v["worker_pid"])'); do
	pss_sum=$((pss_sum + $(kb "$p" Pss smaps_rollup)))
	rss_sum=$((rss_sum + $(kb "$p" Rss smaps_rollup)))
done
row "idle-engine worker, mean RSS / PSS" "$(( rss_sum / M )) kB / $(( pss_sum / M )) kB"
row "openhvd RSS: empty / with $((2 * N)) VMs, $M running" "$RSS0 kB / $(kb "$DPID" VmRSS) kB"
row "openhvd descriptors with $M running VMs" "$(ls /proc/$DPID/fd | wc -l)"
t0=$(ms)
pids=
for i in $(seq $M); do "$OPENHV" vm stop "b$i" >/dev/null & pids="$pids $!"; done
wait $pids
t1=$(ms)
row "stop $M VMs concurrently until all off" "$(( t1 - t0 )) ms"
stop_service

[ $guest = 1 ] || exit 0


# --- real guests: create+start -> guest init, service vs openhv run ---
: "${KERNEL:?set KERNEL and INITRD (eval \"\$(tools/mkguest.sh)\")}"
CMD="console=ttyS0 ohv.script=info"
start_service
svc=() run=()
for r in $(seq $RUNS); do
	t0=$(ms)
	"$OPENHV" vm create "g$r" --kernel "$KERNEL" --initrd "$INITRD" --memory 256M --cmdline "$CMD" >/dev/null
	"$OPENHV" vm start --no-wait "g$r" >/dev/null
	until grep -q "openhv-guest: init reached" "$D/state/logs/g$r.console.log" 2>/dev/null; do sleep 0.02; done
	t1=$(ms)
	svc+=($((t1 - t0)))
	for _ in $(seq 600); do [ "$("$OPENHV" vm show --json "g$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" = off ] && break; sleep 0.1; done

	t0=$(ms)
	"$OPENHV" run --kernel "$KERNEL" --initrd "$INITRD" --memory 256M --cmdline "$CMD" \
		>"$D/run$r.out" 2>&1 &
	rp=$!
	until grep -q "openhv-guest: init reached" "$D/run$r.out" 2>/dev/null; do sleep 0.02; done
	t1=$(ms)
	run+=($((t1 - t0)))
	wait $rp
done
row "create+start -> guest init via openhvd, ${RUNS} runs (ms)" "${svc[*]}"
row "openhv run -> guest init, ${RUNS} runs (ms)" "${run[*]}"
# Memory of a worker with a booted guest sitting at its shell.
"$OPENHV" vm create gm --kernel "$KERNEL" --initrd "$INITRD" --memory 256M \
	--cmdline "console=ttyS0 ohv.shell=1" >/dev/null
"$OPENHV" vm start gm >/dev/null
until grep -q "interactive shell" "$D/state/logs/gm.console.log" 2>/dev/null; do sleep 0.1; done
p=$("$OPENHV" vm show --json gm | python3 -c 'import json,sys; print(json.load(sys.stdin)["worker_pid"] or 0)')
row "worker with a booted 256 MiB guest at its shell, RSS / PSS" \
	"$(kb "$p" Rss smaps_rollup) kB / $(kb "$p" Pss smaps_rollup) kB"
row "openhvd RSS with $((RUNS + 1)) VMs defined, 1 running" "$(kb "$DPID" VmRSS) kB"
"$OPENHV" vm kill gm >/dev/null
exit 0
}
