/* SPDX-License-Identifier: MIT */
/*
 * vsp/ic/internal.h - what the IC files share: one channel of one service (framing, negotiation, the trans_id
 * window) in ic.c, the services in ic_util.c (shutdown, heartbeat, time sync) and ic_kvp.c.
 *
 * Locking: everything runs on the VMBus I/O thread except the "any thread" API of ic.h. Fields that API reads
 * (states, versions, counters, the heartbeat record, the KVP tables) are written under vsp_ic.lock; the I/O thread
 * reads its own fields without it. Callbacks into the VMM (shutdown_reply, heartbeat_change) run without the lock.
 */
#ifndef OPENHV_VSP_IC_INTERNAL_H
#define OPENHV_VSP_IC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openhv/vmbus_ic.h"
#include "vmbus/vmbus.h"
#include "vsp/ic/ic.h"

struct ic_chan;
struct ic_kvp;

#define IC_MAX_MSG_VERSIONS 4u

/* A validated answer of the service's own message type. @body points into the channel's receive buffer. */
struct ic_reply {
	uint64_t trans_id;
	uint32_t status;      /* icmsg_hdr.status (HRESULT) */
	const uint8_t *body;  /* icmsgsize bytes, bounds-checked against the packet */
	uint32_t body_len;
};

/* A service: identity plus the hooks ic.c calls on the I/O thread. */
struct ic_service_ops {
	const char *name;
	struct vmbus_guid class_id;
	struct vmbus_guid instance_id;
	uint16_t msgtype;            /* ICMSGTYPE_* of its requests and answers */
	uint32_t max_packet_bytes;   /* host -> guest, the guest's max_pkt_size */
	uint32_t rx_bytes;           /* receive buffer: guest -> host packets up to this size */
	uint32_t tx_body_bytes;      /* largest request body the service sends */
	void (*ready)(struct ic_chan *c);                              /* negotiation succeeded */
	/* An answer that passed the framing checks: true if the service accepted it (counted as a reply, its
	 * trans_id acknowledged), false if its body was bad (counted as dropped; the service logged why). */
	bool (*reply)(struct ic_chan *c, const struct ic_reply *r);
	void (*closed)(struct ic_chan *c);                             /* channel closed (or instance destroyed) */
	void (*writable)(struct ic_chan *c);                           /* after a notify drained the ring */
};

struct ic_chan {
	struct vsp_ic *ic;
	enum vsp_ic_service svc;
	const struct ic_service_ops *ops;
	struct vmbus_channel *ch;      /* NULL: not offered */
	enum vsp_ic_state state;       /* written under ic->lock */
	uint32_t fw_version;           /* negotiated (IC_MAKE_VERSION), under ic->lock */
	uint32_t msg_version;
	uint32_t offered[IC_MAX_MSG_VERSIONS]; /* message versions offered, best first */
	unsigned offered_count;
	uint64_t next_tid;             /* packet trans_ids: 1, 2, ... never reused, even across opens */
	uint64_t last_sent;            /* answers are valid for last_acked < trans_id <= last_sent */
	uint64_t last_acked;
	struct vmbus_timer timer;      /* the service's one timer */
	uint64_t sent, replies, dropped, timeouts; /* under ic->lock */
	uint8_t *rx;
	uint8_t *tx;                   /* ICMSG_HDR + the largest body this service sends */
	uint32_t tx_cap;
};

struct vsp_ic {
	struct vsp_ic_config cfg;
	pthread_mutex_t lock;
	struct ic_chan chan[VSP_IC_SERVICE_COUNT];
	/* shutdown */
	uint32_t sd_last_status;
	/* heartbeat (under lock: hb_*) */
	bool hb_alive;
	uint64_t hb_replies;
	uint64_t hb_last_seq;
	uint64_t hb_last_reply_ns;     /* CLOCK_MONOTONIC; 0 = never */
	uint64_t hb_first_tid;         /* trans_id of the first heartbeat of this open */
	/* time sync */
	bool ts_sync_pending;
	uint64_t ts_syncs, ts_samples;
	/* KVP */
	struct ic_kvp *kvp;
};

extern const struct ic_service_ops ic_shutdown_ops;
extern const struct ic_service_ops ic_timesync_ops;
extern const struct ic_service_ops ic_heartbeat_ops;
extern const struct ic_service_ops ic_kvp_ops;

/* CLOCK_MONOTONIC in ns / host UTC in 100 ns units since 1601-01-01. */
uint64_t ic_now_ns(void);
uint64_t ic_utc_filetime(void);

/*
 * Send one request of the service's type: pipe header, icmsg_hdr (negotiated versions, TRANSACTION | REQUEST,
 * ictransaction_id = low byte of the trans_id), then @len bytes of @body. *@tid gets the packet trans_id (may be
 * NULL). 0, or the -errno of vmbus_channel_send_inband (-EAGAIN ring full, -EPIPE closed), -EMSGSIZE (> tx_cap).
 */
int ic_chan_send(struct ic_chan *c, const void *body, uint32_t len, uint64_t *tid);

/* Abandon every request sent so far: their answers will be dropped as stale. */
void ic_chan_abandon(struct ic_chan *c);

/* Count a dropped answer and log why (rate-limited, printf format). Returns false, for the reply hooks. */
bool ic_chan_drop(struct ic_chan *c, uint64_t trans_id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The state of @c (I/O thread) and whether its service runs. */
static inline bool ic_chan_ready(const struct ic_chan *c)
{
	return c->ch && c->state == VSP_IC_STATE_READY;
}

void ic_lock(struct vsp_ic *ic);
void ic_unlock(struct vsp_ic *ic);

/* Shutdown (ic_util.c), I/O thread: send a request with shutdown_msg_data.flags @flags. 0, -ENOTCONN, -EAGAIN. */
int ic_shutdown_request(struct vsp_ic *ic, uint32_t flags);

/* KVP (ic_kvp.c): allocation with the instance, the any-thread entry points, and the snapshot. */
int ic_kvp_create(struct vsp_ic *ic);
void ic_kvp_destroy(struct vsp_ic *ic);
void ic_kvp_kick(struct vsp_ic *ic);  /* I/O thread: start the next transaction if the channel is idle */
int ic_kvp_host_set(struct vsp_ic *ic, const char *key, const char *value); /* under no lock; takes ic->lock */
int ic_kvp_guest_get(struct vsp_ic *ic, const char *key, char *value, size_t cap);
int ic_kvp_guest_item(struct vsp_ic *ic, unsigned index, char *key, size_t kcap, char *value, size_t vcap);
void ic_kvp_stats(struct vsp_ic *ic, struct vsp_ic_stats *out); /* caller holds ic->lock */

/* UTF-8 <-> UTF-16LE (ic_kvp.c). */
/* Encode NUL-terminated @s into @out (@max_units units, room for the NUL included). Returns the units written
 * without the NUL, or -EINVAL (invalid UTF-8: overlong, surrogate, > U+10FFFF, truncated) / -ENAMETOOLONG. */
int ic_utf8_to_utf16le(const char *s, uint8_t *out, size_t max_units);
/* Decode up to @units units of @in (stops at a NUL) into @out (@cap >= 1 bytes, always NUL-terminated; a
 * character that does not fit ends the string). Unpaired surrogates become U+FFFD. Returns the bytes written. */
size_t ic_utf16le_to_utf8(const uint8_t *in, size_t units, char *out, size_t cap);

#endif /* OPENHV_VSP_IC_INTERNAL_H */
