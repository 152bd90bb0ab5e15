# SPDX-License-Identifier: MIT
# Guest script "disk-check": the storage checks of tests/guest/test_storage.sh
# in one boot. LUN layout set up by the host: 0 raw, 1 VHDX, 2 read-only raw,
# 3 raw whose host file cannot grow past 256 MiB (I/O errors), 4 4Kn VHDX,
# 5 DVD (optional). Prints ohv-* KEY=VALUE lines the host compares.
. /ohv/lib.sh
. /ohv/scripts/disk-lib.sh

disk_load || ohv_fail "hv_storvsc did not load"
disk_list

# pattern SEED: 1 MiB of "ohv-SEED-pattern\n" lines (the host makes the same).
pattern() { yes "ohv-$1-pattern" | head -c 1048576; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# Raw, VHDX and 4Kn VHDX: write 1 MiB at 1 MiB with fsync, read back uncached.
for lun in 0 1 4; do
	d=$(disk_by_lun $lun) || { echo "ohv-write-$lun=nodisk"; continue; }
	pattern "lun$lun" >/tmp/pat
	if dd if=/tmp/pat of=/dev/$d bs=4096 seek=256 conv=fsync 2>/dev/null; then
		echo "ohv-write-$lun=ok"
	else
		echo "ohv-write-$lun=failed"
	fi
	drop
	want=$(md5sum </tmp/pat | cut -d' ' -f1)
	got=$(dd if=/dev/$d bs=4096 skip=256 count=256 2>/dev/null | md5sum | cut -d' ' -f1)
	[ "$want" = "$got" ] && echo "ohv-readback-$lun=ok" || echo "ohv-readback-$lun=bad"
	# Once more, uncached here but cached on the host now (the read above
	# filled the host's page cache): the host serves it without its I/O
	# engine (tests/guest/test_storage.sh checks the count).
	if [ "$lun" = 0 ]; then
		drop
		dd if=/dev/$d of=/dev/null bs=4096 skip=256 count=256 2>/dev/null
	fi
	# The last sector is addressable, the one after it is not.
	sz=$(blockdev --getsize64 /dev/$d)
	dd if=/dev/$d of=/dev/null bs=4096 skip=$((sz / 4096 - 1)) count=1 2>/dev/null &&
		echo "ohv-lastblock-$lun=ok" || echo "ohv-lastblock-$lun=bad"
done

# Discard on the raw disk: 4 MiB at 4 MiB, written first, then discarded.
d=$(disk_by_lun 0)
pattern discard | dd of=/dev/$d bs=4096 seek=1024 conv=fsync 2>/dev/null
pattern discard | dd of=/dev/$d bs=4096 seek=1280 conv=fsync 2>/dev/null
pattern discard | dd of=/dev/$d bs=4096 seek=1536 conv=fsync 2>/dev/null
pattern discard | dd of=/dev/$d bs=4096 seek=1792 conv=fsync 2>/dev/null
if blkdiscard -o 4194304 -l 4194304 /dev/$d 2>/dev/null; then
	echo "ohv-discard=ok"
else
	echo "ohv-discard=failed"
fi

# Read-only disk: the content reads; writes are refused by the device even
# after the guest's own read-only flag is cleared.
d=$(disk_by_lun 2)
echo "ohv-ro-md5=$(dd if=/dev/$d bs=1M count=8 2>/dev/null | md5sum | cut -d' ' -f1)"
echo "ohv-ro-flag=$(cat /sys/block/$d/ro)"
blockdev --setrw /dev/$d 2>/dev/null
if dd if=/dev/zero of=/dev/$d bs=4096 count=1 conv=fsync 2>/dev/null; then
	echo "ohv-ro-write=accepted"
else
	echo "ohv-ro-write=refused"
fi

# Host I/O error: writing past what the host file may grow to fails; the
# disk (and the VM) keep working afterwards.
d=$(disk_by_lun 3)
pattern err >/tmp/pat
if dd if=/tmp/pat of=/dev/$d bs=4096 seek=76800 conv=fsync 2>/dev/null; then
	echo "ohv-err-write=accepted"
else
	echo "ohv-err-write=failed"
fi
if dd if=/tmp/pat of=/dev/$d bs=4096 seek=0 conv=fsync 2>/dev/null; then
	echo "ohv-err-after=ok"
else
	echo "ohv-err-after=failed"
fi
dmesg | grep -E "sd.*(critical|error|Sense Key|Add. Sense)" | tail -n 4 | sed 's/^/ohv-err-dmesg: /'

# DVD: readable end to end, writes refused.
if d=$(disk_by_lun 5); then
	echo "ohv-dvd-dev=$d"
	echo "ohv-dvd-md5=$(dd if=/dev/$d bs=2048 2>/dev/null | md5sum | cut -d' ' -f1)"
	if dd if=/dev/zero of=/dev/$d bs=2048 count=1 conv=fsync 2>/dev/null; then
		echo "ohv-dvd-write=accepted"
	else
		echo "ohv-dvd-write=refused"
	fi
fi
# Sub-channels (the host offers one per vCPU beyond the first): how many
# channels the controller has, and reads pinned to each CPU so that every
# channel carries I/O; then the guest->host signal count of each channel.
d=$(disk_by_lun 0)
for cpu in $(seq 0 $(($(nproc) - 1))); do
	# Blocks nobody read yet, so the reads reach the device from that CPU.
	taskset -c $cpu dd if=/dev/$d of=/dev/null bs=4096 skip=$((8192 + cpu * 512)) count=256 2>/dev/null
done
for dev in /sys/bus/vmbus/devices/*; do
	[ "$(cat $dev/class_id 2>/dev/null)" = "{ba6163d9-04a1-4d29-b605-72e2ffb1dc7f}" ] || continue
	n=0; used=0; counts=
	for c in $dev/channels/*; do
		[ -d "$c" ] || continue
		n=$((n + 1))
		# guest->host signals plus host->guest interrupts on this channel
		e=$(( $(cat $c/events 2>/dev/null || echo 0) + $(cat $c/interrupts 2>/dev/null || echo 0) ))
		counts="$counts ${c##*/}:$e"
		[ "$e" -gt 0 ] && used=$((used + 1))
	done
	echo "ohv-storage-channels=$n used=$used cpus=$(nproc) events=$counts"
done
echo "ohv-alive=yes"
ohv_pass
ohv_poweroff
