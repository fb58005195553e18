// SPDX-License-Identifier: MIT
/*
 * Unit tests for the SynIC of hv/ (TLFS 11.8-11.9, guest-core.md 3), on plain memory without /dev/kvm: host ->
 * guest messages in the SIM page with the MessagePending/EOM protocol, event flags in the SIEF page, SINT
 * masking, and a two-thread run of the slot protocol as Linux's vmbus_signal_eom() drives it.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "hv/hv.h"
#include "vid/memory.h"

#include "hv_fixture.h"

#define VMBUS_SINT 2u
#define VMBUS_VECTOR 0xF3u

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Per-VP page layout of these tests. */
static uint64_t simp_gpa(uint32_t vp)
{
	return 0x10000 + vp * 0x2000ull;
}

static uint64_t siefp_gpa(uint32_t vp)
{
	return 0x11000 + vp * 0x2000ull;
}

/* What Linux hv_synic_enable_regs() does on one CPU: SIMP, SIEFP, SINT2 (vector 0xF3, AutoEOI off), SCONTROL. */
static void guest_synic_enable(struct hvfx *f, uint32_t vp)
{
	hvfx_wr_ok(f, vp, HV_X64_MSR_SIMP, simp_gpa(vp) | HV_SYNIC_SIMP_ENABLE);
	hvfx_wr_ok(f, vp, HV_X64_MSR_SIEFP, siefp_gpa(vp) | HV_SYNIC_SIEFP_ENABLE);
	hvfx_wr_ok(f, vp, HV_X64_MSR_SINT0 + VMBUS_SINT, VMBUS_VECTOR);
	hvfx_wr_ok(f, vp, HV_X64_MSR_SCONTROL, HV_SYNIC_CONTROL_ENABLE);
}

static struct hv_message *slot(struct hvfx *f, uint32_t vp, unsigned sint)
{
	struct hv_message *m = vid_memory_ptr(f->mem, simp_gpa(vp) + sint * HV_MESSAGE_SIZE, HV_MESSAGE_SIZE);

	assert_non_null(m);
	return m;
}

static uint8_t *sief(struct hvfx *f, uint32_t vp, unsigned sint)
{
	uint8_t *p = vid_memory_ptr(f->mem, siefp_gpa(vp) + sint * HV_SYNIC_EVENT_FLAGS_BYTES,
				    HV_SYNIC_EVENT_FLAGS_BYTES);

	assert_non_null(p);
	return p;
}

/* The guest consumes the slot: clear message_type, then EOM only if MessagePending was set (vmbus_signal_eom). */
static void guest_consume(struct hvfx *f, uint32_t vp, unsigned sint)
{
	struct hv_message *m = slot(f, vp, sint);

	__atomic_store_n(&m->header.message_type, HVMSG_NONE, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&m->header.message_flags, __ATOMIC_SEQ_CST) & HV_MESSAGE_FLAG_PENDING)
		hvfx_wr_ok(f, vp, HV_X64_MSR_EOM, 0);
}

/* ---- messages ----------------------------------------------------------------------------------------------- */

static void test_post_requires_enabled_pages(void **state)
{
	struct hvfx f;
	const char pl[8] = "hello";

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	/* Nothing enabled. */
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 1, pl, sizeof(pl)), -ENXIO);
	/* SIMP enabled but SCONTROL off: the SynIC is disabled. */
	hvfx_wr_ok(&f, 0, HV_X64_MSR_SIMP, simp_gpa(0) | HV_SYNIC_SIMP_ENABLE);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 1, pl, sizeof(pl)), -ENXIO);
	/* SCONTROL on, SIMP disabled. */
	hvfx_wr_ok(&f, 0, HV_X64_MSR_SIMP, 0);
	hvfx_wr_ok(&f, 0, HV_X64_MSR_SCONTROL, HV_SYNIC_CONTROL_ENABLE);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 1, pl, sizeof(pl)), -ENXIO);
	assert_int_equal(hvfx_interrupts(&f), 0);
	hvfx_fini(&f);
}

