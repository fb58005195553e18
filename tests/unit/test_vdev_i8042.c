// SPDX-License-Identifier: MIT
/*
 * Unit tests for vdev/i8042.c: self test, command byte, reset pulses, the Linux i8042.c probe path (flush,
 * stable CTR, AUX check failing fast and silently), the keyboard's answers and IRQ 1, random accesses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "boot/layout.h"
#include "vdev/i8042.h"

#define DATA LAYOUT_I8042_DATA_PORT
#define CMD LAYOUT_I8042_CMD_PORT
#define STR_OBF 0x01
#define STR_IBF 0x02
#define STR_AUXDATA 0x20

struct rec {
	int level;
	int raises;
	int resets;
	int poweroffs;
	int panics;
};

static int irq_record(void *opaque, uint32_t gsi, int level)
{
	struct rec *r = opaque;

	assert_int_equal(gsi, LAYOUT_I8042_IRQ);
	if (level && !r->level)
		r->raises++;
	r->level = level;
	return 0;
}

static void on_reset(void *opaque)
{
	((struct rec *)opaque)->resets++;
}

static void on_poweroff(void *opaque)
{
	((struct rec *)opaque)->poweroffs++;
}

static void on_panic(void *opaque, uint32_t code)
{
	((struct rec *)opaque)->panics++;
}

struct fixture {
	struct vdev_i8042 *k;
	struct rec rec;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vdev_irq irq = { .set_level = irq_record, .gsi = LAYOUT_I8042_IRQ };
	struct vdev_board_ops board = { .reset = on_reset, .poweroff = on_poweroff, .panic = on_panic };

	if (!f)
		return -1;
	irq.opaque = &f->rec;
	board.opaque = &f->rec;
	if (vdev_i8042_create(&irq, &board, &f->k) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vdev_i8042_destroy(f->k);
	free(f);
	return 0;
}

static uint8_t in8(struct vdev_i8042 *k, uint16_t port)
{
	uint8_t v = 0;

	assert_int_equal(vdev_i8042_pio(k, NULL, port, false, &v, 1), 0);
	return v;
}

static void out8(struct vdev_i8042 *k, uint16_t port, uint8_t v)
{
	assert_int_equal(vdev_i8042_pio(k, NULL, port, true, &v, 1), 0);
}

/* i8042_wait_read() + read: the number of status polls is bounded as Linux's loop is. */
static int read_data(struct vdev_i8042 *k)
{
	for (int i = 0; i < 10; i++)
		if (in8(k, CMD) & STR_OBF)
			return in8(k, DATA);
	return -1; /* would be Linux's 0.5 s timeout */
}

/* __i8042_command() of drivers/input/serio/i8042.c: @command encodes #params (bits 15:12), #results (11:8). */
static int i8042_command(struct vdev_i8042 *k, uint8_t *param, int command)
{
	assert_false(in8(k, CMD) & STR_IBF);
	out8(k, CMD, (uint8_t)command);
	for (int i = 0; i < ((command >> 12) & 0xf); i++) {
		assert_false(in8(k, CMD) & STR_IBF);
		out8(k, DATA, param[i]);
	}
	for (int i = 0; i < ((command >> 8) & 0xf); i++) {
		int v;

		if (!(in8(k, CMD) & STR_OBF))
			return -1;
		if (command == 0x11d3 && !(in8(k, CMD) & STR_AUXDATA))
			return -1;
		v = read_data(k);
		if (v < 0)
			return -1;
		param[i] = (uint8_t)v;
	}
	return 0;
}

static int flush(struct vdev_i8042 *k)
{
	int i = 0;

	while ((in8(k, CMD) & STR_OBF) && i < 16) {
		in8(k, DATA);
		i++;
	}
	return i;
}

static void test_self_test_and_command_byte(void **state)
{
	struct fixture *f = *state;
	uint8_t p;

	assert_int_equal(in8(f->k, CMD) & 0x13, 0x10); /* no data, not inhibited (no "Keylock active") */
	out8(f->k, CMD, 0xaa);
	assert_int_equal(in8(f->k, CMD) & 0x0f, STR_OBF | 0x04 | 0x08); /* OBF, SYS, last write was a command */
	assert_int_equal(in8(f->k, DATA), 0x55);
	assert_false(in8(f->k, CMD) & STR_OBF);

	assert_int_equal(i8042_command(f->k, &p, 0x0120), 0);
	assert_int_equal(p, 0x65);
	p = 0x47;
	assert_int_equal(i8042_command(f->k, &p, 0x1060), 0);
	assert_int_equal(i8042_command(f->k, &p, 0x0120), 0);
	assert_int_equal(p, 0x47);
	/* Interface tests pass. */
	assert_int_equal(i8042_command(f->k, &p, 0x01ab), 0);
	assert_int_equal(p, 0x00);
	assert_int_equal(i8042_command(f->k, &p, 0x01a9), 0);
	assert_int_equal(p, 0x00);
	/* Controller RAM beyond the command byte. */
	p = 0x99;
	assert_int_equal(i8042_command(f->k, &p, 0x1065), 0);
	assert_int_equal(i8042_command(f->k, &p, 0x0125), 0);
	assert_int_equal(p, 0x99);
	/* Output port. */
	assert_int_equal(i8042_command(f->k, &p, 0x01d0), 0);
	assert_int_equal(p & 0x03, 0x03);
	assert_int_equal(f->rec.resets, 0);
}

