// SPDX-License-Identifier: MIT
/*
 * Unit tests for the userspace Hyper-V layer: CPUID table, synthetic MSRs
 * (table-driven), hypercall page and hypercall input validation, SynIC
 * message slots (busy slot, pending flag, EOM redelivery, masking), event
 * flags, reference time / TSC page, crash MSRs and reset. No KVM: guest
 * memory is a malloc'd buffer and the host ops record what they are asked.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "hv/hv.h"
#include "t.h"

#define RAM (256 * 1024)
#define LINUX_OS_ID 0x8100000601C00000ull

struct rec {
	uint32_t irqs[4];
	uint8_t vector;
	uint64_t tsc;
	uint32_t crashes;
	struct hv_crash_report crash;
	uint32_t posts;
	uint32_t last_conn, last_type, last_len;
	uint8_t last_payload[240];
	uint32_t events;
	uint32_t last_event_conn;
	uint16_t last_flag;
};

static int rec_inject(void *o, uint32_t vp, uint8_t vector)
{
	struct rec *r = o;

	r->irqs[vp]++;
	r->vector = vector;
	return 0;
}

static uint64_t rec_tsc(void *o, uint32_t vp)
{
	(void)vp;
	return ((struct rec *)o)->tsc;
}

static void rec_crash(void *o, const struct hv_crash_report *rep)
{
	struct rec *r = o;

	r->crashes++;
	r->crash = *rep;
}

static const struct hv_host_ops rec_ops = {
	.inject_irq = rec_inject, .read_tsc = rec_tsc, .crash = rec_crash,
};

static uint16_t rec_post(void *o, uint32_t vp, uint32_t conn, uint32_t type, const void *payload,
			 uint32_t len)
{
	struct rec *r = o;

	(void)vp;
	r->posts++;
	r->last_conn = conn;
	r->last_type = type;
	r->last_len = len;
	memcpy(r->last_payload, payload, len);
	return HV_STATUS_SUCCESS;
}

static uint16_t rec_event(void *o, uint32_t vp, uint32_t conn, uint16_t flag)
{
	struct rec *r = o;

	(void)vp;
	r->events++;
	r->last_event_conn = conn;
	r->last_flag = flag;
	return HV_STATUS_SUCCESS;
}

struct env {
	uint8_t *ram;
	struct gm *gm;
	struct hv *hv;
	struct rec rec;
};

static void env_init(struct env *e, bool option_b)
{
	struct hv_config cfg = { .vp_count = 2, .tsc_hz = 2000000000ull, .crash_msrs = true,
				 .reference_tsc_page = option_b };

	memset(e, 0, sizeof(*e));
	e->rec.tsc = 1000000;
	e->ram = aligned_alloc(4096, RAM);
	T_ASSERT(e->ram);
	memset(e->ram, 0, RAM);
	e->gm = gm_new();
	T_ASSERT(e->gm);
	T_ASSERT_EQ(gm_add_region(e->gm, 0, e->ram, RAM), 0);
	T_ASSERT_EQ(hv_new(e->gm, &cfg, &rec_ops, &e->rec, &e->hv), 0);
	T_ASSERT_EQ(hv_register_msg_port(e->hv, 1, 1, rec_post, &e->rec), 0);
	T_ASSERT_EQ(hv_register_msg_port(e->hv, 4, 1, rec_post, &e->rec), 0);
	T_ASSERT_EQ(hv_register_event_port(e->hv, 17, 100, rec_event, &e->rec), 0);
}

static void env_fini(struct env *e)
{
	hv_free(e->hv);
	free(e->gm);
	free(e->ram);
}

static uint64_t rdmsr(struct env *e, uint32_t vp, uint32_t msr)
{
	uint64_t v = 0xdeadbeef;

	T_ASSERT_EQ(hv_msr_read(e->hv, vp, msr, &v), 0);
	return v;
}

static void wrmsr(struct env *e, uint32_t vp, uint32_t msr, uint64_t v)
{
	T_ASSERT_EQ(hv_msr_write(e->hv, vp, msr, v), 0);
}

/* SIMP at 0x10000, SIEFP at 0x11000, SINT2 vector 0xF3, SynIC on. */
static void synic_on(struct env *e, uint32_t vp)
{
	uint64_t base = 0x10000 + vp * 0x4000;

	wrmsr(e, vp, HV_X64_MSR_SIMP, base | 1);
	wrmsr(e, vp, HV_X64_MSR_SIEFP, (base + 0x1000) | 1);
	wrmsr(e, vp, HV_X64_MSR_SINT0 + 2, 0xF3);
	wrmsr(e, vp, HV_X64_MSR_SCONTROL, 1);
}

static struct hv_message_wire *slot(struct env *e, uint32_t vp, unsigned int sint)
{
	return (struct hv_message_wire *)(e->ram + 0x10000 + vp * 0x4000 + sint * 256);
}

/* ---- CPUID ---- */

static void test_cpuid_table(void)
{
	struct env e;
	size_t n;
	const struct hv_cpuid_entry *t;

	env_init(&e, false);
	t = hv_cpuid_table(e.hv, &n);
	T_ASSERT_EQ(n, HV_CPUID_ENTRIES);
	T_EXPECT_EQ(t[0].function, 0x40000000);
	T_EXPECT(t[0].eax >= 0x40000005 && t[0].eax <= 0x4000FFFF);
	T_EXPECT_EQ(t[0].ebx, 0x7263694D);
	T_EXPECT_EQ(t[0].ecx, 0x666F736F);
	T_EXPECT_EQ(t[0].edx, 0x76482074);
	T_EXPECT_EQ(t[1].eax, 0x31237648);
	/* Mandatory for detection: hypercall + VP index. */
	T_EXPECT_EQ(t[3].eax & 0x60, 0x60);
	/* Option A: no TIME_REF_COUNT/REFERENCE_TSC, TSC invariant + frequency MSRs. */
	T_EXPECT_EQ(t[3].eax & ((1u << 1) | (1u << 9)), 0);
	T_EXPECT_EQ(t[3].eax & ((1u << 11) | (1u << 15)), (1u << 11) | (1u << 15));
	T_EXPECT_EQ(t[3].eax, 0x8864);
	T_EXPECT_EQ(t[3].ebx, 0x30);
	T_EXPECT_EQ(t[3].ebx & (HV_ACCESS_PARTITION_ID | HV_CPU_MANAGEMENT | HV_ISOLATION), 0);
	T_EXPECT_EQ(t[3].edx, 0x500);
	/* AEOI deprecated: KVM's LAPIC cannot auto-EOI. */
	T_EXPECT_EQ(t[4].eax & HV_DEPRECATING_AEOI_RECOMMENDED, HV_DEPRECATING_AEOI_RECOMMENDED);
	T_EXPECT_EQ(t[5].eax, 2);
	for (size_t i = 0; i < n; i++) {
		T_EXPECT_EQ(t[i].function, 0x40000000 + i);
		/* No KVM signature anywhere. */
		T_EXPECT_NE(t[i].ebx, 0x4b4d564b);
	}
	env_fini(&e);

	env_init(&e, true);
	t = hv_cpuid_table(e.hv, &n);
	T_EXPECT_EQ(t[3].eax, 0x8A66); /* option B */
	env_fini(&e);
}