static void test_post_delivers_into_slot(void **state)
{
	struct hvfx f;
	uint8_t pl[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
	struct hv_message *m;
	struct hvi_stats st;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 2, 0);
	guest_synic_enable(&f, 0);
	guest_synic_enable(&f, 1);
	for (unsigned i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(hvi_synic_post_message(f.hv, 1, VMBUS_SINT, 1, pl, sizeof(pl)), 0);
	m = slot(&f, 1, VMBUS_SINT);
	assert_int_equal(m->header.message_type, 1);
	assert_int_equal(m->header.payload_size, HV_MESSAGE_PAYLOAD_BYTE_COUNT);
	assert_int_equal(m->header.message_flags, 0);
	assert_memory_equal(m->payload, pl, sizeof(pl));
	/* The interrupt went to VP 1 with SINT2's vector; VP 0's slot is untouched. */
	assert_int_equal(f.rec.interrupts, 1);
	assert_int_equal(f.rec.last_vp, 1);
	assert_int_equal(f.rec.last_vector, VMBUS_VECTOR);
	assert_int_equal(slot(&f, 0, VMBUS_SINT)->header.message_type, HVMSG_NONE);
	/* Other slots of VP 1 untouched too. */
	assert_int_equal(slot(&f, 1, VMBUS_SINT - 1)->header.message_type, HVMSG_NONE);
	assert_int_equal(slot(&f, 1, VMBUS_SINT + 1)->header.message_type, HVMSG_NONE);
	hvi_partition_stats(f.hv, &st);
	assert_int_equal(st.messages_delivered, 1);
	assert_int_equal(st.messages_queued, 0);

	/* A short message: size 0 is a valid message. */
	guest_consume(&f, 1, VMBUS_SINT);
	assert_int_equal(hvi_synic_post_message(f.hv, 1, VMBUS_SINT, 7, NULL, 0), 0);
	assert_int_equal(m->header.message_type, 7);
	assert_int_equal(m->header.payload_size, 0);
	hvfx_fini(&f);
}

static void test_masked_sint_no_interrupt(void **state)
{
	struct hvfx f;
	const uint32_t pl = 0x12345678;
	struct hv_message *m;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	guest_synic_enable(&f, 0);
	/* SINT3 keeps its reset value (masked): the message lands, no interrupt. */
	assert_int_equal(hvi_synic_post_message(f.hv, 0, 3, 5, &pl, sizeof(pl)), 0);
	m = slot(&f, 0, 3);
	assert_int_equal(m->header.message_type, 5);
	assert_int_equal(m->header.payload_size, 4);
	assert_memory_equal(m->payload, &pl, sizeof(pl));
	assert_int_equal(hvfx_interrupts(&f), 0);
	/* Masking SINT2 explicitly has the same effect. */
	hvfx_wr_ok(&f, 0, HV_X64_MSR_SINT0 + VMBUS_SINT, HV_SYNIC_SINT_MASKED | VMBUS_VECTOR);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 1, &pl, sizeof(pl)), 0);
	assert_int_equal(slot(&f, 0, VMBUS_SINT)->header.message_type, 1);
	assert_int_equal(hvfx_interrupts(&f), 0);
	hvfx_fini(&f);
}

