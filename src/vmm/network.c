// SPDX-License-Identifier: MIT
/*
 * Network attachment for a VM: one synthetic NIC (netvsp) per --nic, each
 * its own VMBus device in command-line order, backed by a TAP interface:
 * either one named by --nic tap=IFNAME and opened here, or one already open
 * (vm_nic_config.tap_fd, dup()ed on every build so a guest reboot finds it
 * again), which is how switch ports arrive (the caller created the TAP on
 * the switch's bridge, src/switch).
 *
 * On switch ports the access VLAN is the bridge's business (port PVID), not
 * netvsp's. MAC spoofing protection is netvsp's (on unless
 * allow_mac_spoofing); the count of dropped frames is logged per NIC when
 * the network is torn down (VM exit or reboot).
 *
 * A NIC without a configured MAC gets one derived from a per-process random
 * value and its index, so it stays the same across guest reboots (each
 * reboot rebuilds the partition and calls vm_network_attach again).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/log.h"
#include "vmm/vm_devices.h"
#include "vsp/netvsp/netvsp.h"
#include "vsp/netvsp/tap.h"

#define VM_NET_MAX_NICS VM_MAX_NICS

struct vm_nic {
	struct netvsp *nv;
	struct netvsp_tap *tap;
	char what[48];                  /* "--nic switch=NAME" for messages */
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

static uint8_t mac_seed[3];
static pthread_once_t mac_seed_once = PTHREAD_ONCE_INIT;

static void mac_seed_init(void)
{
	if (getrandom(mac_seed, sizeof(mac_seed), GRND_NONBLOCK) != (ssize_t)sizeof(mac_seed)) {
		/* no entropy yet: still distinct per process */
		unsigned int v = (unsigned int)getpid() * 2654435761u;

		mac_seed[0] = (uint8_t)(v >> 16);
		mac_seed[1] = (uint8_t)(v >> 8);
		mac_seed[2] = (uint8_t)v;
	}
}

/*
 * A locally administered unicast MAC, 02:6f:68 ("oh") + 3 bytes from the
 * per-process seed with NIC i mixed into the last one: the same for every
 * build of this VM, different for the NICs of one VM.
 */
static void default_mac(uint8_t mac[6], unsigned int i)
{
	pthread_once(&mac_seed_once, mac_seed_init);
	mac[0] = 0x02;
	mac[1] = 0x6f;
	mac[2] = 0x68;
	mac[3] = mac_seed[0];
	mac[4] = mac_seed[1];
	mac[5] = (uint8_t)(mac_seed[2] + i * 0x35u);
}

/* Open the NIC's TAP: dup the caller's descriptor, or attach to the named interface. */
static int nic_open_tap(const struct vm_nic_config *c, struct vm_nic *nic, char *err,
			size_t errlen)
{
	char name[IFNAMSIZ] = "";
	struct ifreq ifr;
	int fd, r;

	if (c->tap_fd < 0) {
		if (!c->tap)
			return errf(err, errlen, -EINVAL,
				    "%s: no TAP was prepared for this switch port (the caller must "
				    "open it and pass tap_fd)",
				    nic->what);
		return netvsp_tap_open(c->tap, &nic->tap, err, errlen);
	}
	fd = fcntl(c->tap_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return errf(err, errlen, -errno, "%s: cannot duplicate its TAP descriptor: %s",
			    nic->what, strerror(errno));
	/* The interface name, for mirroring its up/down state as the guest's link. */
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) == 0) {
		memcpy(name, ifr.ifr_name, IFNAMSIZ - 1);
	} else if (c->tap) {
		snprintf(name, sizeof(name), "%s", c->tap);
	}
	r = netvsp_tap_from_fd(fd, name[0] ? name : NULL, &nic->tap);
	if (r) {
		close(fd);
		return errf(err, errlen, r, "%s: cannot use its TAP: %s", nic->what, strerror(-r));
	}
	return 0;
}

int vm_network_attach(struct vmbus_server *srv, struct gm *gm, const struct vm_nic_config *nics,
		      unsigned int n, unsigned int queues, struct vm_network **ret, char *err,
		      size_t errlen)
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
		const struct vm_nic_config *c = &nics[i];
		struct vm_nic *nic = &net->nic[i];
		bool on_switch = c->switch_name != NULL;
		/* On a switch the bridge does the access VLAN (port PVID). */
		struct netvsp_config cfg = { .vlan = on_switch ? 0 : c->vlan,
					     .allow_mac_spoofing = c->allow_mac_spoofing,
					     .queues = (uint16_t)MIN(queues, NETVSP_MAX_QUEUES) };
		struct netvsp_backend be;
		uint8_t guid[16];

		snprintf(nic->what, sizeof(nic->what), "--nic %s=%s", on_switch ? "switch" : "tap",
			 on_switch ? c->switch_name : c->tap ? c->tap : "(fd)");
		if (c->has_mac)
			memcpy(cfg.mac, c->mac, 6);
		else
			default_mac(cfg.mac, i);
		r = nic_open_tap(c, nic, err, errlen);
		if (r)
			goto fail;
		netvsp_tap_backend(nic->tap, &be);
		nic_instance(i, guid);
		r = netvsp_new(srv, gm, &cfg, guid, &be, &nic->nv);
		if (r) {
			snprintf(err, errlen, "%s: cannot add the network adapter: %s", nic->what,
				 strerror(-r));
			netvsp_tap_free(nic->tap);
			nic->tap = NULL;
			goto fail;
		}
		net->n = i + 1;
		r = netvsp_tap_start(nic->tap, nic->nv);
		if (r) {
			snprintf(err, errlen, "%s: cannot start its receive thread: %s", nic->what,
				 strerror(-r));
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
		struct netvsp_stats st;

		netvsp_tap_stop(net->nic[i].tap);
		if (net->nic[i].nv) {
			netvsp_get_stats(net->nic[i].nv, &st);
			log_debug("NIC %u: rx %llu frames (%llu on vRSS sub-channels, %llu waits for room, "
				  "%llu dropped), tx %llu frames (%llu dropped), %llu bad messages",
				  i, (unsigned long long)st.rx_frames,
				  (unsigned long long)st.rx_subchannel,
				  (unsigned long long)st.rx_no_room,
				  (unsigned long long)st.rx_dropped, (unsigned long long)st.tx_frames,
				  (unsigned long long)st.tx_dropped, (unsigned long long)st.bad_msgs);
			if (st.tx_spoofed)
				log_warn("NIC %u (%s): %llu guest frame%s from a foreign source MAC "
					 "dropped by MAC spoofing protection (allow with "
					 ",allow-mac-spoofing)",
					 i, net->nic[i].what, (unsigned long long)st.tx_spoofed,
					 st.tx_spoofed == 1 ? "" : "s");
		}
		netvsp_free(net->nic[i].nv);
		netvsp_tap_free(net->nic[i].tap);
	}
	free(net);
}
