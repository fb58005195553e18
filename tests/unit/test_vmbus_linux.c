// SPDX-License-Identifier: MIT
/*
 * Unit tests of the VMBus server (vmbus/vmbus.h) against the byte sequences the unmodified Linux 6.1 hv_vmbus
 * driver produces, built here by hand at Linux's offsets (not with our wire structs, so a layout slip in
 * include/openhv/vmbus.h shows too), and checked byte for byte against what Linux reads back:
 *  - vmbus_connect() / vmbus_negotiate_version() for every version Linux proposes (connection 4 + msg_sint from
 *    5.0, connection 1 + interrupt page below), VERSION_RESPONSE and the msg_conn_id Linux uses afterwards,
 *    vmbus_request_offers() and the OFFERCHANNEL fields vmbus_onoffer() / vmbus_setevent() use;
 *  - __vmbus_open() of a storvsc-sized ring: GPADL_HEADER with 26 PFNs + two GPADL_BODYs, hv_ringbuffer_init(),
 *    OPENCHANNEL; a packet as hv_ringbuffer_write() writes it and hv_signal_on_write()'s HvSignalEvent; the
 *    host's answer as hv_pkt_iter_first() reads it; MODIFYCHANNEL at 5.3; vmbus_close_internal();
 *  - hot-remove and re-add of a device with the same instance id: vmbus_onoffer() finds primaries by instance
 *    (find_primary_channel_by_offer()), so the new offer must wait for the old relid's RELID_RELEASED;
 *  - uio_hv_generic's vmbus_connect_ring(): the same ring pages opened again, headers re-initialised only as far
 *    as hv_ringbuffer_init() goes;
 *  - vmbus_wait_for_unload(): UNLOAD from another CPU while messages pile up, polled through the message pages.
 */
#include "vmbus_fixture.h"

static struct vmbfx fx;

static const struct vmbus_guid scsi_guid = HV_SCSI_GUID;
static const struct vmbus_guid nic_guid = HV_NIC_GUID;
static const struct vmbus_guid shutdown_guid = HV_SHUTDOWN_GUID;

#define LINUX_FIRST_GPADL 0xE1E10u /* vmbus_connection.next_gpadl_handle's first value */

/* ---- bytes ------------------------------------------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* HvPostMessage from VP @vp to @conn, as Linux vmbus_post_msg() (message type 1); must succeed. */
static void post(uint32_t vp, uint32_t conn, const uint8_t *msg, uint32_t size)
{
	assert_int_equal(fx.plat.post_message(&fx, vp, conn, VMBUS_CHANNEL_MESSAGE_TYPE, msg, size),
			 HV_STATUS_SUCCESS);
}

/* A message of header + one u32 field at offset 8 (CLOSECHANNEL, RELID_RELEASED) or header only (size 8). */
static void post_small(uint32_t conn, uint32_t msgtype, uint32_t relid, uint32_t size)
{
	uint8_t m[16] = { 0 };

	put32(m, msgtype);
	put32(m + 8, relid);
	post(0, conn, m, size);
}

/*
 * Let the server run, then take the message in VP @vp's SINT2 slot the way vmbus_on_msg_dpc() does (copy, free
 * the slot, EOM if MessagePending). It must be a channel message of @msgtype; its payload goes to @out (@cap
 * bytes). Returns payload_size.
 */
static uint32_t take(uint32_t vp, uint32_t msgtype, uint8_t *out, uint32_t cap)
{
	struct hv_message m;
	uint32_t size;

	vmbfx_settle(&fx);
	if (!vmbfx_take(&fx, vp, &m)) {
		print_error("VP%u: no message, expected type %u\n", vp, msgtype);
		fail();
	}
	assert_int_equal(m.header.message_type, VMBUS_CHANNEL_MESSAGE_TYPE);
	size = m.header.payload_size;
	assert_true(size >= 8 && size <= HV_MESSAGE_PAYLOAD_BYTE_COUNT);
	if (get32((const uint8_t *)m.payload) != msgtype)
		print_error("VP%u: message type %u, expected %u\n", vp, get32((const uint8_t *)m.payload), msgtype);
	assert_int_equal(get32((const uint8_t *)m.payload), msgtype);
	assert_int_equal(get32((const uint8_t *)m.payload + 4), 0); /* header padding */
	if (out)
		memcpy(out, m.payload, cap < size ? cap : size);
	return size;
}