static void test_reset_pulse(void **state)
{
	struct fixture *f = *state;
	uint8_t p;

	out8(f->k, CMD, 0xfe);
	assert_int_equal(f->rec.resets, 1);
	out8(f->k, CMD, 0xff); /* no line pulsed */
	out8(f->k, CMD, 0xfd); /* bit 0 set: not the reset line */
	assert_int_equal(f->rec.resets, 1);
	out8(f->k, CMD, 0xf0); /* all lines, reset included */
	assert_int_equal(f->rec.resets, 2);
	/* Output port write: bit 0 low holds the CPU in reset. */
	p = 0x03;
	assert_int_equal(i8042_command(f->k, &p, 0x10d1), 0);
	assert_int_equal(f->rec.resets, 2);
	p = 0x02;
	assert_int_equal(i8042_command(f->k, &p, 0x10d1), 0);
	assert_int_equal(f->rec.resets, 3);
	assert_int_equal(f->rec.poweroffs + f->rec.panics, 0);

	/* Linux's reboot=k loop: kb_wait() then 0xfe; one pulse, one call. */
	f->rec.resets = 0;
	for (int i = 0; i < 1; i++) {
		assert_false(in8(f->k, CMD) & STR_IBF);
		out8(f->k, CMD, 0xfe);
	}
	assert_int_equal(f->rec.resets, 1);
}

static void test_linux_probe(void **state)
{
	struct fixture *f = *state;
	uint8_t ctr[2], p, param[3];
	int n, polls;

	/* i8042_controller_check(): the flush ends (not 16 bytes of junk). */
	assert_true(flush(f->k) < 16);
	/* i8042_controller_selftest() */
	assert_int_equal(i8042_command(f->k, &p, 0x01aa), 0);
	assert_int_equal(p, 0x55);
	/* i8042_controller_init(): two equal CTR reads, then kbd disabled + interrupt off written back. */
	assert_int_equal(i8042_command(f->k, &ctr[0], 0x0120), 0);
	assert_int_equal(i8042_command(f->k, &ctr[1], 0x0120), 0);
	assert_int_equal(ctr[0], ctr[1]);
	p = (uint8_t)((ctr[0] | 0x10) & ~0x01);
	assert_int_equal(i8042_command(f->k, &p, 0x1060), 0);
	assert_int_equal(flush(f->k), 0);

	/* i8042_check_aux(): AUX_LOOP echoes with AUXDATA, so no AUX_TEST ... */
	p = 0x5a;
	assert_int_equal(i8042_command(f->k, &p, 0x11d3), 0);
	assert_int_equal(p, 0x5a);
	/* ... i8042_toggle_aux(false) succeeds at once ... */
	assert_int_equal(i8042_command(f->k, &p, 0x00a7), 0);
	assert_int_equal(i8042_command(f->k, &p, 0x0120), 0);
	assert_true(p & 0x20);
	/* ... and i8042_toggle_aux(true) fails: the AUX port cannot be enabled, so Linux gives up on it silently. */
	assert_int_equal(i8042_command(f->k, &p, 0x00a8), 0);
	for (polls = 0; polls < 100; polls++) {
		assert_int_equal(i8042_command(f->k, &p, 0x0120), 0);
		if (!(p & 0x20))
			break;
	}
	assert_int_equal(polls, 100);
	assert_int_equal(f->rec.level, 0); /* no keyboard interrupt for any of that: KBDINT was off */

	/* i8042_enable_kbd_port(), then atkbd: GETID, with the byte stream arriving on IRQ 1. */
	p = (uint8_t)((p & ~0x10) | 0x01);
	assert_int_equal(i8042_command(f->k, &p, 0x1060), 0);
	f->rec.raises = 0;
	out8(f->k, DATA, 0xf2);
	assert_int_equal(f->rec.level, 1);
	n = 0;
	while ((in8(f->k, CMD) & STR_OBF) && n < 3)
		param[n++] = in8(f->k, DATA);
	assert_int_equal(n, 3);
	assert_int_equal(param[0], 0xfa);
	assert_int_equal(param[1], 0xab);
	assert_int_equal(param[2], 0x41); /* translated */
	assert_int_equal(f->rec.level, 0);
	assert_int_equal(f->rec.raises, 3); /* one edge per byte */

	/* Reset: ACK, BAT OK. Set LEDs: ACK per byte. Echo. Unknown: resend. */
	out8(f->k, DATA, 0xff);
	assert_int_equal(read_data(f->k), 0xfa);
	assert_int_equal(read_data(f->k), 0xaa);
	out8(f->k, DATA, 0xed);
	assert_int_equal(read_data(f->k), 0xfa);
	out8(f->k, DATA, 0x02);
	assert_int_equal(read_data(f->k), 0xfa);
	out8(f->k, DATA, 0xee);
	assert_int_equal(read_data(f->k), 0xee);
	out8(f->k, DATA, 0x01);
	assert_int_equal(read_data(f->k), 0xfe);
	out8(f->k, DATA, 0xf0);
	assert_int_equal(read_data(f->k), 0xfa);
	out8(f->k, DATA, 0x00);
	assert_int_equal(read_data(f->k), 0xfa);
	assert_int_equal(read_data(f->k), 0x41); /* set 2, as the translating controller shows it */
	out8(f->k, DATA, 0xf5);
	assert_int_equal(read_data(f->k), 0xfa);
	out8(f->k, DATA, 0xf4);
	assert_int_equal(read_data(f->k), 0xfa);
	assert_int_equal(read_data(f->k), -1);
	/* Untranslated identify. */
	p = 0x01;
	assert_int_equal(i8042_command(f->k, &p, 0x1060), 0);
	out8(f->k, DATA, 0xf2);
	assert_int_equal(read_data(f->k), 0xfa);
	assert_int_equal(read_data(f->k), 0xab);
	assert_int_equal(read_data(f->k), 0x83);
}

