// SPDX-License-Identifier: MIT
/* Unit tests for the boot loader, ACPI tables and platform device models (no KVM). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acpi/acpi.h"
#include "base/util.h"
#include "boot/boot.h"
#include "boot/boot_proto.h"
#include "dev/cmos_rtc.h"
#include "dev/iobus.h"
#include "dev/platform.h"
#include "dev/uart16550.h"
#include "gm/gm.h"
#include "t.h"

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* ---- ACPI --------------------------------------------------------------- */

static uint8_t acpi_buf[BOOT_BIOS_LEN];

static const uint8_t *acpi_at(uint64_t gpa)
{
	T_ASSERT(gpa >= BOOT_BIOS_GPA && gpa < BOOT_BIOS_GPA + BOOT_BIOS_LEN);
	return acpi_buf + (gpa - BOOT_BIOS_GPA);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static void check_table(const uint8_t *t, const char *sig)
{
	T_EXPECT_MEMEQ(t, sig, 4);
	T_EXPECT_EQ(sum(t, rd32(t + 4)), 0);
}

static const uint8_t *find_bytes(const uint8_t *h, size_t hn, const void *n, size_t nn)
{
	for (size_t i = 0; i + nn <= hn; i++)
		if (!memcmp(h + i, n, nn))
			return h + i;
	return NULL;
}

static void build_acpi(unsigned int cpus, bool vmbus, uint64_t *rsdp)
{
	struct acpi_config c = { .n_cpus = cpus, .ioapic_addr = 0xfec00000u, .ioapic_id = (uint8_t)cpus,
				 .pm_base = PM_BASE, .reset_port = RESET_PORT,
				 .reset_value = RESET_VALUE, .sci_irq = 9, .s5_typ = 5, .vmbus = vmbus };
	memset(acpi_buf, 0xcc, sizeof(acpi_buf));
	T_ASSERT_EQ(acpi_build(&c, acpi_buf, sizeof(acpi_buf), BOOT_BIOS_GPA, rsdp), 0);
}

static void test_acpi_tables(void)
{
	uint64_t rsdp_gpa;
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt, *facs;

	build_acpi(4, false, &rsdp_gpa);
	rsdp = acpi_at(rsdp_gpa);
	T_EXPECT_MEMEQ(rsdp, "RSD PTR ", 8);
	T_EXPECT_EQ(rsdp_gpa % 16, 0);
	T_EXPECT_EQ(sum(rsdp, 20), 0);
	T_EXPECT_EQ(sum(rsdp, 36), 0);
	T_EXPECT_EQ(rsdp[15], 2);
	xsdt = acpi_at(rd64(rsdp + 24));
	check_table(xsdt, "XSDT");
	check_table(acpi_at(rd32(rsdp + 16)), "RSDT");
	T_ASSERT_EQ(rd32(xsdt + 4), ACPI_HDR_LEN + 16);
	fadt = acpi_at(rd64(xsdt + 36));
	madt = acpi_at(rd64(xsdt + 44));
	check_table(fadt, "FACP");
	T_EXPECT_EQ(rd32(fadt + 4), ACPI_FADT_LEN);
	check_table(madt, "APIC");
	dsdt = acpi_at(rd64(fadt + 140));
	T_EXPECT_EQ(rd32(fadt + 40), rd64(fadt + 140));
	check_table(dsdt, "DSDT");
	facs = acpi_at(rd64(fadt + 132));
	T_EXPECT_MEMEQ(facs, "FACS", 4);
	T_EXPECT_EQ((rd64(fadt + 132)) % 64, 0);
	/* PM blocks and the reset register point at our devices. */
	T_EXPECT_EQ(rd32(fadt + 56), PM_BASE);
	T_EXPECT_EQ(rd32(fadt + 64), PM_BASE + 4);
	T_EXPECT_EQ(rd32(fadt + 76), PM_BASE + 8);
	T_EXPECT_EQ(fadt[116], 1); /* reset register in system I/O space */
	T_EXPECT_EQ(rd64(fadt + 120), RESET_PORT);
	T_EXPECT_EQ(fadt[128], RESET_VALUE);
	T_EXPECT(rd32(fadt + 112) & (1u << 10)); /* RESET_REG_SUP */
	T_EXPECT(!(rd32(fadt + 112) & (1u << 20))); /* not hardware-reduced */
	/* MADT: 4 enabled LAPICs with ids 0..3, one IOAPIC. */
	{
		const uint8_t *p = madt + 44, *end = madt + rd32(madt + 4);
		unsigned int lapics = 0, ioapics = 0;
		while (p < end) {
			T_ASSERT(p[1] >= 2 && p + p[1] <= end);
			if (p[0] == 0) {
				T_EXPECT_EQ(p[3], lapics);
				T_EXPECT_EQ(rd32(p + 4) & 1, 1);
				lapics++;
			} else if (p[0] == 1) {
				T_EXPECT_EQ(rd32(p + 4), 0xfec00000u);
				ioapics++;
			}
			p += p[1];
		}
		T_EXPECT_EQ(lapics, 4);
		T_EXPECT_EQ(ioapics, 1);
	}
	/* DSDT: \_S5 package with SLP_TYP 5; no VMBus device unless asked. */
	{
		static const uint8_t s5[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
		T_EXPECT(find_bytes(dsdt, rd32(dsdt + 4), s5, sizeof(s5)) != NULL);
		T_EXPECT(find_bytes(dsdt, rd32(dsdt + 4), "VMBus", 5) == NULL);
	}
}

static void test_acpi_vmbus_device(void)
{
	uint64_t rsdp_gpa;
	const uint8_t *fadt, *dsdt;

	build_acpi(1, true, &rsdp_gpa);
	fadt = acpi_at(rd64(acpi_at(rd64(acpi_at(rsdp_gpa) + 24)) + 36));
	dsdt = acpi_at(rd64(fadt + 140));
	check_table(dsdt, "DSDT");
	T_EXPECT(find_bytes(dsdt, rd32(dsdt + 4), "\x0dVMBus\0", 7) != NULL);
	T_EXPECT(find_bytes(dsdt, rd32(dsdt + 4), "\x0d" "ACPI0004\0", 10) != NULL);
	T_EXPECT(find_bytes(dsdt, rd32(dsdt + 4), "\x5b\x82", 2) != NULL); /* DeviceOp */
	/* _CRS is an empty resource template: Buffer(2) { EndTag } */
	T_EXPECT(find_bytes(dsdt, rd32(dsdt + 4), "_CRS\x11\x05\x0a\x02\x79\x00", 10) != NULL);
}

static void test_acpi_limits(void)
{
	struct acpi_config c = { .n_cpus = 0 };
	uint64_t rsdp;
	uint8_t small[64];

	T_EXPECT_EQ(acpi_build(&c, acpi_buf, sizeof(acpi_buf), BOOT_BIOS_GPA, &rsdp), -EINVAL);
	c.n_cpus = 2;
	T_EXPECT_EQ(acpi_build(&c, small, sizeof(small), BOOT_BIOS_GPA, &rsdp), -ENOSPC);
}

/* ---- boot --------------------------------------------------------------- */

/* A synthetic bzImage: setup header + a recognisable protected-mode payload. */
static uint8_t *fake_bzimage(size_t *len, uint16_t version, uint16_t xload)
{
	size_t n = 5 * 512 + 64 * 1024;
	uint8_t *k = calloc(1, n);

	k[SH_SETUP_SECTS] = 4;
	k[SH_BOOT_FLAG] = 0x55;
	k[SH_BOOT_FLAG + 1] = 0xaa;
	k[SH_JUMP + 1] = 0x6a; /* header ends at 0x26c */
	memcpy(k + SH_HEADER, "HdrS", 4);
	k[SH_VERSION] = (uint8_t)version;
	k[SH_VERSION + 1] = (uint8_t)(version >> 8);
	k[SH_XLOADFLAGS] = (uint8_t)xload;
	k[SH_CMDLINE_SIZE] = 0xff;
	k[SH_CMDLINE_SIZE + 1] = 0x07; /* 2047 */
	k[SH_INITRD_ADDR_MAX + 0] = 0xff;
	k[SH_INITRD_ADDR_MAX + 1] = 0xff;
	k[SH_INITRD_ADDR_MAX + 2] = 0xff;
	k[SH_INITRD_ADDR_MAX + 3] = 0x7f;
	k[SH_INIT_SIZE + 2] = 0x20; /* init_size 2 MiB */
	k[SH_SYSSIZE + 1] = 0x10;   /* syssize 64 KiB */
	memset(k + 5 * 512, 0xab, n - 5 * 512);
	*len = n;
	return k;
}

static void test_boot_rejects(void)
{
	char err[256] = "";
	size_t n;
	uint8_t *k = fake_bzimage(&n, 0x20f, XLF_KERNEL_64);
	uint8_t junk[8192] = { 0 };

	T_EXPECT_EQ(boot_check_bzimage(k, n, err, sizeof(err)), 0);
	T_EXPECT_EQ(boot_check_bzimage(junk, sizeof(junk), err, sizeof(err)), -ENOEXEC);
	T_EXPECT(strstr(err, "not a Linux bzImage") != NULL);
	T_EXPECT_EQ(boot_check_bzimage(k, 100, err, sizeof(err)), -ENOEXEC);
	T_EXPECT_EQ(boot_check_bzimage(k, n - 1, err, sizeof(err)), -ENOEXEC);
	T_EXPECT(strstr(err, "truncated") != NULL);
	free(k);
	k = fake_bzimage(&n, 0x20a, XLF_KERNEL_64);
	T_EXPECT_EQ(boot_check_bzimage(k, n, err, sizeof(err)), -ENOEXEC);
	T_EXPECT(strstr(err, "too old") != NULL);
	free(k);
	k = fake_bzimage(&n, 0x20f, 0);
	T_EXPECT_EQ(boot_check_bzimage(k, n, err, sizeof(err)), -ENOEXEC);
	T_EXPECT(strstr(err, "64-bit") != NULL);
	free(k);
}

static void test_boot_layout(void)
{
	struct gm *gm = NULL;
	struct boot_regs regs;
	char err[256] = "";
	size_t n;
	uint8_t *k = fake_bzimage(&n, 0x20f, XLF_KERNEL_64);
	uint8_t initrd[10000], zp[4096], got[16];
	struct boot_image img = { .kernel = k, .kernel_len = n, .initrd = initrd,
				  .initrd_len = sizeof(initrd), .cmdline = "console=ttyS0 quiet",
				  .rsdp_gpa = 0xe0000 };
	uint64_t rd_gpa;

	memset(initrd, 0x5a, sizeof(initrd));
	T_ASSERT_EQ(gm_create_ram(64 * MiB, 3 * GiB, &gm), 0);
	T_ASSERT_EQ(boot_linux(gm, &img, &regs, err, sizeof(err)), 0);
	T_EXPECT_EQ(regs.rip, BOOT_KERNEL_GPA + 0x200);
	T_EXPECT_EQ(regs.rsi, BOOT_ZERO_PAGE_GPA);
	T_EXPECT_EQ(regs.efer & 0x500, 0x500);
	T_ASSERT_EQ(gm_read(gm, BOOT_ZERO_PAGE_GPA, zp, sizeof(zp)), 0);
	T_EXPECT_MEMEQ(zp + SH_HEADER, "HdrS", 4);
	T_EXPECT_EQ(zp[SH_TYPE_OF_LOADER], 0xff);
	T_EXPECT(zp[SH_LOADFLAGS] & LOADFLAG_CAN_USE_HEAP);
	T_EXPECT_EQ(rd32(zp + SH_CMD_LINE_PTR), BOOT_CMDLINE_GPA);
	T_EXPECT_EQ(rd64(zp + BP_ACPI_RSDP_ADDR), 0xe0000);
	rd_gpa = rd32(zp + SH_RAMDISK_IMAGE);
	T_EXPECT_EQ(rd32(zp + SH_RAMDISK_SIZE), sizeof(initrd));
	T_EXPECT(rd_gpa + sizeof(initrd) <= 64 * MiB);
	T_EXPECT(rd_gpa >= BOOT_KERNEL_GPA + 2 * MiB);
	T_ASSERT_EQ(gm_read(gm, rd_gpa, got, sizeof(got)), 0);
	T_EXPECT_EQ(got[0], 0x5a);
	T_ASSERT_EQ(gm_read(gm, BOOT_KERNEL_GPA, got, sizeof(got)), 0);
	T_EXPECT_EQ(got[0], 0xab);
	T_ASSERT_EQ(gm_read(gm, BOOT_CMDLINE_GPA, got, 14), 0);
	T_EXPECT_MEMEQ(got, "console=ttyS0 ", 14);
	/* e820 in the zero page: RAM at 0 and at 1 MiB up to 64 MiB; nothing at the ACPI area. */
	T_EXPECT_EQ(zp[BP_E820_ENTRIES], 4);
	T_EXPECT_EQ(rd64(zp + BP_E820_TABLE + 3 * 20), BOOT_KERNEL_GPA);
	T_EXPECT_EQ(rd64(zp + BP_E820_TABLE + 3 * 20 + 8), 63 * MiB);
	T_EXPECT_EQ(rd32(zp + BP_E820_TABLE + 2 * 20 + 16), E820_RESERVED);
	/* identity map: PML4[0] -> PDPT, PD maps 2 MiB pages */
	T_ASSERT_EQ(gm_read(gm, BOOT_PD_GPA + 8, got, 8), 0);
	T_EXPECT_EQ(rd64(got), 2 * MiB | 0x83);

	/* Too long a command line, too little memory. */
	img.cmdline = NULL;
	{
		char *big = malloc(5000);
		memset(big, 'x', 4999);
		big[4999] = 0;
		img.cmdline = big;
		T_EXPECT_EQ(boot_linux(gm, &img, &regs, err, sizeof(err)), -E2BIG);
		free(big);
	}
	gm_destroy(gm);
	img.cmdline = "x";
	T_ASSERT_EQ(gm_create_ram(2 * MiB, 3 * GiB, &gm), 0);
	T_EXPECT_EQ(boot_linux(gm, &img, &regs, err, sizeof(err)), -ENOSPC);
	T_EXPECT(strstr(err, "too small") != NULL);
	gm_destroy(gm);
	free(k);
}

static void test_e820_high(void)
{
	struct e820_entry e[8];
	unsigned int n = boot_e820(3 * GiB, 1 * GiB, e, 8);

	T_EXPECT_EQ(n, 5);
	T_EXPECT_EQ(e[4].addr, 4 * GiB);
	T_EXPECT_EQ(e[4].size, 1 * GiB);
	T_EXPECT_EQ(e[4].type, E820_RAM);
	T_EXPECT_EQ(e[3].addr + e[3].size, 3 * GiB);
	T_EXPECT_EQ(boot_e820(3 * GiB, 1 * GiB, e, 2), 2);
}

/* ---- UART ----------------------------------------------------------------- */

static int irq_level = -1;
static char out_buf[64];
static size_t out_len;

static void fake_irq(void *opaque, unsigned int gsi, int level)
{
	(void)opaque;
	(void)gsi;
	irq_level = level;
}

static void fake_out(void *opaque, const uint8_t *buf, size_t len)
{
	(void)opaque;
	if (out_len + len <= sizeof(out_buf)) {
		memcpy(out_buf + out_len, buf, len);
		out_len += len;
	}
}

static void test_uart(void)
{
	struct uart u;
	struct irq_line line = { .set_level = fake_irq, .gsi = 4 };
	const struct io_ops *o = &uart_io_ops;

	out_len = 0;
	uart_init(&u, &line, fake_out, NULL);
	T_EXPECT_EQ(o->read(&u, UART_LSR, 1) & (UART_LSR_THRE | UART_LSR_TEMT), 0x60);
	T_EXPECT_EQ(o->read(&u, UART_IIR, 1) & 0x0f, UART_IIR_NO_INT);
	o->write(&u, UART_THR, 1, 'h');
	o->write(&u, UART_THR, 1, 'i');
	T_EXPECT_EQ(out_len, 2);
	T_EXPECT_MEMEQ(out_buf, "hi", 2);
	/* Divisor latch does not transmit. */
	o->write(&u, UART_LCR, 1, UART_LCR_DLAB | 3);
	o->write(&u, UART_DLL, 1, 1);
	o->write(&u, UART_DLM, 1, 0);
	T_EXPECT_EQ(o->read(&u, UART_DLL, 1), 1);
	o->write(&u, UART_LCR, 1, 3);
	T_EXPECT_EQ(out_len, 2);
	/* Enabling THRI with an empty THR raises the interrupt; reading IIR clears it. */
	o->write(&u, UART_IER, 1, UART_IER_THRI);
	T_EXPECT_EQ(irq_level, 1);
	T_EXPECT_EQ(o->read(&u, UART_IIR, 1) & 0x0f, UART_IIR_THRI);
	T_EXPECT_EQ(irq_level, 0);
	T_EXPECT_EQ(o->read(&u, UART_IIR, 1) & 0x0f, UART_IIR_NO_INT);
	/* Received data: DR set, RDI has priority, reading RBR drains. */
	o->write(&u, UART_IER, 1, UART_IER_RDI | UART_IER_THRI);
	T_EXPECT_EQ(uart_push_input(&u, (const uint8_t *)"ab", 2), 2);
	T_EXPECT_EQ(irq_level, 1);
	T_EXPECT_EQ(o->read(&u, UART_LSR, 1) & UART_LSR_DR, UART_LSR_DR);
	T_EXPECT_EQ(o->read(&u, UART_IIR, 1) & 0x0f, UART_IIR_RDI);
	T_EXPECT_EQ(o->read(&u, UART_RBR, 1), 'a');
	T_EXPECT_EQ(o->read(&u, UART_RBR, 1), 'b');
	T_EXPECT_EQ(o->read(&u, UART_LSR, 1) & UART_LSR_DR, 0);
	/* FIFO bound: the model never accepts more than it can hold. */
	{
		uint8_t many[200];
		memset(many, 'x', sizeof(many));
		T_EXPECT_EQ(uart_push_input(&u, many, sizeof(many)), UART_FIFO_SIZE);
		o->write(&u, UART_FCR, 1, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
		T_EXPECT_EQ(o->read(&u, UART_LSR, 1) & UART_LSR_DR, 0);
		T_EXPECT_EQ(o->read(&u, UART_IIR, 1) & 0xc0, 0xc0);
	}
	/* Loopback: transmitted bytes come back, nothing goes out. */
	o->write(&u, UART_MCR, 1, UART_MCR_LOOP | 0x0b);
	T_EXPECT_EQ(o->read(&u, UART_MSR, 1) & 0xf0, 0xb0);
	o->write(&u, UART_THR, 1, 'z');
	T_EXPECT_EQ(out_len, 2);
	T_EXPECT_EQ(o->read(&u, UART_RBR, 1), 'z');
	/* Scratch register. */
	o->write(&u, UART_SCR, 1, 0x5a);
	T_EXPECT_EQ(o->read(&u, UART_SCR, 1), 0x5a);
}

/* ---- CMOS, PM, PCI, i8042, bus ------------------------------------------- */

static time_t fixed_now(void)
{
	return 1700000000; /* 2023-11-14 22:13:20 UTC, a Tuesday */
}

static void test_cmos(void)
{
	struct cmos_rtc rtc;
	const struct io_ops *o = &cmos_io_ops;
#define CMOS_RD(i) (o->write(&rtc, 0, 1, (i)), o->read(&rtc, 1, 1))
#define CMOS_WR(i, v) (o->write(&rtc, 0, 1, (i)), o->write(&rtc, 1, 1, (v)))

	cmos_init(&rtc, 0);
	rtc.now = fixed_now;
	T_EXPECT_EQ(CMOS_RD(0), 0x20);
	T_EXPECT_EQ(CMOS_RD(2), 0x13);
	T_EXPECT_EQ(CMOS_RD(4), 0x22);
	T_EXPECT_EQ(CMOS_RD(7), 0x14);
	T_EXPECT_EQ(CMOS_RD(8), 0x11);
	T_EXPECT_EQ(CMOS_RD(9), 0x23);
	T_EXPECT_EQ(CMOS_RD(CMOS_CENTURY), 0x20);
	T_EXPECT_EQ(CMOS_RD(CMOS_REG_D), 0x80);
	T_EXPECT_EQ(CMOS_RD(CMOS_REG_A) & 0x80, 0);
	/* Offset clock. */
	rtc.offset_sec = -3600;
	T_EXPECT_EQ(CMOS_RD(4), 0x21);
	/* Guest sets the clock to 2030-01-02 03:04:05. */
	CMOS_WR(CMOS_REG_B, CMOS_B_SET | CMOS_B_24H);
	CMOS_WR(0, 0x05);
	CMOS_WR(2, 0x04);
	CMOS_WR(4, 0x03);
	CMOS_WR(7, 0x02);
	CMOS_WR(8, 0x01);
	CMOS_WR(9, 0x30);
	CMOS_WR(CMOS_CENTURY, 0x20);
	CMOS_WR(CMOS_REG_B, CMOS_B_24H);
	T_EXPECT_EQ(rtc.offset_sec, 1893553445LL - 1700000000LL);
	T_EXPECT_EQ(CMOS_RD(9), 0x30);
	/* NVRAM holds values; index bit 7 (NMI mask) is ignored. */
	CMOS_WR(0x80 | 0x40, 0x99);
	T_EXPECT_EQ(CMOS_RD(0x40), 0x99);
	/* Garbage time from the guest leaves the offset alone. */
	CMOS_WR(CMOS_REG_B, CMOS_B_SET | CMOS_B_24H);
	CMOS_WR(8, 0x99);
	CMOS_WR(CMOS_REG_B, CMOS_B_24H);
	T_EXPECT_EQ(rtc.offset_sec, 1893553445LL - 1700000000LL);
#undef CMOS_RD
#undef CMOS_WR
}

static int power_events[2];

static void fake_power(void *opaque, enum power_event ev)
{
	(void)opaque;
	power_events[ev]++;
}

static uint64_t fake_ns;

static uint64_t fake_clock(void)
{
	return fake_ns;
}

static void test_pm_and_reset(void)
{
	struct power_sink sink = { .event = fake_power };
	struct pm_acpi pm;
	struct pci_cfg pci;
	struct i8042 kbd;

	memset(power_events, 0, sizeof(power_events));
	pm_acpi_init(&pm, &sink);
	pm.clock_ns = fake_clock;
	T_EXPECT_EQ(pm_acpi_io_ops.read(&pm, PM1_CNT_OFF, 2) & 1, 1); /* SCI_EN */
	/* S1 request (SLP_TYP 1) is not a power-off. */
	pm_acpi_io_ops.write(&pm, PM1_CNT_OFF, 2, (1u << 10) | 0x2000);
	T_EXPECT_EQ(power_events[POWER_OFF], 0);
	pm_acpi_io_ops.write(&pm, PM1_CNT_OFF, 2, (5u << 10) | 0x2000);
	T_EXPECT_EQ(power_events[POWER_OFF], 1);
	/* PM1 enable bits stick; status bits are write-one-to-clear. */
	pm_acpi_io_ops.write(&pm, PM1_EVT_OFF + 2, 2, 0x0100);
	T_EXPECT_EQ(pm_acpi_io_ops.read(&pm, PM1_EVT_OFF + 2, 2), 0x0100);
	/* PM timer: 3.579545 MHz. */
	fake_ns = 1000000000ULL;
	T_EXPECT_EQ(pm_acpi_io_ops.read(&pm, PM_TMR_OFF, 4), 3579545);

	pci_cfg_init(&pci, &sink);
	pci_cfg_io_ops.write(&pci, 0, 4, 0x80000000u);
	T_EXPECT_EQ(pci_cfg_io_ops.read(&pci, 0, 4), 0x80000000u);
	/* 00:00.0 is the host bridge: vendor, device, class. */
	T_EXPECT_EQ(pci_cfg_io_ops.read(&pci, 4, 4), 0x71928086u);
	T_EXPECT_EQ(pci_cfg_io_ops.read(&pci, 6, 2), 0x7192);
	pci_cfg_io_ops.write(&pci, 0, 4, 0x80000008u);
	T_EXPECT_EQ(pci_cfg_io_ops.read(&pci, 7, 1), 0x06);
	/* Any other device is absent. */
	pci_cfg_io_ops.write(&pci, 0, 4, 0x80000800u);
	T_EXPECT_EQ(pci_cfg_io_ops.read(&pci, 4, 4), 0xffffffffu);
	pci_cfg_io_ops.write(&pci, 0, 4, 0x00000000u);
	T_EXPECT_EQ(pci_cfg_io_ops.read(&pci, 4, 4), 0xffffffffu);
	pci_cfg_io_ops.write(&pci, 1, 1, 0x02); /* no reset bit */
	T_EXPECT_EQ(power_events[POWER_RESET], 0);
	pci_cfg_io_ops.write(&pci, 1, 1, RESET_VALUE);
	T_EXPECT_EQ(power_events[POWER_RESET], 1);

	i8042_init(&kbd, &sink);
	T_EXPECT_EQ(i8042_io_ops.read(&kbd, 4, 1) & 0x02, 0); /* input buffer empty */
	i8042_io_ops.write(&kbd, 4, 1, 0xfe);
	T_EXPECT_EQ(power_events[POWER_RESET], 2);
}

static uint32_t probe_read(void *dev, uint16_t off, unsigned int size)
{
	(void)dev;
	(void)size;
	return 0x100u + off;
}

static void test_iobus(void)
{
	static const struct io_ops ops = { .read = probe_read };
	struct iobus bus;
	uint32_t v;

	iobus_init(&bus);
	T_EXPECT_EQ(iobus_register(&bus, 0x3f8, 8, &ops, NULL), 0);
	T_EXPECT_EQ(iobus_register(&bus, 0x70, 2, &ops, NULL), 0);
	T_EXPECT_EQ(iobus_register(&bus, 0x3fc, 2, &ops, NULL), -EEXIST);
	T_EXPECT_EQ(iobus_register(&bus, 0xffff, 2, &ops, NULL), -EINVAL);
	iobus_access(&bus, 0x3fa, false, 1, &v);
	T_EXPECT_EQ(v, 0x02);
	iobus_access(&bus, 0x71, false, 1, &v);
	T_EXPECT_EQ(v, 0x01);
	iobus_access(&bus, 0x80, false, 2, &v);
	T_EXPECT_EQ(v, 0xffff);
	iobus_access(&bus, 0x3ff, false, 4, &v); /* straddles the end of the range */
	T_EXPECT_EQ(v, 0xffffffffu);
	T_EXPECT_EQ(bus.unclaimed, 2);
	iobus_destroy(&bus);
}

static const struct t_case cases[] = {
	T_CASE(test_acpi_tables),
	T_CASE(test_acpi_vmbus_device),
	T_CASE(test_acpi_limits),
	T_CASE(test_boot_rejects),
	T_CASE(test_boot_layout),
	T_CASE(test_e820_high),
	T_CASE(test_uart),
	T_CASE(test_cmos),
	T_CASE(test_pm_and_reset),
	T_CASE(test_iobus),
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
