// SPDX-License-Identifier: MIT
/* vdev/i8042.c - PC keyboard controller with a PS/2 keyboard, no AUX device (see vdev/i8042.h). */
#define LOG_TAG "i8042"
#include "vdev/i8042.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "boot/layout.h"
#include "lib/log.h"

/* Status register */
#define STR_OBF 0x01
#define STR_IBF 0x02
#define STR_SYS 0x04
#define STR_CMD 0x08     /* last write went to the command port */
#define STR_KEYLOCK 0x10 /* 1: keyboard not inhibited */
#define STR_AUXDATA 0x20

/* Command byte (CTR) */
#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40
#define CTR_DEFAULT (CTR_XLATE | CTR_AUXDIS | CTR_SYS | CTR_KBDINT)

/* Output port */
#define OUT_RESET 0x01 /* active low: 0 holds the CPU in reset */
#define OUT_A20 0x02
#define OUT_DEFAULT (OUT_RESET | OUT_A20)

/* Keyboard answers */
#define KBD_ACK 0xfa
#define KBD_RESEND 0xfe
#define KBD_BAT_OK 0xaa

#define I8042_RAM_SIZE 32
#define I8042_QUEUE_SIZE 16

struct i8042_queue {
	uint8_t buf[I8042_QUEUE_SIZE];
	bool aux[I8042_QUEUE_SIZE];
	unsigned head, count;
};

struct vdev_i8042 {
	pthread_mutex_t lock;
	struct vdev_irq irq;
	struct vdev_irq aux_irq;
	struct vdev_board_ops board;

	/* controller (under lock) */
	uint8_t ram[I8042_RAM_SIZE]; /* ram[0] is the command byte */
	uint8_t outport;
	bool last_was_cmd;
	uint8_t pending;        /* command waiting for its data byte, 0 if none */
	bool obf;               /* the output buffer holds a byte */
	bool obuf_aux;          /* ... from the AUX side */
	uint8_t obuf;           /* the byte (kept after a read, as the register keeps it) */
	struct i8042_queue ctl; /* controller answers and 0xD2/0xD3 bytes: not held by a disabled port */
	struct i8042_queue kbd; /* keyboard bytes: wait while the keyboard port is disabled */
	int irq_level, aux_level;

	/* keyboard device */
	uint8_t kbd_expect; /* command waiting for its argument (0xED, 0xF3, 0xF0), 0 if none */
	bool kbd_scanning;
	uint8_t kbd_leds, kbd_typematic, kbd_set, kbd_last;
};

static bool queue_push(struct i8042_queue *q, uint8_t b, bool aux)
{
	unsigned i;

	if (q->count >= I8042_QUEUE_SIZE)
		return false;
	i = (q->head + q->count) % I8042_QUEUE_SIZE;
	q->buf[i] = b;
	q->aux[i] = aux;
	q->count++;
	return true;
}

static uint8_t queue_pop(struct i8042_queue *q, bool *aux)
{
	uint8_t b = q->buf[q->head];

	*aux = q->aux[q->head];
	q->head = (q->head + 1) % I8042_QUEUE_SIZE;
	q->count--;
	return b;
}

static uint8_t i8042_ctr(const struct vdev_i8042 *k)
{
	return k->ram[0];
}

/* Drive the lines from the output buffer's state. */
static void i8042_drive(struct vdev_i8042 *k)
{
	int level, aux_level;

	level = k->obf && !k->obuf_aux && (i8042_ctr(k) & CTR_KBDINT);
	aux_level = k->obf && k->obuf_aux && (i8042_ctr(k) & CTR_AUXINT);
	if (level != k->irq_level) {
		k->irq_level = level;
		vdev_irq_set(&k->irq, level);
	}
	if (aux_level != k->aux_level) {
		k->aux_level = aux_level;
		vdev_irq_set(&k->aux_irq, aux_level);
	}
}

/* Move the next byte into the output buffer if it is free, then drive the lines. */
static void i8042_update(struct vdev_i8042 *k)
{
	if (!k->obf) {
		if (k->ctl.count) {
			k->obuf = queue_pop(&k->ctl, &k->obuf_aux);
			k->obf = true;
		} else if (k->kbd.count && !(i8042_ctr(k) & CTR_KBDDIS)) {
			k->obuf = queue_pop(&k->kbd, &k->obuf_aux);
			k->obf = true;
		}
	}
	i8042_drive(k);
}

/* A controller answer (or a 0xD2/0xD3 byte). */
static void i8042_answer(struct vdev_i8042 *k, uint8_t b, bool aux)
{
	if (!queue_push(&k->ctl, b, aux))
		log_guest("controller output queue full; byte 0x%02x dropped", b);
}

