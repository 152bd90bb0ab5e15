#!/bin/bash
# SPDX-License-Identifier: MIT
# Storage benchmark, openhv storvsp (hv_storvsc) vs QEMU virtio-blk and
# virtio-scsi, in one run on one host. Every VMM boots the same stock guest
# kernel and initramfs with its root on the same root disk image
# (tools/mkrootdisk.sh, which has fio) and runs the guest script root-fio on
# a second, data disk backed by the same raw file: 4k random read and write at
# queue depth 1 and 32, 1 MiB sequential read and write at depth 8, direct
# I/O, libaio, RUNTIME seconds each. The data file lives on ext4 on a RAM
# disk (brd), so the host side is never the bottleneck and O_DIRECT works.
# Run it where /dev/kvm is (bench/storage/run.sh does: tools/with-kvm).
#
# usage: bench_storage.sh OPENHV KERNEL INITRD ROOT.img [RUNTIME] [CPUS] [MEMORY_MIB]
# Environment: OHV_BENCH_VMMS (default "openhv qemu-blk qemu-scsi qemu-blk-wb"),
# OHV_BENCH_OPENHV_ALT=BINARY adds "openhv-alt", a second openhv build (e.g.
# before a change), run like "openhv"; the ratios are always of "openhv".
# OHV_BENCH_PERF=1 also counts host events (KVM exits, exits to the VMM,
# interrupts, PIO, context switches) system-wide while the fio jobs run and
# prints them per job and per I/O; a poller then runs beside the guest, so
# take the throughput of such a run with care.
set -uo pipefail
openhv=$1 kernel=$2 initrd=$3 rootimg=$4 runtime=${5:-10} cpus=${6:-2} mem=${7:-512}
vmms=${OHV_BENCH_VMMS:-openhv qemu-blk qemu-scsi qemu-blk-wb}
alt=${OHV_BENCH_OPENHV_ALT:-}
perf_on=${OHV_BENCH_PERF:-}
if [ -n "$alt" ]; then
	[ -x "$alt" ] || { echo "bench_storage: OHV_BENCH_OPENHV_ALT=$alt is not an executable" >&2; exit 1; }
	vmms="$vmms openhv-alt"
fi
fio_size=256
tmp=$(mktemp -d /var/tmp/ohv-stbench.XXXXXX)
mnt=$tmp/mnt
brd=
cleanup()
{
	mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
	[ -n "$brd" ] && rmmod brd 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
die() { echo "bench_storage: $*" >&2; exit 1; }

for v in $vmms; do
	case $v in
	openhv|openhv-alt|qemu-blk|qemu-scsi|qemu-blk-wb) ;;
	*) die "unknown VMM '$v' in OHV_BENCH_VMMS (openhv qemu-blk qemu-scsi qemu-blk-wb)" ;;
	esac
done
[ -f "$rootimg" ] || die "no root disk image $rootimg (tools/mkrootdisk.sh ROOT.img --format raw)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing (apt-get install qemu-system-x86)"

# The data disk: a file on ext4 on a 512 MiB RAM disk.
mkdir -p "$mnt"
modprobe ext4 2>/dev/null
if [ -e /dev/ram0 ] || modprobe brd rd_nr=1 rd_size=$((512 * 1024)) 2>/dev/null; then
	brd=1
	mkfs.ext4 -q -F /dev/ram0 >/dev/null 2>&1 && mount /dev/ram0 "$mnt" ||
		die "cannot make ext4 on /dev/ram0"
	where="ext4 on a 512 MiB brd RAM disk"
else
	die "the brd module is missing (modprobe brd): no RAM disk for the data file"
fi
data=$mnt/data.raw
dd if=/dev/zero of="$data" bs=1M count=$((fio_size + 64)) status=none conv=fsync ||
	die "cannot write the data file"

cmdline="console=ttyS0 panic=-1 ohv.script=root-fio ohv.fio_runtime=$runtime ohv.fio_size=${fio_size}M"
timeout=$((120 + 8 * (runtime + 10)))
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, host kernel $(uname -r)," \
     "guest: ${cpus} vCPUs, ${mem} MiB, data file: $where"
echo "# $(qemu-system-x86_64 --version | head -n 1)"

