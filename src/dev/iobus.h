/* SPDX-License-Identifier: MIT */
/*
 * Port-I/O bus: a table of port ranges, each served by one device through
 * read/write callbacks at an offset into its range. No KVM here; the VP exit
 * handler calls iobus_access(). Each range has its own lock, so devices need
 * no locking of their own for register access from several VPs.
 */
#ifndef OPENHV_DEV_IOBUS_H
#define OPENHV_DEV_IOBUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct io_ops {
	/* size is 1, 2 or 4; *val is little-endian data in the low bytes */
	uint32_t (*read)(void *dev, uint16_t off, unsigned int size);
	void (*write)(void *dev, uint16_t off, unsigned int size, uint32_t val);
};

struct io_range {
	uint16_t base;
	uint16_t len;
	const struct io_ops *ops;
	void *dev;
	pthread_mutex_t lock; /* protects: the device's register state */
};

#define IOBUS_MAX_RANGES 32

struct iobus {
	unsigned int n;
	struct io_range ranges[IOBUS_MAX_RANGES]; /* sorted by base, non-overlapping */
	uint64_t unclaimed;                       /* accesses to ports nobody decodes */
};

void iobus_init(struct iobus *bus);
void iobus_destroy(struct iobus *bus);
/* Register [base, base+len). -EEXIST on overlap, -ENOSPC when full. */
int iobus_register(struct iobus *bus, uint16_t base, uint16_t len, const struct io_ops *ops,
		   void *dev);
/* One access; reads of unclaimed ports return all ones, writes are dropped. */
void iobus_access(struct iobus *bus, uint16_t port, bool is_write, unsigned int size,
		  uint32_t *val);

/* The lock of the range that decodes port, for host-side access to a device; NULL if none. */
pthread_mutex_t *iobus_port_lock(struct iobus *bus, uint16_t port);

/* An interrupt line into the platform interrupt controller. */
struct irq_line {
	void (*set_level)(void *opaque, unsigned int gsi, int level);
	void *opaque;
	unsigned int gsi;
};

static inline void irq_line_set(const struct irq_line *l, int level)
{
	if (l && l->set_level)
		l->set_level(l->opaque, l->gsi, level);
}

#endif
