#!/bin/bash
# SPDX-License-Identifier: MIT
# Storage benchmark in one run on the same (possibly emulated) host.
# usage: bench/storage/run.sh [MIB] [raw|vhdx]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
build=${OPENHV_BUILD:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null
eval "$(tools/mkguest.sh)"
exec tools/with-kvm bash "$top/bench/storage/bench_storage.sh" "$top/$build/src/cli/openhv" \
	"$KERNEL" "$INITRD" "$@"
