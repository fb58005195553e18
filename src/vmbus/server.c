// SPDX-License-Identifier: MIT
/*
 * vmbus/server.c - the VMBus server's control plane: the connection state machine, the channel messages of
 * guest-core.md 5.2-5.5 and 6.2, offers, GPADLs, channel open/close/rescind, and the VSP API around them.
 *
 * State machine (one enum, one transition function):
 *   DISCONNECTED --INITIATE_CONTACT(accepted)--> CONNECTED --REQUESTOFFERS--> OFFERS_SENT
 *   any --INITIATE_CONTACT--> bus reset, then CONNECTED or DISCONNECTED (version refused)
 *   any --UNLOAD--> bus reset, DISCONNECTED (UNLOAD_RESPONSE sent)
 * A bus reset closes every open channel (VSP close callbacks), forgets every GPADL, drops rescinded channels that
 * waited for RELID_RELEASED and queued host messages, and marks every offer unsent: after it nothing of the old
 * connection touches guest memory (kexec and kdump hand that memory to a new kernel).
 *
 * Messages from the guest are checked against a minimum length per type (longer is tolerated, shorter rejected)
 * and against the state; a malformed message is dropped with a rate-limited log, or answered with a failure status
 * where the guest waits for an answer (GPADL_CREATED, OPENCHANNEL_RESULT, MODIFYCHANNEL_RESPONSE).
 */
#define _GNU_SOURCE
#define LOG_TAG "vmbus"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hv/hv.h"
#include "lib/log.h"
#include "vid/memory.h"
#include "vmbus/internal.h"

int vmbus_message_handler(void *opaque, uint32_t vp_index, uint32_t connection_id, uint32_t message_type,
			  const void *payload, uint32_t size);
void vmbus_loop_stop(struct vmbus_server *srv);
static void vmbus_subchannels_rescind(struct vmbus_channel *primary);

/* Status values in answers (Hyper-V uses NTSTATUS-like codes; Linux only tests for non-zero). */
#define VMBUS_STATUS_FAILURE 0xC0000001u /* STATUS_UNSUCCESSFUL */

static const uint32_t vmbus_versions[] = {
	VERSION_WIN10_V5_3, VERSION_WIN10_V5_2, VERSION_WIN10_V5_1, VERSION_WIN10_V5,
	VERSION_WIN10_V4_1, VERSION_WIN10,      VERSION_WIN8_1,     VERSION_WIN8,
};

/* Minimum payload of each guest -> host message (guest-core.md 5.3); 0: not a guest -> host message. */
static const uint32_t vmbus_min_size[CHANNELMSG_COUNT] = {
	[CHANNELMSG_REQUESTOFFERS] = sizeof(struct vmbus_channel_message_header),
	[CHANNELMSG_OPENCHANNEL] = sizeof(struct vmbus_channel_open_channel),
	[CHANNELMSG_CLOSECHANNEL] = sizeof(struct vmbus_channel_relid_message),
	[CHANNELMSG_GPADL_HEADER] = sizeof(struct vmbus_channel_gpadl_header) + sizeof(struct gpa_range),
	[CHANNELMSG_GPADL_BODY] = sizeof(struct vmbus_channel_gpadl_body),
	[CHANNELMSG_GPADL_TEARDOWN] = sizeof(struct vmbus_channel_gpadl_teardown),
	[CHANNELMSG_RELID_RELEASED] = sizeof(struct vmbus_channel_relid_message),
	[CHANNELMSG_INITIATE_CONTACT] = sizeof(struct vmbus_channel_initiate_contact),
	[CHANNELMSG_UNLOAD] = sizeof(struct vmbus_channel_message_header),
	[CHANNELMSG_TL_CONNECT_REQUEST] = sizeof(struct vmbus_channel_tl_connect_request),
	[CHANNELMSG_MODIFYCHANNEL] = sizeof(struct vmbus_channel_modifychannel),
};

static const char *const vmbus_msg_names[CHANNELMSG_COUNT] = {
	[CHANNELMSG_REQUESTOFFERS] = "REQUESTOFFERS",     [CHANNELMSG_OPENCHANNEL] = "OPENCHANNEL",
	[CHANNELMSG_CLOSECHANNEL] = "CLOSECHANNEL",       [CHANNELMSG_GPADL_HEADER] = "GPADL_HEADER",
	[CHANNELMSG_GPADL_BODY] = "GPADL_BODY",           [CHANNELMSG_GPADL_TEARDOWN] = "GPADL_TEARDOWN",
	[CHANNELMSG_RELID_RELEASED] = "RELID_RELEASED",   [CHANNELMSG_INITIATE_CONTACT] = "INITIATE_CONTACT",
	[CHANNELMSG_UNLOAD] = "UNLOAD",                   [CHANNELMSG_TL_CONNECT_REQUEST] = "TL_CONNECT_REQUEST",
	[CHANNELMSG_MODIFYCHANNEL] = "MODIFYCHANNEL",
};

const char *vmbus_connection_state_name(enum vmbus_connection_state state)
{
	switch (state) {
	case VMBUS_STATE_DISCONNECTED: return "disconnected";
	case VMBUS_STATE_CONNECTED: return "connected";
	case VMBUS_STATE_OFFERS_SENT: return "offers-sent";
	}
	return "?";
}

/* The one transition function: refuses what the state machine above does not have. */
static void vmbus_state_set(struct vmbus_server *srv, enum vmbus_connection_state to)
{
	enum vmbus_connection_state from = atomic_load(&srv->state);
	bool ok = to == VMBUS_STATE_DISCONNECTED || to == VMBUS_STATE_CONNECTED ||
		  (to == VMBUS_STATE_OFFERS_SENT && from != VMBUS_STATE_DISCONNECTED);

	if (!ok) {
		log_err("impossible connection state transition %s -> %s", vmbus_connection_state_name(from),
			vmbus_connection_state_name(to));
		return;
	}
	if (from != to)
		log_dbg("connection %s -> %s", vmbus_connection_state_name(from), vmbus_connection_state_name(to));
	atomic_store(&srv->state, (int)to);
}

enum vmbus_connection_state vmbus_server_state(struct vmbus_server *srv, uint32_t *version)
{
	if (version)
		*version = atomic_load(&srv->version);
	return atomic_load(&srv->state);
}

