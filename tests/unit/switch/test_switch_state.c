// SPDX-License-Identifier: MIT
/* Switch names, create arguments, the state-file codec and the state dir. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "switch/switch.h"
#include "t.h"

static char err[512];

static void test_names(void)
{
	static const char *const good[] = { "a", "lab", "Lab-1_x", "abcdefghijk" };
	static const char *const bad[] = { "", "1abc", "-x", "a/b", "..", "../etc", "a b",
					   "abcdefghijkl", "a.b", "a\nb", "ohv:x" };

	T_EXPECT_EQ(SWITCH_NAME_MAX, 11);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		T_EXPECT_EQ(switch_name_check(good[i], err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		T_EXPECT_EQ(switch_name_check(bad[i], err, sizeof(err)), -EINVAL);
		T_EXPECT(err[0] != 0);
	}
	T_EXPECT_EQ(switch_name_check(NULL, err, sizeof(err)), -EINVAL);
	T_EXPECT(strstr(err, "name") != NULL);
}

static void test_addr(void)
{
	struct switch_addr a;
	char buf[64];

	T_ASSERT_EQ(switch_addr_parse("169.254.10.1/24", &a), 0);
	T_EXPECT_EQ(a.family, AF_INET);
	T_EXPECT_EQ(a.prefix, 24);
	T_EXPECT(a.bytes[0] == 169 && a.bytes[1] == 254 && a.bytes[2] == 10 && a.bytes[3] == 1);
	T_EXPECT_STREQ(switch_addr_format(&a, buf, sizeof(buf)), "169.254.10.1/24");
	T_ASSERT_EQ(switch_addr_parse("2001:db8:0::1/64", &a), 0);
	T_EXPECT_EQ(a.family, AF_INET6);
	T_EXPECT_STREQ(switch_addr_format(&a, buf, sizeof(buf)), "2001:db8::1/64");
	T_EXPECT_EQ(switch_addr_parse("169.254.10.1", &a), -EINVAL);
	T_EXPECT_EQ(switch_addr_parse("169.254.10.1/33", &a), -EINVAL);
	T_EXPECT_EQ(switch_addr_parse("169.254.10.1/0", &a), -EINVAL);
	T_EXPECT_EQ(switch_addr_parse("169.254.10.1/24x", &a), -EINVAL);
	T_EXPECT_EQ(switch_addr_parse("/24", &a), -EINVAL);
	T_EXPECT_EQ(switch_addr_parse("2001:db8::1/129", &a), -EINVAL);
	T_EXPECT_EQ(switch_addr_parse("host.example/24", &a), -EINVAL);
	T_EXPECT_EQ(switch_addr_parse(NULL, &a), -EINVAL);
	a.family = 0;
	T_EXPECT_STREQ(switch_addr_format(&a, buf, sizeof(buf)), "");
}

static void test_build(void)
{
	struct switch_state st;

	T_ASSERT_EQ(switch_state_build("lab", "internal", "169.254.10.1/24", NULL, &st, err,
				       sizeof(err)), 0);
	T_EXPECT_EQ(st.type, SWITCH_INTERNAL);
	T_EXPECT_STREQ(st.bridge, "ohv-lab");
	T_EXPECT_EQ(st.address.family, AF_INET);
	T_ASSERT_EQ(switch_state_build("abcdefghijk", "private", NULL, NULL, &st, err, sizeof(err)),
		    0);
	T_EXPECT_STREQ(st.bridge, "ohv-abcdefghijk");
	T_EXPECT_EQ(strlen(st.bridge), 15);
	T_ASSERT_EQ(switch_state_build("ext", "external", NULL, "eth0", &st, err, sizeof(err)), 0);
	T_EXPECT_STREQ(st.uplink, "eth0");

	/* Each refusal says what is wrong. */
	T_EXPECT_EQ(switch_state_build("p", "private", "169.254.1.1/24", NULL, &st, err,
				       sizeof(err)), -EINVAL);
	T_EXPECT(strstr(err, "--address is only for internal") != NULL);
	T_EXPECT_EQ(switch_state_build("p", "internal", NULL, "eth0", &st, err, sizeof(err)),
		    -EINVAL);
	T_EXPECT(strstr(err, "--uplink is only for external") != NULL);
	T_EXPECT_EQ(switch_state_build("p", "external", NULL, NULL, &st, err, sizeof(err)),
		    -EINVAL);
	T_EXPECT(strstr(err, "needs --uplink") != NULL);
	T_EXPECT_EQ(switch_state_build("p", "external", NULL, "../x", &st, err, sizeof(err)),
		    -EINVAL);
	T_EXPECT_EQ(switch_state_build("p", "external", NULL, "abcdefghijklmnop", &st, err,
				       sizeof(err)), -EINVAL);
	T_EXPECT_EQ(switch_state_build("p", "bridge", NULL, NULL, &st, err, sizeof(err)), -EINVAL);
	T_EXPECT(strstr(err, "private, internal or external") != NULL);
	T_EXPECT_EQ(switch_state_build("p", NULL, NULL, NULL, &st, err, sizeof(err)), -EINVAL);
	T_EXPECT(strstr(err, "--type") != NULL);
	T_EXPECT_EQ(switch_state_build("p", "internal", "10.0.0.1", NULL, &st, err, sizeof(err)),
		    -EINVAL);
	T_EXPECT(strstr(err, "prefix length") != NULL);
}

