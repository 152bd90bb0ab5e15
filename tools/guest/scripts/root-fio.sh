# SPDX-License-Identifier: MIT
# Guest script "root-fio" (root disk from tools/mkrootdisk.sh, which has fio):
# runs fio on the one disk that is not the root (storvsc sdX, virtio vdX),
# direct I/O with libaio: 4k random read and write at queue depth 1 and 32,
# 1 MiB sequential read and write at queue depth 8. One line per job:
#   ohv-fio job=<name> iops=<n> mbps=<MB/s> lat_us=<mean completion latency>
# Knobs: ohv.fio_runtime=SEC (default 10), ohv.fio_size=SIZE (default 256M),
# ohv.fio_engine=libaio|io_uring|psync (default libaio).
. /ohv/lib.sh

runtime=$(ohv_arg fio_runtime 10)
size=$(ohv_arg fio_size 256M)
engine=$(ohv_arg fio_engine libaio)
case $runtime in ''|*[!0-9]*) ohv_fail "ohv.fio_runtime must be a number of seconds" ;; esac
case $size in ''|*[!0-9KMG]*) ohv_fail "ohv.fio_size must look like 256M" ;; esac
case $engine in libaio|io_uring|psync) ;; *) ohv_fail "ohv.fio_engine must be libaio, io_uring or psync" ;; esac
command -v fio >/dev/null || ohv_fail "no fio on this root (build it with tools/mkrootdisk.sh)"

for m in hv_storvsc sd_mod virtio_blk virtio_scsi; do
	modprobe -q "$m" 2>/dev/null
done
rootdev=$(awk '$2 == "/" { d = $1 } END { print d }' /proc/mounts)
rootdev=${rootdev#/dev/}
dev=
n=0
while [ -z "$dev" ]; do
	for b in /sys/block/sd* /sys/block/vd*; do
		[ -e "$b" ] || continue
		name=${b##*/}
		[ "$name" != "$rootdev" ] && [ -b "/dev/$name" ] && { dev=$name; break; }
	done
	[ -n "$dev" ] && break
	[ "$n" -lt 200 ] || ohv_fail "no data disk besides the root $rootdev after 20 s"
	sleep 0.1
	n=$((n + 1))
done
echo "ohv-fio-disk=$dev root=$rootdev bytes=$(($(cat /sys/block/$dev/size) * 512)) engine=$engine"

# job NAME RW BS IODEPTH
job()
{
	out=$(fio --name="$1" --filename="/dev/$dev" --rw="$2" --bs="$3" --iodepth="$4" \
		--ioengine="$engine" --direct=1 --size="$size" --runtime="$runtime" --time_based \
		--norandommap --randrepeat=0 --minimal 2>&1) || {
		echo "ohv-fio-error job=$1: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
		ohv_fail "fio job $1 failed"
	}
	# Terse v3: 7/8 read KiB/s and IOPS, 40 read mean latency (us);
	# 48/49 the same for writes, 81 write mean latency.
	echo "$out" | tail -n 1 | awk -F';' -v j="$1" '{
		if ($49 > $8) { bw = $48; iops = $49; lat = $81 } else { bw = $7; iops = $8; lat = $40 }
		printf "ohv-fio job=%s iops=%d mbps=%.1f lat_us=%.1f\n", j, iops, bw * 1024 / 1e6, lat }'
}

job randread-4k-qd1 randread 4k 1
job randread-4k-qd32 randread 4k 32
job randwrite-4k-qd1 randwrite 4k 1
job randwrite-4k-qd32 randwrite 4k 32
job seqread-1m-qd8 read 1M 8
job seqwrite-1m-qd8 write 1M 8
ohv_pass
ohv_poweroff
