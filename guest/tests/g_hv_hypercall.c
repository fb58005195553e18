/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_hv_hypercall.c - the hypercall page and VP index (tests/mg/mg_hv_hypercall.c), 2 VPs.
 *
 * BSP: HYPERCALL reads 0 at first; enabling it while GUEST_OS_ID is 0 does not enable it (TLFS 3.13); then
 * GUEST_OS_ID, HYPERCALL = enable | GPA of a page here (Linux hyperv_init()), read back with the same GPA; the
 * page starts with ENDBR64; an unknown call code gives HV_STATUS_INVALID_HYPERCALL_CODE; the page preserves the
 * registers Linux's callers keep live (RBX, RSI, RDI, RBP, R12-R15, RSP). VP_INDEX is 0 here; the AP reads 1 and
 * makes a hypercall through the same page. Last, HYPERCALL = 0 reads back disabled.
 *
 * Values: HYPERCALL at reset, HYPERCALL after the early enable attempt, the #GP count of that attempt, the
 * HYPERCALL value after enabling, the first 4 page bytes, the unknown-code status, the preserved-register
 * mismatch mask, the BSP's VP index, HC_AP | the AP's VP index, HC_AP_STATUS | the AP's unknown-code status,
 * HYPERCALL after disabling.
 */
#include "rt/hvc.h"

#define HC_AP 0x1000u
#define HC_AP_STATUS 0x2000u
#define VEC_WAKE 0x50
#define VEC_TIMEOUT 0x51
#define UNKNOWN_CODE 0x00ffu

static uint8_t hc_page[4096] __attribute__((aligned(4096)));
static volatile uint32_t ap_done;
static volatile bool timed_out;
static volatile unsigned gp_hits;

static void on_gp(struct mg_frame *f)
{
	gp_hits++;
	f->rip += 2; /* wrmsr */
}

static void on_wake(struct mg_frame *f) { mg_lapic_eoi(); }

static void on_timeout(struct mg_frame *f)
{
	timed_out = true;
	mg_lapic_eoi();
}

/*
 * uint32_t hc_check_preserved(void *page, uint64_t control, uint64_t *status): load patterns into every register
 * the hypercall page must preserve, call it with RCX = control, RDX = R8 = 0, store RAX in *status and return a
 * mask of the registers that changed (bit 0 RBX, 1 RSI, 2 RDI, 3 RBP, 4-7 R12-R15, 8 RSP).
 */
uint32_t hc_check_preserved(void *page, uint64_t control, uint64_t *status);
__asm__(".text\n"
	".globl hc_check_preserved\n"
	"hc_check_preserved:\n"
	"	pushq %rbx\n	pushq %rbp\n	pushq %r12\n	pushq %r13\n	pushq %r14\n	pushq %r15\n"
	"	pushq %rdx\n"                 /* status pointer */
	"	movq %rdi, %r11\n"            /* the page (r11 is clobbered anyway) */
	"	movq %rsi, %rcx\n"            /* control */
	"	movabsq $0x1111111111111111, %rbx\n"
	"	movabsq $0x2222222222222222, %rsi\n"
	"	movabsq $0x3333333333333333, %rdi\n"
	"	movabsq $0x4444444444444444, %rbp\n"
	"	movabsq $0x5555555555555555, %r12\n"
	"	movabsq $0x6666666666666666, %r13\n"
	"	movabsq $0x7777777777777777, %r14\n"
	"	movabsq $0x8888888888888888, %r15\n"
	"	movq %rsp, %r9\n"
	"	movq %r9, hc_saved_rsp(%rip)\n"
	"	xorl %edx, %edx\n	xorl %r8d, %r8d\n"
	"	call *%r11\n"
	"	xorl %r10d, %r10d\n"
	"	movabsq $0x1111111111111111, %r11\n	cmpq %r11, %rbx\n	je 1f\n	orl $1, %r10d\n1:\n"
	"	movabsq $0x2222222222222222, %r11\n	cmpq %r11, %rsi\n	je 1f\n	orl $2, %r10d\n1:\n"
	"	movabsq $0x3333333333333333, %r11\n	cmpq %r11, %rdi\n	je 1f\n	orl $4, %r10d\n1:\n"
	"	movabsq $0x4444444444444444, %r11\n	cmpq %r11, %rbp\n	je 1f\n	orl $8, %r10d\n1:\n"
	"	movabsq $0x5555555555555555, %r11\n	cmpq %r11, %r12\n	je 1f\n	orl $16, %r10d\n1:\n"
	"	movabsq $0x6666666666666666, %r11\n	cmpq %r11, %r13\n	je 1f\n	orl $32, %r10d\n1:\n"
	"	movabsq $0x7777777777777777, %r11\n	cmpq %r11, %r14\n	je 1f\n	orl $64, %r10d\n1:\n"
	"	movabsq $0x8888888888888888, %r11\n	cmpq %r11, %r15\n	je 1f\n	orl $128, %r10d\n1:\n"
	"	cmpq hc_saved_rsp(%rip), %rsp\n	je 1f\n	orl $256, %r10d\n"
	"	movq hc_saved_rsp(%rip), %rsp\n1:\n"
	"	popq %rdx\n"
	"	movq %rax, (%rdx)\n"
	"	movl %r10d, %eax\n"
	"	popq %r15\n	popq %r14\n	popq %r13\n	popq %r12\n	popq %rbp\n	popq %rbx\n"
	"	ret\n"
	".data\n"
	"hc_saved_rsp: .quad 0\n"
	".text\n");