/* Nothing more for VP @vp once the server is idle. */
static void expect_nothing(uint32_t vp)
{
	struct hv_message m;

	vmbfx_settle(&fx);
	if (vmbfx_take(&fx, vp, &m)) {
		print_error("VP%u: unexpected message type %u\n", vp, get32((const uint8_t *)m.payload));
		fail();
	}
}

/* ---- Linux's connection ------------------------------------------------------------------------------------ */

/*
 * vmbus_negotiate_version(@version) from CPU 0 with VMBUS_CONNECT_CPU on VP @target_vcpu: the 40 bytes of
 * INITIATE_CONTACT, to connection 4 from 5.0 on. Checks the VERSION_RESPONSE on @target_vcpu and returns the
 * connection id Linux posts everything else to (msg_conn_id from 5.0 on, else 1).
 */
static uint32_t linux_contact(uint32_t version, uint32_t target_vcpu)
{
	uint8_t m[40] = { 0 }, r[16];
	uint64_t int_page = 0x7000, mon1 = 0x8000, mon2 = 0x9000; /* kernel pages: the host keeps them */
	uint32_t conn;

	put32(m, CHANNELMSG_INITIATE_CONTACT);
	put32(m + 8, version);
	put32(m + 12, target_vcpu);
	if (version >= VERSION_WIN10_V5)
		m[16] = VMBUS_MESSAGE_SINT; /* msg_sint; msg_vtl and the rest of the union stay 0 */
	else
		put64(m + 16, int_page);
	put64(m + 24, mon1);
	put64(m + 32, mon2);
	conn = version >= VERSION_WIN10_V5 ? VMBUS_MESSAGE_CONNECTION_ID_4 : VMBUS_MESSAGE_CONNECTION_ID;
	post(0, conn, m, sizeof(m));
	/* vmbus_onversion_response() needs 16 bytes; Linux reads version_supported and, from 5.0, msg_conn_id. */
	assert_int_equal(take(target_vcpu, CHANNELMSG_VERSION_RESPONSE, r, sizeof(r)), 16);
	assert_int_not_equal(r[8], 0);
	if (version < VERSION_WIN10_V5)
		return VMBUS_MESSAGE_CONNECTION_ID;
	/* Linux posts every later message to this id: it must be one the hypervisor routes to the server. */
	assert_true(get32(r + 12) == VMBUS_MESSAGE_CONNECTION_ID || get32(r + 12) == VMBUS_MESSAGE_CONNECTION_ID_4);
	return get32(r + 12);
}

/*
 * vmbus_request_offers(): 8 bytes of REQUESTOFFERS. Takes @n offers (196 bytes each) into @offers and the
 * ALLOFFERS_DELIVERED behind them.
 */
static void linux_request_offers(uint32_t conn, uint32_t vp, uint8_t (*offers)[196], unsigned n)
{
	uint8_t done[8];

	post_small(conn, CHANNELMSG_REQUESTOFFERS, 0, 8);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(take(vp, CHANNELMSG_OFFERCHANNEL, offers[i], 196), 196);
	assert_int_equal(take(vp, CHANNELMSG_ALLOFFERS_DELIVERED, done, sizeof(done)), 8);
}

