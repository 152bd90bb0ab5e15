#!/bin/bash
# SPDX-License-Identifier: MIT
# ehost-timeout: 600  (seconds for tools/check.sh; normally a few minutes at most)
# Guest tests for synthetic SCSI storage (storvsp) with the stock hv_storvsc
# driver, in two boots: (1) raw, VHDX, read-only, failing and 4Kn disks plus
# a DVD: capacities, sector sizes, byte-for-byte data on the host images,
# qemu-img check, discard, write refusal, a host I/O error the guest survives;
# (2) data the guest fsync'ed is in the image after openhv is SIGKILLed.
# Needs /dev/kvm (tools/with-kvm); qemu-img and genisoimage are optional
# (their checks are skipped with the reason).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
tmp=$(mktemp -d /tmp/ohv-stor.XXXXXX)
echo "TAP version 13"

# Every openhv this script starts is a direct child whose pid we hold (never
# a wrapper such as timeout), so a watchdog or the exit trap can always end
# the VM itself. Every wait below is bounded.
vm_pids=
cleanup()
{
	local p
	for p in $vm_pids; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	mountpoint -q "$tmp/ext4" 2>/dev/null && umount "$tmp/ext4"
	rm -rf "$tmp"
}
trap cleanup EXIT
# vm_start LOG LIMIT_KIB [openhv run options...]: start a VM in the
# background (console to LOG, stdin /dev/null; LIMIT_KIB > 0 caps the size of
# files it writes, with SIGXFSZ ignored so a write past it fails with EFBIG).
# Sets vm_pid.
vm_start()
{
	local log=$1 limit=$2
	shift 2
	if [ "$limit" -gt 0 ]; then
		( trap '' XFSZ; ulimit -f "$limit"; exec "$OPENHV" run --kernel "$KERNEL" --initrd "$INITRD" "$@" ) \
			</dev/null >"$log" 2>&1 &
	else
		"$OPENHV" run --kernel "$KERNEL" --initrd "$INITRD" "$@" </dev/null >"$log" 2>&1 &
	fi
	vm_pid=$!
	vm_pids="$vm_pids $vm_pid"
}
# vm_wait SECONDS: wait for vm_pid to exit; after SECONDS send SIGTERM, 5 s
# later SIGKILL. Sets rc (124 when the watchdog had to act).
vm_wait()
{
	local limit=$1 i=0
	while kill -0 "$vm_pid" 2>/dev/null; do
		if [ $i -ge $((limit * 5)) ]; then
			echo "# watchdog: openhv (pid $vm_pid) still running after $limit s; stopping it"
			kill -TERM "$vm_pid" 2>/dev/null
			sleep 5
			kill -KILL "$vm_pid" 2>/dev/null
			wait "$vm_pid" 2>/dev/null
			rc=124
			return
		fi
		sleep 0.2
		i=$((i + 1))
	done
	wait "$vm_pid"
	rc=$?
}
# bounded SECONDS CMD...: host tools get a time limit too.
bounded() { timeout -k 5 "$@"; }

MiB=1048576
pattern() { yes "ohv-$1-pattern" | head -c $MiB; }
# region FILE OFFSET_MIB: md5 of 1 MiB of a raw file.
region() { dd if="$1" bs=$MiB skip="$2" count=1 2>/dev/null | md5sum | cut -d' ' -f1; }
md5() { md5sum | cut -d' ' -f1; }
disk_line() { grep -a "ohv-disk=.* hctl=0:0:0:$2 " "$1" | head -n1 | tr -d '\r'; }
field() { echo "$1" | grep -oE "(^| )$2=[^ ]*" | head -n1 | cut -d= -f2; }

have_qemu_img=0
command -v qemu-img >/dev/null && have_qemu_img=1
have_iso=0
command -v genisoimage >/dev/null && have_iso=1

