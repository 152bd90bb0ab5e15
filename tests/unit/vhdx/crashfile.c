// SPDX-License-Identifier: MIT
/* Crash-simulating file for the VHDX crash-consistency tests (see crashfile.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crashfile.h"

struct op {
	uint64_t off, len;   /* write: data range; size change: len = new size, off = UINT64_MAX */
	uint8_t *data;       /* NULL for a size change; zeros for punch */
};

struct crashfile {
	struct disk_file base;
	uint8_t *cur, *dur;  /* everything applied / flushed state */
	size_t cur_len, dur_len, cap, dur_cap;
	struct op *ops;
	size_t n_ops;
	uint64_t count, budget;
	bool armed, dead;
};

static int grow(uint8_t **p, size_t *cap, size_t want)
{
	if (want <= *cap)
		return 0;
	size_t n = want + (4u << 20);
	uint8_t *q = realloc(*p, n);
	if (!q)
		return -ENOMEM;
	memset(q + *cap, 0, n - *cap);
	*p = q;
	*cap = n;
	return 0;
}

static void apply(uint8_t **buf, size_t *len, size_t *cap, const struct op *o, const uint8_t *data,
		  uint64_t off, uint64_t n)
{
	if (!o->data) {
		if (o->len < *len)
			memset(*buf + o->len, 0, *len - o->len);
		if (grow(buf, cap, o->len) == 0)
			*len = o->len;
		return;
	}
	if (grow(buf, cap, off + n) < 0)
		return;
	memcpy(*buf + off, data, n);
	if (off + n > *len)
		*len = off + n;
}

/* Each counted operation: returns false once power is lost. */
static bool tick(struct crashfile *c)
{
	if (c->dead)
		return false;
	c->count++;
	if (c->armed && c->count > c->budget) {
		c->dead = true;
		return false;
	}
	return true;
}

static int record(struct crashfile *c, uint64_t off, uint64_t len, const uint8_t *data, bool is_size)
{
	struct op *o;
	size_t dcap = c->cap;

	o = realloc(c->ops, (c->n_ops + 1) * sizeof(*o));
	if (!o)
		return -ENOMEM;
	c->ops = o;
	o = &c->ops[c->n_ops];
	o->off = is_size ? UINT64_MAX : off;
	o->len = len;
	o->data = NULL;
	if (!is_size) {
		o->data = malloc(len ? len : 1);
		if (!o->data)
			return -ENOMEM;
		memcpy(o->data, data, len);
	}
	c->n_ops++;
	apply(&c->cur, &c->cur_len, &c->cap, o, o->data, off, len);
	(void)dcap;
	return 0;
}

static int cf_preadv(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	struct crashfile *c = (struct crashfile *)f;

	if (c->dead)
		return -EIO;
	for (int i = 0; i < cnt; i++) {
		uint8_t *p = iov[i].iov_base;
		size_t n = iov[i].iov_len, have = 0;
		if (off < c->cur_len)
			have = (size_t)(c->cur_len - off < n ? c->cur_len - off : n);
		memcpy(p, c->cur + off, have);
		memset(p + have, 0, n - have);
		off += n;
	}
	return 0;
}

