/* SPDX-License-Identifier: MIT */
/*
 * openhv/testdev.h - wire format of the micro-guest test device (OpenHV's own; no spec).
 *
 * Ports LAYOUT_TESTDEV_PORT + offset (boot/layout.h). All writes are 32-bit `out` unless noted.
 *   +0  TESTDEV_REG_RESULT  write: the test's result; 0 = pass, anything else = failure code. Ends the run.
 *   +4  TESTDEV_REG_VALUE   write: append a 32-bit value to the host's report list (checked by host tests).
 *   +8  TESTDEV_REG_PUTC    write (8-bit): one byte of debug text; the host prints lines with an "mg:" prefix.
 *   +12 TESTDEV_REG_ECHO    write: latch a value; read: return the latched value + 1 (a round-trip check).
 */
#ifndef OPENHV_TESTDEV_H
#define OPENHV_TESTDEV_H

#define TESTDEV_REG_RESULT 0
#define TESTDEV_REG_VALUE 4
#define TESTDEV_REG_PUTC 8
#define TESTDEV_REG_ECHO 12

#define TESTDEV_RESULT_PASS 0u

#endif
