/* SPDX-License-Identifier: MIT */
/*
 * Small platform devices of a PC without firmware:
 *  - ACPI fixed hardware (PM1a event and control blocks, PM timer) at
 *    PM_BASE; a write of SLP_EN with SLP_TYP == ACPI_S5_TYP powers off;
 *  - PCI type-1 configuration ports 0xcf8..0xcff with only a host bridge
 *    behind them; a byte write with bit 2 set to 0xcf9 (the FADT reset
 *    register) resets the machine;
 *  - the i8042 controller's command port 0x64, decoded only so that the
 *    "pulse reset line" command (0xfe) resets the machine.
 * Power events leave through an injected callback.
 */
#ifndef OPENHV_DEV_PLATFORM_H
#define OPENHV_DEV_PLATFORM_H

#include <stdint.h>

#include "dev/iobus.h"

#define PM_BASE 0x600
#define PM1_EVT_OFF 0  /* 4 bytes: status, enable */
#define PM1_CNT_OFF 4  /* 2 bytes */
#define PM_TMR_OFF 8   /* 4 bytes, 32-bit counter at 3.579545 MHz */
#define PM_LEN 12
#define ACPI_S5_TYP 5
#define PCI_CFG_BASE 0xcf8
#define RESET_PORT 0xcf9
#define RESET_VALUE 0x06
#define I8042_DATA 0x60
#define I8042_CMD 0x64

enum power_event { POWER_OFF, POWER_RESET };

struct power_sink {
	void (*event)(void *opaque, enum power_event ev);
	void *opaque;
};

struct pm_acpi {
	uint16_t pm1_sts, pm1_en, pm1_cnt;
	uint64_t (*clock_ns)(void);
	struct power_sink sink;
};

struct pci_cfg {
	uint32_t addr;
	struct power_sink sink;
};

struct i8042 {
	struct power_sink sink;
};

extern const struct io_ops pm_acpi_io_ops, pci_cfg_io_ops, i8042_io_ops;

void pm_acpi_init(struct pm_acpi *pm, const struct power_sink *sink);
void pci_cfg_init(struct pci_cfg *pci, const struct power_sink *sink);
void i8042_init(struct i8042 *kbd, const struct power_sink *sink);

#endif
