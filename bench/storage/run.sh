#!/bin/bash
# SPDX-License-Identifier: MIT
# Storage benchmark: fio in the guest, openhv storvsp vs QEMU virtio-blk and
# virtio-scsi on the same backing file, in one run on the same (possibly
# emulated) host; prints a table with IOPS or MB/s and the ratios.
# Not part of the test suite. Takes about 10 minutes in the emulated host
# (OHV_BENCH_OPENHV_ALT=BINARY adds a second openhv build to compare).
#
# usage: bench/storage/run.sh [RUNTIME_SEC] [CPUS] [MEMORY_MIB]
# Environment: OPENHV_BUILD (build dir, default build), OHV_BENCH_VMMS
# (subset of "openhv qemu-blk qemu-scsi qemu-blk-wb"), OHV_BENCH_OPENHV_ALT, OHV_BENCH_STATS
# (see bench_storage.sh), OPENHV_EHOST_LOCK.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
build=${OPENHV_BUILD:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" src/cli/openhv >/dev/null
eval "$(tools/mkguest.sh)"
root=$(mktemp -d "${TMPDIR:-/var/tmp}/ohv-stbench-root.XXXXXX")
trap 'rm -rf "$root"' EXIT
tools/mkrootdisk.sh "$root/root.img" --format raw --size 1G >/dev/null
# The emulated host passes on only OPENHV_* variables: hand ours over by env.
bench_env=()
while IFS= read -r name; do
	bench_env+=("$name=${!name}")
done < <(compgen -e | grep -E '^OHV_BENCH_[A-Z_]*$')
tools/with-kvm --timeout 1500 env "${bench_env[@]}" bash "$top/bench/storage/bench_storage.sh" \
	"$top/$build/src/cli/openhv" "$KERNEL" "$INITRD" "$root/root.img" "$@"
