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
 * clearcpuid numbers are X86_FEATURE_* bit numbers (arch/x86/include/asm/cpufeatures.h, word*32+bit).
 * The list below is the working set of platform.md; trimming it is tracked on the foundation issue.
 */
const char *vid_quirks_linux_cmdline(void)
{
	return "noxsave nofsgsbase "
	       "clearcpuid=141,151,150,308,158,306,156,293,153,129,148,147,157,140,311,312,317,521,522,534,291,296,197 "
	       "initcall_blacklist=ftrace_check_for_weak_functions cryptomgr.notests=1";
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

int vid_quirks_emulation_failure(struct vid_vp *vp, struct kvm_run *run)
{
	struct kvm_regs regs;
	uint8_t insn[15];
	int n;

	n = vid_quirks_fetch(vp, insn, sizeof(insn), &regs);
	if (n <= 0)
		return n < 0 ? n : -EFAULT;

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
	default:
		log_err("VP%u: no workaround for instruction %02x %02x %02x %02x at rip %llx", vid_vp_index(vp),
			insn[0], n > 1 ? insn[1] : 0, n > 2 ? insn[2] : 0, n > 3 ? insn[3] : 0, regs.rip);
		return -ENOTSUP;
	}
}
