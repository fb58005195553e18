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
#include "openhv/vmbus.h"
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

/*
 * A disk of the synthetic SCSI controller (`openhv run --disk PATH[,ro]`): LUN i of the controller is the i-th
 * disk given, so the guest names them sda, sdb, ... in that order.
 */
struct vm_disk {
	const char *path;        /* raw image file or block device */
	bool read_only;          /* opened read-only; the guest sees a write-protected disk */
	bool direct;             /* O_DIRECT: bypass the host page cache */
	uint32_t block_size;     /* logical block size in bytes: 512 (0) or 4096 */
};

#define VM_MAX_DISKS 64u /* LUNs of the one controller (STORVSP_MAX_LUNS) */
#define VM_MAX_KVP 32u   /* host KVP items (VSP_IC_KVP_MAX_ITEMS) */

/*
 * The instance GUID of the SCSI controller the worker offers when there are disks (the guest's
 * /sys/bus/vmbus/devices/<instance>); OpenHV's own, fixed so guests and tests can find it.
 */
#define VM_SCSI_INSTANCE_STR "0e4f4856-5c51-4c30-9d15-5c5100000000"
#define VM_SCSI_INSTANCE                                                                                               \
	VMBUS_GUID_INIT(0x0e4f4856, 0x5c51, 0x4c30, 0x9d, 0x15, 0x5c, 0x51, 0x00, 0x00, 0x00, 0x00)

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
	struct vm_disk disks[VM_MAX_DISKS]; /* the SCSI controller's LUNs, in order (needs the Hyper-V interface) */
	unsigned disk_count;
	const char *kvp[VM_MAX_KVP];  /* "KEY=VALUE" host items for the guest's KVP external pool (--kvp) */
	int64_t rtc_offset_s;         /* the CMOS clock starts this many seconds from host time (--rtc-offset) */
	unsigned kvp_count;
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
 * DSDT (boot/acpi.h) and the integration components (vsp/ic/ic.h: shutdown, heartbeat, time sync); with disks
 * (cfg->disk_count > 0, which needs the Hyper-V interface: VM_EXIT_ERROR otherwise) also one synthetic SCSI
 * controller (vsp/storvsp/storvsp.h, instance VM_SCSI_INSTANCE) whose LUN i is cfg->disks[i], offering up to
 * cfg->cpus - 1 sub-channels. A disk that cannot be opened is VM_EXIT_ERROR (its path is logged).
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

/*
 * Parse the value of `--disk`: "PATH[,OPTION]..." with the options ro, direct, sector=512|4096. PATH may not
 * contain a comma. Fills *@out (@out->path points into @s, which must outlive it). 0, or -EINVAL with a reason in
 * @why (a static string).
 */
int vm_parse_disk(char *s, struct vm_disk *out, const char **why);

#endif