static void test_pending_and_eom(void **state)
{
	struct hvfx f;
	struct hv_message *m;
	struct hvi_stats st;
	uint32_t a = 0xAAAAAAAA, b = 0xBBBBBBBB, c = 0xCCCCCCCC;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	guest_synic_enable(&f, 0);
	m = slot(&f, 0, VMBUS_SINT);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 1, &a, sizeof(a)), 0);
	assert_int_equal(hvfx_interrupts(&f), 1);
	/* The slot is busy: queued, MessagePending set in the busy slot, the first message intact. */
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 2, &b, sizeof(b)), 0);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 3, &c, sizeof(c)), 0);
	assert_true(m->header.message_flags & HV_MESSAGE_FLAG_PENDING);
	assert_int_equal(((const uint8_t *)m)[5] & 1, 1); /* byte 5, bit 0 */
	assert_int_equal(m->header.message_type, 1);
	assert_memory_equal(m->payload, &a, sizeof(a));
	hvi_partition_stats(f.hv, &st);
	assert_int_equal(st.messages_delivered, 1);
	assert_int_equal(st.messages_queued, 2);

	/* EOM while the guest has not freed the slot: nothing moves. */
	hvfx_wr_ok(&f, 0, HV_X64_MSR_EOM, 0);
	assert_int_equal(m->header.message_type, 1);
	assert_memory_equal(m->payload, &a, sizeof(a));

	/* The guest frees the slot and EOMs: the next message comes in, pending again (one more is queued). */
	guest_consume(&f, 0, VMBUS_SINT);
	assert_int_equal(m->header.message_type, 2);
	assert_memory_equal(m->payload, &b, sizeof(b));
	assert_true(m->header.message_flags & HV_MESSAGE_FLAG_PENDING);
	assert_true(hvfx_interrupts(&f) >= 2);

	/* The last one: no more pending. */
	guest_consume(&f, 0, VMBUS_SINT);
	assert_int_equal(m->header.message_type, 3);
	assert_memory_equal(m->payload, &c, sizeof(c));
	assert_int_equal(m->header.message_flags & HV_MESSAGE_FLAG_PENDING, 0);
	hvi_partition_stats(f.hv, &st);
	assert_int_equal(st.messages_delivered, 3);
	assert_true(st.eoms >= 3);

	/* Freed without EOM (pending was clear): the next post lands directly. */
	guest_consume(&f, 0, VMBUS_SINT);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 4, &a, sizeof(a)), 0);
	assert_int_equal(m->header.message_type, 4);
	assert_int_equal(m->header.message_flags & HV_MESSAGE_FLAG_PENDING, 0);
	hvfx_fini(&f);
}

static void test_queue_full(void **state)
{
	struct hvfx f;
	struct hv_message *m;
	unsigned posted = 0, next = 0;
	int rc = 0;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	guest_synic_enable(&f, 0);
	m = slot(&f, 0, VMBUS_SINT);
	/* One in the slot, then as many as the queue holds: at least the TLFS' 16, bounded. */
	while (posted < 4096) {
		rc = hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 1, &posted, sizeof(posted));
		if (rc)
			break;
		posted++;
	}
	assert_int_equal(rc, -ENOBUFS);
	assert_true(posted >= 1 + 16);
	/* Other SINTs have queues of their own. */
	assert_int_equal(hvi_synic_post_message(f.hv, 0, 4, 1, &posted, sizeof(posted)), 0);
	/* Drain in FIFO order. */
	for (next = 0; next < posted; next++) {
		uint32_t v;

		assert_int_equal(m->header.message_type, 1);
		memcpy(&v, m->payload, sizeof(v));
		assert_int_equal(v, next);
		guest_consume(&f, 0, VMBUS_SINT);
	}
	assert_int_equal(m->header.message_type, HVMSG_NONE);
	/* Room again. */
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 1, &next, sizeof(next)), 0);
	hvfx_fini(&f);
}

static void test_post_bad_arguments(void **state)
{
	struct hvfx f;
	uint8_t pl[HV_MESSAGE_PAYLOAD_BYTE_COUNT + 1] = { 0 };

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 2, 0);
	guest_synic_enable(&f, 0);
	assert_int_equal(hvi_synic_post_message(f.hv, 2, VMBUS_SINT, 1, pl, 4), -EINVAL);
	assert_int_equal(hvi_synic_post_message(f.hv, UINT32_MAX, VMBUS_SINT, 1, pl, 4), -EINVAL);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, HV_SYNIC_SINT_COUNT, 1, pl, 4), -EINVAL);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, 255, 1, pl, 4), -EINVAL);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, HVMSG_NONE, pl, 4), -EINVAL);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 1, pl, sizeof(pl)), -EINVAL);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 1, pl, UINT32_MAX), -EINVAL);
	assert_int_equal(slot(&f, 0, VMBUS_SINT)->header.message_type, HVMSG_NONE);
	assert_int_equal(hvfx_interrupts(&f), 0);
	hvfx_fini(&f);
}

