// SPDX-License-Identifier: MIT
/*
 * vdev/uart.c - 16550A UART (see vdev/uart.h for the model and its sources).
 *
 * Locks: tx_lock serialises guest writes so output bytes leave in the order the guest wrote them even though the
 * write(2) runs outside the state lock (host input must not wait behind a slow console); lock guards the
 * registers. Order: tx_lock, then lock.
 */
#define LOG_TAG "uart"
#include "vdev/uart.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"

/* Register offsets. */
enum {
	UART_RBR_THR = 0, /* DLL with LCR.DLAB */
	UART_IER = 1,     /* DLM with LCR.DLAB */
	UART_IIR_FCR = 2,
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};

#define IER_RDI 0x01  /* received data available */
#define IER_THRI 0x02 /* THR empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI 0x08  /* modem status */
#define IER_MASK 0x0f /* bits 7:4 read as zero on a 16550A */

#define IIR_NO_INT 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_CTI 0x0c /* character timeout */
#define IIR_FIFO_ENABLED 0xc0

#define FCR_FE 0x01  /* FIFO enable */
#define FCR_RFR 0x02 /* clear the receive FIFO */
#define FCR_XFR 0x04 /* clear the transmit FIFO */
#define FCR_DMS 0x08 /* DMA mode select */
#define FCR_STICKY (FCR_FE | FCR_DMS | 0xc0)

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f /* bits 7:5 read as zero (AFE is a 16750 feature) */

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_PE 0x04
#define LSR_FE 0x08
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
#define MSR_HOST_LINES (MSR_CTS | MSR_DSR | MSR_DCD) /* what the host side drives outside loopback */

struct vdev_uart {
	pthread_mutex_t tx_lock;
	pthread_mutex_t lock;
	int out_fd;
	struct vdev_irq irq;
	void (*rx_notify)(void *opaque);
	void *rx_notify_opaque;

	/* registers (under lock) */
	uint8_t ier, lcr, mcr, scr, fcr;
	uint8_t lsr_errors; /* LSR bits 4:1, cleared by an LSR read */
	uint16_t divisor;
	uint8_t rbr; /* the last byte the guest read */
	uint8_t fifo[VDEV_UART_FIFO_SIZE];
	unsigned fifo_head, fifo_count;
	bool thr_ipending; /* THRE interrupt armed (cleared by an IIR read that reports it and by THR writes) */
	uint8_t msr_lines; /* MSR bits 7:4 */
	uint8_t msr_delta; /* MSR bits 3:0, cleared by an MSR read */
	bool rx_starved;   /* input was refused for lack of room: notify when room appears */
	int irq_level;     /* level last driven */

	_Atomic uint64_t tx_bytes;
	_Atomic uint64_t tx_dropped;
};

static unsigned uart_rx_capacity(const struct vdev_uart *u)
{
	return (u->fcr & FCR_FE) ? VDEV_UART_FIFO_SIZE : 1u;
}

static unsigned uart_rx_trigger(const struct vdev_uart *u)
{
	static const unsigned levels[4] = { 1, 4, 8, 14 };

	return levels[(u->fcr >> 6) & 3];
}

/* The identification of the highest-priority pending interrupt (IIR bits 3:0). */
static uint8_t uart_iir_id(const struct vdev_uart *u)
{
	if ((u->ier & IER_RLSI) && (u->lsr_errors & LSR_ERRORS))
		return IIR_RLSI;
	if ((u->ier & IER_RDI) && u->fifo_count) {
		if (!(u->fcr & FCR_FE) || u->fifo_count >= uart_rx_trigger(u))
			return IIR_RDI;
		return IIR_CTI;
	}
	if ((u->ier & IER_THRI) && u->thr_ipending)
		return IIR_THRI;
	if ((u->ier & IER_MSI) && u->msr_delta)
		return IIR_MSI;
	return IIR_NO_INT;
}

static void uart_update_irq(struct vdev_uart *u)
{
	int level = uart_iir_id(u) != IIR_NO_INT && (u->mcr & MCR_OUT2) && !(u->mcr & MCR_LOOP);

	if (level != u->irq_level) {
		u->irq_level = level;
		vdev_irq_set(&u->irq, level);
	}
}

/* Set the modem status inputs (bits 7:4) and latch the deltas as the 16550 does (TERI on RI 1 -> 0 only). */
static void uart_msr_set_lines(struct vdev_uart *u, uint8_t lines)
{
	uint8_t changed = (uint8_t)((u->msr_lines ^ lines) & 0xf0);

	u->msr_delta |= (uint8_t)((changed >> 4) & (MSR_DCTS | MSR_DDSR | MSR_DDCD));
	if ((u->msr_lines & MSR_RI) && !(lines & MSR_RI))
		u->msr_delta |= MSR_TERI;
	u->msr_lines = lines;
}

