/* SPDX-License-Identifier: MIT */
/*
 * guest/vsc/vsc_stor.c - the storvsc client (see vsc_stor.h): the controller's init handshake, sub-channels,
 * EXECUTE_SRB in-band and GPA-direct, completion parsing. Behaviour the host can observe follows Linux 6.1
 * drivers/scsi/storvsc_drv.c (storvsc_channel_init, handle_multichannel_storage, storvsc_queuecommand,
 * storvsc_do_io, storvsc_on_channel_callback, storvsc_host_reset_handler); written from those facts in
 * shared/reference/guest-devices.md section 1.
 *
 * Freestanding: no libc but the mem* functions; guest memory is reached only through the platform.
 */
#include "vsc/vsc_stor.h"

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#define VSC_STOR_SLOT_FREE 0
#define VSC_STOR_SLOT_INFLIGHT 1
#define VSC_STOR_SLOT_DONE 2

#define VSC_STOR_TIMEOUT_VALUE 60u      /* vmscsi_request.time_out_value Linux puts in every SRB */
#define VSC_STOR_QUEUE_TAG_UNTAGGED 0xFFu /* SP_UNTAGGED */
#define VSC_STOR_SIMPLE_TAG 0x20u       /* SRB_SIMPLE_TAG_REQUEST */

const uint16_t vsc_stor_linux_versions[3] = {
	VMSTOR_PROTO_VERSION_WIN10, VMSTOR_PROTO_VERSION_WIN8_1, VMSTOR_PROTO_VERSION_WIN8,
};

static const struct vmbus_guid vsc_stor_scsi_class = HV_SCSI_GUID;

/* ---- small helpers ---------------------------------------------------------------------------------------- */

static uint64_t vsc_stor_now(const struct vsc_stor *s) { return s->bus->plat->now_ms(s->bus->plat->opaque); }

static uint64_t vsc_stor_deadline(const struct vsc_stor *s)
{
	return vsc_stor_now(s) + (s->timeout_ms ? s->timeout_ms : VSC_WAIT_MS);
}

/* Let the host run and take the bus's messages (offers and rescinds arrive while the guest does I/O). */
static void vsc_stor_pump(struct vsc_stor *s)
{
	(void)vsc_bus_poll_msgs(s->bus);
}

static void wr_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void wr_be64(uint8_t *p, uint64_t v)
{
	wr_be32(p, (uint32_t)(v >> 32));
	wr_be32(p + 4, (uint32_t)v);
}

static struct vsc_stor_slot *vsc_stor_slot_find(struct vsc_stor *s, uint64_t trans_id)
{
	for (unsigned i = 0; i < VSC_STOR_MAX_INFLIGHT; i++) {
		struct vsc_stor_slot *sl = &s->slots[i];

		if (sl->state != VSC_STOR_SLOT_FREE && sl->trans_id == trans_id)
			return sl;
	}
	return NULL;
}

static void vsc_stor_requests_forget(struct vsc_stor *s)
{
	for (unsigned i = 0; i < VSC_STOR_MAX_INFLIGHT; i++)
		s->slots[i].state = VSC_STOR_SLOT_FREE;
	s->inflight = 0;
	s->done_head = 0;
	s->done_count = 0;
}

/* Remove entry @k (0 = oldest) of the done queue. */
static void vsc_stor_done_remove(struct vsc_stor *s, unsigned k)
{
	for (unsigned j = k; j + 1 < s->done_count; j++)
		s->done_q[(s->done_head + j) % VSC_STOR_MAX_INFLIGHT] =
			s->done_q[(s->done_head + j + 1) % VSC_STOR_MAX_INFLIGHT];
	s->done_count--;
}

/* ---- set-up ----------------------------------------------------------------------------------------------- */

void vsc_stor_init(struct vsc_stor *s, struct vsc_bus *bus)
{
	memset(s, 0, sizeof(*s));
	s->bus = bus;
	for (unsigned i = 0; i < 3; i++)
		s->versions[i] = vsc_stor_linux_versions[i];
	s->version_count = 3;
	s->next_trans_id = 1;
}

