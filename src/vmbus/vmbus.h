/* SPDX-License-Identifier: MIT */
/*
 * vmbus/vmbus.h - the VMBus server of the root partition and the API the VSPs use.
 *
 * The server speaks the VMBus channel protocol with the guest's hv_vmbus (Linux 6.1 drivers/hv/connection.c,
 * channel_mgmt.c, channel.c, ring_buffer.c; facts in shared/reference/guest-core.md sections 5-6): version
 * negotiation (2.4 .. 5.3), offers, GPADLs, open/close, rescind, MODIFYCHANNEL, UNLOAD. It touches the outside
 * world only through the hypervisor interface (hv/hv.h: message connections 1 and 4, one event connection per
 * open channel, SynIC messages and event flags on SINT2) and guest memory (vid/memory.h), so it runs without
 * /dev/kvm: tests drive it in-process with the guest-side client library (guest/vsc/).
 *
 * Threads. Everything the server and its VSPs do runs on one thread, the server's I/O thread: channel messages
 * (the hvi message handler on the VP thread only copies the message into a bounded queue and wakes the I/O
 * thread), guest signals (one eventfd per open channel, served by a KVM ioeventfd when there is a partition), VSP
 * callbacks, VSP timers and file descriptors (vmbus_server_add_fd). VSP code is therefore single-threaded and
 * needs no locks. Other threads reach it only through vmbus_server_call(). The I/O thread starts with
 * vmbus_server_start(); until then (and for ever in unit tests and fuzzing) the caller runs that loop itself, one
 * round per vmbus_server_poll() call. A channel can later move to a thread of its own without changing the VSP API.
 *
 * Guest memory is hostile: ring indices are shadowed (the host keeps its own cursors and only publishes them),
 * every packet is copied out of the ring before it is parsed, every GPA is checked against RAM. A misbehaving
 * channel is stopped (it loses its ring), never the server.
 *
 * Prefix vmbus_ (server and VSP API). Wire formats: include/openhv/vmbus.h.
 */
#ifndef OPENHV_VMBUS_VMBUS_H
#define OPENHV_VMBUS_VMBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openhv/vmbus.h"

struct hvi_partition;
struct vid_memory;
struct vmbus_server;
struct vmbus_channel;

/* ---- server -------------------------------------------------------------------------------------------- */

struct vmbus_server_config {
	struct hvi_partition *hv;   /* borrowed: connections, SynIC (must outlive the server) */
	struct vid_memory *mem;     /* borrowed: guest RAM (GPADLs, rings) */
	unsigned vp_count;          /* VPs of the partition: valid target_vcpu / target_vp are 0..vp_count-1 */
	uint32_t max_version;       /* 0: every version Linux 6.1 proposes (5.3 down to 2.4); else the highest accepted */
};

/*
 * Create the server and register its message connections (VMBUS_MESSAGE_CONNECTION_ID and _ID_4) with @cfg->hv.
 * Devices are offered with vmbus_device_offer() before or after the guest connects. Returns 0 and *@out;
 * -EINVAL (NULL hv/mem, vp_count 0); -ENOMEM; the -errno of a connection registration.
 */
int vmbus_server_create(const struct vmbus_server_config *cfg, struct vmbus_server **out);

/*
 * Start the I/O thread ("vmbus-io"). Devices offered before this need no synchronisation. 0, -EALREADY, or the
 * -errno of pthread_create.
 */
int vmbus_server_start(struct vmbus_server *srv);

/*
 * Stop the I/O thread, close every open channel (VSP close callbacks run, on the calling thread), unregister all
 * connections, free every channel and GPADL. The hvi partition must still exist. NULL is a no-op.
 */
void vmbus_server_destroy(struct vmbus_server *srv);

/*
 * One round of the I/O loop when there is no I/O thread: wait up to @timeout_ms (0: do not wait, -1: for ever)
 * for work, then process every queued channel message, guest signal, due timer, ready fd and vmbus_server_call
 * request. Returns the number of items processed (0 on timeout), or -EINVAL once the I/O thread runs.
 */
int vmbus_server_poll(struct vmbus_server *srv, int timeout_ms);

/*
 * Run @fn(@opaque) on the I/O thread and wait for it to return. Any thread; on the I/O thread itself, or before
 * vmbus_server_start() (the caller drives the server then), @fn is called directly. Returns 0, or -ESHUTDOWN while
 * the server is being destroyed.
 */
int vmbus_server_call(struct vmbus_server *srv, void (*fn)(void *opaque), void *opaque);

