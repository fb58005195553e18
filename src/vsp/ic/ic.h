/* SPDX-License-Identifier: MIT */
/*
 * vsp/ic/ic.h - the integration-component VSPs (host side): shutdown, time sync, heartbeat and KVP (data exchange),
 * the services Hyper-V offers every VM and Linux 6.1 serves with hv_utils (drivers/hv/hv_util.c, hv_kvp.c).
 * Protocol facts: shared/reference/guest-devices.md section 3; wire formats: include/openhv/vmbus_ic.h.
 *
 * The host initiates everything. When the guest opens a channel the VSP sends NEGOTIATE (framework 3.0 and 1.0,
 * the message versions of guest-devices.md 3.3), validates the answer and keeps the chosen versions; a service
 * whose negotiation fails, or that never answers (KVP without hv_kvp_daemon), is simply not used. Then:
 *   shutdown   on request (vsp_ic_shutdown): flags 0 poweroff, 1 forced poweroff, 2 reboot, 3 forced reboot; the
 *              guest's HRESULT goes to cfg.shutdown_reply. One request at a time: Linux reads one shutdown message
 *              per interrupt, so a second one queued behind an unread first would never be read.
 *   heartbeat  every heartbeat_period_ms a sequence number; the answer must carry it + 1. Alive = an answer within
 *              the last 3 periods; cfg.heartbeat_change on each transition.
 *   timesync   one SYNC right after negotiation, then a SAMPLE every timesync_period_ms: message version 4.0
 *              (ictimesync_ref_data: host UTC + the guest's reference time) or 3.0/1.0 (ictimesync_data).
 *   KVP        one transaction at a time, each with a timeout: host items (pool 0, KVP_POOL_EXTERNAL) are SET in
 *              the guest; then the guest's auto pool (pool 2) is enumerated into a table, again every
 *              VSP_IC_KVP_REFRESH_MS.
 *
 * Channels are offered in pipe mode (VMBUS_PIPE_TYPE_MESSAGE), as Hyper-V offers its ICs; Linux does not look at the
 * mode and expects the 8-byte vmbuspipe_hdr in front of every message either way. max_packet_bytes: 4096 (KVP
 * 16384), what hv_utils accepts (guest-devices.md 0.1).
 *
 * Hostile guest: every answer is copied out of the ring by the server, then bounds-checked here (packet type,
 * length, headers, icmsgsize, the trans_id window, echoed message type, counts); a bad one is dropped with a
 * rate-limited log and counted in vsp_ic_stats().dropped, never trusted.
 *
 * Threads: the VSP runs on the VMBus server's I/O thread (vmbus/vmbus.h). The functions marked "any thread" reach it
 * through vmbus_server_call() (which calls directly when already on the I/O thread) or read snapshots under the
 * instance's mutex. Prefix vsp_ic_.
 */
#ifndef OPENHV_VSP_IC_H
#define OPENHV_VSP_IC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openhv/vmbus.h"
#include "openhv/vmbus_ic.h"

struct vmbus_server;

/*
 * Instance GUIDs (the guest's /sys/bus/vmbus/devices/<instance> names), fixed. Shutdown, time sync and KVP use the
 * values Hyper-V and OpenVMM use (guest-devices.md 3.1, appendix A); heartbeat has no documented value: OpenHV's own.
 */
#define VSP_IC_SHUTDOWN_INSTANCE_STR  "b6650ff7-33bc-4840-8048-e0676786f393"
#define VSP_IC_TIMESYNC_INSTANCE_STR  "2dd1ce17-079e-403c-b352-a1921ee207ee"
#define VSP_IC_HEARTBEAT_INSTANCE_STR "6e1e3c9b-5a53-4d0b-9f4e-0d2a6b7c8e31"
#define VSP_IC_KVP_INSTANCE_STR       "242ff919-07db-4180-9c2e-b86cb68c8c55"
#define VSP_IC_SHUTDOWN_INSTANCE                                                                                       \
	VMBUS_GUID_INIT(0xb6650ff7, 0x33bc, 0x4840, 0x80, 0x48, 0xe0, 0x67, 0x67, 0x86, 0xf3, 0x93)
#define VSP_IC_TIMESYNC_INSTANCE                                                                                       \
	VMBUS_GUID_INIT(0x2dd1ce17, 0x079e, 0x403c, 0xb3, 0x52, 0xa1, 0x92, 0x1e, 0xe2, 0x07, 0xee)
#define VSP_IC_HEARTBEAT_INSTANCE                                                                                      \
	VMBUS_GUID_INIT(0x6e1e3c9b, 0x5a53, 0x4d0b, 0x9f, 0x4e, 0x0d, 0x2a, 0x6b, 0x7c, 0x8e, 0x31)
