// SPDX-License-Identifier: MIT
/*
 * Unit tests of the VMBus server (vmbus/vmbus.h), in-process with the guest client (guest/vsc): channels.
 * OPENCHANNEL success and every refusal (bad GPADL, GPADL of another channel, bad downstream offset, bad target_vp,
 * already open, VSP refusing, bogus relids), OPENCHANNEL_RESULT echoing relid and openid, CLOSECHANNEL,
 * MODIFYCHANNEL (MODIFYCHANNEL_RESPONSE only at 5.3) and where events go afterwards, TL_CONNECT_REQUEST
 * (guest-core.md 5.4-5.5, 5.7).
 */
#include "vmbus_fixture.h"

static struct vmbfx fx;

static const struct vmbus_guid scsi_guid = HV_SCSI_GUID;
static const struct vmbus_guid nic_guid = HV_NIC_GUID;
static const struct vmbus_guid kvp_guid = HV_KVP_GUID;

static void roundtrip(struct vsc_channel *ch, uint64_t trans_id)
{
	uint8_t buf[256];
	struct vsc_packet pkt;

	assert_int_equal(vsc_channel_send_inband(ch, trans_id, "12345678", 8), 0);
	assert_true(vsc_channel_recv_wait(ch, buf, sizeof(buf), &pkt, 2000) > 0);
	assert_int_equal(pkt.type, VM_PKT_COMP);
	assert_true(pkt.trans_id == trans_id);
	assert_int_equal(pkt.data_len, 8);
	assert_memory_equal(pkt.data, "12345678", 8);
}

/* Ring pages for a raw open: @pages zeroed pages (headers with indices 0) and their GPADL on @relid. */
static uint32_t ring_gpadl(uint32_t relid, uint32_t pages, uint64_t *gpa_out)
{
	uint64_t gpa = fx.plat.alloc_pages(&fx, pages);
	uint32_t h;

	assert_true(gpa != 0);
	assert_int_equal(vsc_gpadl_create(&fx.bus, relid, gpa, pages, &h), 0);
	if (gpa_out)
		*gpa_out = gpa;
	return h;
}

static void post_open(uint32_t relid, uint32_t openid, uint32_t gpadl, uint32_t target_vp, uint32_t downstream)
{
	struct vmbus_channel_open_channel m;

	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_OPENCHANNEL;
	m.child_relid = relid;
	m.openid = openid;
	m.ringbuffer_gpadlhandle = gpadl;
	m.target_vp = target_vp;
	m.downstream_ringbuffer_pageoffset = downstream;
	vmbfx_post_ok(&fx, &m, sizeof(m));
}

/* An OPENCHANNEL that must fail: OPENCHANNEL_RESULT with the relid/openid echoed and a non-zero status. */
static void expect_open_failed(uint32_t relid, uint32_t openid)
{
	struct vmbus_channel_open_result r;

	vmbfx_expect_msg(&fx, CHANNELMSG_OPENCHANNEL_RESULT, &r, sizeof(r));
	assert_int_equal(r.child_relid, relid);
	assert_int_equal(r.openid, openid);
	assert_int_not_equal(r.status, 0);
}

