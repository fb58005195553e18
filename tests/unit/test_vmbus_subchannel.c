// SPDX-License-Identifier: MIT
/*
 * Unit tests of the VMBus server's sub-channel API (vmbus_channel_offer_subchannels, vmbus/vmbus.h), in process
 * on plain memory (tests/lib/vmbus_fixture.h) with the guest-side client (guest/vsc/vsc.h):
 *  - offers after the primary opened: sub_channel_index 1..n, the primary's class and instance, new relids and
 *    connection ids, nothing offered before the call;
 *  - the guest opens and closes sub-channels like any channel: the VSP's callbacks run per channel (the primary's
 *    ops and opaque, told apart by the sub-channel index), packets are answered on the channel they came on,
 *    events go to each sub-channel's target VP;
 *  - sub-channels are rescinded when the primary closes (sub-channels closed first as Linux does, or still open)
 *    or is rescinded, their relids are freed once the guest releases them, and a new open of the primary may
 *    offer them again;
 *  - they are forgotten on UNLOAD and on a new INITIATE_CONTACT (not offered again after the reconnect);
 *  - errors: NULL, a primary not open, count 0 or above VMBUS_MAX_SUBCHANNELS, a second call, a sub-channel as
 *    primary, a closed or rescinded primary; a VSP that refuses a sub-channel's open.
 * The test VSP here is the test's own (the fixture's test double insists every callback is for its primary).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmbus_fixture.h"

#define SC_MAX (VMBUS_MAX_SUBCHANNELS + 1u)
#define SC_RING_PAGES 4u

static struct vmbfx fx;

/* ---- a VSP with sub-channels ------------------------------------------------------------------------------ */

struct sc_rec {
	unsigned opens, closes, notifies, packets, replies;
	int open_ret;               /* what open returns for this channel index */
	uint32_t target_vp;         /* at the last open */
	uint64_t last_trans_id;
	void *context_seen;         /* vmbus_channel_context at the last notify */
};

struct sc_dev {
	struct vmbus_channel *primary;
	struct vmbus_channel *subs[SC_MAX];  /* by sub-channel index (from vmbus_channel_offer_subchannels) */
	struct sc_rec rec[SC_MAX];           /* by sub-channel index; [0] the primary */
	unsigned close_log[4 * SC_MAX];      /* channel indices in the order their close callbacks ran */
	unsigned close_count;
	unsigned foreign;                    /* callbacks for a channel whose primary is not ours */
	_Alignas(8) uint8_t rx[4096];
};

static struct sc_dev devs[2];

static struct sc_rec *sc_rec_of(struct sc_dev *d, struct vmbus_channel *ch)
{
	uint16_t idx = vmbus_channel_subchannel_index(ch);

	if (vmbus_channel_primary(ch) != d->primary || idx >= SC_MAX) {
		d->foreign++;
		return NULL;
	}
	return &d->rec[idx];
}

static int sc_open(struct vmbus_channel *ch, void *opaque)
{
	struct sc_dev *d = opaque;
	struct sc_rec *r = sc_rec_of(d, ch);

	if (!r)
		return -EINVAL;
	r->opens++;
	r->target_vp = vmbus_channel_target_vp(ch);
	return r->open_ret;
}

static void sc_close(struct vmbus_channel *ch, void *opaque)
{
	struct sc_dev *d = opaque;
	struct sc_rec *r = sc_rec_of(d, ch);

	if (!r)
		return;
	r->closes++;
	if (d->close_count < sizeof(d->close_log) / sizeof(d->close_log[0]))
		d->close_log[d->close_count++] = vmbus_channel_subchannel_index(ch);
}

/* Echo every completion-requested packet back on the channel it came on. */
static bool sc_notify(struct vmbus_channel *ch, void *opaque)
{
	struct sc_dev *d = opaque;
	struct sc_rec *r = sc_rec_of(d, ch);

	if (!r)
		return true;
	r->notifies++;
	r->context_seen = vmbus_channel_context(ch);
	for (;;) {
		struct vmbus_packet pkt;
		int n = vmbus_channel_recv(ch, d->rx, sizeof(d->rx), &pkt);

		if (n < 0)
			return true;
		r->packets++;
		r->last_trans_id = pkt.trans_id;
		if ((pkt.flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED) &&
		    vmbus_channel_send_completion(ch, pkt.trans_id, pkt.data, pkt.data_len) == 0)
			r->replies++;
	}
}

