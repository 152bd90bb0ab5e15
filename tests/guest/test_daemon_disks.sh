#!/bin/bash
# SPDX-License-Identifier: MIT
# ehost-timeout: 1200  (seconds for tools/check.sh; normally about 10 minutes in the emulated host)
# Real guests through the management service, part 2 (tests/daemon/guest-disks.sh):
# two disks and a NIC passed to the sealed worker, disk hot-add/hot-remove,
# a reboot inside the worker, then several guests at once with one worker
# killed.
# Needs /dev/kvm (tools/with-kvm) and OPENHV_BUILD_DIR, OPENHV_KERNEL,
# OPENHV_INITRD (see tools/check.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/daemon-env.sh"
exec "$here/../daemon/guest-disks.sh"
