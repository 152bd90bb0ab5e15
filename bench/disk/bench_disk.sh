#!/bin/bash
# SPDX-License-Identifier: MIT
# Disk image benchmark: ours (bench_disk, the openhv disk library) vs qemu-io /
# qemu-img on the same files in one run. Not part of the test suite.
#   bench/disk/bench_disk.sh [BUILD_DIR] [SIZE_MIB] [PASSES]
# Runs every test PASSES times on fresh images, interleaving the two sides, and
# prints the medians as MB/s or IOPS and the ratio ours/qemu (higher is better).
set -eu
BUILD=$(realpath "${1:-build}")
SIZE=${2:-512}
PASSES=${3:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OPENHV=$BUILD/src/cli/openhv
BIN=$(mktemp -d)/bench_disk
cc -O2 -std=gnu17 -I"$ROOT/include" -I"$ROOT/src" "$ROOT/bench/disk/bench_disk.c" \
	"$BUILD/src/vhdx/libvhdx.a" "$BUILD/src/base/libohv_base.a" -o "$BIN"
W=$(mktemp -d "${TMPDIR:-/var/tmp}/ohv-bench.XXXXXX")
trap 'rm -rf "$W" "$(dirname "$BIN")"' EXIT
RAND=10000
secs() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo "scale=3; ($t1 - $t0) / 1000000000" | bc; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }

echo "# disk benchmark: ${SIZE} MiB dynamic VHDX (32 MiB blocks), 1 MiB sequential requests, $PASSES passes,"
echo "# $RAND random 4 KiB requests; $(nproc) CPUs; $(uname -r); $(qemu-img --version | head -1)"
echo "# both sides buffered (qemu-io/qemu-img -t writeback) and flushed at the end"
"$BIN" cmds seqwrite $SIZE $SIZE 1024 0 >"$W/seqw.cmd"
"$BIN" cmds seqread $SIZE $SIZE 1024 0 >"$W/seqr.cmd"
"$BIN" cmds randwrite $SIZE $RAND 7 0 >"$W/randw.cmd"
"$BIN" cmds randread $SIZE $RAND 11 0 >"$W/randr.cmd"
head -c ${SIZE}M /dev/urandom >"$W/src.raw"
qio() { qemu-io -t writeback -f vhdx "$1" <"$2"; }

# One pass of every test on fresh images; times appended to $W/t.<test>.<side>.
pass() {
	for side in ours qemu; do
		rm -f "$W/$side.vhdx" "$W/c-$side.vhdx"
		qemu-img create -q -f vhdx "$W/$side.vhdx" ${SIZE}M
	done
	drop; secs "$BIN" seqwrite "$W/ours.vhdx" $SIZE 1024 >>"$W/t.sw.ours"
	drop; secs qio "$W/qemu.vhdx" "$W/seqw.cmd" >>"$W/t.sw.qemu"
	drop; secs "$BIN" seqread "$W/ours.vhdx" $SIZE 1024 >>"$W/t.sr.ours"
	drop; secs qio "$W/qemu.vhdx" "$W/seqr.cmd" >>"$W/t.sr.qemu"
	drop; secs "$BIN" randwrite "$W/ours.vhdx" $RAND 7 >>"$W/t.rw.ours"
	drop; secs qio "$W/qemu.vhdx" "$W/randw.cmd" >>"$W/t.rw.qemu"
	drop; secs "$BIN" randread "$W/ours.vhdx" $RAND 11 >>"$W/t.rr.ours"
	drop; secs qio "$W/qemu.vhdx" "$W/randr.cmd" >>"$W/t.rr.qemu"
	drop; secs "$OPENHV" disk convert "$W/src.raw" "$W/c-ours.vhdx" >>"$W/t.cv.ours"
	drop; secs qemu-img convert -t writeback -f raw -O vhdx "$W/src.raw" "$W/c-qemu.vhdx" >>"$W/t.cv.qemu"
}
for i in $(seq "$PASSES"); do pass; done
qemu-img convert -f vhdx -O raw "$W/c-ours.vhdx" "$W/back.raw"
cmp "$W/back.raw" "$W/src.raw" >/dev/null || echo "# WARNING: converted image differs"
med() { sort -n "$W/t.$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

mbs() { echo "scale=0; $SIZE / $(med "$1")" | bc; }
iops() { echo "scale=0; $RAND / $(med "$1")" | bc; }
rat() { echo "scale=2; $(med "$1.qemu") / $(med "$1.ours")" | bc; }
printf "%-22s %12s %12s %8s\n" test ours qemu ratio
printf "%-22s %9s MB/s %7s MB/s %8s\n" "seq write 1M" "$(mbs sw.ours)" "$(mbs sw.qemu)" "$(rat sw)"
printf "%-22s %9s MB/s %7s MB/s %8s\n" "seq read 1M (cold)" "$(mbs sr.ours)" "$(mbs sr.qemu)" "$(rat sr)"
printf "%-22s %9s IOPS %7s IOPS %8s\n" "rand write 4k" "$(iops rw.ours)" "$(iops rw.qemu)" "$(rat rw)"
printf "%-22s %9s IOPS %7s IOPS %8s\n" "rand read 4k (cold)" "$(iops rr.ours)" "$(iops rr.qemu)" "$(rat rr)"
printf "%-22s %9s MB/s %7s MB/s %8s\n" "convert raw->vhdx" "$(mbs cv.ours)" "$(mbs cv.qemu)" "$(rat cv)"
