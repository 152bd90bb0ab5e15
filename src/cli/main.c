// SPDX-License-Identifier: MIT
/* `openhv`: command-line front end. Dispatches to subcommands by table. */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cli/commands.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "run", cmd_run, "run a transient VM in the foreground" },
	{ "vm", cmd_vm, "manage VMs through the openhvd service (create, start, stop, ...)" },
	{ "switch", cmd_switch, "create, list and delete virtual switches for VM networking" },
	{ "disk", cmd_disk, "create, inspect, check, convert, resize, merge and compact disk images" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: openhv COMMAND [ARGS...]\n\ncommands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(f, "  %-8s %s\n", c->name, c->summary);
	fprintf(f, "\n'openhv COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
	log_set_program("openhv");
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("openhv %s\n", OPENHV_VERSION);
		return EXIT_OK;
	}
	for (const struct command *c = commands; c->name; c++)
		if (!strcmp(argv[1], c->name))
			return c->fn(argc - 1, argv + 1);
	log_err("unknown command '%s'; run 'openhv --help' for the list", argv[1]);
	return EXIT_USAGE;
}
