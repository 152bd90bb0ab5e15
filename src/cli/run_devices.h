/* SPDX-License-Identifier: MIT */
#ifndef OPENHV_CLI_RUN_DEVICES_H
#define OPENHV_CLI_RUN_DEVICES_H

#include "vmm/vm.h"

/* Parse "PATH[,ro][,dvd]" (arg is modified and must outlive out). Logs, returns 0 or -EINVAL. */
int run_parse_disk(char *arg, struct vm_disk_config *out);
/* Parse "tap=IFNAME|switch=NAME[,mac=XX:..][,vlan=N]" likewise. */
int run_parse_nic(char *arg, struct vm_nic_config *out);

#endif
