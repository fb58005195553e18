/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_triple_fault.c - an exception with an empty IDT must end in a triple fault (tests/mg/
 * mg_triple_fault.c): #UD cannot be delivered -> #GP -> #DF -> shutdown. Reports 1 just before. Option "int3"
 * raises #BP instead of #UD (int3 is one of the instructions the platform's emulator hands to the VMM).
 */
#include "rt/mg.h"

int mg_main(const struct hvm_start_info *si)
{
	mg_report(1);
	mg_idt_load_empty();
	if (mg_cmdline_has("int3"))
		__asm__ volatile("int3");
	else
		__asm__ volatile("ud2");
	mg_report(2); /* not reached */
	return 1;
}
