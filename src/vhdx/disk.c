// SPDX-License-Identifier: MIT
/*
 * The common disk image front: probing, opening parent chains (locator
 * resolution, identity check, loop detection), request validation, create,
 * convert and merge. Format details live in raw.c, vhd.c and vhdx*.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vhdx/disk_internal.h"

#define CHAIN_MAX 32

const char *disk_format_name(enum disk_format f)
{
	switch (f) {
	case DISK_FMT_RAW: return "raw";
	case DISK_FMT_VHD: return "vhd";
	case DISK_FMT_VHDX: return "vhdx";
	default: return "auto";
	}
}

const char *disk_type_name(enum disk_type t)
{
	switch (t) {
	case DISK_TYPE_FIXED: return "fixed";
	case DISK_TYPE_DYNAMIC: return "dynamic";
	case DISK_TYPE_DIFF: return "differencing";
	default: return "unknown";
	}
}

enum disk_format disk_probe(struct disk_file *f, const char *path)
{
	uint8_t buf[8];
	uint64_t size;

	if (df_size(f, &size) < 0)
		return DISK_FMT_RAW;
	if (size >= 8 && df_pread(f, buf, 8, 0) == 0) {
		if (!memcmp(buf, "vhdxfile", 8))
			return DISK_FMT_VHDX;
		if (!memcmp(buf, "conectix", 8))
			return DISK_FMT_VHD;
	}
	if (size >= 512 && df_pread(f, buf, 8, ALIGN_DOWN(size - 512, 512)) == 0 &&
	    !memcmp(buf, "conectix", 8))
		return DISK_FMT_VHD;
	(void)path;
	return DISK_FMT_RAW;
}

static const struct disk_driver *driver_for(enum disk_format f)
{
	switch (f) {
	case DISK_FMT_VHD: return &disk_vhd_driver;
	case DISK_FMT_VHDX: return &disk_vhdx_driver;
	default: return &disk_raw_driver;
	}
}

static void disk_free(struct disk *d)
{
	if (!d)
		return;
	disk_file_close(d->file);
	free(d->path);
	free(d);
}

/* ---- parent resolution ---- */

/* Turn a stored locator into a host path candidate (in out), relative to dir. */
static bool locator_to_path(const char *loc, const char *dir, char *out, size_t len)
{
	char tmp[PATH_MAX];
	size_t n = 0;

	if (!loc || !*loc)
		return false;
	for (const char *p = loc; *p && n + 1 < sizeof(tmp); p++)
		tmp[n++] = *p == '\\' ? '/' : *p;
	tmp[n] = 0;
	if (tmp[0] == '/')
		return snprintf(out, len, "%s", tmp) < (int)len;
	if (n >= 2 && tmp[1] == ':') {
		/* A Windows path ("C:/vms/base.vhdx"): look for its file name next to the child. */
		const char *base = strrchr(tmp, '/');
		return snprintf(out, len, "%s/%s", dir, base ? base + 1 : tmp + 2) < (int)len;
	}
	return snprintf(out, len, "%s/%s", dir, tmp[0] == '.' && tmp[1] == '/' ? tmp + 2 : tmp) <
	       (int)len;
}

struct chain_ids {
	dev_t dev[CHAIN_MAX + 1];
	ino_t ino[CHAIN_MAX + 1];
	int n;
	/* disk_open_fds: the only files the chain may use (no path is opened). */
	const struct disk_fd_entry *files;
	unsigned n_files;
	/* disk_open_fd_chain: the chain's descriptors in order, image first. */
	const int *chain;
	const char *const *names;
	unsigned n_chain, next;
};

static const struct disk_fd_entry *fd_entry(const struct chain_ids *ids, const char *path)
{
	for (unsigned i = 0; i < ids->n_files; i++)
		if (ids->files[i].path && !strcmp(ids->files[i].path, path))
			return &ids->files[i];
	return NULL;
}

/* Finds the file holding d's parent. */
static int resolve_parent(struct disk *d, const struct chain_ids *ids, char *out, size_t len,
			  struct disk_diag *diag)
{
	char dircopy[PATH_MAX], dir[PATH_MAX], tried[3 * 256] = "";
	const char *hint;

