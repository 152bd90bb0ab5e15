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
# Let the daemon resolve its own name for the FQDN it reports (no DNS here).
echo "127.0.1.1 ohv-guest-kvp.openhv.test ohv-guest-kvp" >>/etc/hosts
echo "hosts: files" >/etc/nsswitch.conf
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
# The pool file holds fixed-size binary records; report what it holds for our key.
value=$(grep -ao "hello-from-host-[0-9]*" /var/lib/hyperv/.kvp_pool_0 | head -n 1)
echo "ohv-kvp-host=$key=$value"
sleep 15
ohv_pass
ohv_poweroff
