// SPDX-License-Identifier: MIT
/*
 * cli/main.c - the `openhv` command. `openhv run ...` starts a VM in the foreground (the worker, no service).
 */
#define _GNU_SOURCE
#define LOG_TAG "cli"
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "worker/vm.h"

static void cli_usage(FILE *f)
{
	fprintf(f,
		"Usage: openhv run --kernel PATH [options]\n"
		"\n"
		"Boot a Linux kernel (or an OpenHV micro-guest) in a new VM in the foreground. The serial console\n"
		"(COM1, ttyS0) is on stdin/stdout; in a terminal, Ctrl-A x quits and Ctrl-A Ctrl-A sends Ctrl-A.\n"
		"\n"
		"Options:\n"
		"  -k, --kernel PATH     kernel: uncompressed ELF vmlinux (PVH or 64-bit entry) or bzImage (required)\n"
		"  -i, --initrd PATH     initial ramdisk (uncompressed cpio boots fastest)\n"
		"  -c, --cmdline STR     kernel command line (default: \"" VM_DEFAULT_CMDLINE "\")\n"
		"  -m, --memory SIZE     guest RAM, e.g. 256M, 1G (default 256M)\n"
		"  -p, --cpus N          virtual processors, 1-%d (default 1)\n"
		"      --entry KIND      boot entry: auto (PVH if the kernel has the note), pvh, linux64\n"
		"      --quirks MODE     platform workarounds: auto (default: on for a software KVM), on, off\n"
		"      --no-quirks       same as --quirks off\n"
		"      --hv PROFILE      Hyper-V enlightenments offered to the guest: recommended (default: hypercalls,\n"
		"                        SynIC, reference TSC page, crash MSRs), minimal (plain TSC clock), full\n"
		"                        (+ synthetic timers), or off (no Hyper-V interface at all)\n"
		"      --disk PATH[,ro]  a disk on the synthetic SCSI controller (a VMBus device; hv_storvsc in Linux):\n"
		"                        a raw image file or a block device. Repeat for more disks: the first is LUN 0\n"
		"                        (/dev/sda in a Linux guest), the next LUN 1 (/dev/sdb), and so on, at most %u.\n"
		"                        Options after the path, comma-separated: ro (the guest sees a write-protected\n"
		"                        disk), direct (O_DIRECT: no host page cache), sector=512|4096 (logical block\n"
		"                        size, default 512). Needs the Hyper-V interface (not --hv off)\n"
		"      --kvp KEY=VALUE   a host item for the guest's KVP data exchange (Hyper-V's external pool 0;\n"
		"                        /var/lib/hyperv/.kvp_pool_0 in a Linux guest running hv_kvp_daemon); repeat\n"
		"                        for more, at most %u. The guest's own items (host name, OS, addresses) are\n"
		"                        logged when the VM stops\n"
		"      --rtc-offset SEC  start the CMOS clock SEC seconds (may be negative) away from the host's time;\n"
		"                        with the Hyper-V interface the time sync IC sets the guest's clock right\n"
		"      --console KIND    stdio (default), pty (prints its path), none, or file:PATH (output only)\n"
		"      --timeout SEC     stop the VM after SEC seconds (exit status 5)\n"
		"      --shutdown-timeout SEC\n"
		"                        on SIGTERM or SIGINT, give the guest SEC seconds to power off after the\n"
		"                        Hyper-V Shutdown IC asked it to, then turn the VM off (default %u; 0: turn\n"
		"                        it off at once). 60 s leaves room for an orderly guest shutdown, also with\n"
		"                        the interpreted guest kernel of a software KVM, and is below systemd's 90 s\n"
		"                        stop timeout (after which it would kill openhv)\n"
		"      --testdev         attach the micro-guest test device (ports 0xf40-0xf4f): a result of 0\n"
		"                        powers off, any other ends the run with status 4\n"
		"      --profile FILE    sample each VP's guest RIP every 1 ms; write \"VP RIP\" lines to FILE at the\n"
		"                        end (tools/profile-report.py symbolizes them with a System.map)\n"
		"  -v, --verbose         more logging (OPENHV_LOG=debug does the same)\n"
		"  -h, --help            this text\n"
		"\n"
		"When the platform quirks are active, OpenHV appends the kernel switches this platform needs to the\n"
		"command line (see vid/quirks.c).\n"
		"\n"
		"With the Hyper-V interface (any --hv but off) the guest also gets a VMBus, found through ACPI, with\n"
		"the integration components: shutdown, heartbeat and time sync (hv_vmbus, hv_utils in Linux), and\n"
		"with --disk a synthetic SCSI controller (instance " VM_SCSI_INSTANCE_STR ") with up to\n"
		"--cpus - 1 sub-channels, whose disk I/O goes through io_uring.\n"
		"SIGTERM or SIGINT asks the guest to power off through the Shutdown IC and waits --shutdown-timeout\n"
		"seconds; a second signal, or a guest without the Shutdown IC (not connected, hv_utils not loaded),\n"
		"stops the VM at once. SIGHUP always stops it at once.\n"
		"\n"
		"Exit status: 0 the guest powered off or reset (also after SIGTERM/SIGINT, if it did so in time);\n"
		"1 OpenHV error (bad kernel, no /dev/kvm, internal error); 2 usage; 3 the guest triple-faulted;\n"
		"4 the guest panicked; 5 stopped by the host: a signal the guest did not answer by powering off in\n"
		"time, or --timeout.\n",
		VID_MAX_VPS, VM_MAX_DISKS, VM_MAX_KVP, VM_DEFAULT_SHUTDOWN_TIMEOUT_S);
}

