// SPDX-License-Identifier: MIT
/* Atomic JSON configuration store (see store.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "base/util.h"
#include "daemon/store.h"

#define STORE_MAX_FILE (256 * 1024)

int store_open(struct store *s, const char *state_dir)
{
	int root = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (root < 0)
		return -errno;
	if (mkdirat(root, "vms", 0750) && errno != EEXIST) {
		int r = -errno;

		close(root);
		return r;
	}
	s->dir_fd = openat(root, "vms", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	close(root);
	return s->dir_fd < 0 ? -errno : 0;
}

void store_close(struct store *s)
{
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	s->dir_fd = -1;
}

int store_save(struct store *s, const struct api_vm_config *c)
{
	char final[API_NAME_MAX + 8];
	char *json;
	int r;

	if (!api_name_valid(c->name))
		return -EINVAL;
	json = api_vm_config_encode(c, true);
	if (!json)
		return -ENOMEM;
	snprintf(final, sizeof(final), "%s.json", c->name);
	r = write_text_atomic_at(s->dir_fd, final, json, true);
	free(json);
	return r;
}

int store_load(struct store *s, const char *name, struct api_vm_config *c, struct api_error *e)
{
	char file[API_NAME_MAX + 8];
	char *buf;
	struct stat st;
	ssize_t n;
	int fd, r;

	if (!api_name_valid(name))
		return api_fail(e, API_E_BAD_REQUEST, "invalid VM name");
	snprintf(file, sizeof(file), "%s.json", name);
	fd = openat(s->dir_fd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		api_fail(e, r == -ENOENT ? API_E_NOT_FOUND : API_E_INTERNAL, "cannot open %s: %s",
			 file, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > STORE_MAX_FILE) {
		close(fd);
		return api_fail(e, API_E_TOO_LARGE, "%s is not a regular file of at most %d bytes",
				file, STORE_MAX_FILE);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return api_fail(e, API_E_INTERNAL, "out of memory");
	}
	n = pread(fd, buf, (size_t)st.st_size, 0);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return api_fail(e, API_E_INTERNAL, "short read on %s", file);
	}
	r = api_vm_config_decode(buf, (size_t)n, API_DECODE_STORED, c, e);
	free(buf);
	if (!r && strcmp(c->name, name))
		return api_fail(e, API_E_BAD_REQUEST, "%s holds VM '%s'; the file name and the "
				"\"name\" field must match", file, c->name);
	return r;
}

int store_delete(struct store *s, const char *name)
{
	char file[API_NAME_MAX + 8];

	if (!api_name_valid(name))
		return -EINVAL;
	snprintf(file, sizeof(file), "%s.json", name);
	if (unlinkat(s->dir_fd, file, 0))
		return -errno;
	return fsync(s->dir_fd) ? -errno : 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_list(struct store *s, void (*fn)(void *ctx, const struct api_vm_config *c),
	       void (*bad)(void *ctx, const char *file, const char *message), void *ctx)
{
	int fd = dup(s->dir_fd);
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct api_vm_config *c;
	int r = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' && len > 9 && !strcmp(de->d_name + len - 9, ".json.tmp")) {
			unlinkat(s->dir_fd, de->d_name, 0);   /* interrupted write */
			continue;
		}
		if (len <= 5 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap ? cap * 2 : 16) * sizeof(*names));

			if (!nn) {
				r = -ENOMEM;
				break;
			}
			names = nn;
			cap = cap ? cap * 2 : 16;
		}
		names[n] = strndup(de->d_name, len - 5);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	c = malloc(sizeof(*c));
	if (!c && !r)
		r = -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct api_error e;

		if (!r) {
			if (!api_name_valid(names[i])) {
				if (bad)
					bad(ctx, names[i], "file name is not a valid VM name");
			} else if (store_load(s, names[i], c, &e)) {
				if (bad)
					bad(ctx, names[i], e.message);
			} else {
				fn(ctx, c);
			}
		}
		free(names[i]);
	}
	free(c);
	free(names);
	return r;
}
