/* SPDX-License-Identifier: MIT */
/*
 * guest/rt/entry.S - micro-guest entry: PVH note, 32-bit entry -> long mode, static page tables, GDT, trap stubs,
 * the real-mode AP trampoline.
 *
 * The PVH boot ABI (xen/include/public/arch-x86/hvm/start_info.h; Linux arch/x86/platform/pvh/head.S) enters at
 * the address of the XEN_ELFNOTE_PHYS32_ENTRY note in 32-bit protected mode with flat segments, paging off and
 * EBX = GPA of struct hvm_start_info. The long-mode switch follows Intel SDM vol. 3, 10.8.5 (initializing IA-32e
 * mode): CR4.PAE, CR3, EFER.LME, CR0.PG, then a far jump to a 64-bit code segment.
 *
 * Every instruction here is interpreted at ~1 us on the development platform: no loops that scale with memory
 * size, the page tables are built by the assembler, .bss is cleared with one rep stosq.
 */
#include "mg_defs.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define CR0_PE 0x1
#define CR0_NW 0x20000000
#define CR0_CD 0x40000000
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_US 0x4
#define PTE_PWT 0x8
#define PTE_PCD 0x10
#define PTE_PS 0x80
#define LAPIC_ID_REG 0xfee00020
#define TESTDEV_RESULT_PORT 0xf40 /* LAYOUT_TESTDEV_PORT + TESTDEV_REG_RESULT */

/* ---- PVH note -------------------------------------------------------------------------------------------- */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4                         /* namesz: "Xen\0" */
	.long 4                         /* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long mg_entry32                /* 32-bit physical entry point */
	.balign 4

/* ---- page tables: identity map of 0-4 GiB with 2 MiB pages, user-accessible, the top GiB uncached --------- */
	.section .data.pagetables, "aw"
	.balign 4096
	.globl mg_pml4
mg_pml4:
	.quad mg_pdpt + (PTE_P | PTE_RW | PTE_US)
	.fill 511, 8, 0
mg_pdpt:
	.quad mg_pd + 0x0000 + (PTE_P | PTE_RW | PTE_US)
	.quad mg_pd + 0x1000 + (PTE_P | PTE_RW | PTE_US)
	.quad mg_pd + 0x2000 + (PTE_P | PTE_RW | PTE_US)
	.quad mg_pd + 0x3000 + (PTE_P | PTE_RW | PTE_US)
	.fill 508, 8, 0
mg_pd:
	.set pde_index, 0
	.rept 2048
	.if pde_index >= 1536
	.quad (pde_index << 21) | (PTE_P | PTE_RW | PTE_US | PTE_PS | PTE_PWT | PTE_PCD)
	.else
	.quad (pde_index << 21) | (PTE_P | PTE_RW | PTE_US | PTE_PS)
	.endif
	.set pde_index, pde_index + 1
	.endr

/* ---- GDT (accessed bits preset so segment loads never write the table) ----------------------------------- */
	.section .data, "aw"
	.balign 16
	.globl mg_gdt, mg_gdt_end, mg_gdtr
mg_gdt:
	.quad 0                         /* 0x00 null */
	.quad 0x00cf9b000000ffff        /* 0x08 kernel 32-bit code */
	.quad 0x00af9b000000ffff        /* 0x10 kernel 64-bit code */
	.quad 0x00cf93000000ffff        /* 0x18 kernel data */
	.quad 0x00cffb000000ffff        /* 0x20 user 32-bit code, DPL 3 (selector 0x23) */
	.quad 0x00cff3000000ffff        /* 0x28 user data, DPL 3 (0x2b) */
	.quad 0x00affb000000ffff        /* 0x30 user 64-bit code, DPL 3 (0x33) */
	.quad 0                         /* 0x38 unused */
	.quad 0, 0                      /* 0x40 64-bit TSS, filled by mg_tss_load() */
mg_gdt_end:
	.balign 8
	.word 0
mg_gdtr:
	.word mg_gdt_end - mg_gdt - 1
	.quad mg_gdt