# Host events counted with OHV_BENCH_PERF=1 (those this kernel has).
perf_events=
if [ -n "$perf_on" ]; then
	command -v perf >/dev/null || die "OHV_BENCH_PERF needs perf (apt-get install linux-perf)"
	tr=/sys/kernel/tracing
	[ -d $tr/events ] || mount -t tracefs nodev $tr 2>/dev/null ||
		die "OHV_BENCH_PERF: cannot mount tracefs on $tr"
	for e in kvm:kvm_exit kvm:kvm_userspace_exit kvm:kvm_pio kvm:kvm_mmio kvm:kvm_msi_set_irq \
		 kvm:kvm_apic_accept_irq sched:sched_switch sched:sched_wakeup; do
		[ -d "$tr/events/${e%%:*}/${e#*:}" ] && perf_events=${perf_events:+$perf_events,}$e
	done
	[ -n "$perf_events" ] || die "OHV_BENCH_PERF: no kvm/sched tracepoints in $tr/events"
	echo "# perf events: $perf_events"
fi

# With OHV_BENCH_PERF: watch the console LOG of VMM V; count host events from
# the guest's "ohv-fio-disk=" line (fio starts) to its result, in 250 ms
# intervals, and note when each job's line arrives (seconds since the start).
perf_watch()
{
	local v=$1 log=$2 pid= t0= seen=0 n now
	: >"$tmp/$v.marks"
	while [ ! -e "$tmp/$v.vmm-done" ]; do
		if [ -z "$pid" ]; then
			if grep -aq '^ohv-fio-disk=' "$log" 2>/dev/null; then
				perf stat -a -x, -I 250 -e "$perf_events" -o "$tmp/$v.perf" \
					-- sleep 100000 &
				pid=$!
				t0=$(date +%s.%N)
			fi
		else
			n=$(grep -ac '^ohv-fio job=' "$log")
			if [ "$n" -gt "$seen" ]; then
				now=$(date +%s.%N)
				grep -a '^ohv-fio job=' "$log" | tr -d '\r' | sed -n "$((seen + 1)),${n}p" |
					awk -v t="$(echo "$now - $t0" | bc)" '{ split($2, a, "="); print t, a[2] }' \
					>>"$tmp/$v.marks"
				seen=$n
			fi
			grep -aq 'ohv-result=' "$log" && break
		fi
		sleep 0.25
	done
	if [ -n "$pid" ]; then
		kill -INT "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
}

# Per job: events per second and per I/O (I/Os = IOPS x RUNTIME).
perf_report()
{
	local v=$1
	[ -s "$tmp/$v.perf" ] && [ -s "$tmp/$v.marks" ] || { echo "# $v: no host event counts"; return; }
	awk -v v="$v" -v rt="$runtime" '
	FILENAME ~ /marks$/ { mt[++nm] = $1; mj[nm] = $2; next }
	FILENAME ~ /results$/ { if ($1 == v) { split($2, a, "="); split($3, b, "="); iops[a[2]] = b[2] } next }
	/^#/ || split($0, f, ",") < 4 { next }
	{
		t = f[1] - 0.125; ev = f[4]; sub(/^[a-z]+:/, "", ev)
		if (!(ev in evseen)) { evseen[ev] = 1; evs[++ne] = ev }
		for (k = 1; k <= nm; k++) if (t <= mt[k]) { c[mj[k], ev] += f[2]; break }
	}
	END {
		printf "# %s host events per I/O while each job ran (system-wide, %s)\n", v, "250 ms intervals"
		printf "# %-18s %10s", "job", "I/Os"
		for (e = 1; e <= ne; e++) printf " %16s", evs[e]
		printf "\n"
		for (k = 1; k <= nm; k++) {
			j = mj[k]; n = iops[j] * rt
			printf "# %-18s %10d", j, n
			for (e = 1; e <= ne; e++) printf " %16s", n ? sprintf("%.2f", c[j, evs[e]] / n) : "-"
			printf "\n"
		}
	}' "$tmp/$v.marks" "$tmp/results" "$tmp/$v.perf"
}

