// SPDX-License-Identifier: MIT
/*
 * Disk library tests: read/write against an in-memory model for every format
 * and layout, iovec handling, differencing chains (VHDX and VHD) with merge,
 * parent errors (missing, modified, loops), discard, resize, compact, dirty
 * log replay, and a table of damaged images that must fail with one clear
 * diagnostic and leave the file untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "openhv/disk.h"
#include "t.h"
#include "vhdx/disk_internal.h"
#include "vhdx/vhdx_format.h"

static char dir[64];

static const char *tpath(const char *name)
{
	static char buf[4][256];
	static int k;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/ohv-vhdx-XXXXXX");
		if (!mkdtemp(dir))
			abort();
	}
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill_rand(uint8_t *p, size_t n, uint64_t *s)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(rnd(s) >> 24);
}

static struct disk *xopen(const char *path, unsigned flags)
{
	struct disk_diag diag = { 0 };
	struct disk *d = NULL;
	int r = disk_open(path, flags, &diag, &d);

	if (r < 0)
		t_fail(__FILE__, __LINE__, true, "open %s: %d %s", path, r, diag.msg);
	return d;
}

static void xcreate(const char *path, enum disk_format f, enum disk_type t, uint64_t size,
		    uint32_t bs, uint32_t lss, const char *parent)
{
	struct disk_create_opts o = { .format = f, .type = t, .size = size, .block_size = bs,
				      .logical_sector = lss, .parent = parent };
	struct disk_diag diag = { 0 };
	int r;

	unlink(path);
	r = disk_create(path, &o, &diag);
	if (r < 0)
		t_fail(__FILE__, __LINE__, true, "create %s: %d %s", path, r, diag.msg);
}

static void expect_content(struct disk *d, const uint8_t *model, uint64_t size)
{
	uint8_t *buf = malloc(size);

	T_ASSERT(buf);
	T_ASSERT_EQ(disk_read(d, 0, buf, size), 0);
	for (uint64_t i = 0; i < size; i += 512) {
		if (memcmp(buf + i, model + i, 512)) {
			free(buf);
			t_fail(__FILE__, __LINE__, true, "content differs at byte %llu",
			       (unsigned long long)i);
		}
	}
	free(buf);
}

static void expect_clean(struct disk *d)
{
	struct disk_check_result res;

	T_ASSERT_EQ(disk_check(d, false, NULL, NULL, &res), 0);
	T_EXPECT_EQ(res.errors, 0);
}

/* Random writes of random lengths, checked against a model, across reopen. */
static void model_run(enum disk_format f, enum disk_type t, uint32_t bs, uint32_t lss)
{
	const uint64_t size = 24 * MiB;
	uint8_t *model = calloc(1, size), *buf = malloc(3 * MiB);
	uint64_t seed = 0x1234 + f * 7 + t * 13 + bs + lss;
	const char *p = tpath("model.img");
	struct disk *d;

	T_ASSERT(model && buf);
	xcreate(p, f, t, size, bs, lss, NULL);
	d = xopen(p, 0);
	T_ASSERT_EQ(disk_size(d), size);
	for (int i = 0; i < 60; i++) {
		uint64_t sec = lss, off = rnd(&seed) % (size / sec) * sec;
		uint64_t len = (1 + rnd(&seed) % (i % 10 == 0 ? 3 * MiB / sec : 64)) * sec;
		if (off + len > size)
			len = size - off;
		fill_rand(buf, len, &seed);
		T_ASSERT_EQ(disk_write(d, off, buf, len), 0);
		memcpy(model + off, buf, len);
		if (i % 17 == 0)
			T_ASSERT_EQ(disk_flush(d), 0);
	}
	expect_content(d, model, size);
	T_ASSERT_EQ(disk_close(d), 0);
	d = xopen(p, DISK_OPEN_RDONLY);
	expect_content(d, model, size);
	expect_clean(d);
	/* Misaligned and out-of-range requests are refused. */
	T_EXPECT_EQ(disk_read(d, 1, buf, 512), -EINVAL);
	T_EXPECT_EQ(disk_read(d, size - 512, buf, 1024), -EINVAL);
	T_EXPECT_EQ(disk_write(d, 0, buf, lss), -EROFS);
	T_ASSERT_EQ(disk_close(d), 0);
	free(model);
	free(buf);
}

static void test_vhdx_dynamic_1m(void) { model_run(DISK_FMT_VHDX, DISK_TYPE_DYNAMIC, 1 << 20, 512); }
static void test_vhdx_dynamic_32m_4k(void) { model_run(DISK_FMT_VHDX, DISK_TYPE_DYNAMIC, 32 << 20, 4096); }
static void test_vhdx_dynamic_256m(void) { model_run(DISK_FMT_VHDX, DISK_TYPE_DYNAMIC, 256 << 20, 512); }
static void test_vhdx_fixed(void) { model_run(DISK_FMT_VHDX, DISK_TYPE_FIXED, 2 << 20, 512); }
static void test_vhd_dynamic(void) { model_run(DISK_FMT_VHD, DISK_TYPE_DYNAMIC, 0, 512); }
static void test_vhd_fixed(void) { model_run(DISK_FMT_VHD, DISK_TYPE_FIXED, 0, 512); }
static void test_raw(void) { model_run(DISK_FMT_RAW, DISK_TYPE_FIXED, 0, 512); }

/* Many small iovecs, crossing block boundaries (more than the slicing limit). */
static void test_iovecs(void)
{
	const char *p = tpath("iov.vhdx");
	static uint8_t src[200][512], dst[200][512];
	struct iovec v[200], w[200];
	uint64_t seed = 99;
	struct disk *d;

	xcreate(p, DISK_FMT_VHDX, DISK_TYPE_DYNAMIC, 8 * MiB, 1 << 20, 512, NULL);
	d = xopen(p, 0);
	for (int i = 0; i < 200; i++) {
		fill_rand(src[i], 512, &seed);
		v[i] = (struct iovec){ src[i], 512 };
		w[i] = (struct iovec){ dst[i], 512 };
	}
	T_ASSERT_EQ(disk_writev(d, MiB - 100 * 512, v, 200), 0);
	T_ASSERT_EQ(disk_readv(d, MiB - 100 * 512, w, 200), 0);
	T_EXPECT_MEMEQ(src, dst, sizeof(src));
	T_ASSERT_EQ(disk_readv(d, MiB - 100 * 512, w, 10), 0);
	T_EXPECT_MEMEQ(src, dst, 10 * 512);
	T_ASSERT_EQ(disk_close(d), 0);
}