int vsc_stor_open(struct vsc_stor *s, unsigned index)
{
	struct vsc_bus *bus = s->bus;
	const struct vsc_offer *o = NULL;
	int ret;

	if (s->ch_open[0])
		return -VSC_EINVAL;
	for (unsigned i = 0; i < bus->offer_count; i++) {
		const struct vsc_offer *e = &bus->offers[i];

		if (e->released || e->rescinded || e->msg.sub_channel_index ||
		    memcmp(&e->msg.if_type, &vsc_stor_scsi_class, sizeof(vsc_stor_scsi_class)))
			continue;
		if (index-- == 0) {
			o = e;
			break;
		}
	}
	if (!o)
		return -VSC_ENOENT;
	s->instance = o->msg.if_instance;
	s->primary_relid = o->msg.child_relid;
	/* storvsc_connect_to_vsp(): vmbus_open with 128 KiB each way and a zeroed user-data blob. */
	ret = vsc_channel_open(bus, &s->ch[0], s->primary_relid, VSC_STOR_RING_BYTES, VSC_STOR_RING_BYTES, bus->vp);
	if (ret)
		return ret;
	s->ch_open[0] = true;
	s->channel_count = 1;
	s->subchannels = 0;
	s->protocol = 0;
	s->init_waiting = s->init_done = s->reset_waiting = s->reset_done = false;
	vsc_stor_requests_forget(s);
	return 0;
}

/* ---- receiving -------------------------------------------------------------------------------------------- */

/* storvsc_on_channel_callback() for one packet that arrived on channel @ci. */
static void vsc_stor_take(struct vsc_stor *s, unsigned ci, const struct vsc_packet *pkt)
{
	uint32_t minlen = pkt->trans_id ? (uint32_t)sizeof(struct vstor_packet) : 4u;
	struct vstor_packet vp;
	struct vsc_stor_slot *sl;
	struct vsc_stor_result *r;

	if (pkt->total_len > STORVSC_MAX_PKT_SIZE)
		s->err.long_packets++;
	if (pkt->data_len < minlen) {
		s->err.short_packets++;
		return;
	}
	memset(&vp, 0, sizeof(vp));
	memcpy(&vp, pkt->data, pkt->data_len < sizeof(vp) ? pkt->data_len : sizeof(vp));

	if (pkt->trans_id == VMBUS_RQST_INIT || pkt->trans_id == VMBUS_RQST_RESET) {
		bool init = pkt->trans_id == VMBUS_RQST_INIT;

		if (!(init ? s->init_waiting : s->reset_waiting) || (init ? s->init_done : s->reset_done))
			s->err.stray_init++;
		if (init) {
			s->init_reply = vp;
			s->init_done = true;
		} else {
			s->reset_reply = vp;
			s->reset_done = true;
		}
		return;
	}
	if (pkt->trans_id == 0) {
		switch (vp.operation) {
		case VSTOR_OPERATION_COMPLETE_IO:
		case VSTOR_OPERATION_FCHBA_DATA:
			s->err.bad_id0++; /* "Invalid packet with ID of 0" */
			break;
		case VSTOR_OPERATION_ENUMERATE_BUS:
			s->enumerate_bus++; /* storvsc_host_scan() */
			break;
		case VSTOR_OPERATION_REMOVE_DEVICE:
			s->remove_device++;
			break;
		default:
			s->unsolicited_other++;
			break;
		}
		return;
	}
	sl = vsc_stor_slot_find(s, pkt->trans_id);
	if (!sl || sl->state != VSC_STOR_SLOT_INFLIGHT) {
		s->err.unknown_trans_id++; /* "Incorrect transaction ID" */
		return;
	}
	if (vp.operation != VSTOR_OPERATION_COMPLETE_IO) {
		/* storvsc_on_receive(): only COMPLETE_IO completes a request; 2/11 rescan, the rest is ignored. */
		s->err.not_complete_io++;
		if (vp.operation == VSTOR_OPERATION_ENUMERATE_BUS)
			s->enumerate_bus++;
		else if (vp.operation == VSTOR_OPERATION_REMOVE_DEVICE)
			s->remove_device++;
		return;
	}
	r = &sl->res;
	memset(r, 0, sizeof(*r));
	r->trans_id = pkt->trans_id;
	r->channel = ci;
	r->submitted_on = sl->channel;
	r->requested = sl->requested;
	r->pkt_type = pkt->type;
	r->pkt_len = pkt->total_len;
	r->operation = vp.operation;
	r->status = vp.status;
	r->srb_status = vp.u.vm_srb.srb_status;
	r->scsi_status = vp.u.vm_srb.scsi_status;
	r->sense_info_length = vp.u.vm_srb.sense_info_length;
	r->data_transfer_length = vp.u.vm_srb.data_transfer_length;
	/* storvsc_on_io_completion(): the sense counts only with CHECK CONDITION and AUTOSENSE_VALID. */
	if (r->scsi_status == 0x02 && (r->srb_status & SRB_STATUS_AUTOSENSE_VALID)) {
		uint8_t n = r->sense_info_length < STORVSC_SENSE_BUFFER_SIZE ? r->sense_info_length
									      : STORVSC_SENSE_BUFFER_SIZE;

		r->sense_valid = true;
		memcpy(r->sense, vp.u.vm_srb.u.sense_data, n);
	}
	if (ci != sl->channel)
		s->err.wrong_channel++;
	if (r->data_transfer_length > sl->requested)
		s->err.overrun++;
	sl->state = VSC_STOR_SLOT_DONE;
	s->done_q[(s->done_head + s->done_count) % VSC_STOR_MAX_INFLIGHT] = (uint16_t)(sl - s->slots);
	s->done_count++;
	s->inflight--;
	s->completed++;
}

