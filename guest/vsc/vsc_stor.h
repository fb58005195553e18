/* SPDX-License-Identifier: MIT */
/*
 * guest/vsc/vsc_stor.h - the guest end of the synthetic SCSI controller (storvsc), built on vsc.h. On the wire it
 * behaves like Linux 6.1 drivers/scsi/storvsc_drv.c (facts in shared/reference/guest-devices.md section 1):
 *   - the controller channel is opened with 128 KiB rings each way (header page included) and a zeroed 24-byte
 *     user-data area (vsc_channel_open);
 *   - the init handshake runs on the primary channel with trans_id VMBUS_RQST_INIT, every packet an in-band
 *     64-byte vstor_packet with flags REQUEST_COMPLETION_FLAG: BEGIN_INITIALIZATION, QUERY_PROTOCOL_VERSION with
 *     6.2, 6.0, 5.1 in that order (revision 0; the first reply with status 0 wins, a reply whose operation is not
 *     COMPLETE_IO ends the probe), QUERY_PROPERTIES, END_INITIALIZATION; then, if the host offers multi-channel,
 *     CREATE_SUB_CHANNELS with a count, and each offer of the same class and instance with sub_channel_index
 *     1..n is opened as it arrives (no handshake on sub-channels);
 *   - EXECUTE_SRB: a 64-byte vstor_packet (operation 3, the win8 vmscsi_request of 52 bytes, sense_info_length
 *     20, srb_flags DISABLE_SYNCH_TRANSFER | DATA_IN/DATA_OUT, queue tag 0xFF / simple for tagged devices) sent
 *     in-band for commands without data, or as the payload of a GPA-direct packet (type 9, completion requested)
 *     with one range: byte offset into the first page, length = data_transfer_length, the PFNs of every page the
 *     buffer touches;
 *   - completions are taken as storvsc_on_channel_callback() takes them: a payload shorter than 64 bytes is
 *     dropped ("Invalid pkt"), trans_id VMBUS_RQST_INIT / VMBUS_RQST_RESET answer the handshake and the bus
 *     reset, trans_id 0 is an unsolicited message (ENUMERATE_BUS, REMOVE_DEVICE; COMPLETE_IO and FCHBA_DATA with
 *     id 0 are refused), any other id must name a request in flight, and only operation COMPLETE_IO completes
 *     it (anything else leaves it hanging, as in Linux). Sense data counts when scsi_status is CHECK CONDITION
 *     and srb_status has AUTOSENSE_VALID.
 * Everything Linux would complain about (or silently hang on) is counted in struct vsc_stor_errors, so tests can
 * insist it stays zero.
 *
 * Requests: the caller picks the trans_id (not 0, not the two reserved ids, unique among those in flight) and the
 * channel; data buffers are guest memory given by GPA and length (any alignment). The synchronous helper
 * (vsc_stor_execute) waits for one request; the asynchronous pair (vsc_stor_submit, vsc_stor_poll/vsc_stor_wait)
 * keeps up to VSC_STOR_MAX_INFLIGHT requests in flight across all channels.
 *
 * Freestanding like vsc.c (memcpy/memset/memcmp only), no allocation (struct vsc_stor is large: keep it static),
 * not thread-safe. Prefix vsc_stor_ (controller) and vsc_scsi_ (CDB builders).
 */
#ifndef OPENHV_GUEST_VSC_STOR_H
#define OPENHV_GUEST_VSC_STOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../include/openhv/storvsp.h"
#include "vsc.h"

#define VSC_STOR_RING_BYTES (128u << 10) /* each way, header page included (Linux storvsc_ringbuffer_size) */
#define VSC_STOR_MAX_CHANNELS 65u        /* the primary and up to 64 sub-channels */
#define VSC_STOR_MAX_INFLIGHT 1024u      /* requests in flight across all channels */
#define VSC_STOR_MAX_PFNS 1040u          /* PFNs of one request: 4 MiB + an unaligned start, and some */
#define VSC_STOR_RX_BYTES 8192u          /* receive buffer (Linux's is 80 bytes: larger packets are counted) */
#define VSC_STOR_MAX_VERSIONS 4u

