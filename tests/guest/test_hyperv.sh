#!/bin/bash
# SPDX-License-Identifier: MIT
# ehost-timeout: 600  (seconds for tools/check.sh; normally a few minutes at most)
# Guest tests for the Hyper-V interface with a stock Debian cloud kernel:
# enlightenments and VMBus bring-up, device offers and class ids, the
# integration services (heartbeat, shutdown, time sync, KVP), crash
# reporting, reboot with VMBus reconnect, SMP. Needs /dev/kvm (tools/with-kvm).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
tmp=$(mktemp -d /tmp/ohv-hv.XXXXXX)
trap 'vm_kill_all; rm -rf "$tmp"' EXIT
echo "TAP version 13"

HEARTBEAT=57164f39-9115-4e78-ab55-382f3bd5422d
KVP=a9a0f4e7-5a45-4d96-b827-8a841e8c03e6
SHUTDOWN=0e0b6031-5213-4934-818b-38d90ced39db
TIMESYNC=9527e630-d0ae-497b-adce-e80ab0175caf

# 1. Bring-up with 2 and 4 vCPUs: hv_vmbus loads, four IC devices offered.
for cpus in 2 4; do
	log=$tmp/probe$cpus.log
	# -v for the 2-vCPU run: openhv logs at exit how many EOIs were not lazy.
	verbose=; [ "$cpus" = 2 ] && verbose=-v
	guest_run "$log" $verbose --cpus "$cpus" --memory 512M --cmdline "console=ttyS0 panic=-1 ohv.script=hv-probe"
	t_check "$cpus vCPUs: guest detects Hyper-V" grep -q "Hypervisor detected: Microsoft Hyper-V" "$log"
	t_check "$cpus vCPUs: hv_vmbus loads and connects (VMBus 5.x)" grep -qE "hv_vmbus: Vmbus version:5\." "$log"
	t_check "$cpus vCPUs: no hv_vmbus errors" sh -c "! grep -iE 'hv_vmbus.*(error|fail)|vmbus.*timed out' '$log'"
	for c in $HEARTBEAT $SHUTDOWN $TIMESYNC $KVP; do
		t_check "$cpus vCPUs: /sys/bus/vmbus/devices lists class {$c}" grep -q "class={$c}" "$log"
	done
	what="$cpus vCPUs: hv_utils binds heartbeat, shutdown and time sync"
	# The guest counts the three IC lines in its own dmesg (ohv-ic-negotiated):
	# on the console, a log line of openhv's own can land in the middle of
	# one of them (seen: "hv_utils: T<openhv: guest connected ...>imeSync").
	if grep -qa 'ohv-ic-negotiated=3' "$log" ||
		{ grep -q 'Heartbeat IC version' "$log" && grep -q 'Shutdown IC version' "$log" &&
		  grep -q 'TimeSync IC version' "$log"; }; then
		t_ok "$what"
	else
		t_fail "$what"
		grep -aE 'IC version|ohv-ic-negotiated|hv_utils|ohv-result' "$log" | tr -d '\r' | t_diag
	fi
	t_check "$cpus vCPUs: guest takes the enlightened APIC (x2APIC, lazy EOI)" \
		grep -qa 'ohv-apic=Using enlightened APIC (x2apic mode)' "$log"
	if [ -n "$verbose" ]; then
		# The LAPIC retires most interrupts through the VP assist page; only
		# the rest reach openhv as EOI MSR writes.
		irqs=$(grep -ao 'ohv-irqs-total=[0-9]*' "$log" | head -n 1 | cut -d= -f2)
		eois=$(grep -ao 'lazy EOI on: [0-9]* EOI writes' "$log" | head -n 1 | tr -dc '0-9')
		t_check "$cpus vCPUs: most EOIs are lazy (${eois:-?} EOI writes for ${irqs:-?} interrupts)" \
			sh -c "[ -n '$irqs' ] && [ -n '$eois' ] && [ \$(( $eois * 2 )) -lt $irqs ]"
	fi
	t_check "$cpus vCPUs: guest powers off cleanly (rc=$rc)" [ "$rc" -eq 0 ]
	[ "$rc" -eq 0 ] || tail -n 30 "$log" | t_diag
done

# 2. Heartbeat seen by the host, then a graceful shutdown on SIGTERM.
log=$tmp/shutdown.log
status=$tmp/status.json
# (No timeout(1) around it: it would pass our SIGTERM on twice, to the child and
# to its process group, and the second one means "stop now".)
vm_start "$log" 400 --kernel "$KERNEL" --initrd "$INITRD" --memory 512M --cpus 2 \
	--status-file "$status" --cmdline "console=ttyS0 panic=-1 ohv.script=hv-wait"
vm_wait_for "$log" "ohv-hv-ready" 240 && vm_wait_for "$log" "heartbeat is alive" 60
t_check "host sees the guest heartbeat" grep -q "guest heartbeat is alive" "$log"
sleep 2
t_check "status file shows heartbeat alive with a sequence number" \
	python3 -c "import json,sys; s=json.load(open('$status')); sys.exit(0 if s['heartbeat']['alive'] and s['heartbeat']['seq'] > 0 and s['shutdown']['ready'] else 1)"
start=$(date +%s)
kill -TERM "${vm_pid[$log]}" 2>/dev/null
vm_wait "$log" 400
took=$(( $(date +%s) - start ))
t_check "SIGTERM asks the guest to shut down through the shutdown IC" grep -q "asked the guest to shut down" "$log"
t_check "guest powers off cleanly after the request (rc=$rc, in $took s)" \
	sh -c "[ $rc -eq 0 ] && grep -q 'reboot: Power down' '$log'"
t_check "graceful shutdown completes within 60 s even in the emulated host ($took s)" [ "$took" -le 60 ]
[ "$rc" -eq 0 ] || tail -n 30 "$log" | t_diag

