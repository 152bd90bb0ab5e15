// SPDX-License-Identifier: MIT
/* Fake hv_utils guest (see ic_guest.h). */
#include "ic_guest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const uint8_t icg_classes[IC_SVC_COUNT][16] = {
	IC_GUID_HEARTBEAT, IC_GUID_SHUTDOWN, IC_GUID_TIMESYNC, IC_GUID_KVP,
};

/* Linux 6.1's lists (hv_util.c, hv_kvp.c), newest first. */
static const uint32_t icg_fw[] = { IC_VERSION(3, 0), IC_VERSION(1, 0) };
static const uint32_t icg_default_srv[IC_SVC_COUNT][4] = {
	{ IC_VERSION(3, 0), IC_VERSION(1, 0) },
	{ IC_VERSION(3, 2), IC_VERSION(3, 1), IC_VERSION(3, 0), IC_VERSION(1, 0) },
	{ IC_VERSION(4, 0), IC_VERSION(3, 0), IC_VERSION(1, 0) },
	{ IC_VERSION(4, 0), IC_VERSION(3, 0), IC_VERSION(1, 0) },
};
static const uint32_t icg_default_n[IC_SVC_COUNT] = { 2, 4, 3, 3 };

uint32_t icg_utf16(const char *s, uint8_t *out, uint32_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t n = 0;

	while (*p && n + 4 <= max) {
		uint32_t cp;
		if (*p < 0x80) {
			cp = *p++;
		} else if ((*p & 0xE0) == 0xC0) {
			cp = (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
			p += 2;
		} else {
			cp = (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
			p += 3;
		}
		out[n++] = (uint8_t)cp;
		out[n++] = (uint8_t)(cp >> 8);
	}
	out[n++] = 0;
	out[n++] = 0;
	return n;
}

void icg_utf8(const uint8_t *in, uint32_t bytes, char *out, size_t max)
{
	size_t o = 0;

	for (uint32_t i = 0; i + 1 < bytes && o + 4 < max; i += 2) {
		uint32_t cp = in[i] | (uint32_t)in[i + 1] << 8;
		if (!cp)
			break;
		if (cp < 0x80) {
			out[o++] = (char)cp;
		} else if (cp < 0x800) {
			out[o++] = (char)(0xC0 | (cp >> 6));
			out[o++] = (char)(0x80 | (cp & 0x3F));
		} else {
			out[o++] = (char)(0xE0 | (cp >> 12));
			out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			out[o++] = (char)(0x80 | (cp & 0x3F));
		}
	}
	out[o] = 0;
}

void icg_add_kvp(struct ic_guest *g, uint8_t pool, const char *key, const char *value)
{
	struct icg_kvp *e = &g->kvp[g->n_kvp++];

	e->pool = pool;
	snprintf(e->key, sizeof(e->key), "%s", key);
	snprintf(e->value, sizeof(e->value), "%s", value);
}

int icg_open_all(struct ic_guest *g, struct fake_guest *fg,
		 const struct vmbus_offer_channel_wire *offers, int n_offers)
{
	g->fg = fg;
	for (int s = 0; s < IC_SVC_COUNT; s++) {
		if (!g->n_srv_versions[s]) {
			memcpy(g->srv_versions[s], icg_default_srv[s], sizeof(g->srv_versions[s]));
			g->n_srv_versions[s] = icg_default_n[s];
		}
	}
	for (int i = 0; i < n_offers; i++) {
		for (int s = 0; s < IC_SVC_COUNT; s++) {
			int r;
			if (memcmp(offers[i].if_type, icg_classes[s], 16))
				continue;
			/* hv_utils rings: 16 KiB each way = 4 pages incl. header. */
			r = fg_open(fg, &offers[i], 4, 4, 0, &g->ch[s]);
			if (r)
				return r;
			g->open[s] = true;
		}
	}
	return 0;
}

/* vmbus_prep_negotiate_resp(), rewritten. */
static void icg_negotiate(struct ic_guest *g, int s, uint8_t *buf, uint32_t len)
{
	struct ic_msg_hdr_wire *h = (struct ic_msg_hdr_wire *)(buf + 8);
	struct ic_negotiate_wire n;
	struct ic_version_wire v;
	uint32_t fw = 0, sv = 0;
	bool found = false;

	if (len < IC_HDR_BYTES + 4)
		return;
	h->icmsgsize = 0x10;
	memcpy(&n, buf + IC_HDR_BYTES, sizeof(n));
	if (n.icframe_vercnt > 100 || n.icmsg_vercnt > 100 ||
	    IC_HDR_BYTES + 8 + 4u * (n.icframe_vercnt + n.icmsg_vercnt) > len)
		goto out;
	for (size_t i = 0; i < 2 && !found; i++)
		for (uint32_t j = 0; j < n.icframe_vercnt; j++) {
			memcpy(&v, buf + IC_HDR_BYTES + 8 + 4 * j, 4);
			if (IC_VERSION(v.major, v.minor) == icg_fw[i]) {
				fw = icg_fw[i];
				found = true;
				break;
			}
		}
	if (!found)
		goto out;
	found = false;
	for (uint32_t i = 0; i < g->n_srv_versions[s] && !found; i++)
		for (uint32_t j = n.icframe_vercnt; j < n.icframe_vercnt + n.icmsg_vercnt; j++) {
			memcpy(&v, buf + IC_HDR_BYTES + 8 + 4 * j, 4);
			if (IC_VERSION(v.major, v.minor) == g->srv_versions[s][i]) {
				sv = g->srv_versions[s][i];
				found = true;
				break;
			}
		}
out:
	n.icframe_vercnt = n.icmsg_vercnt = found ? 1 : 0;
	memcpy(buf + IC_HDR_BYTES, &n, sizeof(n));
	if (found) {
		struct ic_version_wire a = { (uint16_t)(fw >> 16), (uint16_t)fw };
		struct ic_version_wire b = { (uint16_t)(sv >> 16), (uint16_t)sv };
		memcpy(buf + IC_HDR_BYTES + 8, &a, 4);
		memcpy(buf + IC_HDR_BYTES + 12, &b, 4);
		g->fw_nego[s] = fw;
		g->srv_nego[s] = sv;
	}
}

static int icg_lookup(struct ic_guest *g, uint8_t pool, uint32_t index)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < g->n_kvp; i++)
		if (g->kvp[i].pool == pool && k++ == index)
			return (int)i;
	return -1;
}

