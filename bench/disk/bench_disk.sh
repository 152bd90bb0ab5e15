#!/bin/bash
# SPDX-License-Identifier: MIT
# Disk image benchmark: ours (bench_disk, the openhv disk library) vs qemu-io /
# qemu-img on the same files in one run. Not part of the test suite.
#   bench/disk/bench_disk.sh [BUILD_DIR] [SIZE_MIB]
# Prints MB/s or IOPS for each side and the ratio ours/qemu (higher is better).
set -eu
BUILD=$(realpath "${1:-build}")
SIZE=${2:-1024}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OPENHV=$BUILD/src/cli/openhv
BIN=$(mktemp -d)/bench_disk
cc -O2 -std=gnu17 -I"$ROOT/include" -I"$ROOT/src" "$ROOT/bench/disk/bench_disk.c" \
	"$BUILD/src/vhdx/libvhdx.a" "$BUILD/src/base/libohv_base.a" -o "$BIN"
W=$(mktemp -d "${TMPDIR:-/var/tmp}/ohv-bench.XXXXXX")
trap 'rm -rf "$W" "$(dirname "$BIN")"' EXIT
RAND=20000
secs() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo "scale=3; ($t1 - $t0) / 1000000000" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }

echo "# disk benchmark: ${SIZE} MiB dynamic VHDX (32 MiB blocks), 1 MiB sequential requests,"
echo "# $RAND random 4 KiB requests; $(nproc) CPUs; $(uname -r); $(qemu-img --version | head -1)"
"$BIN" cmds seqwrite $SIZE $SIZE 1024 0 >"$W/seqw.cmd"
"$BIN" cmds seqread $SIZE $SIZE 1024 0 >"$W/seqr.cmd"
"$BIN" cmds randwrite $SIZE $RAND 7 0 >"$W/randw.cmd"
"$BIN" cmds randread $SIZE $RAND 11 0 >"$W/randr.cmd"

for side in ours qemu; do
	rm -f "$W/$side.vhdx"
	qemu-img create -q -f vhdx "$W/$side.vhdx" ${SIZE}M
done
drop
T_oursw=$(secs "$BIN" seqwrite "$W/ours.vhdx" $SIZE 1024)
T_qemuw=$(secs sh -c "qemu-io -f vhdx '$W/qemu.vhdx' <'$W/seqw.cmd'")
drop
T_oursr=$(secs "$BIN" seqread "$W/ours.vhdx" $SIZE 1024)
T_qemur=$(secs sh -c "qemu-io -f vhdx '$W/qemu.vhdx' <'$W/seqr.cmd'")
T_oursrw=$(secs "$BIN" randwrite "$W/ours.vhdx" $RAND 7)
T_qemurw=$(secs sh -c "qemu-io -f vhdx '$W/qemu.vhdx' <'$W/randw.cmd'")
T_oursrr=$(secs "$BIN" randread "$W/ours.vhdx" $RAND 11)
T_qemurr=$(secs sh -c "qemu-io -f vhdx '$W/qemu.vhdx' <'$W/randr.cmd'")
head -c ${SIZE}M /dev/urandom >"$W/src.raw"
sync
T_oursc=$(secs "$OPENHV" disk convert "$W/src.raw" "$W/c-ours.vhdx")
T_qemuc=$(secs qemu-img convert -f raw -O vhdx "$W/src.raw" "$W/c-qemu.vhdx")
cmp <(qemu-img convert -f vhdx -O raw "$W/c-ours.vhdx" /dev/stdout) "$W/src.raw" >/dev/null ||
	echo "# WARNING: converted image differs"

mbs() { echo "scale=0; $SIZE / $1" | bc; }
iops() { echo "scale=0; $RAND / $1" | bc; }
printf "%-22s %12s %12s %8s\n" test ours qemu ratio
printf "%-22s %9s MB/s %7s MB/s %8s\n" "seq write 1M" "$(mbs $T_oursw)" "$(mbs $T_qemuw)" "$(ratio $T_qemuw $T_oursw)"
printf "%-22s %9s MB/s %7s MB/s %8s\n" "seq read 1M" "$(mbs $T_oursr)" "$(mbs $T_qemur)" "$(ratio $T_qemur $T_oursr)"
printf "%-22s %9s IOPS %7s IOPS %8s\n" "rand write 4k" "$(iops $T_oursrw)" "$(iops $T_qemurw)" "$(ratio $T_qemurw $T_oursrw)"
printf "%-22s %9s IOPS %7s IOPS %8s\n" "rand read 4k" "$(iops $T_oursrr)" "$(iops $T_qemurr)" "$(ratio $T_qemurr $T_oursrr)"
printf "%-22s %9s MB/s %7s MB/s %8s\n" "convert raw->vhdx" "$(mbs $T_oursc)" "$(mbs $T_qemuc)" "$(ratio $T_qemuc $T_oursc)"
