/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_user.c - guest user mode and system calls: which ways into the kernel work on this KVM
 * (tests/mg/mg_user_syscall.c; shared/reference/platform.md "Guest user mode and system calls").
 *
 * One case per run, chosen by a command-line word:
 *   int80_64    64-bit user code (CS 0x33) calls `int $0x80` through a DPL-3 interrupt gate (hello, 100 timed null
 *               calls, exit), the handler returning to user mode with iretq each time.
 *   int80_32    the same from 32-bit compatibility-mode code (CS 0x23), as a 32-bit Linux userspace would.
 *   syscall64   100 timed 64-bit `syscall`s with EFER.SCE/STAR/LSTAR/SFMASK as Linux sets them; the LSTAR entry
 *               records its CS and returns with sysretq when it runs at CPL0.
 *   sysenter32  100 timed compat-mode `sysenter`s (Intel) with SYSENTER_CS/ESP/EIP; the entry returns with sysexit
 *               when it runs at CPL0.
 *   sysenter32_sysret  the same, returning with sysretl as Linux's entry_SYSENTER_compat fast path does.
 *   sysenter32_iret    the same, returning with iretq (Linux's slow path).
 *   ud_64       64-bit user code makes its calls with ud2: #UD to the kernel and iretq back (hello, exit).
 *   ud_32       the same from compatibility mode.
 * `ud2` with a call number in eax is the fallback call instruction of every case; an `int $0x80` that raises #UD
 * is served like one and flagged (USER_F_INT80_UD), so each case runs to its end and reports what it saw.
 * The kernel side: TSS with RSP0, Linux's GDT layout, int 0x80 gate with DPL 3, handlers for every exception
 * (an unexpected fault ends the case and is reported; it does not fail the run). User mode is entered with iretq,
 * IF=0.
 *
 * Values: USER_CASE | case, the observation flags (USER_F_*), the CS seen by the handler or the entry point, the
 * CPL it actually ran at, an unexpected fault's vector + 1 (0: none), TSC ticks per call of the timed loop (0 if
 * none ran), the number of times the syscall/sysenter entry ran, the CS of an unexpected fault's frame. Result 0
 * when the case ran to its end, whatever it found; 1 for an unknown case.
 *
 * Found on kvm_pvm (2026-11): `int $0x80` from CPL3 raises #UD at the int instruction (delivered to the guest
 * kernel at CPL0); `syscall` lands at LSTAR still at CPL3; compat-mode `sysenter` enters at CPL0, and `sysexit`
 * and iretq return to compat mode correctly, but `sysretl` returns to 64-bit mode (CS 0x33, as sysretq would), so
 * the 32-bit code then faults; exceptions from user mode reach the kernel at CPL0 on RSP0 and iretq returns.
 */
#include "rt/mg.h"

#define USER_CASE 0xca5e0000u

/* Calls of the user code (eax); the numbers are also written literally in the assembly below. */
#define SYS_HELLO 1         /* the handler records what it sees and answers 0x600d */
#define SYS_NULL 2          /* nothing (timed loop) */
#define SYS_EXIT 3          /* end the case; rdi = TSC ticks of the loop, rsi = the hello answer */
#define SYS_AFTER_RETURN 4  /* user code ran again after sysret/sysexit; rdi = TSC ticks of the loop; ends */
#define SYS_ENTRY_AT_CPL3 5 /* the syscall/sysenter entry found itself at CPL3; ends */

/* Observation flags (a bit set = seen). */
#define USER_F_KERNEL_REACHED (1u << 0) /* an int 0x80 or exception handler ran for the user code */
#define USER_F_HANDLER_CPL0 (1u << 1)   /* ... at CPL0 */
#define USER_F_FROM_USER (1u << 2)      /* ... and its frame's CS had RPL 3 */
#define USER_F_ON_RSP0 (1u << 3)        /* ... on the TSS.RSP0 stack */
#define USER_F_RETURNED (1u << 4)       /* user code ran again after the kernel returned to it */
#define USER_F_ENTRY_REACHED (1u << 5)  /* the syscall/sysenter entry point ran */
#define USER_F_ENTRY_CPL0 (1u << 6)     /* ... at CPL0 */
#define USER_F_EXITED (1u << 7)         /* the case ended through the exit call */
#define USER_F_FAULT (1u << 8)          /* an unexpected exception ended the case */
#define USER_F_INT80_GATE (1u << 9)     /* `int $0x80` from user mode reached its DPL-3 gate */
#define USER_F_INT80_UD (1u << 10)      /* `int $0x80` from user mode raised #UD instead */

