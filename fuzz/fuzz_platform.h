/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_platform.h - the in-process VMBus guest platform of the fuzz targets that drive a VSP through the
 * guest-side client (guest/vsc): what tests/lib/vmbus_fixture.h is for the unit tests, without cmocka, for one VP,
 * single-threaded, and built to be reset between inputs.
 *
 *  - guest RAM: plain vid_memory of the target's size; one hvi partition on it for the whole process (1 VP, the
 *    RECOMMENDED profile, a fixed TSC frequency, its synthetic-timer thread stopped: the process stays
 *    single-threaded, so an input replays exactly);
 *  - per input (fz_platform_reset): the SynIC turned off (what the last input left queued is dropped), the low
 *    guest memory [0, FZ_PLATFORM_LOW) zeroed, the SynIC turned on as Linux hv_synic_enable_regs() does (SIM page
 *    at FZ_PLATFORM_PAGES, SIEF page after it, SINT2 = vector 0xF3 unmasked without auto-EOI, SCONTROL), and the
 *    page allocator rewound to the target's allocation base;
 *  - the client's platform (struct vsc_platform): HvPostMessage through hvi_hypercall() with the input page at
 *    FZ_PLATFORM_PAGES + 0x2000, fast HvSignalEvent, msg_take as Linux's message DPC (copy the SINT2 slot, free it,
 *    EOM if MessagePending), event_test_clear on the SIEF page, gpa_to_ptr, a bump allocator of zeroed pages, the
 *    target's pump, and now_ms = CLOCK_MONOTONIC;
 *  - the VMBus server of an input (fz_srv), run on this thread by the target and the pump (vmbus_server_poll), and
 *    the client's bus (fz_bus).
 *
 * Usage: fz_platform_create() once, then per input fz_platform_reset(), fz_platform_server_create(), the VSP on
 * fz_srv, fz_platform_bus_connect(); at the end the VSP's destroy and fz_platform_server_destroy().
 *
 * Header-only (static inline, its state in static variables): one target includes it once.
 */
#ifndef OPENHV_FUZZ_PLATFORM_H
#define OPENHV_FUZZ_PLATFORM_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_check.h"
#include "hv/hv.h"
#include "vid/memory.h"
#include "vmbus/internal.h" /* VMBUS_CHANNEL_CONNECTION_BASE: no event connection may outlive the server */
#include "vmbus/vmbus.h"
#include "vsc/vsc.h"

#define FZ_PLATFORM_PAGES  0x10000ull /* SIM page, SIEF page (+0x1000), hypercall input page (+0x2000) */
#define FZ_PLATFORM_LOW    0x20000ull /* guest memory below this is the platform's, zeroed every input */
#define FZ_PLATFORM_VECTOR 0xF3u      /* SINT2's vector (Linux's HYPERVISOR_CALLBACK_VECTOR) */

static struct vid_memory *fz_mem;
static struct hvi_partition *fz_hv;
static struct vmbus_server *fz_srv; /* the current input's server */
static struct vsc_bus fz_bus;       /* the client's bus on it */
static struct vsc_platform fz_platform_ops;
static uint64_t fz_platform_ram, fz_platform_alloc_base, fz_platform_next_free;

static inline void fz_platform_interrupt(void *opaque, uint32_t vp_index, uint8_t vector)
{
	FZ_CHECK(vp_index == 0);
	FZ_CHECK(vector == FZ_PLATFORM_VECTOR);
}

static inline uint16_t fz_platform_post(void *opaque, uint32_t vp, uint32_t conn_id, uint32_t type,
					const void *payload, uint32_t size)
{
	struct hv_input_post_message *m = vid_memory_ptr(fz_mem, FZ_PLATFORM_PAGES + 0x2000, sizeof(*m));

	if (!m || vp != 0)
		return HV_STATUS_INVALID_VP_INDEX;
	memset(m, 0, sizeof(*m));
	m->connectionid = conn_id;
	m->message_type = type;
	m->payload_size = size;
	if (payload)
		memcpy(m->payload, payload, size < sizeof(m->payload) ? size : sizeof(m->payload));
	return (uint16_t)(hvi_hypercall(fz_hv, 0, HVCALL_POST_MESSAGE, FZ_PLATFORM_PAGES + 0x2000, 0) &
			  HV_HYPERCALL_RESULT_MASK);
}

static inline uint16_t fz_platform_signal(void *opaque, uint32_t vp, uint32_t conn_id)
{
	return (uint16_t)(hvi_hypercall(fz_hv, vp, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, conn_id, 0) &
			  HV_HYPERCALL_RESULT_MASK);
}

