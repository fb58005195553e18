// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_hv_detect.c - the Hyper-V CPUID leaves as a Linux 6.1 guest reads them, in each feature profile
 * (hv/hv.h enum hvi_profile, guest-core.md 1.1-1.4), and the MSRs of optional features raising #GP exactly when
 * the profile does not offer the feature. Guest: guest/tests/g_hv_detect.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mg_hv_common.h"

#include "../../guest/tests/g_hv_detect.h"

/* What a profile offers beyond what every profile has: bits that must be set, bits that must be clear. */
struct profile_expect {
	const char *test; /* the cmocka test's name */
	enum hvi_profile profile;
	uint32_t features_set, features_clear; /* 0x40000003.EAX */
	uint32_t misc_set, misc_clear;         /* 0x40000003.EDX */
};

/*
 * guest-core.md 1.4 "minimal-but-usable": the plain TSC (invariant) is the clock; no TIME_REF_COUNT (an MSR
 * clocksource), no TSC page, no timers. In the other profiles the TSC page is the guest's clocksource:
 * TSC_INVARIANT would make Linux prefer the plain TSC (rating 300 over 250, guest-core.md 1.6), so they leave it
 * out (hv/partition.c). Timers only in FULL.
 */
static const struct profile_expect profiles[] = {
	{
		.test = "test_detect_minimal",
		.profile = HVI_PROFILE_MINIMAL,
		.features_set = HV_ACCESS_TSC_INVARIANT,
		.features_clear = HV_MSR_TIME_REF_COUNT_AVAILABLE | HV_MSR_REFERENCE_TSC_AVAILABLE |
				  HV_MSR_SYNTIMER_AVAILABLE,
		.misc_clear = HV_STIMER_DIRECT_MODE_AVAILABLE,
	},
	{
		.test = "test_detect_recommended",
		.profile = HVI_PROFILE_RECOMMENDED,
		.features_set = HV_MSR_TIME_REF_COUNT_AVAILABLE | HV_MSR_REFERENCE_TSC_AVAILABLE |
				HV_MSR_VP_RUNTIME_AVAILABLE | HV_MSR_RESET_AVAILABLE,
		.features_clear = HV_ACCESS_TSC_INVARIANT | HV_MSR_SYNTIMER_AVAILABLE,
		.misc_set = HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE,
		.misc_clear = HV_STIMER_DIRECT_MODE_AVAILABLE,
	},
	{
		.test = "test_detect_full",
		.profile = HVI_PROFILE_FULL,
		.features_set = HV_MSR_TIME_REF_COUNT_AVAILABLE | HV_MSR_REFERENCE_TSC_AVAILABLE |
				HV_MSR_SYNTIMER_AVAILABLE,
		.features_clear = HV_ACCESS_TSC_INVARIANT,
		.misc_set = HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE | HV_STIMER_DIRECT_MODE_AVAILABLE,
	},
};

#define NPROFILES (sizeof(profiles) / sizeof(profiles[0]))

