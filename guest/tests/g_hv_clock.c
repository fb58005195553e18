/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_hv_clock.c - the partition reference time (tests/mg/mg_hv_clock.c): the reference TSC page and
 * TIME_REF_COUNT (TLFS 12.4, 12.7; Linux drivers/clocksource/hyperv_timer.c).
 *
 * As Linux does, the page is enabled before GUEST_OS_ID is written (ms_hyperv_init_platform() runs before
 * hyperv_init()). Checks: REFERENCE_TSC reads back enable | GPA; the page has a non-zero sequence and scale; the
 * scale agrees with TSC_FREQUENCY (10^7 ticks per second); CLOCK_READS page reads never go backwards; in
 * CLOCK_BRACKETS brackets "page, TIME_REF_COUNT, page" the MSR value lies between the two page readings, give or
 * take CLOCK_BOUND ticks.
 *
 * CLOCK_BOUND: both clocks are the same function of the guest TSC on the host (hv/reftime.c), so the only error
 * is rounding plus the order of the reads: the MSR value is taken during the exit, after the first page read
 * and before the second, so ideally both differences are >= 0. Measured on the development machine (2026-11):
 * MSR - first page read >= 116 ticks, second page read - MSR >= 93 ticks, a whole bracket (MSR exit + two page
 * reads) <= 433 ticks. The check allows each difference to go CLOCK_BOUND = 1000 ticks (100 us) negative: room
 * for rounding and a preempted VP thread, while a wrong scale or offset is off by far more than that.
 *
 * Values: REFERENCE_TSC (low 32 bits), the sequence, TSC_FREQUENCY low and high, ticks per second from the
 * page's scale, backward steps seen, min(MSR - first page read), min(second page read - MSR), max bracket width
 * (all in ticks, signed 32-bit), the last page time (low, high).
 */
#include "rt/hvc.h"

#define CLOCK_READS 500
#define CLOCK_BRACKETS 20
#define CLOCK_BOUND 1000

int mg_main(const struct hvm_start_info *si)
{
	const volatile struct ms_hyperv_tsc_page *p = (const volatile void *)hvc_tsc_page_default;
	uint64_t msr, freq, per_second, t = 0, prev = 0, r, t1, t2;
	int64_t min_d1 = INT64_MAX, min_d2 = INT64_MAX, max_w = 0;
	uint32_t backwards = 0;

	msr = hvc_tsc_page_enable(hvc_tsc_page_default);
	mg_report((uint32_t)msr);
	MG_CHECK(msr == ((uint64_t)(uintptr_t)hvc_tsc_page_default | HV_X64_MSR_TSC_REFERENCE_ENABLE));
	mg_report(p->tsc_sequence);
	MG_CHECK(p->tsc_sequence != 0);
	MG_CHECK(p->tsc_scale != 0);

	freq = rdmsr(HV_X64_MSR_TSC_FREQUENCY);
	mg_report((uint32_t)freq);
	mg_report((uint32_t)(freq >> 32));
	MG_CHECK(freq != 0);
	per_second = (uint64_t)(((unsigned __int128)freq * p->tsc_scale) >> 64);
	mg_report((uint32_t)per_second);
	MG_CHECK(per_second > 10000000ull - 10 && per_second <= 10000000ull);

	for (unsigned i = 0; i < CLOCK_READS; i++) {
		MG_CHECK(hvc_tsc_page_read(p, &t, NULL));
		if (t < prev)
			backwards++;
		prev = t;
	}
	mg_report(backwards);

	for (unsigned i = 0; i < CLOCK_BRACKETS; i++) {
		MG_CHECK(hvc_tsc_page_read(p, &t1, NULL));
		r = hvc_time_ref_count();
		MG_CHECK(hvc_tsc_page_read(p, &t2, NULL));
		if ((int64_t)(r - t1) < min_d1)
			min_d1 = (int64_t)(r - t1);
		if ((int64_t)(t2 - r) < min_d2)
			min_d2 = (int64_t)(t2 - r);
		if ((int64_t)(t2 - t1) > max_w)
			max_w = (int64_t)(t2 - t1);
	}
	mg_report((uint32_t)(int32_t)min_d1);
	mg_report((uint32_t)(int32_t)min_d2);
	mg_report((uint32_t)(int32_t)max_w);
	mg_printf("clock: %lu ticks/s, sequence %u, MSR - page >= %ld, page - MSR >= %ld, bracket <= %ld ticks\n",
		  per_second, p->tsc_sequence, min_d1, min_d2, max_w);
	MG_CHECK(backwards == 0);
	MG_CHECK(min_d1 >= -CLOCK_BOUND);
	MG_CHECK(min_d2 >= -CLOCK_BOUND);

	MG_CHECK(hvc_tsc_page_read(p, &t, NULL));
	mg_report((uint32_t)t);
	mg_report((uint32_t)(t >> 32));
	return 0;
}
