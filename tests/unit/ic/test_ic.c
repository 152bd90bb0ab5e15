// SPDX-License-Identifier: MIT
/*
 * Integration-component tests, end to end at the unit tier: the real hv
 * layer, VMBus server and IC services against a fake Linux guest running
 * hv_utils logic (ic_guest.c): offers, version negotiation, heartbeat,
 * shutdown, time sync (reference-time formula), KVP with and without the
 * daemon, hostile replies and channel reopen.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ic_guest.h"
#include "t.h"

#define RAM (8 * 1024 * 1024)
#define MS 1000000ull

struct env {
	struct fake_guest *fg;
	struct ic *ic;
	struct ic_guest g;
	uint64_t now;  /* host monotonic ns */
	uint64_t utc;  /* host UTC, 100 ns since 1601 */
	struct vmbus_offer_channel_wire offers[8];
	int n_offers;
};

static uint64_t t_utc(void *o)
{
	return ((struct env *)o)->utc;
}

static uint64_t t_ref(void *o)
{
	return hv_ref_time(((struct env *)o)->fg->hv);
}

static uint64_t t_now(void *o)
{
	return ((struct env *)o)->now;
}

static const struct ic_host_ops t_ops = { .utc_100ns = t_utc, .ref_time = t_ref, .now_ns = t_now };

/* Boot, connect and offer; open the channels unless told not to. */
static void env_up(struct env *e, bool open, bool kvp_daemon)
{
	memset(e, 0, sizeof(*e));
	e->now = 1000 * MS;
	e->utc = 133000000000000000ull; /* 2022 */
	T_ASSERT_EQ(fg_new(1, RAM, &e->fg), 0);
	T_ASSERT_EQ(fg_boot(e->fg), 0);
	T_ASSERT_EQ(ic_new(e->fg->srv, NULL, &t_ops, e, &e->ic), 0);
	T_ASSERT_EQ(fg_connect(e->fg), VMBUS_VERSION_WIN10_V5_3);
	e->n_offers = fg_request_offers(e->fg, e->offers, 8);
	T_ASSERT_EQ(e->n_offers, 4);
	e->g.kvp_daemon = kvp_daemon;
	if (open)
		T_ASSERT_EQ(icg_open_all(&e->g, e->fg, e->offers, e->n_offers), 0);
}

static void env_down(struct env *e)
{
	ic_free(e->ic);
	fg_free(e->fg);
}

static enum ic_state state_of(struct env *e, enum ic_service s)
{
	struct ic_service_status st;

	T_ASSERT_EQ(ic_service_status(e->ic, s, &st), 0);
	return st.state;
}

static void test_offers_and_negotiation(void)
{
	static const uint8_t classes[4][16] = { IC_GUID_HEARTBEAT, IC_GUID_SHUTDOWN, IC_GUID_TIMESYNC,
						IC_GUID_KVP };
	struct env e;
	struct ic_service_status st;

	env_up(&e, false, true);
	for (int s = 0; s < 4; s++) {
		bool found = false;
		for (int i = 0; i < e.n_offers; i++)
			if (!memcmp(e.offers[i].if_type, classes[s], 16) &&
			    !memcmp(e.offers[i].if_instance, ic_instance_guid((enum ic_service)s), 16))
				found = true;
		T_EXPECT(found);
		T_EXPECT_EQ(state_of(&e, (enum ic_service)s), IC_STATE_CLOSED);
	}
	T_ASSERT_EQ(icg_open_all(&e.g, e.fg, e.offers, e.n_offers), 0);
	for (int s = 0; s < 4; s++)
		T_EXPECT_EQ(state_of(&e, (enum ic_service)s), IC_STATE_NEGOTIATING);
	icg_poll_all(&e.g);
	static const uint32_t want[4] = { IC_VERSION(3, 0), IC_VERSION(3, 2), IC_VERSION(4, 0),
					  IC_VERSION(4, 0) };
	for (int s = 0; s < 4; s++) {
		T_ASSERT_EQ(ic_service_status(e.ic, (enum ic_service)s, &st), 0);
		T_EXPECT_EQ(st.state, IC_STATE_READY);
		T_EXPECT_EQ(st.framework_version, IC_VERSION(3, 0));
		T_EXPECT_EQ(st.service_version, want[s]);
		T_EXPECT_EQ(st.bad_replies, 0);
	}
	env_down(&e);
}

