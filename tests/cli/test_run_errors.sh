#!/bin/bash
# SPDX-License-Identifier: MIT
# Bad input to `openhv run` gets one clear line and a non-zero exit, never a
# crash. Needs no KVM. Usage: test_run_errors.sh OPENHV. Prints TAP.
set -u
OPENHV=$1
tmp=$(mktemp -d /tmp/ohv-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
echo "TAP version 13"

# expect NAME WANT_RC PATTERN -- ARGS...: exit status, exactly one stderr line, text.
expect()
{
	local name=$1 want=$2 pat=$3
	shift 4
	"$OPENHV" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	local rc=$? lines
	lines=$(wc -l <"$tmp/err")
	n=$((n + 1))
	if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -qE "$pat" "$tmp/err"; then
		echo "ok $n - $name"
	else
		failed=$((failed + 1))
		echo "not ok $n - $name (rc=$rc, want $want; stderr lines=$lines)"
		sed 's/^/#   /' "$tmp/err"
	fi
}

# A minimal but valid-looking bzImage header, and a truncated one.
python3 - "$tmp" <<'PY'
import struct, sys
d = sys.argv[1]
k = bytearray(5 * 512 + 4096)
k[0x1f1] = 4; k[0x1fe:0x200] = b'\x55\xaa'; k[0x201] = 0x6a; k[0x202:0x206] = b'HdrS'
struct.pack_into('<H', k, 0x206, 0x20f); struct.pack_into('<H', k, 0x236, 1)
struct.pack_into('<I', k, 0x238, 2047); struct.pack_into('<I', k, 0x260, 0x10000)
struct.pack_into('<I', k, 0x1f4, 4096 // 16)
open(d + '/ok.bzimage', 'wb').write(k)
old = bytearray(k); struct.pack_into('<H', old, 0x206, 0x202)
open(d + '/old.bzimage', 'wb').write(old)
k32 = bytearray(k); struct.pack_into('<H', k32, 0x236, 0)
open(d + '/k32.bzimage', 'wb').write(k32)
open(d + '/trunc.bzimage', 'wb').write(k[:0x1800])
PY
printf 'hello' >"$tmp/initrd"
mkdir "$tmp/dir"
K="--kernel $tmp/ok.bzimage"

expect "no arguments" 2 "usage|no kernel" -- run
expect "missing kernel" 2 "no kernel given" -- run --memory 512M
expect "kernel path does not exist" 2 "kernel '.*/nope': No such file" -- run --kernel "$tmp/nope"
expect "kernel is a directory" 2 "not a regular file" -- run --kernel "$tmp/dir"
expect "kernel is not a bzImage" 2 "not a Linux bzImage" -- run --kernel /etc/hostname
expect "kernel boot protocol too old" 2 "too old" -- run --kernel "$tmp/old.bzimage"
expect "kernel without 64-bit entry" 2 "64-bit" -- run --kernel "$tmp/k32.bzimage"
expect "truncated kernel" 2 "truncated" -- run --kernel "$tmp/trunc.bzimage"
expect "initrd does not exist" 2 "initrd '.*': No such file" -- run $K --initrd "$tmp/none"
expect "initrd is a directory" 2 "initrd .* is not a regular file" -- run $K --initrd "$tmp/dir"
expect "memory too small" 2 "too small" -- run $K --memory 4M
expect "memory larger than the host" 2 "more than this host has" -- run $K --memory 64T
expect "memory absurd" 2 "too large|not a size" -- run $K --memory 99999999999999999999
expect "memory not a size" 2 "not a size" -- run $K --memory lots
expect "memory not whole MiB" 2 "whole number of MiB" -- run $K --memory 1000000000B
expect "zero vCPUs" 2 "out of range" -- run $K --cpus 0
expect "absurd vCPU count" 2 "out of range|not a processor count" -- run $K --cpus 100000
expect "vCPU count not a number" 2 "not a processor count" -- run $K --cpus two
expect "negative vCPU count" 2 "not a processor count" -- run $K --cpus -1
expect "unknown option" 2 "unknown or incomplete option" -- run $K --frobnicate
expect "stray argument" 2 "unexpected argument" -- run $K extra
expect "unknown command" 2 "unknown command" -- frobnicate
expect "disk path missing" 2 "disk '.*/nodisk': No such file" -- run $K --disk "$tmp/nodisk"
expect "disk without a path" 2 "needs a path" -- run $K --disk ,ro
expect "disk unknown option" 2 "option 'fast' is unknown" -- run $K --disk "$tmp/initrd,fast"
expect "disk given twice" 2 "given twice" -- run $K --disk "$tmp/initrd" --disk "$tmp/initrd"
expect "disk with --no-hyperv" 2 "drop --no-hyperv" -- run $K --no-hyperv --disk "$tmp/initrd"
expect "nic without tap or switch" 2 "exactly one of" -- run $K --nic mac=00:15:5d:00:00:01
expect "nic with both tap and switch" 2 "exactly one of" -- run $K --nic tap=t0,switch=s
expect "nic bad MAC" 2 "not a unicast MAC" -- run $K --nic tap=t0,mac=01:00:5e:00:00:01
expect "nic bad VLAN" 2 "VLAN id from 1 to 4094" -- run $K --nic tap=t0,vlan=5000
expect "nic bad interface name" 2 "not a valid interface name" -- run $K --nic tap=averyveryverylongname0
expect "kvp not KEY=VALUE" 2 "not KEY=VALUE" -- run $K --kvp novalue
if [ ! -e /dev/kvm ]; then
	expect "no /dev/kvm: says how to fix it" 1 "/dev/kvm does not exist" -- run $K --initrd "$tmp/initrd"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
