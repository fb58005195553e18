/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/vmbus_fixture.h - the VMBus server (vmbus/vmbus.h) and the guest-side client (guest/vsc/vsc.h) in one
 * process, on plain memory, for cmocka unit tests:
 *  - 32 MiB of vid_memory as guest RAM and an hvi partition of N VPs on it without /dev/kvm (partition NULL),
 *    with a recorder of the interrupts it raises (per VP, and the last vector);
 *  - on every VP the SynIC enabled the way Linux hv_synic_enable_regs() does it (SIMP, SIEFP, SINT2 = vector 0xF3
 *    unmasked without auto-EOI, SCONTROL), each VP's SIM/SIEF/hypercall-input pages at fixed GPAs, and a bump
 *    allocator for the rest of RAM (vsc_platform.alloc_pages);
 *  - the client's platform: HvPostMessage through hvi_hypercall() with the VP's input page, fast HvSignalEvent,
 *    msg_take = copy the VP's SINT2 slot, clear message_type, EOM if MessagePending (vmbus_signal_eom()),
 *    event_test_clear on the SIEF page, pump = vmbus_server_poll(srv, 0), now_ms = CLOCK_MONOTONIC;
 *  - a vmbus_server created on it whose I/O thread is never started: the test thread is the server's I/O thread,
 *    so tests may call the VSP API (vmbus_channel_send/recv, vmbus_device_offer, ...) directly between pumps;
 *  - a VSP test double (struct vmbfx_vsp) with counters: echo, sink or hold the guest's packets.
 *
 * Usage:
 *	static struct vmbfx fx;                       (large: keep it static)
 *	vmbfx_init(&fx, 2, 0);                        2 VPs, every version
 *	struct vmbfx_vsp *v = vmbfx_offer(&fx, (struct vmbus_guid)HV_SHUTDOWN_GUID, 1);
 *	vmbfx_connect(&fx);                           INITIATE_CONTACT + REQUESTOFFERS as Linux
 *	struct vsc_channel ch;
 *	vmbfx_open(&fx, v, &ch, 4, 0);                4-page rings, events to VP 0
 *	vsc_channel_send_inband(&ch, 7, "hi", 2);  vsc_channel_recv_wait(&ch, ...);   (the echo's completion)
 *	vmbfx_fini(&fx);                              also asserts the client saw no malformed message or offer
 *
 * Header-only: every function is static inline; a test uses what it needs.
 */
#ifndef OPENHV_TESTS_VMBUS_FIXTURE_H
#define OPENHV_TESTS_VMBUS_FIXTURE_H

#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "hv/hv.h"
#include "vid/memory.h"
#include "vid/vid.h"
#include "vmbus/vmbus.h"
#include "vsc/vsc.h"

#define VMBFX_RAM_BYTES   (32ull << 20)
#define VMBFX_MAX_VPS     4u
#define VMBFX_MAX_VSPS    16u
#define VMBFX_VECTOR      0xF3u      /* HYPERVISOR_CALLBACK_VECTOR: Linux's SINT2 vector */
#define VMBFX_PAGES_BASE  0x10000ull /* per VP: SIM page, SIEF page, hypercall input page (3 pages) */
#define VMBFX_ALLOC_BASE  0x100000ull
#define VMBFX_PKT_MAX     8192u      /* largest packet a test VSP keeps a copy of */
#define VMBFX_WAIT_MS     2000u      /* how long vmbfx_expect_msg waits */

static inline uint64_t vmbfx_simp_gpa(uint32_t vp) { return VMBFX_PAGES_BASE + vp * 0x3000ull; }
static inline uint64_t vmbfx_siefp_gpa(uint32_t vp) { return VMBFX_PAGES_BASE + vp * 0x3000ull + 0x1000; }
static inline uint64_t vmbfx_input_gpa(uint32_t vp) { return VMBFX_PAGES_BASE + vp * 0x3000ull + 0x2000; }

struct vmbfx;

/* What the test VSP does with the guest's packets. */
enum vmbfx_vsp_mode {
	VMBFX_VSP_ECHO = 0, /* record; answer completion-requested packets with VM_PKT_COMP (same trans_id, data) */
	VMBFX_VSP_SINK,     /* record only */
	VMBFX_VSP_HOLD,     /* leave them in the ring (notify returns false): back-pressure tests */
};

/* A VSP test double: one offered device. All counters are plain (the test thread is the I/O thread). */
struct vmbfx_vsp {
	struct vmbfx *f;
	struct vmbus_channel *ch;          /* from vmbus_device_offer */
	char name[32];
	enum vmbfx_vsp_mode mode;
	int open_ret;                      /* what the open callback returns (0: accept) */
	unsigned opens, closes, notifies;  /* callback counts */
	uint32_t open_target_vp;           /* vmbus_channel_target_vp() seen in the last open */
	unsigned packets;                  /* packets taken from the guest */
	uint64_t bytes;                    /* their payload bytes */
	uint16_t last_type, last_flags;
	uint64_t last_trans_id;
	uint32_t last_len, last_desc_len;  /* payload and descriptor bytes of the last packet */
	uint8_t last_data[VMBFX_PKT_MAX];
	_Alignas(8) uint8_t last_desc[512]; /* aligned: vmbus_gpa_iter hands out PFN pointers into it */
	unsigned recv_errors;              /* vmbus_channel_recv results < 0 other than -EAGAIN */
	int last_recv_err;
	unsigned send_errors;              /* failed echo sends other than -EAGAIN */
	int last_send_err;
	unsigned replies;                  /* echo completions sent */
	bool reply_pending;                /* an echo that met a full ring, sent on the next drain */
	uint64_t reply_trans_id;
	uint32_t reply_len;
	uint8_t reply[VMBFX_PKT_MAX];
	void (*hook)(struct vmbfx_vsp *v); /* runs at the start of every notify (may be NULL) */
	void (*hook_after)(struct vmbfx_vsp *v); /* runs at the end of every notify, after the drain */
	void (*open_hook)(struct vmbfx_vsp *v);  /* runs in the open callback before it accepts (may send) */
	void *hook_arg;
};

/* Interrupts the partition raised (hvi_config.interrupt). */
struct vmbfx_rec {
	pthread_mutex_t lock;
	unsigned interrupts;
	unsigned per_vp[VMBFX_MAX_VPS];
	uint32_t last_vp;
	uint8_t last_vector;
	unsigned bad_vector; /* interrupts with a vector other than 0xF3 */
	int wake_fd;         /* > 0: an eventfd written on every interrupt (a client that sleeps until one, as a halted
			      * VP does; benchmarks), set by the caller after vmbfx_init */
};

struct vmbfx {
	struct vid_memory *mem;
	struct hvi_partition *hv;
	struct vmbus_server *srv;
	unsigned vps;
	uint64_t next_free;        /* bump allocator: next free GPA */
	struct vsc_platform plat;
	struct vsc_bus bus;        /* the guest's client, on VP 0 unless re-initialised */
	struct vmbfx_rec rec;
	bool pump_off;             /* true: the client's waits do not run the server (the test pumps) */
	unsigned pumps;
	unsigned msgs_taken, eoms;
	bool allow_dirty;          /* true: vmbfx_fini does not insist on bus.malformed == bad_offers == 0 */
	struct vmbfx_vsp vsps[VMBFX_MAX_VSPS];
	unsigned vsp_count;
	_Alignas(8) uint8_t rx[65536]; /* receive buffer of the test VSPs (vmbus_channel_recv wants 8-byte alignment) */
};

/* ---- the platform of the client ---------------------------------------------------------------------------- */

static inline void vmbfx_on_interrupt(void *opaque, uint32_t vp_index, uint8_t vector)
{
	struct vmbfx_rec *r = opaque;

	pthread_mutex_lock(&r->lock);
	r->interrupts++;
	if (vp_index < VMBFX_MAX_VPS)
		r->per_vp[vp_index]++;
	r->last_vp = vp_index;
	r->last_vector = vector;
	if (vector != VMBFX_VECTOR)
		r->bad_vector++;
	pthread_mutex_unlock(&r->lock);
	if (r->wake_fd > 0) {
		uint64_t one = 1;

		ssize_t n = write(r->wake_fd, &one, sizeof(one)); /* a full eventfd (-EAGAIN) still wakes the reader */

		(void)n;
	}
}

static inline uint16_t vmbfx_plat_post(void *opaque, uint32_t vp, uint32_t conn_id, uint32_t type,
				       const void *payload, uint32_t size)
{
	struct vmbfx *f = opaque;
	struct hv_input_post_message *in = vid_memory_ptr(f->mem, vmbfx_input_gpa(vp), sizeof(*in));

	if (!in)
		return HV_STATUS_INVALID_VP_INDEX;
	memset(in, 0, sizeof(*in));
	in->connectionid = conn_id;
	in->message_type = type;
	in->payload_size = size;
	if (payload)
		memcpy(in->payload, payload, size < HV_MESSAGE_PAYLOAD_BYTE_COUNT ? size : HV_MESSAGE_PAYLOAD_BYTE_COUNT);
	return (uint16_t)(hvi_hypercall(f->hv, vp, HVCALL_POST_MESSAGE, vmbfx_input_gpa(vp), 0) &
			  HV_HYPERCALL_RESULT_MASK);
}

static inline uint16_t vmbfx_plat_signal(void *opaque, uint32_t vp, uint32_t conn_id)
{
	struct vmbfx *f = opaque;

	return (uint16_t)(hvi_hypercall(f->hv, vp, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, conn_id, 0) &
			  HV_HYPERCALL_RESULT_MASK);
}

/* VP @vp's SINT2 message slot. */
static inline struct hv_message *vmbfx_slot(struct vmbfx *f, uint32_t vp)
{
	return vid_memory_ptr(f->mem, vmbfx_simp_gpa(vp) + VMBUS_MESSAGE_SINT * HV_MESSAGE_SIZE, HV_MESSAGE_SIZE);
}

/* Linux vmbus_on_msg_dpc() + vmbus_signal_eom(): copy the slot, free it, EOM if MessagePending. */
static inline bool vmbfx_plat_msg_take(void *opaque, uint32_t vp, struct hv_message *out)
{
	struct vmbfx *f = opaque;
	struct hv_message *slot;
	uint32_t type;

	if (vp >= f->vps)
		return false;
	slot = vmbfx_slot(f, vp);
	type = __atomic_load_n(&slot->header.message_type, __ATOMIC_ACQUIRE);
	if (type == HVMSG_NONE)
		return false;
	memcpy(out, slot, sizeof(*out));
	out->header.message_type = type;
	f->msgs_taken++;
	if (!__atomic_compare_exchange_n(&slot->header.message_type, &type, HVMSG_NONE, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return true;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&slot->header.message_flags, __ATOMIC_SEQ_CST) & HV_MESSAGE_FLAG_PENDING) {
		uint64_t zero = 0;

		f->eoms++;
		assert_int_equal(hvi_msr_access(f->hv, vp, HV_X64_MSR_EOM, true, &zero), 0);
	}
	return true;
}

/* The 64-bit word of SIEF flag @relid of SINT2 on VP @vp. */
static inline uint64_t *vmbfx_sief_word(struct vmbfx *f, uint32_t vp, uint32_t relid)
{
	return vid_memory_ptr(f->mem, vmbfx_siefp_gpa(vp) + VMBUS_MESSAGE_SINT * HV_SYNIC_EVENT_FLAGS_BYTES +
				      (relid / 64) * 8, 8);
}

static inline bool vmbfx_plat_event_test_clear(void *opaque, uint32_t vp, uint32_t relid)
{
	struct vmbfx *f = opaque;
	uint64_t bit = 1ull << (relid % 64), *w;

	if (vp >= f->vps || relid >= HV_EVENT_FLAGS_COUNT)
		return false;
	w = vmbfx_sief_word(f, vp, relid);
	return (__atomic_fetch_and(w, ~bit, __ATOMIC_SEQ_CST) & bit) != 0;
}

static inline void *vmbfx_plat_gpa_to_ptr(void *opaque, uint64_t gpa, uint64_t len)
{
	return vid_memory_ptr(((struct vmbfx *)opaque)->mem, gpa, len);
}

/* Bump allocator over RAM above VMBFX_ALLOC_BASE: zeroed pages, never freed. 0 when RAM is exhausted. */
static inline uint64_t vmbfx_plat_alloc_pages(void *opaque, uint32_t pages)
{
	struct vmbfx *f = opaque;
	uint64_t gpa = f->next_free, bytes = (uint64_t)pages * VID_PAGE_SIZE;

	if (!pages || gpa + bytes > VMBFX_RAM_BYTES)
		return 0;
	f->next_free += bytes;
	assert_int_equal(vid_memory_zero(f->mem, gpa, bytes), 0);
	return gpa;
}

static inline void vmbfx_plat_pump(void *opaque)
{
	struct vmbfx *f = opaque;

	if (f->pump_off || !f->srv)
		return;
	f->pumps++;
	(void)vmbus_server_poll(f->srv, 0);
}

static inline uint64_t vmbfx_now_ms(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the test VSP ------------------------------------------------------------------------------------------ */

/* Take every packet the guest queued, as the mode says. Returns false if it stopped on a full outgoing ring. */
static inline bool vmbfx_vsp_drain(struct vmbfx_vsp *v)
{
	if (v->reply_pending) {
		int s = vmbus_channel_send_completion(v->ch, v->reply_trans_id, v->reply, v->reply_len);

		if (s == -EAGAIN)
			return false;
		v->reply_pending = false;
		if (s) {
			v->send_errors++;
			v->last_send_err = s;
		} else {
			v->replies++;
		}
	}
	for (;;) {
		struct vmbus_packet pkt;
		int r = vmbus_channel_recv(v->ch, v->f->rx, sizeof(v->f->rx), &pkt);

		if (r == -EAGAIN)
			return true;
		if (r < 0) {
			v->recv_errors++;
			v->last_recv_err = r;
			if (r == -EMSGSIZE)
				continue;
			return true;
		}
		v->packets++;
		v->bytes += pkt.data_len;
		v->last_type = pkt.type;
		v->last_flags = pkt.flags;
		v->last_trans_id = pkt.trans_id;
		v->last_len = pkt.data_len;
		v->last_desc_len = pkt.desc_len;
		memcpy(v->last_data, pkt.data, pkt.data_len < VMBFX_PKT_MAX ? pkt.data_len : VMBFX_PKT_MAX);
		memcpy(v->last_desc, pkt.desc, pkt.desc_len < sizeof(v->last_desc) ? pkt.desc_len : sizeof(v->last_desc));
		if (v->mode == VMBFX_VSP_ECHO && (pkt.flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED)) {
			int s = vmbus_channel_send_completion(v->ch, pkt.trans_id, pkt.data, pkt.data_len);

			if (s == -EAGAIN) {
				v->reply_pending = true;
				v->reply_trans_id = pkt.trans_id;
				v->reply_len = pkt.data_len < VMBFX_PKT_MAX ? pkt.data_len : VMBFX_PKT_MAX;
				memcpy(v->reply, pkt.data, v->reply_len);
				return false;
			}
			if (s) {
				v->send_errors++;
				v->last_send_err = s;
			} else {
				v->replies++;
			}
		}
	}
}

static inline int vmbfx_vsp_open(struct vmbus_channel *ch, void *opaque)
{
	struct vmbfx_vsp *v = opaque;

	assert_ptr_equal(ch, v->ch);
	v->opens++;
	v->open_target_vp = vmbus_channel_target_vp(ch);
	if (v->open_ret == 0 && v->open_hook)
		v->open_hook(v);
	return v->open_ret;
}

static inline void vmbfx_vsp_close(struct vmbus_channel *ch, void *opaque)
{
	struct vmbfx_vsp *v = opaque;

	assert_ptr_equal(ch, v->ch);
	v->closes++;
	v->reply_pending = false;
}

static inline bool vmbfx_vsp_notify(struct vmbus_channel *ch, void *opaque)
{
	struct vmbfx_vsp *v = opaque;

	assert_ptr_equal(ch, v->ch);
	v->notifies++;
	if (v->hook)
		v->hook(v);
	if (v->mode == VMBFX_VSP_HOLD)
		return false;
	{
		bool more = vmbfx_vsp_drain(v);

		if (v->hook_after)
			v->hook_after(v);
		return more;
	}
}

static const struct vmbus_device_ops vmbfx_vsp_ops = {
	.open = vmbfx_vsp_open,
	.close = vmbfx_vsp_close,
	.notify = vmbfx_vsp_notify,
};

/* The instance GUID of test device @tag (unique per tag). */
static inline struct vmbus_guid vmbfx_instance(uint16_t tag)
{
	struct vmbus_guid g = VMBUS_GUID_INIT(0x0be11e00, 0x7e57, 0x4f1d, 0x8a, 0x2c, 0x51, 0x0c, 0x00, 0x00, 0x00, 0x00);

	g.b[14] = (uint8_t)(tag >> 8);
	g.b[15] = (uint8_t)tag;
	return g;
}

/* Options of vmbfx_offer_ex (zeroes: a plain device). */
struct vmbfx_offer_opts {
	uint16_t chn_flags;
	uint16_t mmio_megabytes;
	bool pipe_mode;
	uint32_t max_packet_bytes;
	enum vmbfx_vsp_mode mode;
	int open_ret;
};

/* Offer a test device of @class_id with instance vmbfx_instance(@tag). Returns its VSP; fails the test on error. */
static inline struct vmbfx_vsp *vmbfx_offer_ex(struct vmbfx *f, struct vmbus_guid class_id, uint16_t tag,
					       const struct vmbfx_offer_opts *o)
{
	struct vmbus_offer_config cfg;
	struct vmbfx_vsp *v;

	assert_true(f->vsp_count < VMBFX_MAX_VSPS);
	v = &f->vsps[f->vsp_count++];
	memset(v, 0, sizeof(*v));
	v->f = f;
	snprintf(v->name, sizeof(v->name), "test%u", (unsigned)tag);
	memset(&cfg, 0, sizeof(cfg));
	cfg.class_id = class_id;
	cfg.instance_id = vmbfx_instance(tag);
	cfg.name = v->name;
	cfg.ops = &vmbfx_vsp_ops;
	cfg.opaque = v;
	if (o) {
		cfg.chn_flags = o->chn_flags;
		cfg.mmio_megabytes = o->mmio_megabytes;
		cfg.pipe_mode = o->pipe_mode;
		cfg.max_packet_bytes = o->max_packet_bytes;
		v->mode = o->mode;
		v->open_ret = o->open_ret;
	}
	assert_int_equal(vmbus_device_offer(f->srv, &cfg, &v->ch), 0);
	assert_non_null(v->ch);
	return v;
}

static inline struct vmbfx_vsp *vmbfx_offer(struct vmbfx *f, struct vmbus_guid class_id, uint16_t tag)
{
	return vmbfx_offer_ex(f, class_id, tag, NULL);
}

static inline uint32_t vmbfx_relid(const struct vmbfx_vsp *v) { return vmbus_channel_relid(v->ch); }

/* ---- set-up and tear-down ---------------------------------------------------------------------------------- */

/*
 * What Linux hv_synic_enable_regs() does on one CPU: SIMP (read-modify-write, enable), SIEFP (same), SINT2 =
 * vector 0xF3, unmasked, auto-EOI off (the host recommends EOI), then SCONTROL |= enable.
 */
static inline void vmbfx_synic_enable(struct vmbfx *f, uint32_t vp)
{
	uint64_t v;

	assert_int_equal(hvi_msr_access(f->hv, vp, HV_X64_MSR_SIMP, false, &v), 0);
	v = (v & 0xffeull) | vmbfx_simp_gpa(vp) | HV_SYNIC_SIMP_ENABLE;
	assert_int_equal(hvi_msr_access(f->hv, vp, HV_X64_MSR_SIMP, true, &v), 0);
	assert_int_equal(hvi_msr_access(f->hv, vp, HV_X64_MSR_SIEFP, false, &v), 0);
	v = (v & 0xffeull) | vmbfx_siefp_gpa(vp) | HV_SYNIC_SIEFP_ENABLE;
	assert_int_equal(hvi_msr_access(f->hv, vp, HV_X64_MSR_SIEFP, true, &v), 0);
	assert_int_equal(hvi_msr_access(f->hv, vp, HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT, false, &v), 0);
	v &= ~(HV_SYNIC_SINT_VECTOR_MASK | HV_SYNIC_SINT_MASKED | HV_SYNIC_SINT_AUTO_EOI);
	v |= VMBFX_VECTOR;
	assert_int_equal(hvi_msr_access(f->hv, vp, HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT, true, &v), 0);
	assert_int_equal(hvi_msr_access(f->hv, vp, HV_X64_MSR_SCONTROL, false, &v), 0);
	v |= HV_SYNIC_CONTROL_ENABLE;
	assert_int_equal(hvi_msr_access(f->hv, vp, HV_X64_MSR_SCONTROL, true, &v), 0);
}

/*
 * A partition of @vps VPs (1..VMBFX_MAX_VPS) on VMBFX_RAM_BYTES with every SynIC enabled, a server capped at
 * @max_version (0: all versions) without its I/O thread, and the client's bus on VP 0 (not connected).
 */
static inline void vmbfx_init(struct vmbfx *f, unsigned vps, uint32_t max_version)
{
	struct hvi_config hc;
	struct vmbus_server_config sc;

	assert_true(vps >= 1 && vps <= VMBFX_MAX_VPS);
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->rec.lock, NULL);
	f->vps = vps;
	f->next_free = VMBFX_ALLOC_BASE;
	assert_int_equal(vid_memory_create(VMBFX_RAM_BYTES, &f->mem), 0);
	memset(&hc, 0, sizeof(hc));
	hc.profile = HVI_PROFILE_RECOMMENDED;
	hc.memory = f->mem;
	hc.vp_count = vps;
	hc.partition = NULL;
	hc.interrupt = vmbfx_on_interrupt;
	hc.opaque = &f->rec;
	assert_int_equal(hvi_partition_create(&hc, &f->hv), 0);
	for (unsigned i = 0; i < vps; i++)
		vmbfx_synic_enable(f, i);
	memset(&sc, 0, sizeof(sc));
	sc.hv = f->hv;
	sc.mem = f->mem;
	sc.vp_count = vps;
	sc.max_version = max_version;
	assert_int_equal(vmbus_server_create(&sc, &f->srv), 0);
	assert_non_null(f->srv);
	f->plat = (struct vsc_platform){
		.post_message = vmbfx_plat_post,
		.signal_event = vmbfx_plat_signal,
		.msg_take = vmbfx_plat_msg_take,
		.event_test_clear = vmbfx_plat_event_test_clear,
		.gpa_to_ptr = vmbfx_plat_gpa_to_ptr,
		.alloc_pages = vmbfx_plat_alloc_pages,
		.pump = vmbfx_plat_pump,
		.now_ms = vmbfx_now_ms,
		.opaque = f,
	};
	vsc_bus_init(&f->bus, &f->plat, 0);
}

/*
 * Destroy the server (VSP close callbacks run for open channels), the partition and RAM. Unless f->allow_dirty,
 * first asserts that the client saw nothing Linux would WARN about (bus.malformed, bus.bad_offers) and that every
 * interrupt had vector 0xF3.
 */
static inline void vmbfx_fini(struct vmbfx *f)
{
	bool clean = f->allow_dirty || (f->bus.malformed == 0 && f->bus.bad_offers == 0);

	if (!clean)
		print_error("client saw %u malformed messages and %u bad offers\n", f->bus.malformed,
			    f->bus.bad_offers);
	vmbus_server_destroy(f->srv);
	f->srv = NULL;
	hvi_partition_destroy(f->hv);
	vid_memory_destroy(f->mem);
	pthread_mutex_destroy(&f->rec.lock);
	assert_true(clean);
	assert_int_equal(f->rec.bad_vector, 0);
}

/* ---- driving it -------------------------------------------------------------------------------------------- */

/* Run the server until it reports two idle rounds in a row (bounded). */
static inline void vmbfx_settle(struct vmbfx *f)
{
	unsigned idle = 0;

	for (unsigned i = 0; i < 1000 && idle < 2; i++)
		idle = vmbus_server_poll(f->srv, 0) > 0 ? 0 : idle + 1;
}

/* Linux's connect: all versions best first, then REQUESTOFFERS up to ALLOFFERS_DELIVERED. */
static inline void vmbfx_connect(struct vmbfx *f)
{
	assert_int_equal(vsc_bus_connect(&f->bus, NULL, 0), 0);
	assert_int_equal(vsc_bus_request_offers(&f->bus), 0);
}

/*
 * The common start of a two-device test: vmbfx_init(@f, @vps, 0), a SCSI-class device (tag 1) in *@a and a NIC-class
 * device (tag 2) in *@b, then the guest connects and takes the offers (relids 1 and 2).
 */
static inline void vmbfx_init_two(struct vmbfx *f, unsigned vps, struct vmbfx_vsp **a, struct vmbfx_vsp **b)
{
	static const struct vmbus_guid scsi = HV_SCSI_GUID, nic = HV_NIC_GUID;

	vmbfx_init(f, vps, 0);
	*a = vmbfx_offer(f, scsi, 1);
	*b = vmbfx_offer(f, nic, 2);
	vmbfx_connect(f);
}

/* Open @v's channel from the guest with rings of @pages pages each (header included), events to @target_vp. */
static inline void vmbfx_open(struct vmbfx *f, struct vmbfx_vsp *v, struct vsc_channel *ch, uint32_t pages,
			      uint32_t target_vp)
{
	unsigned opens = v->opens;

	assert_int_equal(vsc_channel_open(&f->bus, ch, vmbfx_relid(v), pages * VSC_PAGE_SIZE, pages * VSC_PAGE_SIZE,
					  target_vp), 0);
	assert_int_equal(v->opens, opens + 1);
	assert_true(vmbus_channel_is_open(v->ch));
}

/* Post a raw channel message on the bus's message connection (once). Returns the HV_STATUS. */
static inline uint16_t vmbfx_post(struct vmbfx *f, const void *msg, uint32_t size)
{
	return vsc_bus_post(&f->bus, msg, size);
}

/* Post a raw message that the hypervisor must accept (the server decides later what to make of it). */
static inline void vmbfx_post_ok(struct vmbfx *f, const void *msg, uint32_t size)
{
	assert_int_equal(vsc_bus_post(&f->bus, msg, size), HV_STATUS_SUCCESS);
}

/* Wait (pumping) for the next message of @type to the bus's VP; fails the test if none comes. Its payload size. */
static inline uint32_t vmbfx_expect_msg(struct vmbfx *f, uint32_t type, void *out, uint32_t cap)
{
	uint32_t size = 0;
	int ret = vsc_bus_wait_msg(&f->bus, type, out, cap, &size, VMBFX_WAIT_MS);

	if (ret)
		print_error("no channel message of type %u: %d\n", type, ret);
	assert_int_equal(ret, 0);
	return size;
}

/* Take the message waiting in VP @vp's SINT2 slot without interpreting it. */
static inline bool vmbfx_take(struct vmbfx *f, uint32_t vp, struct hv_message *m)
{
	return vmbfx_plat_msg_take(f, vp, m);
}

/* Let the server finish everything; then no message may be waiting on any VP. */
static inline void vmbfx_expect_no_msg(struct vmbfx *f)
{
	vmbfx_settle(f);
	for (uint32_t vp = 0; vp < f->vps; vp++) {
		struct hv_message m;

		if (vmbfx_take(f, vp, &m)) {
			uint32_t type;

			memcpy(&type, m.payload, sizeof(type));
			print_error("VP%u got channel message type %u (%u bytes), expected none\n", vp, type,
				    m.header.payload_size);
			fail();
		}
	}
}

static inline struct vmbus_server_stats vmbfx_stats(struct vmbfx *f)
{
	struct vmbus_server_stats s;

	vmbus_server_stats(f->srv, &s);
	return s;
}

/*
 * After a message the server must refuse, let it run. If it answered on the bus's VP with a message of @type, the
 * u32 at byte @status_off of the answer must be non-zero (a refusal) and the answer is copied to @out (@cap bytes,
 * may be NULL); if it answered nothing, messages_rejected must have grown beyond @rejected_before. Any other
 * message fails the test. Returns true if an answer came.
 */
static inline bool vmbfx_expect_refusal(struct vmbfx *f, uint32_t type, uint32_t status_off,
					uint64_t rejected_before, void *out, uint32_t cap)
{
	struct hv_message m;
	uint32_t got, status;

	vmbfx_settle(f);
	if (!vmbfx_take(f, f->bus.vp, &m)) {
		if (vmbfx_stats(f).messages_rejected <= rejected_before)
			print_error("message neither answered (type %u) nor counted as rejected\n", type);
		assert_true(vmbfx_stats(f).messages_rejected > rejected_before);
		return false;
	}
	memcpy(&got, m.payload, sizeof(got));
	if (got != type)
		print_error("expected message type %u or nothing, got type %u\n", type, got);
	assert_int_equal(got, type);
	assert_true(m.header.payload_size >= status_off + 4);
	memcpy(&status, (const uint8_t *)m.payload + status_off, sizeof(status));
	if (!status)
		print_error("message type %u answered with status 0: a success where a refusal was due\n", type);
	assert_int_not_equal(status, 0);
	if (out)
		memcpy(out, m.payload, cap < m.header.payload_size ? cap : m.header.payload_size);
	return true;
}

/* Interrupts raised on VP @vp so far. */
static inline unsigned vmbfx_interrupts(struct vmbfx *f, uint32_t vp)
{
	unsigned n;

	pthread_mutex_lock(&f->rec.lock);
	n = vp < VMBFX_MAX_VPS ? f->rec.per_vp[vp] : 0;
	pthread_mutex_unlock(&f->rec.lock);
	return n;
}

/* Is SIEF flag @relid of SINT2 set on VP @vp (not cleared)? */
static inline bool vmbfx_event_pending(struct vmbfx *f, uint32_t vp, uint32_t relid)
{
	return (__atomic_load_n(vmbfx_sief_word(f, vp, relid), __ATOMIC_SEQ_CST) >> (relid % 64)) & 1;
}

/* Test-and-clear SIEF flag @relid of SINT2 on VP @vp. */
static inline bool vmbfx_event_clear(struct vmbfx *f, uint32_t vp, uint32_t relid)
{
	return vmbfx_plat_event_test_clear(f, vp, relid);
}

static inline enum vmbus_connection_state vmbfx_state(struct vmbfx *f, uint32_t *version)
{
	uint32_t v = 0;
	enum vmbus_connection_state s = vmbus_server_state(f->srv, &v);

	if (version)
		*version = v;
	return s;
}

#endif /* OPENHV_TESTS_VMBUS_FIXTURE_H */