void vmbus_server_stats(struct vmbus_server *srv, struct vmbus_server_stats *out)
{
	out->messages_in = atomic_load(&srv->stats.messages_in);
	out->messages_rejected = atomic_load(&srv->stats.messages_rejected);
	out->messages_out = atomic_load(&srv->stats.messages_out);
	out->resets = atomic_load(&srv->stats.resets);
	out->guest_signals = atomic_load(&srv->stats.guest_signals);
	out->host_signals = atomic_load(&srv->stats.host_signals);
	out->channels_broken = atomic_load(&srv->stats.channels_broken);
}

/* ---- host -> guest messages ---------------------------------------------------------------------------------- */

static int vmbus_post(struct vmbus_server *srv, const void *msg, uint32_t size)
{
	return hvi_synic_post_message(srv->hv, srv->target_vp, srv->msg_sint, VMBUS_CHANNEL_MESSAGE_TYPE, msg, size);
}

/* Send a channel message to the connection's VP, in order behind any backlog. */
static void vmbus_send_msg(struct vmbus_server *srv, const void *msg, uint32_t size)
{
	struct vmbus_outmsg *o;
	int ret;

	if (!srv->backlog) {
		ret = vmbus_post(srv, msg, size);
		if (ret == 0) {
			atomic_fetch_add(&srv->stats.messages_out, 1);
			return;
		}
		if (ret != -ENOBUFS) {
			log_guest("message to VP %u dropped: %s", srv->target_vp, strerror(-ret));
			return;
		}
	}
	if (srv->backlog_len >= VMBUS_BACKLOG_MAX || !(o = malloc(sizeof(*o)))) {
		log_guest("the guest does not take its messages: one dropped");
		return;
	}
	o->next = NULL;
	o->size = size;
	memcpy(o->data, msg, size);
	*srv->backlog_tail = o;
	srv->backlog_tail = &o->next;
	srv->backlog_len++;
}

void vmbus_backlog_flush(struct vmbus_server *srv)
{
	while (srv->backlog) {
		struct vmbus_outmsg *o = srv->backlog;
		int ret = vmbus_post(srv, o->data, o->size);

		if (ret == -ENOBUFS)
			return;
		if (ret == 0)
			atomic_fetch_add(&srv->stats.messages_out, 1);
		else
			log_guest("queued message to VP %u dropped: %s", srv->target_vp, strerror(-ret));
		srv->backlog = o->next;
		if (!srv->backlog)
			srv->backlog_tail = &srv->backlog;
		srv->backlog_len--;
		free(o);
	}
}

static void vmbus_backlog_drop(struct vmbus_server *srv)
{
	while (srv->backlog) {
		struct vmbus_outmsg *o = srv->backlog;

		srv->backlog = o->next;
		free(o);
	}
	srv->backlog_tail = &srv->backlog;
	srv->backlog_len = 0;
}

static void vmbus_send_relid_msg(struct vmbus_server *srv, uint32_t type, uint32_t relid)
{
	struct vmbus_channel_relid_message m = { .header.msgtype = type, .child_relid = relid };

	vmbus_send_msg(srv, &m, sizeof(m));
}

/* ---- channels -------------------------------------------------------------------------------------------- */

static struct vmbus_channel *vmbus_channel_find(struct vmbus_server *srv, uint32_t relid)
{
	for (struct vmbus_channel *ch = srv->channels; ch; ch = ch->next)
		if (ch->relid == relid)
			return ch;
	return NULL;
}

/* A channel the guest may act on: offered to this connection and not rescinded. */
static struct vmbus_channel *vmbus_channel_live(struct vmbus_server *srv, uint32_t relid)
{
	struct vmbus_channel *ch = vmbus_channel_find(srv, relid);

	return ch && ch->offer_sent && !ch->rescinded ? ch : NULL;
}

/*
 * Must the offer of primary @ch wait? Linux 6.1 vmbus_onoffer() looks every primary offer up by its instance alone
 * (find_primary_channel_by_offer(), meant for re-offers after hibernation) among the channels it still lists, and a
 * rescinded channel stays listed until hv_process_channel_removal() sends RELID_RELEASED. An offer with the
 * instance of a rescinded primary the guest has not released would be taken for that old channel (WARN, the old
 * channel gets the new relid, no device appears; its later RELID_RELEASED names the new relid): it goes out once
 * the old relid is released (vmbus_on_relid_released) or with the next REQUESTOFFERS after a bus reset.
 */
static bool vmbus_offer_held(struct vmbus_server *srv, const struct vmbus_channel *ch)
{
	if (ch->sub_index)
		return false; /* a sub-channel shares its primary's instance by design (vmbus_process_offer) */
	for (const struct vmbus_channel *o = srv->channels; o; o = o->next)
		if (o != ch && !o->sub_index && o->rescinded && o->offer_sent &&
		    !memcmp(&o->cfg.instance_id, &ch->cfg.instance_id, sizeof(ch->cfg.instance_id)))
			return true;
	return false;
}

static void vmbus_send_offer(struct vmbus_server *srv, struct vmbus_channel *ch)
{
	struct vmbus_channel_offer_channel m;

	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_OFFERCHANNEL;
	m.if_type = ch->cfg.class_id;
	m.if_instance = ch->cfg.instance_id;
	m.chn_flags = ch->cfg.chn_flags;
	m.mmio_megabytes = ch->cfg.mmio_megabytes;
	if (ch->cfg.pipe_mode) {
		m.chn_flags |= VMBUS_CHANNEL_NAMED_PIPE_MODE;
		m.u.pipe.pipe_mode = VMBUS_PIPE_TYPE_MESSAGE;
		memcpy(m.u.pipe.user_def, ch->cfg.user_def, sizeof(m.u.pipe.user_def));
	} else {
		memcpy(m.u.user_def, ch->cfg.user_def, sizeof(m.u.user_def));
	}
	m.sub_channel_index = ch->sub_index;
	m.child_relid = ch->relid;
	m.monitorid = 0;
	m.monitor_allocated = 0;      /* guests signal with HvSignalEvent, never through monitor pages */
	m.is_dedicated_interrupt = 1; /* one event connection per channel */
	m.connection_id = ch->connection_id;
	vmbus_send_msg(srv, &m, sizeof(m));
	ch->offer_sent = true;
	ch->offer_held = false;
}

