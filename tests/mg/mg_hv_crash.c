// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_hv_crash.c - the crash MSRs (CRASH_P0..P4, CRASH_CTL with NOTIFY and NOTIFY_MSG: Linux's panic
 * report and kmsg dump) and HV_X64_MSR_RESET stop the partition, with and without an hvi_config.stop callback;
 * hvi_partition_crash() has the parameters and the text; a message pointer outside RAM still gives a report.
 * guest-core.md 1.5. Guest: guest/tests/g_hv_crash.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mg_hv_common.h"

#define CRASH_TEXT "Kernel panic - not syncing: test"

/* One run of the guest and what it must do. */
struct crash_case {
	const char *test;         /* the cmocka test's name */
	const char *which;        /* the guest's command line: crash, crash_bad or reset */
	bool callback;            /* install hvi_config.stop (struct mg_hv records its calls) */
	enum vid_stop_reason reason;
	const char *stop_message; /* a substring of the partition's stop message; NULL: not checked */
	bool reported;            /* a crash report (hvi_partition_crash) is expected */
	const char *message;      /* ... with this text */
	uint64_t message_gpa;     /* ... and CRASH_P3 (0: not checked) */
	uint64_t message_size;    /* ... and CRASH_P4 */
};

static const struct crash_case cases[] = {
	{
		.test = "test_crash", .which = "crash", .reason = VID_STOP_GUEST_PANIC, .stop_message = "Kernel panic",
		.reported = true, .message = CRASH_TEXT, .message_size = sizeof(CRASH_TEXT) - 1,
	},
	{
		/* Our callback stops it. */
		.test = "test_crash_callback", .which = "crash", .callback = true, .reason = VID_STOP_GUEST_PANIC,
		.reported = true, .message = CRASH_TEXT, .message_size = sizeof(CRASH_TEXT) - 1,
	},
	{
		/* The message pointer outside RAM: the report, without its text. */
		.test = "test_crash_bad_message", .which = "crash_bad", .reason = VID_STOP_GUEST_PANIC,
		.reported = true, .message = "", .message_gpa = 0x7ffff000000ull, .message_size = 0x100000,
	},
	{ .test = "test_reset", .which = "reset", .callback = true, .reason = VID_STOP_RESET },
	{ .test = "test_reset_no_callback", .which = "reset", .reason = VID_STOP_RESET },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* One cmocka test per case; @state: its struct crash_case. */
static void test_crash(void **state)
{
	const struct crash_case *k = *state;
	struct mg_result res;
	struct mg_hv t;
	struct hvi_crash c;

	mg_hv_init(&t, HVI_PROFILE_RECOMMENDED, 1);
	t.stop_callback = k->callback;
	assert_int_equal(mg_hv_run(&t, "g_hv_crash", k->which, NULL, &res, NULL), 0);
	hvi_partition_crash(t.hv, &c);
	mg_hv_fini(&t);
	/* Stopped by the write, not by the guest's result or the watchdog. */
	assert_false(res.result_written);
	assert_int_equal(res.nvalues, 1);
	assert_int_equal(res.values[0], (uint32_t)((HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG) >> 32));
	assert_int_equal(res.reason, k->reason);
	fprintf(stderr, "mg[%s]: stop message \"%s\"\n", t.name, res.stop_message);
	if (k->stop_message)
		assert_non_null(strstr(res.stop_message, k->stop_message));

	/* The callback, if installed, was called once, for the crash or the reset. */
	if (k->callback) {
		assert_int_equal(t.stops, 1);
		assert_int_equal(t.stop_why, k->reported ? HVI_STOP_CRASH : HVI_STOP_RESET);
		if (k->reported)
			assert_non_null(strstr(t.stop_message, CRASH_TEXT));
	}

	if (!k->reported) {
		assert_false(c.reported);
		return;
	}
	assert_true(c.reported);
	assert_int_equal(c.params[0], 0x1234);
	assert_int_equal(c.params[1], (uint64_t)HV_LINUX_VENDOR_ID << 48 | 0x060177ull << 16);
	assert_int_equal(c.params[2], 0xffffffff81000000ull);
	if (k->message_gpa)
		assert_int_equal(c.params[3], k->message_gpa);
	assert_int_equal(c.params[4], k->message_size);
	assert_int_equal(c.ctl, HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG);
	assert_string_equal(c.message, k->message);
}

int main(void)
{
	struct CMUnitTest tests[NCASES];

	for (unsigned i = 0; i < NCASES; i++)
		tests[i] = (struct CMUnitTest){ .name = cases[i].test, .test_func = test_crash,
						.initial_state = (void *)&cases[i] };
	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
