// SPDX-License-Identifier: MIT
/*
 * vid/quirks.c - workarounds for a KVM that interprets guest kernel code (kvm_pvm). See vid/quirks.h and
 * shared/reference/platform.md ("Instructions the emulator rejects").
 */
#define _GNU_SOURCE
#define LOG_TAG "quirks"
#include "vid/quirks.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/log.h"
#include "vid/vid.h"

static bool quirks_detected;

static void vid_quirks_detect_once(void)
{
	/* kvm_pvm registers itself as a module; a hardware KVM has kvm_intel or kvm_amd instead. */
	quirks_detected = access("/sys/module/kvm_pvm", F_OK) == 0;
}

bool vid_quirks_platform_detected(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, vid_quirks_detect_once);
	return quirks_detected;
}

void vid_quirks_cpuid_adjust(struct kvm_cpuid2 *cpuid)
{
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		/* Leaf 1 ECX bit 13 CX16: cmpxchg16b is not emulated; SLUB uses it when advertised. */
		if (e->function == 1)
			e->ecx &= ~(1u << 13);
	}
}

/*
 * Linux switches for what CPUID cannot hide here, and boot work that is ruinous when interpreted.
 * clearcpuid numbers are X86_FEATURE_* bit numbers (arch/x86/include/asm/cpufeatures.h, word * 32 + bit) of
 * features this host shows but whose instructions the emulator cannot execute in guest kernel code:
 *   sufficient for boot (the stock Debian kernel boots with 2 VPs, loads modules and powers off with exactly these,
 *   measured 2026-11-21): 137 SSSE3 (a boot stopped on chacha-ssse3's movd), 141 CX16 (cmpxchg16b in SLUB),
 *   151 POPCNT (hweight alternatives), 308 SMAP (clac/stac at every entry) -- the last three per platform.md --
 *   and 158/306 RDRAND/RDSEED (the RNG's early users; not shown necessary one by one);
 *   kept defensively, for kernel code the next issues will reach (crypto and storage modules, DRM):
 *   148/147 SSE4.2/4.1 (crc32c-intel for ext4 checksums), 129 PCLMULQDQ, 153 AES-NI, 317 SHA-NI,
 *   311/312 CLFLUSHOPT/CLWB, 150 MOVBE, 534 RDPID, 291/296 BMI1/BMI2, 197 ABM;
 *   implied by noxsave and so not listed: AVX, AVX2, F16C, FMA, VAES, VPCLMULQDQ.
 * Work that is ruinous when kernel code runs ~1000x slower (each measured on the stock Debian 6.1 kernel, 1 VP,
 * with initcall_debug; 1017 s to /init before the second group was added):
 *   initcall_blacklist=ftrace_check_for_weak_functions (~7 min), cryptomgr.notests=1 (self-tests time out),
 *   initcall_blacklist= init_kprobe_trace (105 s), cubictcp_register (103 s: the first BTF parse; TCP falls back
 *     to reno), slab_sysfs_init (45 s: no /sys/kernel/slab), crypto_kdf108_init (30 s self-test),
 *     load_system_certificate_list (16 s: module signatures then only taint), blake2s_mod_init (9 s self-test),
 *     init_encrypted (8 s: no encrypted keys), ipv6.disable=1 (11 s), trace_eval_init (the trace-event enum
 *     map update; queued on a workqueue, so with 2 VPs one VP ground through it for minutes while trace_eval_sync
 *     held the other; trace format files then show enum names instead of values),
 *   rodata=off: skips mark_rodata_ro(), whose CONFIG_DEBUG_WX page-table walk ran for minutes and, with 2 VPs,
 *     ended in "Fatal exception in interrupt" (trade-off: kernel text and rodata stay writable; test platform only),
 *   nowatchdog, rcupdate.rcu_cpu_stall_suppress=1: the soft-lockup and RCU-stall detectors fire on slowness here.
 */
const char *vid_quirks_linux_cmdline(void)
{
	return "noxsave nofsgsbase "
	       "clearcpuid=137,141,151,308,158,306,148,147,129,153,317,311,312,150,534,291,296,197 "
	       "initcall_blacklist=ftrace_check_for_weak_functions,init_kprobe_trace,cubictcp_register,slab_sysfs_init,"
	       "crypto_kdf108_init,load_system_certificate_list,blake2s_mod_init,init_encrypted,trace_eval_init "
	       "cryptomgr.notests=1 ipv6.disable=1 "
	       "rodata=off nowatchdog rcupdate.rcu_cpu_stall_suppress=1";
}

