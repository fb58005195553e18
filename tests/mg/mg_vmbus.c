// SPDX-License-Identifier: MIT
/*
 * tests/mg/mg_vmbus.c - the VMBus server on a real partition, driven by the guest-side client library inside a
 * micro-guest (guest/tests/g_vmbus.c): channel messages through HvPostMessage exits and SynIC message slots, guest
 * signals through the hypercall page's OUT to a KVM ioeventfd (no userspace exit), host signals as SIEF flags,
 * rings in guest RAM mapped by the server; and the heartbeat and shutdown integration components.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mg_hv_common.h"
#include "vmbus/vmbus.h"
#include "vsp/ic/ic.h"

#define ECHO_CLASS VMBUS_GUID_INIT(0x0e4c40b5, 0x3c3d, 0x4d0a, 0x9d, 0x53, 0x6f, 0x70, 0x65, 0x6e, 0x68, 0x76)
#define ECHO_INSTANCE VMBUS_GUID_INIT(0x1d2c3b4a, 0x0001, 0x4000, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01)
#define ECHO_ROUNDS 40u
#define V_DONE 0xd0d0d0d0u
#define V_IC_READY 0x1c1c1c1cu

struct vmb_test {
	struct mg_hv t; /* first: the hooks get a struct mg_hv * */
	bool with_ic;
	struct vmbus_server *srv;
	struct vsp_ic *ic;
	struct vmbus_channel *echo;
	unsigned echo_packets, echo_opens, echo_closes, echo_errors;
	struct vmbus_server_stats stats;
	struct vsp_ic_heartbeat hb;
	int shutdown_ret;
	uint32_t shutdown_hresult;
	atomic_bool shutdown_replied; /* set on the VMBus I/O thread, read on the test's thread */
	_Alignas(8) uint8_t buf[4096];
};

static int echo_open(struct vmbus_channel *ch, void *opaque)
{
	((struct vmb_test *)opaque)->echo_opens++;
	return 0;
}

static void echo_close(struct vmbus_channel *ch, void *opaque)
{
	((struct vmb_test *)opaque)->echo_closes++;
}

static bool echo_notify(struct vmbus_channel *ch, void *opaque)
{
	struct vmb_test *v = opaque;
	struct vmbus_packet pkt;
	int ret;

	while ((ret = vmbus_channel_recv(ch, v->buf, sizeof(v->buf), &pkt)) > 0) {
		v->echo_packets++;
		if ((pkt.flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED) &&
		    vmbus_channel_send_completion(ch, pkt.trans_id, pkt.data, pkt.data_len))
			v->echo_errors++;
	}
	if (ret != -EAGAIN)
		v->echo_errors++;
	return true;
}

static const struct vmbus_device_ops echo_ops = { .open = echo_open, .close = echo_close, .notify = echo_notify };

static uint64_t vmb_reference_time(void *opaque)
{
	return hvi_reference_time(((struct vmb_test *)opaque)->t.hv);
}

static void vmb_shutdown_reply(void *opaque, uint32_t hresult)
{
	struct vmb_test *v = opaque;

	v->shutdown_hresult = hresult;
	atomic_store(&v->shutdown_replied, true);
}

/* Setup hook (after the hvi partition exists): the server, its devices, its I/O thread. */
static int vmb_connect(struct mg_hv *t)
{
	struct vmb_test *v = (struct vmb_test *)t;
	struct vmbus_server_config sc = { .hv = t->hv, .mem = vid_partition_memory(t->part), .vp_count = 1 };
	struct vmbus_offer_config oc = { .class_id = ECHO_CLASS, .instance_id = ECHO_INSTANCE, .name = "echo",
					 .ops = &echo_ops, .opaque = v };
	int ret = vmbus_server_create(&sc, &v->srv);

	if (!ret)
		ret = vmbus_device_offer(v->srv, &oc, &v->echo);
	if (!ret && v->with_ic) {
		struct vsp_ic_config ic = { .srv = v->srv, .reference_time = vmb_reference_time, .opaque = v,
					    .heartbeat_period_ms = 20, .shutdown_reply = vmb_shutdown_reply };

		ret = vsp_ic_create(&ic, &v->ic);
	}
	if (!ret)
		ret = vmbus_server_start(v->srv);
	return ret;
}

