/* SPDX-License-Identifier: MIT */
/*
 * Direct Linux boot without firmware: parse and place a bzImage, the
 * initramfs and the command line in guest memory, build the zero page with
 * an e820 map, identity page tables and a GDT, and return the register state
 * for the 64-bit entry point. Uses guest memory only; the partition layer
 * applies the registers to the boot processor.
 */
#ifndef OPENHV_BOOT_H
#define OPENHV_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "gm/gm.h"

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Guest-physical layout used by the loader (below 1 MiB). */
#define BOOT_GDT_GPA 0x500
#define BOOT_ZERO_PAGE_GPA 0x7000
#define BOOT_PML4_GPA 0x9000
#define BOOT_PDPT_GPA 0xa000
#define BOOT_PD_GPA 0xb000        /* 4 pages: identity map of the first 4 GiB with 2 MiB pages */
#define BOOT_CMDLINE_GPA 0x20000
#define BOOT_CMDLINE_MAX 0x10000
#define BOOT_EBDA_GPA 0x9fc00
#define BOOT_BIOS_GPA 0xe0000     /* ACPI tables live here, up to 1 MiB */
#define BOOT_BIOS_LEN 0x20000
#define BOOT_KERNEL_GPA 0x100000

/* What the boot processor starts with (64-bit boot protocol). */
struct boot_regs {
	uint64_t rip, rsi, rsp, rflags;
	uint64_t cr0, cr3, cr4, efer;
	uint64_t gdt_base;
	uint16_t gdt_limit;
	uint16_t cs_sel, ds_sel;
};

struct boot_image {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd; /* may be NULL */
	size_t initrd_len;
	const char *cmdline;   /* may be NULL */
	uint64_t rsdp_gpa;     /* 0 = none */
};

/*
 * Check that buf is a bzImage we can boot (boot protocol >= 2.12 with a
 * 64-bit entry point). Returns 0 or -ENOEXEC with a reason in err.
 */
int boot_check_bzimage(const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Fill e820 for RAM [0, low) and [4 GiB, 4 GiB + high). Returns the count. */
unsigned int boot_e820(uint64_t low, uint64_t high, struct e820_entry *out, unsigned int max);

/*
 * Place everything in guest memory and compute the boot registers. Errors
 * (-ENOEXEC, -ENOSPC, -E2BIG) come with one line in err.
 */
int boot_linux(const struct gm *gm, const struct boot_image *img, struct boot_regs *ret_regs,
	       char *err, size_t errlen);

#endif