static void test_open_close(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	struct vmbus_channel_gpadl_torndown td;

	(void)state;
	vmbfx_init(&fx, 2, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	assert_false(vmbus_channel_is_open(v->ch));
	vmbfx_open(&fx, v, &ch, 4, 1);
	assert_int_equal(v->open_target_vp, 1);
	assert_int_equal(vmbus_channel_target_vp(v->ch), 1);
	assert_true(ch.open);
	assert_int_equal(ch.out_size, 3 * 4096);
	assert_int_equal(ch.in_size, 3 * 4096);
	assert_int_equal(ch.out_hdr->feature_bits, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	roundtrip(&ch, 1);
	assert_int_equal(vsc_channel_close(&ch), 0);
	assert_int_equal(v->closes, 1);
	assert_false(vmbus_channel_is_open(v->ch));
	assert_int_equal(vmbus_channel_recv(v->ch, fx.rx, sizeof(fx.rx), &(struct vmbus_packet){ 0 }), -EPIPE);
	assert_int_equal(vmbus_channel_send_inband(v->ch, 0, "x", 1, false), -EPIPE);
	/* The ring GPADL is gone (vsc_channel_close waited for its GPADL_TORNDOWN); reopen on a new one. */
	vmbfx_open(&fx, v, &ch, 2, 0);
	assert_int_equal(v->opens, 2);
	roundtrip(&ch, 2);
	/* CLOSECHANNEL alone: closed, no answer; the GPADL stays until torn down. */
	{
		struct vmbus_channel_relid_message m = { .header.msgtype = CHANNELMSG_CLOSECHANNEL,
							 .child_relid = ch.relid };
		struct vmbus_channel_gpadl_teardown t = { .header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
							  .child_relid = ch.relid, .gpadl = ch.gpadl };

		vmbfx_post_ok(&fx, &m, sizeof(m));
		vmbfx_expect_no_msg(&fx);
		assert_int_equal(v->closes, 2);
		vmbfx_post_ok(&fx, &t, sizeof(t));
		vmbfx_expect_msg(&fx, CHANNELMSG_GPADL_TORNDOWN, &td, sizeof(td));
		assert_int_equal(td.gpadl, ch.gpadl);
	}
	/* CLOSECHANNEL of a closed channel: nothing happens. */
	{
		struct vmbus_channel_relid_message m = { .header.msgtype = CHANNELMSG_CLOSECHANNEL,
							 .child_relid = ch.relid };

		vmbfx_post_ok(&fx, &m, sizeof(m));
		vmbfx_expect_no_msg(&fx);
		assert_int_equal(v->closes, 2);
	}
	vmbfx_fini(&fx);
}

/* OPENCHANNEL_RESULT echoes the openid the guest chose (Linux: the relid; the protocol allows any). */
static void test_open_result_echoes_openid(void **state)
{
	struct vmbfx_vsp *v;
	struct vmbus_channel_open_result r;
	uint32_t h, relid;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	relid = vmbfx_relid(v);
	h = ring_gpadl(relid, 4, NULL);
	post_open(relid, 0x12345678, h, 0, 2);
	vmbfx_expect_msg(&fx, CHANNELMSG_OPENCHANNEL_RESULT, &r, sizeof(r));
	assert_int_equal(r.child_relid, relid);
	assert_int_equal(r.openid, 0x12345678);
	assert_int_equal(r.status, 0);
	assert_true(vmbus_channel_is_open(v->ch));
	vmbfx_fini(&fx);
}

static void test_open_refused_by_vsp(void **state)
{
	struct vmbfx_offer_opts refuse = { .open_ret = -EIO };
	struct vmbfx_vsp *v;
	struct vsc_channel ch;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer_ex(&fx, scsi_guid, 1, &refuse);
	vmbfx_connect(&fx);
	/* Linux: -EAGAIN from the status, then the GPADL is torn down (the client waits for GPADL_TORNDOWN). */
	assert_int_equal(vsc_channel_open(&fx.bus, &ch, vmbfx_relid(v), 8192, 8192, 0), -VSC_EIO);
	assert_int_equal(v->opens, 1);
	assert_false(vmbus_channel_is_open(v->ch));
	assert_int_equal(fx.bus.unexpected, 0);
	/* No guest signal reaches a channel that failed to open. */
	assert_int_not_equal(fx.plat.signal_event(&fx, 0, ch.conn_id), HV_STATUS_SUCCESS);
	vmbfx_settle(&fx);
	assert_int_equal(v->notifies, 0);
	/* Once the VSP accepts, the same channel opens. */
	v->open_ret = 0;
	vmbfx_open(&fx, v, &ch, 2, 0);
	roundtrip(&ch, 3);
	vmbfx_fini(&fx);
}

static void test_open_bad_gpadl(void **state)
{
	struct vmbfx_vsp *v, *w;
	uint32_t relid, other, incomplete = 0xBAD0;
	uint64_t pfns[26];

	(void)state;
	vmbfx_init_two(&fx, 1, &v, &w);
	relid = vmbfx_relid(v);
	/* No such GPADL. */
	post_open(relid, relid, 0xE1E10 + 77, 0, 2);
	expect_open_failed(relid, relid);
	/* The GPADL of another channel. */
	other = ring_gpadl(vmbfx_relid(w), 4, NULL);
	post_open(relid, relid, other, 0, 2);
	expect_open_failed(relid, relid);
	/* A GPADL still waiting for its bodies. */
	for (unsigned i = 0; i < 26; i++)
		pfns[i] = VMBFX_ALLOC_BASE / 4096 + i;
	{
		uint8_t buf[240];
		struct vmbus_channel_gpadl_header h = { .header.msgtype = CHANNELMSG_GPADL_HEADER, .child_relid = relid,
							.gpadl = incomplete, .range_buflen = 8 + 8 * 30,
							.rangecount = 1 };
		struct gpa_range r = { .byte_count = 30 * 4096 };

		memcpy(buf, &h, sizeof(h));
		memcpy(buf + sizeof(h), &r, sizeof(r));
		memcpy(buf + sizeof(h) + sizeof(r), pfns, sizeof(pfns));
		vmbfx_post_ok(&fx, buf, sizeof(h) + sizeof(r) + sizeof(pfns));
		vmbfx_expect_no_msg(&fx);
	}
	post_open(relid, relid, incomplete, 0, 2);
	expect_open_failed(relid, relid);
	/* A GPADL that does not start at a page boundary. */
	{
		uint8_t buf[240];
		struct vmbus_channel_gpadl_header h = { .header.msgtype = CHANNELMSG_GPADL_HEADER, .child_relid = relid,
							.gpadl = 0xBAD1, .range_buflen = 8 + 8 * 4, .rangecount = 1 };
		struct gpa_range r = { .byte_count = 3 * 4096, .byte_offset = 8 };

		memcpy(buf, &h, sizeof(h));
		memcpy(buf + sizeof(h), &r, sizeof(r));
		memcpy(buf + sizeof(h) + sizeof(r), pfns, 4 * 8);
		vmbfx_post_ok(&fx, buf, sizeof(h) + sizeof(r) + 4 * 8);
		vmbfx_expect_msg(&fx, CHANNELMSG_GPADL_CREATED, NULL, 0);
		post_open(relid, relid, 0xBAD1, 0, 2);
		expect_open_failed(relid, relid);
	}
	/* Too small for two rings of header + data. */
	post_open(relid, relid, ring_gpadl(relid, 3, NULL), 0, 2);
	expect_open_failed(relid, relid);
	assert_int_equal(v->opens, 0);
	assert_false(vmbus_channel_is_open(v->ch));
	vmbfx_fini(&fx);
}

static void test_open_bad_downstream_offset(void **state)
{
	static const uint32_t bad[] = { 0, 1, 5, 6, 7, 100, 0xFFFFFFFFu };
	struct vmbfx_vsp *v;
	uint32_t relid, h;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	relid = vmbfx_relid(v);
	h = ring_gpadl(relid, 6, NULL); /* valid offsets: 2, 3, 4 */
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		post_open(relid, relid, h, 0, bad[i]);
		expect_open_failed(relid, relid);
	}
	assert_int_equal(v->opens, 0);
	/* The same GPADL with offset 4 (3 + 1 ... 4 + 2 pages) opens. */
	post_open(relid, relid, h, 0, 4);
	{
		struct vmbus_channel_open_result r;

		vmbfx_expect_msg(&fx, CHANNELMSG_OPENCHANNEL_RESULT, &r, sizeof(r));
		assert_int_equal(r.status, 0);
	}
	assert_int_equal(v->opens, 1);
	vmbfx_fini(&fx);
}

/*
 * The largest ring is VMBUS_RING_MAX_PAGES (4097: header + 16 MiB of data, Linux VMBUS_RING_SIZE(16 MiB)), in
 * either direction; one page more is refused. Regression: OPENCHANNEL refused a ring of exactly 4097 pages.
 */
static void test_open_ring_max_pages(void **state)
{
	static const uint32_t ok_d[] = { 4097, 3 }; /* 4097 + 3 and 3 + 4097 pages */
	struct vmbfx_vsp *v;
	uint32_t relid, h;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	relid = vmbfx_relid(v);
	h = ring_gpadl(relid, 4100, NULL);
	post_open(relid, relid, h, 0, 4098); /* incoming ring of 4098 pages */
	expect_open_failed(relid, relid);
	post_open(relid, relid, h, 0, 2); /* outgoing ring of 4098 pages */
	expect_open_failed(relid, relid);
	assert_int_equal(v->opens, 0);
	for (unsigned i = 0; i < 2; i++) {
		struct vmbus_channel_open_result r;
		struct vmbus_channel_relid_message c = { .header.msgtype = CHANNELMSG_CLOSECHANNEL, .child_relid = relid };

		post_open(relid, relid, h, 0, ok_d[i]);
		vmbfx_expect_msg(&fx, CHANNELMSG_OPENCHANNEL_RESULT, &r, sizeof(r));
		assert_int_equal(r.status, 0);
		assert_int_equal(v->opens, i + 1);
		assert_true(vmbus_channel_is_open(v->ch));
		assert_int_equal(vmbus_channel_send_inband(v->ch, 1, "16 MiB", 6, false), 0);
		vmbfx_post_ok(&fx, &c, sizeof(c));
		vmbfx_settle(&fx);
		assert_int_equal(v->closes, i + 1);
	}
	vmbfx_fini(&fx);
}

static void test_open_bad_target_vp(void **state)
{
	static const uint32_t bad[] = { 2, 3, 64, 0xFFFFFFFFu };
	struct vmbfx_vsp *v;
	uint32_t relid, h;

	(void)state;
	vmbfx_init(&fx, 2, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	relid = vmbfx_relid(v);
	h = ring_gpadl(relid, 4, NULL);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		post_open(relid, relid, h, bad[i], 2);
		expect_open_failed(relid, relid);
	}
	assert_int_equal(v->opens, 0);
	vmbfx_fini(&fx);
}

/* A second OPENCHANNEL on an open channel is refused and leaves the open one working. */
static void test_open_already_open(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint64_t rejected;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	vmbfx_open(&fx, v, &ch, 2, 0);
	rejected = vmbfx_stats(&fx).messages_rejected;
	post_open(ch.relid, ch.relid, ring_gpadl(ch.relid, 4, NULL), 0, 2);
	vmbfx_expect_refusal(&fx, CHANNELMSG_OPENCHANNEL_RESULT, 16, rejected, NULL, 0);
	/* Same GPADL as the open one. */
	rejected = vmbfx_stats(&fx).messages_rejected;
	post_open(ch.relid, ch.relid, ch.gpadl, 0, 2);
	vmbfx_expect_refusal(&fx, CHANNELMSG_OPENCHANNEL_RESULT, 16, rejected, NULL, 0);
	assert_int_equal(v->opens, 1);
	assert_int_equal(v->closes, 0);
	roundtrip(&ch, 5);
	/* The client refuses to open what it has open (Linux: -EINVAL for a channel not in OPEN state). */
	{
		struct vsc_channel again;

		assert_int_equal(vsc_channel_open(&fx.bus, &again, ch.relid, 8192, 8192, 0), -VSC_EINVAL);
	}
	vmbfx_fini(&fx);
}

/* OPENCHANNEL for relids that are not offered channels: refused or dropped, nothing opens. */
static void test_open_bogus_relids(void **state)
{
	static const uint32_t relids[] = { 0, 9, 2047, 2048, 0xFFFFFFFFu };
	struct vmbfx_vsp *v;
	uint32_t h;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	h = ring_gpadl(vmbfx_relid(v), 4, NULL);
	for (unsigned i = 0; i < sizeof(relids) / sizeof(relids[0]); i++) {
		uint64_t rejected = vmbfx_stats(&fx).messages_rejected;
		struct vmbus_channel_open_result r;

		post_open(relids[i], relids[i], h, 0, 2);
		if (vmbfx_expect_refusal(&fx, CHANNELMSG_OPENCHANNEL_RESULT, 16, rejected, &r, sizeof(r)))
			assert_int_equal(r.child_relid, relids[i]);
	}
	assert_int_equal(v->opens, 0);
	/* The client: no offer, no open. */
	{
		struct vsc_channel ch;

		assert_int_equal(vsc_channel_open(&fx.bus, &ch, 9, 8192, 8192, 0), -VSC_ENOENT);
		assert_int_equal(vsc_channel_open(&fx.bus, &ch, vmbfx_relid(v), 4096, 8192, 0), -VSC_EINVAL);
		assert_int_equal(vsc_channel_open(&fx.bus, &ch, vmbfx_relid(v), 8192, 8000, 0), -VSC_EINVAL);
	}
	vmbfx_fini(&fx);
}

/* CLOSECHANNEL for relids that are not open channels: no answer, nothing closes. */
static void test_close_bogus(void **state)
{
	static const uint32_t relids[] = { 0, 9, 2048, 0xFFFFFFFFu };
	struct vmbfx_vsp *v, *w;
	struct vsc_channel ch;

	(void)state;
	vmbfx_init_two(&fx, 1, &v, &w);
	vmbfx_open(&fx, v, &ch, 2, 0);
	for (unsigned i = 0; i < sizeof(relids) / sizeof(relids[0]); i++) {
		struct vmbus_channel_relid_message m = { .header.msgtype = CHANNELMSG_CLOSECHANNEL,
							 .child_relid = relids[i] };

		vmbfx_post_ok(&fx, &m, sizeof(m));
		vmbfx_expect_no_msg(&fx);
	}
	{
		struct vmbus_channel_relid_message m = { .header.msgtype = CHANNELMSG_CLOSECHANNEL,
							 .child_relid = vmbfx_relid(w) };

		vmbfx_post_ok(&fx, &m, sizeof(m));
		vmbfx_expect_no_msg(&fx);
	}
	assert_int_equal(v->closes + w->closes, 0);
	roundtrip(&ch, 6);
	vmbfx_fini(&fx);
}

/* Several channels at once: each packet goes to its own VSP. */
static void test_channels_independent(void **state)
{
	struct vmbfx_vsp *v[3];
	struct vsc_channel ch[3];
	const struct vmbus_guid *classes[3] = { &scsi_guid, &nic_guid, &kvp_guid };

	(void)state;
	vmbfx_init(&fx, 2, 0);
	for (unsigned i = 0; i < 3; i++)
		v[i] = vmbfx_offer(&fx, *classes[i], (uint16_t)(i + 1));
	vmbfx_connect(&fx);
	for (unsigned i = 0; i < 3; i++)
		vmbfx_open(&fx, v[i], &ch[i], 2 + i, i % 2);
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned i = 0; i < 3; i++) {
			uint8_t msg[32];

			memset(msg, (int)(0x10 * i + round), sizeof(msg));
			assert_int_equal(vsc_channel_send_inband(&ch[i], 0, msg, sizeof(msg)), 0);
		}
		vmbfx_settle(&fx);
		for (unsigned i = 0; i < 3; i++) {
			assert_int_equal(v[i]->packets, round + 1);
			assert_int_equal(v[i]->last_len, 32);
			assert_int_equal(v[i]->last_data[0], 0x10 * i + round);
			assert_int_equal(v[i]->last_data[31], 0x10 * i + round);
		}
	}
	for (unsigned i = 0; i < 3; i++)
		roundtrip(&ch[i], 100 + i);
	assert_int_equal(vsc_channel_close(&ch[1]), 0);
	roundtrip(&ch[0], 200);
	roundtrip(&ch[2], 202);
	vmbfx_fini(&fx);
}

