// SPDX-License-Identifier: MIT
/*
 * Unit tests of the VMBus server (vmbus/vmbus.h), in-process with the guest client (guest/vsc) on plain memory:
 * the connection. Version negotiation for every version Linux 6.1 proposes (5.3 .. 2.4: connection 4 and msg_sint
 * from 5.0, connection 1 below, msg_conn_id honoured), max_version capping, unknown versions, target_vcpu,
 * messages before INITIATE_CONTACT, short / long / unknown messages, UNLOAD, INITIATE_CONTACT as a full bus reset,
 * reconnect and re-offer (guest-core.md 5.1-5.5, 6.2).
 */
#include "vmbus_fixture.h"

static struct vmbfx fx;

static const struct vmbus_guid shutdown_guid = HV_SHUTDOWN_GUID;
static const struct vmbus_guid scsi_guid = HV_SCSI_GUID;

/* INITIATE_CONTACT for @version as Linux builds it, to VP @vp. */
static struct vmbus_channel_initiate_contact contact_msg(uint32_t version, uint32_t vp)
{
	struct vmbus_channel_initiate_contact m;

	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_INITIATE_CONTACT;
	m.vmbus_version_requested = version;
	m.target_vcpu = vp;
	if (version >= VERSION_WIN10_V5)
		m.u.s.msg_sint = VMBUS_MESSAGE_SINT;
	else
		m.u.interrupt_page = 0x200000;
	m.monitor_page1 = 0x201000;
	m.monitor_page2 = 0x202000;
	return m;
}

static uint32_t contact_conn(uint32_t version)
{
	return version >= VERSION_WIN10_V5 ? VMBUS_MESSAGE_CONNECTION_ID_4 : VMBUS_MESSAGE_CONNECTION_ID;
}

/* An echo round trip on an open channel: the channel and the server still work. */
static void roundtrip(struct vsc_channel *ch, uint64_t trans_id)
{
	uint8_t buf[256];
	struct vsc_packet pkt;
	const char msg[] = "ping";

	assert_int_equal(vsc_channel_send_inband(ch, trans_id, msg, sizeof(msg)), 0);
	assert_true(vsc_channel_recv_wait(ch, buf, sizeof(buf), &pkt, 2000) > 0);
	assert_int_equal(pkt.type, VM_PKT_COMP);
	assert_true(pkt.trans_id == trans_id);
	assert_int_equal(pkt.data_len, 8); /* payloads are padded to 8 bytes, both ways */
	assert_memory_equal(pkt.data, msg, sizeof(msg));
}

/* ---- version negotiation --------------------------------------------------------------------------------- */

static void test_connect_linux_default(void **state)
{
	uint32_t version = 0;
	struct vmbfx_vsp *v;

	(void)state;
	vmbfx_init(&fx, 2, 0);
	v = vmbfx_offer(&fx, shutdown_guid, 1);
	assert_int_equal(vmbfx_state(&fx, &version), VMBUS_STATE_DISCONNECTED);
	assert_int_equal(version, 0);
	assert_int_equal(vsc_bus_connect(&fx.bus, NULL, 0), 0);
	assert_int_equal(fx.bus.version, VERSION_WIN10_V5_3);
	assert_int_equal(fx.bus.contact_attempts, 1);
	assert_int_equal(fx.bus.last_version_response.version_supported != 0, 1);
	/* 5.x: later messages go to the connection id the server named, which must be a message connection. */
	assert_int_equal(fx.bus.msg_conn_id, fx.bus.last_version_response.msg_conn_id);
	assert_true(fx.bus.msg_conn_id != 0);
	assert_int_equal(vmbfx_state(&fx, &version), VMBUS_STATE_CONNECTED);
	assert_int_equal(version, VERSION_WIN10_V5_3);
	/* The answer came to VP 0 (target_vcpu) with an interrupt, none to VP 1. */
	assert_true(vmbfx_interrupts(&fx, 0) >= 1);
	assert_int_equal(vmbfx_interrupts(&fx, 1), 0);
	assert_int_equal(vsc_bus_request_offers(&fx.bus), 0);
	assert_true(fx.bus.all_offers_delivered);
	assert_int_equal(fx.bus.offer_count, 1);
	assert_int_equal(fx.bus.offers[0].msg.child_relid, vmbfx_relid(v));
	assert_int_equal(vmbfx_state(&fx, &version), VMBUS_STATE_OFFERS_SENT);
	assert_int_equal(fx.bus.unexpected, 0);
	assert_true(vmbfx_stats(&fx).messages_in >= 2);
	assert_true(vmbfx_stats(&fx).messages_out >= 3); /* VERSION_RESPONSE, OFFERCHANNEL, ALLOFFERS_DELIVERED */
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, 0);
	vmbfx_fini(&fx);
}

/* Each version Linux proposes, alone: accepted, on the right connection, and the bus then works. */
static void test_connect_each_version(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 8; i++) {
		uint32_t ver = vsc_linux_versions[i], got = 0;
		struct vmbfx_vsp *v;
		struct vsc_channel ch;

		vmbfx_init(&fx, 1, 0);
		v = vmbfx_offer(&fx, shutdown_guid, 1);
		assert_int_equal(vsc_bus_connect(&fx.bus, &ver, 1), 0);
		assert_int_equal(fx.bus.version, ver);
		if (ver < VERSION_WIN10_V5)
			assert_int_equal(fx.bus.msg_conn_id, VMBUS_MESSAGE_CONNECTION_ID);
		else
			assert_int_equal(fx.bus.msg_conn_id, fx.bus.last_version_response.msg_conn_id);
		assert_int_equal(vmbfx_state(&fx, &got), VMBUS_STATE_CONNECTED);
		assert_int_equal(got, ver);
		/* msg_conn_id honoured: REQUESTOFFERS, GPADLs and OPENCHANNEL on it work. */
		assert_int_equal(vsc_bus_request_offers(&fx.bus), 0);
		assert_int_equal(fx.bus.offer_count, 1);
		vmbfx_open(&fx, v, &ch, 2, 0);
		assert_int_equal(vmbus_channel_version(v->ch), ver);
		roundtrip(&ch, 42 + i);
		assert_int_equal(vsc_channel_close(&ch), 0);
		assert_int_equal(v->closes, 1);
		assert_int_equal(vmbfx_stats(&fx).messages_rejected, 0);
		vmbfx_fini(&fx);
	}
}

