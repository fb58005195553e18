// SPDX-License-Identifier: MIT
/*
 * Unit tests for vsp/ic (the integration-component VSPs), in process: the VMBus server on plain memory
 * (tests/lib/vmbus_fixture.h) and the guest's IC client (guest/vsc/vsc_ic.h) answering like Linux 6.1 hv_utils.
 * Offers and pipe mode, negotiation per service (Linux's lists, old-only lists, no common version), shutdown
 * flags and the guest's HRESULT, heartbeat counting and alive/lost transitions, time sync SYNC then SAMPLE in both
 * formats, KVP push and enumeration, a silent KVP guest, a KVP timeout, hostile answers, the exact bytes Linux
 * 6.1 reads and answers per service, UTF-8/16 conversion, and the any-thread API with the server's I/O thread
 * running.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "openhv/vmbus_ic.h"
#include "vmbus_fixture.h"
#include "vsc/vsc_ic.h"
#include "vsp/ic/ic.h"
#include "vsp/ic/internal.h"

#define REF_TIME 0x0123456789abcdefull

static struct vmbfx fx;
static struct vsc_ic cl_sd, cl_ts, cl_hb, cl_kvp;

/* What the VSP reported through its callbacks (atomics: the threaded test runs them on the I/O thread). */
struct rec {
	_Atomic unsigned sd_replies;
	_Atomic uint32_t sd_status;
	_Atomic unsigned hb_up, hb_down;
	_Atomic int hb_last; /* -1: none */
	_Atomic unsigned ref_calls;
	_Atomic uint64_t ref_last;
};
static struct rec rec;

static uint64_t t_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t t_filetime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 10000000ull + (uint64_t)ts.tv_nsec / 100u + WLTIMEDELTA;
}

static uint64_t on_ref_time(void *opaque)
{
	struct rec *r = opaque;
	uint64_t v = REF_TIME + atomic_fetch_add(&r->ref_calls, 1);

	atomic_store(&r->ref_last, v);
	return v;
}

static void on_shutdown_reply(void *opaque, uint32_t hresult)
{
	struct rec *r = opaque;

	atomic_store(&r->sd_status, hresult);
	atomic_fetch_add(&r->sd_replies, 1);
}

static void on_heartbeat_change(void *opaque, bool alive)
{
	struct rec *r = opaque;

	atomic_fetch_add(alive ? &r->hb_up : &r->hb_down, 1);
	atomic_store(&r->hb_last, alive ? 1 : 0);
}

static struct vsp_ic_config base_cfg(void)
{
	struct vsp_ic_config cfg = {
		.srv = fx.srv,
		.reference_time = on_ref_time,
		.opaque = &rec,
		.heartbeat_period_ms = 10,
		.timesync_period_ms = 5,
		.kvp = true,
		.shutdown_reply = on_shutdown_reply,
		.heartbeat_change = on_heartbeat_change,
	};
	return cfg;
}

/* A fresh fixture (1 VP) with the ICs of @cfg (NULL: base_cfg) offered and the client connected. */
static struct vsp_ic *setup(const struct vsp_ic_config *cfg)
{
	struct vsp_ic_config c;
	struct vsp_ic *ic = NULL;

	memset(&rec, 0, sizeof(rec));
	atomic_store(&rec.hb_last, -1);
	vmbfx_init(&fx, 1, 0);
	c = cfg ? *cfg : base_cfg();
	c.srv = fx.srv;
	assert_int_equal(vsp_ic_create(&c, &ic), 0);
	assert_non_null(ic);
	vmbfx_connect(&fx);
	vsc_ic_init(&cl_sd, VSC_IC_SHUTDOWN);
	vsc_ic_init(&cl_ts, VSC_IC_TIMESYNC);
	vsc_ic_init(&cl_hb, VSC_IC_HEARTBEAT);
	vsc_ic_init(&cl_kvp, VSC_IC_KVP);
	return ic;
}

static void teardown(struct vsp_ic *ic)
{
	vsp_ic_destroy(ic);
	vmbfx_fini(&fx);
}

static struct vsp_ic_stats stats(struct vsp_ic *ic)
{
	struct vsp_ic_stats s;

	vsp_ic_stats(ic, &s);
	return s;
}

/* Open @c's channel and answer the host's NEGOTIATE (the client's lists must be set before). */
static void open_and_negotiate(struct vsc_ic *c)
{
	assert_int_equal(vsc_ic_open(&fx.bus, c), 0);
	assert_int_equal(vsc_ic_wait(c, 2000), 1);
	assert_int_equal(c->negotiations, 1);
	vmbfx_settle(&fx);
}

/* Answer whatever the clients have, run the server, until @cond or @max_ms. */
#define RUN_UNTIL(max_ms, cond, ...)                                                                                   \
	({                                                                                                             \
		struct vsc_ic *cl_[] = { __VA_ARGS__ };                                                               \
		uint64_t end_ = t_now_ms() + (max_ms);                                                                \
		bool ok_ = false;                                                                                      \
		for (;;) {                                                                                             \
			for (size_t i_ = 0; i_ < sizeof(cl_) / sizeof(cl_[0]); i_++)                                  \
				if (cl_[i_])                                                                           \
					assert_true(vsc_ic_poll(cl_[i_]) >= 0);                                        \
			(void)vmbus_server_poll(fx.srv, 1);                                                            \
			if (cond) {                                                                                    \
				ok_ = true;                                                                            \
				break;                                                                                 \
			}                                                                                              \
			if (t_now_ms() > end_)                                                                         \
				break;                                                                                 \
		}                                                                                                      \
		ok_;                                                                                                   \
	})

/* Run only the server for @ms. */
static void run_server(unsigned ms)
{
	uint64_t end = t_now_ms() + ms;

	while (t_now_ms() < end)
		(void)vmbus_server_poll(fx.srv, 1);
}

