// SPDX-License-Identifier: MIT
/*
 * vsp/ic/ic.c - the IC framework (see vsp/ic/ic.h): offers, open/close, version negotiation, framing and the
 * validation of every answer, and the any-thread API. The services live in ic_util.c and ic_kvp.c.
 *
 * Negotiation follows guest-devices.md 3.3 (Linux vmbus_prep_negotiate_resp): the host lists framework versions
 * then message versions; the guest answers in place with counts 1/1 and its choices, or 0/0.
 */
#define LOG_TAG "ic"
#include "vsp/ic/ic.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "vsp/ic/internal.h"

/* Framework versions offered, best first (Linux fw_versions[]). */
static const uint32_t ic_fw_versions[] = { UTIL_FW_VERSION, UTIL_WS2K8_FW_VERSION };

/* Message versions offered per service, best first (guest-devices.md 3.3). */
static const uint32_t ic_sd_versions[] = { SD_VERSION_3_2, SD_VERSION_3_1, SD_VERSION, SD_WS2008_VERSION };
static const uint32_t ic_ts_versions[] = { TS_VERSION_4, TS_VERSION_3, TS_VERSION_1 };
static const uint32_t ic_ts_versions_noref[] = { TS_VERSION_3, TS_VERSION_1 };
static const uint32_t ic_hb_versions[] = { HB_VERSION, HB_WS2008_VERSION };
static const uint32_t ic_kvp_versions[] = { WIN8_SRV_VERSION, WIN7_SRV_VERSION, WS2008_SRV_VERSION };

#define IC_NEGOTIATE_BODY_MAX                                                                                          \
	(sizeof(struct icmsg_negotiate) + (2 + IC_MAX_MSG_VERSIONS) * sizeof(struct ic_version))

uint64_t ic_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ic_utc_filetime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 10000000ull + (uint64_t)ts.tv_nsec / 100u + WLTIMEDELTA;
}

void ic_lock(struct vsp_ic *ic)
{
	pthread_mutex_lock(&ic->lock);
}

void ic_unlock(struct vsp_ic *ic)
{
	pthread_mutex_unlock(&ic->lock);
}

const char *vsp_ic_state_name(enum vsp_ic_state s)
{
	switch (s) {
	case VSP_IC_STATE_CLOSED:
		return "closed";
	case VSP_IC_STATE_NEGOTIATING:
		return "negotiating";
	case VSP_IC_STATE_READY:
		return "ready";
	case VSP_IC_STATE_FAILED:
		return "failed";
	}
	return "?";
}

/*
 * The one transition function of the channel state machine. Allowed: anything -> CLOSED (close, reset, rescind),
 * CLOSED -> NEGOTIATING (open), NEGOTIATING -> READY | FAILED (the answer). Anything else is a bug here.
 */
static int ic_chan_set_state(struct ic_chan *c, enum vsp_ic_state to)
{
	enum vsp_ic_state from = c->state;
	bool ok;

	switch (to) {
	case VSP_IC_STATE_CLOSED:
		ok = true;
		break;
	case VSP_IC_STATE_NEGOTIATING:
		ok = from == VSP_IC_STATE_CLOSED;
		break;
	case VSP_IC_STATE_READY:
	case VSP_IC_STATE_FAILED:
		ok = from == VSP_IC_STATE_NEGOTIATING;
		break;
	default:
		ok = false;
	}
	if (!ok) {
		log_err("%s: impossible state transition %s -> %s", c->ops->name, vsp_ic_state_name(from),
			vsp_ic_state_name(to));
		return -EINVAL;
	}
	ic_lock(c->ic);
	c->state = to;
	ic_unlock(c->ic);
	log_dbg("%s: %s -> %s", c->ops->name, vsp_ic_state_name(from), vsp_ic_state_name(to));
	return 0;
}

bool ic_chan_drop(struct ic_chan *c, uint64_t trans_id, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ic_lock(c->ic);
	c->dropped++;
	ic_unlock(c->ic);
	log_guest("%s: answer dropped (trans_id %" PRIu64 "): %s", c->ops->name, trans_id, why);
	return false;
}

void ic_chan_abandon(struct ic_chan *c)
{
	c->last_acked = c->last_sent;
}