/* Take every packet waiting on channel @ci. */
static void vsc_stor_rx(struct vsc_stor *s, unsigned ci)
{
	struct vsc_channel *ch = &s->ch[ci];
	const struct vsc_platform *plat = s->bus->plat;

	for (;;) {
		struct vsc_packet pkt;
		int ret;

		if (plat->event_test_clear && plat->event_test_clear(plat->opaque, ch->target_vp, ch->relid))
			ch->events++;
		ret = vsc_channel_recv(ch, s->rx, sizeof(s->rx), &pkt);
		if (ret == -VSC_EAGAIN)
			return;
		if (ret < 0) {
			s->err.recv_errors++;
			return;
		}
		vsc_stor_take(s, ci, &pkt);
	}
}

static void vsc_stor_rx_all(struct vsc_stor *s)
{
	for (unsigned i = 0; i < s->channel_count; i++)
		if (s->ch_open[i])
			vsc_stor_rx(s, i);
}

/* ---- control operations on the primary (init handshake, reset) ------------------------------------------ */

/* Send @pkt with the reserved id @trans_id and wait until its reply has been taken. */
static int vsc_stor_control(struct vsc_stor *s, struct vstor_packet *pkt, uint64_t trans_id)
{
	bool init = trans_id == VMBUS_RQST_INIT;
	bool *waiting = init ? &s->init_waiting : &s->reset_waiting;
	bool *done = init ? &s->init_done : &s->reset_done;
	uint64_t deadline;
	int ret;

	if (!s->ch_open[0])
		return -VSC_EPIPE;
	pkt->flags = REQUEST_COMPLETION_FLAG;
	pkt->status = 0;
	*done = false;
	*waiting = true;
	deadline = vsc_stor_deadline(s);
	for (;;) {
		ret = vsc_channel_send_inband(&s->ch[0], trans_id, pkt, sizeof(*pkt));
		if (ret != -VSC_EAGAIN)
			break;
		vsc_stor_rx_all(s);
		if (vsc_stor_now(s) > deadline)
			break;
		vsc_stor_pump(s);
	}
	if (ret) {
		*waiting = false;
		return ret;
	}
	for (;;) {
		vsc_stor_rx_all(s);
		if (*done)
			break;
		if (vsc_stor_now(s) > deadline) {
			*waiting = false;
			return -VSC_ETIMEDOUT;
		}
		vsc_stor_pump(s);
	}
	*waiting = false;
	*pkt = init ? s->init_reply : s->reset_reply;
	return 0;
}

