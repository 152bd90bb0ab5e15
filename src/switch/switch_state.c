// SPDX-License-Identifier: MIT
/*
 * Switch names, create arguments and the state files DIR/switches/NAME.json
 * (see switch.h). No netlink here, so all of it is unit-tested.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "switch/switch.h"

#define STATE_SUBDIR "switches"

static const char *const type_names[] = {
	[SWITCH_PRIVATE] = "private",
	[SWITCH_INTERNAL] = "internal",
	[SWITCH_EXTERNAL] = "external",
};

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int switch_name_check(const char *name, char *err, size_t errlen)
{
	size_t len;

	if (!name || !*name)
		return errf(err, errlen, -EINVAL, "a switch needs a name");
	len = strnlen(name, SWITCH_NAME_MAX + 1);
	if (len > SWITCH_NAME_MAX)
		return errf(err, errlen, -EINVAL,
			    "switch name '%.32s' is too long; use at most %d characters (it becomes "
			    "the bridge name " SWITCH_BRIDGE_PREFIX "NAME)",
			    name, SWITCH_NAME_MAX);
	if (!is_alpha(name[0]))
		return errf(err, errlen, -EINVAL, "switch name '%s' must start with a letter", name);
	for (size_t i = 1; i < len; i++) {
		char c = name[i];

		if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_')
			return errf(err, errlen, -EINVAL,
				    "switch name '%s' may only hold letters, digits, '-' and '_'",
				    name);
	}
	return 0;
}

int switch_type_parse(const char *s, enum switch_type *ret)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(type_names); i++) {
		if (!strcmp(s, type_names[i])) {
			*ret = (enum switch_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *switch_type_name(enum switch_type t)
{
	return (unsigned int)t < ARRAY_SIZE(type_names) ? type_names[t] : "?";
}

bool switch_ifname_ok(const char *s)
{
	size_t len;

	if (!s)
		return false;
	len = strnlen(s, IFNAMSIZ);
	if (!len || len >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '/' || s[i] == ':' || (unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

int switch_addr_parse(const char *s, struct switch_addr *ret)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	uint64_t prefix;
	size_t alen;

	memset(ret, 0, sizeof(*ret));
	slash = s ? strchr(s, '/') : NULL;
	if (!slash)
		return -EINVAL;
	alen = (size_t)(slash - s);
	if (!alen || alen >= INET6_ADDRSTRLEN)
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = 0;
	if (parse_u64(slash + 1, &prefix))
		return -EINVAL;
	if (inet_pton(AF_INET, buf, ret->bytes) == 1) {
		ret->family = AF_INET;
		if (prefix < 1 || prefix > 32)
			return -EINVAL;
	} else if (inet_pton(AF_INET6, buf, ret->bytes) == 1) {
		ret->family = AF_INET6;
		if (prefix < 1 || prefix > 128)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	ret->prefix = (uint8_t)prefix;
	return 0;
}

const char *switch_addr_format(const struct switch_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (!len)
		return buf;
	buf[0] = 0;
	if ((a->family == AF_INET || a->family == AF_INET6) &&
	    inet_ntop(a->family, a->bytes, ip, sizeof(ip)))
		snprintf(buf, len, "%s/%u", ip, a->prefix);
	return buf;
}

int switch_state_build(const char *name, const char *type, const char *address, const char *uplink,
		       struct switch_state *st, char *err, size_t errlen)
{
	int r;

	memset(st, 0, sizeof(*st));
	r = switch_name_check(name, err, errlen);
	if (r)
		return r;
	snprintf(st->name, sizeof(st->name), "%s", name);
	snprintf(st->bridge, sizeof(st->bridge), SWITCH_BRIDGE_PREFIX "%s", name);
	if (!type)
		return errf(err, errlen, -EINVAL,
			    "switch '%s' needs a type: --type private, internal or external", name);
	if (switch_type_parse(type, &st->type))
		return errf(err, errlen, -EINVAL,
			    "switch type '%s' is unknown; use private, internal or external", type);
	if (address) {
		if (st->type != SWITCH_INTERNAL)
			return errf(err, errlen, -EINVAL,
				    "--address is only for internal switches (the host's interface "
				    "on the switch); a %s switch has none",
				    switch_type_name(st->type));
		if (switch_addr_parse(address, &st->address))
			return errf(err, errlen, -EINVAL,
				    "--address '%s' is not an address with a prefix length, like "
				    "169.254.10.1/24",
				    address);
	}
	if (uplink) {
		if (st->type != SWITCH_EXTERNAL)
			return errf(err, errlen, -EINVAL,
				    "--uplink is only for external switches; drop it or use --type "
				    "external");
		if (!switch_ifname_ok(uplink))
			return errf(err, errlen, -EINVAL, "--uplink '%s' is not an interface name",
				    uplink);
		snprintf(st->uplink, sizeof(st->uplink), "%s", uplink);
	} else if (st->type == SWITCH_EXTERNAL) {
		return errf(err, errlen, -EINVAL,
			    "an external switch needs --uplink IFACE (the host interface to bridge)");
	}
	return 0;
}

char *switch_state_encode(const struct switch_state *st)
{
	struct json_object *o = json_object_new_object();
	char addr[64];
	char *out = NULL;

	if (!o)
		return NULL;
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "name", json_object_new_string(st->name));
	json_object_object_add(o, "type", json_object_new_string(switch_type_name(st->type)));
	json_object_object_add(o, "bridge", json_object_new_string(st->bridge));
	if (st->address.family)
		json_object_object_add(
			o, "address",
			json_object_new_string(switch_addr_format(&st->address, addr, sizeof(addr))));
	if (st->uplink[0])
		json_object_object_add(o, "uplink", json_object_new_string(st->uplink));
	{
		const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								       JSON_C_TO_STRING_NOSLASHESCAPE);
		if (s)
			out = strdup(s);
	}
	json_object_put(o);
	return out;
}

/* The string member key of o, or NULL (absent); -EINVAL for a non-string. */
static int get_str(struct json_object *o, const char *key, const char **ret)
{
	struct json_object *v;

	*ret = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	*ret = json_object_get_string(v);
	/* An embedded NUL would make the C string differ from the JSON one. */
	if (strlen(*ret) != (size_t)json_object_get_string_len(v))
		return -EINVAL;
	return 0;
}

