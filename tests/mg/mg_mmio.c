// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_mmio.c - MMIO exits in the hole reach a registered handler with the right address, size, direction
 * and data (1, 2, 4, 8 bytes); reads return the handler's bytes; unclaimed MMIO reads all ones.
 * Guest: guest/tests/g_mmio.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mg_harness.h"

#define MG_MMIO_BASE 0xd0000000ull
#define MG_MMIO_SIZE 0x1000u
#define MAX_LOG 64

struct mmio_access {
	uint64_t gpa;
	bool is_write;
	unsigned size;
	uint64_t value;
};

struct mmio_dev {
	pthread_mutex_t lock;
	uint8_t regs[MG_MMIO_SIZE];
	struct mmio_access a[MAX_LOG];
	unsigned n;
};

static int mmio_handler(void *opaque, struct vid_vp *vp, uint64_t gpa, bool is_write, uint8_t *data, unsigned size)
{
	struct mmio_dev *dev = opaque;
	uint64_t off = gpa - MG_MMIO_BASE, v = 0;

	if (off + size > MG_MMIO_SIZE)
		return -EIO;
	pthread_mutex_lock(&dev->lock);
	if (is_write)
		memcpy(dev->regs + off, data, size);
	else
		memcpy(data, dev->regs + off, size);
	memcpy(&v, data, size);
	if (dev->n < MAX_LOG)
		dev->a[dev->n++] = (struct mmio_access){ gpa, is_write, size, v };
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

static int mmio_setup(void *opaque, struct vid_partition *part)
{
	return vid_mmio_register(part, MG_MMIO_BASE, MG_MMIO_SIZE, mmio_handler, opaque);
}

static uint64_t pattern(unsigned off, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)((off + i) ^ 0x5a) << (8 * i);
	return v;
}

static void test_mmio(void **state)
{
	const struct mmio_access expect[] = {
		{ MG_MMIO_BASE + 0x10, false, 1, pattern(0x10, 1) },
		{ MG_MMIO_BASE + 0x20, false, 2, pattern(0x20, 2) },
		{ MG_MMIO_BASE + 0x40, false, 4, pattern(0x40, 4) },
		{ MG_MMIO_BASE + 0x80, false, 8, pattern(0x80, 8) },
		{ MG_MMIO_BASE + 0x100, true, 1, 0x11 },
		{ MG_MMIO_BASE + 0x102, true, 2, 0x2233 },
		{ MG_MMIO_BASE + 0x104, true, 4, 0x44556677 },
		{ MG_MMIO_BASE + 0x108, true, 8, 0x8899aabbccddeeffull },
		{ MG_MMIO_BASE + 0x100, false, 8, 0x4455667722330011ull | (pattern(0x101, 1) << 8) },
		{ MG_MMIO_BASE + 0x108, false, 8, 0x8899aabbccddeeffull },
	};
	struct mmio_dev *dev = calloc(1, sizeof(*dev));
	struct mg_harness_hooks hooks = { .setup = mmio_setup };
	struct mg_result res;

	assert_non_null(dev);
	pthread_mutex_init(&dev->lock, NULL);
	for (unsigned i = 0; i < MG_MMIO_SIZE; i++)
		dev->regs[i] = (uint8_t)(i ^ 0x5a);
	hooks.opaque = dev;
	assert_int_equal(mg_run("g_mmio", 1, 32, NULL, &hooks, &res), 0);
	mg_result_print("g_mmio", &res);
	assert_true(mg_result_is(&res, 0));
	assert_int_equal(dev->n, sizeof(expect) / sizeof(expect[0]));
	for (unsigned i = 0; i < dev->n; i++) {
		assert_int_equal(dev->a[i].gpa, expect[i].gpa);
		assert_int_equal(dev->a[i].is_write, expect[i].is_write);
		assert_int_equal(dev->a[i].size, expect[i].size);
		assert_int_equal(dev->a[i].value, expect[i].value);
	}
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mmio),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