/* The offer fields Linux uses (vmbus_setup_channel_state, vmbus_process_offer, vmbus_setevent), at its offsets. */
static void check_offer(const uint8_t *o, const struct vmbus_guid *class_id, uint16_t tag, uint32_t relid)
{
	struct vmbus_guid inst = vmbfx_instance(tag);

	assert_memory_equal(o + 8, class_id, 16);      /* offer.if_type */
	assert_memory_equal(o + 24, &inst, 16);        /* offer.if_instance */
	assert_int_equal(get16(o + 180), 0);           /* offer.sub_channel_index: a primary */
	assert_int_equal(get32(o + 184), relid);       /* child_relid */
	assert_int_equal(o[189] & 1, 0);               /* monitor_allocated: vmbus_setevent() uses HvSignalEvent */
	assert_int_equal(get16(o + 190) & 1, 1);       /* is_dedicated_interrupt: no bit in the interrupt page */
	/* connection_id: Linux's sig_event for HvSignalEvent; beside message connections 1 and 4 in one id space */
	assert_true(get32(o + 192) > VMBUS_MESSAGE_CONNECTION_ID_4 && get32(o + 192) <= HV_CONNECTION_ID_MASK);
}

/* The offer of @relid among @n taken offers. */
static const uint8_t *offer_by_relid(uint8_t (*offers)[196], unsigned n, uint32_t relid)
{
	for (unsigned i = 0; i < n; i++)
		if (get32(offers[i] + 184) == relid)
			return offers[i];
	print_error("no offer for relid %u\n", relid);
	fail();
	return NULL;
}

/* ---- Linux's channel open ---------------------------------------------------------------------------------- */

struct linux_ring {
	uint64_t gpa;      /* send ring pages, then receive ring pages (vmbus_alloc_ring) */
	uint32_t send_pages, recv_pages;
	uint32_t gpadl;
	struct hv_ring_buffer *out, *in; /* guest -> host (outbound), host -> guest (inbound) headers */
	uint8_t *out_data, *in_data;
	uint32_t out_size, in_size;
};

static void linux_ring_alloc(struct linux_ring *r, uint32_t send_pages, uint32_t recv_pages)
{
	memset(r, 0, sizeof(*r));
	r->send_pages = send_pages;
	r->recv_pages = recv_pages;
	r->gpa = fx.plat.alloc_pages(&fx, send_pages + recv_pages);
	assert_true(r->gpa != 0);
	r->out = vid_memory_ptr(fx.mem, r->gpa, (uint64_t)send_pages * 4096);
	r->in = vid_memory_ptr(fx.mem, r->gpa + (uint64_t)send_pages * 4096, (uint64_t)recv_pages * 4096);
	assert_non_null(r->out);
	assert_non_null(r->in);
	r->out_data = (uint8_t *)r->out + 4096;
	r->in_data = (uint8_t *)r->in + 4096;
	r->out_size = (send_pages - 1) * 4096;
	r->in_size = (recv_pages - 1) * 4096;
}

/*
 * __vmbus_establish_gpadl(HV_GPADL_RING) of @r as handle @gpadl: GPADL_HEADER with at most 26 PFNs (range_buflen
 * 8 + 8 * pages, byte_count = the whole size, byte_offset 0), then GPADL_BODYs of at most 28 PFNs; then the
 * GPADL_CREATED Linux matches on relid + handle, with status 0.
 */
static void linux_gpadl(uint32_t conn, uint32_t relid, struct linux_ring *r, uint32_t gpadl)
{
	uint32_t pages = r->send_pages + r->recv_pages, here = pages < 26 ? pages : 26, sent;
	uint8_t m[240] = { 0 }, c[20];

	put32(m, CHANNELMSG_GPADL_HEADER);
	put32(m + 8, relid);
	put32(m + 12, gpadl);
	put16(m + 16, (uint16_t)(8 + 8 * pages)); /* range_buflen */
	put16(m + 18, 1);                          /* rangecount */
	put32(m + 20, pages * 4096);               /* range[0].byte_count */
	put32(m + 24, 0);                          /* range[0].byte_offset */
	for (uint32_t i = 0; i < here; i++)
		put64(m + 28 + 8 * i, r->gpa / 4096 + i);
	post(0, conn, m, 28 + 8 * here);
	for (sent = here; sent < pages;) {
		uint32_t n = pages - sent < 28 ? pages - sent : 28;

		memset(m, 0, sizeof(m));
		put32(m, CHANNELMSG_GPADL_BODY);
		put32(m + 8, 0); /* msgnumber: Linux leaves it 0 */
		put32(m + 12, gpadl);
		for (uint32_t i = 0; i < n; i++)
			put64(m + 16 + 8 * i, r->gpa / 4096 + sent + i);
		post(0, conn, m, 16 + 8 * n);
		sent += n;
	}
	assert_int_equal(take(0, CHANNELMSG_GPADL_CREATED, c, sizeof(c)), 20);
	assert_int_equal(get32(c + 8), relid);
	assert_int_equal(get32(c + 12), gpadl);
	assert_int_equal(get32(c + 16), 0); /* creation_status */
	r->gpadl = gpadl;
}