/* Three-deep chains: reads fall through, writes land in the child, merge keeps content. */
static void chain_run(enum disk_format f)
{
	const uint64_t size = 8 * MiB;
	uint8_t *model = calloc(1, size), *buf = malloc(MiB), *tmp = malloc(size);
	const char *ext = f == DISK_FMT_VHDX ? "vhdx" : "vhd";
	char base[256], mid[256], top[256];
	uint64_t seed = 777;
	struct disk *d;

	T_ASSERT(model && buf && tmp);
	snprintf(base, sizeof(base), "%s", tpath(f == DISK_FMT_VHDX ? "base.vhdx" : "base.vhd"));
	snprintf(mid, sizeof(mid), "%s/mid.%s", dir, ext);
	snprintf(top, sizeof(top), "%s/top.%s", dir, ext);
	xcreate(base, f, DISK_TYPE_DYNAMIC, size, 1 << 20, 512, NULL);
	d = xopen(base, 0);
	fill_rand(buf, MiB, &seed);
	T_ASSERT_EQ(disk_write(d, 0, buf, MiB), 0);
	memcpy(model, buf, MiB);
	T_ASSERT_EQ(disk_write(d, 5 * MiB, buf, MiB), 0);
	memcpy(model + 5 * MiB, buf, MiB);
	T_ASSERT_EQ(disk_close(d), 0);

	unlink(mid);
	xcreate(mid, f, 0, 0, 0, 0, base);
	d = xopen(mid, 0);
	T_EXPECT(disk_parent(d) != NULL);
	expect_content(d, model, size);
	/* Sub-block writes: partially present blocks with sector bitmaps. */
	for (int i = 0; i < 20; i++) {
		uint64_t off = rnd(&seed) % (size / 512) * 512, len = (1 + rnd(&seed) % 40) * 512;
		if (off + len > size)
			len = size - off;
		fill_rand(buf, len, &seed);
		T_ASSERT_EQ(disk_write(d, off, buf, len), 0);
		memcpy(model + off, buf, len);
	}
	expect_content(d, model, size);
	T_ASSERT_EQ(disk_close(d), 0);

	unlink(top);
	xcreate(top, f, 0, 0, 0, 0, mid);
	d = xopen(top, 0);
	T_EXPECT(disk_parent(d) && disk_parent(disk_parent(d)));
	for (int i = 0; i < 20; i++) {
		uint64_t off = rnd(&seed) % (size / 512) * 512, len = (1 + rnd(&seed) % 600) * 512;
		if (off + len > size)
			len = size - off;
		fill_rand(buf, len, &seed);
		T_ASSERT_EQ(disk_write(d, off, buf, len), 0);
		memcpy(model + off, buf, len);
	}
	expect_content(d, model, size);
	T_ASSERT_EQ(disk_close(d), 0);
	d = xopen(top, DISK_OPEN_RDONLY);
	expect_content(d, model, size);
	expect_clean(d);
	T_ASSERT_EQ(disk_close(d), 0);

	/* Merge top into mid, then mid into base. */
	{
		struct disk_diag diag = { 0 };
		T_ASSERT_EQ(disk_merge(top, &diag), 0);
		T_EXPECT(access(top, F_OK) != 0);
		d = xopen(mid, DISK_OPEN_RDONLY);
		expect_content(d, model, size);
		T_ASSERT_EQ(disk_close(d), 0);
		T_ASSERT_EQ(disk_merge(mid, &diag), 0);
		d = xopen(base, DISK_OPEN_RDONLY);
		expect_content(d, model, size);
		expect_clean(d);
		T_ASSERT_EQ(disk_close(d), 0);
	}
	free(model);
	free(buf);
	free(tmp);
}

static void test_chain_vhdx(void) { chain_run(DISK_FMT_VHDX); }
static void test_chain_vhd(void) { chain_run(DISK_FMT_VHD); }

static void test_parent_errors(void)
{
	char a[256], b[256], c[256];
	struct disk_diag diag = { 0 };
	struct disk *d;
	uint8_t sec[512] = { 1 };

	snprintf(a, sizeof(a), "%s", tpath("pa.vhdx"));
	snprintf(b, sizeof(b), "%s", tpath("pb.vhdx"));
	snprintf(c, sizeof(c), "%s", tpath("pc.vhdx"));
	xcreate(a, DISK_FMT_VHDX, DISK_TYPE_DYNAMIC, 4 * MiB, 0, 0, NULL);
	xcreate(b, DISK_FMT_VHDX, 0, 0, 0, 0, a);
	xcreate(c, DISK_FMT_VHDX, 0, 0, 0, 0, b);

	/* Missing parent: named in the message. */
	T_ASSERT_EQ(rename(a, tpath("pa-away.vhdx")), 0);
	T_EXPECT_EQ(disk_open(c, DISK_OPEN_RDONLY, &diag, &d), -ENOENT);
	T_EXPECT(strstr(diag.msg, "pa.vhdx") != NULL);
	T_ASSERT_EQ(rename(tpath("pa-away.vhdx"), a), 0);

	/* Parent modified after the child was made. */
	d = xopen(a, 0);
	T_ASSERT_EQ(disk_write(d, 0, sec, 512), 0);
	T_ASSERT_EQ(disk_close(d), 0);
	T_EXPECT_EQ(disk_open(b, DISK_OPEN_RDONLY, &diag, &d), -ESTALE);
	T_EXPECT(strstr(diag.msg, "modified") != NULL);

	/* Loop: b's parent becomes c (whose parent is b). */
	T_ASSERT_EQ(rename(c, a), 0);
	T_EXPECT_EQ(disk_open(b, DISK_OPEN_RDONLY, &diag, &d), -ELOOP);
	T_EXPECT(strstr(diag.msg, "loop") != NULL);

	/* Inspect mode still shows the child. */
	T_ASSERT_EQ(disk_open(b, DISK_OPEN_INSPECT, &diag, &d), 0);
	T_ASSERT_EQ(disk_close(d), 0);
}

