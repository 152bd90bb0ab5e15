#!/bin/bash
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages openhv needs to build and test. Idempotent:
# only missing packages are installed (apt-get update runs once, and only
# when something is missing). Must run as root (or with sudo available).
set -euo pipefail

PKGS=(
	# build
	gcc clang meson ninja-build pkg-config libseccomp-dev liburing-dev libjson-c-dev libmnl-dev
	# tests: the emulated host, guest material, image cross-checks, API tests
	qemu-system-x86 qemu-utils busybox-static cpio kmod python3 curl ca-certificates genisoimage
	iproute2 util-linux xz-utils iperf3 ethtool fio e2fsprogs
	# fuzzing with libFuzzer and sanitizers (clang)
	libclang-rt-14-dev
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "openhv: installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
