// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_hv_stimer.c - synthetic timers in the FULL profile: STIMER0 periodic in direct mode, STIMER1
 * one-shot in message mode (HVMSG_TIMER_EXPIRED in the SINT's slot). TLFS 12.2. Guest: guest/tests/g_hv_stimer.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mg_hv_common.h"

#define STIMER_FIRES 5

static void test_stimer(void **state)
{
	struct mg_hv t;
	struct mg_result res;
	struct hvi_stats s;

	mg_hv_init(&t, HVI_PROFILE_FULL, 1);
	assert_int_equal(mg_hv_run(&t, "g_hv_stimer", NULL, NULL, &res, &s), 0);
	mg_hv_fini(&t);
	assert_true(mg_result_is(&res, 0));
	assert_int_equal(res.nvalues, 7);
	assert_true(res.values[0] >= STIMER_FIRES);
	assert_in_range(res.values[1], (STIMER_FIRES - 1) * 10000, 10000000); /* >= 4 periods, < 1 s */
	assert_int_equal(res.values[2], HVMSG_TIMER_EXPIRED);
	assert_int_equal(res.values[3], 1);
	assert_int_equal(res.values[4], 1);                                     /* expiration_time == COUNT */
	assert_true(res.values[5] < 10000000);                                  /* delivered within 1 s */
	assert_int_equal(res.values[6], 3u << HV_STIMER_SINT_SHIFT);             /* one-shot: disabled after */
	assert_true(s.stimer_expirations >= STIMER_FIRES + 1);
	assert_true(s.messages_delivered >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stimer),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
