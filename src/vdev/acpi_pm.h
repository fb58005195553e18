/* SPDX-License-Identifier: MIT */
/*
 * vdev/acpi_pm.h - the hardware-reduced ACPI power-management registers of the board (ACPI 6.x section 4.8.3.7,
 * "Sleep Control and Status Registers", and the FADT RESET_REG): three 8-bit I/O ports.
 *
 *   LAYOUT_ACPI_SLEEP_CTL_PORT  SLEEP_CONTROL_REG, write-only: SLP_EN bit 5, SLP_TYP bits 4:2. SLP_EN with
 *                               SLP_TYP == LAYOUT_ACPI_S5_SLP_TYP: the board's poweroff callback. Any other SLP_TYP
 *                               with SLP_EN: the sleep state is not supported, so the board "wakes" at once: WAK_STS
 *                               is set (logged), because Linux's acpi_hw_extended_sleep() spins until it is.
 *                               Reads 0.
 *   LAYOUT_ACPI_SLEEP_STS_PORT  SLEEP_STATUS_REG: WAK_STS bit 7, write 1 to clear; other bits read 0.
 *   LAYOUT_ACPI_RESET_PORT      RESET_REG: writing LAYOUT_ACPI_RESET_VALUE calls the board's reset callback
 *                               (Linux acpi_reset(), drivers/acpi/acpica/hwxface.c); other values are ignored.
 *                               Reads 0.
 *
 * Bit positions checked against Linux 6.1 include/acpi/actbl.h (ACPI_X_SLEEP_TYPE_POSITION 2, _MASK 0x1C,
 * ACPI_X_SLEEP_ENABLE 0x20, ACPI_X_WAKE_STATUS 0x80) and drivers/acpi/acpica/hwesleep.c.
 * Threads: thread-safe; callbacks run on the calling (VP) thread with no device lock held.
 */
#ifndef OPENHV_VDEV_ACPI_PM_H
#define OPENHV_VDEV_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>

#include "vdev/vdev.h"
#include "vid/vid.h"

#define VDEV_ACPI_PM_PORTS 3u /* register the handler for 3 ports at LAYOUT_ACPI_SLEEP_CTL_PORT */

#define VDEV_ACPI_SLP_TYP_SHIFT 2
#define VDEV_ACPI_SLP_TYP_MASK 0x1c
#define VDEV_ACPI_SLP_EN 0x20
#define VDEV_ACPI_WAK_STS 0x80

struct vdev_acpi_pm;

/* Create the registers; WAK_STS starts clear. @board is copied (NULL: events are only logged). 0, -EINVAL, -ENOMEM. */
int vdev_acpi_pm_create(const struct vdev_board_ops *board, struct vdev_acpi_pm **out);

/* Free. NULL is a no-op. */
void vdev_acpi_pm_destroy(struct vdev_acpi_pm *pm);

/*
 * Port handler (vid_pio_fn) for the ports above (absolute port numbers from boot/layout.h). Wider accesses are
 * split into bytes; bytes on other ports read 0xff and are dropped. 0, or -EINVAL for a NULL @data or a @size
 * outside 1..8.
 */
int vdev_acpi_pm_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data, unsigned size);

#endif
