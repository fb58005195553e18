/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_hv_hostile.c - malformed use of the hypervisor interface (tests/mg/mg_hv_hostile.c, profile FULL).
 * Every case must end in a defined HV_STATUS, an ignored access or a #GP, never in a host crash or a stuck VP.
 *
 * Host connections: CONN_ECHO (message; counts calls, posts nothing), CONN_SLOW (event, handler), CONN_FAST (event,
 * eventfd and handler).
 *
 * Part A, CPL0, one value each (the HV_STATUS, or 1/0 for "RAX unchanged"):
 *   A0  HvPostMessage, input GPA not 8-byte aligned                   INVALID_ALIGNMENT
 *   A1  ... input crossing a page boundary (TLFS 3.4)                  INVALID_ALIGNMENT
 *   A2  ... input GPA outside RAM                                      INVALID_PARAMETER
 *   A3  ... with a rep count                                           INVALID_HYPERCALL_INPUT
 *   A4  ... reserved control bit 27                                    INVALID_HYPERCALL_INPUT
 *   A5  ... reserved control bit 63                                    INVALID_HYPERCALL_INPUT
 *   A6  ... with the fast bit                                          INVALID_HYPERCALL_INPUT
 *   A7  ... with a variable header size                                INVALID_HYPERCALL_INPUT
 *   A8  ... payload_size 241                                           INVALID_PARAMETER
 *   A9  ... message type 0                                             INVALID_PARAMETER
 *   A10 ... message type 0x80000001 (the hypervisor's own range)       INVALID_PARAMETER
 *   A11 ... CONN_ECHO with reserved connection-id bits 31:24 set        INVALID_CONNECTION_ID
 *   A12 HvSignalEvent (fast), flag 2048                                INVALID_PARAMETER
 *   A13 ... RDX bits 63:48 set                                         INVALID_HYPERCALL_INPUT
 *   A14 ... memory form (input at a GPA), CONN_SLOW flag 0             SUCCESS
 *   A15 ... memory form, GPA not aligned                               INVALID_ALIGNMENT
 *   A16 unknown code with rep start > rep count                        INVALID_HYPERCALL_INPUT
 *   A17 `out` to the hypercall port from the guest's own code          ignored (1: RAX unchanged)
 *   A18 a call into a copy of the hypercall page                       ignored (1)
 *   A19 a call into the page after HYPERCALL was disabled              ignored (1)
 * Part B, CPL3 with IOPL 3 (so the OUT can reach the host) calling the page; if the user code faulted instead,
 * the value is USER_FAULT | the page offset of the faulting RIP << 20 | the vector:
 *   B0  unknown code                                                   ACCESS_DENIED
 *   B1  HvPostMessage to CONN_ECHO                                     ACCESS_DENIED (the handler is not called)
 *   B2  fast HvSignalEvent to CONN_SLOW (the signal port's exit)       ACCESS_DENIED (the handler is not called)
 *   B3  fast HvSignalEvent to CONN_FAST flag 0                         reported only (see mg_hv_hostile.c)
 *   B4  `out` to the hypercall port from user code                     ignored (1)
 * Found on kvm_pvm (2026-11): every user-mode OUT raises #GP despite IOPL 3 (B0-B1 at page offset 0x21, B2-B3
 * at 0x1b, B4 reports 0), so the host's CPL check is not reached there; mg_hv_hostile.c accepts either outcome.
 * Part C: HOSTILE_MSR_OPS pseudo-random reads and writes in 0x40000000-0x400001FF, half of them to MSRs the
 * interface implements (values: page GPAs inside a scratch area, small numbers, or raw 64-bit noise; RESET and
 * CRASH_CTL are written without their action bits, HYPERCALL without LOCKED),
 * each either taking effect or raising #GP. Then every timer and the SynIC are turned off, GUEST_OS_ID and the
 * hypercall page are set again and an unknown code must give INVALID_HYPERCALL_CODE.
 * Then HYPERCALL is locked: a write of 0 must not disable it. Then STIMER0 runs periodic in direct mode with a
 * 100 ns period for a few MSR exits (interrupts stay off) and is stopped.
 * Values: the #GP count of part C, the unknown-code status, 1 if the locked MSR kept its value, the unknown-code
 * status after the attempt to disable, 1 if STIMER0 reads back stopped.
 */
#include "rt/hvc.h"

#define CONN_ECHO 0x2a
#define CONN_SLOW 0x11
#define CONN_FAST 0x10
#define UNKNOWN_CODE 0x00ffu
#define SENTINEL 0x5e5e5e5eu
#define USER_FAULT 0x10000u
#define HOSTILE_MSR_OPS 300
#define SCRATCH_GPA 0x1000000ull /* 16 MiB: 1 MiB of RAM this guest never uses */
#define SCRATCH_PAGES 256u
#define OUTSIDE_RAM_GPA 0x7ffff000000ull

static uint8_t two_pages[8192] __attribute__((aligned(4096)));
static uint8_t page_copy[4096] __attribute__((aligned(4096)));
static uint8_t kstack[8192] __attribute__((aligned(16)));
static uint8_t ustack[4096] __attribute__((aligned(16)));
static volatile unsigned gp_hits;

/* ---- helpers: raw calls ------------------------------------------------------------------------------------- */

static uint16_t status_of(uint64_t rax) { return (uint16_t)(rax & HV_HYPERCALL_RESULT_MASK); }

/* Call @page with RAX = SENTINEL first; returns RAX (unchanged if nobody answered). */
static uint64_t call_with_sentinel(void *page, uint64_t control, uint64_t input)
{
	register uint64_t r8 __asm__("r8") = 0;
	uint64_t rax = SENTINEL;

	__asm__ volatile("call *%[page]"
			 : "+a"(rax), "+c"(control), "+d"(input), "+r"(r8)
			 : [page] "r"(page)
			 : "r9", "r10", "r11", "memory", "cc");
	return rax;
}

static struct hv_input_post_message *post_input(void *at, uint32_t conn, uint32_t type, uint32_t size)
{
	struct hv_input_post_message *in = at;

	memset(in, 0, sizeof(*in));
	in->connectionid = conn;
	in->message_type = type;
	in->payload_size = size;
	return in;
}

static uint16_t post_raw(uint64_t control, void *at, uint32_t conn, uint32_t type, uint32_t size)
{
	post_input(at, conn, type, size);
	return status_of(hvc_hypercall(control, (uint64_t)(uintptr_t)at, 0));
}

/* ---- part B: user mode ---------------------------------------------------------------------------------------- */

/* Shared with the assembly. */
uint64_t hv_user_kernel_rsp;
uint64_t hv_user_page, hv_user_control, hv_user_input;
static volatile uint64_t user_result;

void hv_user_enter(uint64_t rip, uint64_t rsp);
extern const uint8_t hv_user_return[], hv_user_call[], hv_user_out[];

/*
 * hv_user_enter(rip, rsp): save the callee-saved registers and the kernel stack, iretq to CPL3 with IOPL 3 and
 * IF 0. The user code ends with ud2 (result in RSI); the #UD handler returns to hv_user_return at CPL0.
 */
__asm__(".text\n"
	".globl hv_user_enter, hv_user_return, hv_user_call, hv_user_out\n"
	"hv_user_enter:\n"
	"	pushq %rbx\n	pushq %rbp\n	pushq %r12\n	pushq %r13\n	pushq %r14\n	pushq %r15\n"
	"	movq %rsp, hv_user_kernel_rsp(%rip)\n"
	"	movl $0x2b, %eax\n	movl %eax, %ds\n	movl %eax, %es\n"
	"	pushq $0x2b\n"   /* ss */
	"	pushq %rsi\n"    /* rsp */
	"	pushq $0x3002\n" /* rflags: IOPL 3, IF 0 */
	"	pushq $0x33\n"   /* cs */
	"	pushq %rdi\n"    /* rip */
	"	iretq\n"
	"hv_user_return:\n"
	"	movl $0x18, %eax\n	movl %eax, %ds\n	movl %eax, %es\n"
	"	popq %r15\n	popq %r14\n	popq %r13\n	popq %r12\n	popq %rbp\n	popq %rbx\n"
	"	ret\n"
	/* user code: a call through the hypercall page */
	"hv_user_call:\n"
	"	movq hv_user_control(%rip), %rcx\n"
	"	movq hv_user_input(%rip), %rdx\n"
	"	xorl %r8d, %r8d\n"
	"	movl $0x5e5e5e5e, %eax\n"
	"	call *hv_user_page(%rip)\n"
	"	movq %rax, %rsi\n"
	"	ud2\n"
	/* user code: the hypercall port from outside the page */
	"hv_user_out:\n"
	"	movl $0x5e5e5e5e, %eax\n"
	"	outl %eax, $0xe4\n"
	"	movq %rax, %rsi\n"
	"	ud2\n");

static void exit_to_kernel(struct mg_frame *f)
{
	f->rip = (uint64_t)(uintptr_t)hv_user_return;
	f->cs = MG_SEL_KERNEL_CS;
	f->rflags = 0x2;
	f->rsp = hv_user_kernel_rsp;
	f->ss = MG_SEL_KERNEL_DS;
}

static void on_user_trap(struct mg_frame *f)
{
	if ((f->cs & 3) != 3) {
		mg_printf("hostile: vector %lu at CPL0, RIP %lx\n", f->vector, f->rip);
		mg_exit(MG_RESULT_UNEXPECTED_TRAP | (uint32_t)f->vector);
	}
	if (f->vector == 6 && *(const volatile uint16_t *)(uintptr_t)f->rip == 0x0b0f) /* ud2: the end */
		user_result = f->rsi;
	else
		user_result = USER_FAULT | (f->rip & 0xfff) << 20 | f->vector;
	exit_to_kernel(f);
}

static uint32_t user_run(const uint8_t *code, uint64_t control, uint64_t input)
{
	hv_user_page = (uint64_t)(uintptr_t)hvc_hypercall_page();
	hv_user_control = control;
	hv_user_input = input;
	user_result = 0;
	hv_user_enter((uint64_t)(uintptr_t)code, (uint64_t)(uintptr_t)(ustack + sizeof(ustack)));
	return (uint32_t)user_result;
}

/* ---- part C: random MSRs --------------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void on_gp(struct mg_frame *f)
{
	const volatile uint8_t *ip = (const volatile uint8_t *)(uintptr_t)f->rip;

	if ((f->cs & 3) == 3) {
		on_user_trap(f);
		return;
	}
	if (ip[0] != 0x0f || (ip[1] != 0x30 && ip[1] != 0x32)) {
		mg_printf("hostile: #GP at RIP %lx (not an MSR access)\n", f->rip);
		mg_exit(MG_RESULT_UNEXPECTED_TRAP | 13);
	}
	gp_hits++;
	f->rip += 2;
}

static uint64_t random_value(void)
{
	uint64_t r = rng();

	switch (rng() % 4) {
	case 0:
	case 1: /* a page in the scratch area, with random low bits (enable, lock, ...) */
		return SCRATCH_GPA + (r % SCRATCH_PAGES) * 4096 + (rng() & 0xfff);
	case 2: /* small numbers: vectors, SINT numbers, short timer periods */
		return r & 0xfffff;
	default:
		return r;
	}
}

