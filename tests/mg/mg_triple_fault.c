// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_triple_fault.c - a guest exception with an empty IDT stops the partition with
 * VID_STOP_TRIPLE_FAULT (KVM_EXIT_SHUTDOWN), not an internal error or a hang. Guest: guest/tests/g_triple_fault.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mg_harness.h"

static void run_case(const char *cmdline)
{
	struct mg_result res;

	assert_int_equal(mg_run("g_triple_fault", 1, 32, cmdline, NULL, &res), 0);
	mg_result_print(cmdline ? cmdline : "g_triple_fault", &res);
	assert_int_equal(res.reason, VID_STOP_TRIPLE_FAULT);
	assert_false(res.result_written);
	assert_int_equal(res.nvalues, 1);
	assert_int_equal(res.values[0], 1);
}

static void test_triple_fault_ud(void **state)
{
	run_case(NULL);
}

static void test_triple_fault_int3(void **state)
{
	run_case("int3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_triple_fault_ud),
		cmocka_unit_test(test_triple_fault_int3),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