/* As Linux's message DPC: copy the SINT2 slot, free it, and EOM when the hypervisor has more queued. */
static inline bool fz_platform_msg_take(void *opaque, uint32_t vp, struct hv_message *out)
{
	struct hv_message *slot;
	uint32_t type;
	uint64_t zero = 0;

	if (vp != 0)
		return false;
	slot = vid_memory_ptr(fz_mem, FZ_PLATFORM_PAGES + VMBUS_MESSAGE_SINT * HV_MESSAGE_SIZE, HV_MESSAGE_SIZE);
	type = __atomic_load_n(&slot->header.message_type, __ATOMIC_ACQUIRE);
	if (type == HVMSG_NONE)
		return false;
	memcpy(out, slot, sizeof(*out));
	out->header.message_type = type;
	__atomic_store_n(&slot->header.message_type, HVMSG_NONE, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&slot->header.message_flags, __ATOMIC_SEQ_CST) & HV_MESSAGE_FLAG_PENDING)
		FZ_CHECK(hvi_msr_access(fz_hv, 0, HV_X64_MSR_EOM, true, &zero) == 0);
	return true;
}

static inline bool fz_platform_event_test_clear(void *opaque, uint32_t vp, uint32_t relid)
{
	uint64_t bit = 1ull << (relid % 64), *w;

	if (vp != 0 || relid >= HV_EVENT_FLAGS_COUNT)
		return false;
	w = vid_memory_ptr(fz_mem, FZ_PLATFORM_PAGES + 0x1000 + VMBUS_MESSAGE_SINT * HV_SYNIC_EVENT_FLAGS_BYTES +
				   (relid / 64) * 8, 8);
	return (__atomic_fetch_and(w, ~bit, __ATOMIC_SEQ_CST) & bit) != 0;
}

static inline void *fz_platform_gpa_to_ptr(void *opaque, uint64_t gpa, uint64_t len)
{
	return vid_memory_ptr(fz_mem, gpa, len);
}

/* @pages zeroed pages from the bump allocator (0 when RAM is used up); rewound by fz_platform_reset(). */
static inline uint64_t fz_platform_alloc_pages(void *opaque, uint32_t pages)
{
	uint64_t gpa = fz_platform_next_free, bytes = (uint64_t)pages * VID_PAGE_SIZE;

	if (!pages || gpa + bytes > fz_platform_ram)
		return 0;
	fz_platform_next_free += bytes;
	FZ_CHECK(vid_memory_zero(fz_mem, gpa, bytes) == 0);
	return gpa;
}

/* Milliseconds of CLOCK_MONOTONIC (the client's timeouts; a target's waits on real time). */
static inline uint64_t fz_platform_now_ms(void *opaque)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Linux hv_synic_enable_regs(): SIMP, SIEFP, SINT2 = vector 0xF3 unmasked without auto-EOI, SCONTROL. */
static inline void fz_platform_synic_enable(void)
{
	uint64_t v;

	FZ_CHECK(hvi_msr_access(fz_hv, 0, HV_X64_MSR_SIMP, false, &v) == 0);
	v = (v & 0xffeull) | FZ_PLATFORM_PAGES | HV_SYNIC_SIMP_ENABLE;
	FZ_CHECK(hvi_msr_access(fz_hv, 0, HV_X64_MSR_SIMP, true, &v) == 0);
	FZ_CHECK(hvi_msr_access(fz_hv, 0, HV_X64_MSR_SIEFP, false, &v) == 0);
	v = (v & 0xffeull) | (FZ_PLATFORM_PAGES + 0x1000) | HV_SYNIC_SIEFP_ENABLE;
	FZ_CHECK(hvi_msr_access(fz_hv, 0, HV_X64_MSR_SIEFP, true, &v) == 0);
	FZ_CHECK(hvi_msr_access(fz_hv, 0, HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT, false, &v) == 0);
	v &= ~(HV_SYNIC_SINT_VECTOR_MASK | HV_SYNIC_SINT_MASKED | HV_SYNIC_SINT_AUTO_EOI);
	v |= FZ_PLATFORM_VECTOR;
	FZ_CHECK(hvi_msr_access(fz_hv, 0, HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT, true, &v) == 0);
	FZ_CHECK(hvi_msr_access(fz_hv, 0, HV_X64_MSR_SCONTROL, false, &v) == 0);
	v |= HV_SYNIC_CONTROL_ENABLE;
	FZ_CHECK(hvi_msr_access(fz_hv, 0, HV_X64_MSR_SCONTROL, true, &v) == 0);
}

