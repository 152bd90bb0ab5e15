#!/bin/bash
# SPDX-License-Identifier: MIT
# ehost-timeout: 600  (seconds for tools/check.sh; normally a few minutes at most)
# Guest tests for direct boot of a stock Debian cloud kernel (issue: boot a
# stock Linux guest): SMP, memory, serial in/out, power-off, reboot, crash.
# Needs /dev/kvm (run through tools/with-kvm). Prints TAP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
tmp=$(mktemp -d /tmp/ohv-boot.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

echo "TAP version 13"
mem_mib=512

for cpus in 1 2 4; do
	log=$tmp/boot$cpus.log
	guest_run "$log" --cpus "$cpus" --memory ${mem_mib}M --cmdline "console=ttyS0 panic=-1 ohv.script=info"
	t_check "boot with $cpus vCPU(s): guest powers off cleanly (exit 0)" [ "$rc" -eq 0 ]
	t_check "boot with $cpus vCPU(s): serial output reaches init" grep -q "openhv-guest: init reached" "$log"
	got=$(value "$log" ohv-cpus)
	t_check "boot with $cpus vCPU(s): guest sees exactly $cpus CPUs (saw ${got:-none})" [ "${got:-0}" = "$cpus" ]
	kb=$(value "$log" ohv-memkb)
	# MemTotal excludes the kernel image and early reservations; expect 80-100% of RAM.
	t_check "boot with $cpus vCPU(s): MemTotal ${kb:-?} kB is 80-100% of ${mem_mib} MiB" \
		[ "${kb:-0}" -le $((mem_mib * 1024)) -a "${kb:-0}" -ge $((mem_mib * 1024 * 8 / 10)) ]
	if [ "$rc" -ne 0 ] || ! grep -q "init reached" "$log"; then tail -n 30 "$log" | t_diag; fi
done

# Memory above the 3 GiB hole: 3.5 GiB means RAM on both sides of 4 GiB.
log=$tmp/bigmem.log
guest_run "$log" --cpus 1 --memory 3584M --cmdline "console=ttyS0 panic=-1 ohv.script=info"
kb=$(value "$log" ohv-memkb)
t_check "3.5 GiB guest (RAM split around the PCI hole): MemTotal ${kb:-?} kB above 3 GiB" \
	[ "$rc" -eq 0 -a "${kb:-0}" -ge $((3 * 1024 * 1024)) ]

# Reboot restarts the VM: the guest reboots at once, so init must be reached
# at least twice; then stop it with SIGTERM.
log=$tmp/reboot.log
# (--no-hyperv: without the shutdown service, SIGTERM is a hard stop.)
timeout -k 5 300 "$OPENHV" run --no-hyperv --kernel "$KERNEL" --initrd "$INITRD" --memory 256M \
	--cmdline "console=ttyS0 panic=-1 ohv.script=reboot" </dev/null >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 240); do
	[ "$(count "$log" 'init reached')" -ge 2 ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 1
done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
rc=$?
boots=$(count "$log" 'init reached')
t_check "guest reboot restarts the VM (init reached $boots times)" [ "$boots" -ge 2 ]
t_check "SIGTERM stops the VM with exit 143 (got $rc)" [ "$rc" -eq 143 ]

log=$tmp/noreboot.log
guest_run "$log" --no-reboot --memory 256M --cmdline "console=ttyS0 panic=-1 ohv.script=reboot"
boots=$(count "$log" 'init reached')
t_check "--no-reboot: guest reboot ends the VM with exit 0 after one boot (rc=$rc, boots=$boots)" \
	[ "$rc" -eq 0 -a "$boots" -eq 1 ]
t_check "--no-reboot: says why it exited" grep -q "no-reboot" "$log"

# Serial input: a shell on the console runs what we type. Input sent before
# the guest opens its console is dropped (the 8250 driver clears its FIFO on
# open, as on hardware), so type only once the shell is up, and retry.
log=$tmp/console.log
fifo=$tmp/console.in
mkfifo "$fifo"
timeout -k 5 300 "$OPENHV" run --kernel "$KERNEL" --initrd "$INITRD" --memory 256M \
	--cmdline "console=ttyS0 panic=-1 ohv.shell=1" <"$fifo" >"$log" 2>&1 &
pid=$!
exec 9>"$fifo"
for _ in $(seq 1 240); do
	grep -q "interactive shell" "$log" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 1
done
for _ in $(seq 1 30); do
	echo 'echo typed-$((6*7))' >&9
	sleep 2
	grep -q "typed-42" "$log" && break
	kill -0 "$pid" 2>/dev/null || break
done
echo 'poweroff -f' >&9
wait "$pid"
rc=$?
exec 9>&-
t_check "serial input reaches the guest shell and its output comes back" grep -q "^typed-42" "$log"
t_check "guest shell powers off (exit 0, got $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || tail -n 20 "$log" | t_diag

# A guest that triple-faults: a minimal bzImage whose 64-bit entry executes ud2 with no IDT.
crash=$tmp/crash.bzimage
python3 - "$crash" <<'PY'
import struct, sys
k = bytearray(5 * 512 + 4096)
k[0x1f1] = 4                               # setup_sects
k[0x1fe:0x200] = b'\x55\xaa'
k[0x201] = 0x6a
k[0x202:0x206] = b'HdrS'
struct.pack_into('<H', k, 0x206, 0x20f)    # protocol 2.15
struct.pack_into('<H', k, 0x236, 1)        # XLF_KERNEL_64
struct.pack_into('<I', k, 0x238, 2047)     # cmdline_size
struct.pack_into('<I', k, 0x260, 0x10000)  # init_size
struct.pack_into('<I', k, 0x1f4, 4096 // 16)   # syssize
k[5 * 512 + 0x200:5 * 512 + 0x202] = b'\x0f\x0b'   # ud2 at the 64-bit entry point
open(sys.argv[1], 'wb').write(k)
PY
log=$tmp/crash.log
timeout -k 5 60 "$OPENHV" run --kernel "$crash" --memory 64M </dev/null >"$log" 2>&1
rc=$?
t_check "guest triple fault: exit 1 (got $rc)" [ "$rc" -eq 1 ]
t_check "guest triple fault: one clear error line" grep -q "error: guest triple fault" "$log"

t_done
