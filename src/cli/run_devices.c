// SPDX-License-Identifier: MIT
/* Parsing of `openhv run --disk` and `--nic` values. */
#include "cli/run_devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"

/* Split at commas in place; returns the number of fields (at most max). */
static unsigned int split(char *s, char **fields, unsigned int max)
{
	unsigned int n = 0;

	while (s && n < max) {
		char *comma = strchr(s, ',');
		fields[n++] = s;
		if (comma)
			*comma++ = 0;
		s = comma;
	}
	return n;
}

int run_parse_disk(char *arg, struct vm_disk_config *out)
{
	char *f[8] = { 0 };
	unsigned int n = split(arg, f, 8);

	vm_disk_config_init(out);
	out->path = f[0];
	if (!n || !*f[0]) {
		log_err("--disk needs a path: --disk PATH[,ro][,dvd]");
		return -EINVAL;
	}
	for (unsigned int i = 1; i < n; i++) {
		if (!strcmp(f[i], "ro")) {
			out->read_only = true;
		} else if (!strcmp(f[i], "dvd")) {
			out->dvd = true;
			out->read_only = true;
		} else {
			log_err("--disk option '%s' is unknown; use ro or dvd", f[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	if (mac[0] & 1)
		return -EINVAL; /* multicast addresses cannot be a NIC's own */
	return 0;
}

int run_parse_nic(char *arg, struct vm_nic_config *out)
{
	char *f[8] = { 0 };
	unsigned int n = split(arg, f, 8);
	uint64_t v;

	vm_nic_config_init(out);
	for (unsigned int i = 0; i < n; i++) {
		char *eq = strchr(f[i], '=');
		const char *key = f[i], *val;

		if (!eq) {
			log_err("--nic '%s' is not KEY=VALUE; use tap=IFNAME or switch=NAME[,mac=..][,vlan=N]",
				f[i]);
			return -EINVAL;
		}
		*eq = 0;
		val = eq + 1;
		if (!strcmp(key, "tap")) {
			out->tap = val;
		} else if (!strcmp(key, "switch")) {
			out->switch_name = val;
		} else if (!strcmp(key, "mac")) {
			if (parse_mac(val, out->mac)) {
				log_err("--nic mac=%s is not a unicast MAC address like 00:15:5d:01:02:03",
					val);
				return -EINVAL;
			}
			out->has_mac = true;
		} else if (!strcmp(key, "vlan")) {
			if (parse_u64(val, &v) || v < 1 || v > 4094) {
				log_err("--nic vlan=%s is not a VLAN id from 1 to 4094", val);
				return -EINVAL;
			}
			out->vlan = (uint16_t)v;
		} else {
			log_err("--nic option '%s' is unknown; use tap, switch, mac or vlan", key);
			return -EINVAL;
		}
	}
	if (!!out->tap == !!out->switch_name) {
		log_err("--nic needs exactly one of tap=IFNAME or switch=NAME");
		return -EINVAL;
	}
	return 0;
}
