/* SPDX-License-Identifier: MIT */
/*
 * The partition layer: a thin "hypervisor interface" over KVM in Hyper-V
 * terms. A child partition has guest memory (mapped as KVM memory slots,
 * i.e. second-level address translation), an interrupt controller (in-kernel
 * PIC/IOAPIC/LAPIC and PIT), and virtual processors that each run on their
 * own thread. VP exits are dispatched by a table indexed by exit reason;
 * port I/O goes to an iobus; guest power events and fatal exits end the run.
 *
 * This is the only code (with src/kvm) that includes <linux/kvm.h>.
 * Threads: part_start() creates one thread per VP. part_request_stop(),
 * part_pause(), part_resume() and part_wait() are for one controlling thread.
 */
#ifndef OPENHV_PART_H
#define OPENHV_PART_H

#include <stdbool.h>
#include <stdint.h>

#include "boot/boot.h"
#include "dev/iobus.h"
#include "gm/gm.h"

/* Why the partition stopped running. */
enum part_stop {
	PART_RUNNING = 0,
	PART_STOP_POWEROFF,   /* guest powered off (ACPI S5) */
	PART_STOP_RESET,      /* guest asked for a reset */
	PART_STOP_REQUESTED,  /* host asked (part_request_stop) */
	PART_STOP_CRASH,      /* triple fault, internal error, entry failure */
	PART_STOP_ERROR,      /* host-side failure (KVM_RUN error) */
};

struct part;
struct vp;

/* One CPUID leaf, as the partition layer passes it to hooks (no KVM types). */
struct cpuid_leaf {
	uint32_t function, index, flags;
	uint32_t eax, ebx, ecx, edx;
};

/*
 * Optional per-partition hooks for enlightenments. All run on VP threads.
 * msr_read/msr_write return 0 or a negative value meaning "inject #GP".
 * pio_hook is called for writes to hook_port with the VP (so it can read and
 * change registers through part_vp_get_regs/part_vp_set_regs).
 * doorbell_hook is called for writes to ports [doorbell_first, doorbell_first
 * + doorbell_count) that no ioeventfd (part_doorbell) consumed in the kernel.
 */
struct part_hooks {
	void *opaque;
	void (*cpuid)(void *opaque, unsigned int vp_index, struct cpuid_leaf *leaves,
		      unsigned int *n, unsigned int max);
	uint32_t msr_first;       /* MSRs [first, first + count) exit to userspace */
	uint32_t msr_count;       /* 0 = none */
	int (*msr_read)(void *opaque, unsigned int vp_index, uint32_t msr, uint64_t *val);
	int (*msr_write)(void *opaque, unsigned int vp_index, uint32_t msr, uint64_t val);
	uint16_t hook_port;
	void (*pio_hook)(void *opaque, struct vp *vp);
	uint16_t doorbell_first;
	uint16_t doorbell_count;  /* 0 = none */
	void (*doorbell_hook)(void *opaque, struct vp *vp, uint16_t port);
};

struct part_config {
	unsigned int n_vps;
	int kvm_fd;                      /* open /dev/kvm (borrowed) */
	struct gm *gm;                   /* borrowed; must outlive the partition */
	struct iobus *iobus;             /* borrowed */
	const struct part_hooks *hooks;  /* may be NULL */
};

/* Create the partition: VM, memory slots, irqchip, PIT, VPs. err: one line for people. */
int part_create(const struct part_config *cfg, struct part **ret, char *err, size_t errlen);
void part_destroy(struct part *p);

/* Put the boot processor (VP 0) into the state the loader computed. */
int part_set_boot_regs(struct part *p, const struct boot_regs *regs);

/* Drive an interrupt line (GSI) of the in-kernel interrupt controller. */
void part_irq_line(void *part, unsigned int gsi, int level);
/* Send a fixed interrupt with vector to the LAPIC of VP vp_index (MSI message). */
int part_send_vector(struct part *p, unsigned int vp_index, uint8_t vector);

/*
 * Read or write an MSR of VP vp_index as the host (KVM_GET/SET_MSRS: the MSR
 * filter does not apply). From that VP's own thread, e.g. inside an exit
 * handler, or while the VPs are stopped. 0, or -EINVAL when KVM refused the
 * value or the MSR, -errno on other failures.
 */
int part_vp_msr(struct part *p, unsigned int vp_index, uint32_t msr, bool write, uint64_t *val);

/*
 * Whether KVM on this host virtualizes the APIC in hardware (Intel APICv:
 * kvm_intel.enable_apicv, AMD AVIC: kvm_amd.avic). Then a guest's EOI writes
 * mostly do not exit at all, and paravirtual EOI schemes only get in the
 * way. From the module parameters in /sys; false when they cannot be read.
 */
bool part_host_apic_virtualization(void);

/*
 * Doorbell: a one-byte guest write to I/O port `port` signals eventfd
 * `fd` inside KVM, without leaving the kernel (KVM_IOEVENTFD). assign=false
 * removes it again. Any thread.
 */
int part_doorbell(struct part *p, uint16_t port, int fd, bool assign);

int part_start(struct part *p);
/* End the run with this reason (first reason wins); safe from VP threads and device callbacks. */
void part_stop(struct part *p, enum part_stop why, const char *detail);
int part_pause(struct part *p);
int part_resume(struct part *p);
/* Wait for all VPs to leave; returns the stop reason. */
enum part_stop part_wait(struct part *p);
const char *part_stop_detail(const struct part *p);

/* For pio_hook: general registers of the VP that exited. */
struct vp_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
};
int part_vp_get_regs(struct vp *vp, struct vp_regs *regs);
int part_vp_set_regs(struct vp *vp, const struct vp_regs *regs);
unsigned int part_vp_index(const struct vp *vp);

/* Guest TSC frequency in kHz (KVM_GET_TSC_KHZ), 0 if unknown. */
uint64_t part_tsc_khz(const struct part *p);
/* The TSC value VP vp_index reads now (host TSC plus that VP's offset). Any thread. */
uint64_t part_guest_tsc(const struct part *p, unsigned int vp_index);

/* Host capability probe: 0, or -errno with one line for people in err. */
int part_open_kvm(int *ret_fd, char *err, size_t errlen);

#endif
