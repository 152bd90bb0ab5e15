// SPDX-License-Identifier: MIT
/* Encoding and checked decoding of service <-> worker control packets. */
#include <errno.h>
#include <string.h>

#include "api/api.h"
#include "api/ctl_proto.h"

int ctl_encode(enum ctl_type type, const void *body, size_t body_len, const void *tail,
	       size_t tail_len, uint8_t *buf, size_t cap)
{
	struct ctl_hdr_wire h;

	if (cap > CTL_MAX_PACKET)
		cap = CTL_MAX_PACKET;
	if (body_len > cap || tail_len > cap || sizeof(h) + body_len + tail_len > cap)
		return -E2BIG;
	h.type = (uint32_t)type;
	h.len = (uint32_t)(body_len + tail_len);
	memcpy(buf, &h, sizeof(h));
	if (body_len)
		memcpy(buf + sizeof(h), body, body_len);
	if (tail_len)
		memcpy(buf + sizeof(h) + body_len, tail, tail_len);
	return (int)(sizeof(h) + body_len + tail_len);
}

static size_t body_size(uint32_t type)
{
	switch (type) {
	case CTL_SETUP: return sizeof(struct ctl_setup_wire);
	case CTL_HELLO: return sizeof(struct ctl_hello_wire);
	case CTL_STATE: return sizeof(struct ctl_state_wire);
	case CTL_EXITED: return sizeof(struct ctl_exited_wire);
	case CTL_CMD: return sizeof(struct ctl_cmd_wire);
	case CTL_REPLY: return sizeof(struct ctl_reply_wire);
	case CTL_INPUT: return 0;
	default: return (size_t)-1;
	}
}

static bool name_terminated(const char *name)
{
	return memchr(name, '\0', CTL_NAME_MAX) != NULL;
}

/* Roles in range; per-disk and per-NIC details match the descriptors and are well formed. */
static int setup_devices_ok(const struct ctl_setup_wire *s)
{
	uint32_t disks = 0, nics = 0, parents = 0;

	for (uint32_t i = 0; i < s->n_fds; i++) {
		uint32_t role = s->fd_roles[i];

		if (role < CTL_FD_KVM || role > CTL_FD_DISK_PARENT)
			return -EBADMSG;
		/* A parent directly follows its disk or that disk's previous parent. */
		if (role == CTL_FD_DISK_PARENT) {
			if (!i || (s->fd_roles[i - 1] != CTL_FD_DISK &&
				   s->fd_roles[i - 1] != CTL_FD_DISK_PARENT) ||
			    ++parents > CTL_MAX_DISK_PARENTS)
				return -EBADMSG;
		} else {
			parents = 0;
		}
		disks += role == CTL_FD_DISK;
		nics += role == CTL_FD_TAP;
	}
	if (disks != s->n_disks || nics != s->n_nics || disks > CTL_MAX_DISKS ||
	    nics > CTL_MAX_NICS)
		return -EBADMSG;
	for (uint32_t i = 0; i < disks; i++) {
		const struct ctl_disk_wire *d = &s->disks[i];

		if (!memchr(d->label, '\0', sizeof(d->label)) || (d->flags & ~CTL_DISK_F__ALL) ||
		    d->reserved)
			return -EBADMSG;
		/* A DVD medium is read-only. */
		if ((d->flags & CTL_DISK_F_DVD) && !(d->flags & CTL_DISK_F_RDONLY))
			return -EBADMSG;
	}
	for (uint32_t i = 0; i < nics; i++) {
		const struct ctl_nic_wire *n = &s->nics[i];

		if (!memchr(n->ifname, '\0', sizeof(n->ifname)) || !n->ifname[0] ||
		    n->has_mac > 1 || n->reserved)
			return -EBADMSG;
	}
	return 0;
}

int ctl_decode(const uint8_t *pkt, size_t len, struct ctl_msg *m)
{
	struct ctl_hdr_wire h;
	size_t bs, tail;

	if (len < sizeof(h) || len > CTL_MAX_PACKET)
		return -EBADMSG;
	memcpy(&h, pkt, sizeof(h));
	if (h.len != len - sizeof(h))
		return -EBADMSG;
	bs = body_size(h.type);
	if (bs == (size_t)-1 || bs > h.len)
		return -EBADMSG;
	tail = h.len - bs;
	if (tail > CTL_TEXT_MAX)
		return -EBADMSG;
	memset(&m->u, 0, sizeof(m->u));
	m->type = (enum ctl_type)h.type;
	memcpy(&m->u, pkt + sizeof(h), bs);
	memcpy(m->text, pkt + sizeof(h) + bs, tail);
	m->text[tail] = '\0';
	m->text_len = tail;

	switch (m->type) {
	case CTL_SETUP:
		if (m->u.setup.n_fds > CTL_MAX_FDS || !name_terminated(m->u.setup.name) ||
		    !api_name_valid(m->u.setup.name) || m->u.setup.cpus == 0 ||
		    m->u.setup.cpus > API_MAX_CPUS || m->u.setup.mem_bytes < API_MIN_MEM ||
		    m->u.setup.mem_bytes > API_MAX_MEM || memchr(m->text, '\0', tail))
			return -EBADMSG;
		if (setup_devices_ok(&m->u.setup))
			return -EBADMSG;
		break;
	case CTL_HELLO:
		if (m->u.hello.state >= VM_STATE__COUNT || !name_terminated(m->u.hello.name))
			return -EBADMSG;
		break;
	case CTL_STATE:
		if (m->u.state.state >= VM_STATE__COUNT)
			return -EBADMSG;
		break;
	case CTL_EXITED:
		if (m->u.exited.kind >= CTL_EXIT__COUNT)
			return -EBADMSG;
		break;
	case CTL_CMD:
		if (m->u.cmd.cmd < CTL_CMD_PAUSE || m->u.cmd.cmd > CTL_CMD__LAST)
			return -EBADMSG;
		break;
	case CTL_REPLY:
		if (m->u.reply.result > 0 || m->u.reply.result < -4095)
			return -EBADMSG;
		break;
	case CTL_INPUT:
		break;
	}
	/* Text tails other than INPUT are for people: keep them printable. */
	if (m->type != CTL_INPUT) {
		for (size_t i = 0; i < tail; i++) {
			unsigned char c = (unsigned char)m->text[i];

			if (c < 0x20 && c != '\n' && c != '\t')
				m->text[i] = '?';
		}
	}
	return 0;
}
