# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Sourced by the test_daemon* scripts: where the service, the CLI, the worker
# and the guest kernel are (set by tools/check.sh).
build=${OPENHV_BUILD_DIR:?set OPENHV_BUILD_DIR to the meson build directory}
export KERNEL=${OPENHV_KERNEL:?} INITRD=${OPENHV_INITRD:?}
export OPENHVD=$build/src/daemon/openhvd OPENHV=$build/src/cli/openhv
export OPENHV_WORKER=$build/src/worker/openhv-worker