/* Build pipe header + icmsg_hdr + @body in c->tx and send it as one INBAND packet with the next trans_id. */
static int ic_send_msg(struct ic_chan *c, uint16_t type, uint32_t fw, uint32_t msgv, const void *body, uint32_t len,
		       uint64_t *tid_out)
{
	struct vmbuspipe_hdr pipe;
	struct icmsg_hdr h;
	uint64_t tid = c->next_tid;
	int rc;

	if (!c->ch)
		return -EPIPE;
	if (len > UINT16_MAX || ICMSG_HDR + len > c->tx_cap)
		return -EMSGSIZE;
	pipe.flags = VMBUSPIPE_FLAG_DATA;
	pipe.msgsize = (uint32_t)(sizeof(h) + len);
	memset(&h, 0, sizeof(h));
	h.icverframe.major = (uint16_t)(fw >> 16);
	h.icverframe.minor = (uint16_t)fw;
	h.icmsgtype = type;
	h.icvermsg.major = (uint16_t)(msgv >> 16);
	h.icvermsg.minor = (uint16_t)msgv;
	h.icmsgsize = (uint16_t)len;
	h.status = HV_S_OK;
	h.ictransaction_id = (uint8_t)tid;
	h.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST;
	memcpy(c->tx, &pipe, sizeof(pipe));
	memcpy(c->tx + sizeof(pipe), &h, sizeof(h));
	if (len)
		memcpy(c->tx + ICMSG_HDR, body, len);
	rc = vmbus_channel_send_inband(c->ch, tid, c->tx, (uint32_t)(ICMSG_HDR + len), false);
	if (rc)
		return rc;
	c->next_tid++;
	c->last_sent = tid;
	ic_lock(c->ic);
	c->sent++;
	ic_unlock(c->ic);
	if (tid_out)
		*tid_out = tid;
	return 0;
}

int ic_chan_send(struct ic_chan *c, const void *body, uint32_t len, uint64_t *tid)
{
	return ic_send_msg(c, c->ops->msgtype, c->fw_version, c->msg_version, body, len, tid);
}

static void ic_put_version(uint8_t *p, uint32_t v)
{
	struct ic_version iv = { .major = (uint16_t)(v >> 16), .minor = (uint16_t)v };

	memcpy(p, &iv, sizeof(iv));
}

static uint32_t ic_get_version(const uint8_t *p)
{
	struct ic_version iv;

	memcpy(&iv, p, sizeof(iv));
	return IC_MAKE_VERSION(iv.major, iv.minor);
}

/* NEGOTIATE: the framework versions, then the service's message versions (header versions 1.0: any guest). */
static int ic_send_negotiate(struct ic_chan *c)
{
	uint8_t body[IC_NEGOTIATE_BODY_MAX];
	struct icmsg_negotiate n = { .icframe_vercnt = 2, .icmsg_vercnt = (uint16_t)c->offered_count };
	size_t off = sizeof(n);

	memcpy(body, &n, sizeof(n));
	for (size_t i = 0; i < 2; i++, off += sizeof(struct ic_version))
		ic_put_version(body + off, ic_fw_versions[i]);
	for (unsigned i = 0; i < c->offered_count; i++, off += sizeof(struct ic_version))
		ic_put_version(body + off, c->offered[i]);
	return ic_send_msg(c, ICMSGTYPE_NEGOTIATE, IC_MAKE_VERSION(1, 0), IC_MAKE_VERSION(1, 0), body, (uint32_t)off,
			   NULL);
}

