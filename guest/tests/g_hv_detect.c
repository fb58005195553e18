/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_hv_detect.c - Hyper-V detection as Linux 6.1 does it (tests/mg/mg_hv_detect.c runs it with each
 * feature profile).
 *
 * Checks here (any profile): CPUID.1:ECX[31]; "Microsoft Hv" with a max leaf >= 0x40000005; "Hv#1"; HYPERCALL
 * and VP_INDEX offered (Linux's detect()); no "KVMKVMKVM" signature at any base 0x40000000..0x4000FF00 (Linux's
 * KVM detect() would win); DEPRECATING_AEOI_RECOMMENDED (SINTs are injected into KVM's LAPIC: no auto-EOI); VP
 * index 0 on the BSP. Then probes one MSR of each optional feature with a #GP handler, so the host can compare
 * what the profile offers with what the MSRs do.
 *
 * Values, in order: hypervisor bit, max leaf, vendor EBX, ECX, EDX, interface, features (0x40000003.EAX),
 * privileges (EBX), misc (EDX), hints (0x40000004.EAX), max VPs (0x40000005.EAX), the base of a KVM signature
 * (0: none), the #GP mask of the probes (DETECT_GP_* bits).
 */
#include "rt/hvc.h"
#include "g_hv_detect.h"

static volatile unsigned gp_hits;

static void on_gp(struct mg_frame *f)
{
	gp_hits++;
	f->rip += 2; /* rdmsr */
}

/* 1 if reading @msr raised #GP. */
static uint32_t probe(uint32_t msr)
{
	unsigned before = gp_hits;

	(void)rdmsr(msr);
	return gp_hits != before;
}

int mg_main(const struct hvm_start_info *si)
{
	struct hvc_cpuid c;
	uint32_t kvm_base = 0, gp = 0;

	hvc_cpuid_read(&c);
	for (uint32_t base = 0x40000000u; base <= 0x4000ff00u; base += 0x100) {
		struct mg_cpuid r = cpuid(base, 0);

		if (r.ebx == 0x4b4d564bu && r.ecx == 0x564b4d56u && r.edx == 0x4du) { /* "KVMKVMKVM\0\0\0" */
			kvm_base = base;
			break;
		}
	}

	mg_report(c.hypervisor_bit);
	mg_report(c.max_leaf);
	mg_report(c.vendor[0]);
	mg_report(c.vendor[1]);
	mg_report(c.vendor[2]);
	mg_report(c.interface);
	mg_report(c.features);
	mg_report(c.privileges);
	mg_report(c.misc);
	mg_report(c.hints);
	mg_report(c.max_vps);
	mg_report(kvm_base);

	MG_CHECK(hvc_detect(&c));
	MG_CHECK(c.interface == HYPERV_CPUID_INTERFACE_HV1);
	MG_CHECK(kvm_base == 0);
	MG_CHECK(c.hints & HV_DEPRECATING_AEOI_RECOMMENDED);

	mg_trap_install(13, on_gp, 0);
	MG_CHECK(rdmsr(HV_X64_MSR_VP_INDEX) == 0);
	MG_CHECK(gp_hits == 0);
	gp |= probe(HV_X64_MSR_TIME_REF_COUNT) ? DETECT_GP_TIME_REF_COUNT : 0;
	gp |= probe(HV_X64_MSR_REFERENCE_TSC) ? DETECT_GP_REFERENCE_TSC : 0;
	gp |= probe(HV_X64_MSR_STIMER0_CONFIG) ? DETECT_GP_STIMER0_CONFIG : 0;
	gp |= probe(HV_X64_MSR_CRASH_CTL) ? DETECT_GP_CRASH_CTL : 0;
	gp |= probe(HV_X64_MSR_TSC_FREQUENCY) ? DETECT_GP_TSC_FREQUENCY : 0;
	gp |= probe(HV_X64_MSR_SIMP) ? DETECT_GP_SIMP : 0;
	gp |= probe(HV_X64_MSR_VP_RUNTIME) ? DETECT_GP_VP_RUNTIME : 0;
	gp |= probe(HV_X64_MSR_APIC_FREQUENCY) ? DETECT_GP_APIC_FREQUENCY : 0;
	mg_report(gp);
	return 0;
}
