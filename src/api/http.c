// SPDX-License-Identifier: MIT
/*
 * HTTP/1.1 request and response-head parser (RFC 9112 subset): request line,
 * header fields, Content-Length framing. Anything outside the subset is
 * refused with a 4xx/5xx status rather than guessed at.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "api/http.h"
#include "base/util.h"

static const char *const method_names[] = {
	[HTTP_GET] = "GET", [HTTP_HEAD] = "HEAD", [HTTP_POST] = "POST", [HTTP_PUT] = "PUT",
	[HTTP_PATCH] = "PATCH", [HTTP_DELETE] = "DELETE", [HTTP_OPTIONS] = "OPTIONS",
};

const char *http_method_name(enum http_method m)
{
	return (unsigned int)m < ARRAY_SIZE(method_names) ? method_names[m] : "?";
}

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	default: return "Unknown";
	}
}

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int fail(int *status, const char **why, int st, const char *msg)
{
	*status = st;
	*why = msg;
	return st == 413 || st == 431 || st == 414 ? -E2BIG : -EINVAL;
}

/* Find CRLF at or after pos, within limit; returns index of '\r' or -1 if none yet. */
static long find_crlf(const char *buf, size_t pos, size_t limit)
{
	for (size_t i = pos; i + 1 < limit; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n')
			return (long)i;
	return -1;
}

static bool token_eq(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && !strncasecmp(p, lit, n);
}

/* Does a comma-separated header value contain token lit? */
static bool list_has(const char *v, size_t n, const char *lit)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > s && token_eq(v + s, e - s, lit))
			return true;
	}
	return false;
}

