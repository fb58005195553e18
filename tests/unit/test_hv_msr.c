// SPDX-License-Identifier: MIT
/*
 * Unit tests for the synthetic MSRs of hv/ (TLFS 2.5, guest-core.md 1.5), on plain memory without /dev/kvm:
 * guest OS id, hypercall page, VP index, VP assist page, SynIC registers, reference time and the TSC page,
 * frequencies, profile gating, crash and reset MSRs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>
#include <cmocka.h>

#include "hv/hv.h"
#include "vid/memory.h"

#include "hv_fixture.h"

/* ---- config ------------------------------------------------------------------------------------------- */

static void test_create_bad_config(void **state)
{
	struct vid_memory *mem;
	struct hvi_partition *hv = (void *)1;
	struct hvi_config cfg;

	assert_int_equal(vid_memory_create(HVFX_RAM_BYTES, &mem), 0);
	cfg = (struct hvi_config){ .memory = mem, .vp_count = 0, .interrupt = hvfx_on_interrupt };
	assert_int_equal(hvi_partition_create(&cfg, &hv), -EINVAL);
	cfg.vp_count = 1;
	cfg.memory = NULL;
	assert_int_equal(hvi_partition_create(&cfg, &hv), -EINVAL);
	cfg.memory = mem;
	cfg.profile = (enum hvi_profile)42;
	assert_int_equal(hvi_partition_create(&cfg, &hv), -EINVAL);
	hvi_partition_destroy(NULL);
	vid_memory_destroy(mem);
}

static void test_profile_names(void **state)
{
	/* Round trips; RECOMMENDED last, so a parse that leaves @p alone shows (it holds FULL by then). */
	static const struct {
		const char *name;
		enum hvi_profile profile;
	} names[] = {
		{ "minimal", HVI_PROFILE_MINIMAL },
		{ "full", HVI_PROFILE_FULL },
		{ "recommended", HVI_PROFILE_RECOMMENDED },
	};
	enum hvi_profile p = HVI_PROFILE_RECOMMENDED;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(hvi_profile_parse(names[i].name, &p), 0);
		assert_int_equal(p, names[i].profile);
		assert_string_equal(hvi_profile_name(names[i].profile), names[i].name);
	}
	assert_int_equal(hvi_profile_parse("bogus", &p), -EINVAL);
	assert_int_equal(hvi_profile_parse("", &p), -EINVAL);
}

/* ---- partition-wide MSRs -------------------------------------------------------------------------------- */

static void test_guest_os_id(void **state)
{
	struct hvfx f;
	const uint64_t id = (uint64_t)HV_LINUX_VENDOR_ID << 48 | 0x060177ull << 16;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 2, 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_GUEST_OS_ID), 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_GUEST_OS_ID, id), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_GUEST_OS_ID), id);
	/* Partition-wide: the other VP sees it too. */
	assert_int_equal(hvfx_rd_ok(&f, 1, HV_X64_MSR_GUEST_OS_ID), id);
	/* kexec/crash cleanup writes 0. */
	assert_int_equal(hvfx_wr(&f, 1, HV_X64_MSR_GUEST_OS_ID, 0), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_GUEST_OS_ID), 0);
	hvfx_fini(&f);
}

