/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_doorbell.c - the two no-exit paths of the partition layer (tests/mg/mg_doorbell.c):
 * a port write that matches an ioeventfd's datamatch signals the host's eventfd without a userspace exit, a
 * non-matching one exits as usual; an irqfd write by the host raises IOAPIC pin 10 (edge), routed here to
 * vector 0x48. Reports 1 when the doorbells are rung, 2 when the irqfd interrupt arrived.
 */
#include "rt/mg.h"

#define DOORBELL_PORT 0x5f8
#define IRQFD_PIN 10
#define IRQFD_VECTOR 0x48

static volatile unsigned irq_seen;

static void on_irq(struct mg_frame *f)
{
	irq_seen++;
	mg_lapic_eoi();
}

int mg_main(const struct hvm_start_info *si)
{
	mg_lapic_enable();
	mg_trap_install(IRQFD_VECTOR, on_irq, 0);
	mg_ioapic_route(IRQFD_PIN, IRQFD_VECTOR, 0, false);

	outl(DOORBELL_PORT, 0x1234); /* matches: eventfd, no exit */
	outl(DOORBELL_PORT, 0x1234); /* matches again: the counter reaches 2 */
	outl(DOORBELL_PORT, 0x9999); /* no match: a normal exit to the host's port handler */
	mg_report(1);
	while (!irq_seen)
		sti_hlt();
	cli();
	mg_report(2);
	return irq_seen == 1 ? 0 : 0x100 + irq_seen;
}