static const struct vmbus_device_ops sc_ops = { .open = sc_open, .close = sc_close, .notify = sc_notify };

/* Offers the guest saw (the bus's offer hook sees all of them, also those its table has no room for). */
static struct vmbus_channel_offer_channel seen[256];
static unsigned seen_count;

static void on_offer(void *opaque, const struct vmbus_channel_offer_channel *o)
{
	(void)opaque;
	if (seen_count < sizeof(seen) / sizeof(seen[0]))
		seen[seen_count++] = *o;
}

static struct vmbus_guid sc_class(void)
{
	return (struct vmbus_guid)VMBUS_GUID_INIT(0x5c5c0001, 0x1234, 0x4abc, 0x80, 0x01, 0x02, 0x03, 0x04, 0x05,
						 0x06, 0x07);
}

static void sc_offer(struct sc_dev *d, uint16_t tag)
{
	struct vmbus_offer_config cfg;

	memset(d, 0, sizeof(*d));
	memset(&cfg, 0, sizeof(cfg));
	cfg.class_id = sc_class();
	cfg.instance_id = vmbfx_instance(tag);
	cfg.name = tag ? "scdev1" : "scdev0";
	cfg.ops = &sc_ops;
	cfg.opaque = d;
	assert_int_equal(vmbus_device_offer(fx.srv, &cfg, &d->primary), 0);
}

/* The client's bus with the offer hook installed (vsc_bus_init clears it). */
static void bus_reinit(void)
{
	vsc_bus_init(&fx.bus, &fx.plat, 0);
	fx.bus.offer_hook = on_offer;
	seen_count = 0;
}

/* A fixture of @vps VPs, @ndev devices offered, the client connected and every primary open (4-page rings). */
static void setup(unsigned vps, unsigned ndev, struct vsc_channel *prim)
{
	vmbfx_init(&fx, vps, 0);
	fx.bus.offer_hook = on_offer;
	seen_count = 0;
	for (unsigned i = 0; i < ndev; i++)
		sc_offer(&devs[i], (uint16_t)i);
	vmbfx_connect(&fx);
	for (unsigned i = 0; i < ndev; i++) {
		assert_int_equal(vsc_channel_open(&fx.bus, &prim[i], vmbus_channel_relid(devs[i].primary),
						  SC_RING_PAGES * VSC_PAGE_SIZE, SC_RING_PAGES * VSC_PAGE_SIZE, 0), 0);
		assert_int_equal(devs[i].rec[0].opens, 1);
	}
}

/* Pump until the client has recorded @n more offers than @before (offer hook), or fail. */
static void wait_offers(unsigned before, unsigned n)
{
	uint64_t deadline = vmbfx_now_ms(NULL) + VMBFX_WAIT_MS;

	while (seen_count < before + n) {
		vsc_bus_poll_msgs(&fx.bus);
		if (vmbfx_now_ms(NULL) > deadline) {
			print_error("%u offers seen, %u expected\n", seen_count - before, n);
			fail();
		}
	}
}

/* The client's record of @relid, including released ones (the most recent). */
static const struct vsc_offer *client_offer(uint32_t relid)
{
	const struct vsc_offer *found = NULL;

	for (unsigned i = 0; i < fx.bus.offer_count; i++)
		if (fx.bus.offers[i].msg.child_relid == relid)
			found = &fx.bus.offers[i];
	return found;
}

/* Run server and client until quiet. */
static void settle(void)
{
	for (int i = 0; i < 20; i++) {
		vmbfx_settle(&fx);
		vsc_bus_poll_msgs(&fx.bus);
	}
}

/* Send one in-band packet on @ch and expect its echo on the same channel. */
static void echo_on(struct vsc_channel *ch, uint64_t trans_id)
{
	_Alignas(8) uint8_t buf[256];
	struct vsc_packet pkt;
	uint64_t payload = trans_id * 7u; /* 8 bytes: payloads are padded to 8 */

	assert_int_equal(vsc_channel_send_inband(ch, trans_id, &payload, sizeof(payload)), 0);
	assert_true(vsc_channel_recv_wait(ch, buf, sizeof(buf), &pkt, 0) > 0);
	assert_int_equal(pkt.type, VM_PKT_COMP);
	assert_int_equal(pkt.trans_id, trans_id);
	assert_int_equal(pkt.data_len, sizeof(payload));
	assert_memory_equal(pkt.data, &payload, sizeof(payload));
}