/* ---- MSRs, table-driven ---- */

enum { RD, WR };
static const struct msr_case {
	uint32_t msr;
	int op;
	uint64_t value;   /* written, or expected on read */
	int expect;       /* 0 or #GP (-1) */
} msr_cases[] = {
	{ HV_X64_MSR_GUEST_OS_ID, RD, 0, 0 },
	{ HV_X64_MSR_GUEST_OS_ID, WR, LINUX_OS_ID, 0 },
	{ HV_X64_MSR_GUEST_OS_ID, RD, LINUX_OS_ID, 0 },
	{ HV_X64_MSR_VP_INDEX, RD, 1, 0 },               /* tests run on VP 1 */
	{ HV_X64_MSR_VP_INDEX, WR, 5, -1 },              /* read-only */
	{ HV_X64_MSR_TSC_FREQUENCY, RD, 2000000000ull, 0 },
	{ HV_X64_MSR_TSC_FREQUENCY, WR, 1, -1 },
	{ HV_X64_MSR_APIC_FREQUENCY, RD, 1000000000ull, 0 },
	{ HV_X64_MSR_SVERSION, RD, 1, 0 },
	{ HV_X64_MSR_SVERSION, WR, 1, -1 },
	{ HV_X64_MSR_SCONTROL, RD, 0, 0 },
	{ HV_X64_MSR_SCONTROL, WR, 1, 0 },
	{ HV_X64_MSR_SCONTROL, RD, 1, 0 },
	{ HV_X64_MSR_SINT0 + 2, RD, HV_SINT_MASKED, 0 }, /* power-on: masked */
	{ HV_X64_MSR_SINT0 + 2, WR, 0x0F, -1 },          /* vector < 16 unmasked */
	{ HV_X64_MSR_SINT0 + 2, WR, HV_SINT_MASKED | 0x0F, 0 },
	{ HV_X64_MSR_SINT0 + 2, WR, 0xF3, 0 },
	{ HV_X64_MSR_SINT0 + 2, RD, 0xF3, 0 },
	{ HV_X64_MSR_SINT15, RD, HV_SINT_MASKED, 0 },
	{ HV_X64_MSR_SIMP, WR, 0x20000 | 1, 0 },
	{ HV_X64_MSR_SIMP, RD, 0x20000 | 1, 0 },
	{ HV_X64_MSR_SIMP, WR, 0x7FFFF000ull | 1, -1 },  /* not RAM */
	{ HV_X64_MSR_SIMP, WR, 0x7FFFF000ull, 0 },       /* disabled: any address */
	{ HV_X64_MSR_SIEFP, WR, 0x21000 | 1, 0 },
	{ HV_X64_MSR_SIEFP, RD, 0x21000 | 1, 0 },
	{ HV_X64_MSR_EOM, WR, 0, 0 },
	{ HV_X64_MSR_EOM, RD, 0, 0 },
	{ HV_X64_MSR_VP_ASSIST_PAGE, WR, 0x22000 | 1, 0 },
	{ HV_X64_MSR_VP_ASSIST_PAGE, RD, 0x22000 | 1, 0 },
	{ HV_X64_MSR_TSC_INVARIANT_CONTROL, WR, 1, 0 },
	{ HV_X64_MSR_TSC_INVARIANT_CONTROL, RD, 1, 0 },
	{ HV_X64_MSR_CRASH_CTL, RD, HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG, 0 },
	{ HV_X64_MSR_CRASH_P0 + 2, WR, 0x1234, 0 },
	{ HV_X64_MSR_CRASH_P0 + 2, RD, 0x1234, 0 },
	{ HV_X64_MSR_REFERENCE_TSC, RD, 0, -1 },         /* option A: not advertised */
	{ HV_X64_MSR_RESET, WR, 1, -1 },
	{ HV_X64_MSR_VP_RUNTIME, RD, 0, -1 },
	{ 0x40000070, WR, 0, -1 },                       /* APIC EOI MSR: not offered */
	{ 0x400000B0, RD, 0, -1 },                       /* stimer: not offered */
	{ 0x400001FF, RD, 0, -1 },
};

static void test_msr_table(void)
{
	struct env e;

	env_init(&e, false);
	for (size_t i = 0; i < ARRAY_SIZE(msr_cases); i++) {
		const struct msr_case *c = &msr_cases[i];
		uint64_t v = 0;
		int r;

		if (c->op == WR) {
			r = hv_msr_write(e.hv, 1, c->msr, c->value);
		} else {
			r = hv_msr_read(e.hv, 1, c->msr, &v);
			if (!r && c->expect == 0 && v != c->value)
				t_fail(__FILE__, __LINE__, false, "row %zu: msr 0x%x read 0x%llx want 0x%llx",
				       i, c->msr, (unsigned long long)v, (unsigned long long)c->value);
		}
		if ((r == 0) != (c->expect == 0))
			t_fail(__FILE__, __LINE__, false, "row %zu: msr 0x%x op %d returned %d", i,
			       c->msr, c->op, r);
	}
	/* Per-VP state is per VP. */
	T_EXPECT_EQ(rdmsr(&e, 0, HV_X64_MSR_SIMP), 0);
	T_EXPECT_EQ(rdmsr(&e, 0, HV_X64_MSR_VP_INDEX), 0);
	/* Bad VP index. */
	uint64_t v;
	T_EXPECT_EQ(hv_msr_read(e.hv, 2, HV_X64_MSR_VP_INDEX, &v), -ERANGE);
	/* Every listed MSR is inside the filter range. */
	size_t n;
	const uint32_t *list = hv_msr_list(&n);
	uint32_t first, count;
	hv_msr_filter_range(&first, &count);
	for (size_t i = 0; i < n; i++)
		T_EXPECT(list[i] >= first && list[i] - first < count);
	env_fini(&e);
}

