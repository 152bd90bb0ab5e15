#!/bin/bash
# SPDX-License-Identifier: MIT
# ehost-timeout: 1800  (seconds for tools/check.sh; normally 15-18 minutes in the emulated host)
# Real guests through the management service: openhvd starts sandboxed
# openhv-worker processes that run the VM engine (tests/daemon/guest.sh), then
# the workers' cgroup v2 limits (tests/daemon/cgroup.sh).
# Needs /dev/kvm (tools/with-kvm) and OPENHV_BUILD_DIR, OPENHV_KERNEL,
# OPENHV_INITRD (see tools/check.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${OPENHV_BUILD_DIR:?set OPENHV_BUILD_DIR to the meson build directory}
export KERNEL=${OPENHV_KERNEL:?} INITRD=${OPENHV_INITRD:?}
export OPENHVD=$build/src/daemon/openhvd OPENHV=$build/src/cli/openhv
export OPENHV_WORKER=$build/src/worker/openhv-worker
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