static void open_sub(struct vsc_channel *ch, uint32_t relid, uint32_t vp)
{
	assert_int_equal(vsc_channel_open(&fx.bus, ch, relid, SC_RING_PAGES * VSC_PAGE_SIZE,
					  SC_RING_PAGES * VSC_PAGE_SIZE, vp), 0);
}

/* ---- tests ---------------------------------------------------------------------------------------------- */

static void test_offers_after_open(void **state)
{
	struct vsc_channel prim;
	struct vmbus_channel *subs[3];
	uint32_t prelid, pconn;

	(void)state;
	setup(2, 1, &prim);
	prelid = vmbus_channel_relid(devs[0].primary);
	pconn = seen[0].connection_id;
	vmbfx_expect_no_msg(&fx); /* nothing offered before the VSP asks */
	assert_int_equal(vmbus_channel_subchannel_index(devs[0].primary), 0);
	assert_ptr_equal(vmbus_channel_primary(devs[0].primary), devs[0].primary);

	seen_count = 0;
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 3, subs), 0);
	wait_offers(0, 3);
	for (unsigned i = 0; i < 3; i++) {
		const struct vmbus_channel_offer_channel *o = &seen[i];

		assert_int_equal(o->sub_channel_index, i + 1);
		assert_memory_equal(&o->if_type, &seen[0].if_type, sizeof(o->if_type));
		{
			struct vmbus_guid c = sc_class(), inst = vmbfx_instance(0);

			assert_memory_equal(&o->if_type, &c, sizeof(c));
			assert_memory_equal(&o->if_instance, &inst, sizeof(inst));
		}
		assert_int_not_equal(o->child_relid, prelid);
		assert_int_not_equal(o->connection_id, pconn);
		assert_int_equal(o->child_relid, vmbus_channel_relid(subs[i]));
		assert_int_equal(vmbus_channel_subchannel_index(subs[i]), i + 1);
		assert_ptr_equal(vmbus_channel_primary(subs[i]), devs[0].primary);
		assert_false(vmbus_channel_is_open(subs[i]));
		for (unsigned j = 0; j < i; j++) {
			assert_int_not_equal(o->child_relid, seen[j].child_relid);
			assert_int_not_equal(o->connection_id, seen[j].connection_id);
		}
		/* recorded by the client as live offers, not as duplicate primaries */
		assert_non_null(vsc_bus_offer_by_relid(&fx.bus, o->child_relid));
	}
	assert_int_equal(fx.bus.bad_offers, 0);
	/* the primary is still the first offer of its class; sub-channels follow */
	{
		struct vmbus_guid c = sc_class();

		assert_int_equal(vsc_bus_find_offer(&fx.bus, &c, 0)->msg.child_relid, prelid);
	}
	/* out may be NULL */
	vsc_channel_close(&prim);
	settle();
	assert_int_equal(vsc_channel_open(&fx.bus, &prim, prelid, SC_RING_PAGES * VSC_PAGE_SIZE,
					  SC_RING_PAGES * VSC_PAGE_SIZE, 0), 0);
	seen_count = 0;
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 2, NULL), 0);
	wait_offers(0, 2);
	assert_int_equal(seen[0].sub_channel_index, 1);
	assert_int_equal(seen[1].sub_channel_index, 2);
	vmbfx_fini(&fx);
}

