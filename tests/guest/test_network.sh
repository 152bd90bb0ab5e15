#!/bin/bash
# SPDX-License-Identifier: MIT
# ehost-timeout: 600  (seconds for tools/check.sh; normally a few minutes at most)
# Guest tests for the synthetic NIC (netvsp + hv_netvsc) over a TAP device:
# driver probe, ping both ways, a TCP download and upload with SHA-256
# checks, the download coalesced by RSC, checksum/segmentation offloads
# with iperf3 both ways, MTU 9000
# (the TAP follows the guest), and carrier down/up seen by the guest when the host toggles its
# TAP. Link-local addresses only (169.254.100.0/24), inside this host (the
# emulated host when there is no hardware virtualization). Needs root for
# the TAP device, /dev/kvm (tools/with-kvm) and python3.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
tmp=$(mktemp -d /tmp/ohv-net.XXXXXX)
TAP=ohvtap0
HOST_IP=169.254.100.1
GUEST_IP=169.254.100.2
cleanup()
{
	vm_kill_all
	[ -n "${srv:-}" ] && kill "$srv" 2>/dev/null
	[ -n "${rss_srv:-}" ] && kill "$rss_srv" 2>/dev/null
	[ -n "${iperf:-}" ] && kill "$iperf" 2>/dev/null
	ip link del "$TAP" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
echo "TAP version 13"

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! command -v python3 >/dev/null; then
	t_skip "network tests" "need root, ip and python3"
	t_done
	exit
fi
# ping from iputils if present, else busybox's.
if command -v ping >/dev/null; then PING=ping; elif command -v busybox >/dev/null; then PING="busybox ping"
else PING=false; fi
ip link del "$TAP" 2>/dev/null
if ! ip tuntap add dev "$TAP" mode tap 2>"$tmp/tuntap.err"; then
	t_skip "network tests" "cannot create a TAP device: $(cat "$tmp/tuntap.err")"
	t_done
	exit
fi
ip addr add "$HOST_IP/24" dev "$TAP"
ip link set "$TAP" up

# 1. A missing TAP is refused with a clear one-line error.
log=$tmp/missing.log
guest_run "$log" --memory 256M --nic tap=ohvnosuch0 --cmdline "console=ttyS0 panic=-1 ohv.script=info"
t_check "a missing TAP device is refused (rc=$rc)" [ "$rc" -ne 0 ]
t_check "the error names the device and how to create it" grep -q "ohvnosuch0.*ip tuntap add" "$log"

# Host side of the transfers: serve a 1 MiB download on 5555, take a 1 MiB
# upload on 5556; write the SHA-256 of both.
head -c 1048576 /dev/urandom >"$tmp/dl"
dl_sha=$(sha256sum "$tmp/dl" | cut -d' ' -f1)
python3 - "$tmp" "$HOST_IP" >"$tmp/srv.log" 2>&1 <<'PY' &
import hashlib, socket, sys, threading
tmp, ip = sys.argv[1], sys.argv[2]
def serve_dl():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, 5555)); s.listen(1); c, _ = s.accept()
    c.sendall(open(tmp + "/dl", "rb").read()); c.close()
def serve_ul():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, 5556)); s.listen(1); c, _ = s.accept()
    h, n = hashlib.sha256(), 0
    while n < 1048576:
        b = c.recv(65536)
        if not b: break
        h.update(b); n += len(b)
    c.close()
    open(tmp + "/ul.sha", "w").write("%d %s\n" % (n, h.hexdigest()))
t = [threading.Thread(target=serve_dl), threading.Thread(target=serve_ul)]
[x.start() for x in t]; [x.join() for x in t]
PY
srv=$!
# vRSS: 256 KiB to each of up to 24 connections on 5557 (the guest opens
# new flows until both of its receive queues saw some).
python3 - "$HOST_IP" >"$tmp/rss-srv.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5557)); s.listen(4)
data = bytes(262144)
for _ in range(24):
    c, _ = s.accept()
    try:
        c.sendall(data)
    except OSError:
        pass
    c.close()
PY
rss_srv=$!
iperf=
if command -v iperf3 >/dev/null; then
	iperf3 -s -B "$HOST_IP" >"$tmp/iperf.log" 2>&1 &
	iperf=$!
fi

# 2. The guest with one NIC on the TAP.
log=$tmp/net.log
mac=02:6f:68:10:20:30
vm_start "$log" 500 --kernel "$KERNEL" --initrd "$INITRD" --memory 512M --cpus 2 --nic "tap=$TAP,mac=$mac" \
	--cmdline "console=ttyS0 panic=-1 ohv.script=net-test"
vm_wait_for "$log" "ohv-net-ready|ohv-result=" 300
t_check "hv_netvsc binds and the interface has our MAC" grep -q "ohv-net-dev=.* mac=$mac mtu=1500" "$log"
t_check "guest sees carrier after ifup" grep -q "ohv-net-carrier=1" "$log"
t_check "guest pings the host" grep -q "ohv-net-ping-host=ok" "$log"
grep -a "ohv-net-diag" "$log" | tr -d '\r' | t_diag
if $PING -c 3 -W 5 "$GUEST_IP" >"$tmp/ping" 2>&1; then t_ok "host pings the guest"; else
	t_fail "host pings the guest"; t_diag <"$tmp/ping"; fi
