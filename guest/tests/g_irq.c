/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_irq.c - interrupts into a halted guest (tests/mg/mg_irq.c).
 *
 * Each step arms a handler, reports "ready" (IRQ_READY | step) with interrupts off, then waits in sti;hlt until
 * the handler ran, and reports IRQ_DONE | step. The host injects from another thread after the ready value:
 *   step 1  MSI (vid_msi_signal) vector 0x40
 *   step 2  vid_vp_interrupt() vector 0x41
 *   step 3  IOAPIC pin 5, edge, vector 0x42 (the guest programs the redirection entry through MMIO)
 *   step 4  IOAPIC pin 17, level, vector 0x43: the handler "acks the device" by reporting IRQ_ACK, on which the
 *           host lowers the line, then EOIs (the remote-IRR cycle of a level interrupt). Reports IRQ_COUNT | the
 *           number of deliveries: 1 on hardware; 2 on a LAPIC that EOIs at delivery (see below).
 * Then, guest-only: LAPIC timer one-shot (vector 0x44, step 5) and a self-IPI (vector 0x45, step 6).
 * Last value: IRQ_ISR | 1 if the LAPIC held the vector in ISR while its handler ran (hardware), 0 if not.
 *
 * Found on kvm_pvm (2026-11): ISR and PPR read 0 inside handlers and a second same-vector interrupt is delivered
 * without an EOI, i.e. the LAPIC behaves as if EOI happened at delivery. A level line still asserted at delivery
 * is then delivered once more. Also, a pending interrupt is not taken in a short "sti; nop; cli" window, only at
 * hlt or an exit: wait with sti;hlt.
 */
#include "rt/mg.h"

#define IRQ_READY 0x100u
#define IRQ_DONE 0x200u
#define IRQ_ACK 0x300u
#define IRQ_COUNT 0x400u
#define IRQ_ISR 0x500u

static volatile uint32_t hits[256];
static volatile uint32_t isr_held[256];

static void on_irq(struct mg_frame *f)
{
	unsigned v = (unsigned)f->vector;

	hits[v]++;
	isr_held[v] = (mg_lapic_read(APIC_ISR + (v / 32) * 0x10) >> (v % 32)) & 1;
	if (v == 0x43)
		mg_report(IRQ_ACK | 4); /* the host lowers the level line before our EOI */
	mg_lapic_eoi();
}

/* Wait (halted, interrupts on only inside sti;hlt) until vector @v was handled. */
static void wait_for(unsigned v)
{
	while (!hits[v]) {
		sti_hlt();
		cli();
	}
}

/* One step: report IRQ_READY | @n first if the host injects (@host), wait for @vector, report IRQ_DONE | @n. */
static void step(unsigned n, unsigned vector, bool host)
{
	if (host)
		mg_report(IRQ_READY | n);
	wait_for(vector);
	MG_CHECK(hits[vector] == 1);
	mg_report(IRQ_DONE | n);
}

int mg_main(const struct hvm_start_info *si)
{
	for (unsigned v = 0x40; v <= 0x45; v++)
		mg_trap_install(v, on_irq, 0);
	mg_pic_mask_all();
	mg_lapic_enable();
	MG_CHECK(mg_lapic_id() == 0);

	step(1, 0x40, true);
	step(2, 0x41, true);
	mg_ioapic_route(5, 0x42, 0, false);
	step(3, 0x42, true);
	mg_ioapic_route(17, 0x43, 0, true);
	mg_report(IRQ_READY | 4);
	wait_for(0x43);
	/* A LAPIC that EOIs at delivery re-delivered while the line was still up: it waits in IRR now. */
	if (mg_lapic_read(APIC_IRR + 0x43 / 32 * 0x10) & (1u << (0x43 % 32))) {
		sti_hlt();
		cli();
	}
	mg_ioapic_mask(17);
	mg_report(IRQ_DONE | 4);
	mg_report(IRQ_COUNT | hits[0x43]);

	mg_lapic_timer_oneshot(0x44, 1000000, 1); /* 1 ms at KVM's 1 GHz APIC bus */
	step(5, 0x44, false);
	mg_lapic_send_fixed(0, 0x45);
	step(6, 0x45, false);
	mg_report(IRQ_ISR | isr_held[0x40]);
	return 0;
}
