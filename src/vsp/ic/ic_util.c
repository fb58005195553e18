// SPDX-License-Identifier: MIT
/*
 * vsp/ic/ic_util.c - the shutdown, heartbeat and time sync ICs (see vsp/ic/ic.h); what Linux 6.1 answers them with
 * is drivers/hv/hv_util.c (guest-devices.md 3.4 - 3.6).
 */
#define LOG_TAG "ic-util"
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "lib/log.h"
#include "vsp/ic/internal.h"

/* ---- shutdown ------------------------------------------------------------------------------------------------ */

static const char ic_sd_message[] = "OpenHV: the host requested a shutdown";

/* Linux 6.1 hv_util.c receives shutdown, time sync and heartbeat messages into a HV_HYP_PAGE_SIZE buffer; a longer
 * one fails vmbus_recvpacket (-ENOBUFS) and stays in the ring, jamming the channel. */
_Static_assert(ICMSG_HDR + sizeof(struct shutdown_msg_data) <= 4096, "shutdown request fits hv_utils' buffer");
_Static_assert(ICMSG_HDR + sizeof(struct heartbeat_msg_data) <= 4096, "heartbeat fits hv_utils' buffer");
_Static_assert(ICMSG_HDR + sizeof(struct ictimesync_data) <= 4096, "time sample fits hv_utils' buffer");

int ic_shutdown_request(struct vsp_ic *ic, uint32_t flags)
{
	struct ic_chan *c = &ic->chan[VSP_IC_SHUTDOWN];
	struct shutdown_msg_data m;
	uint64_t tid;
	int rc;

	if (!ic_chan_ready(c))
		return -ENOTCONN;
	/*
	 * One request at a time. util_probe puts the channel in HV_CALL_DIRECT mode and shutdown_onchannelcallback
	 * (Linux 6.1 hv_util.c) reads exactly one packet per interrupt, while the host signals only when the guest
	 * had read everything: a request behind an unread one would never be read. The guest answers each request
	 * (flags 0..3 at once) before it acts on it, so the wait is short.
	 */
	if (c->last_acked < c->last_sent)
		return -EAGAIN;
	memset(&m, 0, sizeof(m));
	m.reason_code = 0;
	m.timeout_seconds = 0;
	m.flags = flags;
	/* display_message is UTF-16LE for Windows guests (Linux ignores it) */
	for (size_t i = 0; i < sizeof(ic_sd_message) - 1 && 2 * i + 1 < sizeof(m.display_message); i++)
		m.display_message[2 * i] = (uint8_t)ic_sd_message[i];
	rc = ic_chan_send(c, &m, sizeof(m), &tid);
	if (rc == -EPIPE)
		return -ENOTCONN;
	if (rc)
		return rc;
	log_info("shutdown: %s%s request sent (flags %u)", (flags & ICSHUTDOWNFLAG_FORCE) ? "forced " : "",
		 (flags & ICSHUTDOWNFLAG_RESTART) ? "reboot" : "power-off", flags);
	return 0;
}

static bool ic_sd_reply(struct ic_chan *c, const struct ic_reply *r)
{
	struct vsp_ic *ic = c->ic;

	ic_lock(ic);
	ic->sd_last_status = r->status;
	ic_unlock(ic);
	log_info("shutdown: the guest answered 0x%08" PRIx32 "%s", r->status, r->status == HV_S_OK ? " (S_OK)" : "");
	if (ic->cfg.shutdown_reply)
		ic->cfg.shutdown_reply(ic->cfg.opaque, r->status);
	return true;
}

const struct ic_service_ops ic_shutdown_ops = {
	.name = VSP_IC_SHUTDOWN_NAME,
	.class_id = HV_SHUTDOWN_GUID,
	.instance_id = VSP_IC_SHUTDOWN_INSTANCE,
	.msgtype = ICMSGTYPE_SHUTDOWN,
	.max_packet_bytes = 4096,
	.rx_bytes = 4096,
	.tx_body_bytes = sizeof(struct shutdown_msg_data),
	.reply = ic_sd_reply,
};

/* ---- heartbeat ----------------------------------------------------------------------------------------------- */

static void ic_hb_tick(void *opaque);

/* The seq_num sent with trans_id @tid (one heartbeat per trans_id from hb_first_tid on). */
static uint64_t ic_hb_seq(const struct vsp_ic *ic, uint64_t tid)
{
	return VSP_IC_HEARTBEAT_SEQ0 + (tid - ic->hb_first_tid);
}

static void ic_hb_set_alive(struct vsp_ic *ic, bool alive, const char *why)
{
	bool changed;

	ic_lock(ic);
	changed = ic->hb_alive != alive;
	ic->hb_alive = alive;
	ic_unlock(ic);
	if (!changed)
		return;
	log_info("heartbeat: guest %s%s", alive ? "alive" : "lost", why);
	if (ic->cfg.heartbeat_change)
		ic->cfg.heartbeat_change(ic->cfg.opaque, alive);
}

static void ic_hb_send(struct ic_chan *c)
{
	struct vsp_ic *ic = c->ic;
	struct heartbeat_msg_data m;
	int rc;

	memset(&m, 0, sizeof(m));
	m.seq_num = ic_hb_seq(ic, c->next_tid);
	rc = ic_chan_send(c, &m, sizeof(m), NULL);
	if (rc)
		log_dbg("heartbeat: not sent: %s", strerror(-rc));
}

