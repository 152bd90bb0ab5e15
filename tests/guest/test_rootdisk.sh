#!/bin/bash
# SPDX-License-Identifier: MIT
# ehost-timeout: 600  (seconds for tools/check.sh; normally a few minutes at most)
# Guest tests for the bootable root disk (tools/mkrootdisk.sh): the stock
# guest boots with root=/dev/sda on a 512 MiB VHDX served by storvsp, its /
# is that ext4 disk, a random token written on the first boot survives the
# guest's reboot (openhv restarts the VM), and afterwards the VHDX passes
# qemu-img check and openhv disk check and holds the token in its ext4 file
# system (read on the host with debugfs from a raw copy); also a root= that
# never appears fails with one clear line instead of hanging.
# Needs /dev/kvm (tools/with-kvm); qemu-img is optional (skipped with reason).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
top=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d /tmp/ohv-rootdisk.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
echo "TAP version 13"

# ---- the root disk (built once, then from the cache) ----
start=$(date +%s)
OPENHV_BIN=$OPENHV "$top/tools/mkrootdisk.sh" "$tmp/root.vhdx" --size 512M \
	>"$tmp/mk.out" 2>"$tmp/mk.err"
mk=$?
t_check "tools/mkrootdisk.sh writes a VHDX root disk ($(( $(date +%s) - start )) s)" \
	[ $mk -eq 0 -a -s "$tmp/root.vhdx" ]
if [ $mk -ne 0 ]; then
	t_diag <"$tmp/mk.err"
	t_done
	exit 1
fi
"$OPENHV" disk info "$tmp/root.vhdx" >"$tmp/info.txt" 2>&1
t_check "it is a VHDX of 512 MiB virtual size, sparse on the host ($(du -k "$tmp/root.vhdx" | cut -f1) KiB used)" \
	sh -c "grep -qi vhdx '$tmp/info.txt' && grep -q 536870912 '$tmp/info.txt' && [ $(du -k "$tmp/root.vhdx" | cut -f1) -lt 262144 ]"
grep -q 536870912 "$tmp/info.txt" || t_diag <"$tmp/info.txt"

# ---- boot, write the token, reboot, read it back ----
token=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
log=$tmp/boot.log
timeout -k 5 "${OHV_GUEST_TIMEOUT:-300}" "$OPENHV" run --kernel "$KERNEL" --initrd "$INITRD" \
	--memory 512M --disk "$tmp/root.vhdx" \
	--cmdline "console=ttyS0 panic=-1 root=/dev/sda ohv.script=root-reboot ohv.token=$token" \
	</dev/null >"$log" 2>&1 &
pid=$!
# A lost write would make every boot look like the first: stop after three.
while kill -0 "$pid" 2>/dev/null; do
	[ "$(count "$log" '^ohv-root-boot ')" -le 2 ] || { kill -TERM "$pid"; break; }
	sleep 0.5
done
wait "$pid"
rc=$?
pid=
boots=$(count "$log" '^ohv-root-boot ')
t_check "guest booted twice from the root disk and powered off (rc=$rc, boots=$boots)" \
	sh -c "[ $rc -eq 0 ] && [ $boots -eq 2 ] && grep -q 'ohv-result=pass' '$log'"
[ "$rc" -eq 0 ] && [ "$boots" -eq 2 ] || tail -n 40 "$log" | t_diag
first=$(grep -a -m1 '^ohv-root-boot ' "$log" | tr -d '\r')
t_check "initramfs found root=/dev/sda over storvsc and switched to it" \
	grep -q 'openhv-guest: root /dev/sda is /dev/sda' "$log"
t_check "/ is ext4 on /dev/sda, read-write ($first)" \
	sh -c "echo '$first' | grep -q 'dev=/dev/sda fstype=ext4 opts=rw'"
t_check "the token written on the first boot is read back after the reboot" \
	[ "$(value "$log" ohv-root-token-written)" = "$token" -a \
	  "$(value "$log" ohv-root-token-read)" = "$token" ]
t_check "the guest rebooted through openhv (one ohv-rebooting, then a second boot)" \
	[ "$(count "$log" '^ohv-rebooting')" -eq 1 ]

# ---- the image on the host ----
if command -v qemu-img >/dev/null; then
	qemu-img check -f vhdx "$tmp/root.vhdx" >"$tmp/qcheck.log" 2>&1
	q=$?
	t_check "qemu-img check: the VHDX is clean after two boots" [ $q -eq 0 ]
	[ $q -eq 0 ] || t_diag <"$tmp/qcheck.log"
else
	t_skip "qemu-img check: the VHDX is clean after two boots" "qemu-img is not installed (apt-get install qemu-utils)"
fi
t_check "openhv disk check: the VHDX is clean after two boots" \
	sh -c "'$OPENHV' disk check '$tmp/root.vhdx' >'$tmp/ocheck.log' 2>&1"
"$OPENHV" disk convert "$tmp/root.vhdx" "$tmp/root.raw" --format raw >/dev/null 2>&1
t_check "debugfs on a raw copy finds the token in /var/lib/ohv-rootdisk/token" \
	[ "$(debugfs -R 'cat /var/lib/ohv-rootdisk/token' "$tmp/root.raw" 2>/dev/null)" = "$token" ]
e2fsck -fn "$tmp/root.raw" >"$tmp/fsck.log" 2>&1
f=$?
t_check "e2fsck -fn: the root file system is clean (the guest remounted it read-only)" [ $f -eq 0 ]
[ $f -eq 0 ] || tail -n 20 "$tmp/fsck.log" | t_diag
rm -f "$tmp/root.raw"

# ---- a root device that never appears ----
log=$tmp/missing.log
OHV_GUEST_TIMEOUT=120 guest_run "$log" --memory 256M --disk "$tmp/root.vhdx" \
	--cmdline "console=ttyS0 panic=-1 root=/dev/sdz ohv.rootwait=3 ohv.script=root-reboot ohv.token=00"
t_check "root=/dev/sdz: one clear failure line and a power-off, no hang (rc=$rc)" \
	sh -c "[ $rc -eq 0 ] && grep -q 'ohv-result=fail root: no device /dev/sdz after 3s' '$log'"
grep -a 'ohv-result' "$log" | t_diag
t_done
