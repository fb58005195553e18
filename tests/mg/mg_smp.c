// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_smp.c - the guest starts its APs with INIT-SIPI-SIPI through the in-kernel LAPIC (2 and 4 VPs);
 * each AP reaches long mode through the real-mode trampoline and reports its APIC id; the BSP sees them all.
 * Guest: guest/tests/g_smp.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "mg_harness.h"

#define SMP_AP 0x1000u
#define SMP_ALL 0x2000u

static void run_smp(unsigned cpus)
{
	char cmdline[32], name[48];
	struct mg_result res;
	unsigned seen[64] = { 0 };

	snprintf(cmdline, sizeof(cmdline), "cpus=%u", cpus);
	snprintf(name, sizeof(name), "g_smp %s", cmdline);
	assert_int_equal(mg_run("g_smp", cpus, 32, cmdline, NULL, &res), 0);
	mg_result_print(name, &res);
	assert_true(mg_result_is(&res, 0));
	/* One SMP_AP | id per AP, in any order, then SMP_ALL | count. */
	assert_int_equal(res.nvalues, cpus);
	for (unsigned i = 0; i + 1 < cpus; i++) {
		uint32_t id = res.values[i] & 0xfff;

		assert_int_equal(res.values[i] & ~0xfffu, SMP_AP);
		assert_in_range(id, 1, cpus - 1);
		seen[id]++;
	}
	for (unsigned id = 1; id < cpus; id++)
		assert_int_equal(seen[id], 1);
	assert_int_equal(res.values[cpus - 1], SMP_ALL | (cpus - 1));
}

static void test_smp_2(void **state)
{
	run_smp(2);
}

static void test_smp_4(void **state)
{
	run_smp(4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smp_2),
		cmocka_unit_test(test_smp_4),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
