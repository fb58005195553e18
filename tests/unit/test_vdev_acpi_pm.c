// SPDX-License-Identifier: MIT
/* Unit tests for vdev/acpi_pm.c: S5 powers off, other sleep types wake at once, WAK_STS write-1-to-clear, reset. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "boot/layout.h"
#include "vdev/acpi_pm.h"

struct rec {
	int poweroffs, resets, panics;
};

static void on_poweroff(void *opaque)
{
	((struct rec *)opaque)->poweroffs++;
}

static void on_reset(void *opaque)
{
	((struct rec *)opaque)->resets++;
}

static void on_panic(void *opaque, uint32_t code)
{
	((struct rec *)opaque)->panics++;
}

static uint8_t in8(struct vdev_acpi_pm *pm, uint16_t port)
{
	uint8_t v = 0x5a;

	assert_int_equal(vdev_acpi_pm_pio(pm, NULL, port, false, &v, 1), 0);
	return v;
}

static void out8(struct vdev_acpi_pm *pm, uint16_t port, uint8_t v)
{
	assert_int_equal(vdev_acpi_pm_pio(pm, NULL, port, true, &v, 1), 0);
}

static void test_sleep_and_reset(void **state)
{
	struct rec rec = { 0 };
	struct vdev_board_ops board = { on_poweroff, on_reset, on_panic, &rec };
	struct vdev_acpi_pm *pm;

	/* The layout's bit positions are the ones ACPICA uses (actbl.h ACPI_X_*). */
	assert_int_equal(VDEV_ACPI_SLP_TYP_MASK, 0x1c);
	assert_int_equal(VDEV_ACPI_SLP_EN, 0x20);
	assert_int_equal(VDEV_ACPI_WAK_STS, 0x80);
	assert_int_equal(LAYOUT_ACPI_SLEEP_STS_PORT, LAYOUT_ACPI_SLEEP_CTL_PORT + 1);
	assert_int_equal(LAYOUT_ACPI_RESET_PORT, LAYOUT_ACPI_SLEEP_CTL_PORT + 2);

	assert_int_equal(vdev_acpi_pm_create(&board, &pm), 0);
	assert_int_equal(in8(pm, LAYOUT_ACPI_SLEEP_STS_PORT), 0);

	/* acpi_hw_extended_sleep(S5): clear WAK_STS, then SLP_TYP | SLP_EN. */
	out8(pm, LAYOUT_ACPI_SLEEP_STS_PORT, VDEV_ACPI_WAK_STS);
	out8(pm, LAYOUT_ACPI_SLEEP_CTL_PORT, (LAYOUT_ACPI_S5_SLP_TYP << VDEV_ACPI_SLP_TYP_SHIFT) & 0x1c);
	assert_int_equal(rec.poweroffs, 0); /* no SLP_EN */
	out8(pm, LAYOUT_ACPI_SLEEP_CTL_PORT, ((LAYOUT_ACPI_S5_SLP_TYP << 2) & 0x1c) | 0x20);
	assert_int_equal(rec.poweroffs, 1);

	/* Other sleep types: no power-off, an immediate wake (WAK_STS), so the guest's wait loop ends. */
	for (unsigned typ = 0; typ < 8; typ++) {
		if (typ == LAYOUT_ACPI_S5_SLP_TYP)
			continue;
		out8(pm, LAYOUT_ACPI_SLEEP_STS_PORT, 0x80);
		assert_int_equal(in8(pm, LAYOUT_ACPI_SLEEP_STS_PORT), 0);
		out8(pm, LAYOUT_ACPI_SLEEP_CTL_PORT, (uint8_t)((typ << 2) | 0x20));
		assert_int_equal(in8(pm, LAYOUT_ACPI_SLEEP_STS_PORT), 0x80);
	}
	assert_int_equal(rec.poweroffs, 1);
	/* Write 1 to clear; writing 0 keeps it. */
	out8(pm, LAYOUT_ACPI_SLEEP_STS_PORT, 0x7f);
	assert_int_equal(in8(pm, LAYOUT_ACPI_SLEEP_STS_PORT), 0x80);
	out8(pm, LAYOUT_ACPI_SLEEP_STS_PORT, 0x80);
	assert_int_equal(in8(pm, LAYOUT_ACPI_SLEEP_STS_PORT), 0);
	assert_int_equal(in8(pm, LAYOUT_ACPI_SLEEP_CTL_PORT), 0);

	/* Reset register. */
	out8(pm, LAYOUT_ACPI_RESET_PORT, 0x02);
	assert_int_equal(rec.resets, 0);
	out8(pm, LAYOUT_ACPI_RESET_PORT, LAYOUT_ACPI_RESET_VALUE);
	assert_int_equal(rec.resets, 1);
	assert_int_equal(rec.panics, 0);
	assert_int_equal(rec.poweroffs, 1);
	vdev_acpi_pm_destroy(pm);

	/* No callbacks wired: events are logged only. */
	assert_int_equal(vdev_acpi_pm_create(NULL, &pm), 0);
	out8(pm, LAYOUT_ACPI_SLEEP_CTL_PORT, 0x34);
	out8(pm, LAYOUT_ACPI_RESET_PORT, LAYOUT_ACPI_RESET_VALUE);
	vdev_acpi_pm_destroy(pm);
	vdev_acpi_pm_destroy(NULL);
}

static void test_random_accesses(void **state)
{
	struct rec rec = { 0 };
	struct vdev_board_ops board = { on_poweroff, on_reset, on_panic, &rec };
	struct vdev_acpi_pm *pm;
	int expect_off = 0, expect_reset = 0;

	assert_int_equal(vdev_acpi_pm_create(&board, &pm), 0);
	srand(99);
	for (int i = 0; i < 10000; i++) {
		uint8_t data[8];
		unsigned size = (unsigned)(rand() % 10);
		uint16_t port = (uint16_t)(LAYOUT_ACPI_SLEEP_CTL_PORT - 1 + rand() % 5);
		bool wr = rand() & 1;
		int r;

		for (unsigned j = 0; j < sizeof(data); j++)
			data[j] = (uint8_t)rand();
		r = vdev_acpi_pm_pio(pm, NULL, port, wr, data, size);
		assert_int_equal(r, (size >= 1 && size <= 8) ? 0 : -EINVAL);
		if (r || !wr)
			continue;
		for (unsigned j = 0; j < size; j++) {
			if (port + j == LAYOUT_ACPI_SLEEP_CTL_PORT && (data[j] & 0x3c) == 0x34)
				expect_off++;
			if (port + j == LAYOUT_ACPI_RESET_PORT && data[j] == LAYOUT_ACPI_RESET_VALUE)
				expect_reset++;
		}
	}
	assert_int_equal(rec.poweroffs, expect_off);
	assert_int_equal(rec.resets, expect_reset);
	assert_int_equal(rec.panics, 0);
	vdev_acpi_pm_destroy(pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sleep_and_reset),
		cmocka_unit_test(test_random_accesses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