/* Raw INITIATE_CONTACT for every version: VERSION_RESPONSE(version_supported != 0) on the expected connection. */
static void test_contact_raw_each_version(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 8; i++) {
		uint32_t ver = vsc_linux_versions[i];
		struct vmbus_channel_initiate_contact m = contact_msg(ver, 0);
		struct vmbus_channel_version_response r;

		vmbfx_init(&fx, 1, 0);
		assert_int_equal(vsc_bus_post_conn(&fx.bus, contact_conn(ver), &m, sizeof(m)), HV_STATUS_SUCCESS);
		memset(&r, 0, sizeof(r));
		assert_true(vmbfx_expect_msg(&fx, CHANNELMSG_VERSION_RESPONSE, &r, sizeof(r)) >= sizeof(r));
		assert_int_not_equal(r.version_supported, 0);
		if (ver >= VERSION_WIN10_V5) {
			/* The id the server names must take messages: REQUESTOFFERS there is answered. */
			struct vmbus_channel_message_header ro = { .msgtype = CHANNELMSG_REQUESTOFFERS };

			assert_int_equal(vsc_bus_post_conn(&fx.bus, r.msg_conn_id, &ro, sizeof(ro)), HV_STATUS_SUCCESS);
			vmbfx_expect_msg(&fx, CHANNELMSG_ALLOFFERS_DELIVERED, NULL, 0);
		}
		vmbfx_fini(&fx);
	}
}

/* A server capped at max_version refuses the higher versions; Linux steps down to the cap. */
static void test_connect_max_version_caps(void **state)
{
	static const struct {
		uint32_t cap;
		unsigned attempts;
	} cases[] = {
		{ VERSION_WIN10_V5_2, 2 }, { VERSION_WIN10_V5, 4 }, { VERSION_WIN10_V4_1, 5 },
		{ VERSION_WIN10, 6 },      { VERSION_WIN8_1, 7 },   { VERSION_WIN8, 8 },
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t got = 0;

		vmbfx_init(&fx, 1, cases[i].cap);
		vmbfx_offer(&fx, shutdown_guid, 1);
		assert_int_equal(vsc_bus_connect(&fx.bus, NULL, 0), 0);
		assert_int_equal(fx.bus.version, cases[i].cap);
		assert_int_equal(fx.bus.contact_attempts, cases[i].attempts);
		assert_int_equal(vmbfx_state(&fx, &got), VMBUS_STATE_CONNECTED);
		assert_int_equal(got, cases[i].cap);
		assert_int_equal(vsc_bus_request_offers(&fx.bus), 0);
		assert_int_equal(fx.bus.offer_count, 1);
		vmbfx_fini(&fx);
	}
}

/* A version above the cap, asked for directly: refused with a VERSION_RESPONSE (or the connection is refused). */
static void test_contact_above_cap_refused(void **state)
{
	struct vmbus_channel_initiate_contact m = contact_msg(VERSION_WIN10_V4_1, 0);
	struct vmbus_channel_version_response r;

	(void)state;
	vmbfx_init(&fx, 1, VERSION_WIN10);
	assert_int_equal(vsc_bus_post_conn(&fx.bus, VMBUS_MESSAGE_CONNECTION_ID, &m, sizeof(m)), HV_STATUS_SUCCESS);
	memset(&r, 0xff, sizeof(r));
	vmbfx_expect_msg(&fx, CHANNELMSG_VERSION_RESPONSE, &r, sizeof(r));
	assert_int_equal(r.version_supported, 0);
	assert_int_equal(vmbfx_state(&fx, NULL), VMBUS_STATE_DISCONNECTED);
	vmbfx_fini(&fx);
}

/* Versions Linux does not propose: VERSION_RESPONSE with version_supported 0, the bus stays disconnected. */
static void test_contact_unknown_versions(void **state)
{
	static const uint32_t bad[] = {
		VMBUS_MAKE_VERSION(0, 13), VMBUS_MAKE_VERSION(1, 1), VMBUS_MAKE_VERSION(2, 0), VMBUS_MAKE_VERSION(4, 2),
		VMBUS_MAKE_VERSION(5, 4),  VMBUS_MAKE_VERSION(6, 0), 0,                         0xFFFFFFFFu,
	};

	(void)state;
	vmbfx_init(&fx, 1, 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vmbus_channel_initiate_contact m = contact_msg(bad[i], 0);
		struct vmbus_channel_version_response r;
		uint16_t st = vsc_bus_post_conn(&fx.bus, contact_conn(bad[i]), &m, sizeof(m));

		assert_int_equal(st, HV_STATUS_SUCCESS);
		memset(&r, 0xff, sizeof(r));
		vmbfx_expect_msg(&fx, CHANNELMSG_VERSION_RESPONSE, &r, sizeof(r));
		assert_int_equal(r.version_supported, 0);
		assert_int_equal(vmbfx_state(&fx, NULL), VMBUS_STATE_DISCONNECTED);
	}
	/* A client proposing only unknown versions gets -ECONNREFUSED; then Linux's list connects. */
	assert_int_equal(vsc_bus_connect(&fx.bus, bad, 6), -VSC_ECONNREFUSED);
	assert_int_equal(fx.bus.version, 0);
	assert_int_equal(vsc_bus_connect(&fx.bus, NULL, 0), 0);
	assert_int_equal(fx.bus.version, VERSION_WIN10_V5_3);
	vmbfx_fini(&fx);
}