/* Teardown hook (the partition still exists): record, then destroy the server. */
static void vmb_disconnect(struct mg_hv *t)
{
	struct vmb_test *v = (struct vmb_test *)t;

	if (!v->srv)
		return; /* the setup hook failed before the server existed */
	/*
	 * The guest's answer to the shutdown request is its last packet: it signals the channel and at once writes
	 * its values and result, which stops the partition. The VMBus I/O thread may not have read the answer yet, and
	 * vsp_ic_destroy() below would close the channel under it: give the thread (still running) up to 2 s.
	 */
	for (unsigned i = 0; v->ic && v->shutdown_ret == 0 && !atomic_load(&v->shutdown_replied) && i < 200; i++)
		mg_sleep_ms(NULL, 10);
	vmbus_server_stats(v->srv, &v->stats);
	if (v->ic)
		vsp_ic_heartbeat_status(v->ic, &v->hb);
	vsp_ic_destroy(v->ic);
	vmbus_server_destroy(v->srv);
}

/*
 * Value hook (VP thread): when the guest is ready, ask it to power off through the shutdown IC. The guest reports
 * V_IC_READY once it has answered the shutdown IC's NEGOTIATE, but the VMBus I/O thread reads that answer
 * asynchronously: until it has, vsp_ic_shutdown() says -ENOTCONN. The guest waits here (its VP is in this exit), so
 * retry for up to 2 s.
 */
static void vmb_value(void *opaque, struct vid_partition *part, struct vid_vp *vp, uint32_t value)
{
	struct vmb_test *v = opaque;

	if (value != V_IC_READY)
		return;
	for (unsigned i = 0; i < 200; i++) {
		v->shutdown_ret = vsp_ic_shutdown(v->ic, VSP_IC_POWEROFF, false);
		if (v->shutdown_ret != -ENOTCONN && v->shutdown_ret != -EAGAIN)
			break;
		mg_sleep_ms(NULL, 10);
	}
}

static void vmb_init(struct vmb_test *v, bool with_ic)
{
	memset(v, 0, sizeof(*v));
	mg_hv_init(&v->t, HVI_PROFILE_RECOMMENDED, 1);
	v->with_ic = with_ic;
	v->t.connect = vmb_connect;
	v->t.disconnect = vmb_disconnect;
	v->shutdown_ret = 1;
}

static void test_echo(void **state)
{
	static struct vmb_test v;
	struct mg_result res;
	struct hvi_stats hs;

	vmb_init(&v, false);
	assert_int_equal(mg_hv_run(&v.t, "g_vmbus", "echo", NULL, &res, &hs), 0);
	mg_hv_fini(&v.t);
	assert_int_equal(res.reason, VID_STOP_POWEROFF);
	assert_true(res.result_written);
	assert_int_equal(res.result, 0);
	assert_int_equal(res.nvalues, 4);
	assert_int_equal(res.values[0], VERSION_WIN10_V5_3); /* Linux's first proposal, accepted */
	assert_int_equal(res.values[1], 1);                  /* the echo device's relid */
	assert_int_equal(res.values[2], ECHO_ROUNDS);        /* every echo came back intact */
	assert_int_equal(res.values[3], V_DONE);
	assert_int_equal(v.echo_packets, ECHO_ROUNDS);
	assert_int_equal(v.echo_errors, 0);
	assert_int_equal(v.echo_opens, 1);
	assert_int_equal(v.echo_closes, 1);
	/* Guest -> host signals reached the channel's eventfd through KVM's ioeventfd: no HvSignalEvent exit. */
	assert_true(v.stats.guest_signals > 0);
	assert_int_equal(hs.signal_events_slow, 0);
	assert_true(v.stats.host_signals >= ECHO_ROUNDS);
	assert_int_equal(v.stats.channels_broken, 0);
	assert_int_equal(v.stats.resets, 2); /* INITIATE_CONTACT, UNLOAD */
}

static void test_ic(void **state)
{
	static struct vmb_test v;
	struct mg_harness_hooks extra = { .value = vmb_value };
	struct mg_result res;

	vmb_init(&v, true);
	assert_int_equal(mg_hv_run(&v.t, "g_vmbus", "ic", &extra, &res, NULL), 0);
	mg_hv_fini(&v.t);
	assert_int_equal(res.reason, VID_STOP_POWEROFF);
	assert_int_equal(res.result, 0);
	assert_int_equal(res.nvalues, 4);
	assert_int_equal(res.values[0], (3u << 16) | 0); /* heartbeat message version 3.0 */
	assert_int_equal(res.values[1], V_IC_READY);
	assert_int_equal(res.values[2], 0);              /* shutdown flags: power off, not forced */
	assert_int_equal(res.values[3], V_DONE);
	assert_int_equal(v.shutdown_ret, 0);
	assert_true(atomic_load(&v.shutdown_replied));
	assert_int_equal(v.shutdown_hresult, 0);         /* S_OK */
	assert_true(v.hb.replies >= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_ic),
	};

	mg_require_kvm();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