static void test_open_close_io(void **state)
{
	struct vsc_channel prim, sub[4];
	struct vmbus_channel *subs[3];
	int ctx[4];

	(void)state;
	setup(2, 1, &prim);
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 3, subs), 0);
	wait_offers(seen_count, 3);
	for (unsigned i = 1; i <= 3; i++) {
		unsigned irq_before = vmbfx_interrupts(&fx, i % 2);

		open_sub(&sub[i], vmbus_channel_relid(subs[i - 1]), i % 2);
		assert_int_equal(devs[0].rec[i].opens, 1);
		assert_int_equal(devs[0].rec[i].target_vp, i % 2);
		assert_true(vmbus_channel_is_open(subs[i - 1]));
		vmbus_channel_set_context(subs[i - 1], &ctx[i]);
		/* the echo comes back on the sub-channel, its event on the sub-channel's VP */
		echo_on(&sub[i], 100 + i);
		assert_int_equal(devs[0].rec[i].packets, 1);
		assert_int_equal(devs[0].rec[i].replies, 1);
		assert_int_equal(devs[0].rec[i].last_trans_id, 100 + i);
		assert_ptr_equal(devs[0].rec[i].context_seen, &ctx[i]);
		assert_true(vmbfx_interrupts(&fx, i % 2) > irq_before);
	}
	assert_int_equal(devs[0].rec[0].packets, 0); /* nothing leaked to the primary */
	vmbus_channel_set_context(devs[0].primary, &ctx[0]);
	echo_on(&prim, 7);
	assert_int_equal(devs[0].rec[0].packets, 1);
	assert_ptr_equal(devs[0].rec[0].context_seen, &ctx[0]);
	assert_ptr_equal(vmbus_channel_context(subs[1]), &ctx[2]);

	/* interleaved traffic on all four channels */
	for (unsigned round = 0; round < 8; round++) {
		for (unsigned i = 1; i <= 3; i++)
			echo_on(&sub[i], 1000 + round * 4 + i);
		echo_on(&prim, 2000 + round);
	}
	for (unsigned i = 1; i <= 3; i++)
		assert_int_equal(devs[0].rec[i].packets, 9);

	/* closing one sub-channel closes only that one */
	assert_int_equal(vsc_channel_close(&sub[2]), 0);
	settle();
	assert_int_equal(devs[0].rec[2].closes, 1);
	assert_int_equal(devs[0].rec[1].closes + devs[0].rec[3].closes + devs[0].rec[0].closes, 0);
	assert_false(vmbus_channel_is_open(subs[1]));
	assert_true(vmbus_channel_is_open(subs[0]));
	echo_on(&sub[1], 77);
	echo_on(&sub[3], 78);
	echo_on(&prim, 79);
	/* ... and it can be opened again (new GPADL, new rings) */
	open_sub(&sub[2], vmbus_channel_relid(subs[1]), 1);
	assert_int_equal(devs[0].rec[2].opens, 2);
	echo_on(&sub[2], 80);
	assert_int_equal(devs[0].foreign, 0);
	vmbfx_fini(&fx);
}

/* Linux's order: sub-channels closed first, then the primary. The server rescinds them; the client releases. */
static void test_primary_close_rescinds(void **state)
{
	struct vsc_channel prim, sub[4];
	struct vmbus_channel *subs[3];
	uint32_t relids[3];

	(void)state;
	setup(2, 1, &prim);
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 3, subs), 0);
	wait_offers(seen_count, 3);
	for (unsigned i = 0; i < 3; i++) {
		relids[i] = vmbus_channel_relid(subs[i]);
		open_sub(&sub[i + 1], relids[i], 0);
	}
	for (unsigned i = 3; i >= 1; i--)
		assert_int_equal(vsc_channel_close(&sub[i]), 0);
	assert_int_equal(vsc_channel_close(&prim), 0);
	settle();
	for (unsigned i = 0; i < 3; i++) {
		const struct vsc_offer *o = client_offer(relids[i]);

		assert_non_null(o);
		assert_true(o->rescinded);
		assert_true(o->released);
		assert_int_equal(devs[0].rec[i + 1].closes, 1);
	}
	assert_int_equal(devs[0].rec[0].closes, 1);
	/* the primary itself stays offered */
	assert_false(client_offer(vmbus_channel_relid(devs[0].primary))->rescinded);
	/* the relids were freed: the next open's sub-channels get the same ones */
	assert_int_equal(vsc_channel_open(&fx.bus, &prim, vmbus_channel_relid(devs[0].primary),
					  SC_RING_PAGES * VSC_PAGE_SIZE, SC_RING_PAGES * VSC_PAGE_SIZE, 0), 0);
	seen_count = 0;
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 3, subs), 0);
	wait_offers(0, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(seen[i].child_relid, relids[i]);
		assert_int_equal(seen[i].sub_channel_index, i + 1);
	}
	open_sub(&sub[1], relids[0], 1);
	echo_on(&sub[1], 5);
	assert_int_equal(devs[0].foreign, 0);
	vmbfx_fini(&fx);
}

