// SPDX-License-Identifier: MIT
/*
 * hv/reftime.c - the partition reference time (TLFS 12.4 "Partition Reference Counter", 12.7 "Partition Reference
 * Time Enlightenment"): 100 ns ticks since the partition was created, read by the guest from TIME_REF_COUNT (an
 * MSR exit) or, without any exit, from the reference TSC page.
 *
 * Both are one function of the guest TSC: ref = ((guest_tsc * scale) >> 64) + offset, with scale = 10^7 * 2^64 /
 * tsc_hz and offset chosen so ref is 0 at creation. The host computes the guest TSC as its own TSC plus the delta
 * KVM applies (sampled once through the VP's IA32_TSC), so TIME_REF_COUNT, hvi_reference_time() and the page can
 * never disagree by more than rounding. This requires a constant-rate host TSC and no TSC scaling, which is the
 * case wherever KVM_GET_TSC_KHZ equals the host rate (checked at creation, logged otherwise).
 */
#define _GNU_SOURCE
#define LOG_TAG "hv"
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <x86intrin.h>

#include "hv/internal.h"
#include "lib/log.h"

/* Measure the host TSC against CLOCK_MONOTONIC_RAW for ~10 ms (used only without a partition). */
static uint64_t hvi_tsc_calibrate(void)
{
	struct timespec a, b, d = { 0, 10 * 1000 * 1000 };
	uint64_t t0, t1, ns;

	clock_gettime(CLOCK_MONOTONIC_RAW, &a);
	t0 = __rdtsc();
	nanosleep(&d, NULL);
	clock_gettime(CLOCK_MONOTONIC_RAW, &b);
	t1 = __rdtsc();
	ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull + (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
	if (ns == 0 || t1 <= t0)
		return 1000000000ull;
	/* round to kHz, like KVM's tsc_khz */
	return (uint64_t)((unsigned __int128)(t1 - t0) * 1000000000ull / ns / 1000) * 1000;
}

int hvi_reftime_init(struct hvi_partition *hv)
{
	uint64_t guest_tsc0;

	hv->tsc_delta = 0;
	hv->tsc_hz = hv->cfg.tsc_hz;
	if (hv->part) {
		struct vid_vp *vp0 = vid_partition_vp(hv->part, 0);
		int khz = ioctl(vid_vp_fd(vp0), KVM_GET_TSC_KHZ, NULL);
		uint64_t host0, host1, guest;
		int ret;

		if (!hv->tsc_hz && khz > 0)
			hv->tsc_hz = (uint64_t)khz * 1000;
		host0 = __rdtsc();
		ret = vid_vp_get_msr(vp0, 0x10 /* IA32_TIME_STAMP_COUNTER */, &guest);
		host1 = __rdtsc();
		if (ret == 0)
			hv->tsc_delta = (int64_t)(guest - (host0 + (host1 - host0) / 2));
		else
			log_warn("cannot read the guest TSC (%s); assuming it equals the host's", strerror(-ret));
	}
	if (!hv->tsc_hz)
		hv->tsc_hz = hvi_tsc_calibrate();
	if (hv->tsc_hz < 10000000ull) {
		log_err("TSC of %" PRIu64 " Hz is below 10 MHz: no reference TSC scale", hv->tsc_hz);
		return -EINVAL;
	}
	hv->tsc_scale = (uint64_t)(((unsigned __int128)10000000u << 64) / hv->tsc_hz);
	guest_tsc0 = __rdtsc() + (uint64_t)hv->tsc_delta;
	hv->tsc_offset = -(int64_t)(((unsigned __int128)guest_tsc0 * hv->tsc_scale) >> 64);
	log_dbg("reference time: TSC %" PRIu64 " Hz, scale 0x%" PRIx64 ", offset %" PRId64 ", guest TSC delta %" PRId64,
		hv->tsc_hz, hv->tsc_scale, hv->tsc_offset, hv->tsc_delta);
	return 0;
}

uint64_t hvi_reftime_from_tsc(const struct hvi_partition *hv, uint64_t guest_tsc)
{
	return (uint64_t)((int64_t)(((unsigned __int128)guest_tsc * hv->tsc_scale) >> 64) + hv->tsc_offset);
}

uint64_t hvi_reference_time(const struct hvi_partition *hv)
{
	return hvi_reftime_from_tsc(hv, __rdtsc() + (uint64_t)hv->tsc_delta);
}

/*
 * HV_X64_MSR_REFERENCE_TSC written (hv->lock held): with the enable bit, fill the 4 KiB page at the GPA in bits
 * 63:12 (a page of guest RAM the guest chose; Linux uses a static page of its image and reads it right after
 * this WRMSR, before GUEST_OS_ID is set). Sequence 0 is written first and the new sequence last, so a guest
 * reading meanwhile retries (TLFS 12.7.2). -EPERM if the page is not RAM (the guest takes #GP).
 */
int hvi_reftime_tsc_page_write(struct hvi_partition *hv, uint64_t msr)
{
	struct ms_hyperv_tsc_page *page;

	if (msr & HV_X64_MSR_TSC_REFERENCE_ENABLE) {
		page = vid_memory_ptr(hv->mem, msr & HV_PAGE_ADDRESS_MASK, VID_PAGE_SIZE);
		if (!page) {
			log_guest("REFERENCE_TSC page 0x%" PRIx64 " is not RAM", msr & HV_PAGE_ADDRESS_MASK);
			return -EPERM;
		}
		if (++hv->ref_tsc_sequence == 0 || hv->ref_tsc_sequence == UINT32_MAX)
			hv->ref_tsc_sequence = 1;
		__atomic_store_n(&page->tsc_sequence, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&page->tsc_scale, hv->tsc_scale, __ATOMIC_RELAXED);
		__atomic_store_n(&page->tsc_offset, hv->tsc_offset, __ATOMIC_RELAXED);
		__atomic_store_n(&page->tsc_sequence, hv->ref_tsc_sequence, __ATOMIC_RELEASE);
	}
	hv->ref_tsc_msr = msr & (HV_PAGE_ADDRESS_MASK | HV_X64_MSR_TSC_REFERENCE_ENABLE);
	return 0;
}
