// SPDX-License-Identifier: MIT
/* VM lifecycle table and the worker control protocol codec. */
#include <errno.h>
#include <string.h>

#include "api/api.h"
#include "api/ctl_proto.h"
#include "t.h"

static struct api_error err;

static int tr(enum api_vm_state s, enum api_action a, enum api_vm_state *next)
{
	memset(&err, 0, sizeof(err));
	return api_transition(s, a, next, "vm1", &err);
}

static void test_allowed(void)
{
	static const struct {
		enum api_vm_state from;
		enum api_action act;
		enum api_vm_state to;
	} ok[] = {
		{ VM_STATE_OFF, API_ACT_START, VM_STATE_STARTING },
		{ VM_STATE_CRASHED, API_ACT_START, VM_STATE_STARTING },
		{ VM_STATE_SAVED, API_ACT_START, VM_STATE_STARTING },
		{ VM_STATE_RUNNING, API_ACT_STOP, VM_STATE_STOPPING },
		{ VM_STATE_PAUSED, API_ACT_STOP, VM_STATE_STOPPING },
		{ VM_STATE_STARTING, API_ACT_STOP, VM_STATE_STOPPING },
		{ VM_STATE_STOPPING, API_ACT_KILL, VM_STATE_STOPPING },
		{ VM_STATE_RUNNING, API_ACT_PAUSE, VM_STATE_PAUSED },
		{ VM_STATE_PAUSED, API_ACT_RESUME, VM_STATE_RUNNING },
		{ VM_STATE_RUNNING, API_ACT_RESTART, VM_STATE_STOPPING },
		{ VM_STATE_OFF, API_ACT_EDIT, VM_STATE_OFF },
		{ VM_STATE_CRASHED, API_ACT_EDIT, VM_STATE_CRASHED },
		{ VM_STATE_OFF, API_ACT_DELETE, VM_STATE_OFF },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		enum api_vm_state next = VM_STATE__COUNT;

		T_EXPECT_EQ(tr(ok[i].from, ok[i].act, &next), 0);
		T_EXPECT_EQ(next, ok[i].to);
	}
}

static void test_refused(void)
{
	static const struct {
		enum api_vm_state from;
		enum api_action act;
		const char *hint;
	} no[] = {
		{ VM_STATE_RUNNING, API_ACT_START, "already running" },
		{ VM_STATE_PAUSED, API_ACT_START, "already running" },
		{ VM_STATE_STOPPING, API_ACT_START, "wait" },
		{ VM_STATE_OFF, API_ACT_STOP, "start it first" },
		{ VM_STATE_OFF, API_ACT_KILL, "start it first" },
		{ VM_STATE_OFF, API_ACT_PAUSE, "start it first" },
		{ VM_STATE_PAUSED, API_ACT_PAUSE, "resume" },
		{ VM_STATE_RUNNING, API_ACT_RESUME, "only a paused" },
		{ VM_STATE_RUNNING, API_ACT_EDIT, "stop it first" },
		{ VM_STATE_PAUSED, API_ACT_DELETE, "stop it first" },
		{ VM_STATE_STARTING, API_ACT_DELETE, "stop it first" },
		{ VM_STATE_CRASHED, API_ACT_STOP, "start it first" },
	};

	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		enum api_vm_state next = VM_STATE__COUNT;

		T_EXPECT_EQ(tr(no[i].from, no[i].act, &next), -EBUSY);
		T_EXPECT_EQ(next, VM_STATE__COUNT);
		T_EXPECT_EQ(err.code, API_E_CONFLICT);
		T_EXPECT(strstr(err.message, "vm1") != NULL);
		T_EXPECT(strstr(err.message, api_state_name(no[i].from)) != NULL);
		T_EXPECT(strstr(err.message, no[i].hint) != NULL);
	}
	T_EXPECT_NE(tr((enum api_vm_state)99, API_ACT_START, &(enum api_vm_state){ 0 }), 0);
}

