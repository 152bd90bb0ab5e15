// SPDX-License-Identifier: MIT
#include "t.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static jmp_buf t_jmp;
static int t_failed_checks;
static const char *t_skip_reason;

void t_fail(const char *file, int line, bool fatal, const char *fmt, ...)
{
	va_list ap;

	printf("#   %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	t_failed_checks++;
	if (fatal)
		longjmp(t_jmp, 1);
}

void t_skip(const char *why)
{
	t_skip_reason = why;
	longjmp(t_jmp, 2);
}

/* Runs one case; 0 passed, 1 failed, 2 skipped. Kept apart so setjmp has no locals to clobber. */
static int t_run_one(const struct t_case *c)
{
	t_failed_checks = 0;
	t_skip_reason = NULL;
	if (setjmp(t_jmp) == 0)
		c->fn();
	if (t_skip_reason)
		return 2;
	return t_failed_checks ? 1 : 0;
}

int t_main(int argc, char **argv, const struct t_case *cases)
{
	int n = 0, passed = 0, failed = 0, skipped = 0;
	const char *only = argc > 1 ? argv[1] : NULL;

	for (const struct t_case *c = cases; c->name; c++)
		if (!only || !strcmp(only, c->name))
			n++;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..%d\n", n);
	n = 0;
	for (const struct t_case *c = cases; c->name; c++) {
		int how;

		if (only && strcmp(only, c->name))
			continue;
		n++;
		how = t_run_one(c);
		if (how == 2) {
			printf("ok %d - %s # SKIP %s\n", n, c->name, t_skip_reason);
			skipped++;
		} else if (how == 1) {
			printf("not ok %d - %s\n", n, c->name);
			failed++;
		} else {
			printf("ok %d - %s\n", n, c->name);
			passed++;
		}
	}
	printf("# %d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
