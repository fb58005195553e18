/* SPDX-License-Identifier: MIT */
/*
 * vdev/uart.h - a 16550A UART (the PC's COM1 at LAYOUT_COM1_PORT, IRQ LAYOUT_COM1_IRQ).
 *
 * Registers (offset from the 8-port base): RBR/THR/DLL (0), IER/DLM (1), IIR/FCR (2), LCR (3), MCR (4), LSR (5),
 * MSR (6), SCR (7), with the read/write side effects of the National Semiconductor PC16550D data sheet; a 16-byte
 * receive FIFO with the FCR trigger levels; interrupt priorities line status > received data / character timeout
 * > THR empty > modem status; loopback mode (MCR bit 4). Written so that Linux's drivers/tty/serial/8250/
 * 8250_port.c autoconfig() identifies a 16550A (IER test, loopback MSR test, IIR FIFO bits, no EFR, no 16750
 * bits, no UUE bit, 16-byte FIFO in size_fifo()) and its startup THRE test passes (the THRE interrupt is raised
 * again whenever IER's THRI bit goes from 0 to 1 while THR is empty, as QEMU's hw/char/serial.c does).
 *
 * Timing model: the transmitter is instantaneous: a THR write goes to the output fd at once (or, in loopback,
 * into the receive FIFO), so LSR always shows THRE and TEMT, and each THR write re-arms the THRE interrupt. The
 * character timeout interrupt (IIR 0x0C) is reported as soon as the FIFO holds fewer bytes than the trigger
 * level: host input arrives in bursts, so by the time the guest looks the line has been idle long enough.
 * Received bytes are never overrun by host input (vdev_uart_input() refuses what does not fit); only loopback
 * can overrun (LSR OE), as on hardware.
 *
 * Interrupt line: level = (an interrupt is pending) && MCR.OUT2 && !MCR.LOOP, as a PC wires the 8250: OUT2 gates
 * INTR onto the ISA bus, and loopback forces the modem outputs (OUT2 included) inactive.
 *
 * Threads: every entry point is thread-safe (a VP thread and the worker's I/O thread may call at once).
 */
#ifndef OPENHV_VDEV_UART_H
#define OPENHV_VDEV_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdev/vdev.h"
#include "vid/vid.h"

#define VDEV_UART_PORTS 8u      /* ports used from the (8-aligned) base */
#define VDEV_UART_FIFO_SIZE 16u /* bytes in the receive FIFO with FCR.FE set; 1 (the RBR) without */

struct vdev_uart;

/*
 * Create a UART. Guest output goes to @out_fd (borrowed, not closed; -1 discards it): one write(2) per byte,
 * retried on EINTR; on EAGAIN (a full non-blocking pipe or socket) or an error the byte is dropped and counted
 * (vdev_uart_tx_dropped()). Give a non-blocking fd to be sure a VP never waits on a slow reader; a blocking fd
 * makes the VP wait as long as write(2) does. The worker should ignore SIGPIPE. @irq is copied (NULL or a NULL
 * set_level: no line). Returns 0 and *@out, or -ENOMEM.
 */
int vdev_uart_create(int out_fd, const struct vdev_irq *irq, struct vdev_uart **out);

/* Free the UART. NULL is a no-op. No handler or input call may run concurrently or later. */
void vdev_uart_destroy(struct vdev_uart *u);

/*
 * Port handler (vid_pio_fn): register it for VDEV_UART_PORTS ports at an 8-aligned base; the register is
 * @port & 7. Accesses of 2 or 4 bytes are split into byte accesses at @port, @port + 1, ... (as the ISA bus
 * does). Returns 0, or -EINVAL for a NULL @data or a @size outside 1..8. @vp is unused (may be NULL).
 */
int vdev_uart_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data, unsigned size);

/*
 * Push @len host bytes into the receive FIFO (the guest reads them from RBR). Returns how many were taken (0..
 * @len, at most INT_MAX), from the front of @buf; the caller keeps the rest and retries once there is room (see
 * vdev_uart_set_rx_notify() and vdev_uart_rx_room()). Nothing is taken while the UART is in loopback mode.
 * -EINVAL for a NULL @u, or a NULL @buf with @len > 0.
 */
int vdev_uart_input(struct vdev_uart *u, const uint8_t *buf, size_t len);

/* Bytes the receive FIFO can take now (0 in loopback mode). */
size_t vdev_uart_rx_room(struct vdev_uart *u);

/*
 * Ask to be told when the receive FIFO has room again after a vdev_uart_input() call took fewer bytes than it
 * was given: @fn(@opaque) is then called once, on the thread of the guest access that freed the room (a VP
 * thread), with no UART lock held; it may call vdev_uart_input() or just wake the I/O thread (write an eventfd).
 * @fn NULL turns the notification off. Set it before the partition runs.
 */
void vdev_uart_set_rx_notify(struct vdev_uart *u, void (*fn)(void *opaque), void *opaque);

/* Guest output bytes written to the fd, and bytes dropped because the fd was full or failed (not counted: bytes
 * discarded for lack of an fd, and bytes looped back in loopback mode). */
uint64_t vdev_uart_tx_bytes(struct vdev_uart *u);
uint64_t vdev_uart_tx_dropped(struct vdev_uart *u);

#endif
