#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Tests of tools/ehost-run, tools/with-kvm and tools/mkguest.sh (TAP output).
#
# One main emulated-host boot checks output capture, the environment, the
# caller's directory, a --share written from inside, /dev/kvm, the writable
# overlay and one L2 boot of the default guest (QEMU -accel kvm inside L1),
# then exits 3. Two short boots check "true" and "false", one boot stops L1's
# heartbeat (ehost-run must give up with 125); a 2-second timeout and a few
# argument errors need no full boot. About two minutes on 2 cores.
#
# usage: tests/ehost/test_ehost.sh        (from anywhere; needs root for apt)
# OHV_EHOST_TEST_QUICK=1 skips the true/false boots.

set -uo pipefail
# The braces make bash read the whole script before running it, so editing
# the file while a run is in progress cannot change that run.
{
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
run=$top/tools/ehost-run

tmp=$(mktemp -d /tmp/ohv-ehost-test.XXXXXX) || { echo "Bail out! cannot create a temp dir"; exit 1; }
trap 'rm -rf "$tmp"' EXIT
# Our own TMPDIR: ehost-run's run directories (and QEMU command lines) then
# carry this prefix, which is how the stray-process check finds ours only.
mkdir -p "$tmp/t" "$tmp/share" "$tmp/cwd"
export TMPDIR=$tmp/t

n=0
failed=0
ok()
{
	n=$((n + 1))
	echo "ok $n - $*"
}
not_ok()
{
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $*"
}
check()		# check DESCRIPTION COMMAND...
{
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
skip()
{
	n=$((n + 1))
	echo "ok $n - $* # SKIP"
}
diag()
{
	sed 's/^/# /'
}
now()
{
	date +%s.%N
}
elapsed()
{
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}
no_stray_qemu()
{
	! pgrep -f -- "$TMPDIR/ehost-run" >/dev/null
}

echo "TAP version 13"
echo "1..28"

# --- the emulated host image (built first so later stderr checks see no build notes)
t=$(now)
if "$top/tools/ehost/mkl1.sh" >"$tmp/o" 2>"$tmp/e" && grep -q '^KERNEL=/' "$tmp/o"; then
	ok "emulated host image builds or is cached ($(elapsed "$t") s)"
else
	not_ok "emulated host image builds or is cached"
	diag <"$tmp/e"
fi

# --- argument errors: one clear line, non-zero exit, no boot -----------------
"$run" --share "$tmp/nonexistent" -- true >"$tmp/o" 2>"$tmp/e"
rc=$?
check "--share of a missing directory fails (rc $rc)" test "$rc" -ne 0
check "--share error is one line naming the problem" \
	bash -c '[[ $(grep -cv "another emulated host is running" "$1") == 1 ]] && grep -q "not a directory" "$1"' _ "$tmp/e"
"$run" --timeout >/dev/null 2>"$tmp/e"
rc=$?
check "--timeout without value fails with one line (rc $rc)" \
	bash -c '[[ $1 != 0 && $(grep -cv "another emulated host is running" "$2") == 1 ]]' _ "$rc" "$tmp/e"

# QEMU that cannot start: one line, rc 125.
OPENHV_EHOST_QEMU=/bin/false "$run" -- true >"$tmp/o" 2>"$tmp/e"
rc=$?
check "QEMU failing to start gives rc 125 (got $rc)" test "$rc" -eq 125
check "QEMU failure is reported in one line" \
	bash -c '[[ $(grep -cv "another emulated host is running" "$1") == 1 ]] && grep -q "QEMU failed to start" "$1"' _ "$tmp/e"

# with-kvm: direct on real hardware, else one notice line and the emulated host
# (QEMU replaced by /bin/false here, so no boot).
if grep -qw -e vmx -e svm /proc/cpuinfo && [[ -c /dev/kvm ]]; then
	"$top/tools/with-kvm" true >"$tmp/o" 2>"$tmp/e"
	rc=$?
	check "with-kvm runs the command directly with hardware KVM (rc $rc)" \
		bash -c '[[ $1 == 0 && ! -s $2 ]]' _ "$rc" "$tmp/e"
else
	OPENHV_EHOST_QEMU=/bin/false "$top/tools/with-kvm" true >"$tmp/o" 2>"$tmp/e"
	rc=$?
	check "with-kvm says once that it falls back to the emulated host (rc $rc)" \
		bash -c '[[ $1 == 125 && $(grep -c "^openhv: no hardware virtualization here" "$2") == 1 ]]' \
		_ "$rc" "$tmp/e"
fi

# --- guest material (built on the host, passed in through OPENHV_*) ----------
t=$(now)
if guest=$("$top/tools/mkguest.sh" 2>"$tmp/e"); then
	ok "mkguest.sh builds or finds the default guest ($(elapsed "$t") s)"
else
	not_ok "mkguest.sh builds or finds the default guest"
	diag <"$tmp/e"
fi
kernel=$(sed -n 's/^KERNEL=//p' <<<"$guest")
initrd=$(sed -n 's/^INITRD=//p' <<<"$guest")
check "mkguest.sh prints existing KERNEL= and INITRD= paths" test -f "$kernel" -a -f "$initrd"
check "guest initramfs has /init, the scripts, depmod'ed hv modules and hv_kvp_daemon" \
	bash -c 'l=$(zcat "$1" | cpio -t --quiet 2>/dev/null) &&
		 grep -qx init <<<"$l" && grep -qx ohv/scripts/info.sh <<<"$l" &&
		 grep -q "lib/modules/.*/modules.dep$" <<<"$l" &&
		 grep -q "/hv_vmbus.ko$" <<<"$l" && grep -q "/scsi_transport_fc.ko$" <<<"$l" &&
		 grep -qx usr/sbin/hv_kvp_daemon <<<"$l"' _ "$initrd"

# --- the main boot -------------------------------------------------------------
echo "cwd-marker" >"$tmp/cwd/marker"
cat >"$tmp/share/inner.sh" <<'INNER'
set -u
echo "ehost-test: hello"
printf 'cr-line\r\n'
echo "ehost-test: to-stderr" >&2
echo "cwd=$PWD marker=$(cat marker)"
echo "env=${OPENHV_TEST_TOKEN:-unset} ehost=${OPENHV_EHOST:-unset} home=$HOME"
if [ -c /dev/kvm ]; then echo "kvm=yes"; else echo "kvm=no"; fi
echo "written-inside" >"$OPENHV_TEST_SHARE/from-l1.txt"
if touch /usr/ohv-overlay-probe 2>/dev/null; then echo "overlay=writable"; else echo "overlay=ro"; fi
if modprobe nbd 2>/dev/null && grep -q '^nbd ' /proc/modules; then echo "modprobe=yes"; else echo "modprobe=no"; fi
timeout 300 qemu-system-x86_64 -M microvm -accel kvm -cpu host -m 512 -nographic -no-reboot \
	-kernel "$OPENHV_TEST_KERNEL" -initrd "$OPENHV_TEST_INITRD" \
	-append "console=ttyS0 quiet ohv.script=info" >"$OPENHV_TEST_SHARE/l2.log" 2>&1
echo "l2rc=$?"
grep -q '^openhv-guest: init reached' "$OPENHV_TEST_SHARE/l2.log" && echo "l2-init=yes"
grep -q '^ohv-cpus=1' "$OPENHV_TEST_SHARE/l2.log" && echo "l2-cpus=1"
grep -q '^ohv-result=pass' "$OPENHV_TEST_SHARE/l2.log" && echo "l2-result=pass"
exit 3
INNER

t=$(now)
(cd "$tmp/cwd" &&
 OPENHV_TEST_TOKEN=tok42 OPENHV_TEST_SHARE=$tmp/share OPENHV_TEST_KERNEL=$kernel \
 OPENHV_TEST_INITRD=$initrd "$run" --share "$tmp/share" -v -- bash "$tmp/share/inner.sh") \
	>"$tmp/o" 2>"$tmp/e"
rc=$?
echo "# main boot: $(elapsed "$t") s wall (L1 boot, one L2 boot, L1 power-off)"
grep -e '^ehost-run: timings' "$tmp/e" | diag
check "exit status 3 propagates (got $rc)" test "$rc" -eq 3
cat >"$tmp/expect" <<EXPECT
ehost-test: hello
cr-line
ehost-test: to-stderr
cwd=$tmp/cwd marker=cwd-marker
env=tok42 ehost=1 home=$HOME
kvm=yes
overlay=writable
modprobe=yes
l2rc=0
l2-init=yes
l2-cpus=1
l2-result=pass
EXPECT
check "output is captured exactly (no CRs, no L1 kernel noise)" cmp -s "$tmp/expect" "$tmp/o"
check "runs in the caller's directory (under /tmp) with its files visible" \
	grep -qx "cwd=$tmp/cwd marker=cwd-marker" "$tmp/o"
check "OPENHV_* variables and HOME pass through" grep -qx "env=tok42 ehost=1 home=$HOME" "$tmp/o"
check "/dev/kvm exists inside the emulated host" grep -qx "kvm=yes" "$tmp/o"
check "the root looks writable (overlay) but the host is untouched" \
	bash -c 'grep -qx overlay=writable "$1" && [[ ! -e /usr/ohv-overlay-probe ]]' _ "$tmp/o"
check "modprobe of the emulated host's own modules works in the root" grep -qx "modprobe=yes" "$tmp/o"
check "--share directory written from inside" grep -qx "written-inside" "$tmp/share/from-l1.txt"
check "L2 default guest boots under KVM in L1 and runs the info script" \
	bash -c 'grep -qx l2-init=yes "$1" && grep -qx l2-cpus=1 "$1" && grep -qx l2-result=pass "$1"' _ "$tmp/o"
if ! cmp -s "$tmp/expect" "$tmp/o"; then
	diff "$tmp/expect" "$tmp/o" | diag
	tail -n 5 "$tmp/e" | diag
fi

# --- true / false ----------------------------------------------------------------
if [[ -n ${OHV_EHOST_TEST_QUICK:-} ]]; then
	skip "true exits 0 (OHV_EHOST_TEST_QUICK)"
	skip "exit 1 through a pipe (OHV_EHOST_TEST_QUICK)"
else
	t=$(now)
	"$run" -- true >"$tmp/o" 2>"$tmp/e"
	rc=$?
	check "true exits 0 with no output (got $rc, $(elapsed "$t") s)" \
		bash -c '[[ $1 == 0 && ! -s $2 && ! -s $3 ]]' _ "$rc" "$tmp/o" "$tmp/e"
	# Through a pipe this time: our output's reader ends at EOF, not by SIGPIPE.
	"$run" -- sh -c 'echo piped; exit 1' 2>"$tmp/e" | cat >"$tmp/o"
	rc=${PIPESTATUS[0]}
	check "false-like exit 1 and output through a pipe (got $rc)" \
		bash -c '[[ $1 == 1 && $(cat "$2") == piped ]]' _ "$rc" "$tmp/o"
fi

# --- timeout ---------------------------------------------------------------------
t=$(now)
"$run" --timeout 2 -- sleep 100 >"$tmp/o" 2>"$tmp/e"
rc=$?
check "timeout gives exit 124 (got $rc, $(elapsed "$t") s)" test "$rc" -eq 124
check "timeout is reported in one line" \
	bash -c '[[ $(grep -cv "another emulated host is running" "$1") == 1 ]] && grep -q "timed out after 2 s" "$1"' _ "$tmp/e"
check "no QEMU is left running" no_stray_qemu

# --- heartbeat: an emulated host that stops without a word -----------------------
# The command stops L1 init's heartbeat loop (a child of PID 1 named after
# /init), as a TCG hang of the whole L1 would: ehost-run must give up with
# 125 after OPENHV_EHOST_BEAT_MAX seconds, long before the timeout.
t=$(now)
OPENHV_EHOST_BEAT_MAX=20 "$run" --timeout 300 -- sh -c \
	'pkill -STOP -P 1 -x init || pkill -STOP -P 1 -x sh || echo no-beat-loop; sleep 200' \
	>"$tmp/o" 2>"$tmp/e"
rc=$?
el=$(elapsed "$t")
check "a silent emulated host (no heartbeat) gives 125 well before the timeout (got $rc, $el s)" \
	bash -c '[[ $1 == 125 ]] && ((${2%.*} < 150))' _ "$rc" "$el"
check "... reported in one line naming the missing heartbeat" \
	bash -c '[[ $(grep -cv "another emulated host is running" "$1") == 1 ]] && grep -q "no heartbeat from its init for [0-9]* s" "$1"' _ "$tmp/e"
check "a bad OPENHV_EHOST_BEAT_MAX is refused in one line, no boot" \
	bash -c 'OPENHV_EHOST_BEAT_MAX=5 "$1" -- true 2>"$2"; [[ $? != 0 && $(wc -l <"$2") == 1 ]] && grep -q "at least 20" "$2"' _ "$run" "$tmp/e2"
check "no QEMU is left running after the silent host" no_stray_qemu

((failed == 0)) || echo "# $failed test(s) failed"
((n == 28)) || echo "# planned 28 tests, ran $n"
exit $((failed != 0))
exit
}