/* target_vcpu chooses the VP of every later channel message; an out-of-range one connects nothing. */
static void test_contact_target_vcpu(void **state)
{
	struct vmbus_channel_initiate_contact m;
	struct hv_message hm;

	(void)state;
	vmbfx_init(&fx, 2, 0);
	vmbfx_offer(&fx, shutdown_guid, 1);
	vsc_bus_init(&fx.bus, &fx.plat, 1);
	vmbfx_connect(&fx);
	assert_int_equal(fx.bus.offer_count, 1);
	assert_int_equal(vmbfx_interrupts(&fx, 0), 0);
	assert_true(vmbfx_interrupts(&fx, 1) >= 3);
	vmbfx_fini(&fx);

	/*
	 * A target_vcpu beyond the partition's VPs (posted from VP 1): either refused (no answer, or
	 * version_supported 0) or answered on the posting VP; never anything on another VP.
	 */
	vmbfx_init(&fx, 2, 0);
	vsc_bus_init(&fx.bus, &fx.plat, 1);
	m = contact_msg(VERSION_WIN10_V5_3, 7);
	assert_int_equal(vsc_bus_post_conn(&fx.bus, VMBUS_MESSAGE_CONNECTION_ID_4, &m, sizeof(m)), HV_STATUS_SUCCESS);
	vmbfx_settle(&fx);
	assert_false(vmbfx_take(&fx, 0, &hm));
	if (vmbfx_take(&fx, 1, &hm)) {
		const struct vmbus_channel_version_response *r = (const void *)hm.payload;

		assert_int_equal(r->header.msgtype, CHANNELMSG_VERSION_RESPONSE);
		assert_int_equal(vmbfx_state(&fx, NULL),
				 r->version_supported ? VMBUS_STATE_CONNECTED : VMBUS_STATE_DISCONNECTED);
	} else {
		assert_int_equal(vmbfx_state(&fx, NULL), VMBUS_STATE_DISCONNECTED);
	}
	vmbfx_fini(&fx);
}

/* ---- messages out of state, short, long, unknown ----------------------------------------------------------- */

/* Before INITIATE_CONTACT only INITIATE_CONTACT means something: the rest is dropped, nothing answered. */
static void test_messages_before_contact(void **state)
{
	struct vmbfx_vsp *v;
	uint8_t buf[240];
	struct vmbus_channel_open_channel *open = (void *)buf;
	struct vmbus_channel_gpadl_header *gh = (void *)buf;
	struct vmbus_channel_relid_message *rel = (void *)buf;
	struct vmbus_channel_modifychannel *mod = (void *)buf;
	uint64_t rejected = 0, pfn = VMBFX_ALLOC_BASE / VSC_PAGE_SIZE;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, shutdown_guid, 1);

	memset(buf, 0, sizeof(buf));
	buf[0] = CHANNELMSG_REQUESTOFFERS;
	vmbfx_post_ok(&fx, buf, 8);
	vmbfx_expect_no_msg(&fx);
	assert_true(vmbfx_stats(&fx).messages_rejected > rejected);
	rejected = vmbfx_stats(&fx).messages_rejected;

	memset(buf, 0, sizeof(buf));
	gh->header.msgtype = CHANNELMSG_GPADL_HEADER;
	gh->child_relid = vmbfx_relid(v);
	gh->gpadl = 0xE1E10;
	gh->range_buflen = 16;
	gh->rangecount = 1;
	memcpy(buf + 20, &(struct gpa_range){ .byte_count = 4096 }, 8);
	memcpy(buf + 28, &pfn, 8);
	vmbfx_post_ok(&fx, buf, 36);
	vmbfx_expect_no_msg(&fx);
	assert_true(vmbfx_stats(&fx).messages_rejected > rejected);
	rejected = vmbfx_stats(&fx).messages_rejected;

	memset(buf, 0, sizeof(buf));
	open->header.msgtype = CHANNELMSG_OPENCHANNEL;
	open->child_relid = open->openid = vmbfx_relid(v);
	open->ringbuffer_gpadlhandle = 0xE1E10;
	open->downstream_ringbuffer_pageoffset = 1;
	vmbfx_post_ok(&fx, buf, sizeof(*open));
	vmbfx_expect_no_msg(&fx);
	assert_true(vmbfx_stats(&fx).messages_rejected > rejected);
	rejected = vmbfx_stats(&fx).messages_rejected;
	assert_int_equal(v->opens, 0);

	static const uint32_t relid_types[] = { CHANNELMSG_CLOSECHANNEL, CHANNELMSG_RELID_RELEASED };
	for (unsigned i = 0; i < 2; i++) {
		memset(buf, 0, sizeof(buf));
		rel->header.msgtype = relid_types[i];
		rel->child_relid = vmbfx_relid(v);
		vmbfx_post_ok(&fx, buf, sizeof(*rel));
		vmbfx_expect_no_msg(&fx);
		assert_true(vmbfx_stats(&fx).messages_rejected > rejected);
		rejected = vmbfx_stats(&fx).messages_rejected;
	}
	memset(buf, 0, sizeof(buf));
	mod->header.msgtype = CHANNELMSG_MODIFYCHANNEL;
	mod->child_relid = vmbfx_relid(v);
	vmbfx_post_ok(&fx, buf, sizeof(*mod));
	vmbfx_expect_no_msg(&fx);
	assert_true(vmbfx_stats(&fx).messages_rejected > rejected);

	assert_int_equal(vmbfx_state(&fx, NULL), VMBUS_STATE_DISCONNECTED);
	assert_int_equal(v->opens, 0);
	/* The server still connects normally afterwards. */
	vmbfx_connect(&fx);
	assert_int_equal(fx.bus.offer_count, 1);
	vmbfx_fini(&fx);
}