	snprintf(dircopy, sizeof(dircopy), "%s", d->path);
	snprintf(dir, sizeof(dir), "%s", dirname(dircopy));
	for (unsigned i = 0; (hint = d->drv->parent_hint(d, i)); i++) {
		if (!locator_to_path(hint, dir, out, len))
			continue;
		if (ids->files ? fd_entry(ids, out) != NULL : access(out, F_OK) == 0)
			return 0;
		if (strlen(tried) + strlen(out) + 8 < sizeof(tried)) {
			strcat(tried, tried[0] ? "', '" : "");
			strcat(tried, out);
		}
	}
	diag_set(diag, 0, "the parent of '%s' was not found (looked for '%s'); put the parent "
		 "back or recreate the child", d->path, tried[0] ? tried : "no locator");
	return -ENOENT;
}

static int disk_open_chain(const char *path, unsigned flags, struct chain_ids *ids,
			   struct disk_diag *diag, struct disk **ret);

static int open_parent(struct disk *d, struct chain_ids *ids, struct disk_diag *diag)
{
	char ppath[PATH_MAX];
	struct disk *p;
	int r;

	if (ids->n >= CHAIN_MAX) {
		diag_set(diag, 0, "the parent chain of '%s' is deeper than %d images", d->path,
			 CHAIN_MAX);
		return -ELOOP;
	}
	if (ids->chain) {
		/* The caller resolved the chain; the next descriptor is the parent. */
		if (ids->next >= ids->n_chain) {
			diag_set(diag, 0, "'%s' is a differencing image and its parent was not "
				 "passed; pass the whole chain", d->path);
			return -ENOENT;
		}
		snprintf(ppath, sizeof(ppath), "%s", ids->names[ids->next]);
	} else {
		r = resolve_parent(d, ids, ppath, sizeof(ppath), diag);
		if (r < 0)
			return r;
	}
	r = disk_open_chain(ppath, DISK_OPEN_RDONLY, ids, diag, &p);
	if (r < 0)
		return r;
	r = d->drv->parent_matches(d, p, diag);
	if (r < 0) {
		disk_close(p);
		return r;
	}
	d->parent = p;
	return 0;
}

int disk_open_file(struct disk_file *f, const char *path, unsigned flags, struct disk_diag *diag,
		   struct disk **ret)
{
	struct disk *d = calloc(1, sizeof(*d));
	enum disk_format fmt;
	int r;

