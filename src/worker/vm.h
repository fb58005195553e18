/* SPDX-License-Identifier: MIT */
/*
 * worker/vm.h - one virtual machine: assembles the virtual motherboard (RAM, partition, emulated devices, ACPI,
 * boot) from a config and runs it until it stops. Hyper-V's VMWP role; `openhv run` calls it in the foreground.
 */
#ifndef OPENHV_WORKER_VM_H
#define OPENHV_WORKER_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "boot/linux.h"
#include "hv/hv.h"
#include "vid/vid.h"

/* Exit statuses of `openhv run` (also documented in its --help). */
enum vm_exit_status {
	VM_EXIT_OK = 0,             /* guest powered off or reset */
	VM_EXIT_ERROR = 1,          /* OpenHV internal error, bad configuration, unreadable kernel */
	VM_EXIT_USAGE = 2,          /* bad command line */
	VM_EXIT_TRIPLE_FAULT = 3,   /* the guest triple-faulted */
	VM_EXIT_GUEST_PANIC = 4,    /* the guest reported a panic */
	VM_EXIT_HOST_STOP = 5,      /* stopped by a signal or by the host */
};

enum vm_console_kind {
	VM_CONSOLE_STDIO = 0,  /* COM1 <-> stdin/stdout (raw mode on a terminal; Ctrl-A x quits) */
	VM_CONSOLE_NONE,       /* COM1 output discarded, no input */
	VM_CONSOLE_FILE,       /* COM1 output appended to a file, no input */
	VM_CONSOLE_PTY,        /* COM1 <-> a new pseudo-terminal; its path is printed on stderr (screen, minicom) */
};

struct vm_config {
	const char *kernel;      /* path: ELF vmlinux or bzImage (required) */
	const char *initrd;      /* path or NULL */
	const char *cmdline;     /* guest kernel command line or NULL (then VM_DEFAULT_CMDLINE) */
	uint64_t memory_bytes;   /* guest RAM, bytes */
	unsigned cpus;           /* VPs, 1..VID_MAX_VPS */
	enum vid_quirks_mode quirks;
	enum hvi_profile hv_profile; /* Hyper-V enlightenments offered (hv/hv.h); default recommended */
	bool hv_off;             /* no Hyper-V interface: KVM's own CPUID leaves stay */
	enum boot_entry_kind entry;
	enum vm_console_kind console;
	const char *console_path; /* VM_CONSOLE_FILE: the file */
	unsigned timeout_s;      /* 0: none; else stop the VM (VM_EXIT_HOST_STOP) after this many seconds */
	bool testdev;            /* attach the micro-guest test device (include/openhv/testdev.h) */
	const char *profile_path; /* NULL, or write guest RIP samples (every 1 ms per VP) here at the end */
	unsigned shutdown_timeout_s; /* SIGTERM/SIGINT: seconds the guest gets to power off after the Shutdown IC's
				      * request before the VM is turned off; 0: turn it off at once */
};

#define VM_DEFAULT_CMDLINE "console=ttyS0 panic=-1"

/*
 * Default of vm_config.shutdown_timeout_s (`openhv run --shutdown-timeout`), seconds: room for an orderly guest
 * shutdown (services stopping, disks syncing) also with interpreted guest kernel code on a software KVM, and below
 * systemd's default stop timeout (90 s, then SIGKILL), so a service manager stopping `openhv run` lets OpenHV turn
 * the VM off itself first.
 */
#define VM_DEFAULT_SHUTDOWN_TIMEOUT_S 60u

/* Fill @cfg with defaults (256 MiB, 1 VP, quirks auto, entry auto, stdio console). */
void vm_config_init(struct vm_config *cfg);

/*
 * Build the VM from @cfg, run it to the end, tear it down. Returns the exit status for the process and prints a
 * one-line reason on stderr for anything but a clean power-off. Blocks.
 *
 * With the Hyper-V interface (not cfg->hv_off) the board has a VMBus server (vmbus/vmbus.h), its device in the
 * DSDT (boot/acpi.h) and the integration components (vsp/ic/ic.h: shutdown, heartbeat, time sync).
 *
 * Signals: SIGINT, SIGTERM and SIGHUP are blocked in every thread and read from a signalfd for the duration.
 * SIGTERM or SIGINT asks the guest to power off through the Shutdown IC and gives it cfg->shutdown_timeout_s
 * seconds; the exit status is then VM_EXIT_OK if the guest powered itself off in time, VM_EXIT_HOST_STOP if the
 * host had to turn it off (timeout, a second SIGTERM/SIGINT, or the guest refused). Without a Shutdown IC the
 * guest can use (no VMBus, guest not connected, driver not loaded), and for SIGHUP, the VM stops at once
 * (VM_EXIT_HOST_STOP).
 */
enum vm_exit_status vm_run(const struct vm_config *cfg);

/* Map a partition stop reason to the process exit status. */
enum vm_exit_status vm_exit_status_from_stop(enum vid_stop_reason reason);

/* Parse a size such as "256M", "1G", "65536K", "1048576" (bytes). 0 or -EINVAL. */
int vm_parse_size(const char *s, uint64_t *bytes);

#endif