/* A chain opened only from descriptors (the sandboxed worker's way). */
static void test_open_fds(void)
{
	char a[256], b[256], pa[256], pb[256];
	struct disk_fd_entry files[2];
	struct disk_diag diag = { 0 };
	uint8_t sec[512], got[512];
	struct disk *d, *chain;
	int fa, fb;

	snprintf(a, sizeof(a), "%s", tpath("fa.vhdx"));
	snprintf(b, sizeof(b), "%s", tpath("fb.vhdx"));
	xcreate(a, DISK_FMT_VHDX, DISK_TYPE_DYNAMIC, 4 * MiB, 0, 0, NULL);
	memset(sec, 0x5a, sizeof(sec));
	d = xopen(a, 0);
	T_ASSERT_EQ(disk_write(d, 4096, sec, 512), 0);
	T_ASSERT_EQ(disk_close(d), 0);
	xcreate(b, DISK_FMT_VHDX, 0, 0, 0, 0, a);

	/* The names the library resolves, from a normal open. */
	chain = xopen(b, DISK_OPEN_RDONLY);
	T_ASSERT(chain && disk_parent(chain));
	snprintf(pb, sizeof(pb), "%s", disk_path(chain));
	snprintf(pa, sizeof(pa), "%s", disk_path(disk_parent(chain)));
	T_ASSERT_EQ(disk_close(chain), 0);
	fb = open(pb, O_RDWR | O_CLOEXEC);
	fa = open(pa, O_RDONLY | O_CLOEXEC);
	T_ASSERT(fa >= 0 && fb >= 0);

	/* The paths are gone; the descriptors are all the library gets. */
	T_ASSERT_EQ(rename(a, tpath("fa-moved.vhdx")), 0);
	T_ASSERT_EQ(rename(b, tpath("fb-moved.vhdx")), 0);
	files[0] = (struct disk_fd_entry){ pb, fb };
	files[1] = (struct disk_fd_entry){ pa, fa };
	T_ASSERT_EQ(disk_open_fds(pb, files, 2, 0, &diag, &d), 0);
	T_ASSERT_EQ(disk_read(d, 4096, got, 512), 0);
	T_EXPECT_MEMEQ(got, sec, 512);            /* read through the parent */
	memset(sec, 0xa5, sizeof(sec));
	T_ASSERT_EQ(disk_write(d, 0, sec, 512), 0);
	T_ASSERT_EQ(disk_close(d), 0);

	/* Our fds stay ours; the write is in the child. */
	T_ASSERT_EQ(disk_open_fds(pb, files, 2, DISK_OPEN_RDONLY, &diag, &d), 0);
	T_ASSERT_EQ(disk_read(d, 0, got, 512), 0);
	T_EXPECT_MEMEQ(got, sec, 512);
	T_ASSERT_EQ(disk_close(d), 0);

	/* A missing parent entry, or the wrong file as parent, is refused clearly. */
	T_EXPECT_EQ(disk_open_fds(pb, files, 1, DISK_OPEN_RDONLY, &diag, &d), -ENOENT);
	T_EXPECT(strstr(diag.msg, "fa.vhdx") != NULL);
	files[1].fd = fb;
	T_EXPECT(disk_open_fds(pb, files, 2, DISK_OPEN_RDONLY, &diag, &d) < 0);
	T_EXPECT_EQ(disk_open_fds("/nowhere.vhdx", files, 2, DISK_OPEN_RDONLY, &diag, &d), -ENOENT);
	T_EXPECT_EQ(disk_open_fds(pb, NULL, 0, DISK_OPEN_RDONLY, &diag, &d), -EINVAL);
	close(fa);
	close(fb);
}

