# SPDX-License-Identifier: MIT
# Guest script "poweroff": power off at once (tests the VMM's power-off path).
. /ohv/lib.sh

ohv_pass
ohv_poweroff
