/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_board.c - drives the board's guest-visible exits for `openhv run` tests (no test device needed):
 *   "panic"    : pvpanic event PANICKED (port LAYOUT_PVPANIC_PORT), as Linux's pvpanic driver does on panic
 *   "s5"       : ACPI sleep control register write SLP_TYP=5|SLP_EN, as Linux's acpi_enter_sleep_state(S5)
 *   "reset"    : ACPI reset register write (FADT RESET_REG), as Linux's acpi_reboot()
 *   "kbdreset" : i8042 pulse of the reset line (command 0xFE), as Linux's reboot=k
 *   "uart"     : prints a line on COM1 through the 16550 THR, then powers off through S5
 * Each path must end the VM by itself; falling through reports failure 0xbad.
 */
#include "rt/mg.h"

static void uart_puts(const char *s)
{
	for (; *s; s++) {
		while (!(inb(LAYOUT_COM1_PORT + 5) & 0x20)) /* LSR.THRE */
			cpu_relax();
		outb(LAYOUT_COM1_PORT, (uint8_t)*s);
	}
}

static void s5(void)
{
	outb(LAYOUT_ACPI_SLEEP_STS_PORT, 0x80);                                   /* clear WAK_STS */
	outb(LAYOUT_ACPI_SLEEP_CTL_PORT, (LAYOUT_ACPI_S5_SLP_TYP << 2) | 0x20); /* SLP_TYP | SLP_EN */
}

int mg_main(const struct hvm_start_info *si)
{
	if (mg_cmdline_has("panic")) {
		MG_CHECK(inb(LAYOUT_PVPANIC_PORT) & 1); /* the device advertises PANICKED */
		outb(LAYOUT_PVPANIC_PORT, 1);
	} else if (mg_cmdline_has("s5")) {
		s5();
	} else if (mg_cmdline_has("reset")) {
		outb(LAYOUT_ACPI_RESET_PORT, LAYOUT_ACPI_RESET_VALUE);
	} else if (mg_cmdline_has("kbdreset")) {
		outb(LAYOUT_I8042_CMD_PORT, 0xfe);
	} else if (mg_cmdline_has("uart")) {
		uart_puts("g_board: hello on COM1\n");
		s5();
	}
	return 0xbad;
}
