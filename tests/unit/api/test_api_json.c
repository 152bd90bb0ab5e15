// SPDX-License-Identifier: MIT
/* VM configuration codec: round trips, defaults, and refusal of bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "t.h"

static struct api_vm_config cfg;
static struct api_error err;

static int decode(const char *json, enum api_decode_mode mode)
{
	memset(&err, 0, sizeof(err));
	return api_vm_config_decode(json, strlen(json), mode, &cfg, &err);
}

static void test_minimal_defaults(void)
{
	T_ASSERT_EQ(decode("{\"name\":\"vm1\",\"kernel\":\"/boot/k\"}", API_DECODE_CREATE), 0);
	T_EXPECT_STREQ(cfg.name, "vm1");
	T_EXPECT_EQ(cfg.memory_bytes, 512ULL << 20);
	T_EXPECT_EQ(cfg.cpus, 1);
	T_EXPECT_STREQ(cfg.initrd, "");
	T_EXPECT_EQ(cfg.n_disks, 0);
}

static void test_full_round_trip(void)
{
	static const char json[] =
		"{\"name\":\"db-2.prod_x\",\"memory_bytes\":2147483648,\"cpus\":4,"
		"\"kernel\":\"/k/bz\",\"initrd\":\"/k/initrd\",\"cmdline\":\"console=ttyS0 \\\"q\\\"\","
		"\"disks\":[{\"path\":\"/d/a.vhdx\"},{\"path\":\"/d/b.raw\",\"readonly\":true}],"
		"\"nics\":[{\"tap\":\"tap0\",\"mac\":\"00:15:5D:0a:0b:0c\"},{\"tap\":\"tap1\"}]}";
	struct api_vm_config copy;
	char *out;

	T_ASSERT_EQ(decode(json, API_DECODE_CREATE), 0);
	T_EXPECT_EQ(cfg.memory_bytes, 2ULL << 30);
	T_EXPECT_EQ(cfg.cpus, 4);
	T_EXPECT_STREQ(cfg.cmdline, "console=ttyS0 \"q\"");
	T_EXPECT_EQ(cfg.n_disks, 2);
	T_EXPECT(cfg.disks[1].readonly && !cfg.disks[0].readonly);
	T_EXPECT_EQ(cfg.n_nics, 2);
	T_EXPECT(cfg.nics[0].has_mac && cfg.nics[0].mac[3] == 0x0a && !cfg.nics[1].has_mac);
	copy = cfg;
	out = api_vm_config_encode(&copy, true);
	T_ASSERT(out != NULL);
	T_EXPECT(strstr(out, "\"format_version\":1") != NULL);
	T_EXPECT(strstr(out, "00:15:5d:0a:0b:0c") != NULL);
	T_ASSERT_EQ(api_vm_config_decode(out, strlen(out), API_DECODE_STORED, &cfg, &err), 0);
	T_EXPECT_EQ(memcmp(&cfg, &copy, sizeof(cfg)), 0);
	/* The API does not accept the on-disk-only field. */
	T_EXPECT_NE(api_vm_config_decode(out, strlen(out), API_DECODE_CREATE, &cfg, &err), 0);
	free(out);
}

static void test_edit_partial(void)
{
	struct api_vm_config before;

	T_ASSERT_EQ(decode("{\"name\":\"e\",\"kernel\":\"/k\",\"cpus\":2}", API_DECODE_CREATE), 0);
	T_ASSERT_EQ(decode("{\"memory_bytes\":1073741824,\"initrd\":\"/i\"}", API_DECODE_EDIT), 0);
	T_EXPECT_EQ(cfg.memory_bytes, 1ULL << 30);
	T_EXPECT_EQ(cfg.cpus, 2);
	T_EXPECT_STREQ(cfg.initrd, "/i");
	T_ASSERT_EQ(decode("{\"initrd\":null}", API_DECODE_EDIT), 0);
	T_EXPECT_STREQ(cfg.initrd, "");
	/* A failing edit leaves everything as it was, even fields it touched first. */
	before = cfg;
	T_EXPECT_NE(decode("{\"cpus\":8,\"memory_bytes\":5}", API_DECODE_EDIT), 0);
	T_EXPECT_EQ(memcmp(&cfg, &before, sizeof(cfg)), 0);
	T_EXPECT_NE(decode("{\"name\":\"renamed\"}", API_DECODE_EDIT), 0);
	T_EXPECT(strstr(err.message, "cannot be renamed") != NULL);
	T_EXPECT_STREQ(cfg.name, "e");
}

