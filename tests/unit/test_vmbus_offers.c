// SPDX-License-Identifier: MIT
/*
 * Unit tests of the VMBus server (vmbus/vmbus.h), in-process with the guest client (guest/vsc): offers.
 * REQUESTOFFERS -> OFFERCHANNEL per device + ALLOFFERS_DELIVERED with the fields Linux 6.1 relies on (unique relids
 * 1..2047 and connection ids, instance ids, dedicated interrupts, no monitors), offers made later, RESCIND +
 * RELID_RELEASED (a relid is not reused before it is released), and the VSP-side offer API errors
 * (guest-core.md 5.3-5.5, 5.7).
 */
#include "vmbus_fixture.h"

static struct vmbfx fx;

static const struct vmbus_guid shutdown_guid = HV_SHUTDOWN_GUID;
static const struct vmbus_guid scsi_guid = HV_SCSI_GUID;
static const struct vmbus_guid nic_guid = HV_NIC_GUID;
static const struct vmbus_guid video_guid = HV_SYNTHVID_GUID;

static void roundtrip(struct vsc_channel *ch, uint64_t trans_id)
{
	uint8_t buf[256];
	struct vsc_packet pkt;

	assert_int_equal(vsc_channel_send_inband(ch, trans_id, "abc", 3), 0);
	assert_true(vsc_channel_recv_wait(ch, buf, sizeof(buf), &pkt, 2000) > 0);
	assert_int_equal(pkt.type, VM_PKT_COMP);
	assert_true(pkt.trans_id == trans_id);
	assert_int_equal(pkt.data_len, 8); /* padded to 8 bytes */
	assert_memory_equal(pkt.data, "abc", 3);
}

/* Every live offer of the bus: relid in 1..2047, relids and connection ids unique, Linux-friendly flags. */
static void check_offers_sane(const struct vsc_bus *bus)
{
	for (unsigned i = 0; i < bus->offer_count; i++) {
		const struct vmbus_channel_offer_channel *a = &bus->offers[i].msg;

		if (bus->offers[i].released)
			continue;
		assert_true(a->child_relid >= 1 && a->child_relid <= VMBUS_MAX_RELID);
		assert_int_equal(a->is_dedicated_interrupt & 1, 1);
		assert_int_equal(a->monitor_allocated & 1, 0);
		assert_int_equal(a->sub_channel_index, 0);
		/* Connection ids share the hypervisor's registry with message connections 1 and 4. */
		assert_true(a->connection_id > VMBUS_MESSAGE_CONNECTION_ID_4);
		assert_true(a->connection_id <= HV_CONNECTION_ID_MASK);
		for (unsigned j = i + 1; j < bus->offer_count; j++) {
			const struct vmbus_channel_offer_channel *b = &bus->offers[j].msg;

			if (bus->offers[j].released)
				continue;
			assert_int_not_equal(a->child_relid, b->child_relid);
			assert_int_not_equal(a->connection_id, b->connection_id);
			assert_memory_not_equal(&a->if_instance, &b->if_instance, sizeof(a->if_instance));
		}
	}
}

