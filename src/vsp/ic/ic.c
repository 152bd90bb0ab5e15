// SPDX-License-Identifier: MIT
/*
 * Integration-component VSPs: the common request/reply framework with
 * version negotiation, and the heartbeat, shutdown, time-sync and KVP
 * services. See ic.h for the contract.
 *
 * SPEC: hyperv-guest-interface.md §8. GUEST: Linux answers in place: the
 * reply is our request with icflags = TRANSACTION|RESPONSE, the same length
 * and the same trans_id, sent as an INBAND packet.
 * SECURITY: a reply is accepted only for the outstanding trans_id, with the
 * expected message type and at least the bytes the parser reads; anything
 * else is counted and dropped (the service never waits on the guest).
 */
#include "vsp/ic/ic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IC_TX_MAX (IC_HDR_BYTES + sizeof(struct kvp_enumerate_msg_wire))
#define IC_KVP_QUEUE 16u
#define NS_PER_MS 1000000ull

/* Versions we offer, newest first (reference §8.2). */
static const uint32_t ic_fw_versions[] = { IC_VERSION(3, 0), IC_VERSION(1, 0) };
static const uint32_t ic_hb_versions[] = { IC_VERSION(3, 0), IC_VERSION(1, 0) };
static const uint32_t ic_sd_versions[] = { IC_VERSION(3, 2), IC_VERSION(3, 1), IC_VERSION(3, 0),
					   IC_VERSION(1, 0) };
static const uint32_t ic_ts_versions[] = { IC_VERSION(4, 0), IC_VERSION(3, 0), IC_VERSION(1, 0) };
static const uint32_t ic_kvp_versions[] = { IC_VERSION(4, 0), IC_VERSION(3, 0), IC_VERSION(1, 0) };

/* Our own instance GUIDs (any unique values work; Linux binds by class). */
static const uint8_t ic_instances[IC_SVC_COUNT][16] = {
	{ 0x6f, 0x68, 0x76, 0x00, 0x69, 0x63, 0x01, 0x40, 0x80, 0x00, 0x68, 0x62, 0x00, 0x00, 0x00, 0x01 },
	{ 0x6f, 0x68, 0x76, 0x00, 0x69, 0x63, 0x01, 0x40, 0x80, 0x00, 0x73, 0x64, 0x00, 0x00, 0x00, 0x02 },
	{ 0x6f, 0x68, 0x76, 0x00, 0x69, 0x63, 0x01, 0x40, 0x80, 0x00, 0x74, 0x73, 0x00, 0x00, 0x00, 0x03 },
	{ 0x6f, 0x68, 0x76, 0x00, 0x69, 0x63, 0x01, 0x40, 0x80, 0x00, 0x6b, 0x76, 0x00, 0x00, 0x00, 0x04 },
};

struct ic_svc {
	struct ic *ic;
	enum ic_service kind;
	struct vmbus_dev *dev;
	struct vmbus_chan *chan;
	enum ic_state state;
	uint32_t fw_version, srv_version;
	bool busy;               /* one request outstanding */
	uint64_t trans_id;
	uint64_t sent_ns;
	uint16_t req_type;       /* ICMSGTYPE_* of the outstanding request */
	uint32_t req_len;        /* bytes sent */
	uint64_t next_ns;        /* next periodic action */
	struct ic_service_status st;
	uint8_t tx[IC_TX_MAX];
};

struct kvp_op {
	bool is_delete;
	char key[IC_KVP_KEY_MAX];
	char value[IC_KVP_VALUE_MAX];
};

struct ic {
	struct vmbus_server *srv;
	struct ic_config cfg;
	const struct ic_host_ops *ops;
	void *opaque;
	struct ic_svc svc[IC_SVC_COUNT];
	uint64_t next_trans;

	/* heartbeat */
	uint64_t hb_seq, hb_replies, hb_last_ns;
	bool hb_seen;
	/* shutdown */
	int sd_result;
	/* time sync */
	bool ts_sync_pending;
	uint64_t ts_samples;
	/* KVP: guest values and pending host writes */
	struct ic_kvp_entry *kvp;
	uint32_t kvp_count;
	uint8_t kvp_enum_pool;   /* pool being enumerated, or 0xFF when idle */
	uint32_t kvp_enum_index;
	struct kvp_op kvp_queue[IC_KVP_QUEUE];
	uint32_t kvp_qhead, kvp_qcount;
	uint64_t kvp_set_ok, kvp_set_failed;
};