static void guid_str(const struct vmbus_guid *g, char out[37])
{
	const uint8_t *b = g->b;

	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[3], b[2], b[1],
		 b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* ---- offers ------------------------------------------------------------------------------------------------ */

static void test_offers(void **state)
{
	static const struct {
		struct vmbus_guid cls, inst;
		const char *str;
	} want[] = {
		{ HV_SHUTDOWN_GUID, VSP_IC_SHUTDOWN_INSTANCE, VSP_IC_SHUTDOWN_INSTANCE_STR },
		{ HV_TS_GUID, VSP_IC_TIMESYNC_INSTANCE, VSP_IC_TIMESYNC_INSTANCE_STR },
		{ HV_HEART_BEAT_GUID, VSP_IC_HEARTBEAT_INSTANCE, VSP_IC_HEARTBEAT_INSTANCE_STR },
		{ HV_KVP_GUID, VSP_IC_KVP_INSTANCE, VSP_IC_KVP_INSTANCE_STR },
	};
	struct vsp_ic *ic = setup(NULL);
	struct vsp_ic_stats s = stats(ic);

	for (size_t i = 0; i < 4; i++) {
		const struct vsc_offer *o = vsc_bus_find_offer(&fx.bus, &want[i].cls, 0);
		char str[37];

		assert_non_null(o);
		assert_memory_equal(&o->msg.if_instance, &want[i].inst, 16);
		guid_str(&o->msg.if_instance, str);
		assert_string_equal(str, want[i].str);
		/* pipe mode, message pipes, as Hyper-V offers its ICs */
		assert_true(o->msg.chn_flags & VMBUS_CHANNEL_NAMED_PIPE_MODE);
		assert_int_equal(o->msg.u.pipe.pipe_mode, VMBUS_PIPE_TYPE_MESSAGE);
		assert_null(vsc_bus_find_offer(&fx.bus, &want[i].cls, 1));
		assert_int_equal(s.svc[i].state, VSP_IC_STATE_CLOSED);
	}
	teardown(ic);

	/* without cfg.kvp: no KVP offer, and the KVP API says so */
	struct vsp_ic_config cfg = base_cfg();
	char v[8];

	cfg.kvp = false;
	ic = setup(&cfg);
	assert_null(vsc_bus_find_offer(&fx.bus, &want[3].cls, 0));
	assert_non_null(vsc_bus_find_offer(&fx.bus, &want[0].cls, 0));
	assert_int_equal(vsp_ic_kvp_set(ic, "a", "b"), -EOPNOTSUPP);
	assert_int_equal(vsp_ic_kvp_guest_get(ic, "a", v, sizeof(v)), -ENOENT);
	teardown(ic);
}

static void test_api_args(void **state)
{
	struct vsp_ic_config cfg = { 0 };
	struct vsp_ic *ic = NULL;
	struct vsp_ic_heartbeat hb;
	struct vsp_ic_stats s;

	assert_int_equal(vsp_ic_create(NULL, &ic), -EINVAL);
	assert_int_equal(vsp_ic_create(&cfg, &ic), -EINVAL); /* no server */
	vsp_ic_destroy(NULL);
	vsp_ic_heartbeat_status(NULL, &hb);
	assert_false(hb.alive);
	assert_int_equal(hb.ms_since_reply, UINT64_MAX);
	vsp_ic_stats(NULL, &s);
	assert_int_equal(s.svc[0].sent, 0);
	assert_int_equal(vsp_ic_shutdown(NULL, VSP_IC_POWEROFF, false), -EINVAL);
	assert_int_equal(vsp_ic_kvp_set(NULL, "a", "b"), -EINVAL);

	ic = setup(NULL);
	assert_int_equal(vsp_ic_shutdown(ic, (enum vsp_ic_shutdown_kind)7, false), -EINVAL);
	vsp_ic_heartbeat_status(ic, &hb);
	assert_false(hb.channel_open);
	assert_false(hb.alive);
	assert_int_equal(hb.replies, 0);
	assert_int_equal(hb.ms_since_reply, UINT64_MAX);
	teardown(ic);
}

/* ---- negotiation --------------------------------------------------------------------------------------------- */

static void test_negotiate_linux_lists(void **state)
{
	struct vsp_ic *ic = setup(NULL);
	struct vsp_ic_stats s;

	cl_kvp.silent = false;
	open_and_negotiate(&cl_sd);
	open_and_negotiate(&cl_ts);
	open_and_negotiate(&cl_hb);
	open_and_negotiate(&cl_kvp);
	s = stats(ic);
	for (int i = 0; i < VSP_IC_SERVICE_COUNT; i++) {
		assert_int_equal(s.svc[i].state, VSP_IC_STATE_READY);
		assert_int_equal(s.svc[i].framework_version, UTIL_FW_VERSION);
		assert_int_equal(s.svc[i].replies, 1);
		assert_int_equal(s.svc[i].dropped, 0);
	}
	/* the best of each table in guest-devices.md 3.3, the same on both sides */
	assert_int_equal(s.svc[VSP_IC_SHUTDOWN].message_version, SD_VERSION_3_2);
	assert_int_equal(s.svc[VSP_IC_TIMESYNC].message_version, TS_VERSION_4);
	assert_int_equal(s.svc[VSP_IC_HEARTBEAT].message_version, HB_VERSION);
	assert_int_equal(s.svc[VSP_IC_KVP].message_version, WIN8_SRV_VERSION);
	assert_true(cl_sd.negotiated && cl_ts.negotiated && cl_hb.negotiated && cl_kvp.negotiated);
	assert_int_equal(cl_sd.msg_version, SD_VERSION_3_2);
	assert_int_equal(cl_ts.msg_version, TS_VERSION_4);
	assert_int_equal(cl_hb.fw_version, UTIL_FW_VERSION);
	teardown(ic);
}

static void test_negotiate_old_versions(void **state)
{
	struct vsp_ic *ic = setup(NULL);
	struct vsp_ic_stats s;

	/* a guest that knows only framework 1.0 and the oldest message versions */
	cl_sd.fw_versions[0] = cl_ts.fw_versions[0] = cl_hb.fw_versions[0] = UTIL_WS2K8_FW_VERSION;
	cl_sd.fw_count = cl_ts.fw_count = cl_hb.fw_count = 1;
	cl_sd.msg_versions[0] = SD_WS2008_VERSION;
	cl_sd.msg_count = 1;
	cl_ts.msg_versions[0] = TS_VERSION_3;
	cl_ts.msg_versions[1] = TS_VERSION_1;
	cl_ts.msg_count = 2;
	cl_hb.msg_versions[0] = HB_WS2008_VERSION;
	cl_hb.msg_count = 1;
	open_and_negotiate(&cl_sd);
	open_and_negotiate(&cl_ts);
	open_and_negotiate(&cl_hb);
	s = stats(ic);
	assert_int_equal(s.svc[VSP_IC_SHUTDOWN].framework_version, UTIL_WS2K8_FW_VERSION);
	assert_int_equal(s.svc[VSP_IC_SHUTDOWN].message_version, SD_WS2008_VERSION);
	assert_int_equal(s.svc[VSP_IC_TIMESYNC].message_version, TS_VERSION_3);
	assert_int_equal(s.svc[VSP_IC_HEARTBEAT].message_version, HB_WS2008_VERSION);
	/* time sync 3.0: ictimesync_data, no reference time */
	assert_int_equal(vsc_ic_wait(&cl_ts, 2000), 1);
	assert_int_equal(cl_ts.ts_count, 1);
	assert_false(cl_ts.ts_ref_format);
	assert_int_equal(cl_ts.ts_flags, ICTIMESYNCFLAG_SYNC);
	assert_int_equal(cl_ts.ts_childtime, 0);
	assert_int_equal(atomic_load(&rec.ref_calls), 0);
	/* heartbeat and shutdown work the same with the old versions */
	assert_true(RUN_UNTIL(2000, cl_hb.heartbeats >= 2, &cl_hb));
	assert_int_equal(vsp_ic_shutdown(ic, VSP_IC_REBOOT, false), 0);
	assert_true(RUN_UNTIL(2000, atomic_load(&rec.sd_replies) == 1, &cl_sd));
	assert_int_equal(cl_sd.shutdown_flags, ICSHUTDOWNFLAG_RESTART);
	teardown(ic);

	/* a host without the guest's reference time offers time sync 3.0 at best, even to a 4.0 guest */
	struct vsp_ic_config cfg = base_cfg();

	cfg.reference_time = NULL;
	ic = setup(&cfg);
	open_and_negotiate(&cl_ts);
	assert_int_equal(stats(ic).svc[VSP_IC_TIMESYNC].message_version, TS_VERSION_3);
	assert_true(RUN_UNTIL(2000, cl_ts.ts_count >= 2, &cl_ts));
	assert_false(cl_ts.ts_ref_format);
	teardown(ic);
}

static void test_negotiate_no_common_version(void **state)
{
	struct vsp_ic *ic = setup(NULL);
	struct vsp_ic_stats s;
	struct vsc_packet pkt;

	cl_hb.msg_versions[0] = IC_MAKE_VERSION(9, 9);
	cl_hb.msg_count = 1;
	cl_sd.fw_versions[0] = IC_MAKE_VERSION(7, 0);
	cl_sd.fw_count = 1;
	open_and_negotiate(&cl_hb);
	open_and_negotiate(&cl_sd);
	assert_false(cl_hb.negotiated);
	assert_false(cl_sd.negotiated);
	s = stats(ic);
	assert_int_equal(s.svc[VSP_IC_HEARTBEAT].state, VSP_IC_STATE_FAILED);
	assert_int_equal(s.svc[VSP_IC_SHUTDOWN].state, VSP_IC_STATE_FAILED);
	assert_int_equal(s.svc[VSP_IC_HEARTBEAT].message_version, 0);
	/* the services are not used: no heartbeat goes out, shutdown is refused */
	run_server(30);
	assert_int_equal(vsc_channel_recv(&cl_hb.ch, cl_hb.buf, sizeof(cl_hb.buf), &pkt), -VSC_EAGAIN);
	assert_int_equal(stats(ic).svc[VSP_IC_HEARTBEAT].sent, 1);
	assert_int_equal(vsp_ic_shutdown(ic, VSP_IC_POWEROFF, false), -ENOTCONN);
	/* a re-open negotiates again */
	assert_int_equal(vsc_ic_close(&cl_hb), 0);
	vmbfx_settle(&fx);
	assert_int_equal(stats(ic).svc[VSP_IC_HEARTBEAT].state, VSP_IC_STATE_CLOSED);
	vsc_ic_init(&cl_hb, VSC_IC_HEARTBEAT);
	open_and_negotiate(&cl_hb);
	assert_int_equal(stats(ic).svc[VSP_IC_HEARTBEAT].state, VSP_IC_STATE_READY);
	teardown(ic);
}

/* ---- shutdown ------------------------------------------------------------------------------------------------ */

static void test_shutdown(void **state)
{
	static const struct {
		enum vsp_ic_shutdown_kind kind;
		bool force;
		uint32_t flags;
	} cases[] = {
		{ VSP_IC_POWEROFF, false, 0 },
		{ VSP_IC_POWEROFF, true, 1 },
		{ VSP_IC_REBOOT, false, 2 },
		{ VSP_IC_REBOOT, true, 3 },
	};
	struct vsp_ic *ic = setup(NULL);
	struct vsc_packet pkt;
	uint8_t msg[4096];
	int n;

	/* before the guest opens the channel, and while NEGOTIATE is unanswered */
	assert_int_equal(vsp_ic_shutdown(ic, VSP_IC_POWEROFF, false), -ENOTCONN);
	assert_int_equal(vsc_ic_open(&fx.bus, &cl_sd), 0);
	vmbfx_settle(&fx);
	assert_int_equal(stats(ic).svc[VSP_IC_SHUTDOWN].state, VSP_IC_STATE_NEGOTIATING);
	assert_int_equal(vsp_ic_shutdown(ic, VSP_IC_POWEROFF, false), -ENOTCONN);
	assert_int_equal(vsc_ic_wait(&cl_sd, 2000), 1);
	vmbfx_settle(&fx);
	assert_int_equal(stats(ic).shutdown_last_status, HV_E_FAIL);

	for (size_t i = 0; i < 4; i++) {
		unsigned before = atomic_load(&rec.sd_replies);

		assert_int_equal(vsp_ic_shutdown(ic, cases[i].kind, cases[i].force), 0);
		assert_int_equal(vsc_ic_wait(&cl_sd, 2000), 1);
		assert_int_equal(cl_sd.shutdown_flags, cases[i].flags);
		assert_int_equal(cl_sd.shutdowns, i + 1);
		vmbfx_settle(&fx);
		assert_int_equal(atomic_load(&rec.sd_replies), before + 1);
		assert_int_equal(atomic_load(&rec.sd_status), HV_S_OK);
	}
	assert_int_equal(stats(ic).shutdown_last_status, HV_S_OK);

	/* the full 2060-byte body travels (Linux drops shorter requests) and the guest's HRESULT reaches the VMM */
	assert_int_equal(vsp_ic_shutdown(ic, VSP_IC_POWEROFF, false), 0);
	n = vsc_channel_recv_wait(&cl_sd.ch, cl_sd.buf, sizeof(cl_sd.buf), &pkt, 2000);
	assert_true(n > 0);
	assert_true(pkt.data_len >= ICMSG_HDR + sizeof(struct shutdown_msg_data));
	assert_int_equal(pkt.type, VM_PKT_DATA_INBAND);
	memcpy(msg, pkt.data, pkt.data_len);
	{
		struct icmsg_hdr h;

		memcpy(&h, msg + 8, sizeof(h));
		assert_int_equal(h.icmsgtype, ICMSGTYPE_SHUTDOWN);
		assert_int_equal(h.icmsgsize, sizeof(struct shutdown_msg_data));
		assert_int_equal(h.icflags, ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST);
		assert_int_equal(h.icvermsg.major, 3);
		assert_int_equal(h.icvermsg.minor, 2);
		assert_true(vsc_ic_answer(&cl_sd, msg, pkt.data_len));
		memcpy(&h, msg + 8, sizeof(h));
		h.status = HV_E_FAIL; /* a guest that refuses */
		memcpy(msg + 8, &h, sizeof(h));
		assert_int_equal(vsc_ic_reply(&cl_sd, pkt.trans_id, msg, pkt.data_len), 0);
	}
	vmbfx_settle(&fx);
	assert_int_equal(atomic_load(&rec.sd_status), HV_E_FAIL);
	assert_int_equal(atomic_load(&rec.sd_replies), 5);
	assert_int_equal(stats(ic).shutdown_last_status, HV_E_FAIL);

	/* closed again: refused */
	assert_int_equal(vsc_ic_close(&cl_sd), 0);
	vmbfx_settle(&fx);
	assert_int_equal(vsp_ic_shutdown(ic, VSP_IC_POWEROFF, true), -ENOTCONN);
	teardown(ic);
}

/* ---- heartbeat ----------------------------------------------------------------------------------------------- */

static bool hb_alive(struct vsp_ic *ic)
{
	struct vsp_ic_heartbeat hb;

	vsp_ic_heartbeat_status(ic, &hb);
	return hb.alive;
}

/* heartbeat_change calls alternate (up, down, up, ...) and the last one agrees with the status. */
static void check_hb_transitions(struct vsp_ic *ic)
{
	unsigned up = atomic_load(&rec.hb_up), down = atomic_load(&rec.hb_down);

	assert_true(up == down || up == down + 1);
	assert_int_equal(hb_alive(ic), up == down + 1);
}

/* Timing-robust: a stalled test machine may see extra lost/alive transitions; only their order is asserted. */
static void test_heartbeat(void **state)
{
	struct vsp_ic *ic = setup(NULL);
	struct vsp_ic_heartbeat hb;
	uint64_t replies;

	open_and_negotiate(&cl_hb);
	vsp_ic_heartbeat_status(ic, &hb);
	assert_true(hb.channel_open);
	/* answered heartbeats are counted; the answer carries the sequence number + 1 */
	assert_true(RUN_UNTIL(2000, cl_hb.heartbeats >= 5 && hb_alive(ic), &cl_hb));
	vmbfx_settle(&fx);
	vsp_ic_heartbeat_status(ic, &hb);
	assert_int_equal(hb.replies, cl_hb.heartbeats);
	assert_int_equal(cl_hb.heartbeat_seq, VSP_IC_HEARTBEAT_SEQ0 + cl_hb.heartbeats - 1);
	assert_int_equal(hb.last_seq, cl_hb.heartbeat_seq + 1);
	assert_true(hb.ms_since_reply < 1000);
	assert_true(atomic_load(&rec.hb_up) >= 1);
	check_hb_transitions(ic);
	assert_int_equal(stats(ic).svc[VSP_IC_HEARTBEAT].dropped, 0);

	/* the guest stops answering: lost after 3 periods */
	replies = hb.replies;
	assert_true(RUN_UNTIL(2000, !hb_alive(ic), NULL));
	vsp_ic_heartbeat_status(ic, &hb);
	assert_true(hb.channel_open);
	assert_int_equal(hb.replies, replies);
	assert_true(hb.ms_since_reply >= 3 * base_cfg().heartbeat_period_ms);
	assert_int_equal(atomic_load(&rec.hb_last), 0);
	check_hb_transitions(ic);

	/* it answers again (the queued requests too): alive again */
	assert_true(RUN_UNTIL(2000, hb_alive(ic), &cl_hb));
	vsp_ic_heartbeat_status(ic, &hb);
	assert_true(hb.replies > replies);
	check_hb_transitions(ic);
	assert_int_equal(stats(ic).svc[VSP_IC_HEARTBEAT].dropped, 0);

	/* the guest closes the channel: not alive, not open; a re-open starts over */
	assert_int_equal(vsc_ic_close(&cl_hb), 0);
	vmbfx_settle(&fx);
	vsp_ic_heartbeat_status(ic, &hb);
	assert_false(hb.channel_open);
	assert_false(hb.alive);
	check_hb_transitions(ic);
	vsc_ic_init(&cl_hb, VSC_IC_HEARTBEAT);
	open_and_negotiate(&cl_hb);
	assert_true(RUN_UNTIL(2000, hb_alive(ic), &cl_hb));
	assert_int_equal(cl_hb.heartbeat_seq, VSP_IC_HEARTBEAT_SEQ0 + cl_hb.heartbeats - 1);
	assert_int_equal(stats(ic).svc[VSP_IC_HEARTBEAT].dropped, 0);
	teardown(ic);
}

/* ---- time sync ----------------------------------------------------------------------------------------------- */

static void test_timesync(void **state)
{
	struct vsp_ic *ic = setup(NULL);
	uint64_t now;
	int64_t diff;

	open_and_negotiate(&cl_ts);
	/* first SYNC, right after negotiation */
	assert_int_equal(vsc_ic_wait(&cl_ts, 2000), 1);
	now = t_filetime();
	assert_int_equal(cl_ts.ts_count, 1);
	assert_int_equal(cl_ts.ts_flags, ICTIMESYNCFLAG_SYNC);
	assert_true(cl_ts.ts_ref_format);
	diff = (int64_t)(now - cl_ts.ts_parenttime);
	assert_true(diff > -10000000 && diff < 10000000); /* within 1 s of host UTC */
	assert_int_equal(cl_ts.ts_vmreferencetime, atomic_load(&rec.ref_last));
	assert_true(cl_ts.ts_vmreferencetime >= REF_TIME);
	/* then SAMPLEs every period */
	assert_int_equal(vsc_ic_wait(&cl_ts, 2000), 1);
	now = t_filetime();
	assert_int_equal(cl_ts.ts_flags, ICTIMESYNCFLAG_SAMPLE);
	diff = (int64_t)(now - cl_ts.ts_parenttime);
	assert_true(diff > -10000000 && diff < 10000000);
	assert_int_equal(cl_ts.ts_vmreferencetime, atomic_load(&rec.ref_last));
	assert_true(RUN_UNTIL(2000, cl_ts.ts_samples >= 3, &cl_ts));
	vmbfx_settle(&fx);
	assert_int_equal(cl_ts.ts_syncs, 1);
	assert_int_equal(stats(ic).timesync_syncs, 1);
	assert_true(stats(ic).timesync_samples >= 3);
	assert_int_equal(stats(ic).svc[VSP_IC_TIMESYNC].dropped, 0);
	/* a re-open owes a new SYNC */
	assert_int_equal(vsc_ic_close(&cl_ts), 0);
	vmbfx_settle(&fx);
	vsc_ic_init(&cl_ts, VSC_IC_TIMESYNC);
	open_and_negotiate(&cl_ts);
	assert_int_equal(vsc_ic_wait(&cl_ts, 2000), 1);
	assert_int_equal(cl_ts.ts_flags, ICTIMESYNCFLAG_SYNC);
	teardown(ic);
}

/* ---- KVP ----------------------------------------------------------------------------------------------------- */

static const struct vsc_ic_kvp_item guest_items[] = {
	{ "FullyQualifiedDomainName", "guest.example" },
	{ "OSName", "Debian GNU/Linux" },
	{ "NetworkAddressIPv4", "10.0.2.15" },
};

static void test_kvp(void **state)
{
	struct vsp_ic *ic = setup(NULL);
	static uint8_t other[16384];
	char v[64], big[600];
	struct vsc_packet pkt, pkt2;
	struct vsp_ic_stats s;

	/* argument checks */
	assert_int_equal(vsp_ic_kvp_set(ic, "", "x"), -EINVAL);
	assert_int_equal(vsp_ic_kvp_set(ic, "k", NULL), -EINVAL);
	assert_int_equal(vsp_ic_kvp_set(ic, "bad\xff", "x"), -EINVAL);
	assert_int_equal(vsp_ic_kvp_set(ic, "k", "\xc0\xaf"), -EINVAL); /* overlong */
	memset(big, 'a', 256);
	big[256] = '\0';
	assert_int_equal(vsp_ic_kvp_set(ic, big, "x"), -EINVAL); /* 256 units + NUL > 512 bytes */
	assert_int_equal(vsp_ic_kvp_guest_get(ic, "OSName", v, sizeof(v)), -ENOENT);

	/* queued before the guest is there */
	assert_int_equal(vsp_ic_kvp_set(ic, "VirtualMachineName", "vm1"), 0);
	assert_int_equal(vsp_ic_kvp_set(ic, "Schl\xc3\xbcssel", "caf\xc3\xa9"), 0);
	assert_int_equal(stats(ic).kvp_host_pending, 2);

	cl_kvp.kvp_auto = guest_items;
	cl_kvp.kvp_auto_count = 3;
	open_and_negotiate(&cl_kvp);
	assert_true(RUN_UNTIL(2000, stats(ic).kvp_enumerations >= 1, &cl_kvp));
	s = stats(ic);
	assert_int_equal(s.kvp_host_pending, 0);
	assert_int_equal(s.kvp_guest_items, 3);
	assert_int_equal(s.svc[VSP_IC_KVP].dropped, 0);
	/* 2 SETs, then ENUMERATE 0..3 (3 answers HV_S_CONT) */
	assert_int_equal(cl_kvp.kvp_requests, 6);
	assert_int_equal(cl_kvp.kvp_last_op, KVP_OP_ENUMERATE);
	assert_int_equal(cl_kvp.kvp_last_pool, KVP_POOL_AUTO);
	assert_int_equal(cl_kvp.kvp_last_index, 3);
	assert_string_equal(vsc_ic_kvp_get(&cl_kvp, "VirtualMachineName"), "vm1");
	assert_string_equal(vsc_ic_kvp_get(&cl_kvp, "Schl?ssel"), "caf?"); /* the client stores ASCII */
	assert_int_equal(vsp_ic_kvp_guest_get(ic, "OSName", v, sizeof(v)), 0);
	assert_string_equal(v, "Debian GNU/Linux");
	assert_int_equal(vsp_ic_kvp_guest_get(ic, "NetworkAddressIPv4", v, sizeof(v)), 0);
	assert_string_equal(v, "10.0.2.15");
	assert_int_equal(vsp_ic_kvp_guest_get(ic, "FullyQualifiedDomainName", v, 5), -ERANGE);
	assert_string_equal(v, "");
	assert_int_equal(vsp_ic_kvp_guest_get(ic, "Nope", v, sizeof(v)), -ENOENT);
	/* the same items by index, as the worker lists them */
	{
		char key[64];
		unsigned found = 0;

		for (unsigned i = 0; i < 3; i++) {
			assert_int_equal(vsp_ic_kvp_guest_item(ic, i, key, sizeof(key), v, sizeof(v)), 0);
			for (unsigned j = 0; j < 3; j++)
				if (!strcmp(key, guest_items[j].key) && !strcmp(v, guest_items[j].value))
					found |= 1u << j;
		}
		assert_int_equal(found, 7);
		assert_int_equal(vsp_ic_kvp_guest_item(ic, 3, key, sizeof(key), v, sizeof(v)), -ENOENT);
		assert_int_equal(vsp_ic_kvp_guest_item(ic, 0, key, 2, v, sizeof(v)), -ERANGE);
	}

	/* later pushes, one transaction at a time */
	assert_int_equal(vsp_ic_kvp_set(ic, "A", "1"), 0);
	assert_int_equal(vsp_ic_kvp_set(ic, "B", "2"), 0);
	assert_int_equal(vsp_ic_kvp_set(ic, "VirtualMachineName", "vm2"), 0);
	vmbfx_settle(&fx);
	assert_true(vsc_channel_recv_wait(&cl_kvp.ch, cl_kvp.buf, sizeof(cl_kvp.buf), &pkt, 2000) > 0);
	assert_int_equal(vsc_channel_recv(&cl_kvp.ch, other, sizeof(other), &pkt2), -VSC_EAGAIN);
	assert_int_equal(stats(ic).kvp_host_pending, 3);
	assert_true(vsc_ic_answer(&cl_kvp, (uint8_t *)pkt.data, pkt.data_len));
	assert_int_equal(vsc_ic_reply(&cl_kvp, pkt.trans_id, pkt.data, pkt.data_len), 0);
	assert_true(RUN_UNTIL(2000, stats(ic).kvp_host_pending == 0, &cl_kvp));
	assert_string_equal(vsc_ic_kvp_get(&cl_kvp, "A"), "1");
	assert_string_equal(vsc_ic_kvp_get(&cl_kvp, "B"), "2");
	assert_string_equal(vsc_ic_kvp_get(&cl_kvp, "VirtualMachineName"), "vm2");

	/* the host table holds VSP_IC_KVP_MAX_ITEMS keys; replacing a value needs no new slot */
	for (unsigned i = 4; i < VSP_IC_KVP_MAX_ITEMS; i++) {
		char key[16];

		snprintf(key, sizeof(key), "K%u", i);
		assert_int_equal(vsp_ic_kvp_set(ic, key, "v"), 0);
	}
	assert_int_equal(vsp_ic_kvp_set(ic, "OneTooMany", "v"), -ENOSPC);
	assert_int_equal(vsp_ic_kvp_set(ic, "A", "3"), 0);
	assert_true(RUN_UNTIL(2000, stats(ic).kvp_host_pending == 0, &cl_kvp));
	assert_string_equal(vsc_ic_kvp_get(&cl_kvp, "A"), "3");
	assert_int_equal(stats(ic).svc[VSP_IC_KVP].dropped, 0);
	teardown(ic);
}

/*
 * The guest table is full (the guest reported more items than it holds), then a later pass reports other items:
 * they replace the old ones (found by fuzz_vsp_ic: the new items found no free slot and the pass's end then
 * forgot every old one, leaving the table empty).
 */
static void test_kvp_full_table_replaced(void **state)
{
	static struct vsc_ic_kvp_item many[VSP_IC_KVP_MAX_ITEMS + 8];
	struct vsp_ic *ic = setup(NULL);
	char v[64];

	for (unsigned i = 0; i < VSP_IC_KVP_MAX_ITEMS + 8; i++) {
		snprintf(many[i].key, sizeof(many[i].key), "Item%u", i);
		snprintf(many[i].value, sizeof(many[i].value), "v%u", i);
	}
	cl_kvp.kvp_auto = many;
	cl_kvp.kvp_auto_count = VSP_IC_KVP_MAX_ITEMS + 8;
	open_and_negotiate(&cl_kvp);
	assert_true(RUN_UNTIL(2000, stats(ic).kvp_enumerations >= 1, &cl_kvp));
	assert_int_equal(stats(ic).kvp_guest_items, VSP_IC_KVP_MAX_ITEMS);
	assert_int_equal(vsc_ic_close(&cl_kvp), 0);
	vmbfx_settle(&fx);

	cl_kvp.kvp_auto = guest_items;
	cl_kvp.kvp_auto_count = 3;
	assert_int_equal(vsc_ic_open(&fx.bus, &cl_kvp), 0);
	assert_int_equal(vsc_ic_wait(&cl_kvp, 2000), 1); /* NEGOTIATE again */
	assert_true(RUN_UNTIL(2000, stats(ic).kvp_enumerations >= 2, &cl_kvp));
	assert_int_equal(stats(ic).kvp_guest_items, 3);
	assert_int_equal(vsp_ic_kvp_guest_get(ic, "OSName", v, sizeof(v)), 0);
	assert_string_equal(v, "Debian GNU/Linux");
	assert_int_equal(vsp_ic_kvp_guest_get(ic, "Item0", v, sizeof(v)), -ENOENT);
	teardown(ic);
}

/* The client's answers with the first request withheld: one request outstanding at a time, retried after the
 * timeout; the late answer to the abandoned one is dropped. */
static void test_kvp_one_at_a_time_and_timeout(void **state)
{
	struct vsp_ic_config cfg = base_cfg();
	struct vsp_ic *ic;
	struct vsc_packet pkt;
	uint8_t held[4096];
	uint32_t held_len;
	uint64_t held_tid;

	cfg.kvp_timeout_ms = 200;
	ic = setup(&cfg);
	open_and_negotiate(&cl_kvp);
	assert_true(RUN_UNTIL(2000, stats(ic).kvp_enumerations >= 1, &cl_kvp)); /* empty auto pool */
	assert_int_equal(stats(ic).kvp_guest_items, 0);

	assert_int_equal(vsp_ic_kvp_set(ic, "A", "1"), 0);
	assert_int_equal(vsp_ic_kvp_set(ic, "B", "2"), 0);
	vmbfx_settle(&fx);
	assert_true(vsc_channel_recv_wait(&cl_kvp.ch, cl_kvp.buf, sizeof(cl_kvp.buf), &pkt, 2000) > 0);
	held_len = pkt.data_len;
	held_tid = pkt.trans_id;
	memcpy(held, pkt.data, held_len);
	/* nothing else while the SET is outstanding */
	run_server(20);
	assert_int_equal(vsc_channel_recv(&cl_kvp.ch, cl_kvp.buf, sizeof(cl_kvp.buf), &pkt), -VSC_EAGAIN);
	/* the timeout: given up, sent again under a new trans_id */
	assert_true(vsc_channel_recv_wait(&cl_kvp.ch, cl_kvp.buf, sizeof(cl_kvp.buf), &pkt, 2000) > 0);
	assert_true(pkt.trans_id > held_tid);
	assert_int_equal(pkt.data_len, held_len);
	assert_memory_equal(pkt.data + ICMSG_HDR, held + ICMSG_HDR, held_len - ICMSG_HDR);
	assert_int_equal(stats(ic).svc[VSP_IC_KVP].timeouts, 1);
	/* the late answer to the abandoned request: dropped */
	assert_true(vsc_ic_answer(&cl_kvp, held, held_len));
	assert_int_equal(vsc_ic_reply(&cl_kvp, held_tid, held, held_len), 0);
	vmbfx_settle(&fx);
	assert_int_equal(stats(ic).svc[VSP_IC_KVP].dropped, 1);
	/* answer the retry and let the rest flow */
	assert_true(vsc_ic_answer(&cl_kvp, (uint8_t *)pkt.data, pkt.data_len));
	assert_int_equal(vsc_ic_reply(&cl_kvp, pkt.trans_id, pkt.data, pkt.data_len), 0);
	assert_true(RUN_UNTIL(2000, stats(ic).kvp_host_pending == 0, &cl_kvp));
	assert_string_equal(vsc_ic_kvp_get(&cl_kvp, "A"), "1");
	assert_string_equal(vsc_ic_kvp_get(&cl_kvp, "B"), "2");
	teardown(ic);
}

/* KVP without hv_kvp_daemon: the guest never reads the channel. Everything else works; when the daemon finally
 * starts, the queued items go out. */
static void test_kvp_silent(void **state)
{
	struct vsp_ic *ic = setup(NULL);
	struct vsp_ic_stats s;

	cl_kvp.silent = true;
	assert_int_equal(vsc_ic_open(&fx.bus, &cl_kvp), 0);
	open_and_negotiate(&cl_hb);
	assert_int_equal(vsp_ic_kvp_set(ic, "VirtualMachineName", "vm1"), 0);
	assert_true(RUN_UNTIL(2000, cl_hb.heartbeats >= 3, &cl_hb, &cl_kvp));
	s = stats(ic);
	assert_int_equal(s.svc[VSP_IC_KVP].state, VSP_IC_STATE_NEGOTIATING);
	assert_int_equal(s.svc[VSP_IC_KVP].sent, 1);
	assert_int_equal(s.svc[VSP_IC_KVP].timeouts, 0);
	assert_int_equal(s.kvp_host_pending, 1);
	assert_int_equal(s.svc[VSP_IC_HEARTBEAT].state, VSP_IC_STATE_READY);
	assert_int_equal(cl_kvp.negotiations, 0);
	/* the daemon starts */
	cl_kvp.silent = false;
	assert_true(RUN_UNTIL(2000, stats(ic).kvp_enumerations >= 1, &cl_kvp, &cl_hb));
	assert_int_equal(cl_kvp.negotiations, 1);
	assert_string_equal(vsc_ic_kvp_get(&cl_kvp, "VirtualMachineName"), "vm1");
	assert_int_equal(stats(ic).kvp_host_pending, 0);
	teardown(ic);
}

/* ---- hostile answers ----------------------------------------------------------------------------------------- */

/* Receive the next request on @c into @msg; returns its length, *@tid its trans_id. */
static uint32_t take_request(struct vsc_ic *c, uint8_t *msg, uint64_t *tid)
{
	struct vsc_packet pkt;

	assert_true(vsc_channel_recv_wait(&c->ch, c->buf, sizeof(c->buf), &pkt, 2000) > 0);
	memcpy(msg, pkt.data, pkt.data_len);
	*tid = pkt.trans_id;
	return pkt.data_len;
}

/* Send @len bytes of @msg as @c's answer @tid; expect the host to drop it (dropped + 1, state unchanged). */
static void expect_dropped(struct vsp_ic *ic, struct vsc_ic *c, enum vsp_ic_service svc, uint64_t tid,
			   const void *msg, uint32_t len)
{
	struct vsp_ic_stats before = stats(ic), after;

	assert_int_equal(vsc_ic_reply(c, tid, msg, len), 0);
	vmbfx_settle(&fx);
	after = stats(ic);
	if (after.svc[svc].dropped != before.svc[svc].dropped + 1)
		print_error("answer of %u bytes not dropped\n", len);
	assert_int_equal(after.svc[svc].dropped, before.svc[svc].dropped + 1);
	assert_int_equal(after.svc[svc].state, before.svc[svc].state);
	assert_int_equal(after.svc[svc].replies, before.svc[svc].replies);
}

static void hdr_get(const uint8_t *msg, struct vmbuspipe_hdr *p, struct icmsg_hdr *h)
{
	memcpy(p, msg, sizeof(*p));
	memcpy(h, msg + 8, sizeof(*h));
}

static void hdr_put(uint8_t *msg, const struct vmbuspipe_hdr *p, const struct icmsg_hdr *h)
{
	memcpy(msg, p, sizeof(*p));
	memcpy(msg + 8, h, sizeof(*h));
}

static void test_hostile_negotiate(void **state)
{
	struct vsp_ic *ic = setup(NULL);
	uint8_t req[4096], bad[4096];
	struct vmbuspipe_hdr p;
	struct icmsg_hdr h;
	uint32_t len;
	uint64_t tid;
	uint16_t cnt[2];

	assert_int_equal(vsc_ic_open(&fx.bus, &cl_hb), 0);
	len = take_request(&cl_hb, req, &tid);
	assert_true(len >= ICMSG_NEGOTIATE_PKT_SIZE(2, 2));
	hdr_get(req, &p, &h);
	assert_int_equal(h.icmsgtype, ICMSGTYPE_NEGOTIATE);
	assert_int_equal(h.icflags, ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST);
	memcpy(cnt, req + ICMSG_HDR, 4);
	assert_int_equal(cnt[0], 2); /* 3.0 and 1.0 */
	assert_int_equal(cnt[1], 2); /* heartbeat 3.0 and 1.0 */
	assert_true(vsc_ic_answer(&cl_hb, req, len)); /* req is now a valid answer */

	/* short packets */
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, req, 4);
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, req, 20);
	/* wrong trans_id: unknown, and ictransaction_id not matching */
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid + 5, req, len);
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, 0, req, len);
	memcpy(bad, req, len);
	hdr_get(bad, &p, &h);
	h.ictransaction_id ^= 0x40;
	hdr_put(bad, &p, &h);
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, bad, len);
	/* not a response */
	memcpy(bad, req, len);
	hdr_get(bad, &p, &h);
	h.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST;
	hdr_put(bad, &p, &h);
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, bad, len);
	/* the wrong message type while negotiating */
	memcpy(bad, req, len);
	hdr_get(bad, &p, &h);
	h.icmsgtype = ICMSGTYPE_HEARTBEAT;
	hdr_put(bad, &p, &h);
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, bad, len);
	/* oversized and odd counts */
	memcpy(bad, req, len);
	cnt[0] = 1000;
	cnt[1] = 1000;
	memcpy(bad + ICMSG_HDR, cnt, 4);
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, bad, len);
	cnt[0] = 2;
	cnt[1] = 1;
	memcpy(bad + ICMSG_HDR, cnt, 4);
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, bad, len);
	/* icmsgsize beyond the packet, and beyond the pipe message */
	memcpy(bad, req, len);
	hdr_get(bad, &p, &h);
	h.icmsgsize = 0xfff0;
	hdr_put(bad, &p, &h);
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, bad, len);
	memcpy(bad, req, len);
	hdr_get(bad, &p, &h);
	p.msgsize = 20 + 8; /* body of 8 bytes, but icmsgsize says 16 */
	hdr_put(bad, &p, &h);
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, bad, len);
	memcpy(bad, req, len);
	hdr_get(bad, &p, &h);
	p.msgsize = 0xffffff00u;
	hdr_put(bad, &p, &h);
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, bad, len);
	memcpy(bad, req, len);
	hdr_get(bad, &p, &h);
	p.flags = 7;
	hdr_put(bad, &p, &h);
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, bad, len);
	/* versions that were not offered */
	memcpy(bad, req, len);
	{
		struct ic_version v = { 9, 9 };

		memcpy(bad + ICMSG_HDR + 12, &v, sizeof(v));
	}
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, bad, len);
	/* a completion instead of an INBAND packet */
	{
		struct vsp_ic_stats b = stats(ic);

		assert_int_equal(vsc_channel_send(&cl_hb.ch, VM_PKT_COMP, 0, tid, NULL, 0, req, len), 0);
		vmbfx_settle(&fx);
		assert_int_equal(stats(ic).svc[VSP_IC_HEARTBEAT].dropped, b.svc[VSP_IC_HEARTBEAT].dropped + 1);
	}
	assert_int_equal(stats(ic).svc[VSP_IC_HEARTBEAT].state, VSP_IC_STATE_NEGOTIATING);

	/* after all that, the real answer is still taken */
	assert_int_equal(vsc_ic_reply(&cl_hb, tid, req, len), 0);
	vmbfx_settle(&fx);
	assert_int_equal(stats(ic).svc[VSP_IC_HEARTBEAT].state, VSP_IC_STATE_READY);
	assert_int_equal(stats(ic).svc[VSP_IC_HEARTBEAT].message_version, HB_VERSION);
	/* ... and only once */
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, req, len);

	/* heartbeat answers: wrong seq, short body, duplicate */
	len = take_request(&cl_hb, req, &tid);
	assert_true(vsc_ic_answer(&cl_hb, req, len));
	memcpy(bad, req, len);
	bad[ICMSG_HDR] ^= 0x10;
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, bad, len);
	memcpy(bad, req, len);
	hdr_get(bad, &p, &h);
	h.icmsgsize = 4;
	hdr_put(bad, &p, &h);
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, bad, len);
	assert_int_equal(vsc_ic_reply(&cl_hb, tid, req, len), 0);
	vmbfx_settle(&fx);
	assert_int_equal(stats(ic).svc[VSP_IC_HEARTBEAT].replies, 2);
	expect_dropped(ic, &cl_hb, VSP_IC_HEARTBEAT, tid, req, len);
	assert_true(atomic_load(&rec.hb_up) == 1);
	teardown(ic);
}

