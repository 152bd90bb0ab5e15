/* SPDX-License-Identifier: MIT */
/* Subcommands of the `openhv` executable. Each returns the process exit code. */
#ifndef OPENHV_CLI_COMMANDS_H
#define OPENHV_CLI_COMMANDS_H

int cmd_run(int argc, char **argv);   /* openhv run: a transient VM in the foreground */
int cmd_disk(int argc, char **argv);  /* openhv disk: image tools (VHDX, VHD, raw) */
int cmd_vm(int argc, char **argv);    /* openhv vm: VMs owned by the openhvd service */
int cmd_switch(int argc, char **argv); /* openhv switch: virtual switches */

/* Exit codes shared by all commands. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,    /* the operation failed (host error, guest crash, ...) */
	EXIT_USAGE = 2,   /* bad command line or configuration */
};

#endif
