// SPDX-License-Identifier: MIT
/* See boot.h. Follows Documentation/x86/boot.rst ("64-bit boot protocol"). */
#include "boot/boot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "boot/boot_proto.h"

int boot_check_bzimage(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	unsigned int setup_sects;
	uint16_t version;

	if (len < 0x1000 || get_le32(buf + SH_HEADER) != HDRS_MAGIC || get_le16(buf + SH_BOOT_FLAG) != 0xaa55)
		return errf(err, errlen, -ENOEXEC,
			    "not a Linux bzImage (no boot-protocol header); pass a kernel such as /boot/vmlinuz-*");
	version = get_le16(buf + SH_VERSION);
	if (version < 0x20c)
		return errf(err, errlen, -ENOEXEC,
			    "bzImage boot protocol %u.%02u is too old; 2.12 or later (Linux 3.8+) is needed",
			    version >> 8, version & 0xff);
	if (!(get_le16(buf + SH_XLOADFLAGS) & XLF_KERNEL_64))
		return errf(err, errlen, -ENOEXEC,
			    "bzImage has no 64-bit entry point; a 64-bit (x86_64) kernel is needed");
	setup_sects = buf[SH_SETUP_SECTS] ? buf[SH_SETUP_SECTS] : 4;
	/* syssize: size of the protected-mode code in 16-byte paragraphs */
	if ((setup_sects + 1) * 512ULL >= len ||
	    len - (setup_sects + 1) * 512ULL < get_le32(buf + SH_SYSSIZE) * 16ULL)
		return errf(err, errlen, -ENOEXEC,
			    "bzImage is truncated (the header says it is longer than the file)");
	return 0;
}

unsigned int boot_e820(uint64_t low, uint64_t high, struct e820_entry *out, unsigned int max)
{
	unsigned int n = 0;

#define E820_ADD(a, s, t)                                                        \
	do {                                                                     \
		if (n < max)                                                     \
			out[n++] = (struct e820_entry){ .addr = (a), .size = (s), .type = (t) }; \
	} while (0)
	E820_ADD(0, BOOT_EBDA_GPA, E820_RAM);
	E820_ADD(BOOT_EBDA_GPA, 0xa0000 - BOOT_EBDA_GPA, E820_RESERVED);
	E820_ADD(BOOT_BIOS_GPA, BOOT_BIOS_LEN, E820_RESERVED);
	if (low > BOOT_KERNEL_GPA)
		E820_ADD(BOOT_KERNEL_GPA, low - BOOT_KERNEL_GPA, E820_RAM);
	if (high)
		E820_ADD(4 * GiB, high, E820_RAM);
#undef E820_ADD
	return n;
}

/* Identity map of the first 4 GiB with 2 MiB pages, and a flat GDT. */
static int boot_write_tables(const struct gm *gm)
{
	uint64_t pml4[512] = { 0 }, pdpt[512] = { 0 }, pd[512];
	/* null, null, 64-bit code (0x10), data (0x18), as the boot protocol expects */
	static const uint64_t gdt[4] = { 0, 0, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL };
	int r;

	pml4[0] = BOOT_PDPT_GPA | 0x03;
	for (unsigned int i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD_GPA + i * 0x1000ULL) | 0x03;
	r = gm_write(gm, BOOT_PML4_GPA, pml4, sizeof(pml4));
	r = r ?: gm_write(gm, BOOT_PDPT_GPA, pdpt, sizeof(pdpt));
	for (unsigned int i = 0; i < 4 && !r; i++) {
		for (unsigned int k = 0; k < 512; k++)
			pd[k] = ((uint64_t)i * GiB + (uint64_t)k * 2 * MiB) | 0x83; /* P, RW, PS */
		r = gm_write(gm, BOOT_PD_GPA + i * 0x1000ULL, pd, sizeof(pd));
	}
	return r ?: gm_write(gm, BOOT_GDT_GPA, gdt, sizeof(gdt));
}

