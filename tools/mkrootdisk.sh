#!/bin/bash
# SPDX-License-Identifier: MIT
#
# mkrootdisk.sh: build a bootable root disk for the openhv test guest.
#
# The root file system is ext4, made with "mkfs.ext4 -d" from a directory
# (no loop mounts), then written as VHDX (or raw). It holds:
#   - busybox-static with its applet links;
#   - /sbin/init = tools/guest/init, which runs ohv.script=NAME from
#     /ohv/scripts (tools/guest/scripts/*.sh), exactly as in the initramfs;
#   - the stock cloud kernel's modules for Hyper-V (vmbus, storvsc, netvsc,
#     utils, balloon, sock), SCSI disks and CD-ROMs, and virtio (blk, scsi,
#     net, pci, mmio), depmod'ed;
#   - the executables of the Debian packages named with --packages (default:
#     fio) with every shared library they load. Packages missing on this
#     machine are installed with apt-get first (host and guest are both
#     Debian 12, so the host's binaries run in the guest).
# The ext4 image is built once per input set and cached under
# ${OPENHV_CACHE:-~/.cache/openhv}/rootdisk/ (key: kernel, busybox, libc and
# package versions, size, a hash of this script and tools/lib.sh); each call
# copies it, writes the current tools/guest/ files into the copy with debugfs
# (seconds, works offline) and writes a fresh OUT.
#
# Boot it with the default test guest's kernel and initramfs, whose /init
# loads the storage drivers, waits for root=, mounts it and switches to it:
#   eval "$(tools/mkguest.sh)"
#   tools/mkrootdisk.sh root.vhdx --size 2G
#   openhv run --kernel "$KERNEL" --initrd "$INITRD" --disk root.vhdx \
#       --cmdline "console=ttyS0 root=/dev/sda ohv.script=info"
# root= also takes UUID=... or LABEL=ohv-root; add "ro" to mount it read-only.
#
# usage: tools/mkrootdisk.sh OUT [--size SIZE] [--format vhdx|raw]
#                            [--packages "fio ..."] [--force]
# OUT's format defaults to its extension (.img/.raw: raw, else VHDX). VHDX is
# written with $OPENHV_BIN (or openhv on PATH) "disk convert", else qemu-img.
# Prints "ROOTDISK=<OUT>" and "ROOTUUID=<uuid>" on stdout.

set -euo pipefail
# Read the whole script before running it (safe against edits during a run).
{
OHV_PROG=mkrootdisk
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

usage()
{
	sed -n '4,36p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

out=
size=2G
format=
packages=fio
force=
while (($#)); do
	case $1 in
	--size) [[ -n ${2:-} ]] || ohv_die "--size needs a value (e.g. --size 2G)"
		size=$2; shift 2 ;;
	--format) [[ ${2:-} == vhdx || ${2:-} == raw ]] || ohv_die "--format must be vhdx or raw"
		  format=$2; shift 2 ;;
	--packages) (($# >= 2)) || ohv_die "--packages needs a list (e.g. --packages \"fio\")"
		    packages=$2; shift 2 ;;
	--force) force=1; shift ;;
	-h|--help) usage; exit 0 ;;
	-*) ohv_die "unknown option $1 (see tools/mkrootdisk.sh --help)" ;;
	*) [[ -z $out ]] || ohv_die "only one output file, got $out and $1"
	   out=$1; shift ;;
	esac
done
[[ -n $out ]] || ohv_die "no output file given (usage: tools/mkrootdisk.sh OUT.vhdx [--size 2G])"
if [[ -z $format ]]; then
	case $out in
	*.img|*.raw) format=raw ;;
	*) format=vhdx ;;
	esac
fi

# Size: a number with an optional K/M/G suffix (powers of 1024), 64M..64G.
if [[ ! $size =~ ^([0-9]{1,6})([KkMmGg]?)$ ]]; then
	ohv_die "--size $size: give a size like 512M or 2G"
fi
n=$((10#${BASH_REMATCH[1]}))
case ${BASH_REMATCH[2]} in
K|k) bytes=$((n * 1024)) ;;
M|m) bytes=$((n * 1024 * 1024)) ;;
G|g) bytes=$((n * 1024 * 1024 * 1024)) ;;
*) bytes=$n ;;
esac
((bytes >= 64 * 1024 * 1024 && bytes <= 64 * 1024 * 1024 * 1024)) ||
	ohv_die "--size $size: the root disk must be between 64M and 64G"
