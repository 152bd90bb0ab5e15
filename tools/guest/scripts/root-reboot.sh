# SPDX-License-Identifier: MIT
# Guest script "root-reboot" (root disk from tools/mkrootdisk.sh, booted with
# root=...): keeps a token across a reboot. Every boot prints
# "ohv-root-boot dev=<device> fstype=<type> opts=<options>" for /. The first
# boot (no token file yet) writes ohv.token=<hex> from the command line to
# /var/lib/ohv-rootdisk/token, syncs, remounts / read-only and reboots; the
# next boot prints the file as ohv-root-token-read=<token>, passes if it
# matches and powers off, leaving the file system clean for host checks.
. /ohv/lib.sh

tok=$(ohv_arg token)
case $tok in
''|*[!0-9a-f]*) ohv_fail "give ohv.token=<lowercase hex> on the command line (got '$tok')" ;;
esac
set -- $(awk '$2 == "/" { d = $1; t = $3; o = $4 } END { print d, t, o }' /proc/mounts)
echo "ohv-root-boot dev=$1 fstype=$2 opts=$3"
[ "$2" = ext4 ] || ohv_fail "/ is $2 on $1, not the ext4 root disk (booted without root=?)"

# Remount / read-only (journal flushed, file system clean), then power off or reboot.
finish()
{
	sync
	mount -o remount,ro / || echo "ohv-root-remount=failed"
	"$1" -f
}

dir=/var/lib/ohv-rootdisk
if [ -f "$dir/token" ]; then
	got=$(cat "$dir/token")
	echo "ohv-root-token-read=$got"
	if [ "$got" = "$tok" ]; then
		ohv_pass
	else
		echo "ohv-result=fail token after reboot is '$got', expected '$tok'"
	fi
	finish poweroff
fi
mkdir -p "$dir" || ohv_fail "cannot create $dir on the root disk"
echo "$tok" >"$dir/token.new" || ohv_fail "cannot write $dir/token.new"
sync
mv "$dir/token.new" "$dir/token" || ohv_fail "cannot rename the token file"
sync
echo "ohv-root-token-written=$(cat "$dir/token")"
echo "ohv-rebooting"
finish reboot
ohv_fail "reboot -f returned"
