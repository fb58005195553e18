// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_pio.c - port I/O exits reach a registered handler with the right port, size, direction and data;
 * reads return the handler's answer; string I/O is split into single accesses; unclaimed ports read all ones.
 * Guest: guest/tests/g_pio.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "mg_harness.h"

#define MG_PIO_BASE 0x5e0
#define MG_PIO_COUNT 8
#define MAX_LOG 64

struct pio_access {
	uint16_t port;
	bool is_write;
	unsigned size;
	uint32_t value;
};

struct pio_log {
	pthread_mutex_t lock;
	struct pio_access a[MAX_LOG];
	unsigned n;
};

static int pio_handler(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data, unsigned size)
{
	struct pio_log *log = opaque;
	uint32_t v = 0;

	if (is_write) {
		memcpy(&v, data, size);
	} else {
		v = 0x11223344u ^ (uint32_t)(port - MG_PIO_BASE);
		memcpy(data, &v, size);
		if (size < 4)
			v &= (1u << (8 * size)) - 1;
	}
	pthread_mutex_lock(&log->lock);
	if (log->n < MAX_LOG)
		log->a[log->n++] = (struct pio_access){ port, is_write, size, v };
	pthread_mutex_unlock(&log->lock);
	return 0;
}

static int pio_setup(void *opaque, struct vid_partition *part)
{
	return vid_pio_register(part, MG_PIO_BASE, MG_PIO_COUNT, pio_handler, opaque);
}

static void test_pio(void **state)
{
	static const struct pio_access expect[] = {
		{ MG_PIO_BASE + 0, true, 1, 0x5a },
		{ MG_PIO_BASE + 2, true, 2, 0xbeef },
		{ MG_PIO_BASE + 4, true, 4, 0xdeadbeef },
		{ MG_PIO_BASE + 1, false, 1, 0x45 },
		{ MG_PIO_BASE + 2, false, 2, 0x3346 },
		{ MG_PIO_BASE + 4, false, 4, 0x11223340 },
		{ MG_PIO_BASE + 0, true, 1, 'a' }, /* rep outsb */
		{ MG_PIO_BASE + 0, true, 1, 'b' },
		{ MG_PIO_BASE + 0, true, 1, 'c' },
		{ MG_PIO_BASE + 6, false, 2, 0x3342 }, /* rep insw */
		{ MG_PIO_BASE + 6, false, 2, 0x3342 },
	};
	struct pio_log log = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct mg_harness_hooks hooks = { .opaque = &log, .setup = pio_setup };
	struct mg_result res;

	assert_int_equal(mg_run("g_pio", 1, 32, NULL, &hooks, &res), 0);
	mg_result_print("g_pio", &res);
	assert_true(mg_result_is(&res, 0));
	assert_int_equal(log.n, sizeof(expect) / sizeof(expect[0]));
	for (unsigned i = 0; i < log.n; i++) {
		assert_int_equal(log.a[i].port, expect[i].port);
		assert_int_equal(log.a[i].is_write, expect[i].is_write);
		assert_int_equal(log.a[i].size, expect[i].size);
		assert_int_equal(log.a[i].value, expect[i].value);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pio),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