/* MODIFYCHANNEL at 5.3: answered; the channel's events go to the new VP. */
static void test_modify_53(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t buf[64];
	struct vsc_packet pkt;
	unsigned irq0, irq1;

	(void)state;
	vmbfx_init(&fx, 3, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	vmbfx_open(&fx, v, &ch, 2, 0);
	assert_int_equal(vsc_channel_modify(&ch, 2), 0);
	assert_int_equal(ch.target_vp, 2);
	assert_int_equal(vmbus_channel_target_vp(v->ch), 2);
	irq0 = vmbfx_interrupts(&fx, 0);
	irq1 = vmbfx_interrupts(&fx, 2);
	assert_int_equal(vmbus_channel_send_inband(v->ch, 0, "hello", 5, false), 0);
	assert_true(vmbfx_event_pending(&fx, 2, ch.relid));
	assert_false(vmbfx_event_pending(&fx, 0, ch.relid));
	assert_int_equal(vmbfx_interrupts(&fx, 2), irq1 + 1);
	assert_int_equal(vmbfx_interrupts(&fx, 0), irq0);
	assert_true(vsc_channel_recv_wait(&ch, buf, sizeof(buf), &pkt, 1000) > 0);
	assert_int_equal(ch.events, 1);
	assert_memory_equal(pkt.data, "hello", 5);

	/* A VP that does not exist: refused (status != 0), the target stays. */
	assert_int_equal(vsc_channel_modify(&ch, 3), -VSC_EAGAIN);
	assert_int_equal(vmbus_channel_target_vp(v->ch), 2);
	/* Unknown relid: refused, with the relid echoed, or dropped. */
	{
		struct vmbus_channel_modifychannel m = { .header.msgtype = CHANNELMSG_MODIFYCHANNEL,
							 .child_relid = 999, .target_vp = 1 };
		struct vmbus_channel_modifychannel_response r;
		uint64_t rejected = vmbfx_stats(&fx).messages_rejected;

		vmbfx_post_ok(&fx, &m, sizeof(m));
		if (vmbfx_expect_refusal(&fx, CHANNELMSG_MODIFYCHANNEL_RESPONSE, 12, rejected, &r, sizeof(r)))
			assert_int_equal(r.child_relid, 999);
	}
	/* Back to VP 0 */
	assert_int_equal(vsc_channel_modify(&ch, 0), 0);
	assert_int_equal(vmbus_channel_send_inband(v->ch, 0, "again", 5, false), 0);
	assert_true(vmbfx_event_pending(&fx, 0, ch.relid));
	vmbfx_fini(&fx);
}

/* Below 5.3 there is no MODIFYCHANNEL_RESPONSE, but the retarget happens (4.1, 5.0, 5.2). */
static void test_modify_without_response(void **state)
{
	static const uint32_t versions[] = { VERSION_WIN10_V4_1, VERSION_WIN10_V5, VERSION_WIN10_V5_2 };

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		struct vmbfx_vsp *v;
		struct vsc_channel ch;
		uint32_t ver = versions[i];

		vmbfx_init(&fx, 2, 0);
		v = vmbfx_offer(&fx, scsi_guid, 1);
		assert_int_equal(vsc_bus_connect(&fx.bus, &ver, 1), 0);
		assert_int_equal(vsc_bus_request_offers(&fx.bus), 0);
		vmbfx_open(&fx, v, &ch, 2, 0);
		assert_int_equal(vsc_channel_modify(&ch, 1), 0);
		vmbfx_expect_no_msg(&fx);
		assert_int_equal(vmbus_channel_target_vp(v->ch), 1);
		assert_int_equal(vmbus_channel_send_inband(v->ch, 0, "x", 1, false), 0);
		assert_true(vmbfx_event_pending(&fx, 1, ch.relid));
		assert_false(vmbfx_event_pending(&fx, 0, ch.relid));
		/* A refused one is silent too (the guest does not wait), and changes nothing. */
		{
			struct vmbus_channel_modifychannel m = { .header.msgtype = CHANNELMSG_MODIFYCHANNEL,
								 .child_relid = ch.relid, .target_vp = 5 };

			vmbfx_post_ok(&fx, &m, sizeof(m));
			vmbfx_expect_no_msg(&fx);
			assert_int_equal(vmbus_channel_target_vp(v->ch), 1);
		}
		vmbfx_fini(&fx);
	}
	/* Below 4.1 Linux does not even send it. */
	{
		struct vmbfx_vsp *v;
		struct vsc_channel ch;
		uint32_t ver = VERSION_WIN10;

		vmbfx_init(&fx, 2, 0);
		v = vmbfx_offer(&fx, scsi_guid, 1);
		assert_int_equal(vsc_bus_connect(&fx.bus, &ver, 1), 0);
		assert_int_equal(vsc_bus_request_offers(&fx.bus), 0);
		vmbfx_open(&fx, v, &ch, 2, 0);
		assert_int_equal(vsc_channel_modify(&ch, 1), -VSC_EIO);
		assert_int_equal(vmbus_channel_target_vp(v->ch), 0);
		vmbfx_fini(&fx);
	}
}