/* Close an open channel: VSP close, no more signals, rings unmapped. Nothing is sent to the guest. */
static void vmbus_channel_close_internal(struct vmbus_channel *ch)
{
	struct vmbus_server *srv = ch->srv;

	/* Sub-channels live as long as the primary's open, however it ends (close, teardown of its rings, release):
	 * they go first, as Linux closes them. */
	if (!ch->sub_index && ch->subchannels)
		vmbus_subchannels_rescind(ch);
	if (!ch->open)
		return;
	if (!ch->rescinded && ch->cfg.ops->close)
		ch->cfg.ops->close(ch, ch->cfg.opaque);
	if (!ch->broken)
		vmbus_loop_unwatch(srv, &ch->watch);
	hvi_connection_unregister(srv->hv, ch->connection_id);
	close(ch->event_fd);
	ch->event_fd = -1;
	vmbus_ring_unmap(srv, &ch->in);
	vmbus_ring_unmap(srv, &ch->out);
	if (ch->ring_gpadl)
		ch->ring_gpadl->ring_of = NULL;
	ch->ring_gpadl = NULL;
	ch->open = ch->opening = ch->signal_deferred = ch->broken = ch->pending_space = false;
	log_dbg("%s (relid %u) closed", ch->name, ch->relid);
}

/* ---- GPADLs ---------------------------------------------------------------------------------------------- */

static struct vmbus_gpadl *vmbus_gpadl_find(struct vmbus_server *srv, uint32_t handle)
{
	for (struct vmbus_gpadl *g = srv->gpadls; g; g = g->next)
		if (g->handle == handle)
			return g;
	return NULL;
}

static void vmbus_gpadl_free(struct vmbus_server *srv, struct vmbus_gpadl *g)
{
	for (struct vmbus_gpadl **p = &srv->gpadls; *p; p = &(*p)->next) {
		if (*p == g) {
			*p = g->next;
			break;
		}
	}
	if (g->ring_of)
		vmbus_channel_close_internal(g->ring_of);
	srv->gpadl_count--;
	srv->gpadl_pfns -= g->pfn_count;
	free(g->pfns);
	free(g);
}

static void vmbus_gpadls_free_relid(struct vmbus_server *srv, uint32_t relid)
{
	struct vmbus_gpadl *g = srv->gpadls;

	while (g) {
		struct vmbus_gpadl *next = g->next;

		if (g->relid == relid)
			vmbus_gpadl_free(srv, g);
		g = next;
	}
}

static void vmbus_send_gpadl_created(struct vmbus_server *srv, uint32_t relid, uint32_t handle, uint32_t status)
{
	struct vmbus_channel_gpadl_created m = { .header.msgtype = CHANNELMSG_GPADL_CREATED, .child_relid = relid,
						 .gpadl = handle, .creation_status = status };

	vmbus_send_msg(srv, &m, sizeof(m));
}

/* All PFNs are in: check every page is RAM, then answer. A refused GPADL is forgotten. */
static void vmbus_gpadl_complete(struct vmbus_server *srv, struct vmbus_gpadl *g)
{
	uint32_t relid = g->relid, handle = g->handle;

	for (uint32_t i = 0; i < g->pfn_count; i++) {
		if (g->pfns[i] > UINT64_MAX / VID_PAGE_SIZE ||
		    !vid_memory_ptr(srv->mem, g->pfns[i] * VID_PAGE_SIZE, VID_PAGE_SIZE)) {
			log_guest("GPADL 0x%x: page 0x%" PRIx64 " is not RAM: refused", handle, g->pfns[i]);
			vmbus_gpadl_free(srv, g);
			vmbus_send_gpadl_created(srv, relid, handle, VMBUS_STATUS_FAILURE);
			return;
		}
	}
	g->complete = true;
	vmbus_send_gpadl_created(srv, relid, handle, 0);
}

static void vmbus_on_gpadl_header(struct vmbus_server *srv, const uint8_t *msg, uint32_t size)
{
	struct vmbus_channel_gpadl_header h;
	struct gpa_range range;
	struct vmbus_gpadl *g;
	uint32_t pfns, here;
	const char *why = NULL;

	memcpy(&h, msg, sizeof(h));
	memcpy(&range, msg + sizeof(h), sizeof(range));
	/* range_buflen is a u16: at most 8190 PFNs (32 MiB) per GPADL, so no further page limit is needed */
	pfns = h.range_buflen >= sizeof(range) ? (h.range_buflen - (uint32_t)sizeof(range)) / 8 : 0;
	if (!vmbus_channel_live(srv, h.child_relid))
		why = "unknown relid";
	else if (h.rangecount != 1)
		why = "rangecount is not 1";
	else if (h.range_buflen < sizeof(range) + 8 || (h.range_buflen - sizeof(range)) % 8)
		why = "bad range_buflen";
	else if (range.byte_offset >= VID_PAGE_SIZE || range.byte_count == 0 ||
		 (uint64_t)range.byte_offset + range.byte_count > (uint64_t)pfns * VID_PAGE_SIZE)
		why = "byte_count/byte_offset do not match the pages";
	else if (vmbus_gpadl_find(srv, h.gpadl))
		why = "handle in use";
	else if (srv->gpadl_count >= VMBUS_GPADL_MAX || srv->gpadl_pfns + pfns > VMBUS_GPADL_TOTAL_PFNS)
		why = "too many GPADLs";
	if (why) {
		log_guest("GPADL_HEADER 0x%x for relid %u refused: %s", h.gpadl, h.child_relid, why);
		atomic_fetch_add(&srv->stats.messages_rejected, 1);
		vmbus_send_gpadl_created(srv, h.child_relid, h.gpadl, VMBUS_STATUS_FAILURE);
		return;
	}
	g = calloc(1, sizeof(*g));
	if (g)
		g->pfns = calloc(pfns, sizeof(uint64_t));
	if (!g || !g->pfns) {
		free(g);
		vmbus_send_gpadl_created(srv, h.child_relid, h.gpadl, VMBUS_STATUS_FAILURE);
		return;
	}
	g->handle = h.gpadl;
	g->relid = h.child_relid;
	g->byte_count = range.byte_count;
	g->byte_offset = range.byte_offset;
	g->pfn_count = pfns;
	here = (size - (uint32_t)(sizeof(h) + sizeof(range))) / 8;
	if (here > pfns)
		here = pfns;
	memcpy(g->pfns, msg + sizeof(h) + sizeof(range), (size_t)here * 8);
	g->pfn_received = here;
	g->next = srv->gpadls;
	srv->gpadls = g;
	srv->gpadl_count++;
	srv->gpadl_pfns += pfns;
	if (g->pfn_received == g->pfn_count)
		vmbus_gpadl_complete(srv, g);
}