/* The guest turns its SynIC off (queued messages are dropped), as a new kernel would find it. */
static inline void fz_platform_synic_disable(void)
{
	uint64_t v = 0;

	FZ_CHECK(hvi_msr_access(fz_hv, 0, HV_X64_MSR_SCONTROL, true, &v) == 0);
	FZ_CHECK(hvi_msr_access(fz_hv, 0, HV_X64_MSR_SIMP, true, &v) == 0);
	FZ_CHECK(hvi_msr_access(fz_hv, 0, HV_X64_MSR_SIEFP, true, &v) == 0);
	v = HV_SYNIC_SINT_MASKED;
	FZ_CHECK(hvi_msr_access(fz_hv, 0, HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT, true, &v) == 0);
}

/*
 * Once per process: @ram_bytes of guest RAM and the partition on it. The page allocator starts at @alloc_base
 * (>= FZ_PLATFORM_LOW; below it the target lays out its own pages) every input; @pump is the client's
 * vsc_platform.pump (it runs the server while the client waits). Aborts when something cannot be created.
 */
static inline void fz_platform_create(uint64_t ram_bytes, uint64_t alloc_base, void (*pump)(void *opaque))
{
	struct hvi_config hc;

	fz_platform_ram = ram_bytes;
	fz_platform_alloc_base = alloc_base;
	if (vid_memory_create(ram_bytes, &fz_mem) < 0)
		abort();
	memset(&hc, 0, sizeof(hc));
	hc.profile = HVI_PROFILE_RECOMMENDED;
	hc.memory = fz_mem;
	hc.vp_count = 1;
	hc.interrupt = fz_platform_interrupt;
	hc.tsc_hz = 2000000000ull; /* fixed: no calibration */
	FZ_CHECK(hvi_partition_create(&hc, &fz_hv) == 0);
	/* One partition for all inputs (its SynIC is reset per input); no synthetic timers here, so without their
	 * thread the process stays single-threaded and an input replays exactly. */
	hvi_partition_stop(fz_hv);
	fz_platform_ops = (struct vsc_platform){
		.post_message = fz_platform_post,
		.signal_event = fz_platform_signal,
		.msg_take = fz_platform_msg_take,
		.event_test_clear = fz_platform_event_test_clear,
		.gpa_to_ptr = fz_platform_gpa_to_ptr,
		.alloc_pages = fz_platform_alloc_pages,
		.pump = pump,
		.now_ms = fz_platform_now_ms,
	};
}

/* At the start of an input: SynIC off, [0, FZ_PLATFORM_LOW) zeroed, SynIC on, the allocator rewound. */
static inline void fz_platform_reset(void)
{
	fz_platform_synic_disable(); /* drops what the last input left queued */
	FZ_CHECK(vid_memory_zero(fz_mem, 0, FZ_PLATFORM_LOW) == 0); /* SynIC pages; the allocator zeroes the rest */
	fz_platform_synic_enable();
	fz_platform_next_free = fz_platform_alloc_base;
}

/* The input's VMBus server (fz_srv) on the partition, its loop run on this thread (vmbus_server_poll). */
static inline void fz_platform_server_create(void)
{
	struct vmbus_server_config sc;

	memset(&sc, 0, sizeof(sc));
	sc.hv = fz_hv;
	sc.mem = fz_mem;
	sc.vp_count = 1;
	FZ_CHECK(vmbus_server_create(&sc, &fz_srv) == 0);
}

/* The client connects as a booting Linux does: fz_bus set up on VP 0, INITIATE_CONTACT stepping down Linux's
 * version list, then REQUESTOFFERS until every offer is in (vsc_bus_connect, vsc_bus_request_offers). */
static inline void fz_platform_bus_connect(void)
{
	vsc_bus_init(&fz_bus, &fz_platform_ops, 0);
	FZ_CHECK(vsc_bus_connect(&fz_bus, NULL, 0) == 0);
	FZ_CHECK(vsc_bus_request_offers(&fz_bus) == 0);
}

/* Destroy the input's server (after the VSPs on it) and check it took its message connections and every
 * channel's event connection with it (the next input's server registers them again). */
static inline void fz_platform_server_destroy(void)
{
	vmbus_server_destroy(fz_srv);
	fz_srv = NULL;
	FZ_CHECK(hvi_connection_unregister(fz_hv, VMBUS_MESSAGE_CONNECTION_ID) == -ENOENT);
	FZ_CHECK(hvi_connection_unregister(fz_hv, VMBUS_MESSAGE_CONNECTION_ID_4) == -ENOENT);
	for (uint32_t relid = 1; relid <= 64; relid++)
		FZ_CHECK(hvi_connection_unregister(fz_hv, VMBUS_CHANNEL_CONNECTION_BASE + relid) == -ENOENT);
}

#endif /* OPENHV_FUZZ_PLATFORM_H */
