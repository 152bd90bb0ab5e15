#!/bin/bash
# SPDX-License-Identifier: MIT
# Network benchmark, openhv vs QEMU virtio-net, in one run on the same
# (possibly emulated) host: iperf3 both ways and ping latency.
# usage: bench/network/run.sh [SECS] [RUNS]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
build=${OPENHV_BUILD:-build}
tools/deps.sh
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null
eval "$(tools/mkguest.sh)"
exec tools/with-kvm bash "$top/bench/network/bench_network.sh" "$top/$build/src/cli/openhv" \
	"$KERNEL" "$INITRD" "$@"