static void test_negotiation_old_and_none(void)
{
	struct env e;
	struct ic_service_status st;

	env_up(&e, false, true);
	/* An old guest: heartbeat 1.0 only; time sync: nothing in common. */
	e.g.srv_versions[IC_SVC_HEARTBEAT][0] = IC_VERSION(1, 0);
	e.g.n_srv_versions[IC_SVC_HEARTBEAT] = 1;
	e.g.srv_versions[IC_SVC_TIMESYNC][0] = IC_VERSION(9, 9);
	e.g.n_srv_versions[IC_SVC_TIMESYNC] = 1;
	T_ASSERT_EQ(icg_open_all(&e.g, e.fg, e.offers, e.n_offers), 0);
	icg_poll_all(&e.g);
	T_ASSERT_EQ(ic_service_status(e.ic, IC_SVC_HEARTBEAT, &st), 0);
	T_EXPECT_EQ(st.state, IC_STATE_READY);
	T_EXPECT_EQ(st.service_version, IC_VERSION(1, 0));
	T_EXPECT_EQ(state_of(&e, IC_SVC_TIMESYNC), IC_STATE_FAILED);
	T_EXPECT_EQ(ic_timesync_sync_now(e.ic), -ENOTCONN);
	env_down(&e);
}

static void test_heartbeat(void)
{
	struct env e;
	struct ic_heartbeat_status hs;

	env_up(&e, true, true);
	T_ASSERT_EQ(ic_heartbeat_status(e.ic, &hs), 0);
	T_EXPECT(!hs.alive);
	T_EXPECT_EQ(hs.last_reply_age_ms, UINT64_MAX);
	icg_poll_all(&e.g); /* negotiation, then the first heartbeat right away */
	T_EXPECT_EQ(e.g.hb_count, 1);
	T_EXPECT_EQ(e.g.hb_last_seq, 0);
	T_ASSERT_EQ(ic_heartbeat_status(e.ic, &hs), 0);
	T_EXPECT(hs.alive);
	T_EXPECT_EQ(hs.seq, 1);
	T_EXPECT_EQ(hs.replies, 1);
	/* Nothing before the period elapses. */
	e.now += 1000 * MS;
	ic_tick(e.ic);
	icg_poll_all(&e.g);
	T_EXPECT_EQ(e.g.hb_count, 1);
	e.now += 1000 * MS;
	ic_tick(e.ic);
	icg_poll_all(&e.g);
	T_EXPECT_EQ(e.g.hb_count, 2);
	T_EXPECT_EQ(e.g.hb_last_seq, 1);
	T_ASSERT_EQ(ic_heartbeat_status(e.ic, &hs), 0);
	T_EXPECT_EQ(hs.seq, 2);
	/* A hung guest: no replies for more than 3 periods. */
	e.now += 2000 * MS;
	ic_tick(e.ic); /* sent, never answered */
	e.now += 5000 * MS;
	ic_tick(e.ic);
	T_ASSERT_EQ(ic_heartbeat_status(e.ic, &hs), 0);
	T_EXPECT(!hs.alive);
	T_EXPECT_EQ(hs.last_reply_age_ms, 7000);
	/* After the request timeout a new heartbeat goes out. */
	e.now += 60000 * MS;
	ic_tick(e.ic);
	struct ic_service_status st;
	T_ASSERT_EQ(ic_service_status(e.ic, IC_SVC_HEARTBEAT, &st), 0);
	T_EXPECT_EQ(st.timeouts, 1);
	T_EXPECT_EQ(st.requests, 5); /* negotiate + 4 heartbeats */
	icg_poll_all(&e.g);
	T_ASSERT_EQ(ic_heartbeat_status(e.ic, &hs), 0);
	T_EXPECT(hs.alive);
	env_down(&e);
}