/* The primary closes while its sub-channels are open: they are closed (VSP close) and rescinded too. */
static void test_primary_close_with_subs_open(void **state)
{
	struct vsc_channel prim, sub[3];
	struct vmbus_channel *subs[2];
	uint32_t relids[2];

	(void)state;
	setup(1, 1, &prim);
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 2, subs), 0);
	wait_offers(seen_count, 2);
	for (unsigned i = 0; i < 2; i++) {
		relids[i] = vmbus_channel_relid(subs[i]);
		open_sub(&sub[i + 1], relids[i], 0);
		echo_on(&sub[i + 1], 10 + i);
	}
	assert_int_equal(vsc_channel_close(&prim), 0);
	settle();
	assert_int_equal(devs[0].rec[0].closes, 1);
	for (unsigned i = 0; i < 2; i++) {
		const struct vsc_offer *o = client_offer(relids[i]);

		assert_int_equal(devs[0].rec[i + 1].closes, 1);
		assert_true(o->rescinded);
		assert_false(o->released); /* still open on the guest's side: released at its close */
		/* a rescinded channel refuses sends on the client's side */
		assert_int_equal(vsc_channel_send_inband(&sub[i + 1], 1, "x", 1), -VSC_ENODEV);
	}
	/* the sub-channels' close callbacks ran before the primary's (the order Linux closes them in) */
	assert_int_equal(devs[0].close_count, 3);
	assert_int_equal(devs[0].close_log[2], 0);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(vsc_channel_close(&sub[i + 1]), 0);
		settle();
		assert_true(client_offer(relids[i])->released);
		assert_int_equal(devs[0].rec[i + 1].closes, 1); /* no second close */
	}
	assert_int_equal(vmbfx_stats(&fx).channels_broken, 0);
	vmbfx_fini(&fx);
}

/* Hot-removing the device rescinds its sub-channels too; their callbacks never run again. */
static void test_primary_rescind(void **state)
{
	struct vsc_channel prims[2], sub[3];
	struct vmbus_channel *subs[2];
	uint32_t relids[3];

	(void)state;
	setup(2, 2, prims);
	/* device 1 keeps running beside it */
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 2, subs), 0);
	wait_offers(seen_count, 2);
	relids[0] = vmbus_channel_relid(devs[0].primary);
	for (unsigned i = 0; i < 2; i++) {
		relids[i + 1] = vmbus_channel_relid(subs[i]);
		open_sub(&sub[i + 1], relids[i + 1], 0);
	}
	vmbus_channel_rescind(devs[0].primary);
	settle();
	for (unsigned i = 0; i < 3; i++) {
		assert_true(client_offer(relids[i])->rescinded);
		assert_int_equal(devs[0].rec[i].closes, 1);
	}
	/* the guest's late packet on a rescinded sub-channel is refused by the client; nothing reaches the VSP */
	assert_int_equal(vsc_channel_send_inband(&sub[1], 3, "y", 1), -VSC_ENODEV);
	for (unsigned i = 1; i <= 2; i++)
		assert_int_equal(vsc_channel_close(&sub[i]), 0);
	settle();
	for (unsigned i = 1; i < 3; i++)
		assert_true(client_offer(relids[i])->released);
	assert_int_equal(devs[0].rec[1].notifies + devs[0].rec[2].notifies, 0);
	assert_int_equal(devs[1].rec[0].closes, 0);
	assert_int_equal(devs[0].foreign + devs[1].foreign, 0);
	vmbfx_fini(&fx);
}