static void test_hypercall_page(void)
{
	struct env e;
	static const uint8_t stub[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0xe6, HV_HYPERCALL_PORT, 0xc3, 0xcc };

	env_init(&e, false);
	/* SPEC: cannot be enabled before the guest OS id is set. */
	wrmsr(&e, 0, HV_X64_MSR_HYPERCALL, 0x3000 | 1);
	T_EXPECT_EQ(rdmsr(&e, 0, HV_X64_MSR_HYPERCALL) & 1, 0);
	T_EXPECT_EQ(e.ram[0x3000], 0);
	wrmsr(&e, 0, HV_X64_MSR_GUEST_OS_ID, LINUX_OS_ID);
	wrmsr(&e, 0, HV_X64_MSR_HYPERCALL, 0x3000 | 1);
	T_EXPECT_EQ(rdmsr(&e, 1, HV_X64_MSR_HYPERCALL), 0x3001); /* partition-wide */
	T_EXPECT_MEMEQ(e.ram + 0x3000, stub, sizeof(stub));
	T_EXPECT_NE(HV_HYPERCALL_PORT, 0x7E);
	T_EXPECT_NE(HV_HYPERCALL_PORT, 0x80);
	/* Outside RAM: #GP, value unchanged. */
	T_EXPECT_EQ(hv_msr_write(e.hv, 0, HV_X64_MSR_HYPERCALL, 0x7FFFF000ull | 1), -EFAULT);
	T_EXPECT_EQ(rdmsr(&e, 0, HV_X64_MSR_HYPERCALL), 0x3001);
	/* Locked: further writes ignored. */
	wrmsr(&e, 0, HV_X64_MSR_HYPERCALL, 0x3000 | 3);
	wrmsr(&e, 0, HV_X64_MSR_HYPERCALL, 0);
	T_EXPECT_EQ(rdmsr(&e, 0, HV_X64_MSR_HYPERCALL), 0x3003);
	/* Reset unlocks and disables. */
	hv_reset(e.hv);
	T_EXPECT_EQ(rdmsr(&e, 0, HV_X64_MSR_HYPERCALL), 0);
	T_EXPECT_EQ(rdmsr(&e, 0, HV_X64_MSR_GUEST_OS_ID), 0);
	/* Clearing the OS id disables the page. */
	wrmsr(&e, 0, HV_X64_MSR_GUEST_OS_ID, LINUX_OS_ID);
	wrmsr(&e, 0, HV_X64_MSR_HYPERCALL, 0x3000 | 1);
	wrmsr(&e, 0, HV_X64_MSR_GUEST_OS_ID, 0);
	T_EXPECT_EQ(rdmsr(&e, 0, HV_X64_MSR_HYPERCALL) & 1, 0);
	env_fini(&e);
}

/* ---- hypercalls ---- */

static void put_post(struct env *e, uint64_t gpa, uint32_t conn, uint32_t type, uint32_t size)
{
	struct hv_input_post_message_wire in;

	memset(&in, 0, sizeof(in));
	in.connection_id = conn;
	in.message_type = type;
	in.payload_size = size;
	for (unsigned int i = 0; i < sizeof(in.payload); i++)
		in.payload[i] = (uint8_t)i;
	memcpy(e->ram + gpa, &in, sizeof(in));
}

static void test_hypercall_validation(void)
{
	struct env e;
	static const struct {
		uint64_t rcx, rdx;
		uint32_t conn, type, size; /* input block at rdx if it is in RAM */
		uint16_t status;
	} cases[] = {
		{ 0x5C, 0x4000, 1, 1, 24, HV_STATUS_SUCCESS },
		{ 0x5C, 0x4000, 4, 1, 240, HV_STATUS_SUCCESS },
		{ 0x5C, 0x4000, 2, 1, 24, HV_STATUS_INVALID_CONNECTION_ID },
		{ 0x5C, 0x4000, 1, 0, 24, HV_STATUS_INVALID_PARAMETER },            /* type 0 */
		{ 0x5C, 0x4000, 1, 0x80000010u, 24, HV_STATUS_INVALID_PARAMETER },  /* hypervisor type */
		{ 0x5C, 0x4000, 1, 1, 241, HV_STATUS_INVALID_PARAMETER },          /* too long */
		{ 0x5C, 0x4000, 0x01000001u, 1, 8, HV_STATUS_INVALID_PARAMETER },  /* reserved id bits */
		{ 0x5C, 0x4004, 1, 1, 8, HV_STATUS_INVALID_ALIGNMENT },
		{ 0x5C, 0x4F08, 1, 1, 8, HV_STATUS_INVALID_ALIGNMENT },            /* crosses a page */
		{ 0x5C, 0x7FFF0000ull, 1, 1, 8, HV_STATUS_INVALID_PARAMETER },     /* not RAM */
		{ 0x1005C, 0x4000, 1, 1, 8, HV_STATUS_INVALID_HYPERCALL_INPUT },   /* fast post */
		{ 0x5C | (1ull << 32), 0x4000, 1, 1, 8, HV_STATUS_INVALID_HYPERCALL_INPUT }, /* rep */
		{ 0x5C | (1ull << 17), 0x4000, 1, 1, 8, HV_STATUS_INVALID_HYPERCALL_INPUT }, /* varhead */
		{ 0x5C | (1ull << 27), 0x4000, 1, 1, 8, HV_STATUS_INVALID_HYPERCALL_INPUT }, /* rsvd */
		{ 0x5C | (1ull << 63), 0x4000, 1, 1, 8, HV_STATUS_INVALID_HYPERCALL_INPUT },
		{ 0x1005D, 17, 0, 0, 0, HV_STATUS_SUCCESS },                       /* signal relid 1 */
		{ 0x1005D, 116, 0, 0, 0, HV_STATUS_SUCCESS },
		{ 0x1005D, 117, 0, 0, 0, HV_STATUS_INVALID_CONNECTION_ID },
		{ 0x1005D, 16, 0, 0, 0, HV_STATUS_INVALID_CONNECTION_ID },
		{ 0x1005D, 17 | (2048ull << 32), 0, 0, 0, HV_STATUS_INVALID_PARAMETER },
		{ 0x1005D, 17 | (1ull << 48), 0, 0, 0, HV_STATUS_INVALID_PARAMETER },
		{ 0x1005D, 0x01000011ull, 0, 0, 0, HV_STATUS_INVALID_PARAMETER },
		{ 0x0046, 0, 0, 0, 0, HV_STATUS_INVALID_HYPERCALL_CODE },          /* GetPartitionId */
		{ 0x0002, 0, 0, 0, 0, HV_STATUS_INVALID_HYPERCALL_CODE },
		{ 0x8001, 0, 0, 0, 0, HV_STATUS_INVALID_HYPERCALL_CODE },
		{ 0xFFFF, 0, 0, 0, 0, HV_STATUS_INVALID_HYPERCALL_CODE },
	};

	env_init(&e, false);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t st;

		if ((cases[i].rcx & 0xFFFF) == 0x5C && cases[i].rdx + 256 <= RAM && !(cases[i].rdx & 7))
			put_post(&e, cases[i].rdx, cases[i].conn, cases[i].type, cases[i].size);
		st = hv_hypercall(e.hv, 0, cases[i].rcx, cases[i].rdx, 0);
		if (st != cases[i].status)
			t_fail(__FILE__, __LINE__, false, "case %zu: status %llu want %u", i,
			       (unsigned long long)st, cases[i].status);
	}
	/* The handler saw exactly the valid posts, with the copied payload. */
	T_EXPECT_EQ(e.rec.posts, 2);
	T_EXPECT_EQ(e.rec.last_conn, 4);
	T_EXPECT_EQ(e.rec.last_len, 240);
	T_EXPECT_EQ(e.rec.last_payload[239], 239);
	T_EXPECT_EQ(e.rec.events, 2);
	T_EXPECT_EQ(e.rec.last_event_conn, 116);
	/* Slow signal event from memory. */
	struct hv_input_signal_event_wire se = { .connection_id = 20, .flag_number = 7 };
	memcpy(e.ram + 0x5000, &se, sizeof(se));
	T_EXPECT_EQ(hv_hypercall(e.hv, 1, 0x5D, 0x5000, 0), HV_STATUS_SUCCESS);
	T_EXPECT_EQ(e.rec.last_flag, 7);
	/* Invalid VP index. */
	T_EXPECT_EQ(hv_hypercall(e.hv, 9, 0x1005D, 17, 0), HV_STATUS_INVALID_PARAMETER);
	/* Overlapping port registration is refused. */
	T_EXPECT_EQ(hv_register_event_port(e.hv, 50, 1, rec_event, NULL), -EEXIST);
	env_fini(&e);
}

