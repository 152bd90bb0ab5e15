// SPDX-License-Identifier: MIT
/*
 * Crash consistency of VHDX metadata updates: a workload of writes and
 * flushes runs on a crash-simulating file that loses power after N file
 * operations, for every N (or a dense sample), and with pending writes kept,
 * dropped, torn by sector or torn with garbage. After each crash the image
 * must open (replaying the log), check clean, and every sector must hold its
 * content as of the last acknowledged flush or a value written after it.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/util.h"
#include "crashfile.h"
#include "openhv/disk.h"
#include "t.h"

#define VSIZE (8 * MiB)
#define NSECT (VSIZE / 512)
#define NWORK 90

/* Templates: [0] dynamic VHDX, [1] differencing VHDX over an empty parent
 * (opened without it, so parent ranges read as zero and every partial write
 * goes through sector bitmaps). */
static uint8_t *tmpls[2];
static size_t tmpls_len[2];
static uint8_t *tmpl;
static size_t tmpl_len;

struct post {
	uint32_t gen, s0, n;
};

struct model {
	uint32_t acked[NSECT];
	struct post post[NWORK];
	int n_post;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill(uint8_t *p, uint32_t s, uint32_t gen)
{
	for (int i = 8; i < 512; i++)
		p[i] = (uint8_t)(gen * 31 + s * 7 + (uint32_t)i);
	memcpy(p, &s, 4);
	memcpy(p + 4, &gen, 4);
}

/* Generation held by a sector, or -1 if it is neither zero nor a valid pattern. */
static int64_t decode(const uint8_t *p, uint32_t s)
{
	uint8_t want[512];
	uint32_t ss, gen;

	static const uint8_t zero[512];

	if (!memcmp(p, zero, 512))
		return 0;
	memcpy(&ss, p, 4);
	memcpy(&gen, p + 4, 4);
	if (ss != s || gen == 0)
		return -1;
	fill(want, s, gen);
	return memcmp(want, p, 512) ? -1 : (int64_t)gen;
}

static void load_template(int diff)
{
	char dir[] = "/tmp/ohv-crash-XXXXXX", base[64], child[64];
	struct disk_create_opts o = { .format = DISK_FMT_VHDX, .type = DISK_TYPE_DYNAMIC,
				      .size = VSIZE, .block_size = 1 << 20 };
	struct disk_diag diag;
	void *buf;

	T_ASSERT(mkdtemp(dir) != NULL);
	snprintf(base, sizeof(base), "%s/base.vhdx", dir);
	snprintf(child, sizeof(child), "%s/child.vhdx", dir);
	T_ASSERT_EQ(disk_create(base, &o, &diag), 0);
	if (diff) {
		struct disk_create_opts c = { .format = DISK_FMT_VHDX, .type = DISK_TYPE_DIFF,
					      .block_size = 1 << 20, .parent = base };
		T_ASSERT_EQ(disk_create(child, &c, &diag), 0);
	}
	T_ASSERT_EQ(read_file(diff ? child : base, 64 << 20, &buf, &tmpls_len[diff]), 0);
	tmpls[diff] = buf;
	unlink(child);
	unlink(base);
	rmdir(dir);
}

/* Runs the workload; returns the number of file operations it used. */
static uint64_t workload(struct disk *d, uint64_t seed, struct model *m)
{
	static uint8_t buf[300 * 512];
	uint32_t gen = 0;

	for (int i = 0; i < NWORK; i++) {
		uint64_t r = rnd(&seed) % 10;
		if (r < 7) {
			uint32_t s0 = (uint32_t)(rnd(&seed) % NSECT);
			uint32_t n = (uint32_t)(1 + rnd(&seed) % 300);
			/* Cluster some writes near block boundaries. */
			if (r == 0)
				s0 = (uint32_t)((rnd(&seed) % (VSIZE / MiB)) * 2048 + 2048 - n / 2) % NSECT;
			if (s0 + n > NSECT)
				n = NSECT - s0;
			gen++;
			for (uint32_t k = 0; k < n; k++)
				fill(buf + k * 512, s0 + k, gen);
			m->post[m->n_post++] = (struct post){ gen, s0, n };
			if (disk_write(d, (uint64_t)s0 * 512, buf, (size_t)n * 512) < 0)
				return 0;
		} else {
			if (disk_flush(d) < 0)
				return 0;
			for (int p = 0; p < m->n_post; p++)
				for (uint32_t k = 0; k < m->post[p].n; k++)
					m->acked[m->post[p].s0 + k] = m->post[p].gen;
			m->n_post = 0;
		}
	}
	return 1;
}

static bool allowed(const struct model *m, uint32_t s, int64_t g, bool *ret_post)
{
	*ret_post = false;
	for (int p = 0; p < m->n_post; p++)
		if (s >= m->post[p].s0 && s < m->post[p].s0 + m->post[p].n) {
			*ret_post = true;
			if (m->post[p].gen == g)
				return true;
		}
	return g == m->acked[s];
}

static int replays;

static void one_run(uint64_t wseed, uint64_t crash_at, enum crash_mode mode)
{
	static struct model m;
	static uint8_t sec[VSIZE];
	struct disk_file *f = crashfile_new(tmpl, tmpl_len), *mf;
	struct disk_diag diag = { 0 };
	struct disk_check_result res;
	struct disk_info info;
	struct disk *d;
	uint8_t *img;
	size_t len;

	memset(&m, 0, sizeof(m));
	T_ASSERT(f);
	T_ASSERT_EQ(disk_open_file(f, "crash.vhdx", DISK_OPEN_NO_PARENT, &diag, &d), 0);
	crashfile_arm(f, crash_at);
	(void)workload(d, wseed, &m);
	img = crashfile_image(f, mode, wseed * 1000003 + crash_at, &len);
	T_ASSERT(img);
	(void)disk_close(d); /* power is gone: this fails, and frees */

	T_ASSERT_EQ(disk_file_mem(img, len, false, &mf), 0);
	free(img);
	if (disk_open_file(mf, "crash.vhdx", DISK_OPEN_NO_PARENT, &diag, &d) != 0) {
		t_fail(__FILE__, __LINE__, true, "seed %llu crash at %llu mode %d: reopen failed: %s",
		       (unsigned long long)wseed, (unsigned long long)crash_at, mode, diag.msg);
	}
	disk_get_info(d, &info);
	replays += info.log_replayed;
	T_ASSERT_EQ(disk_check(d, false, NULL, NULL, &res), 0);
	if (res.errors)
		t_fail(__FILE__, __LINE__, true, "seed %llu crash at %llu mode %d: %u check errors",
		       (unsigned long long)wseed, (unsigned long long)crash_at, mode, res.errors);
	T_ASSERT_EQ(disk_read(d, 0, sec, VSIZE), 0);
	for (uint32_t s = 0; s < NSECT; s++) {
		int64_t g = decode(sec + (size_t)s * 512, s);
		bool post;
		if (allowed(&m, s, g, &post))
			continue;
		if (mode == CRASH_GARBAGE && post)
			continue; /* an unacknowledged write torn with garbage */
		t_fail(__FILE__, __LINE__, true, "seed %llu crash at %llu mode %d: sector %u holds "
		       "generation %lld, acked %u", (unsigned long long)wseed,
		       (unsigned long long)crash_at, mode, s, (long long)g, m.acked[s]);
	}
	T_EXPECT_EQ(disk_close(d), 0);
}

static uint64_t total_ops(uint64_t wseed)
{
	static struct model m;
	struct disk_file *f = crashfile_new(tmpl, tmpl_len);
	struct disk_diag diag;
	struct disk *d;
	uint64_t n;

	memset(&m, 0, sizeof(m));
	T_ASSERT(f);
	T_ASSERT_EQ(disk_open_file(f, "crash.vhdx", DISK_OPEN_NO_PARENT, &diag, &d), 0);
	T_ASSERT_EQ(workload(d, wseed, &m), 1);
	n = crashfile_ops(f);
	T_EXPECT_EQ(disk_close(d), 0);
	return n;
}

static void run_seed(int diff, uint64_t wseed)
{
	uint64_t total, step, runs = 0;

	if (!tmpls[diff])
		load_template(diff);
	tmpl = tmpls[diff];
	tmpl_len = tmpls_len[diff];
	total = total_ops(wseed);
	T_ASSERT(total > 20);
	step = total > 200 ? total / 200 : 1;
	for (uint64_t n = 0; n <= total + 1; n += step) {
		for (int mode = CRASH_KEEP_ALL; mode <= CRASH_GARBAGE; mode++) {
			one_run(wseed, n, (enum crash_mode)mode);
			runs++;
		}
	}
	printf("# %s, seed %llu: %llu file operations, %llu crash runs, %d log replays so far\n",
	       diff ? "differencing" : "dynamic", (unsigned long long)wseed,
	       (unsigned long long)total, (unsigned long long)runs, replays);
}

static void test_crash_seed1(void) { run_seed(0, 1); }
static void test_crash_seed2(void) { run_seed(0, 0xdeadbeef); }
static void test_crash_diff_seed1(void) { run_seed(1, 7); }

/* The runs above must actually have exercised log replay. */
static void test_crash_replayed(void)
{
	T_EXPECT(replays > 10);
}

static const struct t_case cases[] = {
	T_CASE(test_crash_seed1),
	T_CASE(test_crash_seed2),
	T_CASE(test_crash_diff_seed1),
	T_CASE(test_crash_replayed),
	{ 0 },
};

int main(int argc, char **argv)
{
	/* PERF: keep the many multi-MiB images on the heap instead of fresh mmaps. */
	mallopt(M_MMAP_THRESHOLD, 256 << 20);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	return t_main(argc, argv, cases);
}