static void icg_kvp(struct ic_guest *g, uint8_t *buf, uint32_t len)
{
	struct ic_msg_hdr_wire *h = (struct ic_msg_hdr_wire *)(buf + 8);
	struct kvp_hdr_wire kh;

	memcpy(&kh, buf + IC_HDR_BYTES, sizeof(kh));
	h->status = HV_S_OK;
	if (kh.operation == KVP_OP_ENUMERATE && len >= IC_HDR_BYTES + sizeof(struct kvp_enumerate_msg_wire)) {
		struct kvp_enumerate_msg_wire *m = (struct kvp_enumerate_msg_wire *)(buf + IC_HDR_BYTES);
		int i = icg_lookup(g, kh.pool, m->index);
		if (i < 0) {
			h->status = HV_E_FAIL; /* end of this pool */
			return;
		}
		m->data.key_size = icg_utf16(g->kvp[i].key, m->data.key, sizeof(m->data.key));
		m->data.value_size = icg_utf16(g->kvp[i].value, m->data.value, sizeof(m->data.value));
		m->data.value_type = KVP_REG_SZ;
	} else if (kh.operation == KVP_OP_SET && len >= IC_HDR_BYTES + sizeof(struct kvp_set_msg_wire)) {
		struct kvp_set_msg_wire *m = (struct kvp_set_msg_wire *)(buf + IC_HDR_BYTES);
		g->kvp_sets++;
		g->kvp_last_pool = kh.pool;
		icg_utf8(m->data.key, MIN(m->data.key_size, 512u), g->kvp_last_key, sizeof(g->kvp_last_key));
		icg_utf8(m->data.value, MIN(m->data.value_size, 2048u), g->kvp_last_value,
			 sizeof(g->kvp_last_value));
	} else if (kh.operation == KVP_OP_DELETE && len >= IC_HDR_BYTES + sizeof(struct kvp_delete_msg_wire)) {
		struct kvp_delete_msg_wire *m = (struct kvp_delete_msg_wire *)(buf + IC_HDR_BYTES);
		g->kvp_deletes++;
		icg_utf8(m->key, MIN(m->key_size, 512u), g->kvp_last_key, sizeof(g->kvp_last_key));
	} else {
		h->status = HV_E_FAIL;
	}
}

