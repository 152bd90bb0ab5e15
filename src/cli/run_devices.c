// SPDX-License-Identifier: MIT
/*
 * `openhv run --disk` and `--nic` values, and the switch ports of
 * `--nic switch=NAME`: a TAP per NIC on the switch's bridge, opened before
 * the VM is built and held by this process, so the VM dup()s it on every
 * (re)build and the kernel deletes the TAP when the process ends, whatever
 * way it ends.
 */
#include "cli/run_devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "switch/switch.h"

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

		if (!eq && !strcmp(f[i], "allow-mac-spoofing")) {
			out->allow_mac_spoofing = true;
			continue;
		}
		if (!eq) {
			log_err("--nic '%s' is not KEY=VALUE; use tap=IFNAME or switch=NAME[,mac=..][,vlan=N]"
				"[,allow-mac-spoofing]",
				f[i]);
			return -EINVAL;
		}
		*eq = 0;
		val = eq + 1;
		if (!strcmp(key, "tap")) {
			out->tap = val;
		} else if (!strcmp(key, "switch")) {
			char err[256];

			if (switch_name_check(val, err, sizeof(err))) {
				log_err("--nic switch=: %s", err);
				return -EINVAL;
			}
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
			log_err("--nic option '%s' is unknown; use tap, switch, mac, vlan or "
				"allow-mac-spoofing",
				key);
			return -EINVAL;
		}
	}
	if (!!out->tap == !!out->switch_name) {
		log_err("--nic needs exactly one of tap=IFNAME or switch=NAME");
		return -EINVAL;
	}
	return 0;
}

static struct switch_port run_ports[VM_MAX_NICS];
static unsigned int run_n_ports;

/* A locally administered MAC fixed for the life of this process: 02:6f:68 + random. */
static void run_random_mac(uint8_t mac[6])
{
	uint8_t r[3] = { 0 };

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		unsigned int v = (unsigned int)getpid() * 2654435761u + run_n_ports;

		r[0] = (uint8_t)(v >> 16);
		r[1] = (uint8_t)(v >> 8);
		r[2] = (uint8_t)v;
	}
	mac[0] = 0x02;
	mac[1] = 0x6f;
	mac[2] = 0x68;
	memcpy(mac + 3, r, 3);
}

int run_nics_open(struct vm_nic_config *nics, unsigned int n, const char *state_dir)
{
	const char *dir = switch_state_dir(state_dir);
	char err[512];

	for (unsigned int i = 0; i < n; i++) {
		struct vm_nic_config *c = &nics[i];
		struct switch_port *p;

		if (!c->switch_name)
			continue;
		if (run_n_ports >= VM_MAX_NICS) {
			log_err("too many switch ports (at most %u)", VM_MAX_NICS);
			goto fail;
		}
		p = &run_ports[run_n_ports];
		if (switch_port_open(dir, c->switch_name, c->vlan, p, err, sizeof(err))) {
			log_err("--nic switch=%s: %s", c->switch_name, err);
			goto fail;
		}
		run_n_ports++;
		if (!c->has_mac) {
			run_random_mac(c->mac);
			c->mac[5] = (uint8_t)(c->mac[5] + i);
			c->has_mac = true;
		}
		c->tap_fd = p->fd;
		log_info("--nic switch=%s: port %s, VLAN %u", c->switch_name, p->ifname,
			 c->vlan ? c->vlan : 1);
	}
	return 0;
fail:
	run_nics_close();
	return -EINVAL;
}

void run_nics_close(void)
{
	while (run_n_ports)
		switch_port_close(&run_ports[--run_n_ports]);
}
