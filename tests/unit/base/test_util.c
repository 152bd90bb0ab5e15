// SPDX-License-Identifier: MIT
#include <errno.h>

#include "base/util.h"
#include "gm/gm.h"
#include "t.h"

static void test_parse_size(void)
{
	uint64_t v = 0;

	T_EXPECT_EQ(parse_size("512M", &v), 0);
	T_EXPECT_EQ(v, 512 * MiB);
	T_EXPECT_EQ(parse_size("2G", &v), 0);
	T_EXPECT_EQ(v, 2 * GiB);
	T_EXPECT_EQ(parse_size("1.5G", &v), 0);
	T_EXPECT_EQ(v, 3 * GiB / 2);
	T_EXPECT_EQ(parse_size("4096", &v), 0);
	T_EXPECT_EQ(v, 4096);
	T_EXPECT_EQ(parse_size("10GiB", &v), 0);
	T_EXPECT_EQ(v, 10 * GiB);
	T_EXPECT_EQ(parse_size("", &v), -EINVAL);
	T_EXPECT_EQ(parse_size("-1G", &v), -EINVAL);
	T_EXPECT_EQ(parse_size("12Q", &v), -EINVAL);
	T_EXPECT_EQ(parse_size("1.5", &v), -EINVAL);
	T_EXPECT_EQ(parse_size("99999999999999999999", &v), -ERANGE);
	T_EXPECT_EQ(parse_size("99999999999T", &v), -ERANGE);
}

static void test_parse_u64(void)
{
	uint64_t v;

	T_EXPECT_EQ(parse_u64("42", &v), 0);
	T_EXPECT_EQ(v, 42);
	T_EXPECT_EQ(parse_u64("4x", &v), -EINVAL);
	T_EXPECT_EQ(parse_u64("-4", &v), -EINVAL);
	T_EXPECT_EQ(parse_u64("", &v), -EINVAL);
	T_EXPECT_EQ(parse_u64("184467440737095516160", &v), -ERANGE);
}

static void test_range_ok(void)
{
	T_EXPECT(range_ok(0, 10, 10));
	T_EXPECT(!range_ok(1, 10, 10));
	T_EXPECT(!range_ok(UINT64_MAX, 2, 10));
	T_EXPECT(!range_ok(5, UINT64_MAX, 10));
	T_EXPECT(range_ok(10, 0, 10));
	T_EXPECT(!range_ok(11, 0, 10));
}

static void test_gm_bounds(void)
{
	static uint8_t ram[3 * 4096] __attribute__((aligned(4096)));
	struct gm *gm = gm_new();
	uint8_t buf[16];
	uint64_t v64;
	uint32_t v32;

	T_ASSERT(gm);
	T_EXPECT_EQ(gm_add_region(gm, 0x1000, ram, 2 * 4096), 0);
	T_EXPECT_EQ(gm_add_region(gm, 0x2000, ram, 4096), -EINVAL); /* overlap */
	T_EXPECT_EQ(gm_add_region(gm, 0x10001, ram, 4096), -EINVAL); /* misaligned */
	T_EXPECT_EQ(gm_write(gm, 0x1000, "hello", 5), 0);
	T_EXPECT_EQ(gm_read(gm, 0x1000, buf, 5), 0);
	T_EXPECT_MEMEQ(buf, "hello", 5);
	T_EXPECT_EQ(gm_read(gm, 0x0ff8, buf, 16), -EFAULT);      /* starts before */
	T_EXPECT_EQ(gm_read(gm, 0x2ff8, buf, 16), -EFAULT);      /* runs past the end */
	T_EXPECT_EQ(gm_read(gm, UINT64_MAX - 4, buf, 16), -EFAULT);
	T_EXPECT(gm_ptr(gm, 0x1000, 2 * 4096) != NULL);
	T_EXPECT(gm_ptr(gm, 0x1000, 2 * 4096 + 1) == NULL);
	T_EXPECT(gm_ptr(gm, 0x1001, UINT64_MAX) == NULL);
	T_EXPECT_EQ(gm_write_u64(gm, 0x1008, 0x1122334455667788ULL), 0);
	T_EXPECT_EQ(gm_read_u64(gm, 0x1008, &v64), 0);
	T_EXPECT_EQ(v64, 0x1122334455667788ULL);
	T_EXPECT_EQ(gm_read_u64(gm, 0x1004, &v64), -EINVAL);     /* misaligned */
	T_EXPECT_EQ(gm_read_u32(gm, 0x2ffc, &v32), 0);
	T_EXPECT_EQ(gm_read_u32(gm, 0x3000, &v32), -EFAULT);
	gm_destroy(gm);
}

static void test_gm_ram_layout(void)
{
	struct gm *gm = NULL;

	T_ASSERT_EQ(gm_create_ram(4 * GiB, 3 * GiB, &gm), 0);
	T_EXPECT_EQ(gm->n_regions, 2);
	T_EXPECT_EQ(gm->regions[0].gpa, 0);
	T_EXPECT_EQ(gm->regions[0].len, 3 * GiB);
	T_EXPECT_EQ(gm->regions[1].gpa, 4 * GiB);
	T_EXPECT_EQ(gm->regions[1].len, 1 * GiB);
	T_EXPECT(!gm_is_ram(gm, 3 * GiB, 1));               /* the MMIO hole */
	T_EXPECT(gm_is_ram(gm, 4 * GiB + 4096, 4096));
	T_EXPECT_EQ(gm_write_u64(gm, 5 * GiB - 8, 7), 0);
	gm_destroy(gm);
	T_EXPECT_EQ(gm_create_ram(0, 3 * GiB, &gm), -EINVAL);
}

static const struct t_case cases[] = {
	T_CASE(test_parse_size),
	T_CASE(test_parse_u64),
	T_CASE(test_range_ok),
	T_CASE(test_gm_bounds),
	T_CASE(test_gm_ram_layout),
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