static void test_kbd_port_disable_holds_bytes(void **state)
{
	struct fixture *f = *state;
	const uint8_t keys[2] = { 0x1e, 0x9e };

	out8(f->k, CMD, 0xad);
	assert_int_equal(vdev_i8042_kbd_input(f->k, keys, 2), 2);
	assert_false(in8(f->k, CMD) & STR_OBF);
	assert_int_equal(f->rec.level, 0);
	/* Controller answers still come through. */
	out8(f->k, CMD, 0x20);
	assert_int_equal(read_data(f->k), 0x75);
	out8(f->k, CMD, 0xae);
	assert_int_equal(f->rec.level, 1);
	assert_int_equal(read_data(f->k), 0x1e);
	assert_int_equal(read_data(f->k), 0x9e);
	assert_int_equal(f->rec.level, 0);
	/* 0xD2 injects a keyboard byte; 0xD3 an AUX one (AUXDATA, no IRQ 1). */
	out8(f->k, CMD, 0xd2);
	out8(f->k, DATA, 0x33);
	assert_int_equal(f->rec.level, 1);
	assert_int_equal(read_data(f->k), 0x33);
	out8(f->k, CMD, 0xd3);
	out8(f->k, DATA, 0x44);
	assert_int_equal(in8(f->k, CMD) & (STR_OBF | STR_AUXDATA), STR_OBF | STR_AUXDATA);
	assert_int_equal(f->rec.level, 0);
	assert_int_equal(read_data(f->k), 0x44);
	/* Queue limit. */
	{
		uint8_t many[40];

		memset(many, 0x10, sizeof(many));
		out8(f->k, CMD, 0xad);
		assert_int_equal(vdev_i8042_kbd_input(f->k, many, sizeof(many)), 16);
	}
	assert_int_equal(vdev_i8042_kbd_input(NULL, keys, 1), -EINVAL);
}

static void test_random_accesses(void **state)
{
	struct fixture *f = *state;

	srand(4242);
	for (int i = 0; i < 20000; i++) {
		uint8_t data[8];
		unsigned size = (unsigned)(rand() % 10);
		uint16_t port = rand() % 4 ? (rand() & 1 ? DATA : CMD) : (uint16_t)(DATA + rand() % 6);
		bool wr = rand() & 1;

		for (unsigned j = 0; j < sizeof(data); j++)
			data[j] = (uint8_t)rand();
		int expect = (size >= 1 && size <= 8) ? 0 : -EINVAL;

		assert_int_equal(vdev_i8042_pio(f->k, NULL, port, wr, data, size), expect);
		if (rand() % 32 == 0)
			vdev_i8042_kbd_input(f->k, data, (size_t)(rand() % 8));
	}
	vdev_i8042_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_self_test_and_command_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_pulse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kbd_port_disable_holds_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_accesses, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