# 3. Time sync: the emulated RTC is a day behind; the time-sync service fixes it.
# The host notes its own clock the moment the guest's line arrives on the
# serial console (which is immediate: every byte is a port write).
log=$tmp/timesync.log
"$OPENHV" run --kernel "$KERNEL" --initrd "$INITRD" --memory 512M --rtc-offset -86400 \
	--cmdline "console=ttyS0 panic=-1 ohv.script=hv-timesync" </dev/null >"$log" 2>&1 &
pid=$!
( sleep 300; kill -KILL "$pid" ) >/dev/null 2>&1 &
watchdog=$!
seen_before= seen_after=
for _ in $(seq 1 3000); do
	[ -z "$seen_before" ] && grep -q "ohv-time-before=" "$log" && seen_before=$(date +%s.%N)
	if grep -q "ohv-time-after=" "$log"; then
		seen_after=$(date +%s.%N)
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
wait "$pid"
rc=$?
kill "$watchdog" 2>/dev/null
before=$(value "$log" ohv-time-before)
after=$(value "$log" ohv-time-after)
t_check "RTC offset took effect before time sync (guest clock ~1 day behind)" \
	python3 -c "import sys; sys.exit(0 if 86000 <= $seen_before - ${before:-0} <= 87000 else 1)"
drift=$(python3 -c "print(round(${after:-0} - ${seen_after:-0}, 2))")
t_check "guest wall clock within 1 s of the host after time sync (guest - host = $drift s)" \
	python3 -c "import sys; sys.exit(0 if abs($drift) <= 1.0 else 1)"
t_check "time sync: guest powers off cleanly (rc=$rc)" [ "$rc" -eq 0 ]

# 4. KVP both ways: a host key reaches the guest's pool; guest-reported values reach the host.
log=$tmp/kvp.log
status=$tmp/kvp.json
guest_run "$log" -v --memory 512M --status-file "$status" --kvp ohv_host_key=hello-from-host-42 \
	--cmdline "console=ttyS0 panic=-1 ohv.script=hv-kvp ohv.kvpkey=ohv_host_key"
t_check "KVP host->guest: pushed key and value are in the guest's pool" grep -q "ohv-kvp-host=ohv_host_key=hello-from-host-42" "$log"
t_check "KVP: hv_utils negotiated the KVP service" grep -q "KVP IC version" "$log"
t_check "KVP guest->host: host read the guest's FQDN and OS values" \
	python3 -c "
import json, sys
s = json.load(open('$status'))
kv = {e['key']: e['value'] for e in s['kvp']['guest']}
ok = (kv.get('FullyQualifiedDomainName', '').startswith('ohv-guest-kvp') and
      'Linux' in kv.get('OSName', '') and kv.get('OSBuildNumber', '').startswith('6.1'))
sys.exit(0 if ok else 1)"
t_check "KVP: guest script passed (rc=$rc)" sh -c "[ $rc -eq 0 ] && grep -q 'ohv-result=pass' '$log'"
[ "$rc" -eq 0 ] || tail -n 20 "$log" | t_diag
# The same run's channel traffic went through doorbells that KVM completes itself.
sig=$(grep -aoE 'signals: [0-9]+ by doorbell in KVM, [0-9]+ by doorbell exit' "$log" | head -n1)
bells_kvm=$(awk '{print $2}' <<<"$sig")
bells_exit=$(awk '{print $7}' <<<"$sig")
t_check "VMBus guest signals reach the host through KVM doorbells (kvm=${bells_kvm:-?} exit=${bells_exit:-?})" \
	sh -c "[ -n '$bells_kvm' ] && [ '$bells_kvm' -gt 0 ] && [ '$bells_exit' -le '$bells_kvm' ]"

# 5. Guest panic is reported through the crash MSRs, with a non-zero exit.
log=$tmp/crash.log
guest_run "$log" --memory 512M --cmdline "console=ttyS0 panic=-1 ohv.script=hv-crash"
t_check "guest panic: exit 1 (got $rc)" [ "$rc" -eq 1 ]
t_check "guest panic: host reports the crash with its parameters" grep -q "error: guest kernel crashed on virtual processor .*P0=0x" "$log"
t_check "guest panic: host shows the panic text" grep -qi "error: guest kernel crashed.*sysrq" "$log"

# 6. Reboot: VMBus comes back after the guest reboots. The first boot goes
# through vm_wait_for (an early triple fault in the emulated host is booted
# once more, a guest running L1's code stops the script with 125); the log
# goes to the TAP output when the second boot does not show its devices.
log=$tmp/reboot.log
vm_start "$log" 400 --kernel "$KERNEL" --initrd "$INITRD" --memory 512M --cpus 2 \
	--cmdline "console=ttyS0 panic=-1 ohv.script=hv-reboot"
if vm_wait_for "$log" 'ohv-vmbus-devices=4' 240; then
	for _ in $(seq 1 240); do
		[ "$(count "$log" 'ohv-vmbus-devices=4')" -ge 2 ] && break
		kill -0 "${vm_pid[$log]}" 2>/dev/null || break
		sleep 1
	done
fi
n4=$(count "$log" 'ohv-vmbus-devices=4')
if [ "$n4" -lt 2 ]; then
	kill -0 "${vm_pid[$log]}" 2>/dev/null && ehost_fault_check "${vm_pid[$log]}"
	tail -n 25 "$log" | tr -d '\r' | t_diag
fi
kill -KILL "${vm_pid[$log]}" 2>/dev/null
vm_wait "$log" 5
t_check "guest reboot: VMBus reconnects and all 4 devices are back ($n4 boots with 4 devices)" \
	[ "$n4" -ge 2 ]

t_done
