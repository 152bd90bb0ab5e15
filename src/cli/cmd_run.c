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
#include "cli/run_devices.h"
#include "vmm/vm.h"
#include "vsp/ic/ic.h"

#define DEFAULT_CMDLINE "console=ttyS0"

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: openhv run --kernel PATH [--initrd PATH] [--cmdline STR] [--memory SIZE]\n"
		"                  [--cpus N] [--no-reboot] [--disk PATH[,ro][,dvd]]...\n"
		"                  [--nic tap=IFNAME|switch=NAME[,mac=MAC][,vlan=N]]... [--state-dir DIR]\n"
		"\n"
		"Run a transient VM in the foreground with its serial console on this terminal.\n"
		"\n"
		"  --kernel PATH     Linux bzImage to boot directly (no firmware)\n"
		"  --initrd PATH     initramfs to load\n"
		"  --cmdline STR     kernel command line (default \"" DEFAULT_CMDLINE "\")\n"
		"  --memory SIZE     guest RAM, e.g. 512M or 2G; a bare number means MiB (default 512M)\n"
		"  --cpus N          virtual processors, 1 to %u (default 1)\n"
		"  --no-reboot       exit when the guest reboots instead of restarting it\n"
		"  --disk PATH[,ro][,dvd]  synthetic SCSI disk (raw, VHD, VHDX) or DVD (ISO); repeatable\n"
		"  --nic tap=IFNAME|switch=NAME[,mac=MAC][,vlan=N][,allow-mac-spoofing]\n"
		"                    synthetic NIC on a TAP or a port of an openhv switch; repeatable\n"
		"  --state-dir DIR   where switches are kept (default $OPENHV_STATE_DIR or\n"
		"                    /var/lib/openhv)\n"
		"  --rtc-offset SEC  start the emulated CMOS clock SEC seconds off host UTC\n"
		"  --no-hyperv       plain PC guest: no Hyper-V enlightenments, VMBus or\n"
		"                    integration services\n"
		"  --kvp KEY=VALUE   push a host key-value pair to the guest (KVP; repeatable)\n"
		"  --status-file PATH  keep a JSON status of the guest's integration services\n"
		"                    (heartbeat, VMBus, guest-reported KVP values) in PATH\n"
		"  -v, --verbose     more log output\n"
		"\n"
		"SIGINT or SIGTERM asks the guest to shut down cleanly (shutdown integration\n"
		"service); a second signal, or a guest without that service, stops it at once.\n"
		"\n"
		"Exit status: 0 when the guest powers off (or reboots with --no-reboot), 1 when it\n"
		"crashes or the host fails, 2 for a bad command line, 128+N when stopped by signal N.\n",
		VM_MAX_CPUS);
}

static struct vm *run_vm;
static volatile int run_signal;
static const char *run_status_file;
static volatile int run_done;

static void *signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig, graceful_sent = 0;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (!graceful_sent) {
			graceful_sent = 1;
			if (vm_request_shutdown(run_vm) == 0) {
				log_info("asked the guest to shut down (%s again to stop it at once)",
					 strsignal(sig));
				continue;
			}
		}
		if (!run_signal)
			run_signal = sig;
		vm_request_stop(run_vm);
	}
	return NULL;
}