int switch_state_decode(const char *json, size_t len, struct switch_state *st, char *err,
			size_t errlen)
{
	static const char *const known[] = { "version", "name", "type", "bridge", "address",
					     "uplink" };
	const char *name, *type, *bridge, *address, *uplink;
	struct json_tokener *tok;
	struct json_object *o, *ver;
	struct switch_state tmp;
	char expect[IFNAMSIZ];
	int r;

	if (len > SWITCH_STATE_MAX_FILE || len > INT32_MAX)
		return errf(err, errlen, -EFBIG, "switch state is larger than %d bytes",
			    SWITCH_STATE_MAX_FILE);
	tok = json_tokener_new_ex(8);
	if (!tok)
		return errf(err, errlen, -ENOMEM, "out of memory");
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (o && json_tokener_get_parse_end(tok) < len) {
		/* only whitespace may follow the object */
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
			if (json[i] != ' ' && json[i] != '\n' && json[i] != '\t' && json[i] != '\r') {
				json_object_put(o);
				o = NULL;
				break;
			}
		}
	}
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return errf(err, errlen, -EINVAL, "switch state is not a JSON object");
	}
	r = -EINVAL;
	json_object_object_foreach(o, key, val)
	{
		bool ok = false;

		(void)val;
		for (size_t i = 0; i < ARRAY_SIZE(known); i++)
			ok |= !strcmp(key, known[i]);
		if (!ok) {
			errf(err, errlen, -EINVAL, "switch state has an unknown field \"%.32s\"", key);
			goto out;
		}
	}
	if (!json_object_object_get_ex(o, "version", &ver) ||
	    !json_object_is_type(ver, json_type_int) || json_object_get_int64(ver) != 1) {
		errf(err, errlen, -EINVAL, "switch state has no \"version\": 1");
		goto out;
	}
	if (get_str(o, "name", &name) || get_str(o, "type", &type) ||
	    get_str(o, "bridge", &bridge) || get_str(o, "address", &address) ||
	    get_str(o, "uplink", &uplink)) {
		errf(err, errlen, -EINVAL, "switch state has a field that is not a string");
		goto out;
	}
	if (!name || !type || !bridge) {
		errf(err, errlen, -EINVAL, "switch state lacks \"name\", \"type\" or \"bridge\"");
		goto out;
	}
	r = switch_state_build(name, type, address, uplink, &tmp, err, errlen);
	if (r)
		goto out;
	snprintf(expect, sizeof(expect), SWITCH_BRIDGE_PREFIX "%s", name);
	if (strcmp(bridge, expect)) {
		r = errf(err, errlen, -EINVAL, "switch '%s' names bridge '%.32s'; expected '%s'", name,
			 bridge, expect);
		goto out;
	}
	*st = tmp;
	r = 0;