void mg_ap_main(unsigned apic_id)
{
	uint64_t status;

	mg_lapic_enable();
	mg_report(HC_AP | (uint32_t)rdmsr(HV_X64_MSR_VP_INDEX));
	status = hvc_hypercall(UNKNOWN_CODE, 0, 0);
	mg_report(HC_AP_STATUS | (uint32_t)(status & HV_HYPERCALL_RESULT_MASK));
	mg_atomic_add(&ap_done, 1);
	mg_lapic_send_fixed(0, VEC_WAKE);
}

int mg_main(const struct hvm_start_info *si)
{
	uint64_t v, status = 0;
	uint32_t bytes, mask;

	mg_trap_install(13, on_gp, 0);
	mg_trap_install(VEC_WAKE, on_wake, 0);
	mg_trap_install(VEC_TIMEOUT, on_timeout, 0);
	mg_lapic_enable();

	v = rdmsr(HV_X64_MSR_HYPERCALL);
	mg_report((uint32_t)v);
	MG_CHECK(!(v & HV_X64_MSR_HYPERCALL_ENABLE));
	/* GUEST_OS_ID is still 0: the enable must not take (TLFS; KVM ignores the write, it does not #GP). */
	wrmsr(HV_X64_MSR_HYPERCALL, (uint64_t)(uintptr_t)hc_page | HV_X64_MSR_HYPERCALL_ENABLE);
	v = rdmsr(HV_X64_MSR_HYPERCALL);
	mg_report((uint32_t)v);
	mg_report(gp_hits);
	MG_CHECK(!(v & HV_X64_MSR_HYPERCALL_ENABLE));
	MG_CHECK(hvc_hypercall(UNKNOWN_CODE, 0, 0) == HVC_NO_PAGE);

	MG_CHECK(hvc_hypercall_enable(hc_page, 0) == 0);
	v = rdmsr(HV_X64_MSR_HYPERCALL);
	mg_report((uint32_t)v);
	MG_CHECK((v & HV_PAGE_ADDRESS_MASK) == (uint64_t)(uintptr_t)hc_page);
	bytes = (uint32_t)hc_page[0] | (uint32_t)hc_page[1] << 8 | (uint32_t)hc_page[2] << 16 |
		(uint32_t)hc_page[3] << 24;
	mg_report(bytes);
	MG_CHECK(bytes == 0xfa1e0ff3u); /* F3 0F 1E FA: ENDBR64 */

	status = hvc_hypercall(UNKNOWN_CODE, 0, 0);
	mg_report((uint32_t)(status & HV_HYPERCALL_RESULT_MASK));
	MG_CHECK((status & HV_HYPERCALL_RESULT_MASK) == HV_STATUS_INVALID_HYPERCALL_CODE);
	mask = hc_check_preserved(hc_page, UNKNOWN_CODE, &status);
	mg_report(mask);
	MG_CHECK(mask == 0);
	MG_CHECK((status & HV_HYPERCALL_RESULT_MASK) == HV_STATUS_INVALID_HYPERCALL_CODE);
	/* The fast HvSignalEvent branch of the page must preserve them too. */
	mask = hc_check_preserved(hc_page, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, &status);
	MG_CHECK(mask == 0);
	MG_CHECK((status & HV_HYPERCALL_RESULT_MASK) == HV_STATUS_INVALID_CONNECTION_ID); /* connection 0 */

	mg_report((uint32_t)rdmsr(HV_X64_MSR_VP_INDEX));

	mg_lapic_timer_oneshot(VEC_TIMEOUT, 5000000000u / 128, 128); /* ~5 s */
	mg_ap_start(1);
	while (!mg_atomic_read(&ap_done) && !timed_out) {
		sti_hlt();
		cli();
	}
	mg_lapic_write(APIC_TIMER_INITIAL, 0);
	MG_CHECK(!timed_out);

	hvc_hypercall_disable();
	v = rdmsr(HV_X64_MSR_HYPERCALL);
	mg_report((uint32_t)v);
	MG_CHECK(!(v & HV_X64_MSR_HYPERCALL_ENABLE));
	MG_CHECK(gp_hits == 0);
	return 0;
}
