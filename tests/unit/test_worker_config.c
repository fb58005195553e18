// SPDX-License-Identifier: MIT
/* Unit tests for the worker's configuration helpers (size parsing, stop reason -> exit status). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/vm.h"

static void test_parse_size(void **state)
{
	uint64_t v = 0;

	assert_int_equal(vm_parse_size("256M", &v), 0);
	assert_int_equal(v, 256ull << 20);
	assert_int_equal(vm_parse_size("1G", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(vm_parse_size("2GiB", &v), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(vm_parse_size("65536k", &v), 0);
	assert_int_equal(v, 64ull << 20);
	assert_int_equal(vm_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(vm_parse_size("", &v), -EINVAL);
	assert_int_equal(vm_parse_size("M", &v), -EINVAL);
	assert_int_equal(vm_parse_size("12Q", &v), -EINVAL);
	assert_int_equal(vm_parse_size("1G junk", &v), -EINVAL);
	assert_int_equal(vm_parse_size("99999999999999999999", &v), -EINVAL);
	assert_int_equal(vm_parse_size("17179869184T", &v), -EINVAL); /* overflows 64 bits */
}

static void test_exit_status(void **state)
{
	assert_int_equal(vm_exit_status_from_stop(VID_STOP_POWEROFF), VM_EXIT_OK);
	assert_int_equal(vm_exit_status_from_stop(VID_STOP_RESET), VM_EXIT_OK);
	assert_int_equal(vm_exit_status_from_stop(VID_STOP_TRIPLE_FAULT), VM_EXIT_TRIPLE_FAULT);
	assert_int_equal(vm_exit_status_from_stop(VID_STOP_GUEST_PANIC), VM_EXIT_GUEST_PANIC);
	assert_int_equal(vm_exit_status_from_stop(VID_STOP_HOST_REQUEST), VM_EXIT_HOST_STOP);
	assert_int_equal(vm_exit_status_from_stop(VID_STOP_INTERNAL_ERROR), VM_EXIT_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_exit_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
