/* SPDX-License-Identifier: MIT */
/*
 * hv/hv.h - the Hyper-V hypervisor interface, in userspace: CPUID leaves, synthetic MSRs, the hypercall page and
 * hypercall dispatch, the SynIC (message and event-flag pages, SINTs, EOM), the reference time (TIME_REF_COUNT and
 * the reference TSC page), synthetic timers, crash MSRs, and the connection registry the VMBus server uses.
 *
 * Functions of this module are prefixed hvi_ ("hypervisor interface"): Linux and QEMU own the bare hv_ prefix.
 *
 * Two ways to run it:
 *  - on a partition (hvi_config.partition set): hvi_partition_create() installs the CPUID leaves, intercepts
 *    MSRs 0x40000000-0x400001FF and the hypercall page's private ports, and injects SINTs into the VPs' LAPICs;
 *  - on plain memory (partition NULL: unit tests, fuzzing, in-process protocol tests): the caller drives
 *    hvi_msr_access() and hvi_hypercall() itself and receives interrupts through hvi_config.interrupt.
 *
 * Threads: MSR and hypercall handlers run on the VP thread that took the exit. hvi_synic_post_message(),
 * hvi_synic_signal_event(), the connection registry and hvi_reference_time() are safe from any thread. Synthetic
 * timers run on a thread of this module.
 *
 * Sources: TLFS v6.0b (chapters named on each function); the client is Linux 6.1 arch/x86/kernel/cpu/mshyperv.c,
 * arch/x86/hyperv/hv_init.c, drivers/hv/hv.c, drivers/hv/hv_common.c, drivers/clocksource/hyperv_timer.c.
 * Facts and their consequences: shared/reference/guest-core.md sections 1-3.
 */
#ifndef OPENHV_HV_HV_H
#define OPENHV_HV_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openhv/hvgdk.h"
#include "vid/memory.h"

struct vid_partition;
struct hvi_partition;

/*
 * Feature profile: which enlightenments the CPUID leaves offer (guest-core.md 1.4). MSRs of features a profile
 * does not offer raise #GP, as on Hyper-V.
 *  MINIMAL:     hypercalls, VP index, SynIC, frequency MSRs, and TSC_INVARIANT (the guest keeps the plain TSC);
 *  RECOMMENDED: hypercalls, VP index, SynIC, frequency MSRs, VP runtime, TIME_REF_COUNT, the reference TSC page
 *               (the guest's clocksource: TSC_INVARIANT is not offered, or the plain TSC would win), reset, crash
 *               MSRs;
 *  FULL:        RECOMMENDED + synthetic timers (message and direct mode). Not the default: each timer arm is an
 *               MSR exit to userspace, where KVM's in-kernel LAPIC TSC-deadline timer costs none.
 */
enum hvi_profile {
	HVI_PROFILE_RECOMMENDED = 0,
	HVI_PROFILE_MINIMAL,
	HVI_PROFILE_FULL,
};

/* "minimal", "recommended", "full" <-> enum. Parse returns 0 or -EINVAL. */
const char *hvi_profile_name(enum hvi_profile profile);
int hvi_profile_parse(const char *name, enum hvi_profile *out);

/* Private ports of the hypercall page (see hv/hypercall.c): both below 0x100 for the OUT imm8 form. */
#define HVI_PORT_HYPERCALL 0xE4 /* OUT from the page: a hypercall decoded in userspace */
#define HVI_PORT_SIGNAL    0xE5 /* OUT of a connection id: HvSignalEvent, served by an ioeventfd when registered */

/* Why the guest stopped itself through the interface (reported with hvi_config.stop). */
enum hvi_stop {
	HVI_STOP_CRASH = 1, /* CRASH_CTL written with CRASH_NOTIFY: see hvi_partition_crash() */
	HVI_STOP_RESET,     /* HV_X64_MSR_RESET written with 1 */
};

