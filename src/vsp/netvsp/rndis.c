// SPDX-License-Identifier: MIT
/*
 * RNDIS device logic for netvsp: control requests and the packet/PPI format
 * (see rndis.h). Answers are shaped the way Linux 6.1 rndis_filter.c checks
 * them: QUERY_C info_buf_offset = 16, info_buflen exactly the OID's size,
 * unsupported OIDs answered NOT_SUPPORTED with an empty buffer.
 */
#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "vsp/netvsp/rndis.h"

#define HDR sizeof(struct rndis_hdr_wire)

static const uint32_t rndis_supported_oids[] = {
	OID_GEN_SUPPORTED_LIST,       OID_GEN_HARDWARE_STATUS,     OID_GEN_MEDIA_SUPPORTED,
	OID_GEN_MEDIA_IN_USE,         OID_GEN_MAXIMUM_FRAME_SIZE,  OID_GEN_LINK_SPEED,
	OID_GEN_TRANSMIT_BLOCK_SIZE,  OID_GEN_RECEIVE_BLOCK_SIZE,  OID_GEN_VENDOR_ID,
	OID_GEN_VENDOR_DESCRIPTION,   OID_GEN_CURRENT_PACKET_FILTER, OID_GEN_MAXIMUM_TOTAL_SIZE,
	OID_GEN_MEDIA_CONNECT_STATUS, OID_GEN_MAXIMUM_SEND_PACKETS, OID_GEN_XMIT_OK,
	OID_GEN_RCV_OK,               OID_GEN_XMIT_ERROR,          OID_GEN_RCV_ERROR,
	OID_GEN_RCV_NO_BUFFER,        OID_GEN_FRIENDLY_NAME,       OID_802_3_PERMANENT_ADDRESS,
	OID_802_3_CURRENT_ADDRESS,    OID_802_3_MAXIMUM_LIST_SIZE, OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES,
};

static void put_hdr(uint8_t *out, uint32_t type, uint32_t len)
{
	struct rndis_hdr_wire h = { .type = type, .len = len };

	memcpy(out, &h, sizeof(h));
}

/* QUERY_C with `data` of n bytes (n <= RNDIS_RESP_MAX - 24). */
static uint32_t query_reply(uint8_t *out, uint32_t req_id, uint32_t status, const void *data,
			    uint32_t n)
{
	struct rndis_query_c_wire c = {
		.req_id = req_id, .status = status, .info_buflen = n,
		/* SPEC §7.5: offset from req_id, >= 16 even when empty. */
		.info_buf_offset = sizeof(c),
	};
	uint32_t len = (uint32_t)(HDR + sizeof(c)) + n;

	put_hdr(out, RNDIS_MSG_QUERY_C, len);
	memcpy(out + HDR, &c, sizeof(c));
	if (n)
		memcpy(out + HDR + sizeof(c), data, n);
	return len;
}

static uint32_t simple_reply(uint8_t *out, uint32_t type, uint32_t req_id, uint32_t status)
{
	struct rndis_set_c_wire c = { .req_id = req_id, .status = status };

	put_hdr(out, type, (uint32_t)(HDR + sizeof(c)));
	memcpy(out + HDR, &c, sizeof(c));
	return (uint32_t)(HDR + sizeof(c));
}

/* The offload capabilities: what st->offload_caps allows (none = the guest
 * computes every checksum and segments itself); revision and size follow
 * what the guest asked for. */
static uint32_t offload_caps(const struct rndis_state *st, const uint8_t *in, uint32_t in_len,
			     struct ndis_offload_wire *o)
{
	uint8_t rev = 3;
	uint16_t size = NDIS_OFFLOAD_SIZE;
	uint32_t c = st->offload_caps;
	uint32_t tx4 = 0, tx6 = 0;