static void vmbus_on_gpadl_body(struct vmbus_server *srv, const uint8_t *msg, uint32_t size)
{
	struct vmbus_channel_gpadl_body b;
	struct vmbus_gpadl *g;
	uint32_t n = (size - (uint32_t)sizeof(b)) / 8;

	memcpy(&b, msg, sizeof(b));
	g = vmbus_gpadl_find(srv, b.gpadl);
	if (!g || g->complete) {
		log_guest("GPADL_BODY for %s GPADL 0x%x dropped", g ? "a complete" : "an unknown", b.gpadl);
		atomic_fetch_add(&srv->stats.messages_rejected, 1);
		return;
	}
	if (n == 0 || n > g->pfn_count - g->pfn_received) {
		uint32_t relid = g->relid;

		log_guest("GPADL_BODY 0x%x: %u PFNs where %u were missing: refused", b.gpadl, n,
			  g->pfn_count - g->pfn_received);
		atomic_fetch_add(&srv->stats.messages_rejected, 1);
		vmbus_gpadl_free(srv, g);
		vmbus_send_gpadl_created(srv, relid, b.gpadl, VMBUS_STATUS_FAILURE);
		return;
	}
	memcpy(g->pfns + g->pfn_received, msg + sizeof(b), (size_t)n * 8);
	g->pfn_received += n;
	if (g->pfn_received == g->pfn_count)
		vmbus_gpadl_complete(srv, g);
}

static void vmbus_on_gpadl_teardown(struct vmbus_server *srv, const uint8_t *msg)
{
	struct vmbus_channel_gpadl_teardown t;
	struct vmbus_channel_gpadl_torndown m = { .header.msgtype = CHANNELMSG_GPADL_TORNDOWN };
	struct vmbus_gpadl *g;

	memcpy(&t, msg, sizeof(t));
	g = vmbus_gpadl_find(srv, t.gpadl);
	if (!g || g->relid != t.child_relid) {
		log_guest("GPADL_TEARDOWN of unknown GPADL 0x%x (relid %u) dropped", t.gpadl, t.child_relid);
		atomic_fetch_add(&srv->stats.messages_rejected, 1);
		return;
	}
	/* Tearing down the rings of an open channel closes it first (Linux closes before; a hostile guest may not). */
	vmbus_gpadl_free(srv, g);
	m.gpadl = t.gpadl;
	vmbus_send_msg(srv, &m, sizeof(m));
}

/* ---- open, close, modify ----------------------------------------------------------------------------------- */

static void vmbus_send_open_result(struct vmbus_server *srv, uint32_t relid, uint32_t openid, uint32_t status)
{
	struct vmbus_channel_open_result m = { .header.msgtype = CHANNELMSG_OPENCHANNEL_RESULT, .child_relid = relid,
					       .openid = openid, .status = status };

	vmbus_send_msg(srv, &m, sizeof(m));
}

/* Map both rings, register the channel's event connection, ask the VSP. 0 or -errno (everything undone). */
static int vmbus_channel_open_internal(struct vmbus_channel *ch, struct vmbus_gpadl *g, uint32_t d, uint32_t vp)
{
	struct vmbus_server *srv = ch->srv;
	int ret;

	ret = vmbus_ring_map(srv, g->pfns, d, &ch->in);
	if (!ret)
		ret = vmbus_ring_map(srv, g->pfns + d, g->pfn_count - d, &ch->out);
	if (ret)
		goto fail_rings;
	/* Start from the indices the guest initialised (Linux: 0); they must be usable. */
	ch->in.cursor = __atomic_load_n(&ch->in.hdr->read_index, __ATOMIC_ACQUIRE);
	ch->in.published = ch->in.cursor;
	ch->out.cursor = __atomic_load_n(&ch->out.hdr->write_index, __ATOMIC_ACQUIRE);
	if (ch->in.cursor >= ch->in.size || (ch->in.cursor & 7) || ch->out.cursor >= ch->out.size ||
	    (ch->out.cursor & 7)) {
		ret = -EINVAL;
		goto fail_rings;
	}
	/*
	 * The two header fields the host owns start clear: "signal me" (interrupt_mask of the incoming ring) and "I
	 * wait for room" (pending_send_sz of the outgoing ring). Linux hv_ringbuffer_init() resets only the indices
	 * and feature_bits, and vmbus_connect_ring() (uio_hv_generic) opens the same pages again after a close: a mask
	 * an earlier open left set (a channel stopped mid-notify) would keep the guest from ever signalling.
	 */
	__atomic_store_n(&ch->in.hdr->interrupt_mask, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&ch->out.hdr->pending_send_sz, 0, __ATOMIC_RELAXED);
	ch->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ch->event_fd < 0) {
		ret = -errno;
		goto fail_rings;
	}
	ret = hvi_event_connection_register(srv->hv, ch->connection_id, NULL, NULL, ch->event_fd);
	if (ret)
		goto fail_fd;
	ch->watch = (struct vmbus_watch){ .kind = VMBUS_WATCH_CHANNEL, .fd = ch->event_fd, .ch = ch };
	ret = vmbus_loop_watch(srv, &ch->watch);
	if (ret)
		goto fail_conn;
	ch->target_vp = vp;
	ch->ring_gpadl = g;
	g->ring_of = ch;
	ch->open = true;
	ch->opening = true;
	ret = ch->cfg.ops->open ? ch->cfg.ops->open(ch, ch->cfg.opaque) : 0;
	ch->opening = false;
	if (ret == 0)
		return 0;
	ch->open = false;
	ch->signal_deferred = ch->broken = ch->pending_space = false; /* a send from open may have stopped it */
	g->ring_of = NULL;
	ch->ring_gpadl = NULL;
	vmbus_loop_unwatch(srv, &ch->watch);