static void test_hostile_kvp(void **state)
{
	struct vsp_ic *ic = setup(NULL);
	uint8_t req[8192], bad[8192];
	struct vmbuspipe_hdr p;
	struct icmsg_hdr h;
	uint32_t len, u32;
	uint64_t tid;
	char v[64];

	cl_kvp.kvp_auto = guest_items;
	cl_kvp.kvp_auto_count = 1;
	open_and_negotiate(&cl_kvp);
	/* ENUMERATE index 0 */
	len = take_request(&cl_kvp, req, &tid);
	assert_int_equal(len, (ICMSG_HDR + HV_KVP_ENUM_BODY_BYTES + 7) & ~7u);
	assert_int_equal(req[ICMSG_HDR], KVP_OP_ENUMERATE);
	assert_int_equal(req[ICMSG_HDR + 1], KVP_POOL_AUTO);
	assert_true(vsc_ic_answer(&cl_kvp, req, len));
	/* operation and pool not echoed */
	memcpy(bad, req, len);
	bad[ICMSG_HDR] = KVP_OP_SET;
	expect_dropped(ic, &cl_kvp, VSP_IC_KVP, tid, bad, len);
	memcpy(bad, req, len);
	bad[ICMSG_HDR + 1] = KVP_POOL_GUEST;
	expect_dropped(ic, &cl_kvp, VSP_IC_KVP, tid, bad, len);
	/* bogus sizes and type */
	memcpy(bad, req, len);
	u32 = 0xffffffffu;
	memcpy(bad + ICMSG_HDR + 8 + 4, &u32, 4); /* key_size */
	expect_dropped(ic, &cl_kvp, VSP_IC_KVP, tid, bad, len);
	memcpy(bad, req, len);
	u32 = 4096;
	memcpy(bad + ICMSG_HDR + 8 + 8, &u32, 4); /* value_size */
	expect_dropped(ic, &cl_kvp, VSP_IC_KVP, tid, bad, len);
	memcpy(bad, req, len);
	u32 = 3;
	memcpy(bad + ICMSG_HDR + 8, &u32, 4); /* value_type */
	expect_dropped(ic, &cl_kvp, VSP_IC_KVP, tid, bad, len);
	/* wrong index, short body */
	memcpy(bad, req, len);
	u32 = 5;
	memcpy(bad + ICMSG_HDR + 4, &u32, 4);
	expect_dropped(ic, &cl_kvp, VSP_IC_KVP, tid, bad, len);
	memcpy(bad, req, len);
	hdr_get(bad, &p, &h);
	h.icmsgsize = 100;
	hdr_put(bad, &p, &h);
	expect_dropped(ic, &cl_kvp, VSP_IC_KVP, tid, bad, len);
	memcpy(bad, req, len);
	hdr_get(bad, &p, &h);
	h.icmsgsize = 2;
	hdr_put(bad, &p, &h);
	expect_dropped(ic, &cl_kvp, VSP_IC_KVP, tid, bad, len);
	assert_int_equal(vsp_ic_kvp_guest_get(ic, "FullyQualifiedDomainName", v, sizeof(v)), -ENOENT);
	/* the real answer */
	assert_int_equal(vsc_ic_reply(&cl_kvp, tid, req, len), 0);
	vmbfx_settle(&fx);
	assert_int_equal(vsp_ic_kvp_guest_get(ic, "FullyQualifiedDomainName", v, sizeof(v)), 0);
	assert_string_equal(v, "guest.example");
	/* a key without terminating NUL in its 512 bytes, and a REG_U32 value */
	len = take_request(&cl_kvp, req, &tid);
	assert_true(vsc_ic_answer(&cl_kvp, req, len)); /* index 1: HV_S_CONT from the client */
	hdr_get(req, &p, &h);
	h.status = HV_S_OK;
	hdr_put(req, &p, &h);
	memset(req + ICMSG_HDR + 8 + 12, 'x', HV_KVP_EXCHANGE_MAX_KEY_SIZE); /* UTF-16 "xxxx..." unterminated */
	u32 = REG_U32;
	memcpy(req + ICMSG_HDR + 8, &u32, 4);
	u32 = HV_KVP_EXCHANGE_MAX_KEY_SIZE;
	memcpy(req + ICMSG_HDR + 8 + 4, &u32, 4);
	u32 = 4;
	memcpy(req + ICMSG_HDR + 8 + 8, &u32, 4);
	u32 = 4000000000u;
	memcpy(req + ICMSG_HDR + 8 + 12 + HV_KVP_EXCHANGE_MAX_KEY_SIZE, &u32, 4);
	assert_int_equal(vsc_ic_reply(&cl_kvp, tid, req, len), 0);
	vmbfx_settle(&fx);
	assert_int_equal(vsc_ic_wait(&cl_kvp, 2000), 1); /* index 2: HV_S_CONT, the pass is complete */
	vmbfx_settle(&fx);
	{
		/* 256 units of U+7878 (3 UTF-8 bytes each) without NUL: kept as the 255 characters that fit */
		char key[800];
		size_t o = 0;

		for (int i = 0; i < 255; i++) {
			key[o++] = (char)0xe7;
			key[o++] = (char)0xa1;
			key[o++] = (char)0xb8;
		}
		key[o] = '\0';
		assert_int_equal(vsp_ic_kvp_guest_get(ic, key, v, sizeof(v)), 0);
		assert_string_equal(v, "4000000000");
	}
	assert_int_equal(stats(ic).kvp_guest_items, 2);
	assert_int_equal(stats(ic).svc[VSP_IC_KVP].dropped, 8);
	teardown(ic);
}

