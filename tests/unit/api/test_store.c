// SPDX-License-Identifier: MIT
/* Config store: atomic replace, listing, bad files, leftovers of interrupted writes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "daemon/store.h"
#include "t.h"

static char dir[64];
static struct store st;
static char seen[8][API_NAME_MAX + 1];
static int n_seen, n_bad;

static void setup(void)
{
	char path[128];

	snprintf(dir, sizeof(dir), "/tmp/ohv-store-XXXXXX");
	T_ASSERT(mkdtemp(dir) != NULL);
	T_ASSERT_EQ(store_open(&st, dir), 0);
	snprintf(path, sizeof(path), "%s/vms", dir);
	T_ASSERT_EQ(access(path, F_OK), 0);
	n_seen = n_bad = 0;
}

static void teardown(void)
{
	char cmd[128];

	store_close(&st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	T_EXPECT_EQ(system(cmd), 0);
}

static void make(struct api_vm_config *c, const char *name, unsigned int cpus)
{
	api_vm_config_init(c);
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->kernel, sizeof(c->kernel), "/boot/k");
	c->cpus = cpus;
}

static void on_vm(void *ctx, const struct api_vm_config *c)
{
	if (n_seen < 8)
		snprintf(seen[n_seen++], sizeof(seen[0]), "%s", c->name);
}

static void on_bad(void *ctx, const char *file, const char *msg)
{
	n_bad++;
}

static int count_entries(void)
{
	char path[128];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/vms", dir);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")))
			n++;
	closedir(d);
	return n;
}

static void write_raw(const char *file, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/vms/%s", dir, file);
	f = fopen(path, "w");
	T_ASSERT(f != NULL);
	fputs(text, f);
	fclose(f);
}

static void test_save_load_replace(void)
{
	struct api_vm_config a, b;
	struct api_error e;

	setup();
	make(&a, "alpha", 2);
	T_ASSERT_EQ(store_save(&st, &a), 0);
	T_ASSERT_EQ(store_load(&st, "alpha", &b, &e), 0);
	T_EXPECT_EQ(memcmp(&a, &b, sizeof(a)), 0);
	a.cpus = 3;
	T_ASSERT_EQ(store_save(&st, &a), 0);
	T_ASSERT_EQ(store_load(&st, "alpha", &b, &e), 0);
	T_EXPECT_EQ(b.cpus, 3);
	T_EXPECT_EQ(count_entries(), 1);   /* no temp file left behind */
	T_EXPECT_EQ(store_load(&st, "nosuch", &b, &e), -ENOENT);
	T_EXPECT_EQ(e.code, API_E_NOT_FOUND);
	T_EXPECT_NE(store_load(&st, "../vms/alpha", &b, &e), 0);
	T_EXPECT_EQ(store_delete(&st, "alpha"), 0);
	T_EXPECT_EQ(count_entries(), 0);
	T_EXPECT_EQ(store_delete(&st, "alpha"), -ENOENT);
	teardown();
}

static void test_refuses_invalid(void)
{
	struct api_vm_config a;

	setup();
	make(&a, "ok", 1);
	strcpy(a.name, "../escape");
	T_EXPECT_EQ(store_save(&st, &a), -EINVAL);
	T_EXPECT_EQ(count_entries(), 0);
	teardown();
}

static void test_list_sorted_and_bad_files(void)
{
	struct api_vm_config a;

	setup();
	make(&a, "zeta", 1);
	T_ASSERT_EQ(store_save(&st, &a), 0);
	make(&a, "beta", 1);
	T_ASSERT_EQ(store_save(&st, &a), 0);
	write_raw("broken.json", "{\"name\":\"broken\",\"kernel\":");
	write_raw("mismatch.json", "{\"format_version\":1,\"name\":\"other\",\"kernel\":\"/k\"}");
	write_raw("future.json", "{\"format_version\":2,\"name\":\"future\",\"kernel\":\"/k\"}");
	write_raw("notes.txt", "ignored");
	write_raw(".gamma.json.tmp", "{\"half");   /* an interrupted write */
	T_ASSERT_EQ(store_list(&st, on_vm, on_bad, NULL), 0);
	T_ASSERT_EQ(n_seen, 2);
	T_EXPECT_STREQ(seen[0], "beta");
	T_EXPECT_STREQ(seen[1], "zeta");
	T_EXPECT_EQ(n_bad, 3);
	/* The leftover temp file is cleaned, the bad files are kept for people to look at. */
	T_EXPECT_EQ(count_entries(), 6);
	teardown();
}

static void test_atomic_against_crash(void)
{
	struct api_vm_config a, b;
	struct api_error e;
	char path[256];
	int fd;

	/*
	 * Simulate a crash in the middle of a save: a torn temp file exists next to
	 * the real one. Loading still sees the complete old version; the next save
	 * replaces both cleanly.
	 */
	setup();
	make(&a, "vm", 2);
	T_ASSERT_EQ(store_save(&st, &a), 0);
	snprintf(path, sizeof(path), "%s/vms/.vm.json.tmp", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	T_ASSERT(fd >= 0);
	T_EXPECT_EQ(write(fd, "{\"name\":\"vm\",\"cp", 16), 16);
	close(fd);
	T_ASSERT_EQ(store_load(&st, "vm", &b, &e), 0);
	T_EXPECT_EQ(b.cpus, 2);
	a.cpus = 5;
	T_ASSERT_EQ(store_save(&st, &a), 0);
	T_ASSERT_EQ(store_load(&st, "vm", &b, &e), 0);
	T_EXPECT_EQ(b.cpus, 5);
	T_EXPECT_EQ(count_entries(), 1);
	teardown();
}

static void test_oversized_file(void)
{
	struct api_vm_config b;
	struct api_error e;
	char path[256];
	FILE *f;

	setup();
	snprintf(path, sizeof(path), "%s/vms/huge.json", dir);
	f = fopen(path, "w");
	T_ASSERT(f != NULL);
	for (int i = 0; i < 300000; i++)
		fputc(' ', f);
	fclose(f);
	T_EXPECT_NE(store_load(&st, "huge", &b, &e), 0);
	T_EXPECT_EQ(e.code, API_E_TOO_LARGE);
	teardown();
}

static const struct t_case cases[] = {
	T_CASE(test_save_load_replace),
	T_CASE(test_refuses_invalid),
	T_CASE(test_list_sorted_and_bad_files),
	T_CASE(test_atomic_against_crash),
	T_CASE(test_oversized_file),
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