static void test_hypercall_page(void **state)
{
	struct hvfx f;
	const uint64_t gpa = 0x5000;
	uint8_t code[4];
	uint64_t v;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_HYPERCALL), 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_GUEST_OS_ID, (uint64_t)HV_LINUX_VENDOR_ID << 48), 0);
	/* Linux hyperv_init(): RMW (old & 0xFFE) | 1 | GPA, the page filled during the WRMSR. */
	v = hvfx_rd_ok(&f, 0, HV_X64_MSR_HYPERCALL);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_HYPERCALL, (v & 0xFFE) | HV_X64_MSR_HYPERCALL_ENABLE | gpa), 0);
	v = hvfx_rd_ok(&f, 0, HV_X64_MSR_HYPERCALL);
	assert_true(v & HV_X64_MSR_HYPERCALL_ENABLE); /* hv_is_hyperv_initialized() */
	assert_int_equal(v & HV_PAGE_ADDRESS_MASK, gpa);
	assert_int_equal(vid_memory_read(f.mem, gpa, code, sizeof(code)), 0);
	/* ENDBR64 first, or Linux with IBT disables IBT ("Hyper-V: Disabling IBT because of Hyper-V bug"). */
	assert_int_equal(code[0], 0xF3);
	assert_int_equal(code[1], 0x0F);
	assert_int_equal(code[2], 0x1E);
	assert_int_equal(code[3], 0xFA);
	/* Disable (hibernate/kexec): the enable bit reads back clear. */
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_HYPERCALL, gpa), 0);
	assert_false(hvfx_rd_ok(&f, 0, HV_X64_MSR_HYPERCALL) & HV_X64_MSR_HYPERCALL_ENABLE);
	/* TLFS 3.13: clearing the guest OS id disables an enabled page. */
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_HYPERCALL, gpa | HV_X64_MSR_HYPERCALL_ENABLE), 0);
	assert_true(hvfx_rd_ok(&f, 0, HV_X64_MSR_HYPERCALL) & HV_X64_MSR_HYPERCALL_ENABLE);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_GUEST_OS_ID, 0), 0);
	assert_false(hvfx_rd_ok(&f, 0, HV_X64_MSR_HYPERCALL) & HV_X64_MSR_HYPERCALL_ENABLE);
	hvfx_fini(&f);
}

/*
 * TLFS 3.13: "the hypercall page cannot be enabled while the guest OS id is zero" (Linux always writes the id
 * first). hv.c follows the TLFS: the enable bit is ignored (not an error, no #GP), the page is not written.
 */
static void test_hypercall_page_needs_guest_os_id(void **state)
{
	struct hvfx f;
	const uint64_t gpa = 0x6000;
	uint8_t b = 0;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_HYPERCALL, gpa | HV_X64_MSR_HYPERCALL_ENABLE), 0);
	assert_false(hvfx_rd_ok(&f, 0, HV_X64_MSR_HYPERCALL) & HV_X64_MSR_HYPERCALL_ENABLE);
	assert_int_equal(vid_memory_read(f.mem, gpa, &b, 1), 0);
	assert_int_equal(b, 0);
	hvfx_fini(&f);
}

static void test_hypercall_page_locked(void **state)
{
	struct hvfx f;
	const uint64_t v = 0x5000 | HV_X64_MSR_HYPERCALL_ENABLE | HV_X64_MSR_HYPERCALL_LOCKED;

	/* TLFS 3.13: with Locked set the MSR is immutable until the partition resets. */
	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_GUEST_OS_ID, 1), 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_HYPERCALL, v), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_HYPERCALL), v);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_HYPERCALL, 0x6000 | HV_X64_MSR_HYPERCALL_ENABLE), 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_HYPERCALL, 0), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_HYPERCALL), v);
	/* Not even clearing the guest OS id disables a locked page. */
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_GUEST_OS_ID, 0), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_HYPERCALL), v);
	hvfx_fini(&f);
}

static void test_hypercall_page_outside_ram(void **state)
{
	struct hvfx f;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_GUEST_OS_ID, 1), 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_HYPERCALL, HVFX_RAM_BYTES | HV_X64_MSR_HYPERCALL_ENABLE), -EPERM);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_HYPERCALL, 0xFFFFFFFFFFFFF001ull), -EPERM);
	assert_false(hvfx_rd_ok(&f, 0, HV_X64_MSR_HYPERCALL) & HV_X64_MSR_HYPERCALL_ENABLE);
	hvfx_fini(&f);
}

/* ---- per-VP MSRs -------------------------------------------------------------------------------------- */

