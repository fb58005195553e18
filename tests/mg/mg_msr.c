// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_msr.c - MSR intercepts: a registered range (0x40000000-0x400000ff, where Hyper-V's synthetic MSRs
 * will live) reaches the handler for rdmsr and wrmsr with the right index and value; -EPERM and -EINVAL from the
 * handler and an MSR nobody claims raise #GP in the guest (which skips the instruction and reports the index).
 * Guest: guest/tests/g_msr.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "mg_harness.h"

#define MSR_BASE 0x40000000u
#define MAX_LOG 32

struct msr_access {
	uint32_t index;
	bool is_write;
	uint64_t value;
};

struct msr_dev {
	pthread_mutex_t lock;
	uint64_t regs[16];
	struct msr_access a[MAX_LOG];
	unsigned n;
};

static int msr_handler(void *opaque, struct vid_vp *vp, uint32_t index, bool is_write, uint64_t *value)
{
	struct msr_dev *dev = opaque;
	int ret = 0;

	pthread_mutex_lock(&dev->lock);
	if (dev->n < MAX_LOG)
		dev->a[dev->n++] = (struct msr_access){ index, is_write, is_write ? *value : 0 };
	if (index < MSR_BASE + 16) {
		if (is_write)
			dev->regs[index - MSR_BASE] = *value;
		else
			*value = dev->regs[index - MSR_BASE];
	} else if (index == MSR_BASE + 0x10) {
		if (is_write)
			ret = -EPERM;
		else
			*value = 0xfeedface12345678ull;
	} else if (index == MSR_BASE + 0x30 && !is_write) {
		*value = 0;
	} else if (index == MSR_BASE + 0x30) {
		ret = -EINVAL;
	} else {
		ret = -EPERM;
	}
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

static int msr_setup(void *opaque, struct vid_partition *part)
{
	return vid_msr_register(part, MSR_BASE, 0x100, msr_handler, opaque);
}

static void test_msr(void **state)
{
	static const struct msr_access expect[] = {
		{ MSR_BASE + 0x00, true, 0x1122334455667788ull },
		{ MSR_BASE + 0x05, true, 5 },
		{ MSR_BASE + 0x00, false, 0 },
		{ MSR_BASE + 0x05, false, 0 },
		{ MSR_BASE + 0x10, false, 0 },
		{ MSR_BASE + 0x10, true, 1 },
		{ MSR_BASE + 0x20, false, 0 },
		{ MSR_BASE + 0x20, true, 1 },
		{ MSR_BASE + 0x30, true, 1 },
	};
	static const uint32_t gp_msrs[] = { MSR_BASE + 0x10, MSR_BASE + 0x20, MSR_BASE + 0x20, MSR_BASE + 0x30,
					    MSR_BASE + 0x100 };
	struct msr_dev dev = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct mg_harness_hooks hooks = { .opaque = &dev, .setup = msr_setup };
	struct mg_result res;

	assert_int_equal(mg_run("g_msr", 1, 32, NULL, &hooks, &res), 0);
	mg_result_print("g_msr", &res);
	assert_true(mg_result_is(&res, 0));
	assert_int_equal(dev.n, sizeof(expect) / sizeof(expect[0]));
	for (unsigned i = 0; i < dev.n; i++) {
		assert_int_equal(dev.a[i].index, expect[i].index);
		assert_int_equal(dev.a[i].is_write, expect[i].is_write);
		assert_int_equal(dev.a[i].value, expect[i].value);
	}
	/* The guest reported each #GP's MSR index, then the #GP count. */
	assert_int_equal(res.nvalues, 6);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(res.values[i], gp_msrs[i]);
	assert_int_equal(res.values[5], 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msr),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
