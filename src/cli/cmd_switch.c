// SPDX-License-Identifier: MIT
/*
 * `openhv switch`: create, list and delete the virtual switches that
 * `openhv run --nic switch=NAME` attaches VMs to (src/switch/switch.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/commands.h"
#include "switch/switch.h"

static void switch_usage(FILE *f)
{
	fprintf(f,
		"usage: openhv switch [--state-dir DIR] create NAME --type private|internal|external\n"
		"                            [--address CIDR] [--uplink IFACE] [--state-dir DIR]\n"
		"       openhv switch list [--state-dir DIR]\n"
		"       openhv switch delete NAME [--state-dir DIR]\n"
		"\n"
		"Virtual switches for VMs (openhv run --nic switch=NAME), built on Linux bridges:\n"
		"  private   VMs only; the host has no interface on it\n"
		"  internal  VMs and the host; the host's interface " SWITCH_BRIDGE_PREFIX
		"NAME gets --address\n"
		"  external  VMs bridged to the host interface --uplink\n"
		"\n"
		"  --type T          switch type (create)\n"
		"  --address CIDR    host address on an internal switch, e.g. 169.254.10.1/24\n"
		"  --uplink IFACE    host interface of an external switch\n"
		"  --state-dir DIR   where switches are kept (DIR/switches/NAME.json); default\n"
		"                    $OPENHV_STATE_DIR or " SWITCH_DEFAULT_STATE_DIR "\n"
		"\n"
		"NAME: a letter, then letters, digits, '-' or '_', at most %d characters.\n"
		"Creating and deleting needs root (CAP_NET_ADMIN). Exit status: 0 done, 1 failed,\n"
		"2 bad command line.\n",
		SWITCH_NAME_MAX);
}

/* --state-dir given before the subcommand ("openhv switch --state-dir DIR list"). */
static const char *sw_state_dir;

struct sw_args {
	const char *name, *type, *address, *uplink, *state_dir;
};

/*
 * Options of every subcommand (which ones apply is checked by the caller);
 * GNU getopt permutes, so options may come before or after NAME.
 */
static int parse(int argc, char **argv, struct sw_args *a, bool want_name)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "address", required_argument, NULL, 'a' },
		{ "uplink", required_argument, NULL, 'u' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->state_dir = sw_state_dir;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			a->type = optarg;
			break;
		case 'a':
			a->address = optarg;
			break;
		case 'u':
			a->uplink = optarg;
			break;
		case 's':
			a->state_dir = optarg;
			break;
		case 'h':
			switch_usage(stdout);
			return 1;
		default:
			log_err("unknown or incomplete option '%s'; see 'openhv switch --help'",
				argv[optind - 1]);
			return -1;
		}
	}
	if (want_name) {
		if (optind >= argc) {
			log_err("'openhv switch %s' needs a switch NAME", argv[0]);
			return -1;
		}
		a->name = argv[optind++];
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'; see 'openhv switch --help'", argv[optind]);
		return -1;
	}
	return 0;
}

static int sw_create(int argc, char **argv)
{
	struct switch_state st;
	struct sw_args a;
	char err[512];
	int r;

	r = parse(argc, argv, &a, true);
	if (r)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	if (switch_state_build(a.name, a.type, a.address, a.uplink, &st, err, sizeof(err))) {
		log_err("%s", err);
		return EXIT_USAGE;
	}
	if (switch_create(switch_state_dir(a.state_dir), &st, err, sizeof(err))) {
		log_err("%s", err);
		return EXIT_FAIL;
	}
	printf("switch %s (%s) created: bridge %s\n", st.name, switch_type_name(st.type), st.bridge);
	return EXIT_OK;
}

static int sw_delete(int argc, char **argv)
{
	struct sw_args a;
	char err[512];
	int r;

	r = parse(argc, argv, &a, true);
	if (r)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	if (a.type || a.address || a.uplink) {
		log_err("'openhv switch delete' takes only NAME and --state-dir");
		return EXIT_USAGE;
	}
	if (switch_name_check(a.name, err, sizeof(err))) {
		log_err("%s", err);
		return EXIT_USAGE;
	}
	if (switch_delete(switch_state_dir(a.state_dir), a.name, err, sizeof(err))) {
		log_err("%s", err);
		return EXIT_FAIL;
	}
	printf("switch %s deleted\n", a.name);
	return EXIT_OK;
}

static void bad_file(const char *file, const char *msg, void *opaque)
{
	*(int *)opaque = 1;
	log_warn("skipping switch state file %s: %s", file, msg);
}

static int sw_list(int argc, char **argv)
{
	struct switch_state *v;
	struct sw_args a;
	char err[512], addr[64];
	const char *dir;
	int r, bad = 0;
	size_t n;

	r = parse(argc, argv, &a, false);
	if (r)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	if (a.type || a.address || a.uplink) {
		log_err("'openhv switch list' takes only --state-dir");
		return EXIT_USAGE;
	}
	dir = switch_state_dir(a.state_dir);
	if (switch_state_list(dir, &v, &n, bad_file, &bad, err, sizeof(err))) {
		log_err("%s", err);
		return EXIT_FAIL;
	}
	printf("%-12s %-9s %-16s %-7s %-5s %s\n", "NAME", "TYPE", "BRIDGE", "STATE", "PORTS",
	       "ADDRESS/UPLINK");
	for (size_t i = 0; i < n; i++) {
		struct switch_live live;
		const char *state = "?";
		char ports[16] = "-";

		if (switch_live_info(&v[i], &live, err, sizeof(err)) == 0) {
			state = !live.present ? "absent" : live.up ? "up" : "down";
			if (live.present)
				snprintf(ports, sizeof(ports), "%u", live.ports);
		}
		printf("%-12s %-9s %-16s %-7s %-5s %s\n", v[i].name, switch_type_name(v[i].type),
		       v[i].bridge, state, ports,
		       v[i].uplink[0] ? v[i].uplink
				      : switch_addr_format(&v[i].address, addr, sizeof(addr)));
	}
	free(v);
	return bad ? EXIT_FAIL : EXIT_OK;
}

int cmd_switch(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} subs[] = {
		{ "create", sw_create },
		{ "list", sw_list },
		{ "delete", sw_delete },
	};

	sw_state_dir = NULL;
	while (argc >= 2 && !strncmp(argv[1], "--state-dir", 11)) {
		if (argv[1][11] == '=') {
			sw_state_dir = argv[1] + 12;
		} else if (!argv[1][11] && argc >= 3) {
			sw_state_dir = argv[2];
			argc--;
			argv++;
		} else {
			log_err("--state-dir needs a directory; see 'openhv switch --help'");
			return EXIT_USAGE;
		}
		argc--;
		argv++;
	}
	if (argc < 2) {
		switch_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		switch_usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
	log_err("unknown switch command '%s'; use create, list or delete", argv[1]);
	return EXIT_USAGE;
}