static void test_vp_index(void **state)
{
	struct hvfx f;
	uint64_t v;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 4, 0);
	for (uint32_t vp = 0; vp < 4; vp++)
		assert_int_equal(hvfx_rd_ok(&f, vp, HV_X64_MSR_VP_INDEX), vp);
	/* Read-only. */
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_VP_INDEX, 3), -EPERM);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_VP_INDEX), 0);
	/* A VP that does not exist. */
	assert_int_not_equal(hvfx_rd(&f, 4, HV_X64_MSR_VP_INDEX, &v), 0);
	hvfx_fini(&f);
}

static void test_vp_assist_page(void **state)
{
	struct hvfx f;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 2, 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_VP_ASSIST_PAGE), 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_VP_ASSIST_PAGE, 0x7000 | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE), 0);
	assert_int_equal(hvfx_wr(&f, 1, HV_X64_MSR_VP_ASSIST_PAGE, 0x8000 | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_VP_ASSIST_PAGE), 0x7001);
	assert_int_equal(hvfx_rd_ok(&f, 1, HV_X64_MSR_VP_ASSIST_PAGE), 0x8001);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_VP_ASSIST_PAGE, 0), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_VP_ASSIST_PAGE), 0);
	/* Enabled outside RAM: #GP, the old value stays. */
	assert_int_equal(hvfx_wr(&f, 1, HV_X64_MSR_VP_ASSIST_PAGE, HVFX_RAM_BYTES | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE),
			 -EPERM);
	assert_int_equal(hvfx_rd_ok(&f, 1, HV_X64_MSR_VP_ASSIST_PAGE), 0x8001);
	hvfx_fini(&f);
}

static void test_synic_registers(void **state)
{
	struct hvfx f;
	uint64_t v;

	hvfx_init(&f, HVI_PROFILE_MINIMAL, 2, 0);
	/* Reset values. */
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_SCONTROL), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_SIMP), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_SIEFP), 0);
	for (uint32_t i = 0; i < HV_SYNIC_SINT_COUNT; i++)
		assert_int_equal(hvfx_rd_ok(&f, 1, HV_X64_MSR_SINT0 + i), HV_SYNIC_SINT_MASKED);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_SVERSION), HV_SYNIC_VERSION_1);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_EOM), 0);

	/* Linux hv_synic_enable_regs() order: SIMP, SIEFP, SINT2, SCONTROL; each a read-modify-write. */
	v = hvfx_rd_ok(&f, 0, HV_X64_MSR_SIMP);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_SIMP, (v & 0xFFF) | 0x10000 | HV_SYNIC_SIMP_ENABLE), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_SIMP), 0x10001);
	v = hvfx_rd_ok(&f, 0, HV_X64_MSR_SIEFP);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_SIEFP, (v & 0xFFF) | 0x11000 | HV_SYNIC_SIEFP_ENABLE), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_SIEFP), 0x11001);
	v = hvfx_rd_ok(&f, 0, HV_X64_MSR_SINT0 + 2);
	v = (v & ~(HV_SYNIC_SINT_VECTOR_MASK | HV_SYNIC_SINT_MASKED | HV_SYNIC_SINT_AUTO_EOI)) | 0xF3;
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_SINT0 + 2, v), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_SINT0 + 2), 0xF3);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_SCONTROL, hvfx_rd_ok(&f, 0, HV_X64_MSR_SCONTROL) | 1), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_SCONTROL), 1);
	/* Per VP: VP 1 is untouched. */
	assert_int_equal(hvfx_rd_ok(&f, 1, HV_X64_MSR_SIMP), 0);
	assert_int_equal(hvfx_rd_ok(&f, 1, HV_X64_MSR_SINT0 + 2), HV_SYNIC_SINT_MASKED);
	assert_int_equal(hvfx_rd_ok(&f, 1, HV_X64_MSR_SCONTROL), 0);
	/* The other SINTs keep their reset value. */
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_SINT15), HV_SYNIC_SINT_MASKED);
	/* Disable (hv_synic_disable_regs): enable=0 and GPA 0. */
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_SIMP, 0), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_SIMP), 0);
	/* EOM: writes accepted, reads 0. SVERSION read-only. */
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_EOM, 0), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_EOM), 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_SVERSION, 2), -EPERM);
	hvfx_fini(&f);
}