static void ic_hb_tick(void *opaque)
{
	struct ic_chan *c = opaque;
	struct vsp_ic *ic = c->ic;
	uint64_t period_ns = (uint64_t)ic->cfg.heartbeat_period_ms * 1000000u;
	bool lost;

	if (!ic_chan_ready(c))
		return;
	ic_lock(ic);
	lost = ic->hb_alive && ic_now_ns() - ic->hb_last_reply_ns > 3 * period_ns;
	ic_unlock(ic);
	if (lost)
		ic_hb_set_alive(ic, false, " (no answer for 3 periods)");
	ic_hb_send(c);
	vmbus_timer_arm(ic->cfg.srv, &c->timer, ic->cfg.heartbeat_period_ms, ic_hb_tick, c);
}

static void ic_hb_ready(struct ic_chan *c)
{
	c->ic->hb_first_tid = c->next_tid;
	ic_hb_tick(c);
}

static bool ic_hb_reply(struct ic_chan *c, const struct ic_reply *r)
{
	struct vsp_ic *ic = c->ic;
	uint64_t seq, expected;

	if (r->body_len < sizeof(seq))
		return ic_chan_drop(c, r->trans_id, "heartbeat body of %u bytes", r->body_len);
	memcpy(&seq, r->body, sizeof(seq));
	expected = ic_hb_seq(ic, r->trans_id) + 1;
	if (r->trans_id < ic->hb_first_tid || seq != expected)
		return ic_chan_drop(c, r->trans_id, "heartbeat seq %" PRIu64 ", expected %" PRIu64, seq, expected);
	ic_lock(ic);
	ic->hb_replies++;
	ic->hb_last_seq = seq;
	ic->hb_last_reply_ns = ic_now_ns();
	ic_unlock(ic);
	ic_hb_set_alive(ic, true, "");
	return true;
}

static void ic_hb_closed(struct ic_chan *c)
{
	ic_hb_set_alive(c->ic, false, " (channel closed)");
}

const struct ic_service_ops ic_heartbeat_ops = {
	.name = VSP_IC_HEARTBEAT_NAME,
	.class_id = HV_HEART_BEAT_GUID,
	.instance_id = VSP_IC_HEARTBEAT_INSTANCE,
	.msgtype = ICMSGTYPE_HEARTBEAT,
	.max_packet_bytes = 4096,
	.rx_bytes = 4096,
	.tx_body_bytes = sizeof(struct heartbeat_msg_data),
	.ready = ic_hb_ready,
	.reply = ic_hb_reply,
	.closed = ic_hb_closed,
};

/* ---- time sync ------------------------------------------------------------------------------------------------ */

/* Send SYNC if one is still owed since the open, else SAMPLE; the body by the negotiated message version. */
static void ic_ts_send(struct ic_chan *c)
{
	struct vsp_ic *ic = c->ic;
	uint8_t flags = ic->ts_sync_pending ? ICTIMESYNCFLAG_SYNC : ICTIMESYNCFLAG_SAMPLE;
	int rc;

	if (c->msg_version >= TS_VERSION_4 && ic->cfg.reference_time) {
		struct ictimesync_ref_data m;

		memset(&m, 0, sizeof(m));
		m.vmreferencetime = ic->cfg.reference_time(ic->cfg.opaque);
		m.parenttime = ic_utc_filetime();
		m.flags = flags;
		rc = ic_chan_send(c, &m, sizeof(m), NULL);
	} else {
		struct ictimesync_data m;

		memset(&m, 0, sizeof(m));
		m.parenttime = ic_utc_filetime();
		m.flags = flags;
		rc = ic_chan_send(c, &m, sizeof(m), NULL);
	}
	if (rc) {
		log_dbg("timesync: not sent: %s", strerror(-rc));
		return;
	}
	ic_lock(ic);
	if (flags == ICTIMESYNCFLAG_SYNC)
		ic->ts_syncs++;
	else
		ic->ts_samples++;
	ic_unlock(ic);
	ic->ts_sync_pending = false;
}

static void ic_ts_tick(void *opaque)
{
	struct ic_chan *c = opaque;
	struct vsp_ic *ic = c->ic;

	if (!ic_chan_ready(c))
		return;
	ic_ts_send(c);
	vmbus_timer_arm(ic->cfg.srv, &c->timer, ic->cfg.timesync_period_ms, ic_ts_tick, c);
}

static void ic_ts_ready(struct ic_chan *c)
{
	c->ic->ts_sync_pending = true;
	ic_ts_tick(c);
}

static bool ic_ts_reply(struct ic_chan *c, const struct ic_reply *r)
{
	/* Linux echoes the sample; nothing in it is for the host */
	return true;
}

static void ic_ts_writable(struct ic_chan *c)
{
	if (c->ic->ts_sync_pending)
		ic_ts_send(c);
}

const struct ic_service_ops ic_timesync_ops = {
	.name = VSP_IC_TIMESYNC_NAME,
	.class_id = HV_TS_GUID,
	.instance_id = VSP_IC_TIMESYNC_INSTANCE,
	.msgtype = ICMSGTYPE_TIMESYNC,
	.max_packet_bytes = 4096,
	.rx_bytes = 4096,
	.tx_body_bytes = sizeof(struct ictimesync_data),
	.ready = ic_ts_ready,
	.reply = ic_ts_reply,
	.writable = ic_ts_writable,
};
