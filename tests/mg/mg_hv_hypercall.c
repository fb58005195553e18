// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_hv_hypercall.c - GUEST_OS_ID, the hypercall page (enable, ENDBR64, unknown call code, registers
 * preserved), VP_INDEX on 2 VPs, disable (TLFS 3.13, 3.8; guest-core.md 1.5, 1.7). Guest:
 * guest/tests/g_hv_hypercall.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mg_hv_common.h"

#define HC_AP 0x1000u
#define HC_AP_STATUS 0x2000u

static void test_hypercall(void **state)
{
	struct mg_hv t;
	struct mg_result res;
	struct hvi_stats s;

	mg_hv_init(&t, HVI_PROFILE_RECOMMENDED, 2);
	assert_int_equal(mg_hv_run(&t, "g_hv_hypercall", NULL, NULL, &res, &s), 0);
	mg_hv_fini(&t);
	assert_true(mg_result_is(&res, 0));
	assert_int_equal(res.nvalues, 11);
	assert_int_equal(res.values[0], 0);                               /* HYPERCALL at reset */
	assert_int_equal(res.values[1] & HV_X64_MSR_HYPERCALL_ENABLE, 0); /* not enabled without GUEST_OS_ID */
	assert_int_equal(res.values[2], 0);                               /* ... and no #GP for trying */
	assert_int_equal(res.values[3] & 0xfff, HV_X64_MSR_HYPERCALL_ENABLE);
	assert_int_not_equal(res.values[3] & ~0xfffu, 0);
	assert_int_equal(res.values[4], 0xfa1e0ff3u);                    /* ENDBR64 */
	assert_int_equal(res.values[5], HV_STATUS_INVALID_HYPERCALL_CODE);
	assert_int_equal(res.values[6], 0);                               /* registers preserved */
	assert_int_equal(res.values[7], 0);                               /* VP index of the BSP */
	assert_int_equal(res.values[8], HC_AP | 1);                       /* ... of the AP */
	assert_int_equal(res.values[9], HC_AP_STATUS | HV_STATUS_INVALID_HYPERCALL_CODE);
	assert_int_equal(res.values[10] & HV_X64_MSR_HYPERCALL_ENABLE, 0);
	/* Unknown code x3 (BSP, preserved check, AP) + the fast signal to connection 0. */
	assert_true(s.hypercalls >= 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hypercall),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