/* The answer to NEGOTIATE (framing already checked). */
static bool ic_chan_negotiated(struct ic_chan *c, const struct ic_reply *r)
{
	struct icmsg_negotiate n;
	uint32_t fw, msgv;
	bool fw_ok = false, msg_ok = false;

	if (r->body_len < sizeof(n))
		return ic_chan_drop(c, r->trans_id, "negotiate body of %u bytes", r->body_len);
	memcpy(&n, r->body, sizeof(n));
	if (n.icframe_vercnt == 0 && n.icmsg_vercnt == 0) {
		ic_lock(c->ic);
		c->replies++;
		ic_unlock(c->ic);
		ic_chan_set_state(c, VSP_IC_STATE_FAILED);
		log_info("%s: the guest supports none of the offered versions: service not used", c->ops->name);
		return true;
	}
	if (n.icframe_vercnt != 1 || n.icmsg_vercnt != 1)
		return ic_chan_drop(c, r->trans_id, "negotiate counts %u/%u", n.icframe_vercnt, n.icmsg_vercnt);
	if (r->body_len < sizeof(n) + 2 * sizeof(struct ic_version))
		return ic_chan_drop(c, r->trans_id, "negotiate body of %u bytes for 2 versions", r->body_len);
	fw = ic_get_version(r->body + sizeof(n));
	msgv = ic_get_version(r->body + sizeof(n) + sizeof(struct ic_version));
	for (size_t i = 0; i < sizeof(ic_fw_versions) / sizeof(ic_fw_versions[0]); i++)
		fw_ok |= fw == ic_fw_versions[i];
	for (unsigned i = 0; i < c->offered_count; i++)
		msg_ok |= msgv == c->offered[i];
	if (!fw_ok || !msg_ok)
		return ic_chan_drop(c, r->trans_id, "guest chose versions not offered (framework %u.%u, message %u.%u)",
				    fw >> 16, fw & 0xffff, msgv >> 16, msgv & 0xffff);
	ic_lock(c->ic);
	c->fw_version = fw;
	c->msg_version = msgv;
	c->replies++;
	ic_unlock(c->ic);
	ic_chan_set_state(c, VSP_IC_STATE_READY);
	log_info("%s: negotiated framework %u.%u, message version %u.%u", c->ops->name, fw >> 16, fw & 0xffff,
		 msgv >> 16, msgv & 0xffff);
	if (c->ops->ready)
		c->ops->ready(c);
	return true;
}

/* One packet from the guest, already copied out of the ring: check the framing, then hand it on. */
static void ic_chan_packet(struct ic_chan *c, const struct vmbus_packet *pkt)
{
	struct vmbuspipe_hdr pipe;
	struct icmsg_hdr h;
	struct ic_reply r;
	uint16_t expected;
	bool ok;

	if (pkt->type != VM_PKT_DATA_INBAND) {
		ic_chan_drop(c, pkt->trans_id, "packet type %u", pkt->type);
		return;
	}
	if (pkt->data_len < ICMSG_HDR) {
		ic_chan_drop(c, pkt->trans_id, "short packet (%u bytes)", pkt->data_len);
		return;
	}
	memcpy(&pipe, pkt->data, sizeof(pipe));
	memcpy(&h, pkt->data + sizeof(pipe), sizeof(h));
	if (pipe.flags != VMBUSPIPE_FLAG_DATA || pipe.msgsize > pkt->data_len - sizeof(pipe) ||
	    pipe.msgsize < sizeof(h) + h.icmsgsize) {
		ic_chan_drop(c, pkt->trans_id, "pipe header flags %u msgsize %u (packet %u, icmsgsize %u)", pipe.flags,
			     pipe.msgsize, pkt->data_len, h.icmsgsize);
		return;
	}
	if ((h.icflags & (ICMSGHDRFLAG_RESPONSE | ICMSGHDRFLAG_REQUEST)) != ICMSGHDRFLAG_RESPONSE) {
		ic_chan_drop(c, pkt->trans_id, "icflags 0x%x: not a response", h.icflags);
		return;
	}
	if (pkt->trans_id <= c->last_acked || pkt->trans_id > c->last_sent) {
		ic_chan_drop(c, pkt->trans_id, "no request outstanding with this trans_id (window %" PRIu64
			     "..%" PRIu64 ")", c->last_acked + 1, c->last_sent);
		return;
	}
	if (h.ictransaction_id != (uint8_t)pkt->trans_id) {
		ic_chan_drop(c, pkt->trans_id, "ictransaction_id %u does not match", h.ictransaction_id);
		return;
	}
	switch (c->state) {
	case VSP_IC_STATE_NEGOTIATING:
		expected = ICMSGTYPE_NEGOTIATE;
		break;
	case VSP_IC_STATE_READY:
		expected = c->ops->msgtype;
		break;
	default:
		ic_chan_drop(c, pkt->trans_id, "service %s", vsp_ic_state_name(c->state));
		return;
	}
	if (h.icmsgtype != expected) {
		ic_chan_drop(c, pkt->trans_id, "message type %u, expected %u", h.icmsgtype, expected);
		return;
	}
	r.trans_id = pkt->trans_id;
	r.status = h.status;
	r.body = pkt->data + ICMSG_HDR;
	r.body_len = h.icmsgsize;
	if (expected == ICMSGTYPE_NEGOTIATE) {
		ok = ic_chan_negotiated(c, &r);
	} else {
		ok = c->ops->reply(c, &r);
		if (ok) {
			ic_lock(c->ic);
			c->replies++;
			ic_unlock(c->ic);
		}
	}
	/* Requests are answered in order: an accepted answer also settles every older request. */
	if (ok && r.trans_id > c->last_acked)
		c->last_acked = r.trans_id;
}