	if (in_len >= sizeof(struct ndis_object_header_wire)) {
		struct ndis_object_header_wire h;

		memcpy(&h, in, sizeof(h));
		if (h.type == NDIS_OBJECT_TYPE_OFFLOAD && h.revision >= 1 && h.revision < 3) {
			rev = h.revision;
			size = rev == 2 ? NDIS_OFFLOAD_SIZE_6_1 : NDIS_OFFLOAD_SIZE_6_0;
		}
	}
	memset(o, 0, sizeof(*o));
	o->hdr.type = NDIS_OBJECT_TYPE_OFFLOAD;
	o->hdr.revision = rev;
	o->hdr.size = size;
	if (c & RNDIS_OFL_TCP4_CSUM)
		tx4 |= NDIS_TXCSUM_CAP_TCP4 | NDIS_TXCSUM_CAP_TCP4OPT;
	if (c & RNDIS_OFL_UDP4_CSUM)
		tx4 |= NDIS_TXCSUM_CAP_UDP4;
	if (c & RNDIS_OFL_TCP6_CSUM)
		tx6 |= NDIS_TXCSUM_CAP_TCP6 | NDIS_TXCSUM_CAP_TCP6OPT | NDIS_TXCSUM_CAP_IP6EXT;
	if (c & RNDIS_OFL_UDP6_CSUM)
		tx6 |= NDIS_TXCSUM_CAP_UDP6;
	/* csum[]: ip4 tx encap, tx, rx encap, rx, then the same for IPv6. */
	o->csum[0] = tx4 ? NDIS_OFFLOAD_ENCAP_8023 : 0;
	o->csum[1] = tx4;
	o->csum[4] = tx6 ? NDIS_OFFLOAD_ENCAP_8023 : 0;
	o->csum[5] = tx6;
	/* lsov2[]: ip4 encap, max size, min segments, ip6 encap, max, min, opts. */
	if (c & RNDIS_OFL_LSO4) {
		o->lsov2[0] = NDIS_OFFLOAD_ENCAP_8023;
		o->lsov2[1] = RNDIS_LSO_MAX_SIZE;
		o->lsov2[2] = 2;
	}
	if (c & RNDIS_OFL_LSO6) {
		o->lsov2[3] = NDIS_OFFLOAD_ENCAP_8023;
		o->lsov2[4] = RNDIS_LSO_MAX_SIZE;
		o->lsov2[5] = 2;
		o->lsov2[6] = NDIS_LSOV2_CAP_IP6;
	}
	if ((c & RNDIS_OFL_RSC) && size >= NDIS_OFFLOAD_SIZE)
		o->rsc_ip4 = o->rsc_ip6 = 1;
	return size;
}

/* One checksum field of ndis_offload_params: TX on, off, or unchanged. */
static int oflp_csum(uint8_t v, uint32_t bit, uint32_t caps, uint32_t *on)
{
	switch (v) {
	case NDIS_OFLP_NO_CHANGE:
		return 0;
	case NDIS_OFLP_CSUM_DISABLED:
	case NDIS_OFLP_CSUM_RX:
		*on &= ~bit;
		return 0;
	case NDIS_OFLP_CSUM_TX:
	case NDIS_OFLP_CSUM_TX_RX:
		if (!(caps & bit))
			return -1;
		*on |= bit;
		return 0;
	default:
		return -1;
	}
}

static int oflp_lso(uint8_t v, uint32_t bit, uint32_t caps, uint32_t *on)
{
	if (v == NDIS_OFLP_NO_CHANGE)
		return 0;
	if (v == NDIS_OFLP_LSO_DISABLED) {
		*on &= ~bit;
		return 0;
	}
	if (v != NDIS_OFLP_LSO_ENABLED || !(caps & bit))
		return -1;
	*on |= bit;
	return 0;
}

/* The two RSC fields (IPv4, IPv6) drive one switch: off when either says
 * disabled, on when one says enabled and neither disabled. */