#define LOOP_CALLS 100 /* calls in the timed loops */

static uint8_t kstack[8192] __attribute__((aligned(16)));
static uint8_t ustack[4096] __attribute__((aligned(16)));

/* Shared with the assembly below. */
uint64_t user_kernel_rsp;
volatile uint16_t entry_cs, entry_ss;
volatile uint32_t entry_hits;
uint32_t sysenter_ret_mode; /* how the sysenter entry returns: 0 sysexit, 1 sysretl, 2 iretq */

void user_enter(uint64_t rip, uint64_t cs, uint64_t rsp);
extern const uint8_t user_return[], user64_int80[], user32_int80[], user64_syscall[], lstar_entry[],
	user32_sysenter[], sysenter_entry[], user64_ud[], user32_ud[];

static volatile struct {
	uint32_t flags;
	uint32_t cs;
	uint32_t cpl;
	uint32_t fault; /* vector + 1 */
	uint64_t fault_rip, fault_err, fault_cs;
	uint64_t ticks;
	uint32_t hellos;
} obs;

/*
 * user_enter(rip, cs, rsp): save the callee-saved registers and the kernel stack, load user data segments and
 * iretq to CPL3 (IF=0). user_return is where the exit path lands (CPL0, stack = user_kernel_rsp).
 * The user code's calls: eax = call number, then `int $0x80` (the case under test) or `ud2` (a call path that
 * needs only exceptions to work); the answer comes back in eax.
 */
__asm__(".text\n"
	".globl user_enter, user_return\n"
	"user_enter:\n"
	"	pushq %rbx\n	pushq %rbp\n	pushq %r12\n	pushq %r13\n	pushq %r14\n	pushq %r15\n"
	"	movq %rsp, user_kernel_rsp(%rip)\n"
	"	movl $0x2b, %eax\n	movl %eax, %ds\n	movl %eax, %es\n"
	"	pushq $0x2b\n"   /* ss */
	"	pushq %rdx\n"    /* rsp */
	"	pushq $0x2\n"    /* rflags: IF=0 */
	"	pushq %rsi\n"    /* cs */
	"	pushq %rdi\n"    /* rip */
	"	iretq\n"
	"user_return:\n"
	"	movl $0x18, %eax\n	movl %eax, %ds\n	movl %eax, %es\n"
	"	popq %r15\n	popq %r14\n	popq %r13\n	popq %r12\n	popq %rbp\n	popq %rbx\n"
	"	ret\n"

	/* ---- 64-bit user code ---- */
	".globl user64_int80, user64_syscall, user64_ud, lstar_entry, sysenter_entry\n"
	"user64_int80:\n"
	"	movl $1, %eax\n	int $0x80\n" /* SYS_HELLO */
	"	movq %rax, %r12\n"
	"	rdtsc\n	movl %eax, %r13d\n"
	"	movl $100, %ebx\n"
	"1:	movl $2, %eax\n	int $0x80\n" /* SYS_NULL */
	"	decl %ebx\n	jnz 1b\n"
	"	rdtsc\n	subl %r13d, %eax\n	movl %eax, %edi\n"
	"	movq %r12, %rsi\n"
	"	movl $3, %eax\n	int $0x80\n" /* SYS_EXIT: rdi = ticks, rsi = the hello answer */
	"	movl $3, %eax\n	ud2\n"
	"user64_syscall:\n"
	"	rdtsc\n	movl %eax, %r13d\n"
	"	movl $100, %ebx\n"
	"2:	movl $0x5c, %eax\n	syscall\n"
	"	decl %ebx\n	jnz 2b\n"
	"	rdtsc\n	subl %r13d, %eax\n	movl %eax, %edi\n"
	"	movl $4, %eax\n	ud2\n"       /* SYS_AFTER_RETURN */
	"user64_ud:\n"
	"	movl $1, %eax\n	ud2\n"       /* SYS_HELLO through #UD */
	"	movq %rax, %rsi\n	xorl %edi, %edi\n"
	"	movl $3, %eax\n	ud2\n"
	/* LSTAR target: runs at CPL0 on hardware; records what it finds either way. */
	"lstar_entry:\n"
	"	movw %cs, entry_cs(%rip)\n	movw %ss, entry_ss(%rip)\n	lock incl entry_hits(%rip)\n"
	"	movl %cs, %eax\n	testb $3, %al\n	jnz 3f\n"
	"	sysretq\n"
	"3:	movl $5, %eax\n	ud2\n"       /* SYS_ENTRY_AT_CPL3 */
	/* SYSENTER_EIP target (64-bit code in IA-32e mode). */
	"sysenter_entry:\n"
	"	movw %cs, entry_cs(%rip)\n	movw %ss, entry_ss(%rip)\n	lock incl entry_hits(%rip)\n"
	"	movl %cs, %eax\n	testb $3, %al\n	jnz 4f\n"
	"	cmpl $1, sysenter_ret_mode(%rip)\n	je 7f\n	ja 8f\n"
	"	sysexitl\n" /* to compat mode: CS = SYSENTER_CS + 16, EIP = EDX, ESP = ECX */
	"7:	movl %ecx, %esp\n	movl %edx, %ecx\n	movl $2, %r11d\n"
	"	sysretl\n"  /* Linux's compat return: CS = STAR[63:48], EIP = ECX, RFLAGS = R11, RSP set by hand */
	"8:	pushq $0x2b\n	pushq %rcx\n	pushq $2\n	pushq $0x23\n	pushq %rdx\n"
	"	iretq\n"    /* Linux's slow return path */
	"4:	movl $5, %eax\n	ud2\n"

	/* ---- 32-bit compatibility-mode user code ---- */
	".code32\n"
	".globl user32_int80, user32_sysenter, user32_ud\n"
	"user32_int80:\n"
	"	movl $1, %eax\n	int $0x80\n"
	"	movl %eax, %esi\n	xorl %edi, %edi\n"
	"	movl $3, %eax\n	int $0x80\n"
	"	movl $3, %eax\n	ud2\n"
	"user32_sysenter:\n"
	"	rdtsc\n	movl %eax, %edi\n"
	"	movl $100, %ebx\n"
	"5:	movl %esp, %ecx\n	movl $6f, %edx\n	sysenter\n"
	"6:	decl %ebx\n	jnz 5b\n"
	"	rdtsc\n	subl %edi, %eax\n	movl %eax, %edi\n"
	"	movl $4, %eax\n	ud2\n"
	"user32_ud:\n"
	"	movl $1, %eax\n	ud2\n"
	"	movl %eax, %esi\n	xorl %edi, %edi\n"
	"	movl $3, %eax\n	ud2\n"
	".code64\n");

