/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/mg_harness.h - run a micro-guest (guest/tests/<name>.c -> $OPENHV_GUEST_DIR/<name>.elf) on /dev/kvm.
 *
 * The guest is booted exactly like a Linux vmlinux through PVH (boot/linux.h) into a fresh partition with the test
 * device (include/openhv/testdev.h) on LAYOUT_TESTDEV_PORT. The guest's result write stops the partition with
 * VID_STOP_POWEROFF; a watchdog stops it with VID_STOP_HOST_REQUEST after a timeout, so a test never hangs.
 *
 * Test device as the harness serves it:
 *   RESULT (write)   record the value, then vid_partition_request_stop(VID_STOP_POWEROFF). Later writes ignored.
 *   VALUE  (write)   append to mg_result.values (at most MG_RESULT_MAX_VALUES; more are counted, not stored).
 *   PUTC   (write)   accumulate text in mg_result.text; each complete line is printed to stderr as "mg: ...".
 *   ECHO   (write)   latch; (read) latch + 1.
 * Any other access to the device's ports reads all ones and is ignored.
 */
#ifndef OPENHV_TESTS_MG_HARNESS_H
#define OPENHV_TESTS_MG_HARNESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vid/vid.h"

#define MG_RESULT_MAX_VALUES 256u
#define MG_RESULT_MAX_TEXT 4096u
#define MG_DEFAULT_TIMEOUT_S 60u

/* What one run produced. */
struct mg_result {
	enum vid_stop_reason reason;   /* from vid_partition_run() */
	uint32_t result;               /* first value written to TESTDEV_REG_RESULT (valid if result_written) */
	bool result_written;
	uint32_t values[MG_RESULT_MAX_VALUES]; /* TESTDEV_REG_VALUE writes in arrival order */
	unsigned nvalues;              /* number stored in values[] */
	unsigned nvalues_dropped;      /* writes beyond MG_RESULT_MAX_VALUES */
	char text[MG_RESULT_MAX_TEXT]; /* PUTC output, NUL-terminated, truncated */
	char stop_message[256];        /* vid_partition_stop_message() */
	double seconds;                /* wall time of vid_partition_run() */
	uint64_t exits;                /* userspace exits of all VPs (vid_vp_exit_count summed) */
	uint64_t emulated_insns;       /* KVM's per-VP "insn_emulation" statistic summed (0 if unavailable): on an
					* interpreting KVM, roughly the guest's CPL0 instruction count */
};

/*
 * Optional test hooks. Every callback may be NULL. Callbacks run on the threads named; the test locks its own
 * state if callbacks on different threads share it.
 */
struct mg_harness_hooks {
	void *opaque;
	/* Before the run, after the test device is registered: extra vid_*_register() calls. 0 or -errno (the run is
	 * abandoned and mg_run() returns that error). */
	int (*setup)(void *opaque, struct vid_partition *part);
	/* On the VP thread, after each VALUE write has been recorded. */
	void (*value)(void *opaque, struct vid_partition *part, struct vid_vp *vp, uint32_t value);
	/* On a host thread of its own while the partition runs. Must return soon after atomic_load(@stopping)
	 * becomes true (mg_sleep_ms() helps); joined before mg_run() returns. */
	void (*thread)(void *opaque, struct vid_partition *part, atomic_bool *stopping);
	/* After the run, before the partition and guest memory are destroyed (e.g. stop a timer thread that injects
	 * into the partition: hvi_partition_stop()). On the caller's thread. */
	void (*teardown)(void *opaque, struct vid_partition *part);
	/* Watchdog in seconds; 0 = $OPENHV_MG_TIMEOUT or MG_DEFAULT_TIMEOUT_S. */
	unsigned timeout_s;
};

/*
 * Run micro-guest @name ("basic" or "basic.elf", looked up in $OPENHV_GUEST_DIR, else $OPENHV_BUILD_DIR/guest)
 * with @vp_count VPs and @mem_mb MiB of RAM, command line @cmdline (NULL: empty), optional @hooks. Fills *@res.
 * Returns 0 when the partition ran (whatever the guest did: check res->reason and res->result), -ENODEV when
 * /dev/kvm cannot be opened (the caller should skip), -ENOENT when the guest ELF is missing, or another -errno
 * of a setup step (logged).
 */
int mg_run(const char *name, unsigned vp_count, unsigned mem_mb, const char *cmdline,
	   const struct mg_harness_hooks *hooks, struct mg_result *res);

/* Make the calling test binary exit 77 (ctest: skipped) with a message if /dev/kvm cannot be opened read-write. */
void mg_require_kvm(void);

/* Sleep @ms milliseconds in small steps; returns false early (without finishing) once *@stopping is true. */
bool mg_sleep_ms(atomic_bool *stopping, unsigned ms);

/* Print a one-line summary of @res (reason, result, values, seconds, exits, emulated instructions) to stderr. */
void mg_result_print(const char *name, const struct mg_result *res);

/* True if @res ended by the guest's result write with @result (and reason POWEROFF). */
bool mg_result_is(const struct mg_result *res, uint32_t result);

#endif