/* ---- VSP callbacks (I/O thread) -------------------------------------------------------------------------------- */

static int ic_dev_open(struct vmbus_channel *ch, void *opaque)
{
	struct ic_chan *c = opaque;
	int rc;

	if (c->state != VSP_IC_STATE_CLOSED)
		ic_chan_set_state(c, VSP_IC_STATE_CLOSED);
	ic_chan_abandon(c);
	ic_lock(c->ic);
	c->fw_version = 0;
	c->msg_version = 0;
	ic_unlock(c->ic);
	ic_chan_set_state(c, VSP_IC_STATE_NEGOTIATING);
	rc = ic_send_negotiate(c);
	if (rc)
		log_warn("%s: cannot send NEGOTIATE: %s", c->ops->name, strerror(-rc));
	else
		log_dbg("%s: open, NEGOTIATE sent", c->ops->name);
	return 0;
}

static void ic_dev_close(struct vmbus_channel *ch, void *opaque)
{
	struct ic_chan *c = opaque;

	vmbus_timer_cancel(c->ic->cfg.srv, &c->timer);
	ic_chan_abandon(c);
	ic_chan_set_state(c, VSP_IC_STATE_CLOSED);
	if (c->ops->closed)
		c->ops->closed(c);
	log_dbg("%s: closed", c->ops->name);
}

static bool ic_dev_notify(struct vmbus_channel *ch, void *opaque)
{
	struct ic_chan *c = opaque;
	struct vmbus_packet pkt;

	for (;;) {
		int n = vmbus_channel_recv(ch, c->rx, c->ops->rx_bytes, &pkt);

		if (n == -EAGAIN || n == -EPIPE)
			break;
		if (n == -EMSGSIZE) {
			ic_chan_drop(c, 0, "packet larger than %u bytes", c->ops->rx_bytes);
			continue;
		}
		if (n < 0) {
			log_guest("%s: receive failed: %s", c->ops->name, strerror(-n));
			break;
		}
		ic_chan_packet(c, &pkt);
	}
	if (c->state == VSP_IC_STATE_READY && c->ops->writable)
		c->ops->writable(c);
	return true;
}

static const struct vmbus_device_ops ic_device_ops = {
	.open = ic_dev_open,
	.close = ic_dev_close,
	.notify = ic_dev_notify,
};

/* ---- create / destroy -------------------------------------------------------------------------------------------- */

static void ic_free(struct vsp_ic *ic)
{
	for (unsigned i = 0; i < VSP_IC_SERVICE_COUNT; i++) {
		free(ic->chan[i].rx);
		free(ic->chan[i].tx);
	}
	ic_kvp_destroy(ic);
	pthread_mutex_destroy(&ic->lock);
	free(ic);
}

/* I/O thread: withdraw every offered channel (closing open ones runs the close callback) and stop the timers. */
static void ic_withdraw(struct vsp_ic *ic)
{
	for (unsigned i = 0; i < VSP_IC_SERVICE_COUNT; i++) {
		struct ic_chan *c = &ic->chan[i];

		if (!c->ch)
			continue;
		vmbus_channel_rescind(c->ch);
		vmbus_timer_cancel(ic->cfg.srv, &c->timer);
		c->ch = NULL;
		if (c->state != VSP_IC_STATE_CLOSED) {
			/* the server did not call close (never opened, or already torn down): settle here */
			ic_chan_set_state(c, VSP_IC_STATE_CLOSED);
			if (c->ops->closed)
				c->ops->closed(c);
		}
	}
}

static void ic_withdraw_call(void *opaque)
{
	ic_withdraw(opaque);
}