static int oflp_rsc(uint8_t v4, uint8_t v6, uint32_t caps, uint32_t *on)
{
	if (v4 > NDIS_OFLP_LSO_ENABLED || v6 > NDIS_OFLP_LSO_ENABLED)
		return -1;
	if (v4 == NDIS_OFLP_LSO_DISABLED || v6 == NDIS_OFLP_LSO_DISABLED) {
		*on &= ~RNDIS_OFL_RSC;
		return 0;
	}
	if (v4 == NDIS_OFLP_NO_CHANGE && v6 == NDIS_OFLP_NO_CHANGE)
		return 0;
	if (!(caps & RNDIS_OFL_RSC))
		return -1;
	*on |= RNDIS_OFL_RSC;
	return 0;
}

/* SET OID_TCP_OFFLOAD_PARAMETERS: apply all fields or none. */
static uint32_t set_offload_params(struct rndis_state *st, const uint8_t *in, uint32_t in_len)
{
	struct ndis_object_header_wire h;
	uint32_t on = st->offload_on, caps = st->offload_caps;

	if (in_len < NDIS_OFFLOAD_PARAMS_SIZE_6_0)
		return RNDIS_STATUS_INVALID_DATA;
	memcpy(&h, in, sizeof(h));
	if (h.type != NDIS_OBJECT_TYPE_DEFAULT)
		return RNDIS_STATUS_INVALID_DATA;
	/* The IPv4 header checksum and LSOv1 are never offered. */
	if (in[NDIS_OFLP_IP4_CSUM] > NDIS_OFLP_CSUM_DISABLED &&
	    in[NDIS_OFLP_IP4_CSUM] != NDIS_OFLP_CSUM_RX)
		return RNDIS_STATUS_INVALID_DATA;
	if (in[NDIS_OFLP_LSOV1] > NDIS_OFLP_LSO_DISABLED)
		return RNDIS_STATUS_INVALID_DATA;
	if (in_len > NDIS_OFLP_RSC_IP6 &&
	    oflp_rsc(in[NDIS_OFLP_RSC_IP4], in[NDIS_OFLP_RSC_IP6], caps, &on))
		return RNDIS_STATUS_INVALID_DATA;
	if (oflp_csum(in[NDIS_OFLP_TCP4_CSUM], RNDIS_OFL_TCP4_CSUM, caps, &on) ||
	    oflp_csum(in[NDIS_OFLP_UDP4_CSUM], RNDIS_OFL_UDP4_CSUM, caps, &on) ||
	    oflp_csum(in[NDIS_OFLP_TCP6_CSUM], RNDIS_OFL_TCP6_CSUM, caps, &on) ||
	    oflp_csum(in[NDIS_OFLP_UDP6_CSUM], RNDIS_OFL_UDP6_CSUM, caps, &on) ||
	    oflp_lso(in[NDIS_OFLP_LSOV2_IP4], RNDIS_OFL_LSO4, caps, &on) ||
	    oflp_lso(in[NDIS_OFLP_LSOV2_IP6], RNDIS_OFL_LSO6, caps, &on))
		return RNDIS_STATUS_INVALID_DATA;
	st->offload_on = on;
	return RNDIS_STATUS_SUCCESS;
}