/* ---- the bytes Linux 6.1 hv_utils sends back ------------------------------------------------------------------ */

/*
 * These tests check the host's requests field by field against what Linux 6.1 reads (drivers/hv/hv_util.c,
 * channel_mgmt.c vmbus_prep_negotiate_resp) and answer with the bytes Linux would send, built here from the Linux
 * rules rather than by vsc_ic (whose answers are compared with them too). Linux answers in place: same length as
 * received (the packet payload, padded to 8 bytes), icflags TRANSACTION | RESPONSE, the request's trans_id.
 */

/* Linux's preference lists (hv_util.c fw_versions, sd_versions, ts_versions, hb_versions; hv_kvp.c kvp_versions). */
static const uint32_t lx_fw[] = { IC_MAKE_VERSION(3, 0), IC_MAKE_VERSION(1, 0) };
static const uint32_t lx_sd[] = { IC_MAKE_VERSION(3, 2), IC_MAKE_VERSION(3, 1), IC_MAKE_VERSION(3, 0),
				  IC_MAKE_VERSION(1, 0) };
static const uint32_t lx_ts[] = { IC_MAKE_VERSION(4, 0), IC_MAKE_VERSION(3, 0), IC_MAKE_VERSION(1, 0) };
static const uint32_t lx_hb[] = { IC_MAKE_VERSION(3, 0), IC_MAKE_VERSION(1, 0) };
static const uint32_t lx_kvp[] = { IC_MAKE_VERSION(4, 0), IC_MAKE_VERSION(3, 0), IC_MAKE_VERSION(1, 0) };

