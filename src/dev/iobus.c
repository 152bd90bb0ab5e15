// SPDX-License-Identifier: MIT
#include "dev/iobus.h"

#include <errno.h>
#include <string.h>

void iobus_init(struct iobus *bus)
{
	memset(bus, 0, sizeof(*bus));
}

void iobus_destroy(struct iobus *bus)
{
	for (unsigned int i = 0; i < bus->n; i++)
		pthread_mutex_destroy(&bus->ranges[i].lock);
	bus->n = 0;
}

int iobus_register(struct iobus *bus, uint16_t base, uint16_t len, const struct io_ops *ops,
		   void *dev)
{
	unsigned int i;

	if (!len || (uint32_t)base + len > 0x10000)
		return -EINVAL;
	if (bus->n >= IOBUS_MAX_RANGES)
		return -ENOSPC;
	for (i = 0; i < bus->n; i++) {
		const struct io_range *r = &bus->ranges[i];
		if (base < r->base + r->len && r->base < base + len)
			return -EEXIST;
		if (r->base > base)
			break;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->n - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct io_range){ .base = base, .len = len, .ops = ops, .dev = dev };
	/* The moved ranges' mutexes are plain memory until first use; re-init all. */
	for (unsigned int k = 0; k <= bus->n; k++)
		pthread_mutex_init(&bus->ranges[k].lock, NULL);
	bus->n++;
	return 0;
}

static struct io_range *iobus_find(struct iobus *bus, uint16_t port)
{
	unsigned int lo = 0, hi = bus->n;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		struct io_range *r = &bus->ranges[mid];
		if (port < r->base)
			hi = mid;
		else if (port - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

void iobus_access(struct iobus *bus, uint16_t port, bool is_write, unsigned int size,
		  uint32_t *val)
{
	struct io_range *r = iobus_find(bus, port);
	uint16_t off;

	if (!r || size > 4 || (uint32_t)(port - r->base) + size > r->len) {
		__atomic_add_fetch(&bus->unclaimed, 1, __ATOMIC_RELAXED);
		if (!is_write)
			*val = size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
		return;
	}
	off = (uint16_t)(port - r->base);
	pthread_mutex_lock(&r->lock);
	if (is_write) {
		if (r->ops->write)
			r->ops->write(r->dev, off, size, *val);
	} else {
		*val = r->ops->read ? r->ops->read(r->dev, off, size) : 0xffffffffu;
		if (size < 4)
			*val &= (1u << (size * 8)) - 1;
	}
	pthread_mutex_unlock(&r->lock);
}

pthread_mutex_t *iobus_port_lock(struct iobus *bus, uint16_t port)
{
	struct io_range *r = iobus_find(bus, port);

	return r ? &r->lock : NULL;
}
