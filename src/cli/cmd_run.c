// SPDX-License-Identifier: MIT
/*
 * openhv run: a transient VM in the foreground. The serial console is on
 * stdin/stdout; the command exits when the guest powers off. SIGINT or
 * SIGTERM stops the VM.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "cli/commands.h"
#include "vmm/vm.h"

#define DEFAULT_CMDLINE "console=ttyS0"

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: openhv run --kernel PATH [--initrd PATH] [--cmdline STR] [--memory SIZE]\n"
		"                  [--cpus N] [--no-reboot]\n"
		"\n"
		"Run a transient VM in the foreground with its serial console on this terminal.\n"
		"\n"
		"  --kernel PATH     Linux bzImage to boot directly (no firmware)\n"
		"  --initrd PATH     initramfs to load\n"
		"  --cmdline STR     kernel command line (default \"" DEFAULT_CMDLINE "\")\n"
		"  --memory SIZE     guest RAM, e.g. 512M or 2G; a bare number means MiB (default 512M)\n"
		"  --cpus N          virtual processors, 1 to %u (default 1)\n"
		"  --no-reboot       exit when the guest reboots instead of restarting it\n"
		"  --rtc-offset SEC  start the emulated CMOS clock SEC seconds off host UTC\n"
		"  -v, --verbose     more log output\n"
		"\n"
		"Exit status: 0 when the guest powers off (or reboots with --no-reboot), 1 when it\n"
		"crashes or the host fails, 2 for a bad command line, 128+N when stopped by signal N.\n",
		VM_MAX_CPUS);
}

static struct vm *run_vm;
static volatile int run_signal;

static void *signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (!run_signal)
			run_signal = sig;
		vm_request_stop(run_vm);
	}
	return NULL;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'p' },
		{ "no-reboot", no_argument, NULL, 'n' },
		{ "rtc-offset", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static sigset_t sigs;
	struct vm_config cfg;
	struct vm *vm;
	pthread_t sig_thread;
	enum vm_exit how;
	char err[512];
	uint64_t v;
	int c;

	vm_config_init(&cfg);
	cfg.cmdline = DEFAULT_CMDLINE;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			cfg.kernel_path = optarg;
			break;
		case 'i':
			cfg.initrd_path = optarg;
			break;
		case 'c':
			cfg.cmdline = optarg;
			break;
		case 'm':
			if (parse_u64(optarg, &v) == 0) {
				if (v > UINT64_MAX / MiB) {
					log_err("--memory '%s' is too large", optarg);
					return EXIT_USAGE;
				}
				v *= MiB;
			} else if (parse_size(optarg, &v)) {
				log_err("--memory '%s' is not a size; use e.g. 512M or 2G", optarg);
				return EXIT_USAGE;
			}
			cfg.mem_bytes = v;
			break;
		case 'p':
			if (parse_u64(optarg, &v) || v > 1000000) {
				log_err("--cpus '%s' is not a processor count; use 1 to %u", optarg,
					VM_MAX_CPUS);
				return EXIT_USAGE;
			}
			cfg.cpus = (unsigned int)v;
			break;
		case 'n':
			cfg.no_reboot = true;
			break;
		case 'r': {
			char *end;
			long long off = strtoll(optarg, &end, 10);
			if (!*optarg || *end || off < -(1LL << 40) || off > (1LL << 40)) {
				log_err("--rtc-offset '%s' is not a number of seconds", optarg);
				return EXIT_USAGE;
			}
			cfg.rtc_offset_sec = off;
			break;
		}
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			run_usage(stdout);
			return EXIT_OK;
		default:
			log_err("unknown or incomplete option '%s'; see 'openhv run --help'",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'; see 'openhv run --help'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!cfg.kernel_path) {
		log_err("no kernel given; pass --kernel PATH (see 'openhv run --help')");
		return EXIT_USAGE;
	}
	if (vm_config_check(&cfg, err, sizeof(err))) {
		log_err("%s", err);
		return EXIT_USAGE;
	}

	/* Signals go to one thread; VP threads inherit the blocked mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (vm_create(&cfg, &vm, err, sizeof(err))) {
		log_err("%s", err);
		return EXIT_FAIL;
	}
	run_vm = vm;
	if (pthread_create(&sig_thread, NULL, signal_thread, &sigs) == 0)
		pthread_detach(sig_thread);
	if (vm_start(vm)) {
		log_err("cannot start the virtual processors");
		vm_destroy(vm);
		return EXIT_FAIL;
	}
	how = vm_wait(vm);
	switch (how) {
	case VM_EXIT_POWEROFF:
		c = EXIT_OK;
		break;
	case VM_EXIT_REBOOT:
		log_info("guest asked to reboot; exiting because of --no-reboot");
		c = EXIT_OK;
		break;
	case VM_EXIT_STOPPED:
		log_info("VM stopped by %s", run_signal ? strsignal(run_signal) : "request");
		c = run_signal ? 128 + run_signal : EXIT_FAIL;
		break;
	case VM_EXIT_CRASH:
		log_err("%s", vm_exit_detail(vm));
		c = EXIT_FAIL;
		break;
	default:
		log_err("%s", vm_exit_detail(vm)[0] ? vm_exit_detail(vm) : "VM failed");
		c = EXIT_FAIL;
		break;
	}
	vm_destroy(vm);
	return c;
}
