// SPDX-License-Identifier: MIT
/* Unit tests for vdev/pvpanic.c: the capability read, panic and crash-loaded events, random accesses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "boot/layout.h"
#include "vdev/pvpanic.h"

struct rec {
	int panics;
	uint32_t last_code;
	int others;
};

static void on_panic(void *opaque, uint32_t code)
{
	struct rec *r = opaque;

	r->panics++;
	r->last_code = code;
}

static void on_other(void *opaque)
{
	((struct rec *)opaque)->others++;
}

static void test_caps_and_events(void **state)
{
	struct rec rec = { 0 };
	struct vdev_board_ops board = { .poweroff = on_other, .reset = on_other, .panic = on_panic, .opaque = &rec };
	struct vdev_pvpanic *p;
	uint8_t v = 0;
	uint8_t w[4] = { 0, 0, 0, 0 };

	assert_int_equal(vdev_pvpanic_create(&board, &p), 0);
	/* Linux pvpanic probe: capability = ioread8() & (PANICKED | CRASH_LOADED). */
	assert_int_equal(vdev_pvpanic_pio(p, NULL, LAYOUT_PVPANIC_PORT, false, &v, 1), 0);
	assert_int_equal(v, VDEV_PVPANIC_PANICKED | VDEV_PVPANIC_CRASH_LOADED);
	/* Crash loaded: logged, no stop. */
	v = VDEV_PVPANIC_CRASH_LOADED;
	assert_int_equal(vdev_pvpanic_pio(p, NULL, LAYOUT_PVPANIC_PORT, true, &v, 1), 0);
	assert_int_equal(rec.panics, 0);
	/* Panicked. */
	v = VDEV_PVPANIC_PANICKED;
	assert_int_equal(vdev_pvpanic_pio(p, NULL, LAYOUT_PVPANIC_PORT, true, &v, 1), 0);
	assert_int_equal(rec.panics, 1);
	assert_int_equal(rec.last_code, 1);
	v = 0x03;
	assert_int_equal(vdev_pvpanic_pio(p, NULL, LAYOUT_PVPANIC_PORT, true, &v, 1), 0);
	assert_int_equal(rec.panics, 2);
	assert_int_equal(rec.last_code, 3);
	/* Unknown bits alone and zero: nothing. */
	v = 0x04;
	assert_int_equal(vdev_pvpanic_pio(p, NULL, LAYOUT_PVPANIC_PORT, true, &v, 1), 0);
	v = 0;
	assert_int_equal(vdev_pvpanic_pio(p, NULL, LAYOUT_PVPANIC_PORT, true, &v, 1), 0);
	assert_int_equal(rec.panics, 2);
	assert_int_equal(vdev_pvpanic_count(p), 2);
	/* A 32-bit read: the device answers the first byte only. */
	assert_int_equal(vdev_pvpanic_pio(p, NULL, LAYOUT_PVPANIC_PORT, false, w, 4), 0);
	assert_int_equal(w[0], 3);
	assert_int_equal(w[1], 0xff);
	assert_int_equal(rec.others, 0);
	assert_int_equal(vdev_pvpanic_pio(p, NULL, LAYOUT_PVPANIC_PORT, false, NULL, 1), -EINVAL);
	vdev_pvpanic_destroy(p);
	vdev_pvpanic_destroy(NULL);
}

static void test_random_accesses(void **state)
{
	struct rec rec = { 0 };
	struct vdev_board_ops board = { .poweroff = on_other, .reset = on_other, .panic = on_panic, .opaque = &rec };
	struct vdev_pvpanic *p;
	int expect = 0;

	assert_int_equal(vdev_pvpanic_create(&board, &p), 0);
	srand(5);
	for (int i = 0; i < 5000; i++) {
		uint8_t data[8];
		unsigned size = (unsigned)(rand() % 10);
		bool wr = rand() & 1;
		int r;

		for (unsigned j = 0; j < sizeof(data); j++)
			data[j] = (uint8_t)rand();
		r = vdev_pvpanic_pio(p, NULL, LAYOUT_PVPANIC_PORT, wr, data, size);
		assert_int_equal(r, (size >= 1 && size <= 8) ? 0 : -EINVAL);
		if (!r && wr && (data[0] & 1))
			expect++;
	}
	assert_int_equal(rec.panics, expect);
	assert_int_equal(rec.others, 0);
	vdev_pvpanic_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps_and_events),
		cmocka_unit_test(test_random_accesses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
