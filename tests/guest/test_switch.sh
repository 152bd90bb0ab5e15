#!/bin/bash
# SPDX-License-Identifier: MIT
# ehost-timeout: 900  (seconds for tools/check.sh; normally a few minutes at most)
# Guest tests for openhv virtual switches (openhv switch, --nic switch=NAME)
# with stock guests:
#   - command-line refusals (bad name, --address on private, missing uplink,
#     existing name, delete with ports attached), nothing half-created;
#   - internal switch: guest <-> host ping, a TCP download with SHA-256 check,
#     a spoofed source MAC dropped and counted, link down/up seen by the guest;
#   - external switch: a veth pair stands in for the NIC, its far end in the
#     network namespace "ohvlan" is the LAN host the guest reaches; the same
#     guest allows MAC spoofing, so its macvlan reaches the LAN host too;
#   - private switch with three guests: two on VLAN 10 reach each other, the
#     third on VLAN 20 reaches neither, and the host reaches none.
# Link-local addresses only (169.254.110-130.0/24), inside this host (the
# emulated host without hardware virtualization). Needs root, ip, python3,
# mke2fs and /dev/kvm (tools/with-kvm).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
tmp=$(mktemp -d /tmp/ohv-sw.XXXXXX)
state=$tmp/state
SW() { "$OPENHV" switch "$@" --state-dir "$state"; }
cleanup()
{
	vm_kill_all
	[ -n "${srv:-}" ] && kill -KILL "$srv" 2>/dev/null
	wait 2>/dev/null
	for s in int0 ext0 prv0; do SW delete "$s" >/dev/null 2>&1; done
	ip link del ohvup0 2>/dev/null
	ip netns del ohvlan 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
echo "TAP version 13"

# host_ping ADDR OUT: a reply within five tries of one echo each (the guest
# is busy with its own script meanwhile; one lost round is not a failure).
host_ping()
{
	local i
	for i in 1 2 3 4 5; do
		$PING -c 1 -W 3 "$1" >"$2" 2>&1 && return 0
	done
	return 1
}

# one_line RC WANT_RC PATTERN FILE: exit status and exactly one line matching.
one_line()
{
	[ "$1" -eq "$2" ] && [ "$(wc -l <"$4")" -eq 1 ] && grep -qE "$3" "$4"
}

# port_of LOG: the TAP port openhv run created (its info line).
port_of() { grep -aoE 'port ohvp[0-9]+' "$1" | head -n1 | cut -d' ' -f2; }

# start_vm LOG ARGS...: a guest in the background (vm_start in lib.sh).
start_vm()
{
	local log=$1
	shift
	vm_start "$log" 0 --kernel "$KERNEL" --initrd "$INITRD" --memory 256M --cpus 1 \
		--state-dir "$state" "$@"
}

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! command -v python3 >/dev/null; then
	t_skip "switch tests" "need root, ip and python3"
	t_done
	exit
fi
if ! [ -c /dev/net/tun ] || ! ip link add ohvprobe0 type bridge 2>/dev/null; then
	t_skip "switch tests" "no TUN device or no bridge support in this kernel"
	t_done
	exit
fi
ip link del ohvprobe0
# ping from iputils if present, else busybox's (the host may have neither).
if command -v ping >/dev/null; then PING=ping; elif command -v busybox >/dev/null; then PING="busybox ping"
else PING=; fi

# 1. Refusals: one line, non-zero exit, nothing created.
SW create 'bad/name' --type private 2>"$tmp/e"; rc=$?
t_check "a name with '/' is refused" one_line $rc 2 "may only hold letters" "$tmp/e"
SW create abcdefghijkl --type private 2>"$tmp/e"; rc=$?
t_check "a name too long for IFNAMSIZ is refused" one_line $rc 2 "too long" "$tmp/e"
SW create p1 --type private --address 169.254.1.1/24 2>"$tmp/e"; rc=$?
t_check "--address on a private switch is refused" one_line $rc 2 "only for internal" "$tmp/e"
SW create x1 --type external --uplink ohvnosuch0 2>"$tmp/e"; rc=$?
t_check "a missing uplink is refused" one_line $rc 1 "uplink 'ohvnosuch0' does not exist" "$tmp/e"
t_check "... and leaves no bridge and no state file behind" \
	sh -c "! ip link show ohv-x1 >/dev/null 2>&1 && [ ! -e '$state/switches/x1.json' ]"
"$OPENHV" run --kernel "$KERNEL" --initrd "$INITRD" --state-dir "$state" --nic switch=nosuch0 \
	</dev/null >/dev/null 2>"$tmp/e"; rc=$?
t_check "a VM on a switch that does not exist is refused" one_line $rc 1 "no switch 'nosuch0'" "$tmp/e"

# 2. The switches.
SW create int0 --type internal --address 169.254.110.1/24 >"$tmp/o" 2>&1
t_check "create an internal switch" grep -q "switch int0 (internal) created" "$tmp/o"
t_check "the host interface has the address" sh -c "ip -o addr show dev ohv-int0 | grep -q 169.254.110.1/24"
SW create int0 --type internal 2>"$tmp/e"; rc=$?
t_check "create of an existing name is refused" one_line $rc 1 "already exists" "$tmp/e"
ip link add ohvup0 type veth peer name ohvlan0
ip netns add ohvlan
ip link set ohvlan0 netns ohvlan
ip -n ohvlan addr add 169.254.130.1/24 dev ohvlan0
ip -n ohvlan link set ohvlan0 up
ip -n ohvlan link set lo up
SW create ext0 --type external --uplink ohvup0 >"$tmp/o" 2>&1
t_check "create an external switch on a veth uplink" \
	sh -c "grep -q 'switch ext0 (external) created' '$tmp/o' && ip -o link show ohvup0 | grep -q 'master ohv-ext0'"
SW create prv0 --type private >"$tmp/o" 2>&1
t_check "create a private switch" grep -q "switch prv0 (private) created" "$tmp/o"
t_check "the private bridge has no host address" \
	sh -c "! ip -o addr show dev ohv-prv0 | grep -qE 'inet6? '"
SW list >"$tmp/list" 2>&1
t_check "list shows the three switches" \
	sh -c "grep -qE '^ext0 +external +ohv-ext0 +up +0 +ohvup0' '$tmp/list' &&
	       grep -qE '^int0 +internal +ohv-int0 +up +0 +169.254.110.1/24' '$tmp/list' &&
	       grep -qE '^prv0 +private' '$tmp/list'"

# An ext4 disk with the guest kernel's macvlan module, for the spoofing probe.
modsrc=$(find "${OPENHV_CACHE:-$HOME/.cache/openhv}/pkgs" -path "*cloud-amd64*/macvlan.ko" 2>/dev/null | head -n1)
spoof=0
if [ -n "$modsrc" ] && command -v mke2fs >/dev/null; then
	mkdir -p "$tmp/mods"
	cp "$modsrc" "$tmp/mods/"
	mke2fs -q -t ext4 -d "$tmp/mods" "$tmp/mods.img" 8M && spoof=1
fi

# 3. Internal and external at once: one guest each.
head -c 1048576 /dev/urandom >"$tmp/dl"
dl_sha=$(sha256sum "$tmp/dl" | cut -d' ' -f1)
python3 - "$tmp/dl" 169.254.110.1 >"$tmp/srv.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[2], 5555)); s.listen(1); c, _ = s.accept()
c.sendall(open(sys.argv[1], "rb").read()); c.close()
PY
srv=$!
disk=()
[ "$spoof" = 1 ] && disk=(--disk "$tmp/mods.img,ro")
ilog=$tmp/int.log
start_vm "$ilog" --nic switch=int0,mac=02:6f:68:11:00:02 "${disk[@]}" --cmdline \
	"console=ttyS0 panic=-1 ohv.script=sw-internal ohv.ip=169.254.110.2 ohv.host=169.254.110.1 ohv.linkup=1 $([ "$spoof" = 1 ] && echo ohv.spoofip=169.254.110.3)"
vm_wait_for "$ilog" "ohv-sw-ready|ohv-result=" 400
# The external guest boots once the internal one is up (guests booting at
# once trip the emulated host, see tests/guest/l2-fault.sh); both then run
# side by side.
elog=$tmp/ext.log
start_vm "$elog" --nic switch=ext0,mac=02:6f:68:13:00:02,allow-mac-spoofing "${disk[@]}" --cmdline \
	"console=ttyS0 panic=-1 ohv.script=sw-peer ohv.ip=169.254.130.2 ohv.reach=169.254.130.1 $([ "$spoof" = 1 ] && echo ohv.spoofip=169.254.130.3)"
# (The guest's line may be split by a kernel message on the shared console;
# the bridge learning the MAC from the guest's frames shows it as well.)
t_check "internal: the guest's NIC has its MAC" \
	sh -c "grep -q 'mac=02:6f:68:11:00:02' '$ilog' || bridge fdb show br ohv-int0 | grep -q '^02:6f:68:11:00:02 '"
t_check "internal: the guest pings the host" grep -q "ohv-sw-host=ok" "$ilog"
if [ -z "$PING" ]; then t_skip "internal: the host pings the guest" "no ping or busybox on the host"
elif host_ping 169.254.110.2 "$tmp/ping"; then t_ok "internal: the host pings the guest"
else t_fail "internal: the host pings the guest"; t_diag <"$tmp/ping"; fi
SW delete int0 2>"$tmp/e"; rc=$?
t_check "delete of a switch with a VM attached is refused" one_line $rc 1 "1 VM port attached" "$tmp/e"
SW list >"$tmp/list" 2>&1
t_check "list counts the port" grep -qE '^int0 +internal +ohv-int0 +up +1 ' "$tmp/list"
vm_wait_for "$ilog" "ohv-sw-wait-link|ohv-result=" 300
t_check "internal: 1 MiB TCP download arrives intact (SHA-256)" \
	grep -q "ohv-sw-dl-bytes=1048576 ohv-sw-dl-sha=$dl_sha" "$ilog"
# Switch ports carry the virtio-net header: the guest gets TSO, and the host's
# 64 KiB TCP frames reach it whole (RSC), so it counts fewer packets than
# 1514-byte frames would make.
if grep -q "ohv-sw-offload" "$ilog"; then
	t_check "internal: the guest has TSO and LRO (host RSC) on the switch port" \
		grep -q "ohv-sw-offload tso=on lro=on" "$ilog"
fi
rxp=$(sed -n 's/.*ohv-sw-dl-rx packets=\([0-9]*\) bytes=.*/\1/p' "$ilog" | head -n 1)
rxb=$(sed -n 's/.*ohv-sw-dl-rx packets=[0-9]* bytes=\([0-9]*\).*/\1/p' "$ilog" | head -n 1)
t_check "internal: the download arrives coalesced (RSC): ${rxb:-?} bytes in ${rxp:-?} packets" \
	[ -n "$rxp" ] && [ "${rxp:-0}" -gt 0 ] && [ $((${rxb:-0} / ${rxp:-1})) -gt 1514 ]
if [ "$spoof" = 1 ]; then
	t_check "internal: frames from a spoofed source MAC get no answer" grep -q "ohv-sw-spoof=fail" "$ilog"
	t_check "... while the guest's own MAC still works" grep -q "ohv-sw-host-again=ok" "$ilog"
else
	t_skip "MAC spoofing protection" "no macvlan module of the guest kernel or no mke2fs"
fi
iport=$(port_of "$ilog")
t_check "internal: the port is a TAP on the bridge" \
	sh -c "[ -n '$iport' ] && ip -o link show '$iport' | grep -q 'master ohv-int0'"
[ -n "$iport" ] && ip link set "$iport" down
vm_wait_for "$ilog" "ohv-sw-link-down|ohv-result=" 60
t_check "internal: the guest sees carrier off when its port goes down" \
	grep -q "ohv-sw-link-down carrier=0" "$ilog"
[ -n "$iport" ] && ip link set "$iport" up
vm_wait_for "$ilog" "ohv-result=" 120
t_check "internal: carrier back, traffic flows again" \
	sh -c "grep -q 'ohv-sw-link-up carrier=1' '$ilog' && grep -q 'ohv-sw-after-link=ok' '$ilog'"

vm_wait_for "$elog" "ohv-sw-wait-link|ohv-result=" 300
t_check "external: the guest reaches the LAN host through the uplink" \
	grep -q "ohv-sw-reach-169.254.130.1=ok" "$elog"
if [ "$spoof" = 1 ]; then
	t_check "external: with allow-mac-spoofing a second MAC is let through" \
		grep -q "ohv-sw-spoof=ok" "$elog"
fi
eport=$(port_of "$elog")
[ -n "$eport" ] && ip link set "$eport" down
for log in "$ilog" "$elog"; do
	vm_wait "$log" 120
	if grep -q 'ohv-result=pass' "$log" && [ $rc -eq 0 ]; then
		t_ok "$(basename "$log" .log): guest script passes and the VM exits cleanly (rc=$rc)"
	else
		t_fail "$(basename "$log" .log): guest script passes and the VM exits cleanly (rc=$rc)"
		tail -n 15 "$log" | t_diag
	fi
done
if [ "$spoof" = 1 ]; then
	t_check "internal: the spoofed frames were dropped and counted" \
		grep -qE "NIC 0 \(--nic switch=int0\): [1-9][0-9]* guest frames? from a foreign source MAC dropped" "$ilog"
	t_check "external: nothing dropped with allow-mac-spoofing" sh -c "! grep -q 'foreign source MAC' '$elog'"
fi
t_check "the ports are gone when the VMs exit" \
	sh -c "! ip -o link show master ohv-int0 | grep -q . && ! ip -o link show master ohv-ext0 | grep -q ohvp"

# 4. Private switch, three guests: A and B on VLAN 10, C on VLAN 20. Each
#    boots once the one before it is up (guests booting at once trip the
#    emulated host, see tests/guest/l2-fault.sh): A keeps pinging B (up to
#    300 tries) while B boots; C must reach neither of them while both run.
alog=$tmp/a.log blog=$tmp/b.log clog=$tmp/c.log
base="console=ttyS0 panic=-1 ohv.script=sw-peer"
start_vm "$alog" --nic switch=prv0,vlan=10 --cmdline "$base ohv.ip=169.254.120.1 ohv.reach=169.254.120.2 ohv.reachtries=300"
vm_wait_for "$alog" "ohv-sw-carrier=|ohv-result=" 400
start_vm "$blog" --nic switch=prv0,vlan=10 --cmdline "$base ohv.ip=169.254.120.2 ohv.reach=169.254.120.1"
vm_wait_for "$blog" "ohv-sw-wait-link|ohv-result=" 400
vm_wait_for "$alog" "ohv-sw-wait-link|ohv-result=" 200
t_check "private: two guests on the same VLAN reach each other" \
	sh -c "grep -q 'ohv-sw-reach-169.254.120.2=ok' '$alog' && grep -q 'ohv-sw-reach-169.254.120.1=ok' '$blog'"
start_vm "$clog" --nic switch=prv0,vlan=20 --cmdline "$base ohv.ip=169.254.120.3 ohv.noreach=169.254.120.1,169.254.120.2"
vm_wait_for "$clog" "ohv-sw-wait-link|ohv-result=" 400
# (A and B still running and answering each other, so the isolation is real.)
t_check "VLAN isolation: the guest on VLAN 20 reaches neither guest on VLAN 10" \
	sh -c "grep -q 'ohv-sw-noreach-169.254.120.1=fail' '$clog' && grep -q 'ohv-sw-noreach-169.254.120.2=fail' '$clog' &&
	       kill -0 ${vm_pid[$alog]} && kill -0 ${vm_pid[$blog]} && ! grep -q 'ohv-result=' '$alog' '$blog'"
t_check "private: the host has no route to the guests" \
	sh -c "! ip -o route get 169.254.120.1 2>/dev/null | grep -q 'dev ohv-prv0'"
if [ -z "$PING" ]; then t_skip "private: the host cannot ping a guest" "no ping or busybox on the host"
elif $PING -c 2 -W 2 169.254.120.1 >/dev/null 2>&1; then t_fail "private: the host cannot ping a guest"
else t_ok "private: the host cannot ping a guest"; fi
aport=$(port_of "$alog") cport=$(port_of "$clog")
t_check "private: the ports carry their access VLAN (PVID, egress untagged)" \
	sh -c "bridge vlan show dev '$aport' | grep -qE '10 PVID Egress Untagged' &&
	       bridge vlan show dev '$cport' | grep -qE '20 PVID Egress Untagged' &&
	       ! bridge vlan show dev '$aport' | grep -qE '[[:space:]]1 PVID'"
for l in "$alog" "$blog" "$clog"; do
	p=$(port_of "$l")
	[ -n "$p" ] && ip link set "$p" down
done
for l in "$alog" "$blog" "$clog"; do
	vm_wait "$l" 120
	t_check "$(basename "$l" .log): guest script passes and the VM exits cleanly (rc=$rc)" \
		sh -c "grep -q 'ohv-result=pass' '$l' && [ $rc -eq 0 ]"
done

# 5. Delete: bridges and state files go, the uplink is released.
for s in int0 ext0 prv0; do SW delete "$s" >"$tmp/o" 2>&1; done
t_check "delete removes the bridges and the state files" \
	sh -c "! ip link show ohv-int0 >/dev/null 2>&1 && ! ip link show ohv-prv0 >/dev/null 2>&1 &&
	       ! ls '$state/switches/'*.json >/dev/null 2>&1"
t_check "the uplink is released and still exists" \
	sh -c "ip -o link show ohvup0 | grep -qv master"
if [ "$t_failed" -gt 0 ]; then
	for l in "$ilog" "$elog" "$alog" "$blog" "$clog"; do
		echo "# $(basename "$l") (tail):"
		tail -n 25 "$l" 2>/dev/null | t_diag
	done
fi
t_done
