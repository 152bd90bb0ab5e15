# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Shared shell helpers for the openhv tools (sourced by bash scripts, never run).
#
# They fetch Debian packages into a private cache without installing them, pick
# kernel modules with their dependencies out of an unpacked kernel package, and
# assemble initramfs images from busybox-static. Everything is written under
# ${OPENHV_CACHE:-$HOME/.cache/openhv}. Diagnostics go to stderr only, so the
# callers can keep stdout for their own results.

OHV_PROG=${OHV_PROG:-${0##*/}}
OHV_CACHE=${OPENHV_CACHE:-${HOME:-/root}/.cache/openhv}

ohv_die()
{
	echo "$OHV_PROG: $*" >&2
	exit 1
}

ohv_note()
{
	[[ -n ${OHV_VERBOSE:-} ]] && echo "$OHV_PROG: $*" >&2
	return 0
}

# Quiet command runner: its output lands on stderr only if it fails.
ohv_quiet()
{
	local out
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" | tail -n 20 >&2
		return 1
	fi
	return 0
}

# ohv_need_pkgs PKG...: make sure the Debian packages are installed; install
# the missing ones with apt-get (running "apt-get update" once if needed).
ohv_need_pkgs()
{
	local p missing=()
	for p in "$@"; do
		if [[ $(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null) != installed ]]; then
			missing+=("$p")
		fi
	done
	((${#missing[@]})) || return 0
	if ((EUID != 0)); then
		ohv_die "missing Debian packages: ${missing[*]} (install them: sudo apt-get install -y ${missing[*]})"
	fi
	echo "$OHV_PROG: installing missing Debian packages: ${missing[*]}" >&2
	if ! DEBIAN_FRONTEND=noninteractive ohv_quiet apt-get install -y --no-install-recommends \
	     "${missing[@]}"; then
		ohv_quiet apt-get update || ohv_die "apt-get update failed; check the network and apt sources"
		DEBIAN_FRONTEND=noninteractive ohv_quiet apt-get install -y --no-install-recommends \
			"${missing[@]}" ||
			ohv_die "could not install ${missing[*]} with apt-get; install them by hand"
	fi
}

# ohv_lock NAME: take an exclusive lock (fd 9) on a cache lock file, so that two
# runs building the same cache entry do not trample each other.
ohv_lock()
{
	mkdir -p "$OHV_CACHE" || ohv_die "cannot create the cache directory $OHV_CACHE (set OPENHV_CACHE)"
	exec 9>"$OHV_CACHE/.$1.lock" || ohv_die "cannot open lock file in $OHV_CACHE"
	flock 9 || ohv_die "cannot lock $OHV_CACHE/.$1.lock"
}

ohv_unlock()
{
	exec 9>&-
}

# ohv_apt_memo KEY CMD...: run an apt-cache query, remembering its output
# until apt's package lists or configuration change (apt-cache takes ~0.7 s).
ohv_apt_memo()
{
	local key=$1 f out
	shift
	f=$OHV_CACHE/.apt-memo/$key
	if [[ -s $f && -z $(find /var/lib/apt/lists /etc/apt -maxdepth 1 -newer "$f" 2>/dev/null |
			     head -n 1) ]]; then
		cat "$f"
		return 0
	fi
	out=$("$@") || return 1
	[[ -n $out ]] || return 1
	mkdir -p "${f%/*}" && printf '%s\n' "$out" >"$f.$$" && mv -f "$f.$$" "$f"
	printf '%s\n' "$out"
}

ohv_candidate()
{
	ohv_apt_memo "policy-$1" apt-cache policy "$1" 2>/dev/null |
		awk '$1 == "Candidate:" && $2 != "(none)" { print $2 }'
}

ohv_image_dep()
{
	ohv_apt_memo "depends-$1" apt-cache depends "$1" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

# ohv_pkg_version PKG: candidate version of a Debian package (prints it).
ohv_pkg_version()
{
	local v
	v=$(ohv_candidate "$1")
	if [[ -z $v ]]; then
		ohv_quiet apt-get update || true
		v=$(ohv_candidate "$1")
	fi
	[[ -n $v ]] || ohv_die "Debian package $1 is unknown to apt (run apt-get update)"
	printf '%s\n' "$v"
}

# ohv_kernel_pkg META: resolve a kernel meta package (linux-image-amd64) to the
# versioned image package it depends on (linux-image-6.1.0-NN-amd64).
ohv_kernel_pkg()
{
	local p
	p=$(ohv_image_dep "$1")
	if [[ -z $p ]]; then
		ohv_quiet apt-get update || true
		p=$(ohv_image_dep "$1")
	fi
	[[ -n $p ]] || ohv_die "cannot resolve $1 to a kernel image package (apt-cache depends $1)"
	printf '%s\n' "$p"
}

# ohv_unpack PKG VERSION: download PKG=VERSION with apt-get download and unpack
# it with dpkg-deb -x into the cache; prints the unpacked directory.
ohv_unpack()
{
	local pkg=$1 ver=$2 dir deb tmp
	dir=$OHV_CACHE/pkgs/${pkg}_${ver//:/%}
	if [[ -f $dir/.done ]]; then
		printf '%s\n' "$dir"
		return 0
	fi
	mkdir -p "$OHV_CACHE/debs" "$OHV_CACHE/pkgs" || ohv_die "cannot write to $OHV_CACHE"
	deb=$(ls "$OHV_CACHE/debs/${pkg}_${ver#*:}_"*.deb 2>/dev/null | head -n 1)
	if [[ -z $deb ]]; then
		echo "$OHV_PROG: downloading $pkg $ver" >&2
		# apt drops privileges to _apt, which must be able to write the directory.
		tmp=$(mktemp -d "$OHV_CACHE/debs/.dl.XXXXXX") || ohv_die "cannot write to $OHV_CACHE/debs"
		chmod 0777 "$tmp"
		if ! (cd "$tmp" && ohv_quiet apt-get download "$pkg=$ver"); then
			rm -rf "$tmp"
			ohv_die "apt-get download $pkg=$ver failed (run apt-get update, check the network)"
		fi
		mv "$tmp"/*.deb "$OHV_CACHE/debs/" && rmdir "$tmp"
		deb=$(ls "$OHV_CACHE/debs/${pkg}_${ver#*:}_"*.deb 2>/dev/null | head -n 1)
		[[ -n $deb ]] || ohv_die "apt-get download $pkg=$ver produced no .deb file"
	fi
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"
	dpkg-deb -x "$deb" "$dir.tmp" || { rm -rf "$dir.tmp"; ohv_die "cannot unpack $deb (delete it and retry)"; }
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
	touch "$dir/.done"
	printf '%s\n' "$dir"
}

# ohv_kernel_release DIR: the single kernel release found in an unpacked
# linux-image package.
ohv_kernel_release()
{
	local rels=("$1"/lib/modules/*/) rel
	((${#rels[@]} == 1)) && [[ -d ${rels[0]} ]] ||
		ohv_die "expected exactly one kernel in $1/lib/modules (delete $1 and retry)"
	rel=${rels[0]%/}
	printf '%s\n' "${rel##*/}"
}

# ohv_copy_modules SRCROOT KREL DESTROOT MODULE...: copy the modules and
# everything they depend on from an unpacked kernel package into DESTROOT and
# run depmod there, so that modprobe works inside the image.
ohv_copy_modules()
{
	local src=$1 krel=$2 dest=$3 m deps line path
	shift 3
	if [[ ! -f $src/lib/modules/$krel/modules.dep ]]; then
		depmod -b "$src" "$krel" || ohv_die "depmod failed on $src"
	fi
	mkdir -p "$dest/lib/modules/$krel"
	for m in "$@"; do
		deps=$(modprobe -d "$src" -S "$krel" --show-depends "$m" 2>&1) ||
			ohv_die "kernel module $m not found in $src ($deps)"
		while read -r line; do
			case $line in
			insmod\ *)
				path=${line#insmod }
				path=${path%% *}
				path=${path#"$src"}
				mkdir -p "$dest/${path%/*}"
				cp -f "$src$path" "$dest$path"
				;;
			builtin\ *) ;;
			*) ohv_die "unexpected modprobe output for $m: $line" ;;
			esac
		done <<<"$deps"
	done
	cp -f "$src/lib/modules/$krel"/modules.{builtin,builtin.modinfo,order} \
		"$dest/lib/modules/$krel/" 2>/dev/null
	depmod -b "$dest" "$krel" || ohv_die "depmod failed on $dest"
}

# ohv_extract_vmlinux BZIMAGE OUT: unpack the xz-compressed ELF kernel inside
# a bzImage; fails unless the result is an ELF file. Use it only for kernels
# built with CONFIG_PVH=y (QEMU then enters them directly).
ohv_extract_vmlinux()
{
	local off
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$1" | head -n 1 | cut -d: -f1)
	[[ -n $off ]] || return 1
	# xz stops after the first stream, so tail may die of SIGPIPE: only xz counts.
	tail -c "+$((off + 1))" "$1" 2>/dev/null | xz -dc --single-stream >"$2.tmp" 2>/dev/null
	((PIPESTATUS[1] == 0)) || { rm -f "$2.tmp"; return 1; }
	if [[ $(head -c 4 "$2.tmp" | od -An -c | tr -d ' ') == '177ELF' ]]; then
		mv -f "$2.tmp" "$2"
		return 0
	fi
	rm -f "$2.tmp"
	return 1
}

# ohv_busybox_root DIR: install busybox-static with all its applet links.
ohv_busybox_root()
{
	local d=$1 a
	mkdir -p "$d"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root,mnt}
	cp /bin/busybox "$d/bin/busybox" || ohv_die "busybox-static is not installed (/bin/busybox)"
	while read -r a; do
		[[ $a == bin/busybox || -z $a ]] && continue
		mkdir -p "$d/${a%/*}"
		ln -sf /bin/busybox "$d/$a"
	done < <(/bin/busybox --list-full)
	# busybox-static's list may omit the basics some scripts rely on.
	for a in sh mount modprobe poweroff reboot; do
		[[ -e $d/bin/$a || -e $d/sbin/$a ]] || ln -sf busybox "$d/bin/$a"
	done
}

# ohv_copy_with_libs DESTROOT FILE...: copy host executables and the shared
# libraries they load (host and guest are both Debian 12).
ohv_copy_with_libs()
{
	local d=$1 f lib
	shift
	for f in "$@"; do
		mkdir -p "$d/$(dirname "$f")"
		cp -fL "$f" "$d/$f"
		while read -r lib; do
			[[ -n $lib ]] || continue
			mkdir -p "$d/$(dirname "$lib")"
			cp -fL "$lib" "$d/$lib"
		done < <(ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^\t\// { print $1 }')
	done
}

# ohv_mkcpio DIR OUT: pack DIR as a gzip-compressed newc cpio archive.
ohv_mkcpio()
{
	local dir=$1 out=$2
	(cd "$dir" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet | gzip -6 -n) >"$out.tmp" ||
		ohv_die "cannot write $out"
	mv -f "$out.tmp" "$out"
}

# ohv_used DIR: mark a cache entry as used now (ohv_prune keeps it).
ohv_used()
{
	touch "$1/.done" 2>/dev/null
	return 0
}

# ohv_prune PARENT: delete cache entries under PARENT unused for 3 days
# (each rebuild after a script change leaves the old entry behind).
ohv_prune()
{
	local d
	for d in "$1"/*/; do
		d=${d%/}
		[[ -f $d/.done ]] || continue
		if [[ -n $(find "$d/.done" -mtime +3 2>/dev/null) ]]; then
			rm -rf "$d"
		fi
	done
	return 0
}

# ohv_hash FILE...: short content hash over files (names and contents).
ohv_hash()
{
	local f
	for f in "$@"; do
		printf '%s\n' "${f##*/}"
		cat "$f"
	done | sha256sum | cut -c1-16
}