static void test_every_cell_is_defined(void)
{
	/* Every state/action pair gives either a valid next state or a conflict message. */
	for (int s = 0; s < VM_STATE__COUNT; s++) {
		for (int a = 0; a < API_ACT__COUNT; a++) {
			enum api_vm_state next = VM_STATE__COUNT;
			int r = tr((enum api_vm_state)s, (enum api_action)a, &next);

			if (r == 0)
				T_EXPECT_LT(next, VM_STATE__COUNT);
			else
				T_EXPECT(r == -EBUSY && err.message[0]);
		}
	}
}

static void test_names(void)
{
	static const char *const names[] = { "off", "starting", "running", "paused",
					     "saving", "saved", "stopping", "crashed" };
	enum api_vm_state s;
	enum api_action a;

	for (int i = 0; i < VM_STATE__COUNT; i++) {
		T_EXPECT_STREQ(api_state_name((enum api_vm_state)i), names[i]);
		T_EXPECT_EQ(api_state_from_name(names[i], &s), 0);
		T_EXPECT_EQ(s, i);
	}
	T_EXPECT_NE(api_state_from_name("Running", &s), 0);
	T_EXPECT_EQ(api_action_from_name("pause", 5, &a), 0);
	T_EXPECT_EQ(a, API_ACT_PAUSE);
	T_EXPECT_NE(api_action_from_name("paus", 4, &a), 0);
	T_EXPECT(api_state_has_worker(VM_STATE_PAUSED));
	T_EXPECT(!api_state_has_worker(VM_STATE_CRASHED));
}

static void test_ctl_codec(void)
{
	uint8_t pkt[CTL_MAX_PACKET];
	static struct ctl_msg m;
	struct ctl_exited_wire x = { .kind = CTL_EXIT_CRASH, .was_running = 1 };
	struct ctl_cmd_wire c = { .seq = 7, .cmd = CTL_CMD_STOP, .arg = 3000 };
	struct ctl_hello_wire h = { .version = 1, .state = VM_STATE_RUNNING };
	int n;

	n = ctl_encode(CTL_EXITED, &x, sizeof(x), "triple\x01 fault", 13, pkt, sizeof(pkt));
	T_ASSERT(n > 0);
	T_ASSERT_EQ(ctl_decode(pkt, (size_t)n, &m), 0);
	T_EXPECT_EQ(m.type, CTL_EXITED);
	T_EXPECT_EQ(m.u.exited.kind, CTL_EXIT_CRASH);
	T_EXPECT_STREQ(m.text, "triple? fault");   /* control characters neutralised */
	T_EXPECT_EQ(ctl_decode(pkt, (size_t)n - 1, &m), -EBADMSG);   /* length mismatch */

	n = ctl_encode(CTL_CMD, &c, sizeof(c), NULL, 0, pkt, sizeof(pkt));
	T_ASSERT_EQ(ctl_decode(pkt, (size_t)n, &m), 0);
	T_EXPECT_EQ(m.u.cmd.seq, 7);
	c.cmd = 99;
	n = ctl_encode(CTL_CMD, &c, sizeof(c), NULL, 0, pkt, sizeof(pkt));
	T_EXPECT_EQ(ctl_decode(pkt, (size_t)n, &m), -EBADMSG);

	memset(h.name, 'x', sizeof(h.name));   /* unterminated name */
	n = ctl_encode(CTL_HELLO, &h, sizeof(h), NULL, 0, pkt, sizeof(pkt));
	T_EXPECT_EQ(ctl_decode(pkt, (size_t)n, &m), -EBADMSG);
	strcpy(h.name, "vm1");
	h.state = VM_STATE__COUNT;
	n = ctl_encode(CTL_HELLO, &h, sizeof(h), NULL, 0, pkt, sizeof(pkt));
	T_EXPECT_EQ(ctl_decode(pkt, (size_t)n, &m), -EBADMSG);

	/* Short body for the type, unknown type, oversize. */
	n = ctl_encode(CTL_REPLY, &c, 4, NULL, 0, pkt, sizeof(pkt));
	T_EXPECT_EQ(ctl_decode(pkt, (size_t)n, &m), -EBADMSG);
	n = ctl_encode((enum ctl_type)42, NULL, 0, NULL, 0, pkt, sizeof(pkt));
	T_EXPECT_EQ(ctl_decode(pkt, (size_t)n, &m), -EBADMSG);
	T_EXPECT_EQ(ctl_encode(CTL_INPUT, NULL, 0, pkt, CTL_MAX_PACKET, pkt, sizeof(pkt)), -E2BIG);
	T_EXPECT_EQ(ctl_decode(pkt, 3, &m), -EBADMSG);
}

