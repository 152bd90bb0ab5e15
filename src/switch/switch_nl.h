/* SPDX-License-Identifier: MIT */
/*
 * The few rtnetlink requests the switches need, over libmnl: links (bridge
 * create, delete, master, up, IPv6 address generation), addresses and bridge
 * VLAN membership. Internal to switch_lib. All return 0 or -errno.
 */
#ifndef OPENHV_SWITCH_NL_H
#define OPENHV_SWITCH_NL_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "switch/switch.h"

struct nl;

struct nl_link {
	int ifindex;
	unsigned int flags;      /* IFF_* */
	int master;              /* 0 = none */
	char name[IFNAMSIZ];
	char kind[16];           /* IFLA_INFO_KIND, "" if none */
};

int nl_open(struct nl **ret);
void nl_close(struct nl *nl);

/* By name (ifindex 0) or by index. -ENODEV when there is no such link. */
int nl_link_get(struct nl *nl, const char *name, int ifindex, struct nl_link *ret);
/* Call fn for every link; fn returns 0 to go on. */
int nl_link_dump(struct nl *nl, int (*fn)(const struct nl_link *l, void *opaque), void *opaque);
/* A bridge with VLAN filtering on (default PVID 1). */
int nl_bridge_add(struct nl *nl, const char *name);
int nl_link_del(struct nl *nl, int ifindex);
/* master: -1 leave, 0 release, else the master's index; up: -1 leave, 0 down, 1 up. */
int nl_link_set(struct nl *nl, int ifindex, int master, int up);
/* No IPv6 link-local address (addrgenmode none): the host stays off a private switch. */
int nl_link_no_ipv6(struct nl *nl, int ifindex);
int nl_addr_add(struct nl *nl, int ifindex, const struct switch_addr *a);
/*
 * Bridge VLAN membership of port ifindex (self: of the bridge device
 * itself): vids vid..vid_end (vid_end 0 = just vid) with BRIDGE_VLAN_INFO_*
 * flags (PVID, UNTAGGED).
 */
int nl_vlan(struct nl *nl, int ifindex, bool add, bool self, uint16_t vid, uint16_t vid_end,
	    uint16_t flags);

#endif
