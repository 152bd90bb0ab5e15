// SPDX-License-Identifier: MIT
/*
 * Test helper for the cross-check scripts: raw access to an image through the
 * disk library. Not installed.
 *   disk_tool dump IMG OUT          write the image's flattened content to OUT
 *   disk_tool write IMG IN OFFSET   write file IN into the image at OFFSET, flush
 *   disk_tool discard IMG OFFSET LEN
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "openhv/disk.h"

static int die(const char *what, int r, const struct disk_diag *diag)
{
	fprintf(stderr, "disk_tool: %s: %s%s%s\n", what, strerror(-r), diag && diag->msg[0] ? ": " : "",
		diag ? diag->msg : "");
	return 1;
}

int main(int argc, char **argv)
{
	struct disk_diag diag = { 0 };
	struct disk *d;
	uint64_t a, b;
	int r;

	if (argc < 4)
		return fprintf(stderr, "usage: disk_tool dump|write|discard IMG ...\n"), 2;
	r = disk_open(argv[2], strcmp(argv[1], "dump") ? 0 : DISK_OPEN_RDONLY, &diag, &d);
	if (r < 0)
		return die("open", r, &diag);
	if (!strcmp(argv[1], "dump")) {
		FILE *f = fopen(argv[3], "wb");
		uint8_t *buf = malloc(4 << 20);
		if (!f || !buf)
			return die("output", -errno, NULL);
		for (uint64_t off = 0; off < disk_size(d); off += 4 << 20) {
			size_t n = (size_t)MIN(4u << 20, disk_size(d) - off);
			r = disk_read(d, off, buf, n);
			if (r < 0)
				return die("read", r, NULL);
			if (fwrite(buf, 1, n, f) != n)
				return die("write output", -EIO, NULL);
		}
		fclose(f);
		free(buf);
	} else if (!strcmp(argv[1], "write") && argc == 5) {
		void *buf;
		size_t len;
		if (read_file(argv[3], 1u << 30, &buf, &len) < 0 || parse_size(argv[4], &a) < 0)
			return die("input", -EINVAL, NULL);
		r = disk_write(d, a, buf, len);
		if (r == 0)
			r = disk_flush(d);
		if (r < 0)
			return die("write", r, NULL);
		free(buf);
	} else if (!strcmp(argv[1], "discard") && argc == 5) {
		if (parse_size(argv[3], &a) < 0 || parse_size(argv[4], &b) < 0)
			return die("arguments", -EINVAL, NULL);
		r = disk_discard(d, a, b);
		if (r == 0)
			r = disk_flush(d);
		if (r < 0)
			return die("discard", r, NULL);
	} else {
		return fprintf(stderr, "disk_tool: bad command\n"), 2;
	}
	r = disk_close(d);
	return r < 0 ? die("close", r, NULL) : 0;
}
