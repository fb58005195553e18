/* SPDX-License-Identifier: MIT */
/*
 * vdev/rtc.h - the MC146818 CMOS real-time clock of a PC (index port LAYOUT_RTC_PORT, data port + 1, IRQ
 * LAYOUT_RTC_IRQ).
 *
 * 128 bytes of CMOS: 0x00-0x09 the clock (seconds, alarm seconds, minutes, alarm minutes, hours, alarm hours, day
 * of week, day of month, month, year), 0x0a-0x0d registers A-D, 0x32 the century (the FADT's CENTURY index),
 * the rest battery-backed RAM. Bit 7 of the index (the PC's NMI mask) is ignored.
 *
 * The clock is the host's CLOCK_REALTIME read at each access, plus an offset (ns) that the guest sets by writing
 * the time (with register B's SET bit, or register A's divider in reset, the clock stops while the guest writes;
 * when it runs again the offset is taken from the written fields and, as on the chip, the next second begins
 * 500 ms later). Fields are BCD or binary per B.DM and 12- or 24-hour per B.24/12, encoded at read time; the
 * calendar is UTC-like (no DST; B.DSE is stored, not acted on). Register D always reports VRT (valid RAM/time).
 *
 * Update-in-progress: A.UIP reads 1 during the last 244 us of each second (the data sheet's t_BUC), so a 0 read
 * guarantees 244 us without a change, and UIP clears within 244 us. Linux's mc146818_avoid_UIP() (6.1: reads
 * seconds, checks UIP, re-reads seconds, reads the fields, checks UIP and seconds again, retrying a bounded
 * number of times) therefore gets a consistent time after at most a retry.
 *
 * Interrupts: register C's PF (periodic, rate per A.RS), AF (alarm, with the 0xC0-0xFF "don't care" codes) and UF
 * (update-ended) are computed when the guest reads C; IRQF and the IRQ line (level = IRQF, cleared by reading C)
 * follow B's PIE/AIE/UIE. So that interrupts arrive without the guest polling, the worker's I/O thread calls
 * vdev_rtc_poll() when the delay it returned has passed (a timerfd), and again after the notification of
 * vdev_rtc_set_timer_notify() says the guest changed the timers. Linux's rtc-cmos needs none of this to boot.
 *
 * Threads: every entry point is thread-safe. Follows the Motorola MC146818A data sheet; QEMU hw/rtc/mc146818rtc.c
 * for PC conventions; Linux drivers/rtc/rtc-mc146818-lib.c and rtc-cmos.c as the client.
 */
#ifndef OPENHV_VDEV_RTC_H
#define OPENHV_VDEV_RTC_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "vdev/vdev.h"
#include "vid/vid.h"

#define VDEV_RTC_PORTS 2u           /* index, data */
#define VDEV_RTC_CMOS_SIZE 128u     /* bytes of CMOS, clock registers included */
#define VDEV_RTC_CENTURY_INDEX 0x32 /* give this to the FADT's CENTURY field */

struct vdev_rtc;

/*
 * Create the RTC, running on host time (offset 0), 24-hour BCD mode (register B 0x02), 1024 Hz rate selected but
 * no interrupt enabled (register A 0x26), CMOS RAM zeroed. @irq is copied (NULL: no line).
 * Returns 0 and *@out, -EINVAL for a NULL @out, -ENOMEM.
 */
int vdev_rtc_create(const struct vdev_irq *irq, struct vdev_rtc **out);

/* Free the RTC. NULL is a no-op. */
void vdev_rtc_destroy(struct vdev_rtc *rtc);

/*
 * Port handler (vid_pio_fn) for VDEV_RTC_PORTS ports at an even base: @port & 1 selects index (0, write-only,
 * reads 0xff) or data (1). Wider accesses are split into bytes. Returns 0, or -EINVAL for a NULL @data or a
 * @size outside 1..8.
 */
int vdev_rtc_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data, unsigned size);

/*
 * Bring the interrupt flags up to date, drive the IRQ line, and return the delay in ns (>= 0) until the next
 * event whose interrupt the guest enabled, or -1 when none is enabled. For the worker's I/O thread.
 */
int64_t vdev_rtc_poll(struct vdev_rtc *rtc);

/*
 * @fn(@opaque) is called (on a VP thread, no RTC lock held) after the guest changed something that moves the
 * next event: register A or B, or the time. The I/O thread should then call vdev_rtc_poll() and re-arm. NULL: off.
 */
void vdev_rtc_set_timer_notify(struct vdev_rtc *rtc, void (*fn)(void *opaque), void *opaque);

/*
 * Replace the clock source (for tests): @now(@opaque, clk) returns the time of CLOCK_REALTIME or
 * CLOCK_MONOTONIC in ns. NULL restores clock_gettime(). Call before use.
 */
void vdev_rtc_set_clock(struct vdev_rtc *rtc, int64_t (*now)(void *opaque, clockid_t clk), void *opaque);

/*
 * Preset a CMOS RAM byte from the host (e.g. a memory-size byte a firmware would set). @index 0x0e..0x7f except
 * the century byte. Returns 0, or -EINVAL.
 */
int vdev_rtc_cmos_set(struct vdev_rtc *rtc, uint8_t index, uint8_t value);

/*
 * Start the clock @sec seconds away from the host's CLOCK_REALTIME (QEMU's -rtc base=; `openhv run --rtc-offset`),
 * as if the guest had set it so. Any thread.
 */
void vdev_rtc_set_offset(struct vdev_rtc *rtc, int64_t sec);

/* The guest's clock offset from host CLOCK_REALTIME, in ns (0 until the guest sets the time). */
int64_t vdev_rtc_offset_ns(struct vdev_rtc *rtc);

#endif