/*
 * The disks must be usable before anything starts: --hv not off (they are VMBus devices), each an existing regular
 * file of at least one sector or a block device, readable, and writable unless read-only.
 */
static int cli_check_disks(const struct vm_config *cfg)
{
	if (cfg->kvp_count && cfg->hv_off) {
		fprintf(stderr, "openhv: --kvp needs the Hyper-V interface: KVP is an integration component on the VMBus "
			"(not with --hv off)\n");
		return -1;
	}
	if (cfg->disk_count && cfg->hv_off) {
		fprintf(stderr, "openhv: --disk needs the Hyper-V interface: the disks are on the synthetic SCSI "
			"controller, a VMBus device (not with --hv off)\n");
		return -1;
	}
	for (unsigned i = 0; i < cfg->disk_count; i++) {
		const struct vm_disk *d = &cfg->disks[i];
		uint32_t sector = d->block_size ? d->block_size : 512;
		struct stat sb;

		if (stat(d->path, &sb) < 0) {
			fprintf(stderr, "openhv: --disk %s: %s\n", d->path, strerror(errno));
			return -1;
		}
		if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode)) {
			fprintf(stderr, "openhv: --disk %s: not a regular file or a block device\n", d->path);
			return -1;
		}
		if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size < sector) {
			fprintf(stderr, "openhv: --disk %s: %lld bytes, smaller than one %u-byte sector\n", d->path,
				(long long)sb.st_size, sector);
			return -1;
		}
		if (access(d->path, d->read_only ? R_OK : R_OK | W_OK) < 0) {
			fprintf(stderr, "openhv: --disk %s: %s%s\n", d->path, strerror(errno),
				d->read_only ? "" : " (add ,ro for a read-only disk)");
			return -1;
		}
		for (unsigned j = 0; j < i; j++) {
			struct stat other;

			if (stat(cfg->disks[j].path, &other) == 0 && other.st_dev == sb.st_dev &&
			    other.st_ino == sb.st_ino) {
				fprintf(stderr, "openhv: --disk %s: given twice (LUN %u and %u)\n", d->path, j, i);
				return -1;
			}
		}
	}
	return 0;
}