static void test_disable_drops(void **state)
{
	struct hvfx f;
	uint32_t v = 1;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	guest_synic_enable(&f, 0);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 1, &v, sizeof(v)), 0);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 1, &v, sizeof(v)), 0);
	/* hv_synic_disable_regs(): the SynIC is off, posts fail, EOMs do nothing harmful. */
	hvfx_wr_ok(&f, 0, HV_X64_MSR_SCONTROL, 0);
	hvfx_wr_ok(&f, 0, HV_X64_MSR_SIMP, 0);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 1, &v, sizeof(v)), -ENXIO);
	hvfx_wr_ok(&f, 0, HV_X64_MSR_EOM, 0);
	/* Re-enabled (kexec'd kernel): a fresh page that receives nothing queued for the old one; posts work. */
	guest_synic_enable(&f, 0);
	v = 99;
	assert_int_equal(slot(&f, 0, VMBUS_SINT)->header.message_type, HVMSG_NONE);
	assert_int_equal(hvi_synic_post_message(f.hv, 0, VMBUS_SINT, 9, &v, sizeof(v)), 0);
	assert_int_equal(slot(&f, 0, VMBUS_SINT)->header.message_type, 9);
	hvfx_fini(&f);
}

/* ---- events ------------------------------------------------------------------------------------------------- */

static void test_signal_event(void **state)
{
	struct hvfx f;
	uint8_t *flags;
	struct hvi_stats st;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 2, 0);
	assert_int_equal(hvi_synic_signal_event(f.hv, 0, VMBUS_SINT, 5), -ENXIO);
	guest_synic_enable(&f, 0);
	guest_synic_enable(&f, 1);
	flags = sief(&f, 1, VMBUS_SINT);

	/* Flag 13 of SINT2 on VP 1: byte 0x200 + 1, bit 5. */
	assert_int_equal(hvi_synic_signal_event(f.hv, 1, VMBUS_SINT, 13), 0);
	assert_int_equal(flags[1], 1u << 5);
	assert_int_equal(hvfx_interrupts(&f), 1);
	assert_int_equal(f.rec.last_vp, 1);
	assert_int_equal(f.rec.last_vector, VMBUS_VECTOR);
	/* Again while set: no new interrupt. */
	assert_int_equal(hvi_synic_signal_event(f.hv, 1, VMBUS_SINT, 13), 0);
	assert_int_equal(hvfx_interrupts(&f), 1);
	/* Another flag: set and interrupt. The highest flag: byte 255, bit 7. */
	assert_int_equal(hvi_synic_signal_event(f.hv, 1, VMBUS_SINT, 0), 0);
	assert_int_equal(flags[0], 1);
	assert_int_equal(hvi_synic_signal_event(f.hv, 1, VMBUS_SINT, HV_EVENT_FLAGS_COUNT - 1), 0);
	assert_int_equal(flags[255], 0x80);
	assert_int_equal(hvfx_interrupts(&f), 3);
	/* The guest test-and-clears flag 13 (vmbus_chan_sched): the next signal interrupts again. */
	__atomic_and_fetch(&flags[1], (uint8_t)~(1u << 5), __ATOMIC_SEQ_CST);
	assert_int_equal(hvi_synic_signal_event(f.hv, 1, VMBUS_SINT, 13), 0);
	assert_int_equal(hvfx_interrupts(&f), 4);
	/* Nothing spilled into VP 0's page or into other SINTs' bitmaps. */
	for (unsigned i = 0; i < HV_SYNIC_EVENT_FLAGS_BYTES; i++) {
		assert_int_equal(sief(&f, 0, VMBUS_SINT)[i], 0);
		assert_int_equal(sief(&f, 1, VMBUS_SINT - 1)[i], 0);
		assert_int_equal(sief(&f, 1, VMBUS_SINT + 1)[i], 0);
	}
	hvi_partition_stats(f.hv, &st);
	assert_int_equal(st.events_signalled, 4);
	hvfx_fini(&f);
}

