// SPDX-License-Identifier: MIT
/*
 * hv/synic.c - the synthetic interrupt controller (TLFS 11 "Virtual Interrupt Controller", 11.8 SynIC MSRs, 11.9
 * "SynIC message flags and EOM"), per VP: SCONTROL, SIMP (message page), SIEFP (event-flags page), SINT0-15, EOM,
 * and the host side of message delivery.
 *
 * Message slots live in guest memory, which the guest changes under us. The delivery protocol (guest-core.md 3.3):
 * a message goes into slot N of the VP's SIM page only while the slot's message_type is HVMSG_NONE, bytes first and
 * message_type last (release). If the slot is busy the message waits in a host queue and MessagePending is set in
 * the busy slot; the guest clears message_type, then reads MessagePending and writes EOM, and EOM makes the host
 * try again. Host posts run on any thread, so "set MessagePending" is an atomic OR followed by a full fence and a
 * re-read of message_type: if the guest freed the slot in between, the host delivers at once instead of waiting
 * for an EOM that the guest (which may have read MessagePending before we set it) will never send.
 */
#define _GNU_SOURCE
#define LOG_TAG "hv"
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hv/internal.h"
#include "lib/log.h"

void hvi_synic_vp_reset(struct hvi_vp *vp)
{
	vp->scontrol = 0;
	vp->simp = vp->siefp = 0;
	for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++) {
		vp->sint[i] = HV_SYNIC_SINT_MASKED;
		vp->queue[i].head = vp->queue[i].count = 0;
	}
}

void hvi_synic_vp_free(struct hvi_vp *vp)
{
	for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++) {
		free(vp->queue[i].ring);
		vp->queue[i].ring = NULL;
		vp->queue[i].count = 0;
	}
}

static bool hvi_synic_msg_enabled(const struct hvi_vp *vp)
{
	return (vp->scontrol & HV_SYNIC_CONTROL_ENABLE) && (vp->simp & HV_SYNIC_SIMP_ENABLE);
}

void hvi_synic_raise(struct hvi_vp *vp, unsigned sint)
{
	uint64_t s = vp->sint[sint];

	if ((s & HV_SYNIC_SINT_MASKED) || !(vp->scontrol & HV_SYNIC_CONTROL_ENABLE))
		return;
	hvi_interrupt(vp->hv, vp->index, (uint8_t)(s & HV_SYNIC_SINT_VECTOR_MASK));
}

/*
 * Try to write @msg into slot @sint. 0 when written; -EBUSY when the slot holds an unconsumed message (then
 * MessagePending is set in it); -ENXIO when the message page is off or not RAM.
 */
static int hvi_synic_slot_write(struct hvi_vp *vp, unsigned sint, const struct hv_message *msg)
{
	struct hv_message *slot;

	if (!hvi_synic_msg_enabled(vp))
		return -ENXIO;
	slot = vid_memory_ptr(vp->hv->mem, (vp->simp & HV_PAGE_ADDRESS_MASK) + sint * HV_MESSAGE_SIZE,
			      HV_MESSAGE_SIZE);
	if (!slot)
		return -ENXIO;
	if (__atomic_load_n(&slot->header.message_type, __ATOMIC_ACQUIRE) != HVMSG_NONE) {
		__atomic_fetch_or(&slot->header.message_flags, HV_MESSAGE_FLAG_PENDING, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&slot->header.message_type, __ATOMIC_SEQ_CST) != HVMSG_NONE)
			return -EBUSY;
	}
	/* Everything after message_type first, then message_type (release): the guest looks at the type only. */
	memcpy((uint8_t *)slot + sizeof(uint32_t), (const uint8_t *)msg + sizeof(uint32_t),
	       HV_MESSAGE_SIZE - sizeof(uint32_t));
	__atomic_store_n(&slot->header.message_type, msg->header.message_type, __ATOMIC_RELEASE);
	return 0;
}

/* Deliver queued messages of @sint while the slot takes them (at most one, as a delivered message fills it). */
static void hvi_synic_flush(struct hvi_vp *vp, unsigned sint)
{
	struct hvi_sint_queue *q = &vp->queue[sint];

	while (q->count) {
		struct hvi_queued_message *e = &q->ring[q->head];
		int ret;

		if (q->count > 1)
			e->msg.header.message_flags |= HV_MESSAGE_FLAG_PENDING;
		else
			e->msg.header.message_flags &= (uint8_t)~HV_MESSAGE_FLAG_PENDING;
		ret = hvi_synic_slot_write(vp, sint, &e->msg);
		if (ret < 0)
			break;
		q->head = (q->head + 1) % HVI_SINT_QUEUE_DEPTH;
		q->count--;
		atomic_fetch_add(&vp->hv->stats.messages_delivered, 1);
		if (e->stimer >= 0)
			hvi_stimer_message_done(vp, e->stimer);
		hvi_synic_raise(vp, sint);
	}
}

