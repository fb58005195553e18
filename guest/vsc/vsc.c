/* SPDX-License-Identifier: MIT */
/*
 * guest/vsc/vsc.c - the VMBus client (vsc.h): connection and version negotiation, offers and rescinds, GPADLs,
 * channel open/close/modify, and the guest ends of the two rings of a channel.
 *
 * Behaviour the server can observe follows Linux 6.1 (facts from shared/reference/guest-core.md 5-6):
 *  - drivers/hv/connection.c vmbus_connect()/vmbus_negotiate_version(): versions 5.3 .. 2.4, INITIATE_CONTACT on
 *    connection 4 with msg_sint 2 from 5.0 on (then msg_conn_id from VERSION_RESPONSE), else on connection 1 with
 *    the interrupt page; target_vcpu = the client's VP; monitor pages allocated and passed;
 *  - drivers/hv/channel.c: GPADL handles from 0xE1E10, GPADL_HEADER with up to 26 PFNs then GPADL_BODY messages
 *    of up to 28 (msgnumber 0); __vmbus_open(): GPADL first, then both ring headers (indices 0, feature_bits 1),
 *    then OPENCHANNEL with openid = relid and downstream offset = send ring pages; vmbus_close_internal():
 *    CLOSECHANNEL then GPADL_TEARDOWN, the latter skipped for a rescinded channel;
 *  - drivers/hv/channel_mgmt.c: offers recorded, duplicates dropped, RELID_RELEASED once a rescinded channel is
 *    gone (after its close if it was open); messages shorter than the per-type minimum or of unknown type dropped;
 *  - drivers/hv/ring_buffer.c: hv_ringbuffer_write() (refuse when free <= packet + trailer, 8-byte trailer holding
 *    the start offset << 32, write_index published after the data, signal only if interrupt_mask is 0 and the ring
 *    was empty before), hv_pkt_iter_close() (read_index published, signal once when the free space crosses the
 *    producer's pending_send_sz);
 *  - drivers/hv/channel.c vmbus_setevent(): HvSignalEvent(offer connection_id) for dedicated interrupts, the
 *    monitor page when monitor_allocated.
 * Where Linux would hang (it waits without timeout) this client gives up after VSC_WAIT_MS and says so.
 *
 * Freestanding: no libc but the mem* functions; guest memory is reached only through the platform.
 */
#include "vsc/vsc.h"

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#define VSC_GPADL_HANDLE_START 0xE1E10u /* drivers/hv/connection.c: vmbus_connection.next_gpadl_handle */
#define VSC_PKT_DESC_BYTES ((uint32_t)sizeof(struct vmpacket_descriptor))

const uint32_t vsc_linux_versions[8] = {
	VERSION_WIN10_V5_3, VERSION_WIN10_V5_2, VERSION_WIN10_V5_1, VERSION_WIN10_V5,
	VERSION_WIN10_V4_1, VERSION_WIN10, VERSION_WIN8_1, VERSION_WIN8,
};

/*
 * Minimum payload size Linux accepts per host -> guest message type (drivers/hv/channel_mgmt.c
 * channel_message_table[].min_payload_len); 0 for types without a handler or without a minimum.
 */
static const uint8_t vsc_msg_min_len[CHANNELMSG_COUNT] = {
	[CHANNELMSG_OFFERCHANNEL] = sizeof(struct vmbus_channel_offer_channel),
	[CHANNELMSG_RESCIND_CHANNELOFFER] = sizeof(struct vmbus_channel_relid_message),
	[CHANNELMSG_OPENCHANNEL_RESULT] = sizeof(struct vmbus_channel_open_result),
	[CHANNELMSG_GPADL_CREATED] = sizeof(struct vmbus_channel_gpadl_created),
	[CHANNELMSG_GPADL_TORNDOWN] = sizeof(struct vmbus_channel_gpadl_torndown),
	[CHANNELMSG_VERSION_RESPONSE] = sizeof(struct vmbus_channel_version_response),
	[CHANNELMSG_MODIFYCHANNEL_RESPONSE] = sizeof(struct vmbus_channel_modifychannel_response),
};

static const uint8_t vsc_zeroes[8];

/* ---- small helpers ---------------------------------------------------------------------------------------- */

