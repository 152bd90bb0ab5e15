#!/bin/bash
# SPDX-License-Identifier: MIT
# Real guests through the management service: openhvd starts sandboxed
# openhv-worker processes that run the VM engine (tests/daemon/guest.sh).
# Needs /dev/kvm (tools/with-kvm) and OPENHV_BUILD_DIR, OPENHV_KERNEL,
# OPENHV_INITRD (see tools/check.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${OPENHV_BUILD_DIR:?set OPENHV_BUILD_DIR to the meson build directory}
export KERNEL=${OPENHV_KERNEL:?} INITRD=${OPENHV_INITRD:?}
export OPENHVD=$build/src/daemon/openhvd OPENHV=$build/src/cli/openhv
export OPENHV_WORKER=$build/src/worker/openhv-worker
exec "$here/../daemon/guest.sh"
