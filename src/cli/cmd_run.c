// SPDX-License-Identifier: MIT
#include "base/log.h"
#include "cli/commands.h"

int cmd_run(int argc, char **argv)
{
	log_err("'openhv run' is being written");
	return EXIT_FAIL;
}