static void test_request_offers_fields(void **state)
{
	struct vmbfx_offer_opts pipe = { .pipe_mode = true, .chn_flags = VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE };
	struct vmbfx_offer_opts video = { .mmio_megabytes = 8 };
	struct vmbfx_vsp *vs[4];
	const struct vmbus_guid *classes[4] = { &scsi_guid, &nic_guid, &shutdown_guid, &video_guid };
	uint32_t version;

	(void)state;
	vmbfx_init(&fx, 2, 0);
	vs[0] = vmbfx_offer(&fx, scsi_guid, 1);
	vs[1] = vmbfx_offer(&fx, nic_guid, 2);
	vs[2] = vmbfx_offer_ex(&fx, shutdown_guid, 3, &pipe);
	vs[3] = vmbfx_offer_ex(&fx, video_guid, 4, &video);
	assert_int_equal(vsc_bus_connect(&fx.bus, NULL, 0), 0);
	assert_int_equal(fx.bus.offer_count, 0); /* nothing before REQUESTOFFERS */
	assert_int_equal(vsc_bus_request_offers(&fx.bus), 0);
	assert_true(fx.bus.all_offers_delivered);
	assert_int_equal(fx.bus.offer_count, 4); /* all of them before ALLOFFERS_DELIVERED */
	assert_int_equal(fx.bus.unexpected, 0);
	assert_int_equal(vmbfx_state(&fx, &version), VMBUS_STATE_OFFERS_SENT);
	check_offers_sane(&fx.bus);
	for (unsigned i = 0; i < 4; i++) {
		const struct vsc_offer *o = vsc_bus_offer_by_relid(&fx.bus, vmbfx_relid(vs[i]));
		struct vmbus_guid inst = vmbfx_instance((uint16_t)(i + 1));

		assert_non_null(o);
		assert_memory_equal(&o->msg.if_type, classes[i], 16);
		assert_memory_equal(&o->msg.if_instance, &inst, 16);
		assert_ptr_equal(vsc_bus_find_offer(&fx.bus, classes[i], 0), o);
		assert_false(vmbus_channel_is_open(vs[i]->ch));
		assert_non_null(vmbus_channel_name(vs[i]->ch));
		assert_int_equal(vmbus_channel_version(vs[i]->ch), VERSION_WIN10_V5_3);
		assert_ptr_equal(vmbus_channel_memory(vs[i]->ch), fx.mem);
	}
	{
		const struct vsc_offer *o = vsc_bus_offer_by_relid(&fx.bus, vmbfx_relid(vs[2]));

		assert_true(o->msg.chn_flags & VMBUS_CHANNEL_NAMED_PIPE_MODE);
		assert_true(o->msg.chn_flags & VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE);
		assert_int_equal(o->msg.u.pipe.pipe_mode, VMBUS_PIPE_TYPE_MESSAGE);
		o = vsc_bus_offer_by_relid(&fx.bus, vmbfx_relid(vs[3]));
		assert_int_equal(o->msg.mmio_megabytes, 8);
		assert_false(o->msg.chn_flags & VMBUS_CHANNEL_NAMED_PIPE_MODE);
	}
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, 0);
	vmbfx_fini(&fx);
}

/* user_def bytes are copied into the offer (after the pipe-mode word in pipe mode). */
static void test_offer_user_def(void **state)
{
	struct vmbus_offer_config cfg;
	struct vmbus_channel *a, *b;
	const struct vsc_offer *o;
	struct vmbfx_vsp dummy;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	memset(&dummy, 0, sizeof(dummy));
	dummy.f = &fx;
	memset(&cfg, 0, sizeof(cfg));
	cfg.class_id = shutdown_guid;
	cfg.instance_id = vmbfx_instance(1);
	cfg.name = "ud";
	cfg.ops = &vmbfx_vsp_ops;
	cfg.opaque = &dummy;
	for (unsigned i = 0; i < MAX_USER_DEFINED_BYTES; i++)
		cfg.user_def[i] = (uint8_t)(i + 1);
	assert_int_equal(vmbus_device_offer(fx.srv, &cfg, &a), 0);
	cfg.instance_id = vmbfx_instance(2);
	cfg.pipe_mode = true;
	assert_int_equal(vmbus_device_offer(fx.srv, &cfg, &b), 0);
	vmbfx_connect(&fx);
	o = vsc_bus_offer_by_relid(&fx.bus, vmbus_channel_relid(a));
	assert_non_null(o);
	assert_memory_equal(o->msg.u.user_def, cfg.user_def, MAX_USER_DEFINED_BYTES);
	o = vsc_bus_offer_by_relid(&fx.bus, vmbus_channel_relid(b));
	assert_non_null(o);
	assert_int_equal(o->msg.u.pipe.pipe_mode, VMBUS_PIPE_TYPE_MESSAGE);
	assert_memory_equal(o->msg.u.pipe.user_def, cfg.user_def, MAX_PIPE_USER_DEFINED_BYTES);
	vmbfx_fini(&fx);
}

static void test_request_offers_none(void **state)
{
	(void)state;
	vmbfx_init(&fx, 1, 0);
	vmbfx_connect(&fx);
	assert_int_equal(fx.bus.offer_count, 0);
	assert_true(fx.bus.all_offers_delivered);
	vmbfx_fini(&fx);
}

