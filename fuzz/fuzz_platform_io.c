// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the platform devices as a guest drives them. The input is a
 * sequence of 8-byte port accesses {port u16, size u8, is_write u8, value u32}
 * replayed against the I/O bus with COM1, CMOS RTC, ACPI PM, PCI config and
 * i8042; no access pattern may crash, hang or corrupt host memory.
 */
#include <stdint.h>
#include <string.h>

#include "dev/cmos_rtc.h"
#include "dev/iobus.h"
#include "dev/platform.h"
#include "dev/uart16550.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink_event(void *opaque, enum power_event ev)
{
	(void)opaque;
	(void)ev;
}

static void sink_out(void *opaque, const uint8_t *buf, size_t len)
{
	(void)opaque;
	(void)buf;
	(void)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct power_sink sink = { .event = sink_event };
	struct iobus bus;
	struct uart uart;
	struct cmos_rtc rtc;
	struct pm_acpi pm;
	struct pci_cfg pci;
	struct i8042 kbd;

	iobus_init(&bus);
	uart_init(&uart, NULL, sink_out, NULL);
	cmos_init(&rtc, 0);
	pm_acpi_init(&pm, &sink);
	pci_cfg_init(&pci, &sink);
	i8042_init(&kbd, &sink);
	iobus_register(&bus, 0x3f8, 8, &uart_io_ops, &uart);
	iobus_register(&bus, 0x70, 2, &cmos_io_ops, &rtc);
	iobus_register(&bus, PM_BASE, PM_LEN, &pm_acpi_io_ops, &pm);
	iobus_register(&bus, PCI_CFG_BASE, 8, &pci_cfg_io_ops, &pci);
	iobus_register(&bus, I8042_DATA, 5, &i8042_io_ops, &kbd);
	for (size_t off = 0; off + 8 <= size; off += 8) {
		uint16_t port;
		uint32_t val;
		unsigned int sz = 1u << (data[off + 2] % 3);

		memcpy(&port, data + off, 2);
		memcpy(&val, data + off + 4, 4);
		/* steer most accesses to decoded ports */
		if (data[off + 3] & 0x80)
			port = (uint16_t)((data[off + 3] & 1 ? 0x3f8 : 0x600) + (port & 0xf));
		iobus_access(&bus, port, data[off + 3] & 1, sz, &val);
		if (data[off + 3] & 0x40)
			uart_push_input(&uart, data + off, 8);
	}
	iobus_destroy(&bus);
	return 0;
}
