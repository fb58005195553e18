// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_hv_event.c - HvSignalEvent through the hypercall page: the ioeventfd fast path (the eventfd counts,
 * userspace sees nothing), the handler path, an unknown connection; and host -> guest hvi_synic_signal_event()
 * from the VP thread and from another thread (the flag bit in the SIEF page, the SINT raised once per clear
 * flag). TLFS 11.8.3, 11.10.2; guest-core.md 3.1, 3.4. Guest: guest/tests/g_hv_event.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mg_hv_common.h"

#define CONN_FAST 0x10
#define CONN_SLOW 0x11
#define EV_FAST_DONE 0xe0000001u
#define EV_READY 0xe0000002u
#define SINT_VMBUS 2

struct ev_test {
	struct mg_hv t;
	int efd;
	/* handler log (under t.lock) */
	unsigned fast_calls, slow_calls;
	uint16_t fast_flag, slow_flags[8];
	int signal_errors;
	/* sampled at EV_FAST_DONE */
	uint64_t efd_count;
	struct hvi_stats at_fast_done;
	bool sampled;
	atomic_bool ready;
};

static void on_fast(void *opaque, uint32_t vp_index, uint32_t connection_id, uint16_t flag)
{
	struct ev_test *e = opaque;

	pthread_mutex_lock(&e->t.lock);
	e->fast_calls++;
	e->fast_flag = flag;
	pthread_mutex_unlock(&e->t.lock);
}

static void on_slow(void *opaque, uint32_t vp_index, uint32_t connection_id, uint16_t flag)
{
	struct ev_test *e = opaque;

	pthread_mutex_lock(&e->t.lock);
	if (e->slow_calls < 8)
		e->slow_flags[e->slow_calls] = flag;
	e->slow_calls++;
	pthread_mutex_unlock(&e->t.lock);
	if (flag == 3) {
		/* The second call finds the flag set: no second interrupt. */
		for (int i = 0; i < 2; i++)
			if (hvi_synic_signal_event(e->t.hv, vp_index, SINT_VMBUS, 42) < 0)
				e->signal_errors++;
	}
}

static int connect_ev(struct mg_hv *t)
{
	struct ev_test *e = t->opaque;
	int ret;

	ret = hvi_event_connection_register(t->hv, CONN_FAST, on_fast, e, e->efd);
	if (!ret)
		ret = hvi_event_connection_register(t->hv, CONN_SLOW, on_slow, e, -1);
	return ret;
}

static void on_value(void *opaque, struct vid_partition *part, struct vid_vp *vp, uint32_t value)
{
	struct ev_test *e = opaque;

	if (value == EV_FAST_DONE) {
		uint64_t n = 0;

		if (read(e->efd, &n, sizeof(n)) != sizeof(n))
			n = 0;
		e->efd_count = n;
		hvi_partition_stats(e->t.hv, &e->at_fast_done);
		e->sampled = true;
	} else if (value == EV_READY) {
		atomic_store(&e->ready, true);
	}
}

/* Host thread: once the guest is ready, set flag 7 from here (not a VP thread). */
static void signal_thread(void *opaque, struct vid_partition *part, atomic_bool *stopping)
{
	struct ev_test *e = opaque;

	while (!atomic_load(&e->ready))
		if (!mg_sleep_ms(stopping, 1))
			return;
	if (hvi_synic_signal_event(e->t.hv, 0, SINT_VMBUS, 7) < 0)
		e->signal_errors++;
}

static void test_event(void **state)
{
	static const struct mg_harness_hooks extra = { .value = on_value, .thread = signal_thread };
	struct ev_test e;
	struct mg_result res;
	struct hvi_stats s;

	memset(&e, 0, sizeof(e));
	mg_hv_init(&e.t, HVI_PROFILE_RECOMMENDED, 1); /* struct mg_hv first: the hooks' opaque (&e.t) is &e */
	e.t.connect = connect_ev;
	e.t.opaque = &e;
	atomic_init(&e.ready, false);
	e.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(e.efd >= 0);

	assert_int_equal(mg_hv_run(&e.t, "g_hv_event", NULL, &extra, &res, &s), 0);
	mg_hv_fini(&e.t);
	close(e.efd);

	assert_true(mg_result_is(&res, 0));
	assert_int_equal(res.nvalues, 12);
	assert_int_equal(res.values[0], HV_STATUS_SUCCESS); /* three fast signals */
	assert_int_equal(res.values[1], EV_FAST_DONE);
	/* The fast path: the eventfd counted 3, userspace took no hypercall. */
	assert_true(e.sampled);
	assert_int_equal(e.efd_count, 3);
	assert_int_equal(e.at_fast_done.signal_events_slow, 0);
	assert_int_equal(e.at_fast_done.hypercalls, 0);
	assert_int_equal(res.values[2], HV_STATUS_SUCCESS); /* CONN_FAST flag 1: the handler */
	assert_int_equal(res.values[3], HV_STATUS_SUCCESS); /* CONN_SLOW flag 0 */
	assert_int_equal(res.values[4], HV_STATUS_INVALID_CONNECTION_ID);
	assert_int_equal(res.values[5], HV_STATUS_SUCCESS); /* CONN_SLOW flag 3 */
	assert_int_equal(res.values[6], 1);                 /* flag 42 set */
	assert_int_equal(res.values[7], 1);                 /* one interrupt for two signals of one flag */
	assert_int_equal(res.values[8], 0);                 /* no other flag */
	assert_int_equal(res.values[9], EV_READY);
	assert_int_equal(res.values[10], 1);                /* flag 7 set from the host thread */
	assert_int_equal(res.values[11], 0);
	assert_int_equal(e.fast_calls, 1);
	assert_int_equal(e.fast_flag, 1);
	assert_int_equal(e.slow_calls, 2);
	assert_int_equal(e.slow_flags[0], 0);
	assert_int_equal(e.slow_flags[1], 3);
	assert_int_equal(e.signal_errors, 0);
	/*
	 * Signals that reached userspace: CONN_SLOW flag 0 and CONN_NONE through the signal port's exit; CONN_FAST
	 * flag 1 and CONN_SLOW flag 3 (a non-zero flag) through the general hypercall port. hv/hypercall.c counts
	 * only the signal port's exits (2), hv.h's wording ("taken through userspace") suggests all four.
	 */
	assert_in_range(s.signal_events_slow, 2, 4);
	assert_int_equal(s.events_signalled, 2); /* flag 42 once, flag 7 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
