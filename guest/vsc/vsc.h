/* SPDX-License-Identifier: MIT */
/*
 * guest/vsc/vsc.h - the guest side of VMBus, freestanding: a small VMBus client (what Linux drivers/hv/
 * connection.c, channel_mgmt.c, channel.c and ring_buffer.c do for a guest), the guest ends of the rings, and the
 * integration-component client (drivers/hv/hv_util.c). Hyper-V's WinHv/IC role. Prefix vsc_.
 *
 * One source, two homes:
 *  - in-process: host unit tests and benchmarks drive the VMBus server over plain memory with it
 *    (tests/lib/vmbus_fixture.h supplies the platform: hypercalls through hvi_hypercall(), SynIC pages in the
 *    fixture's guest RAM, and a pump that runs the server's vmbus_server_poll() while the client waits);
 *  - in a micro-guest: the platform is the real hypercall page and SynIC (guest/rt/hvc.h).
 * So it uses nothing but <stdint.h>, <stddef.h>, <stdbool.h>, memcpy/memset/memcmp and the platform below; no
 * allocation, no libc errno (the VSC_E* codes are Linux's errno values, so host tests compare them with -EAGAIN ...).
 *
 * Not thread-safe: one bus is driven by one thread. All waits are bounded by vsc_platform.now_ms and
 * VSC_WAIT_MS; a wait that times out returns -VSC_ETIMEDOUT, so a broken server fails a test instead of hanging it.
 */
#ifndef OPENHV_GUEST_VSC_H
#define OPENHV_GUEST_VSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../include/openhv/hvgdk.h"
#include "../../include/openhv/vmbus.h"

/* Linux errno values (asm-generic/errno-base.h, errno.h). */
#define VSC_EIO        5
#define VSC_EAGAIN     11
#define VSC_ENOMEM     12
#define VSC_EFAULT     14
#define VSC_EINVAL     22
#define VSC_ENOSPC     28
#define VSC_EPIPE      32
#define VSC_EPROTO     71
#define VSC_EMSGSIZE   90
#define VSC_ECONNREFUSED 111
#define VSC_ETIMEDOUT  110
#define VSC_ENOENT     2
#define VSC_ENODEV     19  /* the channel was rescinded (Linux vmbus_open/vmbus_establish_gpadl) */

#define VSC_WAIT_MS 5000u        /* longest wait for one answer of the server */
#define VSC_MAX_OFFERS 64u       /* offers remembered per bus */
#define VSC_PAGE_SIZE 4096u

/*
 * What the client needs from where it runs. Every op but now_ms may be NULL only where noted.
 *  post_message:  HvPostMessage(conn_id, type, payload, size) from VP @vp; returns the HV_STATUS.
 *  signal_event:  HvSignalEvent(conn_id, flag 0); returns the HV_STATUS.
 *  msg_take:      if VP @vp's SINT2 message slot holds a message, copy it to *@out, free the slot the way Linux
 *                 does (vmbus_signal_eom: clear the type, EOM if MessagePending) and return true.
 *  event_test_clear: test-and-clear bit @relid of VP @vp's SIEF SINT2 bitmap; returns the old bit. May be NULL
 *                 (then channel interrupts are not observed; receive paths poll the rings).
 *  gpa_to_ptr:    a pointer to [gpa, gpa + len) of guest memory (contiguous), or NULL.
 *  alloc_pages:   @pages zeroed, physically contiguous pages of guest memory: their GPA; 0 when out of memory.
 *  pump:          called in every wait loop iteration: in-process it runs the server (vmbus_server_poll), in a
 *                 guest it pauses (pause instruction / hlt). May be NULL.
 *  now_ms:        a monotonic clock in milliseconds (bounds every wait).
 */
struct vsc_platform {
	uint16_t (*post_message)(void *opaque, uint32_t vp, uint32_t conn_id, uint32_t type, const void *payload,
				 uint32_t size);
	uint16_t (*signal_event)(void *opaque, uint32_t vp, uint32_t conn_id);
	bool (*msg_take)(void *opaque, uint32_t vp, struct hv_message *out);
	bool (*event_test_clear)(void *opaque, uint32_t vp, uint32_t relid);
	void *(*gpa_to_ptr)(void *opaque, uint64_t gpa, uint64_t len);
	uint64_t (*alloc_pages)(void *opaque, uint32_t pages);
	void (*pump)(void *opaque);
	uint64_t (*now_ms)(void *opaque);
	void *opaque;
};