static void kbd_send(struct vdev_i8042 *k, uint8_t b)
{
	k->kbd_last = b;
	if (!queue_push(&k->kbd, b, false))
		log_guest("keyboard queue full; byte 0x%02x dropped", b);
}

static void kbd_defaults(struct vdev_i8042 *k)
{
	k->kbd_leds = 0;
	k->kbd_typematic = 0x2b; /* 10.9 characters/s, 500 ms delay */
	k->kbd_set = 2;
	k->kbd_expect = 0;
}

/* A byte the host side wrote to the keyboard (PS/2 keyboard command set). */
static void kbd_write(struct vdev_i8042 *k, uint8_t b)
{
	static const uint8_t xlate_set[4] = { 0, 0x43, 0x41, 0x3f }; /* set numbers as the controller translates them */
	bool xlate = (i8042_ctr(k) & CTR_XLATE) != 0;

	if (k->kbd_expect && !(b & 0x80)) {
		uint8_t cmd = k->kbd_expect;

		k->kbd_expect = 0;
		switch (cmd) {
		case 0xed:
			k->kbd_leds = b & 7;
			kbd_send(k, KBD_ACK);
			return;
		case 0xf3:
			k->kbd_typematic = b;
			kbd_send(k, KBD_ACK);
			return;
		case 0xf0:
			if (b == 0) {
				kbd_send(k, KBD_ACK);
				kbd_send(k, xlate ? xlate_set[k->kbd_set] : k->kbd_set);
			} else if (b <= 3) {
				k->kbd_set = b;
				kbd_send(k, KBD_ACK);
			} else {
				kbd_send(k, KBD_RESEND);
			}
			return;
		}
	}
	k->kbd_expect = 0;
	switch (b) {
	case 0xed: /* set LEDs */
	case 0xf3: /* set typematic rate */
	case 0xf0: /* scan code set */
		k->kbd_expect = b;
		kbd_send(k, KBD_ACK);
		break;
	case 0xee: /* echo */
		kbd_send(k, 0xee);
		break;
	case 0xf2: /* identify: MF2 keyboard */
		kbd_send(k, KBD_ACK);
		kbd_send(k, 0xab);
		kbd_send(k, xlate ? 0x41 : 0x83);
		break;
	case 0xf4: /* enable scanning */
		k->kbd_scanning = true;
		kbd_send(k, KBD_ACK);
		break;
	case 0xf5: /* disable scanning, defaults */
		kbd_defaults(k);
		k->kbd_scanning = false;
		kbd_send(k, KBD_ACK);
		break;
	case 0xf6: /* defaults */
		kbd_defaults(k);
		kbd_send(k, KBD_ACK);
		break;
	case 0xf7: case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd: /* set-3 key modes */
		kbd_send(k, KBD_ACK);
		break;
	case 0xfe: /* resend the last byte */
		kbd_send(k, k->kbd_last);
		break;
	case 0xff: /* reset and self test (BAT) */
		kbd_defaults(k);
		k->kbd_scanning = true;
		k->kbd.count = 0;
		kbd_send(k, KBD_ACK);
		kbd_send(k, KBD_BAT_OK);
		break;
	default:
		kbd_send(k, KBD_RESEND);
		break;
	}
}

/* A controller command (port 0x64). Returns true when the reset line is pulsed. */
static bool i8042_command(struct vdev_i8042 *k, uint8_t cmd)
{
	k->pending = 0;
	if (cmd >= 0x20 && cmd <= 0x3f) { /* read RAM; 0x20 is the command byte */
		i8042_answer(k, k->ram[cmd & 0x1f], false);
		return false;
	}
	if (cmd >= 0x60 && cmd <= 0x7f) { /* write RAM: the data byte follows */
		k->pending = cmd;
		return false;
	}
	switch (cmd) {
	case 0xa4: /* password installed? */
		i8042_answer(k, 0xf1, false); /* no */
		break;
	case 0xa7: /* disable AUX */
		k->ram[0] |= CTR_AUXDIS;
		break;
	case 0xa8: /* enable AUX: there is no AUX port, the bit stays set */
		break;
	case 0xa9: /* AUX interface test */
	case 0xab: /* keyboard interface test */
		i8042_answer(k, 0x00, false);
		break;
	case 0xaa: /* controller self test */
		k->ram[0] |= CTR_SYS;
		i8042_answer(k, 0x55, false);
		break;
	case 0xad: /* disable keyboard port */
		k->ram[0] |= CTR_KBDDIS;
		break;
	case 0xae: /* enable keyboard port */
		k->ram[0] &= (uint8_t)~CTR_KBDDIS;
		break;
	case 0xc0: /* read input port: keyboard not inhibited */
		i8042_answer(k, 0x80, false);
		break;
	case 0xd0: /* read output port */
		i8042_answer(k, k->outport, false);
		break;
	case 0xd1: /* write output port */
	case 0xd2: /* write keyboard output buffer */
	case 0xd3: /* write AUX output buffer */
	case 0xd4: /* write to AUX device */
		k->pending = cmd;
		break;
	case 0xdd: /* A20 off */
		k->outport &= (uint8_t)~OUT_A20;
		break;
	case 0xdf: /* A20 on */
		k->outport |= OUT_A20;
		break;
	case 0xe0: /* read test inputs */
		i8042_answer(k, 0x00, false);
		break;
	default:
		if (cmd >= 0xf0) /* pulse output lines whose bit is 0 for ~6 us; bit 0 is the reset line */
			return !(cmd & 1);
		log_dbg("unknown controller command 0x%02x ignored", cmd);
		break;
	}
	return false;
}