fail_conn:
	hvi_connection_unregister(srv->hv, ch->connection_id);
fail_fd:
	close(ch->event_fd);
	ch->event_fd = -1;
fail_rings:
	vmbus_ring_unmap(srv, &ch->in);
	vmbus_ring_unmap(srv, &ch->out);
	return ret;
}

static void vmbus_on_open(struct vmbus_server *srv, const uint8_t *msg)
{
	struct vmbus_channel_open_channel o;
	struct vmbus_channel *ch;
	struct vmbus_gpadl *g;
	const char *why = NULL;
	int ret;

	memcpy(&o, msg, sizeof(o));
	ch = vmbus_channel_live(srv, o.child_relid);
	if (!ch) {
		log_guest("OPENCHANNEL for unknown relid %u dropped", o.child_relid);
		atomic_fetch_add(&srv->stats.messages_rejected, 1);
		return;
	}
	g = vmbus_gpadl_find(srv, o.ringbuffer_gpadlhandle);
	if (ch->open)
		why = "already open";
	else if (!g || !g->complete || g->relid != ch->relid)
		why = "no such ring GPADL for this channel";
	else if (g->ring_of)
		why = "ring GPADL in use";
	else if (g->byte_offset != 0 || g->pfn_count < 4)
		why = "ring GPADL does not start at a page or is too small for two rings";
	else if (o.downstream_ringbuffer_pageoffset < 2 || o.downstream_ringbuffer_pageoffset > g->pfn_count - 2 ||
		 o.downstream_ringbuffer_pageoffset > VMBUS_RING_MAX_PAGES ||
		 g->pfn_count - o.downstream_ringbuffer_pageoffset > VMBUS_RING_MAX_PAGES)
		why = "bad downstream ring page offset";
	else if (o.target_vp >= srv->vp_count)
		why = "bad target VP";
	if (why) {
		log_guest("OPENCHANNEL of %s (relid %u) refused: %s", ch->name, ch->relid, why);
		atomic_fetch_add(&srv->stats.messages_rejected, 1);
		vmbus_send_open_result(srv, o.child_relid, o.openid, VMBUS_STATUS_FAILURE);
		return;
	}
	ret = vmbus_channel_open_internal(ch, g, o.downstream_ringbuffer_pageoffset, o.target_vp);
	if (ret) {
		log_guest("OPENCHANNEL of %s (relid %u) failed: %s", ch->name, ch->relid, strerror(-ret));
		vmbus_send_open_result(srv, o.child_relid, o.openid, VMBUS_STATUS_FAILURE);
		return;
	}
	vmbus_send_open_result(srv, o.child_relid, o.openid, 0);
	log_dbg("%s (relid %u) open: rings %u + %u bytes, events to VP %u", ch->name, ch->relid, ch->in.size,
		ch->out.size, ch->target_vp);
	if (ch->signal_deferred) {
		ch->signal_deferred = false;
		vmbus_channel_signal_guest(ch);
	}
}

static void vmbus_on_close(struct vmbus_server *srv, const uint8_t *msg)
{
	struct vmbus_channel_relid_message c;
	struct vmbus_channel *ch;

	memcpy(&c, msg, sizeof(c));
	ch = vmbus_channel_find(srv, c.child_relid);
	if (!ch || !ch->open) {
		/* Linux closes a sub-channel the host already rescinded (with its primary): normal, not logged. */
		if (!ch || !ch->rescinded)
			log_guest("CLOSECHANNEL for relid %u, which is not open: ignored", c.child_relid);
		return;
	}
	vmbus_channel_close_internal(ch);
}

static void vmbus_channel_free(struct vmbus_server *srv, struct vmbus_channel *ch)
{
	vmbus_channel_close_internal(ch);
	vmbus_gpadls_free_relid(srv, ch->relid);
	for (struct vmbus_channel **p = &srv->channels; *p; p = &(*p)->next) {
		if (*p == ch) {
			*p = ch->next;
			break;
		}
	}
	/* Rescinded sub-channels the guest has not released yet may outlive their primary: no dangling pointer (a
	 * new primary at the same address would otherwise count them as its own). */
	for (struct vmbus_channel *s = srv->channels; s; s = s->next)
		if (s->primary == ch)
			s->primary = s;
	free(ch);
}

/* Send the offers vmbus_offer_held() kept back that may go now (a rescinded primary was released). */
static void vmbus_offers_send_held(struct vmbus_server *srv)
{
	if (atomic_load(&srv->state) != VMBUS_STATE_OFFERS_SENT)
		return;
	for (struct vmbus_channel *ch = srv->channels; ch; ch = ch->next)
		if (ch->offer_held && !vmbus_offer_held(srv, ch))
			vmbus_send_offer(srv, ch);
}

static void vmbus_on_relid_released(struct vmbus_server *srv, const uint8_t *msg)
{
	struct vmbus_channel_relid_message r;
	struct vmbus_channel *ch;

	memcpy(&r, msg, sizeof(r));
	ch = vmbus_channel_find(srv, r.child_relid);
	if (!ch || !ch->offer_sent) {
		log_guest("RELID_RELEASED for unknown relid %u ignored", r.child_relid);
		atomic_fetch_add(&srv->stats.messages_rejected, 1);
		return;
	}
	if (ch->rescinded) {
		bool primary = !ch->sub_index;

		vmbus_channel_free(srv, ch); /* the relid is free for a new offer from now on */
		if (primary)
			vmbus_offers_send_held(srv);
		return;
	}
	/* The guest gave up on a live offer (it failed to set the device up): forget what it had; offer it again
	 * after the next reconnect. */
	log_info("the guest released %s (relid %u) without a rescind", ch->name, ch->relid);
	vmbus_channel_close_internal(ch);
	vmbus_gpadls_free_relid(srv, ch->relid);
	ch->offer_sent = false;
}