static void test_synic_page_outside_ram(void **state)
{
	struct hvfx f;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_SIMP, HVFX_RAM_BYTES | HV_SYNIC_SIMP_ENABLE), -EPERM);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_SIEFP, 0x40000000ull | HV_SYNIC_SIEFP_ENABLE), -EPERM);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_SIMP), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_SIEFP), 0);
	/* A disabled page outside RAM is only a number: accepted. */
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_SIMP, HVFX_RAM_BYTES), 0);
	hvfx_fini(&f);
}

static void test_sint_vector_below_16(void **state)
{
	struct hvfx f;

	/* TLFS 11.8.4: vectors 0-15 are invalid for an unmasked SINT (#GP); a masked one may carry anything. */
	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_SINT0 + 2, 0x0F), -EPERM);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_SINT0 + 2), HV_SYNIC_SINT_MASKED);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_SINT0 + 2, HV_SYNIC_SINT_MASKED | 0x0F), 0);
	hvfx_fini(&f);
}

/* ---- time ------------------------------------------------------------------------------------------------- */

static void test_time_ref_count(void **state)
{
	struct hvfx f;
	uint64_t a, b, c;
	struct timespec ts = { 0, 2 * 1000 * 1000 };

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	a = hvfx_rd_ok(&f, 0, HV_X64_MSR_TIME_REF_COUNT);
	nanosleep(&ts, NULL);
	b = hvfx_rd_ok(&f, 0, HV_X64_MSR_TIME_REF_COUNT);
	c = hvi_reference_time(f.hv);
	assert_true(b > a);
	/* 2 ms = 20000 ticks of 100 ns; wide slack: hv calibrates the TSC over 10 ms, which a loaded host skews. */
	assert_true(b - a >= 10000);
	assert_true(c >= b);
	/* Read-only. */
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_TIME_REF_COUNT, 0), -EPERM);
	assert_true(hvfx_rd_ok(&f, 0, HV_X64_MSR_TIME_REF_COUNT) >= b);
	hvfx_fini(&f);
}

static void test_reference_tsc_page(void **state)
{
	struct hvfx f;
	const uint64_t gpa = 0x9000;
	struct ms_hyperv_tsc_page page;
	uint64_t v, tsc, ref, now;
	int64_t diff;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	/* Linux hv_init_clocksource(): RMW, before GUEST_OS_ID is written (must not be gated on it). */
	v = hvfx_rd_ok(&f, 0, HV_X64_MSR_REFERENCE_TSC);
	assert_int_equal(v, 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_REFERENCE_TSC, (v & 0xFFE) | gpa | HV_X64_MSR_TSC_REFERENCE_ENABLE),
			 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_REFERENCE_TSC), gpa | HV_X64_MSR_TSC_REFERENCE_ENABLE);
	assert_int_equal(vid_memory_read(f.mem, gpa, &page, sizeof(page)), 0);
	assert_int_not_equal(page.tsc_sequence, 0);
	assert_int_not_equal(page.tsc_scale, 0);
	assert_int_not_equal(page.tsc_offset, 0);
	/* scale = 10^7 * 2^64 / TSC Hz (TLFS 12.7.3), the frequency TSC_FREQUENCY reports. */
	v = hvfx_rd_ok(&f, 0, HV_X64_MSR_TSC_FREQUENCY);
	assert_int_equal(page.tsc_scale, (uint64_t)(((unsigned __int128)10000000u << 64) / v));
	/* The page's time with the host TSC (no partition: guest TSC = host TSC) agrees with the reference time. */
	tsc = __rdtsc();
	ref = (uint64_t)(((unsigned __int128)tsc * page.tsc_scale) >> 64) + (uint64_t)page.tsc_offset;
	now = hvi_reference_time(f.hv);
	diff = (int64_t)(now - ref);
	assert_true(diff > -50000 && diff < 50000); /* within 5 ms (a preempted test thread; a wrong formula is far off) */
	/* And with TIME_REF_COUNT. */
	now = hvfx_rd_ok(&f, 0, HV_X64_MSR_TIME_REF_COUNT);
	tsc = __rdtsc();
	ref = (uint64_t)(((unsigned __int128)tsc * page.tsc_scale) >> 64) + (uint64_t)page.tsc_offset;
	diff = (int64_t)(ref - now);
	assert_true(diff > -50000 && diff < 50000);
	/* Disable: the MSR reads back without the enable bit. */
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_REFERENCE_TSC, gpa), 0);
	assert_false(hvfx_rd_ok(&f, 0, HV_X64_MSR_REFERENCE_TSC) & HV_X64_MSR_TSC_REFERENCE_ENABLE);
	/* Outside RAM: #GP. */
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_REFERENCE_TSC, HVFX_RAM_BYTES | HV_X64_MSR_TSC_REFERENCE_ENABLE),
			 -EPERM);
	hvfx_fini(&f);
}

