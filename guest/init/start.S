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
	call	*init_sysinfo
	popl	%ebx
	popl	%esi
	popl	%edi
	popl	%ebp
	ret
	.size	init_syscall6, . - init_syscall6

	.data
	.align	4
	.globl	init_sysinfo
init_sysinfo:
	.long	init_int80

	.section .note.GNU-stack, "", @progbits
