/* SPDX-License-Identifier: MIT */
/*
 * A tiny test runner: explicit test tables, assertions that print both
 * values, skips with a reason, TAP output for meson.
 *
 *   static void test_x(void) { T_EXPECT_EQ(1 + 1, 2); }
 *   static const struct t_case cases[] = { T_CASE(test_x), {0} };
 *   int main(int argc, char **argv) { return t_main(argc, argv, cases); }
 *
 * A T_ASSERT failure ends the current case (longjmp); T_EXPECT records the
 * failure and goes on. T_SKIP("why") ends the case as skipped.
 */
#ifndef OPENHV_TESTS_T_H
#define OPENHV_TESTS_T_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct t_case {
	const char *name;
	void (*fn)(void);
};

#define T_CASE(fn) { #fn, fn }

int t_main(int argc, char **argv, const struct t_case *cases);
void t_fail(const char *file, int line, bool fatal, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void t_skip(const char *why) __attribute__((noreturn));

#define T_CHECK_(fatal, cond, ...)                                         \
	do {                                                               \
		if (!(cond))                                               \
			t_fail(__FILE__, __LINE__, fatal, __VA_ARGS__);     \
	} while (0)

#define T_ASSERT(c) T_CHECK_(true, (c), "assertion failed: %s", #c)
#define T_EXPECT(c) T_CHECK_(false, (c), "expectation failed: %s", #c)

#define T_CMP_(fatal, a, op, b)                                                          \
	do {                                                                             \
		uint64_t t_a_ = (uint64_t)(a), t_b_ = (uint64_t)(b);                     \
		T_CHECK_(fatal, t_a_ op t_b_, "%s %s %s: 0x%" PRIx64 " (%" PRId64 ") vs 0x%" \
			 PRIx64 " (%" PRId64 ")", #a, #op, #b, t_a_, (int64_t)t_a_, t_b_,  \
			 (int64_t)t_b_);                                                  \
	} while (0)

#define T_ASSERT_EQ(a, b) T_CMP_(true, a, ==, b)
#define T_EXPECT_EQ(a, b) T_CMP_(false, a, ==, b)
#define T_EXPECT_NE(a, b) T_CMP_(false, a, !=, b)
#define T_EXPECT_LT(a, b) T_CMP_(false, a, <, b)
#define T_EXPECT_LE(a, b) T_CMP_(false, a, <=, b)
#define T_EXPECT_GE(a, b) T_CMP_(false, a, >=, b)
#define T_EXPECT_STREQ(a, b)                                                         \
	do {                                                                         \
		const char *t_sa_ = (a), *t_sb_ = (b);                               \
		T_CHECK_(false, t_sa_ && t_sb_ && !strcmp(t_sa_, t_sb_),             \
			 "%s == %s: \"%s\" vs \"%s\"", #a, #b, t_sa_ ? t_sa_ : "(null)", \
			 t_sb_ ? t_sb_ : "(null)");                                   \
	} while (0)
#define T_EXPECT_MEMEQ(a, b, n) T_CHECK_(false, !memcmp((a), (b), (n)), "memory differs: %s vs %s", #a, #b)

#define T_SKIP(why) t_skip(why)

#endif
