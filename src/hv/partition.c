// SPDX-License-Identifier: MIT
/*
 * hv/partition.c - the interface's partition object: feature profiles and CPUID leaves (TLFS 2.4), the synthetic
 * MSR dispatch (the table of guest-core.md 1.5), crash and reset MSRs, interrupt delivery, statistics.
 */
#define _GNU_SOURCE
#define LOG_TAG "hv"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hv/internal.h"
#include "lib/log.h"

/* What Hyper-V version the leaves claim: 10.0, build 20348 (Windows Server 2022), as OpenVMM and QEMU do. */
#define HVI_VERSION_BUILD 20348u
#define HVI_VERSION_MAJOR_MINOR 0x000A0000u

/* KVM's in-kernel LAPIC timer counts at 1 GHz unless KVM_CAP_X86_APIC_BUS_CYCLES_NS changes it. */
#define HVI_APIC_FREQUENCY_HZ 1000000000ull

static const char *const hvi_profile_names[] = {
	[HVI_PROFILE_RECOMMENDED] = "recommended",
	[HVI_PROFILE_MINIMAL] = "minimal",
	[HVI_PROFILE_FULL] = "full",
};

const char *hvi_profile_name(enum hvi_profile profile)
{
	if ((unsigned)profile < sizeof(hvi_profile_names) / sizeof(hvi_profile_names[0]))
		return hvi_profile_names[profile];
	return "?";
}

