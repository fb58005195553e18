/* SPDX-License-Identifier: MIT */
/*
 * guest/rt/mg_defs.h - micro-guest runtime constants shared by C and assembly (plain numbers only, no suffixes).
 */
#ifndef OPENHV_GUEST_MG_DEFS_H
#define OPENHV_GUEST_MG_DEFS_H

#define MG_MAX_CPUS 16              /* APIC ids 0..15 get an AP stack; an AP with a larger id fails the test */
#define MG_BSP_STACK_SIZE 16384     /* bytes */
#define MG_AP_STACK_SIZE 8192       /* bytes per AP stack */
#define MG_TRAMPOLINE_GPA 0x10000   /* where mg_ap_start() copies the real-mode AP trampoline (< 4 KiB) */

/* GDT selectors: the same layout as Linux (arch/x86/include/asm/segment.h), so STAR takes the usual values. */
#define MG_SEL_KERNEL32_CS 0x08
#define MG_SEL_KERNEL_CS 0x10
#define MG_SEL_KERNEL_DS 0x18
#define MG_SEL_USER32_CS 0x23       /* 32-bit compatibility-mode code, DPL 3 */
#define MG_SEL_USER_DS 0x2b         /* data, DPL 3 */
#define MG_SEL_USER_CS 0x33         /* 64-bit code, DPL 3 */
#define MG_SEL_TSS 0x40             /* 64-bit TSS descriptor (two GDT slots) */

/* Result codes the runtime itself writes (a test's own failure codes should stay below 0xe0000000). */
#define MG_RESULT_UNEXPECTED_TRAP 0xe0000000 /* | vector: a trap with no handler installed */
#define MG_RESULT_AP_ID_RANGE 0xe1000000     /* | APIC id: an AP whose id is >= MG_MAX_CPUS */
#define MG_RESULT_RETURNED 0xe2000000        /* mg_exit() fell through (the host did not stop the run) */

#endif
