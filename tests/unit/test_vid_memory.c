// SPDX-License-Identifier: MIT
/* Unit tests for vid/memory.c: layout around the MMIO hole and the bounds checks of every accessor. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vid/memory.h"

static void test_small_ram_one_region(void **state)
{
	struct vid_memory *m;
	const struct vid_memory_region *r;

	assert_int_equal(vid_memory_create((64ull << 20) + 1, &m), 0);
	assert_int_equal(vid_memory_size(m), (64ull << 20) + VID_PAGE_SIZE); /* rounded up to a page */
	assert_int_equal(vid_memory_region_count(m), 1);
	r = vid_memory_region(m, 0);
	assert_non_null(r);
	assert_int_equal(r->gpa, 0);
	assert_null(vid_memory_region(m, 1));
	vid_memory_destroy(m);
}

static void test_large_ram_splits_at_hole(void **state)
{
	struct vid_memory *m;
	const struct vid_memory_region *lo, *hi;
	uint8_t b = 0x5a, out = 0;

	/* 4 GiB of RAM: 3 GiB below the hole, 1 GiB at 4 GiB. MAP_NORESERVE: nothing is touched but two pages. */
	assert_int_equal(vid_memory_create(4ull << 30, &m), 0);
	assert_int_equal(vid_memory_region_count(m), 2);
	lo = vid_memory_region(m, 0);
	hi = vid_memory_region(m, 1);
	assert_int_equal(lo->size, VID_LOWMEM_TOP);
	assert_int_equal(hi->gpa, VID_HIGHMEM_BASE);
	assert_int_equal(hi->size, (4ull << 30) - VID_LOWMEM_TOP);
	/* The hole is not RAM; both edges of it are refused, and a range spanning it too. */
	assert_int_equal(vid_memory_write(m, VID_LOWMEM_TOP, &b, 1), -EFAULT);
	assert_int_equal(vid_memory_write(m, VID_HIGHMEM_BASE - 1, &b, 1), -EFAULT);
	assert_null(vid_memory_ptr(m, VID_LOWMEM_TOP - 1, 2));
	assert_int_equal(vid_memory_write(m, VID_HIGHMEM_BASE, &b, 1), 0);
	assert_int_equal(vid_memory_read(m, VID_HIGHMEM_BASE, &out, 1), 0);
	assert_int_equal(out, 0x5a);
	/* The high region is backed by the memfd right after the low one. */
	assert_int_equal(hi->fd_offset, VID_LOWMEM_TOP);
	assert_ptr_equal(vid_memory_ptr(m, VID_HIGHMEM_BASE, 1), hi->hva);
	vid_memory_destroy(m);
}

static void test_bounds(void **state)
{
	struct vid_memory *m;
	uint8_t buf[16] = { 1, 2, 3 };
	uint64_t size;

	assert_int_equal(vid_memory_create(1ull << 20, &m), 0);
	size = vid_memory_size(m);
	assert_int_equal(vid_memory_write(m, size - 16, buf, 16), 0);
	assert_int_equal(vid_memory_write(m, size - 15, buf, 16), -EFAULT);
	assert_int_equal(vid_memory_read(m, size, buf, 1), -EFAULT);
	assert_int_equal(vid_memory_read(m, UINT64_MAX, buf, 2), -EFAULT); /* gpa + len would wrap */
	assert_null(vid_memory_ptr(m, 0, UINT64_MAX));
	assert_null(vid_memory_ptr(m, 8, UINT64_MAX - 4));
	assert_null(vid_memory_ptr(m, 0, 0));
	assert_int_equal(vid_memory_zero(m, size - 16, 16), 0);
	assert_int_equal(vid_memory_read(m, size - 16, buf, 3), 0);
	assert_int_equal(buf[0] | buf[1] | buf[2], 0);
	assert_int_equal(vid_memory_read(m, 0, buf, 0), 0);
	vid_memory_destroy(m);
	vid_memory_destroy(NULL);
}

static void test_bad_sizes(void **state)
{
	struct vid_memory *m = (void *)1;

	assert_int_equal(vid_memory_create(0, &m), -EINVAL);
	assert_null(m);
	assert_int_equal(vid_memory_create(4096, &m), -EINVAL);
	assert_int_equal(vid_memory_create(UINT64_MAX, &m), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_ram_one_region),
		cmocka_unit_test(test_large_ram_splits_at_hole),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_bad_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