/* REQUESTOFFERS before INITIATE_CONTACT on connection 4 is as dead as on connection 1. */
static void test_requestoffers_conn4_before_contact(void **state)
{
	struct vmbus_channel_message_header ro = { .msgtype = CHANNELMSG_REQUESTOFFERS };
	uint16_t st;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	vmbfx_offer(&fx, shutdown_guid, 1);
	st = vsc_bus_post_conn(&fx.bus, VMBUS_MESSAGE_CONNECTION_ID_4, &ro, sizeof(ro));
	assert_true(st == HV_STATUS_SUCCESS || st == HV_STATUS_INVALID_CONNECTION_ID);
	vmbfx_expect_no_msg(&fx);
	assert_int_equal(vmbfx_state(&fx, NULL), VMBUS_STATE_DISCONNECTED);
	vmbfx_fini(&fx);
}

/*
 * Each guest -> host message one byte shorter than its size is rejected: no answer, no effect,
 * messages_rejected grows by one. The state is such that the full-size message would have had an effect.
 */
static void test_short_messages_rejected(void **state)
{
	struct vmbfx_vsp *v, *w;
	struct vsc_channel ch;
	uint8_t buf[240];
	uint32_t gpadl;
	uint64_t resets;
	struct {
		uint32_t type, size;
	} cases[] = {
		{ CHANNELMSG_INITIATE_CONTACT, sizeof(struct vmbus_channel_initiate_contact) },
		{ CHANNELMSG_REQUESTOFFERS, 8 },
		{ CHANNELMSG_OPENCHANNEL, sizeof(struct vmbus_channel_open_channel) },
		{ CHANNELMSG_CLOSECHANNEL, sizeof(struct vmbus_channel_relid_message) },
		{ CHANNELMSG_GPADL_HEADER, 28 },
		{ CHANNELMSG_GPADL_BODY, 16 },
		{ CHANNELMSG_GPADL_TEARDOWN, sizeof(struct vmbus_channel_gpadl_teardown) },
		{ CHANNELMSG_RELID_RELEASED, sizeof(struct vmbus_channel_relid_message) },
		{ CHANNELMSG_UNLOAD, 8 },
		{ CHANNELMSG_MODIFYCHANNEL, sizeof(struct vmbus_channel_modifychannel) },
	};

	(void)state;
	vmbfx_init(&fx, 2, 0);
	v = vmbfx_offer(&fx, shutdown_guid, 1);
	w = vmbfx_offer(&fx, scsi_guid, 2);
	vmbfx_connect(&fx);
	vmbfx_open(&fx, v, &ch, 2, 0);
	assert_int_equal(vsc_gpadl_create(&fx.bus, vmbfx_relid(w), VMBFX_ALLOC_BASE, 1, &gpadl), 0);
	resets = vmbfx_stats(&fx).resets;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (uint32_t size = 4; size <= cases[i].size - 1; size += cases[i].size - 5) {
			uint64_t rejected = vmbfx_stats(&fx).messages_rejected, pfn = VMBFX_ALLOC_BASE / 4096;
			uint32_t type = cases[i].type;

			memset(buf, 0, sizeof(buf));
			memcpy(buf, &type, 4);
			switch (type) {
			case CHANNELMSG_INITIATE_CONTACT: {
				struct vmbus_channel_initiate_contact m = contact_msg(VERSION_WIN10_V5_3, 0);

				memcpy(buf, &m, sizeof(m));
				break;
			}
			case CHANNELMSG_OPENCHANNEL:
			case CHANNELMSG_CLOSECHANNEL:
			case CHANNELMSG_RELID_RELEASED:
			case CHANNELMSG_MODIFYCHANNEL:
				/* relid of a channel for which the full message would do something */
				memcpy(buf + 8, &(uint32_t){ type == CHANNELMSG_CLOSECHANNEL ||
								     type == CHANNELMSG_MODIFYCHANNEL ? vmbfx_relid(v)
												      : vmbfx_relid(w) }, 4);
				memcpy(buf + 12, &(uint32_t){ type == CHANNELMSG_MODIFYCHANNEL ? 1 : vmbfx_relid(w) }, 4);
				break;
			case CHANNELMSG_GPADL_HEADER:
				memcpy(buf + 8, &(uint32_t){ vmbfx_relid(w) }, 4);
				memcpy(buf + 12, &(uint32_t){ 0xABC000 }, 4);
				memcpy(buf + 16, &(uint16_t){ 16 }, 2);
				memcpy(buf + 18, &(uint16_t){ 1 }, 2);
				memcpy(buf + 20, &(uint32_t){ 4096 }, 4);
				memcpy(buf + 28, &pfn, 8);
				break;
			case CHANNELMSG_GPADL_BODY:
				memcpy(buf + 12, &gpadl, 4);
				memcpy(buf + 16, &pfn, 8);
				break;
			case CHANNELMSG_GPADL_TEARDOWN:
				memcpy(buf + 8, &(uint32_t){ vmbfx_relid(w) }, 4);
				memcpy(buf + 12, &gpadl, 4);
				break;
			default:
				break;
			}
			if (type == CHANNELMSG_INITIATE_CONTACT)
				assert_int_equal(vsc_bus_post_conn(&fx.bus, VMBUS_MESSAGE_CONNECTION_ID_4, buf, size),
						 HV_STATUS_SUCCESS);
			else
				vmbfx_post_ok(&fx, buf, size);
			vmbfx_expect_no_msg(&fx);
			if (vmbfx_stats(&fx).messages_rejected != rejected + 1)
				print_error("type %u with %u bytes: rejected %llu -> %llu\n", type, size,
					    (unsigned long long)rejected,
					    (unsigned long long)vmbfx_stats(&fx).messages_rejected);
			assert_int_equal(vmbfx_stats(&fx).messages_rejected, rejected + 1);
		}
	}
	/* Nothing happened: still connected at 5.3, the channel open and working, w closed, its GPADL alive. */
	assert_int_equal(vmbfx_state(&fx, NULL), VMBUS_STATE_OFFERS_SENT);
	assert_int_equal(vmbfx_stats(&fx).resets, resets);
	assert_true(vmbus_channel_is_open(v->ch));
	assert_int_equal(v->closes, 0);
	assert_int_equal(w->opens, 0);
	assert_int_equal(vmbus_channel_target_vp(v->ch), 0);
	roundtrip(&ch, 9);
	assert_int_equal(vsc_gpadl_teardown(&fx.bus, vmbfx_relid(w), gpadl), 0);
	vmbfx_fini(&fx);
}