/*
 * The guest turned its SynIC or message page off (kexec, hibernation, CPU offline): messages still queued for the
 * old pages are dropped, so a new kernel's freshly zeroed page does not receive stale ones (guest-core.md 8.2).
 */
static void hvi_synic_drop_queued(struct hvi_vp *vp)
{
	for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++) {
		struct hvi_sint_queue *q = &vp->queue[i];

		while (q->count) {
			int8_t stimer = q->ring[q->head].stimer;

			q->head = (q->head + 1) % HVI_SINT_QUEUE_DEPTH;
			q->count--;
			if (stimer >= 0)
				hvi_stimer_message_done(vp, stimer);
		}
	}
}

static void hvi_synic_flush_all(struct hvi_vp *vp)
{
	for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++) {
		if (vp->queue[i].count)
			hvi_synic_flush(vp, i);
	}
}

bool hvi_synic_rescan(struct hvi_vp *vp)
{
	bool waiting = false;

	hvi_synic_flush_all(vp);
	for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++)
		waiting |= vp->queue[i].count != 0;
	return waiting;
}

int hvi_synic_post_locked(struct hvi_vp *vp, unsigned sint, const struct hv_message *msg, int stimer)
{
	struct hvi_sint_queue *q = &vp->queue[sint];
	struct hvi_queued_message *e;

	if (!hvi_synic_msg_enabled(vp))
		return -ENXIO;
	if (q->count == 0) {
		struct hv_message m = *msg;
		int ret;

		m.header.message_flags = 0;
		ret = hvi_synic_slot_write(vp, sint, &m);
		if (ret == 0) {
			atomic_fetch_add(&vp->hv->stats.messages_delivered, 1);
			if (stimer >= 0)
				hvi_stimer_message_done(vp, stimer);
			hvi_synic_raise(vp, sint);
			return 0;
		}
		if (ret != -EBUSY)
			return ret;
	}
	if (q->count >= HVI_SINT_QUEUE_DEPTH)
		return -ENOBUFS;
	if (!q->ring) {
		q->ring = calloc(HVI_SINT_QUEUE_DEPTH, sizeof(*q->ring));
		if (!q->ring)
			return -ENOMEM;
	}
	e = &q->ring[(q->head + q->count) % HVI_SINT_QUEUE_DEPTH];
	e->msg = *msg;
	e->stimer = (int8_t)stimer;
	q->count++;
	atomic_fetch_add(&vp->hv->stats.messages_queued, 1);
	/* The slot may have been freed since we looked (and its MessagePending missed): try once more. */
	hvi_synic_flush(vp, sint);
	return 0;
}

int hvi_synic_post_message(struct hvi_partition *hv, uint32_t vp_index, uint8_t sint, uint32_t message_type,
			   const void *payload, uint32_t size)
{
	struct hv_message msg;
	struct hvi_vp *vp;
	int ret;

	if (!hv || vp_index >= hv->vp_count || sint >= HV_SYNIC_SINT_COUNT || message_type == HVMSG_NONE ||
	    size > HV_MESSAGE_PAYLOAD_BYTE_COUNT || (size && !payload))
		return -EINVAL;
	memset(&msg, 0, sizeof(msg));
	msg.header.message_type = message_type;
	msg.header.payload_size = (uint8_t)size;
	if (size)
		memcpy(msg.payload, payload, size);
	vp = &hv->vps[vp_index];
	pthread_mutex_lock(&vp->lock);
	ret = hvi_synic_post_locked(vp, sint, &msg, -1);
	pthread_mutex_unlock(&vp->lock);
	return ret;
}

int hvi_synic_signal_event(struct hvi_partition *hv, uint32_t vp_index, uint8_t sint, uint32_t flag)
{
	struct hvi_vp *vp;
	uint64_t *word, bit, old;
	int ret = 0;

	if (!hv || vp_index >= hv->vp_count || sint >= HV_SYNIC_SINT_COUNT || flag >= HV_EVENT_FLAGS_COUNT)
		return -EINVAL;
	vp = &hv->vps[vp_index];
	pthread_mutex_lock(&vp->lock);
	if (!(vp->scontrol & HV_SYNIC_CONTROL_ENABLE) || !(vp->siefp & HV_SYNIC_SIEFP_ENABLE)) {
		ret = -ENXIO;
		goto out;
	}
	/* Flag k of SINT n: bit k % 64 of the 64-bit word k / 64 of the SINT's 256-byte bitmap (LSB first). */
	word = vid_memory_ptr(hv->mem, (vp->siefp & HV_PAGE_ADDRESS_MASK) + sint * HV_SYNIC_EVENT_FLAGS_BYTES +
			      (flag / 64) * 8, sizeof(uint64_t));
	if (!word) {
		ret = -ENXIO;
		goto out;
	}
	bit = 1ull << (flag % 64);
	old = __atomic_fetch_or(word, bit, __ATOMIC_SEQ_CST);
	if (!(old & bit)) {
		atomic_fetch_add(&hv->stats.events_signalled, 1);
		hvi_synic_raise(vp, sint);
	}
out:
	pthread_mutex_unlock(&vp->lock);
	return ret;
}