int vsc_stor_init_op(struct vsc_stor *s, struct vstor_packet *pkt)
{
	return vsc_stor_control(s, pkt, VMBUS_RQST_INIT);
}

/* storvsc_execute_vstor_op() with the status check: 0, -VSC_EPROTO, -VSC_EIO or the transport's error. */
static int vsc_stor_init_step(struct vsc_stor *s, struct vstor_packet *pkt)
{
	int ret = vsc_stor_init_op(s, pkt);

	if (ret)
		return ret;
	if (pkt->operation != VSTOR_OPERATION_COMPLETE_IO)
		return -VSC_EPROTO;
	return pkt->status ? -VSC_EIO : 0;
}

int vsc_stor_handshake(struct vsc_stor *s)
{
	struct vstor_packet pkt;
	int ret;

	s->protocol = 0;
	memset(s->version_statuses, 0, sizeof(s->version_statuses));
	memset(&pkt, 0, sizeof(pkt));
	pkt.operation = VSTOR_OPERATION_BEGIN_INITIALIZATION;
	ret = vsc_stor_init_step(s, &pkt);
	if (ret)
		return ret;

	for (unsigned i = 0; i < s->version_count && i < VSC_STOR_MAX_VERSIONS; i++) {
		memset(&pkt, 0, sizeof(pkt));
		pkt.operation = VSTOR_OPERATION_QUERY_PROTOCOL_VERSION;
		pkt.u.version.major_minor = s->versions[i];
		pkt.u.version.revision = 0; /* only Windows uses it */
		ret = vsc_stor_init_op(s, &pkt);
		if (ret)
			return ret;
		s->version_statuses[i] = pkt.status;
		if (pkt.operation != VSTOR_OPERATION_COMPLETE_IO)
			return -VSC_EPROTO;
		if (pkt.status == 0) {
			s->protocol = s->versions[i];
			break;
		}
	}
	if (!s->protocol)
		return -VSC_ECONNREFUSED; /* "Obsolete Hyper-V version" */

	memset(&pkt, 0, sizeof(pkt));
	pkt.operation = VSTOR_OPERATION_QUERY_PROPERTIES;
	ret = vsc_stor_init_step(s, &pkt);
	if (ret)
		return ret;
	s->props = pkt.u.storage_channel_properties;
	s->max_transfer = s->props.max_transfer_bytes & ~(VSC_PAGE_SIZE - 1);
	s->multi_channel = (s->props.flags & STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL) != 0;

	memset(&pkt, 0, sizeof(pkt));
	pkt.operation = VSTOR_OPERATION_END_INITIALIZATION;
	return vsc_stor_init_step(s, &pkt);
}

