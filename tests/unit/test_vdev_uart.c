// SPDX-License-Identifier: MIT
/*
 * Unit tests for vdev/uart.c: Linux 8250 autoconfig sees a 16550A, output to a pipe (and dropping on a full
 * non-blocking one), the receive FIFO and its interrupts, THRE semantics, the divisor latch, loopback, two
 * threads at once, and random accesses (for ASan/UBSan).
 */
#define _GNU_SOURCE /* pipe2, F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "boot/layout.h"
#include "vdev/uart.h"

#define BASE LAYOUT_COM1_PORT
enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct irq_rec {
	int level;
	int calls;
	int raises;
	uint32_t gsi;
};

static int irq_record(void *opaque, uint32_t gsi, int level)
{
	struct irq_rec *r = opaque;

	r->gsi = gsi;
	r->calls++;
	if (level && !r->level)
		r->raises++;
	r->level = level;
	return 0;
}

static uint8_t in8(struct vdev_uart *u, unsigned reg)
{
	uint8_t v = 0xff;

	assert_int_equal(vdev_uart_pio(u, NULL, (uint16_t)(BASE + reg), false, &v, 1), 0);
	return v;
}

static void out8(struct vdev_uart *u, unsigned reg, uint8_t v)
{
	assert_int_equal(vdev_uart_pio(u, NULL, (uint16_t)(BASE + reg), true, &v, 1), 0);
}

struct fixture {
	struct vdev_uart *u;
	struct irq_rec irq;
	int pipe[2];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vdev_irq irq = { .set_level = irq_record, .gsi = LAYOUT_COM1_IRQ };

