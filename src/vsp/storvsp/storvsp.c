// SPDX-License-Identifier: MIT
/*
 * vsp/storvsp/storvsp.c - the synthetic SCSI controller (see storvsp.h).
 *
 * Per channel (the primary and each sub-channel) a pool of STORVSP_QUEUE_DEPTH request slots; a packet is taken
 * from the ring only when a slot is free (else the channel waits: back-pressure through the ring), copied, checked
 * and turned into a scsi_request whose data buffer is the guest's pages (iovecs into guest RAM, built from the
 * GPA-direct ranges after checking every page is RAM). The SCSI target completes it, possibly later from the disk
 * backend's completion queue; the completion goes back on the channel the request came on. A completion that
 * finds the ring full keeps its slot and is sent again when the guest has read (notify).
 *
 * Guest memory safety: a channel's close callback (guest close, UNLOAD, a bus reset, rescind) waits until every
 * request of that channel has completed in the backend, so no disk I/O touches guest memory after the bus let go
 * of it (UNLOAD_RESPONSE is sent after the callbacks returned).
 */
#define _GNU_SOURCE
#define LOG_TAG "storvsp"
#include "vsp/storvsp/storvsp.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "openhv/storvsp.h"
#include "vid/memory.h"
#include "vmbus/vmbus.h"
#include "vsp/storvsp/scsi_disk.h"

/*
 * The largest packet taken from the ring. Linux storvsc_queuecommand() describes a request of up to
 * max_transfer_bytes as one GPA-direct range over HVPFN_UP(offset + length) <= max / 4096 + 1 pages:
 * vmpacket_descriptor (16) + reserved/rangecount (8) + len/offset (8) + 8 per PFN + vstor_packet (64). A 1 MiB
 * request is ~2.2 KiB, a 32 MiB one ~64 KiB; never less than STORVSP_RX_MIN_BYTES.
 */
#define STORVSP_RX_MIN_BYTES 8192u
static uint32_t storvsp_rx_bytes(uint32_t max_transfer)
{
	uint32_t need = 16u + 8u + 8u + 8u * (max_transfer / (uint32_t)VID_PAGE_SIZE + 1u) +
			(uint32_t)sizeof(struct vstor_packet);

	need = (need + 7u) & ~7u;
	return need > STORVSP_RX_MIN_BYTES ? need : STORVSP_RX_MIN_BYTES;
}

struct storvsp_chan;

/* One request slot. */
struct storvsp_req {
	struct storvsp_chan *chan;
	struct storvsp_req *next;     /* free list, or the channel's list of unsent completions */
	uint64_t trans_id;
	bool busy;                    /* between taking the packet and sending (or dropping) its completion */
	bool data_in;
	bool no_lun;                  /* addressed to a path/target/LUN without a disk */
	struct vstor_packet reply;    /* the completion, built when the request is done */
	struct scsi_request sreq;
	unsigned iov_max;
	struct iovec *iov;            /* iov_max entries */
};

struct storvsp_chan {
	struct storvsp *s;
	struct vmbus_channel *ch;
	struct storvsp_req *reqs;     /* STORVSP_QUEUE_DEPTH slots */
	struct storvsp_req *free;
	struct storvsp_req *unsent, **unsent_tail;
	unsigned inflight;            /* slots busy */
	bool closing;                 /* close callback running: completions are dropped, not sent */
	bool stalled;                 /* stopped taking packets (no slot or unsent completions): resume on completion */
	uint32_t rx_bytes;            /* storvsp_rx_bytes(max_transfer) */
	uint8_t *rx;                  /* rx_bytes, malloc'd (8-byte aligned, as vmbus_channel_recv needs) */
};

struct storvsp_lun {
	struct disk *disk;
	struct scsi_disk *sd;
};

struct storvsp {
	struct vmbus_server *srv;
	struct vmbus_channel *primary;
	char name[32];
	struct storvsp_lun luns[STORVSP_MAX_LUNS];
	uint16_t lun_ids[STORVSP_MAX_LUNS];
	unsigned lun_count;
	unsigned max_subchannels;
	uint32_t max_transfer;
	uint16_t protocol;            /* negotiated vstor version, 0 before */
	bool initialized;             /* END_INITIALIZATION seen */
	struct {
		_Atomic uint64_t requests, completions, bytes_read, bytes_written, errors, bad_packets, busy;
		_Atomic uint32_t protocol, channels_open;
	} stats;
};

