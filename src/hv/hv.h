/* SPDX-License-Identifier: MIT */
/*
 * Hyper-V enlightenments implemented in userspace, for KVM hosts without
 * in-kernel Hyper-V emulation: CPUID leaves, synthetic MSRs, the hypercall
 * page and HvPostMessage/HvSignalEvent, the VP index, the reference counter
 * and reference-TSC page, frequency MSRs, the SynIC (message and event-flag
 * pages, SINTs, EOM) and the guest crash MSRs.
 *
 * This module never calls KVM. It is a state machine over guest memory
 * (struct gm) with its side effects injected through struct hv_host_ops; the
 * partition layer calls it from its exit handlers:
 *   - CPUID: merge hv_cpuid_table() into KVM_SET_CPUID2 once, before KVM_RUN.
 *   - MSR exits (KVM MSR filter over hv_msr_filter_range()): hv_msr_read()/
 *     hv_msr_write(); a negative return means "inject #GP".
 *   - The hypercall page written by hv_msr_write(HYPERCALL) executes
 *     `out HV_HYPERCALL_PORT, al; ret`; on that I/O exit call hv_hypercall()
 *     with RCX/RDX/R8 and store the result in RAX (RIP unchanged).
 *   - Guest reboot: hv_reset().
 * What it is not: no synthetic timers, no TLB-flush or IPI hypercalls (none
 * advertised; see docs/hyperv.md for the reasons). The APIC access MSRs are
 * there for lazy EOI only (hv_config.lazy_eoi), forwarded to the LAPIC.
 *
 * Spec: Hyper-V TLFS v6.0 ("Feature discovery", "Hypercall interface",
 * "Virtual processor management", "Partition reference counter", "SynIC");
 * facts checked against Linux 6.1 in hyperv-guest-interface.md §1, §10.3.
 *
 * Threads and locking: every entry point may be called from any thread. One
 * internal mutex protects per-VP SynIC state and message queues; host ops are
 * called with that mutex held except the crash callback and the port
 * handlers (hv_port_fn), which are called with no hv lock held so they may
 * call back into hv_synic_post_message()/hv_synic_signal_event().
 * The port table is set up before the VM runs and is read-only afterwards.
 * This module does not log.
 */
#ifndef OPENHV_HV_H
#define OPENHV_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"
#include "gm/gm.h"
#include "hv/hv_defs.h"

/*
 * The 8-bit I/O port the hypercall page writes to. Chosen to avoid 0x7E (KVM
 * quirk moves RIP), 0x80/0xED/0xEB (I/O delay) and 0xE9 (debug console); the
 * platform must not decode it for anything else.
 */
#define HV_HYPERCALL_PORT 0xE8u
/* Bytes of the stub written at the start of the hypercall page (at most). */
#define HV_HYPERCALL_STUB_MAX 64u

#define HV_MAX_VPS 256u
/* Queued messages per (VP, SINT) beyond the one in the slot. */
#define HV_SYNIC_QUEUE_MAX 256u

struct hv_crash_report;

/* Host side effects, supplied by the partition layer (or a test fake). */
struct hv_host_ops {
	/*
	 * Deliver a fixed-delivery, edge interrupt with this vector to the
	 * LAPIC of VP vp_index (KVM_SIGNAL_MSI). Called with the hv lock held:
	 * must not call back into hv. Return 0 or -errno (ignored but counted).
	 */
	int (*inject_irq)(void *opaque, uint32_t vp_index, uint8_t vector);
	/* Current guest TSC value (as VP vp_index would read it with RDTSC). */
	uint64_t (*read_tsc)(void *opaque, uint32_t vp_index);
	/*
	 * Optional: the guest reported a crash (write of CRASH_CTL with the
	 * notify bit). Called on the vCPU thread without the hv lock.
	 */
	void (*crash)(void *opaque, const struct hv_crash_report *report);
	/*
	 * Lazy EOI (both needed when hv_config.lazy_eoi is set). Called on the
	 * vCPU thread of vp_index, from its MSR exit, with the hv lock held.
	 *
	 * eoi_assist: from now on, when the LAPIC of vp_index delivers an
	 * interrupt that can be retired without an EOI write (edge, nothing
	 * else pending or in service), it sets bit 0 of the byte at guest
	 * address gpa; if the guest clears that bit instead of writing EOI,
	 * the LAPIC retires the interrupt at the next exit (KVM's PV EOI does
	 * exactly this). on = false stops it. 0 or -errno (gpa not RAM).
	 *
	 * apic_msr: read or write an x2APIC register of vp_index's LAPIC by
	 * its MSR number (0x800 + offset / 16). -errno when the LAPIC refuses
	 * (e.g. it is in xAPIC mode).
	 */
	int (*eoi_assist)(void *opaque, uint32_t vp_index, uint64_t gpa, bool on);
	int (*apic_msr)(void *opaque, uint32_t vp_index, uint32_t msr, bool write, uint64_t *val);
};