static uint16_t lx_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t lx_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t lx_rd64(const uint8_t *p)
{
	return (uint64_t)lx_rd32(p) | (uint64_t)lx_rd32(p + 4) << 32;
}

static void lx_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* icmsg_hdr.icflags at byte 25 of the message: Linux's last change before it sends. */
static void lx_respond(uint8_t *msg)
{
	msg[8 + 17] = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
}

/*
 * Linux's answer to a NEGOTIATE of @len bytes (in place): icmsgsize 0x10; first framework of @fw the host lists,
 * then first message version of @srv; counts 1/1, or 0/0 with the slots Linux leaves ({fcnt, 0} or the framework,
 * then {mcnt, 0}). @msg must have room for the two slots (Linux's buffer is 16 KiB). Returns true on a match.
 */
static bool lx_negotiate(uint8_t *msg, uint32_t len, const uint32_t *fw, unsigned nfw, const uint32_t *srv,
			 unsigned nsrv)
{
	uint8_t *n = msg + ICMSG_HDR;
	uint16_t fcnt = lx_rd16(n), mcnt = lx_rd16(n + 2);
	uint32_t f = IC_MAKE_VERSION(fcnt, 0), m = IC_MAKE_VERSION(mcnt, 0);
	bool ffound = false, mfound = false;

	lx_wr16(msg + 8 + 10, 0x10); /* icmsgsize */
	if (ICMSG_HDR + 8u + 4u * (fcnt + mcnt) <= len && fcnt <= 100 && mcnt <= 100) {
		for (unsigned i = 0; i < nfw && !ffound; i++)
			for (unsigned j = 0; j < fcnt && !ffound; j++)
				if (IC_MAKE_VERSION(lx_rd16(n + 8 + 4 * j), lx_rd16(n + 10 + 4 * j)) == fw[i]) {
					f = fw[i];
					ffound = true;
				}
		for (unsigned i = 0; ffound && i < nsrv && !mfound; i++)
			for (unsigned j = fcnt; j < (unsigned)fcnt + mcnt && !mfound; j++)
				if (IC_MAKE_VERSION(lx_rd16(n + 8 + 4 * j), lx_rd16(n + 10 + 4 * j)) == srv[i]) {
					m = srv[i];
					mfound = true;
				}
	}
	lx_wr16(n, mfound ? 1 : 0);
	lx_wr16(n + 2, mfound ? 1 : 0);
	lx_wr16(n + 8, (uint16_t)(f >> 16));
	lx_wr16(n + 10, (uint16_t)f);
	lx_wr16(n + 12, (uint16_t)(m >> 16));
	lx_wr16(n + 14, (uint16_t)m);
	lx_respond(msg);
	return mfound;
}