out:
	json_object_put(o);
	return r;
}

const char *switch_state_dir(const char *dir)
{
	const char *env;

	if (dir && *dir)
		return dir;
	env = getenv("OPENHV_STATE_DIR");
	return env && *env ? env : SWITCH_DEFAULT_STATE_DIR;
}

/* Open DIR/switches (creating DIR and it when create is set). */
static int open_subdir(const char *dir, bool create, char *err, size_t errlen)
{
	int root, fd, r;

	if (create && mkdir(dir, 0750) && errno != EEXIST)
		return errf(err, errlen, -errno, "cannot create the state dir %s: %s", dir,
			    strerror(errno));
	root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return errf(err, errlen, -errno, "cannot open the state dir %s: %s", dir,
			    strerror(errno));
	if (create && mkdirat(root, STATE_SUBDIR, 0750) && errno != EEXIST) {
		r = -errno;
		close(root);
		return errf(err, errlen, r, "cannot create %s/" STATE_SUBDIR ": %s", dir,
			    strerror(-r));
	}
	fd = openat(root, STATE_SUBDIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	r = -errno;
	close(root);
	if (fd < 0)
		return errf(err, errlen, r, "cannot open %s/" STATE_SUBDIR ": %s", dir,
			    strerror(-r));
	return fd;
}

int switch_state_save(const char *dir, const struct switch_state *st, bool replace, char *err,
		      size_t errlen)
{
	char final[SWITCH_NAME_MAX + 8];
	char *json;
	int dfd, r;

	r = switch_name_check(st->name, err, errlen);
	if (r)
		return r;
	dfd = open_subdir(dir, true, err, errlen);
	if (dfd < 0)
		return dfd;
	json = switch_state_encode(st);
	if (!json) {
		close(dfd);
		return errf(err, errlen, -ENOMEM, "out of memory");
	}
	snprintf(final, sizeof(final), "%s.json", st->name);
	r = write_text_atomic_at(dfd, final, json, replace);
	free(json);
	close(dfd);
	if (r == -EEXIST)
		return errf(err, errlen, r, "switch '%s' already exists in %s", st->name, dir);
	if (r)
		return errf(err, errlen, r, "cannot write %s/" STATE_SUBDIR "/%s: %s", dir, final,
			    strerror(-r));
	return 0;
}

/* Read and decode one file of dfd. */
static int load_at(int dfd, const char *dir, const char *file, struct switch_state *st, char *err,
		   size_t errlen)
{
	struct stat sb;
	char *buf;
	ssize_t n;
	int fd, r;

	fd = openat(dfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errf(err, errlen, -errno, "cannot open %s/" STATE_SUBDIR "/%s: %s", dir, file,
			    strerror(errno));
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_size > SWITCH_STATE_MAX_FILE) {
		close(fd);
		return errf(err, errlen, -EINVAL,
			    "%s/" STATE_SUBDIR "/%s is not a regular file of at most %d bytes", dir,
			    file, SWITCH_STATE_MAX_FILE);
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		close(fd);
		return errf(err, errlen, -ENOMEM, "out of memory");
	}
	n = pread(fd, buf, (size_t)sb.st_size, 0);
	close(fd);
	if (n != sb.st_size) {
		free(buf);
		return errf(err, errlen, -EIO, "short read on %s/" STATE_SUBDIR "/%s", dir, file);
	}
	r = switch_state_decode(buf, (size_t)n, st, err, errlen);
	free(buf);
	return r;
}

int switch_state_load(const char *dir, const char *name, struct switch_state *st, char *err,
		      size_t errlen)
{
	char file[SWITCH_NAME_MAX + 8], msg[256];
	int dfd, r;

	r = switch_name_check(name, err, errlen);
	if (r)
		return r;
	dfd = open_subdir(dir, false, msg, sizeof(msg));
	if (dfd == -ENOENT)
		return errf(err, errlen, -ENOENT,
			    "there is no switch '%s' (state dir %s); create it with 'openhv switch "
			    "create %s --type private|internal|external'",
			    name, dir, name);
	if (dfd < 0)
		return errf(err, errlen, dfd, "%s", msg);
	snprintf(file, sizeof(file), "%s.json", name);
	if (faccessat(dfd, file, F_OK, AT_SYMLINK_NOFOLLOW) && errno == ENOENT) {
		close(dfd);
		return errf(err, errlen, -ENOENT,
			    "there is no switch '%s' (state dir %s); create it with 'openhv switch "
			    "create %s --type private|internal|external'",
			    name, dir, name);
	}
	r = load_at(dfd, dir, file, st, msg, sizeof(msg));
	close(dfd);
	if (r)
		return errf(err, errlen, r, "switch '%s': %s", name, msg);
	if (strcmp(st->name, name))
		return errf(err, errlen, -EINVAL,
			    "%s/" STATE_SUBDIR "/%s holds switch '%s'; the file name and \"name\" "
			    "must match",
			    dir, file, st->name);
	return 0;
}

int switch_state_remove(const char *dir, const char *name, char *err, size_t errlen)
{
	char file[SWITCH_NAME_MAX + 8];
	int dfd, r;

	r = switch_name_check(name, err, errlen);
	if (r)
		return r;
	dfd = open_subdir(dir, false, err, errlen);
	if (dfd < 0)
		return dfd;
	snprintf(file, sizeof(file), "%s.json", name);
	r = unlinkat(dfd, file, 0) ? -errno : 0;
	if (!r && fsync(dfd))
		r = -errno;
	close(dfd);
	if (r)
		return errf(err, errlen, r, "cannot remove %s/" STATE_SUBDIR "/%s: %s", dir, file,
			    strerror(-r));
	return 0;
}

static int cmp_state(const void *a, const void *b)
{
	return strcmp(((const struct switch_state *)a)->name, ((const struct switch_state *)b)->name);
}

int switch_state_list(const char *dir, struct switch_state **ret, size_t *n,
		      void (*bad)(const char *file, const char *msg, void *opaque), void *opaque,
		      char *err, size_t errlen)
{
	struct switch_state *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	char msg[256];
	DIR *d;
	int dfd, r;

	*ret = NULL;
	*n = 0;
	dfd = open_subdir(dir, false, msg, sizeof(msg));
	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return errf(err, errlen, dfd, "%s", msg);
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return errf(err, errlen, -errno, "cannot read %s/" STATE_SUBDIR ": %s", dir,
			    strerror(errno));
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct switch_state st;

		/* NAME.json only: temp files start with '.', other files are not ours. */
		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		r = load_at(dirfd(d), dir, de->d_name, &st, msg, sizeof(msg));
		if (!r && (len - 5 != strlen(st.name) || strncmp(de->d_name, st.name, len - 5))) {
			snprintf(msg, sizeof(msg), "holds switch '%s'; file name and \"name\" differ",
				 st.name);
			r = -EINVAL;
		}
		if (r) {
			if (bad)
				bad(de->d_name, msg, opaque);
			continue;
		}
		if (cnt == cap) {
			struct switch_state *nv;

			cap = cap ? cap * 2 : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return errf(err, errlen, -ENOMEM, "out of memory");
			}
			v = nv;
		}
		v[cnt++] = st;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_state);
	*ret = v;
	*n = cnt;
	return 0;
}