int vsc_stor_create_subchannels(struct vsc_stor *s, unsigned count, unsigned vp_count)
{
	struct vsc_bus *bus = s->bus;
	struct vstor_packet pkt;
	unsigned opened = 0;
	uint64_t deadline;
	int ret;

	if (!count || count >= VSC_STOR_MAX_CHANNELS)
		return -VSC_EINVAL;
	memset(&pkt, 0, sizeof(pkt));
	pkt.operation = VSTOR_OPERATION_CREATE_SUB_CHANNELS;
	pkt.u.sub_channel_count = (uint16_t)count;
	ret = vsc_stor_init_step(s, &pkt);
	if (ret)
		return ret;
	/* The offers come as the host makes them; open each one as it arrives (handle_sc_creation()). */
	deadline = vsc_stor_deadline(s);
	while (opened < count) {
		bool progress = false;

		for (unsigned i = 0; i < bus->offer_count && opened < count; i++) {
			const struct vsc_offer *o = &bus->offers[i];
			uint16_t idx = o->msg.sub_channel_index;
			uint32_t vp;

			if (o->released || o->rescinded || o->open || idx == 0 || idx > count ||
			    memcmp(&o->msg.if_type, &vsc_stor_scsi_class, sizeof(vsc_stor_scsi_class)) ||
			    memcmp(&o->msg.if_instance, &s->instance, sizeof(s->instance)) || s->ch_open[idx])
				continue;
			vp = vp_count ? idx % vp_count : bus->vp;
			ret = vsc_channel_open(bus, &s->ch[idx], o->msg.child_relid, VSC_STOR_RING_BYTES,
					       VSC_STOR_RING_BYTES, vp);
			if (ret == -VSC_ENODEV || ret == -VSC_ENOENT)
				continue; /* a stale offer of an earlier open, rescinded meanwhile */
			if (ret)
				return ret;
			s->ch_open[idx] = true;
			if (idx + 1u > s->channel_count)
				s->channel_count = idx + 1u;
			s->subchannels++;
			opened++;
			progress = true;
		}
		if (opened == count || progress)
			continue;
		if (vsc_stor_now(s) > deadline)
			break;
		vsc_stor_pump(s);
	}
	return (int)opened;
}

int vsc_stor_close(struct vsc_stor *s)
{
	int first = 0;

	for (unsigned i = s->channel_count; i-- > 0;) {
		int ret;

		if (!s->ch_open[i])
			continue;
		ret = vsc_channel_close(&s->ch[i]);
		s->ch_open[i] = false;
		if (ret && !first)
			first = ret;
	}
	s->channel_count = 0;
	s->subchannels = 0;
	vsc_stor_requests_forget(s);
	return first;
}

void vsc_stor_forget(struct vsc_stor *s)
{
	for (unsigned i = 0; i < VSC_STOR_MAX_CHANNELS; i++) {
		s->ch_open[i] = false;
		s->ch[i].open = false;
	}
	s->channel_count = 0;
	s->subchannels = 0;
	vsc_stor_requests_forget(s);
}

int vsc_stor_reset_bus(struct vsc_stor *s, uint8_t path_id, struct vstor_packet *reply)
{
	struct vstor_packet pkt;
	int ret;

	memset(&pkt, 0, sizeof(pkt));
	pkt.operation = VSTOR_OPERATION_RESET_BUS;
	pkt.u.vm_srb.path_id = path_id;
	ret = vsc_stor_control(s, &pkt, VMBUS_RQST_RESET);
	if (!ret && reply)
		*reply = pkt;
	return ret;
}

/* ---- requests --------------------------------------------------------------------------------------------- */