/* A chain passed as descriptors in order (what openhvd hands its workers). */
static void test_open_fd_chain(void)
{
	char a[256], b[256], c[256];
	const char *names[3];
	struct disk_diag diag = { 0 };
	uint8_t sec[512], got[512];
	struct disk *d;
	int fds[3], swapped[3];

	snprintf(a, sizeof(a), "%s", tpath("oa.vhdx"));
	snprintf(b, sizeof(b), "%s", tpath("ob.vhdx"));
	snprintf(c, sizeof(c), "%s", tpath("oc.vhdx"));
	xcreate(a, DISK_FMT_VHDX, DISK_TYPE_DYNAMIC, 4 * MiB, 0, 0, NULL);
	memset(sec, 0x3c, sizeof(sec));
	d = xopen(a, 0);
	T_ASSERT_EQ(disk_write(d, 8192, sec, 512), 0);
	T_ASSERT_EQ(disk_close(d), 0);
	xcreate(b, DISK_FMT_VHDX, 0, 0, 0, 0, a);
	xcreate(c, DISK_FMT_VHDX, 0, 0, 0, 0, b);
	/* Walking the chain header by header, as the service does. */
	{
		char pp[512];

		d = xopen(c, DISK_OPEN_INSPECT);
		T_ASSERT_EQ(disk_parent_path(d, pp, sizeof(pp), &diag), 0);
		T_EXPECT_STREQ(pp, b);
		T_ASSERT_EQ(disk_close(d), 0);
		d = xopen(a, DISK_OPEN_INSPECT);
		T_EXPECT_EQ(disk_parent_path(d, pp, sizeof(pp), &diag), -EINVAL);
		T_ASSERT_EQ(disk_close(d), 0);
	}
	fds[0] = open(c, O_RDWR | O_CLOEXEC);
	fds[1] = open(b, O_RDONLY | O_CLOEXEC);
	fds[2] = open(a, O_RDONLY | O_CLOEXEC);
	T_ASSERT(fds[0] >= 0 && fds[1] >= 0 && fds[2] >= 0);
	names[0] = "top.vhdx";
	names[1] = "middle.vhdx";
	names[2] = "base.vhdx";

	/* Moved away: the descriptors are all there is. */
	T_ASSERT_EQ(rename(a, tpath("oa-moved.vhdx")), 0);
	T_ASSERT_EQ(disk_open_fd_chain(fds, names, 3, 0, &diag, &d), 0);
	T_ASSERT_EQ(disk_read(d, 8192, got, 512), 0);
	T_EXPECT_MEMEQ(got, sec, 512);            /* through two parents */
	memset(got, 0x77, sizeof(got));
	T_ASSERT_EQ(disk_write(d, 0, got, 512), 0);
	T_ASSERT_EQ(disk_close(d), 0);
	T_ASSERT_EQ(disk_open_fd_chain(fds, names, 3, DISK_OPEN_RDONLY, &diag, &d), 0);
	T_ASSERT_EQ(disk_read(d, 0, sec, 512), 0);
	T_EXPECT_EQ(sec[0], 0x77);                /* the write went to the top image */
	T_ASSERT_EQ(disk_close(d), 0);

	/* A parent left out, one too many, parents swapped: refused with a reason. */
	T_EXPECT_EQ(disk_open_fd_chain(fds, names, 2, DISK_OPEN_RDONLY, &diag, &d), -ENOENT);
	T_EXPECT(strstr(diag.msg, "parent was not passed") != NULL);
	T_EXPECT_EQ(disk_open_fd_chain(fds + 1, names + 1, 2, DISK_OPEN_RDONLY, &diag, &d), 0);
	T_ASSERT_EQ(disk_close(d), 0);
	swapped[0] = fds[1];
	swapped[1] = fds[2];
	swapped[2] = fds[0];
	T_EXPECT_EQ(disk_open_fd_chain(swapped, names, 3, DISK_OPEN_RDONLY, &diag, &d), -EINVAL);
	T_EXPECT(strstr(diag.msg, "3 images were passed") != NULL);
	swapped[0] = fds[0];
	swapped[1] = fds[2];                      /* grandparent where the parent belongs */
	swapped[2] = fds[1];
	T_EXPECT(disk_open_fd_chain(swapped, names, 3, DISK_OPEN_RDONLY, &diag, &d) < 0);
	T_EXPECT(diag.msg[0] != 0);
	T_EXPECT_EQ(disk_open_fd_chain(fds, names, 0, 0, &diag, &d), -EINVAL);
	swapped[0] = -1;
	T_EXPECT_EQ(disk_open_fd_chain(swapped, names, 1, 0, &diag, &d), -EINVAL);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}

static void test_discard(void)
{
	const char *p = tpath("discard.vhdx");
	uint8_t *buf = malloc(2 * MiB), *zero = calloc(1, 2 * MiB);
	struct disk_info before, after;
	struct disk *d;

	T_ASSERT(buf && zero);
	memset(buf, 0xab, 2 * MiB);
	xcreate(p, DISK_FMT_VHDX, DISK_TYPE_DYNAMIC, 8 * MiB, 1 << 20, 512, NULL);
	d = xopen(p, 0);
	T_ASSERT_EQ(disk_write(d, 2 * MiB, buf, 2 * MiB), 0);
	T_ASSERT_EQ(disk_flush(d), 0);
	disk_get_info(d, &before);
	T_ASSERT_EQ(disk_discard(d, 2 * MiB, MiB + 4096), 0);
	T_ASSERT_EQ(disk_read(d, 2 * MiB, buf, 2 * MiB), 0);
	T_EXPECT_MEMEQ(buf, zero, MiB + 4096);
	T_EXPECT_EQ(buf[MiB + 4096], 0xab);
	T_ASSERT_EQ(disk_flush(d), 0);
	disk_get_info(d, &after);
	T_EXPECT_LT(after.allocated, before.allocated);
	{
		struct disk_extent x;
		T_ASSERT_EQ(disk_map(d, 2 * MiB, MiB, &x), 0);
		T_EXPECT_EQ(x.kind, DISK_EXT_ZERO);
		T_ASSERT_EQ(disk_map(d, 3 * MiB, MiB, &x), 0);
		T_EXPECT_EQ(x.kind, DISK_EXT_DATA);
		T_EXPECT(x.fd >= 0);
		/* Direct write through the mapped fd, read back through the library. */
		T_ASSERT_EQ(disk_begin_direct_writes(d), 0);
		memset(buf, 0x77, 4096);
		T_ASSERT_EQ(pwrite(x.fd, buf, 4096, (off_t)x.file_off), 4096);
		T_ASSERT_EQ(disk_read(d, 3 * MiB, zero, 4096), 0);
		T_EXPECT_MEMEQ(zero, buf, 4096);
	}
	T_ASSERT_EQ(disk_close(d), 0);
	free(buf);
	free(zero);
}

static void test_resize_compact(void)
{
	const char *p = tpath("rc.vhdx");
	uint8_t *buf = malloc(MiB), *chk = malloc(MiB);
	struct disk_diag diag = { 0 };
	struct disk_info in;
	uint64_t saved = 0, seed = 5;
	struct disk *d;

	T_ASSERT(buf && chk);
	xcreate(p, DISK_FMT_VHDX, DISK_TYPE_DYNAMIC, 16 * MiB, 1 << 20, 512, NULL);
	d = xopen(p, 0);
	fill_rand(buf, MiB, &seed);
	fill_rand(chk, MiB, &seed);
	for (int b = 0; b < 16; b++)
		T_ASSERT_EQ(disk_write(d, (uint64_t)b * MiB, b % 2 ? buf : chk, MiB), 0);
	memset(chk, 0, MiB);
	for (int b = 0; b < 16; b += 2)
		T_ASSERT_EQ(disk_write(d, (uint64_t)b * MiB, chk, MiB), 0);
	T_ASSERT_EQ(disk_compact(d, &saved, &diag), 0);
	T_EXPECT_GE(saved, 8 * MiB);
	for (int b = 0; b < 16; b++) {
		T_ASSERT_EQ(disk_read(d, (uint64_t)b * MiB, chk, MiB), 0);
		if (b % 2)
			T_EXPECT_MEMEQ(chk, buf, MiB);
		else
			T_EXPECT(buf_is_zero(chk, MiB));
	}
	/* Grow far past the BAT region, then shrink; data below the new end stays. */
	T_ASSERT_EQ(disk_resize(d, 600ULL * 1024 * MiB, &diag), 0);
	T_ASSERT_EQ(disk_write(d, 599ULL * 1024 * MiB, buf, MiB), 0);
	T_ASSERT_EQ(disk_close(d), 0);
	d = xopen(p, 0);
	T_EXPECT_EQ(disk_size(d), 600ULL * 1024 * MiB);
	T_ASSERT_EQ(disk_read(d, 599ULL * 1024 * MiB, chk, MiB), 0);
	T_EXPECT_MEMEQ(chk, buf, MiB);
	expect_clean(d);
	T_ASSERT_EQ(disk_resize(d, 3 * MiB + 512, &diag), 0);
	T_ASSERT_EQ(disk_read(d, MiB, chk, MiB), 0);
	T_EXPECT_MEMEQ(chk, buf, MiB);
	T_ASSERT_EQ(disk_resize(d, 8 * MiB, &diag), 0);
	T_ASSERT_EQ(disk_read(d, 3 * MiB + 512, chk, MiB - 512), 0);
	T_EXPECT(buf_is_zero(chk, MiB - 512)); /* the shrunk-away tail does not come back */
	expect_clean(d);
	disk_get_info(d, &in);
	T_EXPECT_LE(in.file_size, 24 * MiB);
	T_ASSERT_EQ(disk_close(d), 0);
	free(buf);
	free(chk);
}

