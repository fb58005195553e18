/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_hv_stimer.c - synthetic timers (tests/mg/mg_hv_stimer.c, profile FULL; TLFS 12.2).
 *
 * 1. STIMER0 periodic in direct mode (VEC_DIRECT, period STIMER_PERIOD) fires STIMER_FIRES times, not faster than
 *    the period allows and within STIMER_DEADLINE; then it is stopped.
 * 2. STIMER1 one-shot in message mode on SINT3 (VEC_SINT3, AutoEOI = 0) at an absolute time 2 ms ahead: an
 *    HVMSG_TIMER_EXPIRED message arrives in slot 3 with timer_index 1, expiration_time = the COUNT written and a
 *    delivery_time not before it; the one-shot timer is disabled afterwards.
 * Every timer is stopped before the result (the host's timer thread must be idle when the partition goes).
 *
 * Values: direct-mode interrupts, the ticks they took, the message type, timer_index, expiration_time == COUNT
 * (1), delivery_time - expiration_time (ticks), STIMER1_CONFIG after expiry.
 */
#include "rt/hvc.h"

#define VEC_DIRECT 0x60
#define VEC_SINT3 0x61
#define VEC_GUARD 0x5f
#define STIMER_PERIOD 10000ull        /* 1 ms */
#define STIMER_FIRES 5
#define STIMER_DEADLINE 10000000ull   /* 1 s */

static volatile unsigned direct_hits, sint_hits;
static volatile bool guard_fired;

static void on_direct(struct mg_frame *f)
{
	direct_hits++;
	mg_lapic_eoi();
}

static void on_sint(struct mg_frame *f)
{
	sint_hits++;
	mg_lapic_eoi();
}

static void on_guard(struct mg_frame *f)
{
	guard_fired = true;
	mg_lapic_eoi();
}

int mg_main(const struct hvm_start_info *si)
{
	struct hv_message m;
	struct hv_timer_message_payload pl;
	uint64_t start, now, count;

	mg_trap_install(VEC_DIRECT, on_direct, 0);
	mg_trap_install(VEC_SINT3, on_sint, 0);
	mg_trap_install(VEC_GUARD, on_guard, 0);
	mg_lapic_enable();

	/* 1. direct mode, periodic */
	mg_lapic_timer_oneshot(VEC_GUARD, 2000000000u / 128, 128); /* ~2 s guard */
	start = hvc_time_ref_count();
	hvc_stimer_arm(0, hvc_stimer_config_direct(VEC_DIRECT, true), STIMER_PERIOD);
	do {
		sti_hlt();
		cli();
		now = hvc_time_ref_count();
	} while (direct_hits < STIMER_FIRES && now - start < STIMER_DEADLINE && !guard_fired);
	hvc_stimer_stop(0);
	mg_lapic_write(APIC_TIMER_INITIAL, 0);
	mg_report(direct_hits);
	mg_report((uint32_t)(now - start));
	MG_CHECK(direct_hits >= STIMER_FIRES);
	MG_CHECK(now - start >= (STIMER_FIRES - 1) * STIMER_PERIOD);
	MG_CHECK(now - start < STIMER_DEADLINE);
	MG_CHECK(rdmsr(hvc_stimer_config_msr(0)) == 0);

	/* 2. message mode, one-shot, SINT3 */
	MG_CHECK(hvc_synic_enable() == 0);
	hvc_sint_set(3, VEC_SINT3, false, false);
	count = hvc_time_ref_count() + 20000;
	hvc_stimer_arm(1, hvc_stimer_config_message(3, false), count);
	mg_lapic_timer_oneshot(VEC_GUARD, 2000000000u / 128, 128);
	while (!sint_hits && !guard_fired) {
		sti_hlt();
		cli();
	}
	mg_lapic_write(APIC_TIMER_INITIAL, 0);
	MG_CHECK(!guard_fired);
	MG_CHECK(hvc_msg_take(3, &m, NULL));
	memcpy(&pl, m.payload, sizeof(pl));
	mg_report(m.header.message_type);
	mg_report(pl.timer_index);
	mg_report(pl.expiration_time == count);
	mg_report((uint32_t)(pl.delivery_time - pl.expiration_time));
	mg_report((uint32_t)rdmsr(hvc_stimer_config_msr(1)));
	hvc_stimer_stop(1);
	mg_printf("stimer: %u direct interrupts in %lu ticks; message: type %x timer %u expiry %lu delivered +%lu\n",
		  direct_hits, now - start, m.header.message_type, pl.timer_index, pl.expiration_time,
		  pl.delivery_time - pl.expiration_time);
	MG_CHECK(m.header.message_type == HVMSG_TIMER_EXPIRED);
	MG_CHECK(m.header.payload_size >= sizeof(pl));
	MG_CHECK(pl.timer_index == 1);
	MG_CHECK(pl.expiration_time == count);
	MG_CHECK(pl.delivery_time >= pl.expiration_time);
	return 0;
}
