/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART register model (8 ports, e.g. COM1 at 0x3f8, IRQ 4). Output
 * bytes go to an injected sink; input bytes are pushed by the host with
 * uart_push_input(). The interrupt leaves through an injected irq_line.
 * Register access is serialized by the I/O bus range lock; uart_push_input
 * takes the same lock (pass it in), so the model itself has no locks.
 */
#ifndef OPENHV_DEV_UART16550_H
#define OPENHV_DEV_UART16550_H

#include <stddef.h>
#include <stdint.h>

#include "dev/iobus.h"

#define UART_FIFO_SIZE 64

struct uart {
	uint8_t ier, iir_fifo, lcr, mcr, lsr_extra, msr, scr, dll, dlm, fcr;
	int thr_pending;             /* THR-empty interrupt waiting to be seen */
	uint8_t rx[UART_FIFO_SIZE];
	unsigned int rx_head, rx_count;
	struct irq_line irq;
	void (*out)(void *opaque, const uint8_t *buf, size_t len);
	void *out_opaque;
	uint64_t tx_bytes;
};

extern const struct io_ops uart_io_ops;

void uart_init(struct uart *u, const struct irq_line *irq,
	       void (*out)(void *opaque, const uint8_t *buf, size_t len), void *out_opaque);
/* Queue input bytes; returns how many were accepted (FIFO space). Caller holds the range lock. */
size_t uart_push_input(struct uart *u, const uint8_t *buf, size_t len);

/* Register offsets and bits used by the model and its tests. */
enum {
	UART_RBR = 0, UART_THR = 0, UART_DLL = 0, UART_IER = 1, UART_DLM = 1, UART_IIR = 2,
	UART_FCR = 2, UART_LCR = 3, UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};
#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
#define UART_IIR_NO_INT 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_LCR_DLAB 0x80
#define UART_LSR_DR 0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_MCR_LOOP 0x10
#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RX 0x02

#endif