#define VSP_IC_KVP_INSTANCE                                                                                            \
	VMBUS_GUID_INIT(0x242ff919, 0x07db, 0x4180, 0x9c, 0x2e, 0xb8, 0x6c, 0xb6, 0x8c, 0x8c, 0x55)

/* Channel names (vmbus_channel_name, logs). */
#define VSP_IC_SHUTDOWN_NAME  "shutdown-ic"
#define VSP_IC_TIMESYNC_NAME  "timesync-ic"
#define VSP_IC_HEARTBEAT_NAME "heartbeat-ic"
#define VSP_IC_KVP_NAME       "kvp-ic"

#define VSP_IC_HEARTBEAT_PERIOD_MS 1000u   /* default heartbeat_period_ms */
#define VSP_IC_TIMESYNC_PERIOD_MS  5000u   /* default timesync_period_ms (OpenVMM: 5 s) */
#define VSP_IC_KVP_TIMEOUT_MS      40000u  /* default kvp_timeout_ms: the guest itself gives up after 30 s */
#define VSP_IC_KVP_REFRESH_MS      10000u  /* re-enumeration of the guest's auto pool */
#define VSP_IC_HEARTBEAT_SEQ0      0x1000u /* first heartbeat sequence number sent on each open */
#define VSP_IC_KVP_MAX_ITEMS       32u     /* host items and guest items kept, each */

struct vsp_ic;

enum vsp_ic_shutdown_kind { VSP_IC_POWEROFF = 0, VSP_IC_REBOOT };

/* Heartbeat snapshot. */
struct vsp_ic_heartbeat {
	bool channel_open;       /* the guest has the heartbeat channel open */
	bool alive;              /* an answer within the last 3 periods */
	uint64_t replies;        /* valid answers since vsp_ic_create */
	uint64_t last_seq;       /* seq_num of the last valid answer (the host's seq + 1) */
	uint64_t ms_since_reply; /* ms since the last valid answer; UINT64_MAX: none yet */
};

struct vsp_ic_config {
	struct vmbus_server *srv;                 /* borrowed; must outlive the instance */
	/* The guest's Hyper-V reference time, 100 ns ticks (hvi_reference_time). NULL: time sync offers only message
	 * versions 3.0 and 1.0 (the guest then assumes zero delivery latency, guest-devices.md 3.5). */
	uint64_t (*reference_time)(void *opaque);
	void *opaque;
	unsigned heartbeat_period_ms;             /* 0: VSP_IC_HEARTBEAT_PERIOD_MS */
	unsigned timesync_period_ms;              /* 0: VSP_IC_TIMESYNC_PERIOD_MS */
	bool kvp;                                 /* offer the KVP channel too */
	/* optional, run on the I/O thread: */
	void (*shutdown_reply)(void *opaque, uint32_t hresult); /* the guest answered a shutdown request */
	void (*heartbeat_change)(void *opaque, bool alive);      /* first answer after none, or answers stopped */
	unsigned kvp_timeout_ms;                  /* 0: VSP_IC_KVP_TIMEOUT_MS (one KVP transaction) */
};

/*
 * Create the ICs and offer their channels on cfg->srv: shutdown, time sync, heartbeat, and KVP when cfg->kvp
 * (instance GUIDs above). @cfg is copied. Call before vmbus_server_start() or on the I/O thread. Returns 0 and *@out;
 * -EINVAL (NULL cfg/srv/out); -ENOMEM; the -errno of vmbus_device_offer (channels offered so far are rescinded).
 */
int vsp_ic_create(const struct vsp_ic_config *cfg, struct vsp_ic **out);

/*
 * Withdraw the channels (vmbus_channel_rescind, which closes open ones) and free the instance. Call before
 * vmbus_server_destroy, from any thread but a VSP callback of this instance (it goes through vmbus_server_call).
 * NULL is a no-op.
 */
void vsp_ic_destroy(struct vsp_ic *ic);

/*
 * Ask the guest to power off (VSP_IC_POWEROFF) or reboot (VSP_IC_REBOOT); @force sets ICSHUTDOWNFLAG_FORCE
 * (shutdown_msg_data.flags 0/1/2/3). Any thread. The guest's answer arrives later through cfg.shutdown_reply
 * (Linux 6.1 answers HV_S_OK, then orderly_poweroff(true) / orderly_reboot(): it runs /sbin/poweroff or
 * /sbin/reboot, and without them forces the power-off or restart itself: the VMM sees an ACPI S5 or a reset).
 * Returns 0 (request sent); -ENOTCONN (channel not open, or negotiation not finished or failed); -EAGAIN (the
 * guest's ring is full, or the previous request is still unanswered: Linux's shutdown_onchannelcallback reads
 * one packet per interrupt and the host signals only an empty ring, so a second request written behind an unread
 * first would sit in the ring for ever); -EINVAL (NULL ic, bad kind); -ESHUTDOWN (server going away).
 */