static void test_frequencies(void **state)
{
	struct hvfx f;

	hvfx_init(&f, HVI_PROFILE_MINIMAL, 1, 2500000000ull);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_TSC_FREQUENCY), 2500000000ull);
	assert_int_not_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_APIC_FREQUENCY), 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_TSC_FREQUENCY, 1), -EPERM);
	/* TSC_INVARIANT_CONTROL: Linux writes 1 when ACCESS_TSC_INVARIANT is offered (MINIMAL only). */
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_TSC_INVARIANT_CONTROL, HV_EXPOSE_INVARIANT_TSC), 0);
	hvfx_fini(&f);

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	assert_true(hvfx_rd_ok(&f, 0, HV_X64_MSR_TSC_FREQUENCY) > 100000000ull); /* the host's, > 100 MHz */
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_TSC_INVARIANT_CONTROL, HV_EXPOSE_INVARIANT_TSC), -EPERM);
	hvfx_fini(&f);
}

/* ---- profiles ------------------------------------------------------------------------------------------------ */

static void test_profile_gating(void **state)
{
	struct hvfx f;
	uint64_t v;

	/* MINIMAL: no TSC page, no stimers, no crash/reset MSRs. */
	hvfx_init(&f, HVI_PROFILE_MINIMAL, 1, 0);
	assert_int_equal(hvfx_rd(&f, 0, HV_X64_MSR_REFERENCE_TSC, &v), -EPERM);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_REFERENCE_TSC, 0x9001), -EPERM);
	assert_int_equal(hvfx_rd(&f, 0, HV_X64_MSR_VP_RUNTIME, &v), -EPERM);
	/* TIME_REF_COUNT stays readable (hv.c, on purpose): hv_utils' time sync reads it without a TSC page. */
	assert_int_equal(hvfx_rd(&f, 0, HV_X64_MSR_TIME_REF_COUNT, &v), 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_TIME_REF_COUNT, 0), -EPERM);
	assert_int_equal(hvfx_rd(&f, 0, HV_X64_MSR_STIMER0_CONFIG, &v), -EPERM);
	assert_int_equal(hvfx_rd(&f, 0, HV_X64_MSR_CRASH_CTL, &v), -EPERM);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_RESET, 1), -EPERM);
	assert_int_equal(f.rec.stops, 0);
	/* What MINIMAL offers. */
	assert_int_equal(hvfx_rd(&f, 0, HV_X64_MSR_VP_INDEX, &v), 0);
	assert_int_equal(hvfx_rd(&f, 0, HV_X64_MSR_SIMP, &v), 0);
	assert_int_equal(hvfx_rd(&f, 0, HV_X64_MSR_TSC_FREQUENCY, &v), 0);
	hvfx_fini(&f);

	/* RECOMMENDED: TSC page and crash MSRs, no stimers. */
	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	assert_int_equal(hvfx_rd(&f, 0, HV_X64_MSR_REFERENCE_TSC, &v), 0);
	assert_int_equal(hvfx_rd(&f, 0, HV_X64_MSR_TIME_REF_COUNT, &v), 0);
	assert_int_equal(hvfx_rd(&f, 0, HV_X64_MSR_CRASH_CTL, &v), 0);
	for (uint32_t m = HV_X64_MSR_STIMER0_CONFIG; m <= HV_X64_MSR_STIMER3_COUNT; m++) {
		assert_int_equal(hvfx_rd(&f, 0, m, &v), -EPERM);
		assert_int_equal(hvfx_wr(&f, 0, m, 0), -EPERM);
	}
	hvfx_fini(&f);

	/* FULL: stimers too. */
	hvfx_init(&f, HVI_PROFILE_FULL, 1, 0);
	for (uint32_t m = HV_X64_MSR_STIMER0_CONFIG; m <= HV_X64_MSR_STIMER3_COUNT; m++) {
		assert_int_equal(hvfx_rd(&f, 0, m, &v), 0);
		assert_int_equal(v, 0);
	}
	/* Store and read back a disabled config and a count. */
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_STIMER0_COUNT, 123456), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_STIMER0_COUNT), 123456);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_STIMER0_CONFIG, 2ull << HV_STIMER_SINT_SHIFT), 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_STIMER0_CONFIG), 2ull << HV_STIMER_SINT_SHIFT);
	hvfx_fini(&f);
}