/* Messages longer than their type needs are taken as if they had the right size (Linux pads nothing, Hyper-V
 * may; the rule is "accept longer, reject shorter"). */
static void test_long_messages_tolerated(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t buf[240];
	struct vmbus_channel_initiate_contact m = contact_msg(VERSION_WIN10_V5_3, 0);
	struct vmbus_channel_version_response r;
	struct vmbus_channel_gpadl_torndown td;
	struct vmbus_channel_modifychannel_response mr;
	uint32_t gpadl;

	(void)state;
	vmbfx_init(&fx, 2, 0);
	v = vmbfx_offer(&fx, shutdown_guid, 1);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &m, sizeof(m));
	assert_int_equal(vsc_bus_post_conn(&fx.bus, VMBUS_MESSAGE_CONNECTION_ID_4, buf, 64), HV_STATUS_SUCCESS);
	vmbfx_expect_msg(&fx, CHANNELMSG_VERSION_RESPONSE, &r, sizeof(r));
	assert_int_not_equal(r.version_supported, 0);
	fx.bus.version = VERSION_WIN10_V5_3;
	fx.bus.msg_conn_id = r.msg_conn_id;

	memset(buf, 0, sizeof(buf));
	buf[0] = CHANNELMSG_REQUESTOFFERS;
	vmbfx_post_ok(&fx, buf, 24);
	vmbfx_expect_msg(&fx, CHANNELMSG_ALLOFFERS_DELIVERED, NULL, 0);
	assert_int_equal(fx.bus.offer_count, 1);

	vmbfx_open(&fx, v, &ch, 2, 0);
	roundtrip(&ch, 1);

	/* MODIFYCHANNEL of 24 bytes: answered (5.3) and done. */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &(struct vmbus_channel_modifychannel){ .header.msgtype = CHANNELMSG_MODIFYCHANNEL,
							  .child_relid = ch.relid, .target_vp = 1 }, 16);
	vmbfx_post_ok(&fx, buf, 24);
	vmbfx_expect_msg(&fx, CHANNELMSG_MODIFYCHANNEL_RESPONSE, &mr, sizeof(mr));
	assert_int_equal(mr.child_relid, ch.relid);
	assert_int_equal(mr.status, 0);
	assert_int_equal(vmbus_channel_target_vp(v->ch), 1);

	/* CLOSECHANNEL of 20 bytes closes; GPADL_TEARDOWN of 32 bytes tears down. */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &(struct vmbus_channel_relid_message){ .header.msgtype = CHANNELMSG_CLOSECHANNEL,
							  .child_relid = ch.relid }, 12);
	vmbfx_post_ok(&fx, buf, 20);
	vmbfx_settle(&fx);
	assert_int_equal(v->closes, 1);
	assert_false(vmbus_channel_is_open(v->ch));
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &(struct vmbus_channel_gpadl_teardown){ .header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
							   .child_relid = ch.relid, .gpadl = ch.gpadl }, 16);
	vmbfx_post_ok(&fx, buf, 32);
	vmbfx_expect_msg(&fx, CHANNELMSG_GPADL_TORNDOWN, &td, sizeof(td));
	assert_int_equal(td.gpadl, ch.gpadl);

	/* OPENCHANNEL of 200 bytes opens (new GPADL first). */
	{
		uint64_t gpa = fx.plat.alloc_pages(&fx, 4);
		struct vmbus_channel_open_result res;

		assert_int_equal(vsc_gpadl_create(&fx.bus, ch.relid, gpa, 4, &gpadl), 0);
		memset(buf, 0, sizeof(buf));
		memcpy(buf, &(struct vmbus_channel_open_channel){ .header.msgtype = CHANNELMSG_OPENCHANNEL,
								  .child_relid = ch.relid, .openid = ch.relid,
								  .ringbuffer_gpadlhandle = gpadl,
								  .downstream_ringbuffer_pageoffset = 2 }, 148);
		vmbfx_post_ok(&fx, buf, 200);
		vmbfx_expect_msg(&fx, CHANNELMSG_OPENCHANNEL_RESULT, &res, sizeof(res));
		assert_int_equal(res.child_relid, ch.relid);
		assert_int_equal(res.status, 0);
		assert_int_equal(v->opens, 2);
	}
	/* UNLOAD of 16 bytes: UNLOAD_RESPONSE, and the channel is closed. */
	memset(buf, 0, sizeof(buf));
	buf[0] = CHANNELMSG_UNLOAD;
	vmbfx_post_ok(&fx, buf, 16);
	vmbfx_expect_msg(&fx, CHANNELMSG_UNLOAD_RESPONSE, NULL, 0);
	assert_int_equal(v->closes, 2);
	assert_int_equal(vmbfx_state(&fx, NULL), VMBUS_STATE_DISCONNECTED);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, 0);
	vmbfx_fini(&fx);
}

