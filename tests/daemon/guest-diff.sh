#!/bin/bash
# SPDX-License-Identifier: MIT
# Real guests through openhvd: a differencing VHDX chain passed to the
# sealed worker, hot-add of a differencing image refused, and a kill -9
# right after a guest fsync. Needs hardware-assisted KVM, so run it
# through the emulated host when the machine has none:
#
#   eval "$(tools/mkguest.sh)"; export KERNEL INITRD
#   OPENHVD=build/src/daemon/openhvd OPENHV=build/src/cli/openhv \
#   OPENHV_WORKER=build/src/worker/openhv-worker tools/with-kvm tests/daemon/guest-diff.sh
#
# Not part of the "daemon" suite for that reason.
. "$(dirname "$0")/guest-lib.sh"

# A differencing VHDX through the service: openhvd resolves the chain and
# passes the parent read-only next to the child; the guest reads the parent's
# data through the child, its writes land in the child only. Hot-adding a
# differencing image is refused with a reason.
BASE_RAW="$T_DIR/g8-base.img" BASE="$T_DIR/g8-base.vhdx" CHILD="$T_DIR/g8-child.vhdx"
truncate -s 32M "$BASE_RAW"
printf 'ohv-parent-marker-host' | dd of="$BASE_RAW" bs=512 seek=8 conv=notrunc 2>/dev/null
if "$OPENHV" disk convert "$BASE_RAW" "$BASE" >/dev/null 2>&1 &&
	"$OPENHV" disk create --parent "$BASE" "$CHILD" >/dev/null 2>&1; then
	base_sum=$(sha256sum <"$BASE")
	expect_rc 0 "create g8 with a differencing VHDX" vm create g8 --kernel "$KERNEL" \
		--initrd "$INITRD" --memory 160M --cmdline "console=ttyS0 ohv.shell=1" --disk "$CHILD"
	expect_rc 0 "start g8 (the service passes the child and its parent)" vm start g8
	check "g8 shell up" wait_log g8 "interactive shell" "$BOOT_TIMEOUT"
	con g8 30 "$T_DIR/g8.con" <<'EOS'
. /ohv/scripts/disk-lib.sh; disk_load; l0=$(disk_by_lun 0); echo "ohv-g8-lun0=$l0"
echo "ohv-g8-size=$(cat /sys/block/$l0/size)"
echo "ohv-g8-read=$(dd if=/dev/$l0 bs=512 skip=8 count=1 2>/dev/null | tr -dc 'a-z-' | head -c 40)"
echo ohv-child-marker-guest | dd of=/dev/$l0 bs=512 seek=16 conv=fsync 2>/dev/null; echo "ohv-g8-dd=$?"
EOS
	tr -d '\r' <"$T_DIR/g8.con" | grep "^ohv-" | sed 's/^/# g8: /'
	check "g8 sees the chain's size (32 MiB)" grep -q "ohv-g8-size=65536" "$T_DIR/g8.con"
	check "g8 reads the parent's data through the child" \
		grep -q "ohv-g8-read=ohv-parent-marker-host" "$T_DIR/g8.con"
	check "g8's write succeeded" grep -q "ohv-g8-dd=0" "$T_DIR/g8.con"
	"$OPENHV" disk create --parent "$BASE" "$T_DIR/g8-hot.vhdx" >/dev/null 2>&1
	expect_rc 1 "hot-adding a differencing image is refused (501)" vm disk add g8 "$T_DIR/g8-hot.vhdx"
	check "... with the reason" grep -q "differencing.*standalone" "$T_DIR/err"
	# A hard kill right after the guest's fsync: the write sits in the child's
	# log. Starting again must work (the worker replays the log; the service
	# reads headers only) and the guest must find its write.
	expect_rc 0 "kill g8 (worker killed, child not closed)" vm kill g8
	check "g8 off" wait_state g8 off 10
	check "the parent image is unchanged" test "$(sha256sum <"$BASE")" = "$base_sum"
	"$OPENHV" disk check "$CHILD" >"$T_DIR/g8.check" 2>&1
	diag "g8 child after the kill: $(tr '\n' ' ' <"$T_DIR/g8.check")"
	: >"$LOG/g8.console.log"
	expect_rc 0 "g8 starts again on the unclean child" vm start g8
	check "g8 shell up again" wait_log g8 "interactive shell" "$BOOT_TIMEOUT"
	con g8 20 "$T_DIR/g8b.con" <<'EOS'
. /ohv/scripts/disk-lib.sh; disk_load; l0=$(disk_by_lun 0)
echo "ohv-g8-again=$(dd if=/dev/$l0 bs=512 skip=16 count=1 2>/dev/null | tr -dc 'a-z-' | head -c 40)"
EOS
	tr -d '\r' <"$T_DIR/g8b.con" | grep "^ohv-" | sed 's/^/# g8: /'
	check "the fsync'ed write survived the kill" grep -q "ohv-g8-again=ohv-child-marker-guest" "$T_DIR/g8b.con"
	echo "poweroff -f" | con g8 5 "$T_DIR/g8c.con"
	check "g8 powers off" wait_state g8 off "$BOOT_TIMEOUT"
	check "the child is clean after the VM closed it (openhv disk check)" "$OPENHV" disk check "$CHILD"
	check "the parent image is still unchanged" test "$(sha256sum <"$BASE")" = "$base_sum"
	"$OPENHV" disk convert "$CHILD" "$T_DIR/g8-flat.img" >/dev/null 2>&1
	check "the child holds the guest's write on top of the parent's data" sh -c "
		dd if='$T_DIR/g8-flat.img' bs=512 skip=8 count=1 2>/dev/null | grep -q ohv-parent-marker-host &&
		dd if='$T_DIR/g8-flat.img' bs=512 skip=16 count=1 2>/dev/null | grep -q ohv-child-marker-guest"
else
	not_ok "cannot make a differencing VHDX for the test"
fi

sed 's/^/# worker: /' "$LOG"/*.worker.log 2>/dev/null | head -20
finish