/* Killed after a flush without a clean close: the log is replayed on open. */
static void test_dirty_replay(void)
{
	const char *p = tpath("dirty.vhdx");
	uint8_t buf[4096], chk[4096];
	struct disk_diag diag = { 0 };
	struct disk_info in;
	struct disk_file *f;
	struct disk *d, *d2;
	void *raw;
	size_t len;

	memset(buf, 0x5c, sizeof(buf));
	xcreate(p, DISK_FMT_VHDX, DISK_TYPE_DYNAMIC, 8 * MiB, 1 << 20, 512, NULL);
	d = xopen(p, 0);
	T_ASSERT_EQ(disk_write(d, 3 * MiB, buf, sizeof(buf)), 0);
	T_ASSERT_EQ(disk_flush(d), 0);
	T_ASSERT_EQ(read_file(p, 64 << 20, &raw, &len), 0);
	T_ASSERT_EQ(disk_close(d), 0);

	/* Inspect shows the pending log; read-only open refuses with a hint. */
	T_ASSERT_EQ(disk_file_mem(raw, len, true, &f), 0);
	T_ASSERT_EQ(disk_open_file(f, "dirty", DISK_OPEN_INSPECT, &diag, &d2), 0);
	disk_get_info(d2, &in);
	T_EXPECT(in.log_pending);
	T_ASSERT_EQ(disk_close(d2), 0);
	T_ASSERT_EQ(disk_file_mem(raw, len, true, &f), 0);
	T_EXPECT_EQ(disk_open_file(f, "dirty", DISK_OPEN_RDONLY, &diag, &d2), -EROFS);
	T_EXPECT(strstr(diag.msg, "replayed") != NULL);

	T_ASSERT_EQ(disk_file_mem(raw, len, false, &f), 0);
	T_ASSERT_EQ(disk_open_file(f, "dirty", 0, &diag, &d2), 0);
	disk_get_info(d2, &in);
	T_EXPECT(in.log_replayed);
	T_ASSERT_EQ(disk_read(d2, 3 * MiB, chk, sizeof(chk)), 0);
	T_EXPECT_MEMEQ(chk, buf, sizeof(chk));
	expect_clean(d2);
	T_ASSERT_EQ(disk_close(d2), 0);
	free(raw);
}

/* ---- damaged images ---- */

static uint8_t *good;
static size_t good_len;

static void load_good(void)
{
	const char *p = tpath("good.vhdx");
	uint8_t sec[512];
	struct disk *d;
	void *raw;

	if (good)
		return;
	xcreate(p, DISK_FMT_VHDX, DISK_TYPE_DYNAMIC, 8 * MiB, 1 << 20, 512, NULL);
	d = xopen(p, 0);
	memset(sec, 7, sizeof(sec));
	T_ASSERT_EQ(disk_write(d, 0, sec, 512), 0);
	T_ASSERT_EQ(disk_close(d), 0);
	T_ASSERT_EQ(read_file(p, 64 << 20, &raw, &good_len), 0);
	good = raw;
}

static void fix_region_crc(uint8_t *img)
{
	for (int i = 0; i < 2; i++) {
		uint8_t *t = img + (i ? VHDX_REGION2_OFF : VHDX_REGION1_OFF);
		st_le32(t + 4, 0);
		st_le32(t + 4, crc32c(0, t, VHDX_REGION_TABLE_SIZE));
	}
}

/* Metadata entry i of the table at 2 MiB (our layout). */
static uint8_t *meta_entry(uint8_t *img, int i)
{
	return img + 2 * MiB + 32 + i * 32;
}