int http_parse_request(const char *buf, size_t len, size_t max_body, struct http_request *req,
		       int *status, const char **why)
{
	size_t limit = MIN(len, (size_t)HTTP_MAX_HEAD);
	size_t pos = 0, sp1, sp2;
	long eol;
	bool have_cl = false, have_te = false;
	const char *m;

	memset(req, 0, sizeof(*req));
	*status = 0;
	*why = NULL;

	/* Request line: METHOD SP target SP HTTP/1.x CRLF */
	eol = find_crlf(buf, 0, limit);
	if (eol < 0) {
		for (size_t i = 0; i < limit; i++)
			if (buf[i] == '\n' || buf[i] == '\0')
				return fail(status, why, 400, "malformed request line");
		if (len >= HTTP_MAX_HEAD)
			return fail(status, why, 414, "request line too long");
		return -EAGAIN;
	}
	for (sp1 = 0; sp1 < (size_t)eol && buf[sp1] != ' '; sp1++)
		if (!is_tchar((unsigned char)buf[sp1]))
			return fail(status, why, 400, "malformed method");
	if (sp1 == 0 || sp1 == (size_t)eol)
		return fail(status, why, 400, "malformed request line");
	m = buf;
	req->method = (enum http_method)-1;
	for (unsigned int i = 0; i < ARRAY_SIZE(method_names); i++)
		if (strlen(method_names[i]) == sp1 && !memcmp(m, method_names[i], sp1))
			req->method = (enum http_method)i;
	if (req->method == (enum http_method)-1)
		return fail(status, why, 501, "method not implemented");
	for (sp2 = sp1 + 1; sp2 < (size_t)eol && buf[sp2] != ' '; sp2++) {
		unsigned char c = (unsigned char)buf[sp2];

		if (c <= 0x20 || c >= 0x7f)
			return fail(status, why, 400, "invalid character in request target");
	}
	if (sp2 == sp1 + 1 || sp2 == (size_t)eol)
		return fail(status, why, 400, "malformed request line");
	if (sp2 - sp1 - 1 > HTTP_MAX_TARGET)
		return fail(status, why, 414, "request target too long");
	req->target = buf + sp1 + 1;
	req->target_len = sp2 - sp1 - 1;
	if ((size_t)eol - sp2 - 1 != 8 || memcmp(buf + sp2 + 1, "HTTP/1.", 7))
		return fail(status, why, 400, "malformed HTTP version");
	if (buf[sp2 + 8] == '1')
		req->minor_version = 1;
	else if (buf[sp2 + 8] == '0')
		req->minor_version = 0;
	else
		return fail(status, why, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
	pos = (size_t)eol + 2;

	/* Header fields until an empty line. */
	for (;;) {
		size_t colon, vs, ve;
		struct http_header *h;

		eol = find_crlf(buf, pos, limit);
		if (eol < 0) {
			for (size_t i = pos; i < limit; i++)
				if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
					return fail(status, why, 400, "bare LF in header");
			if (len >= HTTP_MAX_HEAD)
				return fail(status, why, 431, "request header too large");
			return -EAGAIN;
		}
		if ((size_t)eol == pos)
			break;
		if (buf[pos] == ' ' || buf[pos] == '\t')
			return fail(status, why, 400, "obsolete header line folding");
		for (colon = pos; colon < (size_t)eol && buf[colon] != ':'; colon++)
			if (!is_tchar((unsigned char)buf[colon]))
				return fail(status, why, 400, "invalid header name");
		if (colon == pos || colon == (size_t)eol)
			return fail(status, why, 400, "malformed header line");
		vs = colon + 1;
		ve = (size_t)eol;
		while (vs < ve && (buf[vs] == ' ' || buf[vs] == '\t'))
			vs++;
		while (ve > vs && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
			ve--;
		for (size_t i = vs; i < ve; i++) {
			unsigned char c = (unsigned char)buf[i];

			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return fail(status, why, 400, "invalid character in header value");
		}
		if (req->n_headers == HTTP_MAX_HEADERS)
			return fail(status, why, 431, "too many header fields");
		h = &req->headers[req->n_headers++];
		h->name = buf + pos;
		h->name_len = colon - pos;
		h->value = buf + vs;
		h->value_len = ve - vs;

		if (token_eq(h->name, h->name_len, "content-length")) {
			uint64_t v = 0;

			if (h->value_len == 0 || h->value_len > 19)
				return fail(status, why, 400, "invalid Content-Length");
			for (size_t i = 0; i < h->value_len; i++) {
				if (h->value[i] < '0' || h->value[i] > '9')
					return fail(status, why, 400, "invalid Content-Length");
				v = v * 10 + (uint64_t)(h->value[i] - '0');
			}
			if (have_cl && v != req->content_length)
				return fail(status, why, 400, "conflicting Content-Length fields");
			if (v > max_body)
				return fail(status, why, 413, "request body too large");
			req->content_length = (size_t)v;
			have_cl = true;
		} else if (token_eq(h->name, h->name_len, "transfer-encoding")) {
			have_te = true;
		} else if (token_eq(h->name, h->name_len, "expect")) {
			if (!token_eq(h->value, h->value_len, "100-continue"))
				return fail(status, why, 400,
					    "unsupported Expect value");
			req->expect_continue = true;
		} else if (token_eq(h->name, h->name_len, "connection")) {
			if (list_has(h->value, h->value_len, "upgrade"))
				req->upgrade = true;
		}
		pos = (size_t)eol + 2;
	}
	if (have_te)
		return fail(status, why, 411, "Transfer-Encoding is not supported; send the body "
			    "with Content-Length");
	if (req->minor_version == 1 && !http_find_header(req, "host"))
		return fail(status, why, 400, "HTTP/1.1 request without Host header");
	req->head_len = (size_t)eol + 2;
	req->body = buf + req->head_len;
	if (len - req->head_len < req->content_length)
		return -EAGAIN;
	return 0;
}

const struct http_header *http_find_header(const struct http_request *req, const char *name)
{
	for (unsigned int i = 0; i < req->n_headers && i < HTTP_MAX_HEADERS; i++)
		if (token_eq(req->headers[i].name, req->headers[i].name_len, name))
			return &req->headers[i];
	return NULL;
}

int http_parse_response(const char *buf, size_t len, struct http_response *resp)
{
	size_t limit = MIN(len, (size_t)HTTP_MAX_HEAD), pos;
	long eol;

	memset(resp, 0, sizeof(*resp));
	eol = find_crlf(buf, 0, limit);
	if (eol < 0)
		return len >= HTTP_MAX_HEAD ? -EINVAL : -EAGAIN;
	if (eol < 12 || memcmp(buf, "HTTP/1.", 7) || buf[8] != ' ' || buf[9] < '1' ||
	    buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9')
		return -EINVAL;
	resp->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	pos = (size_t)eol + 2;
	for (;;) {
		size_t colon, vs;

		eol = find_crlf(buf, pos, limit);
		if (eol < 0)
			return len >= HTTP_MAX_HEAD ? -EINVAL : -EAGAIN;
		if ((size_t)eol == pos)
			break;
		for (colon = pos; colon < (size_t)eol && buf[colon] != ':'; colon++)
			;
		if (colon == (size_t)eol)
			return -EINVAL;
		vs = colon + 1;
		while (vs < (size_t)eol && buf[vs] == ' ')
			vs++;
		if (token_eq(buf + pos, colon - pos, "content-length")) {
			size_t v = 0;

			if (vs == (size_t)eol || (size_t)eol - vs > 12)
				return -EINVAL;
			for (size_t i = vs; i < (size_t)eol; i++) {
				if (buf[i] < '0' || buf[i] > '9')
					return -EINVAL;
				v = v * 10 + (size_t)(buf[i] - '0');
			}
			resp->has_length = true;
			resp->content_length = v;
		} else if (token_eq(buf + pos, colon - pos, "content-type")) {
			resp->content_type = buf + vs;
			resp->content_type_len = (size_t)eol - vs;
		}
		pos = (size_t)eol + 2;
	}
	resp->head_len = (size_t)eol + 2;
	return 0;
}
