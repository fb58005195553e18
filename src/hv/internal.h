/* SPDX-License-Identifier: MIT */
/*
 * hv/internal.h - state shared by the files of the hv module (not part of its API; see hv/hv.h).
 *
 * Locking: each VP's SynIC and timer state is guarded by that VP's @lock (MSR exits of the VP, host posts from
 * other threads and the timer thread take it). The connection table has its own rwlock; partition-wide MSR state
 * (guest OS id, hypercall page, TSC page, crash MSRs) the partition @lock. Lock order: vp->lock before
 * hv->lock; never hold a VP lock while calling a connection handler.
 */
#ifndef OPENHV_HV_INTERNAL_H
#define OPENHV_HV_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "hv/hv.h"
#include "vid/vid.h"

#define HVI_SINT_QUEUE_DEPTH 32u  /* host -> guest messages waiting for a slot, per VP and SINT */
#define HVI_MAX_CONNECTIONS 4096u

struct hvi_queued_message {
	struct hv_message msg;
	int8_t stimer; /* index of the timer whose expiry this is, or -1 */
};

struct hvi_sint_queue {
	struct hvi_queued_message *ring; /* HVI_SINT_QUEUE_DEPTH entries, allocated on first use */
	unsigned head, count;
};

struct hvi_stimer {
	uint64_t config;     /* HV_X64_MSR_STIMERx_CONFIG */
	uint64_t count;      /* HV_X64_MSR_STIMERx_COUNT: absolute expiry (one-shot) or period (periodic) */
	uint64_t expiry;     /* next expiry in reference time, 0 when not armed */
	bool msg_pending;    /* an expiry message is queued or in the slot, not yet consumed */
};

struct hvi_vp {
	struct hvi_partition *hv;
	uint32_t index;
	pthread_mutex_t lock;
	uint64_t vp_assist;
	uint64_t scontrol, simp, siefp;
	uint64_t sint[HV_SYNIC_SINT_COUNT];
	struct hvi_sint_queue queue[HV_SYNIC_SINT_COUNT];
	struct hvi_stimer stimer[HV_SYNIC_STIMER_COUNT];
	/* last RIP page seen to map the hypercall page (hypercall.c), so the check needs no KVM_TRANSLATE */
	uint64_t page_rip, page_gpa;
	bool page_user;
};

enum hvi_conn_kind { HVI_CONN_FREE = 0, HVI_CONN_MESSAGE, HVI_CONN_EVENT };

struct hvi_connection {
	enum hvi_conn_kind kind;
	uint32_t id;
	hvi_message_fn message_fn;
	hvi_event_fn event_fn;
	void *opaque;
	int fd; /* event: eventfd bound by KVM_IOEVENTFD, or -1 */
	_Atomic unsigned inflight; /* handlers running now */
};

struct hvi_partition {
	struct hvi_config cfg;
	struct vid_memory *mem;
	struct vid_partition *part;
	uint32_t features_eax, features_ebx, features_edx, hints_eax;

	pthread_mutex_t lock;
	uint64_t guest_os_id;
	uint64_t hypercall_msr;
	uint64_t ref_tsc_msr;
	uint32_t ref_tsc_sequence;
	uint64_t crash_params[HV_CRASH_PARAMS];
	struct hvi_crash crash;

	/* reference time: ref = ((guest_tsc * tsc_scale) >> 64) + tsc_offset; guest_tsc = rdtsc + tsc_delta */
	uint64_t tsc_hz;
	uint64_t tsc_scale;
	int64_t tsc_offset;
	int64_t tsc_delta;

	pthread_rwlock_t conn_lock;
	struct hvi_connection *conns; /* open addressing would do; a small array searched linearly is enough */
	unsigned nconns;

	struct hvi_vp *vps;
	unsigned vp_count;

	/* timer thread */
	pthread_t timer_thread;
	bool timer_started;
	pthread_mutex_t timer_lock;
	pthread_cond_t timer_cond;
	bool timer_stop;
	bool timer_kicked;

	struct {
		_Atomic uint64_t hypercalls, post_messages, signal_events_slow, messages_delivered, messages_queued,
			eoms, events_signalled, stimer_expirations,
			page_exits, page_exit_ns;
	} stats;
};

/* reftime.c */
int hvi_reftime_init(struct hvi_partition *hv);
uint64_t hvi_reftime_from_tsc(const struct hvi_partition *hv, uint64_t guest_tsc);
int hvi_reftime_tsc_page_write(struct hvi_partition *hv, uint64_t msr);

/* synic.c */
void hvi_synic_vp_reset(struct hvi_vp *vp);
void hvi_synic_vp_free(struct hvi_vp *vp);
int hvi_synic_msr(struct hvi_vp *vp, uint32_t index, bool is_write, uint64_t *value);
/* Raise SINT @sint of @vp if unmasked. Called with vp->lock held. */
void hvi_synic_raise(struct hvi_vp *vp, unsigned sint);
/* Re-offer queued messages of every SINT (vp->lock held); true if some are still waiting. */
bool hvi_synic_rescan(struct hvi_vp *vp);
/* Post with vp->lock held; @stimer is the timer index or -1. */
int hvi_synic_post_locked(struct hvi_vp *vp, unsigned sint, const struct hv_message *msg, int stimer);

/* stimer.c */
int hvi_stimer_start(struct hvi_partition *hv);
void hvi_stimer_stop(struct hvi_partition *hv);
int hvi_stimer_msr(struct hvi_vp *vp, uint32_t index, bool is_write, uint64_t *value);
/* The message of timer @stimer left the queue into the slot, or was dropped: called with vp->lock held. */
void hvi_stimer_message_done(struct hvi_vp *vp, int stimer);
/* Wake the timer thread (a timer was armed or changed). */
void hvi_stimer_kick(struct hvi_partition *hv);

/* hypercall.c */
int hvi_hypercall_page_write(struct hvi_partition *hv, uint64_t gpa);
int hvi_hypercall_ports_register(struct hvi_partition *hv);
void hvi_connections_free(struct hvi_partition *hv);

/* partition.c: deliver @vector to VP @vp_index. */
void hvi_interrupt(struct hvi_partition *hv, uint32_t vp_index, uint8_t vector);

#endif
