/* SPDX-License-Identifier: MIT */
/*
 * vdev/pvpanic.h - QEMU's pvpanic ISA device (one 8-bit port at LAYOUT_PVPANIC_PORT, ACPI _HID "QEMU0001"), the
 * way a guest tells the host it crashed. Follows QEMU docs/specs/pvpanic.rst and hw/misc/pvpanic.c; the client
 * is Linux drivers/misc/pvpanic/ (pvpanic.c, pvpanic-mmio.c), which reads the port once for the supported events
 * and writes PVPANIC_PANICKED from its panic notifier, PVPANIC_CRASH_LOADED when a kdump kernel takes over.
 *
 *   read:  VDEV_PVPANIC_PANICKED | VDEV_PVPANIC_CRASH_LOADED (the events supported)
 *   write: bit 0 set -> the board's panic callback with code = the byte written; otherwise bit 1 set -> logged
 *          (a crash kernel is running; the guest lives on); other bits are ignored.
 *
 * Threads: thread-safe (no state); callbacks run on the calling (VP) thread.
 */
#ifndef OPENHV_VDEV_PVPANIC_H
#define OPENHV_VDEV_PVPANIC_H

#include <stdbool.h>
#include <stdint.h>

#include "vdev/vdev.h"
#include "vid/vid.h"

#define VDEV_PVPANIC_PANICKED 0x01u
#define VDEV_PVPANIC_CRASH_LOADED 0x02u

struct vdev_pvpanic;

/* Create the device. @board is copied (NULL: events are only logged). 0, -EINVAL for a NULL @out, -ENOMEM. */
int vdev_pvpanic_create(const struct vdev_board_ops *board, struct vdev_pvpanic **out);

/* Free. NULL is a no-op. */
void vdev_pvpanic_destroy(struct vdev_pvpanic *p);

/*
 * Port handler (vid_pio_fn) for 1 port at LAYOUT_PVPANIC_PORT. Only the first byte of a wider access is the
 * device; the others read 0xff and are dropped. 0, or -EINVAL for a NULL @data or a @size outside 1..8.
 */
int vdev_pvpanic_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data, unsigned size);

/* Panic events seen so far (bit-0 writes), for the worker's report. */
uint64_t vdev_pvpanic_count(struct vdev_pvpanic *p);

#endif
