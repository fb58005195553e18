/* SPDX-License-Identifier: MIT */
/*
 * guest/vsc/vsc_ic.h - the guest end of the integration components (shutdown, time sync, heartbeat, KVP), built on
 * vsc.h: it answers the host the way Linux 6.1 hv_utils does (drivers/hv/hv_util.c, hv_kvp.c with hv_kvp_daemon;
 * facts in shared/reference/guest-devices.md section 3):
 *   - every message shorter than ICMSG_HDR is dropped without an answer;
 *   - NEGOTIATE: walk the client's own preference lists (framework, then message versions) and take the first entry
 *     the host offers; answer in place with counts 1/1 and the choices, or 0/0 (and icmsgsize 0x10), the version
 *     slots then holding what Linux leaves there ({framework count, 0} or the chosen framework, {message count, 0});
 *   - shutdown: needs the full 2060-byte body (else no answer); flags 0-3 -> HV_S_OK (recorded), others HV_E_FAIL;
 *   - time sync: records the sample (ictimesync_ref_data above message version 3.0, else ictimesync_data);
 *   - heartbeat: seq_num + 1;
 *   - KVP: SET stores the item, ENUMERATE of pool 2 returns the items the caller configured (HV_S_CONT past the
 *     end), DELETE answers HV_S_OK, anything else HV_E_FAIL;
 *   - a message of another type: HV_E_FAIL (KVP: no answer, as hv_kvp.c).
 * The answer is the received payload rewritten in place (icflags TRANSACTION | RESPONSE), sent back as INBAND with
 * the same length and trans_id, flags 0.
 *
 * Freestanding like vsc.c (memcpy/memset/memcmp only), not thread-safe. Prefix vsc_ic_.
 */
#ifndef OPENHV_GUEST_VSC_IC_H
#define OPENHV_GUEST_VSC_IC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../include/openhv/vmbus_ic.h"
#include "vsc.h"

enum vsc_ic_service { VSC_IC_SHUTDOWN = 0, VSC_IC_TIMESYNC, VSC_IC_HEARTBEAT, VSC_IC_KVP, VSC_IC_SERVICE_COUNT };

#define VSC_IC_MAX_VERSIONS 4u
#define VSC_IC_RING_BYTES   16384u /* each way, header page included (Linux HV_UTIL_RING_SEND/RECV_SIZE) */
#define VSC_IC_BUF_BYTES    16384u /* receive buffer: whole packet (Linux KVP reads 16 KiB, the others 4 KiB) */
#define VSC_IC_KVP_ITEMS    16u
#define VSC_IC_KVP_KEY      128u   /* bytes, NUL included (ASCII; other characters are stored as '?') */
#define VSC_IC_KVP_VALUE    256u

struct vsc_ic_kvp_item {
	char key[VSC_IC_KVP_KEY];
	char value[VSC_IC_KVP_VALUE];
};

struct vsc_ic {
	struct vsc_channel ch;
	enum vsc_ic_service service;
	/* Preference lists, best first, IC_MAKE_VERSION form: Linux's after vsc_ic_init; a test may change them
	 * before vsc_ic_open (e.g. offer only old versions). */
	uint32_t fw_versions[VSC_IC_MAX_VERSIONS];
	unsigned fw_count;
	uint32_t msg_versions[VSC_IC_MAX_VERSIONS];
	unsigned msg_count;
	/* Behaviour. */
	bool silent;                 /* leave the channel unread (KVP without hv_kvp_daemon): poll/wait return 0 */
	/* Negotiation results. */
	unsigned negotiations;       /* NEGOTIATE messages answered */
	bool negotiated;             /* the last one found a common version */
	uint32_t fw_version;         /* chosen (0: none) */
	uint32_t msg_version;
	/* Counters. */
	unsigned answered;           /* answers sent */
	unsigned dropped;            /* messages dropped without an answer (too short) */
	unsigned unknown;            /* messages of another type (answered HV_E_FAIL) */
	/* Shutdown. */
	unsigned shutdowns;          /* requests answered HV_S_OK */
	uint32_t shutdown_flags;     /* flags of the last request */
	uint32_t shutdown_status;    /* status of the last answer */
	/* Heartbeat. */
	unsigned heartbeats;
	uint64_t heartbeat_seq;      /* seq_num of the last request (the answer carries + 1) */
	/* Time sync. */
	unsigned ts_count, ts_syncs, ts_samples;
	bool ts_ref_format;          /* the last sample was ictimesync_ref_data (message version 4.0) */
	uint64_t ts_parenttime;      /* 100 ns since 1601-01-01 */
	uint64_t ts_vmreferencetime; /* ref format only */
	uint64_t ts_childtime;       /* old format only */
	uint8_t ts_flags;
	/* KVP. */
	unsigned kvp_requests;
	uint8_t kvp_last_op, kvp_last_pool;
	uint32_t kvp_last_index;
	struct vsc_ic_kvp_item kvp_set[VSC_IC_KVP_ITEMS]; /* items the host SET (any pool), newest value per key */
	unsigned kvp_set_count;
	const struct vsc_ic_kvp_item *kvp_auto;           /* what ENUMERATE of pool 2 returns (caller's array) */
	unsigned kvp_auto_count;
	/* Receive buffer. */
	uint8_t buf[VSC_IC_BUF_BYTES];
};

/* The class GUID (if_type) of @service. */
const struct vmbus_guid *vsc_ic_class(enum vsc_ic_service service);

/* Zero @ic and load Linux 6.1's preference lists for @service (framework 3.0, 1.0; messages per 3.3). */
void vsc_ic_init(struct vsc_ic *ic, enum vsc_ic_service service);

/*
 * Open the first live offer of the service's class on @bus with 16 KiB rings each way (as hv_utils). The offers
 * must have been requested (vsc_bus_request_offers). 0; -VSC_ENOENT (no offer); the errors of vsc_channel_open.
 */
int vsc_ic_open(struct vsc_bus *bus, struct vsc_ic *ic);

/* Close the channel (vsc_channel_close). */
int vsc_ic_close(struct vsc_ic *ic);

/*
 * Process one message of @len bytes (the packet payload) in place, as hv_utils would. Returns true if an answer
 * is due (@msg rewritten: send back @len bytes), false if the message is dropped without one.
 */
bool vsc_ic_answer(struct vsc_ic *ic, uint8_t *msg, uint32_t len);

/* Send @len bytes of @msg as the answer to @trans_id (INBAND, flags 0, as vmbus_sendpacket does). */
int vsc_ic_reply(struct vsc_ic *ic, uint64_t trans_id, const void *msg, uint32_t len);

/* Answer every message waiting now. Returns how many were handled, or a negative VSC error. Silent: 0. */
int vsc_ic_poll(struct vsc_ic *ic);

/*
 * Wait (pumping) up to @timeout_ms (0: VSC_WAIT_MS) for one message and answer it. 1, -VSC_ETIMEDOUT, or another
 * negative VSC error. Silent: 0 at once.
 */
int vsc_ic_wait(struct vsc_ic *ic, uint32_t timeout_ms);

/* The value the host SET for @key (NUL-terminated ASCII), or NULL. */
const char *vsc_ic_kvp_get(const struct vsc_ic *ic, const char *key);

#endif /* OPENHV_GUEST_VSC_IC_H */
