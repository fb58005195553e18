/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_hv_crash.c - the guest stops itself through the interface (tests/mg/mg_hv_crash.c). One case per
 * run, chosen by a command-line word:
 *   crash      as Linux's hv_kmsg_dump() + hyperv_report_panic(): CRASH_P0..P4 with P3 = GPA of a page of text
 *              and P4 = its length, then CRASH_CTL = NOTIFY | NOTIFY_MSG;
 *   crash_bad  the same with P3 outside guest RAM and P4 beyond a page (the host must still report the crash);
 *   reset      HV_X64_MSR_RESET = 1.
 * Before stopping it reports CRASH_CTL as read (Linux reads it to learn whether NOTIFY_MSG is supported). The
 * write must stop the partition: if the guest runs on, it reports CRASH_RAN_ON and fails.
 */
#include "rt/hvc.h"

#define CRASH_RAN_ON 0xdead0001u
#define CRASH_TEXT "Kernel panic - not syncing: test"

static char text_page[4096] __attribute__((aligned(4096))) = CRASH_TEXT;

int mg_main(const struct hvm_start_info *si)
{
	uint64_t ctl = rdmsr(HV_X64_MSR_CRASH_CTL);
	uint64_t p[HV_CRASH_PARAMS] = {
		0x1234,                                   /* P0: panic code */
		(uint64_t)HV_LINUX_VENDOR_ID << 48 | 0x060177ull << 16, /* P1: guest OS id */
		0xffffffff81000000ull,                    /* P2: RIP */
		(uint64_t)(uintptr_t)text_page,           /* P3: the text page */
		sizeof(CRASH_TEXT) - 1,                   /* P4: its length */
	};

	mg_report((uint32_t)(ctl >> 32));
	if (mg_cmdline_has("reset")) {
		wrmsr(HV_X64_MSR_RESET, HV_X64_MSR_RESET_VALUE);
	} else if (mg_cmdline_has("crash_bad")) {
		p[3] = 0x7ffff000000ull; /* far outside RAM */
		p[4] = 0x100000;
		hvc_crash_report(p, HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG);
	} else if (mg_cmdline_has("crash")) {
		hvc_crash_report(p, HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG);
	} else {
		mg_printf("no case on the command line \"%s\"\n", mg_cmdline());
		return 1;
	}
	/* The stop was requested during the WRMSR exit; at most a few instructions run before the VP is kicked. */
	for (volatile unsigned i = 0; i < 10000; i++)
		cpu_relax();
	mg_report(CRASH_RAN_ON);
	return 2;
}
