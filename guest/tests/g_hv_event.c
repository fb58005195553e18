/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_hv_event.c - HvSignalEvent (guest -> host) and SynIC event flags (host -> guest)
 * (tests/mg/mg_hv_event.c).
 *
 * Host connections: CONN_FAST has an eventfd (flag 0 is served by a KVM ioeventfd without an exit) and a handler
 * for other flags; CONN_SLOW has only a handler, which on flag 3 sets event flag 42 of SINT2 here twice (the
 * second finds it set); CONN_NONE is not registered. After EV_READY the host sets flag 7 from a thread of its
 * own.
 *
 * Values: the OR of three fast signals' statuses, EV_FAST_DONE (the host samples its eventfd and counters), the
 * statuses of CONN_FAST flag 1, CONN_SLOW flag 0, CONN_NONE, CONN_SLOW flag 3; flag 42 found set (1), the number
 * of SINT interrupts so far, other flags found set (0); EV_READY; flag 7 found set (1), other flags (0).
 */
#include "rt/hvc.h"

#define CONN_FAST 0x10
#define CONN_SLOW 0x11
#define CONN_NONE 0x99
#define EV_FAST_DONE 0xe0000001u
#define EV_READY 0xe0000002u
#define SINT_VMBUS 2
#define VEC_SINT 0x53
#define VEC_TIMEOUT 0x5f

static volatile unsigned sint_hits;
static volatile bool timed_out;

static void on_sint(struct mg_frame *f)
{
	sint_hits++;
	mg_lapic_eoi();
}

static void on_timeout(struct mg_frame *f)
{
	timed_out = true;
	mg_lapic_eoi();
}

/* Sleep until the SINT interrupt count exceeds @hits (or ~5 s). */
static bool wait_irq(unsigned hits)
{
	mg_lapic_timer_oneshot(VEC_TIMEOUT, 5000000000u / 128, 128);
	while (sint_hits == hits && !timed_out) {
		sti_hlt();
		cli();
	}
	mg_lapic_write(APIC_TIMER_INITIAL, 0);
	return !timed_out;
}

/* Number of set flags in SINT2's bitmap. */
static unsigned flags_set(void)
{
	const volatile uint64_t *w = (const volatile uint64_t *)(const volatile void *)(hvc_sief_page() +
											  SINT_VMBUS * HV_SYNIC_EVENT_FLAGS_BYTES);
	unsigned n = 0;

	for (unsigned i = 0; i < HV_SYNIC_EVENT_FLAGS_BYTES / 8; i++)
		for (uint64_t x = w[i]; x; x &= x - 1)
			n++;
	return n;
}

int mg_main(const struct hvm_start_info *si)
{
	uint32_t st = 0;
	unsigned hits;

	mg_trap_install(VEC_SINT, on_sint, 0);
	mg_trap_install(VEC_TIMEOUT, on_timeout, 0);
	mg_lapic_enable();
	MG_CHECK(hvc_hypercall_enable(hvc_hypercall_page_default, 0) == 0);
	MG_CHECK(hvc_synic_enable() == 0);
	hvc_sint_set(SINT_VMBUS, VEC_SINT, false, false);
	MG_CHECK(flags_set() == 0);

	for (unsigned i = 0; i < 3; i++)
		st |= hvc_signal_event(CONN_FAST, 0);
	mg_report(st);
	mg_report(EV_FAST_DONE);

	mg_report(hvc_signal_event(CONN_FAST, 1));
	mg_report(hvc_signal_event(CONN_SLOW, 0));
	mg_report(hvc_signal_event(CONN_NONE, 0));
	hits = sint_hits;
	mg_report(hvc_signal_event(CONN_SLOW, 3));
	MG_CHECK(wait_irq(hits));
	mg_report(hvc_event_flag_test_clear(SINT_VMBUS, 42));
	mg_report(sint_hits);
	mg_report(flags_set());

	hits = sint_hits;
	mg_report(EV_READY);
	MG_CHECK(wait_irq(hits));
	mg_report(hvc_event_flag_test_clear(SINT_VMBUS, 7));
	mg_report(flags_set());
	return 0;
}
