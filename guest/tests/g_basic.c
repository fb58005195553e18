/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_basic.c - the smallest useful guest: values 1, 2, 3, an echo round trip, then pass.
 * Options: "fail=N" returns N instead of 0 (the host checks that a failure code arrives); "hang" halts with
 * interrupts off before any result (the host's watchdog must end the run); "trap" executes ud2 with no handler
 * installed (the runtime's default handler must report it and fail with MG_RESULT_UNEXPECTED_TRAP | 6); "irq" sends
 * itself IPI vector 0x77 with no handler (reported the same way, as MG_RESULT_UNEXPECTED_TRAP | 0x77).
 */
#include "rt/mg.h"

int mg_main(const struct hvm_start_info *si)
{
	MG_CHECK(si->magic == XEN_HVM_START_MAGIC_VALUE);
	mg_report(1);
	mg_report(2);
	mg_report(3);
	mg_report(mg_echo(0x1234abcd));
	mg_puts("hello from basic\n");
	if (mg_cmdline_has("hang"))
		mg_halt_forever();
	if (mg_cmdline_has("trap"))
		__asm__ volatile("ud2");
	if (mg_cmdline_has("irq")) {
		mg_lapic_enable();
		mg_lapic_send_fixed(0, 0x77);
		sti_hlt();
		cli();
	}
	return (int)mg_cmdline_uint("fail", 0);
}