/* ---- SynIC messages ---- */

static void test_synic_slot_busy_and_eom(void)
{
	struct env e;
	uint8_t p[3][16];

	env_init(&e, false);
	for (int i = 0; i < 3; i++)
		memset(p[i], 0xA0 + i, sizeof(p[i]));
	/* Not enabled yet: queued, nothing written, no interrupt. */
	T_ASSERT_EQ(hv_synic_post_message(e.hv, 0, 2, 1, p[0], 16), 0);
	T_EXPECT_EQ(e.rec.irqs[0], 0);
	synic_on(&e, 0);
	/* Enabling SCONTROL delivered the queued message. */
	T_EXPECT_EQ(slot(&e, 0, 2)->message_type, 1);
	T_EXPECT_EQ(slot(&e, 0, 2)->payload_size, 16);
	T_EXPECT_EQ(slot(&e, 0, 2)->payload[0], 0xA0);
	T_EXPECT_EQ(slot(&e, 0, 2)->message_flags, 0);
	T_EXPECT_EQ(e.rec.irqs[0], 1);
	T_EXPECT_EQ(e.rec.vector, 0xF3);
	/* Slot busy: queue and set the pending flag. */
	T_ASSERT_EQ(hv_synic_post_message(e.hv, 0, 2, 1, p[1], 16), 0);
	T_ASSERT_EQ(hv_synic_post_message(e.hv, 0, 2, 1, p[2], 8), 0);
	T_EXPECT_EQ(slot(&e, 0, 2)->payload[0], 0xA0);
	T_EXPECT_EQ(slot(&e, 0, 2)->message_flags & HV_MESSAGE_FLAG_PENDING, 1);
	T_EXPECT_EQ(e.rec.irqs[0], 1);
	/* EOM while the guest has not freed the slot: nothing happens. */
	wrmsr(&e, 0, HV_X64_MSR_EOM, 0);
	T_EXPECT_EQ(slot(&e, 0, 2)->payload[0], 0xA0);
	/* Guest frees slot, EOM: next message, still pending (one more queued). */
	slot(&e, 0, 2)->message_type = 0;
	wrmsr(&e, 0, HV_X64_MSR_EOM, 0);
	T_EXPECT_EQ(slot(&e, 0, 2)->payload[0], 0xA1);
	T_EXPECT_EQ(slot(&e, 0, 2)->message_flags & HV_MESSAGE_FLAG_PENDING, 1);
	T_EXPECT_EQ(e.rec.irqs[0], 2);
	slot(&e, 0, 2)->message_type = 0;
	wrmsr(&e, 0, HV_X64_MSR_EOM, 0);
	T_EXPECT_EQ(slot(&e, 0, 2)->payload[0], 0xA2);
	T_EXPECT_EQ(slot(&e, 0, 2)->payload_size, 8);
	T_EXPECT_EQ(slot(&e, 0, 2)->payload[8], 0); /* stale payload cleared */
	T_EXPECT_EQ(slot(&e, 0, 2)->message_flags, 0);
	/* A guest that frees the slot without EOM is served by a retry. */
	T_ASSERT_EQ(hv_synic_post_message(e.hv, 0, 2, 1, p[0], 4), 0);
	slot(&e, 0, 2)->message_type = 0;
	hv_synic_retry(e.hv);
	T_EXPECT_EQ(slot(&e, 0, 2)->message_type, 1);
	T_EXPECT_EQ(slot(&e, 0, 2)->payload_size, 4);
	/* Other SINT slots untouched. */
	T_EXPECT_EQ(slot(&e, 0, 1)->message_type, 0);
	T_EXPECT_EQ(slot(&e, 0, 3)->message_type, 0);
	/* kexec: the old kernel disables the SynIC; its queued messages are dropped
	 * and the next kernel, enabling the SynIC again, does not see them. */
	T_ASSERT_EQ(hv_synic_post_message(e.hv, 0, 2, 1, p[1], 4), 0);
	T_ASSERT_EQ(hv_synic_post_message(e.hv, 0, 2, 1, p[2], 4), 0);
	wrmsr(&e, 0, HV_X64_MSR_SCONTROL, 0);
	memset(slot(&e, 0, 2), 0, 256);
	synic_on(&e, 0);
	T_EXPECT_EQ(slot(&e, 0, 2)->message_type, 0);
	/* Same when only SIMP is turned off, and with the explicit flush. */
	T_ASSERT_EQ(hv_synic_post_message(e.hv, 0, 2, 1, p[1], 4), 0);
	T_ASSERT_EQ(hv_synic_post_message(e.hv, 0, 2, 1, p[2], 4), 0);
	wrmsr(&e, 0, HV_X64_MSR_SIMP, 0);
	memset(slot(&e, 0, 2), 0, 256);
	synic_on(&e, 0);
	T_EXPECT_EQ(slot(&e, 0, 2)->message_type, 0);
	T_ASSERT_EQ(hv_synic_post_message(e.hv, 0, 2, 1, p[1], 4), 0);
	T_ASSERT_EQ(hv_synic_post_message(e.hv, 0, 2, 1, p[2], 4), 0);
	hv_synic_flush_queue(e.hv, 0, 2);
	slot(&e, 0, 2)->message_type = 0;
	wrmsr(&e, 0, HV_X64_MSR_EOM, 0);
	T_EXPECT_EQ(slot(&e, 0, 2)->message_type, 0);
	/* CPUID without an object matches the object's table. */
	struct hv_cpuid_entry tab[HV_CPUID_ENTRIES];
	struct hv_config cfg = { .vp_count = 2, .tsc_hz = 1, .crash_msrs = true };
	size_t n;
	T_ASSERT_EQ(hv_cpuid_for_config(&cfg, tab), 0);
	T_EXPECT_MEMEQ(tab, hv_cpuid_table(e.hv, &n), sizeof(tab));
	cfg.vp_count = 0;
	T_EXPECT_EQ(hv_cpuid_for_config(&cfg, tab), -EINVAL);
	env_fini(&e);
}

