/* SPDX-License-Identifier: MIT */
/*
 * Hyper-V Top-Level Functional Specification constants and guest-visible
 * layouts used by the userspace enlightenments: CPUID leaves and feature bits,
 * synthetic MSR numbers, hypercall codes and status values, the SynIC message
 * slot and the reference-TSC page. Names follow the TLFS / Linux spelling so
 * that `grep HV_X64_MSR_SIMP` finds every use across projects.
 *
 * Layouts only, no code. Everything is little-endian. Values and the subset
 * the Linux 6.1 guest uses are documented in
 * /work/shared/reference/hyperv-guest-interface.md sections 1.2-1.8 and 10.3.
 */
#ifndef OPENHV_HV_DEFS_H
#define OPENHV_HV_DEFS_H

#include <stdint.h>

/* ---- CPUID leaves (TLFS "Feature and Interface Discovery") ---- */
#define HV_CPUID_VENDOR_AND_MAX_FUNCTIONS 0x40000000u
#define HV_CPUID_INTERFACE 0x40000001u
#define HV_CPUID_VERSION 0x40000002u
#define HV_CPUID_FEATURES 0x40000003u
#define HV_CPUID_ENLIGHTMENT_INFO 0x40000004u
#define HV_CPUID_IMPLEMENT_LIMITS 0x40000005u
#define HV_CPUID_MAX_LEAF 0x4000000Au

#define HV_CPUID_SIGNATURE_EBX 0x7263694Du /* "Micr" */
#define HV_CPUID_SIGNATURE_ECX 0x666F736Fu /* "osof" */
#define HV_CPUID_SIGNATURE_EDX 0x76482074u /* "t Hv" */
#define HV_CPUID_INTERFACE_HV1 0x31237648u /* "Hv#1" */

/* 0x40000003.EAX: partition privilege mask, low half (group A). */
#define HV_MSR_VP_RUNTIME_AVAILABLE (1u << 0)
#define HV_MSR_TIME_REF_COUNT_AVAILABLE (1u << 1)
#define HV_MSR_SYNIC_AVAILABLE (1u << 2)
#define HV_MSR_SYNTIMER_AVAILABLE (1u << 3)
#define HV_MSR_APIC_ACCESS_AVAILABLE (1u << 4)
#define HV_MSR_HYPERCALL_AVAILABLE (1u << 5)
#define HV_MSR_VP_INDEX_AVAILABLE (1u << 6)
#define HV_MSR_RESET_AVAILABLE (1u << 7)
#define HV_MSR_REFERENCE_TSC_AVAILABLE (1u << 9)
#define HV_MSR_GUEST_IDLE_AVAILABLE (1u << 10)
#define HV_ACCESS_FREQUENCY_MSRS (1u << 11)
#define HV_ACCESS_REENLIGHTENMENT (1u << 13)
#define HV_ACCESS_TSC_INVARIANT (1u << 15)

/* 0x40000003.EBX: partition privilege mask, high half (group B). */
#define HV_ACCESS_PARTITION_ID (1u << 1)
#define HV_POST_MESSAGES (1u << 4)
#define HV_SIGNAL_EVENTS (1u << 5)
#define HV_CPU_MANAGEMENT (1u << 12)
#define HV_ISOLATION (1u << 22)

/* 0x40000003.EDX: miscellaneous features (group D). */
#define HV_FEATURE_FREQUENCY_MSRS_AVAILABLE (1u << 8)
#define HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE (1u << 10)

/* 0x40000004.EAX: implementation recommendations. */
#define HV_X64_APIC_ACCESS_RECOMMENDED (1u << 3) /* EOI via MSR + lazy EOI (VP assist) */
#define HV_DEPRECATING_AEOI_RECOMMENDED (1u << 9)