int vsc_stor_submit(struct vsc_stor *s, unsigned channel, uint64_t trans_id, const struct vsc_stor_req *r)
{
	struct vstor_packet vp;
	struct vmscsi_request *srb = &vp.u.vm_srb;
	struct vsc_stor_slot *sl = NULL;
	uint32_t range_len, range_off, npfn = 0;
	bool data;
	int ret;

	if (channel >= VSC_STOR_MAX_CHANNELS || !s->ch_open[channel] || !trans_id || trans_id == VMBUS_RQST_INIT ||
	    trans_id == VMBUS_RQST_RESET || r->cdb_len > STORVSC_MAX_CMD_LEN || vsc_stor_slot_find(s, trans_id))
		return -VSC_EINVAL;
	for (unsigned i = 0; i < VSC_STOR_MAX_INFLIGHT; i++) {
		if (s->slots[i].state == VSC_STOR_SLOT_FREE) {
			sl = &s->slots[i];
			break;
		}
	}
	if (!sl)
		return -VSC_ENOSPC;

	/* The GPA-direct range: one range over the whole buffer, from its offset into the first page. */
	if (r->raw_range) {
		range_len = r->range_len;
		range_off = r->range_offset;
		npfn = r->pfn_count;
		if (npfn > VSC_STOR_MAX_PFNS)
			return -VSC_EINVAL;
	} else {
		range_len = r->len;
		range_off = (uint32_t)(r->gpa & (VSC_PAGE_SIZE - 1));
		if (r->len) {
			uint64_t pages = ((uint64_t)range_off + r->len + VSC_PAGE_SIZE - 1) / VSC_PAGE_SIZE;

			if (pages > VSC_STOR_MAX_PFNS)
				return -VSC_EINVAL;
			npfn = (uint32_t)pages;
		}
	}
	data = (r->raw_range || r->len) && !r->force_inband;

	/* storvsc_queuecommand() + storvsc_do_io(). */
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OPERATION_EXECUTE_SRB;
	vp.flags = REQUEST_COMPLETION_FLAG;
	srb->length = sizeof(struct vmscsi_request);
	srb->port_number = s->port_number;
	srb->path_id = r->path_id;
	srb->target_id = r->target_id;
	srb->lun = r->lun;
	srb->cdb_length = r->cdb_len;
	srb->sense_info_length = STORVSC_SENSE_BUFFER_SIZE;
	srb->data_in = r->data_in;
	srb->data_transfer_length = r->raw_dtl ? r->dtl : range_len;
	memcpy(srb->u.cdb, r->cdb, r->cdb_len);
	srb->time_out_value = VSC_STOR_TIMEOUT_VALUE;
	srb->srb_flags = SRB_FLAGS_DISABLE_SYNCH_TRANSFER;
	if (r->data_in == READ_TYPE)
		srb->srb_flags |= SRB_FLAGS_DATA_IN;
	else if (r->data_in == WRITE_TYPE)
		srb->srb_flags |= SRB_FLAGS_DATA_OUT;
	if (r->tagged) {
		srb->srb_flags |= SRB_FLAGS_QUEUE_ACTION_ENABLE | SRB_FLAGS_NO_QUEUE_FREEZE;
		srb->queue_tag = VSC_STOR_QUEUE_TAG_UNTAGGED;
		srb->queue_action = VSC_STOR_SIMPLE_TAG;
	}

	if (data) {
		struct vmbus_gpa_direct_header h = { .reserved = 0, .rangecount = 1 };
		uint8_t *d = s->desc;

		memcpy(d, &h, sizeof(h));
		memcpy(d + 8, &range_len, 4);
		memcpy(d + 12, &range_off, 4);
		for (uint32_t i = 0; i < npfn; i++) {
			uint64_t pfn = r->raw_range ? r->pfns[i] : (r->gpa / VSC_PAGE_SIZE) + i;

			memcpy(d + 16 + 8 * i, &pfn, 8);
		}
		ret = vsc_channel_send(&s->ch[channel], VM_PKT_DATA_USING_GPA_DIRECT,
				       VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, trans_id, d, 16 + 8 * npfn, &vp,
				       sizeof(vp));
	} else {
		ret = vsc_channel_send(&s->ch[channel], VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
				       trans_id, NULL, 0, &vp, sizeof(vp));
	}
	if (ret)
		return ret;
	sl->trans_id = trans_id;
	sl->requested = srb->data_transfer_length;
	sl->channel = (uint16_t)channel;
	sl->state = VSC_STOR_SLOT_INFLIGHT;
	s->inflight++;
	s->submitted++;
	return 0;
}

/* Hand out the oldest completed request. */
static void vsc_stor_pop(struct vsc_stor *s, unsigned k, struct vsc_stor_result *out)
{
	struct vsc_stor_slot *sl = &s->slots[s->done_q[(s->done_head + k) % VSC_STOR_MAX_INFLIGHT]];

	if (out)
		*out = sl->res;
	sl->state = VSC_STOR_SLOT_FREE;
	if (k == 0) {
		s->done_head = (s->done_head + 1) % VSC_STOR_MAX_INFLIGHT;
		s->done_count--;
	} else {
		vsc_stor_done_remove(s, k);
	}
}

int vsc_stor_poll(struct vsc_stor *s, struct vsc_stor_result *out, unsigned max)
{
	unsigned n = 0;

	vsc_stor_rx_all(s);
	while (n < max && s->done_count)
		vsc_stor_pop(s, 0, &out[n++]);
	return (int)n;
}

