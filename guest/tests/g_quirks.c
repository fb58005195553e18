/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_quirks.c - the instructions the platform's emulator rejects and vid/quirks.c performs in
 * userspace, each checked for its architectural effect (on hardware KVM they simply run natively):
 *   int3 -> #BP delivered with the return RIP after the int3; fwait -> no effect;
 *   LDMXCSR / STMXCSR m32 through disp8(%rsp), base+index*scale, RIP-relative and disp32 addressing.
 * Reports: 1 after #BP, 2 after fwait, then the MXCSR values read back.
 */
#include "rt/mg.h"

static volatile unsigned bp_count;
static volatile uint64_t bp_rip;
uint32_t mxcsr_static;
uint32_t mxcsr_static = 0x1f80 | (2u << 13); /* round toward +inf */
static uint32_t mxcsr_out[4];

static void on_bp(struct mg_frame *f)
{
	bp_count++;
	bp_rip = f->rip;
}

static uint32_t stmxcsr_stack(void)
{
	uint32_t v;

	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}

int mg_main(const struct hvm_start_info *si)
{
	uint64_t cr4, after;
	uint32_t v;

	/* CR4.OSFXSR (bit 9): SSE state instructions are legal (on hardware they #UD without it). */
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1u << 9)));

	mg_trap_install(3, on_bp, 0);
	__asm__ volatile("int3\n\tlea 0(%%rip), %0" : "=r"(after));
	MG_CHECK(bp_count == 1);
	MG_CHECK(bp_rip == after - 7); /* the pushed RIP is the lea right after the 1-byte int3 */
	mg_report(1);

	__asm__ volatile("fwait");
	mg_report(2);

	/* disp8(%rsp): the form kernel_fpu_begin() uses */
	v = 0x1f80 | (1u << 13); /* round down */
	__asm__ volatile("ldmxcsr %0" : : "m"(v));
	MG_CHECK(stmxcsr_stack() == v);
	mg_report(stmxcsr_stack());

	/* RIP-relative load */
	__asm__ volatile("ldmxcsr mxcsr_static(%%rip)" : : : "memory");
	MG_CHECK(stmxcsr_stack() == mxcsr_static);
	mg_report(stmxcsr_stack());

	/* base + index * 4 store */
	__asm__ volatile("stmxcsr (%0,%1,4)" : : "r"(mxcsr_out), "r"(2ul) : "memory");
	MG_CHECK(mxcsr_out[2] == mxcsr_static);

	/* disp32 store with a base register */
	__asm__ volatile("stmxcsr 0x1000(%0)" : : "r"((uintptr_t)mxcsr_out - 0x1000 + 4) : "memory");
	MG_CHECK(mxcsr_out[1] == mxcsr_static);

	v = 0x1f80;
	__asm__ volatile("ldmxcsr %0" : : "m"(v));
	mg_report(stmxcsr_stack());
	return 0;
}