static void bad_trunc0(uint8_t *m, size_t *len) { *len = 0; }
static void bad_trunc_small(uint8_t *m, size_t *len) { *len = 700; }
static void bad_trunc_hdr(uint8_t *m, size_t *len) { *len = MiB - 1; }
static void bad_trunc_meta(uint8_t *m, size_t *len) { *len = 2 * MiB + 100; }
static void bad_signature(uint8_t *m, size_t *len) { m[0] = 'X'; }
static void bad_headers(uint8_t *m, size_t *len)
{
	m[VHDX_HEADER1_OFF + 100] ^= 1;
	m[VHDX_HEADER2_OFF + 100] ^= 1;
}
static void bad_regions(uint8_t *m, size_t *len)
{
	m[VHDX_REGION1_OFF + 40] ^= 1;
	m[VHDX_REGION2_OFF + 40] ^= 1;
}
static void bad_region_overlap(uint8_t *m, size_t *len)
{
	/* The BAT (entry 0) moved onto the log at 1 MiB. */
	st_le64(m + VHDX_REGION1_OFF + 16 + 16, MiB);
	memcpy(m + VHDX_REGION2_OFF, m + VHDX_REGION1_OFF, 64);
	fix_region_crc(m);
}
static void bad_region_unknown_required(uint8_t *m, size_t *len)
{
	for (int i = 0; i < 2; i++) {
		uint8_t *t = m + (i ? VHDX_REGION2_OFF : VHDX_REGION1_OFF);
		st_le32(t + 8, 3);
		memset(t + 16 + 64, 0x42, 16);
		st_le64(t + 16 + 64 + 16, 5 * MiB);
		st_le32(t + 16 + 64 + 24, (uint32_t)MiB);
		st_le32(t + 16 + 64 + 28, 1);
	}
	fix_region_crc(m);
}
static void bad_region_outside(uint8_t *m, size_t *len)
{
	st_le64(m + VHDX_REGION1_OFF + 16 + 16, 1ULL << 50);
	memcpy(m + VHDX_REGION2_OFF, m + VHDX_REGION1_OFF, 64);
	fix_region_crc(m);
}
static void bad_absurd_size(uint8_t *m, size_t *len)
{
	st_le64(m + 2 * MiB + ld_le32(meta_entry(m, 1) + 16), 1ULL << 62);
}
static void bad_block_size(uint8_t *m, size_t *len)
{
	st_le32(m + 2 * MiB + ld_le32(meta_entry(m, 0) + 16), 3 << 20);
}
static void bad_sector_size(uint8_t *m, size_t *len)
{
	st_le32(m + 2 * MiB + ld_le32(meta_entry(m, 3) + 16), 1000);
}
static void bad_meta_unknown_required(uint8_t *m, size_t *len)
{
	memset(meta_entry(m, 2), 0x77, 16); /* page 83 becomes an unknown required item */
}
static void bad_meta_outside(uint8_t *m, size_t *len)
{
	st_le32(meta_entry(m, 1) + 16, 0x7ffffff0);
}
static void bad_meta_dup(uint8_t *m, size_t *len)
{
	memcpy(meta_entry(m, 2), meta_entry(m, 1), 16);
}
static void bad_meta_count(uint8_t *m, size_t *len)
{
	st_le16(m + 2 * MiB + 10, 5000);
}
static void bad_bat_state(uint8_t *m, size_t *len)
{
	st_le64(m + 3 * MiB + 8, 5);
}
static void bad_bat_offset(uint8_t *m, size_t *len)
{
	st_le64(m + 3 * MiB + 8, (1ULL << 62) | VHDX_PAYLOAD_FULLY_PRESENT);
}
static void bad_bat_partial_in_dynamic(uint8_t *m, size_t *len)
{
	st_le64(m + 3 * MiB, ld_le64(m + 3 * MiB) | 7);
}

static const struct bad_case {
	const char *name;
	void (*mutate)(uint8_t *m, size_t *len);
	int err;
	const char *words;   /* expected in the diagnostic */
} bad_cases[] = {
	{ "empty file", bad_trunc0, -EINVAL, "truncated" },
	{ "700 bytes", bad_trunc_small, -EINVAL, "truncated" },
	{ "header section cut", bad_trunc_hdr, -EINVAL, "truncated" },
	{ "cut inside metadata", bad_trunc_meta, -EINVAL, "" },
	{ "bad file signature", bad_signature, -EINVAL, "signature" },
	{ "both headers damaged", bad_headers, -EINVAL, "headers" },
	{ "both region tables damaged", bad_regions, -EINVAL, "region tables" },
	{ "BAT region overlaps the log", bad_region_overlap, -EINVAL, "overlaps the log" },
	{ "unknown required region", bad_region_unknown_required, -ENOTSUP, "unknown required" },
	{ "region outside the file", bad_region_outside, -EINVAL, "inside" },
	{ "absurd virtual size", bad_absurd_size, -EINVAL, "virtual disk size" },
	{ "block size 3 MiB", bad_block_size, -EINVAL, "block size" },
	{ "sector size 1000", bad_sector_size, -EINVAL, "sector sizes" },
	{ "unknown required metadata", bad_meta_unknown_required, -ENOTSUP, "unknown required" },
	{ "metadata item outside region", bad_meta_outside, -EINVAL, "outside" },
	{ "duplicate metadata item", bad_meta_dup, -EINVAL, "twice" },
	{ "metadata entry count", bad_meta_count, -EINVAL, "metadata table" },
	{ "BAT state 5", bad_bat_state, -EINVAL, "BAT entry 1" },
	{ "BAT offset 2^62", bad_bat_offset, -EINVAL, "BAT entry 1" },
	{ "partially present in a dynamic disk", bad_bat_partial_in_dynamic, -EINVAL, "BAT entry 0" },
};

static void test_bad_vhdx(void)
{
	load_good();
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		uint8_t *m = malloc(good_len);
		size_t len = good_len, after_len;
		struct disk_diag diag = { 0 };
		struct disk_file *f;
		struct disk *d = NULL;
		const uint8_t *after;
		int r;

		T_ASSERT(m);
		memcpy(m, good, good_len);
		c->mutate(m, &len);
		T_ASSERT_EQ(disk_file_mem(m, len, false, &f), 0);
		/* Keep f alive to compare: open a second file over the same bytes. */
		{
			struct disk_file *g;
			T_ASSERT_EQ(disk_file_mem(m, len, false, &g), 0);
			r = disk_open_file(g, "bad.vhdx", 0, &diag, &d);
		}
		if (r != c->err || !strstr(diag.msg, c->words) || !diag.msg[0] || strchr(diag.msg, '\n'))
			t_fail(__FILE__, __LINE__, false, "%s: got %d \"%s\", want %d with \"%s\"",
			       c->name, r, diag.msg, c->err, c->words);
		if (r == 0)
			(void)disk_close(d);
		after = disk_file_mem_data(f, &after_len);
		T_EXPECT(after_len == len && !memcmp(after, m, len));
		disk_file_close(f);
		free(m);
	}
}