static void test_shutdown(void)
{
	struct env e;
	char msg[64];

	env_up(&e, false, true);
	T_EXPECT_EQ(ic_request_shutdown(e.ic, IC_SHUTDOWN_POWEROFF, NULL), -ENOTCONN);
	T_EXPECT_EQ(ic_shutdown_result(e.ic), -ENODATA);
	T_ASSERT_EQ(icg_open_all(&e.g, e.fg, e.offers, e.n_offers), 0);
	icg_poll_all(&e.g);
	T_ASSERT_EQ(ic_request_shutdown(e.ic, IC_SHUTDOWN_REBOOT, "maintenance"), 0);
	T_EXPECT_EQ(ic_shutdown_result(e.ic), -EINPROGRESS);
	T_EXPECT_EQ(ic_request_shutdown(e.ic, IC_SHUTDOWN_POWEROFF, NULL), -EBUSY);
	icg_poll_all(&e.g);
	T_EXPECT_EQ(e.g.sd_count, 1);
	T_EXPECT(e.g.sd_len >= 2088); /* GUEST: shorter ones are ignored */
	T_EXPECT_EQ(e.g.sd_last.flags, IC_SHUTDOWN_FLAG_REBOOT | IC_SHUTDOWN_FLAG_FORCE);
	icg_utf8(e.g.sd_last.display_message, sizeof(e.g.sd_last.display_message), msg, sizeof(msg));
	T_EXPECT_STREQ(msg, "maintenance");
	T_EXPECT_EQ(ic_shutdown_result(e.ic), 0);
	/* A guest that refuses (e.g. hibernate unsupported) -> -EIO. */
	e.g.shutdown_status = HV_E_FAIL;
	T_ASSERT_EQ(ic_request_shutdown(e.ic, IC_SHUTDOWN_POWEROFF, NULL), 0);
	icg_poll_all(&e.g);
	T_EXPECT_EQ(e.g.sd_last.flags & IC_SHUTDOWN_FLAG_REBOOT, 0);
	T_EXPECT_EQ(ic_shutdown_result(e.ic), -EIO);
	/* No answer at all: timeout. */
	e.g.open[IC_SVC_SHUTDOWN] = false; /* guest stops reading */
	T_ASSERT_EQ(ic_request_shutdown(e.ic, IC_SHUTDOWN_POWEROFF, NULL), 0);
	e.now += 61000 * MS;
	ic_tick(e.ic);
	T_EXPECT_EQ(ic_shutdown_result(e.ic), -ETIMEDOUT);
	T_EXPECT_EQ(ic_request_shutdown(e.ic, 7, NULL), -EINVAL);
	env_down(&e);
}

static void test_timesync(void)
{
	struct env e;
	uint64_t guest_ref, host_time;

	env_up(&e, true, true);
	e.fg->tsc += 5ull * 2500000000ull; /* 5 s of partition time before the sync */
	icg_poll_all(&e.g);
	/* First message after negotiation: a hard SYNC. */
	T_EXPECT_EQ(e.g.ts_count, 1);
	T_EXPECT_EQ(e.g.ts_flags, IC_TIMESYNC_FLAG_SYNC);
	T_EXPECT_EQ(e.g.ts_parent, e.utc);
	T_EXPECT_EQ(e.g.ts_len, 56); /* 28 + 22 bytes, packet padded to 8 */
	/* The guest's reference time (MSR 0x40000020) is the timebase sent. */
	T_ASSERT_EQ(hv_msr_read(e.fg->hv, 0, HV_X64_MSR_TIME_REF_COUNT, &guest_ref), 0);
	T_EXPECT_EQ(e.g.ts_vmref, guest_ref);
	T_EXPECT(guest_ref >= 49999999 && guest_ref <= 50000000);
	/* One second later the guest computes host time = parent + 1 s. */
	e.fg->tsc += 2500000000ull;
	T_ASSERT_EQ(hv_msr_read(e.fg->hv, 0, HV_X64_MSR_TIME_REF_COUNT, &guest_ref), 0);
	host_time = e.g.ts_parent + (guest_ref - e.g.ts_vmref);
	T_EXPECT(host_time >= e.utc + 9999999 && host_time <= e.utc + 10000001);
	/* Then SAMPLEs every 5 s. */
	e.now += 4000 * MS;
	ic_tick(e.ic);
	icg_poll_all(&e.g);
	T_EXPECT_EQ(e.g.ts_count, 1);
	e.now += 1000 * MS;
	e.utc += 50000000;
	ic_tick(e.ic);
	icg_poll_all(&e.g);
	T_EXPECT_EQ(e.g.ts_count, 2);
	T_EXPECT_EQ(e.g.ts_flags, IC_TIMESYNC_FLAG_SAMPLE);
	T_EXPECT_EQ(e.g.ts_parent, e.utc);
	T_EXPECT_EQ(ic_timesync_samples(e.ic), 2);
	/* Forced SYNC (after resume). */
	T_EXPECT_EQ(ic_timesync_sync_now(e.ic), 0);
	icg_poll_all(&e.g);
	T_EXPECT_EQ(e.g.ts_flags, IC_TIMESYNC_FLAG_SYNC);
	env_down(&e);

	/* Time sync 3.0: the old 25-byte layout, no reference time. */
	env_up(&e, false, true);
	e.g.srv_versions[IC_SVC_TIMESYNC][0] = IC_VERSION(3, 0);
	e.g.n_srv_versions[IC_SVC_TIMESYNC] = 1;
	T_ASSERT_EQ(icg_open_all(&e.g, e.fg, e.offers, e.n_offers), 0);
	icg_poll_all(&e.g);
	T_EXPECT_EQ(e.g.ts_count, 1);
	T_EXPECT_EQ(e.g.ts_len, 56); /* 28 + 25 bytes, packet padded to 8 */
	T_EXPECT_EQ(e.g.ts_vmref, 0);
	T_EXPECT_EQ(e.g.ts_parent, e.utc);
	T_EXPECT_EQ(e.g.ts_flags, IC_TIMESYNC_FLAG_SYNC);
	env_down(&e);
}