/*
 * Watch @fd (EPOLLIN) on the I/O thread: @fn(@opaque, @fd) runs when it is readable, until vmbus_server_remove_fd.
 * I/O thread only (or before the first poll). 0 or -errno. The caller keeps owning @fd.
 */
int vmbus_server_add_fd(struct vmbus_server *srv, int fd, void (*fn)(void *opaque, int fd), void *opaque);
int vmbus_server_remove_fd(struct vmbus_server *srv, int fd);

/*
 * A one-shot timer on the I/O thread: @fn(@opaque) runs once, @delay_ms from now. Re-arming an armed timer moves
 * it. The timer is owned by the caller (embed it in your device state); vmbus_timer_cancel before freeing it.
 */
struct vmbus_timer {
	void (*fn)(void *opaque);
	void *opaque;
	uint64_t due_ns;  /* CLOCK_MONOTONIC; 0 = not armed */
	struct vmbus_timer *next;
};
void vmbus_timer_arm(struct vmbus_server *srv, struct vmbus_timer *t, uint64_t delay_ms, void (*fn)(void *opaque),
		     void *opaque);
void vmbus_timer_cancel(struct vmbus_server *srv, struct vmbus_timer *t);

/* Connection state and negotiated version (0 when not connected). I/O thread, or any thread for a snapshot. */
enum vmbus_connection_state {
	VMBUS_STATE_DISCONNECTED = 0, /* waiting for INITIATE_CONTACT */
	VMBUS_STATE_CONNECTED,        /* version agreed; offers requested or not yet */
	VMBUS_STATE_OFFERS_SENT,      /* REQUESTOFFERS answered: channels may open */
};
enum vmbus_connection_state vmbus_server_state(struct vmbus_server *srv, uint32_t *version);
const char *vmbus_connection_state_name(enum vmbus_connection_state state);

/* Counters (monotonic; read from any thread). */
struct vmbus_server_stats {
	uint64_t messages_in;        /* channel messages taken from the guest */
	uint64_t messages_rejected;  /* ... dropped as malformed, short, unknown or out of state */
	uint64_t messages_out;       /* channel messages posted to the guest */
	uint64_t resets;             /* INITIATE_CONTACT and UNLOAD bus resets */
	uint64_t guest_signals;      /* channel eventfd wakeups */
	uint64_t host_signals;       /* host -> guest channel interrupts raised */
	uint64_t channels_broken;    /* channels stopped for a corrupt ring */
};
void vmbus_server_stats(struct vmbus_server *srv, struct vmbus_server_stats *out);

/* ---- devices and channels (the VSP API) ----------------------------------------------------------------- */

/*
 * What a VSP implements. All callbacks run on the I/O thread.
 *  open:   the guest opened the channel; its rings are mapped. Return 0 to accept (OPENCHANNEL_RESULT status
 *          0), or -errno to refuse (the guest sees a failed open). The VSP may send from here on.
 *  close:  the guest closed the channel, or the bus was reset (UNLOAD, INITIATE_CONTACT), or the channel is being
 *          rescinded or destroyed. After return the VSP must not touch the channel's rings; it may keep its
 *          vmbus_channel pointer (a later open reuses it).
 *  notify: the guest signalled: packets are waiting in the incoming ring, or it freed space in the outgoing ring
 *          the VSP was waiting for (vmbus_channel_send returned -EAGAIN). Drain with vmbus_channel_recv() until
 *          -EAGAIN. Return false if the VSP stopped early on purpose (back-pressure: it waits for ring space and
 *          will be notified again); true otherwise. The server masks guest interrupts while notify runs and
 *          re-checks the ring afterwards, so a busy channel runs without signals (guest-core.md 5.7).
 */
struct vmbus_device_ops {
	int (*open)(struct vmbus_channel *ch, void *opaque);
	void (*close)(struct vmbus_channel *ch, void *opaque);
	bool (*notify)(struct vmbus_channel *ch, void *opaque);
};