/* ---- the bus ----------------------------------------------------------------------------------------------- */

/* An offer as the client received it, and what became of it. */
struct vsc_offer {
	struct vmbus_channel_offer_channel msg; /* copy of the OFFERCHANNEL */
	bool rescinded;                          /* RESCIND_CHANNELOFFER seen */
	bool released;                           /* RELID_RELEASED sent */
	bool open;                               /* a vsc_channel is open on it: RELID_RELEASED waits for its close */
};

/* Called for every OFFERCHANNEL of valid size, before the bus checks and records it (tests count relids). */
typedef void (*vsc_offer_hook_fn)(void *opaque, const struct vmbus_channel_offer_channel *offer);

struct vsc_bus {
	const struct vsc_platform *plat;
	uint32_t vp;              /* VP this client runs on; control messages come to it (target_vcpu) */
	uint32_t version;         /* negotiated; 0 = not connected */
	uint32_t msg_conn_id;     /* connection id for messages after INITIATE_CONTACT */
	struct vsc_offer offers[VSC_MAX_OFFERS];
	unsigned offer_count;
	bool all_offers_delivered;
	uint32_t next_gpadl;      /* next GPADL handle (Linux starts at 0xE1E10) */
	uint32_t unexpected;      /* messages received that no wait asked for (counted, then dropped) */
	/* What the server did wrong, as Linux would see it (tests assert these stay 0): */
	uint32_t malformed;       /* messages shorter than Linux's minimum for their type, of an unknown type
				   * (>= CHANNELMSG_COUNT, dropped), or whose SynIC message_type is not 1 (kept) */
	uint32_t bad_offers;      /* offers Linux would refuse: relid 0 or > 2047, relid of an offer not yet
				   * released, a second primary with the same type + instance (dropped) */
	uint32_t offers_lost;     /* valid offers that did not fit offers[] (passed to the hook, not recorded) */
	uint32_t contact_attempts; /* INITIATE_CONTACT messages posted by vsc_bus_connect */
	struct vmbus_channel_version_response last_version_response; /* of the last INITIATE_CONTACT */
	uint64_t int_page_gpa;    /* interrupt page (< 5.0: INITIATE_CONTACT.interrupt_page; 2nd half "send") */
	uint64_t monitor_page_gpa[2]; /* monitor pages 1 (parent -> child) and 2 (child -> parent) */
	vsc_offer_hook_fn offer_hook; /* may be NULL */
	void *offer_hook_opaque;
};

/* The versions Linux 6.1 proposes, best first (drivers/hv/connection.c vmbus_versions[]). */
extern const uint32_t vsc_linux_versions[8];

/* Set up @bus on @plat for VP @vp (no messages yet). */
void vsc_bus_init(struct vsc_bus *bus, const struct vsc_platform *plat, uint32_t vp);

/*
 * Linux's vmbus_connect(): for each version of @versions (@count entries, best first; NULL = vsc_linux_versions)
 * post INITIATE_CONTACT (connection 4 with msg_sint 2 from 5.0 on, else connection 1), step down on an
 * INVALID_CONNECTION_ID post or version_supported 0, stop at the first accepted. Returns 0 (bus->version set),
 * -VSC_ECONNREFUSED when no version was accepted, -VSC_ETIMEDOUT, -VSC_EIO on another post failure.
 */
int vsc_bus_connect(struct vsc_bus *bus, const uint32_t *versions, unsigned count);

/* REQUESTOFFERS, then collect OFFERCHANNELs until ALLOFFERS_DELIVERED. 0, -VSC_ETIMEDOUT, -VSC_EIO. */
int vsc_bus_request_offers(struct vsc_bus *bus);

/* The @index-th (0-based) live offer of class @class_id, or NULL. */
const struct vsc_offer *vsc_bus_find_offer(const struct vsc_bus *bus, const struct vmbus_guid *class_id,
					   unsigned index);

/* The offer of @relid, or NULL. */
struct vsc_offer *vsc_bus_offer_by_relid(struct vsc_bus *bus, uint32_t relid);

/* Post a raw channel message of @size bytes (hostile tests too). Returns the HV_STATUS. */
uint16_t vsc_bus_post(struct vsc_bus *bus, const void *msg, uint32_t size);

