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

static void run(const char *which, bool callback, struct mg_result *res, struct mg_hv *t, struct hvi_crash *crash)
{
	struct mg_harness_hooks hooks = { .opaque = t, .setup = mg_hv_setup, .teardown = mg_hv_teardown };
	char name[64];

	mg_hv_init(t, HVI_PROFILE_RECOMMENDED, 1);
	t->stop_callback = callback;
	snprintf(name, sizeof(name), "g_hv_crash %s%s", which, callback ? " (callback)" : "");
	assert_int_equal(mg_run("g_hv_crash", 1, 32, which, &hooks, res), 0);
	mg_result_print(name, res);
	hvi_partition_crash(t->hv, crash);
	mg_hv_fini(t);
	/* Stopped by the write, not by the guest's result or the watchdog. */
	assert_false(res->result_written);
	assert_int_equal(res->nvalues, 1);
	assert_int_equal(res->values[0], (uint32_t)((HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG) >> 32));
}

static void check_crash_params(const struct hvi_crash *c)
{
	assert_true(c->reported);
	assert_int_equal(c->params[0], 0x1234);
	assert_int_equal(c->params[1], (uint64_t)HV_LINUX_VENDOR_ID << 48 | 0x060177ull << 16);
	assert_int_equal(c->params[2], 0xffffffff81000000ull);
	assert_int_equal(c->ctl, HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG);
}

static void test_crash(void **state)
{
	struct mg_result res;
	struct mg_hv t;
	struct hvi_crash c;

	run("crash", false, &res, &t, &c);
	assert_int_equal(res.reason, VID_STOP_GUEST_PANIC);
	fprintf(stderr, "mg[g_hv_crash]: stop message \"%s\"\n", res.stop_message);
	assert_non_null(strstr(res.stop_message, "Kernel panic"));
	check_crash_params(&c);
	assert_int_equal(c.params[4], strlen(CRASH_TEXT));
	assert_string_equal(c.message, CRASH_TEXT);
}

static void test_crash_callback(void **state)
{
	struct mg_result res;
	struct mg_hv t;
	struct hvi_crash c;

	run("crash", true, &res, &t, &c);
	assert_int_equal(res.reason, VID_STOP_GUEST_PANIC); /* our callback stops it */
	assert_int_equal(t.stops, 1);
	assert_int_equal(t.stop_why, HVI_STOP_CRASH);
	assert_non_null(strstr(t.stop_message, "Kernel panic - not syncing: test"));
	check_crash_params(&c);
	assert_string_equal(c.message, CRASH_TEXT);
}

static void test_crash_bad_message(void **state)
{
	struct mg_result res;
	struct mg_hv t;
	struct hvi_crash c;

	run("crash_bad", false, &res, &t, &c);
	assert_int_equal(res.reason, VID_STOP_GUEST_PANIC);
	check_crash_params(&c);
	assert_int_equal(c.params[3], 0x7ffff000000ull);
	assert_int_equal(c.params[4], 0x100000);
	assert_string_equal(c.message, "");
}

static void test_reset(void **state)
{
	struct mg_result res;
	struct mg_hv t;
	struct hvi_crash c;

	run("reset", true, &res, &t, &c);
	assert_int_equal(res.reason, VID_STOP_RESET);
	assert_int_equal(t.stops, 1);
	assert_int_equal(t.stop_why, HVI_STOP_RESET);
	assert_false(c.reported);
}

static void test_reset_no_callback(void **state)
{
	struct mg_result res;
	struct mg_hv t;
	struct hvi_crash c;

	run("reset", false, &res, &t, &c);
	assert_int_equal(res.reason, VID_STOP_RESET);
	assert_false(c.reported);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash),
		cmocka_unit_test(test_crash_callback),
		cmocka_unit_test(test_crash_bad_message),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_reset_no_callback),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
