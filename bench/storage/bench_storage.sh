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
# OHV_BENCH_STATS=1 also reads KVM's counters (debugfs: exits, PIO/MMIO
# exits, injected interrupts, halts) and /proc/stat (context switches, host
# CPU time) at every job boundary and prints them per job and per I/O; a
# poller then runs beside the guest, so take that run's throughput with care.
# (No perf tracepoints: enabling kvm:* tracepoints crashed the emulated host.)
# OHV_BENCH_PASSES=N runs the whole list N times, interleaved (openhv,
# qemu-blk, ..., openhv, qemu-blk, ...), and the table shows each VMM's
# median per job: the machine's load drifts during a run, and interleaving
# spreads the drift over all VMMs.
set -uo pipefail
openhv=$1 kernel=$2 initrd=$3 rootimg=$4 runtime=${5:-10} cpus=${6:-2} mem=${7:-512}
vmms=${OHV_BENCH_VMMS:-openhv qemu-blk qemu-scsi qemu-blk-wb}
alt=${OHV_BENCH_OPENHV_ALT:-}
stats_on=${OHV_BENCH_STATS:-}
passes=${OHV_BENCH_PASSES:-1}
case $passes in ''|*[!0-9]*|0) echo "bench_storage: OHV_BENCH_PASSES=$passes is not a positive number" >&2; exit 1 ;; esac
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

# With OHV_BENCH_STATS: KVM's global counters (all VMs; one runs at a time).
# host_state_reload: roughly the exits that went out to the VMM (userspace).
kvm_stats="exits io_exits mmio_exits host_state_reload irq_injections irq_exits irq_window_exits
	   halt_exits halt_wakeup"
if [ -n "$stats_on" ]; then
	dbg=/sys/kernel/debug
	[ -e $dbg/kvm/exits ] || mount -t debugfs none $dbg 2>/dev/null
	[ -e $dbg/kvm/exits ] || die "OHV_BENCH_STATS: no KVM counters in $dbg/kvm (debugfs)"
fi

# One line: seconds, then each KVM counter, context switches, host CPU busy
# and total (USER_HZ ticks, all CPUs).
stats_snap()
{
	local n out="$(date +%s.%N)"
	for n in $kvm_stats; do
		out="$out $(cat /sys/kernel/debug/kvm/$n 2>/dev/null || echo 0)"
	done
	echo "$out $(awk '$1 == "ctxt" { c = $2 } $1 == "cpu" { busy = $2 + $3 + $4 + $7 + $8;
		tot = busy + $5 + $6 } END { print c, busy, tot }' /proc/stat)"
}

# Read the console of VMM V line by line (from tail -F, so nothing polls
# beside the guest): a snapshot when the guest says fio starts
# ("ohv-fio-disk=") and one as each job's line arrives.
stats_watch()
{
	local v=$1 line j
	: >"$tmp/$v.stats"
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		ohv-fio-disk=*) echo "start $(stats_snap)" >>"$tmp/$v.stats" ;;
		"ohv-fio job="*)
			j=${line#ohv-fio job=}
			echo "${j%% *} $(stats_snap)" >>"$tmp/$v.stats" ;;
		ohv-result=*) break ;;
		esac
	done
}

