#!/bin/bash
# SPDX-License-Identifier: MIT
# Tests of the early-crash retry rule (tests/guest/ehost-fault.sh) on made-up
# console logs: which guest deaths in the emulated host are booted once more
# and which count as failures. No emulated host needed (TAP output).
set -u
. "$(cd "$(dirname "$0")/../guest" && pwd)/ehost-fault.sh"
tmp=$(mktemp -d /tmp/ohv-ehost-fault.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
tf="openhv: error: guest triple fault on virtual processor 0 (RIP 0xfff0): the guest kernel crashed"
case_is()	# case_is retry|fail NAME LOG-TEXT [EHOST]
{
	local want=$1 name=$2 got
	printf '%b' "$3" >"$tmp/log"
	if OPENHV_EHOST=${4:-1} ehost_early_crash "$tmp/log" "$tf"; then got=retry; else got=fail; fi
	n=$((n + 1))
	if [ "$got" = "$want" ]; then echo "ok $n - $name: $want"; else
		failed=$((failed + 1)); echo "not ok $n - $name: want $want, got $got"; fi
}
case_is retry "banner printed, no /init" "[    0.000000] Linux version 6.1.0\r\n$tf\n"
case_is retry "no guest output at all" "$tf\n"
case_is retry "only openhv lines and blank lines" "openhv: note\n\r\n$tf\n"
case_is fail "after /init" "Linux version 6.1.0\r\nRun /init as init process\r\n$tf\n"
case_is fail "other output (not the stock kernel's banner)" "hello from a custom image\r\n$tf\n"
case_is fail "outside the emulated host" "Linux version 6.1.0\r\n$tf\n" 0
printf 'x\n' >"$tmp/log"
n=$((n + 1))
if OPENHV_EHOST=1 ehost_early_crash "$tmp/log" "guest exited normally"; then
	failed=$((failed + 1)); echo "not ok $n - not a triple fault: fail"
else echo "ok $n - not a triple fault: fail"; fi
n=$((n + 1))
if OPENHV_EHOST=1 ehost_early_crash "$tmp/missing.log" "$tf"; then
	failed=$((failed + 1)); echo "not ok $n - missing log: fail"
else echo "ok $n - missing log: fail"; fi
echo "1..$n"
[ "$failed" -eq 0 ]
