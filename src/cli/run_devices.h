/* SPDX-License-Identifier: MIT */
#ifndef OPENHV_CLI_RUN_DEVICES_H
#define OPENHV_CLI_RUN_DEVICES_H

#include "vmm/vm.h"

/* Parse "PATH[,ro][,dvd]" (arg is modified and must outlive out). Logs, returns 0 or -EINVAL. */
int run_parse_disk(char *arg, struct vm_disk_config *out);
/* Parse "tap=IFNAME|switch=NAME[,mac=XX:..][,vlan=N][,allow-mac-spoofing]" likewise. */
int run_parse_nic(char *arg, struct vm_nic_config *out);
/*
 * Open a port (TAP on the bridge, access VLAN, up) for every switch= NIC,
 * set its tap_fd, and give it a MAC if it has none, so the MAC stays fixed
 * for the life of the VM. Ports are in the switches of state_dir (NULL: the
 * default). Logs one line and returns -EINVAL on failure, with nothing left
 * open. run_nics_close() deletes the ports (process exit does too).
 */
int run_nics_open(struct vm_nic_config *nics, unsigned int n, const char *state_dir);
void run_nics_close(void);

#endif