static uint16_t read_cs(void)
{
	uint16_t cs;

	__asm__ volatile("movw %%cs, %0" : "=r"(cs));
	return cs;
}

/* Leave user mode for good: iretq to user_return at CPL0 on the saved kernel stack. */
static void exit_to_kernel(struct mg_frame *f)
{
	f->rip = (uint64_t)(uintptr_t)user_return;
	f->cs = MG_SEL_KERNEL_CS;
	f->rflags = 0x2;
	f->rsp = user_kernel_rsp;
	f->ss = MG_SEL_KERNEL_DS;
}

static void note_handler(struct mg_frame *f)
{
	uintptr_t sp = (uintptr_t)f;

	obs.flags |= USER_F_KERNEL_REACHED;
	if ((read_cs() & 3) == 0)
		obs.flags |= USER_F_HANDLER_CPL0;
	if ((f->cs & 3) == 3)
		obs.flags |= USER_F_FROM_USER;
	if (sp >= (uintptr_t)kstack && sp < (uintptr_t)kstack + sizeof(kstack))
		obs.flags |= USER_F_ON_RSP0;
	obs.cpl = read_cs() & 3;
}

/* The user code's call; returns to user mode unless the call ends the case. */
static void user_call(struct mg_frame *f)
{
	switch ((uint32_t)f->rax) {
	case SYS_HELLO:
		note_handler(f);
		obs.cs = (uint32_t)f->cs;
		obs.hellos++;
		f->rax = 0x600d;
		return;
	case SYS_NULL:
		return;
	case SYS_EXIT:
		if (obs.hellos && (uint32_t)f->rsi == 0x600d)
			obs.flags |= USER_F_RETURNED;
		obs.ticks = (uint32_t)f->rdi;
		break;
	case SYS_AFTER_RETURN:
		obs.flags |= USER_F_RETURNED;
		obs.ticks = (uint32_t)f->rdi;
		break;
	default: /* SYS_ENTRY_AT_CPL3 */
		break;
	}
	obs.flags |= USER_F_EXITED;
	exit_to_kernel(f);
}