static bool storvsp_chan_drain(struct storvsp_chan *c);

/* ---- completions ----------------------------------------------------------------------------------------- */

static void storvsp_req_free(struct storvsp_req *r)
{
	struct storvsp_chan *c = r->chan;

	r->busy = false;
	r->next = c->free;
	c->free = r;
	c->inflight--;
}

/* Send @r's completion now, or queue it until the guest has read. */
static void storvsp_req_send(struct storvsp_req *r)
{
	struct storvsp_chan *c = r->chan;
	struct storvsp *s = c->s;
	int ret;

	if (c->closing) {
		storvsp_req_free(r);
		return;
	}
	if (!c->unsent) {
		ret = vmbus_channel_send_completion(c->ch, r->trans_id, &r->reply, sizeof(r->reply));
		if (ret == 0) {
			atomic_fetch_add(&s->stats.completions, 1);
			storvsp_req_free(r);
			if (c->stalled)
				storvsp_chan_drain(c);
			return;
		}
		if (ret != -EAGAIN) {
			log_guest("%s: completion dropped: %s", vmbus_channel_name(c->ch), strerror(-ret));
			storvsp_req_free(r);
			return;
		}
	}
	r->next = NULL;
	*c->unsent_tail = r;
	c->unsent_tail = &r->next;
	c->stalled = true;
}

/* Retry the completions that met a full ring. Returns false if some are still waiting. */
static bool storvsp_unsent_flush(struct storvsp_chan *c)
{
	while (c->unsent) {
		struct storvsp_req *r = c->unsent;
		int ret = vmbus_channel_send_completion(c->ch, r->trans_id, &r->reply, sizeof(r->reply));

		if (ret == -EAGAIN)
			return false;
		if (ret)
			log_guest("%s: completion dropped: %s", vmbus_channel_name(c->ch), strerror(-ret));
		else
			atomic_fetch_add(&c->s->stats.completions, 1);
		c->unsent = r->next;
		if (!c->unsent)
			c->unsent_tail = &c->unsent;
		storvsp_req_free(r);
	}
	return true;
}

/* A reply to a control operation (or a refused request): COMPLETE_IO with @status and @r->reply's payload. */
static void storvsp_reply(struct storvsp_req *r, uint32_t status)
{
	r->reply.operation = VSTOR_OPERATION_COMPLETE_IO;
	r->reply.flags = 0;
	r->reply.status = status;
	storvsp_req_send(r);
}

/* The SCSI target finished @sr: turn its result into the SRB of the completion. */
static void storvsp_scsi_done(struct scsi_request *sr)
{
	struct storvsp_req *r = sr->opaque;
	struct storvsp *s = r->chan->s;
	struct vmscsi_request *srb = &r->reply.u.vm_srb;
	uint8_t sense_len = sr->sense_len < STORVSC_SENSE_BUFFER_SIZE ? sr->sense_len : STORVSC_SENSE_BUFFER_SIZE;

	memset(&srb->u, 0, sizeof(srb->u));
	srb->scsi_status = sr->status;
	srb->data_transfer_length = sr->transferred;
	srb->sense_info_length = 0;
	switch (sr->status) {
	case SCSI_STATUS_GOOD:
		srb->srb_status = SRB_STATUS_SUCCESS;
		r->reply.status = STORVSP_STATUS_SUCCESS;
		break;
	case SCSI_STATUS_CHECK_CONDITION:
		srb->srb_status = SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID;
		memcpy(srb->u.sense_data, sr->sense, sense_len);
		srb->sense_info_length = sense_len;
		r->reply.status = STORVSP_STATUS_IO_DEVICE_ERROR;
		break;
	case SCSI_STATUS_BUSY:
		srb->srb_status = SRB_STATUS_BUSY;
		r->reply.status = STORVSP_STATUS_BUSY;
		atomic_fetch_add(&s->stats.busy, 1);
		break;
	default:
		srb->srb_status = SRB_STATUS_ERROR;
		r->reply.status = STORVSP_STATUS_IO_DEVICE_ERROR;
		break;
	}
	if (r->no_lun && sr->status == SCSI_STATUS_CHECK_CONDITION) {
		/* Not INQUIRY or REPORT LUNS, to a LUN that is not there (guest-devices.md 1.6). */
		srb->srb_status = SRB_STATUS_INVALID_LUN;
		srb->sense_info_length = 0;
		srb->data_transfer_length = 0;
		r->reply.status = STORVSP_STATUS_DEVICE_DOES_NOT_EXIST;
	}
	if (srb->srb_status != SRB_STATUS_SUCCESS)
		atomic_fetch_add(&s->stats.errors, 1);
	else if (r->data_in)
		atomic_fetch_add(&s->stats.bytes_read, sr->transferred);
	else
		atomic_fetch_add(&s->stats.bytes_written, sr->transferred);
	r->reply.operation = VSTOR_OPERATION_COMPLETE_IO;
	r->reply.flags = 0;
	storvsp_req_send(r);
}