/* Offers made after REQUESTOFFERS go out at once; offers made between INITIATE_CONTACT and REQUESTOFFERS wait. */
static void test_offers_after_connection(void **state)
{
	struct vmbfx_vsp *a, *b, *c;
	struct vmbus_channel_offer_channel o;
	struct vsc_channel ch;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	a = vmbfx_offer(&fx, scsi_guid, 1);
	assert_int_equal(vsc_bus_connect(&fx.bus, NULL, 0), 0);
	b = vmbfx_offer(&fx, nic_guid, 2);
	vmbfx_expect_no_msg(&fx); /* offers not requested yet */
	assert_int_equal(vmbfx_state(&fx, NULL), VMBUS_STATE_CONNECTED);
	assert_int_equal(vsc_bus_request_offers(&fx.bus), 0);
	assert_int_equal(fx.bus.offer_count, 2);
	assert_non_null(vsc_bus_offer_by_relid(&fx.bus, vmbfx_relid(a)));
	assert_non_null(vsc_bus_offer_by_relid(&fx.bus, vmbfx_relid(b)));

	c = vmbfx_offer(&fx, shutdown_guid, 3); /* hot-add */
	vmbfx_expect_msg(&fx, CHANNELMSG_OFFERCHANNEL, &o, sizeof(o));
	assert_int_equal(o.child_relid, vmbfx_relid(c));
	assert_int_equal(fx.bus.offer_count, 3);
	check_offers_sane(&fx.bus);
	vmbfx_open(&fx, c, &ch, 2, 0);
	roundtrip(&ch, 7);
	vmbfx_fini(&fx);
}

static void test_offer_api_errors(void **state)
{
	struct vmbus_offer_config cfg;
	struct vmbus_channel *ch = NULL;
	struct vmbfx_vsp dummy;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	memset(&dummy, 0, sizeof(dummy));
	dummy.f = &fx;
	vmbfx_offer(&fx, scsi_guid, 1);
	memset(&cfg, 0, sizeof(cfg));
	cfg.class_id = nic_guid;
	cfg.instance_id = vmbfx_instance(1); /* in use */
	cfg.name = "dup";
	cfg.ops = &vmbfx_vsp_ops;
	cfg.opaque = &dummy;
	assert_int_equal(vmbus_device_offer(fx.srv, &cfg, &ch), -EEXIST);
	cfg.instance_id = vmbfx_instance(2);
	cfg.ops = NULL;
	assert_int_equal(vmbus_device_offer(fx.srv, &cfg, &ch), -EINVAL);
	cfg.ops = &vmbfx_vsp_ops;
	assert_int_equal(vmbus_device_offer(fx.srv, NULL, &ch), -EINVAL);
	assert_int_equal(vmbus_device_offer(fx.srv, &cfg, &ch), 0);
	vmbfx_connect(&fx);
	assert_int_equal(fx.bus.offer_count, 2);
	vmbfx_fini(&fx);
}

/* Relid bookkeeping of the hook below. */
struct relid_seen {
	unsigned count, dups;
	uint8_t seen[VMBUS_MAX_RELID + 1];
	uint32_t max_conn;
	unsigned bad;
};

static void count_relid(void *opaque, const struct vmbus_channel_offer_channel *o)
{
	struct relid_seen *s = opaque;

	s->count++;
	if (o->child_relid == 0 || o->child_relid > VMBUS_MAX_RELID) {
		s->bad++;
		return;
	}
	if (s->seen[o->child_relid]++)
		s->dups++;
}

static int null_open(struct vmbus_channel *ch, void *opaque) { return 0; }
static void null_close(struct vmbus_channel *ch, void *opaque) {}
static bool null_notify(struct vmbus_channel *ch, void *opaque) { return true; }
static const struct vmbus_device_ops null_ops = { .open = null_open, .close = null_close, .notify = null_notify };

