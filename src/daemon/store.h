/* SPDX-License-Identifier: MIT */
/*
 * Persistent VM configurations: one JSON file per VM in DIR/vms/NAME.json.
 * Writes are atomic (temp file, fsync, rename, fsync of the directory), so a
 * crash leaves either the old or the new file, never a torn one.
 */
#ifndef OPENHV_DAEMON_STORE_H
#define OPENHV_DAEMON_STORE_H

#include "api/api.h"

struct store {
	int dir_fd;      /* DIR/vms */
};

/* Open (creating if needed) the store under state_dir. */
int store_open(struct store *s, const char *state_dir);
void store_close(struct store *s);

/* Write or replace NAME.json atomically. */
int store_save(struct store *s, const struct api_vm_config *c);

/* Read NAME.json; e explains a bad file. */
int store_load(struct store *s, const char *name, struct api_vm_config *c, struct api_error *e);

int store_delete(struct store *s, const char *name);

/*
 * Call fn for each valid NAME.json (sorted by name). Files that do not decode
 * are reported through bad(name, message) and skipped. Leftover temp files
 * from an interrupted write are removed.
 */
int store_list(struct store *s, void (*fn)(void *ctx, const struct api_vm_config *c),
	       void (*bad)(void *ctx, const char *file, const char *message), void *ctx);

#endif