/* Damage that open tolerates: check finds it, repair fixes it. */
static void test_repairable_vhdx(void)
{
	uint8_t *m = malloc(good_len ? good_len : 1);
	struct disk_diag diag = { 0 };
	struct disk_check_result res;
	struct disk_file *f;
	struct disk *d;
	uint8_t sec[512];

	load_good();
	m = realloc(m, good_len);
	T_ASSERT(m);
	memcpy(m, good, good_len);
	m[VHDX_HEADER1_OFF + 200] ^= 1;          /* one header copy */
	m[VHDX_REGION2_OFF + 100] ^= 1;          /* one region table copy */
	T_ASSERT_EQ(disk_file_mem(m, good_len, false, &f), 0);
	T_ASSERT_EQ(disk_open_file(f, "r.vhdx", 0, &diag, &d), 0);
	T_ASSERT_EQ(disk_check(d, false, NULL, NULL, &res), 0);
	T_EXPECT_EQ(res.errors, 1);
	T_EXPECT_EQ(res.leaks, 1);
	T_ASSERT_EQ(disk_check(d, true, NULL, NULL, &res), 0);
	T_EXPECT_EQ(res.repaired, 2);
	T_ASSERT_EQ(disk_check(d, false, NULL, NULL, &res), 0);
	T_EXPECT_EQ(res.errors + res.leaks, 0);
	T_ASSERT_EQ(disk_read(d, 0, sec, 512), 0);
	T_EXPECT_EQ(sec[0], 7);
	T_ASSERT_EQ(disk_close(d), 0);
	free(m);
}

/* A log guid with garbage in the log: no valid sequence, nothing replayed. */
static void test_log_garbage(void)
{
	uint8_t *m = malloc(good_len ? good_len : 1);
	struct disk_diag diag = { 0 };
	struct disk_file *f;
	struct disk *d;
	uint64_t seed = 3;

	load_good();
	m = realloc(m, good_len);
	T_ASSERT(m);
	memcpy(m, good, good_len);
	for (int i = 0; i < 2; i++) {
		uint8_t *h = m + (i ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF);
		memset(h + VHDX_HDR_LOG_GUID_OFF, 0x33, 16);
		st_le32(h + 4, 0);
		st_le32(h + 4, crc32c(0, h, VHDX_HEADER_SIZE));
	}
	fill_rand(m + MiB, MiB, &seed);
	st_le32(m + MiB, VHDX_LOG_ENTRY_SIGNATURE); /* a bogus entry header too */
	T_ASSERT_EQ(disk_file_mem(m, good_len, false, &f), 0);
	T_ASSERT_EQ(disk_open_file(f, "g.vhdx", 0, &diag, &d), 0);
	expect_clean(d);
	T_ASSERT_EQ(disk_close(d), 0);
	free(m);
}

static void test_bad_vhd(void)
{
	const char *p = tpath("bad.vhd"), *q = tpath("badf.vhd");
	struct disk_diag diag = { 0 };
	struct disk_file *f;
	struct disk *d;
	void *raw, *rawf;
	size_t len, lenf;
	uint8_t *m;

	xcreate(p, DISK_FMT_VHD, DISK_TYPE_DYNAMIC, 8 * MiB, 0, 0, NULL);
	xcreate(q, DISK_FMT_VHD, DISK_TYPE_FIXED, 1 * MiB, 0, 0, NULL);
	T_ASSERT_EQ(read_file(p, 64 << 20, &raw, &len), 0);
	T_ASSERT_EQ(read_file(q, 64 << 20, &rawf, &lenf), 0);
	m = malloc(MAX(len, lenf));
	T_ASSERT(m);

	/* Bad dynamic header checksum. */
	memcpy(m, raw, len);
	m[512 + 100] ^= 1;
	T_ASSERT_EQ(disk_file_mem(m, len, true, &f), 0);
	T_EXPECT_EQ(disk_open_file(f, "x.vhd", DISK_OPEN_RDONLY, &diag, &d), -EINVAL);
	T_EXPECT(strstr(diag.msg, "dynamic header") != NULL);
	/* BAT entry pointing past the end. */
	memcpy(m, raw, len);
	st_be32(m + 1536, 0x00ffffff);
	T_ASSERT_EQ(disk_file_mem(m, len, true, &f), 0);
	T_EXPECT_EQ(disk_open_file(f, "x.vhd", DISK_OPEN_RDONLY, &diag, &d), -EINVAL);
	T_EXPECT(strstr(diag.msg, "outside the file") != NULL);
	/* Absurd size in both footers (checksums fixed up). */
	memcpy(m, raw, len);
	for (int i = 0; i < 2; i++) {
		uint8_t *ft = i ? m + len - 512 : m;
		uint32_t sum = 0;
		st_be64(ft + 48, 1ULL << 60);
		st_be32(ft + 64, 0);
		for (int k = 0; k < 512; k++)
			sum += ft[k];
		st_be32(ft + 64, ~sum);
	}
	T_ASSERT_EQ(disk_file_mem(m, len, true, &f), 0);
	T_EXPECT_EQ(disk_open_file(f, "x.vhd", DISK_OPEN_RDONLY, &diag, &d), -EINVAL);
	T_EXPECT(strstr(diag.msg, "size") != NULL);
	/* Fixed VHD with a damaged footer is not a VHD: it probes as raw. */
	memcpy(m, rawf, lenf);
	m[lenf - 512 + 70] ^= 1;
	T_ASSERT_EQ(disk_file_mem(m, lenf, true, &f), 0);
	T_EXPECT_EQ(disk_open_file(f, "x.vhd", DISK_OPEN_RDONLY, &diag, &d), -EINVAL);
	/* Truncated dynamic VHD. */
	T_ASSERT_EQ(disk_file_mem(raw, 1000, true, &f), 0);
	T_EXPECT(disk_open_file(f, "x.vhd", DISK_OPEN_RDONLY, &diag, &d) < 0);
	/* Damaged trailing footer: the copy at 0 is used and check repairs it. */
	{
		struct disk_check_result res;
		memcpy(m, raw, len);
		m[len - 512 + 70] ^= 1;
		T_ASSERT_EQ(disk_file_mem(m, len, false, &f), 0);
		T_ASSERT_EQ(disk_open_file(f, "x.vhd", 0, &diag, &d), 0);
		T_ASSERT_EQ(disk_check(d, true, NULL, NULL, &res), 0);
		T_EXPECT_EQ(res.errors, 1); /* bad trailing footer */
		T_EXPECT_EQ(res.repaired, 1);
		T_ASSERT_EQ(disk_check(d, false, NULL, NULL, &res), 0);
		T_EXPECT_EQ(res.errors, 0);
		T_ASSERT_EQ(disk_close(d), 0);
	}
	free(m);
	free(raw);
	free(rawf);
}