/* Unknown types, host -> guest types and the unused numbers: dropped and counted, nothing else happens. */
static void test_unknown_msgtypes(void **state)
{
	static const uint32_t types[] = {
		CHANNELMSG_INVALID, CHANNELMSG_OFFERCHANNEL, CHANNELMSG_RESCIND_CHANNELOFFER,
		CHANNELMSG_ALLOFFERS_DELIVERED, CHANNELMSG_OPENCHANNEL_RESULT, CHANNELMSG_GPADL_CREATED,
		CHANNELMSG_GPADL_TORNDOWN, CHANNELMSG_VERSION_RESPONSE, CHANNELMSG_UNLOAD_RESPONSE, 18, 19, 20,
		CHANNELMSG_TL_CONNECT_RESULT, CHANNELMSG_MODIFYCHANNEL_RESPONSE, 25, 26, 100, 0x80000000u, 0xFFFFFFFFu,
	};
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t buf[240];

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, shutdown_guid, 1);
	vmbfx_connect(&fx);
	vmbfx_open(&fx, v, &ch, 2, 0);
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint64_t rejected = vmbfx_stats(&fx).messages_rejected;

		memset(buf, 0, sizeof(buf));
		memcpy(buf, &types[i], 4);
		memcpy(buf + 8, &ch.relid, 4); /* plausible fields: a relid, an openid */
		memcpy(buf + 12, &ch.relid, 4);
		vmbfx_post_ok(&fx, buf, 200);
		vmbfx_expect_no_msg(&fx);
		if (vmbfx_stats(&fx).messages_rejected != rejected + 1)
			print_error("msgtype %u not counted as rejected\n", types[i]);
		assert_int_equal(vmbfx_stats(&fx).messages_rejected, rejected + 1);
	}
	assert_int_equal(vmbfx_state(&fx, NULL), VMBUS_STATE_OFFERS_SENT);
	assert_int_equal(v->closes, 0);
	roundtrip(&ch, 77);
	vmbfx_fini(&fx);
}

/*
 * The server takes messages into a bounded queue: when the I/O loop has not run, HvPostMessage eventually answers
 * HV_STATUS_INSUFFICIENT_BUFFERS (Linux retries); after a poll the queue has room again and nothing was lost.
 */
static void test_message_queue_bounded(void **state)
{
	struct vmbfx_vsp *v;
	struct vmbus_channel_gpadl_teardown t = { .header.msgtype = CHANNELMSG_GPADL_TEARDOWN, .gpadl = 0xDEAD };
	uint64_t rejected;
	unsigned accepted = 0;
	uint16_t st = HV_STATUS_SUCCESS;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, shutdown_guid, 1);
	vmbfx_connect(&fx);
	t.child_relid = vmbfx_relid(v);
	rejected = vmbfx_stats(&fx).messages_rejected;
	while (accepted < 100000 && (st = vmbfx_post(&fx, &t, sizeof(t))) == HV_STATUS_SUCCESS)
		accepted++;
	assert_int_equal(st, HV_STATUS_INSUFFICIENT_BUFFERS);
	assert_true(accepted >= 16);
	vmbfx_settle(&fx);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, rejected + accepted); /* each one processed */
	assert_int_equal(vmbfx_post(&fx, &t, sizeof(t)), HV_STATUS_SUCCESS);
	vmbfx_expect_no_msg(&fx);
	vmbfx_fini(&fx);
}

/* HvPostMessage to the VMBus connections with a SynIC message type other than 1: refused by the hypercall. */
static void test_message_type_not_channel(void **state)
{
	struct vmbus_channel_initiate_contact m = contact_msg(VERSION_WIN10_V5_3, 0);
	uint64_t in;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	in = vmbfx_stats(&fx).messages_in;
	assert_int_equal(fx.plat.post_message(&fx, 0, VMBUS_MESSAGE_CONNECTION_ID_4, 2, &m, sizeof(m)),
			 HV_STATUS_INVALID_PARAMETER);
	assert_int_equal(fx.plat.post_message(&fx, 0, VMBUS_MESSAGE_CONNECTION_ID, 0x1234, &m, sizeof(m)),
			 HV_STATUS_INVALID_PARAMETER);
	vmbfx_expect_no_msg(&fx);
	assert_int_equal(vmbfx_stats(&fx).messages_in, in);
	assert_int_equal(vmbfx_state(&fx, NULL), VMBUS_STATE_DISCONNECTED);
	/* Connections other than 1 and 4 do not exist. */
	assert_int_equal(vsc_bus_post_conn(&fx.bus, 2, &m, sizeof(m)), HV_STATUS_INVALID_CONNECTION_ID);
	assert_int_equal(vsc_bus_post_conn(&fx.bus, 3, &m, sizeof(m)), HV_STATUS_INVALID_CONNECTION_ID);
	vmbfx_fini(&fx);
}

/* ---- UNLOAD, reset, reconnect ------------------------------------------------------------------------------ */