# Writable raw images go O_DIRECT where the host file system allows it: keep
# the raw images of both boots on such a file system. The emulated host's
# /tmp is tmpfs (no O_DIRECT before Linux 6.6): there, a small ext4 on a loop
# device (as root); else the buffered path alone is tested.
dio_ok() { python3 -c "import os,sys; os.close(os.open(sys.argv[1], os.O_RDWR|os.O_CREAT|os.O_DIRECT))" "$1/.dio" 2>/dev/null; }
dio=$tmp
if ! dio_ok "$tmp"; then
	dio=
	mkdir -p "$tmp/ext4"
	modprobe -qa loop ext4 2>/dev/null
	if truncate -s 200M "$tmp/ext4.img" && mkfs.ext4 -q -F "$tmp/ext4.img" >/dev/null 2>&1 &&
		bounded 30 mount -o loop "$tmp/ext4.img" "$tmp/ext4" 2>/dev/null; then
		dio_ok "$tmp/ext4" && dio=$tmp/ext4
	fi
fi
rm -f "$tmp/.dio" "$tmp/ext4/.dio"
if [ -n "$dio" ]; then
	echo "# raw images in $dio ($(stat -f -c %T "$dio"), O_DIRECT available)"
else
	echo "# raw images in $tmp ($(stat -f -c %T "$tmp"), no O_DIRECT: buffered writes only)"
fi
raw=${dio:-$tmp}/raw.img

# ---- boot 1 ----
truncate -s 64M "$raw"
"$OPENHV" disk create "$tmp/disk.vhdx" --size 100M --format vhdx >/dev/null
head -c $((8 * MiB)) /dev/urandom >"$tmp/ro.img"
truncate -s 512M "$tmp/err.img"
"$OPENHV" disk create "$tmp/4k.vhdx" --size 48M --format vhdx --sector-size 4096 >/dev/null
disks=(--disk "$raw" --disk "$tmp/disk.vhdx" --disk "$tmp/ro.img,ro" --disk "$tmp/err.img"
       --disk "$tmp/4k.vhdx")
if [ $have_iso = 1 ]; then
	mkdir -p "$tmp/isodir"
	head -c $((3 * MiB)) /dev/urandom >"$tmp/isodir/data.bin"
	bounded 60 genisoimage -quiet -o "$tmp/cd.iso" -R "$tmp/isodir" 2>/dev/null || have_iso=0
	[ $have_iso = 1 ] && disks+=(--disk "$tmp/cd.iso,dvd")
fi
log=$tmp/check.log
# The host file of err.img may not grow past 256 MiB: writes beyond fail
# with EFBIG (SIGXFSZ ignored), a real host I/O error without special code.
vm_start "$log" $((256 * 1024)) -v --memory 512M --cpus 2 "${disks[@]}" \
	--cmdline "console=ttyS0 panic=-1 ohv.script=disk-check"
vm_wait "${OHV_GUEST_TIMEOUT:-240}"
t_check "boot 1: guest script ran to the end and powered off (rc=$rc)" \
	sh -c "[ $rc -eq 0 ] && grep -q 'ohv-result=pass' '$log'"
[ "$rc" -eq 0 ] || tail -n 40 "$log" | t_diag
t_check "storvsc binds the controller (protocol negotiated, no init errors)" \
	sh -c "grep -q 'scsi host.*storvsc' '$log' && ! grep -qiE 'storvsc.*(fail|error)' '$log'"

l0=$(disk_line "$log" 0); l1=$(disk_line "$log" 1); l2=$(disk_line "$log" 2)
l3=$(disk_line "$log" 3); l4=$(disk_line "$log" 4)
t_check "LUN 0 raw: 64 MiB, 512-byte sectors, writable ($l0)" \
	[ "$(field "$l0" bytes)" = 67108864 -a "$(field "$l0" lbs)" = 512 -a "$(field "$l0" ro)" = 0 ]
t_check "LUN 1 VHDX: 100 MiB, 512-byte sectors ($l1)" \
	[ "$(field "$l1" bytes)" = 104857600 -a "$(field "$l1" lbs)" = 512 ]
