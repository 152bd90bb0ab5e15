// SPDX-License-Identifier: MIT
/* See acpi.h. Field offsets are from the ACPI 6.4 specification, section 5.2. */
#include "acpi/acpi.h"

#include <errno.h>
#include <string.h>

#include "acpi/aml.h"
#include "base/util.h"

#define OEM_ID "OPENHV"
#define OEM_TABLE_ID "OPENHVPT"
#define CREATOR_ID "OHV "

/* Generic Address Structure address space ids. */
#define GAS_SYSTEM_IO 1

/* FADT flags (5.2.9, table 5.10). */
#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_PWR_BUTTON (1u << 4)
#define FADT_SLP_BUTTON (1u << 5)
#define FADT_RTC_S4 (1u << 7)
#define FADT_TMR_VAL_EXT (1u << 8)
#define FADT_RESET_REG_SUP (1u << 10)

uint8_t acpi_checksum(const uint8_t *buf, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + buf[i]);
	return (uint8_t)(0 - sum);
}

/* Bump allocator over the output buffer; tables 16-byte aligned (FACS 64). */
struct acpi_out {
	uint8_t *buf;
	size_t len, used;
	uint64_t base;
	int err;
};

static uint8_t *acpi_alloc(struct acpi_out *o, size_t n, size_t align, uint64_t *ret_gpa)
{
	size_t off = (o->used + align - 1) & ~(align - 1);

	if (o->err || off > o->len || n > o->len - off) {
		o->err = -ENOSPC;
		return NULL;
	}
	o->used = off + n;
	*ret_gpa = o->base + off;
	memset(o->buf + off, 0, n);
	return o->buf + off;
}

static void acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put_le32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put_le32(t + 24, 1);             /* OEM revision */
	memcpy(t + 28, CREATOR_ID, 4);
	put_le32(t + 32, 1);             /* creator revision */
}

static void acpi_finish(uint8_t *t, uint32_t len)
{
	t[9] = 0;
	t[9] = acpi_checksum(t, len);
}

static void gas_io(uint8_t *p, uint8_t bits, uint16_t port)
{
	p[0] = GAS_SYSTEM_IO;
	p[1] = bits;
	p[2] = 0;
	p[3] = bits == 8 ? 1 : bits == 16 ? 2 : 3; /* access size: byte/word/dword */
	put_le64(p + 4, port);
}

static int build_dsdt(const struct acpi_config *cfg, struct aml *dsdt)
{
	struct aml s5, sb, vmod, vmbs, obj;
	uint64_t s5v[4] = { cfg->s5_typ, cfg->s5_typ, 0, 0 };
	int r;

	aml_init(&s5);
	aml_init(&sb);
	aml_package_ints(&s5, s5v, 4);
	/* \_S5: the soft-off sleep state. Only S5 is defined (no S3/S4). */
	aml_name(dsdt, "\\_S5_", &s5);

	if (cfg->vmbus) {
		/*
		 * The VMBus device sits inside a module device (ACPI0004), as on
		 * Hyper-V. Its _CRS must exist and may be empty; no interrupt
		 * resource (VMBus uses a fixed vector), see hyperv-guest-interface §2.1.
		 */
		aml_init(&vmod);
		aml_init(&vmbs);
		aml_init(&obj);
		aml_name_int(&vmbs, "_STA", 0x0f);
		aml_name_str(&vmbs, "_HID", "VMBus");
		aml_name_int(&vmbs, "_UID", 0);
		aml_resource_template(&obj, NULL, 0);
		aml_name(&vmbs, "_CRS", &obj);
		aml_name_str(&vmod, "_HID", "ACPI0004");
		aml_name_int(&vmod, "_UID", 0);
		aml_device(&vmod, "VMBS", &vmbs);
		aml_device(&sb, "VMOD", &vmod);
		r = vmod.err | vmbs.err | obj.err;
		aml_free(&vmod);
		aml_free(&vmbs);
		aml_free(&obj);
		if (r)
			sb.err = r;
	}
	aml_scope(dsdt, "\\_SB_", &sb);
	r = dsdt->err | s5.err | sb.err;
	aml_free(&s5);
	aml_free(&sb);
	return r;
}