static void test_synic_mask_and_limits(void)
{
	struct env e;
	uint8_t b[240] = { 0 };
	int r = 0;

	env_init(&e, false);
	synic_on(&e, 1);
	wrmsr(&e, 1, HV_X64_MSR_SINT0 + 2, HV_SINT_MASKED | 0xF3);
	T_ASSERT_EQ(hv_synic_post_message(e.hv, 1, 2, 1, b, 10), 0);
	T_EXPECT_EQ(slot(&e, 1, 2)->message_type, 0);
	T_EXPECT_EQ(e.rec.irqs[1], 0);
	wrmsr(&e, 1, HV_X64_MSR_SINT0 + 2, 0xF3); /* unmask: delivered */
	T_EXPECT_EQ(slot(&e, 1, 2)->message_type, 1);
	T_EXPECT_EQ(e.rec.irqs[1], 1);
	/* Bad arguments. */
	T_EXPECT_EQ(hv_synic_post_message(e.hv, 1, 16, 1, b, 10), -EINVAL);
	T_EXPECT_EQ(hv_synic_post_message(e.hv, 1, 2, 0, b, 10), -EINVAL);
	T_EXPECT_EQ(hv_synic_post_message(e.hv, 1, 2, 1, b, 241), -EINVAL);
	T_EXPECT_EQ(hv_synic_post_message(e.hv, 7, 2, 1, b, 1), -ERANGE);
	/* The queue is bounded. */
	for (unsigned int i = 0; i <= HV_SYNIC_QUEUE_MAX && !r; i++)
		r = hv_synic_post_message(e.hv, 1, 2, 1, b, 1);
	T_EXPECT_EQ(r, -ENOBUFS);
	struct hv_stats st;
	hv_get_stats(e.hv, &st);
	T_EXPECT_EQ(st.msgs_dropped, 1);
	/* Reset drops the queue and masks everything. */
	hv_reset(e.hv);
	T_EXPECT_EQ(rdmsr(&e, 1, HV_X64_MSR_SINT0 + 2), HV_SINT_MASKED);
	T_EXPECT_EQ(rdmsr(&e, 1, HV_X64_MSR_SCONTROL), 0);
	T_EXPECT_EQ(rdmsr(&e, 1, HV_X64_MSR_SIMP), 0);
	T_ASSERT_EQ(hv_synic_post_message(e.hv, 1, 2, 1, b, 1), 0);
	env_fini(&e);
}

static void test_synic_events(void)
{
	struct env e;
	uint8_t *bitmap;

	env_init(&e, false);
	T_EXPECT_EQ(hv_synic_signal_event(e.hv, 0, 2, 5), -EAGAIN); /* SynIC off */
	synic_on(&e, 0);
	bitmap = e.ram + 0x11000 + 2 * 256;
	T_ASSERT_EQ(hv_synic_signal_event(e.hv, 0, 2, 5), 0);
	T_EXPECT_EQ(bitmap[0], 1 << 5);
	T_EXPECT_EQ(e.rec.irqs[0], 1);
	/* Bit still set: no second interrupt. */
	T_ASSERT_EQ(hv_synic_signal_event(e.hv, 0, 2, 5), 0);
	T_EXPECT_EQ(e.rec.irqs[0], 1);
	/* Another bit: interrupt. Highest flag lands in the last byte. */
	T_ASSERT_EQ(hv_synic_signal_event(e.hv, 0, 2, 2047), 0);
	T_EXPECT_EQ(bitmap[255], 0x80);
	T_EXPECT_EQ(e.rec.irqs[0], 2);
	/* Guest consumed bit 5: the next signal interrupts again. */
	bitmap[0] = 0;
	T_ASSERT_EQ(hv_synic_signal_event(e.hv, 0, 2, 5), 0);
	T_EXPECT_EQ(e.rec.irqs[0], 3);
	T_EXPECT_EQ(hv_synic_signal_event(e.hv, 0, 2, 2048), -EINVAL);
	T_EXPECT_EQ(hv_synic_signal_event(e.hv, 0, 16, 1), -EINVAL);
	/* Other SINTs' bitmaps untouched. */
	T_EXPECT_EQ(e.ram[0x11000 + 256], 0);
	T_EXPECT_EQ(e.ram[0x11000 + 3 * 256], 0);
	/* Masked SINT: dropped. */
	wrmsr(&e, 0, HV_X64_MSR_SINT0 + 2, HV_SINT_MASKED | 0xF3);
	T_EXPECT_EQ(hv_synic_signal_event(e.hv, 0, 2, 6), -EAGAIN);
	env_fini(&e);
}

/* ---- time ---- */

