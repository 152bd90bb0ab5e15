/* SPDX-License-Identifier: MIT */
/*
 * Shared bits of the disk-image fuzz targets: the libFuzzer entry point's
 * prototype, a way to drop results on purpose, and malloc tuning so the
 * multi-MiB template images stay on the heap between runs.
 */
#ifndef OPENHV_FUZZ_DISK_COMMON_H
#define OPENHV_FUZZ_DISK_COMMON_H

#include <malloc.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Results are irrelevant here; only crashes and sanitizer reports count. */
#define IGNORE(x) do { if (x) { } } while (0)

/* PERF: fresh mmaps for every large image would cost page faults per run. */
static inline void keep_heap(void)
{
	static int done;

	if (!done) {
		mallopt(M_MMAP_THRESHOLD, 64 << 20);
		mallopt(M_TRIM_THRESHOLD, 256 << 20);
		done = 1;
	}
}

#endif