static void test_signal_event_masked_and_bad(void **state)
{
	struct hvfx f;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	guest_synic_enable(&f, 0);
	/* SINT5 masked: the flag is set, no interrupt. */
	assert_int_equal(hvi_synic_signal_event(f.hv, 0, 5, 9), 0);
	assert_int_equal(sief(&f, 0, 5)[1], 1u << 1);
	assert_int_equal(hvfx_interrupts(&f), 0);
	/* Bad arguments. */
	assert_int_equal(hvi_synic_signal_event(f.hv, 1, VMBUS_SINT, 0), -EINVAL);
	assert_int_equal(hvi_synic_signal_event(f.hv, 0, HV_SYNIC_SINT_COUNT, 0), -EINVAL);
	assert_int_equal(hvi_synic_signal_event(f.hv, 0, VMBUS_SINT, HV_EVENT_FLAGS_COUNT), -EINVAL);
	assert_int_equal(hvi_synic_signal_event(f.hv, 0, VMBUS_SINT, UINT32_MAX), -EINVAL);
	assert_int_equal(hvfx_interrupts(&f), 0);
	/* SIEFP disabled: -ENXIO. */
	hvfx_wr_ok(&f, 0, HV_X64_MSR_SIEFP, 0);
	assert_int_equal(hvi_synic_signal_event(f.hv, 0, VMBUS_SINT, 1), -ENXIO);
	hvfx_fini(&f);
}

/* ---- synthetic timers (FULL profile; TLFS 12.2) --------------------------------------------------------------- */

/* Wait up to @ms for slot @sint of VP 0 to hold a message; its type, or HVMSG_NONE. */
static uint32_t wait_slot(struct hvfx *f, unsigned sint, unsigned ms)
{
	struct hv_message *m = slot(f, 0, sint);

	for (unsigned i = 0; i < ms; i++) {
		uint32_t t = __atomic_load_n(&m->header.message_type, __ATOMIC_ACQUIRE);

		if (t != HVMSG_NONE)
			return t;
		sleep_ms(1);
	}
	return HVMSG_NONE;
}

static void test_stimer_one_shot_message(void **state)
{
	struct hvfx f;
	struct hv_message *m;
	struct hv_timer_message_payload p;
	uint64_t due;

	hvfx_init(&f, HVI_PROFILE_FULL, 1, 0);
	guest_synic_enable(&f, 0);
	m = slot(&f, 0, VMBUS_SINT);
	/* Linux legacy stimer0: message mode on SINT2 (hv_stimer_init / hv_ce_set_next_event): config, then an
	 * absolute count in reference time. */
	hvfx_wr_ok(&f, 0, HV_X64_MSR_STIMER0_CONFIG, HV_STIMER_ENABLE | (uint64_t)VMBUS_SINT << HV_STIMER_SINT_SHIFT);
	due = hvfx_rd_ok(&f, 0, HV_X64_MSR_TIME_REF_COUNT) + 20000; /* 2 ms */
	hvfx_wr_ok(&f, 0, HV_X64_MSR_STIMER0_COUNT, due);
	assert_int_equal(wait_slot(&f, VMBUS_SINT, 2000), HVMSG_TIMER_EXPIRED);
	assert_int_equal(m->header.payload_size, sizeof(p));
	memcpy(&p, m->payload, sizeof(p));
	assert_int_equal(p.timer_index, 0);
	assert_int_equal(p.expiration_time, due);
	assert_true(p.delivery_time >= due);
	assert_true(hvi_reference_time(f.hv) >= due);
	assert_true(hvfx_interrupts(&f) >= 1);
	assert_int_equal(f.rec.last_vector, VMBUS_VECTOR);
	/* One-shot: disabled after it fired. */
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_STIMER0_CONFIG) & HV_STIMER_ENABLE, 0);
	guest_consume(&f, 0, VMBUS_SINT);
	sleep_ms(5);
	assert_int_equal(m->header.message_type, HVMSG_NONE);
	hvfx_fini(&f);
}