struct vmbus_offer_config {
	struct vmbus_guid class_id;    /* if_type */
	struct vmbus_guid instance_id; /* if_instance: unique among this server's devices */
	const char *name;              /* for logs ("shutdown-ic", "scsi0"); copied */
	uint16_t chn_flags;            /* VMBUS_CHANNEL_* of the offer (0 is fine for most devices) */
	uint16_t mmio_megabytes;
	bool pipe_mode;                /* VMBUS_CHANNEL_NAMED_PIPE_MODE with pipe_mode = VMBUS_PIPE_TYPE_MESSAGE */
	uint8_t user_def[MAX_USER_DEFINED_BYTES]; /* copied into the offer (after the pipe mode word in pipe mode) */
	uint32_t max_packet_bytes;     /* largest packet the guest driver accepts from the host (its max_pkt_size;
					* 0: 4096). vmbus_channel_send refuses larger ones (-EMSGSIZE). */
	const struct vmbus_device_ops *ops;
	void *opaque;
};

/*
 * Offer a device: a primary channel with the next free relid. If the guest is connected and has asked for offers,
 * the OFFERCHANNEL is sent now; otherwise it goes out with the answer to REQUESTOFFERS. A device that reuses the
 * instance id of a rescinded one (hot-remove, then add again) is offered only once the guest has released the old
 * relid: Linux 6.1 vmbus_onoffer() would take the new offer for the old, still listed channel. I/O thread, or
 * before the I/O thread starts (or through vmbus_server_call). Returns 0 and *@out (owned by the server, valid until
 * vmbus_channel_rescind completes or the server is destroyed); -EINVAL (no ops, NULL), -EEXIST (instance id in
 * use), -ENOSPC (no relid left), -ENOMEM.
 */
int vmbus_device_offer(struct vmbus_server *srv, const struct vmbus_offer_config *cfg, struct vmbus_channel **out);

/*
 * Withdraw a channel (hot-remove): closes it if open (close callback), sends RESCIND_CHANNELOFFER if the guest has
 * seen the offer, and frees the relid once the guest answers RELID_RELEASED. The VSP's callbacks are never called
 * again and @ch must not be used after this call. I/O thread.
 */
void vmbus_channel_rescind(struct vmbus_channel *ch);

/*
 * Offer @count (1..VMBUS_MAX_SUBCHANNELS) sub-channels of the open primary channel @primary, as a VSP does when the
 * guest asks for them (storvsc CREATE_SUB_CHANNELS, netvsc's subchannel request): the primary's class and
 * instance, sub_channel_index 1..@count, new relids, the primary's ops and opaque (tell them apart with
 * vmbus_channel_subchannel_index, or keep per-channel state with vmbus_channel_set_context). The offers go out at
 * once; the guest opens each one like any channel (no handshake), and the VSP's open/notify/close callbacks run
 * for it. Sub-channels belong to the current connection and to the primary's open: they are rescinded when the
 * primary closes or is rescinded, and forgotten on a bus reset. I/O thread. Returns 0 and fills @out[0..count)
 * (may be NULL); -EINVAL (not a primary, not open, bad count or sub-channels already offered), -EBUSY (sub-channels
 * of an earlier open not yet released by the guest), -ENOSPC (relids), -ENOMEM.
 */
#define VMBUS_MAX_SUBCHANNELS 64u
int vmbus_channel_offer_subchannels(struct vmbus_channel *primary, unsigned count, struct vmbus_channel **out);

/* 0 for a primary channel, 1.. for a sub-channel; its primary (itself for a primary). */
uint16_t vmbus_channel_subchannel_index(const struct vmbus_channel *ch);
struct vmbus_channel *vmbus_channel_primary(struct vmbus_channel *ch);

/* A pointer the VSP keeps per channel (NULL until set). */
void vmbus_channel_set_context(struct vmbus_channel *ch, void *context);
void *vmbus_channel_context(const struct vmbus_channel *ch);

/*
 * Whether the server keeps watching the incoming ring for a short while after notify drained it, before it
 * unmasks guest interrupts (default: yes). The watch lets a streaming guest go on without signals; a VSP whose
 * requests complete asynchronously on the same thread (a disk) turns it off, so its completions are not delayed by
 * the watch. I/O thread.
 */
void vmbus_channel_set_poll(struct vmbus_channel *ch, bool poll);

/* Identity and state, for VSPs and logs. */
uint32_t vmbus_channel_relid(const struct vmbus_channel *ch);
const char *vmbus_channel_name(const struct vmbus_channel *ch);
bool vmbus_channel_is_open(const struct vmbus_channel *ch);
uint32_t vmbus_channel_target_vp(const struct vmbus_channel *ch);
uint32_t vmbus_channel_version(const struct vmbus_channel *ch); /* the bus's negotiated version */
struct vid_memory *vmbus_channel_memory(const struct vmbus_channel *ch);

/* ---- packets -------------------------------------------------------------------------------------------- */