/* What the guest told us about its crash (TLFS "Guest crash enlightenment"). */
struct hv_crash_report {
	uint32_t vp_index;  /* VP that wrote CRASH_CTL */
	uint64_t ctl;       /* value written to CRASH_CTL */
	uint64_t p[5];      /* CRASH_P0..P4: without a message Linux puts
			     * notifier id, guest OS id, RIP, RAX, RSP here */
	bool has_message;   /* CRASH_NOTIFY_MSG: P3 = GPA, P4 = length */
	/* NUL-terminated panic text; non-printable bytes replaced by '?'. */
	char message[HV_CRASH_MSG_MAX_BYTES + 1];
};

struct hv_config {
	uint32_t vp_count;        /* 1..HV_MAX_VPS; VP index = vCPU number */
	uint64_t tsc_hz;          /* guest TSC frequency (KVM_GET_TSC_KHZ * 1000) */
	uint64_t apic_hz;         /* LAPIC timer frequency; 0 = KVM's 1 GHz default */
	bool reference_tsc_page;  /* advertise the TSC page (option B); default option A */
	bool crash_msrs;          /* advertise the crash MSRs (recommended: true) */
	/*
	 * Lazy EOI: advertise HV_X64_APIC_ACCESS_RECOMMENDED. The guest then
	 * skips the EOI exit for interrupts the LAPIC marks in its VP assist
	 * page (host_ops.eoi_assist) and writes HV_X64_MSR_EOI otherwise; the
	 * APIC access MSRs (EOI, ICR, TPR) go to the LAPIC through
	 * host_ops.apic_msr, which needs an x2APIC-mode guest (Linux uses
	 * them only for EOI when it runs x2APIC).
	 */
	bool lazy_eoi;
	/*
	 * Doorbells (optional, doorbell_count 0 = off): a fast HvSignalEvent for
	 * connection id doorbell_conn_first + i (flag 0) is done by the
	 * hypercall page itself as a one-byte write to I/O port
	 * doorbell_port_first + i, with the status (success) already in RAX. The
	 * host turns those writes into ioeventfds, so a guest signal does not
	 * leave the kernel; a write that still exits goes to hv_doorbell().
	 */
	uint32_t doorbell_conn_first;
	uint32_t doorbell_count;
	uint16_t doorbell_port_first;
};

/* One CPUID leaf as the guest sees it (no <linux/kvm.h> here). */
struct hv_cpuid_entry {
	uint32_t function;
	uint32_t index;
	uint32_t eax, ebx, ecx, edx;
};
#define HV_CPUID_ENTRIES 11u /* 0x40000000 .. 0x4000000A */

/*
 * Guest -> host port handlers, registered per connection id. They run on the
 * vCPU thread that issued the hypercall, without the hv lock, and return the
 * HV_STATUS_* value the guest sees in RAX. INSUFFICIENT_BUFFERS makes Linux
 * retry a post later, so a handler must never block.
 */
typedef uint16_t (*hv_post_msg_fn)(void *opaque, uint32_t vp_index, uint32_t connection_id,
				   uint32_t message_type, const void *payload, uint32_t len);
typedef uint16_t (*hv_signal_event_fn)(void *opaque, uint32_t vp_index, uint32_t connection_id,
				       uint16_t flag_number);

struct hv;

/*
 * Create the partition-wide state. gm and ops/opaque must outlive the object.
 * Samples read_tsc once so the reference counter starts at 0 now.
 * Returns 0, -EINVAL (bad config) or -ENOMEM.
 */
int hv_new(const struct gm *gm, const struct hv_config *cfg, const struct hv_host_ops *ops,
	   void *opaque, struct hv **ret_hv) MUST_CHECK;
/* Free everything (queued messages included). Accepts NULL. */
void hv_free(struct hv *hv);

/*
 * Back to power-on state (guest reboot): guest OS id, hypercall page, TSC
 * page, per-VP SynIC registers (SINTs masked), queued messages, crash MSRs.
 * Registered ports stay. The reference counter keeps running (it counts
 * from partition creation, as on Hyper-V).
 */
void hv_reset(struct hv *hv);

/* The Hyper-V CPUID leaves 0x40000000..0x4000000A (HV_CPUID_ENTRIES rows).
 * The partition layer adds CPUID.1:ECX[31] and 0x80000007.EDX[8] itself. */
const struct hv_cpuid_entry *hv_cpuid_table(const struct hv *hv, size_t *ret_count);

/* The same table from a configuration alone (no object needed), e.g. to set
 * CPUID before the partition can report its TSC frequency. Fills
 * HV_CPUID_ENTRIES rows; -EINVAL on a bad config. */
int hv_cpuid_for_config(const struct hv_config *cfg, struct hv_cpuid_entry *out) MUST_CHECK;