static void test_reference_time(void)
{
	struct env e;
	struct hv_ref_tsc_page_wire pg;
	uint64_t t;

	env_init(&e, true);
	/* Starts at 0 at creation; 2 GHz TSC: 200 ticks per 100 ns. */
	T_EXPECT_EQ(rdmsr(&e, 0, HV_X64_MSR_TIME_REF_COUNT), 0);
	e.rec.tsc += 2000000000ull; /* one second */
	t = rdmsr(&e, 0, HV_X64_MSR_TIME_REF_COUNT);
	T_EXPECT(t >= 9999999 && t <= 10000000);
	T_EXPECT_EQ(hv_ref_time(e.hv), t);
	/* TSC page filled synchronously, sequence non-zero. */
	wrmsr(&e, 0, HV_X64_MSR_REFERENCE_TSC, 0x6000 | 1);
	memcpy(&pg, e.ram + 0x6000, sizeof(pg));
	T_EXPECT_NE(pg.tsc_sequence, 0);
	T_EXPECT_EQ(pg.tsc_scale, hv_tsc_scale(2000000000ull));
	/* The guest's formula gives the same time as the MSR. */
	uint64_t guest = (uint64_t)(((unsigned __int128)e.rec.tsc * pg.tsc_scale) >> 64) +
			 (uint64_t)pg.tsc_offset;
	T_EXPECT_EQ(guest, t);
	T_EXPECT_EQ(rdmsr(&e, 0, HV_X64_MSR_REFERENCE_TSC), 0x6001);
	uint32_t seq = pg.tsc_sequence;
	wrmsr(&e, 0, HV_X64_MSR_REFERENCE_TSC, 0x6000 | 1);
	memcpy(&pg, e.ram + 0x6000, sizeof(pg));
	T_EXPECT_NE(pg.tsc_sequence, seq);
	T_EXPECT_EQ(hv_msr_write(e.hv, 0, HV_X64_MSR_REFERENCE_TSC, 0x7FFFF000ull | 1), -EFAULT);
	/* Read-only. */
	T_EXPECT_EQ(hv_msr_write(e.hv, 0, HV_X64_MSR_TIME_REF_COUNT, 0), -EINVAL);
	/* Reset keeps the partition clock running. */
	hv_reset(e.hv);
	T_EXPECT_EQ(rdmsr(&e, 0, HV_X64_MSR_TIME_REF_COUNT), t);
	env_fini(&e);
}

/* ---- crash ---- */

static void test_crash_msrs(void)
{
	struct env e;
	static const char text[] = "Kernel panic - not syncing: test\n\x01\xff";

	env_init(&e, false);
	/* Register-based report (Linux without the message page). */
	wrmsr(&e, 0, HV_X64_MSR_CRASH_P0, 0);
	wrmsr(&e, 0, HV_X64_MSR_CRASH_P0 + 1, LINUX_OS_ID);
	wrmsr(&e, 0, HV_X64_MSR_CRASH_P0 + 2, 0xffffffff81000000ull);
	wrmsr(&e, 0, HV_X64_MSR_CRASH_P0 + 3, 7);
	wrmsr(&e, 0, HV_X64_MSR_CRASH_P4, 0xffffc90000000000ull);
	T_EXPECT_EQ(e.rec.crashes, 0);
	wrmsr(&e, 1, HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY);
	T_EXPECT_EQ(e.rec.crashes, 1);
	T_EXPECT_EQ(e.rec.crash.vp_index, 1);
	T_EXPECT_EQ(e.rec.crash.p[1], LINUX_OS_ID);
	T_EXPECT_EQ(e.rec.crash.p[2], 0xffffffff81000000ull);
	T_EXPECT(!e.rec.crash.has_message);
	/* Message page: P3 = GPA, P4 = length; text sanitised. */
	memcpy(e.ram + 0x8000, text, sizeof(text) - 1);
	wrmsr(&e, 0, HV_X64_MSR_CRASH_P0 + 3, 0x8000);
	wrmsr(&e, 0, HV_X64_MSR_CRASH_P4, sizeof(text) - 1);
	wrmsr(&e, 0, HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG);
	T_EXPECT_EQ(e.rec.crashes, 2);
	T_EXPECT(e.rec.crash.has_message);
	T_EXPECT_STREQ(e.rec.crash.message, "Kernel panic - not syncing: test\n??");
	/* Hostile length is clamped to one page; hostile GPA gives no text. */
	wrmsr(&e, 0, HV_X64_MSR_CRASH_P4, ~0ull);
	wrmsr(&e, 0, HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG);
	T_EXPECT(e.rec.crash.has_message);
	T_EXPECT_EQ(strlen(e.rec.crash.message), HV_CRASH_MSG_MAX_BYTES);
	wrmsr(&e, 0, HV_X64_MSR_CRASH_P0 + 3, ~0ull - 10);
	wrmsr(&e, 0, HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG);
	T_EXPECT_EQ(e.rec.crashes, 4);
	T_EXPECT(!e.rec.crash.has_message);
	/* Writing CTL without the notify bit reports nothing. */
	wrmsr(&e, 0, HV_X64_MSR_CRASH_CTL, 0);
	T_EXPECT_EQ(e.rec.crashes, 4);
	env_fini(&e);
}

/* ---- lazy EOI: APIC access MSRs and the VP assist page ---- */

struct fake_apic {
	bool x2apic;                 /* false: the LAPIC refuses x2APIC MSRs */
	uint64_t assist_gpa[2];
	bool assist_on[2];
	unsigned int assist_calls;
	uint64_t regs[0x100];        /* by x2APIC MSR - 0x800 */
	unsigned int eois;
};

static struct fake_apic fapic;

static int fake_eoi_assist(void *o, uint32_t vp, uint64_t gpa, bool on)
{
	(void)o;
	fapic.assist_calls++;
	if (on && gpa >= RAM)
		return -EINVAL;   /* KVM: not guest memory */
	fapic.assist_gpa[vp] = gpa;
	fapic.assist_on[vp] = on;
	return 0;
}

static int fake_apic_msr(void *o, uint32_t vp, uint32_t msr, bool write, uint64_t *val)
{
	(void)o;
	(void)vp;
	if (!fapic.x2apic || msr < 0x800 || msr > 0x8ff)
		return -EINVAL;
	if (!write) {
		*val = fapic.regs[msr - 0x800];
		return 0;
	}
	if (msr == 0x80B)
		fapic.eois++;
	fapic.regs[msr - 0x800] = *val;
	return 0;
}

static const struct hv_host_ops lazy_ops = {
	.inject_irq = rec_inject, .read_tsc = rec_tsc, .crash = rec_crash,
	.eoi_assist = fake_eoi_assist, .apic_msr = fake_apic_msr,
};