static int dec(const char *json, struct switch_state *st)
{
	err[0] = 0;
	return switch_state_decode(json, strlen(json), st, err, sizeof(err));
}

static void test_codec(void)
{
	struct switch_state st, back;
	char *json;

	T_ASSERT_EQ(switch_state_build("lab", "internal", "169.254.10.1/24", NULL, &st, err,
				       sizeof(err)), 0);
	json = switch_state_encode(&st);
	T_ASSERT(json != NULL);
	T_EXPECT(strstr(json, "\"address\": \"169.254.10.1/24\"") ||
		 strstr(json, "\"address\":\"169.254.10.1/24\""));
	T_ASSERT_EQ(dec(json, &back), 0);
	T_EXPECT_MEMEQ(&st, &back, sizeof(st));
	free(json);

	T_EXPECT_EQ(dec("{\"version\":1,\"name\":\"e\",\"type\":\"external\",\"bridge\":\"ohv-e\","
			"\"uplink\":\"veth0\"}  \n", &back), 0);
	T_EXPECT_STREQ(back.uplink, "veth0");

	/* Hostile or broken files are refused with a reason. */
	static const char *const bad[] = {
		"",
		"[]",
		"{\"version\":1,\"name\":\"a\",\"type\":\"private\",\"bridge\":\"ohv-a\"} x",
		"{\"version\":2,\"name\":\"a\",\"type\":\"private\",\"bridge\":\"ohv-a\"}",
		"{\"name\":\"a\",\"type\":\"private\",\"bridge\":\"ohv-a\"}",
		"{\"version\":1,\"name\":\"a\",\"type\":\"private\",\"bridge\":\"ohv-b\"}",
		"{\"version\":1,\"name\":\"a\",\"type\":\"private\"}",
		"{\"version\":1,\"name\":\"../a\",\"type\":\"private\",\"bridge\":\"ohv-../a\"}",
		"{\"version\":1,\"name\":\"a\\u0000b\",\"type\":\"private\",\"bridge\":\"ohv-a\"}",
		"{\"version\":1,\"name\":7,\"type\":\"private\",\"bridge\":\"ohv-a\"}",
		"{\"version\":1,\"name\":\"a\",\"type\":\"private\",\"bridge\":\"ohv-a\",\"x\":1}",
		"{\"version\":1,\"name\":\"a\",\"type\":\"private\",\"bridge\":\"ohv-a\","
		"\"address\":\"169.254.0.1/16\"}",
		"{\"version\":1,\"name\":\"a\",\"type\":\"external\",\"bridge\":\"ohv-a\"}",
		"{\"version\":1,\"name\":\"a\",\"type\":\"internal\",\"bridge\":\"ohv-a\","
		"\"address\":\"999.1.1.1/8\"}",
		"{\"version\":1,\"name\":\"a\",\"type\":\"private\",\"bridge\":\"ohv-a\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&back, 0x5a, sizeof(back));
		T_EXPECT_NE(dec(bad[i], &back), 0);
		T_EXPECT(err[0] != 0);
		T_EXPECT_EQ(back.name[0], 0x5a); /* untouched on failure */
	}
	/* Deep nesting is cut off by the tokener's depth limit, not the stack. */
	{
		char deep[4096];
		size_t n = 0;

		n += (size_t)snprintf(deep, sizeof(deep), "{\"version\":1,\"x\":");
		while (n < 3000)
			deep[n++] = '[';
		deep[n] = 0;
		T_EXPECT_NE(dec(deep, &back), 0);
	}
}

static char tmpdir[64];

static void write_file(const char *rel, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
	f = fopen(p, "w");
	T_ASSERT(f != NULL);
	fputs(text, f);
	fclose(f);
}

static int bad_count;
static void on_bad(const char *file, const char *msg, void *opaque)
{
	(void)file;
	(void)opaque;
	T_EXPECT(msg[0] != 0);
	bad_count++;
}