/* MSRs to route to userspace: [first, first + count). */
void hv_msr_filter_range(uint32_t *ret_first, uint32_t *ret_count);
/* The MSRs hv implements (the rest of the range #GP), for logs and tests. */
const uint32_t *hv_msr_list(size_t *ret_count);

/*
 * Guest RDMSR/WRMSR of a synthetic MSR on VP vp_index. Return 0 on success,
 * or a negative errno meaning "inject #GP" (-EINVAL reserved/read-only/not
 * implemented, -EFAULT page outside guest RAM, -ERANGE bad VP index).
 */
int hv_msr_read(struct hv *hv, uint32_t vp_index, uint32_t msr, uint64_t *ret_value) MUST_CHECK;
int hv_msr_write(struct hv *hv, uint32_t vp_index, uint32_t msr, uint64_t value) MUST_CHECK;

/*
 * A hypercall from VP vp_index (RCX = control, RDX/R8 = input/output GPA or
 * fast input). Returns the 64-bit status for RAX. Validates every field:
 * unknown code -> INVALID_HYPERCALL_CODE, bad control bits ->
 * INVALID_HYPERCALL_INPUT, misaligned or page-crossing input ->
 * INVALID_ALIGNMENT, bad lengths -> INVALID_PARAMETER, unknown connection ->
 * INVALID_CONNECTION_ID.
 */
uint64_t hv_hypercall(struct hv *hv, uint32_t vp_index, uint64_t rcx, uint64_t rdx, uint64_t r8);

/*
 * A doorbell write that reached userspace (no ioeventfd for that port yet, or
 * none at all): perform the fast HvSignalEvent it stands for. Returns the
 * hypercall status to put in RAX (the stub's next instruction is RET).
 */
uint64_t hv_doorbell(struct hv *hv, uint32_t vp_index, uint16_t port);

/* Register a guest->host port: [first_id, first_id + count) for messages or
 * events. -EEXIST on overlap, -ENOSPC when the table is full. Call before the
 * VM runs. */
int hv_register_msg_port(struct hv *hv, uint32_t first_id, uint32_t count, hv_post_msg_fn fn,
			 void *opaque) MUST_CHECK;
int hv_register_event_port(struct hv *hv, uint32_t first_id, uint32_t count,
			   hv_signal_event_fn fn, void *opaque) MUST_CHECK;

/*
 * Host -> guest SynIC message to (vp_index, sint). If the slot is busy or the
 * SynIC is not yet enabled the message is queued and delivered on EOM, when
 * the guest enables SIMP/SINT/SCONTROL, or on hv_synic_retry(). Injects the
 * SINT vector unless the SINT is masked. message_type must be non-zero.
 * Returns 0, -EINVAL (bad args), -ERANGE (bad VP), -ENOBUFS (queue full).
 */
int hv_synic_post_message(struct hv *hv, uint32_t vp_index, uint8_t sint, uint32_t message_type,
			  const void *payload, size_t len) MUST_CHECK;

/*
 * Set event flag `flag` of (vp_index, sint) with an atomic OR in the SIEFP
 * page and inject the SINT vector if the bit was clear. Returns 0, or
 * -EAGAIN when the SynIC/SIEFP/SINT is not enabled (the flag is dropped, as
 * on Hyper-V), -EINVAL/-ERANGE on bad arguments, -EFAULT if SIEFP is not RAM.
 */
int hv_synic_signal_event(struct hv *hv, uint32_t vp_index, uint8_t sint, uint32_t flag) MUST_CHECK;

/* Drop the messages still queued (not the one in the slot) for (vp, sint).
 * For a new VMBus connection after kexec/kdump without UNLOAD: stale
 * messages of the old kernel must not reach the new one. */
void hv_synic_flush_queue(struct hv *hv, uint32_t vp_index, uint8_t sint);

/* Try again to deliver queued messages on every VP (cheap; e.g. from a timer
 * as a safety net for guests that free slots without EOM). */
void hv_synic_retry(struct hv *hv);

/* Partition reference time in 100 ns units (what TIME_REF_COUNT returns). */
uint64_t hv_ref_time(struct hv *hv);

/* Counters for diagnostics. */
struct hv_stats {
	uint64_t hypercalls, hypercall_errors;
	uint64_t msgs_posted, msgs_queued, msgs_dropped;
	uint64_t events_signalled, irqs_injected, irq_errors;
	uint64_t msr_gp;
	uint64_t eoi_msr;          /* EOI writes that came to us (not lazy) */
	uint64_t eoi_assist_fail;  /* VP assist pages the LAPIC could not use */
};
void hv_get_stats(struct hv *hv, struct hv_stats *ret_stats);

/* Reference-TSC scale for a TSC frequency: ((10^7 << 64) / tsc_hz). */
uint64_t hv_tsc_scale(uint64_t tsc_hz);

#endif
