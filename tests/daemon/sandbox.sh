#!/bin/bash
# SPDX-License-Identifier: MIT
# The worker sandbox: the worker's own self-test after sealing (host files,
# execve, socket/connect, fork, ptrace refused) and the state of a real
# worker started by openhvd, seen from the host through /proc.
. "$(dirname "$0")/lib.sh"

: "${OPENHV_WORKER:?set OPENHV_WORKER}"

"$OPENHV_WORKER" --selftest >"$T_DIR/selftest" 2>&1
RC=$?
while read -r line; do
	case "$line" in
	ok\ *) ok "selftest: ${line#ok * - }" ;;
	not\ ok\ *) not_ok "selftest: ${line#not ok * - }" ;;
	\#*) diag "${line#\# }" ;;
	esac
done <"$T_DIR/selftest"
check "selftest exit status 0" test "$RC" = 0

# The same sandbox when the worker starts unprivileged (user namespace path).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$OPENHV_WORKER" --selftest \
		>"$T_DIR/selftest-nobody" 2>&1
	check "selftest as an unprivileged user passes" test $? = 0
	grep '^not ok' "$T_DIR/selftest-nobody" | sed 's/^/# /'
fi

# cgroup v2: workers go into DIR/NAME with limits when the controllers exist.
CG=
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -n "$CGROOT" ] && [ -w "$CGROOT" ] && mkdir "$CGROOT/openhv-test-$$" 2>/dev/null; then
	CG="$CGROOT/openhv-test-$$"
fi
start_daemon ${CG:+--cgroup "$CG"}
K=$(make_fake_kernel)
vm create sb --kernel "$K" --memory 64M >/dev/null
vm start sb >/dev/null
P=$(vm_pid sb)
check "worker running" test -n "$P" -a -d "/proc/$P"
status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$P/status"; }
if [ "$(id -u)" = 0 ]; then
	check "worker uid is not root (uid $(status Uid))" test "$(status Uid)" != 0
	check "worker gid is not root" test "$(status Gid)" != 0
else
	ok "service not run as root: worker keeps the caller's uid # SKIP uid drop needs root"
fi
check "no effective capabilities" test "$(status CapEff)" = 0000000000000000
check "no permitted capabilities" test "$(status CapPrm)" = 0000000000000000
check "empty bounding set" test "$(status CapBnd)" = 0000000000000000
check "no_new_privs" test "$(status NoNewPrivs)" = 1
check "seccomp filter mode" test "$(status Seccomp)" = 2
for ns in mnt net ipc uts; do
	check "own $ns namespace" test "$(readlink /proc/$P/ns/$ns)" != "$(readlink /proc/self/ns/$ns)"
done
check "worker root is empty" test -z "$(ls -A /proc/$P/root/ 2>/dev/null)"
check "worker holds no host file open except its logs and sockets" bash -c '
	for f in /proc/'"$P"'/fd/*; do
		t=$(readlink "$f")
		case "$t" in
		socket:*|pipe:*|anon_inode:*|/dev/null|'"$STATE"'/logs/*) ;;
		*) echo "# unexpected fd $f -> $t"; exit 1 ;;
		esac
	done'
check "sandbox reported through the API" grep -q seccomp <<<"$(vm show sb)"
if [ -n "$CG" ]; then
	check "worker placed in its own cgroup" grep -q "openhv-test-$$/sb\$" "/proc/$P/cgroup"
	if [ -f "$CG/sb/memory.max" ]; then
		check "memory.max = guest RAM + 256 MiB" test "$(cat "$CG/sb/memory.max")" = $(( (64 + 256) << 20 ))
		check "pids.max set" test "$(cat "$CG/sb/pids.max")" = 33
	else
		ok "memory/pids limits # SKIP the memory controller is not available in $CGROOT"
	fi
else
	ok "cgroup placement # SKIP no writable cgroup v2 hierarchy"
fi
vm kill sb >/dev/null
if [ -n "$CG" ]; then
	check "worker cgroup removed when the VM stops" bash -c "for i in \$(seq 50); do [ ! -d '$CG/sb' ] && exit 0; sleep 0.1; done; exit 1"
	stop_daemon
	rmdir "$CG" 2>/dev/null
fi
finish