static int hex_nibble(uint16_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* SET OID_GEN_RNDIS_CONFIG_PARAMETER: Linux sends "NetworkAddress" with 12
 * hex digits (UTF-16LE) when the guest changes its MAC address. */
static uint32_t set_config_param(struct rndis_state *st, const uint8_t *in, uint32_t in_len)
{
	static const char name[] = "NetworkAddress";
	struct rndis_config_param_wire p;
	uint8_t mac[6];

	if (in_len < sizeof(p))
		return RNDIS_STATUS_INVALID_DATA;
	memcpy(&p, in, sizeof(p));
	if (!range_ok(p.name_offset, p.name_length, in_len) ||
	    !range_ok(p.value_offset, p.value_length, in_len))
		return RNDIS_STATUS_INVALID_DATA;
	if (p.name_length != 2 * (sizeof(name) - 1))
		return RNDIS_STATUS_NOT_SUPPORTED;
	for (uint32_t i = 0; i < sizeof(name) - 1; i++)
		if (get_le16(in + p.name_offset + 2 * i) != (uint8_t)name[i])
			return RNDIS_STATUS_NOT_SUPPORTED; /* some other parameter */
	if (!st->allow_mac_change)
		return RNDIS_STATUS_NOT_SUPPORTED; /* MAC spoofing protection */
	if (p.type != RNDIS_CONFIG_PARAM_STRING || p.value_length != 24)
		return RNDIS_STATUS_INVALID_DATA;
	for (uint32_t i = 0; i < 6; i++) {
		int hi = hex_nibble(get_le16(in + p.value_offset + 4 * i));
		int lo = hex_nibble(get_le16(in + p.value_offset + 4 * i + 2));

		if (hi < 0 || lo < 0)
			return RNDIS_STATUS_INVALID_DATA;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1) /* multicast/broadcast cannot be a station address */
		return RNDIS_STATUS_INVALID_DATA;
	memcpy(st->mac, mac, 6);
	st->mac_changed = true;
	return RNDIS_STATUS_SUCCESS;
}

/*
 * SET OID_GEN_RECEIVE_SCALE_PARAMETERS: Toeplitz only, a table of 1 ..
 * RSS_ITAB_MAX channel numbers below rss_queues, a 40-byte key. Linux sends
 * it twice per setup: first with DISABLE_RSS, then the real parameters.
 */
static uint32_t set_rss_params(struct rndis_state *st, const uint8_t *in, uint32_t in_len)
{
	struct ndis_rss_params_wire p;
	struct rss_state n = st->rss;

	if (st->rss_queues < 2)
		return RNDIS_STATUS_NOT_SUPPORTED;
	if (in_len < sizeof(p))
		return RNDIS_STATUS_INVALID_DATA;
	memcpy(&p, in, sizeof(p));
	if (p.hdr.type != NDIS_OBJECT_TYPE_RSS_PARAMETERS)
		return RNDIS_STATUS_INVALID_DATA;
	if (p.flags & NDIS_RSS_PARAM_DISABLE_RSS) {
		st->rss.on = false;
		return RNDIS_STATUS_SUCCESS;
	}
	if (!(p.flags & NDIS_RSS_PARAM_HASH_INFO_UNCHANGED)) {
		if ((p.hashinfo & 0xFF) != RSS_HASH_FUNC_TOEPLITZ)
			return RNDIS_STATUS_INVALID_DATA;
		n.hashinfo = p.hashinfo;
	}
	if (!(p.flags & NDIS_RSS_PARAM_ITABLE_UNCHANGED)) {
		uint32_t cnt = p.itab_size / 4u;

		if (p.itab_size % 4u || !cnt || cnt > RSS_ITAB_MAX ||
		    !range_ok(p.itab_offset, p.itab_size, in_len))
			return RNDIS_STATUS_INVALID_DATA;
		for (uint32_t i = 0; i < cnt; i++) {
			uint32_t q;

			memcpy(&q, in + p.itab_offset + 4 * i, 4);
			if (q >= st->rss_queues)
				return RNDIS_STATUS_INVALID_DATA;
			n.itab[i] = (uint16_t)q;
		}
		n.itab_len = (uint16_t)cnt;
	}
	if (!(p.flags & NDIS_RSS_PARAM_HASH_KEY_UNCHANGED)) {
		if (p.key_size != RSS_KEY_LEN || !range_ok(p.key_offset, p.key_size, in_len))
			return RNDIS_STATUS_INVALID_DATA;
		memcpy(n.key, in + p.key_offset, RSS_KEY_LEN);
	}
	if (!n.itab_len || !(n.hashinfo & RSS_HASH_FUNC_TOEPLITZ))
		return RNDIS_STATUS_INVALID_DATA; /* "unchanged" parts never set */
	n.on = true;
	st->rss = n;
	return RNDIS_STATUS_SUCCESS;
}

static uint32_t do_query(struct rndis_state *st, const struct rndis_query_wire *q,
			 const uint8_t *in, uint32_t in_len, uint8_t *out)
{
	union {
		uint32_t u32;
		uint64_t u64;
		uint8_t mac[6];
		uint16_t name[32];
		struct ndis_offload_wire off;
		struct ndis_rss_caps_wire rss;
		uint32_t list[ARRAY_SIZE(rndis_supported_oids)];
	} v;
	uint32_t n = 4;
	static const char friendly[] = "Network Adapter"; /* the name Linux leaves alone */
	static const char vendor[] = "openhv synthetic NIC";

	memset(&v, 0, sizeof(v));
	switch (q->oid) {
	case OID_GEN_SUPPORTED_LIST:
		memcpy(v.list, rndis_supported_oids, sizeof(v.list));
		n = sizeof(v.list);
		break;
	case OID_GEN_HARDWARE_STATUS:   /* ready */
	case OID_GEN_MEDIA_SUPPORTED:   /* 802.3 */
	case OID_GEN_MEDIA_IN_USE:
	case OID_GEN_VENDOR_ID:
		v.u32 = 0;
		break;
	case OID_GEN_MAXIMUM_FRAME_SIZE:
		v.u32 = st->mtu;
		break;
	case OID_GEN_MAXIMUM_TOTAL_SIZE:
	case OID_GEN_TRANSMIT_BLOCK_SIZE:
	case OID_GEN_RECEIVE_BLOCK_SIZE:
		v.u32 = st->mtu + 14;
		break;
	case OID_GEN_LINK_SPEED:
		v.u32 = st->link_speed;
		break;
	case OID_GEN_CURRENT_PACKET_FILTER:
		v.u32 = st->filter;
		break;
	case OID_GEN_MEDIA_CONNECT_STATUS:
		v.u32 = st->link_up ? 0 : 1; /* 0 = connected */
		break;
	case OID_GEN_MAXIMUM_SEND_PACKETS:
		v.u32 = RNDIS_MAX_PKT_PER_MSG;
		break;
	case OID_802_3_MAXIMUM_LIST_SIZE:
		v.u32 = 32;
		break;
	case OID_GEN_XMIT_OK:
		v.u64 = st->xmit_ok;
		n = 8;
		break;
	case OID_GEN_RCV_OK:
		v.u64 = st->rcv_ok;
		n = 8;
		break;
	case OID_GEN_XMIT_ERROR:
		v.u64 = st->xmit_err;
		n = 8;
		break;
	case OID_GEN_RCV_ERROR:
		v.u64 = st->rcv_err;
		n = 8;
		break;
	case OID_GEN_RCV_NO_BUFFER:
		v.u64 = st->rcv_nobuf;
		n = 8;
		break;
	case OID_802_3_PERMANENT_ADDRESS:
		memcpy(v.mac, st->perm_mac, 6);
		n = 6;
		break;
	case OID_802_3_CURRENT_ADDRESS:
		memcpy(v.mac, st->mac, 6);
		n = 6; /* SPEC: exactly 6 or the probe fails */
		break;
	case OID_GEN_FRIENDLY_NAME: /* UTF-16LE with terminator */
		for (n = 0; friendly[n]; n++)
			v.name[n] = (uint8_t)friendly[n];
		n = (n + 1) * 2;
		break;
	case OID_GEN_VENDOR_DESCRIPTION:
		memcpy(&v, vendor, sizeof(vendor));
		n = sizeof(vendor);
		break;
	case OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES:
		n = offload_caps(st, in, in_len, &v.off);
		break;
	case OID_GEN_RECEIVE_SCALE_CAPABILITIES:
		if (st->rss_queues < 2)
			return query_reply(out, q->req_id, RNDIS_STATUS_NOT_SUPPORTED, NULL, 0);
		v.rss.hdr.type = NDIS_OBJECT_TYPE_RSS_CAPABILITIES;
		v.rss.hdr.revision = NDIS_RSS_CAPS_REVISION;
		v.rss.hdr.size = sizeof(v.rss);
		v.rss.cap_flags = NDIS_RSS_CAPS_HASH_TCP_IPV4 | NDIS_RSS_CAPS_HASH_TCP_IPV6;
		v.rss.num_int_msg = st->rss_queues;
		v.rss.num_recv_queues = st->rss_queues;
		v.rss.num_itab_entries = RSS_ITAB_MAX;
		n = sizeof(v.rss);
		break;
	default:
		return query_reply(out, q->req_id, RNDIS_STATUS_NOT_SUPPORTED, NULL, 0);
	}
	/* A caller buffer smaller than the value cannot take it. */
	if (q->info_buflen && q->info_buflen < n && q->oid != OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES)
		return query_reply(out, q->req_id, RNDIS_STATUS_BUFFER_OVERFLOW, NULL, 0);
	return query_reply(out, q->req_id, RNDIS_STATUS_SUCCESS, &v, n);
}

static uint32_t do_set(struct rndis_state *st, const struct rndis_query_wire *q, const uint8_t *in,
		       uint32_t in_len)
{
	switch (q->oid) {
	case OID_GEN_CURRENT_PACKET_FILTER: {
		uint32_t f;

		if (in_len != 4)
			return RNDIS_STATUS_INVALID_DATA;
		memcpy(&f, in, 4);
		st->filter = f;
		return RNDIS_STATUS_SUCCESS;
	}
	case OID_TCP_OFFLOAD_PARAMETERS:
		return set_offload_params(st, in, in_len);
	case OID_GEN_RNDIS_CONFIG_PARAMETER:
		return set_config_param(st, in, in_len);
	case OID_GEN_RECEIVE_SCALE_PARAMETERS:
		return set_rss_params(st, in, in_len);
	case OID_GEN_CURRENT_LOOKAHEAD:
	case OID_802_3_MULTICAST_LIST:       /* we pass all multicast the filter allows */
	case OID_GEN_NETWORK_LAYER_ADDRESSES:
		return RNDIS_STATUS_SUCCESS;
	default:
		return RNDIS_STATUS_NOT_SUPPORTED;
	}
}

int rndis_control(struct rndis_state *st, const uint8_t *msg, uint32_t len, uint8_t *out,
		  uint32_t *ret_len)
{
	struct rndis_hdr_wire h;
	uint32_t req_id;

	*ret_len = 0;
	if (len < HDR + 4) {
		st->bad_msgs++;
		return -EPROTO;
	}
	memcpy(&h, msg, sizeof(h));
	memcpy(&req_id, msg + HDR, 4);
	if (h.len != len) {
		st->bad_msgs++;
		return -EPROTO;
	}
	switch (h.type) {
	case RNDIS_MSG_INIT: {
		struct rndis_init_c_wire c = {
			.req_id = req_id, .status = RNDIS_STATUS_SUCCESS, .major = 1, .minor = 0,
			.dev_flags = 1 /* connectionless */, .medium = 0 /* 802.3 */,
			.max_pkt_per_msg = RNDIS_MAX_PKT_PER_MSG,
			.max_xfer_size = RNDIS_MAX_XFER_SIZE,
			.pkt_alignment_factor = RNDIS_PKT_ALIGN_SHIFT,
		};

		if (len < HDR + sizeof(struct rndis_init_wire)) {
			c.status = RNDIS_STATUS_INVALID_DATA;
			st->bad_msgs++;
		} else {
			st->initialized = true;
			st->filter = 0;
			st->rss.on = false;
		}
		put_hdr(out, RNDIS_MSG_INIT_C, (uint32_t)(HDR + sizeof(c)));
		memcpy(out + HDR, &c, sizeof(c));
		*ret_len = (uint32_t)(HDR + sizeof(c));
		return c.status ? -EPROTO : 0;
	}
	case RNDIS_MSG_HALT:
		st->initialized = false;
		st->filter = 0;
		st->rss.on = false;
		return 0;
	case RNDIS_MSG_RESET: {
		struct rndis_reset_c_wire c = { .status = RNDIS_STATUS_SUCCESS };

		st->filter = 0;
		put_hdr(out, RNDIS_MSG_RESET_C, (uint32_t)(HDR + sizeof(c)));
		memcpy(out + HDR, &c, sizeof(c));
		*ret_len = (uint32_t)(HDR + sizeof(c));
		return 0;
	}
	case RNDIS_MSG_KEEPALIVE:
		*ret_len = simple_reply(out, RNDIS_MSG_KEEPALIVE_C, req_id, RNDIS_STATUS_SUCCESS);
		return 0;
	case RNDIS_MSG_QUERY:
	case RNDIS_MSG_SET: {
		struct rndis_query_wire q;
		const uint8_t *in = NULL;
		uint32_t in_len = 0;
		bool ok = len >= HDR + sizeof(q);

		if (ok) {
			memcpy(&q, msg + HDR, sizeof(q));
			in_len = q.info_buflen;
			/* SECURITY: the input buffer must lie in the message. */
			if (in_len) {
				ok = q.info_buf_offset >= sizeof(q) &&
				     range_ok(q.info_buf_offset, in_len, len - HDR);
				in = msg + HDR + q.info_buf_offset;
			}
		}
		if (!ok) {
			st->bad_msgs++;
			*ret_len = h.type == RNDIS_MSG_QUERY ?
				   query_reply(out, req_id, RNDIS_STATUS_INVALID_DATA, NULL, 0) :
				   simple_reply(out, RNDIS_MSG_SET_C, req_id,
						RNDIS_STATUS_INVALID_DATA);
			return -EPROTO;
		}
		if (h.type == RNDIS_MSG_QUERY)
			*ret_len = do_query(st, &q, in, in_len, out);
		else
			*ret_len = simple_reply(out, RNDIS_MSG_SET_C, req_id,
						do_set(st, &q, in, in_len));
		return 0;
	}
	default:
		return -ENOTSUP;
	}
}

int rndis_parse_packet(const uint8_t *msg, uint32_t len, struct rndis_tx_info *ret)
{
	struct rndis_packet_wire p;
	uint32_t body_len, off, end;

	memset(ret, 0, sizeof(*ret));
	if (len < HDR + sizeof(p))
		return -EPROTO;
	memcpy(&p, msg + HDR, sizeof(p));
	body_len = len - (uint32_t)HDR;
	/* SPEC §7.7: offsets are relative to the packet body (header + 8). */
	if (!p.data_len || p.data_offset < sizeof(p) || !range_ok(p.data_offset, p.data_len, body_len))
		return -EPROTO;
	ret->data_off = (uint32_t)HDR + p.data_offset;
	ret->data_len = p.data_len;
	if (!p.ppi_len)
		return 0;
	if (p.ppi_offset < sizeof(p) || !range_ok(p.ppi_offset, p.ppi_len, body_len))
		return -EPROTO;
	off = p.ppi_offset;
	end = p.ppi_offset + p.ppi_len;
	while (off < end) {
		struct rndis_ppi_wire ppi;
		uint32_t val;

		if (!range_ok(off, sizeof(ppi), end))
			return -EPROTO;
		memcpy(&ppi, msg + HDR + off, sizeof(ppi));
		if (ppi.size < sizeof(ppi) || !range_ok(off, ppi.size, end) ||
		    ppi.ppi_offset < sizeof(ppi) || ppi.ppi_offset > ppi.size)
			return -EPROTO;
		if (ppi.size - ppi.ppi_offset >= 4 && !(ppi.type & RNDIS_PPI_INTERNAL)) {
			memcpy(&val, msg + HDR + off + ppi.ppi_offset, 4);
			switch (ppi.type) {
			case RNDIS_PPI_VLAN:
				/* PPI: prio 0-2, cfi 3, vid 4-15 -> tag order */
				ret->has_vlan = true;
				ret->vlan_tci = (uint16_t)(((val & 7u) << 13) | ((val >> 3 & 1u) << 12) |
							   ((val >> 4) & 0xFFFu));
				break;
			case RNDIS_PPI_CHECKSUM:
				ret->has_csum = true;
				ret->csum_info = val;
				break;
			case RNDIS_PPI_LSO:
				ret->has_lso = true;
				ret->lso_info = val;
				break;
			default:
				break;
			}
		}
		off += ppi.size;
	}
	return 0;
}

static uint32_t put_ppi(uint8_t *out, uint32_t type, uint32_t val)
{
	struct rndis_ppi_wire ppi = { .size = sizeof(ppi) + 4, .type = type,
				      .ppi_offset = sizeof(ppi) };

	memcpy(out, &ppi, sizeof(ppi));
	memcpy(out + sizeof(ppi), &val, 4);
	return ppi.size;
}

uint32_t rndis_build_rx_header_frag(uint8_t *out, uint32_t frame_len, int32_t vlan_tci,
				    uint32_t csum_info, uint32_t frag)
{
	struct rndis_packet_wire p = { .data_offset = sizeof(p), .data_len = frame_len };
	uint32_t hlen = (uint32_t)RNDIS_RX_HDR_LEN, ppi_len = 0;

	if (vlan_tci >= 0) {
		uint32_t t = (uint32_t)vlan_tci;

		/* PPI: prio 0-2, cfi 3, vid 4-15 */
		ppi_len += put_ppi(out + hlen + ppi_len, RNDIS_PPI_VLAN,
				   (t >> 13 & 7u) | (t >> 12 & 1u) << 3 | (t & 0xFFFu) << 4);
	}
	if (csum_info)
		ppi_len += put_ppi(out + hlen + ppi_len, RNDIS_PPI_CHECKSUM, csum_info);
	if (frag) /* struct rndis_pktinfo_id: version, flags, packet id 0 */
		ppi_len += put_ppi(out + hlen + ppi_len, RNDIS_PPI_PKTINFO_ID,
				   RNDIS_PKTINFO_ID_V1 | (frag & 0xFFu) << 8);
	if (ppi_len) {
		p.ppi_offset = sizeof(p);
		p.ppi_len = ppi_len;
		p.data_offset = sizeof(p) + ppi_len;
		hlen += ppi_len;
	}
	put_hdr(out, RNDIS_MSG_PACKET, hlen + frame_len);
	memcpy(out + HDR, &p, sizeof(p));
	return hlen;
}

uint32_t rndis_build_rx_header_csum(uint8_t *out, uint32_t frame_len, int32_t vlan_tci,
				    uint32_t csum_info)
{
	return rndis_build_rx_header_frag(out, frame_len, vlan_tci, csum_info, 0);
}

uint32_t rndis_build_rx_header(uint8_t *out, uint32_t frame_len, int32_t vlan_tci)
{
	return rndis_build_rx_header_csum(out, frame_len, vlan_tci, 0);
}

uint32_t rndis_build_indicate(uint8_t *out, uint32_t status)
{
	struct rndis_indicate_wire s = { .status = status, .status_buf_offset = sizeof(s) };
	uint32_t len = (uint32_t)(HDR + sizeof(s));

	put_hdr(out, RNDIS_MSG_INDICATE, len);
	memcpy(out + HDR, &s, sizeof(s));
	return len;
}

bool rndis_filter_accepts(const struct rndis_state *st, const uint8_t *frame, uint32_t len)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint32_t f = st->filter;

	if (len < 14 || !f)
		return false;
	if (f & NDIS_PACKET_TYPE_PROMISCUOUS)
		return true;
	if (!memcmp(frame, bcast, 6))
		return f & NDIS_PACKET_TYPE_BROADCAST;
	if (frame[0] & 1)
		return f & (NDIS_PACKET_TYPE_MULTICAST | NDIS_PACKET_TYPE_ALL_MULTICAST);
	return (f & NDIS_PACKET_TYPE_DIRECTED) && !memcmp(frame, st->mac, 6);
}