/* The modem inputs the guest sees: the host side's lines, or in loopback the MCR outputs wired back. */
static uint8_t uart_msr_inputs(const struct vdev_uart *u)
{
	uint8_t m = u->mcr, lines = 0;

	if (!(m & MCR_LOOP))
		return MSR_HOST_LINES;
	if (m & MCR_RTS)
		lines |= MSR_CTS;
	if (m & MCR_DTR)
		lines |= MSR_DSR;
	if (m & MCR_OUT1)
		lines |= MSR_RI;
	if (m & MCR_OUT2)
		lines |= MSR_DCD;
	return lines;
}

static void uart_fifo_clear(struct vdev_uart *u)
{
	u->fifo_head = 0;
	u->fifo_count = 0;
}

/* Receive one byte; returns false (and flags an overrun) when the FIFO is full. */
static bool uart_fifo_push(struct vdev_uart *u, uint8_t b)
{
	if (u->fifo_count >= uart_rx_capacity(u)) {
		u->lsr_errors |= LSR_OE;
		return false;
	}
	u->fifo[(u->fifo_head + u->fifo_count) % VDEV_UART_FIFO_SIZE] = b;
	u->fifo_count++;
	return true;
}

/* Room appeared in the receive FIFO: should the input side be told? (once per refused input) */
static bool uart_room_event(struct vdev_uart *u)
{
	if (!u->rx_starved || (u->mcr & MCR_LOOP) || u->fifo_count >= uart_rx_capacity(u))
		return false;
	u->rx_starved = false;
	return true;
}

static uint8_t uart_read_locked(struct vdev_uart *u, unsigned reg, bool *notify)
{
	uint8_t v = 0xff, id;

	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			return (uint8_t)(u->divisor & 0xff);
		if (u->fifo_count) {
			u->rbr = u->fifo[u->fifo_head];
			u->fifo_head = (u->fifo_head + 1) % VDEV_UART_FIFO_SIZE;
			u->fifo_count--;
			*notify = uart_room_event(u);
			uart_update_irq(u);
		}
		return u->rbr;
	case UART_IER:
		if (u->lcr & LCR_DLAB)
			return (uint8_t)(u->divisor >> 8);
		return u->ier;
	case UART_IIR_FCR:
		id = uart_iir_id(u);
		v = (uint8_t)(id | ((u->fcr & FCR_FE) ? IIR_FIFO_ENABLED : 0));
		if (id == IIR_THRI) {
			/* Reading IIR while it reports THRE clears that interrupt (PC16550D, table IV). */
			u->thr_ipending = false;
			uart_update_irq(u);
		}
		return v;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = (uint8_t)(LSR_THRE | LSR_TEMT | (u->lsr_errors & LSR_ERRORS) | (u->fifo_count ? LSR_DR : 0));
		if (u->lsr_errors) {
			u->lsr_errors = 0;
			uart_update_irq(u);
		}
		return v;
	case UART_MSR:
		v = (uint8_t)(u->msr_lines | u->msr_delta);
		if (u->msr_delta) {
			u->msr_delta = 0;
			uart_update_irq(u);
		}
		return v;
	case UART_SCR:
		return u->scr;
	}
	return v;
}

/* Returns the byte to send to the output fd, or -1. */
static int uart_write_locked(struct vdev_uart *u, unsigned reg, uint8_t val, bool *notify)
{
	int out = -1;
	uint8_t changed;

	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->divisor = (uint16_t)((u->divisor & 0xff00) | val);
			break;
		}
		if (u->mcr & MCR_LOOP)
			uart_fifo_push(u, val); /* the transmitter output is wired to the receiver */
		else
			out = val;
		/* The transmitter takes the byte at once, so THR is empty again: THRE re-arms. */
		u->thr_ipending = true;
		uart_update_irq(u);
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->divisor = (uint16_t)((u->divisor & 0x00ff) | (val << 8));
			break;
		}
		changed = (uint8_t)((u->ier ^ val) & IER_MASK);
		u->ier = val & IER_MASK;
		/* Setting THRI while THR is empty raises THRE again (Linux's startup THRE test relies on it). */
		if (changed & IER_THRI)
			u->thr_ipending = (u->ier & IER_THRI) != 0;
		uart_update_irq(u);
		break;
	case UART_IIR_FCR:
		if ((val ^ u->fcr) & FCR_FE)
			val |= FCR_RFR | FCR_XFR; /* switching the FIFOs on or off empties them */
		u->fcr = val & FCR_STICKY;
		if (val & FCR_RFR) {
			uart_fifo_clear(u);
			*notify = uart_room_event(u);
		}
		uart_update_irq(u);
		break;
	case UART_LCR:
		u->lcr = val;
		break;
	case UART_MCR:
		u->mcr = val & MCR_MASK;
		uart_msr_set_lines(u, uart_msr_inputs(u));
		*notify = uart_room_event(u);
		uart_update_irq(u);
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* read-only (factory test registers) */
	case UART_SCR:
		u->scr = val;
		break;
	}
	return out;
}