((bytes % (1024 * 1024) == 0)) || ohv_die "--size $size: use a whole number of MiB"

for p in $packages; do
	[[ $p =~ ^[a-z0-9][a-z0-9.+-]+$ ]] || ohv_die "--packages: '$p' is not a Debian package name"
done

ROOT_MODULES=(hv_vmbus hv_utils hv_balloon hv_storvsc scsi_transport_fc hv_netvsc hv_sock
	      sd_mod sr_mod virtio_pci virtio_mmio virtio_blk virtio_scsi virtio_net virtio_console)

# shellcheck disable=SC2086 # the package list is split on purpose
ohv_need_pkgs busybox-static e2fsprogs kmod $packages

gdir=$here/guest
[[ -f $gdir/init && -d $gdir/scripts ]] || ohv_die "tools/guest/init or tools/guest/scripts is missing"
mapfile -t inputs <<<"$(find "$gdir" -type f | LC_ALL=C sort)"
# The emulated host's chroot has no /dev/fd, which bash needs for <(...) (used
# by the tools/lib.sh helpers when the root disk is built there).
if [[ ! -e /dev/fd && -n ${OPENHV_EHOST:-} ]]; then
	ln -s /proc/self/fd /dev/fd 2>/dev/null || true
fi

kpkg=$(ohv_kernel_pkg linux-image-cloud-amd64)
kver=$(ohv_pkg_version "$kpkg")
# Versions of everything copied from this machine.
# shellcheck disable=SC2086
vers=$(dpkg-query -W -f '${Package}=${Version}\n' busybox-static libc6 $packages | LC_ALL=C sort)
# The cached image holds everything but /sbin/init and /ohv, which change
# often (every new guest script): they are written into each copy with
# debugfs, so the key does not depend on tools/guest/.
key=${kpkg}_${kver//:/%}-$((bytes >> 20))M-$( {
	printf '%s\n' "$vers"
	ohv_hash "$here/mkrootdisk.sh" "$here/lib.sh"
} | sha256sum | cut -c1-16)
cdir=$OHV_CACHE/rootdisk/$key
# A stable file system UUID per cache entry (root=UUID=... works across rebuilds of OUT).
uuid=$(printf '%s' "$key" | sha256sum |
       sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/')

build_tree()
{
	local root=$1 src krel p f
	src=$(ohv_unpack "$kpkg" "$kver")
	krel=$(ohv_kernel_release "$src")
	ohv_busybox_root "$root"
	mkdir -p "$root"/{var/tmp,var/lib,var/log,home,opt,srv,media}
	chmod 1777 "$root/tmp" "$root/var/tmp"
	ohv_copy_modules "$src" "$krel" "$root" "${ROOT_MODULES[@]}"

	# /sbin/init and /ohv come per copy (add_guest_files).
	rm -f "$root/sbin/init" "$root/init"

	# Package contents: executables with their libraries, other files as they are.
	for p in $packages; do
		while read -r f; do
			case $f in
			/usr/share/doc/*|/usr/share/doc-base/*|/usr/share/man/*|/usr/share/info/*|/usr/share/lintian/*) continue ;;
			/usr/share/bug/*|/etc/init.d/*|/lib/systemd/*|/usr/lib/systemd/*) continue ;;
			esac
			if [[ -d $f ]]; then
				continue
			elif [[ -L $f ]]; then
				(cd / && cp -a --parents "${f#/}" "$root/")
			elif [[ -f $f ]]; then
				if [[ $(head -c 4 "$f" | od -An -c | tr -d ' ') == '177ELF' ]]; then
					ohv_copy_with_libs "$root" "$f"
				else
					(cd / && cp -a --parents "${f#/}" "$root/")
				fi
			fi
		done <<<"$(dpkg -L "$p")"
	done
	if [[ -n $packages && ! -e $root/lib64/ld-linux-x86-64.so.2 ]]; then
		ohv_die "no dynamic loader was copied for $packages (ldd failed?)"
	fi
	mkdir -p "$root/etc"
	printf '/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n' >"$root/etc/ld.so.conf"
	ldconfig -r "$root" 2>/dev/null || true

	cp -L /etc/os-release "$root/etc/os-release" 2>/dev/null || true
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	printf 'openhv-guest\n' >"$root/etc/hostname"
	printf 'UUID=%s / ext4 defaults 0 1\n' "$uuid" >"$root/etc/fstab"
	printf '%s\n' "$krel" >"$root/etc/ohv-kernel-release"
	printf 'openhv root disk built by tools/mkrootdisk.sh (%s)\n%s\n' "$key" "$vers" \
		>"$root/etc/ohv-rootdisk"
}

if [[ -n $force || ! -f $cdir/.done ]]; then
	ohv_lock rootdisk
	if [[ -n $force || ! -f $cdir/.done ]]; then
		echo "$OHV_PROG: building the root disk ($kpkg, ${bytes}B, packages: ${packages:-none}) in $cdir" >&2
		rm -rf "$cdir.tmp"
		trap 'rm -rf "$cdir.tmp"' EXIT
		mkdir -p "$cdir.tmp/root"
		build_tree "$cdir.tmp/root"
		# -d copies the tree (owners included); no journal tuning, the stock defaults.
		ohv_quiet mkfs.ext4 -q -F -t ext4 -L ohv-root -U "$uuid" -E root_owner=0:0 \
			-d "$cdir.tmp/root" "$cdir.tmp/root.img" "$((bytes >> 10))k" ||
			ohv_die "mkfs.ext4 -d failed (is the root tree larger than --size $size?)"
		rm -rf "$cdir.tmp/root" "$cdir"
		mv "$cdir.tmp" "$cdir"
		touch "$cdir/.done"
		trap - EXIT
		ohv_prune "$OHV_CACHE/rootdisk"
	fi
	ohv_unlock
fi
ohv_used "$cdir"

# add_guest_files IMG: write tools/guest/init as /sbin/init and lib.sh and
# scripts/*.sh under /ohv into the ext4 image (debugfs, no mount), then check it.
add_guest_files()
{
	local img=$1 f
	{
		echo "write $gdir/init /sbin/init"
		echo "set_inode_field /sbin/init mode 0100755"
		echo "mkdir /ohv"
		echo "mkdir /ohv/scripts"
		echo "write $gdir/lib.sh /ohv/lib.sh"
		for f in "$gdir"/scripts/*.sh; do
			[[ $f != *[[:space:]]* ]] || ohv_die "guest script name with white space: $f"
			echo "write $f /ohv/scripts/${f##*/}"
		done
	} >"$img.cmds"
	ohv_quiet debugfs -w -f "$img.cmds" "$img" || ohv_die "debugfs could not add the guest files to $img"
	rm -f "$img.cmds"
	ohv_quiet e2fsck -fn "$img" || ohv_die "the root file system in $img does not check clean after adding the guest files"
}

