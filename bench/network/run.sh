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
# The emulated host passes on only OPENHV_* variables: hand ours over by env.
bench_env=()
while IFS= read -r name; do
	bench_env+=("$name=${!name}")
done < <(compgen -e | grep -E '^OHV_BENCH_[A-Z_]*$')
exec tools/with-kvm env "${bench_env[@]}" bash "$top/bench/network/bench_network.sh" \
	"$top/$build/src/cli/openhv" "$KERNEL" "$INITRD" "$@"