/* Check the framing of a host request of @len bytes: pipe header, icmsg_hdr, @type, @body_len, versions, flags. */
static void check_request(const uint8_t *req, uint32_t len, uint64_t tid, uint16_t type, uint32_t body_len,
			  uint32_t fw, uint32_t msgv)
{
	struct vmbuspipe_hdr p;
	struct icmsg_hdr h;

	/* what vmbus_recvpacket hands hv_utils: the payload padded to 8 bytes, at most HV_HYP_PAGE_SIZE */
	assert_int_equal(len, (ICMSG_HDR + body_len + 7) & ~7u);
	assert_true(len <= 4096);
	hdr_get(req, &p, &h);
	assert_int_equal(p.flags, VMBUSPIPE_FLAG_DATA);
	assert_int_equal(p.msgsize, sizeof(struct icmsg_hdr) + body_len);
	assert_int_equal(h.icmsgtype, type);
	assert_int_equal(h.icmsgsize, body_len);
	assert_int_equal(h.status, HV_S_OK);
	assert_int_equal(h.ictransaction_id, (uint8_t)tid);
	assert_int_equal(h.icflags, ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST);
	assert_int_equal(IC_MAKE_VERSION(h.icverframe.major, h.icverframe.minor), fw);
	assert_int_equal(IC_MAKE_VERSION(h.icvermsg.major, h.icvermsg.minor), msgv);
}