static void vmbus_on_modify(struct vmbus_server *srv, const uint8_t *msg)
{
	struct vmbus_channel_modifychannel m;
	struct vmbus_channel_modifychannel_response r = { .header.msgtype = CHANNELMSG_MODIFYCHANNEL_RESPONSE };
	struct vmbus_channel *ch;

	memcpy(&m, msg, sizeof(m));
	ch = vmbus_channel_live(srv, m.child_relid);
	r.child_relid = m.child_relid;
	if (!ch || m.target_vp >= srv->vp_count) {
		log_guest("MODIFYCHANNEL relid %u to VP %u refused", m.child_relid, m.target_vp);
		atomic_fetch_add(&srv->stats.messages_rejected, 1);
		r.status = VMBUS_STATUS_FAILURE;
	} else {
		ch->target_vp = m.target_vp;
	}
	/* Only 5.3 guests wait for an answer (Linux vmbus_send_modifychannel); older ones would log it as unexpected. */
	if (atomic_load(&srv->version) >= VERSION_WIN10_V5_3)
		vmbus_send_msg(srv, &r, sizeof(r));
}

/* ---- connection ------------------------------------------------------------------------------------------- */

/* Forget everything of the current connection (see the top of this file). */
static void vmbus_bus_reset(struct vmbus_server *srv)
{
	struct vmbus_channel *ch = srv->channels;

	/* First drop what belongs to the old connection only: sub-channels (the new guest asks again) and rescinded
	 * channels; then close the primaries, which then have no sub-channels left to withdraw (nothing is sent). */
	while (ch) {
		struct vmbus_channel *next = ch->next;

		if (ch->rescinded || ch->sub_index)
			vmbus_channel_free(srv, ch);
		ch = next;
	}
	for (ch = srv->channels; ch; ch = ch->next) {
		ch->subchannels = 0;
		vmbus_channel_close_internal(ch);
		ch->offer_sent = ch->offer_held = false;
	}
	while (srv->gpadls)
		vmbus_gpadl_free(srv, srv->gpadls);
	vmbus_backlog_drop(srv);
	atomic_store(&srv->version, 0);
	vmbus_state_set(srv, VMBUS_STATE_DISCONNECTED);
	atomic_fetch_add(&srv->stats.resets, 1);
}

static bool vmbus_version_known(uint32_t v)
{
	for (size_t i = 0; i < sizeof(vmbus_versions) / sizeof(vmbus_versions[0]); i++)
		if (vmbus_versions[i] == v)
			return true;
	return false;
}

static void vmbus_on_initiate_contact(struct vmbus_server *srv, const struct vmbus_qmsg *q)
{
	struct vmbus_channel_initiate_contact c;
	struct vmbus_channel_version_response r = { .header.msgtype = CHANNELMSG_VERSION_RESPONSE };
	uint32_t v;

	memcpy(&c, q->data, sizeof(c));
	v = c.vmbus_version_requested;
	/* Every INITIATE_CONTACT is a full bus reset: kexec and kdump kernels reconnect without UNLOAD. */
	vmbus_bus_reset(srv);
	srv->target_vp = c.target_vcpu < srv->vp_count ? c.target_vcpu : q->vp;
	srv->msg_sint = VMBUS_MESSAGE_SINT;
	if (v >= VERSION_WIN10_V5 && c.u.s.msg_sint < HV_SYNIC_SINT_COUNT)
		srv->msg_sint = c.u.s.msg_sint;
	if (vmbus_version_known(v) && v <= srv->max_version) {
		r.version_supported = 1;
		r.msg_conn_id = VMBUS_MESSAGE_CONNECTION_ID;
		atomic_store(&srv->version, v);
		vmbus_state_set(srv, VMBUS_STATE_CONNECTED);
		log_info("guest connected: VMBus %u.%u, messages to VP %u SINT %u", v >> 16, v & 0xffff,
			 srv->target_vp, srv->msg_sint);
	} else {
		log_dbg("VMBus version %u.%u refused", v >> 16, v & 0xffff);
	}
	vmbus_send_msg(srv, &r, sizeof(r));
}

static void vmbus_on_request_offers(struct vmbus_server *srv)
{
	struct vmbus_channel_message_header done = { .msgtype = CHANNELMSG_ALLOFFERS_DELIVERED };

	for (struct vmbus_channel *ch = srv->channels; ch; ch = ch->next)
		if (!ch->offer_sent && !ch->rescinded) {
			if (vmbus_offer_held(srv, ch))
				ch->offer_held = true;
			else
				vmbus_send_offer(srv, ch);
		}
	vmbus_send_msg(srv, &done, sizeof(done));
	vmbus_state_set(srv, VMBUS_STATE_OFFERS_SENT);
}

static void vmbus_on_unload(struct vmbus_server *srv)
{
	struct vmbus_channel_message_header r = { .msgtype = CHANNELMSG_UNLOAD_RESPONSE };

	/* After the reset no channel is open and no GPADL is known: no more access to guest memory. */
	vmbus_bus_reset(srv);
	log_info("guest unloaded VMBus");
	vmbus_send_msg(srv, &r, sizeof(r));
}