static void test_unknown_msrs(void **state)
{
	static const uint32_t unknown[] = {
		0x40000004, 0x4000000F, 0x40000050, 0x4000007F, 0x400000A0, 0x400000B8, 0x400000FF,
		0x40000107, 0x40000180, HV_X64_MSR_LAST,
	};
	struct hvfx f;
	uint64_t v;

	hvfx_init(&f, HVI_PROFILE_FULL, 1, 0);
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_int_equal(hvfx_rd(&f, 0, unknown[i], &v), -EPERM);
		assert_int_equal(hvfx_wr(&f, 0, unknown[i], 1), -EPERM);
	}
	/* Outside the range entirely. */
	assert_int_equal(hvfx_rd(&f, 0, 0x10, &v), -EPERM);
	assert_int_equal(hvfx_rd(&f, 0, HV_X64_MSR_LAST + 1, &v), -EPERM);
	/* Reenlightenment (not offered): #GP. */
	assert_int_equal(hvfx_rd(&f, 0, HV_X64_MSR_REENLIGHTENMENT_CONTROL, &v), -EPERM);
	hvfx_fini(&f);
}

/* ---- crash and reset ------------------------------------------------------------------------------------------ */

#define CRASH_NOTIFY_WITH_MSG (HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG)

/* The crash message as Linux hv_kmsg_dump() names it: P3 the page's GPA, P4 the text's length. */
static void guest_crash_page(struct hvfx *f, uint32_t vp, uint64_t gpa, uint64_t len)
{
	assert_int_equal(hvfx_wr(f, vp, HV_X64_MSR_CRASH_P0 + 3, gpa), 0);
	assert_int_equal(hvfx_wr(f, vp, HV_X64_MSR_CRASH_P4, len), 0);
}