	if (!f || pipe2(f->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	irq.opaque = &f->irq;
	if (vdev_uart_create(f->pipe[1], &irq, &f->u) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vdev_uart_destroy(f->u);
	close(f->pipe[0]);
	close(f->pipe[1]);
	free(f);
	return 0;
}

static size_t drain(struct fixture *f, uint8_t *buf, size_t cap)
{
	ssize_t n = read(f->pipe[0], buf, cap);

	return n < 0 ? 0 : (size_t)n;
}

/* size_fifo() of 8250_port.c: count how many of 256 looped-back bytes the receiver keeps. */
static int linux_size_fifo(struct vdev_uart *u)
{
	uint8_t old_lcr, old_fcr, old_mcr, old_dll, old_dlm;
	int count;

	old_lcr = in8(u, LCR);
	out8(u, LCR, 0);
	old_fcr = in8(u, FCR); /* reads IIR, as Linux does */
	old_mcr = in8(u, MCR);
	out8(u, FCR, 0x01 | 0x02 | 0x04);
	out8(u, MCR, 0x10);
	out8(u, LCR, 0x80);
	old_dll = in8(u, DLL);
	old_dlm = in8(u, DLM);
	out8(u, DLL, 1);
	out8(u, DLM, 0);
	out8(u, LCR, 0x03);
	for (count = 0; count < 256; count++)
		out8(u, THR, (uint8_t)count);
	for (count = 0; (in8(u, LSR) & 0x01) && count < 256; count++)
		in8(u, RBR);
	out8(u, FCR, old_fcr);
	out8(u, MCR, old_mcr);
	out8(u, LCR, 0x80);
	out8(u, DLL, old_dll);
	out8(u, DLM, old_dlm);
	out8(u, LCR, old_lcr);
	return count;
}

/* The probe sequence of Linux 6.1 autoconfig() and autoconfig_16550a() (drivers/tty/serial/8250/8250_port.c). */
static void test_linux_probe_16550a(void **state)
{
	struct fixture *f = *state;
	struct vdev_uart *u = f->u;
	uint8_t save, s2, s3, save_mcr, save_lcr, status1, status2, iersave;

	/* IER existence test: IER[3:0] read back, IER[7:4] zero. */
	save = in8(u, IER);
	out8(u, IER, 0);
	s2 = in8(u, IER) & 0x0f;
	out8(u, IER, 0x0f);
	s3 = in8(u, IER) & 0x0f;
	out8(u, IER, save);
	assert_int_equal(s2, 0);
	assert_int_equal(s3, 0x0f);

	/* Loopback test: MCR LOOP | OUT2 | RTS -> MSR DCD | CTS. */
	save_mcr = in8(u, MCR);
	save_lcr = in8(u, LCR);
	out8(u, MCR, 0x10 | 0x0a);
	status1 = in8(u, MSR) & 0xf0;
	out8(u, MCR, save_mcr);
	assert_int_equal(status1, 0x90);

	/* EFR init (goes to FCR on a 16550A), then FIFO enable: IIR[7:6] == 3 -> autoconfig_16550a. */
	out8(u, LCR, 0xbf);
	out8(u, FCR, 0);
	out8(u, LCR, 0);
	out8(u, FCR, 0x01);
	assert_int_equal(in8(u, IIR) >> 6, 3);

	/* No EFR behind DLAB or LCR 0xbf: the "EFR" reads (IIR) are non-zero. */
	out8(u, LCR, 0x80);
	assert_int_not_equal(in8(u, IIR), 0);
	out8(u, LCR, 0xbf);
	assert_int_not_equal(in8(u, IIR), 0);

	/* Not a NatSemi SuperIO: EXCR1 (IIR) does not follow MCR's LOOP bit. */
	out8(u, LCR, 0);
	status1 = in8(u, MCR);
	out8(u, LCR, 0xe0);
	status2 = in8(u, IIR);
	assert_false((status2 ^ status1) & 0x10);
	out8(u, LCR, 0);
	out8(u, MCR, status1 ^ 0x10);
	out8(u, LCR, 0xe0);
	status2 = in8(u, IIR);
	out8(u, LCR, 0);
	out8(u, MCR, status1);
	assert_false(((status2 ^ status1) & 0x10) != 0);

	/* Not a 16750: IIR bit 5 does not follow FCR bit 5. */
	out8(u, LCR, 0);
	out8(u, FCR, 0x01 | 0x20);
	status1 = in8(u, IIR) >> 5;
	out8(u, FCR, 0x01);
	out8(u, LCR, 0x80);
	out8(u, FCR, 0x01 | 0x20);
	status2 = in8(u, IIR) >> 5;
	out8(u, FCR, 0x01);
	out8(u, LCR, 0);
	assert_int_equal(status1, 6);
	assert_int_equal(status2, 6);

	/* No UUE bit (XScale). */
	iersave = in8(u, IER);
	out8(u, IER, iersave & (uint8_t)~0x40);
	assert_false(in8(u, IER) & 0x40);
	out8(u, IER, iersave | 0x40);
	assert_false(in8(u, IER) & 0x40);
	out8(u, IER, iersave);

	/* 16 bytes of FIFO, not 64 (U6_16550A). */
	assert_int_equal(linux_size_fifo(u), 16);

	/* Restore as autoconfig() does, then the scratch register. */
	out8(u, MCR, save_mcr);
	out8(u, FCR, 0x01 | 0x02 | 0x04);
	out8(u, FCR, 0);
	in8(u, RBR);
	out8(u, IER, 0);
	out8(u, LCR, save_lcr);
	for (unsigned v = 0; v < 256; v += 0x55) {
		out8(u, SCR, (uint8_t)v);
		assert_int_equal(in8(u, SCR), v);
	}
	assert_int_equal(in8(u, LSR), 0x60);
	/* Nothing was transmitted during the probe: every THR write went through loopback. */
	{
		uint8_t buf[64];

		assert_int_equal(drain(f, buf, sizeof(buf)), 0);
	}
}

static void test_transmit_to_pipe(void **state)
{
	struct fixture *f = *state;
	const char *msg = "Linux version 6.1\r\n";
	uint8_t buf[64];

	out8(f->u, LCR, 0x03);
	for (const char *p = msg; *p; p++) {
		assert_true(in8(f->u, LSR) & 0x20); /* THRE: ready for the next byte */
		out8(f->u, THR, (uint8_t)*p);
	}
	assert_int_equal(in8(f->u, LSR) & 0x60, 0x60);
	assert_int_equal(drain(f, buf, sizeof(buf)), strlen(msg));
	assert_memory_equal(buf, msg, strlen(msg));
	assert_int_equal(vdev_uart_tx_bytes(f->u), strlen(msg));
	assert_int_equal(vdev_uart_tx_dropped(f->u), 0);

	/* A 16-bit OUT to THR splits into THR and IER (as the ISA bus would). */
	{
		uint8_t w[2] = { 'Z', 0x00 };

		assert_int_equal(vdev_uart_pio(f->u, NULL, BASE + THR, true, w, 2), 0);
		assert_int_equal(drain(f, buf, sizeof(buf)), 1);
		assert_int_equal(buf[0], 'Z');
	}
}

static void test_full_pipe_drops(void **state)
{
	struct fixture *f = *state;
	int cap = fcntl(f->pipe[1], F_SETPIPE_SZ, 4096);
	const int total = 10000;

	assert_true(cap >= 4096);
	for (int i = 0; i < total; i++)
		out8(f->u, THR, (uint8_t)i);
	assert_int_equal(vdev_uart_tx_bytes(f->u), (uint64_t)cap);
	assert_int_equal(vdev_uart_tx_dropped(f->u), (uint64_t)(total - cap));
	/* The guest still sees an idle transmitter. */
	assert_int_equal(in8(f->u, LSR) & 0x60, 0x60);
}

static void test_discard_without_fd(void **state)
{
	struct vdev_uart *u;

	assert_int_equal(vdev_uart_create(-1, NULL, &u), 0);
	out8(u, THR, 'x');
	assert_int_equal(vdev_uart_tx_bytes(u), 0);
	assert_int_equal(vdev_uart_tx_dropped(u), 0);
	vdev_uart_destroy(u);
	vdev_uart_destroy(NULL);
}

static int notified;

static void rx_notify(void *opaque)
{
	(*(int *)opaque)++;
}

static void test_rx_fifo_and_irq(void **state)
{
	struct fixture *f = *state;
	uint8_t in[20];

	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)('a' + i);
	notified = 0;
	vdev_uart_set_rx_notify(f->u, rx_notify, &notified);
	out8(f->u, FCR, 0xc7); /* FIFO on, both cleared, trigger 14 */
	out8(f->u, MCR, 0x0b); /* DTR RTS OUT2 */
	out8(f->u, IER, 0x01); /* RDI */
	assert_int_equal(in8(f->u, IIR), 0xc1);
	assert_int_equal(f->irq.level, 0);

	/* One byte, below the trigger: character timeout. */
	assert_int_equal(vdev_uart_input(f->u, in, 1), 1);
	assert_int_equal(in8(f->u, IIR), 0xcc);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(f->irq.gsi, LAYOUT_COM1_IRQ);
	/* Up to the trigger level: received data available. */
	assert_int_equal(vdev_uart_input(f->u, in + 1, 13), 13);
	assert_int_equal(in8(f->u, IIR), 0xc4);
	/* The FIFO holds 16; the rest is the caller's. */
	assert_int_equal(vdev_uart_input(f->u, in + 14, 6), 2);
	assert_int_equal(vdev_uart_rx_room(f->u), 0);
	assert_int_equal(in8(f->u, LSR), 0x61); /* DR, no overrun: host input never overruns */
	assert_int_equal(notified, 0);

	for (unsigned i = 0; i < 16; i++) {
		assert_int_equal(in8(f->u, RBR), 'a' + i);
		if (i == 0)
			assert_int_equal(notified, 1); /* room again: told once */
	}
	assert_int_equal(notified, 1);
	assert_int_equal(in8(f->u, LSR), 0x60);
	assert_int_equal(in8(f->u, IIR), 0xc1);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(vdev_uart_rx_room(f->u), 16);

	/* Without OUT2 the line stays low although IIR reports the interrupt. */
	out8(f->u, MCR, 0x03);
	assert_int_equal(vdev_uart_input(f->u, in, 1), 1);
	assert_int_equal(in8(f->u, IIR), 0xcc);
	assert_int_equal(f->irq.level, 0);
	out8(f->u, MCR, 0x0b);
	assert_int_equal(f->irq.level, 1);
	/* FCR receive-FIFO reset drops it. */
	out8(f->u, FCR, 0xc3);
	assert_int_equal(in8(f->u, IIR), 0xc1);
	assert_int_equal(f->irq.level, 0);

	/* 16450 mode: one byte of holding register. */
	out8(f->u, FCR, 0x00);
	assert_int_equal(vdev_uart_input(f->u, in, 3), 1);
	assert_int_equal(in8(f->u, IIR), 0x04);
	assert_int_equal(in8(f->u, RBR), 'a');
	assert_int_equal(in8(f->u, IIR), 0x01);
}

static void test_thre_semantics(void **state)
{
	struct fixture *f = *state;
	uint8_t iir1, iir, lsr, buf[8];

	out8(f->u, MCR, 0x08); /* OUT2 */
	/* Linux serial8250_do_startup(): THRI with an empty THR raises THRE at once (no UART_BUG_TXEN) ... */
	out8(f->u, IER, 0x02);
	lsr = in8(f->u, LSR);
	iir = in8(f->u, IIR);
	out8(f->u, IER, 0);
	assert_true(lsr & 0x40);
	assert_int_equal(iir & 0x0f, 0x02);
	/* ... and again after it was cleared by the IIR read (no UART_BUG_THRE). */
	out8(f->u, IER, 0x02);
	iir1 = in8(f->u, IIR);
	out8(f->u, IER, 0);
	out8(f->u, IER, 0x02);
	iir = in8(f->u, IIR);
	out8(f->u, IER, 0);
	assert_false(iir1 & 0x01);
	assert_false(iir & 0x01);

	/* Reading IIR that reports THRE clears it, and the line drops. */
	out8(f->u, IER, 0x02);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(in8(f->u, IIR), 0x02);
	assert_int_equal(in8(f->u, IIR), 0x01);
	assert_int_equal(f->irq.level, 0);
	/* Writing THR re-arms it (the byte leaves at once): a new edge for the ISR's tx loop. */
	int raises = f->irq.raises;
	out8(f->u, THR, 'k');
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(f->irq.raises, raises + 1);
	assert_int_equal(drain(f, buf, sizeof(buf)), 1);

	/* Priority: received data before THRE; line status before both. */
	out8(f->u, IER, 0x07);
	assert_int_equal(vdev_uart_input(f->u, (const uint8_t *)"q", 1), 1);
	assert_int_equal(in8(f->u, IIR), 0x04);
	assert_int_equal(in8(f->u, RBR), 'q');
	assert_int_equal(in8(f->u, IIR), 0x02);
	assert_int_equal(in8(f->u, IIR), 0x01);
	/* Clearing IER.THRI withdraws a pending THRE. */
	out8(f->u, THR, 'k');
	out8(f->u, IER, 0x05);
	assert_int_equal(in8(f->u, IIR), 0x01);
	assert_int_equal(f->irq.level, 0);
}

static void test_divisor_latch(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[8];

	out8(f->u, IER, 0x05);
	assert_int_equal(vdev_uart_input(f->u, (const uint8_t *)"x", 1), 1);
	out8(f->u, LCR, 0x83); /* DLAB, 8N1 */
	out8(f->u, DLL, 0x01);
	out8(f->u, DLM, 0x00);
	assert_int_equal(in8(f->u, DLL), 0x01);
	assert_int_equal(in8(f->u, DLM), 0x00);
	out8(f->u, LCR, 0x03);
	/* Nothing was sent, IER kept its value, the received byte is still there. */
	assert_int_equal(drain(f, buf, sizeof(buf)), 0);
	assert_int_equal(in8(f->u, IER), 0x05);
	assert_int_equal(in8(f->u, LSR) & 0x01, 0x01);
	assert_int_equal(in8(f->u, RBR), 'x');
	/* The latch survives. */
	out8(f->u, LCR, 0x80);
	assert_int_equal(in8(f->u, DLL), 0x01);
	out8(f->u, DLL, 0x0c);
	out8(f->u, LCR, 0x03);
	out8(f->u, LCR, 0x80);
	assert_int_equal(in8(f->u, DLL), 0x0c);
	out8(f->u, LCR, 0x03);
}

static void test_loopback(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[8];

	out8(f->u, FCR, 0x07);
	out8(f->u, MCR, 0x1f); /* LOOP + all outputs */
	assert_int_equal(in8(f->u, MSR) & 0xf0, 0xf0);
	out8(f->u, MCR, 0x11); /* LOOP + DTR: DSR only; CTS, RI, DCD fell (deltas, TERI) */
	assert_int_equal(in8(f->u, MSR), 0x20 | 0x01 | 0x04 | 0x08);
	assert_int_equal(in8(f->u, MSR), 0x20);
	/* Looped data goes to the receiver, not to the fd; host input is refused meanwhile. */
	out8(f->u, THR, 0x42);
	assert_int_equal(drain(f, buf, sizeof(buf)), 0);
	assert_int_equal(vdev_uart_input(f->u, (const uint8_t *)"h", 1), 0);
	assert_int_equal(vdev_uart_rx_room(f->u), 0);
	assert_int_equal(in8(f->u, RBR), 0x42);
	/* Overrun: the 17th byte is lost and flagged; a line status interrupt when enabled; LSR read clears. */
	out8(f->u, IER, 0x04);
	for (int i = 0; i < 17; i++)
		out8(f->u, THR, (uint8_t)i);
	assert_int_equal(in8(f->u, IIR), 0xc6);
	assert_int_equal(f->irq.level, 0); /* loopback holds OUT2 off the bus */
	assert_int_equal(in8(f->u, LSR), 0x63);
	assert_int_equal(in8(f->u, LSR), 0x61);
	assert_int_equal(in8(f->u, IIR), 0xc1);
	/* Out of loopback the modem lines are the host's again: CTS DSR DCD. */
	out8(f->u, MCR, 0x00);
	assert_int_equal(in8(f->u, MSR) & 0xf0, 0xb0);
	assert_int_equal(vdev_uart_rx_room(f->u), 0); /* the 16 looped bytes are still unread */
}

/*
 * Two threads: the I/O thread pushes a long stream, waiting for the room notification when the FIFO is full,
 * while the "VP" reads it through RBR and writes output into a pipe nobody drains.
 */
struct stream_ctx {
	struct vdev_uart *u;
	size_t total;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int room_events;
};

static void stream_room(void *opaque)
{
	struct stream_ctx *c = opaque;

	pthread_mutex_lock(&c->lock);
	c->room_events++;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void *producer(void *arg)
{
	struct stream_ctx *c = arg;
	size_t sent = 0;

	while (sent < c->total) {
		uint8_t chunk[32];
		size_t n = c->total - sent < sizeof(chunk) ? c->total - sent : sizeof(chunk);
		int events, took;

		for (size_t i = 0; i < n; i++)
			chunk[i] = (uint8_t)((sent + i) * 7);
		pthread_mutex_lock(&c->lock);
		events = c->room_events;
		pthread_mutex_unlock(&c->lock);
		took = vdev_uart_input(c->u, chunk, n);
		if (took < 0)
			abort(); /* no cmocka asserts off the main thread */
		sent += (size_t)took;
		if ((size_t)took < n) {
			struct timespec deadline;

			/* Refused bytes: wait for the notification (it may already have come). */
			clock_gettime(CLOCK_REALTIME, &deadline);
			deadline.tv_nsec += 100000000;
			if (deadline.tv_nsec >= 1000000000) {
				deadline.tv_sec++;
				deadline.tv_nsec -= 1000000000;
			}
			pthread_mutex_lock(&c->lock);
			while (c->room_events == events &&
			       pthread_cond_timedwait(&c->cond, &c->lock, &deadline) == 0)
				;
			pthread_mutex_unlock(&c->lock);
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	struct stream_ctx c = { .u = f->u, .total = 20000 };
	pthread_t t;
	size_t got = 0;

	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	vdev_uart_set_rx_notify(f->u, stream_room, &c);
	out8(f->u, FCR, 0x07);
	assert_int_equal(pthread_create(&t, NULL, producer, &c), 0);
	while (got < c.total) {
		if (!(in8(f->u, LSR) & 0x01)) {
			sched_yield();
			continue;
		}
		assert_int_equal(in8(f->u, RBR), (uint8_t)(got * 7));
		got++;
		out8(f->u, THR, '.'); /* drops once the pipe is full; never blocks */
	}
	pthread_join(t, NULL);
	assert_true(c.room_events > 0);
	assert_int_equal(vdev_uart_tx_bytes(f->u) + vdev_uart_tx_dropped(f->u), c.total);
	pthread_cond_destroy(&c.cond);
	pthread_mutex_destroy(&c.lock);
}

static void test_random_accesses(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[256];

	srand(12345);
	for (int i = 0; i < 20000; i++) {
		uint8_t data[8];
		unsigned size = (unsigned)(rand() % 10);
		uint16_t port = (uint16_t)(BASE + rand() % 10 - 1);
		bool wr = rand() & 1;

		for (unsigned j = 0; j < sizeof(data); j++)
			data[j] = (uint8_t)rand();
		if (rand() % 8 == 0 && (data[0] & 0x80) == 0)
			data[0] |= 0x10; /* visit loopback often */
		int r = vdev_uart_pio(f->u, NULL, port, wr, data, size);
		assert_int_equal(r, (size >= 1 && size <= 8) ? 0 : -EINVAL);
		if (rand() % 16 == 0)
			vdev_uart_input(f->u, data, (size_t)(rand() % 8));
		if (i % 1000 == 0)
			drain(f, buf, sizeof(buf));
	}
	assert_int_equal(vdev_uart_pio(f->u, NULL, BASE, false, NULL, 1), -EINVAL);
	assert_int_equal(vdev_uart_input(NULL, buf, 1), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_linux_probe_16550a, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transmit_to_pipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_pipe_drops, setup, teardown),
		cmocka_unit_test(test_discard_without_fd),
		cmocka_unit_test_setup_teardown(test_rx_fifo_and_irq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thre_semantics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_divisor_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_accesses, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
