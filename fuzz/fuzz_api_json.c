// SPDX-License-Identifier: MIT
/*
 * Fuzz target: VM configuration JSON (API bodies and stored files) and the
 * service <-> worker control packets. Whatever decodes must re-encode and
 * decode again to the same configuration.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/ctl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_vm_config *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct ctl_msg *m = malloc(sizeof(*m));
	struct api_error err;
	char *buf = malloc(size ? size : 1);

	if (!a || !b || !m || !buf)
		goto out;
	memcpy(buf, data, size);
	(void)ctl_decode((const uint8_t *)buf, size, m);
	(void)api_error_decode(buf, size, &err);
	api_vm_config_init(a);
	if (api_vm_config_decode(buf, size, API_DECODE_STORED, a, &err) == 0) {
		char *json = api_vm_config_encode(a, true);

		if (json) {
			api_vm_config_init(b);
			if (api_vm_config_decode(json, strlen(json), API_DECODE_STORED, b, &err))
				abort();
			if (strcmp(a->name, b->name) || a->memory_bytes != b->memory_bytes ||
			    a->cpus != b->cpus || strcmp(a->cmdline, b->cmdline) ||
			    a->n_disks != b->n_disks || a->n_nics != b->n_nics)
				abort();
			free(json);
		}
	}
out:
	free(a);
	free(b);
	free(m);
	free(buf);
	return 0;
}