/* The versions Linux 6.1 offers, in order (storvsc_drv.c protocol_version[]). */
extern const uint16_t vsc_stor_linux_versions[3];

/* One SCSI command. Zero it, then fill in (or use the vsc_scsi_* builders). */
struct vsc_stor_req {
	uint8_t path_id, target_id, lun;   /* SCSI channel, id, LUN */
	uint8_t cdb[STORVSC_MAX_CMD_LEN];
	uint8_t cdb_len;                   /* 6, 10, 12 or 16 */
	uint8_t data_in;                   /* READ_TYPE (device -> guest), WRITE_TYPE, UNKNOWN_TYPE (no data) */
	uint64_t gpa;                      /* data buffer in guest memory (any alignment) */
	uint32_t len;                      /* its size in bytes; 0: no data (in-band packet) */
	bool tagged;                       /* a tagged device: QUEUE_ACTION_ENABLE | NO_QUEUE_FREEZE, tag 0xFF */
	/* Hostile knobs for tests (all zero/false: as Linux builds the packet). */
	bool raw_dtl;                      /* send @dtl as data_transfer_length instead of the range length */
	uint32_t dtl;
	bool raw_range;                    /* describe the buffer with these instead of @gpa/@len */
	uint32_t range_len, range_offset;
	const uint64_t *pfns;
	uint32_t pfn_count;
	bool force_inband;                 /* no GPA-direct packet even with data */
};

/* What came back for one request. */
struct vsc_stor_result {
	uint64_t trans_id;
	unsigned channel;                  /* index of the channel the completion arrived on */
	unsigned submitted_on;             /* index of the channel the request went out on */
	uint32_t requested;                /* the request's data_transfer_length */
	uint16_t pkt_type;                 /* VMBus packet type of the completion (VM_PKT_COMP from Hyper-V) */
	uint32_t pkt_len;                  /* whole packet, bytes */
	uint32_t operation;                /* vstor_packet.operation (COMPLETE_IO) */
	uint32_t status;                   /* vstor_packet.status (NTSTATUS-like; Linux only logs it) */
	uint8_t srb_status;                /* with its flag bits (AUTOSENSE_VALID 0x80, QUEUE_FROZEN 0x40) */
	uint8_t scsi_status;
	uint8_t sense_info_length;         /* as sent */
	bool sense_valid;                  /* CHECK CONDITION with AUTOSENSE_VALID: Linux copies the sense */
	uint8_t sense[STORVSC_SENSE_BUFFER_SIZE];
	uint32_t data_transfer_length;     /* bytes the host says it moved */
};

/* Sense key / ASC / ASCQ of fixed-format sense (0 when there is none). */
static inline uint8_t vsc_stor_sense_key(const struct vsc_stor_result *r) { return r->sense_valid ? r->sense[2] & 0xF : 0; }
static inline uint8_t vsc_stor_asc(const struct vsc_stor_result *r) { return r->sense_valid ? r->sense[12] : 0; }
static inline uint8_t vsc_stor_ascq(const struct vsc_stor_result *r) { return r->sense_valid ? r->sense[13] : 0; }
/* The SRB status code without its flag bits. */
static inline uint8_t vsc_stor_srb(const struct vsc_stor_result *r) { return r->srb_status & 0x3F; }

