#!/bin/bash
# SPDX-License-Identifier: MIT
# Real guests through openhvd: disks and a NIC passed to the sealed worker,
# disk hot-add/hot-remove and a reboot inside the worker, then several
# guests at once with one worker killed. Needs hardware-assisted KVM, so
# run it through the emulated host when the machine has none:
#
#   eval "$(tools/mkguest.sh)"; export KERNEL INITRD
#   OPENHVD=build/src/daemon/openhvd OPENHV=build/src/cli/openhv \
#   OPENHV_WORKER=build/src/worker/openhv-worker tools/with-kvm tests/daemon/guest-disks.sh
#
# Not part of the "daemon" suite for that reason.
. "$(dirname "$0")/guest-lib.sh"

# 1. Disks and a NIC handed to the sealed worker as descriptors: the guest
#    sees LUN 0 and LUN 1 with the right sizes, a guest write lands in
#    the host image, and it pings the host over a TAP openhvd opened.
RAW="$T_DIR/g4.img"
truncate -s 64M "$RAW"
VHDX="$T_DIR/g4.vhdx"
"$OPENHV" disk create "$VHDX" --size 128M >/dev/null
TAP=ohvg$$
NIC_OPT=()
if make_tap "$TAP"; then
	ip addr add 169.254.101.1/24 dev "$TAP" && ip link set "$TAP" up
	NIC_OPT=(--nic "$TAP,mac=00:15:5d:42:00:04")
else
	diag "cannot create a TAP here: the NIC part is skipped"
fi
expect_rc 0 "create g4 with two disks and a NIC" vm create g4 --kernel "$KERNEL" \
	--initrd "$INITRD" --memory 192M --cmdline "console=ttyS0 ohv.shell=1" \
	--disk "$RAW" --disk "$VHDX" "${NIC_OPT[@]}"
expect_rc 0 "start g4" vm start g4
check "g4 shell up" wait_log g4 "interactive shell" "$BOOT_TIMEOUT"
con g4 30 "$T_DIR/g4.con" <<'EOS'
. /ohv/scripts/disk-lib.sh; disk_load; echo "ohv-disk-load=$?"
l0=$(disk_by_lun 0); l1=$(disk_by_lun 1)
echo "ohv-lun0=$(cat /sys/block/$l0/size) ohv-lun1=$(cat /sys/block/$l1/size)"
echo ohv-daemon-disk-marker | dd of=/dev/$l0 bs=512 seek=8 conv=fsync 2>/dev/null; echo "ohv-dd-rc=$?"
EOS
tr -d '\r' <"$T_DIR/g4.con" | grep "^ohv-" | sed 's/^/# g4: /'
check "g4 sees the raw disk (LUN 0) as 64 MiB (131072 sectors)" grep -q "ohv-lun0=131072 " "$T_DIR/g4.con"
check "g4 sees the VHDX (LUN 1) as 128 MiB (262144 sectors)" grep -q "ohv-lun1=262144" "$T_DIR/g4.con"
check "the guest's write landed in the host image" \
	out_has ohv-daemon-disk-marker dd if="$RAW" bs=512 skip=8 count=1