static inline void vsc_mb(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

static inline uint32_t vsc_align8(uint32_t n) { return (n + 7u) & ~7u; }

static uint64_t vsc_now(const struct vsc_bus *bus) { return bus->plat->now_ms(bus->plat->opaque); }

static void vsc_pump(const struct vsc_bus *bus)
{
	if (bus->plat->pump)
		bus->plat->pump(bus->plat->opaque);
}

static uint32_t vsc_rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Forget the offers of a session (UNLOAD, or a new INITIATE_CONTACT: a new kernel). */
static void vsc_bus_forget(struct vsc_bus *bus)
{
	memset(bus->offers, 0, sizeof(bus->offers));
	bus->offer_count = 0;
	bus->all_offers_delivered = false;
	bus->version = 0;
	bus->msg_conn_id = VMBUS_MESSAGE_CONNECTION_ID;
}

void vsc_bus_init(struct vsc_bus *bus, const struct vsc_platform *plat, uint32_t vp)
{
	memset(bus, 0, sizeof(*bus));
	bus->plat = plat;
	bus->vp = vp;
	bus->msg_conn_id = VMBUS_MESSAGE_CONNECTION_ID;
	bus->next_gpadl = VSC_GPADL_HANDLE_START;
}

/* ---- posting ---------------------------------------------------------------------------------------------- */

uint16_t vsc_bus_post_conn(struct vsc_bus *bus, uint32_t conn_id, const void *msg, uint32_t size)
{
	return bus->plat->post_message(bus->plat->opaque, bus->vp, conn_id, VMBUS_CHANNEL_MESSAGE_TYPE, msg, size);
}

uint16_t vsc_bus_post(struct vsc_bus *bus, const void *msg, uint32_t size)
{
	return vsc_bus_post_conn(bus, bus->msg_conn_id, msg, size);
}

/*
 * Linux vmbus_post_msg(): post, and while the host says "insufficient buffers" (its queue is full) let it run and
 * retry, for at most VSC_WAIT_MS. Returns the last HV_STATUS.
 */
static uint16_t vsc_post_retry(struct vsc_bus *bus, uint32_t conn_id, const void *msg, uint32_t size)
{
	uint64_t deadline = vsc_now(bus) + VSC_WAIT_MS;
	uint16_t st;

	for (;;) {
		st = vsc_bus_post_conn(bus, conn_id, msg, size);
		if (st != HV_STATUS_INSUFFICIENT_BUFFERS && st != HV_STATUS_INSUFFICIENT_MEMORY)
			return st;
		if (vsc_now(bus) > deadline)
			return st;
		vsc_pump(bus);
	}
}

static int vsc_post_msg(struct vsc_bus *bus, const void *msg, uint32_t size)
{
	return vsc_post_retry(bus, bus->msg_conn_id, msg, size) == HV_STATUS_SUCCESS ? 0 : -VSC_EIO;
}

/* ---- offers ----------------------------------------------------------------------------------------------- */

const struct vsc_offer *vsc_bus_find_offer(const struct vsc_bus *bus, const struct vmbus_guid *class_id,
					   unsigned index)
{
	for (unsigned i = 0; i < bus->offer_count; i++) {
		const struct vsc_offer *o = &bus->offers[i];

		if (o->released || o->rescinded || memcmp(&o->msg.if_type, class_id, sizeof(*class_id)))
			continue;
		if (index-- == 0)
			return o;
	}
	return NULL;
}

struct vsc_offer *vsc_bus_offer_by_relid(struct vsc_bus *bus, uint32_t relid)
{
	for (unsigned i = 0; i < bus->offer_count; i++) {
		if (!bus->offers[i].released && bus->offers[i].msg.child_relid == relid)
			return &bus->offers[i];
	}
	return NULL;
}

/* Linux vmbus_release_relid(): tell the host the relid may be reused. */
static void vsc_release_relid(struct vsc_bus *bus, struct vsc_offer *o)
{
	struct vmbus_channel_relid_message msg = { .header.msgtype = CHANNELMSG_RELID_RELEASED,
						   .child_relid = o->msg.child_relid };

	o->released = true;
	(void)vsc_post_msg(bus, &msg, sizeof(msg));
}

/* Linux vmbus_onoffer() + vmbus_process_offer(), as far as the host can tell. */
static void vsc_on_offer(struct vsc_bus *bus, const uint8_t *payload)
{
	struct vmbus_channel_offer_channel o;
	struct vsc_offer *slot = NULL;

	memcpy(&o, payload, sizeof(o));
	if (bus->offer_hook)
		bus->offer_hook(bus->offer_hook_opaque, &o);
	if (o.child_relid == 0 || o.child_relid > VMBUS_MAX_RELID) {
		bus->bad_offers++; /* Linux: WARN "unexpected relid", the channel is never mapped */
		return;
	}
	for (unsigned i = 0; i < bus->offer_count; i++) {
		struct vsc_offer *e = &bus->offers[i];

		if (e->released) {
			if (!slot)
				slot = e;
			continue;
		}
		if (e->msg.child_relid == o.child_relid) {
			bus->bad_offers++; /* a relid the guest has not released yet */
			return;
		}
		if (!e->rescinded && o.sub_channel_index == 0 && e->msg.sub_channel_index == 0 &&
		    !memcmp(&e->msg.if_type, &o.if_type, sizeof(o.if_type)) &&
		    !memcmp(&e->msg.if_instance, &o.if_instance, sizeof(o.if_instance))) {
			bus->bad_offers++; /* Linux drops a second primary with the same type + instance (WARN) */
			return;
		}
	}
	if (!slot) {
		if (bus->offer_count >= VSC_MAX_OFFERS) {
			bus->offers_lost++;
			return;
		}
		slot = &bus->offers[bus->offer_count++];
	}
	memset(slot, 0, sizeof(*slot));
	slot->msg = o;
}

/*
 * Linux vmbus_onoffer_rescind(): mark the channel; when it is not open the device goes away at once and
 * RELID_RELEASED follows; an open one releases in vsc_channel_close(). Returns the offer, or NULL if unknown.
 */
static struct vsc_offer *vsc_on_rescind(struct vsc_bus *bus, uint32_t relid)
{
	struct vsc_offer *o = vsc_bus_offer_by_relid(bus, relid);

	if (!o || o->rescinded) {
		bus->unexpected++; /* Linux ignores a rescind of a channel it does not know */
		return NULL;
	}
	o->rescinded = true;
	if (!o->open)
		vsc_release_relid(bus, o);
	return o;
}

/* ---- receiving messages ----------------------------------------------------------------------------------- */

/* What a wait is looking for: a type, and optionally u32 fields at given payload offsets. */
struct vsc_match {
	uint32_t type;        /* CHANNELMSG_INVALID: any */
	uint32_t off1, val1;  /* off 0: not checked */
	uint32_t off2, val2;
	uint32_t watch_relid; /* non-zero: a rescind of this relid ends the wait (-VSC_ENODEV) */
};

static bool vsc_matches(const struct vsc_match *mt, uint32_t type, const uint8_t *p, uint32_t size)
{
	if (mt->type != CHANNELMSG_INVALID && mt->type != type)
		return false;
	if (mt->off1 && (mt->off1 + 4 > size || vsc_rd32(p + mt->off1) != mt->val1))
		return false;
	if (mt->off2 && (mt->off2 + 4 > size || vsc_rd32(p + mt->off2) != mt->val2))
		return false;
	return true;
}

/*
 * Linux vmbus_on_msg_dpc(): validate one message taken from the SINT2 slot, do the bus's own bookkeeping (offers,
 * rescinds, ALLOFFERS_DELIVERED) and hand it to the waiter if it matches. Returns 0 (matched: copied to @out),
 * 1 (consumed otherwise), -VSC_ENODEV (the watched channel was rescinded).
 */
static int vsc_dispatch(struct vsc_bus *bus, const struct hv_message *m, const struct vsc_match *mt, void *out,
			uint32_t cap, uint32_t *size)
{
	const uint8_t *p = (const uint8_t *)m->payload;
	uint32_t psize = m->header.payload_size, type;

	if (psize > HV_MESSAGE_PAYLOAD_BYTE_COUNT)
		psize = HV_MESSAGE_PAYLOAD_BYTE_COUNT;
	if (m->header.message_type != VMBUS_CHANNEL_MESSAGE_TYPE)
		bus->malformed++; /* Linux takes any non-zero type but the timer's; Hyper-V sends 1 */
	type = vsc_rd32(p);
	if (type >= CHANNELMSG_COUNT || psize < vsc_msg_min_len[type]) {
		bus->malformed++; /* Linux: WARN_ONCE "unknown msgtype" / "message too short", dropped */
		return 1;
	}
	switch (type) {
	case CHANNELMSG_OFFERCHANNEL:
		vsc_on_offer(bus, p);
		break;
	case CHANNELMSG_RESCIND_CHANNELOFFER: {
		uint32_t relid = vsc_rd32(p + 8);

		vsc_on_rescind(bus, relid);
		if (mt && mt->watch_relid == relid && mt->type != CHANNELMSG_RESCIND_CHANNELOFFER)
			return -VSC_ENODEV;
		break;
	}
	case CHANNELMSG_ALLOFFERS_DELIVERED:
		bus->all_offers_delivered = true;
		break;
	default:
		break;
	}
	if (mt && vsc_matches(mt, type, p, psize)) {
		if (out && cap)
			memcpy(out, p, cap < psize ? cap : psize);
		if (size)
			*size = psize;
		return 0;
	}
	if (type != CHANNELMSG_OFFERCHANNEL && type != CHANNELMSG_RESCIND_CHANNELOFFER &&
	    type != CHANNELMSG_ALLOFFERS_DELIVERED)
		bus->unexpected++;
	return 1;
}

/* Take messages (running the host between looks) until one matches @mt. 0, -VSC_ETIMEDOUT, -VSC_ENODEV. */
static int vsc_wait(struct vsc_bus *bus, const struct vsc_match *mt, void *out, uint32_t cap, uint32_t *size,
		    uint32_t timeout_ms)
{
	uint64_t deadline = vsc_now(bus) + (timeout_ms ? timeout_ms : VSC_WAIT_MS);
	struct hv_message m;

	for (;;) {
		if (bus->plat->msg_take(bus->plat->opaque, bus->vp, &m)) {
			int ret = vsc_dispatch(bus, &m, mt, out, cap, size);

			if (ret <= 0)
				return ret;
			continue;
		}
		if (vsc_now(bus) > deadline)
			return -VSC_ETIMEDOUT;
		vsc_pump(bus);
	}
}

int vsc_bus_wait_msg(struct vsc_bus *bus, uint32_t msgtype, void *out, uint32_t cap, uint32_t *size,
		     uint32_t timeout_ms)
{
	struct vsc_match mt = { .type = msgtype };

	return vsc_wait(bus, &mt, out, cap, size, timeout_ms);
}

unsigned vsc_bus_poll_msgs(struct vsc_bus *bus)
{
	struct hv_message m;
	unsigned n = 0;

	vsc_pump(bus);
	while (bus->plat->msg_take(bus->plat->opaque, bus->vp, &m)) {
		(void)vsc_dispatch(bus, &m, NULL, NULL, 0, NULL);
		n++;
	}
	return n;
}

/* ---- connection ------------------------------------------------------------------------------------------- */

/* The interrupt page and the two monitor pages Linux allocates in vmbus_connect() (zeroed, once here). */
static int vsc_bus_alloc_pages(struct vsc_bus *bus)
{
	if (!bus->int_page_gpa)
		bus->int_page_gpa = bus->plat->alloc_pages(bus->plat->opaque, 1);
	for (unsigned i = 0; i < 2; i++) {
		if (!bus->monitor_page_gpa[i])
			bus->monitor_page_gpa[i] = bus->plat->alloc_pages(bus->plat->opaque, 1);
	}
	return bus->int_page_gpa && bus->monitor_page_gpa[0] && bus->monitor_page_gpa[1] ? 0 : -VSC_ENOMEM;
}

int vsc_bus_connect(struct vsc_bus *bus, const uint32_t *versions, unsigned count)
{
	int ret;

	if (!versions) {
		versions = vsc_linux_versions;
		count = sizeof(vsc_linux_versions) / sizeof(vsc_linux_versions[0]);
	}
	vsc_bus_forget(bus);
	ret = vsc_bus_alloc_pages(bus);
	if (ret)
		return ret;
	for (unsigned i = 0; i < count; i++) {
		uint32_t v = versions[i], conn;
		struct vmbus_channel_initiate_contact msg;
		struct vmbus_channel_version_response resp;
		struct vsc_match mt = { .type = CHANNELMSG_VERSION_RESPONSE };
		uint16_t st;

		memset(&msg, 0, sizeof(msg));
		msg.header.msgtype = CHANNELMSG_INITIATE_CONTACT;
		msg.vmbus_version_requested = v;
		msg.target_vcpu = bus->vp;
		if (v >= VERSION_WIN10_V5) {
			msg.u.s.msg_sint = VMBUS_MESSAGE_SINT;
			conn = VMBUS_MESSAGE_CONNECTION_ID_4;
		} else {
			msg.u.interrupt_page = bus->int_page_gpa;
			conn = VMBUS_MESSAGE_CONNECTION_ID;
		}
		msg.monitor_page1 = bus->monitor_page_gpa[0];
		msg.monitor_page2 = bus->monitor_page_gpa[1];
		bus->contact_attempts++;
		st = vsc_post_retry(bus, conn, &msg, sizeof(msg));
		if (st == HV_STATUS_INVALID_CONNECTION_ID)
			continue; /* an old host without connection 4: Linux tries the next version at once */
		if (st != HV_STATUS_SUCCESS)
			return -VSC_EIO;
		memset(&resp, 0, sizeof(resp));
		ret = vsc_wait(bus, &mt, &resp, sizeof(resp), NULL, 0);
		if (ret)
			return ret;
		bus->last_version_response = resp;
		if (resp.version_supported) {
			bus->version = v;
			bus->msg_conn_id = v >= VERSION_WIN10_V5 ? resp.msg_conn_id : VMBUS_MESSAGE_CONNECTION_ID;
			return 0;
		}
	}
	return -VSC_ECONNREFUSED;
}

int vsc_bus_request_offers(struct vsc_bus *bus)
{
	struct vmbus_channel_message_header msg = { .msgtype = CHANNELMSG_REQUESTOFFERS };
	struct vsc_match mt = { .type = CHANNELMSG_ALLOFFERS_DELIVERED };

	bus->all_offers_delivered = false;
	if (vsc_post_msg(bus, &msg, sizeof(msg)))
		return -VSC_EIO;
	return vsc_wait(bus, &mt, NULL, 0, NULL, 0);
}

int vsc_bus_unload(struct vsc_bus *bus)
{
	struct vmbus_channel_message_header msg = { .msgtype = CHANNELMSG_UNLOAD };
	struct vsc_match mt = { .type = CHANNELMSG_UNLOAD_RESPONSE };
	int ret = 0;

	/* Linux vmbus_initiate_unload(): "Pre-Win2012R2 hosts don't support reconnect", no UNLOAD below 3.0. */
	if (bus->version >= VERSION_WIN8_1) {
		if (vsc_post_msg(bus, &msg, sizeof(msg)))
			ret = -VSC_EIO;
		else
			ret = vsc_wait(bus, &mt, NULL, 0, NULL, 0);
	}
	vsc_bus_forget(bus);
	return ret;
}

/* ---- GPADLs ----------------------------------------------------------------------------------------------- */

/* GPADL_TEARDOWN @handle and wait for its GPADL_TORNDOWN. */
static int vsc_gpadl_teardown_msg(struct vsc_bus *bus, uint32_t relid, uint32_t handle)
{
	struct vmbus_channel_gpadl_teardown msg = { .header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
						    .child_relid = relid,
						    .gpadl = handle };
	struct vsc_match mt = { .type = CHANNELMSG_GPADL_TORNDOWN, .off1 = 8, .val1 = handle, .watch_relid = relid };
	int ret;

	if (vsc_post_msg(bus, &msg, sizeof(msg)))
		return -VSC_EIO;
	ret = vsc_wait(bus, &mt, NULL, 0, NULL, 0);
	return ret == -VSC_ENODEV ? 0 : ret; /* Linux: a rescind wakes the waiter, and that is success */
}

int vsc_gpadl_create(struct vsc_bus *bus, uint32_t relid, uint64_t gpa, uint32_t pages, uint32_t *handle)
{
	union {
		struct vmbus_channel_gpadl_header h;
		uint8_t b[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
	} hdr;
	union {
		struct vmbus_channel_gpadl_body body;
		uint8_t b[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
	} body;
	struct vmbus_channel_gpadl_created created;
	struct vsc_match mt = { .type = CHANNELMSG_GPADL_CREATED, .off1 = 8, .val1 = relid, .off2 = 12,
				.watch_relid = relid };
	uint64_t pfn0 = gpa / VSC_PAGE_SIZE, pfn;
	uint32_t n, done, h;
	int ret;

	if (!pages || (gpa & (VSC_PAGE_SIZE - 1)) || 8ull + 8ull * pages > 0xFFFFu ||
	    (uint64_t)pages * VSC_PAGE_SIZE > 0xFFFFFFFFull)
		return -VSC_EINVAL;
	h = bus->next_gpadl++; /* Linux takes the handle before anything can fail */
	mt.val2 = h;
	/* Linux create_gpadl_header(): one range, byte_offset 0, byte_count = size, the first 26 PFNs. */
	n = pages < VMBUS_GPADL_HEADER_MAX_PFNS ? pages : VMBUS_GPADL_HEADER_MAX_PFNS;
	memset(&hdr, 0, sizeof(hdr));
	hdr.h.header.msgtype = CHANNELMSG_GPADL_HEADER;
	hdr.h.child_relid = relid;
	hdr.h.gpadl = h;
	hdr.h.range_buflen = (uint16_t)(sizeof(struct gpa_range) + pages * sizeof(uint64_t));
	hdr.h.rangecount = 1;
	{
		struct gpa_range r = { .byte_count = pages * VSC_PAGE_SIZE, .byte_offset = 0 };

		memcpy(hdr.b + sizeof(struct vmbus_channel_gpadl_header), &r, sizeof(r));
	}
	for (uint32_t i = 0; i < n; i++) {
		pfn = pfn0 + i;
		memcpy(hdr.b + sizeof(struct vmbus_channel_gpadl_header) + sizeof(struct gpa_range) + 8 * i, &pfn, 8);
	}
	if (vsc_post_msg(bus, &hdr, (uint32_t)(sizeof(struct vmbus_channel_gpadl_header) + sizeof(struct gpa_range) +
					       8 * n)))
		return -VSC_EIO;
	/* The rest in bodies of up to 28 PFNs; msgnumber stays 0 as in Linux. */
	for (done = n; done < pages; done += n) {
		n = pages - done < VMBUS_GPADL_BODY_MAX_PFNS ? pages - done : VMBUS_GPADL_BODY_MAX_PFNS;
		memset(&body, 0, sizeof(body));
		body.body.header.msgtype = CHANNELMSG_GPADL_BODY;
		body.body.gpadl = h;
		for (uint32_t i = 0; i < n; i++) {
			pfn = pfn0 + done + i;
			memcpy(body.b + sizeof(struct vmbus_channel_gpadl_body) + 8 * i, &pfn, 8);
		}
		if (vsc_post_msg(bus, &body, (uint32_t)(sizeof(struct vmbus_channel_gpadl_body) + 8 * n)))
			return -VSC_EIO;
	}
	memset(&created, 0, sizeof(created));
	ret = vsc_wait(bus, &mt, &created, sizeof(created), NULL, 0);
	if (ret)
		return ret;
	if (created.creation_status)
		return -VSC_EIO;
	*handle = h;
	return 0;
}

int vsc_gpadl_teardown(struct vsc_bus *bus, uint32_t relid, uint32_t handle)
{
	const struct vsc_offer *o = vsc_bus_offer_by_relid(bus, relid);

	/* Linux vmbus_teardown_gpadl(): nothing is posted for a rescinded channel. */
	if (o && o->rescinded)
		return 0;
	return vsc_gpadl_teardown_msg(bus, relid, handle);
}

/* ---- channels --------------------------------------------------------------------------------------------- */

/* Linux hv_ringbuffer_init(): indices 0, feature_bits = pending_send_sz supported. */
static void vsc_ring_init(volatile struct hv_ring_buffer *hdr)
{
	hdr->write_index = 0;
	hdr->read_index = 0;
	hdr->interrupt_mask = 0;
	hdr->pending_send_sz = 0;
	hdr->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
}

int vsc_channel_open(struct vsc_bus *bus, struct vsc_channel *ch, uint32_t relid, uint32_t send_bytes,
		     uint32_t recv_bytes, uint32_t target_vp)
{
	struct vsc_offer *o = vsc_bus_offer_by_relid(bus, relid);
	struct vmbus_channel_open_channel msg;
	struct vmbus_channel_open_result res;
	struct vsc_match mt = { .type = CHANNELMSG_OPENCHANNEL_RESULT, .off1 = 8, .val1 = relid, .off2 = 12,
				.val2 = relid, .watch_relid = relid };
	uint32_t send_pages = send_bytes / VSC_PAGE_SIZE, recv_pages = recv_bytes / VSC_PAGE_SIZE, gpadl;
	uint8_t *base;
	uint64_t gpa;
	int ret;

	memset(ch, 0, sizeof(*ch));
	ch->bus = bus;
	ch->relid = relid;
	if (!o || o->rescinded)
		return -VSC_ENOENT;
	if (o->open || send_pages < 2 || recv_pages < 2 || (send_bytes | recv_bytes) & (VSC_PAGE_SIZE - 1))
		return -VSC_EINVAL;
	gpa = bus->plat->alloc_pages(bus->plat->opaque, send_pages + recv_pages);
	if (!gpa)
		return -VSC_ENOMEM;
	base = bus->plat->gpa_to_ptr(bus->plat->opaque, gpa, (uint64_t)(send_pages + recv_pages) * VSC_PAGE_SIZE);
	if (!base)
		return -VSC_EFAULT;
	/* __vmbus_open(): the GPADL first, then the ring headers, then OPENCHANNEL. */
	ret = vsc_gpadl_create(bus, relid, gpa, send_pages + recv_pages, &gpadl);
	if (ret)
		return ret;
	ch->conn_id = o->msg.connection_id;
	ch->monitor_allocated = o->msg.monitor_allocated & 1;
	ch->dedicated_interrupt = o->msg.is_dedicated_interrupt & 1;
	ch->monitorid = o->msg.monitorid;
	ch->target_vp = target_vp;
	ch->gpadl = gpadl;
	ch->ring_gpa = gpa;
	ch->send_pages = send_pages;
	ch->recv_pages = recv_pages;
	ch->out_hdr = (volatile struct hv_ring_buffer *)(void *)base;
	ch->out_data = base + VMBUS_RING_HEADER_BYTES;
	ch->out_size = (send_pages - 1) * VSC_PAGE_SIZE;
	ch->in_hdr = (volatile struct hv_ring_buffer *)(void *)(base + (size_t)send_pages * VSC_PAGE_SIZE);
	ch->in_data = base + (size_t)send_pages * VSC_PAGE_SIZE + VMBUS_RING_HEADER_BYTES;
	ch->in_size = (recv_pages - 1) * VSC_PAGE_SIZE;
	vsc_ring_init(ch->out_hdr);
	vsc_ring_init(ch->in_hdr);
	vsc_mb();

	memset(&msg, 0, sizeof(msg));
	msg.header.msgtype = CHANNELMSG_OPENCHANNEL;
	msg.child_relid = relid;
	msg.openid = relid;
	msg.ringbuffer_gpadlhandle = gpadl;
	msg.target_vp = target_vp;
	msg.downstream_ringbuffer_pageoffset = send_pages;
	if (vsc_post_msg(bus, &msg, sizeof(msg))) {
		ret = -VSC_EIO;
		goto teardown;
	}
	memset(&res, 0, sizeof(res));
	ret = vsc_wait(bus, &mt, &res, sizeof(res), NULL, 0);
	if (ret)
		goto teardown;
	if (res.status) {
		ret = -VSC_EIO; /* Linux: -EAGAIN, and the GPADL goes */
		goto teardown;
	}
	ch->open = true;
	o->open = true;
	return 0;

teardown:
	if (ret != -VSC_ETIMEDOUT)
		(void)vsc_gpadl_teardown(bus, relid, gpadl);
	return ret;
}

int vsc_channel_close(struct vsc_channel *ch)
{
	struct vsc_bus *bus = ch->bus;
	struct vmbus_channel_relid_message msg = { .header.msgtype = CHANNELMSG_CLOSECHANNEL,
						   .child_relid = ch->relid };
	struct vsc_offer *o;
	int ret;

	if (!ch->open)
		return -VSC_EINVAL;
	ch->open = false;
	o = vsc_bus_offer_by_relid(bus, ch->relid);
	if (o)
		o->open = false;
	if (vsc_post_msg(bus, &msg, sizeof(msg)))
		return -VSC_EIO; /* Linux: "it is perhaps better to leak memory" */
	if (o && o->rescinded) {
		vsc_release_relid(bus, o); /* the device is gone: hv_process_channel_removal() */
		return 0;
	}
	ret = vsc_gpadl_teardown_msg(bus, ch->relid, ch->gpadl);
	if (ret == 0)
		ch->gpadl = 0;
	return ret;
}

int vsc_channel_modify(struct vsc_channel *ch, uint32_t target_vp)
{
	struct vsc_bus *bus = ch->bus;
	struct vmbus_channel_modifychannel msg = { .header.msgtype = CHANNELMSG_MODIFYCHANNEL,
						   .child_relid = ch->relid,
						   .target_vp = target_vp };
	struct vmbus_channel_modifychannel_response res;
	struct vsc_match mt = { .type = CHANNELMSG_MODIFYCHANNEL_RESPONSE, .off1 = 8, .val1 = ch->relid,
				.watch_relid = ch->relid };
	int ret;

	if (!ch->open)
		return -VSC_EPIPE;
	if (bus->version < VERSION_WIN10_V4_1)
		return -VSC_EIO; /* target_cpu_store() */
	if (vsc_post_msg(bus, &msg, sizeof(msg)))
		return -VSC_EIO;
	if (bus->version >= VERSION_WIN10_V5_3) {
		memset(&res, 0, sizeof(res));
		ret = vsc_wait(bus, &mt, &res, sizeof(res), NULL, 0);
		if (ret)
			return ret;
		if (res.status)
			return -VSC_EAGAIN;
	}
	ch->target_vp = target_vp;
	return 0;
}

/* ---- rings ------------------------------------------------------------------------------------------------ */

/* Bytes the producer may still write: Linux hv_get_bytes_to_write(). */
static uint32_t vsc_ring_free(uint32_t w, uint32_t r, uint32_t size)
{
	return w >= r ? size - (w - r) : r - w;
}

/* Bytes waiting for the consumer. */
static uint32_t vsc_ring_used(uint32_t w, uint32_t r, uint32_t size)
{
	return w >= r ? w - r : size - r + w;
}

/* Copy @n bytes into the ring at *@pos (wrapping); *@pos advances. @src NULL writes zeroes (n <= 8). */
static void vsc_ring_put(uint8_t *data, uint32_t size, uint32_t *pos, const void *src, uint32_t n)
{
	const uint8_t *s = src ? src : vsc_zeroes;
	uint32_t first = size - *pos < n ? size - *pos : n;

	memcpy(data + *pos, s, first);
	if (n > first)
		memcpy(data, s + first, n - first);
	*pos = (*pos + n) % size;
}

/* Copy @n bytes out of the ring from @pos (wrapping). */
static void vsc_ring_get(const uint8_t *data, uint32_t size, uint32_t pos, void *dst, uint32_t n)
{
	uint32_t first = size - pos < n ? size - pos : n;

	memcpy(dst, data + pos, first);
	if (n > first)
		memcpy((uint8_t *)dst + first, data, n - first);
}

/* Linux vmbus_setevent()/vmbus_set_event(): tell the host this channel has news. */
static void vsc_setevent(struct vsc_channel *ch)
{
	const struct vsc_platform *plat = ch->bus->plat;

	if (!ch->dedicated_interrupt || ch->monitor_allocated) {
		/* The relid's bit in the "send" half of the interrupt page (vmbus_send_interrupt()). */
		volatile uint32_t *w = plat->gpa_to_ptr(plat->opaque, ch->bus->int_page_gpa + VSC_PAGE_SIZE / 2,
							VSC_PAGE_SIZE / 2);

		if (w)
			__atomic_fetch_or(&w[ch->relid / 32], 1u << (ch->relid % 32), __ATOMIC_SEQ_CST);
	}
	if (ch->monitor_allocated) {
		/* Monitor page 2 (child -> parent): trigger_group[id / 32].pending bit id % 32; no hypercall. */
		volatile uint32_t *pending = plat->gpa_to_ptr(plat->opaque, ch->bus->monitor_page_gpa[1] + 8 +
							      8 * (uint64_t)(ch->monitorid / 32), 4);

		if (pending)
			__atomic_fetch_or(pending, 1u << (ch->monitorid % 32), __ATOMIC_SEQ_CST);
		return;
	}
	ch->signals++;
	(void)plat->signal_event(plat->opaque, ch->bus->vp, ch->conn_id);
}

static bool vsc_channel_rescinded(struct vsc_channel *ch)
{
	const struct vsc_offer *o = vsc_bus_offer_by_relid(ch->bus, ch->relid);

	return o && o->rescinded;
}

int vsc_channel_send(struct vsc_channel *ch, uint16_t type, uint16_t flags, uint64_t trans_id, const void *desc,
		     uint32_t desc_len, const void *data, uint32_t len)
{
	struct vmpacket_descriptor d;
	uint32_t off, total, w, r, pos;
	uint64_t trailer;

	if (!ch->open)
		return -VSC_EPIPE;
	if (vsc_channel_rescinded(ch))
		return -VSC_ENODEV;
	if (desc_len > 0x7FFF8u || len > 0x7FFF8u)
		return -VSC_EMSGSIZE;
	off = VSC_PKT_DESC_BYTES + vsc_align8(desc_len);
	total = vsc_align8(off + len);
	if (total / 8 > 0xFFFFu)
		return -VSC_EMSGSIZE;
	w = ch->out_hdr->write_index;
	r = ch->out_hdr->read_index;
	if (w >= ch->out_size || r >= ch->out_size || ((w | r) & 7))
		return -VSC_EPROTO;
	/* hv_ringbuffer_write(): the ring is never filled completely, so "full" and "empty" differ. */
	if (vsc_ring_free(w, r, ch->out_size) <= total + VMBUS_PACKET_TRAILER_BYTES)
		return -VSC_EAGAIN;
	d.type = type;
	d.offset8 = (uint16_t)(off / 8);
	d.len8 = (uint16_t)(total / 8);
	d.flags = flags;
	d.trans_id = trans_id;
	pos = w;
	vsc_ring_put(ch->out_data, ch->out_size, &pos, &d, sizeof(d));
	if (desc_len)
		vsc_ring_put(ch->out_data, ch->out_size, &pos, desc, desc_len);
	if (off - VSC_PKT_DESC_BYTES - desc_len)
		vsc_ring_put(ch->out_data, ch->out_size, &pos, NULL, off - VSC_PKT_DESC_BYTES - desc_len);
	if (len)
		vsc_ring_put(ch->out_data, ch->out_size, &pos, data, len);
	if (total - off - len)
		vsc_ring_put(ch->out_data, ch->out_size, &pos, NULL, total - off - len);
	trailer = (uint64_t)w << 32;
	vsc_ring_put(ch->out_data, ch->out_size, &pos, &trailer, sizeof(trailer));
	vsc_mb(); /* the packet before the index */
	ch->out_hdr->write_index = pos;
	/* hv_signal_on_write(): only if the host does not mask us and had read everything before this write. */
	vsc_mb();
	if (ch->out_hdr->interrupt_mask)
		return 0;
	vsc_mb();
	if (w == ch->out_hdr->read_index)
		vsc_setevent(ch);
	return 0;
}

int vsc_channel_send_inband(struct vsc_channel *ch, uint64_t trans_id, const void *data, uint32_t len)
{
	return vsc_channel_send(ch, VM_PKT_DATA_INBAND, trans_id ? VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED : 0,
				trans_id, NULL, 0, data, len);
}

int vsc_channel_recv(struct vsc_channel *ch, void *buf, uint32_t cap, struct vsc_packet *pkt)
{
	struct vmpacket_descriptor d;
	uint32_t w, r, avail, len, off, nr, pending, free_now;

	if (!ch->open)
		return -VSC_EPIPE;
	w = ch->in_hdr->write_index;
	r = ch->in_hdr->read_index;
	if (w >= ch->in_size || r >= ch->in_size || ((w | r) & 7))
		return -VSC_EPROTO;
	avail = vsc_ring_used(w, r, ch->in_size);
	if (avail < sizeof(d))
		return -VSC_EAGAIN; /* hv_pkt_iter_first(): less than a descriptor is nothing */
	vsc_mb(); /* the index before the data */
	vsc_ring_get(ch->in_data, ch->in_size, r, &d, sizeof(d));
	len = (uint32_t)d.len8 * 8;
	off = (uint32_t)d.offset8 * 8;
	if (off < sizeof(d) || off > len || len + VMBUS_PACKET_TRAILER_BYTES > avail)
		return -VSC_EPROTO;
	if (len > cap)
		return -VSC_EMSGSIZE;
	vsc_ring_get(ch->in_data, ch->in_size, r, buf, len);
	nr = (r + len + VMBUS_PACKET_TRAILER_BYTES) % ch->in_size;
	vsc_mb(); /* hv_pkt_iter_close(): the copy before the index */
	ch->in_hdr->read_index = nr;
	if (pkt) {
		pkt->type = d.type;
		pkt->flags = d.flags;
		pkt->trans_id = d.trans_id;
		pkt->data = (const uint8_t *)buf + off;
		pkt->data_len = len - off;
		pkt->total_len = len;
	}
	/* Signal a host waiting for room once the free space crosses its pending_send_sz. */
	if (!(ch->in_hdr->feature_bits & VMBUS_RING_FEAT_PENDING_SEND_SZ))
		return (int)len;
	vsc_mb();
	pending = ch->in_hdr->pending_send_sz;
	if (!pending)
		return (int)len;
	vsc_mb();
	w = ch->in_hdr->write_index;
	free_now = w < ch->in_size ? vsc_ring_free(w, nr, ch->in_size) : 0;
	/* u32 arithmetic as in Linux: "was already above" also when the writer moved meanwhile. */
	if (free_now - (len + VMBUS_PACKET_TRAILER_BYTES) > pending)
		return (int)len;
	if (free_now <= pending)
		return (int)len;
	ch->pending_signals++;
	vsc_setevent(ch);
	return (int)len;
}

int vsc_channel_recv_wait(struct vsc_channel *ch, void *buf, uint32_t cap, struct vsc_packet *pkt,
			  uint32_t timeout_ms)
{
	const struct vsc_platform *plat = ch->bus->plat;
	uint64_t deadline = vsc_now(ch->bus) + (timeout_ms ? timeout_ms : VSC_WAIT_MS);
	int ret;

	for (;;) {
		if (plat->event_test_clear && plat->event_test_clear(plat->opaque, ch->target_vp, ch->relid))
			ch->events++;
		ret = vsc_channel_recv(ch, buf, cap, pkt);
		if (ret != -VSC_EAGAIN)
			return ret;
		if (vsc_now(ch->bus) > deadline)
			return -VSC_ETIMEDOUT;
		vsc_pump(ch->bus);
	}
}

uint32_t vsc_channel_in_avail(const struct vsc_channel *ch)
{
	uint32_t w, r;

	if (!ch->in_hdr || !ch->in_size)
		return 0;
	w = ch->in_hdr->write_index;
	r = ch->in_hdr->read_index;
	if (w >= ch->in_size || r >= ch->in_size)
		return 0;
	return vsc_ring_used(w, r, ch->in_size);
}

uint32_t vsc_channel_out_free(const struct vsc_channel *ch)
{
	uint32_t w, r;

	if (!ch->out_hdr || !ch->out_size)
		return 0;
	w = ch->out_hdr->write_index;
	r = ch->out_hdr->read_index;
	if (w >= ch->out_size || r >= ch->out_size)
		return 0;
	return vsc_ring_free(w, r, ch->out_size);
}