static void test_kvp(void)
{
	struct env e;
	char v[256];
	struct ic_kvp_entry list[8];
	uint64_t ok, failed;

	env_up(&e, false, true);
	icg_add_kvp(&e.g, KVP_POOL_AUTO, "FullyQualifiedDomainName", "guest.example.org");
	icg_add_kvp(&e.g, KVP_POOL_AUTO, "OSVersion", "6.1.0-13-cloud-amd64");
	icg_add_kvp(&e.g, KVP_POOL_GUEST, "Owner", "h\xc3\xa9l\xc3\xa8ne \xe2\x9c\x93");
	icg_add_kvp(&e.g, KVP_POOL_EXTERNAL, "NotReported", "x");
	T_ASSERT_EQ(icg_open_all(&e.g, e.fg, e.offers, e.n_offers), 0);
	icg_poll_all(&e.g);
	T_ASSERT_EQ(ic_kvp_get(e.ic, KVP_POOL_AUTO, "FullyQualifiedDomainName", v, sizeof(v)), 0);
	T_EXPECT_STREQ(v, "guest.example.org");
	T_ASSERT_EQ(ic_kvp_get(e.ic, KVP_POOL_AUTO, "OSVersion", v, sizeof(v)), 0);
	T_EXPECT_STREQ(v, "6.1.0-13-cloud-amd64");
	T_ASSERT_EQ(ic_kvp_get(e.ic, KVP_POOL_GUEST, "Owner", v, sizeof(v)), 0);
	T_EXPECT_STREQ(v, "h\xc3\xa9l\xc3\xa8ne \xe2\x9c\x93");
	T_EXPECT_EQ(ic_kvp_get(e.ic, KVP_POOL_EXTERNAL, "NotReported", v, sizeof(v)), -ENOENT);
	T_EXPECT_EQ(ic_kvp_get(e.ic, KVP_POOL_AUTO, "Owner", v, sizeof(v)), -ENOENT);
	T_EXPECT_EQ(ic_kvp_list(e.ic, list, 8), 3);
	/* Truncation keeps a terminated string. */
	T_ASSERT_EQ(ic_kvp_get(e.ic, KVP_POOL_AUTO, "OSVersion", v, 4), 0);
	T_EXPECT_STREQ(v, "6.1");
	/* Host pushes a key to the guest (pool EXTERNAL), then deletes it. */
	T_ASSERT_EQ(ic_kvp_set(e.ic, "VirtualMachineName", "vm-\xc3\xa9t\xc3\xa9"), 0);
	icg_poll_all(&e.g);
	T_EXPECT_EQ(e.g.kvp_sets, 1);
	T_EXPECT_EQ(e.g.kvp_last_pool, KVP_POOL_EXTERNAL);
	T_EXPECT_STREQ(e.g.kvp_last_key, "VirtualMachineName");
	T_EXPECT_STREQ(e.g.kvp_last_value, "vm-\xc3\xa9t\xc3\xa9");
	T_ASSERT_EQ(ic_kvp_set(e.ic, "VirtualMachineName", NULL), 0);
	icg_poll_all(&e.g);
	T_EXPECT_EQ(e.g.kvp_deletes, 1);
	ic_kvp_set_results(e.ic, &ok, &failed);
	T_EXPECT_EQ(ok, 2);
	T_EXPECT_EQ(failed, 0);
	/* Invalid input is refused up front. */
	T_EXPECT_EQ(ic_kvp_set(e.ic, "", "x"), -EINVAL);
	T_EXPECT_EQ(ic_kvp_set(e.ic, "bad\xff", "x"), -EINVAL);
	char big[3000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	T_EXPECT_EQ(ic_kvp_set(e.ic, "k", big), -EINVAL); /* > 1023 UTF-16 units */
	/* Re-poll after the interval picks up new guest values. */
	icg_add_kvp(&e.g, KVP_POOL_AUTO, "NetworkAddressIPv4", "10.0.0.5");
	e.now += 31000 * MS;
	ic_tick(e.ic);
	icg_poll_all(&e.g);
	T_ASSERT_EQ(ic_kvp_get(e.ic, KVP_POOL_AUTO, "NetworkAddressIPv4", v, sizeof(v)), 0);
	T_EXPECT_STREQ(v, "10.0.0.5");
	T_EXPECT_EQ(ic_kvp_list(e.ic, list, 8), 4);
	env_down(&e);
}

static void test_kvp_without_daemon(void)
{
	struct env e;
	struct ic_service_status st;

	env_up(&e, true, false);
	icg_add_kvp(&e.g, KVP_POOL_AUTO, "OSName", "Debian");
	icg_poll_all(&e.g);
	/* hv_kvp never reads: the host neither blocks nor piles up requests. */
	T_ASSERT_EQ(ic_kvp_set(e.ic, "HostName", "h1"), 0);
	for (int i = 0; i < 10; i++) {
		e.now += 60000 * MS;
		ic_tick(e.ic);
		icg_poll_all(&e.g);
	}
	T_ASSERT_EQ(ic_service_status(e.ic, IC_SVC_KVP, &st), 0);
	T_EXPECT_EQ(st.state, IC_STATE_NEGOTIATING);
	T_EXPECT_EQ(st.requests, 1);
	T_EXPECT_EQ(state_of(&e, IC_SVC_HEARTBEAT), IC_STATE_READY);
	/* The daemon starts: the queued negotiation and the SET go through. */
	e.g.kvp_daemon = true;
	icg_poll_all(&e.g);
	T_EXPECT_EQ(state_of(&e, IC_SVC_KVP), IC_STATE_READY);
	T_EXPECT_EQ(e.g.kvp_sets, 1);
	T_EXPECT_STREQ(e.g.kvp_last_value, "h1");
	char v[32];
	T_EXPECT_EQ(ic_kvp_get(e.ic, KVP_POOL_AUTO, "OSName", v, sizeof(v)), 0);
	env_down(&e);
}

static void test_hostile_replies(void)
{
	struct env e;
	uint8_t buf[256];
	struct ic_msg_hdr_wire h;
	struct ic_service_status st;
	struct fg_chan *ch;

	env_up(&e, true, true);
	icg_poll_all(&e.g);
	ch = &e.g.ch[IC_SVC_HEARTBEAT];
	e.now += 2000 * MS;
	ic_tick(e.ic); /* heartbeat outstanding */
	memset(buf, 0, sizeof(buf));
	memset(&h, 0, sizeof(h));
	h.icmsgtype = ICMSGTYPE_HEARTBEAT;
	h.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
	memcpy(buf + 8, &h, sizeof(h));
	/* Unsolicited / wrong trans_id / wrong packet type / too short / wrong type. */
	T_ASSERT_EQ(fg_chan_write(ch, VMBUS_PKT_DATA_INBAND, 0, 12345, buf, 48), 0);
	T_ASSERT_EQ(fg_chan_write(ch, VMBUS_PKT_COMP, 0, 3, buf, 48), 0);
	T_ASSERT_EQ(fg_chan_write(ch, VMBUS_PKT_DATA_INBAND, 0, 0, buf, 10), 0);
	T_ASSERT_EQ(vmbus_server_signal_event(e.fg->srv, 0, ch->conn_id, 0), 0);
	fg_run_host(e.fg);
	T_ASSERT_EQ(ic_service_status(e.ic, IC_SVC_HEARTBEAT, &st), 0);
	T_EXPECT_EQ(st.bad_replies, 3);
	T_EXPECT_EQ(st.state, IC_STATE_READY);
	/* Right trans_id but the wrong message type or no RESPONSE flag. */
	uint8_t req[256];
	uint64_t trans;
	uint16_t type;
	int len = fg_chan_read(ch, req, sizeof(req), &type, &trans);
	T_ASSERT(len >= (int)(IC_HDR_BYTES + 8));
	memcpy(buf, req, (size_t)len);
	((struct ic_msg_hdr_wire *)(buf + 8))->icmsgtype = ICMSGTYPE_SHUTDOWN;
	((struct ic_msg_hdr_wire *)(buf + 8))->icflags = 5;
	T_ASSERT_EQ(fg_chan_write(ch, VMBUS_PKT_DATA_INBAND, 0, trans, buf, (uint32_t)len), 0);
	memcpy(buf, req, (size_t)len); /* still flagged as a request */
	T_ASSERT_EQ(fg_chan_write(ch, VMBUS_PKT_DATA_INBAND, 0, trans, buf, (uint32_t)len), 0);
	T_ASSERT_EQ(ic_service_status(e.ic, IC_SVC_HEARTBEAT, &st), 0);
	T_EXPECT_EQ(st.bad_replies, 5);
	T_EXPECT_EQ(st.replies, 2);
	/* The real answer still works. */
	((struct ic_msg_hdr_wire *)(req + 8))->icflags = 5;
	req[IC_HDR_BYTES] += 1; /* seq + 1 */
	T_ASSERT_EQ(fg_chan_write(ch, VMBUS_PKT_DATA_INBAND, 0, trans, req, (uint32_t)len), 0);
	T_ASSERT_EQ(ic_service_status(e.ic, IC_SVC_HEARTBEAT, &st), 0);
	T_EXPECT_EQ(st.replies, 3);
	struct ic_heartbeat_status hs;
	T_ASSERT_EQ(ic_heartbeat_status(e.ic, &hs), 0);
	T_EXPECT_EQ(hs.seq, 2);
	env_down(&e);
}

static void test_close_and_reopen(void)
{
	struct env e;

	env_up(&e, true, true);
	icg_poll_all(&e.g);
	T_EXPECT_EQ(state_of(&e, IC_SVC_HEARTBEAT), IC_STATE_READY);
	T_ASSERT_EQ(fg_close(&e.g.ch[IC_SVC_HEARTBEAT]), 0);
	T_EXPECT_EQ(state_of(&e, IC_SVC_HEARTBEAT), IC_STATE_CLOSED);
	e.now += 5000 * MS;
	ic_tick(e.ic); /* nothing to send on a closed channel */
	for (int i = 0; i < e.n_offers; i++)
		if (!memcmp(e.offers[i].if_instance, ic_instance_guid(IC_SVC_HEARTBEAT), 16))
			T_ASSERT_EQ(fg_open(e.fg, &e.offers[i], 4, 4, 0, &e.g.ch[IC_SVC_HEARTBEAT]), 0);
	icg_poll_all(&e.g);
	T_EXPECT_EQ(state_of(&e, IC_SVC_HEARTBEAT), IC_STATE_READY);
	T_EXPECT_EQ(e.g.hb_count, 2);
	/* Guest reboot: the server resets, everything is closed. */
	vmbus_server_reset(e.fg->srv);
	for (int s = 0; s < 4; s++)
		T_EXPECT_EQ(state_of(&e, (enum ic_service)s), IC_STATE_CLOSED);
	env_down(&e);
}

static const struct t_case cases[] = {
	T_CASE(test_offers_and_negotiation),
	T_CASE(test_negotiation_old_and_none),
	T_CASE(test_heartbeat),
	T_CASE(test_shutdown),
	T_CASE(test_timesync),
	T_CASE(test_kvp),
	T_CASE(test_kvp_without_daemon),
	T_CASE(test_hostile_replies),
	T_CASE(test_close_and_reopen),
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