struct bad_case {
	const char *json;
	const char *msg_has;   /* a word the message must contain */
};

static void test_bad_input(void)
{
	static const struct bad_case bad[] = {
		{ "", "malformed" },
		{ "{", "malformed" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\"", "malformed" },
		{ "{'name':'a'}", "malformed" },
		{ "[]", "object" },
		{ "42", "object" },
		{ "null", "object" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\"}x", "malformed" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\"} {}", "malformed" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"colour\":1}", "colour" },
		{ "{\"name\":1,\"kernel\":\"/k\"}", "string" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"cpus\":\"2\"}", "integer" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"cpus\":2.0}", "integer" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"cpus\":-1}", "range" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"cpus\":0}", "cpus" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"cpus\":241}", "range" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"memory_bytes\":1048576}", "memory" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"memory_bytes\":1099511627777}", "range" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"memory_bytes\":18446744073709551615}", "range" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"memory_bytes\":100000000000000000000000}", "" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"memory_bytes\":536870913}", "multiple" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"memory_bytes\":true}", "integer" },
		{ "{\"name\":\"../etc\",\"kernel\":\"/k\"}", "name" },
		{ "{\"name\":\".hidden\",\"kernel\":\"/k\"}", "name" },
		{ "{\"name\":\"a/b\",\"kernel\":\"/k\"}", "name" },
		{ "{\"name\":\"\",\"kernel\":\"/k\"}", "name" },
		{ "{\"name\":\"a b\",\"kernel\":\"/k\"}", "name" },
		{ "{\"name\":\"a\\u0000b\",\"kernel\":\"/k\"}", "NUL" },
		{ "{\"name\":\"a\"}", "kernel" },
		{ "{\"kernel\":\"/k\"}", "name" },
		{ "{\"name\":\"a\",\"kernel\":\"k\"}", "absolute" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\\n\"}", "control" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"initrd\":\"rel\"}", "initrd" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"disks\":{}}", "array" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"disks\":[\"/x\"]}", "object" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"disks\":[{}]}", "path" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"disks\":[{\"path\":\"/x\",\"ro\":1}]}", "ro" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"disks\":[{\"path\":\"/x\",\"readonly\":1}]}", "true" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"disks\":[{\"path\":\"/x\"},{\"path\":\"/x\"}]}", "same" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"tap\":\"t\",\"mac\":\"01:00:00:00:00:00\"}]}", "multicast" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"tap\":\"t\",\"mac\":\"00:00:00:00:00\"}]}", "mac" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"tap\":\"0123456789abcdefX\"}]}", "long" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"tap\":\"a/b\"}]}", "interface" },
		{ "{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"mac\":\"00:15:5d:00:00:01\"}]}", "tap" },
		{ "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", "" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		api_vm_config_init(&cfg);
		strcpy(cfg.name, "untouched");
		if (decode(bad[i].json, API_DECODE_CREATE) == 0) {
			T_EXPECT(!"bad input accepted");
			printf("# accepted: %s\n", bad[i].json);
			continue;
		}
		T_EXPECT_EQ(err.code, API_E_BAD_REQUEST);
		T_EXPECT(err.message[0] != '\0');
		if (!strstr(err.message, bad[i].msg_has)) {
			T_EXPECT(!"message lacks the expected word");
			printf("# input %s -> \"%s\" (wanted \"%s\")\n", bad[i].json, err.message,
			       bad[i].msg_has);
		}
		T_EXPECT_STREQ(cfg.name, "untouched");
	}
}

static void test_absurd_sizes(void)
{
	size_t n = API_MAX_BODY + 1;
	char *big = malloc(n + 1), *many;
	size_t len = 0;

	T_ASSERT(big != NULL);
	memset(big, ' ', n);
	big[n] = '\0';
	memset(&err, 0, sizeof(err));
	T_EXPECT_NE(api_vm_config_decode(big, n, API_DECODE_CREATE, &cfg, &err), 0);
	T_EXPECT_EQ(err.code, API_E_TOO_LARGE);
	free(big);

	/* A path longer than PATH_MAX. */
	big = malloc(8192);
	T_ASSERT(big != NULL);
	len = (size_t)sprintf(big, "{\"name\":\"a\",\"kernel\":\"/");
	memset(big + len, 'k', 5000);
	strcpy(big + len + 5000, "\"}");
	T_EXPECT_NE(decode(big, API_DECODE_CREATE), 0);
	T_EXPECT(strstr(err.message, "too long") != NULL);
	free(big);

	/* 17 disks. */
	many = malloc(4096);
	T_ASSERT(many != NULL);
	len = (size_t)sprintf(many, "{\"name\":\"a\",\"kernel\":\"/k\",\"disks\":[");
	for (int i = 0; i < 17; i++)
		len += (size_t)sprintf(many + len, "%s{\"path\":\"/d%d\"}", i ? "," : "", i);
	strcpy(many + len, "]}");
	T_EXPECT_NE(decode(many, API_DECODE_CREATE), 0);
	T_EXPECT(strstr(err.message, "at most 16") != NULL);
	free(many);
}

static void test_names(void)
{
	char n64[65];

	T_EXPECT(api_name_valid("a"));
	T_EXPECT(api_name_valid("Web-1.prod_2"));
	T_EXPECT(!api_name_valid(""));
	T_EXPECT(!api_name_valid("."));
	T_EXPECT(!api_name_valid(".."));
	T_EXPECT(!api_name_valid("-x"));
	T_EXPECT(!api_name_valid("a/b"));
	T_EXPECT(!api_name_valid("a\xc3\xa9"));
	memset(n64, 'a', 64);
	n64[64] = '\0';
	T_EXPECT(!api_name_valid(n64));
	n64[63] = '\0';
	T_EXPECT(api_name_valid(n64));
}

static void test_mac(void)
{
	uint8_t m[6];
	char s[18];

	T_EXPECT_EQ(api_parse_mac("00:15:5d:ff:0A:01", m), 0);
	api_format_mac(m, s);
	T_EXPECT_STREQ(s, "00:15:5d:ff:0a:01");
	T_EXPECT_NE(api_parse_mac("00:15:5d:ff:0a:01:02", m), 0);
	T_EXPECT_NE(api_parse_mac("00-15-5d-ff-0a-01", m), 0);
	T_EXPECT_NE(api_parse_mac("0:15:5d:ff:0a:011", m), 0);
	T_EXPECT_NE(api_parse_mac("", m), 0);
}

/* NICs on a virtual switch: exactly one of tap/switch, VLAN only with a switch. */
static void test_switch_nic(void)
{
	static const char ok_json[] = "{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":["
		"{\"switch\":\"lab-1\",\"vlan\":12,\"mac\":\"00:15:5d:00:00:07\"},"
		"{\"tap\":\"tap0\"},{\"switch\":\"lab-1\"}]}";
	static const char *const bad[] = {
		"{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"tap\":\"t0\",\"switch\":\"s\"}]}",
		"{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"mac\":\"00:15:5d:00:00:07\"}]}",
		"{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"tap\":\"t0\",\"vlan\":3}]}",
		"{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"switch\":\"s\",\"vlan\":4095}]}",
		"{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"switch\":\"s\",\"vlan\":0}]}",
		"{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"switch\":\"s\",\"vlan\":\"3\"}]}",
		"{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"switch\":\"1lab\"}]}",
		"{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"switch\":\"lab/x\"}]}",
		"{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"switch\":\"abcdefghijkl\"}]}",
		"{\"name\":\"a\",\"kernel\":\"/k\",\"nics\":[{\"switch\":\"\"}]}",
	};
	char *out;

	T_ASSERT_EQ(decode(ok_json, API_DECODE_CREATE), 0);
	T_EXPECT_EQ(cfg.n_nics, 3);
	T_EXPECT_STREQ(cfg.nics[0].switch_name, "lab-1");
	T_EXPECT_EQ(cfg.nics[0].vlan, 12);
	T_EXPECT_STREQ(cfg.nics[0].tap, "");
	T_EXPECT_STREQ(cfg.nics[1].tap, "tap0");
	T_EXPECT_EQ(cfg.nics[2].vlan, 0);
	out = api_vm_config_encode(&cfg, true);
	T_ASSERT(out != NULL);
	T_EXPECT(strstr(out, "\"switch\":\"lab-1\"") != NULL);
	T_EXPECT(strstr(out, "\"vlan\":12") != NULL);
	T_ASSERT_EQ(api_vm_config_decode(out, strlen(out), API_DECODE_STORED, &cfg, &err), 0);
	T_EXPECT_EQ(cfg.nics[0].vlan, 12);
	free(out);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		T_EXPECT_NE(decode(bad[i], API_DECODE_CREATE), 0);
}

static void test_error_body(void)
{
	struct api_error e = { .code = API_E_CONFLICT }, back;
	char *s;

	snprintf(e.message, sizeof(e.message), "VM \"x\" is running");
	s = api_error_encode(&e);
	T_ASSERT(s != NULL);
	T_EXPECT(strstr(s, "{\"error\":{\"code\":\"conflict\"") == s);
	T_ASSERT_EQ(api_error_decode(s, strlen(s), &back), 0);
	T_EXPECT_EQ(back.code, API_E_CONFLICT);
	T_EXPECT_STREQ(back.message, e.message);
	T_EXPECT_EQ(api_err_http_status(API_E_CONFLICT), 409);
	T_EXPECT_EQ(api_err_http_status(API_E_NOT_FOUND), 404);
	T_EXPECT_EQ(api_err_http_status(API_E_BAD_REQUEST), 400);
	T_EXPECT_EQ(api_err_http_status(API_E_TOO_LARGE), 413);
	T_EXPECT_NE(api_error_decode("{\"error\":1}", 11, &back), 0);
	free(s);
}

static void test_stop_options(void)
{
	unsigned int t = 0;

	T_EXPECT_EQ(api_stop_decode("", 0, &t, &err), 0);
	T_EXPECT_EQ(t, API_STOP_DEFAULT_TIMEOUT);
	T_EXPECT_EQ(api_stop_decode("{\"timeout_sec\":7}", 17, &t, &err), 0);
	T_EXPECT_EQ(t, 7);
	t = 99;
	T_EXPECT_NE(api_stop_decode("{\"timeout_sec\":7000}", 20, &t, &err), 0);
	T_EXPECT_NE(api_stop_decode("{\"force\":true}", 14, &t, &err), 0);
	T_EXPECT_NE(api_stop_decode("{\"timeout_sec\":\"7\"}", 19, &t, &err), 0);
	T_EXPECT_EQ(t, 99);
}

static const struct t_case cases[] = {
	T_CASE(test_minimal_defaults),
	T_CASE(test_full_round_trip),
	T_CASE(test_edit_partial),
	T_CASE(test_bad_input),
	T_CASE(test_absurd_sizes),
	T_CASE(test_names),
	T_CASE(test_mac),
	T_CASE(test_switch_nic),
	T_CASE(test_error_body),
	T_CASE(test_stop_options),
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
