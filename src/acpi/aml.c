// SPDX-License-Identifier: MIT
#include "acpi/aml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define AML_ZERO 0x00
#define AML_ONE 0x01
#define AML_NAME 0x08
#define AML_BYTE 0x0a
#define AML_WORD 0x0b
#define AML_DWORD 0x0c
#define AML_STRING 0x0d
#define AML_QWORD 0x0e
#define AML_SCOPE 0x10
#define AML_BUFFER 0x11
#define AML_PACKAGE 0x12
#define AML_EXT 0x5b
#define AML_DEVICE 0x82
#define AML_ROOT '\\'
#define AML_DUAL_NAME 0x2e
#define AML_MULTI_NAME 0x2f

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
	free(a->b);
	aml_init(a);
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->err)
		return;
	if (a->len + n > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		uint8_t *nb;
		while (cap < a->len + n)
			cap *= 2;
		nb = realloc(a->b, cap);
		if (!nb) {
			a->err = -ENOMEM;
			return;
		}
		a->b = nb;
		a->cap = cap;
	}
	memcpy(a->b + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t v)
{
	aml_bytes(a, &v, 1);
}

/* PkgLength: the encoded length includes the PkgLength bytes themselves. */
static void aml_pkglength(struct aml *a, size_t body)
{
	size_t total;

	if (body + 1 < 0x40) {
		aml_byte(a, (uint8_t)(body + 1));
		return;
	}
	if (body + 2 < 0x1000) {
		total = body + 2;
		aml_byte(a, (uint8_t)(0x40 | (total & 0x0f)));
		aml_byte(a, (uint8_t)(total >> 4));
		return;
	}
	if (body + 3 < 0x100000) {
		total = body + 3;
		aml_byte(a, (uint8_t)(0x80 | (total & 0x0f)));
		aml_byte(a, (uint8_t)(total >> 4));
		aml_byte(a, (uint8_t)(total >> 12));
		return;
	}
	total = body + 4;
	aml_byte(a, (uint8_t)(0xc0 | (total & 0x0f)));
	aml_byte(a, (uint8_t)(total >> 4));
	aml_byte(a, (uint8_t)(total >> 12));
	aml_byte(a, (uint8_t)(total >> 20));
}

static void aml_nameseg(struct aml *a, const char *seg, size_t n)
{
	char s[4] = { '_', '_', '_', '_' };

	memcpy(s, seg, n > 4 ? 4 : n);
	aml_bytes(a, s, 4);
}

void aml_namestring(struct aml *a, const char *name)
{
	const char *segs[8];
	size_t lens[8];
	unsigned int n = 0;
	const char *p = name;

	while (*p == '\\' || *p == '^')
		aml_byte(a, (uint8_t)*p++);
	while (*p && n < 8) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		segs[n] = p;
		lens[n++] = l;
		p += l + (dot ? 1 : 0);
	}
	if (n == 0) {
		aml_byte(a, 0); /* NullName */
		return;
	}
	if (n == 2)
		aml_byte(a, AML_DUAL_NAME);
	else if (n > 2) {
		aml_byte(a, AML_MULTI_NAME);
		aml_byte(a, (uint8_t)n);
	}
	for (unsigned int i = 0; i < n; i++)
		aml_nameseg(a, segs[i], lens[i]);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		for (int i = 0; i < 2; i++)
			aml_byte(a, (uint8_t)(v >> (8 * i)));
	} else if (v <= 0xffffffffu) {
		aml_byte(a, AML_DWORD);
		for (int i = 0; i < 4; i++)
			aml_byte(a, (uint8_t)(v >> (8 * i)));
	} else {
		aml_byte(a, AML_QWORD);
		for (int i = 0; i < 8; i++)
			aml_byte(a, (uint8_t)(v >> (8 * i)));
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

void aml_name(struct aml *a, const char *name, const struct aml *obj)
{
	aml_byte(a, AML_NAME);
	aml_namestring(a, name);
	aml_bytes(a, obj->b, obj->len);
	if (obj->err)
		a->err = obj->err;
}

void aml_name_int(struct aml *a, const char *name, uint64_t v)
{
	aml_byte(a, AML_NAME);
	aml_namestring(a, name);
	aml_integer(a, v);
}

void aml_name_str(struct aml *a, const char *name, const char *s)
{
	aml_byte(a, AML_NAME);
	aml_namestring(a, name);
	aml_string(a, s);
}

static void aml_named_block(struct aml *a, const uint8_t *op, size_t oplen, const char *name,
			    const struct aml *body)
{
	struct aml inner;

	aml_init(&inner);
	aml_namestring(&inner, name);
	aml_bytes(&inner, body->b, body->len);
	aml_bytes(a, op, oplen);
	aml_pkglength(a, inner.len);
	aml_bytes(a, inner.b, inner.len);
	if (inner.err || body->err)
		a->err = -ENOMEM;
	aml_free(&inner);
}

void aml_scope(struct aml *a, const char *name, const struct aml *body)
{
	static const uint8_t op[] = { AML_SCOPE };
	aml_named_block(a, op, sizeof(op), name, body);
}

void aml_device(struct aml *a, const char *name, const struct aml *body)
{
	static const uint8_t op[] = { AML_EXT, AML_DEVICE };
	aml_named_block(a, op, sizeof(op), name, body);
}

void aml_package_ints(struct aml *a, const uint64_t *v, unsigned int n)
{
	struct aml inner;

	aml_init(&inner);
	aml_byte(&inner, (uint8_t)n);
	for (unsigned int i = 0; i < n; i++)
		aml_integer(&inner, v[i]);
	aml_byte(a, AML_PACKAGE);
	aml_pkglength(a, inner.len);
	aml_bytes(a, inner.b, inner.len);
	if (inner.err)
		a->err = inner.err;
	aml_free(&inner);
}

void aml_resource_template(struct aml *a, const uint8_t *desc, size_t n)
{
	struct aml inner;
	/* End tag (small item 0x0f, length 1) with checksum 0 = "not checked". */
	static const uint8_t end_tag[] = { 0x79, 0x00 };

	aml_init(&inner);
	aml_integer(&inner, n + sizeof(end_tag));
	aml_bytes(&inner, desc, n);
	aml_bytes(&inner, end_tag, sizeof(end_tag));
	aml_byte(a, AML_BUFFER);
	aml_pkglength(a, inner.len);
	aml_bytes(a, inner.b, inner.len);
	if (inner.err)
		a->err = inner.err;
	aml_free(&inner);
}
