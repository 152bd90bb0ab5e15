#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A/B of the guest->host signalling path: the same guest runs the "hv-sigbench"
# script (4 KiB O_DIRECT reads at queue depth 1 from a synthetic SCSI disk, so
# every request rings its channel) with doorbells (ioeventfd, no exit to the
# VMM) and with OPENHV_NO_DOORBELLS=1 (a port-I/O exit per signal), alternating
# ROUNDS times. Runs where /dev/kvm is: on machines without hardware
# virtualization, use tools/with-kvm (the emulated host):
#   tools/with-kvm --share /var/tmp -- bench/hyperv/sigbench.sh
# Needs OPENHV_BIN (default build/src/cli/openhv), OPENHV_KERNEL and
# OPENHV_INITRD (tools/mkguest.sh prints them).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
openhv=${OPENHV_BIN:-$here/build/src/cli/openhv}
: "${OPENHV_KERNEL:?set OPENHV_KERNEL (eval \"\$(tools/mkguest.sh)\" prints it)}"
: "${OPENHV_INITRD:?set OPENHV_INITRD}"
rounds=${ROUNDS:-2}
work=$(mktemp -d /var/tmp/ohv-sigbench.XXXXXX)
trap 'rm -rf "$work"' EXIT

printf '%-10s %8s %s\n' path iops "signals (kvm/exit)"
for ((i = 0; i < rounds; i++)); do
	for mode in doorbell exit; do
		truncate -s 64M "$work/disk.img"
		if [[ $mode == exit ]]; then export OPENHV_NO_DOORBELLS=1; else unset OPENHV_NO_DOORBELLS; fi
		timeout 600 "$openhv" run -v --kernel "$OPENHV_KERNEL" --initrd "$OPENHV_INITRD" \
			--memory 512M --cpus 2 --no-reboot --disk "$work/disk.img" \
			--cmdline "console=ttyS0 panic=-1 quiet ohv.script=hv-sigbench" \
			</dev/null >"$work/log" 2>&1
		iops=$(grep -aoE 'ohv-sigbench-iops=[0-9]+' "$work/log" | cut -d= -f2)
		sig=$(grep -aoE 'signals: [0-9]+ by doorbell in KVM, [0-9]+ by doorbell exit' "$work/log" |
			awk '{print $2 "/" $7}')
		sig=${sig:-"?"}
		[[ -n $iops ]] || { echo "run failed ($mode); log:" >&2; tail -5 "$work/log" >&2; exit 1; }
		printf '%-10s %8s %s\n' "$mode" "$iops" "$sig"
	done
done
