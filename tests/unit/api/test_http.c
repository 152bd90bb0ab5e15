// SPDX-License-Identifier: MIT
/* HTTP/1.1 request parser, response-head parser and API routing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/http.h"
#include "t.h"

static struct http_request req;
static int status;
static const char *why;

static int parse(const char *s)
{
	return http_parse_request(s, strlen(s), 65536, &req, &status, &why);
}

static void test_simple_get(void)
{
	T_ASSERT_EQ(parse("GET /v1/vms HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"), 0);
	T_EXPECT_EQ(req.method, HTTP_GET);
	T_EXPECT_EQ(req.target_len, 7);
	T_EXPECT(!memcmp(req.target, "/v1/vms", 7));
	T_EXPECT_EQ(req.minor_version, 1);
	T_EXPECT_EQ(req.n_headers, 2);
	T_EXPECT_EQ(req.content_length, 0);
	T_ASSERT(http_find_header(&req, "ACCEPT") != NULL);
	T_EXPECT_EQ(http_find_header(&req, "accept")->value_len, 3);
}

static void test_body_and_incremental(void)
{
	static const char msg[] = "POST /v1/vms HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
				  "Expect: 100-continue\r\n\r\nhello";
	size_t full = strlen(msg);

	for (size_t n = 0; n < full; n++) {
		int r = http_parse_request(msg, n, 65536, &req, &status, &why);

		if (r != -EAGAIN) {
			T_EXPECT(!"incomplete request not reported as -EAGAIN");
			return;
		}
		/* Once the head is there the caller knows, e.g. to send 100 Continue. */
		if (n >= full - 5)
			T_EXPECT(req.head_len == full - 5 && req.expect_continue);
	}
	T_ASSERT_EQ(http_parse_request(msg, full, 65536, &req, &status, &why), 0);
	T_EXPECT_EQ(req.content_length, 5);
	T_EXPECT(!memcmp(req.body, "hello", 5));
}

struct bad {
	const char *req;
	int status;
};