rm -f "$out"
case $format in
raw)
	cp --sparse=always "$cdir/root.img" "$out" || ohv_die "cannot write $out"
	add_guest_files "$out" ;;
vhdx)
	work=$(mktemp "$out.XXXXXX.raw") || ohv_die "cannot write next to $out"
	trap 'rm -f "$work" "$work.cmds"' EXIT
	cp --sparse=always "$cdir/root.img" "$work" || ohv_die "cannot write $work"
	add_guest_files "$work"
	ohv_bin=${OPENHV_BIN:-$(command -v openhv || true)}
	if [[ -n $ohv_bin && -x $ohv_bin ]]; then
		ohv_quiet "$ohv_bin" disk convert "$work" "$out" --format vhdx ||
			ohv_die "openhv disk convert to $out failed"
	elif command -v qemu-img >/dev/null; then
		ohv_quiet qemu-img convert -f raw -O vhdx -o subformat=dynamic "$work" "$out" ||
			ohv_die "qemu-img convert to $out failed"
	else
		ohv_die "cannot write VHDX: set OPENHV_BIN to the openhv binary or install qemu-utils"
	fi
	rm -f "$work"
	trap - EXIT ;;
esac

echo "ROOTDISK=$out"
echo "ROOTUUID=$uuid"
exit
}