/* Fetch up to @len instruction bytes at the VP's CS:RIP through KVM_TRANSLATE and guest memory. */
static int vid_quirks_fetch(struct vid_vp *vp, uint8_t *buf, unsigned len, struct kvm_regs *regs)
{
	struct kvm_sregs sregs;
	struct kvm_translation tr;
	struct vid_memory *mem = vid_partition_memory(vid_vp_partition(vp));
	int ret;

	ret = vid_vp_get_regs(vp, regs);
	if (ret < 0)
		return ret;
	ret = vid_vp_get_sregs(vp, &sregs);
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < len; i++) {
		memset(&tr, 0, sizeof(tr));
		tr.linear_address = sregs.cs.base + regs->rip + i;
		if (ioctl(vid_vp_fd(vp), KVM_TRANSLATE, &tr) < 0 || !tr.valid)
			return i ? (int)i : -EFAULT;
		if (vid_memory_read(mem, tr.physical_address, &buf[i], 1) < 0)
			return i ? (int)i : -EFAULT;
	}
	return (int)len;
}

/* A decoded memory operand: linear address of the operand and the instruction's length. */
struct vid_quirks_memop {
	uint64_t linear;
	unsigned length; /* bytes, prefixes included */
	unsigned reg;    /* ModRM.reg (the /digit of group opcodes) */
};

/*
 * Decode prefixes, a two-byte 0F xx opcode and its ModRM memory operand in 64-bit mode (Intel SDM vol. 2,
 * 2.1-2.2: REX, ModRM/SIB, RIP-relative). Returns 0, or -ENOTSUP for a form this decoder does not handle
 * (register operand, 16/32-bit addressing, not a 0F opcode) so the caller stops the VM instead of guessing.
 */
static int vid_quirks_decode_0f_memop(const uint8_t *insn, unsigned n, const struct kvm_regs *r,
				      const struct kvm_sregs *s, uint8_t *opcode, struct vid_quirks_memop *op)
{
	const uint64_t gpr[16] = { r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp, r->rsi, r->rdi,
				   r->r8,  r->r9,  r->r10, r->r11, r->r12, r->r13, r->r14, r->r15 };
	uint64_t seg_base = 0, ea = 0;
	unsigned i = 0, rex = 0, mod, rm;
	bool rip_rel = false;

	if (!s->cs.l)
		return -ENOTSUP; /* only 64-bit code: what a Linux kernel runs */
	for (; i < n; i++) {
		uint8_t b = insn[i];

		if (b == 0x66 || b == 0xf2 || b == 0xf3 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x26)
			continue;
		if (b == 0x64) {
			seg_base = s->fs.base;
			continue;
		}
		if (b == 0x65) {
			seg_base = s->gs.base;
			continue;
		}
		if (b == 0x67)
			return -ENOTSUP; /* 32-bit addressing */
		break;
	}
	if (i < n && (insn[i] & 0xf0) == 0x40)
		rex = insn[i++];
	if (i + 3 > n || insn[i] != 0x0f)
		return -ENOTSUP;
	*opcode = insn[i + 1];
	i += 2;
	mod = insn[i] >> 6;
	op->reg = (insn[i] >> 3) & 7;
	rm = insn[i] & 7;
	i++;
	if (mod == 3)
		return -ENOTSUP;
	if (rm == 4) { /* SIB */
		unsigned scale, index, base;

		if (i >= n)
			return -ENOTSUP;
		scale = insn[i] >> 6;
		index = ((insn[i] >> 3) & 7) | ((rex & 2) << 2);
		base = (insn[i] & 7) | ((rex & 1) << 3);
		i++;
		if (index != 4)
			ea += gpr[index] << scale;
		if ((base & 7) == 5 && mod == 0) {
			int32_t d;

			if (i + 4 > n)
				return -ENOTSUP;
			memcpy(&d, &insn[i], 4);
			ea += (uint64_t)(int64_t)d;
			i += 4;
		} else {
			ea += gpr[base];
		}
	} else if (rm == 5 && mod == 0) {
		rip_rel = true;
	} else {
		ea += gpr[rm | ((rex & 1) << 3)];
	}
	if (mod == 1) {
		if (i >= n)
			return -ENOTSUP;
		ea += (uint64_t)(int64_t)(int8_t)insn[i];
		i += 1;
	} else if (mod == 2 || rip_rel) {
		int32_t d;

		if (i + 4 > n)
			return -ENOTSUP;
		memcpy(&d, &insn[i], 4);
		ea += (uint64_t)(int64_t)d;
		i += 4;
	}
	if (rip_rel)
		ea += r->rip + i;
	op->linear = seg_base + ea;
	op->length = i;
	return 0;
}