static void test_create_errors(void)
{
	struct disk_create_opts o = { .format = DISK_FMT_VHDX, .type = DISK_TYPE_DYNAMIC,
				      .size = 10 * MiB, .block_size = 3 << 20 };
	struct disk_diag diag = { 0 };
	const char *p = tpath("ce.vhdx");

	unlink(p);
	T_EXPECT_EQ(disk_create(p, &o, &diag), -EINVAL);
	T_EXPECT(access(p, F_OK) != 0);   /* nothing left behind */
	o.block_size = 0;
	o.size = 100;
	T_EXPECT_EQ(disk_create(p, &o, &diag), -EINVAL);
	T_EXPECT(access(p, F_OK) != 0);
	o.size = 65ULL << 40;
	T_EXPECT_EQ(disk_create(p, &o, &diag), -EINVAL);
	o.size = MiB;
	T_EXPECT_EQ(disk_create(p, &o, &diag), 0);
	T_EXPECT_EQ(disk_create(p, &o, &diag), -EEXIST);
	T_EXPECT(strstr(diag.msg, "already exists") != NULL);
	o.format = DISK_FMT_VHD;
	o.size = 3000ULL << 30;
	T_EXPECT_EQ(disk_create(tpath("ce.vhd"), &o, &diag), -EINVAL);
	T_EXPECT(access(tpath("ce.vhd"), F_OK) != 0);
}

/*
 * Image locks: one writer or many readers, across open file descriptions
 * (a second open in this same process conflicts like another process would).
 */
static void test_locking(void)
{
	char p[256], c1[256], c2[256];
	struct disk_diag diag = { 0 };
	struct disk *w, *r1, *r2, *x;
	int fd;

	snprintf(p, sizeof(p), "%s", tpath("lk-parent.vhdx"));
	snprintf(c1, sizeof(c1), "%s", tpath("lk-c1.vhdx"));
	snprintf(c2, sizeof(c2), "%s", tpath("lk-c2.vhdx"));
	xcreate(p, DISK_FMT_VHDX, DISK_TYPE_DYNAMIC, 4 * MiB, 0, 0, NULL);
	xcreate(c1, DISK_FMT_VHDX, 0, 0, 0, 0, p);
	xcreate(c2, DISK_FMT_VHDX, 0, 0, 0, 0, p);

	/* A writer excludes a second writer and readers; inspection still works. */
	w = xopen(p, 0);
	T_EXPECT_EQ(disk_open(p, 0, &diag, &x), -EBUSY);
	T_EXPECT(strstr(diag.msg, "in use") != NULL);
	T_EXPECT_EQ(disk_open(p, DISK_OPEN_RDONLY, &diag, &x), -EBUSY);
	T_EXPECT_EQ(disk_open(c1, 0, &diag, &x), -EBUSY);   /* its parent is being written */
	x = xopen(p, DISK_OPEN_INSPECT);
	T_ASSERT_EQ(disk_close(x), 0);
	T_ASSERT_EQ(disk_close(w), 0);

	/* Two children of one parent run side by side; the parent is then read-only. */
	r1 = xopen(c1, 0);
	r2 = xopen(c2, 0);
	T_EXPECT_EQ(disk_open(p, 0, &diag, &x), -EBUSY);
	T_EXPECT(strstr(diag.msg, "open for writing") == NULL);
	x = xopen(p, DISK_OPEN_RDONLY);
	T_ASSERT_EQ(disk_close(x), 0);
	T_EXPECT_EQ(disk_open(c1, DISK_OPEN_RDONLY, &diag, &x), -EBUSY);
	T_ASSERT_EQ(disk_close(r1), 0);
	T_ASSERT_EQ(disk_close(r2), 0);

	/* A lock follows its descriptor (the service locks, the worker inherits). */
	fd = open(p, O_RDWR | O_CLOEXEC);
	T_ASSERT(fd >= 0);
	T_ASSERT_EQ(disk_lock_fd(fd, true), 0);
	T_EXPECT_EQ(disk_lock_fd(fd, true), 0);             /* the holder again: fine */
	T_EXPECT_EQ(disk_open(p, DISK_OPEN_RDONLY, &diag, &x), -EBUSY);
	{
		int dupfd = dup(fd);

		close(fd);                                  /* a copy still holds it */
		T_EXPECT_EQ(disk_open(p, DISK_OPEN_RDONLY, &diag, &x), -EBUSY);
		close(dupfd);
	}
	w = xopen(p, 0);                                    /* last copy gone: free */
	T_ASSERT_EQ(disk_close(w), 0);
}

static void test_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	T_EXPECT_EQ(system(cmd), 0);
	free(good);
	good = NULL;
}

static const struct t_case cases[] = {
	T_CASE(test_vhdx_dynamic_1m),
	T_CASE(test_vhdx_dynamic_32m_4k),
	T_CASE(test_vhdx_dynamic_256m),
	T_CASE(test_vhdx_fixed),
	T_CASE(test_vhd_dynamic),
	T_CASE(test_vhd_fixed),
	T_CASE(test_raw),
	T_CASE(test_iovecs),
	T_CASE(test_chain_vhdx),
	T_CASE(test_chain_vhd),
	T_CASE(test_parent_errors),
	T_CASE(test_open_fds),
	T_CASE(test_open_fd_chain),
	T_CASE(test_locking),
	T_CASE(test_discard),
	T_CASE(test_resize_compact),
	T_CASE(test_dirty_replay),
	T_CASE(test_bad_vhdx),
	T_CASE(test_repairable_vhdx),
	T_CASE(test_log_garbage),
	T_CASE(test_bad_vhd),
	T_CASE(test_create_errors),
	T_CASE(test_cleanup),
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
