/* SPDX-License-Identifier: MIT */
/*
 * vdev/i8042.h - the PC keyboard controller (i8042) with a PS/2 keyboard and no AUX (mouse) device: data port
 * LAYOUT_I8042_DATA_PORT, status/command port LAYOUT_I8042_CMD_PORT, keyboard IRQ LAYOUT_I8042_IRQ.
 *
 * Controller: status register (OBF, SYS, CMD/DATA, not keyboard-inhibited, AUXDATA; IBF never set: commands
 * complete at once), the command byte (CTR; 0x20/0x60 and the rest of the 32-byte RAM at 0x21-0x3f/0x61-0x7f),
 * self test 0xAA -> 0x55, interface tests 0xAB/0xA9 -> 0x00, 0xAD/0xAE and 0xA7 port disable/enable, 0xC0/0xD0
 * input/output port reads, 0xD1 output-port write (bit 0 clear resets the machine), 0xD2/0xD3 writes into the
 * keyboard/AUX output buffer, 0xDD/0xDF A20, 0xE0 test inputs, 0xF0-0xFF pulses (bit 0 clear pulses the reset
 * line: the board's reset callback, once per command).
 *
 * No AUX port: 0xA8 (enable AUX) leaves CTR's AUX-disable bit set, and 0xD4 bytes go nowhere. Linux's
 * drivers/input/serio/i8042.c i8042_check_aux() then fails silently at the enable half of its bit-assignment
 * test (i8042_toggle_aux(true), ~100 CTR reads), after a passing AUX_LOOP (0xD3, answered with AUXDATA), so
 * the probe takes no 0.5 s timeouts and prints nothing. (The ACPI tables can spare even that by listing no
 * PNP0F13 device.)
 *
 * Keyboard (behind the controller's keyboard port): 0xFF reset -> 0xFA 0xAA; 0xF2 identify -> 0xFA 0xAB then
 * 0x41 (translated, CTR bit 6) or 0x83; 0xED LEDs, 0xF3 typematic, 0xF0 scan-code set (argument 0 reads it back)
 * -> 0xFA per byte; 0xEE echo -> 0xEE; 0xF4/0xF5/0xF6/0xF7-0xFD -> 0xFA; 0xFE resend; anything else -> 0xFE.
 * Keyboard bytes wait while the keyboard port is disabled (CTR bit 4); controller answers do not. A byte written
 * to the keyboard re-enables its port (as QEMU's hw/input/pckbd.c does).
 *
 * IRQ line: level = output buffer full with keyboard-side data && CTR bit 0 (AUX data on the optional AUX line
 * with CTR bit 1). Threads: every entry point is thread-safe. Follows the IBM PC AT technical reference and
 * QEMU hw/input/pckbd.c for the command set, Linux i8042.c and atkbd.c as the client.
 */
#ifndef OPENHV_VDEV_I8042_H
#define OPENHV_VDEV_I8042_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdev/vdev.h"
#include "vid/vid.h"

struct vdev_i8042;

/*
 * Create the controller: CTR 0x65 (keyboard interrupt on, system flag, AUX disabled, translation on), output port
 * 0x03 (reset line high, A20 on), keyboard scanning. @irq (the keyboard line) and @board are copied; either may be
 * NULL. Returns 0 and *@out, -EINVAL for a NULL @out, -ENOMEM.
 */
int vdev_i8042_create(const struct vdev_irq *irq, const struct vdev_board_ops *board, struct vdev_i8042 **out);

/* Free the controller. NULL is a no-op. */
void vdev_i8042_destroy(struct vdev_i8042 *k);

/* Wire the AUX line (IRQ 12 on a PC) for bytes written with 0xD3. Default: none. Before the partition runs. */
void vdev_i8042_set_aux_irq(struct vdev_i8042 *k, const struct vdev_irq *irq);

/*
 * Port handler (vid_pio_fn): register it for 1 port at LAYOUT_I8042_DATA_PORT and 1 port at
 * LAYOUT_I8042_CMD_PORT. Bytes of a wider access that fall on other ports read 0xff and are dropped. Returns 0,
 * or -EINVAL for a NULL @data or a @size outside 1..8.
 */
int vdev_i8042_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data, unsigned size);

/*
 * Queue host keyboard bytes (scan codes in the form the guest expects: set 1 when CTR translation is on) for the
 * guest. Returns how many were queued (the queue holds 16 bytes; nothing is queued while the keyboard has
 * scanning disabled), or -EINVAL.
 */
int vdev_i8042_kbd_input(struct vdev_i8042 *k, const uint8_t *buf, size_t len);

#endif