static void test_unload_closes_everything(void **state)
{
	struct vmbfx_vsp *v, *w, *u;
	struct vsc_channel c1, c2;
	struct vmbus_guid inst[3];
	uint32_t gpadl, version;

	(void)state;
	vmbfx_init(&fx, 2, 0);
	v = vmbfx_offer(&fx, shutdown_guid, 1);
	w = vmbfx_offer(&fx, scsi_guid, 2);
	u = vmbfx_offer(&fx, scsi_guid, 3);
	vmbfx_connect(&fx);
	for (unsigned i = 0; i < 3; i++)
		inst[i] = fx.bus.offers[i].msg.if_instance;
	vmbfx_open(&fx, v, &c1, 2, 0);
	vmbfx_open(&fx, w, &c2, 3, 1);
	assert_int_equal(vsc_gpadl_create(&fx.bus, vmbfx_relid(u), fx.plat.alloc_pages(&fx, 3), 3, &gpadl), 0);
	roundtrip(&c1, 1);
	roundtrip(&c2, 2);

	assert_int_equal(vsc_bus_unload(&fx.bus), 0);
	assert_int_equal(v->closes, 1);
	assert_int_equal(w->closes, 1);
	assert_int_equal(u->closes, 0); /* never opened */
	assert_false(vmbus_channel_is_open(v->ch));
	assert_false(vmbus_channel_is_open(w->ch));
	assert_int_equal(vmbfx_state(&fx, &version), VMBUS_STATE_DISCONNECTED);
	assert_int_equal(version, 0);
	assert_true(vmbfx_stats(&fx).resets >= 1);
	/* The old rings are not touched any more: a packet written there is never taken. */
	c1.open = true;
	assert_int_equal(vsc_channel_send_inband(&c1, 5, "x", 1), 0);
	c1.open = false;
	vmbfx_expect_no_msg(&fx);
	assert_int_equal(v->packets, 1);
	/* Disconnected: REQUESTOFFERS is ignored. */
	{
		struct vmbus_channel_message_header ro = { .msgtype = CHANNELMSG_REQUESTOFFERS };
		uint64_t rejected = vmbfx_stats(&fx).messages_rejected;

		vsc_bus_post_conn(&fx.bus, VMBUS_MESSAGE_CONNECTION_ID, &ro, sizeof(ro));
		vsc_bus_post_conn(&fx.bus, VMBUS_MESSAGE_CONNECTION_ID_4, &ro, sizeof(ro));
		vmbfx_expect_no_msg(&fx);
		assert_true(vmbfx_stats(&fx).messages_rejected > rejected);
	}
	uint64_t rejected_after = vmbfx_stats(&fx).messages_rejected;

	/* A new kernel (kexec): GPADL handles restart at 0xE1E10; the same devices are offered again. */
	fx.bus.next_gpadl = 0xE1E10;
	vmbfx_connect(&fx);
	assert_int_equal(fx.bus.offer_count, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_memory_equal(&fx.bus.offers[i].msg.if_instance, &inst[i], sizeof(inst[i]));
	vmbfx_open(&fx, v, &c1, 2, 1);
	assert_int_equal(c1.gpadl, 0xE1E10);
	vmbfx_open(&fx, w, &c2, 2, 0);
	assert_int_equal(v->opens, 2);
	roundtrip(&c1, 3);
	roundtrip(&c2, 4);
	assert_int_equal(vsc_channel_close(&c1), 0);
	assert_int_equal(vsc_channel_close(&c2), 0);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, rejected_after);
	vmbfx_fini(&fx);
}

/* UNLOAD while nothing is open, repeated: each gets an UNLOAD_RESPONSE. */
static void test_unload_repeated(void **state)
{
	(void)state;
	vmbfx_init(&fx, 1, 0);
	vmbfx_offer(&fx, shutdown_guid, 1);
	for (unsigned i = 0; i < 3; i++) {
		vmbfx_connect(&fx);
		assert_int_equal(fx.bus.offer_count, 1);
		assert_int_equal(vsc_bus_unload(&fx.bus), 0);
		assert_int_equal(vmbfx_state(&fx, NULL), VMBUS_STATE_DISCONNECTED);
	}
	assert_true(vmbfx_stats(&fx).resets >= 3);
	vmbfx_fini(&fx);
}

/* A second INITIATE_CONTACT is a full bus reset: open channels close, GPADLs go, offers are requested again. */
static void test_contact_resets_open_channels(void **state)
{
	struct vmbfx_vsp *v, *w;
	struct vsc_channel c1, c2;
	uint32_t version = 0, gpadl;
	uint64_t resets;

	(void)state;
	vmbfx_init(&fx, 2, 0);
	v = vmbfx_offer(&fx, shutdown_guid, 1);
	w = vmbfx_offer(&fx, scsi_guid, 2);
	vmbfx_connect(&fx);
	vmbfx_open(&fx, v, &c1, 2, 0);
	vmbfx_open(&fx, w, &c2, 2, 1);
	assert_int_equal(vsc_gpadl_create(&fx.bus, vmbfx_relid(w), fx.plat.alloc_pages(&fx, 2), 2, &gpadl), 0);
	roundtrip(&c1, 1);
	resets = vmbfx_stats(&fx).resets;

	/* The kdump kernel connects at 4.0 from VP 1: everything of the old session is gone. */
	{
		uint32_t ver = VERSION_WIN10;

		vsc_bus_init(&fx.bus, &fx.plat, 1);
		assert_int_equal(vsc_bus_connect(&fx.bus, &ver, 1), 0);
	}
	assert_int_equal(v->closes, 1);
	assert_int_equal(w->closes, 1);
	assert_false(vmbus_channel_is_open(v->ch));
	assert_false(vmbus_channel_is_open(w->ch));
	assert_int_equal(vmbfx_state(&fx, &version), VMBUS_STATE_CONNECTED);
	assert_int_equal(version, VERSION_WIN10);
	assert_true(vmbfx_stats(&fx).resets > resets);
	/* Offers again, to VP 1 now. */
	assert_int_equal(vsc_bus_request_offers(&fx.bus), 0);
	assert_int_equal(fx.bus.offer_count, 2);
	/* Handles restart at 0xE1E10 without colliding with the old kernel's GPADLs. */
	assert_int_equal(fx.bus.next_gpadl, 0xE1E10);
	vmbfx_open(&fx, v, &c1, 2, 1);
	vmbfx_open(&fx, w, &c2, 2, 0);
	assert_int_equal(c1.gpadl, 0xE1E10);
	roundtrip(&c1, 10);
	roundtrip(&c2, 11);
	assert_int_equal(vsc_channel_close(&c1), 0);
	assert_int_equal(vsc_channel_close(&c2), 0);
	vmbfx_fini(&fx);
}