/* ---- requests ------------------------------------------------------------------------------------------------ */

/*
 * Build @r's iovecs from the GPA-direct ranges of @pkt for @len bytes: each guest page checked to be RAM, runs of
 * guest-physically contiguous pages merged (they are contiguous in the host mapping of a RAM region).
 * 0, or -EINVAL (malformed ranges, fewer bytes than @len, a page outside RAM, too many pieces).
 */
static int storvsp_iov_build(struct storvsp_req *r, const struct vmbus_packet *pkt, uint32_t len)
{
	struct vid_memory *mem = vmbus_channel_memory(r->chan->ch);
	struct vmbus_gpa_iter it;
	struct vmbus_gpa_range g;
	unsigned n = 0;
	uint32_t left = len;

	r->sreq.iovcnt = 0;
	if (!len)
		return 0;
	if (vmbus_gpa_iter_init(&it, pkt))
		return -EINVAL;
	while (left && vmbus_gpa_iter_next(&it, &g) == 1) {
		uint32_t off = g.byte_offset, rem = g.byte_count < left ? g.byte_count : left;

		for (uint32_t i = 0; i < g.pfn_count && rem; i++) {
			uint32_t chunk = (uint32_t)VID_PAGE_SIZE - off;
			uint64_t gpa;
			uint8_t *p;

			if (chunk > rem)
				chunk = rem;
			if (g.pfns[i] > UINT64_MAX / VID_PAGE_SIZE)
				return -EINVAL;
			gpa = g.pfns[i] * VID_PAGE_SIZE + off;
			p = vid_memory_ptr(mem, gpa, chunk);
			if (!p)
				return -EINVAL;
			if (n && (uint8_t *)r->iov[n - 1].iov_base + r->iov[n - 1].iov_len == p) {
				r->iov[n - 1].iov_len += chunk;
			} else {
				if (n == r->iov_max)
					return -EINVAL;
				r->iov[n].iov_base = p;
				r->iov[n].iov_len = chunk;
				n++;
			}
			rem -= chunk;
			left -= chunk;
			off = 0;
		}
	}
	if (left)
		return -EINVAL;
	r->sreq.iovcnt = n;
	return 0;
}

/* EXECUTE_SRB: check the SRB, build the buffer, hand it to the LUN (or to the "no LUN" answers). */
static void storvsp_execute_srb(struct storvsp *s, struct storvsp_req *r, const struct vmbus_packet *pkt,
				const struct vstor_packet *vp)
{
	const struct vmscsi_request *in = &vp->u.vm_srb;
	struct vmscsi_request *srb = &r->reply.u.vm_srb;
	struct scsi_request *sr = &r->sreq;
	uint32_t len = in->data_transfer_length;
	bool has_buffer = pkt->type == VM_PKT_DATA_USING_GPA_DIRECT;

	atomic_fetch_add(&s->stats.requests, 1);
	*srb = *in; /* the completion echoes the request's fields; the results are filled in below */
	srb->data_transfer_length = 0;
	if (in->cdb_length == 0 || in->cdb_length > STORVSC_MAX_CMD_LEN || len > s->max_transfer ||
	    (!has_buffer && len && in->data_in != UNKNOWN_TYPE) || in->data_in > UNKNOWN_TYPE) {
		log_guest("%s: SRB refused (cdb length %u, %u bytes, direction %u, %s)", s->name, in->cdb_length, len,
			  in->data_in, has_buffer ? "GPA-direct" : "in-band");
		atomic_fetch_add(&s->stats.bad_packets, 1);
		srb->srb_status = SRB_STATUS_INVALID_REQUEST;
		atomic_fetch_add(&s->stats.errors, 1);
		storvsp_reply(r, STORVSP_STATUS_INVALID_PARAMETER);
		return;
	}
	memset(sr, 0, offsetof(struct scsi_request, dreq));
	memcpy(sr->cdb, in->u.cdb, sizeof(sr->cdb));
	sr->cdb_len = in->cdb_length;
	sr->data_in = in->data_in == READ_TYPE;
	r->data_in = sr->data_in;
	sr->iov = r->iov;
	sr->xfer_len = in->data_in == UNKNOWN_TYPE || !has_buffer ? 0 : len;
	sr->opaque = r;
	sr->done = storvsp_scsi_done;
	r->no_lun = false;
	if (sr->xfer_len && storvsp_iov_build(r, pkt, sr->xfer_len)) {
		log_guest("%s: SRB with a data buffer outside guest RAM or shorter than %u bytes", s->name, len);
		atomic_fetch_add(&s->stats.bad_packets, 1);
		srb->srb_status = SRB_STATUS_INVALID_REQUEST;
		atomic_fetch_add(&s->stats.errors, 1);
		storvsp_reply(r, STORVSP_STATUS_INVALID_PARAMETER);
		return;
	}
	if (in->path_id == 0 && in->target_id == 0 && in->lun < s->lun_count && sr->cdb[0] != 0xA0 /* REPORT LUNS */) {
		scsi_disk_execute(s->luns[in->lun].sd, sr);
		return;
	}
	/* REPORT LUNS (any LUN: only the controller knows the list), or no disk at this address. */
	r->no_lun = !(in->path_id == 0 && in->target_id == 0 && in->lun < s->lun_count);
	scsi_no_lun_execute(sr, s->lun_ids, in->path_id == 0 && in->target_id == 0 ? s->lun_count : 0);
}