static void test_linux_negotiate_bytes(void **state)
{
	static const struct {
		struct vsc_ic *cl;
		enum vsp_ic_service svc;
		const uint32_t *srv;
		unsigned nsrv;
	} t[] = {
		{ &cl_sd, VSP_IC_SHUTDOWN, lx_sd, 4 },
		{ &cl_ts, VSP_IC_TIMESYNC, lx_ts, 3 },
		{ &cl_hb, VSP_IC_HEARTBEAT, lx_hb, 2 },
		{ &cl_kvp, VSP_IC_KVP, lx_kvp, 3 },
	};
	struct vsp_ic *ic = setup(NULL);
	static uint8_t req[4096], want[4096], got[4096];

	for (size_t k = 0; k < 4; k++) {
		struct vsp_ic_stats s;
		uint32_t len, body = 8 + 4 * (2 + t[k].nsrv);
		uint64_t tid;

		assert_int_equal(vsc_ic_open(&fx.bus, t[k].cl), 0);
		len = take_request(t[k].cl, req, &tid);
		/* header versions 1.0 (Linux does not read them), both framework versions, then the service's list in
		 * Linux's own order, so Linux's first choice is the best version of each */
		check_request(req, len, tid, ICMSGTYPE_NEGOTIATE, body, IC_MAKE_VERSION(1, 0), IC_MAKE_VERSION(1, 0));
		assert_int_equal(lx_rd16(req + ICMSG_HDR), 2);
		assert_int_equal(lx_rd16(req + ICMSG_HDR + 2), t[k].nsrv);
		assert_int_equal(lx_rd32(req + ICMSG_HDR + 4), 0);
		for (unsigned j = 0; j < 2 + t[k].nsrv; j++) {
			const uint8_t *v = req + ICMSG_HDR + 8 + 4 * j;

			assert_int_equal(IC_MAKE_VERSION(lx_rd16(v), lx_rd16(v + 2)), j < 2 ? lx_fw[j] : t[k].srv[j - 2]);
		}
		/* Linux's answer, and vsc_ic's, are the same bytes */
		memcpy(want, req, len);
		assert_true(lx_negotiate(want, len, lx_fw, 2, t[k].srv, t[k].nsrv));
		memcpy(got, req, len);
		assert_true(vsc_ic_answer(t[k].cl, got, len));
		assert_memory_equal(got, want, len);
		assert_int_equal(vsc_ic_reply(t[k].cl, tid, want, len), 0);
		vmbfx_settle(&fx);
		s = stats(ic);
		assert_int_equal(s.svc[t[k].svc].state, VSP_IC_STATE_READY);
		assert_int_equal(s.svc[t[k].svc].framework_version, IC_MAKE_VERSION(3, 0));
		assert_int_equal(s.svc[t[k].svc].message_version, t[k].srv[0]);
		assert_int_equal(s.svc[t[k].svc].replies, 1);
		assert_int_equal(s.svc[t[k].svc].dropped, 0);
	}
	teardown(ic);

	/* No common version, the two ways Linux fails: its answer is taken as "service not used", not dropped. */
	ic = setup(NULL);
	{
		static const uint32_t fw_other[] = { IC_MAKE_VERSION(7, 0) };
		static const uint32_t hb_other[] = { IC_MAKE_VERSION(9, 9) };
		struct {
			struct vsc_ic *cl;
			enum vsp_ic_service svc;
			const uint32_t *fw, *srv;
			unsigned nfw, nsrv;
			uint16_t slot0_major, slot0_minor, slot1_major;
		} f[] = {
			/* framework not found: slots {fcnt, 0}, {mcnt, 0} */
			{ &cl_sd, VSP_IC_SHUTDOWN, fw_other, lx_sd, 1, 4, 2, 0, 4 },
			/* framework found, message version not: slots {3, 0}, {mcnt, 0} */
			{ &cl_hb, VSP_IC_HEARTBEAT, lx_fw, hb_other, 2, 1, 3, 0, 2 },
		};

		for (size_t k = 0; k < 2; k++) {
			struct vsp_ic_stats s;
			uint32_t len;
			uint64_t tid;

			f[k].cl->fw_versions[0] = f[k].fw[0];
			f[k].cl->fw_count = f[k].nfw;
			f[k].cl->msg_versions[0] = f[k].srv[0];
			f[k].cl->msg_count = f[k].nsrv;
			assert_int_equal(vsc_ic_open(&fx.bus, f[k].cl), 0);
			len = take_request(f[k].cl, req, &tid);
			memcpy(want, req, len);
			assert_false(lx_negotiate(want, len, f[k].fw, f[k].nfw, f[k].srv, f[k].nsrv));
			assert_int_equal(lx_rd32(want + ICMSG_HDR), 0); /* counts 0/0 */
			assert_int_equal(lx_rd16(want + ICMSG_HDR + 8), f[k].slot0_major);
			assert_int_equal(lx_rd16(want + ICMSG_HDR + 10), f[k].slot0_minor);
			assert_int_equal(lx_rd16(want + ICMSG_HDR + 12), f[k].slot1_major);
			assert_int_equal(lx_rd16(want + ICMSG_HDR + 14), 0);
			memcpy(got, req, len);
			assert_true(vsc_ic_answer(f[k].cl, got, len));
			assert_memory_equal(got, want, len);
			assert_int_equal(vsc_ic_reply(f[k].cl, tid, want, len), 0);
			vmbfx_settle(&fx);
			s = stats(ic);
			assert_int_equal(s.svc[f[k].svc].state, VSP_IC_STATE_FAILED);
			assert_int_equal(s.svc[f[k].svc].replies, 1);
			assert_int_equal(s.svc[f[k].svc].dropped, 0);
		}
	}
	teardown(ic);
}

static void test_linux_shutdown_bytes(void **state)
{
	struct vsp_ic *ic = setup(NULL);
	static uint8_t req[4096];
	struct vsc_packet pkt;
	uint32_t len;
	uint64_t tid;

	open_and_negotiate(&cl_sd);
	assert_int_equal(vsp_ic_shutdown(ic, VSP_IC_POWEROFF, false), 0);
	len = take_request(&cl_sd, req, &tid);
	/* shutdown_onchannelcallback needs recvlen >= ICMSG_HDR + sizeof(shutdown_msg_data) = 2088, or no answer */
	assert_int_equal(len, 2088);
	check_request(req, len, tid, ICMSGTYPE_SHUTDOWN, sizeof(struct shutdown_msg_data), IC_MAKE_VERSION(3, 0),
		      IC_MAKE_VERSION(3, 2));
	assert_int_equal(lx_rd32(req + ICMSG_HDR), 0);     /* reason_code */
	assert_int_equal(lx_rd32(req + ICMSG_HDR + 4), 0); /* timeout_seconds */
	assert_int_equal(lx_rd32(req + ICMSG_HDR + 8), 0); /* flags 0: "graceful shutdown initiated" */

	/* Linux reads one shutdown message per interrupt (HV_CALL_DIRECT), and an unread one keeps the ring from
	 * signalling: a second request must wait for the answer to the first */
	assert_int_equal(vsp_ic_shutdown(ic, VSP_IC_REBOOT, false), -EAGAIN);
	vmbfx_settle(&fx);
	assert_int_equal(vsc_channel_recv(&cl_sd.ch, cl_sd.buf, sizeof(cl_sd.buf), &pkt), -VSC_EAGAIN);
	assert_int_equal(stats(ic).svc[VSP_IC_SHUTDOWN].sent, 2); /* NEGOTIATE and one request */

	/* Linux: status HV_S_OK for flags 0..3, icflags TRANSACTION | RESPONSE, the rest as received */
	lx_respond(req);
	assert_int_equal(vsc_ic_reply(&cl_sd, tid, req, len), 0);
	vmbfx_settle(&fx);
	assert_int_equal(atomic_load(&rec.sd_replies), 1);
	assert_int_equal(atomic_load(&rec.sd_status), HV_S_OK);
	assert_int_equal(stats(ic).svc[VSP_IC_SHUTDOWN].dropped, 0);

	/* answered: the next request goes out (flags 3: "graceful restart initiated") */
	assert_int_equal(vsp_ic_shutdown(ic, VSP_IC_REBOOT, true), 0);
	len = take_request(&cl_sd, req, &tid);
	assert_int_equal(len, 2088);
	assert_int_equal(lx_rd32(req + ICMSG_HDR + 8), ICSHUTDOWNFLAG_RESTART | ICSHUTDOWNFLAG_FORCE);
	req[8 + 12] = 0x05; /* status HV_E_FAIL 0x80004005, as for an invalid request */
	req[8 + 13] = 0x40;
	req[8 + 14] = 0x00;
	req[8 + 15] = 0x80;
	lx_respond(req);
	assert_int_equal(vsc_ic_reply(&cl_sd, tid, req, len), 0);
	vmbfx_settle(&fx);
	assert_int_equal(atomic_load(&rec.sd_replies), 2);
	assert_int_equal(atomic_load(&rec.sd_status), HV_E_FAIL);
	assert_int_equal(stats(ic).shutdown_last_status, HV_E_FAIL);
	teardown(ic);
}

/* A reference counter that runs: CLOCK_MONOTONIC in 100 ns ticks plus an offset (partition time starts near 0). */
static uint64_t ref_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) / 100u - 12345678ull;
}

static uint64_t on_ref_mono(void *opaque)
{
	(void)opaque;
	return ref_mono();
}

static void test_linux_timesync_bytes(void **state)
{
	struct vsp_ic_config cfg = base_cfg();
	struct vsp_ic *ic;
	static uint8_t req[4096];
	uint64_t tid, parent, vmref, cur_ref, host_time, newtime, guest_100ns, host_100ns;
	int64_t diff;
	uint32_t len;

	cfg.reference_time = on_ref_mono;
	cfg.timesync_period_ms = 20;
	ic = setup(&cfg);
	open_and_negotiate(&cl_ts);
	assert_int_equal(stats(ic).svc[VSP_IC_TIMESYNC].message_version, TS_VERSION_4);

	/* ts_srv_version 4.0 > TS_VERSION_3: Linux needs recvlen >= ICMSG_HDR + sizeof(ictimesync_ref_data) (50) */
	len = take_request(&cl_ts, req, &tid);
	check_request(req, len, tid, ICMSGTYPE_TIMESYNC, sizeof(struct ictimesync_ref_data), IC_MAKE_VERSION(3, 0),
		      TS_VERSION_4);
	assert_true(len >= ICMSG_HDR + sizeof(struct ictimesync_ref_data));
	parent = lx_rd64(req + ICMSG_HDR);
	vmref = lx_rd64(req + ICMSG_HDR + 8);
	/* the first sample after the open has the SYNC bit: adj_guesttime schedules do_settimeofday64 only then */
	assert_int_equal(req[ICMSG_HDR + 16], ICTIMESYNCFLAG_SYNC);

	/*
	 * The guest's arithmetic (hv_util.c adj_guesttime, then hv_set_host_time from the work item): host_time =
	 * parenttime + (reference now - vmreferencetime), then + the reference time the work item waited, in 100 ns
	 * since 1601. The clock it sets must be the host's UTC, whatever the guest's clock said before (an hour off
	 * from the CMOS clock, say): parenttime and vmreferencetime sampled together, in the right units and epochs.
	 */
	cur_ref = ref_mono();
	host_time = parent + (cur_ref - vmref);
	newtime = host_time + (ref_mono() - cur_ref);
	guest_100ns = newtime - WLTIMEDELTA;
	host_100ns = t_filetime() - WLTIMEDELTA;
	diff = (int64_t)(guest_100ns - host_100ns);
	assert_true(diff > -200000 && diff < 200000); /* 20 ms */
	assert_true((cur_ref - vmref) * 100 < 600ull * 1000000000ull); /* not stale (HOST_TIMESYNC_DELAY_THRESH) */

	/* Linux answers in place (icflags only): counted as an answer */
	lx_respond(req);
	assert_int_equal(vsc_ic_reply(&cl_ts, tid, req, len), 0);
	vmbfx_settle(&fx);
	assert_int_equal(stats(ic).svc[VSP_IC_TIMESYNC].replies, 2); /* NEGOTIATE and the SYNC */
	assert_int_equal(stats(ic).svc[VSP_IC_TIMESYNC].dropped, 0);

	/* then SAMPLEs: without the SYNC bit, so a 6.1 guest only updates its PTP clock (no step every period) */
	len = take_request(&cl_ts, req, &tid);
	check_request(req, len, tid, ICMSGTYPE_TIMESYNC, sizeof(struct ictimesync_ref_data), IC_MAKE_VERSION(3, 0),
		      TS_VERSION_4);
	assert_int_equal(req[ICMSG_HDR + 16], ICTIMESYNCFLAG_SAMPLE);
	assert_int_equal(req[ICMSG_HDR + 16] & ICTIMESYNCFLAG_SYNC, 0);
	assert_true(lx_rd64(req + ICMSG_HDR + 8) >= vmref);
	lx_respond(req);
	assert_int_equal(vsc_ic_reply(&cl_ts, tid, req, len), 0);
	vmbfx_settle(&fx);
	assert_int_equal(stats(ic).svc[VSP_IC_TIMESYNC].dropped, 0);
	teardown(ic);
}