/* INITIATE_CONTACT with an unsupported version while connected: refused; whether it reset the bus or not, the
 * client can connect again and use its channels. */
static void test_contact_refused_then_reconnect(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	struct vmbus_channel_initiate_contact m = contact_msg(VMBUS_MAKE_VERSION(1, 1), 0);
	struct vmbus_channel_version_response r;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, shutdown_guid, 1);
	vmbfx_connect(&fx);
	vmbfx_open(&fx, v, &ch, 2, 0);
	assert_int_equal(vsc_bus_post_conn(&fx.bus, VMBUS_MESSAGE_CONNECTION_ID, &m, sizeof(m)), HV_STATUS_SUCCESS);
	vmbfx_expect_msg(&fx, CHANNELMSG_VERSION_RESPONSE, &r, sizeof(r));
	assert_int_equal(r.version_supported, 0);
	fx.bus.next_gpadl = 0xE1E10;
	vmbfx_connect(&fx);
	assert_int_equal(v->closes, 1);
	vmbfx_open(&fx, v, &ch, 2, 0);
	roundtrip(&ch, 5);
	vmbfx_fini(&fx);
}

/* Destroying the server closes open channels through the VSPs' close callbacks. */
static void test_destroy_closes_channels(void **state)
{
	struct vmbfx_vsp *v, *w;
	struct vsc_channel ch;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, shutdown_guid, 1);
	w = vmbfx_offer(&fx, scsi_guid, 2);
	vmbfx_connect(&fx);
	vmbfx_open(&fx, v, &ch, 2, 0);
	vmbus_server_destroy(fx.srv);
	fx.srv = NULL;
	assert_int_equal(v->closes, 1);
	assert_int_equal(w->closes, 0);
	vmbfx_fini(&fx); /* vmbus_server_destroy(NULL) is a no-op */
}

static void test_state_names(void **state)
{
	const char *a = vmbus_connection_state_name(VMBUS_STATE_DISCONNECTED);
	const char *b = vmbus_connection_state_name(VMBUS_STATE_CONNECTED);
	const char *c = vmbus_connection_state_name(VMBUS_STATE_OFFERS_SENT);

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_string_not_equal(a, b);
	assert_string_not_equal(b, c);
	assert_string_not_equal(a, c);
}

static void test_server_create_errors(void **state)
{
	struct vmbus_server_config sc;
	struct vmbus_server *srv = (void *)1;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	memset(&sc, 0, sizeof(sc));
	sc.mem = fx.mem;
	sc.vp_count = 1;
	assert_int_equal(vmbus_server_create(&sc, &srv), -EINVAL);
	sc.hv = fx.hv;
	sc.mem = NULL;
	assert_int_equal(vmbus_server_create(&sc, &srv), -EINVAL);
	sc.mem = fx.mem;
	sc.vp_count = 0;
	assert_int_equal(vmbus_server_create(&sc, &srv), -EINVAL);
	/* A second server on the same partition cannot have connections 1 and 4. */
	sc.vp_count = 1;
	assert_true(vmbus_server_create(&sc, &srv) < 0);
	/* Polling works without an I/O thread and says there was nothing to do. */
	vmbfx_settle(&fx);
	assert_int_equal(vmbus_server_poll(fx.srv, 0), 0);
	/* The failed create left the first server's connections alone. */
	vmbfx_connect(&fx);
	vmbfx_fini(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_linux_default),
		cmocka_unit_test(test_connect_each_version),
		cmocka_unit_test(test_contact_raw_each_version),
		cmocka_unit_test(test_connect_max_version_caps),
		cmocka_unit_test(test_contact_above_cap_refused),
		cmocka_unit_test(test_contact_unknown_versions),
		cmocka_unit_test(test_contact_target_vcpu),
		cmocka_unit_test(test_messages_before_contact),
		cmocka_unit_test(test_requestoffers_conn4_before_contact),
		cmocka_unit_test(test_short_messages_rejected),
		cmocka_unit_test(test_long_messages_tolerated),
		cmocka_unit_test(test_unknown_msgtypes),
		cmocka_unit_test(test_message_queue_bounded),
		cmocka_unit_test(test_message_type_not_channel),
		cmocka_unit_test(test_unload_closes_everything),
		cmocka_unit_test(test_unload_repeated),
		cmocka_unit_test(test_contact_resets_open_channels),
		cmocka_unit_test(test_contact_refused_then_reconnect),
		cmocka_unit_test(test_destroy_closes_channels),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_server_create_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
