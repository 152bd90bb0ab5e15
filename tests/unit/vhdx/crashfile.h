/* SPDX-License-Identifier: MIT */
/*
 * A struct disk_file that simulates power loss. Writes since the last flush
 * are pending; after a budget of operations the file "loses power" (every
 * later operation fails with -EIO) and crashfile_image() builds what a disk
 * could hold afterwards: the flushed state plus each pending operation kept,
 * dropped or torn, chosen by a seeded generator.
 */
#ifndef OPENHV_TESTS_CRASHFILE_H
#define OPENHV_TESTS_CRASHFILE_H

#include <stddef.h>
#include <stdint.h>

#include "openhv/disk.h"

enum crash_mode {
	CRASH_KEEP_ALL,      /* every pending write reached the disk */
	CRASH_DROP_ALL,      /* none did */
	CRASH_RANDOM,        /* each kept or dropped; kept writes may be torn by sector */
	CRASH_GARBAGE,       /* like RANDOM, torn sectors filled with random bytes */
};

struct disk_file *crashfile_new(const void *data, size_t len);
/* Lose power after this many more operations (writes, size changes, flushes). */
void crashfile_arm(struct disk_file *f, uint64_t ops);
uint64_t crashfile_ops(struct disk_file *f);
/* The image after the crash, malloc'd; caller frees. */
uint8_t *crashfile_image(struct disk_file *f, enum crash_mode mode, uint64_t seed,
			 size_t *ret_len);

#endif
