// SPDX-License-Identifier: MIT
/*
 * Partition-wide Hyper-V enlightenment state: CPUID table, synthetic MSRs,
 * hypercall page and dispatch, reference counter / TSC page, crash MSRs and
 * the guest->host port table. The SynIC delivery engine is in hv_synic.c.
 * See hv.h for the contract and the locking model.
 */
#include "hv/hv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/hv_internal.h"

/*
 * SPEC (reference §1.7): the hypercall page. Ours is an I/O port write that
 * the VMM intercepts. Without doorbells (8 bytes):
 *   endbr64; out HV_HYPERCALL_PORT, al; ret; int3
 * With doorbells, a fast HvSignalEvent with flag 0 for a connection id in the
 * doorbell range becomes a one-byte write to its own port, which KVM can
 * complete in the kernel through an ioeventfd (RAX is already 0 = success);
 * every other call, and any id outside the range, takes the general path:
 *   endbr64
 *   cmp rcx, HVCALL_SIGNAL_EVENT | FAST    ; nothing else goes fast
 *   jne slow
 *   lea rax, [rdx - conn_first]            ; flag/reserved bits make it huge
 *   cmp rax, count
 *   jae slow
 *   lea edx, [rax + port_first]            ; RDX is an in/out register here
 *   xor eax, eax
 *   out dx, al
 *   ret
 * slow:
 *   out HV_HYPERCALL_PORT, al; ret; int3
 * ENDBR64 is a NOP without CET and keeps IBT-enabled kernels happy.
 */