static void test_linux_heartbeat_bytes(void **state)
{
	struct vsp_ic *ic = setup(NULL);
	static uint8_t req[4096];
	struct vsp_ic_heartbeat hb;
	uint32_t len;
	uint64_t tid, seq;

	open_and_negotiate(&cl_hb);
	for (unsigned i = 0; i < 3; i++) {
		len = take_request(&cl_hb, req, &tid);
		/* heartbeat_onchannelcallback reads seq_num (recvlen >= ICMSG_HDR + 8) and adds 1 in place */
		check_request(req, len, tid, ICMSGTYPE_HEARTBEAT, sizeof(struct heartbeat_msg_data),
			      IC_MAKE_VERSION(3, 0), HB_VERSION);
		seq = lx_rd64(req + ICMSG_HDR);
		assert_int_equal(seq, VSP_IC_HEARTBEAT_SEQ0 + i);
		seq++;
		memcpy(req + ICMSG_HDR, &seq, sizeof(seq));
		lx_respond(req);
		assert_int_equal(vsc_ic_reply(&cl_hb, tid, req, len), 0);
		vmbfx_settle(&fx);
		vsp_ic_heartbeat_status(ic, &hb);
		assert_int_equal(hb.replies, i + 1);
		assert_int_equal(hb.last_seq, seq);
		assert_true(hb.alive);
	}
	assert_int_equal(stats(ic).svc[VSP_IC_HEARTBEAT].dropped, 0);
	teardown(ic);
}

/* KVP without hv_kvp_daemon (hv_kvp.c: nothing is read while the transport is below HVUTIL_READY): one NEGOTIATE,
 * then nothing more on that channel however long the host runs its timers, and no timeouts counted. */
static void test_linux_kvp_no_daemon(void **state)
{
	struct vsp_ic_config cfg = base_cfg();
	struct vsp_ic *ic;
	struct vsp_ic_stats s;

	cfg.kvp_timeout_ms = 5;
	ic = setup(&cfg);
	cl_kvp.silent = true;
	assert_int_equal(vsc_ic_open(&fx.bus, &cl_kvp), 0);
	assert_int_equal(vsp_ic_kvp_set(ic, "VirtualMachineName", "vm1"), 0);
	run_server(100);
	s = stats(ic);
	assert_int_equal(s.svc[VSP_IC_KVP].state, VSP_IC_STATE_NEGOTIATING);
	assert_int_equal(s.svc[VSP_IC_KVP].sent, 1);
	assert_int_equal(s.svc[VSP_IC_KVP].timeouts, 0);
	assert_int_equal(s.svc[VSP_IC_KVP].dropped, 0);
	assert_int_equal(s.kvp_host_pending, 1);
	assert_int_equal(s.kvp_enumerations, 0);
	teardown(ic);
}

/* ---- UTF-8 / UTF-16 ------------------------------------------------------------------------------------------ */

static void test_utf(void **state)
{
	uint8_t u16[64];
	char u8[64];

	assert_int_equal(ic_utf8_to_utf16le("A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", u16, 32), 5);
	assert_int_equal(u16[0], 'A');
	assert_int_equal(u16[2] | u16[3] << 8, 0xe9);
	assert_int_equal(u16[4] | u16[5] << 8, 0x20ac);
	assert_int_equal(u16[6] | u16[7] << 8, 0xd83d);
	assert_int_equal(u16[8] | u16[9] << 8, 0xde00);
	assert_int_equal(u16[10] | u16[11] << 8, 0);
	assert_int_equal(ic_utf16le_to_utf8(u16, 32, u8, sizeof(u8)), 10);
	assert_string_equal(u8, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	/* truncation keeps whole characters */
	assert_int_equal(ic_utf16le_to_utf8(u16, 32, u8, 5), 3);
	assert_string_equal(u8, "A\xc3\xa9");
	/* invalid UTF-8 */
	assert_int_equal(ic_utf8_to_utf16le("\x80", u16, 32), -EINVAL);
	assert_int_equal(ic_utf8_to_utf16le("\xed\xa0\x80", u16, 32), -EINVAL); /* surrogate */
	assert_int_equal(ic_utf8_to_utf16le("\xf4\x90\x80\x80", u16, 32), -EINVAL); /* > U+10FFFF */
	assert_int_equal(ic_utf8_to_utf16le("\xe2\x82", u16, 32), -EINVAL);         /* truncated */
	assert_int_equal(ic_utf8_to_utf16le("abcd", u16, 4), -ENAMETOOLONG);
	assert_int_equal(ic_utf8_to_utf16le("abc", u16, 4), 3);
	/* unpaired surrogates from the guest */
	u16[0] = 0x00;
	u16[1] = 0xdc;
	u16[2] = 'b';
	u16[3] = 0;
	u16[4] = 0x3d;
	u16[5] = 0xd8;
	assert_int_equal(ic_utf16le_to_utf8(u16, 3, u8, sizeof(u8)), 7);
	assert_string_equal(u8, "\xef\xbf\xbd" "b" "\xef\xbf\xbd");
}

/* ---- any thread, with the I/O thread running ---------------------------------------------------------------- */

static void test_io_thread(void **state)
{
	struct vsp_ic *ic = setup(NULL);
	struct vsp_ic_heartbeat hb;
	uint64_t end;

	assert_int_equal(vmbus_server_start(fx.srv), 0);
	assert_int_equal(vsc_ic_open(&fx.bus, &cl_sd), 0);
	assert_int_equal(vsc_ic_wait(&cl_sd, 2000), 1);
	assert_int_equal(vsc_ic_open(&fx.bus, &cl_hb), 0);
	assert_int_equal(vsc_ic_open(&fx.bus, &cl_kvp), 0);
	end = t_now_ms() + 2000;
	do {
		assert_true(vsc_ic_poll(&cl_hb) >= 0);
		assert_true(vsc_ic_poll(&cl_kvp) >= 0);
		vsp_ic_heartbeat_status(ic, &hb);
	} while ((hb.replies < 5 || !hb.alive) && t_now_ms() < end);
	assert_true(hb.alive);
	assert_true(hb.replies >= 5);
	/* from this (non-I/O) thread: */
	assert_int_equal(vsp_ic_kvp_set(ic, "FromTestThread", "yes"), 0);
	assert_int_equal(vsp_ic_shutdown(ic, VSP_IC_REBOOT, true), 0);
	assert_int_equal(vsc_ic_wait(&cl_sd, 2000), 1);
	assert_int_equal(cl_sd.shutdown_flags, 3);
	end = t_now_ms() + 2000;
	while ((atomic_load(&rec.sd_replies) < 1 || !vsc_ic_kvp_get(&cl_kvp, "FromTestThread")) && t_now_ms() < end) {
		assert_true(vsc_ic_poll(&cl_kvp) >= 0);
		assert_true(vsc_ic_poll(&cl_hb) >= 0);
	}
	assert_int_equal(atomic_load(&rec.sd_replies), 1);
	assert_int_equal(atomic_load(&rec.sd_status), HV_S_OK);
	assert_non_null(vsc_ic_kvp_get(&cl_kvp, "FromTestThread"));
	teardown(ic); /* vsp_ic_destroy goes through vmbus_server_call to the running I/O thread */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offers),
		cmocka_unit_test(test_api_args),
		cmocka_unit_test(test_negotiate_linux_lists),
		cmocka_unit_test(test_negotiate_old_versions),
		cmocka_unit_test(test_negotiate_no_common_version),
		cmocka_unit_test(test_shutdown),
		cmocka_unit_test(test_heartbeat),
		cmocka_unit_test(test_timesync),
		cmocka_unit_test(test_kvp),
		cmocka_unit_test(test_kvp_full_table_replaced),
		cmocka_unit_test(test_kvp_one_at_a_time_and_timeout),
		cmocka_unit_test(test_kvp_silent),
		cmocka_unit_test(test_hostile_negotiate),
		cmocka_unit_test(test_hostile_kvp),
		cmocka_unit_test(test_linux_negotiate_bytes),
		cmocka_unit_test(test_linux_shutdown_bytes),
		cmocka_unit_test(test_linux_timesync_bytes),
		cmocka_unit_test(test_linux_heartbeat_bytes),
		cmocka_unit_test(test_linux_kvp_no_daemon),
		cmocka_unit_test(test_utf),
		cmocka_unit_test(test_io_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
