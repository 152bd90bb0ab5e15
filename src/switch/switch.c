// SPDX-License-Identifier: MIT
/*
 * Switch life cycle on the host (see switch.h): the bridge and its uplink,
 * the host address of an internal switch, and VM ports (TAPs) with their
 * access VLAN. Every multi-step change undoes what it did when a later step
 * fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_bridge.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "switch/switch.h"
#include "base/tun.h"
#include "switch/switch_nl.h"

static int nl_open_explained(struct nl **nl, char *err, size_t errlen)
{
	int r = nl_open(nl);

	if (r)
		return errf(err, errlen, r, "cannot open a netlink socket: %s", strerror(-r));
	return 0;
}

static const char *perm_hint(int r)
{
	return r == -EPERM || r == -EACCES ? " (needs root or CAP_NET_ADMIN)" : "";
}

/*
 * Make the bridge of st exist and be configured (used by create and to
 * rebuild a switch after a host reboot). *created says whether this call
 * made the bridge, so the caller can undo it. Returns the bridge's index.
 */
static int bridge_apply(struct nl *nl, const struct switch_state *st, bool *created, char *err,
			size_t errlen)
{
	struct nl_link br, up;
	int r;

	*created = false;
	if (st->type == SWITCH_EXTERNAL) {
		r = nl_link_get(nl, st->uplink, 0, &up);
		if (r == -ENODEV)
			return errf(err, errlen, r,
				    "uplink '%s' does not exist; name an existing host interface "
				    "(ip link show)",
				    st->uplink);
		if (r)
			return errf(err, errlen, r, "cannot look up uplink '%s': %s", st->uplink,
				    strerror(-r));
	}
	r = nl_link_get(nl, st->bridge, 0, &br);
	if (r == -ENODEV) {
		r = nl_bridge_add(nl, st->bridge);
		if (r)
			return errf(err, errlen, r, "cannot create bridge %s: %s%s", st->bridge,
				    strerror(-r), perm_hint(r));
		*created = true;
		r = nl_link_get(nl, st->bridge, 0, &br);
		if (r)
			return errf(err, errlen, r, "bridge %s vanished after creation", st->bridge);
		if (st->type == SWITCH_PRIVATE) {
			/* Host off the switch: no link-local address, bridge device in no VLAN. */
			r = nl_link_no_ipv6(nl, br.ifindex);
			if (!r)
				r = nl_vlan(nl, br.ifindex, false, true, 1, 0, 0);
			if (r)
				return errf(err, errlen, r, "cannot isolate private bridge %s: %s",
					    st->bridge, strerror(-r));
		}
		if (st->address.family) {
			r = nl_addr_add(nl, br.ifindex, &st->address);
			if (r) {
				char a[64];

				return errf(err, errlen, r, "cannot add address %s to %s: %s",
					    switch_addr_format(&st->address, a, sizeof(a)),
					    st->bridge, strerror(-r));
			}
		}
	} else if (r) {
		return errf(err, errlen, r, "cannot look up bridge %s: %s%s", st->bridge,
			    strerror(-r), perm_hint(r));
	} else if (strcmp(br.kind, "bridge")) {
		return errf(err, errlen, -EEXIST,
			    "interface %s exists and is not a bridge; remove it or pick another "
			    "switch name",
			    st->bridge);
	}
	if (st->type == SWITCH_EXTERNAL && up.master != br.ifindex) {
		if (up.master)
			return errf(err, errlen, -EBUSY,
				    "uplink '%s' is already enslaved to another device; release it "
				    "first (ip link set %s nomaster)",
				    st->uplink, st->uplink);
		if (!strcmp(up.kind, "bridge") || up.ifindex == br.ifindex)
			return errf(err, errlen, -EINVAL, "uplink '%s' is a bridge; name a NIC",
				    st->uplink);
		r = nl_link_set(nl, up.ifindex, br.ifindex, 1);
		if (r)
			return errf(err, errlen, r, "cannot attach uplink '%s' to %s: %s", st->uplink,
				    st->bridge, strerror(-r));
		/* Trunk: VLAN 1 untagged (already there), the others tagged. */
		r = nl_vlan(nl, up.ifindex, true, false, 2, 4094, 0);
		if (r) {
			nl_link_set(nl, up.ifindex, 0, -1);
			return errf(err, errlen, r, "cannot make uplink '%s' a VLAN trunk: %s",
				    st->uplink, strerror(-r));
		}
	}
	r = nl_link_set(nl, br.ifindex, -1, 1);
	if (r)
		return errf(err, errlen, r, "cannot bring bridge %s up: %s", st->bridge,
			    strerror(-r));
	return br.ifindex;
}

