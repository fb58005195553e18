/* SPDX-License-Identifier: MIT */
/*
 * vid/quirks.h - platform quirks: the ONE place where OpenHV works around a KVM that is not hardware KVM.
 *
 * Today that is kvm_pvm, a software KVM that interprets guest kernel code (shared/reference/platform.md):
 *   - CPUID: hide what KVM_SET_CPUID2 can hide and the emulator cannot execute (CX16 -> no cmpxchg16b).
 *   - Emulation failures (KVM_EXIT_INTERNAL_ERROR, KVM_INTERNAL_ERROR_EMULATION): if the code changed since KVM
 *     read it (another VP's text patching, Linux text_poke_bp), run it again; int3 -> inject #BP after it;
 *     fwait -> skip it; LDMXCSR/STMXCSR m32 -> done in userspace (KVM_GET/SET_XSAVE + the decoded memory operand,
 *     kernel_fpu_begin() runs LDMXCSR). Anything else stops the VM with a register dump.
 *   - Linux command-line switches for what CPUID cannot hide (noxsave, nofsgsbase, clearcpuid=...) and boot-time
 *     work that is ruinous when interpreted (ftrace's weak-function check, crypto self-tests).
 * Detected by the presence of the kvm_pvm module; on by default when detected, off on hardware KVM; the partition
 * config (VID_QUIRKS_OFF/ON, CLI --quirks=off|on|auto) overrides detection.
 */
#ifndef OPENHV_VID_QUIRKS_H
#define OPENHV_VID_QUIRKS_H

#include <linux/kvm.h>
#include <stdbool.h>

struct vid_vp;

/* True if /dev/kvm is backed by an instruction-interpreting KVM (kvm_pvm). Cached after the first call. */
bool vid_quirks_platform_detected(void);

/* Adjust the CPUID table (in place) for the platform. */
void vid_quirks_cpuid_adjust(struct kvm_cpuid2 *cpuid);

/*
 * Try to handle an emulation-failure exit of @vp in userspace. Returns 0 if handled (the VP may continue),
 * -ENOTSUP if this instruction has no workaround, another -errno on failure.
 */
int vid_quirks_emulation_failure(struct vid_vp *vp, struct kvm_run *run);

/*
 * Extra Linux kernel command-line switches this platform needs (a static string, "" if none).
 * Applied by the worker to Linux guests when quirks are active.
 */
const char *vid_quirks_linux_cmdline(void);

#endif
