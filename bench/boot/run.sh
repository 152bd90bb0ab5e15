#!/bin/bash
# SPDX-License-Identifier: MIT
# Boot benchmark, openhv vs QEMU, in one run on the same (possibly emulated) host.
# usage: bench/boot/run.sh [--runs N] [--cpus N] [--memory MIB]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
build=${OPENHV_BUILD:-build}
tools/deps.sh
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null
eval "$(tools/mkguest.sh)"
exec tools/with-kvm python3 "$top/bench/boot/bench_boot.py" "$top/$build/src/cli/openhv" \
	"$KERNEL" "$INITRD" "$@"
