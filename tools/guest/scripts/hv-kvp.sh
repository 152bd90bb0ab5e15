# SPDX-License-Identifier: MIT
# Guest script "hv-kvp": run Debian's hv_kvp_daemon, wait for the key the host
# pushes (ohv.kvpkey=KEY on the command line) to appear in the external pool,
# then stay up long enough for the host to read the guest's own pool.
. /ohv/lib.sh

key=
for arg in $(cat /proc/cmdline); do
	case $arg in ohv.kvpkey=*) key=${arg#ohv.kvpkey=} ;; esac
done
[ -n "$key" ] || ohv_fail "no ohv.kvpkey= on the kernel command line"
hostname ohv-guest-kvp
modprobe hv_vmbus || ohv_fail "hv_vmbus did not load"
modprobe hv_utils || ohv_fail "hv_utils did not load"
mkdir -p /var/lib/hyperv
hv_kvp_daemon || ohv_fail "hv_kvp_daemon did not start"
found=
for _ in $(seq 1 120); do
	if [ -f /var/lib/hyperv/.kvp_pool_0 ] && grep -q "$key" /var/lib/hyperv/.kvp_pool_0; then
		found=1
		break
	fi
	sleep 0.5
done
[ -n "$found" ] || ohv_fail "host key $key never reached /var/lib/hyperv/.kvp_pool_0"
# The pool file is binary (fixed-size records); print the value printable-only.
echo "ohv-kvp-host=$(tr -c '[:print:]' '\n' </var/lib/hyperv/.kvp_pool_0 | grep -v '^$' | tr '\n' ' ')"
sleep 15
ohv_pass
ohv_poweroff
