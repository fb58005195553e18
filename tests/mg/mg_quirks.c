// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_quirks.c - the platform quirks' userspace instruction fallbacks (vid/quirks.c) give the
 * architectural result: int3 -> #BP, fwait, LDMXCSR/STMXCSR in several addressing forms. Guest: g_quirks.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mg_harness.h"

static void test_quirk_instructions(void **state)
{
	struct mg_result res;

	assert_int_equal(mg_run("g_quirks", 1, 32, NULL, NULL, &res), 0);
	mg_result_print("g_quirks", &res);
	assert_int_equal(res.reason, VID_STOP_POWEROFF);
	assert_true(res.result_written);
	assert_int_equal(res.result, 0);
	assert_int_equal(res.nvalues, 5);
	assert_int_equal(res.values[0], 1);
	assert_int_equal(res.values[1], 2);
	assert_int_equal(res.values[2], 0x1f80 | (1u << 13));
	assert_int_equal(res.values[3], 0x1f80 | (2u << 13));
	assert_int_equal(res.values[4], 0x1f80);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_quirk_instructions) };

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