/* SETUP with disks and NICs: the details must match the descriptors and be well formed. */
static void test_ctl_setup_devices(void)
{
	uint8_t pkt[CTL_MAX_PACKET];
	static struct ctl_msg m;
	static struct ctl_setup_wire s, bad;
	char cmdline[2048];
	int n;

	memset(&s, 0, sizeof(s));
	s.mem_bytes = 64ULL << 20;
	s.cpus = 1;
	strcpy(s.name, "vm1");
	s.n_fds = 4;
	s.fd_roles[0] = CTL_FD_KERNEL;
	s.fd_roles[1] = CTL_FD_DISK;
	s.fd_roles[2] = CTL_FD_DISK;
	s.fd_roles[3] = CTL_FD_TAP;
	s.n_disks = 2;
	s.n_nics = 1;
	strcpy(s.disks[0].label, "root.vhdx");
	strcpy(s.disks[1].label, "cd.iso");
	s.disks[1].flags = CTL_DISK_F_RDONLY | CTL_DISK_F_DVD;
	strcpy(s.nics[0].ifname, "tap0");
	s.nics[0].has_mac = 1;
	s.nics[0].mac[0] = 0x00;
	s.nics[0].mac[5] = 0x42;
	memset(cmdline, 'c', sizeof(cmdline) - 1);   /* the longest command line still fits */
	n = ctl_encode(CTL_SETUP, &s, sizeof(s), cmdline, sizeof(cmdline) - 1, pkt, sizeof(pkt));
	T_ASSERT(n > 0);
	T_ASSERT_EQ(ctl_decode(pkt, (size_t)n, &m), 0);
	T_EXPECT_EQ(m.u.setup.n_disks, 2);
	T_EXPECT_STREQ(m.u.setup.disks[1].label, "cd.iso");
	T_EXPECT_EQ(m.u.setup.disks[1].flags, CTL_DISK_F_RDONLY | CTL_DISK_F_DVD);
	T_EXPECT_STREQ(m.u.setup.nics[0].ifname, "tap0");
	T_EXPECT_EQ(m.u.setup.nics[0].mac[5], 0x42);
	T_EXPECT_EQ(m.text_len, sizeof(cmdline) - 1);

#define EXPECT_REFUSED(mutate) do {							\
		bad = s;								\
		mutate;									\
		n = ctl_encode(CTL_SETUP, &bad, sizeof(bad), "x", 1, pkt, sizeof(pkt));	\
		T_EXPECT_EQ(ctl_decode(pkt, (size_t)n, &m), -EBADMSG);			\
	} while (0)
	EXPECT_REFUSED(bad.n_disks = 3);                    /* more details than descriptors */
	EXPECT_REFUSED(bad.n_disks = 1);                    /* fewer */
	EXPECT_REFUSED(bad.n_nics = 0);
	EXPECT_REFUSED(bad.fd_roles[3] = CTL_FD_DISK_PARENT + 1);   /* unknown role */
	EXPECT_REFUSED(memset(bad.disks[0].label, 'a', CTL_LABEL_MAX));   /* unterminated */
	EXPECT_REFUSED(bad.disks[0].flags = 1u << 7);       /* unknown flag */
	EXPECT_REFUSED(bad.disks[0].flags = CTL_DISK_F_DVD);   /* a writable DVD */
	EXPECT_REFUSED(bad.disks[0].reserved = 1);
	EXPECT_REFUSED(memset(bad.nics[0].ifname, 't', CTL_IFNAME_MAX));
	EXPECT_REFUSED(bad.nics[0].ifname[0] = '\0');      /* empty interface name */
	EXPECT_REFUSED(bad.nics[0].has_mac = 2);
	EXPECT_REFUSED((bad.n_fds = CTL_MAX_FDS, bad.n_disks = CTL_MAX_FDS - 2));