/* What the host did that Linux 6.1 would log, drop or hang on. Tests assert these stay zero. */
struct vsc_stor_errors {
	uint32_t short_packets;    /* payload shorter than its minimum (64; 4 for id 0): dropped, "Invalid pkt" */
	uint32_t long_packets;     /* packets longer than STORVSC_MAX_PKT_SIZE (80): Linux's buffer is 80 bytes */
	uint32_t unknown_trans_id; /* no request in flight with that id ("Incorrect transaction ID"): dropped */
	uint32_t not_complete_io;  /* a request answered with another operation: left hanging, as in Linux */
	uint32_t bad_id0;          /* COMPLETE_IO / FCHBA_DATA with trans_id 0: dropped */
	uint32_t wrong_channel;    /* completed on another channel than the one it was sent on */
	uint32_t stray_init;       /* a VMBUS_RQST_INIT / RESET reply nobody waited for */
	uint32_t overrun;          /* data_transfer_length larger than the request's */
	uint32_t recv_errors;      /* vsc_channel_recv failures other than -EAGAIN (corrupt ring) */
};

struct vsc_stor_slot {
	uint64_t trans_id;
	uint32_t requested;
	uint16_t channel;
	uint8_t state;             /* VSC_STOR_SLOT_* */
	struct vsc_stor_result res;
};

struct vsc_stor {
	struct vsc_bus *bus;
	struct vmbus_guid instance;          /* of the controller (its offer's if_instance) */
	uint32_t primary_relid;
	uint8_t port_number;                 /* vmscsi_request.port_number (Linux: the SCSI host number) */
	/* Channels: [0] the primary, [i] sub-channel i. */
	struct vsc_channel ch[VSC_STOR_MAX_CHANNELS];
	bool ch_open[VSC_STOR_MAX_CHANNELS];
	unsigned channel_count;              /* 1 + the highest open sub-channel index */
	unsigned subchannels;                /* sub-channels open */
	/* Handshake: the preference list (Linux's after vsc_stor_init; a test may change it before the handshake). */
	uint16_t versions[VSC_STOR_MAX_VERSIONS];
	unsigned version_count;
	uint16_t protocol;                   /* negotiated (0: none) */
	uint32_t version_statuses[VSC_STOR_MAX_VERSIONS]; /* status of each QUERY_PROTOCOL_VERSION reply */
	struct vmstorage_channel_properties props; /* QUERY_PROPERTIES answer */
	uint32_t max_transfer;               /* props.max_transfer_bytes rounded down to 4 KiB */
	bool multi_channel;                  /* flags & SUPPORTS_MULTI_CHANNEL */
	/* Replies to VMBUS_RQST_INIT / RESET. */
	bool init_waiting, init_done, reset_waiting, reset_done;
	struct vstor_packet init_reply, reset_reply;
	/* Unsolicited messages (trans_id 0). */
	uint32_t enumerate_bus, remove_device, unsolicited_other;
	/* Requests. */
	struct vsc_stor_slot slots[VSC_STOR_MAX_INFLIGHT];
	unsigned inflight;                   /* slots submitted and not completed */
	uint16_t done_q[VSC_STOR_MAX_INFLIGHT]; /* completed slots, oldest first */
	unsigned done_head, done_count;
	uint64_t next_trans_id;              /* vsc_stor_execute's ids */
	uint64_t submitted, completed;
	uint32_t timeout_ms;                 /* bound of every wait of this client (0: VSC_WAIT_MS) */
	struct vsc_stor_errors err;
	/* Scratch. */
	_Alignas(8) uint8_t desc[8 + 8 + 8 * VSC_STOR_MAX_PFNS];
	_Alignas(8) uint8_t rx[VSC_STOR_RX_BYTES];
};

/* Zero @s for @bus and load Linux's version list. */
void vsc_stor_init(struct vsc_stor *s, struct vsc_bus *bus);

/*
 * Open the primary channel of the @index-th (0-based) live SCSI controller offer (HV_SCSI_GUID, sub-channel index
 * 0) with VSC_STOR_RING_BYTES rings, events to the bus's VP. The offers must have been requested. No handshake.
 * 0; -VSC_ENOENT (no such offer); -VSC_EINVAL (already open); the errors of vsc_channel_open.
 */
