#!/bin/bash
# SPDX-License-Identifier: MIT
# Network throughput, openhv (netvsp + hv_netvsc) vs QEMU microvm (virtio-net,
# vhost off), same guest, same TAP, same host. Runs where /dev/kvm is (use
# bench/network/run.sh). TCP bulk transfer with busybox nc in the guest and
# python3 on the host, over 169.254.100.0/24 on a TAP; nothing leaves the host.
# usage: bench_network.sh OPENHV KERNEL INITRD [MIB] [RUNS]
set -uo pipefail
openhv=$1 kernel=$2 initrd=$3 mb=${4:-8} runs=${5:-1}
tap=ohvbench0
tmp=$(mktemp -d /tmp/ohv-netbench.XXXXXX)
trap 'ip link del "$tap" 2>/dev/null; rm -rf "$tmp"' EXIT
ip link del "$tap" 2>/dev/null
ip tuntap add dev "$tap" mode tap || { echo "bench_network: cannot create a TAP (need root)" >&2; exit 1; }
ip addr add 169.254.100.1/24 dev "$tap"
ip link set "$tap" up
head -c $((mb * 1048576)) /dev/urandom >"$tmp/dl"

serve()
{
	python3 - "$tmp/dl" "$mb" <<'PY' &
import socket, sys, threading
data, need = open(sys.argv[1], "rb").read(), int(sys.argv[2]) * 1048576
def srv(port, fn):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("169.254.100.1", port)); s.listen(1); c, _ = s.accept(); fn(c); c.close()
def dl(c): c.sendall(data)
def ul(c):
    n = 0
    while n < need:
        b = c.recv(262144)
        if not b: break
        n += len(b)
t = [threading.Thread(target=srv, args=(5555, dl)), threading.Thread(target=srv, args=(5556, ul))]
[x.start() for x in t]; [x.join() for x in t]
PY
	srvpid=$!
	sleep 0.5
}

rate() # LOG KEY -> Mbit/s
{
	grep -aoE "$2=[0-9.]+\.\.[0-9.]+" "$1" | head -n1 | cut -d= -f2 |
		awk -v mb="$mb" '{ split($0, a, "\\.\\."); t = a[2] - a[1]; if (t > 0) printf "%.1f", mb * 8.388608 / t }'
}

append="console=ttyS0 panic=-1 ohv.script=net-bench ohv.netmb=$mb"
printf "%-14s %4s %14s %14s\n" vmm run "rx Mbit/s" "tx Mbit/s"
for vmm in openhv qemu-microvm; do
	for r in $(seq 1 "$runs"); do
		log=$tmp/$vmm.$r.log
		serve
		case $vmm in
		openhv)
			timeout 600 "$openhv" run --kernel "$kernel" --initrd "$initrd" --memory 512M --cpus 2 \
				--nic "tap=$tap,mac=02:6f:68:00:00:42" --cmdline "$append" </dev/null >"$log" 2>&1 ;;
		qemu-microvm)
			timeout 600 qemu-system-x86_64 -M microvm -accel kvm -cpu host -m 512 -smp 2 \
				-nodefaults -no-user-config -nographic -no-reboot -serial stdio \
				-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=off" \
				-device virtio-net-device,netdev=n0,mac=02:6f:68:00:00:43 \
				-kernel "$kernel" -initrd "$initrd" -append "$append" </dev/null >"$log" 2>&1 ;;
		esac
		kill "$srvpid" 2>/dev/null
		wait "$srvpid" 2>/dev/null
		if grep -q "ohv-result=pass" "$log"; then
			printf "%-14s %4s %14s %14s\n" "$vmm" "$r" "$(rate "$log" ohv-bench-dl-seconds)" \
				"$(rate "$log" ohv-bench-ul-seconds)"
		else
			printf "%-14s %4s %14s %14s\n" "$vmm" "$r" failed failed
			grep -aE "ohv-|error|Error" "$log" | tail -n 5 | sed 's/^/#   /'
		fi
	done
done