/* hv_ringbuffer_init() on both rings: indices 0 and feature_bits 1; interrupt_mask and pending_send_sz untouched. */
static void linux_ring_init(struct linux_ring *r)
{
	r->out->read_index = r->out->write_index = 0;
	r->out->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
	r->in->read_index = r->in->write_index = 0;
	r->in->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
}

/* The 148 bytes of OPENCHANNEL (openid = relid) and the OPENCHANNEL_RESULT matched on relid + openid: status. */
static uint32_t linux_open(uint32_t conn, uint32_t relid, const struct linux_ring *r, uint32_t target_vp)
{
	uint8_t m[148] = { 0 }, res[20];

	put32(m, CHANNELMSG_OPENCHANNEL);
	put32(m + 8, relid);
	put32(m + 12, relid); /* openid */
	put32(m + 16, r->gpadl);
	put32(m + 20, target_vp);
	put32(m + 24, r->send_pages); /* downstream_ringbuffer_pageoffset, in 4 KiB pages */
	post(0, conn, m, sizeof(m));
	assert_int_equal(take(0, CHANNELMSG_OPENCHANNEL_RESULT, res, sizeof(res)), 20);
	assert_int_equal(get32(res + 8), relid);
	assert_int_equal(get32(res + 12), relid);
	return get32(res + 16);
}

/* vmbus_close_internal(): CLOSECHANNEL, then vmbus_teardown_gpadl() and its GPADL_TORNDOWN (matched on handle). */
static void linux_close(uint32_t conn, uint32_t relid, const struct linux_ring *r)
{
	uint8_t m[16] = { 0 }, t[12];

	post_small(conn, CHANNELMSG_CLOSECHANNEL, relid, 12);
	put32(m, CHANNELMSG_GPADL_TEARDOWN);
	put32(m + 8, relid);
	put32(m + 12, r->gpadl);
	post(0, conn, m, sizeof(m));
	assert_int_equal(take(0, CHANNELMSG_GPADL_TORNDOWN, t, sizeof(t)), 12);
	assert_int_equal(get32(t + 8), r->gpadl);
}

/*
 * hv_ringbuffer_write() of an in-band packet (vmbus_sendpacket: offset8 2, len8 of the 8-aligned packet,
 * trailer = the old write index << 32), then hv_signal_on_write(): HvSignalEvent(@conn_id) from VP 0 if the host
 * does not mask and had read everything. Returns whether it signalled.
 */
static bool linux_send(struct linux_ring *r, uint32_t conn_id, uint64_t trans_id, const void *data, uint32_t len,
		       uint16_t flags)
{
	uint32_t old = r->out->write_index, total = (16 + len + 7) & ~7u, pos;
	uint8_t pkt[512] = { 0 };

	assert_true(total + 8 <= sizeof(pkt));
	put16(pkt, VM_PKT_DATA_INBAND);
	put16(pkt + 2, 2);
	put16(pkt + 4, (uint16_t)(total / 8));
	put16(pkt + 6, flags);
	put64(pkt + 8, trans_id);
	memcpy(pkt + 16, data, len);
	put64(pkt + total, (uint64_t)old << 32);
	for (uint32_t i = 0; i < total + 8; i++) /* the ring is not double-mapped here: wrap byte by byte */
		r->out_data[(old + i) % r->out_size] = pkt[i];
	pos = (old + total + 8) % r->out_size;
	__atomic_store_n(&r->out->write_index, pos, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&r->out->interrupt_mask, __ATOMIC_SEQ_CST))
		return false;
	if (__atomic_load_n(&r->out->read_index, __ATOMIC_SEQ_CST) != old)
		return false;
	assert_int_equal(fx.plat.signal_event(&fx, 0, conn_id), HV_STATUS_SUCCESS);
	return true;
}

