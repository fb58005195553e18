/* SPDX-License-Identifier: MIT */
/*
 * vdev/vdev.h - what every emulated legacy device of the virtual motherboard shares: how it raises an interrupt
 * line and how it asks the board for power-off, reset or a panic stop.
 *
 * Devices never call vid/ directly: the worker hands them these callbacks at create time, and registers each
 * device's port handler (a vid_pio_fn, vid/vid.h) with vid_pio_register(). Unit tests call the handlers directly
 * with a NULL VP and recording callbacks, so no /dev/kvm is needed.
 *
 * Locking: a device calls vdev_irq.set_level with its own lock held (so level changes reach the interrupt
 * controller in the order the device made them); the callback must not call back into the device. Board
 * callbacks are called with no device lock held and may do anything (vid_partition_request_stop() is typical).
 */
#ifndef OPENHV_VDEV_VDEV_H
#define OPENHV_VDEV_VDEV_H

#include <stdint.h>

/* An interrupt line of a device: drive input @gsi of the interrupt controller to @level (0 or 1). */
struct vdev_irq {
	int (*set_level)(void *opaque, uint32_t gsi, int level); /* NULL: the device has no line wired */
	void *opaque;
	uint32_t gsi;
};

/* Board events a device can cause. Any member may be NULL (the event is then only logged). */
struct vdev_board_ops {
	void (*poweroff)(void *opaque);             /* ACPI S5 */
	void (*reset)(void *opaque);                /* ACPI reset register, i8042 pulse of the reset line */
	void (*panic)(void *opaque, uint32_t code); /* pvpanic; @code is the byte the guest wrote */
	void *opaque;
};

/* Drive @irq to @level if a line is wired. Returns the callback's result, or 0 when no line is wired. */
static inline int vdev_irq_set(const struct vdev_irq *irq, int level)
{
	if (!irq || !irq->set_level)
		return 0;
	return irq->set_level(irq->opaque, irq->gsi, level);
}

#endif
