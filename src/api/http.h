/* SPDX-License-Identifier: MIT */
/*
 * A small, strict HTTP/1.1 message parser for the management socket. It
 * parses in place (no copies, no allocation), bounds every size, accepts
 * only Content-Length bodies (no chunked requests) and CRLF line ends, and
 * says which 4xx/5xx status a bad request deserves.
 */
#ifndef OPENHV_API_HTTP_H
#define OPENHV_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEAD 8192      /* request line + headers + blank line */
#define HTTP_MAX_TARGET 1024
#define HTTP_MAX_HEADERS 32

enum http_method {
	HTTP_GET = 0,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_DELETE,
	HTTP_OPTIONS,
};

struct http_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

struct http_request {
	enum http_method method;
	const char *target;
	size_t target_len;
	int minor_version;           /* 0 or 1 */
	size_t head_len;             /* bytes up to and including the blank line; 0 = incomplete */
	size_t content_length;
	const char *body;            /* buf + head_len, content_length bytes */
	bool expect_continue;        /* "Expect: 100-continue" */
	bool upgrade;                /* "Connection: upgrade" */
	unsigned int n_headers;
	struct http_header headers[HTTP_MAX_HEADERS];
};

/*
 * Parse buf[0..len). Returns 0 when the request (head and body) is complete,
 * -EAGAIN when more bytes are needed (req->head_len is set once the head is
 * complete), or a negative errno with *status set to the HTTP status to
 * answer (400, 411, 413, 414, 431, 501, 505) and *why to a short reason.
 * max_body bounds Content-Length.
 */
int http_parse_request(const char *buf, size_t len, size_t max_body, struct http_request *req,
		       int *status, const char **why);

/* Header lookup, case-insensitive; NULL if absent. */
const struct http_header *http_find_header(const struct http_request *req, const char *name);

const char *http_method_name(enum http_method m);
const char *http_status_text(int status);

struct http_response {
	int status;
	size_t head_len;
	bool has_length;
	size_t content_length;
	const char *content_type;     /* points into buf, not NUL-terminated */
	size_t content_type_len;
};

/*
 * Parse a response head (client side). Returns 0 when the head is complete,
 * -EAGAIN for more, -EINVAL if it is not an HTTP/1.x response.
 */
int http_parse_response(const char *buf, size_t len, struct http_response *resp);

#endif
