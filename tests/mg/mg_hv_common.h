/* SPDX-License-Identifier: MIT */
/*
 * tests/mg/mg_hv_common.h - what the Hyper-V interface micro-guest tests (tests/mg/mg_hv_*.c) share: a harness
 * setup hook that creates the hvi_partition on the micro-guest's partition, records stop requests, and lets the
 * test register its connections; and mg_hv_run(), the run-and-collect sequence every test does. Header-only
 * (static functions): each mg_hv_*.c is its own test binary.
 *
 * A test: mg_hv_init(), set connect/opaque/stop_callback, mg_hv_run(), read what it needs from t->hv (stats,
 * crash report, registry), mg_hv_fini(), then assert.
 */
#ifndef OPENHV_TESTS_MG_HV_COMMON_H
#define OPENHV_TESTS_MG_HV_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "hv/hv.h"
#include "mg_harness.h"

struct mg_hv {
	/* set by the test */
	enum hvi_profile profile;
	unsigned vp_count;
	bool stop_callback;  /* install hvi_config.stop (records, then stops the partition with GUEST_PANIC/RESET) */
	int (*connect)(struct mg_hv *t); /* register connections; may be NULL */
	void (*disconnect)(struct mg_hv *t); /* after the run, while the partition exists (e.g. destroy a VMBus
					      * server: it unregisters ioeventfds); may be NULL */
	void *opaque;        /* for the test's handlers */

	/* set by the hook */
	struct vid_partition *part;
	struct hvi_partition *hv;
	pthread_mutex_t lock;
	unsigned stops;
	enum hvi_stop stop_why;
	char stop_message[256];

	/* set by mg_hv_run(): "<guest>[ <cmdline>] (<profile>[, stop callback])", the run's name in the log */
	char name[128];
};

static inline void mg_hv_stop(void *opaque, enum hvi_stop why, const char *message)
{
	struct mg_hv *t = opaque;

	pthread_mutex_lock(&t->lock);
	if (!t->stops++) {
		t->stop_why = why;
		snprintf(t->stop_message, sizeof(t->stop_message), "%s", message ? message : "");
	}
	pthread_mutex_unlock(&t->lock);
	vid_partition_request_stop(t->part, why == HVI_STOP_CRASH ? VID_STOP_GUEST_PANIC : VID_STOP_RESET, message);
}

/* mg_harness_hooks.setup: create the interface for @part (opaque: struct mg_hv *). */
static inline int mg_hv_setup(void *opaque, struct vid_partition *part)
{
	struct mg_hv *t = opaque;
	struct hvi_config cfg = {
		.profile = t->profile,
		.memory = vid_partition_memory(part),
		.vp_count = t->vp_count ? t->vp_count : 1,
		.partition = part,
		.stop = t->stop_callback ? mg_hv_stop : NULL,
		.opaque = t,
	};
	int ret;

	t->part = part;
	ret = hvi_partition_create(&cfg, &t->hv);
	if (ret < 0) {
		fprintf(stderr, "hvi_partition_create: %s\n", strerror(-ret));
		return ret;
	}
	return t->connect ? t->connect(t) : 0;
}

static inline void mg_hv_init(struct mg_hv *t, enum hvi_profile profile, unsigned vp_count)
{
	memset(t, 0, sizeof(*t));
	t->profile = profile;
	t->vp_count = vp_count;
	pthread_mutex_init(&t->lock, NULL);
}

/* Print the interface's counters @s (for the log of a run). */
static inline void mg_hv_stats_print(const char *name, const struct hvi_stats *s)
{
	fprintf(stderr,
		"mg[%s]: hvi: %llu hypercalls, %llu posts, %llu slow signals, %llu delivered, %llu queued, %llu EOMs, "
		"%llu events, %llu stimer expirations\n",
		name, (unsigned long long)s->hypercalls, (unsigned long long)s->post_messages,
		(unsigned long long)s->signal_events_slow, (unsigned long long)s->messages_delivered,
		(unsigned long long)s->messages_queued, (unsigned long long)s->eoms,
		(unsigned long long)s->events_signalled, (unsigned long long)s->stimer_expirations);
}

/* mg_harness_hooks.teardown: stop the interface's timer thread before the partition goes away. */
static inline void mg_hv_teardown(void *opaque, struct vid_partition *part)
{
	struct mg_hv *t = opaque;

	if (t->disconnect)
		t->disconnect(t);
	hvi_partition_stop(t->hv);
}

/* Free the interface after mg_run() (stopped by mg_hv_teardown; its stats and crash report stay readable). */
static inline void mg_hv_fini(struct mg_hv *t)
{
	hvi_partition_destroy(t->hv);
	t->hv = NULL;
	pthread_mutex_destroy(&t->lock);
}

/*
 * Run micro-guest @guest on the interface @t (after mg_hv_init(); t->vp_count VPs, 32 MiB) with command line
 * @cmdline (NULL: empty), log the result and the interface's counters under t->name, and copy the counters to
 * *@stats (may be NULL). @extra (may be NULL) adds the test's value and thread hooks and its timeout; they get @t
 * as opaque (a test with more state embeds struct mg_hv as its first member, or reaches it through t->opaque).
 * The setup and teardown hooks are always mg_hv_setup/mg_hv_teardown, so the interface's timer thread is stopped
 * before the partition is destroyed. The interface stays alive for the caller to inspect; free it with
 * mg_hv_fini(). Returns mg_run()'s result (0: the partition ran; the caller asserts it).
 */
static inline int mg_hv_run(struct mg_hv *t, const char *guest, const char *cmdline,
			    const struct mg_harness_hooks *extra, struct mg_result *res, struct hvi_stats *stats)
{
	struct mg_harness_hooks hooks = {
		.opaque = t,
		.setup = mg_hv_setup,
		.value = extra ? extra->value : NULL,
		.thread = extra ? extra->thread : NULL,
		.teardown = mg_hv_teardown,
		.timeout_s = extra ? extra->timeout_s : 0,
	};
	struct hvi_stats s;
	int ret;

	if (stats)
		memset(stats, 0, sizeof(*stats)); /* defined even when the run fails */
	snprintf(t->name, sizeof(t->name), "%s%s%s (%s%s)", guest, cmdline ? " " : "", cmdline ? cmdline : "",
		 hvi_profile_name(t->profile), t->stop_callback ? ", stop callback" : "");
	ret = mg_run(guest, t->vp_count ? t->vp_count : 1, 32, cmdline, &hooks, res);
	if (ret < 0)
		return ret;
	mg_result_print(t->name, res);
	hvi_partition_stats(t->hv, &s);
	mg_hv_stats_print(t->name, &s);
	if (stats)
		*stats = s;
	return 0;
}

#endif