/* One cmocka test per profile; @state: its struct profile_expect. */
static void test_detect(void **state)
{
	const struct profile_expect *p = *state;
	struct mg_hv t;
	struct mg_result res;
	const uint32_t *out = res.values;

	mg_hv_init(&t, p->profile, 1);
	assert_int_equal(mg_hv_run(&t, "g_hv_detect", NULL, NULL, &res, NULL), 0);
	mg_hv_fini(&t);
	assert_true(mg_result_is(&res, 0));
	assert_int_equal(res.nvalues, V_COUNT);

	/* Linux 6.1 detect(): all profiles. */
	assert_int_equal(out[V_HV_BIT], 1);
	assert_int_equal(out[V_EBX], HYPERV_CPUID_SIGNATURE_EBX);
	assert_int_equal(out[V_ECX], HYPERV_CPUID_SIGNATURE_ECX);
	assert_int_equal(out[V_EDX], HYPERV_CPUID_SIGNATURE_EDX);
	assert_in_range(out[V_MAX_LEAF], HYPERV_CPUID_NESTED_FEATURES, 0x4000ffff); /* the issue asks for 0x4000000A */
	assert_int_equal(out[V_INTERFACE], HYPERV_CPUID_INTERFACE_HV1);
	assert_int_equal(out[V_KVM_BASE], 0);
	assert_true(out[V_HINTS] & HV_DEPRECATING_AEOI_RECOMMENDED);
	assert_true(out[V_MAX_VPS] >= 1);

	/* Every profile: hypercalls, VP index, SynIC, frequency MSRs, messages and events. */
	assert_true(out[V_FEATURES] & HV_MSR_HYPERCALL_AVAILABLE);
	assert_true(out[V_FEATURES] & HV_MSR_VP_INDEX_AVAILABLE);
	assert_true(out[V_FEATURES] & HV_MSR_SYNIC_AVAILABLE);
	assert_true(out[V_FEATURES] & HV_ACCESS_FREQUENCY_MSRS);
	assert_true(out[V_MISC] & HV_FEATURE_FREQUENCY_MSRS_AVAILABLE);
	assert_true(out[V_PRIVILEGES] & HV_POST_MESSAGES);
	assert_true(out[V_PRIVILEGES] & HV_SIGNAL_EVENTS);
	/* Never: root partition, isolation, partition id (6.1 BUG()s if the call fails), extended hypercalls,
	 * reenlightenment (no TSC scaling on migration here), APIC-access hints (not implemented). */
	assert_false(out[V_PRIVILEGES] & HV_CPU_MANAGEMENT);
	assert_false(out[V_PRIVILEGES] & HV_CREATE_PARTITIONS);
	assert_false(out[V_PRIVILEGES] & HV_ISOLATION);
	assert_false(out[V_PRIVILEGES] & HV_ACCESS_PARTITION_ID);
	assert_false(out[V_PRIVILEGES] & HV_ENABLE_EXTENDED_HYPERCALLS);
	assert_false(out[V_FEATURES] & HV_ACCESS_REENLIGHTENMENT);
	assert_false(out[V_HINTS] & HV_X64_APIC_ACCESS_RECOMMENDED);
	/* MSRs every profile has. */
	assert_false(out[V_GP] & (DETECT_GP_TSC_FREQUENCY | DETECT_GP_APIC_FREQUENCY | DETECT_GP_SIMP));

	/* A feature's MSR raises #GP exactly when the profile does not offer it. */
	/* Except TIME_REF_COUNT: readable in every profile (hv/partition.c: Linux hv_utils' time sync reads it
	 * even when it is not offered). */
	assert_false(out[V_GP] & DETECT_GP_TIME_REF_COUNT);
	assert_int_equal(!!(out[V_GP] & DETECT_GP_REFERENCE_TSC), !(out[V_FEATURES] & HV_MSR_REFERENCE_TSC_AVAILABLE));
	assert_int_equal(!!(out[V_GP] & DETECT_GP_STIMER0_CONFIG), !(out[V_FEATURES] & HV_MSR_SYNTIMER_AVAILABLE));
	assert_int_equal(!!(out[V_GP] & DETECT_GP_VP_RUNTIME), !(out[V_FEATURES] & HV_MSR_VP_RUNTIME_AVAILABLE));
	assert_int_equal(!!(out[V_GP] & DETECT_GP_CRASH_CTL), !(out[V_MISC] & HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE));
	fprintf(stderr, "mg[%s]: max leaf %#x features %#x privileges %#x misc %#x hints %#x max VPs %u #GP mask %#x\n",
		t.name, out[V_MAX_LEAF], out[V_FEATURES], out[V_PRIVILEGES], out[V_MISC], out[V_HINTS], out[V_MAX_VPS],
		out[V_GP]);

	/* What this profile offers and what it does not. */
	assert_int_equal(out[V_FEATURES] & p->features_set, p->features_set);
	assert_int_equal(out[V_FEATURES] & p->features_clear, 0);
	assert_int_equal(out[V_MISC] & p->misc_set, p->misc_set);
	assert_int_equal(out[V_MISC] & p->misc_clear, 0);
}

int main(void)
{
	struct CMUnitTest tests[NPROFILES];

	for (unsigned i = 0; i < NPROFILES; i++)
		tests[i] = (struct CMUnitTest){ .name = profiles[i].test, .test_func = test_detect,
						.initial_state = (void *)&profiles[i] };
	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