int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t len, uint64_t base,
	       uint64_t *ret_rsdp_gpa)
{
	struct acpi_out o = { .buf = buf, .len = len, .base = base };
	uint64_t rsdp_gpa, xsdt_gpa, rsdt_gpa, fadt_gpa, facs_gpa, dsdt_gpa, madt_gpa;
	uint8_t *rsdp, *xsdt, *rsdt, *fadt, *facs, *dsdt, *madt, *p;
	struct aml aml;
	uint32_t madt_len;
	int r;

	if (!cfg->n_cpus || cfg->n_cpus > 255)
		return -EINVAL;

	rsdp = acpi_alloc(&o, ACPI_RSDP_LEN, 16, &rsdp_gpa);
	facs = acpi_alloc(&o, 64, 64, &facs_gpa);

	aml_init(&aml);
	r = build_dsdt(cfg, &aml);
	if (r) {
		aml_free(&aml);
		return r;
	}
	dsdt = acpi_alloc(&o, ACPI_HDR_LEN + aml.len, 16, &dsdt_gpa);
	if (dsdt) {
		acpi_header(dsdt, "DSDT", (uint32_t)(ACPI_HDR_LEN + aml.len), 2);
		memcpy(dsdt + ACPI_HDR_LEN, aml.b, aml.len);
		acpi_finish(dsdt, (uint32_t)(ACPI_HDR_LEN + aml.len));
	}
	aml_free(&aml);

	fadt = acpi_alloc(&o, ACPI_FADT_LEN, 16, &fadt_gpa);
	madt_len = ACPI_HDR_LEN + 8 + 8 * cfg->n_cpus + (cfg->ioapic_addr ? 12 : 0) + 10 + 6;
	madt = acpi_alloc(&o, madt_len, 16, &madt_gpa);
	xsdt = acpi_alloc(&o, ACPI_HDR_LEN + 2 * 8, 16, &xsdt_gpa);
	rsdt = acpi_alloc(&o, ACPI_HDR_LEN + 2 * 4, 16, &rsdt_gpa);
	if (o.err)
		return o.err;

	/* FACS (5.2.10): no checksum, no waking vector; the hardware signature is 0. */
	memcpy(facs, "FACS", 4);
	put_le32(facs + 4, 64);
	facs[32] = 2; /* version */

	/* FADT (5.2.9), full (not hardware-reduced) model. */
	acpi_header(fadt, "FACP", ACPI_FADT_LEN, 6);
	/* FIRMWARE_CTRL stays 0: X_FIRMWARE_CTRL below is the one to use (5.2.9). */
	put_le32(fadt + 40, (uint32_t)dsdt_gpa);
	fadt[45] = 0;                                   /* preferred PM profile: unspecified */
	put_le16(fadt + 46, cfg->sci_irq);
	put_le32(fadt + 48, 0);                            /* no SMI_CMD: always in ACPI mode */
	put_le32(fadt + 56, cfg->pm_base);                 /* PM1a_EVT_BLK */
	put_le32(fadt + 64, cfg->pm_base + 4u);            /* PM1a_CNT_BLK */
	put_le32(fadt + 76, cfg->pm_base + 8u);            /* PM_TMR_BLK */
	fadt[88] = 4;                                   /* PM1_EVT_LEN */
	fadt[89] = 2;                                   /* PM1_CNT_LEN */
	fadt[91] = 4;                                   /* PM_TMR_LEN */
	put_le16(fadt + 96, 0x0fff);                       /* P_LVL2_LAT: C2 not supported */
	put_le16(fadt + 98, 0x0fff);                       /* P_LVL3_LAT: C3 not supported */
	fadt[108] = 0x32;                               /* CMOS century register */
	/* IAPC_BOOT_ARCH: no 8042 (so Linux does not probe a keyboard), no VGA, MSI fine. */
	put_le16(fadt + 109, 1u << 2);
	put_le32(fadt + 112, FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON |
				  FADT_TMR_VAL_EXT | FADT_RESET_REG_SUP);
	gas_io(fadt + 116, 8, cfg->reset_port);
	fadt[128] = cfg->reset_value;
	fadt[131] = 4;                                  /* FADT minor version: 6.4 */
	put_le64(fadt + 132, facs_gpa);                    /* X_FIRMWARE_CTRL */
	put_le64(fadt + 140, dsdt_gpa);                    /* X_DSDT */
	gas_io(fadt + 148, 32, cfg->pm_base);           /* X_PM1a_EVT_BLK */
	gas_io(fadt + 172, 16, (uint16_t)(cfg->pm_base + 4)); /* X_PM1a_CNT_BLK */
	gas_io(fadt + 208, 32, (uint16_t)(cfg->pm_base + 8)); /* X_PM_TMR_BLK */
	memcpy(fadt + 268, "OpenHV  ", 8);              /* hypervisor vendor identity */
	acpi_finish(fadt, ACPI_FADT_LEN);

	/* MADT (5.2.12). */
	acpi_header(madt, "APIC", madt_len, 5);
	put_le32(madt + 36, 0xfee00000u);                  /* local APIC address */
	put_le32(madt + 40, 1);                            /* PCAT_COMPAT: dual 8259s present */
	p = madt + 44;
	for (unsigned int i = 0; i < cfg->n_cpus; i++, p += 8) {
		p[0] = 0;                               /* processor local APIC */
		p[1] = 8;
		p[2] = (uint8_t)i;                      /* ACPI processor UID */
		p[3] = (uint8_t)i;                      /* APIC id */
		put_le32(p + 4, 1);                        /* enabled */
	}
	if (cfg->ioapic_addr) {
		p[0] = 1;                               /* I/O APIC */
		p[1] = 12;
		p[2] = cfg->ioapic_id;
		put_le32(p + 4, cfg->ioapic_addr);
		put_le32(p + 8, 0);                        /* GSI base */
		p += 12;
	}
	/* SCI: ISA IRQ sci_irq is level-triggered, active high, on the same GSI. */
	p[0] = 2;
	p[1] = 10;
	p[2] = 0;
	p[3] = cfg->sci_irq;
	put_le32(p + 4, cfg->sci_irq);
	put_le16(p + 8, 0x000d);                           /* polarity high (01), trigger level (11) */
	p += 10;
	/* LINT1 of every processor is the NMI input. */
	p[0] = 4;
	p[1] = 6;
	p[2] = 0xff;                                    /* all processors */
	put_le16(p + 3, 0);
	p[5] = 1;                                       /* LINT1 */
	acpi_finish(madt, madt_len);

	acpi_header(xsdt, "XSDT", ACPI_HDR_LEN + 16, 1);
	put_le64(xsdt + 36, fadt_gpa);
	put_le64(xsdt + 44, madt_gpa);
	acpi_finish(xsdt, ACPI_HDR_LEN + 16);

	acpi_header(rsdt, "RSDT", ACPI_HDR_LEN + 8, 1);
	put_le32(rsdt + 36, (uint32_t)fadt_gpa);
	put_le32(rsdt + 40, (uint32_t)madt_gpa);
	acpi_finish(rsdt, ACPI_HDR_LEN + 8);

	/* RSDP (5.2.5), revision 2. */
	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, OEM_ID, 6);
	rsdp[15] = 2;
	put_le32(rsdp + 16, (uint32_t)rsdt_gpa);
	put_le32(rsdp + 20, ACPI_RSDP_LEN);
	put_le64(rsdp + 24, xsdt_gpa);
	rsdp[8] = acpi_checksum(rsdp, 20);
	rsdp[32] = acpi_checksum(rsdp, ACPI_RSDP_LEN);

	*ret_rsdp_gpa = rsdp_gpa;
	return 0;
}