static int cli_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' }, { "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' }, { "memory", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'p' },   { "entry", required_argument, NULL, 'E' },
		{ "quirks", required_argument, NULL, 'Q' }, { "no-quirks", no_argument, NULL, 'q' },
		{ "console", required_argument, NULL, 'C' }, { "timeout", required_argument, NULL, 'T' },
		{ "testdev", no_argument, NULL, 't' },      { "profile", required_argument, NULL, 'P' },
		{ "hv", required_argument, NULL, 'H' },     { "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },         { "shutdown-timeout", required_argument, NULL, 'S' },
		{ "disk", required_argument, NULL, 'D' },     { "kvp", required_argument, NULL, 'K' },
		{ "rtc-offset", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct vm_config cfg;
	int c;

	vm_config_init(&cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:i:c:m:p:vh", opts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (c) {
		case 'k': cfg.kernel = optarg; break;
		case 'i': cfg.initrd = optarg; break;
		case 'c': cfg.cmdline = optarg; break;
		case 'm':
			if (vm_parse_size(optarg, &cfg.memory_bytes) < 0 || cfg.memory_bytes < (16ull << 20)) {
				fprintf(stderr, "openhv: --memory: '%s' is not a size of at least 16M\n", optarg);
				return VM_EXIT_USAGE;
			}
			break;
		case 'p':
			v = strtoul(optarg, &end, 10);
			if (*end || v < 1 || v > VID_MAX_VPS) {
				fprintf(stderr, "openhv: --cpus: expected 1-%d\n", VID_MAX_VPS);
				return VM_EXIT_USAGE;
			}
			cfg.cpus = (unsigned)v;
			break;
		case 'E':
			if (!strcmp(optarg, "auto"))
				cfg.entry = BOOT_ENTRY_AUTO;
			else if (!strcmp(optarg, "pvh"))
				cfg.entry = BOOT_ENTRY_PVH;
			else if (!strcmp(optarg, "linux64"))
				cfg.entry = BOOT_ENTRY_LINUX64;
			else {
				fprintf(stderr, "openhv: --entry: expected auto, pvh or linux64\n");
				return VM_EXIT_USAGE;
			}
			break;
		case 'Q':
			if (!strcmp(optarg, "auto"))
				cfg.quirks = VID_QUIRKS_AUTO;
			else if (!strcmp(optarg, "on"))
				cfg.quirks = VID_QUIRKS_ON;
			else if (!strcmp(optarg, "off"))
				cfg.quirks = VID_QUIRKS_OFF;
			else {
				fprintf(stderr, "openhv: --quirks: expected auto, on or off\n");
				return VM_EXIT_USAGE;
			}
			break;
		case 'q': cfg.quirks = VID_QUIRKS_OFF; break;
		case 'H':
			if (!strcmp(optarg, "off"))
				cfg.hv_off = true;
			else if (hvi_profile_parse(optarg, &cfg.hv_profile) == 0)
				cfg.hv_off = false;
			else {
				fprintf(stderr, "openhv: --hv: expected recommended, minimal, full or off\n");
				return VM_EXIT_USAGE;
			}
			break;
		case 'C':
			if (!strcmp(optarg, "stdio"))
				cfg.console = VM_CONSOLE_STDIO;
			else if (!strcmp(optarg, "none"))
				cfg.console = VM_CONSOLE_NONE;
			else if (!strcmp(optarg, "pty"))
				cfg.console = VM_CONSOLE_PTY;
			else if (!strncmp(optarg, "file:", 5) && optarg[5]) {
				cfg.console = VM_CONSOLE_FILE;
				cfg.console_path = optarg + 5;
			} else {
				fprintf(stderr, "openhv: --console: expected stdio, pty, none or file:PATH\n");
				return VM_EXIT_USAGE;
			}
			break;
		case 'T':
			v = strtoul(optarg, &end, 10);
			if (*end || v == 0 || v > 86400 * 7) {
				fprintf(stderr, "openhv: --timeout: expected seconds\n");
				return VM_EXIT_USAGE;
			}
			cfg.timeout_s = (unsigned)v;
			break;
		case 'S':
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v > 86400) {
				fprintf(stderr, "openhv: --shutdown-timeout: expected seconds (0-86400)\n");
				return VM_EXIT_USAGE;
			}
			cfg.shutdown_timeout_s = (unsigned)v;
			break;
		case 'D': {
			char shown[256];
			const char *why;

			if (cfg.disk_count >= VM_MAX_DISKS) {
				fprintf(stderr, "openhv: --disk: at most %u disks\n", VM_MAX_DISKS);
				return VM_EXIT_USAGE;
			}
			snprintf(shown, sizeof(shown), "%s", optarg); /* vm_parse_disk cuts the string up */
			if (vm_parse_disk(optarg, &cfg.disks[cfg.disk_count], &why) < 0) {
				fprintf(stderr, "openhv: --disk '%s': %s\n", shown, why);
				return VM_EXIT_USAGE;
			}
			cfg.disk_count++;
			break;
		}
		case 'K':
			if (cfg.kvp_count >= VM_MAX_KVP || !strchr(optarg, '=') || optarg[0] == '=') {
				fprintf(stderr, "openhv: --kvp: expected KEY=VALUE (at most %u)\n", VM_MAX_KVP);
				return VM_EXIT_USAGE;
			}
			cfg.kvp[cfg.kvp_count++] = optarg;
			break;
		case 'R': {
			long long off = strtoll(optarg, &end, 10);

			if (!*optarg || *end || off < -3153600000LL || off > 3153600000LL) {
				fprintf(stderr, "openhv: --rtc-offset: expected seconds (within 100 years)\n");
				return VM_EXIT_USAGE;
			}
			cfg.rtc_offset_s = off;
			break;
		}
		case 't': cfg.testdev = true; break;
		case 'P': cfg.profile_path = optarg; break;
		case 'v': log_set_level(LOG_DEBUG); break;
		case 'h': cli_usage(stdout); return 0;
		default: cli_usage(stderr); return VM_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "openhv: unexpected argument '%s'\n", argv[optind]);
		return VM_EXIT_USAGE;
	}
	if (!cfg.kernel) {
		fprintf(stderr, "openhv: run needs --kernel PATH (see openhv run --help)\n");
		return VM_EXIT_USAGE;
	}
	if (cli_check_disks(&cfg) < 0)
		return VM_EXIT_USAGE;
	return (int)vm_run(&cfg);
}

int main(int argc, char **argv)
{
	/* A closed console pipe must not kill the VMM: writes fail with EPIPE and the UART drops the bytes. */
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return cli_run(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
		printf("Usage: openhv COMMAND [options]\n\nCommands:\n  run    boot a VM in the foreground "
		       "(openhv run --help)\n");
		return 0;
	}
	fprintf(stderr, "Usage: openhv run --kernel PATH [options]   (openhv --help)\n");
	return VM_EXIT_USAGE;
}
