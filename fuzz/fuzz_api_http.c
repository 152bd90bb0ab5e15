// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the management socket's request path as openhvd runs it on a
 * received buffer: HTTP request parsing, route parsing, then the JSON body
 * decoders (create, edit, stop) on whatever body the request framed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req;
	struct http_response resp;
	struct api_route route;
	struct api_error err;
	struct api_vm_config *cfg;
	const char *why;
	unsigned int t;
	int status;

	/* Exact-size copy so ASan sees any read past the end. */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	(void)http_parse_response(buf, size, &resp);
	if (http_parse_request(buf, size, API_MAX_BODY, &req, &status, &why) == 0) {
		if (req.head_len + req.content_length > size)
			abort();
		(void)http_find_header(&req, "host");
		if (api_route_parse(req.target, req.target_len, &route, &err) == 0) {
			cfg = malloc(sizeof(*cfg));
			if (cfg) {
				api_vm_config_init(cfg);
				if (api_vm_config_decode(req.body, req.content_length,
							 API_DECODE_CREATE, cfg, &err) == 0 &&
				    api_vm_config_check(cfg, &err) != 0)
					abort();   /* decode must only accept valid configs */
				(void)api_vm_config_decode(req.body, req.content_length,
							   API_DECODE_EDIT, cfg, &err);
				free(cfg);
			}
			(void)api_stop_decode(req.body, req.content_length, &t, &err);
			{
				struct api_disk d;

				if (api_disk_decode(req.body, req.content_length, &d, &err) == 0 &&
				    (d.path[0] != '/' || !memchr(d.path, '\0', sizeof(d.path))))
					abort();   /* only absolute, terminated paths get through */
			}
		}
	}
	free(buf);
	return 0;
}