/* ---- tests ------------------------------------------------------------------------------------------------- */

/*
 * vmbus_connect() as Linux runs it, once per version it can settle on (the others refused by max_version), with
 * VMBUS_CONNECT_CPU on VP 0 or 1: the answer lands on that VP, the msg_conn_id works, and the offers carry what
 * vmbus_onoffer() needs for HvSignalEvent signalling (no monitor page, dedicated interrupt, connection id).
 */
static void test_linux_connect_every_version(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 8; i++) {
		uint32_t version = vsc_linux_versions[i], vp = i % 2, conn, got;
		uint8_t offers[2][196];
		struct vmbfx_vsp *a, *b;

		vmbfx_init(&fx, 2, version);
		a = vmbfx_offer(&fx, scsi_guid, 1);
		b = vmbfx_offer(&fx, nic_guid, 2);
		/* Linux steps down from 5.3; every version above the cap is refused (version_supported 0). */
		for (unsigned k = 0; k < i; k++) {
			uint8_t m[40] = { 0 }, r[16];
			uint32_t v = vsc_linux_versions[k];

			put32(m, CHANNELMSG_INITIATE_CONTACT);
			put32(m + 8, v);
			put32(m + 12, vp);
			if (v >= VERSION_WIN10_V5)
				m[16] = VMBUS_MESSAGE_SINT;
			post(0, v >= VERSION_WIN10_V5 ? VMBUS_MESSAGE_CONNECTION_ID_4 : VMBUS_MESSAGE_CONNECTION_ID, m,
			     sizeof(m));
			assert_int_equal(take(vp, CHANNELMSG_VERSION_RESPONSE, r, sizeof(r)), 16);
			assert_int_equal(r[8], 0);
		}
		conn = linux_contact(version, vp);
		assert_int_equal(vmbfx_state(&fx, &got), VMBUS_STATE_CONNECTED);
		assert_int_equal(got, version);
		linux_request_offers(conn, vp, offers, 2);
		check_offer(offers[0], &scsi_guid, 1, vmbfx_relid(a));
		check_offer(offers[1], &nic_guid, 2, vmbfx_relid(b));
		expect_nothing(vp);
		expect_nothing(1 - vp);
		assert_int_equal(vmbfx_stats(&fx).messages_rejected, 0);
		vmbfx_fini(&fx);
	}
}

/*
 * A storvsc-sized open (VMBUS_RING_SIZE(128 KiB): 33 + 33 pages) byte by byte, a packet each way, MODIFYCHANNEL
 * at 5.3 (events move to the new VP), close.
 */