int vsc_stor_wait(struct vsc_stor *s, struct vsc_stor_result *out, unsigned max, uint32_t timeout_ms)
{
	uint64_t deadline = timeout_ms ? vsc_stor_now(s) + timeout_ms : vsc_stor_deadline(s);

	for (;;) {
		int n = vsc_stor_poll(s, out, max);

		if (n > 0 || !max)
			return n;
		if (vsc_stor_now(s) > deadline)
			return -VSC_ETIMEDOUT;
		vsc_stor_pump(s);
	}
}

int vsc_stor_execute_on(struct vsc_stor *s, unsigned channel, const struct vsc_stor_req *r,
			struct vsc_stor_result *res)
{
	uint64_t deadline = vsc_stor_deadline(s);
	uint64_t id;
	int ret;

	/* A fresh id: Linux's are tag + 1; here a counter that skips ids in use and the reserved ones. */
	do {
		id = s->next_trans_id++;
		if (s->next_trans_id >= VMBUS_RQST_RESET)
			s->next_trans_id = 1;
	} while (!id || vsc_stor_slot_find(s, id));
	for (;;) {
		ret = vsc_stor_submit(s, channel, id, r);
		if (ret != -VSC_EAGAIN)
			break;
		vsc_stor_rx_all(s);
		if (vsc_stor_now(s) > deadline)
			return ret;
		vsc_stor_pump(s);
	}
	if (ret)
		return ret;
	for (;;) {
		vsc_stor_rx_all(s);
		for (unsigned k = 0; k < s->done_count; k++) {
			if (s->slots[s->done_q[(s->done_head + k) % VSC_STOR_MAX_INFLIGHT]].trans_id == id) {
				vsc_stor_pop(s, k, res);
				return 0;
			}
		}
		if (vsc_stor_now(s) > deadline)
			return -VSC_ETIMEDOUT;
		vsc_stor_pump(s);
	}
}

/* ---- CDB builders ------------------------------------------------------------------------------------------- */

static void vsc_scsi_cdb(struct vsc_stor_req *r, uint8_t opcode, uint8_t len, uint8_t dir)
{
	memset(r->cdb, 0, sizeof(r->cdb));
	r->cdb[0] = opcode;
	r->cdb_len = len;
	r->data_in = dir;
}

void vsc_scsi_inquiry(struct vsc_stor_req *r, bool evpd, uint8_t page, uint16_t alloc_len)
{
	vsc_scsi_cdb(r, 0x12, 6, READ_TYPE);
	r->cdb[1] = evpd ? 1 : 0;
	r->cdb[2] = page;
	wr_be16(r->cdb + 3, alloc_len);
}

void vsc_scsi_report_luns(struct vsc_stor_req *r, uint8_t select_report, uint32_t alloc_len)
{
	vsc_scsi_cdb(r, 0xA0, 12, READ_TYPE);
	r->cdb[2] = select_report;
	wr_be32(r->cdb + 6, alloc_len);
}

void vsc_scsi_test_unit_ready(struct vsc_stor_req *r)
{
	vsc_scsi_cdb(r, 0x00, 6, UNKNOWN_TYPE);
}

void vsc_scsi_read_capacity10(struct vsc_stor_req *r)
{
	vsc_scsi_cdb(r, 0x25, 10, READ_TYPE);
}

void vsc_scsi_read_capacity16(struct vsc_stor_req *r, uint32_t alloc_len)
{
	vsc_scsi_cdb(r, 0x9E, 16, READ_TYPE);
	r->cdb[1] = 0x10; /* SERVICE ACTION IN(16) / READ CAPACITY(16) */
	wr_be32(r->cdb + 10, alloc_len);
}

