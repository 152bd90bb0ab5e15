# SPDX-License-Identifier: MIT
# Guest script "reboot": ask the VMM for a reset (the next boot runs the same
# command line, so a VMM test counts the ohv-rebooting lines).
. /ohv/lib.sh

echo "ohv-rebooting"
sync
reboot -f
ohv_fail "reboot -f returned"