/* ---- Synthetic MSRs ---- */
#define HV_X64_MSR_GUEST_OS_ID 0x40000000u
#define HV_X64_MSR_HYPERCALL 0x40000001u
#define HV_X64_MSR_VP_INDEX 0x40000002u
#define HV_X64_MSR_RESET 0x40000003u
#define HV_X64_MSR_VP_RUNTIME 0x40000010u
#define HV_X64_MSR_TIME_REF_COUNT 0x40000020u
#define HV_X64_MSR_REFERENCE_TSC 0x40000021u
#define HV_X64_MSR_TSC_FREQUENCY 0x40000022u
#define HV_X64_MSR_APIC_FREQUENCY 0x40000023u
#define HV_X64_MSR_EOI 0x40000070u  /* APIC access MSRs: xAPIC register layout */
#define HV_X64_MSR_ICR 0x40000071u
#define HV_X64_MSR_TPR 0x40000072u
#define HV_X64_MSR_VP_ASSIST_PAGE 0x40000073u
#define HV_X64_MSR_SCONTROL 0x40000080u
#define HV_X64_MSR_SVERSION 0x40000081u
#define HV_X64_MSR_SIEFP 0x40000082u
#define HV_X64_MSR_SIMP 0x40000083u
#define HV_X64_MSR_EOM 0x40000084u
#define HV_X64_MSR_SINT0 0x40000090u
#define HV_X64_MSR_SINT15 0x4000009Fu
#define HV_X64_MSR_CRASH_P0 0x40000100u
#define HV_X64_MSR_CRASH_P4 0x40000104u
#define HV_X64_MSR_CRASH_CTL 0x40000105u
#define HV_X64_MSR_TSC_INVARIANT_CONTROL 0x40000118u

/* The whole synthetic range the partition layer routes to userspace. */
#define HV_X64_MSR_RANGE_FIRST 0x40000000u
#define HV_X64_MSR_RANGE_COUNT 0x200u

/* Bit layout shared by the page MSRs (HYPERCALL, REFERENCE_TSC, VP_ASSIST, SIMP, SIEFP). */
#define HV_MSR_PAGE_ENABLE (1ull << 0)
#define HV_MSR_HYPERCALL_LOCKED (1ull << 1)
#define HV_MSR_PAGE_PFN_SHIFT 12
#define HV_MSR_PAGE_LOW_MASK 0xFFFull

/* VP assist page: bit 0 of its first 32-bit word ("APIC assist") says the
 * interrupt being handled needs no EOI write (lazy EOI). */
#define HV_VP_ASSIST_APIC_ASSIST_OFFSET 0u

#define HV_SCONTROL_ENABLE (1ull << 0)
#define HV_SVERSION_VALUE 1ull

/* SINTx register. */
#define HV_SINT_VECTOR_MASK 0xFFull
#define HV_SINT_MASKED (1ull << 16)
#define HV_SINT_AUTO_EOI (1ull << 17)
#define HV_SINT_POLLING (1ull << 18)
#define HV_SINT_COUNT 16
#define HV_SINT_MIN_VECTOR 16

/* Crash MSRs. */
#define HV_CRASH_CTL_CRASH_NOTIFY (1ull << 63)
#define HV_CRASH_CTL_CRASH_NOTIFY_MSG (1ull << 62)
#define HV_CRASH_MSG_MAX_BYTES 4096u

/* ---- Hypercalls ---- */
#define HVCALL_POST_MESSAGE 0x005Cu
#define HVCALL_SIGNAL_EVENT 0x005Du

/* Hypercall input value (RCX) fields. */
#define HV_HYPERCALL_CODE_MASK 0xFFFFull
#define HV_HYPERCALL_FAST_BIT (1ull << 16)
#define HV_HYPERCALL_VARHEAD_SHIFT 17
#define HV_HYPERCALL_VARHEAD_MASK (0x3FFull << 17)
#define HV_HYPERCALL_RSVD0_MASK (0x1Full << 27)
#define HV_HYPERCALL_REP_COUNT_MASK (0xFFFull << 32)
#define HV_HYPERCALL_RSVD1_MASK (0xFull << 44)
#define HV_HYPERCALL_REP_START_MASK (0xFFFull << 48)
#define HV_HYPERCALL_RSVD2_MASK (0xFull << 60)