/* JSON string with the escapes JSON requires; other bytes pass through. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void write_status(const struct vm_guest_info *gi, const struct ic_kvp_entry *kvp, int n_kvp)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", run_status_file);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "{\"boots\": %u, \"vmbus\": {\"connected\": %s, \"version\": \"%u.%u\"},\n",
		gi->boots, gi->vmbus_connected ? "true" : "false", gi->vmbus_version >> 16,
		gi->vmbus_version & 0xffff);
	fprintf(f, " \"heartbeat\": {\"ready\": %s, \"alive\": %s, \"seq\": %llu},\n",
		gi->heartbeat_ready ? "true" : "false", gi->heartbeat_alive ? "true" : "false",
		(unsigned long long)gi->heartbeat_seq);
	fprintf(f, " \"shutdown\": {\"ready\": %s}, \"timesync\": {\"ready\": %s, \"samples\": %llu},\n",
		gi->shutdown_ready ? "true" : "false", gi->timesync_ready ? "true" : "false",
		(unsigned long long)gi->timesync_samples);
	fprintf(f, " \"kvp\": {\"ready\": %s, \"guest\": [", gi->kvp_ready ? "true" : "false");
	for (int i = 0; i < n_kvp; i++) {
		fprintf(f, "%s\n  {\"pool\": %u, \"key\": ", i ? "," : "", kvp[i].pool);
		json_str(f, kvp[i].key);
		fprintf(f, ", \"value\": ");
		json_str(f, kvp[i].value);
		fprintf(f, "}");
	}
	fprintf(f, "]}}\n");
	if (fclose(f) == 0)
		rename(tmp, run_status_file);
}

/* Watches the integration services: tells the user what came up, keeps the status file. */
static void *status_thread(void *arg)
{
	static struct ic_kvp_entry kvp[64];
	struct vm_guest_info gi, last = { 0 };

	(void)arg;
	while (!run_done) {
		int n = 0;

		if (vm_guest_info(run_vm, &gi) != 0)
			return NULL;
		if (gi.vmbus_connected && !last.vmbus_connected)
			log_info("guest connected to VMBus (protocol %u.%u)", gi.vmbus_version >> 16,
				 gi.vmbus_version & 0xffff);
		if (gi.heartbeat_alive && !last.heartbeat_alive)
			log_info("guest heartbeat is alive");
		if (run_status_file) {
			n = vm_guest_kvp_list(run_vm, kvp, sizeof(kvp) / sizeof(kvp[0]));
			if (n < 0)
				n = 0;
			if (n > (int)(sizeof(kvp) / sizeof(kvp[0])))
				n = (int)(sizeof(kvp) / sizeof(kvp[0]));
			write_status(&gi, kvp, n);
		}
		last = gi;
		usleep(500000);
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
		{ "no-hyperv", no_argument, NULL, 'H' },
		{ "disk", required_argument, NULL, 'D' },
		{ "nic", required_argument, NULL, 'N' },
		{ "kvp", required_argument, NULL, 'K' },
		{ "status-file", required_argument, NULL, 'S' },
		{ "state-dir", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static sigset_t sigs;
	static const char *kvp[65];
	static struct vm_disk_config disks[VM_MAX_DISKS];
	static struct vm_nic_config nics[VM_MAX_NICS];
	unsigned int n_kvp = 0;
	const char *state_dir = NULL;
	struct vm_config cfg;
	struct vm *vm;
	pthread_t sig_thread, st;
	bool st_running = false;
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
		case 'H':
			cfg.hyperv = false;
			break;
		case 'K':
			if (!strchr(optarg, '=') || optarg[0] == '=' || n_kvp + 1 >= sizeof(kvp) / sizeof(kvp[0])) {
				log_err("--kvp '%s' is not KEY=VALUE (at most 64 pairs)", optarg);
				return EXIT_USAGE;
			}
			kvp[n_kvp++] = optarg;
			cfg.kvp = kvp;
			break;
		case 'T':
			state_dir = optarg;
			break;
		case 'S':
			run_status_file = optarg;
			break;
		case 'D':
			if (cfg.n_disks >= VM_MAX_DISKS) {
				log_err("at most %u --disk options", VM_MAX_DISKS);
				return EXIT_USAGE;
			}
			if (run_parse_disk(optarg, &disks[cfg.n_disks]))
				return EXIT_USAGE;
			cfg.disks = disks;
			cfg.n_disks++;
			break;
		case 'N':
			if (cfg.n_nics >= VM_MAX_NICS) {
				log_err("at most %u --nic options", VM_MAX_NICS);
				return EXIT_USAGE;
			}
			if (run_parse_nic(optarg, &nics[cfg.n_nics]))
				return EXIT_USAGE;
			cfg.nics = nics;
			cfg.n_nics++;
			break;
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

	if (run_nics_open(nics, cfg.n_nics, state_dir))
		return EXIT_FAIL;
	if (vm_create(&cfg, &vm, err, sizeof(err))) {
		log_err("%s", err);
		run_nics_close();
		return EXIT_FAIL;
	}
	run_vm = vm;
	if (pthread_create(&sig_thread, NULL, signal_thread, &sigs) == 0)
		pthread_detach(sig_thread);
	if (vm_start(vm)) {
		log_err("cannot start the virtual processors");
		vm_destroy(vm);
		run_nics_close();
		return EXIT_FAIL;
	}
	if (cfg.hyperv && pthread_create(&st, NULL, status_thread, NULL) == 0)
		st_running = true;
	how = vm_wait(vm);
	run_done = 1;
	if (st_running)
		pthread_join(st, NULL);
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
	run_nics_close();
	return c;
}