static void test_linux_open_send_close(void **state)
{
	static const char payload[] = "linux!!"; /* 7 bytes: padded to 8 in the ring */
	struct linux_ring r;
	struct vmbfx_vsp *v;
	uint32_t conn, relid, connid;
	uint8_t offer[1][196], mc[16], mr[16];
	const uint8_t *p;

	(void)state;
	vmbfx_init(&fx, 2, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	conn = linux_contact(VERSION_WIN10_V5_3, 0);
	linux_request_offers(conn, 0, offer, 1);
	relid = get32(offer[0] + 184);
	connid = get32(offer[0] + 192);

	linux_ring_alloc(&r, 33, 33);
	linux_gpadl(conn, relid, &r, LINUX_FIRST_GPADL); /* 66 PFNs: a 236-byte header, bodies of 240 and 112 */
	linux_ring_init(&r);
	assert_int_equal(linux_open(conn, relid, &r, 0), 0);
	assert_int_equal(v->opens, 1);
	assert_int_equal(v->open_target_vp, 0);

	/* Guest -> host: Linux signals (ring was empty, host not masking); the VSP takes it and echoes. */
	assert_true(linux_send(&r, connid, 0x1234, payload, 7, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED));
	vmbfx_settle(&fx);
	assert_int_equal(v->packets, 1);
	assert_int_equal(v->last_type, VM_PKT_DATA_INBAND);
	assert_int_equal(v->last_flags, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	assert_true(v->last_trans_id == 0x1234);
	assert_int_equal(v->last_len, 8);
	assert_memory_equal(v->last_data, payload, 7);
	/* The host consumed it all and shows it; it does not mask once idle (Linux's next write signals again). */
	assert_int_equal(r.out->read_index, 32);
	assert_int_equal(r.out->interrupt_mask, 0);

	/* Host -> guest: the completion as hv_pkt_iter_first() reads it, and the event on VP 0's SIEF, bit relid. */
	assert_int_equal(r.in->write_index, 32);
	p = r.in_data;
	assert_int_equal(get16(p), VM_PKT_COMP);
	assert_int_equal(get16(p + 2), 2);    /* offset8 */
	assert_int_equal(get16(p + 4), 3);    /* len8: 16 + 8 */
	assert_int_equal(get16(p + 6), 0);    /* flags */
	assert_true(get64(p + 8) == 0x1234);  /* trans_id: Linux's requestor looks it up */
	assert_memory_equal(p + 16, payload, 8);
	assert_true(get64(p + 24) == 0);      /* trailer: start offset 0 << 32 */
	assert_true(vmbfx_event_clear(&fx, 0, relid));
	assert_false(vmbfx_event_pending(&fx, 1, relid));
	/* hv_pkt_iter_close(): read index moved, pending_send_sz 0: no signal back. */
	r.in->read_index = 32;

	/* MODIFYCHANNEL (sysfs cpu): 16 bytes, the 5.3 answer matched on relid, events now to VP 1. */
	memset(mc, 0, sizeof(mc));
	put32(mc, CHANNELMSG_MODIFYCHANNEL);
	put32(mc + 8, relid);
	put32(mc + 12, 1);
	post(0, conn, mc, sizeof(mc));
	assert_int_equal(take(0, CHANNELMSG_MODIFYCHANNEL_RESPONSE, mr, sizeof(mr)), 16);
	assert_int_equal(get32(mr + 8), relid);
	assert_int_equal(get32(mr + 12), 0);
	assert_true(linux_send(&r, connid, 0x99, "abcdefgh", 8, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED));
	vmbfx_settle(&fx);
	assert_int_equal(v->packets, 2);
	assert_int_equal(r.in->write_index, 64);
	assert_true(get64(r.in_data + 32 + 24) == (uint64_t)32 << 32); /* trailer of a packet that starts at 32 */
	assert_true(vmbfx_event_clear(&fx, 1, relid));
	assert_false(vmbfx_event_pending(&fx, 0, relid));

	linux_close(conn, relid, &r);
	assert_int_equal(v->closes, 1);
	expect_nothing(0);
	expect_nothing(1);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, 0);
	vmbfx_fini(&fx);
}

/*
 * Hot-remove then re-add of a device with the same instance id (a VSP that restarts, a NIC removed and added
 * back). Linux keeps a rescinded channel on its list until hv_process_channel_removal() sends RELID_RELEASED, and
 * vmbus_onoffer() looks up every primary offer by instance alone: an offer that came earlier would be taken for
 * the old channel (hibernation re-offer path: WARN, relid patched, no device). So the new offer waits for the
 * release; a different class with the same instance waits as well; after a bus reset it goes out at once.
 */
static void test_linux_reoffer_same_instance_after_release(void **state)
{
	struct vmbfx_vsp *a, *b, *a2, *c, *c2, *a3;
	uint32_t conn, old_a, old_c;
	uint8_t offers[3][196], msg[196];

	(void)state;
	vmbfx_init(&fx, 1, 0);
	a = vmbfx_offer(&fx, scsi_guid, 1);
	b = vmbfx_offer(&fx, nic_guid, 2);
	c = vmbfx_offer(&fx, nic_guid, 3);
	conn = linux_contact(VERSION_WIN10_V5_3, 0);
	linux_request_offers(conn, 0, offers, 3);
	old_a = vmbfx_relid(a);
	old_c = vmbfx_relid(c);

	vmbus_channel_rescind(a->ch);
	assert_int_equal(take(0, CHANNELMSG_RESCIND_CHANNELOFFER, msg, 12), 12);
	assert_int_equal(get32(msg + 8), old_a);
	/* The guest is still tearing the device down (no RELID_RELEASED yet): the new device is not offered. */
	a2 = vmbfx_offer(&fx, scsi_guid, 1);
	assert_int_not_equal(vmbfx_relid(a2), old_a);
	expect_nothing(0);
	/* Same instance, another class: Linux's lookup ignores the class, so this one waits too. */
	vmbus_channel_rescind(c->ch);
	assert_int_equal(take(0, CHANNELMSG_RESCIND_CHANNELOFFER, msg, 12), 12);
	assert_int_equal(get32(msg + 8), old_c);
	c2 = vmbfx_offer(&fx, shutdown_guid, 3);
	expect_nothing(0);

	/* hv_process_channel_removal() of the old SCSI channel: now its successor is offered, and only it. */
	post_small(conn, CHANNELMSG_RELID_RELEASED, old_a, 12);
	assert_int_equal(take(0, CHANNELMSG_OFFERCHANNEL, msg, sizeof(msg)), 196);
	check_offer(msg, &scsi_guid, 1, vmbfx_relid(a2));
	expect_nothing(0);
	post_small(conn, CHANNELMSG_RELID_RELEASED, old_c, 12);
	assert_int_equal(take(0, CHANNELMSG_OFFERCHANNEL, msg, sizeof(msg)), 196);
	check_offer(msg, &shutdown_guid, 3, vmbfx_relid(c2));
	expect_nothing(0);

	/* Held at UNLOAD time: the reset forgets the rescinded channel, REQUESTOFFERS offers the new one. */
	vmbus_channel_rescind(a2->ch);
	assert_int_equal(take(0, CHANNELMSG_RESCIND_CHANNELOFFER, msg, 12), 12);
	a3 = vmbfx_offer(&fx, scsi_guid, 1);
	expect_nothing(0);
	post_small(conn, CHANNELMSG_UNLOAD, 0, 8);
	assert_int_equal(take(0, CHANNELMSG_UNLOAD_RESPONSE, msg, sizeof(msg)), 8);
	expect_nothing(0);
	conn = linux_contact(VERSION_WIN10_V5_3, 0);
	linux_request_offers(conn, 0, offers, 3); /* in relid order: a3 took the lowest free relid */
	check_offer(offer_by_relid(offers, 3, vmbfx_relid(b)), &nic_guid, 2, vmbfx_relid(b));
	check_offer(offer_by_relid(offers, 3, vmbfx_relid(c2)), &shutdown_guid, 3, vmbfx_relid(c2));
	check_offer(offer_by_relid(offers, 3, vmbfx_relid(a3)), &scsi_guid, 1, vmbfx_relid(a3));
	expect_nothing(0);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, 0);
	vmbfx_fini(&fx);
}