/* 2047 devices: every relid 1..2047 once; the 2048th offer has no relid left. All offers reach the guest. */
static void test_relids_all_unique(void **state)
{
	static struct relid_seen seen;
	struct vmbus_offer_config cfg;
	struct vmbus_channel *ch;
	char name[16];

	(void)state;
	memset(&seen, 0, sizeof(seen));
	vmbfx_init(&fx, 1, 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.class_id = shutdown_guid;
	cfg.ops = &null_ops;
	cfg.name = name;
	for (unsigned i = 0; i < VMBUS_MAX_RELID; i++) {
		cfg.instance_id = vmbfx_instance((uint16_t)(i + 1));
		snprintf(name, sizeof(name), "d%u", i);
		assert_int_equal(vmbus_device_offer(fx.srv, &cfg, &ch), 0);
		assert_true(vmbus_channel_relid(ch) >= 1 && vmbus_channel_relid(ch) <= VMBUS_MAX_RELID);
	}
	cfg.instance_id = vmbfx_instance(0xFFFF);
	assert_int_equal(vmbus_device_offer(fx.srv, &cfg, &ch), -ENOSPC);
	fx.bus.offer_hook = count_relid;
	fx.bus.offer_hook_opaque = &seen;
	vmbfx_connect(&fx);
	assert_int_equal(seen.count, VMBUS_MAX_RELID);
	assert_int_equal(seen.dups, 0);
	assert_int_equal(seen.bad, 0);
	for (unsigned r = 1; r <= VMBUS_MAX_RELID; r++)
		assert_int_equal(seen.seen[r], 1);
	assert_int_equal(fx.bus.offer_count, VSC_MAX_OFFERS);
	assert_int_equal(fx.bus.offers_lost, VMBUS_MAX_RELID - VSC_MAX_OFFERS);
	check_offers_sane(&fx.bus);
	vmbfx_fini(&fx);
}

/* Rescind of a channel the guest never opened: RESCIND_CHANNELOFFER, Linux answers RELID_RELEASED at once. */
static void test_rescind_unopened(void **state)
{
	struct vmbfx_vsp *a, *b;
	struct vmbus_channel_relid_message r;
	uint32_t relid;
	struct vsc_offer *o;
	struct vsc_channel ch;

	(void)state;
	vmbfx_init_two(&fx, 1, &a, &b);
	relid = vmbfx_relid(a);
	vmbus_channel_rescind(a->ch);
	vmbfx_expect_msg(&fx, CHANNELMSG_RESCIND_CHANNELOFFER, &r, sizeof(r));
	assert_int_equal(r.child_relid, relid);
	o = &fx.bus.offers[0];
	assert_int_equal(o->msg.child_relid, relid);
	assert_true(o->rescinded);
	assert_true(o->released);
	assert_null(vsc_bus_find_offer(&fx.bus, &scsi_guid, 0));
	vmbfx_expect_no_msg(&fx);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, 0); /* RELID_RELEASED was welcome */
	assert_int_equal(a->opens + a->closes + a->notifies, 0);
	/* Opening the rescinded relid: refused by the client (Linux has no channel any more). */
	assert_int_equal(vsc_channel_open(&fx.bus, &ch, relid, 8192, 8192, 0), -VSC_ENOENT);
	/* The other device is fine. */
	vmbfx_open(&fx, b, &ch, 2, 0);
	roundtrip(&ch, 3);
	vmbfx_fini(&fx);
}

/* A raw OPENCHANNEL on a rescinded (released) relid is refused or dropped. */
static void test_open_after_rescind_refused(void **state)
{
	struct vmbfx_vsp *a;
	uint32_t relid, gpadl;
	struct vmbus_channel_open_channel m;
	uint64_t rejected;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	a = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_offer(&fx, nic_guid, 2);
	vmbfx_connect(&fx);
	relid = vmbfx_relid(a);
	assert_int_equal(vsc_gpadl_create(&fx.bus, relid, fx.plat.alloc_pages(&fx, 4), 4, &gpadl), 0);
	vmbus_channel_rescind(a->ch);
	vmbfx_expect_msg(&fx, CHANNELMSG_RESCIND_CHANNELOFFER, NULL, 0);
	vmbfx_settle(&fx);
	rejected = vmbfx_stats(&fx).messages_rejected;
	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_OPENCHANNEL;
	m.child_relid = m.openid = relid;
	m.ringbuffer_gpadlhandle = gpadl;
	m.downstream_ringbuffer_pageoffset = 2;
	vmbfx_post_ok(&fx, &m, sizeof(m));
	vmbfx_expect_refusal(&fx, CHANNELMSG_OPENCHANNEL_RESULT, 16, rejected, NULL, 0);
	vmbfx_fini(&fx);
}