/* The MSRs the interface implements (half the accesses go to one of these, half anywhere in the range). */
static const uint32_t known_msrs[] = {
	HV_X64_MSR_GUEST_OS_ID, HV_X64_MSR_HYPERCALL, HV_X64_MSR_VP_INDEX, HV_X64_MSR_RESET, HV_X64_MSR_VP_RUNTIME,
	HV_X64_MSR_TIME_REF_COUNT, HV_X64_MSR_REFERENCE_TSC, HV_X64_MSR_TSC_FREQUENCY, HV_X64_MSR_APIC_FREQUENCY,
	HV_X64_MSR_VP_ASSIST_PAGE, HV_X64_MSR_SCONTROL, HV_X64_MSR_SVERSION, HV_X64_MSR_SIEFP, HV_X64_MSR_SIMP,
	HV_X64_MSR_EOM, HV_X64_MSR_SINT0, HV_X64_MSR_SINT0 + 2, HV_X64_MSR_SINT0 + 9, HV_X64_MSR_SINT15,
	HV_X64_MSR_STIMER0_CONFIG, HV_X64_MSR_STIMER0_COUNT, HV_X64_MSR_STIMER0_CONFIG + 2,
	HV_X64_MSR_STIMER0_COUNT + 2, HV_X64_MSR_STIMER0_CONFIG + 6, HV_X64_MSR_STIMER3_COUNT, HV_X64_MSR_CRASH_P0,
	HV_X64_MSR_CRASH_P4, HV_X64_MSR_CRASH_CTL, HV_X64_MSR_TSC_INVARIANT_CONTROL,
};