/* TL_CONNECT_REQUEST (hv_sock): without an hv_sock provider nothing is offered; no crash, the bus keeps working. */
static void test_tl_connect_request(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	struct vmbus_channel_tl_connect_request m;
	struct hv_message hm;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_TL_CONNECT_REQUEST;
	m.guest_endpoint_id = vmbfx_instance(0x4242);
	m.host_service_id = vmbfx_instance(0x4343);
	vmbfx_post_ok(&fx, &m, sizeof(m));
	vmbfx_settle(&fx);
	if (vmbfx_take(&fx, 0, &hm)) {
		uint32_t type;

		memcpy(&type, hm.payload, 4);
		assert_int_equal(type, CHANNELMSG_TL_CONNECT_RESULT); /* only a result, never an offer */
	}
	assert_int_equal(fx.bus.offer_count, 1);
	vmbfx_open(&fx, v, &ch, 2, 0);
	roundtrip(&ch, 9);
	vmbfx_fini(&fx);
}

/* A VSP may send from its open callback (IC VSPs negotiate first): the packet is there when the open completes,
 * and the guest is signalled (after OPENCHANNEL_RESULT, when it can look). */
static void send_on_open(struct vmbfx_vsp *v)
{
	assert_int_equal(vmbus_channel_send_inband(v->ch, 0x77, "negotiat", 8, true), 0);
}