void vsc_scsi_mode_sense6(struct vsc_stor_req *r, bool dbd, uint8_t pc, uint8_t page, uint8_t alloc_len)
{
	vsc_scsi_cdb(r, 0x1A, 6, READ_TYPE);
	r->cdb[1] = dbd ? 0x08 : 0;
	r->cdb[2] = (uint8_t)((pc & 3) << 6 | (page & 0x3F));
	r->cdb[4] = alloc_len;
}

void vsc_scsi_mode_sense10(struct vsc_stor_req *r, bool dbd, uint8_t pc, uint8_t page, uint16_t alloc_len)
{
	vsc_scsi_cdb(r, 0x5A, 10, READ_TYPE);
	r->cdb[1] = dbd ? 0x08 : 0;
	r->cdb[2] = (uint8_t)((pc & 3) << 6 | (page & 0x3F));
	wr_be16(r->cdb + 7, alloc_len);
}

void vsc_scsi_rw(struct vsc_stor_req *r, unsigned cdb_len, bool write, uint64_t lba, uint32_t blocks, bool fua)
{
	uint8_t dir = write ? WRITE_TYPE : READ_TYPE;

	switch (cdb_len) {
	case 6:
		vsc_scsi_cdb(r, write ? 0x0A : 0x08, 6, dir);
		r->cdb[1] = (uint8_t)((lba >> 16) & 0x1F);
		r->cdb[2] = (uint8_t)(lba >> 8);
		r->cdb[3] = (uint8_t)lba;
		r->cdb[4] = (uint8_t)blocks;
		break;
	case 16:
		vsc_scsi_cdb(r, write ? 0x8A : 0x88, 16, dir);
		r->cdb[1] = fua ? 0x08 : 0;
		wr_be64(r->cdb + 2, lba);
		wr_be32(r->cdb + 10, blocks);
		break;
	default:
		vsc_scsi_cdb(r, write ? 0x2A : 0x28, 10, dir);
		r->cdb[1] = fua ? 0x08 : 0;
		wr_be32(r->cdb + 2, (uint32_t)lba);
		wr_be16(r->cdb + 7, (uint16_t)blocks);
		break;
	}
}

void vsc_scsi_sync_cache10(struct vsc_stor_req *r, uint32_t lba, uint16_t blocks)
{
	vsc_scsi_cdb(r, 0x35, 10, UNKNOWN_TYPE);
	wr_be32(r->cdb + 2, lba);
	wr_be16(r->cdb + 7, blocks);
}

void vsc_scsi_sync_cache16(struct vsc_stor_req *r, uint64_t lba, uint32_t blocks)
{
	vsc_scsi_cdb(r, 0x91, 16, UNKNOWN_TYPE);
	wr_be64(r->cdb + 2, lba);
	wr_be32(r->cdb + 10, blocks);
}

void vsc_scsi_unmap(struct vsc_stor_req *r, uint16_t param_len)
{
	vsc_scsi_cdb(r, 0x42, 10, WRITE_TYPE);
	wr_be16(r->cdb + 7, param_len);
}

uint32_t vsc_scsi_unmap_param(uint8_t *buf, uint64_t lba, uint32_t blocks)
{
	memset(buf, 0, 24);
	wr_be16(buf, 22);     /* UNMAP data length: the bytes after this field */
	wr_be16(buf + 2, 16); /* block descriptor data length */
	wr_be64(buf + 8, lba);
	wr_be32(buf + 16, blocks);
	return 24;
}

void vsc_scsi_write_same16(struct vsc_stor_req *r, uint64_t lba, uint32_t blocks, bool unmap)
{
	vsc_scsi_cdb(r, 0x93, 16, WRITE_TYPE);
	r->cdb[1] = unmap ? 0x08 : 0;
	wr_be64(r->cdb + 2, lba);
	wr_be32(r->cdb + 10, blocks);
}

void vsc_scsi_start_stop(struct vsc_stor_req *r, bool start, bool loej, bool immed)
{
	vsc_scsi_cdb(r, 0x1B, 6, UNKNOWN_TYPE);
	r->cdb[1] = immed ? 1 : 0;
	r->cdb[4] = (uint8_t)((loej ? 2 : 0) | (start ? 1 : 0));
}