static void random_msrs(void)
{
	for (unsigned i = 0; i < HOSTILE_MSR_OPS; i++) {
		uint32_t msr = rng() % 2 ? known_msrs[rng() % (sizeof(known_msrs) / sizeof(known_msrs[0]))]
					 : 0x40000000u + (uint32_t)(rng() % 0x200);
		uint64_t v;

		if (rng() % 4 == 0) {
			(void)rdmsr(msr);
			continue;
		}
		v = random_value();
		if (msr == HV_X64_MSR_RESET)
			v &= ~HV_X64_MSR_RESET_VALUE;
		if (msr == HV_X64_MSR_CRASH_CTL)
			v &= ~HV_CRASH_CTL_CRASH_NOTIFY;
		if (msr == HV_X64_MSR_HYPERCALL)
			v &= ~HV_X64_MSR_HYPERCALL_LOCKED; /* locking is tested on its own, below */
		wrmsr(msr, v);
	}
}

int mg_main(const struct hvm_start_info *si)
{
	void *page = hvc_hypercall_page_default;
	uint64_t in_gpa, v, hc;
	uint32_t st;

	mg_trap_install(13, on_gp, 0);
	MG_CHECK(hvc_hypercall_enable(page, 0) == 0);

	/* ---- part A ---- */
	mg_report(post_raw(HVCALL_POST_MESSAGE, two_pages + 4, CONN_ECHO, 1, 8));
	mg_report(post_raw(HVCALL_POST_MESSAGE, two_pages + 4096 - 128, CONN_ECHO, 1, 8));
	mg_report(status_of(hvc_hypercall(HVCALL_POST_MESSAGE, OUTSIDE_RAM_GPA, 0)));
	mg_report(post_raw(HVCALL_POST_MESSAGE | 1ull << HV_HYPERCALL_REP_COMP_OFFSET, two_pages, CONN_ECHO, 1, 8));
	mg_report(post_raw(HVCALL_POST_MESSAGE | 1ull << 27, two_pages, CONN_ECHO, 1, 8));
	mg_report(post_raw(HVCALL_POST_MESSAGE | 1ull << 63, two_pages, CONN_ECHO, 1, 8));
	mg_report(post_raw(HVCALL_POST_MESSAGE | HV_HYPERCALL_FAST_BIT, two_pages, CONN_ECHO, 1, 8));
	mg_report(post_raw(HVCALL_POST_MESSAGE | 1ull << HV_HYPERCALL_VARHEAD_OFFSET, two_pages, CONN_ECHO, 1, 8));
	mg_report(post_raw(HVCALL_POST_MESSAGE, two_pages, CONN_ECHO, 1, HV_MESSAGE_PAYLOAD_BYTE_COUNT + 1));
	mg_report(post_raw(HVCALL_POST_MESSAGE, two_pages, CONN_ECHO, 0, 8));
	mg_report(post_raw(HVCALL_POST_MESSAGE, two_pages, CONN_ECHO, 0x80000001u, 8));
	mg_report(post_raw(HVCALL_POST_MESSAGE, two_pages, CONN_ECHO | 0x01000000u, 1, 8));
	mg_report(status_of(hvc_hypercall_fast8(HVCALL_SIGNAL_EVENT, CONN_SLOW | (uint64_t)HV_EVENT_FLAGS_COUNT << 32)));
	mg_report(status_of(hvc_hypercall_fast8(HVCALL_SIGNAL_EVENT, CONN_SLOW | 1ull << 48)));
	*(volatile uint64_t *)(void *)two_pages = CONN_SLOW;
	mg_report(status_of(hvc_hypercall(HVCALL_SIGNAL_EVENT, (uint64_t)(uintptr_t)two_pages, 0)));
	mg_report(status_of(hvc_hypercall(HVCALL_SIGNAL_EVENT, (uint64_t)(uintptr_t)two_pages + 4, 0)));
	mg_report(status_of(hvc_hypercall(UNKNOWN_CODE | 1ull << HV_HYPERCALL_REP_COMP_OFFSET |
					   2ull << HV_HYPERCALL_REP_START_OFFSET, 0, 0)));
	v = SENTINEL;
	__asm__ volatile("outl %%eax, $0xe4" : "+a"(v) : : "memory");
	mg_report(v == SENTINEL);
	memcpy(page_copy, page, 64);
	mg_report(call_with_sentinel(page_copy, UNKNOWN_CODE, 0) == SENTINEL);
	MG_CHECK(status_of(call_with_sentinel(page, UNKNOWN_CODE, 0)) == HV_STATUS_INVALID_HYPERCALL_CODE);
	wrmsr(HV_X64_MSR_HYPERCALL, 0);
	mg_report(call_with_sentinel(page, UNKNOWN_CODE, 0) == SENTINEL);
	MG_CHECK(hvc_hypercall_enable(page, 0) == 0);

	/* ---- part B ---- */
	mg_tss_load((uint64_t)(uintptr_t)(kstack + sizeof(kstack)));
	for (unsigned vec = 0; vec < 32; vec++)
		if (vec != 13)
			mg_trap_install(vec, on_user_trap, 0);
	mg_report(user_run(hv_user_call, UNKNOWN_CODE, 0));
	in_gpa = (uint64_t)(uintptr_t)post_input(two_pages, CONN_ECHO, 1, 8);
	mg_report(user_run(hv_user_call, HVCALL_POST_MESSAGE, in_gpa));
	mg_report(user_run(hv_user_call, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, CONN_SLOW));
	mg_report(user_run(hv_user_call, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, CONN_FAST));
	mg_report(user_run(hv_user_out, 0, 0) == SENTINEL);
	for (unsigned vec = 0; vec < 32; vec++)
		if (vec != 13)
			mg_trap_install(vec, NULL, 0);

	/* ---- part C ---- */
	gp_hits = 0;
	random_msrs();
	mg_report(gp_hits);
	for (unsigned n = 0; n < HV_SYNIC_STIMER_COUNT; n++)
		hvc_stimer_stop(n);
	wrmsr(HV_X64_MSR_SCONTROL, 0);
	wrmsr(HV_X64_MSR_SIMP, 0);
	wrmsr(HV_X64_MSR_SIEFP, 0);
	wrmsr(HV_X64_MSR_REFERENCE_TSC, 0);
	wrmsr(HV_X64_MSR_GUEST_OS_ID, 0x8100000601770000ull);
	/* The interface still works: our own page again, an unknown code. */
	wrmsr(HV_X64_MSR_HYPERCALL, (uint64_t)(uintptr_t)page | HV_X64_MSR_HYPERCALL_ENABLE);
	hc = rdmsr(HV_X64_MSR_HYPERCALL);
	st = status_of(call_with_sentinel(page, UNKNOWN_CODE, 0));
	mg_report(st);
	/* A locked HYPERCALL MSR ignores writes (TLFS 3.13): disabling it does not take. */
	wrmsr(HV_X64_MSR_HYPERCALL, hc | HV_X64_MSR_HYPERCALL_LOCKED);
	wrmsr(HV_X64_MSR_HYPERCALL, 0);
	mg_report(rdmsr(HV_X64_MSR_HYPERCALL) == (hc | HV_X64_MSR_HYPERCALL_LOCKED));
	mg_report(status_of(call_with_sentinel(page, UNKNOWN_CODE, 0)));
	/* A periodic timer with a 100 ns period for a moment: the host must neither spin forever nor fall over. */
	hvc_stimer_arm(0, hvc_stimer_config_direct(0x40, true), 1);
	for (unsigned i = 0; i < 20; i++)
		(void)rdmsr(HV_X64_MSR_VP_INDEX);
	hvc_stimer_stop(0);
	mg_report(rdmsr(hvc_stimer_config_msr(0)) == 0);
	mg_printf("hostile: %u #GP of %u MSR accesses; status %u\n", gp_hits, HOSTILE_MSR_OPS, st);
	return 0;
}