/* Enable-bit page MSRs (SIMP, SIEFP): the page must be RAM; it is zeroed on enable, as KVM does (a page left
 * over from before a kexec must not look like pending messages). */
static int hvi_synic_page_msr(struct hvi_vp *vp, uint64_t *reg, uint64_t value, const char *name)
{
	if (value & 1) {
		void *p = vid_memory_ptr(vp->hv->mem, value & HV_PAGE_ADDRESS_MASK, VID_PAGE_SIZE);

		if (!p) {
			log_guest("VP%u: %s page 0x%" PRIx64 " is not RAM", vp->index, name, value & HV_PAGE_ADDRESS_MASK);
			return -EPERM;
		}
		memset(p, 0, VID_PAGE_SIZE);
	}
	*reg = value;
	return 0;
}

int hvi_synic_msr(struct hvi_vp *vp, uint32_t index, bool is_write, uint64_t *value)
{
	int ret = 0;

	pthread_mutex_lock(&vp->lock);
	switch (index) {
	case HV_X64_MSR_SCONTROL:
		if (is_write) {
			vp->scontrol = *value;
			if (!(*value & HV_SYNIC_CONTROL_ENABLE))
				hvi_synic_drop_queued(vp);
			hvi_synic_flush_all(vp);
		} else {
			*value = vp->scontrol;
		}
		break;
	case HV_X64_MSR_SVERSION:
		if (is_write)
			ret = -EPERM;
		else
			*value = HV_SYNIC_VERSION_1;
		break;
	case HV_X64_MSR_SIEFP:
		if (is_write)
			ret = hvi_synic_page_msr(vp, &vp->siefp, *value, "SIEFP");
		else
			*value = vp->siefp;
		break;
	case HV_X64_MSR_SIMP:
		if (is_write) {
			ret = hvi_synic_page_msr(vp, &vp->simp, *value, "SIMP");
			if (!ret && !(*value & HV_SYNIC_SIMP_ENABLE))
				hvi_synic_drop_queued(vp);
			if (!ret)
				hvi_synic_flush_all(vp);
		} else {
			*value = vp->simp;
		}
		break;
	case HV_X64_MSR_EOM:
		if (is_write) {
			atomic_fetch_add(&vp->hv->stats.eoms, 1);
			hvi_synic_flush_all(vp);
		} else {
			*value = 0;
		}
		break;
	default: {
		unsigned n = index - HV_X64_MSR_SINT0;

		if (index < HV_X64_MSR_SINT0 || index > HV_X64_MSR_SINT15) {
			ret = -EPERM;
			break;
		}
		if (!is_write) {
			*value = vp->sint[n];
			break;
		}
		/* TLFS 11.8.4: vectors 0-15 are invalid for an unmasked SINT. Bits above 18 are reserved. */
		if (!(*value & HV_SYNIC_SINT_MASKED) && (*value & HV_SYNIC_SINT_VECTOR_MASK) < HV_SYNIC_FIRST_VALID_VECTOR) {
			log_guest("VP%u: SINT%u with vector %u", vp->index, n, (unsigned)(*value & 0xff));
			ret = -EPERM;
			break;
		}
		if ((*value & HV_SYNIC_SINT_AUTO_EOI) && !(*value & HV_SYNIC_SINT_MASKED))
			log_guest("VP%u: SINT%u asks for auto-EOI, which this host cannot do (CPUID hint "
				  "HV_DEPRECATING_AEOI_RECOMMENDED says so): the guest must EOI", vp->index, n);
		{
			bool was_masked = vp->sint[n] & HV_SYNIC_SINT_MASKED;

			vp->sint[n] = *value;
			if (was_masked && !(*value & HV_SYNIC_SINT_MASKED)) {
				hvi_synic_flush(vp, n);
				/* A message written while the SINT was masked is announced now. */
				if (hvi_synic_msg_enabled(vp)) {
					struct hv_message_header h;

					if (vid_memory_read(vp->hv->mem, (vp->simp & HV_PAGE_ADDRESS_MASK) +
							    n * HV_MESSAGE_SIZE, &h, sizeof(h)) == 0 &&
					    h.message_type != HVMSG_NONE)
						hvi_synic_raise(vp, n);
				}
			}
		}
		break;
	}
	}
	pthread_mutex_unlock(&vp->lock);
	return ret;
}