run_vmm()
{
	local v=$1 log=$tmp/$1.log root=$tmp/root-$1.img
	cp --sparse=always "$rootimg" "$root"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	local q=(qemu-system-x86_64 -M q35 -accel kvm -cpu host -m "$mem" -smp "$cpus"
		 -nodefaults -no-user-config -display none -no-reboot -serial stdio
		 -kernel "$kernel" -initrd "$initrd"
		 -drive "file=$root,format=raw,if=none,id=root,cache=writeback"
		 -device virtio-blk-pci,drive=root)
	local bin=$openhv watcher=
	[ "$v" = openhv-alt ] && bin=$alt
	rm -f "$tmp/$v.vmm-done"
	: >"$log"
	if [ -n "$perf_on" ]; then
		perf_watch "$v" "$log" &
		watcher=$!
	fi
	case $v in
	openhv|openhv-alt)
		timeout -k 5 $timeout "$bin" run --kernel "$kernel" --initrd "$initrd" \
			--memory "${mem}M" --cpus "$cpus" --disk "$root" --disk "$data" \
			--cmdline "$cmdline root=LABEL=ohv-root" </dev/null >"$log" 2>&1 ;;
	qemu-blk)
		timeout -k 5 $timeout "${q[@]}" -append "$cmdline root=/dev/vda" \
			-drive "file=$data,format=raw,if=none,id=data,cache=none,aio=io_uring" \
			-device virtio-blk-pci,drive=data </dev/null >"$log" 2>&1 ;;
	qemu-blk-wb)
		timeout -k 5 $timeout "${q[@]}" -append "$cmdline root=/dev/vda" \
			-drive "file=$data,format=raw,if=none,id=data,cache=writeback,aio=io_uring" \
			-device virtio-blk-pci,drive=data </dev/null >"$log" 2>&1 ;;
	qemu-scsi)
		timeout -k 5 $timeout "${q[@]}" -append "$cmdline root=/dev/vda" \
			-drive "file=$data,format=raw,if=none,id=data,cache=none,aio=io_uring" \
			-device virtio-scsi-pci,id=scsi0 -device scsi-hd,drive=data,bus=scsi0.0 \
			</dev/null >"$log" 2>&1 ;;
	esac
	local rc=$?
	if [ -n "$watcher" ]; then
		touch "$tmp/$v.vmm-done"
		wait "$watcher"
	fi
	if ! grep -q 'ohv-result=pass' "$log"; then
		echo "# $v: no result (exit $rc); last lines of its console:"
		tail -n 15 "$log" | tr -d '\r' | sed 's/^/#   /'
		return 1
	fi
	grep -a '^ohv-fio-disk=' "$log" | tr -d '\r' | sed "s/^/# $v: /"
	grep -a '^ohv-fio ' "$log" | tr -d '\r' | sed "s/^ohv-fio /$v /" | tee -a "$tmp/results" |
		sed 's/^/# /'
	[ -z "$perf_on" ] || perf_report "$v"
}

: >"$tmp/results"
for v in $vmms; do
	t0=$(date +%s)
	run_vmm "$v"
	echo "# $v took $(( $(date +%s) - t0 )) s"
done

# The table: IOPS for 4k jobs, MB/s for 1M jobs; ratio = openhv / that VMM.
awk -v vmms="$vmms" '
{
	v = $1; split($2, jn, "="); j = jn[2]
	for (i = 3; i <= NF; i++) { split($i, kv, "="); val[v, j, kv[1]] = kv[2] }
	if (!(j in seen)) { seen[j] = 1; order[++nj] = j }
}
END {
	nv = split(vmms, vs, " ")
	printf "%-18s", "job"
	for (k = 1; k <= nv; k++) printf " %14s", vs[k]
	for (k = 1; k <= nv; k++) if (vs[k] != "openhv") printf " %14s", "vs " vs[k]
	printf "\n"
	for (n = 1; n <= nj; n++) {
		j = order[n]; m = (j ~ /-1m-/) ? "mbps" : "iops"; unit = (m == "mbps") ? " MB/s" : " IOPS"
		printf "%-18s", j
		for (k = 1; k <= nv; k++) {
			x = val[vs[k], j, m]
			if (x == "") printf " %14s", "-"; else printf " %14s", sprintf("%.0f%s", x, unit)
		}
		for (k = 1; k <= nv; k++) {
			if (vs[k] == "openhv") continue
			x = val["openhv", j, m]; y = val[vs[k], j, m]
			if (x == "" || y == "" || y + 0 == 0) printf " %14s", "-"
			else printf " %14s", sprintf("%.2fx", x / y)
		}
		printf "\n"
	}
	printf "\nmean completion latency (us)\n%-18s", "job"
	for (k = 1; k <= nv; k++) printf " %14s", vs[k]
	printf "\n"
	for (n = 1; n <= nj; n++) {
		j = order[n]; printf "%-18s", j
		for (k = 1; k <= nv; k++) { x = val[vs[k], j, "lat_us"]; printf " %14s", (x == "") ? "-" : x }
		printf "\n"
	}
}' "$tmp/results"
