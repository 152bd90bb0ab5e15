#!/bin/bash
# SPDX-License-Identifier: MIT
# ehost-timeout: 900  (seconds for tools/check.sh; normally 5-7 minutes in the emulated host)
# Real guests through the management service: openhvd starts sandboxed
# openhv-worker processes that run the VM engine (tests/daemon/guest.sh:
# power-off, console, pause/resume, crash isolation, integration services),
# then the workers' cgroup v2 limits (tests/daemon/cgroup.sh) and devices
# through the service (tests/daemon/devices.sh). Disks and several guests
# are in test_daemon_disks, the differencing chain in test_daemon_diff: one
# emulated host each, so an emulated-host failure costs one part.
# Needs /dev/kvm (tools/with-kvm) and OPENHV_BUILD_DIR, OPENHV_KERNEL,
# OPENHV_INITRD (see tools/check.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/daemon-env.sh"
"$here/../daemon/guest.sh"
rc=$?
[ "$rc" -eq 125 ] && exit 125   # emulated-host failure (tests/guest/l2-fault.sh)
# cgroup v2 limits on workers: the emulated host's kernel has the full
# hierarchy; mount it when its init did not.
if ! awk '$3 == "cgroup2"' /proc/mounts | grep -q .; then
	mkdir -p /run/ohv-cgroup2 && mount -t cgroup2 none /run/ohv-cgroup2 2>/dev/null
fi
"$here/../daemon/cgroup.sh" || rc=1
# Disks, TAPs and virtual-switch ports through the service (idle engine): the
# emulated host's kernel has the bridge module this machine may lack.
"$here/../daemon/devices.sh" || rc=1
exit $rc