static size_t hv_build_stub(const struct hv_config *cfg, uint8_t *b)
{
	static const uint8_t endbr[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	static const uint8_t slow[] = { 0xe6, HV_HYPERCALL_PORT, 0xc3, 0xcc };
	uint32_t call = (uint32_t)(HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT);
	size_t n = 0;

	memcpy(b + n, endbr, sizeof(endbr));
	n += sizeof(endbr);
	if (cfg->doorbell_count) {
		uint8_t fast[] = {
			0x48, 0x81, 0xf9, 0, 0, 0, 0,  /* cmp rcx, imm32 */
			0x75, 0x19,                    /* jne slow */
			0x48, 0x8d, 0x82, 0, 0, 0, 0,  /* lea rax, [rdx + disp32] */
			0x48, 0x3d, 0, 0, 0, 0,        /* cmp rax, imm32 */
			0x73, 0x0a,                    /* jae slow */
			0x8d, 0x90, 0, 0, 0, 0,        /* lea edx, [rax + disp32] */
			0x31, 0xc0,                    /* xor eax, eax */
			0xee,                          /* out dx, al */
			0xc3,                          /* ret */
		};
		put_le32(fast + 3, call);
		put_le32(fast + 12, (uint32_t)-(int32_t)cfg->doorbell_conn_first);
		put_le32(fast + 18, cfg->doorbell_count);
		put_le32(fast + 26, cfg->doorbell_port_first);
		memcpy(b + n, fast, sizeof(fast));
		n += sizeof(fast);
	}
	memcpy(b + n, slow, sizeof(slow));
	return n + sizeof(slow);
}

static const uint32_t hv_msrs[] = {
	HV_X64_MSR_GUEST_OS_ID,   HV_X64_MSR_HYPERCALL,     HV_X64_MSR_VP_INDEX,
	HV_X64_MSR_TIME_REF_COUNT, HV_X64_MSR_REFERENCE_TSC, HV_X64_MSR_TSC_FREQUENCY,
	HV_X64_MSR_APIC_FREQUENCY, HV_X64_MSR_EOI,          HV_X64_MSR_ICR,
	HV_X64_MSR_TPR,           HV_X64_MSR_VP_ASSIST_PAGE, HV_X64_MSR_SCONTROL,
	HV_X64_MSR_SVERSION,      HV_X64_MSR_SIEFP,         HV_X64_MSR_SIMP,
	HV_X64_MSR_EOM,           0x40000090u, 0x40000091u, 0x40000092u, 0x40000093u,
	0x40000094u, 0x40000095u, 0x40000096u, 0x40000097u, 0x40000098u, 0x40000099u,
	0x4000009Au, 0x4000009Bu, 0x4000009Cu, 0x4000009Du, 0x4000009Eu, 0x4000009Fu,
	HV_X64_MSR_CRASH_P0,      0x40000101u, 0x40000102u, 0x40000103u,
	HV_X64_MSR_CRASH_P4,      HV_X64_MSR_CRASH_CTL,     HV_X64_MSR_TSC_INVARIANT_CONTROL,
};

const uint32_t *hv_msr_list(size_t *ret_count)
{
	*ret_count = ARRAY_SIZE(hv_msrs);
	return hv_msrs;
}

void hv_msr_filter_range(uint32_t *ret_first, uint32_t *ret_count)
{
	*ret_first = HV_X64_MSR_RANGE_FIRST;
	*ret_count = HV_X64_MSR_RANGE_COUNT;
}

uint64_t hv_tsc_scale(uint64_t tsc_hz)
{
	if (!tsc_hz)
		return 0;
	return (uint64_t)(((unsigned __int128)10000000u << 64) / tsc_hz);
}

static uint64_t mul_hi64(uint64_t a, uint64_t b)
{
	return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

uint64_t hv_ref_time(struct hv *hv)
{
	uint64_t tsc = hv->ops->read_tsc(hv->opaque, 0);

	return mul_hi64(tsc, hv->tsc_scale) + (uint64_t)hv->tsc_offset;
}

/*
 * CPUID values (reference §1.4, option A by default): hypervisor signature
 * without any KVM signature, hypercall + VP index (mandatory for detection),
 * SynIC, frequency MSRs and TSC invariant so Linux keeps the native TSC as
 * clocksource with no calibration, AEOI deprecated because KVM's LAPIC cannot
 * auto-EOI, crash MSRs, and (lazy_eoi) the APIC access hint, whose only
 * effect on an x2APIC Linux guest is the lazy EOI. No TIME_REF_COUNT feature
 * bit without the TSC page: it would make every clock read an MSR exit.
 */
static void hv_build_cpuid(const struct hv_config *cfg, struct hv_cpuid_entry *e)
{
	uint32_t feat_a = HV_MSR_SYNIC_AVAILABLE | HV_MSR_HYPERCALL_AVAILABLE |
			  HV_MSR_VP_INDEX_AVAILABLE | HV_ACCESS_FREQUENCY_MSRS |
			  HV_ACCESS_TSC_INVARIANT;
	uint32_t feat_d = HV_FEATURE_FREQUENCY_MSRS_AVAILABLE;

	if (cfg->reference_tsc_page)
		feat_a |= HV_MSR_REFERENCE_TSC_AVAILABLE | HV_MSR_TIME_REF_COUNT_AVAILABLE;
	if (cfg->crash_msrs)
		feat_d |= HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE;

	memset(e, 0, HV_CPUID_ENTRIES * sizeof(*e));
	for (uint32_t i = 0; i < HV_CPUID_ENTRIES; i++)
		e[i].function = HV_CPUID_VENDOR_AND_MAX_FUNCTIONS + i;
	e[0].eax = HV_CPUID_MAX_LEAF;
	e[0].ebx = HV_CPUID_SIGNATURE_EBX;
	e[0].ecx = HV_CPUID_SIGNATURE_ECX;
	e[0].edx = HV_CPUID_SIGNATURE_EDX;
	e[1].eax = HV_CPUID_INTERFACE_HV1;
	e[2].eax = 17763;       /* build number: printed by Linux only */
	e[2].ebx = 0x000A0000u; /* version 10.0 */
	e[3].eax = feat_a;
	e[3].ebx = HV_POST_MESSAGES | HV_SIGNAL_EVENTS;
	e[3].edx = feat_d;
	e[4].eax = HV_DEPRECATING_AEOI_RECOMMENDED;
	if (cfg->lazy_eoi)
		e[4].eax |= HV_X64_APIC_ACCESS_RECOMMENDED;
	e[4].ebx = 0xFFFFFFFFu; /* spinlock retry count: never notify */
	e[5].eax = cfg->vp_count;
	e[5].ebx = cfg->vp_count;
}

int hv_cpuid_for_config(const struct hv_config *cfg, struct hv_cpuid_entry *out)
{
	if (!cfg || !out || !cfg->vp_count || cfg->vp_count > HV_MAX_VPS)
		return -EINVAL;
	hv_build_cpuid(cfg, out);
	return 0;
}

const struct hv_cpuid_entry *hv_cpuid_table(const struct hv *hv, size_t *ret_count)
{
	*ret_count = HV_CPUID_ENTRIES;
	return hv->cpuid;
}

static void hv_vp_power_on(struct hv_vp *v)
{
	memset(v->sint, 0, sizeof(v->sint));
	for (unsigned int i = 0; i < HV_SINT_COUNT; i++)
		v->sint[i] = HV_SINT_MASKED;
	v->scontrol = 0;
	v->simp = 0;
	v->siefp = 0;
	v->vp_assist = 0;
}

int hv_new(const struct gm *gm, const struct hv_config *cfg, const struct hv_host_ops *ops,
	   void *opaque, struct hv **ret_hv)
{
	struct hv *hv;
	int r;

	if (!gm || !cfg || !ops || !ops->inject_irq || !ops->read_tsc || !cfg->vp_count ||
	    cfg->vp_count > HV_MAX_VPS || !cfg->tsc_hz)
		return -EINVAL;
	if (cfg->lazy_eoi && (!ops->eoi_assist || !ops->apic_msr))
		return -EINVAL;
	/* Doorbells: ids and ports must not wrap, nor cover the hypercall port. */
	if (cfg->doorbell_count &&
	    (cfg->doorbell_conn_first > INT32_MAX || cfg->doorbell_count > INT32_MAX ||
	     cfg->doorbell_conn_first + cfg->doorbell_count - 1 > HV_CONNECTION_ID_MASK ||
	     (uint32_t)cfg->doorbell_port_first + cfg->doorbell_count > 0x10000u ||
	     (HV_HYPERCALL_PORT >= cfg->doorbell_port_first &&
	      HV_HYPERCALL_PORT < (uint32_t)cfg->doorbell_port_first + cfg->doorbell_count)))
		return -EINVAL;
	hv = calloc(1, sizeof(*hv));
	if (!hv)
		return -ENOMEM;
	hv->vps = calloc(cfg->vp_count, sizeof(*hv->vps));
	if (!hv->vps) {
		r = -ENOMEM;
		goto err_free;
	}
	r = pthread_mutex_init(&hv->lock, NULL);
	if (r) {
		r = -r;
		goto err_vps;
	}
	hv->gm = gm;
	hv->cfg = *cfg;
	hv->stub_len = hv_build_stub(cfg, hv->stub);
	if (!hv->cfg.apic_hz)
		hv->cfg.apic_hz = 1000000000ull; /* KVM's emulated APIC bus: 1 ns per cycle */
	hv->ops = ops;
	hv->opaque = opaque;
	hv->tsc_scale = hv_tsc_scale(cfg->tsc_hz);
	/* Reference time = 0 at partition creation. */
	hv->tsc_offset = -(int64_t)mul_hi64(ops->read_tsc(opaque, 0), hv->tsc_scale);
	for (uint32_t i = 0; i < cfg->vp_count; i++)
		hv_vp_power_on(&hv->vps[i]);
	hv_build_cpuid(&hv->cfg, hv->cpuid);
	*ret_hv = hv;
	return 0;

err_vps:
	free(hv->vps);
err_free:
	free(hv);
	return r;
}

void hv_free(struct hv *hv)
{
	if (!hv)
		return;
	for (uint32_t i = 0; i < hv->cfg.vp_count; i++)
		hv_synic_flush_vp(&hv->vps[i]);
	pthread_mutex_destroy(&hv->lock);
	free(hv->vps);
	free(hv);
}

void hv_reset(struct hv *hv)
{
	pthread_mutex_lock(&hv->lock);
	hv->guest_os_id = 0;
	hv->hypercall = 0;
	hv->ref_tsc = 0;
	hv->tsc_invariant_ctl = 0;
	hv->tsc_seq = 0;
	memset(hv->crash_p, 0, sizeof(hv->crash_p));
	for (uint32_t i = 0; i < hv->cfg.vp_count; i++) {
		/* The LAPIC must stop writing into a page of the old kernel. */
		if (hv->cfg.lazy_eoi && (hv->vps[i].vp_assist & HV_MSR_PAGE_ENABLE))
			(void)hv->ops->eoi_assist(hv->opaque, i, 0, false);
		hv_synic_flush_vp(&hv->vps[i]);
		hv_vp_power_on(&hv->vps[i]);
	}
	pthread_mutex_unlock(&hv->lock);
}

void hv_get_stats(struct hv *hv, struct hv_stats *ret_stats)
{
	pthread_mutex_lock(&hv->lock);
	*ret_stats = hv->stats;
	pthread_mutex_unlock(&hv->lock);
}

/* ---- page MSRs ---- */

static gpa_t page_gpa(uint64_t msr_value)
{
	return gpn_to_gpa(msr_value >> HV_MSR_PAGE_PFN_SHIFT);
}

/* SPEC: fill the TSC page synchronously; sequence written last, never 0. */
static int hv_write_tsc_page(struct hv *hv, gpa_t gpa)
{
	struct hv_ref_tsc_page_wire *pg = gm_ptr(hv->gm, gpa, GM_PAGE_SIZE);

	if (!pg)
		return -EFAULT;
	__atomic_store_n(&pg->tsc_sequence, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&pg->tsc_scale, hv->tsc_scale, __ATOMIC_RELAXED);
	__atomic_store_n(&pg->tsc_offset, hv->tsc_offset, __ATOMIC_RELAXED);
	do
		hv->tsc_seq++;
	while (hv->tsc_seq == 0 || hv->tsc_seq == 0xFFFFFFFFu);
	__atomic_store_n(&pg->tsc_sequence, hv->tsc_seq, __ATOMIC_RELEASE);
	return 0;
}

/* Read the panic text the guest left in its page; never trusts P4. */
static void hv_crash_fill_message(struct hv *hv, struct hv_crash_report *rep)
{
	uint64_t len = rep->p[4];

	rep->has_message = false;
	rep->message[0] = 0;
	if (!len)
		return;
	len = MIN(len, (uint64_t)HV_CRASH_MSG_MAX_BYTES);
	if (gm_read(hv->gm, rep->p[3], rep->message, (size_t)len) < 0)
		return;
	for (uint64_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)rep->message[i];
		/* SECURITY: guest text goes to host logs: printable ASCII only. */
		if (c != '\n' && c != '\t' && (c < 0x20 || c > 0x7e))
			rep->message[i] = '?';
	}
	rep->message[len] = 0;
	rep->has_message = true;
}

static bool is_sint_msr(uint32_t msr)
{
	return msr >= HV_X64_MSR_SINT0 && msr <= HV_X64_MSR_SINT15;
}

static bool is_crash_p_msr(uint32_t msr)
{
	return msr >= HV_X64_MSR_CRASH_P0 && msr <= HV_X64_MSR_CRASH_P4;
}

/*
 * Lazy EOI (hv_config.lazy_eoi). The APIC access MSRs use the xAPIC register
 * layout; the LAPIC is reached through its x2APIC MSRs, so they work for a
 * guest in x2APIC mode, which is the only mode in which Linux uses just the
 * EOI one. In xAPIC mode the LAPIC refuses and the guest gets a #GP.
 */
#define X2APIC_MSR_TPR 0x808u
#define X2APIC_MSR_EOI 0x80Bu
#define X2APIC_MSR_ICR 0x830u

static void hv_set_eoi_assist(struct hv *hv, uint32_t vp_index, uint64_t val)
{
	bool on = val & HV_MSR_PAGE_ENABLE;

	/* A page the LAPIC cannot use only costs the guest its lazy EOIs. */
	if (hv->ops->eoi_assist(hv->opaque, vp_index, page_gpa(val) + HV_VP_ASSIST_APIC_ASSIST_OFFSET,
				on) < 0 && on)
		hv->stats.eoi_assist_fail++;
}

static int hv_apic_msr_read(struct hv *hv, uint32_t vp_index, uint32_t msr, uint64_t *val)
{
	uint64_t x;
	int r;

	if (!hv->cfg.lazy_eoi)
		return -EINVAL;
	if (msr == HV_X64_MSR_TPR)
		return hv->ops->apic_msr(hv->opaque, vp_index, X2APIC_MSR_TPR, false, val);
	/* ICR: x2APIC has the destination in bits 32-63, xAPIC in 56-63. */
	r = hv->ops->apic_msr(hv->opaque, vp_index, X2APIC_MSR_ICR, false, &x);
	if (!r)
		*val = (x & 0xFFFFFFFFull) | ((x >> 32 & 0xFFull) << 56);
	return r;
}

static int hv_apic_msr_write(struct hv *hv, uint32_t vp_index, uint32_t msr, uint64_t val)
{
	uint64_t x;

	if (!hv->cfg.lazy_eoi)
		return -EINVAL;
	switch (msr) {
	case HV_X64_MSR_EOI:
		hv->stats.eoi_msr++;
		x = 0;   /* the value written does not matter */
		return hv->ops->apic_msr(hv->opaque, vp_index, X2APIC_MSR_EOI, true, &x);
	case HV_X64_MSR_TPR:
		x = val;
		return hv->ops->apic_msr(hv->opaque, vp_index, X2APIC_MSR_TPR, true, &x);
	default:
		x = (val & 0xFFFFFFFFull) | ((val >> 56) << 32);
		return hv->ops->apic_msr(hv->opaque, vp_index, X2APIC_MSR_ICR, true, &x);
	}
}

int hv_msr_read(struct hv *hv, uint32_t vp_index, uint32_t msr, uint64_t *ret_value)
{
	struct hv_vp *v;
	uint64_t val = 0;
	int r = 0;

	if (vp_index >= hv->cfg.vp_count)
		return -ERANGE;
	v = &hv->vps[vp_index];
	pthread_mutex_lock(&hv->lock);
	switch (msr) {
	case HV_X64_MSR_GUEST_OS_ID:
		val = hv->guest_os_id;
		break;
	case HV_X64_MSR_HYPERCALL:
		val = hv->hypercall;
		break;
	case HV_X64_MSR_VP_INDEX:
		val = vp_index;
		break;
	case HV_X64_MSR_TIME_REF_COUNT:
		/* GUEST: Linux reads it for time sync even without feature bit 1. */
		val = mul_hi64(hv->ops->read_tsc(hv->opaque, vp_index), hv->tsc_scale) +
		      (uint64_t)hv->tsc_offset;
		break;
	case HV_X64_MSR_REFERENCE_TSC:
		if (!hv->cfg.reference_tsc_page)
			r = -EINVAL;
		val = hv->ref_tsc;
		break;
	case HV_X64_MSR_TSC_FREQUENCY:
		val = hv->cfg.tsc_hz;
		break;
	case HV_X64_MSR_APIC_FREQUENCY:
		val = hv->cfg.apic_hz;
		break;
	case HV_X64_MSR_VP_ASSIST_PAGE:
		val = v->vp_assist;
		break;
	case HV_X64_MSR_ICR:
	case HV_X64_MSR_TPR:
		r = hv_apic_msr_read(hv, vp_index, msr, &val);
		break;
	case HV_X64_MSR_SCONTROL:
		val = v->scontrol;
		break;
	case HV_X64_MSR_SVERSION:
		val = HV_SVERSION_VALUE;
		break;
	case HV_X64_MSR_SIEFP:
		val = v->siefp;
		break;
	case HV_X64_MSR_SIMP:
		val = v->simp;
		break;
	case HV_X64_MSR_EOM:
		val = 0; /* write-only; reads as 0 */
		break;
	case HV_X64_MSR_CRASH_CTL:
		if (!hv->cfg.crash_msrs)
			r = -EINVAL;
		/* SPEC: reads advertise what the host supports. */
		val = HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG;
		break;
	case HV_X64_MSR_TSC_INVARIANT_CONTROL:
		val = hv->tsc_invariant_ctl;
		break;
	default:
		if (is_sint_msr(msr)) {
			val = v->sint[msr - HV_X64_MSR_SINT0];
		} else if (is_crash_p_msr(msr) && hv->cfg.crash_msrs) {
			val = hv->crash_p[msr - HV_X64_MSR_CRASH_P0];
		} else {
			r = -EINVAL;
		}
		break;
	}
	if (r)
		hv->stats.msr_gp++;
	pthread_mutex_unlock(&hv->lock);
	if (!r)
		*ret_value = val;
	return r;
}

/* Writes to a SINT register: vector must be 16..255 unless masked. */
static int hv_write_sint(struct hv *hv, struct hv_vp *v, uint32_t vp_index, unsigned int sint,
			 uint64_t val)
{
	if (!(val & HV_SINT_MASKED) && (val & HV_SINT_VECTOR_MASK) < HV_SINT_MIN_VECTOR)
		return -EINVAL;
	v->sint[sint] = val;
	hv_synic_deliver(hv, vp_index, sint);
	return 0;
}

int hv_msr_write(struct hv *hv, uint32_t vp_index, uint32_t msr, uint64_t val)
{
	struct hv_crash_report *rep = NULL;
	struct hv_vp *v;
	int r = 0;

	if (vp_index >= hv->cfg.vp_count)
		return -ERANGE;
	v = &hv->vps[vp_index];
	pthread_mutex_lock(&hv->lock);
	switch (msr) {
	case HV_X64_MSR_GUEST_OS_ID:
		hv->guest_os_id = val;
		/* SPEC: clearing the OS id disables the hypercall page. */
		if (!val)
			hv->hypercall &= ~HV_MSR_PAGE_ENABLE;
		break;
	case HV_X64_MSR_HYPERCALL:
		if (hv->hypercall & HV_MSR_HYPERCALL_LOCKED)
			break; /* SPEC: locked: writes are ignored */
		/* SPEC: the page cannot be enabled before the guest OS id is set. */
		if (!hv->guest_os_id)
			val &= ~HV_MSR_PAGE_ENABLE;
		if (val & HV_MSR_PAGE_ENABLE) {
			/* Written before the WRMSR returns: the guest calls it right away. */
			r = gm_write(hv->gm, page_gpa(val), hv->stub, hv->stub_len);
			if (r)
				break;
		}
		hv->hypercall = val;
		break;
	case HV_X64_MSR_REFERENCE_TSC:
		if (!hv->cfg.reference_tsc_page) {
			r = -EINVAL;
			break;
		}
		if (val & HV_MSR_PAGE_ENABLE) {
			r = hv_write_tsc_page(hv, page_gpa(val));
			if (r)
				break;
		}
		hv->ref_tsc = val;
		break;
	case HV_X64_MSR_VP_ASSIST_PAGE:
		/*
		 * GUEST: written on every CPU. We never write the page; with
		 * lazy EOI the LAPIC sets and reads the APIC-assist bit in it.
		 */
		if (hv->cfg.lazy_eoi)
			hv_set_eoi_assist(hv, vp_index, val);
		v->vp_assist = val;
		break;
	case HV_X64_MSR_EOI:
	case HV_X64_MSR_ICR:
	case HV_X64_MSR_TPR:
		r = hv_apic_msr_write(hv, vp_index, msr, val);
		break;
	case HV_X64_MSR_SCONTROL:
		/* GUEST: Linux turns the SynIC off only for kexec/kdump, CPU
		 * offline or hibernation; what is still queued then belongs to a
		 * kernel that is going away, so it must not reach the next one. */
		if ((v->scontrol & HV_SCONTROL_ENABLE) && !(val & HV_SCONTROL_ENABLE))
			hv_synic_flush_vp(v);
		v->scontrol = val;
		hv_synic_deliver_all(hv, vp_index);
		break;
	case HV_X64_MSR_SIEFP:
		if ((val & HV_MSR_PAGE_ENABLE) && !gm_is_ram(hv->gm, page_gpa(val), GM_PAGE_SIZE)) {
			r = -EFAULT;
			break;
		}
		v->siefp = val;
		break;
	case HV_X64_MSR_SIMP:
		if ((val & HV_MSR_PAGE_ENABLE) && !gm_is_ram(hv->gm, page_gpa(val), GM_PAGE_SIZE)) {
			r = -EFAULT;
			break;
		}
		if ((v->simp & HV_MSR_PAGE_ENABLE) && !(val & HV_MSR_PAGE_ENABLE))
			hv_synic_flush_vp(v); /* as for SCONTROL above */
		v->simp = val;
		hv_synic_deliver_all(hv, vp_index);
		break;
	case HV_X64_MSR_EOM:
		hv_synic_deliver_all(hv, vp_index);
		break;
	case HV_X64_MSR_CRASH_CTL:
		if (!hv->cfg.crash_msrs) {
			r = -EINVAL;
			break;
		}
		if (!(val & HV_CRASH_CTL_CRASH_NOTIFY) || !hv->ops->crash)
			break;
		rep = calloc(1, sizeof(*rep));
		if (!rep)
			break; /* host fault: the report is lost, the guest goes on */
		rep->vp_index = vp_index;
		rep->ctl = val;
		memcpy(rep->p, hv->crash_p, sizeof(rep->p));
		break;
	case HV_X64_MSR_TSC_INVARIANT_CONTROL:
		hv->tsc_invariant_ctl = val;
		break;
	case HV_X64_MSR_VP_INDEX:
	case HV_X64_MSR_TIME_REF_COUNT:
	case HV_X64_MSR_TSC_FREQUENCY:
	case HV_X64_MSR_APIC_FREQUENCY:
	case HV_X64_MSR_SVERSION:
		r = -EINVAL; /* read-only */
		break;
	default:
		if (is_sint_msr(msr))
			r = hv_write_sint(hv, v, vp_index, msr - HV_X64_MSR_SINT0, val);
		else if (is_crash_p_msr(msr) && hv->cfg.crash_msrs)
			hv->crash_p[msr - HV_X64_MSR_CRASH_P0] = val;
		else
			r = -EINVAL;
		break;
	}
	if (r)
		hv->stats.msr_gp++;
	pthread_mutex_unlock(&hv->lock);
	if (rep) {
		if (rep->ctl & HV_CRASH_CTL_CRASH_NOTIFY_MSG)
			hv_crash_fill_message(hv, rep);
		hv->ops->crash(hv->opaque, rep);
		free(rep);
	}
	return r;
}

/* ---- ports and hypercalls ---- */

static int hv_register_port(struct hv *hv, bool is_event, uint32_t first, uint32_t count,
			    void *fn, void *opaque)
{
	if (!fn || !count || first > HV_CONNECTION_ID_MASK ||
	    count > HV_CONNECTION_ID_MASK - first + 1)
		return -EINVAL;
	for (unsigned int i = 0; i < hv->n_ports; i++) {
		const struct hv_port *p = &hv->ports[i];
		if (p->is_event == is_event && first < p->first + p->count &&
		    p->first < first + count)
			return -EEXIST;
	}
	if (hv->n_ports >= HV_MAX_PORTS)
		return -ENOSPC;
	hv->ports[hv->n_ports++] = (struct hv_port){
		.first = first, .count = count, .is_event = is_event, .fn = fn, .opaque = opaque,
	};
	return 0;
}

int hv_register_msg_port(struct hv *hv, uint32_t first_id, uint32_t count, hv_post_msg_fn fn,
			 void *opaque)
{
	return hv_register_port(hv, false, first_id, count, (void *)fn, opaque);
}

int hv_register_event_port(struct hv *hv, uint32_t first_id, uint32_t count,
			   hv_signal_event_fn fn, void *opaque)
{
	return hv_register_port(hv, true, first_id, count, (void *)fn, opaque);
}

static const struct hv_port *hv_find_port(const struct hv *hv, bool is_event, uint32_t id)
{
	for (unsigned int i = 0; i < hv->n_ports; i++) {
		const struct hv_port *p = &hv->ports[i];
		if (p->is_event == is_event && id >= p->first && id - p->first < p->count)
			return p;
	}
	return NULL;
}

static uint16_t hv_call_post_message(struct hv *hv, uint32_t vp, bool fast, uint64_t in_gpa)
{
	struct hv_input_post_message_wire in;
	const struct hv_port *port;
	hv_post_msg_fn fn;

	if (fast)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	/* SPEC: input is 8-byte aligned and must not cross a page. */
	if (in_gpa & 7 || (in_gpa & (GM_PAGE_SIZE - 1)) + sizeof(in) > GM_PAGE_SIZE)
		return HV_STATUS_INVALID_ALIGNMENT;
	/* SECURITY: one copy, then only the copy is looked at. */
	if (gm_read(hv->gm, in_gpa, &in, sizeof(in)) < 0)
		return HV_STATUS_INVALID_PARAMETER;
	if (in.connection_id & ~HV_CONNECTION_ID_MASK || in.reserved)
		return HV_STATUS_INVALID_PARAMETER;
	if (in.message_type == 0 || in.message_type & HV_MESSAGE_TYPE_HYPERVISOR_MASK ||
	    in.payload_size > HV_MESSAGE_PAYLOAD_BYTES)
		return HV_STATUS_INVALID_PARAMETER;
	port = hv_find_port(hv, false, in.connection_id);
	if (!port)
		return HV_STATUS_INVALID_CONNECTION_ID;
	fn = (hv_post_msg_fn)port->fn;
	return fn(port->opaque, vp, in.connection_id, in.message_type, in.payload, in.payload_size);
}

static uint16_t hv_call_signal_event(struct hv *hv, uint32_t vp, bool fast, uint64_t rdx)
{
	struct hv_input_signal_event_wire in;
	const struct hv_port *port;
	hv_signal_event_fn fn;

	if (fast) {
		in.connection_id = (uint32_t)rdx;
		in.flag_number = (uint16_t)(rdx >> 32);
		in.reserved = (uint16_t)(rdx >> 48);
	} else {
		if (rdx & 7)
			return HV_STATUS_INVALID_ALIGNMENT;
		if (gm_read(hv->gm, rdx, &in, sizeof(in)) < 0)
			return HV_STATUS_INVALID_PARAMETER;
	}
	if (in.connection_id & ~HV_CONNECTION_ID_MASK || in.reserved)
		return HV_STATUS_INVALID_PARAMETER;
	if (in.flag_number >= HV_EVENT_FLAGS_COUNT)
		return HV_STATUS_INVALID_PARAMETER;
	port = hv_find_port(hv, true, in.connection_id);
	if (!port)
		return HV_STATUS_INVALID_CONNECTION_ID;
	fn = (hv_signal_event_fn)port->fn;
	return fn(port->opaque, vp, in.connection_id, in.flag_number);
}

uint64_t hv_doorbell(struct hv *hv, uint32_t vp_index, uint16_t port)
{
	uint32_t i = (uint16_t)(port - hv->cfg.doorbell_port_first);

	if (vp_index >= hv->cfg.vp_count || i >= hv->cfg.doorbell_count)
		return HV_STATUS_INVALID_PARAMETER;
	return hv_call_signal_event(hv, vp_index, true, hv->cfg.doorbell_conn_first + i);
}

uint64_t hv_hypercall(struct hv *hv, uint32_t vp_index, uint64_t rcx, uint64_t rdx, uint64_t r8)
{
	uint32_t code = (uint32_t)(rcx & HV_HYPERCALL_CODE_MASK);
	bool fast = rcx & HV_HYPERCALL_FAST_BIT;
	uint16_t status;

	(void)r8; /* neither implemented call has output */
	if (vp_index >= hv->cfg.vp_count) {
		status = HV_STATUS_INVALID_PARAMETER;
	} else if (rcx & (HV_HYPERCALL_RSVD0_MASK | HV_HYPERCALL_RSVD1_MASK |
			  HV_HYPERCALL_RSVD2_MASK)) {
		status = HV_STATUS_INVALID_HYPERCALL_INPUT;
	} else {
		switch (code) {
		case HVCALL_POST_MESSAGE:
		case HVCALL_SIGNAL_EVENT:
			/* Simple calls: no reps, no variable header. */
			if (rcx & (HV_HYPERCALL_REP_COUNT_MASK | HV_HYPERCALL_REP_START_MASK |
				   HV_HYPERCALL_VARHEAD_MASK)) {
				status = HV_STATUS_INVALID_HYPERCALL_INPUT;
				break;
			}
			if (code == HVCALL_POST_MESSAGE)
				status = hv_call_post_message(hv, vp_index, fast, rdx);
			else
				status = hv_call_signal_event(hv, vp_index, fast, rdx);
			break;
		default:
			status = HV_STATUS_INVALID_HYPERCALL_CODE;
			break;
		}
	}
	pthread_mutex_lock(&hv->lock);
	hv->stats.hypercalls++;
	if (status != HV_STATUS_SUCCESS)
		hv->stats.hypercall_errors++;
	pthread_mutex_unlock(&hv->lock);
	/* Status in bits 0-15; reps completed (bits 32-43) stay 0. */
	return status;
}