static int ic_chan_init(struct vsp_ic *ic, enum vsp_ic_service svc, const struct ic_service_ops *ops,
			const uint32_t *versions, unsigned count)
{
	struct ic_chan *c = &ic->chan[svc];
	size_t body = ops->tx_body_bytes > IC_NEGOTIATE_BODY_MAX ? ops->tx_body_bytes : IC_NEGOTIATE_BODY_MAX;

	c->ic = ic;
	c->svc = svc;
	c->ops = ops;
	c->state = VSP_IC_STATE_CLOSED;
	c->next_tid = 1;
	if (count > IC_MAX_MSG_VERSIONS)
		count = IC_MAX_MSG_VERSIONS;
	memcpy(c->offered, versions, count * sizeof(versions[0]));
	c->offered_count = count;
	c->tx_cap = (uint32_t)(ICMSG_HDR + body);
	c->rx = calloc(1, ops->rx_bytes);
	c->tx = calloc(1, c->tx_cap);
	return c->rx && c->tx ? 0 : -ENOMEM;
}

int vsp_ic_create(const struct vsp_ic_config *cfg, struct vsp_ic **out)
{
	struct vsp_ic *ic;
	int rc;

	if (!cfg || !cfg->srv || !out)
		return -EINVAL;
	ic = calloc(1, sizeof(*ic));
	if (!ic)
		return -ENOMEM;
	ic->cfg = *cfg;
	if (!ic->cfg.heartbeat_period_ms)
		ic->cfg.heartbeat_period_ms = VSP_IC_HEARTBEAT_PERIOD_MS;
	if (!ic->cfg.timesync_period_ms)
		ic->cfg.timesync_period_ms = VSP_IC_TIMESYNC_PERIOD_MS;
	if (!ic->cfg.kvp_timeout_ms)
		ic->cfg.kvp_timeout_ms = VSP_IC_KVP_TIMEOUT_MS;
	ic->sd_last_status = HV_E_FAIL;
	pthread_mutex_init(&ic->lock, NULL);

	rc = ic_chan_init(ic, VSP_IC_SHUTDOWN, &ic_shutdown_ops, ic_sd_versions, 4);
	if (!rc && cfg->reference_time)
		rc = ic_chan_init(ic, VSP_IC_TIMESYNC, &ic_timesync_ops, ic_ts_versions, 3);
	else if (!rc)
		rc = ic_chan_init(ic, VSP_IC_TIMESYNC, &ic_timesync_ops, ic_ts_versions_noref, 2);
	if (!rc)
		rc = ic_chan_init(ic, VSP_IC_HEARTBEAT, &ic_heartbeat_ops, ic_hb_versions, 2);
	if (!rc)
		rc = ic_chan_init(ic, VSP_IC_KVP, &ic_kvp_ops, ic_kvp_versions, 3);
	if (!rc && cfg->kvp)
		rc = ic_kvp_create(ic);
	if (rc)
		goto err_free;

	for (unsigned i = 0; i < VSP_IC_SERVICE_COUNT; i++) {
		struct ic_chan *c = &ic->chan[i];
		struct vmbus_offer_config oc;

		if (i == VSP_IC_KVP && !cfg->kvp)
			continue;
		memset(&oc, 0, sizeof(oc));
		oc.class_id = c->ops->class_id;
		oc.instance_id = c->ops->instance_id;
		oc.name = c->ops->name;
		oc.pipe_mode = true;
		oc.max_packet_bytes = c->ops->max_packet_bytes;
		oc.ops = &ic_device_ops;
		oc.opaque = c;
		rc = vmbus_device_offer(cfg->srv, &oc, &c->ch);
		if (rc) {
			log_err("%s: offer failed: %s", c->ops->name, strerror(-rc));
			c->ch = NULL;
			goto err_withdraw;
		}
	}
	*out = ic;
	return 0;

err_withdraw:
	ic_withdraw(ic);
err_free:
	ic_free(ic);
	return rc;
}

void vsp_ic_destroy(struct vsp_ic *ic)
{
	int rc;

	if (!ic)
		return;
	rc = vmbus_server_call(ic->cfg.srv, ic_withdraw_call, ic);
	if (rc)
		log_err("destroy: cannot reach the VMBus I/O thread (%s); call vsp_ic_destroy before "
			"vmbus_server_destroy", strerror(-rc));
	ic_free(ic);
}