int hvi_profile_parse(const char *name, enum hvi_profile *out)
{
	for (unsigned i = 0; i < sizeof(hvi_profile_names) / sizeof(hvi_profile_names[0]); i++) {
		if (name && strcmp(name, hvi_profile_names[i]) == 0) {
			*out = (enum hvi_profile)i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * The profiles' leaves (guest-core.md 1.3/1.4). Every profile: hypercall page, VP index, SynIC, PostMessages and
 * SignalEvents, frequency MSRs, and the hint to EOI SINT interrupts (a KVM in-kernel LAPIC cannot do auto-EOI).
 * Never: partition id, CPU management, extended hypercalls, isolation (each changes Linux's code paths).
 */
static void hvi_profile_features(struct hvi_partition *hv)
{
	uint32_t eax = HV_MSR_SYNIC_AVAILABLE | HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE |
		       HV_ACCESS_FREQUENCY_MSRS;
	uint32_t edx = HV_FEATURE_FREQUENCY_MSRS_AVAILABLE;

	switch (hv->cfg.profile) {
	case HVI_PROFILE_MINIMAL:
		/* The guest keeps the plain TSC (reliable, no watchdog) and the LAPIC timer. */
		eax |= HV_ACCESS_TSC_INVARIANT;
		break;
	case HVI_PROFILE_FULL:
		eax |= HV_MSR_SYNTIMER_AVAILABLE;
		edx |= HV_STIMER_DIRECT_MODE_AVAILABLE;
		/* fall through */
	case HVI_PROFILE_RECOMMENDED:
	default:
		/* Without TSC_INVARIANT the TSC page clocksource (rating 500) is the guest's clock. */
		eax |= HV_MSR_VP_RUNTIME_AVAILABLE | HV_MSR_TIME_REF_COUNT_AVAILABLE | HV_MSR_REFERENCE_TSC_AVAILABLE |
		       HV_MSR_RESET_AVAILABLE;
		edx |= HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE;
		break;
	}
	hv->features_eax = eax;
	hv->features_ebx = HV_POST_MESSAGES | HV_SIGNAL_EVENTS;
	hv->features_edx = edx;
	hv->hints_eax = HV_DEPRECATING_AEOI_RECOMMENDED | HV_X64_RELAXED_TIMING_RECOMMENDED;
}

/* Replace KVM's 0x400000xx leaves (its "KVMKVMKVM" signature would win Linux's detection) with Hyper-V's. */
static int hvi_cpuid_install(struct hvi_partition *hv)
{
	long lps = sysconf(_SC_NPROCESSORS_ONLN);
	int ret;

	vid_cpuid_remove(hv->part, 0x40000000u, 0x4000FFFFu);
	ret = vid_cpuid_set(hv->part, HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS, 0, 0, HYPERV_CPUID_NESTED_FEATURES,
			    HYPERV_CPUID_SIGNATURE_EBX, HYPERV_CPUID_SIGNATURE_ECX, HYPERV_CPUID_SIGNATURE_EDX);
	if (!ret)
		ret = vid_cpuid_set(hv->part, HYPERV_CPUID_INTERFACE, 0, 0, HYPERV_CPUID_INTERFACE_HV1, 0, 0, 0);
	if (!ret)
		ret = vid_cpuid_set(hv->part, HYPERV_CPUID_VERSION, 0, 0, HVI_VERSION_BUILD, HVI_VERSION_MAJOR_MINOR, 0,
				    0);
	if (!ret)
		ret = vid_cpuid_set(hv->part, HYPERV_CPUID_FEATURES, 0, 0, hv->features_eax, hv->features_ebx, 0,
				    hv->features_edx);
	/* EBX: spinlock retries before a notification; all ones = never notify (no HvNotifyLongSpinWait here). */
	if (!ret)
		ret = vid_cpuid_set(hv->part, HYPERV_CPUID_ENLIGHTMENT_INFO, 0, 0, hv->hints_eax, 0xFFFFFFFFu, 0, 0);
	if (!ret)
		ret = vid_cpuid_set(hv->part, HYPERV_CPUID_IMPLEMENT_LIMITS, 0, 0, VID_MAX_VPS,
				    lps > 0 ? (uint32_t)lps : 1, 0, 0);
	for (uint32_t leaf = HYPERV_CPUID_HARDWARE_FEATURES; !ret && leaf <= HYPERV_CPUID_NESTED_FEATURES; leaf++)
		ret = vid_cpuid_set(hv->part, leaf, 0, 0, 0, 0, 0, 0);
	return ret;
}

void hvi_interrupt(struct hvi_partition *hv, uint32_t vp_index, uint8_t vector)
{
	if (hv->part) {
		int ret = vid_vp_interrupt(hv->part, vp_index, vector);

		if (ret < 0)
			log_guest("interrupt 0x%x to VP%u: %s", vector, vp_index, strerror(-ret));
	} else if (hv->cfg.interrupt) {
		hv->cfg.interrupt(hv->cfg.opaque, vp_index, vector);
	}
}

static void hvi_request_stop(struct hvi_partition *hv, enum hvi_stop why, const char *message)
{
	if (hv->cfg.stop)
		hv->cfg.stop(hv->cfg.opaque, why, message);
	else if (hv->part)
		vid_partition_request_stop(hv->part, why == HVI_STOP_CRASH ? VID_STOP_GUEST_PANIC : VID_STOP_RESET,
					   message);
}

/* ---- crash MSRs ---------------------------------------------------------------------------------------- */

/*
 * CRASH_CTL written with CRASH_NOTIFY (hv->lock held; the stop is requested by the caller after unlocking).
 * Linux (drivers/hv/hv_common.c hyperv_report_panic, drivers/hv/vmbus_drv.c hv_kmsg_dump) writes either
 * P0 = panic code, P1 = guest OS id, P2 = RIP, P3 = RAX, P4 = RSP; or, with CRASH_NOTIFY_MSG, P3 = GPA of a page of
 * kernel log text and P4 = its length in bytes.
 */
static void hvi_crash_record(struct hvi_partition *hv, uint64_t ctl, char *stop_msg, size_t stop_len)
{
	struct hvi_crash *c = &hv->crash;
	const char *panic_line = NULL;

	/* The first report stops the VM; later ones (a guest writing CRASH_CTL in a loop) are not logged again. */
	if (c->reported) {
		snprintf(stop_msg, stop_len, "guest crashed (repeated report)");
		return;
	}
	memset(c, 0, sizeof(*c));
	c->reported = true;
	c->ctl = ctl;
	memcpy(c->params, hv->crash_params, sizeof(c->params));
	if (ctl & HV_CRASH_CTL_CRASH_NOTIFY_MSG) {
		uint64_t len = c->params[4] > HV_CRASH_MSG_MAX ? HV_CRASH_MSG_MAX : c->params[4];

		/* One copy; unprintable bytes become '.', so the host log stays readable. */
		if (len && vid_memory_read(hv->mem, c->params[3], c->message, (size_t)len) == 0) {
			for (uint64_t i = 0; i < len; i++) {
				unsigned char ch = (unsigned char)c->message[i];

				if (ch != '\n' && ch != '\t' && (ch < 0x20 || ch > 0x7e))
					c->message[i] = '.';
			}
			c->message[len] = '\0';
		} else if (len) {
			log_guest("crash message at 0x%" PRIx64 " (%" PRIu64 " bytes) is not RAM", c->params[3], len);
		}
	}
	log_err("guest crash reported through the Hyper-V crash MSRs: P0 0x%" PRIx64 " P1 0x%" PRIx64 " P2 0x%" PRIx64
		" P3 0x%" PRIx64 " P4 0x%" PRIx64, c->params[0], c->params[1], c->params[2], c->params[3],
		c->params[4]);
	if (c->message[0]) {
		char *save = NULL, copy[HV_CRASH_MSG_MAX + 1];

		memcpy(copy, c->message, sizeof(copy));
		log_err("guest panic message:");
		for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			log_err("| %s", line);
		panic_line = strstr(c->message, "Kernel panic");
	}
	if (panic_line) {
		const char *end = strchr(panic_line, '\n');
		int n = end ? (int)(end - panic_line) : (int)strlen(panic_line);

		snprintf(stop_msg, stop_len, "guest crashed: %.*s", n, panic_line);
	} else {
		snprintf(stop_msg, stop_len, "guest crashed (Hyper-V crash MSRs: code 0x%" PRIx64 ", RIP 0x%" PRIx64 ")",
			 c->params[0], c->params[2]);
	}
}

void hvi_partition_crash(struct hvi_partition *hv, struct hvi_crash *out)
{
	pthread_mutex_lock(&hv->lock);
	*out = hv->crash;
	pthread_mutex_unlock(&hv->lock);
}

/* ---- MSRs -------------------------------------------------------------------------------------------------- */

static uint64_t hvi_thread_cpu_100ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 10000000ull + (uint64_t)ts.tv_nsec / 100;
}

/* Partition-wide MSRs (hv->lock taken here). *@stop is set when the write asks to stop the VM. */
static int hvi_partition_msr(struct hvi_partition *hv, struct hvi_vp *vp, uint32_t index, bool is_write,
			     uint64_t *value, enum hvi_stop *stop, char *stop_msg, size_t stop_len)
{
	int ret = 0;

	pthread_mutex_lock(&hv->lock);
	switch (index) {
	case HV_X64_MSR_GUEST_OS_ID:
		if (!is_write) {
			*value = hv->guest_os_id;
			break;
		}
		hv->guest_os_id = *value;
		/* TLFS 3.13: clearing the guest OS id disables the hypercall page (unless the guest locked it). */
		if (!*value && !(hv->hypercall_msr & HV_X64_MSR_HYPERCALL_LOCKED))
			hv->hypercall_msr &= ~HV_X64_MSR_HYPERCALL_ENABLE;
		break;
	case HV_X64_MSR_HYPERCALL:
		if (!is_write) {
			*value = hv->hypercall_msr;
			break;
		}
		if (hv->hypercall_msr & HV_X64_MSR_HYPERCALL_LOCKED)
			break; /* locked until reset: writes are ignored */
		/* TLFS 3.13: the page cannot be enabled while the guest OS id is 0 (KVM ignores the write too). */
		if ((*value & HV_X64_MSR_HYPERCALL_ENABLE) && !hv->guest_os_id) {
			log_guest("VP%u: hypercall page enabled before GUEST_OS_ID: ignored", vp->index);
			break;
		}
		if (*value & HV_X64_MSR_HYPERCALL_ENABLE)
			ret = hvi_hypercall_page_write(hv, *value & HV_PAGE_ADDRESS_MASK);
		if (!ret)
			hv->hypercall_msr = *value;
		break;
	case HV_X64_MSR_REFERENCE_TSC:
		if (is_write)
			ret = hvi_reftime_tsc_page_write(hv, *value);
		else
			*value = hv->ref_tsc_msr;
		break;
	case HV_X64_MSR_CRASH_CTL:
		if (!is_write) {
			*value = HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG;
		} else if (*value & HV_CRASH_CTL_CRASH_NOTIFY) {
			hvi_crash_record(hv, *value, stop_msg, stop_len);
			*stop = HVI_STOP_CRASH;
		}
		break;
	default:
		if (index >= HV_X64_MSR_CRASH_P0 && index <= HV_X64_MSR_CRASH_P4) {
			if (is_write)
				hv->crash_params[index - HV_X64_MSR_CRASH_P0] = *value;
			else
				*value = hv->crash_params[index - HV_X64_MSR_CRASH_P0];
		} else {
			ret = -EPERM;
		}
		break;
	}
	pthread_mutex_unlock(&hv->lock);
	return ret;
}

int hvi_msr_access(struct hvi_partition *hv, uint32_t vp_index, uint32_t index, bool is_write, uint64_t *value)
{
	uint32_t fa = hv->features_eax, fd = hv->features_edx;
	enum hvi_stop stop = 0;
	char stop_msg[256] = "";
	struct hvi_vp *vp;
	int ret = -EPERM;

	if (vp_index >= hv->vp_count)
		return -EPERM;
	vp = &hv->vps[vp_index];
	switch (index) {
	case HV_X64_MSR_GUEST_OS_ID:
	case HV_X64_MSR_HYPERCALL:
		if (fa & HV_MSR_HYPERCALL_AVAILABLE)
			ret = hvi_partition_msr(hv, vp, index, is_write, value, &stop, stop_msg, sizeof(stop_msg));
		break;
	case HV_X64_MSR_VP_INDEX:
		if (!is_write) {
			*value = vp_index;
			ret = 0;
		}
		break;
	case HV_X64_MSR_RESET:
		if (!(fa & HV_MSR_RESET_AVAILABLE))
			break;
		ret = 0;
		if (!is_write)
			*value = 0;
		else if (*value & HV_X64_MSR_RESET_VALUE) {
			stop = HVI_STOP_RESET;
			snprintf(stop_msg, sizeof(stop_msg), "guest reset through HV_X64_MSR_RESET");
		}
		break;
	case HV_X64_MSR_VP_RUNTIME:
		/* The VP's thread CPU time: this runs on the VP's own thread when there is a partition. */
		if ((fa & HV_MSR_VP_RUNTIME_AVAILABLE) && !is_write) {
			*value = hvi_thread_cpu_100ns();
			ret = 0;
		}
		break;
	case HV_X64_MSR_TIME_REF_COUNT:
		/* Readable even when not offered: hv_utils' time sync reads it when there is no TSC page. */
		if (!is_write) {
			*value = hvi_reference_time(hv);
			ret = 0;
		}
		break;
	case HV_X64_MSR_REFERENCE_TSC:
		if (fa & HV_MSR_REFERENCE_TSC_AVAILABLE)
			ret = hvi_partition_msr(hv, vp, index, is_write, value, &stop, stop_msg, sizeof(stop_msg));
		break;
	case HV_X64_MSR_TSC_FREQUENCY:
	case HV_X64_MSR_APIC_FREQUENCY:
		if ((fa & HV_ACCESS_FREQUENCY_MSRS) && !is_write) {
			*value = index == HV_X64_MSR_TSC_FREQUENCY ? hv->tsc_hz : HVI_APIC_FREQUENCY_HZ;
			ret = 0;
		}
		break;
	case HV_X64_MSR_VP_ASSIST_PAGE:
		/* Linux 6.1 writes it on every CPU whatever the features say; stored, no overlay is needed. */
		pthread_mutex_lock(&vp->lock);
		if (!is_write) {
			*value = vp->vp_assist;
			ret = 0;
		} else if ((*value & HV_X64_MSR_VP_ASSIST_PAGE_ENABLE) &&
			   !vid_memory_ptr(hv->mem, *value & HV_PAGE_ADDRESS_MASK, VID_PAGE_SIZE)) {
			log_guest("VP%u: VP assist page 0x%" PRIx64 " is not RAM", vp_index, *value & HV_PAGE_ADDRESS_MASK);
		} else {
			vp->vp_assist = *value;
			ret = 0;
		}
		pthread_mutex_unlock(&vp->lock);
		break;
	case HV_X64_MSR_TSC_INVARIANT_CONTROL:
		if (fa & HV_ACCESS_TSC_INVARIANT) {
			ret = 0;
			if (!is_write)
				*value = HV_EXPOSE_INVARIANT_TSC;
		}
		break;
	default:
		if (index >= HV_X64_MSR_SCONTROL && index <= HV_X64_MSR_SINT15) {
			if (fa & HV_MSR_SYNIC_AVAILABLE)
				ret = hvi_synic_msr(vp, index, is_write, value);
		} else if (index >= HV_X64_MSR_STIMER0_CONFIG && index <= HV_X64_MSR_STIMER3_COUNT) {
			if (fa & HV_MSR_SYNTIMER_AVAILABLE)
				ret = hvi_stimer_msr(vp, index, is_write, value);
		} else if (index >= HV_X64_MSR_CRASH_P0 && index <= HV_X64_MSR_CRASH_CTL) {
			if (fd & HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE)
				ret = hvi_partition_msr(hv, vp, index, is_write, value, &stop, stop_msg,
							sizeof(stop_msg));
		}
		break;
	}
	if (ret == -EPERM)
		log_guest("VP%u: %s of synthetic MSR 0x%x%s -> #GP", vp_index, is_write ? "write" : "read", index,
			  is_write ? " (or its value)" : "");
	if (stop)
		hvi_request_stop(hv, stop, stop_msg);
	return ret;
}

static int hvi_vid_msr(void *opaque, struct vid_vp *vp, uint32_t index, bool is_write, uint64_t *value)
{
	return hvi_msr_access(opaque, vid_vp_index(vp), index, is_write, value);
}

/* ---- lifetime ---------------------------------------------------------------------------------------------- */

void hvi_partition_stats(struct hvi_partition *hv, struct hvi_stats *out)
{
	out->hypercalls = atomic_load(&hv->stats.hypercalls);
	out->post_messages = atomic_load(&hv->stats.post_messages);
	out->signal_events_slow = atomic_load(&hv->stats.signal_events_slow);
	out->messages_delivered = atomic_load(&hv->stats.messages_delivered);
	out->messages_queued = atomic_load(&hv->stats.messages_queued);
	out->eoms = atomic_load(&hv->stats.eoms);
	out->events_signalled = atomic_load(&hv->stats.events_signalled);
	out->stimer_expirations = atomic_load(&hv->stats.stimer_expirations);
	out->page_exits = atomic_load(&hv->stats.page_exits);
	out->page_exit_ns = atomic_load(&hv->stats.page_exit_ns);
}

int hvi_partition_create(const struct hvi_config *cfg, struct hvi_partition **out)
{
	struct hvi_partition *hv;
	pthread_condattr_t ca;
	int ret;

	*out = NULL;
	if (!cfg || !cfg->memory || cfg->vp_count == 0 || cfg->vp_count > VID_MAX_VPS ||
	    (unsigned)cfg->profile > HVI_PROFILE_FULL)
		return -EINVAL;
	if (cfg->partition && vid_partition_vp_count(cfg->partition) < cfg->vp_count)
		return -EINVAL;
	hv = calloc(1, sizeof(*hv));
	if (!hv)
		return -ENOMEM;
	hv->cfg = *cfg;
	hv->mem = cfg->memory;
	hv->part = cfg->partition;
	hv->vp_count = cfg->vp_count;
	hvi_profile_features(hv);
	pthread_mutex_init(&hv->lock, NULL);
	pthread_rwlock_init(&hv->conn_lock, NULL);
	pthread_mutex_init(&hv->timer_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&hv->timer_cond, &ca);
	pthread_condattr_destroy(&ca);
	hv->conns = calloc(HVI_MAX_CONNECTIONS, sizeof(*hv->conns));
	hv->vps = calloc(hv->vp_count, sizeof(*hv->vps));
	if (!hv->conns || !hv->vps) {
		ret = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < hv->vp_count; i++) {
		struct hvi_vp *vp = &hv->vps[i];

		vp->hv = hv;
		vp->index = i;
		pthread_mutex_init(&vp->lock, NULL);
		hvi_synic_vp_reset(vp);
	}
	ret = hvi_reftime_init(hv);
	if (ret < 0)
		goto fail;
	if (hv->part) {
		ret = hvi_cpuid_install(hv);
		if (!ret)
			ret = vid_msr_register(hv->part, HV_X64_MSR_GUEST_OS_ID,
					       HV_X64_MSR_LAST - HV_X64_MSR_GUEST_OS_ID + 1, hvi_vid_msr, hv);
		if (!ret)
			ret = hvi_hypercall_ports_register(hv);
		if (ret < 0) {
			log_err("Hyper-V interface setup: %s", strerror(-ret));
			goto fail;
		}
	}
	ret = hvi_stimer_start(hv);
	if (ret < 0)
		goto fail;
	log_dbg("Hyper-V interface: profile %s, features 0x%x/0x%x/0x%x, hints 0x%x", hvi_profile_name(cfg->profile),
		hv->features_eax, hv->features_ebx, hv->features_edx, hv->hints_eax);
	*out = hv;
	return 0;
fail:
	hvi_partition_destroy(hv);
	return ret;
}

void hvi_partition_stop(struct hvi_partition *hv)
{
	if (hv)
		hvi_stimer_stop(hv);
}

void hvi_partition_destroy(struct hvi_partition *hv)
{
	if (!hv)
		return;
	hvi_stimer_stop(hv);
	if (hv->vps) {
		for (unsigned i = 0; i < hv->vp_count; i++) {
			hvi_synic_vp_free(&hv->vps[i]);
			pthread_mutex_destroy(&hv->vps[i].lock);
		}
	}
	free(hv->vps);
	hvi_connections_free(hv);
	pthread_cond_destroy(&hv->timer_cond);
	pthread_mutex_destroy(&hv->timer_lock);
	pthread_rwlock_destroy(&hv->conn_lock);
	pthread_mutex_destroy(&hv->lock);
	free(hv);
}