/* Hypercall result values (RAX bits 0-15). */
#define HV_STATUS_SUCCESS 0u
#define HV_STATUS_INVALID_HYPERCALL_CODE 2u
#define HV_STATUS_INVALID_HYPERCALL_INPUT 3u
#define HV_STATUS_INVALID_ALIGNMENT 4u
#define HV_STATUS_INVALID_PARAMETER 5u
#define HV_STATUS_ACCESS_DENIED 6u
#define HV_STATUS_OPERATION_DENIED 8u
#define HV_STATUS_INSUFFICIENT_MEMORY 11u
#define HV_STATUS_INVALID_PORT_ID 17u
#define HV_STATUS_INVALID_CONNECTION_ID 18u
#define HV_STATUS_INSUFFICIENT_BUFFERS 19u

#define HV_CONNECTION_ID_MASK 0x00FFFFFFu
#define HV_EVENT_FLAGS_COUNT 2048u

/* ---- SynIC message page ---- */
#define HV_MESSAGE_SIZE 256u
#define HV_MESSAGE_PAYLOAD_BYTES 240u
#define HVMSG_NONE 0u
#define HV_MESSAGE_FLAG_PENDING 0x01u
/* Message types with bit 31 set are reserved for the hypervisor itself. */
#define HV_MESSAGE_TYPE_HYPERVISOR_MASK 0x80000000u

/* One slot of the SynIC message page (SIMP), one per SINT, 256 bytes. */
struct hv_message_wire {
	uint32_t message_type;  /* 0 = slot empty; the host writes it last */
	uint8_t payload_size;   /* bytes of payload, <= 240 */
	uint8_t message_flags;  /* bit 0: another message is pending (send EOM) */
	uint16_t reserved;
	uint64_t sender;        /* port id, ignored by Linux */
	uint8_t payload[HV_MESSAGE_PAYLOAD_BYTES];
};
_Static_assert(sizeof(struct hv_message_wire) == 256, "hv_message layout");
_Static_assert(__builtin_offsetof(struct hv_message_wire, message_flags) == 5, "flags offset");
_Static_assert(__builtin_offsetof(struct hv_message_wire, payload) == 16, "payload offset");

/* HvPostMessage input block (guest memory, 256 bytes). */
struct hv_input_post_message_wire {
	uint32_t connection_id; /* bits 0-23 id, 24-31 reserved */
	uint32_t reserved;
	uint32_t message_type;  /* Linux passes 1 */
	uint32_t payload_size;  /* bytes, <= 240 */
	uint8_t payload[HV_MESSAGE_PAYLOAD_BYTES];
};
_Static_assert(sizeof(struct hv_input_post_message_wire) == 256, "post message layout");

/* HvSignalEvent input (fast: RDX; slow: 8 bytes in guest memory). */
struct hv_input_signal_event_wire {
	uint32_t connection_id; /* bits 0-23 id */
	uint16_t flag_number;   /* event flag inside the target SINT's bitmap */
	uint16_t reserved;
};
_Static_assert(sizeof(struct hv_input_signal_event_wire) == 8, "signal event layout");

/* Event flags page (SIEFP): 16 bitmaps of 2048 bits, one per SINT. */
#define HV_EVENT_FLAGS_BYTES 256u

/* Reference TSC page, used part (the rest of the page is zero). */
struct hv_ref_tsc_page_wire {
	uint32_t tsc_sequence;  /* 0 = invalid, guest falls back to TIME_REF_COUNT */
	uint32_t reserved1;
	uint64_t tsc_scale;     /* ref = ((tsc * scale) >> 64) + offset, 100 ns units */
	int64_t tsc_offset;
};
_Static_assert(sizeof(struct hv_ref_tsc_page_wire) == 24, "ref tsc page layout");

/* Linux guest OS id vendor field (bits 48-63 of GUEST_OS_ID). */
#define HV_LINUX_VENDOR_ID 0x8100u

#endif
