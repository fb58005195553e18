// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_user_syscall.c - which ways from guest user mode into the guest kernel work on this KVM
 * (shared/reference/platform.md "Guest user mode and system calls"). Guest: guest/tests/g_user.c.
 *
 * Runs each case of the guest in a fresh partition and prints what it observed: int 0x80 from 64-bit and from
 * 32-bit compatibility-mode user code, syscall, sysenter, and #UD raised in user mode. This is a record of the
 * platform, not a specification: it asserts only that every case ends cleanly (the guest's result, no internal
 * error, no triple fault, no hang). The outcome table goes to stderr.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "mg_harness.h"

#define USER_CASE 0xca5e0000u
#define USER_F_KERNEL_REACHED (1u << 0)
#define USER_F_HANDLER_CPL0 (1u << 1)
#define USER_F_FROM_USER (1u << 2)
#define USER_F_ON_RSP0 (1u << 3)
#define USER_F_RETURNED (1u << 4)
#define USER_F_ENTRY_REACHED (1u << 5)
#define USER_F_ENTRY_CPL0 (1u << 6)
#define USER_F_EXITED (1u << 7)
#define USER_F_FAULT (1u << 8)
#define USER_F_INT80_GATE (1u << 9)
#define USER_F_INT80_UD (1u << 10)

static const char *const case_names[] = { "int80_64", "int80_32", "syscall64", "sysenter32", "ud_64", "ud_32",
					  "sysenter32_sysret", "sysenter32_iret" };

static void describe(uint32_t flags, char *buf, size_t len)
{
	static const char *const names[] = { "kernel-reached", "handler-cpl0", "from-user", "on-rsp0",
					     "returned-to-user", "entry-reached", "entry-cpl0", "exited", "fault",
					     "int80-gate", "int80-raised-#UD" };
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned b = 0; b < sizeof(names) / sizeof(names[0]); b++)
		if (flags & (1u << b))
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", names[b]);
}

/* Host TSC ticks per microsecond (the guest's TSC runs at the host's rate: no TSC scaling here). */
static double tsc_per_us(void)
{
	static double rate;
	struct timespec t0, t1, d = { .tv_sec = 0, .tv_nsec = 20000000 };
	uint64_t c0, c1;

	if (rate > 0)
		return rate;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c0 = __rdtsc();
	nanosleep(&d, NULL);
	c1 = __rdtsc();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	rate = (double)(c1 - c0) / ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3);
	return rate;
}

static void run_case(unsigned c)
{
	const char *name = case_names[c];
	struct mg_result res;
	char flags[160];

	assert_int_equal(mg_run("g_user", 1, 32, name, NULL, &res), 0);
	mg_result_print(name, &res);
	if (res.result_written && res.nvalues >= 8 && res.values[0] == (USER_CASE | c)) {
		const uint32_t *v = res.values;

		describe(v[1], flags, sizeof(flags));
		fprintf(stderr,
			"mg[g_user]: %-10s | %s | cs %#x cpl %u | fault %s%u (frame cs %#x) | entry ran %u times"
			" | %.1f us per call of the timed loop | run %.3f s\n",
			name, flags, v[2], v[3], v[4] ? "#" : "none ", v[4] ? v[4] - 1 : 0, v[7], v[6],
			v[5] / tsc_per_us(), res.seconds);
	} else {
		fprintf(stderr, "mg[g_user]: %-10s | no report: %s (%s)\n", name, vid_stop_reason_name(res.reason),
			res.stop_message);
	}
	assert_int_not_equal(res.reason, VID_STOP_INTERNAL_ERROR);
	assert_true(mg_result_is(&res, 0));
	assert_true(res.nvalues >= 8);
	assert_int_equal(res.values[0], USER_CASE | c);
}

static void test_int80_64(void **state)
{
	run_case(0);
}

static void test_int80_32(void **state)
{
	run_case(1);
}

static void test_syscall64(void **state)
{
	run_case(2);
}

static void test_sysenter32(void **state)
{
	run_case(3);
}

static void test_ud_64(void **state)
{
	run_case(4);
}

static void test_ud_32(void **state)
{
	run_case(5);
}

static void test_sysenter32_sysret(void **state)
{
	run_case(6);
}

static void test_sysenter32_iret(void **state)
{
	run_case(7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int80_64), cmocka_unit_test(test_int80_32), cmocka_unit_test(test_syscall64),
		cmocka_unit_test(test_sysenter32), cmocka_unit_test(test_ud_64), cmocka_unit_test(test_ud_32),
		cmocka_unit_test(test_sysenter32_sysret), cmocka_unit_test(test_sysenter32_iret),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
