#!/bin/bash
# SPDX-License-Identifier: MIT
# Storage throughput of openhv (storvsp + hv_storvsc): sequential 1 MiB
# write with fsync and uncached read of a raw image with busybox dd in the
# guest (guest script disk-bench). Runs where /dev/kvm is (use
# bench/storage/run.sh). usage: bench_storage.sh OPENHV KERNEL INITRD [MIB] [FORMAT]
set -uo pipefail
openhv=$1 kernel=$2 initrd=$3 mb=${4:-256} fmt=${5:-raw}
tmp=$(mktemp -d /tmp/ohv-stbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [ "$fmt" = raw ]; then
	truncate -s "${mb}M" "$tmp/disk.img"
else
	"$openhv" disk create "$tmp/disk.img" --size "${mb}M" --format "$fmt" >/dev/null || exit 1
fi
timeout -k 5 900 "$openhv" run --kernel "$kernel" --initrd "$initrd" --memory 512M \
	--disk "$tmp/disk.img" --cmdline "console=ttyS0 panic=-1 ohv.script=disk-bench" \
	</dev/null >"$tmp/log" 2>&1
line=$(grep -a 'ohv-bench-mb=' "$tmp/log" | tr -d '\r')
if [ -z "$line" ]; then
	echo "bench_storage: the guest printed no result; last lines:" >&2
	tail -n 20 "$tmp/log" >&2
	exit 1
fi
echo "openhv storvsp $fmt: $line"