static void test_stimer_periodic_coalesces(void **state)
{
	struct hvfx f;
	struct hv_message *m;
	struct hvi_stats st;
	struct hv_timer_message_payload p;

	hvfx_init(&f, HVI_PROFILE_FULL, 1, 0);
	guest_synic_enable(&f, 0);
	m = slot(&f, 0, 3);
	hvfx_wr_ok(&f, 0, HV_X64_MSR_SINT0 + 3, 0x40); /* an unmasked SINT of its own */
	/* Timer 2, periodic 1 ms on SINT3. */
	hvfx_wr_ok(&f, 0, HV_X64_MSR_STIMER0_COUNT + 4, 10000);
	hvfx_wr_ok(&f, 0, HV_X64_MSR_STIMER0_CONFIG + 4,
		   HV_STIMER_ENABLE | HV_STIMER_PERIODIC | 3ull << HV_STIMER_SINT_SHIFT);
	assert_int_equal(wait_slot(&f, 3, 2000), HVMSG_TIMER_EXPIRED);
	sleep_ms(20);
	/*
	 * Many periods passed: one message in the slot, at most one more waiting behind it (as KVM keeps one
	 * msg_pending expiry per timer); the other expiries coalesced.
	 */
	hvi_partition_stats(f.hv, &st);
	assert_true(st.stimer_expirations >= 3);
	assert_int_equal(st.messages_delivered, 1);
	assert_true(st.messages_queued <= 1);
	memcpy(&p, m->payload, sizeof(p));
	assert_int_equal(p.timer_index, 2);
	/* Consumed: the next period brings the next one. Still enabled. */
	guest_consume(&f, 0, 3);
	assert_int_equal(wait_slot(&f, 3, 2000), HVMSG_TIMER_EXPIRED);
	assert_true(hvfx_rd_ok(&f, 0, HV_X64_MSR_STIMER0_CONFIG + 4) & HV_STIMER_ENABLE);
	/* COUNT 0 stops it. */
	hvfx_wr_ok(&f, 0, HV_X64_MSR_STIMER0_COUNT + 4, 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_STIMER0_CONFIG + 4) & HV_STIMER_ENABLE, 0);
	hvfx_fini(&f);
}

static void test_stimer_direct_mode(void **state)
{
	struct hvfx f;
	unsigned before;

	hvfx_init(&f, HVI_PROFILE_FULL, 2, 0);
	/* Direct mode needs no SynIC pages: the vector (Linux: HYPERV_STIMER0_VECTOR 0xED) goes to the VP. */
	before = hvfx_interrupts(&f);
	hvfx_wr_ok(&f, 1, HV_X64_MSR_STIMER0_CONFIG,
		   HV_STIMER_ENABLE | HV_STIMER_DIRECT_MODE | 0xEDull << HV_STIMER_APICVECTOR_SHIFT);
	hvfx_wr_ok(&f, 1, HV_X64_MSR_STIMER0_COUNT, hvfx_rd_ok(&f, 1, HV_X64_MSR_TIME_REF_COUNT) + 10000);
	for (int i = 0; i < 2000 && hvfx_interrupts(&f) == before; i++)
		sleep_ms(1);
	assert_int_equal(hvfx_interrupts(&f), before + 1);
	assert_int_equal(f.rec.last_vp, 1);
	assert_int_equal(f.rec.last_vector, 0xED);
	hvfx_fini(&f);
}

static void test_stimer_config_rules(void **state)
{
	struct hvfx f;
	uint64_t v = 1ull << 40;

	hvfx_init(&f, HVI_PROFILE_FULL, 1, 0);
	/* Message mode without a SINT cannot fire: the enable bit does not stick (KVM's rule). */
	hvfx_wr_ok(&f, 0, HV_X64_MSR_STIMER0_CONFIG, HV_STIMER_ENABLE);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_STIMER0_CONFIG) & HV_STIMER_ENABLE, 0);
	/* AutoEnable: writing COUNT enables. */
	hvfx_wr_ok(&f, 0, HV_X64_MSR_STIMER0_CONFIG, HV_STIMER_AUTOENABLE | 2ull << HV_STIMER_SINT_SHIFT);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_STIMER0_CONFIG) & HV_STIMER_ENABLE, 0);
	hvfx_wr_ok(&f, 0, HV_X64_MSR_STIMER0_COUNT, 1ull << 40);
	assert_true(hvfx_rd_ok(&f, 0, HV_X64_MSR_STIMER0_CONFIG) & HV_STIMER_ENABLE);
	/* Reserved config bits: #GP. */
	assert_int_equal(hvi_msr_access(f.hv, 0, HV_X64_MSR_STIMER0_CONFIG, true, &v), -EPERM);
	hvfx_fini(&f);
}

