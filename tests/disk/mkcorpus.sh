#!/bin/bash
# SPDX-License-Identifier: MIT
# Regenerates the fuzz seed corpora fuzz/corpus/{vhdx_open,vhdx_log,vhdx_bat,vhd_open}
# from images made by openhv and by qemu-img. Usage: mkcorpus.sh OPENHV DISK_TOOL
set -eu
OPENHV=$(realpath "$1")
TOOL=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
head -c 8M /dev/urandom >data.raw

# Chunked seed for fuzz_vhdx_open: flags, then (u16 length, bytes) for header 1,
# header 2, region table, metadata table, metadata items, BAT, log.
chunked() { # IMG OUT FLAGS
	python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
img, out, flags = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = open(img, 'rb').read()
M = 1 << 20
spots = [(64 << 10, 128), (128 << 10, 128), (192 << 10, 128), (2 * M, 256),
         (2 * M + (64 << 10), 512), (3 * M, 128), (M, 0)]
b = bytes([flags])
for off, n in spots:
    c = d[off:off + n].rstrip(b'\0')
    b += struct.pack('<H', len(c)) + c
open(out, 'wb').write(b)
PY
}
"$OPENHV" disk create dyn.vhdx --size 64M --block-size 1M >/dev/null
"$TOOL" write dyn.vhdx data.raw 1M
"$OPENHV" disk create fix.vhdx --size 8M --type fixed --block-size 2M >/dev/null
"$OPENHV" disk create s4k.vhdx --size 16M --sector-size 4096 >/dev/null
"$OPENHV" disk create --parent dyn.vhdx diff.vhdx >/dev/null
head -c 700K data.raw >part.raw
"$TOOL" write diff.vhdx part.raw 3M
qemu-img create -q -f vhdx -o block_size=1M q.vhdx 32M
qemu-io -f vhdx -c 'write -P 7 0 3M' q.vhdx >/dev/null
O=$ROOT/fuzz/corpus/vhdx_open
mkdir -p "$O"
chunked dyn.vhdx "$O/ours-dynamic" 0
chunked fix.vhdx "$O/ours-fixed" 0
chunked s4k.vhdx "$O/ours-4k" 1
chunked diff.vhdx "$O/ours-diff" 2
chunked q.vhdx "$O/qemu-dynamic" 0

# fuzz_vhdx_log: flags byte 1 (fix checksums), then the used part of a real log.
L=$ROOT/fuzz/corpus/vhdx_log
mkdir -p "$L"
for img in dyn diff; do
	python3 - "$img.vhdx" "$L/ours-$img" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
log = d[1 << 20:(1 << 20) + (16 << 10)].rstrip(b'\0')
open(sys.argv[2], 'wb').write(b'\x01' + log)
PY
done

# fuzz_vhdx_bat: selector byte (bit 0: differencing template), then records of
# (u32 BAT index, u64 entry). Differencing template: chunk ratio 4096 (512-byte
# sectors, 1 MiB blocks), so the first sector bitmap entry is index 4096.
B=$ROOT/fuzz/corpus/vhdx_bat
mkdir -p "$B"
python3 - "$B" <<'PY'
import struct, sys
o = sys.argv[1]
def r(idx, state, mb): return struct.pack('<IQ', idx, state | (mb << 20))
open(o + '/dynamic', 'wb').write(b'\x00' + r(0, 6, 4) + r(2, 2, 0) + r(3, 3, 0) + r(4, 6, 5) + r(5, 1, 0))
open(o + '/diff', 'wb').write(b'\x01' + r(0, 7, 4) + r(1, 6, 5) + r(4096, 6, 6) + r(3, 2, 0))
open(o + '/overlap', 'wb').write(b'\x00' + r(0, 6, 4) + r(1, 6, 4) + r(2, 6, 3) + r(9, 7, 6))
PY

# fuzz_vhd_open: whole small images.
V=$ROOT/fuzz/corpus/vhd_open
mkdir -p "$V"
qemu-img create -q -f vpc -o subformat=dynamic q.vhd 8M
cp q.vhd "$V/qemu-dynamic"
"$OPENHV" disk create small.vhd --size 4M >/dev/null
head -c 4096 data.raw >4k.raw
"$TOOL" write small.vhd 4k.raw 0
"$OPENHV" disk create tiny.vhd --size 3K --type fixed >/dev/null
cp tiny.vhd "$V/ours-fixed"
"$OPENHV" disk create base.vhd --size 1M >/dev/null
"$OPENHV" disk create --parent base.vhd kid.vhd >/dev/null
cp kid.vhd "$V/ours-diff"
# The 4 MiB dynamic image with one 2 MiB block is too big for a seed: keep its metadata.
python3 - small.vhd "$V/ours-dynamic-head" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
open(sys.argv[2], 'wb').write(d[:2048] + d[-512:])
PY
ls -la "$O" "$L" "$B" "$V"
