/* SPDX-License-Identifier: MIT */
/*
 * A minimal AML (ACPI Machine Language) writer, enough for the static
 * definitions of our DSDT: scopes, devices, names, integers, strings,
 * packages and resource-template buffers. ACPI 6.4 chapter 20.
 */
#ifndef OPENHV_ACPI_AML_H
#define OPENHV_ACPI_AML_H

#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *b;
	size_t len, cap;
	int err; /* sticky -ENOMEM */
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);
void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_byte(struct aml *a, uint8_t v);
/* A NameString such as "_SB_", "\\_S5_" or "VMOD" (4-char segments, '.'-separated). */
void aml_namestring(struct aml *a, const char *name);
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* Name(name, <object already in obj>) */
void aml_name(struct aml *a, const char *name, const struct aml *obj);
void aml_name_int(struct aml *a, const char *name, uint64_t v);
void aml_name_str(struct aml *a, const char *name, const char *s);
/* Scope(name) { body } and Device(name) { body } */
void aml_scope(struct aml *a, const char *name, const struct aml *body);
void aml_device(struct aml *a, const char *name, const struct aml *body);
/* Package() { integers } */
void aml_package_ints(struct aml *a, const uint64_t *v, unsigned int n);
/* Buffer() { bytes } with an EndTag appended: a ResourceTemplate. */
void aml_resource_template(struct aml *a, const uint8_t *desc, size_t n);

#endif