/* Two devices: each primary's sub-channels are its own. */
static void test_two_devices(void **state)
{
	struct vsc_channel prim[2], sub0[3], sub1[2];
	struct vmbus_channel *s0[2], *s1[1];

	(void)state;
	setup(2, 2, prim);
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 2, s0), 0);
	assert_int_equal(vmbus_channel_offer_subchannels(devs[1].primary, 1, s1), 0);
	wait_offers(seen_count, 3);
	open_sub(&sub0[1], vmbus_channel_relid(s0[0]), 0);
	open_sub(&sub0[2], vmbus_channel_relid(s0[1]), 1);
	open_sub(&sub1[1], vmbus_channel_relid(s1[0]), 1);
	assert_ptr_equal(vmbus_channel_primary(s1[0]), devs[1].primary);
	echo_on(&sub0[1], 1);
	echo_on(&sub1[1], 2);
	assert_int_equal(devs[0].rec[1].packets, 1);
	assert_int_equal(devs[1].rec[1].packets, 1);
	/* device 1's primary closes: only its own sub-channel goes */
	assert_int_equal(vsc_channel_close(&prim[1]), 0);
	settle();
	assert_true(client_offer(vmbus_channel_relid(s0[0]))->rescinded == false);
	assert_int_equal(devs[1].rec[1].closes, 1);
	assert_int_equal(devs[0].rec[1].closes + devs[0].rec[2].closes, 0);
	echo_on(&sub0[2], 3);
	assert_int_equal(devs[0].foreign + devs[1].foreign, 0);
	vmbfx_fini(&fx);
}

static void test_errors(void **state)
{
	struct vsc_channel prim[2];
	struct vmbus_channel *subs[VMBUS_MAX_SUBCHANNELS + 1];

	(void)state;
	vmbfx_init(&fx, 1, 0);
	fx.bus.offer_hook = on_offer;
	sc_offer(&devs[0], 0);
	sc_offer(&devs[1], 1);
	/* not open (not even offered to a guest yet) */
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 1, subs), -EINVAL);
	assert_int_equal(vmbus_channel_offer_subchannels(NULL, 1, subs), -EINVAL);
	vmbfx_connect(&fx);
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 1, subs), -EINVAL);
	assert_int_equal(vsc_channel_open(&fx.bus, &prim[0], vmbus_channel_relid(devs[0].primary),
					  SC_RING_PAGES * VSC_PAGE_SIZE, SC_RING_PAGES * VSC_PAGE_SIZE, 0), 0);
	/* bad counts */
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 0, subs), -EINVAL);
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, VMBUS_MAX_SUBCHANNELS + 1, subs),
			 -EINVAL);
	vmbfx_expect_no_msg(&fx); /* none of those offered anything */
	/* once, then never twice for the same open */
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 2, subs), 0);
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 1, subs + 2), -EINVAL);
	/* a sub-channel is not a primary */
	assert_int_equal(vmbus_channel_offer_subchannels(subs[0], 1, subs + 2), -EINVAL);
	settle();
	/* closed primary */
	assert_int_equal(vsc_channel_close(&prim[0]), 0);
	settle();
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 1, subs), -EINVAL);
	/* rescinded primary (device 1, open) */
	assert_int_equal(vsc_channel_open(&fx.bus, &prim[1], vmbus_channel_relid(devs[1].primary),
					  SC_RING_PAGES * VSC_PAGE_SIZE, SC_RING_PAGES * VSC_PAGE_SIZE, 0), 0);
	vmbus_channel_rescind(devs[1].primary);
	/* (the channel object lives until the guest releases the relid: its state must refuse) */
	assert_int_equal(vmbus_channel_offer_subchannels(devs[1].primary, 1, subs), -EINVAL);
	assert_int_equal(vsc_channel_close(&prim[1]), 0);
	settle();
	vmbfx_fini(&fx);
}

/* The largest count: VMBUS_MAX_SUBCHANNELS offers, all distinct (the client's table holds 64: one lost). */
static void test_max_count(void **state)
{
	struct vsc_channel prim, sub;
	struct vmbus_channel *subs[VMBUS_MAX_SUBCHANNELS];

	(void)state;
	setup(1, 1, &prim);
	seen_count = 0;
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, VMBUS_MAX_SUBCHANNELS, subs), 0);
	wait_offers(0, VMBUS_MAX_SUBCHANNELS);
	for (unsigned i = 0; i < VMBUS_MAX_SUBCHANNELS; i++) {
		assert_int_equal(seen[i].sub_channel_index, i + 1);
		for (unsigned j = 0; j < i; j++)
			assert_int_not_equal(seen[i].child_relid, seen[j].child_relid);
	}
	assert_int_equal(fx.bus.offers_lost, 1);
	open_sub(&sub, seen[VMBUS_MAX_SUBCHANNELS - 2].child_relid, 0);
	echo_on(&sub, 9);
	assert_int_equal(devs[0].rec[VMBUS_MAX_SUBCHANNELS - 1].packets, 1);
	vmbfx_fini(&fx);
}