static void test_lazy_eoi(void)
{
	struct hv_config cfg = { .vp_count = 2, .tsc_hz = 2000000000ull, .crash_msrs = true };
	struct hv_cpuid_entry t[HV_CPUID_ENTRIES];
	struct hv_stats st;
	struct env e;
	uint64_t v;

	/* Off (the default): no hint, the APIC MSRs #GP, the page is only stored. */
	T_ASSERT_EQ(hv_cpuid_for_config(&cfg, t), 0);
	T_EXPECT_EQ(t[4].eax & HV_X64_APIC_ACCESS_RECOMMENDED, 0);
	memset(&fapic, 0, sizeof(fapic));
	fapic.x2apic = true;
	env_init(&e, false);
	T_EXPECT_EQ(hv_msr_write(e.hv, 0, HV_X64_MSR_EOI, 0), -EINVAL);
	T_EXPECT_EQ(hv_msr_read(e.hv, 0, HV_X64_MSR_TPR, &v), -EINVAL);
	wrmsr(&e, 0, HV_X64_MSR_VP_ASSIST_PAGE, 0x5001);
	T_EXPECT_EQ(fapic.assist_calls, 0);
	env_fini(&e);

	/* On, but without the host ops it needs: refused. */
	cfg.lazy_eoi = true;
	T_ASSERT_EQ(hv_cpuid_for_config(&cfg, t), 0);
	T_EXPECT_EQ(t[4].eax & HV_X64_APIC_ACCESS_RECOMMENDED, HV_X64_APIC_ACCESS_RECOMMENDED);
	T_EXPECT_EQ(t[4].eax & HV_DEPRECATING_AEOI_RECOMMENDED, HV_DEPRECATING_AEOI_RECOMMENDED);
	{
		struct gm *gm = gm_new();
		struct hv *hv = NULL;

		T_ASSERT(gm);
		T_EXPECT_EQ(hv_new(gm, &cfg, &rec_ops, NULL, &hv), -EINVAL);
		T_EXPECT(hv == NULL);
		free(gm);
	}

	memset(&e, 0, sizeof(e));
	e.ram = aligned_alloc(4096, RAM);
	T_ASSERT(e.ram);
	memset(e.ram, 0, RAM);
	e.gm = gm_new();
	T_ASSERT(e.gm);
	T_ASSERT_EQ(gm_add_region(e.gm, 0, e.ram, RAM), 0);
	T_ASSERT_EQ(hv_new(e.gm, &cfg, &lazy_ops, &e.rec, &e.hv), 0);

	/* The VP assist page turns the LAPIC's assist on and off, per VP. */
	wrmsr(&e, 1, HV_X64_MSR_VP_ASSIST_PAGE, 0x5001);
	T_EXPECT(fapic.assist_on[1] && fapic.assist_gpa[1] == 0x5000);
	T_EXPECT(!fapic.assist_on[0]);
	T_EXPECT_EQ(rdmsr(&e, 1, HV_X64_MSR_VP_ASSIST_PAGE), 0x5001);
	T_EXPECT_EQ(e.ram[0x5000], 0);   /* hv itself writes nothing into the page */
	wrmsr(&e, 1, HV_X64_MSR_VP_ASSIST_PAGE, 0);
	T_EXPECT(!fapic.assist_on[1]);
	/* A page outside guest memory: the write stands, the guest just gets no lazy EOIs. */
	wrmsr(&e, 0, HV_X64_MSR_VP_ASSIST_PAGE, ((uint64_t)RAM + 0x1000) | 1);
	T_EXPECT(!fapic.assist_on[0]);
	hv_get_stats(e.hv, &st);
	T_EXPECT_EQ(st.eoi_assist_fail, 1);

	/* EOI reaches the LAPIC's EOI register; it is write-only. */
	wrmsr(&e, 0, HV_X64_MSR_EOI, 0x1234);
	T_EXPECT_EQ(fapic.eois, 1);
	T_EXPECT_EQ(fapic.regs[0x0B], 0);
	T_EXPECT_EQ(hv_msr_read(e.hv, 0, HV_X64_MSR_EOI, &v), -EINVAL);
	hv_get_stats(e.hv, &st);
	T_EXPECT_EQ(st.eoi_msr, 1);
	/* TPR as is; ICR from the xAPIC layout (destination in bits 56-63) and back. */
	wrmsr(&e, 1, HV_X64_MSR_TPR, 0x20);
	T_EXPECT_EQ(fapic.regs[0x08], 0x20);
	T_EXPECT_EQ(rdmsr(&e, 1, HV_X64_MSR_TPR), 0x20);
	wrmsr(&e, 1, HV_X64_MSR_ICR, 0x03000000000040FDull);
	T_EXPECT_EQ(fapic.regs[0x30], 0x00000003000040FDull);
	T_EXPECT_EQ(rdmsr(&e, 1, HV_X64_MSR_ICR), 0x03000000000040FDull);

	/* A LAPIC in xAPIC mode refuses: #GP, nothing written. */
	fapic.x2apic = false;
	T_EXPECT_EQ(hv_msr_write(e.hv, 0, HV_X64_MSR_EOI, 0), -EINVAL);
	T_EXPECT_EQ(fapic.eois, 1);
	fapic.x2apic = true;

	/* Reset (reboot) stops the assist of every VP that had it on. */
	wrmsr(&e, 0, HV_X64_MSR_VP_ASSIST_PAGE, 0x6001);
	wrmsr(&e, 1, HV_X64_MSR_VP_ASSIST_PAGE, 0x7001);
	T_EXPECT(fapic.assist_on[0] && fapic.assist_on[1]);
	hv_reset(e.hv);
	T_EXPECT(!fapic.assist_on[0] && !fapic.assist_on[1]);
	T_EXPECT_EQ(rdmsr(&e, 0, HV_X64_MSR_VP_ASSIST_PAGE), 0);
	env_fini(&e);
}

static void test_new_rejects_bad_config(void)
{
	struct gm *gm = gm_new();
	struct hv *hv = NULL;
	struct hv_config cfg = { .vp_count = 0, .tsc_hz = 1 };

	T_ASSERT(gm);
	T_EXPECT_EQ(hv_new(gm, &cfg, &rec_ops, NULL, &hv), -EINVAL);
	cfg.vp_count = HV_MAX_VPS + 1;
	T_EXPECT_EQ(hv_new(gm, &cfg, &rec_ops, NULL, &hv), -EINVAL);
	cfg.vp_count = 1;
	cfg.tsc_hz = 0;
	T_EXPECT_EQ(hv_new(gm, &cfg, &rec_ops, NULL, &hv), -EINVAL);
	T_EXPECT(hv == NULL);
	hv_free(NULL);
	free(gm);
}

/*
 * The doorbell stub is machine code the guest runs; run it here too. In user
 * mode its OUT faults (no I/O privilege), so the SIGSEGV handler sees the
 * registers at the OUT: which port (RDX) and status (RAX) the guest would
 * hand to KVM, and which of the two OUT instructions it reached.
 */