/* Rescind of an open channel: the VSP is closed at once; Linux sends CLOSECHANNEL, no GPADL_TEARDOWN, then
 * RELID_RELEASED when the device is gone. */
static void test_rescind_open_channel(void **state)
{
	struct vmbfx_vsp *a, *b;
	struct vsc_channel ca, cb;
	struct vmbus_channel_relid_message r;
	struct vsc_offer *o;
	uint32_t relid;
	uint64_t rejected;

	(void)state;
	vmbfx_init_two(&fx, 1, &a, &b);
	vmbfx_open(&fx, a, &ca, 2, 0);
	vmbfx_open(&fx, b, &cb, 2, 0);
	roundtrip(&ca, 1);
	relid = ca.relid;
	vmbus_channel_rescind(a->ch);
	assert_int_equal(a->closes, 1);
	vmbfx_expect_msg(&fx, CHANNELMSG_RESCIND_CHANNELOFFER, &r, sizeof(r));
	assert_int_equal(r.child_relid, relid);
	o = vsc_bus_offer_by_relid(&fx.bus, relid);
	assert_non_null(o);
	assert_true(o->rescinded);
	assert_false(o->released); /* still open in the guest */
	assert_int_equal(vsc_channel_send_inband(&ca, 1, "x", 1), -VSC_ENODEV);
	rejected = vmbfx_stats(&fx).messages_rejected;
	/* The driver closes: CLOSECHANNEL + RELID_RELEASED, and the server answers none of it. */
	assert_int_equal(vsc_channel_close(&ca), 0);
	assert_true(o->released);
	vmbfx_expect_no_msg(&fx);
	assert_int_equal(a->closes, 1);                          /* no second close callback */
	assert_true(vmbfx_stats(&fx).messages_rejected <= rejected + 1); /* at most the CLOSECHANNEL */
	/* The other channel keeps working. */
	roundtrip(&cb, 2);
	vmbfx_fini(&fx);
}

/* A relid is not given to a new offer until the guest released it; after that it may be. */
static void test_relid_not_reused_before_release(void **state)
{
	struct vmbfx_vsp *a, *b;
	uint32_t old;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	a = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	for (unsigned round = 0; round < 6; round++) {
		old = vmbfx_relid(a);
		vmbus_channel_rescind(a->ch);
		/* The guest has not even seen the rescind: a new device must get another relid. */
		b = vmbfx_offer(&fx, nic_guid, (uint16_t)(100 + round));
		assert_int_not_equal(vmbfx_relid(b), old);
		/* Now the guest processes both (RELID_RELEASED for the old one) and sees no reused relid. */
		vmbfx_expect_msg(&fx, CHANNELMSG_OFFERCHANNEL, NULL, 0);
		assert_int_equal(fx.bus.bad_offers, 0);
		assert_non_null(vsc_bus_offer_by_relid(&fx.bus, vmbfx_relid(b)));
		vmbfx_settle(&fx);
		a = b;
	}
	/* RELID_RELEASED twice for a rescinded relid, and for relids never offered: refused, no effect. */
	{
		struct vmbus_channel_relid_message m = { .header.msgtype = CHANNELMSG_RELID_RELEASED,
							 .child_relid = old };
		uint64_t rejected = vmbfx_stats(&fx).messages_rejected;
		struct vsc_channel ch;

		vmbfx_post_ok(&fx, &m, sizeof(m));
		vmbfx_expect_no_msg(&fx);
		assert_int_equal(vmbfx_stats(&fx).messages_rejected, rejected + 1);
		m.child_relid = 0;
		vmbfx_post_ok(&fx, &m, sizeof(m));
		m.child_relid = 4000;
		vmbfx_post_ok(&fx, &m, sizeof(m));
		m.child_relid = 1000;
		vmbfx_post_ok(&fx, &m, sizeof(m));
		vmbfx_expect_no_msg(&fx);
		assert_int_equal(vmbfx_stats(&fx).messages_rejected, rejected + 4);
		vmbfx_open(&fx, a, &ch, 2, 0);
		roundtrip(&ch, 4);
	}
	vmbfx_fini(&fx);
}