int vsc_stor_open(struct vsc_stor *s, unsigned index);

/*
 * Send @pkt (operation and payload filled in by the caller; flags and status are set here) in-band on the primary
 * channel with trans_id VMBUS_RQST_INIT, wait (pumping) for the reply with that id and copy its 64 bytes back into
 * @pkt (storvsc_execute_vstor_op without the checks). I/O completions that arrive meanwhile are queued.
 * 0; -VSC_EPIPE (not open); -VSC_ETIMEDOUT; the errors of vsc_channel_send.
 */
int vsc_stor_init_op(struct vsc_stor *s, struct vstor_packet *pkt);

/*
 * The whole init handshake of storvsc_channel_init() on the open primary: BEGIN_INITIALIZATION,
 * QUERY_PROTOCOL_VERSION for each of s->versions, QUERY_PROPERTIES, END_INITIALIZATION. Fills s->protocol,
 * s->props, s->max_transfer, s->multi_channel. 0; -VSC_EPROTO (a reply whose operation is not COMPLETE_IO);
 * -VSC_EIO (a non-zero status where Linux checks it); -VSC_ECONNREFUSED (no version
 * accepted: "Obsolete Hyper-V version"); -VSC_ETIMEDOUT; the errors of vsc_stor_init_op.
 */
int vsc_stor_handshake(struct vsc_stor *s);

/*
 * handle_multichannel_storage(): CREATE_SUB_CHANNELS with @count (Linux: min(online CPUs - 1, max_channel_cnt)),
 * check the reply (COMPLETE_IO, status 0), then open every offer of this controller with sub_channel_index 1..
 * @count as it arrives, sub-channel i with events to VP (i % @vp_count) (@vp_count 0: the bus's VP). Returns the
 * number of sub-channels opened (>= 0: all @count unless the host offered fewer in time); -VSC_EIO (the
 * reply refused); -VSC_EPROTO; -VSC_EINVAL (count 0 or beyond VSC_STOR_MAX_CHANNELS - 1); -VSC_ETIMEDOUT; the
 * errors of vsc_channel_open.
 */
int vsc_stor_create_subchannels(struct vsc_stor *s, unsigned count, unsigned vp_count);

/*
 * Close every sub-channel, then the primary (Linux vmbus_close() on the primary). Requests still in flight are
 * forgotten (their slots freed). 0, or the first error of vsc_channel_close.
 */
int vsc_stor_close(struct vsc_stor *s);

/*
 * After the bus went away under the client (vsc_bus_unload, a reconnect): forget channels and requests without
 * sending anything. The rings and buffers stay where they were (the test may check nobody writes them).
 */
void vsc_stor_forget(struct vsc_stor *s);

/*
 * Queue @r on channel @channel (0: primary) with @trans_id. 0; -VSC_EINVAL (channel not open, trans_id 0 or
 * reserved or in flight, more than VSC_STOR_MAX_PFNS pages, cdb_len > 16); -VSC_ENOSPC (VSC_STOR_MAX_INFLIGHT
 * requests in flight or waiting to be polled); -VSC_EAGAIN (the ring is full: poll completions and retry); the
 * other errors of vsc_channel_send.
 */
int vsc_stor_submit(struct vsc_stor *s, unsigned channel, uint64_t trans_id, const struct vsc_stor_req *r);

/*
 * Take every packet waiting on every open channel (no wait), then hand out up to @max completed requests, oldest
 * first, into @out. Returns how many (>= 0).
 */
int vsc_stor_poll(struct vsc_stor *s, struct vsc_stor_result *out, unsigned max);

/* Like vsc_stor_poll, but wait (pumping) up to @timeout_ms (0: VSC_WAIT_MS) for at least one. -VSC_ETIMEDOUT. */
int vsc_stor_wait(struct vsc_stor *s, struct vsc_stor_result *out, unsigned max, uint32_t timeout_ms);

