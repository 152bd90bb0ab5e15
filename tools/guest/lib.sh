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
