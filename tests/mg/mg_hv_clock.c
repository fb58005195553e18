// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_hv_clock.c - reference time: the TSC page enabled before GUEST_OS_ID, its scale against
 * TSC_FREQUENCY, monotonic reads, agreement with TIME_REF_COUNT and with hvi_reference_time() on the host
 * (TLFS 12.4, 12.7; guest-core.md 1.5-1.6). Guest: guest/tests/g_hv_clock.c (it documents the bound).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mg_hv_common.h"

#define CLOCK_BOUND 1000 /* ticks of 100 ns: see g_hv_clock.c */

static void test_clock(void **state)
{
	struct mg_hv t;
	struct mg_result res;
	uint64_t host_after, guest_last, freq;

	mg_hv_init(&t, HVI_PROFILE_RECOMMENDED, 1);
	assert_int_equal(mg_hv_run(&t, "g_hv_clock", NULL, NULL, &res, NULL), 0);
	host_after = hvi_reference_time(t.hv); /* right after the run: the bound below is against this */
	mg_hv_fini(&t);
	assert_true(mg_result_is(&res, 0));
	assert_int_equal(res.nvalues, 11);
	assert_int_equal(res.values[0] & 0xfff, HV_X64_MSR_TSC_REFERENCE_ENABLE);
	assert_int_not_equal(res.values[1], 0);           /* sequence */
	freq = (uint64_t)res.values[3] << 32 | res.values[2];
	assert_in_range(freq, 100000000ull, 10000000000ull); /* 100 MHz .. 10 GHz */
	assert_in_range(res.values[4], 10000000 - 10, 10000000);
	assert_int_equal(res.values[5], 0);                /* never backwards */
	assert_true((int32_t)res.values[6] >= -CLOCK_BOUND); /* MSR after the first page read */
	assert_true((int32_t)res.values[7] >= -CLOCK_BOUND); /* ... and before the second */
	fprintf(stderr, "mg[g_hv_clock]: TSC %llu Hz; MSR - page >= %d, page - MSR >= %d, bracket <= %d ticks\n",
		(unsigned long long)freq, (int32_t)res.values[6], (int32_t)res.values[7], (int32_t)res.values[8]);
	/* The guest's last reading is in the past of the host's clock after the run, and not long before it. */
	guest_last = (uint64_t)res.values[10] << 32 | res.values[9];
	assert_true(guest_last <= host_after);
	assert_true(host_after - guest_last < 10ull * 10000000ull); /* < 10 s */
	assert_true(guest_last > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