static void uart_output(struct vdev_uart *u, uint8_t b)
{
	if (u->out_fd < 0)
		return;
	for (int tries = 0; tries < 8; tries++) {
		ssize_t n = write(u->out_fd, &b, 1);

		if (n == 1) {
			atomic_fetch_add(&u->tx_bytes, 1);
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			log_guest("output fd %d: %s; dropping output", u->out_fd, strerror(errno));
		break;
	}
	atomic_fetch_add(&u->tx_dropped, 1);
}

static void uart_access(struct vdev_uart *u, unsigned reg, bool is_write, uint8_t *b)
{
	void (*notify_fn)(void *) = NULL;
	void *notify_opaque = NULL;
	bool notify = false;
	int out = -1;

	if (is_write)
		pthread_mutex_lock(&u->tx_lock);
	pthread_mutex_lock(&u->lock);
	if (is_write)
		out = uart_write_locked(u, reg, *b, &notify);
	else
		*b = uart_read_locked(u, reg, &notify);
	if (notify) {
		notify_fn = u->rx_notify;
		notify_opaque = u->rx_notify_opaque;
	}
	pthread_mutex_unlock(&u->lock);
	if (out >= 0)
		uart_output(u, (uint8_t)out);
	if (is_write)
		pthread_mutex_unlock(&u->tx_lock);
	if (notify_fn)
		notify_fn(notify_opaque);
}

int vdev_uart_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data, unsigned size)
{
	struct vdev_uart *u = opaque;
	uint32_t base = port & ~(uint32_t)(VDEV_UART_PORTS - 1);

	if (!u || !data || size < 1 || size > 8)
		return -EINVAL;
	for (unsigned i = 0; i < size; i++) {
		uint32_t p = (uint32_t)port + i;

		if (p >= base + VDEV_UART_PORTS) {
			if (!is_write)
				data[i] = 0xff; /* past our registers: nothing answers */
			continue;
		}
		uart_access(u, p - base, is_write, &data[i]);
	}
	return 0;
}

int vdev_uart_input(struct vdev_uart *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	if (!u || (!buf && len))
		return -EINVAL;
	if (len > INT_MAX)
		len = INT_MAX;
	pthread_mutex_lock(&u->lock);
	if (!(u->mcr & MCR_LOOP)) {
		while (n < len && u->fifo_count < uart_rx_capacity(u))
			uart_fifo_push(u, buf[n++]);
	}
	if (n < len)
		u->rx_starved = true;
	if (n)
		uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return (int)n;
}

size_t vdev_uart_rx_room(struct vdev_uart *u)
{
	size_t room;

	if (!u)
		return 0;
	pthread_mutex_lock(&u->lock);
	room = (u->mcr & MCR_LOOP) ? 0 : uart_rx_capacity(u) - u->fifo_count;
	pthread_mutex_unlock(&u->lock);
	return room;
}

void vdev_uart_set_rx_notify(struct vdev_uart *u, void (*fn)(void *opaque), void *opaque)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	u->rx_notify = fn;
	u->rx_notify_opaque = opaque;
	pthread_mutex_unlock(&u->lock);
}

uint64_t vdev_uart_tx_bytes(struct vdev_uart *u)
{
	return u ? atomic_load(&u->tx_bytes) : 0;
}

uint64_t vdev_uart_tx_dropped(struct vdev_uart *u)
{
	return u ? atomic_load(&u->tx_dropped) : 0;
}

int vdev_uart_create(int out_fd, const struct vdev_irq *irq, struct vdev_uart **out)
{
	struct vdev_uart *u;

	if (!out)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	pthread_mutex_init(&u->tx_lock, NULL);
	pthread_mutex_init(&u->lock, NULL);
	u->out_fd = out_fd;
	if (irq)
		u->irq = *irq;
	u->divisor = 12; /* 9600 baud from the 1.8432 MHz clock */
	u->msr_lines = MSR_HOST_LINES;
	u->irq_level = 0; /* interrupt controller inputs start low */
	*out = u;
	return 0;
}

void vdev_uart_destroy(struct vdev_uart *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->lock);
	pthread_mutex_destroy(&u->tx_lock);
	free(u);
}