vm_wait_for "$log" "ohv-net-ul-done|ohv-result=" 240
t_check "download: 1 MiB arrives intact (SHA-256)" grep -q "ohv-net-dl-bytes=1048576 ohv-net-dl-sha=$dl_sha" "$log"
# The host stack hands the TAP 64 KiB TCP frames; with RSC on (the guest's
# default LRO) they reach the guest whole, so the guest counts fewer packets
# than 1514-byte frames would make.
rxp=$(sed -n 's/.*ohv-net-dl-rx packets=\([0-9]*\) bytes=.*/\1/p' "$log" | head -n 1)
rxb=$(sed -n 's/.*ohv-net-dl-rx packets=[0-9]* bytes=\([0-9]*\).*/\1/p' "$log" | head -n 1)
t_check "download arrives coalesced (RSC): ${rxb:-?} bytes in ${rxp:-?} packets" \
	[ -n "$rxp" ] && [ "${rxp:-0}" -gt 0 ] && [ $((${rxb:-0} / ${rxp:-1})) -gt 1514 ]
wait "$srv" 2>/dev/null
srv=
ul_sha=$(value "$log" ohv-net-ul-sha)
t_check "upload: 1 MiB arrives intact (SHA-256)" grep -q "^1048576 $ul_sha\$" "$tmp/ul.sha"
# Rough transfer times as the guest saw them (informational).
for d in dl ul; do
	span=$(value "$log" "ohv-net-$d-seconds")
	[ -n "$span" ] && awk -v s="$span" -v d="$d" 'BEGIN { split(s, a, "\\.\\."); t = a[2] - a[1];
		if (t > 0) printf "# %s: 1 MiB in %.2f s (%.1f Mbit/s)\n", d, t, 8.388608 / t }'
done
vm_wait_for "$log" "ohv-net-ping-jumbo|ohv-net-mtu=refused|ohv-result=" 150
tap_mtu=$(cat "/sys/class/net/$TAP/mtu")
vm_wait_for "$log" "ohv-net-wait-link|ohv-result=" 60
if grep -q "ohv-net-offload" "$log"; then
	t_check "guest has TX checksum offload and TSO on" \
		grep -q "ohv-net-offload tx-csum=on tso=on" "$log"
	t_check "guest has LRO (host RSC) on" grep -q "ohv-net-offload .* lro=on" "$log"
else
	t_skip "guest offload flags" "no ethtool in the guest image (install ethtool on the host)"
fi
if [ -n "$iperf" ] && ! grep -q "ohv-net-iperf-tx=missing" "$log"; then
	t_check "iperf3 guest -> host with offloads" grep -qE "ohv-net-iperf-tx=[0-9]*[1-9]" "$log"
	t_check "iperf3 host -> guest with offloads" grep -qE "ohv-net-iperf-rx=[0-9]*[1-9]" "$log"
	grep -E "ohv-net-iperf-(tx|rx)=" "$log" | sed 's/^/# /'
else
	t_skip "iperf3 both ways" "iperf3 is missing on the host or in the guest image"
fi
if grep -q "ohv-net-channels=" "$log"; then
	# 2 vCPUs: the guest asks for one sub-channel and programs RSS.
	t_check "vRSS: the guest uses 2 channels (one per vCPU)" grep -q "ohv-net-channels=2 cpus=2" "$log"
	t_check "vRSS: TCP flows from the host reach both receive queues" \
		grep -q "ohv-net-rxq-spread=ok" "$log"
	grep -a "ohv-net-rxq-spread=" "$log" | tr -d '\r' | sed 's/^/# /'
fi
t_check "guest MTU 9000 accepted" grep -q "ohv-net-mtu=9000" "$log"
t_check "an 8000-byte ping at MTU 9000" grep -q "ohv-net-ping-jumbo=ok" "$log"
t_check "the host's TAP followed to MTU 9000 (it has $tap_mtu)" [ "$tap_mtu" = 9000 ]
if grep -q "ohv-net-channels=" "$log"; then
	t_check "vRSS: after the MTU reconnects the guest has its 2 channels again" \
		grep -q "ohv-net-channels-after-mtu=2" "$log"
fi
ip link set "$TAP" down
vm_wait_for "$log" "ohv-net-link-down|ohv-result=" 60
t_check "guest sees carrier off when the host's TAP goes down" grep -q "ohv-net-link-down carrier=0" "$log"
ip link set "$TAP" up
vm_wait_for "$log" "ohv-result=" 120
t_check "guest sees carrier on again when it comes back" grep -q "ohv-net-link-up carrier=1" "$log"
t_check "traffic flows again after the link came back" grep -q "ohv-net-ping-after-link=ok" "$log"
vm_wait "$log" 500
t_check "guest script passes and the VM exits cleanly (rc=$rc)" \
	sh -c "grep -q 'ohv-result=pass' '$log' && [ $rc -eq 0 ]"
t_check "no netvsc errors in the guest log" sh -c "! grep -iE 'hv_netvsc.*(error|fail|unhandled|invalid)' '$log'"
if [ "$t_failed" -gt 0 ]; then
	echo "# guest log (tail):"
	tail -n 40 "$log" | t_diag
	t_diag <"$tmp/srv.log"
fi
t_done
