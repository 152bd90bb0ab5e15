# SPDX-License-Identifier: MIT
# Helpers for the disk-* guest scripts (sourced, busybox sh). Not a script
# of its own: running it as ohv.script=disk-lib does nothing.

# Load the storage drivers and wait (up to 20 s) for the SCSI scan to settle:
# the number of sd*/sr* devices stays the same for 2 s.
disk_load()
{
	modprobe hv_vmbus || return 1
	modprobe hv_storvsc || return 1
	modprobe sd_mod 2>/dev/null
	modprobe sr_mod 2>/dev/null
	last=-1
	stable=0
	i=0
	while [ $i -lt 40 ]; do
		n=$(ls -d /sys/block/sd* /sys/block/sr* 2>/dev/null | wc -l)
		if [ "$n" = "$last" ] && [ "$n" -gt 0 ]; then
			stable=$((stable + 1))
			[ $stable -ge 4 ] && break
		else
			stable=0
		fi
		last=$n
		sleep 0.5
		i=$((i + 1))
	done
	[ -e /dev/sda ] || mdev -s 2>/dev/null
	return 0
}

# One line per SCSI block device: name, H:C:T:L, bytes, sector size,
# read-only flag, vendor/model, rotational, discard limit.
disk_list()
{
	for b in /sys/block/sd* /sys/block/sr*; do
		[ -e "$b" ] || continue
		n=$(basename "$b")
		hctl=$(basename "$(readlink -f "$b/device")")
		echo "ohv-disk=$n hctl=$hctl bytes=$(($(cat "$b/size") * 512))" \
			"lbs=$(cat "$b/queue/logical_block_size")" \
			"pbs=$(cat "$b/queue/physical_block_size") ro=$(cat "$b/ro")" \
			"model=$(cat "$b/device/vendor" | tr -d ' ')/$(cat "$b/device/model" | tr -d ' ')" \
			"rot=$(cat "$b/queue/rotational") discard=$(cat "$b/queue/discard_max_bytes")" \
			"wc=$(cat "$b/queue/write_cache" | tr ' ' _)"
	done
}

# The block device at LUN $1 (path 0, target 0), e.g. "sda".
disk_by_lun()
{
	for b in /sys/block/sd* /sys/block/sr*; do
		[ -e "$b/device" ] || continue
		case $(basename "$(readlink -f "$b/device")") in
		*:0:0:"$1") basename "$b"; return 0 ;;
		esac
	done
	return 1
}