/*
 * Submit @r on channel @channel with a fresh trans_id and wait for its completion (other completions that arrive
 * meanwhile stay queued for vsc_stor_poll). 0 and *@res; -VSC_ETIMEDOUT; the errors of vsc_stor_submit (a full
 * ring is waited out).
 */
int vsc_stor_execute_on(struct vsc_stor *s, unsigned channel, const struct vsc_stor_req *r,
			struct vsc_stor_result *res);
static inline int vsc_stor_execute(struct vsc_stor *s, const struct vsc_stor_req *r, struct vsc_stor_result *res)
{
	return vsc_stor_execute_on(s, 0, r, res);
}

/*
 * storvsc_host_reset_handler(): RESET_BUS for @path_id with trans_id VMBUS_RQST_RESET on the primary, wait for its
 * reply (copied to *@reply, may be NULL). Completions of requests in flight that arrive meanwhile are queued.
 * 0; -VSC_EPIPE; -VSC_ETIMEDOUT.
 */
int vsc_stor_reset_bus(struct vsc_stor *s, uint8_t path_id, struct vstor_packet *reply);

/* Requests submitted and not yet completed. */
static inline unsigned vsc_stor_inflight(const struct vsc_stor *s) { return s->inflight; }

/* ---- CDB builders: each fills @r's CDB, its length and the direction; the caller sets LUN and buffer ---- */

void vsc_scsi_inquiry(struct vsc_stor_req *r, bool evpd, uint8_t page, uint16_t alloc_len);
void vsc_scsi_report_luns(struct vsc_stor_req *r, uint8_t select_report, uint32_t alloc_len);
void vsc_scsi_test_unit_ready(struct vsc_stor_req *r);
void vsc_scsi_read_capacity10(struct vsc_stor_req *r);
void vsc_scsi_read_capacity16(struct vsc_stor_req *r, uint32_t alloc_len);
/* @pc: page control (0 current, 1 changeable, 2 default, 3 saved); @dbd: disable block descriptors. */
void vsc_scsi_mode_sense6(struct vsc_stor_req *r, bool dbd, uint8_t pc, uint8_t page, uint8_t alloc_len);
void vsc_scsi_mode_sense10(struct vsc_stor_req *r, bool dbd, uint8_t pc, uint8_t page, uint16_t alloc_len);
/* READ/WRITE(6), (10) or (16) by @cdb_len; @blocks as the CDB says it (READ(6): 0 means 256). */
void vsc_scsi_rw(struct vsc_stor_req *r, unsigned cdb_len, bool write, uint64_t lba, uint32_t blocks, bool fua);
void vsc_scsi_sync_cache10(struct vsc_stor_req *r, uint32_t lba, uint16_t blocks);
void vsc_scsi_sync_cache16(struct vsc_stor_req *r, uint64_t lba, uint32_t blocks);
/* UNMAP with a parameter list of @param_len bytes (the caller's buffer; vsc_scsi_unmap_param builds one). */
void vsc_scsi_unmap(struct vsc_stor_req *r, uint16_t param_len);
/* One-descriptor UNMAP parameter list into @buf (24 bytes). Returns 24. */
uint32_t vsc_scsi_unmap_param(uint8_t *buf, uint64_t lba, uint32_t blocks);
/* WRITE SAME(16) of @blocks from one block of data (the caller's buffer), UNMAP bit as given. */
void vsc_scsi_write_same16(struct vsc_stor_req *r, uint64_t lba, uint32_t blocks, bool unmap);
void vsc_scsi_start_stop(struct vsc_stor_req *r, bool start, bool loej, bool immed);

/* Big-endian loads for parsing replies. */
static inline uint16_t vsc_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t vsc_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t vsc_be64(const uint8_t *p) { return (uint64_t)vsc_be32(p) << 32 | vsc_be32(p + 4); }

#endif /* OPENHV_GUEST_VSC_STOR_H */
