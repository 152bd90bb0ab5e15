// SPDX-License-Identifier: MIT
/*
 * Disk benchmark driver (not part of the test suite). Runs one workload on an
 * image through the disk library and prints the elapsed seconds; "cmds"
 * prints the same workload as qemu-io commands so both see identical offsets.
 *
 *   bench_disk seqwrite|seqread IMG TOTAL_MIB REQ_KIB
 *   bench_disk randwrite|randread IMG COUNT SEED
 *   bench_disk cmds seqwrite|seqread|randwrite|randread SIZE_MIB ARG2 ARG3
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "openhv/disk.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t next(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

int main(int argc, char **argv)
{
	struct disk_diag diag = { 0 };
	struct disk *d;
	uint8_t *buf;
	double t0;
	int r = 0;

	if (argc == 7 && !strcmp(argv[1], "cmds")) {
		uint64_t size = strtoull(argv[3], NULL, 10) << 20;
		uint64_t a = strtoull(argv[4], NULL, 10), b = strtoull(argv[5], NULL, 10);
		const char *op = argv[2];
		(void)argv[6];
		if (!strncmp(op, "seq", 3)) {
			for (uint64_t off = 0; off < (a << 20); off += b << 10)
				printf("%s -q %llu %llu\n", op[3] == 'w' ? "write -P 0x5a" : "read",
				       (unsigned long long)off, (unsigned long long)(b << 10));
		} else {
			uint64_t s = b;
			for (uint64_t i = 0; i < a; i++)
				printf("%s -q %llu 4096\n", op[4] == 'w' ? "write -P 0x5a" : "read",
				       (unsigned long long)(next(&s) % (size / 4096) * 4096));
		}
		printf("flush\n");
		return 0;
	}
	if (argc != 5)
		return fprintf(stderr, "usage: see the header of bench_disk.c\n"), 2;
	if (disk_open(argv[2], 0, &diag, &d) < 0)
		return fprintf(stderr, "bench_disk: %s\n", diag.msg), 1;
	buf = aligned_alloc(4096, 16 << 20);
	if (!buf)
		return 1;
	memset(buf, 0x5a, 16 << 20);
	t0 = now();
	if (!strncmp(argv[1], "seq", 3)) {
		uint64_t total = strtoull(argv[3], NULL, 10) << 20, req = strtoull(argv[4], NULL, 10) << 10;
		for (uint64_t off = 0; off < total && r == 0; off += req)
			r = argv[1][3] == 'w' ? disk_write(d, off, buf, req) : disk_read(d, off, buf, req);
	} else {
		uint64_t n = strtoull(argv[3], NULL, 10), s = strtoull(argv[4], NULL, 10);
		uint64_t size = disk_size(d);
		for (uint64_t i = 0; i < n && r == 0; i++) {
			uint64_t off = next(&s) % (size / 4096) * 4096;
			r = argv[1][4] == 'w' ? disk_write(d, off, buf, 4096) : disk_read(d, off, buf, 4096);
		}
	}
	if (r == 0)
		r = disk_flush(d);
	if (r == 0)
		r = disk_close(d);
	if (r < 0)
		return fprintf(stderr, "bench_disk: I/O failed: %s\n", strerror(-r)), 1;
	printf("%.3f\n", now() - t0);
	free(buf);
	return 0;
}