/* Wait until every request of @c (or of every channel when @c is NULL) has completed in the backends. */
static void storvsp_wait_idle(struct storvsp *s, struct storvsp_chan *c)
{
	for (unsigned rounds = 0; rounds < 1000000; rounds++) {
		bool busy = false;

		for (unsigned i = 0; i < s->lun_count; i++) {
			if (disk_inflight(s->luns[i].disk)) {
				busy = true;
				disk_poll(s->luns[i].disk, true);
			}
		}
		if (!busy)
			return;
		if (c && !c->inflight)
			return;
	}
	log_err("%s: requests still in flight after waiting", s->name);
}

/* One packet from the guest. */
static void storvsp_packet(struct storvsp_chan *c, struct storvsp_req *r, const struct vmbus_packet *pkt)
{
	struct storvsp *s = c->s;
	struct vstor_packet vp;
	bool primary = vmbus_channel_subchannel_index(c->ch) == 0;

	r->trans_id = pkt->trans_id;
	memset(&r->reply, 0, sizeof(r->reply));
	if ((pkt->type != VM_PKT_DATA_INBAND && pkt->type != VM_PKT_DATA_USING_GPA_DIRECT) ||
	    pkt->data_len < sizeof(vp)) {
		log_guest("%s: packet of type %u with %u bytes dropped", vmbus_channel_name(c->ch), pkt->type,
			  pkt->data_len);
		atomic_fetch_add(&s->stats.bad_packets, 1);
		if (pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED && pkt->type != VM_PKT_COMP)
			storvsp_reply(r, STORVSP_STATUS_INVALID_PARAMETER);
		else
			storvsp_req_free(r);
		return;
	}
	memcpy(&vp, pkt->data, sizeof(vp)); /* one copy; everything below reads the copy */
	switch (vp.operation) {
	case VSTOR_OPERATION_EXECUTE_SRB:
		storvsp_execute_srb(s, r, pkt, &vp);
		return;
	case VSTOR_OPERATION_BEGIN_INITIALIZATION:
		if (primary) {
			s->initialized = false;
			storvsp_reply(r, STORVSP_STATUS_SUCCESS);
			return;
		}
		break;
	case VSTOR_OPERATION_QUERY_PROTOCOL_VERSION:
		if (primary) {
			uint16_t v = vp.u.version.major_minor;
			bool ok = v == VMSTOR_PROTO_VERSION_WIN10 || v == VMSTOR_PROTO_VERSION_WIN8_1 ||
				  v == VMSTOR_PROTO_VERSION_WIN8;

			if (ok) {
				s->protocol = v;
				atomic_store(&s->stats.protocol, v);
			}
			r->reply.u.version = vp.u.version;
			storvsp_reply(r, ok ? STORVSP_STATUS_SUCCESS : STORVSP_STATUS_REVISION_MISMATCH);
			return;
		}
		break;
	case VSTOR_OPERATION_QUERY_PROPERTIES:
		if (primary) {
			struct vmstorage_channel_properties *p = &r->reply.u.storage_channel_properties;

			p->max_channel_cnt = (uint16_t)s->max_subchannels;
			p->flags = s->max_subchannels ? STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL : 0;
			p->max_transfer_bytes = s->max_transfer;
			storvsp_reply(r, STORVSP_STATUS_SUCCESS);
			return;
		}
		break;
	case VSTOR_OPERATION_END_INITIALIZATION:
		if (primary) {
			s->initialized = true;
			log_info("%s: guest initialised the controller (protocol %u.%u, %u LUNs)", s->name,
				 s->protocol >> 8, s->protocol & 0xff, s->lun_count);
			storvsp_reply(r, STORVSP_STATUS_SUCCESS);
			return;
		}
		break;
	case VSTOR_OPERATION_CREATE_SUB_CHANNELS:
		/* After the handshake only (Linux asks right after END_INITIALIZATION). */
		if (primary && s->max_subchannels && s->initialized) {
			unsigned n = vp.u.sub_channel_count;
			int ret;

			if (n > s->max_subchannels)
				n = s->max_subchannels;
			ret = n ? vmbus_channel_offer_subchannels(c->ch, n, NULL) : 0;
			if (ret)
				log_guest("%s: %u sub-channels not offered: %s", s->name, n, strerror(-ret));
			storvsp_reply(r, ret ? STORVSP_STATUS_INVALID_DEVICE_STATE : STORVSP_STATUS_SUCCESS);
			return;
		}
		break;
	case VSTOR_OPERATION_RESET_BUS:
	case VSTOR_OPERATION_RESET_ADAPTER:
	case VSTOR_OPERATION_RESET_LUN:
		/* Everything outstanding completes first (the guest waits for those completions, then this one). */
		storvsp_wait_idle(s, NULL);
		storvsp_reply(r, STORVSP_STATUS_SUCCESS);
		return;
	default:
		break;
	}
	log_guest("%s: operation %u not served here", vmbus_channel_name(c->ch), vp.operation);
	atomic_fetch_add(&s->stats.bad_packets, 1);
	storvsp_reply(r, STORVSP_STATUS_INVALID_DEVICE_STATE);
}