/*
 * uio_hv_generic allocates its ring once (vmbus_alloc_ring at probe) and opens it again on every open()
 * (vmbus_connect_ring): hv_ringbuffer_init() resets the indices and feature_bits only. The host-owned fields of
 * the previous open must not survive: here the server stopped the first channel mid-notify (a corrupt packet), so
 * its interrupt_mask was left set; after the re-open Linux's first packet must be signalled and served.
 */
static void test_linux_uio_reopen_same_ring(void **state)
{
	struct linux_ring r;
	struct vmbfx_vsp *v;
	uint32_t conn, relid, connid;
	uint8_t offer[1][196], bad[32] = { 0 };

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, nic_guid, 1);
	conn = linux_contact(VERSION_WIN10_V5_3, 0);
	linux_request_offers(conn, 0, offer, 1);
	relid = get32(offer[0] + 184);
	connid = get32(offer[0] + 192);
	linux_ring_alloc(&r, 4, 4);
	linux_gpadl(conn, relid, &r, LINUX_FIRST_GPADL);
	linux_ring_init(&r);
	assert_int_equal(linux_open(conn, relid, &r, 0), 0);

	/* A packet whose len8 overruns what was written: the server stops the channel inside notify. */
	put16(bad, VM_PKT_DATA_INBAND);
	put16(bad + 2, 2);
	put16(bad + 4, 200);
	memcpy(r.out_data, bad, sizeof(bad));
	__atomic_store_n(&r.out->write_index, 32, __ATOMIC_SEQ_CST);
	assert_int_equal(fx.plat.signal_event(&fx, 0, connid), HV_STATUS_SUCCESS);
	vmbfx_settle(&fx);
	assert_int_equal(vmbfx_stats(&fx).channels_broken, 1);
	assert_int_equal(r.out->interrupt_mask, 1); /* what the stopped channel leaves behind */
	r.in->pending_send_sz = 4096;               /* as if the host had waited for room when it closed */
	linux_close(conn, relid, &r);
	assert_int_equal(v->closes, 1);

	/* Open again on the same pages, with the next GPADL handle Linux takes. */
	linux_gpadl(conn, relid, &r, LINUX_FIRST_GPADL + 1);
	linux_ring_init(&r);
	assert_int_equal(linux_open(conn, relid, &r, 0), 0);
	assert_int_equal(v->opens, 2);
	assert_int_equal(r.out->interrupt_mask, 0); /* hv_signal_on_write() will signal */
	assert_int_equal(r.in->pending_send_sz, 0); /* hv_pkt_iter_close() will not signal for nothing */
	assert_true(linux_send(&r, connid, 7, "12345678", 8, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED));
	vmbfx_settle(&fx);
	assert_int_equal(v->packets, 1);
	assert_int_equal(v->replies, 1);
	assert_int_equal(r.in->write_index, 32);
	assert_true(vmbfx_event_clear(&fx, 0, relid));
	linux_close(conn, relid, &r);
	expect_nothing(0);
	vmbfx_fini(&fx);
}