/* ---- any-thread API ------------------------------------------------------------------------------------------- */

struct ic_shutdown_call {
	struct vsp_ic *ic;
	uint32_t flags;
	int rc;
};

static void ic_shutdown_call_fn(void *opaque)
{
	struct ic_shutdown_call *a = opaque;

	a->rc = ic_shutdown_request(a->ic, a->flags);
}

int vsp_ic_shutdown(struct vsp_ic *ic, enum vsp_ic_shutdown_kind kind, bool force)
{
	struct ic_shutdown_call a = { .ic = ic, .rc = -ENOTCONN };
	int rc;

	if (!ic || (kind != VSP_IC_POWEROFF && kind != VSP_IC_REBOOT))
		return -EINVAL;
	a.flags = (kind == VSP_IC_REBOOT ? ICSHUTDOWNFLAG_RESTART : 0) | (force ? ICSHUTDOWNFLAG_FORCE : 0);
	rc = vmbus_server_call(ic->cfg.srv, ic_shutdown_call_fn, &a);
	return rc ? rc : a.rc;
}

void vsp_ic_heartbeat_status(struct vsp_ic *ic, struct vsp_ic_heartbeat *out)
{
	uint64_t now;

	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	out->ms_since_reply = UINT64_MAX;
	if (!ic)
		return;
	now = ic_now_ns();
	ic_lock(ic);
	out->channel_open = ic->chan[VSP_IC_HEARTBEAT].state != VSP_IC_STATE_CLOSED;
	out->alive = ic->hb_alive;
	out->replies = ic->hb_replies;
	out->last_seq = ic->hb_last_seq;
	if (ic->hb_last_reply_ns)
		out->ms_since_reply = now > ic->hb_last_reply_ns ? (now - ic->hb_last_reply_ns) / 1000000u : 0;
	ic_unlock(ic);
}

static void ic_kvp_kick_call(void *opaque)
{
	ic_kvp_kick(opaque);
}

int vsp_ic_kvp_set(struct vsp_ic *ic, const char *key, const char *value)
{
	int rc;

	if (!ic || !key || !value)
		return -EINVAL;
	if (!ic->kvp)
		return -EOPNOTSUPP;
	rc = ic_kvp_host_set(ic, key, value);
	if (rc)
		return rc;
	/* queued: the push happens on the I/O thread; a failed call only delays it to the next open or timer */
	rc = vmbus_server_call(ic->cfg.srv, ic_kvp_kick_call, ic);
	if (rc)
		log_dbg("kvp: cannot kick the I/O thread: %s", strerror(-rc));
	return 0;
}

int vsp_ic_kvp_guest_get(struct vsp_ic *ic, const char *key, char *value, size_t cap)
{
	if (!ic || !key || !value || !cap)
		return -EINVAL;
	if (!ic->kvp) {
		value[0] = '\0';
		return -ENOENT;
	}
	return ic_kvp_guest_get(ic, key, value, cap);
}

int vsp_ic_kvp_guest_item(struct vsp_ic *ic, unsigned index, char *key, size_t kcap, char *value, size_t vcap)
{
	if (!ic || !key || !value || !kcap || !vcap)
		return -EINVAL;
	if (!ic->kvp)
		return -ENOENT;
	return ic_kvp_guest_item(ic, index, key, kcap, value, vcap);
}

void vsp_ic_stats(struct vsp_ic *ic, struct vsp_ic_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!ic)
		return;
	ic_lock(ic);
	for (unsigned i = 0; i < VSP_IC_SERVICE_COUNT; i++) {
		const struct ic_chan *c = &ic->chan[i];
		struct vsp_ic_service_stats *s = &out->svc[i];

		s->state = c->state;
		s->framework_version = c->fw_version;
		s->message_version = c->msg_version;
		s->sent = c->sent;
		s->replies = c->replies;
		s->dropped = c->dropped;
		s->timeouts = c->timeouts;
	}
	out->shutdown_last_status = ic->sd_last_status;
	out->timesync_syncs = ic->ts_syncs;
	out->timesync_samples = ic->ts_samples;
	if (ic->kvp)
		ic_kvp_stats(ic, out);
	ic_unlock(ic);
}
