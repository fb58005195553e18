/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_hv_message.c - HvPostMessage and SynIC message delivery (tests/mg/mg_hv_message.c). One case per
 * run, chosen by a command-line word. SINT2 is programmed as Linux does with DEPRECATING_AEOI_RECOMMENDED:
 * vector VEC_SINT, unmasked, AutoEOI = 0, the handler EOIs the LAPIC.
 *
 * Host connections (mg_hv_message.c): CONN_ECHO posts the message back to SINT2 of the posting VP; CONN_BUSY
 * answers -EAGAIN, CONN_BAD -EINVAL; CONN_TRIPLE posts three messages (types 0x101..0x103) at once; CONN_NONE is
 * not registered.
 *
 *   echo  a 240-byte and a 5-byte message come back through the SIM slot on the interrupt with type, size and
 *         payload intact; statuses of CONN_NONE (18), CONN_BUSY (19), CONN_BAD (5); with SINT2 masked a message
 *         still lands in the slot but raises no interrupt.
 *         Values: the five statuses (echo 240, echo 5, none, busy, bad), then the number of SINT interrupts,
 *         then 1 if the masked SINT left the vector out of IRR.
 *   eom   the three messages arrive in order; the first two are taken with MessagePending set (the host queued
 *         the others behind the busy slot), so EOM is written twice; the last without.
 *         Values: the post status, then for each message its type and whether MessagePending was seen.
 */
#include "rt/hvc.h"

#define CONN_ECHO 0x2a
#define CONN_BUSY 0x2b
#define CONN_BAD 0x2c
#define CONN_TRIPLE 0x2d
#define CONN_NONE 0x77
#define SINT_VMBUS 2
#define VEC_SINT 0x52
#define VEC_TIMEOUT 0x5f

static volatile unsigned sint_hits;
static volatile bool timed_out;

static void on_sint(struct mg_frame *f)
{
	sint_hits++;
	mg_lapic_eoi(); /* AutoEOI = 0 */
}

static void on_timeout(struct mg_frame *f)
{
	timed_out = true;
	mg_lapic_eoi();
}

/* Take the next message from the SINT2 slot, sleeping until one is there (or the ~5 s guard fires). */
static bool wait_msg(struct hv_message *m, bool *pending)
{
	mg_lapic_timer_oneshot(VEC_TIMEOUT, 5000000000u / 128, 128);
	while (!hvc_msg_take(SINT_VMBUS, m, pending) && !timed_out) {
		sti_hlt();
		cli();
	}
	mg_lapic_write(APIC_TIMER_INITIAL, 0);
	return !timed_out;
}

/*
 * Wait for the SINT interrupt that follows a post, then take the message (Linux's order: the ISR looks at the
 * slot). Interrupts are off outside sti;hlt, so the interrupt of a message posted before this call is taken here.
 */
static bool wait_irq_msg(struct hv_message *m, bool *pending)
{
	unsigned hits = sint_hits;

	mg_lapic_timer_oneshot(VEC_TIMEOUT, 5000000000u / 128, 128);
	while (sint_hits == hits && !timed_out) {
		sti_hlt();
		cli();
	}
	mg_lapic_write(APIC_TIMER_INITIAL, 0);
	return !timed_out && hvc_msg_take(SINT_VMBUS, m, pending);
}

static void setup(void)
{
	mg_trap_install(VEC_SINT, on_sint, 0);
	mg_trap_install(VEC_TIMEOUT, on_timeout, 0);
	mg_lapic_enable();
	MG_CHECK(hvc_hypercall_enable(hvc_hypercall_page_default, 0) == 0);
	MG_CHECK(hvc_synic_enable() == 0);
	MG_CHECK(hvc_sint_set(SINT_VMBUS, VEC_SINT, false, false) == VEC_SINT);
	MG_CHECK(rdmsr(HV_X64_MSR_SINT0 + SINT_VMBUS) == VEC_SINT);
}

static int case_echo(void)
{
	static uint8_t payload[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
	struct hv_message m;
	const uint8_t *got = (const uint8_t *)m.payload;
	bool pending;
	uint16_t st;

	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);

	st = hvc_post_message(CONN_ECHO, 1, payload, sizeof(payload));
	mg_report(st);
	MG_CHECK(st == HV_STATUS_SUCCESS);
	MG_CHECK(wait_irq_msg(&m, &pending));
	MG_CHECK(m.header.message_type == 1);
	MG_CHECK(m.header.payload_size == sizeof(payload));
	MG_CHECK(!pending);
	MG_CHECK(memcmp(got, payload, sizeof(payload)) == 0);
	MG_CHECK(hvc_msg_slot(SINT_VMBUS)->header.message_type == HVMSG_NONE);

	st = hvc_post_message(CONN_ECHO, 7, "hello", 5);
	mg_report(st);
	MG_CHECK(st == HV_STATUS_SUCCESS);
	MG_CHECK(wait_irq_msg(&m, &pending));
	MG_CHECK(m.header.message_type == 7);
	MG_CHECK(m.header.payload_size == 5);
	MG_CHECK(memcmp(got, "hello", 5) == 0);

	mg_report(hvc_post_message(CONN_NONE, 1, payload, 16));
	mg_report(hvc_post_message(CONN_BUSY, 1, payload, 16));
	mg_report(hvc_post_message(CONN_BAD, 1, payload, 16));

	/* Masked SINT: the message is written, the vector is not raised. */
	hvc_sint_set(SINT_VMBUS, VEC_SINT, true, false);
	MG_CHECK(hvc_post_message(CONN_ECHO, 9, "masked", 6) == HV_STATUS_SUCCESS);
	mg_report(sint_hits);
	mg_report(!(mg_lapic_read(APIC_IRR + VEC_SINT / 32 * 0x10) & (1u << (VEC_SINT % 32))));
	MG_CHECK(hvc_msg_take(SINT_VMBUS, &m, &pending));
	MG_CHECK(m.header.message_type == 9);
	return 0;
}

static int case_eom(void)
{
	struct hv_message m;
	bool pending;
	uint16_t st;

	st = hvc_post_message(CONN_TRIPLE, 1, "go", 2);
	mg_report(st);
	MG_CHECK(st == HV_STATUS_SUCCESS);
	for (unsigned i = 0; i < 3; i++) {
		MG_CHECK(wait_msg(&m, &pending));
		mg_report(m.header.message_type);
		mg_report(pending);
		MG_CHECK(m.header.payload_size == 4);
		MG_CHECK((uint32_t)m.payload[0] == i + 1);
	}
	MG_CHECK(hvc_msg_slot(SINT_VMBUS)->header.message_type == HVMSG_NONE);
	return 0;
}

int mg_main(const struct hvm_start_info *si)
{
	setup();
	if (mg_cmdline_has("echo"))
		return case_echo();
	if (mg_cmdline_has("eom"))
		return case_eom();
	mg_printf("no case on the command line \"%s\"\n", mg_cmdline());
	return 1;
}