static sigjmp_buf stub_jb;
static uint64_t stub_rip, stub_rax, stub_rdx;

static void stub_fault(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	(void)si;
	stub_rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	stub_rax = (uint64_t)uc->uc_mcontext.gregs[REG_RAX];
	stub_rdx = (uint64_t)uc->uc_mcontext.gregs[REG_RDX];
	siglongjmp(stub_jb, 1);
}

/* Returns the offset of the faulting OUT in the stub. */
static uint64_t run_stub(const uint8_t *code, uint64_t rcx, uint64_t rdx)
{
	if (!sigsetjmp(stub_jb, 1)) {
		/* Step over the red zone; the OUT always faults, so no return path. */
		__asm__ volatile("sub $128, %%rsp\n\tcall *%0\n\tadd $128, %%rsp"
				 : : "r"(code), "c"(rcx), "d"(rdx)
				 : "rax", "memory", "cc");
		return ~0ull;
	}
	return stub_rip - (uint64_t)(uintptr_t)code;
}

static void test_doorbell_stub(void)
{
	struct hv_config cfg = { .vp_count = 2, .tsc_hz = 2000000000ull,
				 .doorbell_conn_first = 17, .doorbell_count = 2047,
				 .doorbell_port_first = 0x4000 };
	const uint64_t fast = HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT;
	struct sigaction sa = { .sa_sigaction = stub_fault, .sa_flags = SA_SIGINFO }, old;
	struct env e;
	uint8_t *code;
	uint64_t at, slow_at;

	env_init(&e, false);
	hv_free(e.hv);
	T_ASSERT_EQ(hv_new(e.gm, &cfg, &rec_ops, &e.rec, &e.hv), 0);
	T_ASSERT_EQ(hv_register_event_port(e.hv, 17, 2047, rec_event, &e.rec), 0);
	wrmsr(&e, 0, HV_X64_MSR_GUEST_OS_ID, LINUX_OS_ID);
	wrmsr(&e, 0, HV_X64_MSR_HYPERCALL, 0x3000 | 1);
	code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (code == MAP_FAILED) {
		env_fini(&e);
		T_SKIP("no executable mapping here");
	}
	memcpy(code, e.ram + 0x3000, 4096);
	T_ASSERT_EQ(sigaction(SIGSEGV, &sa, &old), 0);

	/* A general hypercall reaches the classic port write. */
	slow_at = run_stub(code, HVCALL_POST_MESSAGE, 0x1000);
	T_ASSERT(slow_at < 64);
	T_EXPECT_EQ(code[slow_at], 0xe6);
	T_EXPECT_EQ(code[slow_at + 1], HV_HYPERCALL_PORT);
	T_EXPECT_EQ(code[slow_at + 2], 0xc3);

	/* Fast signal, first and last ids: one-byte write to their port, RAX = 0. */
	at = run_stub(code, fast, 17);
	T_EXPECT_NE(at, slow_at);
	T_EXPECT_EQ(code[at], 0xee);
	T_EXPECT_EQ(code[at + 1], 0xc3);
	T_EXPECT_EQ(stub_rdx & 0xffff, 0x4000);
	T_EXPECT_EQ(stub_rax & 0xffffffff, 0);
	T_EXPECT_EQ(run_stub(code, fast, 17 + 2046), at);
	T_EXPECT_EQ(stub_rdx & 0xffff, 0x4000 + 2046);

	/* Everything else takes the general path with its registers intact. */
	T_EXPECT_EQ(run_stub(code, fast, 16), slow_at);
	T_EXPECT_EQ(stub_rdx, 16);
	T_EXPECT_EQ(run_stub(code, fast, 17 + 2047), slow_at);
	T_EXPECT_EQ(run_stub(code, fast, 17 | (1ull << 32)), slow_at);   /* flag 1 */
	T_EXPECT_EQ(run_stub(code, fast, 17 | (1ull << 48)), slow_at);   /* reserved */
	T_EXPECT_EQ(run_stub(code, HVCALL_SIGNAL_EVENT, 17), slow_at);   /* memory input */
	T_EXPECT_EQ(run_stub(code, fast | (1ull << 32), 17), slow_at);   /* rep count */
	T_EXPECT_EQ(run_stub(code, ~0ull, 17), slow_at);
	sigaction(SIGSEGV, &old, NULL);
	munmap(code, 4096);

	/* A doorbell write that exits does the same signal in userspace. */
	T_EXPECT_EQ(hv_doorbell(e.hv, 1, 0x4000 + 5), HV_STATUS_SUCCESS);
	T_EXPECT_EQ(e.rec.last_event_conn, 22);
	T_EXPECT_EQ(e.rec.last_flag, 0);
	T_EXPECT_EQ(hv_doorbell(e.hv, 1, 0x4000 + 2047), HV_STATUS_INVALID_PARAMETER);
	T_EXPECT_EQ(hv_doorbell(e.hv, 1, 0x3fff), HV_STATUS_INVALID_PARAMETER);
	T_EXPECT_EQ(hv_doorbell(e.hv, 2, 0x4000), HV_STATUS_INVALID_PARAMETER);
	env_fini(&e);

	/* Ranges that wrap or cover the hypercall port are refused. */
	{
		struct gm *gm = gm_new();
		struct hv *hv = NULL;

		T_ASSERT(gm);
		cfg.doorbell_port_first = 0xff00;
		T_EXPECT_EQ(hv_new(gm, &cfg, &rec_ops, NULL, &hv), -EINVAL);
		cfg.doorbell_port_first = 0xE0;
		T_EXPECT_EQ(hv_new(gm, &cfg, &rec_ops, NULL, &hv), -EINVAL);
		cfg.doorbell_port_first = 0x4000;
		cfg.doorbell_conn_first = HV_CONNECTION_ID_MASK;
		T_EXPECT_EQ(hv_new(gm, &cfg, &rec_ops, NULL, &hv), -EINVAL);
		T_EXPECT(hv == NULL);
		free(gm);
	}
}

static const struct t_case cases[] = {
	T_CASE(test_cpuid_table),
	T_CASE(test_msr_table),
	T_CASE(test_hypercall_page),
	T_CASE(test_doorbell_stub),
	T_CASE(test_hypercall_validation),
	T_CASE(test_synic_slot_busy_and_eom),
	T_CASE(test_synic_mask_and_limits),
	T_CASE(test_synic_events),
	T_CASE(test_reference_time),
	T_CASE(test_crash_msrs),
	T_CASE(test_new_rejects_bad_config),
	T_CASE(test_lazy_eoi),
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