# Per job: counter deltas per I/O (I/Os = IOPS x RUNTIME), host CPU busy %.
stats_report()
{
	local v=$1
	[ "$(wc -l <"$tmp/$v.stats")" -ge 2 ] || { echo "# $v: no host counters"; return; }
	awk -v v="$v" -v rt="$runtime" -v names="$kvm_stats ctxsw" '
	FILENAME ~ /results$/ { if ($1 == v) { split($2, a, "="); split($3, b, "="); iops[a[2]] = b[2] } next }
	{ nr++; job[nr] = $1; for (i = 2; i <= NF; i++) x[nr, i] = $i; nf = NF }
	END {
		nn = split(names, nm, " ")
		printf "# %s host counters per I/O while each job ran (KVM counters; \"-\": the VM was gone)\n", v
		printf "# %-18s %8s", "job", "I/Os"
		for (k = 1; k <= nn; k++) { w[k] = length(nm[k]) > 6 ? length(nm[k]) : 6; printf " %*s", w[k], nm[k] }
		printf " %9s\n", "host-cpu"
		for (r = 2; r <= nr; r++) {
			n = iops[job[r]] * rt
			printf "# %-18s %8d", job[r], n
			# KVM sums live VMs only: after the guest powered off they drop.
			bad = 0
			for (k = 1; k <= nn; k++) if (x[r, k + 2] < x[r - 1, k + 2]) bad = 1
			for (k = 1; k <= nn; k++) {
				d = x[r, k + 2] - x[r - 1, k + 2]
				printf " %*s", w[k], n && !bad ? sprintf("%.2f", d / n) : "-"
			}
			busy = x[r, nf - 1] - x[r - 1, nf - 1]; tot = x[r, nf] - x[r - 1, nf]
			printf " %8s%%\n", tot ? sprintf("%.0f", 100 * busy / tot) : "-"
		}
	}' "$tmp/results" "$tmp/$v.stats"
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
	local bin=$openhv watcher= tailer=
	[ "$v" = openhv-alt ] && bin=$alt
	: >"$log"
	if [ -n "$stats_on" ]; then
		rm -f "$tmp/$v.fifo"
		mkfifo "$tmp/$v.fifo"
		tail -s 0.2 -n +1 -F "$log" 2>/dev/null >"$tmp/$v.fifo" &
		tailer=$!
		stats_watch "$v" <"$tmp/$v.fifo" &
		watcher=$!
	fi
	case $v in
	openhv|openhv-alt)
		# -v: at exit openhv logs where the disk requests were (a hung guest's
		# last lines then say whether the host still held any).
		timeout -k 5 $timeout "$bin" run -v --kernel "$kernel" --initrd "$initrd" \
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
		sleep 1   # tail -F polls the file every second at worst
		kill "$tailer" 2>/dev/null
		wait "$tailer" "$watcher" 2>/dev/null
	fi
	if ! grep -q 'ohv-result=pass' "$log"; then
		echo "# $v: no result (exit $rc); last lines of its console:"
		tail -n 15 "$log" | tr -d '\r' | sed 's/^/#   /'
		return 1
	fi
	grep -a '^ohv-fio-disk=' "$log" | tr -d '\r' | sed "s/^/# $v: /"
	grep -a '^ohv-fio ' "$log" | tr -d '\r' | sed "s/^ohv-fio /$v /" | tee -a "$tmp/results" |
		sed 's/^/# /'
	[ -z "$stats_on" ] || stats_report "$v"
}

: >"$tmp/results"
for pass in $(seq 1 "$passes"); do
	[ "$passes" -gt 1 ] && echo "# pass $pass of $passes"
	for v in $vmms; do
		t0=$(date +%s)
		run_vmm "$v"
		echo "# $v took $(( $(date +%s) - t0 )) s"
	done
done
[ "$passes" -gt 1 ] && echo "# medians of $passes passes (n = passes with a result)"

# The table: IOPS for 4k jobs, MB/s for 1M jobs; ratio = openhv / that VMM;
# with several passes each cell is the median of that VMM's results.
awk -v vmms="$vmms" '
function median(key,    n, i, k, t, a) {
	n = cnt[key]
	if (!n) return ""
	for (i = 1; i <= n; i++) a[i] = all[key, i] + 0
	for (i = 2; i <= n; i++) { t = a[i]; for (k = i - 1; k >= 1 && a[k] > t; k--) a[k + 1] = a[k]; a[k + 1] = t }
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	v = $1; split($2, jn, "="); j = jn[2]
	for (i = 3; i <= NF; i++) { split($i, kv, "="); all[v, j, kv[1], ++cnt[v, j, kv[1]]] = kv[2] }
	if (!(j in seen)) { seen[j] = 1; order[++nj] = j }
}
END {
	for (key in cnt) val[key] = median(key)
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
