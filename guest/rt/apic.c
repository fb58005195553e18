/* SPDX-License-Identifier: MIT */
/*
 * guest/rt/apic.c - local APIC (xAPIC MMIO), IOAPIC, legacy PIC masking and AP start-up for micro-guests.
 *
 * Follows Intel SDM vol. 3, chapter 11 (APIC; 11.4 MP initialization with INIT-SIPI-SIPI) and the 82093AA IOAPIC
 * datasheet (IOREGSEL at +0, IOWIN at +0x10, redirection entries at registers 0x10 + 2 * pin). The KVM in-kernel
 * irqchip serves all of it, so none of these accesses leaves the kernel.
 */
#include "rt/mg.h"

extern const uint8_t mg_trampoline_start[], mg_trampoline_end[];

static void mg_spurious(struct mg_frame *f)
{
	(void)f; /* a spurious interrupt needs no EOI */
}

void mg_lapic_enable(void)
{
	mg_trap_install(MG_SPURIOUS_VECTOR, mg_spurious, 0);
	mg_lapic_write(APIC_TPR, 0);
	mg_lapic_write(APIC_SVR, 0x100u | MG_SPURIOUS_VECTOR);
}

void mg_lapic_send_ipi(unsigned dest_apic_id, uint32_t icr_lo)
{
	mg_lapic_write(APIC_ICR_HI, dest_apic_id << 24);
	mg_lapic_write(APIC_ICR_LO, icr_lo);
	while (mg_lapic_read(APIC_ICR_LO) & APIC_ICR_BUSY)
		cpu_relax();
}

void mg_lapic_timer_oneshot(uint8_t vector, uint32_t count, unsigned divide)
{
	/* Divide configuration register encodings for 2, 4, ..., 128 (bits 3, 1:0); 1 is 0b1011. */
	static const uint8_t enc[8] = { 0xb, 0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xa };
	unsigned i = 0;

	while (i < 7 && (1u << i) < divide)
		i++;
	mg_lapic_write(APIC_TIMER_DIVIDE, enc[i]);
	mg_lapic_write(APIC_LVT_TIMER, vector);
	mg_lapic_write(APIC_TIMER_INITIAL, count);
}

uint32_t mg_ioapic_read(uint32_t reg)
{
	mmio_write32(LAYOUT_IOAPIC_GPA, reg);
	return mmio_read32(LAYOUT_IOAPIC_GPA + 0x10);
}

void mg_ioapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(LAYOUT_IOAPIC_GPA, reg);
	mmio_write32(LAYOUT_IOAPIC_GPA + 0x10, v);
}

void mg_ioapic_route(unsigned pin, uint8_t vector, unsigned dest, bool level)
{
	/* Mask while the high half changes, then write the low half unmasked: fixed, physical, active high. */
	mg_ioapic_write(0x10 + 2 * pin, 1u << 16);
	mg_ioapic_write(0x11 + 2 * pin, dest << 24);
	mg_ioapic_write(0x10 + 2 * pin, vector | (level ? 1u << 15 : 0));
}

void mg_ioapic_mask(unsigned pin)
{
	mg_ioapic_write(0x10 + 2 * pin, 1u << 16);
}

void mg_pic_mask_all(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

void mg_ap_start(unsigned apic_id)
{
	static bool copied;

	if (!copied) {
		memcpy((void *)(uintptr_t)MG_TRAMPOLINE_GPA, mg_trampoline_start,
		       (size_t)(mg_trampoline_end - mg_trampoline_start));
		copied = true;
	}
	/* KVM needs no delays between the three (the SDM's 10 ms / 200 us are for hardware). */
	mg_lapic_send_ipi(apic_id, APIC_ICR_INIT | APIC_ICR_ASSERT);
	mg_lapic_send_ipi(apic_id, APIC_ICR_STARTUP | (MG_TRAMPOLINE_GPA >> 12));
	mg_lapic_send_ipi(apic_id, APIC_ICR_STARTUP | (MG_TRAMPOLINE_GPA >> 12));
}
