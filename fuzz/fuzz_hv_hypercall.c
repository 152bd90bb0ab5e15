// SPDX-License-Identifier: MIT
/*
 * Fuzz target for the userspace Hyper-V layer: the input is a program of
 * guest actions (MSR reads/writes, hypercalls with fuzzed control words and
 * input blocks, EOMs) interleaved with host SynIC posts and event signals,
 * run against a 64 KiB guest. Whatever the guest does, hv must answer with a
 * status or #GP and never crash, leak or loop.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hv/hv.h"

#define FZ_RAM (64 * 1024)
/* Results are irrelevant here; only crashes matter. */
#define IGN(x)            \
	do {              \
		if (x) {  \
		}         \
	} while (0)

static uint64_t fz_tsc;

static int fz_inject(void *opaque, uint32_t vp, uint8_t vector)
{
	(void)opaque;
	(void)vp;
	(void)vector;
	return 0;
}

static uint64_t fz_read_tsc(void *opaque, uint32_t vp)
{
	(void)opaque;
	(void)vp;
	return fz_tsc += 1000;
}

static void fz_crash(void *opaque, const struct hv_crash_report *rep)
{
	(void)opaque;
	(void)rep;
}

/* Lazy EOI: hv must only ever name a real VP and the three x2APIC registers. */
static int fz_eoi_assist(void *opaque, uint32_t vp, uint64_t gpa, bool on)
{
	(void)opaque;
	if (vp >= 2)
		abort();
	return on && gpa >= FZ_RAM ? -EINVAL : 0;
}

static int fz_apic_msr(void *opaque, uint32_t vp, uint32_t msr, bool write, uint64_t *val)
{
	(void)opaque;
	if (vp >= 2 || (msr != 0x808 && msr != 0x80B && msr != 0x830))
		abort();
	if (!write)
		*val = msr;
	return fz_tsc & 0x1000 ? -EINVAL : 0;   /* now and then the LAPIC says no */
}

static const struct hv_host_ops fz_ops = {
	.inject_irq = fz_inject, .read_tsc = fz_read_tsc, .crash = fz_crash,
	.eoi_assist = fz_eoi_assist, .apic_msr = fz_apic_msr,
};

static struct hv *fz_hv;

static uint16_t fz_post(void *opaque, uint32_t vp, uint32_t conn, uint32_t type,
			const void *payload, uint32_t len)
{
	/* Echo back, like a server answering a control message. */
	(void)opaque;
	(void)conn;
	return hv_synic_post_message(fz_hv, vp, 2, type, payload, len) ? 19 : 0;
}

static uint16_t fz_signal(void *opaque, uint32_t vp, uint32_t conn, uint16_t flag)
{
	(void)opaque;
	IGN(hv_synic_signal_event(fz_hv, vp, 2, (conn + flag) % 2048));
	return 0;
}

struct fz_in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct fz_in *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)in->p[0] << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_config cfg = { .vp_count = 2, .tsc_hz = 2000000000ull, .crash_msrs = true,
				 .reference_tsc_page = true, .lazy_eoi = true };
	struct fz_in in = { data, size };
	uint8_t *ram = calloc(1, FZ_RAM);
	struct gm *gm = gm_new();
	size_t n_msrs;
	const uint32_t *msrs = hv_msr_list(&n_msrs);
	int steps = 0;

	if (!ram || !gm || gm_add_region(gm, 0, ram, FZ_RAM) || hv_new(gm, &cfg, &fz_ops, NULL, &fz_hv))
		goto out;
	if (hv_register_msg_port(fz_hv, 1, 4, fz_post, NULL) ||
	    hv_register_event_port(fz_hv, 16, 2048, fz_signal, NULL))
		goto out_hv;
	while (in.n && steps++ < 512) {
		uint8_t op = (uint8_t)take(&in, 1);
		uint32_t vp = op >> 7; /* 0 or 1; 2 never valid */
		uint64_t a, b;
		uint32_t msr;

		switch (op & 7) {
		case 0: /* WRMSR to an implemented MSR */
			msr = msrs[take(&in, 1) % n_msrs];
			a = take(&in, 8);
			IGN(hv_msr_write(fz_hv, vp, msr, a));
			break;
		case 1: /* RDMSR anywhere in the range (or just outside) */
			msr = 0x40000000u + (uint32_t)take(&in, 2) % 0x210u;
			IGN(hv_msr_read(fz_hv, vp, msr, &a));
			break;
		case 2: /* hypercall with a fuzzed control word */
			a = take(&in, 8);
			b = take(&in, 3);
			(void)hv_hypercall(fz_hv, vp + (op & 8 ? 2 : 0), a, b, take(&in, 2));
			break;
		case 3: { /* well-formed post message with fuzzed fields */
			uint8_t blk[256];
			b = (take(&in, 2) % (FZ_RAM / 8)) * 8;
			memset(blk, 0, sizeof(blk));
			for (unsigned int i = 0; i < 16; i++)
				blk[i] = (uint8_t)take(&in, 1);
			if (b + sizeof(blk) <= FZ_RAM)
				memcpy(ram + b, blk, sizeof(blk));
			(void)hv_hypercall(fz_hv, vp, HVCALL_POST_MESSAGE, b, 0);
			break;
		}
		case 4: /* fast signal event */
			a = take(&in, 8);
			(void)hv_hypercall(fz_hv, vp, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, a, 0);
			break;
		case 5: /* guest frees its message slot (possibly garbage) and EOMs */
			a = take(&in, 2) % FZ_RAM;
			ram[a] = 0;
			IGN(hv_msr_write(fz_hv, vp, HV_X64_MSR_EOM, 0));
			break;
		case 6: /* host posts */
			a = take(&in, 1);
			IGN(hv_synic_post_message(fz_hv, vp, (uint8_t)(a % 17), 1, in.p,
						    MIN(in.n, (size_t)(a % 250))));
			IGN(hv_synic_signal_event(fz_hv, vp, (uint8_t)(a % 17),
						    (uint32_t)take(&in, 2)));
			break;
		default:
			if (op & 0x40)
				hv_reset(fz_hv);
			else
				hv_synic_retry(fz_hv);
			break;
		}
	}
	(void)hv_ref_time(fz_hv);
out_hv:
	hv_free(fz_hv);
	fz_hv = NULL;
out:
	free(gm);
	free(ram);
	return 0;
}
