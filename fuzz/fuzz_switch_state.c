// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the switch state-file parser (DIR/switches/NAME.json). Any
 * input must either be refused with a message or decode into a state that
 * passes the same checks again and survives an encode/decode round trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "switch/switch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct switch_state st, again;
	char err[256];
	char *json;

	err[0] = 0;
	if (switch_state_decode((const char *)data, size, &st, err, sizeof(err))) {
		if (!err[0])
			abort(); /* every refusal says why */
		return 0;
	}
	if (switch_name_check(st.name, NULL, 0) || strlen(st.bridge) >= IFNAMSIZ)
		abort();
	json = switch_state_encode(&st);
	if (!json)
		return 0;
	if (switch_state_decode(json, strlen(json), &again, err, sizeof(err)) ||
	    memcmp(&st, &again, sizeof(st)))
		abort();
	free(json);
	return 0;
}