/* The guest writes CRASH_CTL = @ctl (with CRASH_NOTIFY): exactly one crash stop, and *@c is reported. */
static void guest_crash_notify(struct hvfx *f, uint32_t vp, uint64_t ctl, struct hvi_crash *c)
{
	assert_int_equal(hvfx_wr(f, vp, HV_X64_MSR_CRASH_CTL, ctl), 0);
	assert_int_equal(f->rec.stops, 1);
	assert_int_equal(f->rec.last_stop, HVI_STOP_CRASH);
	hvi_partition_crash(f->hv, c);
	assert_true(c->reported);
}

static void test_crash_ctl_caps(void **state)
{
	struct hvfx f;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_CRASH_CTL), CRASH_NOTIFY_WITH_MSG);
	hvfx_fini(&f);
}

static void test_crash_with_message(void **state)
{
	struct hvfx f;
	struct hvi_crash c;
	const char text[] = "Kernel panic - not syncing: VFS\x01 test\n";
	const uint64_t msg_gpa = 0x20000;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 2, 0);
	hvi_partition_crash(f.hv, &c);
	assert_false(c.reported);
	/* Linux hv_kmsg_dump(): P0 = 0, P1 = guest OS id, P2..P4 = the page, CTL = NOTIFY | NOTIFY_MSG. */
	assert_int_equal(vid_memory_write(f.mem, msg_gpa, text, sizeof(text) - 1), 0);
	assert_int_equal(hvfx_wr(&f, 1, HV_X64_MSR_CRASH_P0, 0), 0);
	assert_int_equal(hvfx_wr(&f, 1, HV_X64_MSR_CRASH_P0 + 1, 0x8100000601770000ull), 0);
	assert_int_equal(hvfx_wr(&f, 1, HV_X64_MSR_CRASH_P0 + 2, 0), 0);
	guest_crash_page(&f, 1, msg_gpa, sizeof(text) - 1);
	assert_int_equal(hvfx_rd_ok(&f, 1, HV_X64_MSR_CRASH_P0 + 3), msg_gpa);
	assert_int_equal(f.rec.stops, 0);
	guest_crash_notify(&f, 1, CRASH_NOTIFY_WITH_MSG, &c);
	assert_int_equal(c.params[1], 0x8100000601770000ull);
	assert_int_equal(c.params[3], msg_gpa);
	assert_int_equal(c.params[4], sizeof(text) - 1);
	assert_true(c.ctl & HV_CRASH_CTL_CRASH_NOTIFY);
	/* The text, with non-printables replaced: "VFS\x01" must not come through raw. */
	assert_non_null(strstr(c.message, "Kernel panic - not syncing: VFS"));
	assert_null(strchr(c.message, '\x01'));
	assert_true(strlen(c.message) <= HV_CRASH_MSG_MAX);
	hvfx_fini(&f);
}

static void test_crash_without_message(void **state)
{
	struct hvfx f;
	struct hvi_crash c;

	/* Linux hyperv_panic_event/die: P0 = error, P1 = guest id, P2 = RIP, P3 = RAX, P4 = RSP, CTL = NOTIFY. */
	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	for (unsigned i = 0; i < HV_CRASH_PARAMS; i++)
		assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_CRASH_P0 + i, 0x1111ull * (i + 1)), 0);
	guest_crash_notify(&f, 0, HV_CRASH_CTL_CRASH_NOTIFY, &c);
	for (unsigned i = 0; i < HV_CRASH_PARAMS; i++)
		assert_int_equal(c.params[i], 0x1111ull * (i + 1));
	assert_int_equal(c.message[0], '\0'); /* no NOTIFY_MSG: P3/P4 are registers, not a page */
	hvfx_fini(&f);
}

