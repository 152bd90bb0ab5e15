// SPDX-License-Identifier: MIT
/* See platform.h. Register layouts follow the ACPI 6.x spec, chapter 4.8 (fixed hardware). */
#include "dev/platform.h"

#include <string.h>

#include "base/util.h"

#define PM1_SCI_EN 0x0001
#define PM1_SLP_TYP_SHIFT 10
#define PM1_SLP_EN 0x2000
#define PM_TIMER_HZ 3579545ULL

static void power_emit(const struct power_sink *s, enum power_event ev)
{
	if (s->event)
		s->event(s->opaque, ev);
}

static uint32_t pm_read(void *dev, uint16_t off, unsigned int size)
{
	struct pm_acpi *pm = dev;
	uint32_t v;

	if (off >= PM_TMR_OFF) {
		uint64_t ns = pm->clock_ns();
		uint64_t ticks = ns / 1000000000ULL * PM_TIMER_HZ +
				 ns % 1000000000ULL * PM_TIMER_HZ / 1000000000ULL;
		return (uint32_t)(ticks >> ((off - PM_TMR_OFF) * 8));
	}
	if (off >= PM1_CNT_OFF) {
		/* SCI_EN always set: the machine is in ACPI mode from reset (no SMI_CMD). */
		v = pm->pm1_cnt | PM1_SCI_EN;
		return v >> ((off - PM1_CNT_OFF) * 8);
	}
	v = (uint32_t)pm->pm1_sts | ((uint32_t)pm->pm1_en << 16);
	(void)size;
	return v >> (off * 8);
}

static void pm_write(void *dev, uint16_t off, unsigned int size, uint32_t val)
{
	struct pm_acpi *pm = dev;

	if (off >= PM_TMR_OFF)
		return;
	if (off >= PM1_CNT_OFF) {
		uint16_t cnt = pm->pm1_cnt;
		unsigned int shift = (off - PM1_CNT_OFF) * 8;
		uint32_t mask = (size >= 2 ? 0xffffu : 0xffu) << shift;

		cnt = (uint16_t)((cnt & ~mask) | ((val << shift) & mask));
		if (cnt & PM1_SLP_EN) {
			unsigned int typ = (cnt >> PM1_SLP_TYP_SHIFT) & 7;
			cnt &= (uint16_t)~PM1_SLP_EN;
			if (typ == ACPI_S5_TYP)
				power_emit(&pm->sink, POWER_OFF);
		}
		pm->pm1_cnt = cnt;
		return;
	}
	/* PM1 status bits are write-one-to-clear; enable bits are plain. */
	{
		uint32_t cur = (uint32_t)pm->pm1_sts | ((uint32_t)pm->pm1_en << 16);
		unsigned int shift = off * 8;
		uint32_t mask = (size >= 4 ? 0xffffffffu : ((1u << (size * 8)) - 1)) << shift;
		uint32_t v = (val << shift) & mask;

		pm->pm1_sts &= (uint16_t)~(v & 0xffff);
		cur = (cur & ~(mask & 0xffff0000u)) | (v & 0xffff0000u);
		pm->pm1_en = (uint16_t)(cur >> 16);
	}
}

const struct io_ops pm_acpi_io_ops = { .read = pm_read, .write = pm_write };

void pm_acpi_init(struct pm_acpi *pm, const struct power_sink *sink)
{
	memset(pm, 0, sizeof(*pm));
	pm->sink = *sink;
	pm->clock_ns = now_ns;
}

/*
 * Configuration space of the one device on the bus: a host bridge at 00:00.0,
 * modelled on what Hyper-V generation-1 VMs show (Intel 82443BX, 8086:7192).
 * Linux needs a host bridge to trust configuration mechanism 1 at all.
 */
static uint32_t host_bridge_cfg(unsigned int reg)
{
	switch (reg) {
	case 0x00: return 0x71928086u; /* device 0x7192, vendor 0x8086 */
	case 0x04: return 0x02000006u; /* status: medium DEVSEL; command: memory, bus master */
	case 0x08: return 0x06000003u; /* class 06 (bridge), subclass 00 (host), rev 3 */
	default: return 0;             /* header type 0, no BARs, no capabilities */
	}
}

static uint32_t pci_read(void *dev, uint16_t off, unsigned int size)
{
	struct pci_cfg *pci = dev;
	uint32_t a = pci->addr;

	if (off < 4)
		return pci->addr >> (off * 8);
	(void)size;
	/* Enabled, bus 0, device 0, function 0: the host bridge; else nobody answers. */
	if ((a & 0x80000000u) && !(a & 0x00ffff00u))
		return host_bridge_cfg(a & 0xfc) >> ((off - 4) * 8);
	return 0xffffffffu;
}

static void pci_write(void *dev, uint16_t off, unsigned int size, uint32_t val)
{
	struct pci_cfg *pci = dev;

	if (off == RESET_PORT - PCI_CFG_BASE && size == 1) {
		if (val & 0x04)
			power_emit(&pci->sink, POWER_RESET);
		return;
	}
	if (off == 0 && size == 4)
		pci->addr = val & 0x80fffffcu;
}

const struct io_ops pci_cfg_io_ops = { .read = pci_read, .write = pci_write };

void pci_cfg_init(struct pci_cfg *pci, const struct power_sink *sink)
{
	memset(pci, 0, sizeof(*pci));
	pci->sink = *sink;
}

static uint32_t i8042_read(void *dev, uint16_t off, unsigned int size)
{
	/* Status 0: input buffer empty, nothing to read, so the guest never waits. */
	(void)dev; (void)off; (void)size;
	return 0;
}

static void i8042_write(void *dev, uint16_t off, unsigned int size, uint32_t val)
{
	struct i8042 *kbd = dev;

	if (off == I8042_CMD - I8042_DATA && (val & 0xff) == 0xfe)
		power_emit(&kbd->sink, POWER_RESET);
	(void)size;
}

const struct io_ops i8042_io_ops = { .read = i8042_read, .write = i8042_write };

void i8042_init(struct i8042 *kbd, const struct power_sink *sink)
{
	kbd->sink = *sink;
}
