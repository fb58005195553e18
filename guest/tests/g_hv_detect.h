/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_hv_detect.h - what guest/tests/g_hv_detect.c reports and tests/mg/mg_hv_detect.c checks: the
 * order of the reported values and the bits of the last one (which synthetic-MSR probes took #GP). Shared so the
 * guest and its host test cannot disagree.
 */
#ifndef OPENHV_GUEST_TESTS_G_HV_DETECT_H
#define OPENHV_GUEST_TESTS_G_HV_DETECT_H

/* Value positions, in reporting order. */
enum {
	V_HV_BIT, V_MAX_LEAF, V_EBX, V_ECX, V_EDX, V_INTERFACE, V_FEATURES, V_PRIVILEGES, V_MISC, V_HINTS, V_MAX_VPS,
	V_KVM_BASE, V_GP, V_COUNT
};

#define DETECT_GP_TIME_REF_COUNT (1u << 0)
#define DETECT_GP_REFERENCE_TSC (1u << 1)
#define DETECT_GP_STIMER0_CONFIG (1u << 2)
#define DETECT_GP_CRASH_CTL (1u << 3)
#define DETECT_GP_TSC_FREQUENCY (1u << 4)
#define DETECT_GP_SIMP (1u << 5)
#define DETECT_GP_VP_RUNTIME (1u << 6)
#define DETECT_GP_APIC_FREQUENCY (1u << 7)

#endif