static void test_state_dir(void)
{
	struct switch_state a, b, got, *v;
	char p[256];
	size_t n;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ohv-swtest.XXXXXX");
	T_ASSERT(mkdtemp(tmpdir) != NULL);

	/* Empty (no switches/ yet). */
	T_ASSERT_EQ(switch_state_list(tmpdir, &v, &n, on_bad, NULL, err, sizeof(err)), 0);
	T_EXPECT_EQ(n, 0);
	T_EXPECT_EQ(switch_state_load(tmpdir, "lab", &got, err, sizeof(err)), -ENOENT);
	T_EXPECT(strstr(err, "openhv switch create lab") != NULL);

	T_ASSERT_EQ(switch_state_build("lab", "internal", "169.254.10.1/24", NULL, &a, err,
				       sizeof(err)), 0);
	T_ASSERT_EQ(switch_state_build("iso", "private", NULL, NULL, &b, err, sizeof(err)), 0);
	T_ASSERT_EQ(switch_state_save(tmpdir, &a, false, err, sizeof(err)), 0);
	T_ASSERT_EQ(switch_state_save(tmpdir, &b, false, err, sizeof(err)), 0);
	/* create of an existing name: refused, the file is untouched */
	T_EXPECT_EQ(switch_state_save(tmpdir, &a, false, err, sizeof(err)), -EEXIST);
	T_EXPECT(strstr(err, "already exists") != NULL);
	T_EXPECT_EQ(switch_state_save(tmpdir, &a, true, err, sizeof(err)), 0);
	T_ASSERT_EQ(switch_state_load(tmpdir, "lab", &got, err, sizeof(err)), 0);
	T_EXPECT_MEMEQ(&got, &a, sizeof(a));
	/* no temp files left behind */
	snprintf(p, sizeof(p), "%s/switches/.lab.json.tmp", tmpdir);
	T_EXPECT(access(p, F_OK) != 0);

	/* Junk in the directory: skipped and reported, not fatal. */
	write_file("switches/broken.json", "{not json");
	write_file("switches/other.json",
		   "{\"version\":1,\"name\":\"lab\",\"type\":\"private\",\"bridge\":\"ohv-lab\"}");
	write_file("switches/.half.json.tmp", "{");
	write_file("switches/README", "not a switch");
	snprintf(p, sizeof(p), "%s/switches/dir.json", tmpdir);
	T_ASSERT_EQ(mkdir(p, 0700), 0);
	bad_count = 0;
	T_ASSERT_EQ(switch_state_list(tmpdir, &v, &n, on_bad, NULL, err, sizeof(err)), 0);
	T_ASSERT_EQ(n, 2);
	T_EXPECT_STREQ(v[0].name, "iso");
	T_EXPECT_STREQ(v[1].name, "lab");
	T_EXPECT_EQ(bad_count, 3);
	free(v);
	/* A file whose name and content disagree is refused on load as well. */
	T_EXPECT_EQ(switch_state_load(tmpdir, "other", &got, err, sizeof(err)), -EINVAL);
	T_EXPECT_NE(switch_state_load(tmpdir, "broken", &got, err, sizeof(err)), 0);
	T_EXPECT(strstr(err, "broken") != NULL);
	T_EXPECT_EQ(switch_state_load(tmpdir, "../x", &got, err, sizeof(err)), -EINVAL);
	/* A symlink is not followed. */
	snprintf(p, sizeof(p), "%s/switches/link.json", tmpdir);
	T_ASSERT_EQ(symlink("lab.json", p), 0);
	T_EXPECT_NE(switch_state_load(tmpdir, "link", &got, err, sizeof(err)), 0);

	T_EXPECT_EQ(switch_state_remove(tmpdir, "lab", err, sizeof(err)), 0);
	T_EXPECT_EQ(switch_state_load(tmpdir, "lab", &got, err, sizeof(err)), -ENOENT);
	T_EXPECT_EQ(switch_state_remove(tmpdir, "lab", err, sizeof(err)), -ENOENT);

	/* The state dir defaults. */
	setenv("OPENHV_STATE_DIR", "/x/y", 1);
	T_EXPECT_STREQ(switch_state_dir(NULL), "/x/y");
	T_EXPECT_STREQ(switch_state_dir("/given"), "/given");
	unsetenv("OPENHV_STATE_DIR");
	T_EXPECT_STREQ(switch_state_dir(NULL), SWITCH_DEFAULT_STATE_DIR);

	snprintf(p, sizeof(p), "rm -rf '%s'", tmpdir);
	T_EXPECT_EQ(system(p), 0);
}

static const struct t_case cases[] = {
	T_CASE(test_names),
	T_CASE(test_addr),
	T_CASE(test_build),
	T_CASE(test_codec),
	T_CASE(test_state_dir),
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