int switch_create(const char *dir, const struct switch_state *st, char *err, size_t errlen)
{
	struct switch_state old;
	struct nl_link br;
	bool created;
	struct nl *nl;
	char msg[256];
	int r;

	r = switch_state_load(dir, st->name, &old, msg, sizeof(msg));
	if (r != -ENOENT)
		return errf(err, errlen, -EEXIST,
			    r ? "switch '%s' already has a state file in %s (%s); delete it first"
			      : "switch '%s' already exists (state dir %s%s); pick another name or "
				"delete it first",
			    st->name, dir, r ? msg : "");
	r = nl_open_explained(&nl, err, errlen);
	if (r)
		return r;
	r = nl_link_get(nl, st->bridge, 0, &br);
	if (r != -ENODEV) {
		nl_close(nl);
		if (r)
			return errf(err, errlen, r, "cannot look up %s: %s%s", st->bridge,
				    strerror(-r), perm_hint(r));
		return errf(err, errlen, -EEXIST,
			    "interface %s already exists; pick another switch name or remove it",
			    st->bridge);
	}
	r = bridge_apply(nl, st, &created, err, errlen);
	if (r >= 0) {
		int brx = r;

		r = switch_state_save(dir, st, false, err, errlen);
		if (r)
			nl_link_del(nl, brx);
	} else if (created && nl_link_get(nl, st->bridge, 0, &br) == 0) {
		/* Deleting the bridge also releases an uplink we attached. */
		nl_link_del(nl, br.ifindex);
	}
	nl_close(nl);
	return r < 0 ? r : 0;
}

struct count_ctx {
	int master, skip;
	unsigned int n;
};

static int count_port(const struct nl_link *l, void *opaque)
{
	struct count_ctx *c = opaque;

	if (l->master == c->master && l->ifindex != c->skip)
		c->n++;
	return 0;
}

static int live_info(struct nl *nl, const struct switch_state *st, struct switch_live *ret,
		     int *br_index)
{
	struct count_ctx c = { 0 };
	struct nl_link br, up;
	int r;

	memset(ret, 0, sizeof(*ret));
	*br_index = 0;
	r = nl_link_get(nl, st->bridge, 0, &br);
	if (r == -ENODEV)
		return 0;
	if (r)
		return r;
	if (strcmp(br.kind, "bridge"))
		return 0;
	ret->present = true;
	ret->up = br.flags & IFF_UP;
	*br_index = br.ifindex;
	c.master = br.ifindex;
	if (st->uplink[0] && nl_link_get(nl, st->uplink, 0, &up) == 0)
		c.skip = up.ifindex;
	r = nl_link_dump(nl, count_port, &c);
	ret->ports = c.n;
	return r;
}

int switch_live_info(const struct switch_state *st, struct switch_live *ret, char *err,
		     size_t errlen)
{
	struct nl *nl;
	int r, brx;

	memset(ret, 0, sizeof(*ret));
	r = nl_open_explained(&nl, err, errlen);
	if (r)
		return r;
	r = live_info(nl, st, ret, &brx);
	nl_close(nl);
	if (r)
		return errf(err, errlen, r, "cannot read the state of %s: %s", st->bridge,
			    strerror(-r));
	return 0;
}