/* Hand the disks what the last burst of packets queued (the backends batch: one kernel entry per burst). */
static void storvsp_kick(struct storvsp *s)
{
	for (unsigned i = 0; i < s->lun_count; i++)
		disk_kick(s->luns[i].disk);
}

static bool storvsp_chan_drain_burst(struct storvsp_chan *c);

/* Take packets while there are free slots and no completion waits for ring space. False when stalled. */
static bool storvsp_chan_drain(struct storvsp_chan *c)
{
	bool ret = storvsp_chan_drain_burst(c);

	storvsp_kick(c->s);
	return ret;
}

static bool storvsp_chan_drain_burst(struct storvsp_chan *c)
{
	struct vmbus_packet pkt;

	c->stalled = false;
	if (!storvsp_unsent_flush(c)) {
		c->stalled = true;
		return false;
	}
	while (!c->closing) {
		struct storvsp_req *r = c->free;
		int ret;

		if (!r || c->unsent) {
			c->stalled = true;
			return false;
		}
		ret = vmbus_channel_recv(c->ch, c->rx, c->rx_bytes, &pkt);
		if (ret == -EAGAIN)
			return true;
		if (ret < 0 && ret != -EMSGSIZE)
			return true; /* the channel stopped (corrupt ring) */
		c->free = r->next;
		r->busy = true;
		c->inflight++;
		if (ret == -EMSGSIZE) {
			/* Larger than any request we take (more PFNs than max_transfer_bytes needs): refuse it. */
			log_guest("%s: packet larger than %u bytes refused", vmbus_channel_name(c->ch), c->rx_bytes);
			atomic_fetch_add(&c->s->stats.bad_packets, 1);
			r->trans_id = pkt.trans_id;
			memset(&r->reply, 0, sizeof(r->reply));
			if ((pkt.flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED) && pkt.type != VM_PKT_COMP) {
				r->reply.u.vm_srb.srb_status = SRB_STATUS_INVALID_REQUEST;
				storvsp_reply(r, STORVSP_STATUS_INVALID_PARAMETER);
			} else {
				storvsp_req_free(r);
			}
			continue;
		}
		storvsp_packet(c, r, &pkt);
	}
	return true;
}