/* Copy between the VMM and guest linear memory through KVM_TRANSLATE, byte by byte (operands are tiny). */
static int vid_quirks_linear_access(struct vid_vp *vp, uint64_t linear, void *buf, unsigned len, bool write)
{
	struct vid_memory *mem = vid_partition_memory(vid_vp_partition(vp));

	for (unsigned i = 0; i < len; i++) {
		struct kvm_translation tr = { .linear_address = linear + i };
		int ret;

		if (ioctl(vid_vp_fd(vp), KVM_TRANSLATE, &tr) < 0 || !tr.valid || (write && !tr.writeable))
			return -EFAULT;
		ret = write ? vid_memory_write(mem, tr.physical_address, (uint8_t *)buf + i, 1)
			    : vid_memory_read(mem, tr.physical_address, (uint8_t *)buf + i, 1);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * LDMXCSR m32 (0F AE /2) and STMXCSR m32 (0F AE /3): SSE control register <-> memory. MXCSR is read and written
 * in the XSAVE image's legacy area (byte 24; Intel SDM vol. 1, 10.5.1): on kvm_pvm, KVM_GET_FPU/KVM_SET_FPU do
 * not round-trip MXCSR, KVM_GET_XSAVE/KVM_SET_XSAVE do.
 */
#define VID_XSAVE_MXCSR_OFFSET 24
#define VID_XSAVE_XMM_OFFSET 160      /* XMM0-15, 16 bytes each */
#define VID_XSAVE_XMM_BYTES 256
#define VID_XSAVE_HEADER_OFFSET 512   /* XSTATE_BV */
#define VID_XFEATURE_MASK_SSE (1ull << 1)

static int vid_quirks_mxcsr(struct vid_vp *vp, struct kvm_regs *regs, const struct vid_quirks_memop *op)
{
	struct kvm_xsave *xs = calloc(1, sizeof(*xs));
	uint32_t v, cur;
	int ret;

	if (!xs)
		return -ENOMEM;
	if (ioctl(vid_vp_fd(vp), KVM_GET_XSAVE, xs) < 0) {
		ret = -errno;
		goto out;
	}
	memcpy(&cur, (uint8_t *)xs->region + VID_XSAVE_MXCSR_OFFSET, sizeof(cur));
	log_dbg("VP%u: %s at %llx, operand %llx, mxcsr %x", vid_vp_index(vp), op->reg == 2 ? "ldmxcsr" : "stmxcsr",
		regs->rip, (unsigned long long)op->linear, cur);
	if (op->reg == 2) {
		ret = vid_quirks_linear_access(vp, op->linear, &v, sizeof(v), false);
		if (ret < 0)
			goto out;
		if (v & 0xffff0000u) {
			ret = -ENOTSUP; /* hardware raises #GP for reserved bits; stop the VM with a dump instead */
			goto out;
		}
		memcpy((uint8_t *)xs->region + VID_XSAVE_MXCSR_OFFSET, &v, sizeof(v));
		/*
		 * KVM takes MXCSR from the image only if XSTATE_BV names FP, SSE or AVX state. After the host saved the
		 * guest's FPU with XSAVEOPT, SSE may be marked "init" (bit clear) and the MXCSR write was silently lost
		 * (about half the runs on a busy machine). Mark SSE in use, with the XMM registers at their init value
		 * (zero) so the guest sees no other change.
		 */
		{
			uint64_t bv;

			memcpy(&bv, (uint8_t *)xs->region + VID_XSAVE_HEADER_OFFSET, sizeof(bv));
			if (!(bv & VID_XFEATURE_MASK_SSE)) {
				memset((uint8_t *)xs->region + VID_XSAVE_XMM_OFFSET, 0, VID_XSAVE_XMM_BYTES);
				bv |= VID_XFEATURE_MASK_SSE;
				memcpy((uint8_t *)xs->region + VID_XSAVE_HEADER_OFFSET, &bv, sizeof(bv));
			}
		}
		if (ioctl(vid_vp_fd(vp), KVM_SET_XSAVE, xs) < 0) {
			ret = -errno;
			goto out;
		}
	} else {
		ret = vid_quirks_linear_access(vp, op->linear, &cur, sizeof(cur), true);
		if (ret < 0)
			goto out;
	}
	regs->rip += op->length;
	ret = vid_vp_set_regs(vp, regs);
out:
	free(xs);
	return ret;
}

/*
 * Did the guest change the instruction under us? KVM reports the bytes it failed on (KVM_CAP_EXIT_ON_EMULATION_
 * FAILURE); if memory now holds something else, another VP patched the code in between: Linux's text_poke_bp()
 * writes an int3 first, then the new instruction, then replaces the int3. The right action is to run it again.
 */
static bool vid_quirks_code_changed(const struct kvm_run *run, const uint8_t *now, int n)
{
	unsigned len;

	if (!(run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
		return false;
	len = run->emulation_failure.insn_size;
	if (len == 0 || len > sizeof(run->emulation_failure.insn_bytes))
		return false;
	if (len > (unsigned)n)
		len = (unsigned)n;
	return memcmp(run->emulation_failure.insn_bytes, now, len) != 0;
}

int vid_quirks_emulation_failure(struct vid_vp *vp, struct kvm_run *run)
{
	static __thread uint64_t retry_rip;
	static __thread unsigned retries;
	struct kvm_regs regs;
	uint8_t insn[15];
	int n;

	n = vid_quirks_fetch(vp, insn, sizeof(insn), &regs);
	if (n <= 0)
		return n < 0 ? n : -EFAULT;
	if (vid_quirks_code_changed(run, insn, n)) {
		/* Bounded: code that keeps changing under one RIP is not a patch in progress. */
		if (regs.rip != retry_rip) {
			retry_rip = regs.rip;
			retries = 0;
		}
		if (++retries <= 1000) {
			log_dbg("VP%u: code at %llx changed during emulation (text patching): retrying", vid_vp_index(vp),
				regs.rip);
			return 0;
		}
	}

	switch (insn[0]) {
	case 0xcc: { /* int3: trap-like #BP, so the saved RIP is the byte after it */
		struct kvm_vcpu_events ev;

		if (ioctl(vid_vp_fd(vp), KVM_GET_VCPU_EVENTS, &ev) < 0)
			return -errno;
		regs.rip += 1;
		if (vid_vp_set_regs(vp, &regs) < 0)
			return -EIO;
		ev.exception.injected = 1;
		ev.exception.nr = 3;
		ev.exception.has_error_code = 0;
		ev.flags = 0;
		if (ioctl(vid_vp_fd(vp), KVM_SET_VCPU_EVENTS, &ev) < 0)
			return -errno;
		return 0;
	}
	case 0x9b: /* fwait: no pending x87 exceptions in our guests; a no-op */
		regs.rip += 1;
		return vid_vp_set_regs(vp, &regs);
	default: {
		struct kvm_sregs sregs;
		struct vid_quirks_memop op;
		uint8_t opcode = 0;

		if (vid_vp_get_sregs(vp, &sregs) == 0 &&
		    vid_quirks_decode_0f_memop(insn, (unsigned)n, &regs, &sregs, &opcode, &op) == 0 && opcode == 0xae &&
		    (op.reg == 2 || op.reg == 3) && vid_quirks_mxcsr(vp, &regs, &op) == 0)
			return 0;
		break;
	}
	}
	log_err("VP%u: no workaround for instruction %02x %02x %02x %02x at rip %llx", vid_vp_index(vp), insn[0],
		n > 1 ? insn[1] : 0, n > 2 ? insn[2] : 0, n > 3 ? insn[3] : 0, regs.rip);
	return -ENOTSUP;
}