static int cf_pwritev(struct disk_file *f, const struct iovec *iov, int cnt, uint64_t off)
{
	struct crashfile *c = (struct crashfile *)f;
	size_t total = 0, done = 0;
	uint8_t *tmp;
	int r;

	if (!tick(c))
		return -EIO;
	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	tmp = malloc(total ? total : 1);
	if (!tmp)
		return -ENOMEM;
	for (int i = 0; i < cnt; i++) {
		memcpy(tmp + done, iov[i].iov_base, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	r = record(c, off, total, tmp, false);
	free(tmp);
	return r;
}

static void free_ops(struct crashfile *c)
{
	for (size_t i = 0; i < c->n_ops; i++)
		free(c->ops[i].data);
	free(c->ops);
	c->ops = NULL;
	c->n_ops = 0;
}

static int cf_flush(struct disk_file *f)
{
	struct crashfile *c = (struct crashfile *)f;
	if (!tick(c))
		return -EIO;
	/* The flushed state gets every pending operation, in order. */
	for (size_t i = 0; i < c->n_ops; i++)
		apply(&c->dur, &c->dur_len, &c->dur_cap, &c->ops[i], c->ops[i].data, c->ops[i].off,
		      c->ops[i].len);
	free_ops(c);
	return 0;
}

static int cf_get_size(struct disk_file *f, uint64_t *ret)
{
	struct crashfile *c = (struct crashfile *)f;

	if (c->dead)
		return -EIO;
	*ret = c->cur_len;
	return 0;
}

static int cf_set_size(struct disk_file *f, uint64_t size)
{
	struct crashfile *c = (struct crashfile *)f;

	if (!tick(c))
		return -EIO;
	if (size > (1ULL << 30))
		return -EFBIG;
	return record(c, 0, size, NULL, true);
}

static int cf_punch(struct disk_file *f, uint64_t off, uint64_t len)
{
	struct crashfile *c = (struct crashfile *)f;
	uint8_t *z;
	int r;

	if (off >= c->cur_len)
		return c->dead ? -EIO : 0;
	if (len > c->cur_len - off)
		len = c->cur_len - off;
	if (!tick(c))
		return -EIO;
	z = calloc(1, len ? len : 1);
	if (!z)
		return -ENOMEM;
	r = record(c, off, len, z, false);
	free(z);
	return r;
}

static void cf_destroy(struct disk_file *f)
{
	struct crashfile *c = (struct crashfile *)f;

	free_ops(c);
	free(c->cur);
	free(c->dur);
	free(c);
}

static const struct disk_file_ops crash_file_ops = {
	.preadv = cf_preadv,
	.pwritev = cf_pwritev,
	.flush = cf_flush,
	.get_size = cf_get_size,
	.set_size = cf_set_size,
	.punch = cf_punch,
	.destroy = cf_destroy,
};

struct disk_file *crashfile_new(const void *data, size_t len)
{
	struct crashfile *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->base.ops = &crash_file_ops;
	c->base.fd = -1;
	if (grow(&c->cur, &c->cap, len + 1) < 0) {
		free(c);
		return NULL;
	}
	memcpy(c->cur, data, len);
	c->cur_len = len;
	c->dur = calloc(1, len + 1);
	if (!c->dur) {
		free(c->cur);
		free(c);
		return NULL;
	}
	memcpy(c->dur, data, len);
	c->dur_len = len;
	c->dur_cap = len + 1;
	return &c->base;
}

void crashfile_arm(struct disk_file *f, uint64_t ops)
{
	struct crashfile *c = (struct crashfile *)f;
	c->armed = true;
	c->budget = c->count + ops;
}

uint64_t crashfile_ops(struct disk_file *f)
{
	return ((struct crashfile *)f)->count;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

uint8_t *crashfile_image(struct disk_file *f, enum crash_mode mode, uint64_t seed,
			 size_t *ret_len)
{
	struct crashfile *c = (struct crashfile *)f;
	size_t len = c->dur_len, cap = c->dur_len + 1;
	uint8_t *img = calloc(1, cap);
	uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;

	if (!img)
		return NULL;
	memcpy(img, c->dur, c->dur_len);
	for (size_t i = 0; i < c->n_ops; i++) {
		const struct op *o = &c->ops[i];
		uint64_t pick = rnd(&s) % 4;

		if (mode == CRASH_DROP_ALL || ((mode == CRASH_RANDOM || mode == CRASH_GARBAGE) && pick == 0))
			continue;
		if (!o->data || mode == CRASH_KEEP_ALL || pick != 3 || o->len <= 512) {
			apply(&img, &len, &cap, o, o->data, o->off, o->len);
			continue;
		}
		/* Torn: each 512-byte sector independently written or not (or garbage). */
		for (uint64_t k = 0; k < o->len; k += 512) {
			uint64_t n = o->len - k < 512 ? o->len - k : 512;
			uint64_t r = rnd(&s) % 3;
			if (r == 0)
				continue;
			if (r == 2 && mode == CRASH_GARBAGE) {
				uint8_t g[512];
				for (int b = 0; b < 512; b++)
					g[b] = (uint8_t)rnd(&s);
				apply(&img, &len, &cap, o, g, o->off + k, n);
			} else {
				apply(&img, &len, &cap, o, o->data + k, o->off + k, n);
			}
		}
	}
	*ret_len = len;
	return img;
}