	if (!d) {
		disk_file_close(f);
		return -ENOMEM;
	}
	if (flags & DISK_OPEN_INSPECT)
		flags |= DISK_OPEN_RDONLY;
	d->file = f;
	d->flags = flags;
	d->rdonly = (flags & DISK_OPEN_RDONLY) || f->rdonly;
	d->path = strdup(path ? path : "(memory)");
	if (!d->path) {
		disk_free(d);
		return -ENOMEM;
	}
	fmt = (flags & DISK_OPEN_FMT_RAW) ? DISK_FMT_RAW : disk_probe(f, path);
	if (fmt == DISK_FMT_RAW && !(flags & DISK_OPEN_FMT_RAW) && path) {
		/*
		 * SECURITY: a damaged .vhdx/.vhd must not silently become a raw disk
		 * whose metadata a guest could then overwrite: open it with the
		 * driver its name asks for, which explains what is wrong.
		 */
		const char *dot = strrchr(path, '.');
		if (dot && !strcasecmp(dot, ".vhdx"))
			fmt = DISK_FMT_VHDX;
		else if (dot && !strcasecmp(dot, ".vhd"))
			fmt = DISK_FMT_VHD;
	}
	d->drv = driver_for(fmt);
	r = d->drv->open(d, diag);
	if (r < 0) {
		disk_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

static int disk_open_chain(const char *path, unsigned flags, struct chain_ids *ids,
			   struct disk_diag *diag, struct disk **ret)
{
	struct disk_file *f;
	struct disk *d;
	struct stat st;
	bool ro = flags & (DISK_OPEN_RDONLY | DISK_OPEN_INSPECT);
	int r;

	if (ids->chain) {
		if (ids->next >= ids->n_chain) {
			diag_set(diag, 0, "no descriptor was passed for '%s'", path);
			return -ENOENT;
		}
		r = disk_file_fdopen(ids->chain[ids->next++], ro, &f);
	} else if (ids->files) {
		const struct disk_fd_entry *e = fd_entry(ids, path);

		if (!e) {
			diag_set(diag, 0, "'%s' was not among the files passed in; pass every image of "
				 "the chain", path);
			return -ENOENT;
		}
		r = disk_file_fdopen(e->fd, ro, &f);
	} else {
		r = disk_file_open(path, ro ? DISK_FILE_RDONLY : 0, &f);
		if (r == 0 && !(flags & DISK_OPEN_INSPECT)) {
			r = disk_lock_fd(f->fd, !ro);
			if (r == -EBUSY) {
				diag_set(diag, 0, "'%s' is in use by a running VM or another program "
					 "(%s); stop that first", path, ro ?
					 "someone has it open for writing" :
					 "someone has it open");
				disk_file_close(f);
				return r;
			}
			if (r < 0)
				disk_file_close(f);
		}
	}
	if (r < 0) {
		diag_set(diag, 0, "cannot open '%s': %s", path, strerror(-r));
		return r;
	}
	if (fstat(f->fd, &st) == 0) {
		for (int i = 0; i < ids->n; i++) {
			if (ids->dev[i] == st.st_dev && ids->ino[i] == st.st_ino) {
				diag_set(diag, 0, "parent loop: '%s' is its own ancestor; the chain is "
					 "damaged", path);
				disk_file_close(f);
				return -ELOOP;
			}
		}
		ids->dev[ids->n] = st.st_dev;
		ids->ino[ids->n] = st.st_ino;
		ids->n++;
	}
	r = disk_open_file(f, path, flags, diag, &d);
	if (r < 0) {
		if (diag && diag->msg[0] && !strstr(diag->msg, path)) {
			char tmp[sizeof(diag->msg)];
			if (snprintf(tmp, sizeof(tmp), "%s: %s", path, diag->msg) < 0)
				tmp[0] = 0;
			memcpy(diag->msg, tmp, sizeof(tmp));
		}
		return r;
	}
	if (d->drv->parent_hint && d->drv->parent_hint(d, 0) &&
	    !(flags & (DISK_OPEN_NO_PARENT | DISK_OPEN_INSPECT))) {
		r = open_parent(d, ids, diag);
		if (r < 0) {
			disk_close(d);
			return r;
		}
	}
	*ret = d;
	return 0;
}

int disk_open(const char *path, unsigned flags, struct disk_diag *diag, struct disk **ret)
{
	struct chain_ids ids = { .n = 0 };

	if (diag)
		diag->msg[0] = 0;
	return disk_open_chain(path, flags, &ids, diag, ret);
}

int disk_open_fds(const char *path, const struct disk_fd_entry *files, unsigned n_files,
		  unsigned flags, struct disk_diag *diag, struct disk **ret)
{
	struct chain_ids ids = { .n = 0, .files = files, .n_files = n_files };

	if (diag)
		diag->msg[0] = 0;
	if (!path || !files || !n_files) {
		diag_set(diag, 0, "no image files were passed");
		return -EINVAL;
	}
	return disk_open_chain(path, flags, &ids, diag, ret);
}

int disk_parent_path(struct disk *d, char *out, size_t len, struct disk_diag *diag)
{
	struct chain_ids ids = { .n = 0 };

	if (diag)
		diag->msg[0] = 0;
	if (!d->drv->parent_hint || !d->drv->parent_hint(d, 0)) {
		diag_set(diag, 0, "'%s' is not a differencing image", d->path);
		return -EINVAL;
	}
	return resolve_parent(d, &ids, out, len, diag);
}

int disk_open_fd_chain(const int *fds, const char *const *names, unsigned n, unsigned flags,
		       struct disk_diag *diag, struct disk **ret)
{
	struct chain_ids ids = { .n = 0, .chain = fds, .names = names, .n_chain = n };
	int r;

	if (diag)
		diag->msg[0] = 0;
	if (!fds || !names || !n || n > CHAIN_MAX + 1) {
		diag_set(diag, 0, "an image chain of %u descriptors cannot be opened (1 to %d)", n,
			 CHAIN_MAX + 1);
		return -EINVAL;
	}
	for (unsigned i = 0; i < n; i++)
		if (!names[i] || fds[i] < 0) {
			diag_set(diag, 0, "image %u of the chain has no descriptor or name", i);
			return -EINVAL;
		}
	r = disk_open_chain(names[0], flags, &ids, diag, ret);
	if (r < 0)
		return r;
	if (ids.next != n) {
		diag_set(diag, 0, "%u images were passed for '%s' but its chain has %u; pass "
			 "exactly the image and its parents", n, names[0], ids.next);
		(void)disk_close(*ret);
		*ret = NULL;
		return -EINVAL;
	}
	return 0;
}

int disk_close(struct disk *d)
{
	int r, r2;

	if (!d)
		return 0;
	r = d->drv->close(d);
	r2 = disk_close(d->parent);
	if (!d->rdonly) {
		int r3 = df_flush(d->file);
		if (r == 0)
			r = r3;
	}
	disk_free(d);
	return r ? r : r2;
}

const char *disk_path(const struct disk *d)
{
	return d->path;
}

struct disk *disk_parent(struct disk *d)
{
	return d->parent;
}

uint64_t disk_size(const struct disk *d)
{
	return d->size;
}

/* ---- data path ---- */

static int check_range(struct disk *d, uint64_t off, uint64_t len)
{
	if (off % d->sector || len % d->sector || !range_ok(off, len, d->size))
		return -EINVAL;
	return 0;
}

int disk_readv(struct disk *d, uint64_t off, const struct iovec *iov, int cnt)
{
	size_t len = iov_total(iov, cnt);
	int r = check_range(d, off, len);

	if (r < 0)
		return r;
	if (!len)
		return 0;
	return d->drv->readv(d, off, iov, cnt);
}

int disk_writev(struct disk *d, uint64_t off, const struct iovec *iov, int cnt)
{
	size_t len = iov_total(iov, cnt);
	int r = check_range(d, off, len);

	if (r < 0)
		return r;
	if (d->rdonly)
		return -EROFS;
	if (!len)
		return 0;
	return d->drv->writev(d, off, iov, cnt);
}

int disk_read(struct disk *d, uint64_t off, void *buf, size_t len)
{
	struct iovec v = { .iov_base = buf, .iov_len = len };
	return disk_readv(d, off, &v, 1);
}

int disk_write(struct disk *d, uint64_t off, const void *buf, size_t len)
{
	struct iovec v = { .iov_base = (void *)buf, .iov_len = len };
	return disk_writev(d, off, &v, 1);
}

int disk_flush(struct disk *d)
{
	if (d->rdonly)
		return 0;
	return d->drv->flush(d);
}

int disk_discard(struct disk *d, uint64_t off, uint64_t len)
{
	int r = check_range(d, off, len);

	if (r < 0)
		return r;
	if (d->rdonly)
		return -EROFS;
	if (!len)
		return 0;
	return d->drv->discard(d, off, len);
}

int disk_map(struct disk *d, uint64_t off, uint64_t len, struct disk_extent *ret)
{
	int r = check_range(d, off, len);

	if (r < 0 || !len)
		return r < 0 ? r : -EINVAL;
	if (d->flags & DISK_OPEN_INSPECT)
		return -EROFS;
	return d->drv->map(d, off, len, ret);
}

int disk_begin_direct_writes(struct disk *d)
{
	if (d->rdonly)
		return -EROFS;
	return d->drv->begin_writes ? d->drv->begin_writes(d) : 0;
}

int disk_read_parent(struct disk *d, uint64_t off, const struct iovec *iov, int cnt, size_t skip,
		     size_t len)
{
	struct disk *p = d->parent;
	struct iovec sub[IOV_SLICE_MAX];
	size_t have = 0;
	int n, r;

	if (p && off < p->size) {
		have = (size_t)MIN(len, p->size - off);
		n = iov_slice(iov, cnt, skip, have, sub, IOV_SLICE_MAX);
		if (n == -E2BIG) {
			uint8_t *tmp = malloc(have);
			if (!tmp)
				return -ENOMEM;
			r = disk_read(p, off, tmp, have);
			if (r == 0)
				iov_from_buf(iov, cnt, skip, tmp, have);
			free(tmp);
		} else if (n < 0) {
			return n;
		} else {
			r = p->drv->readv(p, off, sub, n);
		}
		if (r < 0)
			return r;
	}
	iov_zero(iov, cnt, skip + have, len - have);
	return 0;
}

/* ---- info, check, maintenance ---- */

void disk_get_info(struct disk *d, struct disk_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->format = d->drv->format;
	ret->virtual_size = d->size;
	if (df_size(d->file, &ret->file_size) < 0)
		ret->file_size = 0;
	ret->allocated = df_allocated(d->file);
	ret->rdonly = d->rdonly;
	d->drv->info(d, ret);
}

int disk_check(struct disk *d, bool repair, void (*report)(void *opaque, bool is_error,
							   const char *msg),
	       void *opaque, struct disk_check_result *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (repair && d->rdonly)
		return -EROFS;
	return d->drv->check(d, repair, report, opaque, ret);
}

int disk_resize(struct disk *d, uint64_t new_size, struct disk_diag *diag)
{
	if (d->rdonly)
		return -EROFS;
	return d->drv->resize(d, new_size, diag);
}

int disk_compact(struct disk *d, uint64_t *ret_saved, struct disk_diag *diag)
{
	if (d->rdonly)
		return -EROFS;
	if (ret_saved)
		*ret_saved = 0;
	return d->drv->compact(d, ret_saved, diag);
}

/* ---- create ---- */

/* Relative path from the directory of child to parent ("base.vhdx", "../x/base.vhdx"). */
static void relative_to(const char *child_abs, const char *parent_abs, char *out, size_t len)
{
	const char *c = child_abs, *p = parent_abs, *cs = child_abs, *ps = parent_abs;
	size_t n = 0;

	/* Common directory prefix. */
	while (*c && *c == *p) {
		if (*c == '/') {
			cs = c + 1;
			ps = p + 1;
		}
		c++;
		p++;
	}
	out[0] = 0;
	for (const char *q = cs; *q; q++)
		if (*q == '/')
			n += (size_t)snprintf(out + n, n < len ? len - n : 0, "..\\");
	for (const char *q = ps; *q && n + 1 < len; q++)
		out[n++] = *q == '/' ? '\\' : *q;
	if (n < len)
		out[n] = 0;
	else
		out[len - 1] = 0;
}

static int create_on_file(struct disk_file *f, const char *path, const struct disk_create_opts *o,
			  struct disk_diag *diag)
{
	int r;

	switch (o->format) {
	case DISK_FMT_RAW:
		if (o->parent) {
			diag_set(diag, 0, "raw images cannot have a parent; use --format vhdx");
			return -EINVAL;
		}
		if (!o->size || o->size % 512) {
			diag_set(diag, 0, "size must be a non-zero multiple of 512 bytes");
			return -EINVAL;
		}
		r = df_set_size(f, o->size);
		return r;
	case DISK_FMT_VHDX:
	case DISK_FMT_VHD: {
		struct disk *p = NULL;
		char pabs[PATH_MAX], cabs[PATH_MAX + 256], rel[PATH_MAX], dircopy[PATH_MAX];
		uint64_t size = o->size;

		if (o->parent) {
			struct stat st;
			r = disk_open(o->parent, DISK_OPEN_RDONLY | DISK_OPEN_NO_PARENT, diag, &p);
			if (r < 0)
				return r;
			if (!realpath(o->parent, pabs)) {
				r = -errno;
				disk_close(p);
				return r;
			}
			snprintf(dircopy, sizeof(dircopy), "%s", path);
			if (!realpath(dirname(dircopy), rel)) {
				r = -errno;
				disk_close(p);
				return r;
			}
			snprintf(dircopy, sizeof(dircopy), "%s", path);
			snprintf(cabs, sizeof(cabs), "%s/%s", rel, basename(dircopy));
			relative_to(cabs, pabs, rel, sizeof(rel));
			if (size && size != p->size) {
				diag_set(diag, 0, "a differencing image has its parent's size (%llu); "
					 "leave out --size", (unsigned long long)p->size);
				disk_close(p);
				return -EINVAL;
			}
			size = p->size;
			if (o->format == DISK_FMT_VHD && p->drv->format != DISK_FMT_VHD) {
				diag_set(diag, 0, "a VHD child needs a VHD parent; use --format vhdx");
				disk_close(p);
				return -EINVAL;
			}
			if (o->format == DISK_FMT_VHDX && p->drv->format == DISK_FMT_RAW) {
				diag_set(diag, 0, "the parent is a raw image; convert it to VHDX first "
					 "(a raw file has no identity a child could check)");
				disk_close(p);
				return -EINVAL;
			}
			if (o->format == DISK_FMT_VHD) {
				struct vhd_create_params vp = {
					.size = size, .block_size = o->block_size, .has_parent = true,
					.parent_relative = rel, .parent_absolute = pabs,
				};
				char name[PATH_MAX];
				snprintf(dircopy, sizeof(dircopy), "%s", pabs);
				snprintf(name, sizeof(name), "%s", basename(dircopy));
				vp.parent_name = name;
				p->drv->link_id(p, vp.parent_id);
				vp.parent_mtime = stat(pabs, &st) == 0 ?
						  (uint32_t)(st.st_mtime - 946684800) : 0;
				r = vhd_create_file(f, &vp, diag);
			} else {
				struct vhdx_create_params xp = {
					.size = size,
					.block_size = o->block_size ? o->block_size : 2u << 20,
					.logical_sector = o->logical_sector ? o->logical_sector :
									      p->sector,
					.physical_sector = o->physical_sector ? o->physical_sector : 4096,
					.has_parent = true,
					.parent_relative = rel,
					.parent_absolute = pabs,
				};
				p->drv->link_id(p, xp.parent_link);
				if (xp.logical_sector != p->sector && p->sector != 512) {
					diag_set(diag, 0, "the parent uses %u-byte sectors; the child must too",
						 p->sector);
					r = -EINVAL;
				} else {
					r = vhdx_create_file(f, &xp, diag);
				}
			}
			disk_close(p);
			return r;
		}
		if (o->format == DISK_FMT_VHD) {
			struct vhd_create_params vp = {
				.size = size, .block_size = o->block_size,
				.fixed = o->type == DISK_TYPE_FIXED,
			};
			return vhd_create_file(f, &vp, diag);
		} else {
			struct vhdx_create_params xp = {
				.size = size,
				.block_size = o->block_size ? o->block_size : 32u << 20,
				.logical_sector = o->logical_sector ? o->logical_sector : 512,
				.physical_sector = o->physical_sector ? o->physical_sector : 4096,
				.fixed = o->type == DISK_TYPE_FIXED,
			};
			return vhdx_create_file(f, &xp, diag);
		}
	}
	default:
		diag_set(diag, 0, "unknown format");
		return -EINVAL;
	}
}

int disk_create(const char *path, const struct disk_create_opts *o, struct disk_diag *diag)
{
	struct disk_file *f;
	int r;

	if (diag)
		diag->msg[0] = 0;
	if (o->parent && o->type == DISK_TYPE_FIXED) {
		diag_set(diag, 0, "a differencing image cannot be fixed; leave out --type");
		return -EINVAL;
	}
	r = disk_file_open(path, DISK_FILE_CREATE, &f);
	if (r < 0) {
		if (r == -EEXIST)
			diag_set(diag, 0, "'%s' already exists; remove it or choose another name", path);
		else
			diag_set(diag, 0, "cannot create '%s': %s", path, strerror(-r));
		return r;
	}
	r = create_on_file(f, path, o, diag);
	if (r == 0)
		r = df_flush(f);
	disk_file_close(f);
	if (r < 0) {
		unlink(path);
		if (diag && !diag->msg[0])
			diag_set(diag, 0, "creating '%s' failed: %s", path, strerror(-r));
	}
	return r;
}

/* ---- convert and merge ---- */

/* What the flattened chain holds at off: DATA or ZERO, with run length. */
static int chain_map(struct disk *d, uint64_t off, uint64_t len, struct disk_extent *x)
{
	int r;

	for (;;) {
		r = d->drv->map(d, off, len, x);
		if (r < 0)
			return r;
		if (x->kind != DISK_EXT_PARENT)
			return 0;
		if (!d->parent || off >= d->parent->size) {
			x->kind = DISK_EXT_ZERO;
			return 0;
		}
		len = MIN(x->len, d->parent->size - off);
		d = d->parent;
	}
}

#define COPY_CHUNK (4 * MiB)

int disk_convert(struct disk *src, const char *dst_path, const struct disk_create_opts *o,
		 disk_progress_fn progress, void *opaque, struct disk_diag *diag)
{
	struct disk_create_opts co = *o;
	struct disk *dst = NULL;
	uint8_t *buf = NULL;
	uint64_t off = 0;
	int r;

	if (co.parent) {
		diag_set(diag, 0, "convert writes a standalone image; it cannot take a parent");
		return -EINVAL;
	}
	co.size = src->size;
	if (co.format == DISK_FMT_VHDX && !co.logical_sector)
		co.logical_sector = src->sector;
	r = disk_create(dst_path, &co, diag);
	if (r < 0)
		return r;
	r = disk_open(dst_path, 0, diag, &dst);
	if (r < 0)
		goto fail;
	buf = malloc(COPY_CHUNK);
	if (!buf) {
		r = -ENOMEM;
		goto fail;
	}
	while (off < src->size) {
		struct disk_extent x, next;
		r = chain_map(src, off, MIN(src->size - off, COPY_CHUNK), &x);
		if (r < 0)
			goto fail;
		/*
		 * PERF: overlap reading and writing: ask for the next chunk now, and
		 * start writeback of what we wrote so the final flush has less to do.
		 */
		if (off + x.len < src->size &&
		    chain_map(src, off + x.len, MIN(src->size - off - x.len, COPY_CHUNK), &next) == 0 &&
		    next.kind == DISK_EXT_DATA && next.fd >= 0)
			(void)posix_fadvise(next.fd, (off_t)next.file_off, (off_t)next.len,
					    POSIX_FADV_WILLNEED);
		if (dst->file->fd >= 0 && (off / COPY_CHUNK) % 8 == 7)
			(void)sync_file_range(dst->file->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		if (x.kind == DISK_EXT_DATA) {
			size_t n = (size_t)x.len;
			r = disk_read(src, off, buf, n);
			if (r < 0)
				goto fail;
			/* PERF: sparse output; skip sector groups that are all zero. */
			for (size_t p = 0; p < n;) {
				size_t q = p, step = 64 * 1024;
				bool zero = buf_is_zero(buf + p, MIN(step, n - p));
				while (q < n && buf_is_zero(buf + q, MIN(step, n - q)) == zero)
					q += MIN(step, n - q);
				if (!zero) {
					r = disk_write(dst, off + p, buf + p, q - p);
					if (r < 0)
						goto fail;
				}
				p = q;
			}
		}
		off += x.len;
		if (progress)
			progress(opaque, off, src->size);
	}
	free(buf);
	buf = NULL;
	r = disk_flush(dst);
	if (r == 0) {
		r = disk_close(dst);
		dst = NULL;
	}
	if (r < 0)
		goto fail;
	return 0;
fail:
	free(buf);
	if (dst)
		(void)disk_close(dst);
	unlink(dst_path);
	if (diag && !diag->msg[0])
		diag_set(diag, 0, "converting to '%s' failed: %s", dst_path, strerror(-r));
	return r;
}

int disk_merge(const char *child_path, struct disk_diag *diag)
{
	struct disk *c = NULL, *p = NULL;
	struct chain_ids ids = { .n = 0 };
	char ppath[PATH_MAX];
	uint8_t *buf = NULL;
	int r;

	if (diag)
		diag->msg[0] = 0;
	r = disk_open(child_path, DISK_OPEN_RDONLY | DISK_OPEN_NO_PARENT, diag, &c);
	if (r < 0)
		return r;
	if (!c->drv->parent_hint || !c->drv->parent_hint(c, 0)) {
		diag_set(diag, 0, "'%s' is not a differencing image; there is nothing to merge",
			 child_path);
		r = -EINVAL;
		goto out;
	}
	r = resolve_parent(c, &ids, ppath, sizeof(ppath), diag);
	if (r < 0)
		goto out;
	r = disk_open_chain(ppath, 0, &ids, diag, &p);
	if (r < 0)
		goto out;
	r = c->drv->parent_matches(c, p, diag);
	if (r < 0)
		goto out;
	buf = malloc(COPY_CHUNK);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (uint64_t off = 0; off < c->size;) {
		struct disk_extent x;
		r = c->drv->map(c, off, MIN(c->size - off, COPY_CHUNK), &x);
		if (r < 0)
			goto out;
		if (x.kind != DISK_EXT_PARENT && off < p->size) {
			size_t n = (size_t)MIN(x.len, p->size - off);
			if (x.kind == DISK_EXT_DATA)
				r = c->drv->readv(c, off, &(struct iovec){ buf, n }, 1);
			else
				memset(buf, 0, n);
			if (r == 0)
				r = disk_write(p, off, buf, n);
			if (r < 0)
				goto out;
		}
		off += x.len;
	}
	r = disk_flush(p);
	if (r < 0)
		goto out;
	r = disk_close(p);
	p = NULL;
	if (r < 0)
		goto out;
	(void)disk_close(c);
	c = NULL;
	if (unlink(child_path) < 0) {
		r = -errno;
		diag_set(diag, 0, "merged, but removing '%s' failed: %s", child_path, strerror(errno));
	}
out:
	free(buf);
	if (p)
		(void)disk_close(p);
	if (c)
		(void)disk_close(c);
	return r;
}
