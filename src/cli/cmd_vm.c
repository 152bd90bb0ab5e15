// SPDX-License-Identifier: MIT
/* openhv vm: placeholder until the management service lands. */
#include "base/log.h"
#include "cli/commands.h"

int cmd_vm(int argc, char **argv)
{
	log_err("'openhv vm' is not available in this build yet");
	return EXIT_FAIL;
}