static void test_send_from_open_callback(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t buf[64];
	struct vsc_packet pkt;
	uint64_t hs;

	(void)state;
	vmbfx_init(&fx, 2, 0);
	v = vmbfx_offer(&fx, kvp_guid, 1);
	v->open_hook = send_on_open;
	vmbfx_connect(&fx);
	hs = vmbfx_stats(&fx).host_signals;
	vmbfx_open(&fx, v, &ch, 2, 1);
	vmbfx_settle(&fx);
	assert_int_equal(vmbfx_stats(&fx).host_signals, hs + 1);
	assert_true(vmbfx_event_pending(&fx, 1, ch.relid));
	assert_int_equal(vsc_channel_recv(&ch, buf, sizeof(buf), &pkt), 24);
	assert_true(pkt.trans_id == 0x77);
	assert_int_equal(pkt.flags, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	assert_memory_equal(pkt.data, "negotiat", 8);
	vmbfx_fini(&fx);
}

/*
 * The host takes over the indices it owns from the headers the guest initialised (Linux: 0): the read_index of the
 * guest -> host ring and the write_index of the host -> guest ring. Unusable ones (out of range, misaligned) make
 * the open fail. (The guest's own indices are checked at every use: see the hostile-ring tests.)
 */
static void test_open_corrupt_ring_headers(void **state)
{
	static const struct {
		unsigned ring; /* 0: guest -> host (first pages), 1: host -> guest */
		uint32_t off;  /* write_index 0 or read_index 4 */
		uint32_t value;
	} cases[] = {
		{ 0, 4, 4096 }, { 0, 4, 4 }, { 0, 4, 0xFFFFFFF8u }, { 1, 0, 0xFFFFFFF8u }, { 1, 0, 4096 }, { 1, 0, 1 },
	};
	struct vmbfx_vsp *v;
	uint32_t relid;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	relid = vmbfx_relid(v);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t gpa;
		uint32_t h = ring_gpadl(relid, 4, &gpa);
		uint8_t *hdr = vid_memory_ptr(fx.mem, gpa + (cases[i].ring ? 2 * 4096 : 0), 4096);

		memcpy(hdr + cases[i].off, &cases[i].value, 4);
		post_open(relid, relid, h, 0, 2);
		expect_open_failed(relid, relid);
		assert_int_equal(v->opens, 0);
	}
	vmbfx_fini(&fx);
}