t_check "LUN 2 read-only: 8 MiB, ro=1 ($l2)" [ "$(field "$l2" bytes)" = 8388608 -a "$(field "$l2" ro)" = 1 ]
t_check "LUN 3: 512 MiB ($l3)" [ "$(field "$l3" bytes)" = 536870912 ]
t_check "LUN 4 4Kn VHDX: 48 MiB, 4096-byte logical sectors ($l4)" \
	[ "$(field "$l4" bytes)" = 50331648 -a "$(field "$l4" lbs)" = 4096 ]
t_check "disks are non-rotational, write-back, with discard on writable images" \
	[ "$(field "$l0" rot)" = 0 -a "$(field "$l0" wc)" = write_back -a "$(field "$l0" discard)" != 0 ]
t_check "no phantom devices: exactly the configured LUNs on 0:0:0" \
	[ "$(grep -acE '^ohv-disk=' "$log")" -eq $((5 + have_iso)) ]

for lun in 0 1 4; do
	t_check "LUN $lun: guest write with fsync succeeds and reads back uncached" \
		sh -c "grep -q 'ohv-write-$lun=ok' '$log' && grep -q 'ohv-readback-$lun=ok' '$log' && grep -q 'ohv-lastblock-$lun=ok' '$log'"
done
t_check "raw image holds the guest's data byte for byte" \
	[ "$(region "$raw" 1)" = "$(pattern lun0 | md5)" ]
dl=$(grep -a 'storage: LUN 0: ' "$log" | head -n1 | tr -d '\r')
t_diag <<<"$dl"
if [ -n "$dio" ]; then
	t_check "raw image on a file system with O_DIRECT: the guest's writes went direct ($dl)" \
		sh -c "echo '$dl' | grep -qE 'io_uring I/O, [1-9][0-9]* writes O_DIRECT'"
	# ext4 takes RWF_NOWAIT: reads the host page cache holds (disk-check
	# reads 1 MiB of LUN 0 twice, dropping its own cache in between) are
	# served on the submitting thread, with no engine hand-off.
	inl=$(sed -n 's/.* \([0-9]*\) reads from the page cache inline.*/\1/p' <<<"$dl")
	t_check "raw image on ext4: the guest's second 1 MiB read came from the host page cache inline (${inl:-no} requests, at least 4)" \
		[ "${inl:-0}" -ge 4 ]
else
	t_skip "raw image writes go O_DIRECT" "no host file system with O_DIRECT here (not root?)"
	t_skip "raw image reads served from the page cache inline" "no ext4 scratch file system here (not root?)"
fi
if [ $have_qemu_img = 1 ]; then
	bounded 60 qemu-img convert -f vhdx -O raw "$tmp/disk.vhdx" "$tmp/vhdx.raw" 2>"$tmp/qconv.err"
	t_check "VHDX holds the guest's data byte for byte (read by qemu-img)" \
		[ "$(region "$tmp/vhdx.raw" 1)" = "$(pattern lun1 | md5)" ]
	t_check "qemu-img check passes on the VHDX image after the guest's writes" \
		sh -c "timeout -k 5 60 qemu-img check -f vhdx '$tmp/disk.vhdx' >'$tmp/qcheck.log' 2>&1"
	t_diag <"$tmp/qcheck.log"
else
	t_skip "VHDX holds the guest's data byte for byte" "qemu-img is not installed"
	t_skip "qemu-img check passes on the VHDX image" "qemu-img is not installed"
fi
# qemu-img cannot open 4Kn VHDX; read it back with our own library instead.
bounded 60 "$OPENHV" disk convert "$tmp/4k.vhdx" "$tmp/4k.raw" --format raw >/dev/null 2>&1
t_check "4Kn VHDX holds the guest's data byte for byte (read by openhv disk convert)" \
	[ "$(region "$tmp/4k.raw" 1)" = "$(pattern lun4 | md5)" ]
t_check "openhv disk check passes on both VHDX images" \
	sh -c "timeout -k 5 60 '$OPENHV' disk check '$tmp/disk.vhdx' >/dev/null 2>&1 && timeout -k 5 60 '$OPENHV' disk check '$tmp/4k.vhdx' >/dev/null 2>&1"