void vmbus_msg_dispatch(struct vmbus_server *srv, const struct vmbus_qmsg *q)
{
	struct vmbus_channel_message_header h;
	enum vmbus_connection_state state = atomic_load(&srv->state);

	atomic_fetch_add(&srv->stats.messages_in, 1);
	if (q->size < sizeof(h)) {
		log_guest("channel message of %u bytes dropped", q->size);
		goto reject;
	}
	memcpy(&h, q->data, sizeof(h));
	if (h.msgtype >= CHANNELMSG_COUNT || !vmbus_min_size[h.msgtype]) {
		log_guest("unknown channel message type %u dropped", h.msgtype);
		goto reject;
	}
	if (q->size < vmbus_min_size[h.msgtype]) {
		log_guest("%s of %u bytes (at least %u expected) dropped", vmbus_msg_names[h.msgtype], q->size,
			  vmbus_min_size[h.msgtype]);
		goto reject;
	}
	if (state == VMBUS_STATE_DISCONNECTED && h.msgtype != CHANNELMSG_INITIATE_CONTACT &&
	    h.msgtype != CHANNELMSG_UNLOAD) {
		log_guest("%s before INITIATE_CONTACT dropped", vmbus_msg_names[h.msgtype]);
		goto reject;
	}
	switch (h.msgtype) {
	case CHANNELMSG_INITIATE_CONTACT: vmbus_on_initiate_contact(srv, q); break;
	case CHANNELMSG_REQUESTOFFERS: vmbus_on_request_offers(srv); break;
	case CHANNELMSG_GPADL_HEADER: vmbus_on_gpadl_header(srv, q->data, q->size); break;
	case CHANNELMSG_GPADL_BODY: vmbus_on_gpadl_body(srv, q->data, q->size); break;
	case CHANNELMSG_GPADL_TEARDOWN: vmbus_on_gpadl_teardown(srv, q->data); break;
	case CHANNELMSG_OPENCHANNEL: vmbus_on_open(srv, q->data); break;
	case CHANNELMSG_CLOSECHANNEL: vmbus_on_close(srv, q->data); break;
	case CHANNELMSG_RELID_RELEASED: vmbus_on_relid_released(srv, q->data); break;
	case CHANNELMSG_MODIFYCHANNEL: vmbus_on_modify(srv, q->data); break;
	case CHANNELMSG_UNLOAD: vmbus_on_unload(srv); break;
	case CHANNELMSG_TL_CONNECT_REQUEST:
		log_guest("TL_CONNECT_REQUEST (hv_sock) not supported yet: ignored");
		break;
	default:
		goto reject;
	}
	return;
reject:
	atomic_fetch_add(&srv->stats.messages_rejected, 1);
}

/* ---- guest signals ------------------------------------------------------------------------------------------ */

/*
 * The channel's eventfd fired. Mask guest -> host interrupts while the VSP drains, then unmask and look again:
 * a packet written after the VSP's last read but before the unmask did not signal (guest-core.md 5.7).
 * Before unmasking, keep watching the empty ring for VMBUS_POLL_NS (unless the VSP opted out with
 * vmbus_channel_set_poll): a guest that streams packets then finds the host still masked and does not signal (no
 * HvSignalEvent, no eventfd round trip per packet). The cost is that much host CPU after each burst.
 */
static bool vmbus_ring_poll_briefly(const struct vmbus_ring *r)
{
	uint64_t start = vmbus_now_ns();

	do {
		for (int i = 0; i < 64; i++) {
			if (!vmbus_ring_in_empty(r))
				return true;
			__builtin_ia32_pause();
		}
	} while (vmbus_now_ns() - start < VMBUS_POLL_NS);
	return false;
}

void vmbus_channel_event(struct vmbus_channel *ch)
{
	struct vmbus_server *srv = ch->srv;
	uint64_t count;
	unsigned rounds = 0;

	if (read(ch->event_fd, &count, sizeof(count)) < 0)
		return;
	atomic_fetch_add(&srv->stats.guest_signals, 1);
	if (!ch->open || ch->rescinded)
		return;
	for (;;) {
		bool more;

		__atomic_store_n(&ch->in.hdr->interrupt_mask, 1, __ATOMIC_RELAXED);
		more = ch->cfg.ops->notify ? ch->cfg.ops->notify(ch, ch->cfg.opaque) : true;
		if (!ch->open || ch->broken)
			return;
		vmbus_ring_in_publish(ch);
		/* Watch the ring only while this round's budget lasts: spent, recv gives -EAGAIN at once. */
		if (more && ch->recv_budget && !ch->no_poll && vmbus_ring_poll_briefly(&ch->in) &&
		    ++rounds < VMBUS_NOTIFY_ROUNDS)
			continue;
		__atomic_store_n(&ch->in.hdr->interrupt_mask, 0, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!more || !ch->recv_budget || vmbus_ring_in_empty(&ch->in))
			return;
		if (++rounds >= VMBUS_NOTIFY_ROUNDS) {
			uint64_t one = 1;

			/* Busy channel: come back after the other work of this round. */
			if (write(ch->event_fd, &one, sizeof(one)) < 0)
				log_warn("%s: eventfd: %s", ch->name, strerror(errno));
			return;
		}
	}
}

/* ---- the VSP API ----------------------------------------------------------------------------------------- */

/* A new channel with the lowest free relid (the list stays sorted by relid); not offered yet. */
static int vmbus_channel_alloc(struct vmbus_server *srv, const struct vmbus_offer_config *cfg,
			       struct vmbus_channel **out)
{
	struct vmbus_channel *ch, **pos;
	uint32_t relid = 1;

	for (pos = &srv->channels; *pos && (*pos)->relid == relid; pos = &(*pos)->next)
		relid++;
	if (relid > VMBUS_MAX_RELID)
		return -ENOSPC;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->srv = srv;
	ch->relid = relid;
	ch->connection_id = VMBUS_CHANNEL_CONNECTION_BASE + relid;
	ch->cfg = *cfg;
	snprintf(ch->name, sizeof(ch->name), "%s", cfg->name ? cfg->name : "vmbus-device");
	ch->cfg.name = ch->name;
	ch->event_fd = -1;
	ch->primary = ch;
	ch->recv_budget = VMBUS_RECV_BUDGET;
	ch->next = *pos;
	*pos = ch;
	*out = ch;
	return 0;
}

int vmbus_device_offer(struct vmbus_server *srv, const struct vmbus_offer_config *cfg, struct vmbus_channel **out)
{
	struct vmbus_channel *ch;
	int ret;

	if (!srv || !cfg || !cfg->ops || !out)
		return -EINVAL;
	for (ch = srv->channels; ch; ch = ch->next)
		if (!ch->rescinded && !ch->sub_index &&
		    !memcmp(&ch->cfg.instance_id, &cfg->instance_id, sizeof(cfg->instance_id)))
			return -EEXIST;
	ret = vmbus_channel_alloc(srv, cfg, &ch);
	if (ret)
		return ret;
	if (atomic_load(&srv->state) == VMBUS_STATE_OFFERS_SENT) {
		if (vmbus_offer_held(srv, ch))
			ch->offer_held = true;
		else
			vmbus_send_offer(srv, ch);
	}
	*out = ch;
	return 0;
}