struct hvi_config {
	enum hvi_profile profile;
	struct vid_memory *memory;      /* borrowed; guest RAM (SynIC pages, hypercall page, TSC page) */
	unsigned vp_count;              /* 1..VID_MAX_VPS; VP index = APIC id = 0..vp_count-1 */
	struct vid_partition *partition; /* borrowed, or NULL to run without KVM (then set @interrupt) */
	/* Without a partition: deliver @vector to VP @vp_index (edge, fixed). Any thread. */
	void (*interrupt)(void *opaque, uint32_t vp_index, uint8_t vector);
	/* The guest asked to stop (crash or reset). With a partition and no callback the partition is stopped with
	 * VID_STOP_GUEST_PANIC or VID_STOP_RESET and a one-line message. Runs on the VP thread. */
	void (*stop)(void *opaque, enum hvi_stop why, const char *message);
	void *opaque;
	uint64_t tsc_hz; /* the guest TSC frequency; 0: KVM_GET_TSC_KHZ, else the host's (from leaf 0x15/0x16) */
};

/*
 * Create the interface for a partition (or for plain memory). With a partition: call before vid_partition_run();
 * replaces every CPUID leaf 0x40000000-0x4000FFFF (KVM's own signature would otherwise win Linux's detection),
 * registers the MSR range and the hypercall ports. Starts the synthetic-timer thread.
 * Returns 0 and *@out; -EINVAL for a bad config; -ENOMEM; or the -errno of a vid_* registration.
 */
int hvi_partition_create(const struct hvi_config *cfg, struct hvi_partition **out);

/*
 * Stop the synthetic-timer thread: after return nothing of this module touches the partition or guest memory on
 * its own. Call once vid_partition_run() returned, before the partition or the memory go away. Idempotent.
 */
void hvi_partition_stop(struct hvi_partition *hv);

/* Stop (hvi_partition_stop) and free everything. NULL is a no-op. */
void hvi_partition_destroy(struct hvi_partition *hv);

/* ---- guest-facing entry points (the partition's exit handlers call these; tests call them directly) -------- */

/*
 * A synthetic MSR access by VP @vp_index (TLFS 2.5 / the MSR table of guest-core.md 1.5). On a read *@value is
 * filled, on a write it holds the value. Returns 0, or -EPERM (the guest takes #GP: unknown MSR, a feature the
 * profile does not offer, a read-only MSR, a reserved bit set, a GPA outside RAM for a page the host must fill).
 */
int hvi_msr_access(struct hvi_partition *hv, uint32_t vp_index, uint32_t index, bool is_write, uint64_t *value);

/*
 * Execute one hypercall for VP @vp_index: @control is RCX (the hypercall input value), @input RDX (a GPA, or the
 * first fast-input register), @output R8. Returns the RAX result value (status in 15:0, reps completed in 43:32),
 * TLFS 3.8. Never fails otherwise: hostile input gives an HV_STATUS.
 */
uint64_t hvi_hypercall(struct hvi_partition *hv, uint32_t vp_index, uint64_t control, uint64_t input,
		       uint64_t output);

/*
 * The decoded hypercall input value (TLFS 3.7). hvi_hypercall_decode() checks the reserved bits and the field
 * combinations that are wrong whatever the call (a rep start beyond the rep count); returns HV_STATUS_SUCCESS or
 * HV_STATUS_INVALID_HYPERCALL_INPUT. Pure: the fuzz target's first stage.
 */
struct hvi_hypercall_input {
	uint16_t code;
	bool fast;
	uint16_t varhead_qwords; /* variable header size, 8-byte units */
	uint16_t rep_count;
	uint16_t rep_start;
};
uint16_t hvi_hypercall_decode(uint64_t control, struct hvi_hypercall_input *out);

/* ---- connections: guest -> host (TLFS 11.10 "SynIC messages and events"; ports and connections) --------- */

/*
 * A message a guest posted (HvPostMessage) to a registered connection. @payload (@size bytes, <= 240) is a copy
 * the handler may keep until it returns. Runs on the VP thread of @vp_index. Return 0 (HV_STATUS_SUCCESS),
 * -ENOBUFS or -EAGAIN (HV_STATUS_INSUFFICIENT_BUFFERS: the guest retries), -EINVAL (HV_STATUS_INVALID_PARAMETER),
 * -ENOENT (HV_STATUS_INVALID_CONNECTION_ID).
 */
typedef int (*hvi_message_fn)(void *opaque, uint32_t vp_index, uint32_t connection_id, uint32_t message_type,
			      const void *payload, uint32_t size);

/* A guest HvSignalEvent to a registered connection, taken through the slow path. Runs on the VP thread. */
typedef void (*hvi_event_fn)(void *opaque, uint32_t vp_index, uint32_t connection_id, uint16_t flag);