/*
 * Post a raw channel message of @size bytes to connection @conn_id (e.g. INITIATE_CONTACT by hand), once, with no
 * retry. Returns the HV_STATUS of HvPostMessage.
 */
uint16_t vsc_bus_post_conn(struct vsc_bus *bus, uint32_t conn_id, const void *msg, uint32_t size);

/*
 * Wait for the next channel message of type @msgtype (any type: CHANNELMSG_INVALID) and copy up to @cap bytes into
 * @out (*@size gets its payload size; may be NULL). Offers and rescinds that arrive meanwhile are recorded in the
 * bus (and answered with RELID_RELEASED for rescinds, as Linux does); other messages are counted in
 * bus->unexpected and dropped. 0 or -VSC_ETIMEDOUT. @timeout_ms 0 means VSC_WAIT_MS.
 */
int vsc_bus_wait_msg(struct vsc_bus *bus, uint32_t msgtype, void *out, uint32_t cap, uint32_t *size,
		     uint32_t timeout_ms);

/* Process whatever messages are pending now (offers, rescinds), without waiting. Returns how many. */
unsigned vsc_bus_poll_msgs(struct vsc_bus *bus);

/*
 * Describe @pages pages at @gpa (contiguous) to the host for channel @relid: GPADL_HEADER with up to 26 PFNs,
 * GPADL_BODY messages for the rest, then wait for GPADL_CREATED. The handle is bus->next_gpadl++ (taken even on
 * failure, as in Linux). Returns 0 and the handle in *@handle; -VSC_EINVAL (0 pages, unaligned @gpa, more pages
 * than range_buflen can say); -VSC_EIO when the host answered with a non-zero creation_status (or a post failed);
 * -VSC_ENODEV (the channel was rescinded meanwhile); -VSC_ETIMEDOUT.
 */
int vsc_gpadl_create(struct vsc_bus *bus, uint32_t relid, uint64_t gpa, uint32_t pages, uint32_t *handle);

/*
 * GPADL_TEARDOWN and wait for GPADL_TORNDOWN. For a rescinded channel nothing is posted (Linux
 * vmbus_teardown_gpadl()). 0, -VSC_EIO, -VSC_ETIMEDOUT.
 */
int vsc_gpadl_teardown(struct vsc_bus *bus, uint32_t relid, uint32_t handle);

/*
 * UNLOAD and wait for UNLOAD_RESPONSE; the bus is then disconnected (offers forgotten). Below 3.0 nothing is sent,
 * as in Linux vmbus_initiate_unload(). 0, -VSC_EIO or -VSC_ETIMEDOUT.
 */
int vsc_bus_unload(struct vsc_bus *bus);

/* ---- channels ---------------------------------------------------------------------------------------------- */

struct vsc_channel {
	struct vsc_bus *bus;
	uint32_t relid;
	uint32_t conn_id;          /* from the offer: HvSignalEvent target */
	uint32_t target_vp;
	uint32_t gpadl;            /* the ring GPADL */
	uint64_t ring_gpa;         /* both rings, contiguous: send ring pages first */
	uint32_t send_pages;       /* guest -> host ring pages, header included */
	uint32_t recv_pages;       /* host -> guest ring pages, header included */
	volatile struct hv_ring_buffer *out_hdr; /* guest -> host */
	uint8_t *out_data;
	uint32_t out_size;         /* data bytes */
	volatile struct hv_ring_buffer *in_hdr;  /* host -> guest */
	uint8_t *in_data;
	uint32_t in_size;
	bool open;
	uint64_t signals;          /* HvSignalEvent calls made */
	uint64_t events;           /* SIEF flags of this channel seen (and cleared) by vsc_channel_recv_wait */
	uint64_t pending_signals;  /* of @signals: those made because pending_send_sz was crossed on read */
	bool monitor_allocated;    /* from the offer: signal through the monitor page, no hypercall */
	bool dedicated_interrupt;  /* from the offer: else also set the relid bit in the interrupt page */
	uint8_t monitorid;
};