int vsp_ic_shutdown(struct vsp_ic *ic, enum vsp_ic_shutdown_kind kind, bool force);

/* Heartbeat snapshot into *@out. Any thread. NULL @ic gives an all-zero snapshot (ms_since_reply UINT64_MAX). */
void vsp_ic_heartbeat_status(struct vsp_ic *ic, struct vsp_ic_heartbeat *out);

/*
 * Set host item @key = @value (UTF-8, NUL-terminated) in the guest's external pool (pool 0, REG_SZ). Any thread.
 * The item is queued and pushed once the KVP channel is negotiated (again after a re-open); setting a key again
 * replaces its value. Returns 0 (queued); -EINVAL (NULL/empty key, NULL value, invalid UTF-8, key longer than 255
 * or value longer than 1023 UTF-16 units); -ENOSPC (VSP_IC_KVP_MAX_ITEMS keys already); -EOPNOTSUPP (cfg.kvp off).
 */
int vsp_ic_kvp_set(struct vsp_ic *ic, const char *key, const char *value);

/*
 * Copy into @value (@cap bytes, UTF-8, NUL-terminated) the value of @key as the guest last reported it when its
 * auto pool (pool 2) was enumerated (REG_U32/REG_U64 values in decimal). Any thread. Returns 0; -ENOENT (no such
 * item yet); -ERANGE (@cap too small: @value gets ""); -EINVAL (NULL arguments, @cap 0).
 */
int vsp_ic_kvp_guest_get(struct vsp_ic *ic, const char *key, char *value, size_t cap);

/*
 * The @index-th (0-based, table order) item of the guest's auto pool as last enumerated: its key and value (UTF-8,
 * NUL-terminated) into @key (@kcap bytes) and @value (@vcap bytes). Any thread. Iterate from 0 until -ENOENT.
 * Returns 0; -ENOENT (no such item); -ERANGE (a buffer too small: both get ""); -EINVAL (NULL arguments, 0 caps).
 */
int vsp_ic_kvp_guest_item(struct vsp_ic *ic, unsigned index, char *key, size_t kcap, char *value, size_t vcap);

/* ---- introspection (tests, the worker's status) -------------------------------------------------------------- */

enum vsp_ic_service { VSP_IC_SHUTDOWN = 0, VSP_IC_TIMESYNC, VSP_IC_HEARTBEAT, VSP_IC_KVP, VSP_IC_SERVICE_COUNT };

/* Per-channel state: the enum plus ic.c's one transition function (vsp_ic_state_name for logs). */
enum vsp_ic_state {
	VSP_IC_STATE_CLOSED = 0,   /* not offered (KVP off) or not open */
	VSP_IC_STATE_NEGOTIATING,  /* open; NEGOTIATE sent, waiting for the answer (KVP: maybe for ever) */
	VSP_IC_STATE_READY,        /* versions agreed: the service runs */
	VSP_IC_STATE_FAILED,       /* no common version: the service is not used until the next open */
};
const char *vsp_ic_state_name(enum vsp_ic_state s);

struct vsp_ic_service_stats {
	enum vsp_ic_state state;
	uint32_t framework_version;  /* IC_MAKE_VERSION form; 0 until negotiated */
	uint32_t message_version;
	uint64_t sent;               /* requests sent (NEGOTIATE included) */
	uint64_t replies;            /* valid answers */
	uint64_t dropped;            /* answers dropped as malformed, unexpected or stale */
	uint64_t timeouts;           /* transactions given up (KVP) */
};

struct vsp_ic_stats {
	struct vsp_ic_service_stats svc[VSP_IC_SERVICE_COUNT]; /* indexed by enum vsp_ic_service */
	uint32_t shutdown_last_status;  /* HRESULT of the last shutdown answer (HV_E_FAIL before any) */
	uint64_t timesync_syncs;        /* SYNC samples sent */
	uint64_t timesync_samples;      /* SAMPLE samples sent */
	unsigned kvp_host_pending;      /* host items not yet acknowledged by the guest */
	unsigned kvp_guest_items;       /* items in the guest table */
	uint64_t kvp_enumerations;      /* complete passes over the guest's auto pool */
};

/* Snapshot of the counters. Any thread. NULL @ic gives zeros. */
void vsp_ic_stats(struct vsp_ic *ic, struct vsp_ic_stats *out);

#endif /* OPENHV_VSP_IC_H */