int icg_poll(struct ic_guest *g, enum ic_service s)
{
	uint8_t buf[16384];
	int handled = 0;

	if (!g->open[s] || (s == IC_SVC_KVP && !g->kvp_daemon))
		return 0;
	for (;;) {
		uint64_t trans;
		uint16_t type;
		int len = fg_chan_read(&g->ch[s], buf, sizeof(buf), &type, &trans);
		struct ic_msg_hdr_wire *h = (struct ic_msg_hdr_wire *)(buf + 8);

		if (len < 0)
			break;
		handled++;
		if ((uint32_t)len < IC_HDR_BYTES)
			continue;
		if (h->icmsgtype == ICMSGTYPE_NEGOTIATE) {
			icg_negotiate(g, s, buf, (uint32_t)len);
		} else if (s == IC_SVC_HEARTBEAT && h->icmsgtype == ICMSGTYPE_HEARTBEAT) {
			struct ic_heartbeat_wire hb;
			memcpy(&hb, buf + IC_HDR_BYTES, sizeof(hb));
			g->hb_last_seq = hb.seq_num;
			g->hb_count++;
			hb.seq_num++;
			memcpy(buf + IC_HDR_BYTES, &hb, sizeof(hb));
		} else if (s == IC_SVC_SHUTDOWN && h->icmsgtype == ICMSGTYPE_SHUTDOWN) {
			if ((uint32_t)len < IC_HDR_BYTES + sizeof(struct ic_shutdown_wire))
				continue; /* Linux ignores it (no reply) */
			g->sd_count++;
			g->sd_len = (uint32_t)len;
			memcpy(&g->sd_last, buf + IC_HDR_BYTES, sizeof(g->sd_last));
			h->status = g->shutdown_status;
		} else if (s == IC_SVC_TIMESYNC && h->icmsgtype == ICMSGTYPE_TIMESYNC) {
			g->ts_count++;
			g->ts_len = (uint32_t)len;
			if (g->srv_nego[s] > IC_VERSION(3, 0)) {
				struct ic_timesync_ref_wire t;
				memcpy(&t, buf + IC_HDR_BYTES, sizeof(t));
				g->ts_parent = t.parenttime;
				g->ts_vmref = t.vmreferencetime;
				g->ts_flags = t.flags;
			} else {
				struct ic_timesync_wire t;
				memcpy(&t, buf + IC_HDR_BYTES, sizeof(t));
				g->ts_parent = t.parenttime;
				g->ts_vmref = 0;
				g->ts_flags = t.flags;
			}
		} else if (s == IC_SVC_KVP && h->icmsgtype == ICMSGTYPE_KVPEXCHANGE) {
			icg_kvp(g, buf, (uint32_t)len);
		} else {
			h->status = HV_E_FAIL;
		}
		h->icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
		if (fg_chan_write(&g->ch[s], VMBUS_PKT_DATA_INBAND, 0, trans, buf, (uint32_t)len))
			return -EAGAIN;
	}
	return handled;
}

void icg_poll_all(struct ic_guest *g)
{
	for (int round = 0; round < 1000; round++) {
		int n = 0;
		for (int s = 0; s < IC_SVC_COUNT; s++)
			n += icg_poll(g, (enum ic_service)s);
		if (!n)
			return;
	}
}