int switch_delete(const char *dir, const char *name, char *err, size_t errlen)
{
	struct switch_state st;
	struct switch_live live;
	struct nl *nl;
	int r, brx;

	r = switch_state_load(dir, name, &st, err, errlen);
	if (r)
		return r;
	r = nl_open_explained(&nl, err, errlen);
	if (r)
		return r;
	r = live_info(nl, &st, &live, &brx);
	if (r) {
		nl_close(nl);
		return errf(err, errlen, r, "cannot read the state of %s: %s%s", st.bridge,
			    strerror(-r), perm_hint(r));
	}
	if (live.ports) {
		nl_close(nl);
		return errf(err, errlen, -EBUSY,
			    "switch '%s' still has %u VM port%s attached; stop those VMs first", name,
			    live.ports, live.ports == 1 ? "" : "s");
	}
	if (live.present) {
		r = nl_link_del(nl, brx);
		if (r) {
			nl_close(nl);
			return errf(err, errlen, r, "cannot delete bridge %s: %s%s", st.bridge,
				    strerror(-r), perm_hint(r));
		}
	}
	nl_close(nl);
	return switch_state_remove(dir, name, err, errlen);
}

int switch_port_open(const char *dir, const char *name, uint16_t vlan, struct switch_port *ret,
		     char *err, size_t errlen)
{
	struct switch_state st;
	struct nl_link tl;
	bool created;
	struct nl *nl;
	int r, fd, brx;

	ret->fd = -1;
	ret->ifname[0] = 0;
	ret->ifindex = 0;
	if (vlan > 4094)
		return errf(err, errlen, -EINVAL, "VLAN %u is out of range; use 1 to 4094", vlan);
	r = switch_state_load(dir, name, &st, err, errlen);
	if (r)
		return r;
	r = nl_open_explained(&nl, err, errlen);
	if (r)
		return r;
	brx = bridge_apply(nl, &st, &created, err, errlen);
	if (brx < 0) {
		nl_close(nl);
		return brx;
	}
	/*
	 * With the virtio-net header and checksum/TSO offloads, as a tap= NIC:
	 * the worker's netvsp sees the header (TUNGETIFF) and offers the guest
	 * checksum offload, LSO and RSC on switch ports too.
	 */
	_Static_assert(sizeof(SWITCH_PORT_PATTERN) <= IFNAMSIZ, "TAP name pattern too long");
	fd = tun_open_tap(SWITCH_PORT_PATTERN, true, ret->ifname, NULL);
	if (fd == -ENOENT) {
		nl_close(nl);
		return errf(err, errlen, fd, "cannot open /dev/net/tun for a port on switch '%s': %s "
			    "(load the tun module)", name, strerror(-fd));
	}
	if (fd < 0) {
		r = fd;
		fd = -1;
		errf(err, errlen, r, "cannot create a TAP port for switch '%s': %s%s", name,
		     strerror(-r), perm_hint(r));
		goto fail;
	}
	/* From here on, closing fd deletes the TAP: that is the rollback. */
	r = nl_link_get(nl, ret->ifname, 0, &tl);
	if (r) {
		errf(err, errlen, r, "cannot find the new TAP %s: %s", ret->ifname, strerror(-r));
		goto fail;
	}
	ret->ifindex = tl.ifindex;
	r = nl_link_no_ipv6(nl, tl.ifindex);
	if (r) {
		errf(err, errlen, r, "cannot turn off IPv6 on port %s: %s", ret->ifname,
		     strerror(-r));
		goto fail;
	}
	r = nl_link_set(nl, tl.ifindex, brx, -1);
	if (r) {
		errf(err, errlen, r, "cannot attach port %s to %s: %s", ret->ifname, st.bridge,
		     strerror(-r));
		goto fail;
	}
	if (vlan && vlan != 1) {
		r = nl_vlan(nl, tl.ifindex, true, false, vlan, 0,
			    BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED);
		if (!r)
			r = nl_vlan(nl, tl.ifindex, false, false, 1, 0, 0);
		if (r) {
			errf(err, errlen, r, "cannot put port %s in VLAN %u: %s", ret->ifname, vlan,
			     strerror(-r));
			goto fail;
		}
	}
	r = nl_link_set(nl, tl.ifindex, -1, 1);
	if (r) {
		errf(err, errlen, r, "cannot bring port %s up: %s", ret->ifname, strerror(-r));
		goto fail;
	}
	nl_close(nl);
	ret->fd = fd;
	return 0;
fail:
	close(fd);
	nl_close(nl);
	ret->ifname[0] = 0;
	ret->ifindex = 0;
	return r;
}

void switch_port_close(struct switch_port *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->ifname[0] = 0;
	p->ifindex = 0;
}
