// SPDX-License-Identifier: MIT
/*
 * openhv disk: local image tools over the disk library (include/openhv/disk.h):
 * create, info, check, convert, resize, merge, compact. No daemon involved.
 * Every failure prints one line naming the problem and what to do, and exits
 * non-zero; create and convert remove a partly written output.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "cli/commands.h"
#include "openhv/disk.h"

static void disk_usage(FILE *f)
{
	fprintf(f,
		"usage: openhv disk COMMAND ...\n"
		"\n"
		"  create PATH --size SIZE [--format vhdx|vhd|raw] [--type dynamic|fixed]\n"
		"              [--block-size SIZE] [--sector-size 512|4096]\n"
		"  create --parent PARENT CHILD       differencing image on top of PARENT\n"
		"  info PATH [--json]                 format, sizes, parent chain, log state\n"
		"  check PATH [--repair]              verify structures; --repair fixes what it can\n"
		"  convert SRC DST [--format F] [--type T] [--block-size SIZE]\n"
		"                                     copy the flattened content (sparse-aware)\n"
		"  resize PATH SIZE                   grow or shrink the virtual disk\n"
		"  merge CHILD                        fold CHILD into its parent, then delete it\n"
		"  compact PATH                       release zero blocks and squeeze out holes\n"
		"\n"
		"The format of an existing image is detected from its content. For create and\n"
		"convert it defaults to the file extension (.vhdx, .vhd, .img/.raw), else vhdx.\n"
		"Exit status: 0 ok, 1 the operation failed or check found errors, 2 bad usage.\n");
}

static int fail_errno(int r, const struct disk_diag *diag, const char *what)
{
	if (diag && diag->msg[0])
		log_err("%s", diag->msg);
	else
		log_err("%s: %s", what, strerror(-r));
	return EXIT_FAIL;
}

static enum disk_format format_from_name(const char *s)
{
	if (!strcmp(s, "vhdx"))
		return DISK_FMT_VHDX;
	if (!strcmp(s, "vhd") || !strcmp(s, "vpc"))
		return DISK_FMT_VHD;
	if (!strcmp(s, "raw") || !strcmp(s, "img"))
		return DISK_FMT_RAW;
	return DISK_FMT_AUTO;
}

static enum disk_format format_from_ext(const char *path)
{
	const char *dot = strrchr(path, '.');
	enum disk_format f = dot ? format_from_name(dot + 1) : DISK_FMT_AUTO;
	return f == DISK_FMT_AUTO ? DISK_FMT_VHDX : f;
}

struct create_args {
	struct disk_create_opts o;
	bool have_format;
	const char *positional[2];
	int n_pos;
	bool json, repair;
};

enum { OPT_SIZE = 256, OPT_FORMAT, OPT_TYPE, OPT_BLOCK, OPT_SECTOR, OPT_PARENT, OPT_JSON,
       OPT_REPAIR };

/* Shared option parser; returns 0 or an exit code. */
static int parse_args(int argc, char **argv, struct create_args *a, const char *cmd)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "block-size", required_argument, NULL, OPT_BLOCK },
		{ "sector-size", required_argument, NULL, OPT_SECTOR },
		{ "parent", required_argument, NULL, OPT_PARENT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "repair", no_argument, NULL, OPT_REPAIR },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	uint64_t v;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SIZE:
			if (parse_size(optarg, &a->o.size) < 0 || !a->o.size) {
				log_err("bad --size '%s'; use a size such as 10G or 512M", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_FORMAT:
			a->o.format = format_from_name(optarg);
			if (a->o.format == DISK_FMT_AUTO) {
				log_err("unknown --format '%s'; use vhdx, vhd or raw", optarg);
				return EXIT_USAGE;
			}
			a->have_format = true;
			break;
		case OPT_TYPE:
			if (!strcmp(optarg, "dynamic")) {
				a->o.type = DISK_TYPE_DYNAMIC;
			} else if (!strcmp(optarg, "fixed")) {
				a->o.type = DISK_TYPE_FIXED;
			} else {
				log_err("unknown --type '%s'; use dynamic or fixed", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_BLOCK:
			if (parse_size(optarg, &v) < 0 || v > UINT32_MAX || !v) {
				log_err("bad --block-size '%s'; use a power of two such as 2M or 32M",
					optarg);
				return EXIT_USAGE;
			}
			a->o.block_size = (uint32_t)v;
			break;
		case OPT_SECTOR:
			if (parse_u64(optarg, &v) < 0 || (v != 512 && v != 4096)) {
				log_err("bad --sector-size '%s'; use 512 or 4096", optarg);
				return EXIT_USAGE;
			}
			a->o.logical_sector = (uint32_t)v;
			break;
		case OPT_PARENT:
			a->o.parent = optarg;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_REPAIR:
			a->repair = true;
			break;
		case 'h':
			disk_usage(stdout);
			return -1;
		default:
			log_err("unknown option '%s' for 'disk %s'; see 'openhv disk --help'",
				argv[optind - 1], cmd);
			return EXIT_USAGE;
		}
	}
	for (; optind < argc; optind++) {
		if (a->n_pos == 2) {
			log_err("too many arguments for 'disk %s'; see 'openhv disk --help'", cmd);
			return EXIT_USAGE;
		}
		a->positional[a->n_pos++] = argv[optind];
	}
	return 0;
}

static int do_create(struct create_args *a)
{
	struct disk_diag diag = { 0 };
	const char *path;
	int r;

	if (a->n_pos != 1) {
		log_err("'disk create' needs exactly one PATH; see 'openhv disk --help'");
		return EXIT_USAGE;
	}
	path = a->positional[0];
	if (!a->have_format)
		a->o.format = format_from_ext(path);
	if (!a->o.parent && !a->o.size) {
		log_err("'disk create' needs --size (e.g. --size 10G) or --parent");
		return EXIT_USAGE;
	}
	if (a->o.format == DISK_FMT_RAW && (a->o.block_size || a->o.logical_sector)) {
		log_err("raw images have no blocks or sector-size setting; drop those options");
		return EXIT_USAGE;
	}
	if (!a->o.type)
		a->o.type = a->o.parent ? DISK_TYPE_DIFF : DISK_TYPE_DYNAMIC;
	r = disk_create(path, &a->o, &diag);
	if (r < 0)
		return fail_errno(r, &diag, path);
	return EXIT_OK;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void id_text(const uint8_t id[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 id[3], id[2], id[1], id[0], id[5], id[4], id[7], id[6], id[8], id[9], id[10],
		 id[11], id[12], id[13], id[14], id[15]);
}

static int do_info(struct create_args *a)
{
	struct disk_diag diag = { 0 };
	struct disk *d;
	struct disk_info in;
	char buf[32], id[37];
	int r, depth = 0;
	bool broken = false;

	if (a->n_pos != 1) {
		log_err("'disk info' needs exactly one PATH");
		return EXIT_USAGE;
	}
	/* Inspect first (works on a dirty image), then try to open the chain. */
	r = disk_open(a->positional[0], DISK_OPEN_RDONLY, &diag, &d);
	if (r == -EROFS || r == -EBUSY || r == -ENOENT || r == -ESTALE || r == -ELOOP) {
		struct disk_diag d2 = { 0 };
		/* In use by a running VM: its headers can still be shown. */
		if (r != -EROFS && r != -EBUSY) {
			/* Show the image itself, then fail: its chain is unusable. */
			log_err("%s", diag.msg);
			broken = true;
		}
		r = disk_open(a->positional[0], DISK_OPEN_INSPECT, &d2, &d);
		if (r < 0)
			return fail_errno(r, &d2, a->positional[0]);
	} else if (r < 0) {
		return fail_errno(r, &diag, a->positional[0]);
	}
	if (a->json)
		printf("{\"chain\": [");
	for (struct disk *c = d; c; c = disk_parent(c), depth++) {
		disk_get_info(c, &in);
		id_text(in.disk_id, id);
		if (a->json) {
			printf("%s{\"path\": ", depth ? ", " : "");
			json_str(disk_path(c));
			printf(", \"format\": \"%s\", \"type\": \"%s\", \"virtual_size\": %" PRIu64
			       ", \"file_size\": %" PRIu64 ", \"allocated\": %" PRIu64
			       ", \"block_size\": %u, \"logical_sector\": %u, \"physical_sector\": %u"
			       ", \"id\": \"%s\", \"log\": \"%s\"",
			       disk_format_name(in.format), disk_type_name(in.type), in.virtual_size,
			       in.file_size, in.allocated, in.block_size, in.logical_sector,
			       in.physical_sector, id,
			       in.log_pending ? "needs-replay" : in.log_replayed ? "replayed" : "clean");
			if (in.parent_hint[0]) {
				printf(", \"parent\": ");
				json_str(in.parent_hint);
			}
			printf("}");
			continue;
		}
		if (depth)
			printf("\nparent %d:\n", depth);
		printf("path:            %s\n", disk_path(c));
		printf("format:          %s\n", disk_format_name(in.format));
		printf("type:            %s\n", disk_type_name(in.type));
		printf("virtual size:    %s (%" PRIu64 " bytes)\n",
		       fmt_size(in.virtual_size, buf, sizeof(buf)), in.virtual_size);
		printf("file size:       %s", fmt_size(in.file_size, buf, sizeof(buf)));
		printf(" (%s allocated on the host)\n", fmt_size(in.allocated, buf, sizeof(buf)));
		if (in.block_size)
			printf("block size:      %s\n", fmt_size(in.block_size, buf, sizeof(buf)));
		printf("sector size:     %u logical, %u physical\n", in.logical_sector,
		       in.physical_sector);
		if (in.format != DISK_FMT_RAW)
			printf("disk id:         %s\n", id);
		if (in.format == DISK_FMT_VHDX)
			printf("log:             %s\n",
			       in.log_pending ? "needs replay (not closed cleanly; run 'check --repair')" :
			       in.log_replayed ? "replayed on open" : "clean");
		if (in.parent_hint[0])
			printf("parent locator:  %s\n", in.parent_hint);
	}
	if (a->json)
		printf("]}\n");
	r = disk_close(d);
	if (r < 0)
		return fail_errno(r, NULL, a->positional[0]);
	return broken ? EXIT_FAIL : EXIT_OK;
}

static void check_report(void *opaque, bool is_error, const char *msg)
{
	printf("%s: %s\n", is_error ? "error" : "note", msg);
}

static int do_check(struct create_args *a)
{
	struct disk_diag diag = { 0 };
	struct disk_check_result res;
	struct disk *d;
	int r, r2;

	if (a->n_pos != 1) {
		log_err("'disk check' needs exactly one PATH");
		return EXIT_USAGE;
	}
	r = disk_open(a->positional[0], (a->repair ? 0 : DISK_OPEN_RDONLY) | DISK_OPEN_NO_PARENT,
		      &diag, &d);
	if (r == -EROFS && !a->repair) {
		/* A pending log: report it without touching the file. */
		r = disk_open(a->positional[0], DISK_OPEN_INSPECT, &diag, &d);
	}
	if (r < 0)
		return fail_errno(r, &diag, a->positional[0]);
	r = disk_check(d, a->repair, check_report, NULL, &res);
	r2 = disk_close(d);
	if (r < 0 || r2 < 0)
		return fail_errno(r < 0 ? r : r2, NULL, a->positional[0]);
	if (res.errors > res.repaired || (!a->repair && res.errors)) {
		printf("%s: %u error(s), %u leak(s)%s\n", a->positional[0], res.errors, res.leaks,
		       a->repair ? "" : "; 'openhv disk check --repair' may fix them");
		return EXIT_FAIL;
	}
	printf("%s: no errors%s", a->positional[0], res.leaks ? "" : "\n");
	if (res.leaks)
		printf(", %u leak(s)%s\n", res.leaks, a->repair ? " repaired" : "");
	return EXIT_OK;
}

static void progress_bar(void *opaque, uint64_t done, uint64_t total)
{
	static int last = -1;
	int pct = total ? (int)(done * 100 / total) : 100;

	if (pct == last)
		return;
	last = pct;
	fprintf(stderr, "\r[%-40.*s] %3d%%", pct * 40 / 100,
		"########################################", pct);
	if (done >= total)
		fputc('\n', stderr);
}

static int do_convert(struct create_args *a)
{
	struct disk_diag diag = { 0 };
	struct disk *src;
	int r, r2;

	if (a->n_pos != 2) {
		log_err("'disk convert' needs SRC and DST");
		return EXIT_USAGE;
	}
	if (!a->have_format)
		a->o.format = format_from_ext(a->positional[1]);
	if (a->o.size) {
		log_err("convert keeps the source size; resize afterwards instead of --size");
		return EXIT_USAGE;
	}
	if (!a->o.type)
		a->o.type = DISK_TYPE_DYNAMIC;
	r = disk_open(a->positional[0], DISK_OPEN_RDONLY, &diag, &src);
	if (r < 0)
		return fail_errno(r, &diag, a->positional[0]);
	r = disk_convert(src, a->positional[1], &a->o, isatty(STDERR_FILENO) ? progress_bar : NULL,
			 NULL, &diag);
	r2 = disk_close(src);
	if (r < 0)
		return fail_errno(r, &diag, a->positional[1]);
	return r2 < 0 ? fail_errno(r2, NULL, a->positional[0]) : EXIT_OK;
}

static int do_resize(struct create_args *a)
{
	struct disk_diag diag = { 0 };
	struct disk *d;
	uint64_t size;
	int r, r2;

	if (a->n_pos != 2) {
		log_err("'disk resize' needs PATH and SIZE");
		return EXIT_USAGE;
	}
	if (parse_size(a->positional[1], &size) < 0 || !size) {
		log_err("bad size '%s'; use a size such as 20G", a->positional[1]);
		return EXIT_USAGE;
	}
	r = disk_open(a->positional[0], DISK_OPEN_NO_PARENT, &diag, &d);
	if (r < 0)
		return fail_errno(r, &diag, a->positional[0]);
	r = disk_resize(d, size, &diag);
	r2 = disk_close(d);
	if (r < 0)
		return fail_errno(r, &diag, a->positional[0]);
	return r2 < 0 ? fail_errno(r2, NULL, a->positional[0]) : EXIT_OK;
}

static int do_merge(struct create_args *a)
{
	struct disk_diag diag = { 0 };
	int r;

	if (a->n_pos != 1) {
		log_err("'disk merge' needs exactly one CHILD");
		return EXIT_USAGE;
	}
	r = disk_merge(a->positional[0], &diag);
	return r < 0 ? fail_errno(r, &diag, a->positional[0]) : EXIT_OK;
}

static int do_compact(struct create_args *a)
{
	struct disk_diag diag = { 0 };
	struct disk *d;
	uint64_t saved = 0;
	char buf[32];
	int r, r2;

	if (a->n_pos != 1) {
		log_err("'disk compact' needs exactly one PATH");
		return EXIT_USAGE;
	}
	r = disk_open(a->positional[0], DISK_OPEN_NO_PARENT, &diag, &d);
	if (r < 0)
		return fail_errno(r, &diag, a->positional[0]);
	r = disk_compact(d, &saved, &diag);
	r2 = disk_close(d);
	if (r < 0)
		return fail_errno(r, &diag, a->positional[0]);
	if (r2 < 0)
		return fail_errno(r2, NULL, a->positional[0]);
	printf("%s: released %s\n", a->positional[0], fmt_size(saved, buf, sizeof(buf)));
	return EXIT_OK;
}

static const struct {
	const char *name;
	int (*fn)(struct create_args *a);
} disk_cmds[] = {
	{ "create", do_create },   { "info", do_info },   { "check", do_check },
	{ "convert", do_convert }, { "resize", do_resize }, { "merge", do_merge },
	{ "compact", do_compact },
};

int cmd_disk(int argc, char **argv)
{
	struct create_args a;
	int r;

	if (argc < 2) {
		disk_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		disk_usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < ARRAY_SIZE(disk_cmds); i++) {
		if (strcmp(argv[1], disk_cmds[i].name))
			continue;
		r = parse_args(argc - 1, argv + 1, &a, disk_cmds[i].name);
		if (r < 0)
			return EXIT_OK;
		if (r)
			return r;
		return disk_cmds[i].fn(&a);
	}
	log_err("unknown disk command '%s'; see 'openhv disk --help'", argv[1]);
	return EXIT_USAGE;
}