static void test_crash_hostile_message(void **state)
{
	struct hvfx f;
	struct hvi_crash c;
	char big[8192];

	/* P4 larger than a page: truncated to HV_CRASH_MSG_MAX, nothing read beyond it. */
	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	memset(big, 'A', sizeof(big));
	assert_int_equal(vid_memory_write(f.mem, 0x30000, big, sizeof(big)), 0);
	guest_crash_page(&f, 0, 0x30000, UINT64_MAX);
	guest_crash_notify(&f, 0, CRASH_NOTIFY_WITH_MSG, &c);
	assert_true(strlen(c.message) <= HV_CRASH_MSG_MAX);
	assert_int_equal(c.message[0], 'A');
	hvfx_fini(&f);

	/* A page that ends RAM with P4 = 8192: whatever is in RAM, or nothing; never a read beyond RAM. */
	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	assert_int_equal(vid_memory_write(f.mem, HVFX_RAM_BYTES - 4096, big, 4096), 0);
	guest_crash_page(&f, 0, HVFX_RAM_BYTES - 4096, 8192);
	guest_crash_notify(&f, 0, CRASH_NOTIFY_WITH_MSG, &c);
	assert_true(strlen(c.message) <= HV_CRASH_MSG_MAX);
	hvfx_fini(&f);

	/* P3 outside RAM: the crash is still reported, without text. */
	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	guest_crash_page(&f, 0, 0xFFFFFFFFFFFFF000ull, 100);
	guest_crash_notify(&f, 0, CRASH_NOTIFY_WITH_MSG, &c);
	assert_int_equal(c.params[3], 0xFFFFFFFFFFFFF000ull);
	assert_int_equal(c.message[0], '\0');
	hvfx_fini(&f);

	/* CTL written without NOTIFY: no stop. */
	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY_MSG), 0);
	assert_int_equal(f.rec.stops, 0);
	hvi_partition_crash(f.hv, &c);
	assert_false(c.reported);
	hvfx_fini(&f);
}

static void test_reset(void **state)
{
	struct hvfx f;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 1, 0);
	assert_int_equal(hvfx_rd_ok(&f, 0, HV_X64_MSR_RESET), 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_RESET, 0), 0);
	assert_int_equal(f.rec.stops, 0);
	assert_int_equal(hvfx_wr(&f, 0, HV_X64_MSR_RESET, HV_X64_MSR_RESET_VALUE), 0);
	assert_int_equal(f.rec.stops, 1);
	assert_int_equal(f.rec.last_stop, HVI_STOP_RESET);
	hvfx_fini(&f);
}

static void test_bad_arguments(void **state)
{
	struct hvfx f;
	uint64_t v;

	hvfx_init(&f, HVI_PROFILE_RECOMMENDED, 2, 0);
	assert_int_not_equal(hvfx_rd(&f, 2, HV_X64_MSR_GUEST_OS_ID, &v), 0);
	assert_int_not_equal(hvfx_rd(&f, UINT32_MAX, HV_X64_MSR_SIMP, &v), 0);
	assert_int_not_equal(hvfx_wr(&f, 7, HV_X64_MSR_SINT0, 0x30), 0);
	hvfx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_bad_config),
		cmocka_unit_test(test_profile_names),
		cmocka_unit_test(test_guest_os_id),
		cmocka_unit_test(test_hypercall_page),
		cmocka_unit_test(test_hypercall_page_needs_guest_os_id),
		cmocka_unit_test(test_hypercall_page_locked),
		cmocka_unit_test(test_hypercall_page_outside_ram),
		cmocka_unit_test(test_vp_index),
		cmocka_unit_test(test_vp_assist_page),
		cmocka_unit_test(test_synic_registers),
		cmocka_unit_test(test_synic_page_outside_ram),
		cmocka_unit_test(test_sint_vector_below_16),
		cmocka_unit_test(test_time_ref_count),
		cmocka_unit_test(test_reference_tsc_page),
		cmocka_unit_test(test_frequencies),
		cmocka_unit_test(test_profile_gating),
		cmocka_unit_test(test_unknown_msrs),
		cmocka_unit_test(test_crash_ctl_caps),
		cmocka_unit_test(test_crash_with_message),
		cmocka_unit_test(test_crash_without_message),
		cmocka_unit_test(test_crash_hostile_message),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