/* Pools the host reads: values the guest publishes. */
static const uint8_t kvp_read_pools[] = { KVP_POOL_AUTO, KVP_POOL_GUEST };

static uint64_t ic_now(struct ic *ic)
{
	return ic->ops->now_ns(ic->opaque);
}

static uint64_t ms_to_ns(uint32_t ms)
{
	return (uint64_t)ms * NS_PER_MS;
}

/* ---- UTF-8 <-> UTF-16LE (bounded, strict) ---- */

/* Encode NUL-terminated UTF-8 into UTF-16LE incl. terminator; bytes or -EINVAL. */
static int utf8_to_utf16le(const char *s, uint8_t *out, size_t out_bytes)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	while (*p) {
		uint32_t cp;
		unsigned int extra;

		if (*p < 0x80) {
			cp = *p;
			extra = 0;
		} else if ((*p & 0xE0) == 0xC0) {
			cp = *p & 0x1F;
			extra = 1;
		} else if ((*p & 0xF0) == 0xE0) {
			cp = *p & 0x0F;
			extra = 2;
		} else if ((*p & 0xF8) == 0xF0) {
			cp = *p & 0x07;
			extra = 3;
		} else {
			return -EINVAL;
		}
		p++;
		for (unsigned int i = 0; i < extra; i++, p++) {
			if ((*p & 0xC0) != 0x80)
				return -EINVAL;
			cp = cp << 6 | (*p & 0x3F);
		}
		if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return -EINVAL;
		if (cp >= 0x10000) {
			uint32_t v = cp - 0x10000;
			uint16_t hi = (uint16_t)(0xD800 | (v >> 10)), lo = (uint16_t)(0xDC00 | (v & 0x3FF));
			if (n + 4 + 2 > out_bytes)
				return -EINVAL;
			out[n++] = (uint8_t)hi;
			out[n++] = (uint8_t)(hi >> 8);
			out[n++] = (uint8_t)lo;
			out[n++] = (uint8_t)(lo >> 8);
		} else {
			if (n + 2 + 2 > out_bytes)
				return -EINVAL;
			out[n++] = (uint8_t)cp;
			out[n++] = (uint8_t)(cp >> 8);
		}
	}
	out[n++] = 0;
	out[n++] = 0;
	return (int)n;
}

/* Decode up to in_bytes of UTF-16LE (stops at NUL) into NUL-terminated UTF-8.
 * Invalid sequences become '?'. Truncates at a character boundary. */
