/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_msr.c - MSR intercepts (tests/mg/mg_msr.c).
 *
 * The host intercepts 0x40000000..0x400000ff: 0x40000000-0x4000000f are read/write registers, 0x40000010 is
 * read-only (reads 0xfeedface12345678, writes are refused), 0x40000020 refuses everything with -EPERM,
 * 0x40000030 refuses writes with -EINVAL. A refused access must raise #GP here; the #GP handler counts it and
 * skips the 2-byte rdmsr/wrmsr. 0x40000100 is outside every range and unknown to KVM: #GP too. A real MSR
 * (IA32_APIC_BASE) still reads KVM's value. Values reported: the #GP count and the faulting MSR numbers.
 */
#include "rt/mg.h"

static volatile unsigned gp_count;
static volatile uint64_t gp_last_rip;

static void on_gp(struct mg_frame *f)
{
	gp_count++;
	gp_last_rip = f->rip;
	mg_report((uint32_t)f->rcx); /* the MSR number the faulting rdmsr/wrmsr used */
	f->rip += 2;                  /* rdmsr and wrmsr are 0f 32 / 0f 30 */
}

int mg_main(const struct hvm_start_info *si)
{
	uint64_t apic_base;

	mg_trap_install(13, on_gp, 0);

	wrmsr(0x40000000, 0x1122334455667788ull);
	wrmsr(0x40000005, 5);
	MG_CHECK(rdmsr(0x40000000) == 0x1122334455667788ull);
	MG_CHECK(rdmsr(0x40000005) == 5);
	MG_CHECK(rdmsr(0x40000010) == 0xfeedface12345678ull);
	MG_CHECK(gp_count == 0);

	wrmsr(0x40000010, 1);
	MG_CHECK(gp_count == 1);
	(void)rdmsr(0x40000020);
	MG_CHECK(gp_count == 2);
	wrmsr(0x40000020, 1);
	MG_CHECK(gp_count == 3);
	wrmsr(0x40000030, 1);
	MG_CHECK(gp_count == 4);
	(void)rdmsr(0x40000100);
	MG_CHECK(gp_count == 5);

	apic_base = rdmsr(MSR_IA32_APIC_BASE);
	MG_CHECK((apic_base & 0xfffff000ull) == LAYOUT_LAPIC_GPA);
	MG_CHECK(apic_base & (1u << 8));  /* BSP */
	MG_CHECK(apic_base & (1u << 11)); /* xAPIC enabled */
	MG_CHECK(gp_count == 5);
	mg_report(gp_count);
	return 0;
}