static void test_bad_requests(void)
{
	static const struct bad bad[] = {
		{ "GET /v1/vms HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 411 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n", 413 },
		{ "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400 },
		{ "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505 },
		{ "BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501 },
		{ "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
		{ "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\nHost: x\n\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\n: x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\n\r\n", 400 },   /* 1.1 without Host */
		{ "GET / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n", 400 },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i].req);

		T_EXPECT(r != 0 && r != -EAGAIN);
		T_EXPECT_EQ(status, bad[i].status);
		T_EXPECT(why != NULL);
	}
}

static void test_limits(void)
{
	char *big = malloc(HTTP_MAX_HEAD + 100);
	size_t n;

	T_ASSERT(big != NULL);
	/* Request line longer than the head limit. */
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', HTTP_MAX_HEAD + 50);
	T_EXPECT_NE(http_parse_request(big, HTTP_MAX_HEAD + 55, 65536, &req, &status, &why), 0);
	T_EXPECT_EQ(status, 414);
	/* Too many header fields. */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
		n += (size_t)sprintf(big + n, "X-%d: y\r\n", i);
	n += (size_t)sprintf(big + n, "\r\n");
	T_EXPECT_NE(http_parse_request(big, n, 65536, &req, &status, &why), 0);
	T_EXPECT_EQ(status, 431);
	/* A header section that never ends. */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: x\r\nX: ");
	memset(big + n, 'v', HTTP_MAX_HEAD);
	T_EXPECT_NE(http_parse_request(big, HTTP_MAX_HEAD + n, 65536, &req, &status, &why), 0);
	T_EXPECT_EQ(status, 431);
	free(big);
}

static void test_response(void)
{
	static const char r[] = "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n"
				"Content-Length: 2\r\n\r\n{}";
	struct http_response h;

	T_ASSERT_EQ(http_parse_response(r, strlen(r), &h), 0);
	T_EXPECT_EQ(h.status, 409);
	T_EXPECT(h.has_length && h.content_length == 2);
	T_EXPECT_EQ(h.head_len, strlen(r) - 2);
	T_EXPECT_EQ(http_parse_response(r, 20, &h), -EAGAIN);
	T_EXPECT_EQ(http_parse_response("SMTP 220\r\n\r\n", 12, &h), -EINVAL);
	T_EXPECT_EQ(http_parse_response("HTTP/1.1 abc\r\n\r\n", 16, &h), -EINVAL);
}

static void test_routes(void)
{
	struct api_route r;
	struct api_error e;

#define ROUTE(s) api_route_parse(s, strlen(s), &r, &e)
	T_ASSERT_EQ(ROUTE("/v1/vms"), 0);
	T_EXPECT_EQ(r.kind, API_R_VMS);
	T_ASSERT_EQ(ROUTE("/v1/vms/"), 0);
	T_EXPECT_EQ(r.kind, API_R_VMS);
	T_ASSERT_EQ(ROUTE("/v1/vms/web1?verbose=1"), 0);
	T_EXPECT_EQ(r.kind, API_R_VM);
	T_EXPECT_STREQ(r.name, "web1");
	T_ASSERT_EQ(ROUTE("/v1/vms/web1/restart"), 0);
	T_EXPECT_EQ(r.kind, API_R_VM_ACTION);
	T_EXPECT_EQ(r.action, API_ACT_RESTART);
	T_ASSERT_EQ(ROUTE("/v1/vms/web1/guest"), 0);
	T_EXPECT_EQ(r.kind, API_R_VM_GUEST);
	T_ASSERT_EQ(ROUTE("/v1/vms/web1/console"), 0);
	T_EXPECT_EQ(r.kind, API_R_VM_CONSOLE);
	T_ASSERT_EQ(ROUTE("/v1/events"), 0);
	T_EXPECT_EQ(r.kind, API_R_EVENTS);
	T_ASSERT_EQ(ROUTE("/v1/vms/web1/disks"), 0);
	T_EXPECT_EQ(r.kind, API_R_VM_DISKS);
	T_ASSERT_EQ(ROUTE("/v1/vms/web1/disks/12"), 0);
	T_EXPECT_EQ(r.kind, API_R_VM_DISK);
	T_EXPECT_EQ(r.lun, 12);
	T_ASSERT_EQ(ROUTE("/v1/vms/web1/disks/255/"), 0);
	T_EXPECT_EQ(r.lun, 255);
	T_EXPECT_EQ(ROUTE("/v1/vms/web1/disks/256"), -ENOENT);
	T_EXPECT_EQ(ROUTE("/v1/vms/web1/disks/1000"), -ENOENT);
	T_EXPECT_EQ(ROUTE("/v1/vms/web1/disks/-1"), -ENOENT);
	T_EXPECT_EQ(ROUTE("/v1/vms/web1/disks/0x1"), -ENOENT);
	T_EXPECT_EQ(ROUTE("/v1/vms/web1/disks/1/x"), -ENOENT);
	T_EXPECT_EQ(ROUTE("/v1/vms/web1/guest/1"), -ENOENT);

	T_EXPECT_EQ(ROUTE("/v2/vms"), -ENOENT);
	T_EXPECT_EQ(ROUTE("/v1/vms/web1/edit"), -ENOENT);     /* edit is PATCH on the VM */
	T_EXPECT_EQ(ROUTE("/v1/vms/web1/delete"), -ENOENT);
	T_EXPECT_EQ(ROUTE("/v1/vms/web1/start/now"), -ENOENT);
	T_EXPECT_EQ(ROUTE("/v1/vms/../../etc/passwd"), -ENOENT);
	T_EXPECT_EQ(ROUTE("/v1/vms/.."), -EINVAL);
	T_EXPECT_EQ(ROUTE("/v1/vms/..%2fetc"), -EINVAL);
	T_EXPECT_EQ(e.code, API_E_BAD_REQUEST);
	T_EXPECT_EQ(ROUTE("/v1//vms"), -EINVAL);
	T_EXPECT_EQ(ROUTE("v1/vms"), -EINVAL);
	T_EXPECT_EQ(ROUTE(""), -EINVAL);
	T_EXPECT_EQ(ROUTE("/v1/vms/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
		    -EINVAL);
#undef ROUTE
}

static const struct t_case cases[] = {
	T_CASE(test_simple_get),
	T_CASE(test_body_and_incremental),
	T_CASE(test_bad_requests),
	T_CASE(test_limits),
	T_CASE(test_response),
	T_CASE(test_routes),
	{ 0 },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