#undef EXPECT_REFUSED
	/* 17 disk roles: more than CTL_MAX_DISKS even with matching counts. */
	bad = s;
	bad.n_fds = CTL_MAX_DISKS + 1;
	for (unsigned int i = 0; i < bad.n_fds; i++)
		bad.fd_roles[i] = CTL_FD_DISK;
	bad.n_disks = CTL_MAX_DISKS + 1;
	bad.n_nics = 0;
	n = ctl_encode(CTL_SETUP, &bad, sizeof(bad), "x", 1, pkt, sizeof(pkt));
	T_EXPECT_EQ(ctl_decode(pkt, (size_t)n, &m), -EBADMSG);

	/* Parent images follow their disk: disk, parent, parent, TAP is fine. */
	bad = s;
	bad.n_fds = 5;
	bad.fd_roles[2] = CTL_FD_DISK_PARENT;
	bad.fd_roles[3] = CTL_FD_DISK_PARENT;
	bad.fd_roles[4] = CTL_FD_TAP;
	bad.n_disks = 1;
	n = ctl_encode(CTL_SETUP, &bad, sizeof(bad), "x", 1, pkt, sizeof(pkt));
	T_EXPECT_EQ(ctl_decode(pkt, (size_t)n, &m), 0);
	/* ... not first, not after a TAP or the kernel, not more than the limit. */
	bad.fd_roles[0] = CTL_FD_DISK_PARENT;
	n = ctl_encode(CTL_SETUP, &bad, sizeof(bad), "x", 1, pkt, sizeof(pkt));
	T_EXPECT_EQ(ctl_decode(pkt, (size_t)n, &m), -EBADMSG);
	bad.fd_roles[0] = CTL_FD_KERNEL;
	bad.fd_roles[1] = CTL_FD_DISK_PARENT;
	bad.fd_roles[2] = CTL_FD_DISK;
	bad.fd_roles[3] = CTL_FD_TAP;
	n = ctl_encode(CTL_SETUP, &bad, sizeof(bad), "x", 1, pkt, sizeof(pkt));
	T_EXPECT_EQ(ctl_decode(pkt, (size_t)n, &m), -EBADMSG);
	bad.fd_roles[1] = CTL_FD_DISK;
	bad.fd_roles[2] = CTL_FD_TAP;
	bad.fd_roles[3] = CTL_FD_DISK_PARENT;
	bad.fd_roles[4] = CTL_FD_KERNEL;
	n = ctl_encode(CTL_SETUP, &bad, sizeof(bad), "x", 1, pkt, sizeof(pkt));
	T_EXPECT_EQ(ctl_decode(pkt, (size_t)n, &m), -EBADMSG);
	bad = s;
	bad.n_fds = 2 + CTL_MAX_DISK_PARENTS + 1;
	bad.fd_roles[0] = CTL_FD_KERNEL;
	bad.fd_roles[1] = CTL_FD_DISK;
	for (unsigned int i = 2; i < bad.n_fds; i++)
		bad.fd_roles[i] = CTL_FD_DISK_PARENT;
	bad.n_disks = 1;
	bad.n_nics = 0;
	n = ctl_encode(CTL_SETUP, &bad, sizeof(bad), "x", 1, pkt, sizeof(pkt));
	T_EXPECT_EQ(ctl_decode(pkt, (size_t)n, &m), -EBADMSG);
	bad.n_fds--;                                         /* exactly the limit */
	n = ctl_encode(CTL_SETUP, &bad, sizeof(bad), "x", 1, pkt, sizeof(pkt));
	T_EXPECT_EQ(ctl_decode(pkt, (size_t)n, &m), 0);
}

static const struct t_case cases[] = {
	T_CASE(test_allowed),
	T_CASE(test_refused),
	T_CASE(test_every_cell_is_defined),
	T_CASE(test_names),
	T_CASE(test_ctl_codec),
	T_CASE(test_ctl_setup_devices),
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