int boot_linux(const struct gm *gm, const struct boot_image *img, struct boot_regs *ret_regs,
	       char *err, size_t errlen)
{
	const uint8_t *k = img->kernel;
	uint8_t zp[BP_SIZE] = { 0 };
	struct e820_entry e820[BP_E820_MAX];
	unsigned int setup_sects, hdr_end, n_e820;
	uint64_t pm_off, pm_len, init_size, low_top, initrd_max, initrd_gpa = 0;
	uint32_t cmdline_max;
	size_t cmdlen;
	char buf[32];
	int r;

	r = boot_check_bzimage(k, img->kernel_len, err, errlen);
	if (r)
		return r;
	setup_sects = k[SH_SETUP_SECTS] ? k[SH_SETUP_SECTS] : 4;
	pm_off = (setup_sects + 1) * 512ULL;
	pm_len = img->kernel_len - pm_off;
	init_size = MAX((uint64_t)get_le32(k + SH_INIT_SIZE), pm_len);

	/* Top of RAM below 4 GiB (region 0 always starts at 0). */
	low_top = gm->regions[0].len;
	if (BOOT_KERNEL_GPA + init_size > low_top)
		return errf(err, errlen, -ENOSPC,
			    "guest memory too small for this kernel: it needs %s below 4 GiB; raise --memory",
			    fmt_size(ALIGN_UP(BOOT_KERNEL_GPA + init_size, MiB) + 16 * MiB, buf, sizeof(buf)));
	r = gm_write(gm, BOOT_KERNEL_GPA, k + pm_off, pm_len);
	if (r)
		return errf(err, errlen, r, "cannot place the kernel in guest memory");

	/* Zero page: the setup header as the kernel carries it, then our fields. */
	hdr_end = 0x202 + k[SH_JUMP + 1];
	if (hdr_end > BP_E820_TABLE || hdr_end > img->kernel_len)
		hdr_end = 0x268;
	memcpy(zp + BP_HDR, k + BP_HDR, hdr_end - BP_HDR);
	put_le16(zp + SH_VID_MODE, 0xffff);               /* "normal" */
	zp[SH_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
	zp[SH_LOADFLAGS] |= LOADFLAG_LOADED_HIGH | LOADFLAG_CAN_USE_HEAP;
	put_le16(zp + SH_HEAP_END_PTR, 0xfe00);
	put_le32(zp + SH_CODE32_START, BOOT_KERNEL_GPA);

	/* Command line. */
	cmdline_max = get_le32(k + SH_CMDLINE_SIZE);
	cmdlen = img->cmdline ? strlen(img->cmdline) : 0;
	if (cmdlen > cmdline_max || cmdlen >= BOOT_CMDLINE_MAX)
		return errf(err, errlen, -E2BIG,
			    "kernel command line is %zu bytes; this kernel accepts at most %u",
			    cmdlen, cmdline_max);
	r = gm_fill(gm, BOOT_CMDLINE_GPA, 0, cmdlen + 1);
	r = r ?: gm_write(gm, BOOT_CMDLINE_GPA, img->cmdline ? img->cmdline : "", cmdlen);
	if (r)
		return errf(err, errlen, r, "cannot place the command line in guest memory");
	put_le32(zp + SH_CMD_LINE_PTR, BOOT_CMDLINE_GPA);

	/* Initramfs: as high as allowed below 4 GiB, above the kernel's area. */
	if (img->initrd && img->initrd_len) {
		initrd_max = get_le32(k + SH_INITRD_ADDR_MAX);
		if (!initrd_max)
			initrd_max = 0x37ffffff;
		initrd_max = MIN(initrd_max + 1, low_top);
		if (img->initrd_len > initrd_max)
			goto initrd_too_big;
		initrd_gpa = ALIGN_DOWN(initrd_max - img->initrd_len, 2 * MiB);
		if (initrd_gpa < ALIGN_UP(BOOT_KERNEL_GPA + init_size, 2 * MiB))
			goto initrd_too_big;
		r = gm_write(gm, initrd_gpa, img->initrd, img->initrd_len);
		if (r)
			return errf(err, errlen, r, "cannot place the initramfs in guest memory");
		put_le32(zp + SH_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
		put_le32(zp + SH_RAMDISK_SIZE, (uint32_t)img->initrd_len);
		put_le32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_gpa >> 32));
		put_le32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)img->initrd_len >> 32));
	}

	put_le64(zp + BP_ACPI_RSDP_ADDR, img->rsdp_gpa);
	n_e820 = boot_e820(gm->regions[0].len, gm->n_regions > 1 ? gm->regions[1].len : 0, e820,
			   BP_E820_MAX);
	zp[BP_E820_ENTRIES] = (uint8_t)n_e820;
	for (unsigned int i = 0; i < n_e820; i++) {
		uint8_t *e = zp + BP_E820_TABLE + i * 20;
		put_le64(e, e820[i].addr);
		put_le64(e + 8, e820[i].size);
		put_le32(e + 16, e820[i].type);
	}
	r = gm_write(gm, BOOT_ZERO_PAGE_GPA, zp, sizeof(zp));
	r = r ?: boot_write_tables(gm);
	if (r)
		return errf(err, errlen, r, "cannot write boot structures to guest memory");

	*ret_regs = (struct boot_regs){
		.rip = BOOT_KERNEL_GPA + 0x200, /* 64-bit entry: startup_64 */
		.rsi = BOOT_ZERO_PAGE_GPA,
		.rsp = 0,
		.rflags = 0x2,
		.cr0 = 0x80050033ULL,           /* PG, AM, WP, NE, ET, MP, PE */
		.cr3 = BOOT_PML4_GPA,
		.cr4 = 0x20,                    /* PAE */
		.efer = 0x500,                  /* LME, LMA */
		.gdt_base = BOOT_GDT_GPA,
		.gdt_limit = 4 * 8 - 1,
		.cs_sel = 0x10,
		.ds_sel = 0x18,
	};
	return 0;

initrd_too_big:
	return errf(err, errlen, -ENOSPC,
		    "guest memory too small for the kernel plus a %s initramfs; raise --memory",
		    fmt_size(img->initrd_len, buf, sizeof(buf)));
}