int vmbus_channel_offer_subchannels(struct vmbus_channel *primary, unsigned count, struct vmbus_channel **out)
{
	struct vmbus_server *srv;
	unsigned i;

	if (!primary || primary->sub_index || !primary->open || primary->rescinded || primary->subchannels ||
	    count == 0 || count > VMBUS_MAX_SUBCHANNELS)
		return -EINVAL;
	srv = primary->srv;
	/* Sub-channels of an earlier open the guest has not released yet: wait for them (a guest that never
	 * releases them would otherwise use up the relids). */
	for (struct vmbus_channel *ch = srv->channels; ch; ch = ch->next)
		if (ch->sub_index && ch->primary == primary)
			return -EBUSY;
	for (i = 0; i < count; i++) {
		struct vmbus_channel *ch;
		char name[sizeof(ch->name)];
		int ret = vmbus_channel_alloc(srv, &primary->cfg, &ch);

		if (ret) {
			log_warn("%s: %u of %u sub-channels offered: %s", primary->name, i, count, strerror(-ret));
			if (!i)
				return ret;
			break;
		}
		snprintf(name, sizeof(name), "%.24s/%u", primary->name, i + 1);
		memcpy(ch->name, name, sizeof(ch->name));
		ch->sub_index = (uint16_t)(i + 1);
		ch->primary = primary;
		vmbus_send_offer(srv, ch);
		if (out)
			out[i] = ch;
	}
	primary->subchannels = i;
	return 0;
}

/* Withdraw the sub-channels of @primary (it closes or goes away). */
static void vmbus_subchannels_rescind(struct vmbus_channel *primary)
{
	struct vmbus_channel *ch = primary->srv->channels;

	while (ch) {
		struct vmbus_channel *next = ch->next;

		if (ch->sub_index && ch->primary == primary && !ch->rescinded)
			vmbus_channel_rescind(ch);
		ch = next;
	}
	primary->subchannels = 0;
}

uint16_t vmbus_channel_subchannel_index(const struct vmbus_channel *ch) { return ch->sub_index; }
struct vmbus_channel *vmbus_channel_primary(struct vmbus_channel *ch) { return ch->primary; }
void vmbus_channel_set_context(struct vmbus_channel *ch, void *context) { ch->context = context; }
void vmbus_channel_set_poll(struct vmbus_channel *ch, bool poll) { ch->no_poll = !poll; }
void *vmbus_channel_context(const struct vmbus_channel *ch) { return ch->context; }

void vmbus_channel_rescind(struct vmbus_channel *ch)
{
	struct vmbus_server *srv;

	if (!ch)
		return;
	srv = ch->srv;
	if (!ch->sub_index && ch->subchannels)
		vmbus_subchannels_rescind(ch);
	vmbus_channel_close_internal(ch);
	if (!ch->offer_sent) {
		vmbus_channel_free(srv, ch);
		return;
	}
	ch->rescinded = true; /* callbacks are not called any more; freed on RELID_RELEASED or a bus reset */
	vmbus_send_relid_msg(srv, CHANNELMSG_RESCIND_CHANNELOFFER, ch->relid);
}

uint32_t vmbus_channel_relid(const struct vmbus_channel *ch) { return ch->relid; }
const char *vmbus_channel_name(const struct vmbus_channel *ch) { return ch->name; }
bool vmbus_channel_is_open(const struct vmbus_channel *ch) { return ch->open && !ch->broken; }
uint32_t vmbus_channel_target_vp(const struct vmbus_channel *ch) { return ch->target_vp; }
uint32_t vmbus_channel_version(const struct vmbus_channel *ch) { return atomic_load(&ch->srv->version); }
struct vid_memory *vmbus_channel_memory(const struct vmbus_channel *ch) { return ch->srv->mem; }

void vmbus_channels_budget_reset(struct vmbus_server *srv)
{
	for (struct vmbus_channel *ch = srv->channels; ch; ch = ch->next) {
		ch->recv_budget = VMBUS_RECV_BUDGET;
		ch->budget_kicked = false;
	}
}

void vmbus_channels_free_all(struct vmbus_server *srv)
{
	while (srv->channels)
		vmbus_channel_free(srv, srv->channels);
	while (srv->gpadls)
		vmbus_gpadl_free(srv, srv->gpadls);
	vmbus_backlog_drop(srv);
}

/* ---- create / destroy ---------------------------------------------------------------------------------------- */

int vmbus_server_create(const struct vmbus_server_config *cfg, struct vmbus_server **out)
{
	struct vmbus_server *srv;
	int ret;

	if (!cfg || !cfg->hv || !cfg->mem || !cfg->vp_count || !out)
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->hv = cfg->hv;
	srv->mem = cfg->mem;
	srv->vp_count = cfg->vp_count;
	srv->max_version = cfg->max_version ? cfg->max_version : VERSION_WIN10_V5_3;
	srv->msg_sint = VMBUS_MESSAGE_SINT;
	srv->epoll_fd = srv->wake_fd = -1;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->call_done, NULL);
	ret = vmbus_loop_init(srv);
	if (ret)
		goto fail;
	ret = hvi_message_connection_register(srv->hv, VMBUS_MESSAGE_CONNECTION_ID, vmbus_message_handler, srv);
	if (ret)
		goto fail;
	ret = hvi_message_connection_register(srv->hv, VMBUS_MESSAGE_CONNECTION_ID_4, vmbus_message_handler, srv);
	if (ret) {
		hvi_connection_unregister(srv->hv, VMBUS_MESSAGE_CONNECTION_ID);
		goto fail;
	}
	srv->messages_registered = true;
	*out = srv;
	return 0;
fail:
	vmbus_loop_fini(srv);
	pthread_cond_destroy(&srv->call_done);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
	return ret;
}

void vmbus_server_destroy(struct vmbus_server *srv)
{
	if (!srv)
		return;
	/* No new messages (this waits for handlers running on VP threads), then no loop. */
	if (srv->messages_registered) {
		hvi_connection_unregister(srv->hv, VMBUS_MESSAGE_CONNECTION_ID_4);
		hvi_connection_unregister(srv->hv, VMBUS_MESSAGE_CONNECTION_ID);
	}
	vmbus_loop_stop(srv);
	vmbus_channels_free_all(srv);
	vmbus_loop_fini(srv);
	pthread_cond_destroy(&srv->call_done);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}