/*
 * A packet copied out of the guest -> host ring and checked: @desc_len bytes of type-specific descriptor (after
 * the 16-byte vmpacket_descriptor, before the payload) and @data_len bytes of payload, both pointing into the
 * caller's buffer.
 */
struct vmbus_packet {
	uint16_t type;       /* enum vmbus_packet_type */
	uint16_t flags;      /* VMBUS_DATA_PACKET_FLAG_* */
	uint64_t trans_id;   /* echo it verbatim in the completion */
	const uint8_t *desc; /* e.g. vmbus_gpa_direct_header + ranges for VM_PKT_DATA_USING_GPA_DIRECT */
	uint32_t desc_len;
	const uint8_t *data; /* payload (offset8 * 8 .. len8 * 8) */
	uint32_t data_len;
};

/*
 * Take the next packet from the guest -> host ring into @buf (@cap bytes) and describe it in *@pkt. The read index
 * advances (the guest may reuse the space at once; a guest waiting with pending_send_sz is signalled when the freed
 * space crosses it). A channel yields at most VMBUS_RECV_BUDGET (4096) packets per loop round: then -EAGAIN, and
 * the VSP is notified again in the next round, so one busy guest cannot hold the I/O thread. Returns the packet length in bytes (len8 * 8); -EAGAIN when the ring is empty; -EMSGSIZE when
 * the packet is longer than @cap (it is skipped; *@pkt has its type, flags and trans_id, no descriptor or data); -EINVAL when @buf is not 8-byte aligned; -EPIPE when the channel
 * is not open or was stopped (a corrupt ring: bad indices or packet lengths stop the channel). I/O thread.
 */
int vmbus_channel_recv(struct vmbus_channel *ch, void *buf, size_t cap, struct vmbus_packet *pkt);

/*
 * Write one packet into the host -> guest ring: a vmpacket_descriptor of @type, @flags and @trans_id, then
 * @desc_len bytes of @desc (type-specific descriptor, may be NULL/0), padded to 8, then @len bytes of @data, padded
 * to 8. Signals the guest if it is not masking interrupts and had read everything before this write. Returns 0;
 * -EAGAIN when the ring lacks space (pending_send_sz is set: notify runs again when the guest has read enough);
 * -EMSGSIZE when the packet is larger than the ring or the channel's max_packet_bytes; -EPIPE when not open.
 * I/O thread.
 */
int vmbus_channel_send(struct vmbus_channel *ch, uint16_t type, uint16_t flags, uint64_t trans_id, const void *desc,
		       uint32_t desc_len, const void *data, uint32_t len);

/* VM_PKT_DATA_INBAND with @data; @completion_requested sets VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED. */
int vmbus_channel_send_inband(struct vmbus_channel *ch, uint64_t trans_id, const void *data, uint32_t len,
			      bool completion_requested);

/* VM_PKT_COMP echoing @trans_id, with @data. */
int vmbus_channel_send_completion(struct vmbus_channel *ch, uint64_t trans_id, const void *data, uint32_t len);

/*
 * Iterate the GPA ranges of a VM_PKT_DATA_USING_GPA_DIRECT packet (already copied: no double fetch; the buffer
 * given to vmbus_channel_recv is 8-byte aligned, so the PFN arrays are too). vmbus_gpa_iter_init() checks the
 * whole descriptor first: 0, or -EINVAL if it is malformed (rangecount 0, a range's PFNs do not fit the
 * descriptor, byte_offset >= 4096, byte_count 0, or byte_offset + byte_count beyond its PFNs). Then each
 * vmbus_gpa_iter_next() fills *@r with the next range and returns 1, or 0 after the last one.
 */
struct vmbus_gpa_range {
	uint32_t byte_count;   /* bytes of the transfer in this range */
	uint32_t byte_offset;  /* into the first page */
	uint32_t pfn_count;
	const uint64_t *pfns;  /* guest page frame numbers (4 KiB), pointing into the packet */
};
struct vmbus_gpa_iter {
	const struct vmbus_packet *pkt;
	uint32_t offset;       /* of the next range in pkt->desc */
	uint32_t left;         /* ranges still to return */
};
int vmbus_gpa_iter_init(struct vmbus_gpa_iter *it, const struct vmbus_packet *pkt);
int vmbus_gpa_iter_next(struct vmbus_gpa_iter *it, struct vmbus_gpa_range *r);

#endif /* OPENHV_VMBUS_VMBUS_H */
