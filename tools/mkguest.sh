#!/bin/bash
# SPDX-License-Identifier: MIT
#
# mkguest.sh: build (or find in the cache) the default openhv test guest.
#
# Kernel: Debian's linux-image-cloud-amd64 (6.1), fetched with apt-get download
# and unpacked with dpkg-deb, never installed. Initramfs: busybox-static with
# its applet links, tools/guest/init as /init, tools/guest/scripts/*.sh under
# /ohv/scripts, the kernel's Hyper-V, SCSI, virtio and vsock modules with their
# dependencies (depmod'ed, so "modprobe hv_vmbus" works), and hv_kvp_daemon
# from hyperv-daemons with the host libraries it needs (host and guest are
# both Debian 12).
#
# The result is cached under ${OPENHV_CACHE:-$HOME/.cache/openhv}/guest/, keyed
# on the package versions and a hash of tools/guest/, this script and
# tools/lib.sh. Prints "KERNEL=<path>" and "INITRD=<path>" on stdout.
#
# usage: tools/mkguest.sh [--force]

set -euo pipefail
# The braces make bash read the whole script before running it, so editing
# the file while a run is in progress cannot change that run.
{
OHV_PROG=mkguest
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

force=
case ${1:-} in
--force) force=1 ;;
"") ;;
-h|--help) sed -n '4,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) ohv_die "unknown argument $1 (usage: tools/mkguest.sh [--force])" ;;
esac

GUEST_MODULES=(hv_vmbus hv_utils hv_balloon hv_storvsc scsi_transport_fc hv_netvsc hv_sock
	       sd_mod sr_mod ext4 virtio_pci virtio_mmio virtio_blk virtio_net virtio_console)

ohv_need_pkgs busybox-static cpio kmod

gdir=$here/guest
[[ -f $gdir/init && -d $gdir/scripts ]] || ohv_die "tools/guest/init or tools/guest/scripts is missing"
mapfile -t inputs < <(find "$gdir" -type f | LC_ALL=C sort)
# iperf3 and ethtool for the network test and benchmark, when the host has
# them (Debian packages iperf3, ethtool); part of the cache key.
net_tools=()
for t in /usr/bin/iperf3 /usr/sbin/ethtool; do
	[[ -x $t ]] && net_tools+=("$t")
done
inputs+=("${net_tools[@]}")

kpkg=$(ohv_kernel_pkg linux-image-cloud-amd64)
kver=$(ohv_pkg_version "$kpkg")
dver=$(ohv_pkg_version hyperv-daemons)
key=${kpkg}_${kver//:/%}-hvd_${dver//:/%}-$(ohv_hash "${inputs[@]}" "$here/mkguest.sh" "$here/lib.sh")
out=$OHV_CACHE/guest/$key

if [[ -n $force || ! -f $out/.done ]]; then
	ohv_lock guest
	if [[ -n $force || ! -f $out/.done ]]; then
		echo "$OHV_PROG: building the default guest ($kpkg $kver) in $out" >&2
		src=$(ohv_unpack "$kpkg" "$kver")
		hvd=$(ohv_unpack hyperv-daemons "$dver")
		krel=$(ohv_kernel_release "$src")
		rm -rf "$out.tmp"
		root=$out.tmp/root
		mkdir -p "$root"
		ohv_busybox_root "$root"
		ohv_copy_modules "$src" "$krel" "$root" "${GUEST_MODULES[@]}"

		install -m 0755 "$gdir/init" "$root/init"
		mkdir -p "$root/ohv/scripts"
		install -m 0644 "$gdir/lib.sh" "$root/ohv/lib.sh"
		install -m 0644 "$gdir"/scripts/*.sh "$root/ohv/scripts/"

		# KVP daemon and its helper scripts (bash scripts: busybox runs them).
		install -D -m 0755 "$hvd/usr/sbin/hv_kvp_daemon" "$root/usr/sbin/hv_kvp_daemon"
		mkdir -p "$root/usr/libexec/hypervkvpd" "$root/var/lib/hyperv"
		cp -a "$hvd/usr/libexec/hypervkvpd/." "$root/usr/libexec/hypervkvpd/"
		[[ -e $root/bin/bash ]] || ln -s busybox "$root/bin/bash"
		while read -r lib; do
			[[ -n $lib ]] || continue
			mkdir -p "$root/$(dirname "$lib")"
			cp -fL "$lib" "$root/$lib"
		done < <(ldd "$hvd/usr/sbin/hv_kvp_daemon" |
			 awk '/=> \// { print $3 } /^\t\// { print $1 }')
		[[ -e $root/lib64/ld-linux-x86-64.so.2 ]] ||
			ohv_die "could not collect hv_kvp_daemon's libraries (ldd failed?)"

		for t in "${net_tools[@]}"; do
			install -D -m 0755 "$t" "$root/usr/bin/${t##*/}"
			while read -r lib; do
				[[ -n $lib ]] || continue
				mkdir -p "$root/$(dirname "$lib")"
				cp -fL "$lib" "$root/$lib"
			done < <(ldd "$t" | awk '/=> \// { print $3 } /^\t\// { print $1 }')
		done

		# hv_kvp_daemon reports the OS from os-release (the guest is Debian 12 too).
		cp -L /etc/os-release "$root/etc/os-release" 2>/dev/null
		printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
		printf 'root:x:0:\n' >"$root/etc/group"
		ohv_mkcpio "$root" "$out.tmp/initrd.img"
		cp "$src/boot/vmlinuz-$krel" "$out.tmp/vmlinuz"
		echo "$krel" >"$out.tmp/kernel-release"
		rm -rf "$root" "$out"
		mv "$out.tmp" "$out"
		touch "$out/.done"
		ohv_prune "$OHV_CACHE/guest"
	fi
	ohv_unlock
fi
ohv_used "$out"

echo "KERNEL=$out/vmlinuz"
echo "INITRD=$out/initrd.img"
exit
}