static void refuse_open_common(void)
{
	struct vsc_channel prim, sub[3];
	struct vmbus_channel *subs[2];

	setup(1, 1, &prim);
	devs[0].rec[1].open_ret = -EIO;
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 2, subs), 0);
	wait_offers(seen_count, 2);
	assert_int_equal(vsc_channel_open(&fx.bus, &sub[1], vmbus_channel_relid(subs[0]),
					  SC_RING_PAGES * VSC_PAGE_SIZE, SC_RING_PAGES * VSC_PAGE_SIZE, 0), -VSC_EIO);
	assert_int_equal(devs[0].rec[1].opens, 1);
	assert_false(vmbus_channel_is_open(subs[0]));
	open_sub(&sub[2], vmbus_channel_relid(subs[1]), 0);
	echo_on(&sub[2], 4);
	/* the VSP changes its mind: the guest retries */
	devs[0].rec[1].open_ret = 0;
	open_sub(&sub[1], vmbus_channel_relid(subs[0]), 0);
	echo_on(&sub[1], 5);
	vmbfx_fini(&fx);
}

static void test_open_refused(void **state)
{
	(void)state;
	refuse_open_common();
}

/*
 * UNLOAD (or a new INITIATE_CONTACT: kexec, kdump) is a bus reset: open sub-channels are closed (VSP close), the
 * sub-channels forgotten; after the reconnect only the primary is offered, and a new open may ask again.
 */
static void reset_common(bool unload)
{
	struct vsc_channel prim, sub[3];
	struct vmbus_channel *subs[2];
	struct vmbus_guid c = sc_class();
	uint32_t prelid;

	setup(2, 1, &prim);
	prelid = vmbus_channel_relid(devs[0].primary);
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 2, subs), 0);
	wait_offers(seen_count, 2);
	for (unsigned i = 0; i < 2; i++) {
		open_sub(&sub[i + 1], vmbus_channel_relid(subs[i]), i);
		echo_on(&sub[i + 1], 20 + i);
	}
	if (unload) {
		assert_int_equal(vsc_bus_unload(&fx.bus), 0);
	} else {
		settle();
	}
	bus_reinit(); /* a new kernel: the old client state is gone */
	vmbfx_connect(&fx);
	settle();
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(devs[0].rec[i].closes, 1);
	/* only the primary came back */
	assert_int_equal(seen_count, 1);
	assert_int_equal(seen[0].sub_channel_index, 0);
	assert_int_equal(seen[0].child_relid, prelid);
	assert_null(vsc_bus_find_offer(&fx.bus, &c, 1));
	/* every INITIATE_CONTACT is a reset too: the first connect, (UNLOAD,) the reconnect */
	assert_int_equal(vmbfx_stats(&fx).resets, unload ? 3u : 2u);
	/* a new open of the primary may ask again */
	assert_int_equal(vsc_channel_open(&fx.bus, &prim, prelid, SC_RING_PAGES * VSC_PAGE_SIZE,
					  SC_RING_PAGES * VSC_PAGE_SIZE, 0), 0);
	seen_count = 0;
	assert_int_equal(vmbus_channel_offer_subchannels(devs[0].primary, 2, subs), 0);
	wait_offers(0, 2);
	assert_int_equal(seen[0].sub_channel_index, 1);
	assert_int_equal(seen[1].sub_channel_index, 2);
	open_sub(&sub[1], seen[0].child_relid, 1);
	echo_on(&sub[1], 30);
	assert_int_equal(devs[0].rec[1].opens, 2);
	assert_int_equal(devs[0].foreign, 0);
	vmbfx_fini(&fx);
}

static void test_unload_forgets(void **state)
{
	(void)state;
	reset_common(true);
}

static void test_reconnect_forgets(void **state)
{
	(void)state;
	reset_common(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offers_after_open),
		cmocka_unit_test(test_open_close_io),
		cmocka_unit_test(test_primary_close_rescinds),
		cmocka_unit_test(test_primary_close_with_subs_open),
		cmocka_unit_test(test_primary_rescind),
		cmocka_unit_test(test_two_devices),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_max_count),
		cmocka_unit_test(test_open_refused),
		cmocka_unit_test(test_unload_forgets),
		cmocka_unit_test(test_reconnect_forgets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
