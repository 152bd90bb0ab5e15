# SPDX-License-Identifier: MIT
# Shared part of the sw-* guest scripts (tests/guest/test_switch.sh): bring
# up the hv_netvsc interface with ohv.ip, ping helpers, the macvlan
# spoofing probe, and the end of a run (the host sets the port down).
# Only link-local addresses (169.254.0.0/16) are used.
. /ohv/lib.sh

# sw_up: sets $dev, prints its MAC, configures ohv.ip/24, waits for carrier.
sw_up()
{
	ip=$(ohv_arg ip)
	[ -n "$ip" ] || ohv_fail "no ohv.ip= on the command line"
	modprobe hv_vmbus || ohv_fail "hv_vmbus did not load"
	modprobe hv_netvsc || ohv_fail "hv_netvsc did not load"
	dev=
	i=0
	while [ -z "$dev" ] && [ $i -lt 100 ]; do
		for d in /sys/class/net/*; do
			[ "$(basename "$(readlink "$d/device/driver" 2>/dev/null)")" = hv_netvsc ] &&
				dev=$(basename "$d")
		done
		[ -n "$dev" ] || sleep 0.1
		i=$((i + 1))
	done
	[ -n "$dev" ] || ohv_fail "no hv_netvsc interface appeared"
	echo "ohv-sw-dev=$dev mac=$(cat /sys/class/net/$dev/address)"
	ip link set lo up
	ip addr add "$ip/24" dev "$dev" || ohv_fail "cannot set the address"
	ip link set "$dev" up || ohv_fail "cannot bring $dev up"
	sw_wait_carrier 1 100
	echo "ohv-sw-carrier=$(cat /sys/class/net/$dev/carrier 2>/dev/null)"
}

# sw_wait_carrier VALUE TENTHS
sw_wait_carrier()
{
	i=0
	while [ "$(cat /sys/class/net/$dev/carrier 2>/dev/null)" != "$1" ] && [ $i -lt "$2" ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# sw_ping KEY ADDR TRIES [ping options]: "ohv-sw-KEY=ok" as soon as one ping
# answers within TRIES attempts, else "ohv-sw-KEY=fail".
sw_ping()
{
	key=$1 addr=$2 tries=$3
	shift 3
	n=0
	while [ $n -lt "$tries" ]; do
		if ping -c 1 -W 2 "$@" "$addr" >/dev/null 2>&1; then
			echo "ohv-sw-$key=ok"
			return 0
		fi
		n=$((n + 1))
	done
	echo "ohv-sw-$key=fail"
	return 1
}

# sw_spoof KEY ADDR: a macvlan on $dev sends from another MAC (02:6f:68:ee:ee:NN)
# and pings ADDR from ohv.spoofip. The macvlan module comes from the first
# disk (an ext4 image the host prepared). Prints ohv-sw-KEY=ok|fail.
sw_spoof()
{
	sip=$(ohv_arg spoofip)
	modprobe hv_storvsc >/dev/null 2>&1
	modprobe sd_mod >/dev/null 2>&1
	ohv_wait_for /dev/sda 300 || { echo "ohv-sw-$1=nodisk"; return 1; }
	mkdir -p /mnt/mods
	mount -o ro /dev/sda /mnt/mods || { echo "ohv-sw-$1=nomount"; return 1; }
	insmod /mnt/mods/macvlan.ko || { echo "ohv-sw-$1=nomodule"; return 1; }
	ip link add link "$dev" name mv0 address 02:6f:68:ee:ee:0${sip##*.} type macvlan mode private ||
		{ echo "ohv-sw-$1=nomacvlan"; return 1; }
	ip addr add "$sip/32" dev mv0
	ip link set mv0 up
	ip route add "$2/32" dev mv0 src "$sip"
	sw_ping "$1" "$2" 3 -I mv0
	# back to the NIC's own address for what follows
	ip link del mv0
}

# sw_end: wait for the host to set the port down, then power off.
sw_end()
{
	echo "ohv-sw-wait-link"
	sw_wait_carrier 0 1800
	echo "ohv-sw-link-down carrier=$(cat /sys/class/net/$dev/carrier 2>/dev/null)"
	if [ "$(ohv_arg linkup 0)" = 1 ]; then
		sw_wait_carrier 1 1800
		echo "ohv-sw-link-up carrier=$(cat /sys/class/net/$dev/carrier 2>/dev/null)"
		sw_ping after-link "$(ohv_arg host)" 5
	fi
	ohv_pass
	ohv_poweroff
}