static void on_int80(struct mg_frame *f)
{
	obs.flags |= USER_F_INT80_GATE;
	user_call(f);
}

static void on_fault(struct mg_frame *f)
{
	uint16_t insn = 0;

	if ((f->cs & 3) == 3 && f->rip < 0xc0000000ull)
		insn = *(const volatile uint16_t *)(uintptr_t)f->rip;
	if (f->vector == 6 && (insn == 0x80cd || insn == 0x0b0f)) {
		/* ud2 is the fallback call instruction; `int $0x80` turned into #UD is a finding, served the same. */
		if (insn == 0x80cd)
			obs.flags |= USER_F_INT80_UD;
		f->rip += 2;
		user_call(f);
		return;
	}
	note_handler(f);
	obs.flags |= USER_F_FAULT;
	obs.fault = (uint32_t)f->vector + 1;
	obs.fault_rip = f->rip;
	obs.fault_err = f->error_code;
	obs.fault_cs = f->cs;
	obs.cs = (uint32_t)f->cs;
	exit_to_kernel(f);
}

int mg_main(const struct hvm_start_info *si)
{
	static const struct {
		const char *name;
		const uint8_t *rip;
		uint64_t cs;
	} cases[] = {
		{ "int80_64", user64_int80, MG_SEL_USER_CS },
		{ "int80_32", user32_int80, MG_SEL_USER32_CS },
		{ "syscall64", user64_syscall, MG_SEL_USER_CS },
		{ "sysenter32", user32_sysenter, MG_SEL_USER32_CS },
		{ "ud_64", user64_ud, MG_SEL_USER_CS },
		{ "ud_32", user32_ud, MG_SEL_USER32_CS },
		{ "sysenter32_sysret", user32_sysenter, MG_SEL_USER32_CS },
		{ "sysenter32_iret", user32_sysenter, MG_SEL_USER32_CS },
	};
	uint64_t rsp0 = (uint64_t)(uintptr_t)(kstack + sizeof(kstack));
	unsigned c;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		if (mg_cmdline_has(cases[c].name))
			break;
	sysenter_ret_mode = c == 6 ? 1 : c == 7 ? 2 : 0;
	if (c == sizeof(cases) / sizeof(cases[0])) {
		mg_printf("no case on the command line \"%s\"\n", mg_cmdline());
		return 1;
	}

	mg_tss_load(rsp0);
	for (unsigned v = 0; v < 32; v++)
		mg_trap_install(v, on_fault, 0);
	mg_trap_install(0x80, on_int80, 3);
	/* syscall as Linux sets it up (arch/x86/kernel/cpu/common.c syscall_init()). */
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	wrmsr(MSR_STAR, ((uint64_t)MG_SEL_USER32_CS << 48) | ((uint64_t)MG_SEL_KERNEL_CS << 32));
	wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)lstar_entry);
	wrmsr(MSR_SFMASK, 0x47700); /* TF DF IF IOPL AC NT */
	wrmsr(MSR_IA32_SYSENTER_CS, MG_SEL_KERNEL_CS);
	wrmsr(MSR_IA32_SYSENTER_ESP, rsp0);
	wrmsr(MSR_IA32_SYSENTER_EIP, (uint64_t)(uintptr_t)sysenter_entry);

	user_enter((uint64_t)(uintptr_t)cases[c].rip, cases[c].cs, (uint64_t)(uintptr_t)(ustack + sizeof(ustack)));

	if (entry_hits) {
		obs.flags |= USER_F_ENTRY_REACHED;
		if ((entry_cs & 3) == 0)
			obs.flags |= USER_F_ENTRY_CPL0;
		obs.cs = entry_cs;
		obs.cpl = entry_cs & 3;
	}
	mg_printf("%s: flags %x cs %x cpl %u fault %u (cs %lx rip %lx err %lx) entry cs %x ss %x hits %u ticks/call"
		  " %lu\n", cases[c].name, obs.flags, obs.cs, obs.cpl, obs.fault ? obs.fault - 1 : 0, obs.fault_cs,
		  obs.fault_rip, obs.fault_err, entry_cs, entry_ss, entry_hits, obs.ticks / LOOP_CALLS);
	mg_report(USER_CASE | c);
	mg_report(obs.flags);
	mg_report(obs.cs);
	mg_report(obs.cpl);
	mg_report(obs.fault);
	mg_report((uint32_t)(obs.ticks / LOOP_CALLS));
	mg_report(entry_hits);
	mg_report((uint32_t)obs.fault_cs);
	return 0;
}