/* ---- the slot protocol across threads ------------------------------------------------------------------------ */

#define RACE_PRODUCERS 2u
#define RACE_MESSAGES 20000u

struct race {
	struct hvfx *f;
	unsigned producer;
	atomic_bool stop;
};

static void *race_producer(void *arg)
{
	struct race *r = arg;
	uint32_t pl[2] = { r->producer, 0 };

	for (uint32_t i = 0; i < RACE_MESSAGES && !atomic_load(&r->stop);) {
		int rc;

		pl[1] = i;
		rc = hvi_synic_post_message(r->f->hv, 0, VMBUS_SINT, 1, pl, sizeof(pl));
		if (rc == 0)
			i++;
		else if (rc == -ENOBUFS)
			sched_yield();
		else
			return (void *)(intptr_t)rc;
	}
	return NULL;
}

/*
 * Two host threads post while this thread plays the guest: copy the slot, clear message_type, EOM if
 * MessagePending. Every message must arrive once and in order per producer; a lost MessagePending/EOM handshake
 * shows as a hang (caught by the deadline).
 */
static void test_post_race_with_guest(void **state)
{
	struct hvfx f;
	struct race r[RACE_PRODUCERS];
	pthread_t th[RACE_PRODUCERS];
	uint32_t expect[RACE_PRODUCERS] = { 0 };
	unsigned total = 0;
	struct hv_message *m;
	struct timespec t0, t;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	guest_synic_enable(&f, 0);
	m = slot(&f, 0, VMBUS_SINT);
	for (unsigned i = 0; i < RACE_PRODUCERS; i++) {
		r[i] = (struct race){ .f = &f, .producer = i };
		assert_int_equal(pthread_create(&th[i], NULL, race_producer, &r[i]), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (total < RACE_PRODUCERS * RACE_MESSAGES) {
		uint32_t type = __atomic_load_n(&m->header.message_type, __ATOMIC_ACQUIRE);

		if (type != HVMSG_NONE) {
			uint32_t pl[2];

			assert_int_equal(type, 1);
			assert_int_equal(m->header.payload_size, sizeof(pl));
			memcpy(pl, m->payload, sizeof(pl));
			assert_true(pl[0] < RACE_PRODUCERS);
			assert_int_equal(pl[1], expect[pl[0]]);
			expect[pl[0]]++;
			total++;
			guest_consume(&f, 0, VMBUS_SINT);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 30) {
			for (unsigned i = 0; i < RACE_PRODUCERS; i++)
				atomic_store(&r[i].stop, true);
			for (unsigned i = 0; i < RACE_PRODUCERS; i++)
				pthread_join(th[i], NULL);
			fail_msg("stuck after %u of %u messages: slot free, MessagePending/EOM handshake lost", total,
				 RACE_PRODUCERS * RACE_MESSAGES);
		}
	}
	for (unsigned i = 0; i < RACE_PRODUCERS; i++) {
		void *ret;

		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
		assert_int_equal(expect[i], RACE_MESSAGES);
	}
	hvfx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_requires_enabled_pages),
		cmocka_unit_test(test_post_delivers_into_slot),
		cmocka_unit_test(test_masked_sint_no_interrupt),
		cmocka_unit_test(test_pending_and_eom),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_post_bad_arguments),
		cmocka_unit_test(test_disable_drops),
		cmocka_unit_test(test_signal_event),
		cmocka_unit_test(test_signal_event_masked_and_bad),
		cmocka_unit_test(test_stimer_one_shot_message),
		cmocka_unit_test(test_stimer_periodic_coalesces),
		cmocka_unit_test(test_stimer_direct_mode),
		cmocka_unit_test(test_stimer_config_rules),
		cmocka_unit_test(test_post_race_with_guest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
