# SPDX-License-Identifier: MIT
#
# Helpers for guest scripts (sourced; busybox sh). Scripts print their result
# as one line, "ohv-result=pass" or "ohv-result=fail <reason>".

ohv_pass()
{
	echo "ohv-result=pass"
}

ohv_fail()
{
	echo "ohv-result=fail $*"
	poweroff -f
	exit 1
}

ohv_poweroff()
{
	sync
	poweroff -f
}

# ohv_arg NAME [DEFAULT]: value of "ohv.NAME=VALUE" on the kernel command line.
ohv_arg()
{
	_v=$2
	for _a in $(cat /proc/cmdline); do
		case $_a in
		"ohv.$1="*) _v=${_a#ohv.$1=} ;;
		esac
	done
	echo "$_v"
}

# ohv_netvsc_dev: print the name of the hv_netvsc interface once it exists
# (waits up to 10 s); non-zero when none appeared.
ohv_netvsc_dev()
{
	_n=0
	while [ "$_n" -lt 100 ]; do
		for _d in /sys/class/net/*; do
			if [ "$(basename "$(readlink "$_d/device/driver" 2>/dev/null)")" = hv_netvsc ]; then
				basename "$_d"
				return 0
			fi
		done
		sleep 0.1
		_n=$((_n + 1))
	done
	return 1
}

# ohv_wait_for PATH [TENTHS]: wait until PATH exists (default 5 s).
ohv_wait_for()
{
	_n=0
	while [ ! -e "$1" ]; do
		[ "$_n" -lt "${2:-50}" ] || return 1
		sleep 0.1
		_n=$((_n + 1))
	done
	return 0
}