/* ---- channel callbacks -------------------------------------------------------------------------------------- */

static int storvsp_open(struct vmbus_channel *ch, void *opaque)
{
	struct storvsp *s = opaque;
	unsigned iov_max = s->max_transfer / (unsigned)VID_PAGE_SIZE + 2;
	struct storvsp_chan *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->rx_bytes = storvsp_rx_bytes(s->max_transfer);
	c->rx = malloc(c->rx_bytes);
	c->reqs = calloc(STORVSP_QUEUE_DEPTH, sizeof(*c->reqs));
	if (c->reqs)
		c->reqs[0].iov = calloc((size_t)STORVSP_QUEUE_DEPTH * iov_max, sizeof(struct iovec));
	if (!c->rx || !c->reqs || !c->reqs[0].iov) {
		if (c->reqs)
			free(c->reqs[0].iov);
		free(c->reqs);
		free(c->rx);
		free(c);
		return -ENOMEM;
	}
	c->s = s;
	c->ch = ch;
	c->unsent_tail = &c->unsent;
	for (unsigned i = STORVSP_QUEUE_DEPTH; i-- > 0;) {
		struct storvsp_req *r = &c->reqs[i];

		r->chan = c;
		r->iov_max = iov_max;
		r->iov = c->reqs[0].iov + (size_t)i * iov_max;
		r->next = c->free;
		c->free = r;
	}
	if (vmbus_channel_subchannel_index(ch) == 0) {
		s->protocol = 0;
		s->initialized = false;
	}
	vmbus_channel_set_context(ch, c);
	vmbus_channel_set_poll(ch, false); /* disk completions run on this thread: do not delay them */
	atomic_fetch_add(&s->stats.channels_open, 1);
	return 0;
}

static void storvsp_close(struct vmbus_channel *ch, void *opaque)
{
	struct storvsp *s = opaque;
	struct storvsp_chan *c = vmbus_channel_context(ch);

	if (!c)
		return;
	/* No completion goes out any more, and no backend I/O for this channel may outlive the close. */
	c->closing = true;
	while (c->unsent) {
		struct storvsp_req *r = c->unsent;

		c->unsent = r->next;
		storvsp_req_free(r);
	}
	if (c->inflight)
		storvsp_wait_idle(s, c);
	vmbus_channel_set_context(ch, NULL);
	if (c->inflight) {
		/* A backend that never completes (it is not the guest's doing): their completions would find freed
		 * memory, so the channel's state is left allocated instead. */
		log_err("%s: %u requests still in flight at close; their channel state is leaked", vmbus_channel_name(ch),
			c->inflight);
		atomic_fetch_sub(&s->stats.channels_open, 1);
		return;
	}
	free(c->reqs[0].iov);
	free(c->reqs);
	free(c->rx);
	free(c);
	atomic_fetch_sub(&s->stats.channels_open, 1);
}

static bool storvsp_notify(struct vmbus_channel *ch, void *opaque)
{
	struct storvsp_chan *c = vmbus_channel_context(ch);

	return c ? storvsp_chan_drain(c) : true;
}

static const struct vmbus_device_ops storvsp_ops = {
	.open = storvsp_open, .close = storvsp_close, .notify = storvsp_notify
};

/* A disk's completion eventfd is readable (VMBus I/O thread). */
static void storvsp_disk_event(void *opaque, int fd)
{
	struct disk *d = opaque;

	disk_poll(d, false);
}

/* ---- create / destroy ------------------------------------------------------------------------------------------ */

void storvsp_stats(struct storvsp *s, struct storvsp_stats *out)
{
	out->requests = atomic_load(&s->stats.requests);
	out->completions = atomic_load(&s->stats.completions);
	out->bytes_read = atomic_load(&s->stats.bytes_read);
	out->bytes_written = atomic_load(&s->stats.bytes_written);
	out->errors = atomic_load(&s->stats.errors);
	out->bad_packets = atomic_load(&s->stats.bad_packets);
	out->busy = atomic_load(&s->stats.busy);
	out->protocol = atomic_load(&s->stats.protocol);
	out->channels_open = atomic_load(&s->stats.channels_open);
}