/*
 * RELID_RELEASED for a live offer is how Linux gives up a device it failed to set up (vmbus_process_offer()'s
 * error path): accepted; the device is offered again after the next connection.
 */
static void test_relid_released_live_offer(void **state)
{
	struct vmbfx_vsp *a, *b;
	struct vsc_channel ch;
	struct vmbus_channel_relid_message m = { .header.msgtype = CHANNELMSG_RELID_RELEASED };
	uint64_t rejected;

	(void)state;
	vmbfx_init_two(&fx, 1, &a, &b);
	rejected = vmbfx_stats(&fx).messages_rejected;
	m.child_relid = vmbfx_relid(a);
	vmbfx_post_ok(&fx, &m, sizeof(m));
	vmbfx_expect_no_msg(&fx);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, rejected);
	vmbfx_open(&fx, b, &ch, 2, 0);
	roundtrip(&ch, 1);
	assert_int_equal(vsc_bus_unload(&fx.bus), 0);
	vmbfx_connect(&fx);
	assert_int_equal(fx.bus.offer_count, 2);
	assert_non_null(vsc_bus_offer_by_relid(&fx.bus, vmbfx_relid(a)));
	vmbfx_open(&fx, a, &ch, 2, 0);
	roundtrip(&ch, 2);
	vmbfx_fini(&fx);
}

/* A device rescinded before the guest asked for offers is never offered, and sends no rescind. */
static void test_rescind_before_offers(void **state)
{
	struct vmbfx_vsp *a, *b;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	a = vmbfx_offer(&fx, scsi_guid, 1);
	b = vmbfx_offer(&fx, nic_guid, 2);
	vmbus_channel_rescind(a->ch);
	vmbfx_connect(&fx);
	assert_int_equal(fx.bus.offer_count, 1);
	assert_int_equal(fx.bus.offers[0].msg.child_relid, vmbfx_relid(b));
	assert_int_equal(fx.bus.unexpected, 0);
	/* Connected but offers not requested: a rescind now goes nowhere either. */
	assert_int_equal(vsc_bus_unload(&fx.bus), 0);
	assert_int_equal(vsc_bus_connect(&fx.bus, NULL, 0), 0);
	vmbus_channel_rescind(b->ch);
	vmbfx_expect_no_msg(&fx);
	assert_int_equal(vsc_bus_request_offers(&fx.bus), 0);
	assert_int_equal(fx.bus.offer_count, 0);
	vmbfx_fini(&fx);
}

/* Rescind during UNLOAD/reconnect: the re-offer after a reset does not contain rescinded devices. */
static void test_reoffer_after_unload_skips_rescinded(void **state)
{
	struct vmbfx_vsp *a, *b;

	(void)state;
	vmbfx_init_two(&fx, 1, &a, &b);
	vmbus_channel_rescind(a->ch);
	vmbfx_expect_msg(&fx, CHANNELMSG_RESCIND_CHANNELOFFER, NULL, 0);
	vmbfx_settle(&fx);
	assert_int_equal(vsc_bus_unload(&fx.bus), 0);
	vmbfx_connect(&fx);
	assert_int_equal(fx.bus.offer_count, 1);
	assert_int_equal(fx.bus.offers[0].msg.child_relid, vmbfx_relid(b));
	vmbfx_fini(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_offers_fields),
		cmocka_unit_test(test_offer_user_def),
		cmocka_unit_test(test_request_offers_none),
		cmocka_unit_test(test_offers_after_connection),
		cmocka_unit_test(test_offer_api_errors),
		cmocka_unit_test(test_relids_all_unique),
		cmocka_unit_test(test_rescind_unopened),
		cmocka_unit_test(test_open_after_rescind_refused),
		cmocka_unit_test(test_rescind_open_channel),
		cmocka_unit_test(test_relid_not_reused_before_release),
		cmocka_unit_test(test_relid_released_live_offer),
		cmocka_unit_test(test_rescind_before_offers),
		cmocka_unit_test(test_reoffer_after_unload_skips_rescinded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
