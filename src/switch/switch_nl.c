// SPDX-License-Identifier: MIT
/* rtnetlink requests for the virtual switches (see switch_nl.h), over libmnl. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "switch/switch_nl.h"

#define NL_BUF 32768

struct nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	char buf[NL_BUF];
};

int nl_open(struct nl **ret)
{
	struct nl *nl = calloc(1, sizeof(*nl));

	*ret = NULL;
	if (!nl)
		return -ENOMEM;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock || mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int r = -errno;

		if (nl->sock)
			mnl_socket_close(nl->sock);
		free(nl);
		return r ? r : -EIO;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)time(NULL);
	*ret = nl;
	return 0;
}

void nl_close(struct nl *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

static struct nlmsghdr *nl_msg(struct nl *nl, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	return nlh;
}

/* Send nlh and run cb over the answers until the ack or NLMSG_DONE. */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *opaque)
{
	unsigned int seq = nlh->nlmsg_seq;
	int r;

	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));

		if (n < 0)
			return -errno;
		errno = 0;
		r = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, cb, opaque);
		if (r == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
		return MNL_CB_OK;
	if ((type == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0) ||
	    (type == IFLA_MASTER && mnl_attr_validate(a, MNL_TYPE_U32) < 0) ||
	    (type == IFLA_LINKINFO && mnl_attr_validate(a, MNL_TYPE_NESTED) < 0))
		return MNL_CB_OK; /* ignore a malformed attribute */
	tb[type] = a;
	return MNL_CB_OK;
}

static int info_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(a, IFLA_INFO_MAX) < 0)
		return MNL_CB_OK;
	if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
	    mnl_attr_validate(a, MNL_TYPE_STRING) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

static void parse_link(const struct nlmsghdr *nlh, struct nl_link *l)
{
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 };

	memset(l, 0, sizeof(*l));
	l->ifindex = ifm->ifi_index;
	l->flags = ifm->ifi_flags;
	mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, tb);
	if (tb[IFLA_IFNAME])
		snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (tb[IFLA_MASTER])
		l->master = (int)mnl_attr_get_u32(tb[IFLA_MASTER]);
	if (tb[IFLA_LINKINFO]) {
		const struct nlattr *info[IFLA_INFO_MAX + 1] = { 0 };

		mnl_attr_parse_nested(tb[IFLA_LINKINFO], info_attr_cb, info);
		if (info[IFLA_INFO_KIND]) {
			size_t n = mnl_attr_get_payload_len(info[IFLA_INFO_KIND]);
			const char *s = mnl_attr_get_payload(info[IFLA_INFO_KIND]);

			n = strnlen(s, n);
			if (n >= sizeof(l->kind))
				n = sizeof(l->kind) - 1;
			memcpy(l->kind, s, n);
			l->kind[n] = 0;
		}
	}
}

struct get_ctx {
	struct nl_link *out;
	bool found;
	int (*fn)(const struct nl_link *l, void *opaque);
	void *opaque;
	int fn_r;
};

static int link_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct get_ctx *c = data;
	struct nl_link l;

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg))
		return MNL_CB_OK;
	parse_link(nlh, &l);
	if (c->out) {
		*c->out = l;
		c->found = true;
	} else if (c->fn && !c->fn_r) {
		c->fn_r = c->fn(&l, c->opaque);
	}
	return MNL_CB_OK;
}

int nl_link_get(struct nl *nl, const char *name, int ifindex, struct nl_link *ret)
{
	/* NLM_F_ACK: the answer is followed by an ack, which ends nl_talk's loop. */
	struct nlmsghdr *nlh = nl_msg(nl, RTM_GETLINK, NLM_F_ACK);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	struct get_ctx c = { .out = ret };
	int r;

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	if (!ifindex) {
		if (!name || strlen(name) >= IFNAMSIZ)
			return -ENODEV;
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	}
	r = nl_talk(nl, nlh, link_msg_cb, &c);
	if (r)
		return r;
	return c.found ? 0 : -ENODEV;
}

int nl_link_dump(struct nl *nl, int (*fn)(const struct nl_link *l, void *opaque), void *opaque)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_GETLINK, NLM_F_DUMP);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	struct get_ctx c = { .fn = fn, .opaque = opaque };
	int r;

	ifm->ifi_family = AF_UNSPEC;
	r = nl_talk(nl, nlh, link_msg_cb, &c);
	return r ? r : c.fn_r;
}

int nl_bridge_add(struct nl *nl, const char *name)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	struct nlattr *info, *data;

	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u8(nlh, IFLA_BR_VLAN_FILTERING, 1);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_del(struct nl *nl, int ifindex)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_DELLINK, NLM_F_ACK);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_set(struct nl *nl, int ifindex, int master, int up)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWLINK, NLM_F_ACK);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	if (up >= 0) {
		ifm->ifi_change = IFF_UP;
		ifm->ifi_flags = up ? IFF_UP : 0;
	}
	if (master >= 0)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_no_ipv6(struct nl *nl, int ifindex)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWLINK, NLM_F_ACK);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	struct nlattr *spec, *in6;
	int r;

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	in6 = mnl_attr_nest_start(nlh, AF_INET6);
	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
	mnl_attr_nest_end(nlh, in6);
	mnl_attr_nest_end(nlh, spec);
	r = nl_talk(nl, nlh, NULL, NULL);
	/* A host without IPv6 has no link-local address to suppress. */
	return r == -EAFNOSUPPORT || r == -EOPNOTSUPP ? 0 : r;
}

int nl_addr_add(struct nl *nl, int ifindex, const struct switch_addr *a)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	size_t len = a->family == AF_INET ? 4 : 16;

	if (a->family != AF_INET && a->family != AF_INET6)
		return -EAFNOSUPPORT;
	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = a->prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, len, a->bytes);
	mnl_attr_put(nlh, IFA_ADDRESS, len, a->bytes);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_vlan(struct nl *nl, int ifindex, bool add, bool self, uint16_t vid, uint16_t vid_end,
	    uint16_t flags)
{
	struct nlmsghdr *nlh = nl_msg(nl, add ? RTM_SETLINK : RTM_DELLINK, NLM_F_ACK);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	struct bridge_vlan_info vi = { .flags = flags, .vid = vid };
	struct nlattr *spec;

	if (vid < 1 || vid > 4094 || (vid_end && (vid_end <= vid || vid_end > 4094)))
		return -EINVAL;
	ifm->ifi_family = AF_BRIDGE;
	ifm->ifi_index = ifindex;
	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	if (self)
		mnl_attr_put_u16(nlh, IFLA_BRIDGE_FLAGS, BRIDGE_FLAGS_SELF);
	if (vid_end) {
		vi.flags |= BRIDGE_VLAN_INFO_RANGE_BEGIN;
		mnl_attr_put(nlh, IFLA_BRIDGE_VLAN_INFO, sizeof(vi), &vi);
		vi.flags = (uint16_t)((flags & ~BRIDGE_VLAN_INFO_PVID) | BRIDGE_VLAN_INFO_RANGE_END);
		vi.vid = vid_end;
	}
	mnl_attr_put(nlh, IFLA_BRIDGE_VLAN_INFO, sizeof(vi), &vi);
	mnl_attr_nest_end(nlh, spec);
	return nl_talk(nl, nlh, NULL, NULL);
}
