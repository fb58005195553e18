// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_basic.c - the micro-guest layer works end to end: PVH boot of guest/tests/g_basic.c, result,
 * values in order, echo round trip, text, a failure code, and the watchdog.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "mg_harness.h"

static void test_basic_pass(void **state)
{
	struct mg_result res;

	assert_int_equal(mg_run("g_basic", 1, 32, NULL, NULL, &res), 0);
	mg_result_print("g_basic", &res);
	assert_int_equal(res.reason, VID_STOP_POWEROFF);
	assert_true(res.result_written);
	assert_int_equal(res.result, 0);
	assert_int_equal(res.nvalues, 4);
	assert_int_equal(res.values[0], 1);
	assert_int_equal(res.values[1], 2);
	assert_int_equal(res.values[2], 3);
	assert_int_equal(res.values[3], 0x1234abcd + 1); /* echo: latch + 1 */
	assert_non_null(strstr(res.text, "hello from basic\n"));
}

static void test_basic_failure_code(void **state)
{
	struct mg_result res;

	/* The guest returns the value of "fail=" from its command line: the code and the command line arrive. */
	assert_int_equal(mg_run("g_basic", 1, 32, "quiet fail=0x2a", NULL, &res), 0);
	mg_result_print("g_basic fail=0x2a", &res);
	assert_int_equal(res.reason, VID_STOP_POWEROFF);
	assert_true(res.result_written);
	assert_int_equal(res.result, 0x2a);
}

static void test_basic_watchdog(void **state)
{
	struct mg_harness_hooks hooks = { .timeout_s = 1 };
	struct mg_result res;

	/* "hang" makes the guest halt with interrupts off before writing a result: only the watchdog ends it. */
	assert_int_equal(mg_run("g_basic", 1, 32, "hang", &hooks, &res), 0);
	mg_result_print("g_basic hang", &res);
	assert_int_equal(res.reason, VID_STOP_HOST_REQUEST);
	assert_false(res.result_written);
	assert_true(res.seconds >= 0.9);
}

static void test_basic_unexpected_trap(void **state)
{
	struct mg_result res;

	/* The runtime's default handler reports vector, error code, RIP (low, high) and fails with 0xe0000000 | 6. */
	assert_int_equal(mg_run("g_basic", 1, 32, "trap", NULL, &res), 0);
	mg_result_print("g_basic trap", &res);
	assert_true(mg_result_is(&res, 0xe0000006));
	assert_int_equal(res.nvalues, 4 + 4);
	assert_int_equal(res.values[4], 6);
	assert_int_equal(res.values[5], 0);
	assert_in_range(res.values[6], 0x100000, 0x200000); /* RIP inside the image */
	assert_int_equal(res.values[7], 0);
	assert_non_null(strstr(res.text, "unexpected trap: vector 6"));
}

static void test_basic_unexpected_interrupt(void **state)
{
	struct mg_result res;

	/* An interrupt on a vector without a handler (not-present gate -> #NP with the IDT error code) names it. */
	assert_int_equal(mg_run("g_basic", 1, 32, "irq", NULL, &res), 0);
	mg_result_print("g_basic irq", &res);
	assert_true(mg_result_is(&res, 0xe0000077));
	assert_int_equal(res.nvalues, 4 + 4);
	assert_int_equal(res.values[4], 0x77);
	assert_int_equal(res.values[5] & ~1u, (0x77u << 3) | 2); /* IDT bit; EXT (bit 0) for an external event */
	assert_non_null(strstr(res.text, "interrupt on vector 119 without a handler"));
}

static void test_missing_guest(void **state)
{
	struct mg_result res;

	assert_int_equal(mg_run("no-such-guest", 1, 32, NULL, NULL, &res), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_pass),
		cmocka_unit_test(test_basic_failure_code),
		cmocka_unit_test(test_basic_watchdog),
		cmocka_unit_test(test_basic_unexpected_trap),
		cmocka_unit_test(test_basic_unexpected_interrupt),
		cmocka_unit_test(test_missing_guest),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