/*
 * vmbus_initiate_unload(crash = true) on CPU 1 while CPU 0 (VMBUS_CONNECT_CPU) takes no messages any more: the
 * offers pile up in the SynIC queue. vmbus_wait_for_unload() polls every CPU's SINT2 slot, EOMing whatever is
 * there, until UNLOAD_RESPONSE; after it nothing more may come (the kdump kernel's message page starts empty).
 */
static void test_linux_crash_unload_polling(void **state)
{
	uint32_t conn;
	uint8_t m[8] = { 0 };
	bool done = false;
	unsigned seen = 0;

	(void)state;
	vmbfx_init(&fx, 2, 0);
	for (uint16_t i = 1; i <= 12; i++)
		vmbfx_offer(&fx, nic_guid, i);
	conn = linux_contact(VERSION_WIN10_V5_3, 0);
	post_small(conn, CHANNELMSG_REQUESTOFFERS, 0, 8);
	vmbfx_settle(&fx); /* nobody takes them */
	put32(m, CHANNELMSG_UNLOAD);
	post(1, conn, m, sizeof(m));
	for (unsigned loop = 0; loop < 1000 && !done; loop++) {
		vmbfx_settle(&fx);
		for (uint32_t vp = 0; vp < 2 && !done; vp++) {
			struct hv_message msg;

			if (!vmbfx_take(&fx, vp, &msg))
				continue;
			seen++;
			done = get32((const uint8_t *)msg.payload) == CHANNELMSG_UNLOAD_RESPONSE;
		}
	}
	assert_true(done);
	assert_int_equal(seen, 12 + 1 + 1); /* every offer and ALLOFFERS_DELIVERED came first, in order */
	expect_nothing(0);
	expect_nothing(1);
	assert_int_equal(vmbfx_state(&fx, NULL), VMBUS_STATE_DISCONNECTED);
	vmbfx_fini(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linux_connect_every_version),
		cmocka_unit_test(test_linux_open_send_close),
		cmocka_unit_test(test_linux_reoffer_same_instance_after_release),
		cmocka_unit_test(test_linux_uio_reopen_same_ring),
		cmocka_unit_test(test_linux_crash_unload_polling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