if [ ${#NIC_OPT[@]} -gt 0 ]; then
	con g4 25 "$T_DIR/g4n.con" <<'EOS'
modprobe hv_netvsc; sleep 2; d=$(ls /sys/class/net | grep -v lo | head -n 1); echo "ohv-dev=$d"
ip link set "$d" up; ip addr add 169.254.101.2/24 dev "$d"; sleep 2
ping -c 3 -W 3 169.254.101.1 >/dev/null 2>&1 && echo ohv-ping=ok || echo ohv-ping=fail
EOS
	tr -d '\r' <"$T_DIR/g4n.con" | grep "^ohv-" | sed 's/^/# g4: /'
	check "g4 pings the host over the TAP openhvd passed" grep -q "ohv-ping=ok" "$T_DIR/g4n.con"
fi

# 1b. Disk hot-add and hot-remove on the running g4: the service opens the
#     image and passes it to the sealed worker, the guest's storvsc re-scans
#     and sees a third disk, data goes both ways; removal makes the guest drop
#     it while the VM keeps running; the VM's stored config follows.
HOT="$T_DIR/g4-hot.img"
truncate -s 32M "$HOT"
printf 'ohv-hot-marker-host' | dd of="$HOT" conv=notrunc 2>/dev/null
expect_rc 0 "hot-add a disk to running g4" vm disk add g4 "$HOT"
diag "hot-add: $(cat "$T_DIR/out")"
check "the hot-added disk is LUN 2" grep -q "LUN 2" "$T_DIR/out"
con g4 45 "$T_DIR/g4h.con" <<'EOS'
h=; i=0; while [ $i -lt 80 ]; do for d in /sys/block/sd*; do [ "$(cat $d/size)" = 65536 ] && h=${d##*/}; done; [ -n "$h" ] && break; sleep 0.5; i=$((i+1)); done; echo "ohv-hot=$h waited=$i"
echo "ohv-read=$(dd if=/dev/$h bs=512 count=1 2>/dev/null | head -c 19)"
echo ohv-hot-guest-write | dd of=/dev/$h bs=512 seek=16 conv=fsync 2>/dev/null; echo "ohv-hot-dd-rc=$?"
EOS
tr -d '\r' <"$T_DIR/g4h.con" | grep "^ohv-" | sed 's/^/# g4: /'
HOTDEV=$(tr -d '\r' <"$T_DIR/g4h.con" | sed -n 's/^ohv-hot=\(sd[a-z]*\) .*/\1/p' | tail -n 1)
check "the guest sees the hot-added disk (32 MiB)" test -n "$HOTDEV"
check "the guest reads the host's data from it" grep -q "ohv-read=ohv-hot-marker-host" "$T_DIR/g4h.con"
check "the guest's write lands in the hot-added image" \
	out_has ohv-hot-guest-write dd if="$HOT" bs=512 skip=16 count=1
check "the VM's config keeps the hot-added disk" grep -q "g4-hot.img" <<<"$(vm show --json g4)"
# A guest reboot rebuilds the machine inside the sealed worker from the
# descriptors it keeps: the configured disks, the hot-added one and the TAP.
con g4 3 /dev/null <<<'reboot -f'
i=0
while [ "$(grep -c "interactive shell" "$LOG/g4.console.log")" -lt 2 ] && [ $i -lt "$BOOT_TIMEOUT" ]; do
	sleep 1
	i=$((i + 1))
done
check "g4 rebooted inside its worker" test "$(grep -c "interactive shell" "$LOG/g4.console.log")" -ge 2
con g4 35 "$T_DIR/g4rb.con" <<'EOS'
. /ohv/scripts/disk-lib.sh; disk_load; i=0; while ! disk_by_lun 2 >/dev/null && [ $i -lt 40 ]; do sleep 0.5; i=$((i+1)); done
l0=$(disk_by_lun 0); l1=$(disk_by_lun 1); l2=$(disk_by_lun 2)
echo "ohv-after-reboot=$(cat /sys/block/$l0/size)/$(cat /sys/block/$l1/size)/$(cat /sys/block/$l2/size 2>/dev/null)"
echo "ohv-hot-after-reboot=$(dd if=/dev/$l2 bs=512 skip=16 count=1 2>/dev/null | head -c 19)"
echo "ohv-lun2-dev=$l2"
modprobe hv_netvsc; sleep 2; d=$(ls /sys/class/net | grep -v lo | head -n 1); ip link set "$d" up; ip addr add 169.254.101.2/24 dev "$d"; sleep 2
ping -c 3 -W 3 169.254.101.1 >/dev/null 2>&1 && echo ohv-ping-after-reboot=ok || echo ohv-ping-after-reboot=fail
EOS
tr -d '\r' <"$T_DIR/g4rb.con" | grep "^ohv-" | sed 's/^/# g4: /'
check "after the reboot the guest has all three disks" \
	grep -q "ohv-after-reboot=131072/262144/65536" "$T_DIR/g4rb.con"
check "the hot-added disk keeps the guest's data across the reboot" \
	grep -q "ohv-hot-after-reboot=ohv-hot-guest-wri" "$T_DIR/g4rb.con"
if [ ${#NIC_OPT[@]} -gt 0 ]; then
	check "after the reboot the guest still pings the host over its TAP" \
		grep -q "ohv-ping-after-reboot=ok" "$T_DIR/g4rb.con"
fi
HOTDEV=$(tr -d '\r' <"$T_DIR/g4rb.con" | sed -n 's/^ohv-lun2-dev=\(sd[a-z]*\)$/\1/p' | tail -n 1)
expect_rc 0 "list g4's disks" vm disk list g4
check "the list shows LUN 2 with its path" grep -q '"lun":2,"path":"[^"]*g4-hot.img"' "$T_DIR/out"
expect_rc 4 "removing a LUN that does not exist is refused" vm disk remove g4 9
ln "$RAW" "$T_DIR/g4-hardlink.img"
expect_rc 5 "hot-adding an attached image under another name is refused" \
	vm disk add g4 "$T_DIR/g4-hardlink.img"
expect_rc 0 "hot-remove LUN 2 from g4" vm disk remove g4 2
if [ -n "$HOTDEV" ]; then
	sed "s/@DEV@/$HOTDEV/" >"$T_DIR/g4r.in" <<'EOS'
i=0; while [ -e /sys/block/@DEV@ ] && [ $i -lt 80 ]; do sleep 0.5; i=$((i+1)); done; [ -e /sys/block/@DEV@ ] && echo ohv-gone=no || echo ohv-gone=yes waited=$i
. /ohv/scripts/disk-lib.sh; echo "ohv-left=$(disk_by_lun 0 >/dev/null && echo 0)$(disk_by_lun 1 >/dev/null && echo 1)$(disk_by_lun 2 >/dev/null && echo 2)"
EOS
	con g4 45 "$T_DIR/g4r.con" <"$T_DIR/g4r.in"
	tr -d '\r' <"$T_DIR/g4r.con" | grep "^ohv-" | sed 's/^/# g4: /'
	check "the guest dropped the removed disk" grep -q "ohv-gone=yes" "$T_DIR/g4r.con"
	check "the other two disks stay (LUNs 0 and 1)" grep -q "ohv-left=01" "$T_DIR/g4r.con"
fi
check "g4 keeps running after the hot-remove" test "$(vm_state g4)" = running
check "the VM's config no longer has the removed disk" \
	bash -c '! grep -q "g4-hot.img" <<<"$1"' _ "$(vm show --json g4)"
check "the removed image is intact on the host" \
	out_has ohv-hot-marker-host dd if="$HOT" bs=512 count=1

# 2. Several real guests at once; kill -9 of one worker: that VM is crashed
#    with a reason, the others keep running and answer on their consoles,
#    the service answers, and the crashed VM starts again.
for n in g5 g6 g7; do
	expect_rc 0 "create $n" vm create $n --kernel "$KERNEL" --initrd "$INITRD" --memory 160M \
		--cmdline "console=ttyS0 ohv.shell=1"
done
# One boot at a time: several guests booting at once in the emulated host
# trip TCG's nested SVM now and then (tests/guest/l2-fault.sh); the point here
# is several guests running at once, which they are when g6 is killed.
T0=$(ms)
for n in g5 g6 g7; do
	expect_rc 0 "start $n" vm start $n
	check "$n shell up" wait_log $n "interactive shell" "$BOOT_TIMEOUT"
done
diag "g5..g7 started one after another: all shells up after $(($(ms) - T0)) ms"
KILLED=$(vm_pid g6)
kill -9 "$KILLED"
check "g6 crashed" wait_state g6 crashed 10
check "g6's reason names the kill" grep -q "signal 9" <<<"$(vm_reason g6)"
diag "g6: $(vm_reason g6)"
check "service answers after the kill" "$OPENHV" vm list
for n in g4 g5 g7; do
	check "$n still running" test "$(vm_state $n)" = running
	echo "echo alive-$n-\$((40+2))" | con $n 3 "$T_DIR/$n.alive"
	check "$n guest still answers on its console" grep -q "alive-$n-42" "$T_DIR/$n.alive"
done
: >"$LOG/g6.console.log"
expect_rc 0 "g6 starts again after the crash" vm start g6
check "g6 shell up again" wait_log g6 "interactive shell" "$BOOT_TIMEOUT"
for n in g4 g5 g6 g7; do
	"$OPENHV" vm kill $n >/dev/null 2>&1
done
check "all off" wait_state g6 off 10

sed 's/^/# worker: /' "$LOG"/*.worker.log 2>/dev/null | head -20
finish
