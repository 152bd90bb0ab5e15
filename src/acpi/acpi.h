/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables for a child partition booted without firmware: RSDP, XSDT,
 * RSDT, FADT (full hardware model, revision 6), FACS, MADT and a DSDT built
 * with a tiny AML writer. Tables are laid out into a caller-supplied guest
 * buffer at a fixed guest-physical base. Pure: no KVM, no guest memory.
 * Layouts follow the ACPI 6.4 specification, chapter 5.
 */
#ifndef OPENHV_ACPI_H
#define OPENHV_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct acpi_config {
	unsigned int n_cpus;      /* one LAPIC entry each, APIC ids 0..n-1 */
	uint32_t ioapic_addr;     /* 0 = no IOAPIC entry */
	uint8_t ioapic_id;
	uint16_t pm_base;         /* PM1a event block; control at +4; timer at +8 */
	uint16_t reset_port;      /* FADT reset register (8-bit I/O write) */
	uint8_t reset_value;
	uint8_t sci_irq;
	uint8_t s5_typ;           /* SLP_TYP for \_S5 */
	bool vmbus;               /* add the VMBus ACPI device (\_SB.VMOD.VMBS) */
};

/*
 * Build all tables into buf (len bytes), which the guest will see at gpa
 * base. Returns 0 and the RSDP's guest address, or -ENOSPC.
 */
int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t len, uint64_t base,
	       uint64_t *ret_rsdp_gpa);

/* Checksum helper: the byte that makes the sum of buf[0..len) zero. */
uint8_t acpi_checksum(const uint8_t *buf, size_t len);

/* Table header size and signature offsets, for tests. */
#define ACPI_HDR_LEN 36
#define ACPI_FADT_LEN 276
#define ACPI_RSDP_LEN 36

#endif
