# SPDX-License-Identifier: MIT
# Guest script "info": report what the guest sees (CPUs, memory, kernel).
. /ohv/lib.sh

cpus=$(nproc) || ohv_fail "nproc failed"
memkb=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
[ -n "$memkb" ] || ohv_fail "no MemTotal in /proc/meminfo"
echo "ohv-cpus=$cpus"
echo "ohv-memkb=$memkb"
echo "ohv-kernel=$(uname -r)"
ohv_pass
ohv_poweroff
