#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build (or find in the cache) the emulated host's kernel and initramfs.
#
# The kernel is Debian's generic linux-image-amd64 (it has 9p and overlayfs as
# modules), fetched with apt-get download and unpacked with dpkg-deb, never
# installed. The initramfs holds busybox-static, tools/ehost/init and the
# modules the init loads, with a depmod'ed module tree. Results live under
# ${OPENHV_CACHE:-$HOME/.cache/openhv}/ehost/<kernel package>_<version>-<hash>
# where the hash covers this script, the init and tools/lib.sh.
#
# Prints KERNEL=<path>, INITRD=<path> and MODULES=<module tree> on stdout.

set -euo pipefail
# The braces make bash read the whole script before running it, so editing
# the file while a run is in progress cannot change that run.
{
OHV_PROG=ehost-run
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib.sh"

# Modules the L1 init loads (modprobe pulls in their dependencies).
L1_MODULES=(virtio_pci 9pnet_virtio 9p overlay virtio_console kvm_amd
	    tun bridge veth br_netfilter nf_tables nft_chain_nat nft_masq)

ohv_need_pkgs busybox-static cpio kmod xz-utils

kpkg=$(ohv_kernel_pkg linux-image-amd64)
kver=$(ohv_pkg_version "$kpkg")
key=${kpkg}_${kver//:/%}-$(ohv_hash "$here/init" "$here/mkl1.sh" "$here/../lib.sh")
out=$OHV_CACHE/ehost/$key

if [[ ! -f $out/.done ]]; then
	ohv_lock ehost
	if [[ ! -f $out/.done ]]; then
		echo "$OHV_PROG: building the emulated host image ($kpkg $kver) in $out" >&2
		src=$(ohv_unpack "$kpkg" "$kver")
		krel=$(ohv_kernel_release "$src")
		rm -rf "$out.tmp"
		mkdir -p "$out.tmp/root"
		root=$out.tmp/root
		ohv_busybox_root "$root"
		ohv_copy_modules "$src" "$krel" "$root" "${L1_MODULES[@]}"
		install -m 0755 "$here/init" "$root/init"
		mkdir -p "$root/job"
		ohv_mkcpio "$root" "$out.tmp/initrd.img"
		# An uncompressed ELF vmlinux with a PVH entry note boots directly
		# (QEMU -kernel), skipping the real-mode setup and the in-guest
		# decompression, which cost about 2.5 s under TCG.
		if grep -qx CONFIG_PVH=y "$src/boot/config-$krel" &&
		   ohv_extract_vmlinux "$src/boot/vmlinuz-$krel" "$out.tmp/vmlinux"; then
			echo vmlinux >"$out.tmp/kernel-name"
		else
			cp "$src/boot/vmlinuz-$krel" "$out.tmp/vmlinuz"
			echo vmlinuz >"$out.tmp/kernel-name"
		fi
		rm -rf "$root" "$out"
		mv "$out.tmp" "$out"
		touch "$out/.done"
		ohv_prune "$OHV_CACHE/ehost"
	fi
	ohv_unlock
fi
ohv_used "$out"

echo "KERNEL=$out/$(cat "$out/kernel-name")"
echo "INITRD=$out/initrd.img"
# The kernel's full module tree (depmod'ed), bound into the emulated host's
# root so that modprobe works there for any module.
moddir=$(ls -d "$OHV_CACHE/pkgs/${kpkg}_${kver//:/%}"/lib/modules/*/ 2>/dev/null | head -n 1)
if [[ -n $moddir && -f $moddir/modules.dep ]]; then
	echo "MODULES=${moddir%/}"
fi
exit
}