/* ---- stacks (not zeroed) --------------------------------------------------------------------------------- */
	.section .stack, "aw", @nobits
	.balign 4096
	.globl mg_ap_stacks
mg_bsp_stack:
	.skip MG_BSP_STACK_SIZE
mg_bsp_stack_top:
mg_ap_stacks:
	.skip MG_MAX_CPUS * MG_AP_STACK_SIZE

/* 32-bit code: enter long mode on mg_pml4 and far-jump to the 64-bit label \target. Clobbers EAX, ECX, EDX. */
.macro ENTER_LONG_MODE target
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $mg_pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	andl $~(CR0_CD | CR0_NW), %eax  /* an AP comes out of INIT with caching disabled */
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0
	ljmpl $MG_SEL_KERNEL_CS, $\target
.endm

.macro LOAD_DATA_SEGMENTS
	movl $MG_SEL_KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
.endm

/* ---- BSP entry --------------------------------------------------------------------------------------------- */
	.section .text.entry, "ax"
	.code32
	.globl mg_entry32
mg_entry32:
	cli
	cld
	movl %ebx, %esi                 /* struct hvm_start_info GPA; kept in ESI through the switch */
	lgdt mg_gdtr
	LOAD_DATA_SEGMENTS
	ENTER_LONG_MODE mg_entry64

	.code64
mg_entry64:
	LOAD_DATA_SEGMENTS
	movl %esi, %r12d                /* zero-extends */
	leaq mg_bsp_stack_top(%rip), %rsp
	leaq __bss_start(%rip), %rdi
	leaq __bss_end(%rip), %rcx
	subq %rdi, %rcx
	shrq $3, %rcx
	xorl %eax, %eax
	rep stosq
	movq %r12, %rdi
	call mg_rt_start
	jmp mg_halt_forever

	.globl mg_halt_forever
mg_halt_forever:
	cli
	hlt
	jmp mg_halt_forever

/* ---- AP path: trampoline (real mode, copied to MG_TRAMPOLINE_GPA) -> 32-bit -> 64-bit ---------------------- */
	.code16
	.balign 16
	.globl mg_trampoline_start, mg_trampoline_end
mg_trampoline_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds                   /* DS base = trampoline base: offsets below are trampoline-relative */
	lgdtl mg_tramp_gdtr - mg_trampoline_start
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $MG_SEL_KERNEL32_CS, $mg_ap_entry32   /* absolute: the 32-bit code stays in the image */
	.balign 8
mg_tramp_gdtr:
	.word mg_gdt_end - mg_gdt - 1
	.long mg_gdt
mg_trampoline_end:

	.code32
mg_ap_entry32:
	LOAD_DATA_SEGMENTS
	ENTER_LONG_MODE mg_ap_entry64

	.code64
mg_ap_entry64:
	LOAD_DATA_SEGMENTS
	movl $LAPIC_ID_REG, %ebx
	movl (%rbx), %edi
	shrl $24, %edi                  /* APIC id */
	cmpl $MG_MAX_CPUS, %edi
	jae 1f
	leal 1(%rdi), %eax
	imull $MG_AP_STACK_SIZE, %eax
	leaq mg_ap_stacks(%rip), %rsp
	addq %rax, %rsp                 /* top of this AP's stack */
	call mg_rt_ap_start
	jmp mg_halt_forever
1:	movl %edi, %eax
	orl $MG_RESULT_AP_ID_RANGE, %eax
	movw $TESTDEV_RESULT_PORT, %dx
	outl %eax, %dx
	jmp mg_halt_forever

/* ---- trap stubs: 256 entries of 16 bytes each; mg_rt.c points IDT gate n at mg_trap_stubs + 16 * n -------- */
	.balign 16
	.globl mg_trap_stubs
mg_trap_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0                        /* no CPU error code: keep the frame uniform */
	.endif
	pushq $vec
	jmp mg_trap_common
	.set vec, vec + 1
	.endr

mg_trap_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi                 /* struct mg_frame * */
	cld
	call mg_rt_trap
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp                  /* vector, error code */
	iretq

	.section .note.GNU-stack, "", @progbits
