// SPDX-License-Identifier: MIT
/*
 * Network attachment for a VM: one synthetic NIC (netvsp) per --nic, each
 * its own VMBus device in command-line order, backed by an existing TAP
 * interface. Virtual switches (--nic switch=NAME) are not available yet and
 * are refused with a clear message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "vmm/vm_devices.h"
#include "vsp/netvsp/netvsp.h"
#include "vsp/netvsp/tap.h"

#define VM_NET_MAX_NICS VM_MAX_NICS

struct vm_nic {
	struct netvsp *nv;
	struct netvsp_tap *tap;
};

struct vm_network {
	struct vm_nic nic[VM_NET_MAX_NICS];
	unsigned int n;
};

/* Instance GUID of NIC i (any unique value; Linux binds by class). */
static void nic_instance(unsigned int i, uint8_t guid[16])
{
	static const uint8_t base[16] = { 0x6f, 0x68, 0x76, 0x00, 0x6e, 0x65, 0x74, 0x40,
					  0x80, 0x00, 0x6e, 0x69, 0x63, 0x00, 0x00, 0x00 };

	memcpy(guid, base, 16);
	guid[15] = (uint8_t)i;
}

/* A locally administered unicast MAC: 02:6f:68 ("oh") + 3 random bytes. */
static void random_mac(uint8_t mac[6], unsigned int i)
{
	uint8_t r[3] = { 0 };

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		/* no entropy yet: still distinct per NIC and per process */
		unsigned int v = (unsigned int)getpid() * 2654435761u + i;

		r[0] = (uint8_t)(v >> 16);
		r[1] = (uint8_t)(v >> 8);
		r[2] = (uint8_t)v;
	}
	mac[0] = 0x02;
	mac[1] = 0x6f;
	mac[2] = 0x68;
	memcpy(mac + 3, r, 3);
}

int vm_network_attach(struct vmbus_server *srv, struct gm *gm, const struct vm_nic_config *nics,
		      unsigned int n, struct vm_network **ret, char *err, size_t errlen)
{
	struct vm_network *net;
	int r;

	*ret = NULL;
	if (!n)
		return 0;
	if (n > VM_NET_MAX_NICS) {
		snprintf(err, errlen, "too many NICs (%u); at most %u are supported", n,
			 VM_NET_MAX_NICS);
		return -EINVAL;
	}
	net = calloc(1, sizeof(*net));
	if (!net) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct vm_nic *nic = &net->nic[i];
		struct netvsp_config cfg = { .vlan = nics[i].vlan };
		struct netvsp_backend be;
		uint8_t guid[16];

		if (!nics[i].tap) {
			snprintf(err, errlen,
				 "--nic switch=%s: virtual switches are not available yet; use "
				 "--nic tap=IFNAME",
				 nics[i].switch_name ? nics[i].switch_name : "");
			r = -ENOTSUP;
			goto fail;
		}
		if (nics[i].has_mac)
			memcpy(cfg.mac, nics[i].mac, 6);
		else
			random_mac(cfg.mac, i);
		r = netvsp_tap_open(nics[i].tap, &nic->tap, err, errlen);
		if (r)
			goto fail;
		netvsp_tap_backend(nic->tap, &be);
		nic_instance(i, guid);
		r = netvsp_new(srv, gm, &cfg, guid, &be, &nic->nv);
		if (r) {
			snprintf(err, errlen, "--nic tap=%s: cannot add the network adapter: %s",
				 nics[i].tap, strerror(-r));
			netvsp_tap_free(nic->tap);
			nic->tap = NULL;
			goto fail;
		}
		net->n = i + 1;
		r = netvsp_tap_start(nic->tap, nic->nv);
		if (r) {
			snprintf(err, errlen, "--nic tap=%s: cannot start its receive thread: %s",
				 nics[i].tap, strerror(-r));
			goto fail;
		}
	}
	*ret = net;
	return 0;
fail:
	vm_network_free(net);
	return r;
}

void vm_network_free(struct vm_network *net)
{
	if (!net)
		return;
	for (unsigned int i = 0; i < net->n; i++) {
		/* The receive thread calls into netvsp: stop it first. */
		netvsp_tap_stop(net->nic[i].tap);
		netvsp_free(net->nic[i].nv);
		netvsp_tap_free(net->nic[i].tap);
	}
	free(net);
}
