/* SPDX-License-Identifier: MIT */
/*
 * guest/init/start.S - entry point and system call gate of openhv-init (i386, static, no libc).
 *
 * The kernel starts a 32-bit ELF with esp -> argc, argv[argc], NULL, envp..., NULL, auxv (type, value pairs,
 * ending with AT_NULL) (Linux fs/binfmt_elf.c create_elf_tables, compat flavour). _start records AT_SYSINFO (32),
 * the vDSO's __kernel_vsyscall (arch/x86/entry/vdso/vdso32/system_call.S), which enters the kernel with sysenter
 * or syscall as the CPU allows. Without it, calls fall back to a local `int $0x80`. Then init_main(argc, argv,
 * envp) runs on a 16-byte aligned stack; its return value ends the process (exit_group).
 */
	.text
	.globl	_start
	.type	_start, @function
_start:
	xorl	%ebp, %ebp
	movl	(%esp), %ecx			/* argc */
	leal	4(%esp), %edi			/* argv */
	leal	8(%esp,%ecx,4), %edx		/* envp = argv + argc + 1 */
	movl	%edx, %eax
1:	movl	(%eax), %ebx			/* skip the environment */
	addl	$4, %eax
	testl	%ebx, %ebx
	jnz	1b
2:	movl	(%eax), %ebx			/* eax -> auxv entry */
	testl	%ebx, %ebx			/* AT_NULL */
	jz	4f
	cmpl	$32, %ebx			/* AT_SYSINFO */
	jne	3f
	movl	4(%eax), %ebx
	testl	%ebx, %ebx
	jz	3f
	movl	%ebx, init_sysinfo
3:	addl	$8, %eax
	jmp	2b
4:	andl	$-16, %esp
	subl	$4, %esp
	pushl	%edx
	pushl	%edi
	pushl	%ecx
	call	init_main
	movl	%eax, %ebx
	movl	$252, %eax			/* exit_group */
	call	*init_sysinfo
5:	hlt					/* not reached; faults if it is */
	jmp	5b
	.size	_start, . - _start

/* The fallback gate: the classic i386 system call. */
	.globl	init_int80
	.type	init_int80, @function
init_int80:
	int	$0x80
	ret
	.size	init_int80, . - init_int80

/*
 * long init_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
 * i386 convention: eax = nr, ebx, ecx, edx, esi, edi, ebp = a1..a6; the result (-errno on error) in eax.
 *
 * The call goes through the vDSO's __kernel_vsyscall, which pushes ecx, edx, ebp and enters with sysenter; the
 * kernel returns to the vDSO's landing pad (pop %ebp; pop %edx; pop %ecx; ret) with sysretl (Linux 6.1
 * do_fast_syscall_32 -> sysret32_from_system_call). On a software KVM that interprets guest kernel code
 * (kvm_pvm, shared/reference/platform.md) sysretl wrongly returns into 64-bit mode (CS 0x33): the same four
 * instructions then pop 8 bytes each. The frame below is valid for both: with S = esp at the call,
 *   32-bit: ebp <- [S-16], edx <- [S-12], ecx <- [S-8], ret <- [S-4] (our return address): back here, esp = S;
 *   64-bit: rbp <- [S-16..S-8), rdx <- [S-8..S), rcx <- [S..S+8) = ecx | edx << 32, ret <- [S+8..S+16) = the
 *           address of init_gate64, which restores edx and returns with iretq to 32-bit code at init_gate_done
 *           with esp = S. Both paths meet there.
 */
	.globl	init_syscall6
	.type	init_syscall6, @function
init_syscall6:
	pushl	%ebp
	pushl	%edi
	pushl	%esi
	pushl	%ebx
	movl	20(%esp), %eax
	movl	24(%esp), %ebx
	movl	28(%esp), %ecx
	movl	32(%esp), %edx
	movl	36(%esp), %esi
	movl	40(%esp), %edi
	movl	44(%esp), %ebp
	subl	$16, %esp			/* [S, S+16): the 64-bit half of the frame */
	movl	%ecx, 0(%esp)			/* [S]   = ecx  (rcx low)  */
	movl	%edx, 4(%esp)			/* [S+4] = edx  (rcx high; edx is restored from here) */
	movl	$init_gate64, 8(%esp)		/* [S+8] = 64-bit return address, low */
	movl	$0, 12(%esp)			/* [S+12] = high */
	call	*init_sysinfo
init_gate_done:
	addl	$16, %esp
	popl	%ebx
	popl	%esi
	popl	%edi
	popl	%ebp
	ret
	.size	init_syscall6, . - init_syscall6

/*
 * Reached in 64-bit mode (CS 0x33) only on the broken-sysretl path, with rsp = S + 16. Back to compat mode with an
 * iretq frame (SS 0x2b, RSP S, RFLAGS, CS 0x23, RIP init_gate_done): unlike a far jump it also reloads SS, whose
 * descriptor the broken sysretl may leave stale. Counts its uses in init_gate64_count (reported by init).
 */
	.code64
	.type	init_gate64, @function
init_gate64:
	movl	-12(%rsp), %edx			/* [S+4]: the caller's edx */
	leaq	-16(%rsp), %rsp			/* rsp = S */
	incl	init_gate64_count(%rip)
	pushq	$0x2b				/* SS: Linux's __USER_DS */
	pushq	%rsp				/* RSP: S - 8 ... */
	addq	$8, (%rsp)			/* ... + 8 = S */
	pushfq
	pushq	$0x23				/* CS: Linux's __USER32_CS */
	pushq	init_gate_ret64(%rip)		/* RIP (an ELF32 object cannot hold pushq $symbol) */
	iretq
	.size	init_gate64, . - init_gate64
	.code32

	.section .rodata
	.align	8
init_gate_ret64:
	.long	init_gate_done, 0

	.data
	.align	4
	.globl	init_gate64_count
init_gate64_count:
	.long	0

/* The gate init_syscall6 calls (set by _start from AT_SYSINFO; the fallback is the local int $0x80). */
	.data
	.align	4
	.globl	init_sysinfo
	.type	init_sysinfo, @object
init_sysinfo:
	.long	init_int80
	.size	init_sysinfo, 4

	.section .note.GNU-stack, "", @progbits
