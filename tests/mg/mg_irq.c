// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_irq.c - interrupts from a host thread wake a guest halted with interrupts on: an MSI
 * (vid_msi_signal), vid_vp_interrupt(), an edge IOAPIC line and a level IOAPIC line (vid_irq_line) that the guest
 * routes itself; then the guest's LAPIC timer and a self-IPI. Prints the injection -> handler-done latency.
 * Guest: guest/tests/g_irq.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mg_harness.h"

#define IRQ_READY 0x100u
#define IRQ_DONE 0x200u
#define IRQ_ACK 0x300u
#define IRQ_COUNT 0x400u
#define IRQ_ISR 0x500u
#define STEPS 4

struct irq_test {
	atomic_uint ready;            /* last step the guest said it is waiting for */
	atomic_int errors;            /* failed injections */
	double injected[STEPS + 1];   /* monotonic seconds */
	double done[STEPS + 1];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void irq_value(void *opaque, struct vid_partition *part, struct vid_vp *vp, uint32_t value)
{
	struct irq_test *t = opaque;
	unsigned step = value & 0xff;

	if (step > STEPS)
		return;
	switch (value & ~0xffu) {
	case IRQ_READY:
		atomic_store(&t->ready, step);
		break;
	case IRQ_DONE:
		t->done[step] = now();
		break;
	case IRQ_ACK:
		/* The guest acknowledged the level interrupt: the "device" drops the line before the guest's EOI. */
		if (vid_irq_line(part, 17, 0) < 0)
			atomic_fetch_add(&t->errors, 1);
		break;
	}
}

static void irq_thread(void *opaque, struct vid_partition *part, atomic_bool *stopping)
{
	struct irq_test *t = opaque;

	for (unsigned step = 1; step <= STEPS; step++) {
		int ret;

		while (atomic_load(&t->ready) != step)
			if (!mg_sleep_ms(stopping, 1))
				return;
		/* Give the guest time to reach hlt, so the interrupt has to wake it. */
		if (!mg_sleep_ms(stopping, 20))
			return;
		t->injected[step] = now();
		switch (step) {
		case 1:
			ret = vid_msi_signal(part, 0xfee00000ull, 0x40);
			break;
		case 2:
			ret = vid_vp_interrupt(part, 0, 0x41);
			break;
		case 3:
			ret = vid_irq_line(part, 5, 1);
			if (ret == 0)
				ret = vid_irq_line(part, 5, 0);
			break;
		default:
			ret = vid_irq_line(part, 17, 1);
			break;
		}
		if (ret < 0)
			atomic_fetch_add(&t->errors, 1);
	}
}

static void test_irq(void **state)
{
	static const char *const names[STEPS + 1] = { "", "MSI", "vid_vp_interrupt", "IOAPIC edge pin 5",
						      "IOAPIC level pin 17" };
	struct irq_test t;
	struct mg_harness_hooks hooks = { .opaque = &t, .value = irq_value, .thread = irq_thread };
	struct mg_result res;

	memset(&t, 0, sizeof(t));
	atomic_init(&t.ready, 0);
	atomic_init(&t.errors, 0);
	assert_int_equal(mg_run("g_irq", 1, 32, NULL, &hooks, &res), 0);
	mg_result_print("g_irq", &res);
	assert_true(mg_result_is(&res, 0));
	assert_int_equal(atomic_load(&t.errors), 0);

	/*
	 * ready 1, done 1, ready 2, done 2, ready 3, done 3, ready 4, ack 4 (once per delivery: 1 on hardware, 2 where
	 * the LAPIC EOIs at delivery), done 4, count 4, done 5 (timer), done 6 (self-IPI), ISR-held flag.
	 */
	{
		static const uint32_t head[] = { IRQ_READY | 1, IRQ_DONE | 1, IRQ_READY | 2, IRQ_DONE | 2,
						 IRQ_READY | 3, IRQ_DONE | 3, IRQ_READY | 4, IRQ_ACK | 4 };
		unsigned i, n = sizeof(head) / sizeof(head[0]), deliveries;

		assert_true(res.nvalues >= n + 5);
		for (i = 0; i < n; i++)
			assert_int_equal(res.values[i], head[i]);
		if (res.values[i] == (IRQ_ACK | 4))
			i++;
		deliveries = i - n + 1;
		assert_int_equal(res.nvalues, i + 5);
		assert_int_equal(res.values[i++], IRQ_DONE | 4);
		assert_int_equal(res.values[i++], IRQ_COUNT | deliveries);
		assert_int_equal(res.values[i++], IRQ_DONE | 5);
		assert_int_equal(res.values[i++], IRQ_DONE | 6);
		assert_true((res.values[i] & ~1u) == IRQ_ISR);
		fprintf(stderr, "mg[g_irq]: LAPIC holds ISR during a handler: %s; level interrupt delivered %u time(s)"
			"\n",
			res.values[i] & 1 ? "yes" : "no (EOI at delivery)", deliveries);
	}
	for (unsigned s = 1; s <= STEPS; s++)
		fprintf(stderr, "mg[g_irq]: %-20s injection -> guest handled and reported: %.0f us\n", names[s],
			(t.done[s] - t.injected[s]) * 1e6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_irq),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
