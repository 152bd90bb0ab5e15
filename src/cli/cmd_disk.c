// SPDX-License-Identifier: MIT
/* openhv disk: placeholder until the disk library lands. */
#include "base/log.h"
#include "cli/commands.h"

int cmd_disk(int argc, char **argv)
{
	log_err("'openhv disk' is not available in this build yet");
	return EXIT_FAIL;
}