/*
 * Backend queue depth of every disk: the requests the controller can have in flight (STORVSP_QUEUE_DEPTH per
 * channel, on the primary and each sub-channel), at most DISK_QD_MAX (disk.h). A smaller backend queue
 * turns a guest's deep queue into SAM BUSY answers, and Linux 6.1 treats BUSY as ADD_TO_MLQUEUE
 * (scsi_error.c scsi_decide_disposition): device_blocked, the LUN drains to idle and waits a few 3 ms queue
 * delays before taking I/O again, for every BUSY. Linux keeps up to cmd_per_lun = 2048 commands in flight per LUN
 * (storvsc_drv.c scsi_driver; scsi_scan.c scsi_alloc_sdev), spread over the channels, so the depth below never
 * runs out with that guest.
 */
static unsigned storvsp_disk_queue_depth(unsigned max_subchannels)
{
	unsigned long qd = (unsigned long)STORVSP_QUEUE_DEPTH * (1ul + max_subchannels);

	return qd > DISK_QD_MAX ? DISK_QD_MAX : (unsigned)qd;
}

static void storvsp_luns_close(struct storvsp *s)
{
	for (unsigned i = 0; i < s->lun_count; i++) {
		struct storvsp_lun *l = &s->luns[i];

		if (l->disk)
			vmbus_server_remove_fd(s->srv, disk_event_fd(l->disk));
		scsi_disk_destroy(l->sd);
		disk_close(l->disk);
		l->sd = NULL;
		l->disk = NULL;
	}
}

int storvsp_create(const struct storvsp_config *cfg, struct storvsp **out)
{
	struct vmbus_offer_config oc = { .class_id = HV_SCSI_GUID, .ops = &storvsp_ops,
					 .max_packet_bytes = STORVSC_MAX_PKT_SIZE };
	struct storvsp *s;
	int ret;

	if (!cfg || !cfg->srv || !out || cfg->disk_count > STORVSP_MAX_LUNS || (cfg->disk_count && !cfg->disks) ||
	    cfg->max_subchannels > VMBUS_MAX_SUBCHANNELS ||
	    (cfg->max_transfer_bytes && (cfg->max_transfer_bytes < (256u << 10) || cfg->max_transfer_bytes % 4096 ||
					 cfg->max_transfer_bytes > (32u << 20))))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->srv = cfg->srv;
	snprintf(s->name, sizeof(s->name), "%s", cfg->name ? cfg->name : "scsi");
	s->max_subchannels = cfg->max_subchannels;
	s->max_transfer = cfg->max_transfer_bytes ? cfg->max_transfer_bytes : STORVSP_DEFAULT_MAX_TRANSFER;
	for (unsigned i = 0; i < cfg->disk_count; i++) {
		const struct storvsp_disk_config *dc = &cfg->disks[i];
		struct disk_config d = { .path = dc->path, .read_only = dc->read_only, .direct = dc->direct,
					 .queue_depth = storvsp_disk_queue_depth(cfg->max_subchannels),
					 .batch = true };
		struct scsi_disk_config sc = { .block_size = dc->block_size ? dc->block_size : 512,
					       .read_only = dc->read_only, .id = 0x6000000000000000ull | (i + 1),
					       .max_transfer_bytes = s->max_transfer };
		struct storvsp_lun *l = &s->luns[i];

		s->lun_count = i + 1;
		s->lun_ids[i] = (uint16_t)i;
		ret = disk_open(&d, &l->disk);
		if (ret) {
			log_err("%s: disk %s: %s", s->name, dc->path ? dc->path : "(null)", strerror(-ret));
			l->disk = NULL;
			goto fail;
		}
		sc.disk = l->disk;
		ret = scsi_disk_create(&sc, &l->sd);
		if (ret) {
			log_err("%s: disk %s: %s", s->name, dc->path, strerror(-ret));
			goto fail;
		}
		ret = vmbus_server_add_fd(s->srv, disk_event_fd(l->disk), storvsp_disk_event, l->disk);
		if (ret)
			goto fail;
	}
	oc.instance_id = cfg->instance_id;
	oc.name = s->name;
	oc.opaque = s;
	ret = vmbus_device_offer(s->srv, &oc, &s->primary);
	if (ret)
		goto fail;
	*out = s;
	return 0;
fail:
	storvsp_luns_close(s);
	free(s);
	return ret;
}

void storvsp_destroy(struct storvsp *s)
{
	if (!s)
		return;
	vmbus_channel_rescind(s->primary); /* closes every channel: waits for their requests */
	storvsp_luns_close(s);
	free(s);
}