static void utf16le_to_utf8(const uint8_t *in, size_t in_bytes, char *out, size_t out_len)
{
	size_t o = 0;

	for (size_t i = 0; i + 1 < in_bytes; i += 2) {
		uint32_t cp = (uint32_t)in[i] | (uint32_t)in[i + 1] << 8;
		char enc[4];
		size_t k = 0;

		if (!cp)
			break;
		if (cp >= 0xD800 && cp <= 0xDBFF && i + 3 < in_bytes) {
			uint32_t lo = (uint32_t)in[i + 2] | (uint32_t)in[i + 3] << 8;
			if (lo >= 0xDC00 && lo <= 0xDFFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				i += 2;
			} else {
				cp = '?';
			}
		} else if (cp >= 0xD800 && cp <= 0xDFFF) {
			cp = '?';
		}
		/* SECURITY: no control characters in values shown to people. */
		if (cp < 0x20 || cp == 0x7F)
			cp = '?';
		if (cp < 0x80) {
			enc[k++] = (char)cp;
		} else if (cp < 0x800) {
			enc[k++] = (char)(0xC0 | (cp >> 6));
			enc[k++] = (char)(0x80 | (cp & 0x3F));
		} else if (cp < 0x10000) {
			enc[k++] = (char)(0xE0 | (cp >> 12));
			enc[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			enc[k++] = (char)(0x80 | (cp & 0x3F));
		} else {
			enc[k++] = (char)(0xF0 | (cp >> 18));
			enc[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
			enc[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			enc[k++] = (char)(0x80 | (cp & 0x3F));
		}
		if (o + k + 1 > out_len)
			break;
		memcpy(out + o, enc, k);
		o += k;
	}
	out[o] = 0;
}

/* ---- framework ---- */

/* Build pipe + IC headers and send one request. 0 or -errno. */
static int svc_send(struct ic_svc *s, uint16_t msgtype, const void *data, uint32_t len)
{
	struct ic *ic = s->ic;
	struct ic_pipe_hdr_wire pipe = { .flags = 0, .msgsize = (uint32_t)sizeof(struct ic_msg_hdr_wire) + len };
	struct ic_msg_hdr_wire h;
	uint64_t trans;
	int r;

	if (!s->chan || s->busy)
		return -EBUSY;
	if (len > sizeof(s->tx) - IC_HDR_BYTES)
		return -EMSGSIZE;
	memset(&h, 0, sizeof(h));
	h.icverframe.major = (uint16_t)((s->fw_version ? s->fw_version : IC_VERSION(3, 0)) >> 16);
	h.icverframe.minor = (uint16_t)(s->fw_version & 0xFFFF);
	h.icmsgtype = msgtype;
	h.icvermsg.major = (uint16_t)(s->srv_version >> 16);
	h.icvermsg.minor = (uint16_t)(s->srv_version & 0xFFFF);
	h.icmsgsize = (uint16_t)len;
	trans = ++ic->next_trans;
	h.ictransaction_id = (uint8_t)trans;
	h.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST;
	memcpy(s->tx, &pipe, sizeof(pipe));
	memcpy(s->tx + sizeof(pipe), &h, sizeof(h));
	memcpy(s->tx + IC_HDR_BYTES, data, len);
	r = vmbus_chan_send(s->chan, VMBUS_PKT_DATA_INBAND, VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
			    trans, s->tx, IC_HDR_BYTES + len);
	if (r)
		return r;
	s->busy = true;
	s->trans_id = trans;
	s->sent_ns = ic_now(ic);
	s->req_type = msgtype;
	s->req_len = IC_HDR_BYTES + len;
	s->st.requests++;
	return 0;
}

static const uint32_t *svc_versions(enum ic_service kind, size_t *ret_n)
{
	switch (kind) {
	case IC_SVC_HEARTBEAT:
		*ret_n = ARRAY_SIZE(ic_hb_versions);
		return ic_hb_versions;
	case IC_SVC_SHUTDOWN:
		*ret_n = ARRAY_SIZE(ic_sd_versions);
		return ic_sd_versions;
	case IC_SVC_TIMESYNC:
		*ret_n = ARRAY_SIZE(ic_ts_versions);
		return ic_ts_versions;
	default:
		*ret_n = ARRAY_SIZE(ic_kvp_versions);
		return ic_kvp_versions;
	}
}

static int svc_send_negotiate(struct ic_svc *s)
{
	uint8_t buf[sizeof(struct ic_negotiate_wire) + 8 * sizeof(struct ic_version_wire)];
	struct ic_negotiate_wire n = { 0 };
	size_t nsrv, off = sizeof(n);
	const uint32_t *srv = svc_versions(s->kind, &nsrv);

	n.icframe_vercnt = (uint16_t)ARRAY_SIZE(ic_fw_versions);
	n.icmsg_vercnt = (uint16_t)nsrv;
	memcpy(buf, &n, sizeof(n));
	for (size_t i = 0; i < ARRAY_SIZE(ic_fw_versions) + nsrv; i++) {
		uint32_t v = i < ARRAY_SIZE(ic_fw_versions) ? ic_fw_versions[i]
							    : srv[i - ARRAY_SIZE(ic_fw_versions)];
		struct ic_version_wire w = { (uint16_t)(v >> 16), (uint16_t)(v & 0xFFFF) };
		memcpy(buf + off, &w, sizeof(w));
		off += sizeof(w);
	}
	return svc_send(s, ICMSGTYPE_NEGOTIATE, buf, (uint32_t)off);
}

static bool version_in(uint32_t v, const uint32_t *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == v)
			return true;
	return false;
}

/* The guest's answer: counts 1/1 and the chosen pair, which must be ours. */
static void on_negotiate_reply(struct ic_svc *s, const uint8_t *data, uint32_t len)
{
	struct ic_negotiate_wire n;
	struct ic_version_wire fw, sv;
	size_t nsrv;
	const uint32_t *srv = svc_versions(s->kind, &nsrv);

	if (len < sizeof(n)) {
		s->st.bad_replies++;
		s->state = IC_STATE_FAILED;
		return;
	}
	memcpy(&n, data, sizeof(n));
	if (n.icframe_vercnt != 1 || n.icmsg_vercnt != 1 || len < sizeof(n) + 2 * sizeof(fw)) {
		s->state = IC_STATE_FAILED; /* no common version */
		return;
	}
	memcpy(&fw, data + sizeof(n), sizeof(fw));
	memcpy(&sv, data + sizeof(n) + sizeof(fw), sizeof(sv));
	s->fw_version = IC_VERSION(fw.major, fw.minor);
	s->srv_version = IC_VERSION(sv.major, sv.minor);
	if (!version_in(s->fw_version, ic_fw_versions, ARRAY_SIZE(ic_fw_versions)) ||
	    !version_in(s->srv_version, srv, nsrv)) {
		s->st.bad_replies++;
		s->fw_version = s->srv_version = 0;
		s->state = IC_STATE_FAILED;
		return;
	}
	s->state = IC_STATE_READY;
	s->next_ns = ic_now(s->ic); /* first periodic action right away */
	if (s->kind == IC_SVC_TIMESYNC)
		s->ic->ts_sync_pending = true; /* set the guest clock at start */
}

/* ---- services: requests ---- */

static void hb_send(struct ic_svc *s)
{
	struct ic_heartbeat_wire hb = { .seq_num = s->ic->hb_seq };

	(void)svc_send(s, ICMSGTYPE_HEARTBEAT, &hb, sizeof(hb));
}

static int ts_send(struct ic_svc *s, uint8_t flags)
{
	struct ic *ic = s->ic;
	/* Sample both clocks back to back: the guest computes
	 * host_time = parenttime + (its ref time now - vmreferencetime). */
	uint64_t utc = ic->ops->utc_100ns(ic->opaque);
	uint64_t ref = ic->ops->ref_time(ic->opaque);

	if (s->srv_version > IC_VERSION(3, 0)) {
		struct ic_timesync_ref_wire t = {
			.parenttime = utc, .vmreferencetime = ref, .flags = flags, .stratum = 2,
		};
		return svc_send(s, ICMSGTYPE_TIMESYNC, &t, sizeof(t));
	} else {
		struct ic_timesync_wire t = { .parenttime = utc, .flags = flags };
		return svc_send(s, ICMSGTYPE_TIMESYNC, &t, sizeof(t));
	}
}

static void kvp_send_next(struct ic_svc *s)
{
	struct ic *ic = s->ic;

	if (ic->kvp_qcount) {
		struct kvp_op *op = &ic->kvp_queue[ic->kvp_qhead];
		int r;

		if (op->is_delete) {
			struct kvp_delete_msg_wire m;
			memset(&m, 0, sizeof(m));
			m.hdr.operation = KVP_OP_DELETE;
			m.hdr.pool = KVP_POOL_EXTERNAL;
			r = utf8_to_utf16le(op->key, m.key, sizeof(m.key));
			m.key_size = r > 0 ? (uint32_t)r : 0;
			r = svc_send(s, ICMSGTYPE_KVPEXCHANGE, &m, sizeof(m));
		} else {
			struct kvp_set_msg_wire *m = calloc(1, sizeof(*m));
			if (!m)
				return;
			m->hdr.operation = KVP_OP_SET;
			m->hdr.pool = KVP_POOL_EXTERNAL;
			m->data.value_type = KVP_REG_SZ;
			r = utf8_to_utf16le(op->key, m->data.key, sizeof(m->data.key));
			m->data.key_size = r > 0 ? (uint32_t)r : 0;
			r = utf8_to_utf16le(op->value, m->data.value, sizeof(m->data.value));
			m->data.value_size = r > 0 ? (uint32_t)r : 0;
			r = svc_send(s, ICMSGTYPE_KVPEXCHANGE, m, sizeof(*m));
			free(m);
		}
		if (!r) {
			ic->kvp_qhead = (ic->kvp_qhead + 1) % IC_KVP_QUEUE;
			ic->kvp_qcount--;
		}
		return;
	}
	if (ic->kvp_enum_pool == 0xFF) {
		if (ic_now(ic) < s->next_ns)
			return;
		ic->kvp_enum_pool = 0;
		ic->kvp_enum_index = 0;
	}
	{
		struct kvp_enumerate_msg_wire *m = calloc(1, sizeof(*m));
		if (!m)
			return;
		m->hdr.operation = KVP_OP_ENUMERATE;
		m->hdr.pool = kvp_read_pools[ic->kvp_enum_pool];
		m->index = ic->kvp_enum_index;
		(void)svc_send(s, ICMSGTYPE_KVPEXCHANGE, m, sizeof(*m));
		free(m);
	}
}

/* Send whatever the service has to do now, if nothing is outstanding. */
static void svc_kick(struct ic_svc *s)
{
	struct ic *ic = s->ic;
	uint64_t now;

	if (s->state != IC_STATE_READY || s->busy || !s->chan)
		return;
	now = ic_now(ic);
	switch (s->kind) {
	case IC_SVC_HEARTBEAT:
		if (now >= s->next_ns) {
			hb_send(s);
			s->next_ns = now + ms_to_ns(ic->cfg.heartbeat_ms);
		}
		break;
	case IC_SVC_TIMESYNC:
		if (ic->ts_sync_pending) {
			if (!ts_send(s, IC_TIMESYNC_FLAG_SYNC))
				ic->ts_sync_pending = false;
			s->next_ns = now + ms_to_ns(ic->cfg.timesync_ms);
		} else if (now >= s->next_ns) {
			(void)ts_send(s, IC_TIMESYNC_FLAG_SAMPLE);
			s->next_ns = now + ms_to_ns(ic->cfg.timesync_ms);
		}
		break;
	case IC_SVC_KVP:
		kvp_send_next(s);
		break;
	default: /* shutdown is sent on request only */
		break;
	}
}

/* ---- services: replies ---- */

static void kvp_store(struct ic *ic, uint8_t pool, const struct kvp_value_wire *v)
{
	struct ic_kvp_entry e;
	uint32_t ksz = MIN(v->key_size, KVP_MAX_KEY_BYTES);
	uint32_t vsz = MIN(v->value_size, KVP_MAX_VALUE_BYTES);

	memset(&e, 0, sizeof(e));
	e.pool = pool;
	utf16le_to_utf8(v->key, ksz, e.key, sizeof(e.key));
	if (!e.key[0])
		return;
	switch (v->value_type) {
	case KVP_REG_U32: {
		uint32_t x;
		memcpy(&x, v->value, sizeof(x));
		snprintf(e.value, sizeof(e.value), "%u", x);
		break;
	}
	case KVP_REG_U64: {
		uint64_t x;
		memcpy(&x, v->value, sizeof(x));
		snprintf(e.value, sizeof(e.value), "%llu", (unsigned long long)x);
		break;
	}
	default:
		utf16le_to_utf8(v->value, vsz, e.value, sizeof(e.value));
		break;
	}
	for (uint32_t i = 0; i < ic->kvp_count; i++) {
		if (ic->kvp[i].pool == pool && !strcmp(ic->kvp[i].key, e.key)) {
			ic->kvp[i] = e;
			return;
		}
	}
	if (ic->kvp_count < IC_KVP_MAX_ENTRIES)
		ic->kvp[ic->kvp_count++] = e;
}

static void on_kvp_reply(struct ic_svc *s, uint32_t status, const uint8_t *data, uint32_t len)
{
	struct ic *ic = s->ic;
	struct kvp_hdr_wire h;

	if (len < sizeof(h)) {
		s->st.bad_replies++;
		return;
	}
	memcpy(&h, data, sizeof(h));
	if (h.operation == KVP_OP_SET || h.operation == KVP_OP_DELETE) {
		if (status == HV_S_OK)
			ic->kvp_set_ok++;
		else
			ic->kvp_set_failed++;
		return;
	}
	if (h.operation != KVP_OP_ENUMERATE || ic->kvp_enum_pool == 0xFF) {
		s->st.bad_replies++;
		return;
	}
	if (status == HV_S_OK && len >= sizeof(struct kvp_enumerate_msg_wire) &&
	    h.pool == kvp_read_pools[ic->kvp_enum_pool] && ic->kvp_enum_index < IC_KVP_MAX_ENTRIES) {
		struct kvp_enumerate_msg_wire *m = malloc(sizeof(*m));
		if (m) {
			memcpy(m, data, sizeof(*m));
			kvp_store(ic, h.pool, &m->data);
			free(m);
		}
		ic->kvp_enum_index++;
		return;
	}
	/* S_CONT / E_FAIL (or junk) ends this pool: go to the next one. */
	ic->kvp_enum_index = 0;
	if (++ic->kvp_enum_pool >= ARRAY_SIZE(kvp_read_pools)) {
		ic->kvp_enum_pool = 0xFF;
		s->next_ns = ic_now(ic) + ms_to_ns(ic->cfg.kvp_poll_ms);
	}
}

static int ic_on_packet(struct vmbus_chan *chan, const struct vmbus_pkt *pkt)
{
	struct ic_svc *s = vmbus_chan_ctx(chan);
	struct ic_msg_hdr_wire h;
	const uint8_t *data;
	uint32_t len;

	if (pkt->type != VMBUS_PKT_DATA_INBAND || !s->busy || pkt->trans_id != s->trans_id ||
	    pkt->payload_len < IC_HDR_BYTES) {
		s->st.bad_replies++;
		return 0;
	}
	memcpy(&h, pkt->payload + sizeof(struct ic_pipe_hdr_wire), sizeof(h));
	if (h.icmsgtype != s->req_type || !(h.icflags & ICMSGHDRFLAG_RESPONSE)) {
		s->st.bad_replies++;
		return 0;
	}
	s->busy = false;
	s->st.replies++;
	data = pkt->payload + IC_HDR_BYTES;
	len = pkt->payload_len - IC_HDR_BYTES;
	switch (h.icmsgtype) {
	case ICMSGTYPE_NEGOTIATE:
		on_negotiate_reply(s, data, len);
		break;
	case ICMSGTYPE_HEARTBEAT: {
		struct ic_heartbeat_wire hb;
		if (len < sizeof(hb.seq_num)) {
			s->st.bad_replies++;
			break;
		}
		memcpy(&hb.seq_num, data, sizeof(hb.seq_num));
		s->ic->hb_seq = hb.seq_num;
		s->ic->hb_replies++;
		s->ic->hb_last_ns = ic_now(s->ic);
		s->ic->hb_seen = true;
		break;
	}
	case ICMSGTYPE_SHUTDOWN:
		s->ic->sd_result = h.status == HV_S_OK ? 0 : -EIO;
		break;
	case ICMSGTYPE_TIMESYNC:
		s->ic->ts_samples++;
		break;
	case ICMSGTYPE_KVPEXCHANGE:
		on_kvp_reply(s, h.status, data, len);
		break;
	default:
		s->st.bad_replies++;
		break;
	}
	svc_kick(s);
	return 0;
}

static int ic_on_open(struct vmbus_chan *chan, const uint8_t userdata[120])
{
	struct ic_svc *s = vmbus_chan_ctx(chan);

	(void)userdata;
	s->chan = chan;
	s->state = IC_STATE_NEGOTIATING;
	s->busy = false;
	s->fw_version = s->srv_version = 0;
	if (s->kind == IC_SVC_KVP)
		s->ic->kvp_enum_pool = 0xFF;
	return 0;
}

static void ic_on_start(struct vmbus_chan *chan)
{
	struct ic_svc *s = vmbus_chan_ctx(chan);

	/*
	 * GUEST: sent once, never repeated: hv_kvp does not read its ring until
	 * the daemon registers, so the request waits there until then.
	 */
	(void)svc_send_negotiate(s);
}

static void ic_on_close(struct vmbus_chan *chan)
{
	struct ic_svc *s = vmbus_chan_ctx(chan);

	s->chan = NULL;
	s->state = IC_STATE_CLOSED;
	s->busy = false;
	if (s->kind == IC_SVC_SHUTDOWN && s->ic->sd_result == -EINPROGRESS)
		s->ic->sd_result = -ETIMEDOUT;
}

static void ic_on_writable(struct vmbus_chan *chan)
{
	svc_kick(vmbus_chan_ctx(chan));
}

#define IC_CLASS(var, nm, guid, maxpkt)                                                    \
	static const struct vmbus_dev_class var = {                                        \
		.name = nm, .class_guid = guid, .max_pkt_size = maxpkt,                    \
		.open = ic_on_open, .start = ic_on_start, .close = ic_on_close,            \
		.packet = ic_on_packet, .writable = ic_on_writable,                        \
	}

/* max_pkt_size: what hv_utils reads per packet (reference §4.1). */
IC_CLASS(ic_heartbeat_class, "ic-heartbeat", IC_GUID_HEARTBEAT, 4096);
IC_CLASS(ic_shutdown_class, "ic-shutdown", IC_GUID_SHUTDOWN, 4096);
IC_CLASS(ic_timesync_class, "ic-timesync", IC_GUID_TIMESYNC, 4096);
IC_CLASS(ic_kvp_class, "ic-kvp", IC_GUID_KVP, 16384);

static const struct vmbus_dev_class *const ic_classes[IC_SVC_COUNT] = {
	&ic_heartbeat_class, &ic_shutdown_class, &ic_timesync_class, &ic_kvp_class,
};

const uint8_t *ic_instance_guid(enum ic_service svc)
{
	return svc < IC_SVC_COUNT ? ic_instances[svc] : NULL;
}

/* ---- lifecycle and host API ---- */

int ic_new(struct vmbus_server *srv, const struct ic_config *cfg, const struct ic_host_ops *ops,
	   void *opaque, struct ic **ret_ic)
{
	struct ic *ic;
	int r = 0;

	if (!srv || !ops || !ops->utc_100ns || !ops->ref_time || !ops->now_ns)
		return -EINVAL;
	ic = calloc(1, sizeof(*ic));
	if (!ic)
		return -ENOMEM;
	ic->kvp = calloc(IC_KVP_MAX_ENTRIES, sizeof(*ic->kvp));
	if (!ic->kvp) {
		free(ic);
		return -ENOMEM;
	}
	ic->srv = srv;
	if (cfg)
		ic->cfg = *cfg;
	if (!ic->cfg.heartbeat_ms)
		ic->cfg.heartbeat_ms = 2000;
	if (!ic->cfg.timesync_ms)
		ic->cfg.timesync_ms = 5000;
	if (!ic->cfg.kvp_poll_ms)
		ic->cfg.kvp_poll_ms = 30000;
	if (!ic->cfg.timeout_ms)
		ic->cfg.timeout_ms = 60000;
	ic->ops = ops;
	ic->opaque = opaque;
	ic->sd_result = -ENODATA;
	ic->kvp_enum_pool = 0xFF;
	for (int i = 0; i < IC_SVC_COUNT; i++) {
		ic->svc[i].ic = ic;
		ic->svc[i].kind = (enum ic_service)i;
		r = vmbus_server_add_device(srv, ic_classes[i], ic_instances[i], &ic->svc[i],
					    &ic->svc[i].dev);
		if (r)
			goto err;
	}
	*ret_ic = ic;
	return 0;
err:
	ic_free(ic);
	return r;
}

void ic_free(struct ic *ic)
{
	if (!ic)
		return;
	for (int i = 0; i < IC_SVC_COUNT; i++)
		vmbus_server_remove_device(ic->srv, ic->svc[i].dev);
	free(ic->kvp);
	free(ic);
}

void ic_tick(struct ic *ic)
{
	uint64_t now;

	vmbus_server_lock(ic->srv);
	now = ic_now(ic);
	for (int i = 0; i < IC_SVC_COUNT; i++) {
		struct ic_svc *s = &ic->svc[i];

		/* The negotiation is never timed out (see ic_on_start). */
		if (s->busy && s->req_type != ICMSGTYPE_NEGOTIATE &&
		    now - s->sent_ns >= ms_to_ns(ic->cfg.timeout_ms)) {
			s->busy = false;
			s->st.timeouts++;
			if (s->kind == IC_SVC_SHUTDOWN)
				ic->sd_result = -ETIMEDOUT;
			if (s->kind == IC_SVC_KVP && ic->kvp_enum_pool != 0xFF) {
				ic->kvp_enum_pool = 0xFF; /* retry the walk at the next poll */
				s->next_ns = now + ms_to_ns(ic->cfg.kvp_poll_ms);
			}
		}
		svc_kick(s);
	}
	vmbus_server_unlock(ic->srv);
}

int ic_service_status(struct ic *ic, enum ic_service svc, struct ic_service_status *ret)
{
	if (svc >= IC_SVC_COUNT)
		return -EINVAL;
	vmbus_server_lock(ic->srv);
	*ret = ic->svc[svc].st;
	ret->state = ic->svc[svc].state;
	ret->framework_version = ic->svc[svc].fw_version;
	ret->service_version = ic->svc[svc].srv_version;
	vmbus_server_unlock(ic->srv);
	return 0;
}

int ic_heartbeat_status(struct ic *ic, struct ic_heartbeat_status *ret)
{
	uint64_t now;

	vmbus_server_lock(ic->srv);
	now = ic_now(ic);
	ret->state = ic->svc[IC_SVC_HEARTBEAT].state;
	ret->seq = ic->hb_seq;
	ret->replies = ic->hb_replies;
	ret->last_reply_age_ms = ic->hb_seen ? (now - ic->hb_last_ns) / NS_PER_MS : UINT64_MAX;
	ret->alive = ic->hb_seen && ret->state == IC_STATE_READY &&
		     now - ic->hb_last_ns <= 3 * ms_to_ns(ic->cfg.heartbeat_ms);
	vmbus_server_unlock(ic->srv);
	return 0;
}

int ic_request_shutdown(struct ic *ic, enum ic_shutdown_kind kind, const char *reason)
{
	struct ic_svc *s = &ic->svc[IC_SVC_SHUTDOWN];
	struct ic_shutdown_wire *m;
	int r;

	if (kind != IC_SHUTDOWN_POWEROFF && kind != IC_SHUTDOWN_REBOOT)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->flags = (uint32_t)kind | IC_SHUTDOWN_FLAG_FORCE;
	m->timeout_seconds = 0;
	if (reason) {
		/* UTF-16LE, ASCII only; at most 255 characters. */
		for (size_t i = 0; reason[i] && i < 255; i++)
			m->display_message[2 * i] = (uint8_t)(reason[i] & 0x7F);
	}
	vmbus_server_lock(ic->srv);
	if (s->state != IC_STATE_READY) {
		r = -ENOTCONN;
	} else {
		/* GUEST: packet must be >= 28 + 2060 bytes or hv_utils ignores it. */
		r = svc_send(s, ICMSGTYPE_SHUTDOWN, m, sizeof(*m));
		if (!r)
			ic->sd_result = -EINPROGRESS;
	}
	vmbus_server_unlock(ic->srv);
	free(m);
	return r;
}

int ic_shutdown_result(struct ic *ic)
{
	int r;

	vmbus_server_lock(ic->srv);
	r = ic->sd_result;
	vmbus_server_unlock(ic->srv);
	return r;
}

int ic_timesync_sync_now(struct ic *ic)
{
	struct ic_svc *s = &ic->svc[IC_SVC_TIMESYNC];
	int r = 0;

	vmbus_server_lock(ic->srv);
	if (s->state != IC_STATE_READY) {
		r = -ENOTCONN;
	} else {
		ic->ts_sync_pending = true;
		svc_kick(s);
		if (ic->ts_sync_pending)
			r = -EBUSY; /* sent once the outstanding sample is answered */
	}
	vmbus_server_unlock(ic->srv);
	return r;
}

uint64_t ic_timesync_samples(struct ic *ic)
{
	uint64_t n;

	vmbus_server_lock(ic->srv);
	n = ic->ts_samples;
	vmbus_server_unlock(ic->srv);
	return n;
}

int ic_kvp_get(struct ic *ic, uint8_t pool, const char *key, char *value, size_t len)
{
	int r = -ENOENT;

	vmbus_server_lock(ic->srv);
	for (uint32_t i = 0; i < ic->kvp_count; i++) {
		if (ic->kvp[i].pool == pool && !strcmp(ic->kvp[i].key, key)) {
			if (len) {
				size_t n = MIN(strlen(ic->kvp[i].value), len - 1);
				memcpy(value, ic->kvp[i].value, n);
				value[n] = 0;
			}
			r = 0;
			break;
		}
	}
	vmbus_server_unlock(ic->srv);
	return r;
}

int ic_kvp_list(struct ic *ic, struct ic_kvp_entry *out, size_t max)
{
	int n;

	vmbus_server_lock(ic->srv);
	for (uint32_t i = 0; i < ic->kvp_count && i < max; i++)
		out[i] = ic->kvp[i];
	n = (int)ic->kvp_count;
	vmbus_server_unlock(ic->srv);
	return n;
}

int ic_kvp_set(struct ic *ic, const char *key, const char *value)
{
	uint8_t probe[KVP_MAX_VALUE_BYTES];
	struct kvp_op *op;

	if (!key || !key[0] || strlen(key) >= IC_KVP_KEY_MAX ||
	    utf8_to_utf16le(key, probe, KVP_MAX_KEY_BYTES) < 0)
		return -EINVAL;
	if (value && (strlen(value) >= IC_KVP_VALUE_MAX ||
		      utf8_to_utf16le(value, probe, KVP_MAX_VALUE_BYTES) < 0))
		return -EINVAL;
	vmbus_server_lock(ic->srv);
	if (ic->kvp_qcount == IC_KVP_QUEUE) {
		vmbus_server_unlock(ic->srv);
		return -ENOSPC;
	}
	op = &ic->kvp_queue[(ic->kvp_qhead + ic->kvp_qcount) % IC_KVP_QUEUE];
	memset(op, 0, sizeof(*op));
	op->is_delete = !value;
	snprintf(op->key, sizeof(op->key), "%s", key);
	if (value)
		snprintf(op->value, sizeof(op->value), "%s", value);
	ic->kvp_qcount++;
	svc_kick(&ic->svc[IC_SVC_KVP]);
	vmbus_server_unlock(ic->srv);
	return 0;
}

void ic_kvp_set_results(struct ic *ic, uint64_t *ret_ok, uint64_t *ret_failed)
{
	vmbus_server_lock(ic->srv);
	*ret_ok = ic->kvp_set_ok;
	*ret_failed = ic->kvp_set_failed;
	vmbus_server_unlock(ic->srv);
}