/* A byte to the data port. Returns true when the reset line goes low. */
static bool i8042_data(struct vdev_i8042 *k, uint8_t b)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	if (cmd >= 0x60 && cmd <= 0x7f) {
		k->ram[cmd & 0x1f] = b;
		return false;
	}
	switch (cmd) {
	case 0xd1:
		k->outport = b;
		return !(b & OUT_RESET);
	case 0xd2:
		i8042_answer(k, b, false);
		return false;
	case 0xd3:
		i8042_answer(k, b, true);
		return false;
	case 0xd4:
		return false; /* no AUX device to receive it */
	default:
		/* A byte for the keyboard; sending it re-enables the keyboard port. */
		k->ram[0] &= (uint8_t)~CTR_KBDDIS;
		kbd_write(k, b);
		return false;
	}
}

static uint8_t i8042_status(const struct vdev_i8042 *k)
{
	uint8_t s = STR_KEYLOCK;

	if (k->obf)
		s |= STR_OBF | (k->obuf_aux ? STR_AUXDATA : 0);
	if (i8042_ctr(k) & CTR_SYS)
		s |= STR_SYS;
	if (k->last_was_cmd)
		s |= STR_CMD;
	return s;
}

int vdev_i8042_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data, unsigned size)
{
	struct vdev_i8042 *k = opaque;
	unsigned resets = 0;

	if (!k || !data || size < 1 || size > 8)
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	for (unsigned i = 0; i < size; i++) {
		uint32_t p = (uint32_t)port + i;
		uint8_t *b = &data[i];

		if (p == LAYOUT_I8042_DATA_PORT) {
			if (is_write) {
				k->last_was_cmd = false;
				resets += i8042_data(k, *b);
			} else {
				*b = k->obuf;
				k->obf = false;
				/* Reading deasserts the line; the next byte (below) raises it again: one edge per byte,
				 * as the ISA IRQ is edge-triggered and Linux's handler takes one byte per interrupt. */
				i8042_drive(k);
			}
		} else if (p == LAYOUT_I8042_CMD_PORT) {
			if (is_write) {
				k->last_was_cmd = true;
				resets += i8042_command(k, *b);
			} else {
				*b = i8042_status(k);
			}
		} else if (!is_write) {
			*b = 0xff;
		}
		i8042_update(k);
	}
	pthread_mutex_unlock(&k->lock);
	for (; resets; resets--) {
		static struct log_ratelimit rl;

		if (log_ratelimit_allow(&rl))
			log_info("guest pulsed the reset line");
		if (k->board.reset)
			k->board.reset(k->board.opaque);
	}
	return 0;
}

int vdev_i8042_kbd_input(struct vdev_i8042 *k, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	if (!k || (!buf && len))
		return -EINVAL;
	if (len > INT_MAX)
		len = INT_MAX;
	pthread_mutex_lock(&k->lock);
	if (k->kbd_scanning) {
		while (n < len && k->kbd.count < I8042_QUEUE_SIZE)
			queue_push(&k->kbd, buf[n++], false);
		i8042_update(k);
	}
	pthread_mutex_unlock(&k->lock);
	return (int)n;
}

void vdev_i8042_set_aux_irq(struct vdev_i8042 *k, const struct vdev_irq *irq)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	memset(&k->aux_irq, 0, sizeof(k->aux_irq));
	if (irq)
		k->aux_irq = *irq;
	k->aux_level = 0;
	pthread_mutex_unlock(&k->lock);
}

int vdev_i8042_create(const struct vdev_irq *irq, const struct vdev_board_ops *board, struct vdev_i8042 **out)
{
	struct vdev_i8042 *k;

	if (!out)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->lock, NULL);
	if (irq)
		k->irq = *irq;
	if (board)
		k->board = *board;
	k->ram[0] = CTR_DEFAULT;
	k->outport = OUT_DEFAULT;
	k->kbd_scanning = true;
	kbd_defaults(k);
	*out = k;
	return 0;
}

void vdev_i8042_destroy(struct vdev_i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}