/*
 * Linux vmbus_open(): allocate @send_bytes + @recv_bytes of rings (each a multiple of 4096, header page included,
 * at least 2 pages), create their GPADL, initialise both headers (feature_bits = pending_send_sz), send
 * OPENCHANNEL (openid = relid, events to @target_vp) and wait for OPENCHANNEL_RESULT. Returns 0; -VSC_ENOENT (no
 * such live offer), -VSC_EINVAL (bad sizes, or the offer already has an open channel), -VSC_ENOMEM, -VSC_EFAULT
 * (the pages are not reachable), -VSC_EIO (GPADL refused or open status non-zero: the GPADL is torn down again),
 * -VSC_ENODEV (rescinded meanwhile), -VSC_ETIMEDOUT.
 */
int vsc_channel_open(struct vsc_bus *bus, struct vsc_channel *ch, uint32_t relid, uint32_t send_bytes,
		     uint32_t recv_bytes, uint32_t target_vp);

/*
 * Linux vmbus_close(): CLOSECHANNEL, then tear the ring GPADL down (skipped for a rescinded channel; then
 * RELID_RELEASED follows, as when Linux frees the channel). 0; -VSC_EINVAL (not open); -VSC_EIO;
 * -VSC_ETIMEDOUT (no GPADL_TORNDOWN).
 */
int vsc_channel_close(struct vsc_channel *ch);

/*
 * Linux vmbus_send_modifychannel() (sysfs channels/N/cpu): retarget the channel's host -> guest events to VP
 * @target_vp. Below 4.1 Linux refuses (-VSC_EIO, nothing sent); from 5.3 on it waits for MODIFYCHANNEL_RESPONSE
 * (non-zero status: -VSC_EAGAIN). 0 (ch->target_vp updated); -VSC_EPIPE (not open); -VSC_ENODEV (rescinded
 * meanwhile); -VSC_EIO; -VSC_ETIMEDOUT.
 */
int vsc_channel_modify(struct vsc_channel *ch, uint32_t target_vp);

/*
 * Write one packet to the guest -> host ring (Linux hv_ringbuffer_write): descriptor of @type/@flags/@trans_id,
 * @desc_len bytes of @desc, padding, @len bytes of @data, padding, trailer; signal the host if it does not mask
 * interrupts and the ring was empty before. 0; -VSC_EAGAIN (no room: free space must exceed the packet);
 * -VSC_EPIPE (not open); -VSC_ENODEV (rescinded, Linux's -ENODEV); -VSC_EMSGSIZE (len8 would not fit 16 bits);
 * -VSC_EPROTO (the host corrupted the ring indices).
 */
int vsc_channel_send(struct vsc_channel *ch, uint16_t type, uint16_t flags, uint64_t trans_id, const void *desc,
		     uint32_t desc_len, const void *data, uint32_t len);

/* VM_PKT_DATA_INBAND with completion requested when @trans_id != 0 (as Linux's drivers do). */
int vsc_channel_send_inband(struct vsc_channel *ch, uint64_t trans_id, const void *data, uint32_t len);

/* A received packet: pointers into the caller's buffer. */
struct vsc_packet {
	uint16_t type;
	uint16_t flags;
	uint64_t trans_id;
	const uint8_t *data;  /* payload at offset8 * 8 */
	uint32_t data_len;
	uint32_t total_len;   /* len8 * 8 */
};

/*
 * Copy the next host -> guest packet into @buf (@cap bytes), advance the read index and signal the host when it
 * waits for space (pending_send_sz crossed, Linux hv_pkt_iter_close). Returns the packet length; -VSC_EAGAIN when
 * empty; -VSC_EMSGSIZE when it does not fit @cap (left in the ring); -VSC_EPROTO for a malformed packet or
 * corrupt indices (nothing consumed); -VSC_EPIPE when not open.
 */
int vsc_channel_recv(struct vsc_channel *ch, void *buf, uint32_t cap, struct vsc_packet *pkt);

/* Like vsc_channel_recv, but wait (pumping) up to @timeout_ms (0: VSC_WAIT_MS) for a packet. */
int vsc_channel_recv_wait(struct vsc_channel *ch, void *buf, uint32_t cap, struct vsc_packet *pkt,
			  uint32_t timeout_ms);

/* Bytes waiting in the host -> guest ring, and bytes free in the guest -> host ring. */
uint32_t vsc_channel_in_avail(const struct vsc_channel *ch);
uint32_t vsc_channel_out_free(const struct vsc_channel *ch);

#endif /* OPENHV_GUEST_VSC_H */