/* Channels open on two VPs at once: each channel's events go to its own VP. */
static void test_events_per_target_vp(void **state)
{
	struct vmbfx_vsp *a, *b;
	struct vsc_channel ca, cb;

	(void)state;
	vmbfx_init_two(&fx, 2, &a, &b);
	vmbfx_open(&fx, a, &ca, 2, 0);
	vmbfx_open(&fx, b, &cb, 2, 1);
	assert_int_equal(vmbus_channel_send_inband(a->ch, 0, "a", 1, false), 0);
	assert_int_equal(vmbus_channel_send_inband(b->ch, 0, "b", 1, false), 0);
	assert_true(vmbfx_event_pending(&fx, 0, ca.relid));
	assert_false(vmbfx_event_pending(&fx, 1, ca.relid));
	assert_true(vmbfx_event_pending(&fx, 1, cb.relid));
	assert_false(vmbfx_event_pending(&fx, 0, cb.relid));
	vmbfx_fini(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_close),
		cmocka_unit_test(test_open_result_echoes_openid),
		cmocka_unit_test(test_open_refused_by_vsp),
		cmocka_unit_test(test_open_bad_gpadl),
		cmocka_unit_test(test_open_bad_downstream_offset),
		cmocka_unit_test(test_open_ring_max_pages),
		cmocka_unit_test(test_open_bad_target_vp),
		cmocka_unit_test(test_open_already_open),
		cmocka_unit_test(test_open_bogus_relids),
		cmocka_unit_test(test_close_bogus),
		cmocka_unit_test(test_channels_independent),
		cmocka_unit_test(test_modify_53),
		cmocka_unit_test(test_modify_without_response),
		cmocka_unit_test(test_tl_connect_request),
		cmocka_unit_test(test_events_per_target_vp),
		cmocka_unit_test(test_send_from_open_callback),
		cmocka_unit_test(test_open_corrupt_ring_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
