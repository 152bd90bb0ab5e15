// SPDX-License-Identifier: MIT
/*
 * 16550A UART, modelled from the National Semiconductor PC16550D datasheet
 * register descriptions. Transmission is instantaneous: a THR write goes to
 * the sink at once and THR is empty again, which raises the THR-empty
 * interrupt if enabled. Baud rate and line settings are stored but have no
 * effect.
 */
#include "dev/uart16550.h"

#include <string.h>

static uint8_t uart_iir(const struct uart *u)
{
	if ((u->ier & UART_IER_RDI) && u->rx_count)
		return UART_IIR_RDI;
	if ((u->ier & UART_IER_THRI) && u->thr_pending)
		return UART_IIR_THRI;
	return UART_IIR_NO_INT;
}

static void uart_update_irq(struct uart *u)
{
	irq_line_set(&u->irq, uart_iir(u) != UART_IIR_NO_INT);
}

static uint8_t uart_rx_pop(struct uart *u)
{
	uint8_t c;

	if (!u->rx_count)
		return 0;
	c = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	return c;
}

static void uart_tx(struct uart *u, uint8_t c)
{
	if (u->mcr & UART_MCR_LOOP) {
		/* Loopback: what is sent comes straight back in. */
		uart_push_input(u, &c, 1);
	} else {
		u->tx_bytes++;
		if (u->out)
			u->out(u->out_opaque, &c, 1);
	}
	u->thr_pending = 1;
}

static uint32_t uart_read(void *dev, uint16_t off, unsigned int size)
{
	struct uart *u = dev;
	uint8_t v = 0xff, iir;

	switch (off) {
	case UART_RBR:
		if (u->lcr & UART_LCR_DLAB)
			return u->dll;
		v = uart_rx_pop(u);
		uart_update_irq(u);
		return v;
	case UART_IER:
		return (u->lcr & UART_LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR:
		iir = uart_iir(u);
		/* Reading IIR while it reports THR-empty acknowledges that interrupt. */
		if (iir == UART_IIR_THRI) {
			u->thr_pending = 0;
			uart_update_irq(u);
		}
		return iir | ((u->fcr & UART_FCR_ENABLE) ? 0xc0 : 0);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return UART_LSR_THRE | UART_LSR_TEMT | (u->rx_count ? UART_LSR_DR : 0);
	case UART_MSR:
		if (u->mcr & UART_MCR_LOOP) {
			/* Loopback wires DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
			v = (uint8_t)(((u->mcr & 0x01) << 5) | ((u->mcr & 0x02) << 3) |
				      ((u->mcr & 0x04) << 4) | ((u->mcr & 0x08) << 4));
			return v;
		}
		return 0xb0; /* DCD, DSR, CTS asserted: a cable is always plugged in */
	case UART_SCR:
		return u->scr;
	}
	(void)size;
	return v;
}

static void uart_write(void *dev, uint16_t off, unsigned int size, uint32_t val32)
{
	struct uart *u = dev;
	uint8_t val = (uint8_t)val32, old;

	switch (off) {
	case UART_THR:
		if (u->lcr & UART_LCR_DLAB) {
			u->dll = val;
			return;
		}
		uart_tx(u, val);
		break;
	case UART_IER:
		if (u->lcr & UART_LCR_DLAB) {
			u->dlm = val;
			return;
		}
		old = u->ier;
		u->ier = val & 0x0f;
		/* Enabling THR-empty while THR is empty raises the interrupt at once. */
		if (!(old & UART_IER_THRI) && (u->ier & UART_IER_THRI))
			u->thr_pending = 1;
		break;
	case UART_FCR:
		u->fcr = val & 0xc9;
		if (val & UART_FCR_CLEAR_RX)
			u->rx_head = u->rx_count = 0;
		break;
	case UART_LCR:
		u->lcr = val;
		return;
	case UART_MCR:
		u->mcr = val & 0x1f;
		break;
	case UART_LSR:
	case UART_MSR:
		return; /* read-only */
	case UART_SCR:
		u->scr = val;
		return;
	}
	(void)size;
	uart_update_irq(u);
}

const struct io_ops uart_io_ops = { .read = uart_read, .write = uart_write };

void uart_init(struct uart *u, const struct irq_line *irq,
	       void (*out)(void *opaque, const uint8_t *buf, size_t len), void *out_opaque)
{
	memset(u, 0, sizeof(*u));
	if (irq)
		u->irq = *irq;
	u->out = out;
	u->out_opaque = out_opaque;
	u->mcr = 0x08; /* OUT2 */
}

size_t uart_push_input(struct uart *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	while (n < len && u->rx_count < UART_FIFO_SIZE) {
		u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = buf[n++];
		u->rx_count++;
	}
	if (n)
		uart_update_irq(u);
	return n;
}