grep -a 'ohv-discard=' "$log" | t_diag
t_check "guest discard (UNMAP) succeeds and the range reads zero on the host" \
	sh -c "grep -q 'ohv-discard=ok' '$log' && [ \"\$(dd if='$raw' bs=$MiB skip=4 count=4 2>/dev/null | md5sum | cut -d' ' -f1)\" = \"\$(head -c $((4 * MiB)) /dev/zero | md5sum | cut -d' ' -f1)\" ]"
# Punching a hole needs fallocate support in the host file system.
if python3 -c "import os,sys; f=os.open('$raw', os.O_RDONLY); sys.exit(0 if os.lseek(f, 4<<20, os.SEEK_HOLE) == 4<<20 else 1)" 2>/dev/null; then
	t_ok "discarded range is a hole in the raw image"
else
	t_skip "discarded range is a hole in the raw image" "$(stat -f -c %T "$tmp") under $tmp does not report a hole (no punch-hole support?)"
fi
t_check "read-only disk reads the host content" [ "$(value "$log" ohv-ro-md5)" = "$(head -c $((8 * MiB)) "$tmp/ro.img" | md5)" ]
t_check "read-only disk refuses writes (DATA PROTECT) even with the guest's ro flag cleared" \
	grep -q 'ohv-ro-write=refused' "$log"
t_check "host I/O error (EFBIG past 256 MiB) reaches the guest as a failed write" \
	grep -q 'ohv-err-write=failed' "$log"
grep -a 'ohv-err-dmesg' "$log" | t_diag
t_check "after the I/O error the disk keeps working and the VM keeps running" \
	sh -c "grep -q 'ohv-err-after=ok' '$log' && grep -q 'ohv-alive=yes' '$log'"
chl=$(grep -a '^ohv-storage-channels=' "$log" | head -n1 | tr -d '\r')
t_diag <<<"$chl"
t_check "2 vCPUs: the controller runs on a primary channel and one sub-channel ($chl)" \
	[ "$(field "$chl" ohv-storage-channels)" = 2 ]
t_check "both channels carried I/O" [ "$(field "$chl" used)" = 2 ]
if [ $have_iso = 1 ]; then
	t_check "DVD reads the ISO end to end" [ "$(value "$log" ohv-dvd-md5)" = "$(md5 <"$tmp/cd.iso")" ]
	t_check "DVD refuses writes" grep -q 'ohv-dvd-write=refused' "$log"
else
	t_skip "DVD reads the ISO end to end" "genisoimage is not installed (apt-get install genisoimage)"
	t_skip "DVD refuses writes" "genisoimage is not installed"
fi

# ---- boot 2: fsync, then SIGKILL ----
fimg=${dio:-$tmp}/fsync.img
truncate -s 32M "$fimg"
log=$tmp/fsync.log
vm_start "$log" 0 --memory 512M --disk "$fimg" \
	--cmdline "console=ttyS0 panic=-1 ohv.script=disk-fsync"
# The guest writes, says so, then sleeps: kill openhv itself (vm_pid is
# openhv, not a wrapper) as soon as the line is there, or after 120 s.
for _ in $(seq 1 600); do
	grep -q ohv-fsync-done "$log" && break
	kill -0 "$vm_pid" 2>/dev/null || break
	sleep 0.2
done
kill -KILL "$vm_pid" 2>/dev/null
wait "$vm_pid" 2>/dev/null
t_check "openhv is gone after SIGKILL (no VM left behind)" sh -c "! kill -0 $vm_pid 2>/dev/null"
t_check "guest reported its fsync'ed write" grep -q ohv-fsync-done "$log"
grep -q ohv-fsync-done "$log" || tail -n 30 "$log" | t_diag
t_check "fsync'ed data is in the image after openhv was killed with SIGKILL" \
	[ "$(region "$fimg" 2)" = "$(yes ohv-fsync-pattern | head -c $MiB | md5)" ]
t_done
