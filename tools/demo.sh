#!/bin/bash
# SPDX-License-Identifier: MIT
# The main job: install what is missing, build openhv, build the default
# guest (Debian's stock cloud kernel + a busybox initramfs) and boot it in an
# openhv child partition with 2 virtual processors. The guest prints a short
# summary and powers off. Without hardware virtualization this runs inside
# the emulated host (tools/with-kvm says so).
#
# Extra arguments go to `openhv run`, e.g. tools/demo.sh --cpus 4 --memory 1G
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${OPENHV_BUILD:-build}

tools/deps.sh
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null
eval "$(tools/mkguest.sh)"
echo "openhv: booting $(basename "$KERNEL") with $(basename "$INITRD")" >&2
exec tools/with-kvm "$top/$build/src/cli/openhv" run --kernel "$KERNEL" --initrd "$INITRD" \
	--memory 512M --cpus 2 --cmdline "console=ttyS0 quiet panic=-1" "$@"