/*
 * Register a message connection @connection_id (1..0xFFFFFF). Any thread, also while running.
 * 0, -EINVAL (id out of range, fn NULL), -EEXIST, -ENOSPC.
 */
int hvi_message_connection_register(struct hvi_partition *hv, uint32_t connection_id, hvi_message_fn fn,
				    void *opaque);

/*
 * Register an event connection. With @fd >= 0 the guest's HvSignalEvent on flag 0 signals eventfd @fd (a fast call
 * through a KVM ioeventfd, without an exit to userspace; a memory-form call from userspace), and other flags call
 * @fn if set, else signal @fd too. With @fd < 0 every signal calls @fn on the VP thread. Any thread, also
 * while running. 0, -EINVAL, -EEXIST, -ENOSPC, or the -errno of KVM_IOEVENTFD. The ioeventfd path cannot see who
 * executed the OUT: a guest-user process the guest kernel gave I/O rights to that port could signal too.
 */
int hvi_event_connection_register(struct hvi_partition *hv, uint32_t connection_id, hvi_event_fn fn, void *opaque,
				  int fd);

/* Remove a connection of either kind. 0 or -ENOENT. After return the handler is not running and not called. */
int hvi_connection_unregister(struct hvi_partition *hv, uint32_t connection_id);

/* ---- SynIC: host -> guest (TLFS 11.8-11.9) ------------------------------------------------------------ */

/*
 * Post a message of @message_type (!= HVMSG_NONE) and @size bytes (<= 240) to SINT @sint of VP @vp_index. It is
 * written into the VP's message slot at once if the slot is free, else queued and delivered when the guest frees
 * the slot (MessagePending/EOM protocol, guest-core.md 3.3); then the SINT's vector is raised unless masked.
 * Any thread. 0; -EINVAL (bad VP, SINT, type or size); -ENXIO (SynIC or the message page not enabled on that VP:
 * the message is dropped); -ENOBUFS (the queue for that SINT is full).
 */
int hvi_synic_post_message(struct hvi_partition *hv, uint32_t vp_index, uint8_t sint, uint32_t message_type,
			   const void *payload, uint32_t size);

/*
 * Set event flag @flag (< 2048) of SINT @sint in VP @vp_index's event-flags page and raise the SINT if the flag was
 * clear (TLFS 11.8.3). Any thread. 0 (also when the flag was already set), -EINVAL, -ENXIO (SynIC or SIEF page not
 * enabled).
 */
int hvi_synic_signal_event(struct hvi_partition *hv, uint32_t vp_index, uint8_t sint, uint32_t flag);

/* ---- time -------------------------------------------------------------------------------------------- */

/* The partition's reference time: 100 ns ticks since creation, what TIME_REF_COUNT and the TSC page say. */
uint64_t hvi_reference_time(const struct hvi_partition *hv);

/* ---- state for tests and the worker --------------------------------------------------------------------- */

/* What the guest left in the crash MSRs (valid once hvi_config.stop reported HVI_STOP_CRASH). */
struct hvi_crash {
	bool reported;
	uint64_t params[HV_CRASH_PARAMS]; /* P0..P4 */
	uint64_t ctl;
	char message[HV_CRASH_MSG_MAX + 1]; /* CRASH_NOTIFY_MSG text, NUL-terminated, non-printables replaced */
};

/* Copy the crash report into *@out. Any thread. */
void hvi_partition_crash(struct hvi_partition *hv, struct hvi_crash *out);

/* Counters for benchmarks and tests (monotonic, any thread). */
struct hvi_stats {
	uint64_t hypercalls;          /* hypercalls executed in userspace, all codes */
	uint64_t post_messages;       /* HvPostMessage calls that reached a handler */
	uint64_t signal_events_slow;  /* HvSignalEvent calls executed in userspace (not by an ioeventfd) */
	uint64_t messages_delivered;  /* host -> guest messages written into a slot */
	uint64_t messages_queued;     /* ... that had to wait for EOM first */
	uint64_t eoms;                /* EOM writes */
	uint64_t events_signalled;    /* hvi_synic_signal_event calls that raised the SINT */
	uint64_t stimer_expirations;
	uint64_t page_exits;          /* exits from the hypercall page's OUTs handled in userspace */
	uint64_t page_exit_ns;        /* host time spent handling them, register ioctls included (ns) */
};
void hvi_partition_stats(struct hvi_partition *hv, struct hvi_stats *out);

#endif
