#!/bin/bash
# SPDX-License-Identifier: MIT
# ehost-timeout: 600  (seconds for tools/check.sh; normally 2-3 minutes in the emulated host)
# Real guests through the management service, part 3 (tests/daemon/guest-diff.sh):
# a differencing VHDX chain through the service and a kill -9 of the worker
# right after a guest fsync.
# Needs /dev/kvm (tools/with-kvm) and OPENHV_BUILD_DIR, OPENHV_KERNEL,
# OPENHV_INITRD (see tools/check.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/daemon-env.sh"
exec "$here/../daemon/guest-diff.sh"
