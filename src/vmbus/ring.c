// SPDX-License-Identifier: MIT
/*
 * vmbus/ring.c - the host ends of a channel's two rings (guest-core.md 5.6-5.7; the guest side is Linux 6.1
 * drivers/hv/ring_buffer.c): mapping the ring GPADL's pages, taking packets from the guest -> host ring, writing
 * packets into the host -> guest ring, and the signalling rules of both directions.
 *
 * Mapping: the pages of one ring are mapped from the guest RAM memfd into one private range, header first, then
 * the data pages twice in a row, as Linux maps them in the guest. A packet that wraps around the end of the data
 * area is then contiguous, so reading and writing are single memcpys.
 *
 * Trust: the host keeps its own cursor for the index it owns and only ever stores it into the header; the index
 * it reads (the guest's) is loaded once, checked (below the data size, 8-byte aligned) and then used. A packet's
 * descriptor is copied out before it is checked. Anything inconsistent stops the channel (vmbus_channel_break).
 */
#define _GNU_SOURCE
#define LOG_TAG "vmbus"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/hv.h"
#include "lib/log.h"
#include "vid/memory.h"
#include "vmbus/internal.h"

/* ---- mapping ------------------------------------------------------------------------------------------- */

/*
 * Map @n guest pages from @pfn (consecutive frames in one RAM region) at @at (fixed): one mmap. 0, -EFAULT when
 * they are not all RAM of one region, -ENOSPC past the server's budget of ring mappings.
 */
static int vmbus_pages_map(struct vmbus_server *srv, uint64_t pfn, uint32_t n, uint8_t *at, unsigned *maps)
{
	uint64_t gpa = pfn * VID_PAGE_SIZE, len = (uint64_t)n * VID_PAGE_SIZE;

	if (pfn > (UINT64_MAX / VID_PAGE_SIZE) - n)
		return -EFAULT;
	if (srv->ring_maps + *maps >= VMBUS_RING_MAPS_MAX)
		return -ENOSPC;
	for (unsigned i = 0; i < vid_memory_region_count(srv->mem); i++) {
		const struct vid_memory_region *r = vid_memory_region(srv->mem, i);

		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa)) {
			void *p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, vid_memory_fd(srv->mem),
				       (off_t)(r->fd_offset + (gpa - r->gpa)));

			if (p == MAP_FAILED)
				return -EFAULT;
			(*maps)++;
			return 0;
		}
	}
	return -EFAULT;
}

/* Map @pages frames of @pfns at @at, one mmap per run of consecutive frames (a Linux ring is one run). */
static int vmbus_pfns_map(struct vmbus_server *srv, const uint64_t *pfns, uint32_t pages, uint8_t *at,
			  unsigned *maps)
{
	for (uint32_t i = 0; i < pages;) {
		uint32_t run = 1;
		int ret;

		while (i + run < pages && pfns[i + run] == pfns[i] + run)
			run++;
		ret = vmbus_pages_map(srv, pfns[i], run, at + (size_t)i * VID_PAGE_SIZE, maps);
		if (ret) {
			/* a run that spans two regions: map it page by page */
			if (ret != -EFAULT || run == 1)
				return ret;
			for (uint32_t k = 0; k < run; k++) {
				ret = vmbus_pages_map(srv, pfns[i + k], 1, at + (size_t)(i + k) * VID_PAGE_SIZE, maps);
				if (ret)
					return ret;
			}
		}
		i += run;
	}
	return 0;
}

int vmbus_ring_map(struct vmbus_server *srv, const uint64_t *pfns, uint32_t pages, struct vmbus_ring *r)
{
	uint32_t data_pages;
	unsigned maps = 0;
	size_t len;
	uint8_t *map;
	int ret;

	memset(r, 0, sizeof(*r));
	if (pages < 2 || pages > VMBUS_RING_MAX_PAGES)
		return -EINVAL;
	data_pages = pages - 1;
	len = (size_t)(1 + 2 * data_pages) * VID_PAGE_SIZE;
	map = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return -ENOMEM;
	/* header, data, data again */
	ret = vmbus_pfns_map(srv, pfns, pages, map, &maps);
	if (!ret)
		ret = vmbus_pfns_map(srv, pfns + 1, data_pages, map + (size_t)pages * VID_PAGE_SIZE, &maps);
	if (ret) {
		munmap(map, len);
		return ret;
	}
	srv->ring_maps += maps;
	r->maps = maps;
	r->map = map;
	r->map_len = len;
	r->hdr = (struct hv_ring_buffer *)map;
	r->data = map + VID_PAGE_SIZE;
	r->size = data_pages * (uint32_t)VID_PAGE_SIZE;
	return 0;
}

void vmbus_ring_unmap(struct vmbus_server *srv, struct vmbus_ring *r)
{
	if (r->map) {
		munmap(r->map, r->map_len);
		srv->ring_maps -= r->maps;
	}
	memset(r, 0, sizeof(*r));
}

/* Bytes used between a read and a write index of a ring of @size data bytes. */
static inline uint32_t vmbus_ring_used(uint32_t read, uint32_t write, uint32_t size)
{
	return write >= read ? write - read : size - (read - write);
}

/* An index the guest wrote: usable if below the data size and 8-byte aligned. */
static inline bool vmbus_ring_index_ok(uint32_t v, uint32_t size)
{
	return v < size && !(v & 7);
}

bool vmbus_ring_in_empty(const struct vmbus_ring *r)
{
	return __atomic_load_n(&r->hdr->write_index, __ATOMIC_ACQUIRE) == r->cursor;
}

/* ---- signalling ------------------------------------------------------------------------------------------ */

void vmbus_channel_signal_guest(struct vmbus_channel *ch)
{
	struct vmbus_server *srv = ch->srv;
	int ret;

	if (ch->opening) {
		ch->signal_deferred = true;
		return;
	}
	ret = hvi_synic_signal_event(srv->hv, ch->target_vp, srv->msg_sint, ch->relid);
	if (ret < 0)
		log_guest("%s: cannot signal VP %u: %s", ch->name, ch->target_vp, strerror(-ret));
	else
		atomic_fetch_add(&srv->stats.host_signals, 1);
}

void vmbus_channel_break(struct vmbus_channel *ch, const char *why)
{
	if (ch->broken)
		return;
	log_guest("%s (relid %u): %s: channel stopped until the guest closes it", ch->name, ch->relid, why);
	ch->broken = true;
	atomic_fetch_add(&ch->srv->stats.channels_broken, 1);
	vmbus_loop_unwatch(ch->srv, &ch->watch);
}

/* ---- guest -> host ----------------------------------------------------------------------------------------- */

int vmbus_channel_recv(struct vmbus_channel *ch, void *buf, size_t cap, struct vmbus_packet *pkt)
{
	struct vmbus_ring *r = &ch->in;
	struct vmpacket_descriptor d;
	uint32_t wr, used, len, off;

	if (!ch->open || ch->broken)
		return -EPIPE;
	if ((uintptr_t)buf & 7)
		return -EINVAL;
	if (!ch->recv_budget) {
		/* This round's share is used up: look empty now, and come back in the next round. */
		if (!ch->budget_kicked) {
			uint64_t one = 1;

			ch->budget_kicked = true;
			if (write(ch->event_fd, &one, sizeof(one)) < 0)
				log_warn("%s: eventfd: %s", ch->name, strerror(errno));
		}
		return -EAGAIN;
	}
	wr = __atomic_load_n(&r->hdr->write_index, __ATOMIC_ACQUIRE);
	if (!vmbus_ring_index_ok(wr, r->size)) {
		vmbus_channel_break(ch, "incoming write_index out of range");
		return -EPIPE;
	}
	if (wr == r->cursor)
		return -EAGAIN;
	used = vmbus_ring_used(r->cursor, wr, r->size);
	if (used < sizeof(d) + VMBUS_PACKET_TRAILER_BYTES) {
		vmbus_channel_break(ch, "incoming ring holds a truncated packet");
		return -EPIPE;
	}
	memcpy(&d, r->data + r->cursor, sizeof(d));
	len = (uint32_t)d.len8 * 8;
	off = (uint32_t)d.offset8 * 8;
	if (len < sizeof(d) || off < sizeof(d) || off > len || len + VMBUS_PACKET_TRAILER_BYTES > used) {
		vmbus_channel_break(ch, "incoming packet with bad offset8/len8");
		return -EPIPE;
	}
	if (len > cap) {
		/* Skipped, but described: the VSP can still answer its trans_id with an error. */
		*pkt = (struct vmbus_packet){ .type = d.type, .flags = d.flags, .trans_id = d.trans_id };
	} else {
		memcpy(buf, r->data + r->cursor, len);
		/* Describe the copy, from the copy's own descriptor (the guest may change the ring meanwhile). */
		memcpy(&d, buf, sizeof(d));
		pkt->type = d.type;
		pkt->flags = d.flags;
		pkt->trans_id = d.trans_id;
		pkt->desc = (const uint8_t *)buf + sizeof(d);
		pkt->desc_len = off - (uint32_t)sizeof(d);
		pkt->data = (const uint8_t *)buf + off;
		pkt->data_len = len - off;
	}
	r->cursor = (r->cursor + len + VMBUS_PACKET_TRAILER_BYTES) % r->size;
	ch->recv_budget--;
	/* Show the guest the space in batches (the header line is shared with its write index), and always once
	 * the ring is empty, so a VSP that drains everything leaves nothing unpublished. */
	if (++r->unpublished >= VMBUS_PUBLISH_BATCH || r->cursor == wr)
		vmbus_ring_in_publish(ch);
	return len <= cap ? (int)len : -EMSGSIZE;
}

void vmbus_ring_in_publish(struct vmbus_channel *ch)
{
	struct vmbus_ring *r = &ch->in;
	uint32_t pending, write, old_free, new_free;

	if (!r->unpublished)
		return;
	r->unpublished = 0;
	__atomic_store_n(&r->hdr->read_index, r->cursor, __ATOMIC_RELEASE);
	/*
	 * A guest that waits for room (pending_send_sz on its outgoing ring, when it announced the feature) is
	 * signalled once the free space crosses what it asked for (Linux hv_pkt_iter_close, mirrored).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	pending = __atomic_load_n(&r->hdr->pending_send_sz, __ATOMIC_RELAXED);
	if (pending && (__atomic_load_n(&r->hdr->feature_bits, __ATOMIC_RELAXED) & VMBUS_RING_FEAT_PENDING_SEND_SZ)) {
		write = __atomic_load_n(&r->hdr->write_index, __ATOMIC_ACQUIRE);
		if (!vmbus_ring_index_ok(write, r->size))
			return; /* the next recv stops the channel */
		old_free = r->size - vmbus_ring_used(r->published, write, r->size);
		new_free = r->size - vmbus_ring_used(r->cursor, write, r->size);
		if (old_free <= pending && new_free > pending)
			vmbus_channel_signal_guest(ch);
	}
	r->published = r->cursor;
}

/* ---- host -> guest ------------------------------------------------------------------------------------------ */

int vmbus_channel_send(struct vmbus_channel *ch, uint16_t type, uint16_t flags, uint64_t trans_id, const void *desc,
		       uint32_t desc_len, const void *data, uint32_t len)
{
	struct vmbus_ring *r = &ch->out;
	struct vmpacket_descriptor d;
	uint32_t off, total, read, free_bytes, old;
	uint64_t trailer;
	uint8_t *p;

	if (!ch->open || ch->broken)
		return -EPIPE;
	if (desc_len > UINT16_MAX * 8u || len > r->size)
		return -EMSGSIZE;
	off = (uint32_t)sizeof(d) + ((desc_len + 7) & ~7u);
	total = off + ((len + 7) & ~7u);
	if (total > UINT16_MAX * 8u || total > (ch->cfg.max_packet_bytes ? ch->cfg.max_packet_bytes : 4096u) ||
	    total + VMBUS_PACKET_TRAILER_BYTES >= r->size)
		return -EMSGSIZE;
	read = __atomic_load_n(&r->hdr->read_index, __ATOMIC_ACQUIRE);
	if (!vmbus_ring_index_ok(read, r->size)) {
		vmbus_channel_break(ch, "outgoing read_index out of range");
		return -EPIPE;
	}
	free_bytes = r->size - vmbus_ring_used(read, r->cursor, r->size);
	if (total + VMBUS_PACKET_TRAILER_BYTES >= free_bytes) {
		/* Ask the guest to signal once it has read enough, then look again (it may have read meanwhile). */
		__atomic_store_n(&r->hdr->pending_send_sz, total + VMBUS_PACKET_TRAILER_BYTES, __ATOMIC_RELAXED);
		ch->pending_space = true;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		read = __atomic_load_n(&r->hdr->read_index, __ATOMIC_ACQUIRE);
		if (!vmbus_ring_index_ok(read, r->size)) {
			vmbus_channel_break(ch, "outgoing read_index out of range");
			return -EPIPE;
		}
		free_bytes = r->size - vmbus_ring_used(read, r->cursor, r->size);
		if (total + VMBUS_PACKET_TRAILER_BYTES >= free_bytes)
			return -EAGAIN;
	}
	if (ch->pending_space) {
		__atomic_store_n(&r->hdr->pending_send_sz, 0, __ATOMIC_RELAXED);
		ch->pending_space = false;
	}

	/* The data area is mapped twice in a row: the packet is contiguous at data + cursor even when it wraps. */
	d = (struct vmpacket_descriptor){ .type = type, .offset8 = (uint16_t)(off / 8), .len8 = (uint16_t)(total / 8),
					  .flags = flags, .trans_id = trans_id };
	p = r->data + r->cursor;
	memcpy(p, &d, sizeof(d));
	if (desc_len)
		memcpy(p + sizeof(d), desc, desc_len);
	memset(p + sizeof(d) + desc_len, 0, off - sizeof(d) - desc_len);
	if (len)
		memcpy(p + off, data, len);
	memset(p + off + len, 0, total - off - len);
	old = r->cursor;
	trailer = (uint64_t)old << 32;
	memcpy(p + total, &trailer, sizeof(trailer));
	r->cursor = (old + total + VMBUS_PACKET_TRAILER_BYTES) % r->size;
	__atomic_store_n(&r->hdr->write_index, r->cursor, __ATOMIC_RELEASE);

	/* Signal unless the guest masks interrupts or still had unread packets (Linux hv_signal_on_write). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&r->hdr->interrupt_mask, __ATOMIC_RELAXED) &&
	    __atomic_load_n(&r->hdr->read_index, __ATOMIC_ACQUIRE) == old)
		vmbus_channel_signal_guest(ch);
	return 0;
}

int vmbus_channel_send_inband(struct vmbus_channel *ch, uint64_t trans_id, const void *data, uint32_t len,
			      bool completion_requested)
{
	return vmbus_channel_send(ch, VM_PKT_DATA_INBAND,
				  completion_requested ? VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED : 0, trans_id, NULL,
				  0, data, len);
}

int vmbus_channel_send_completion(struct vmbus_channel *ch, uint64_t trans_id, const void *data, uint32_t len)
{
	return vmbus_channel_send(ch, VM_PKT_COMP, 0, trans_id, NULL, 0, data, len);
}

/* ---- GPA-direct descriptors ----------------------------------------------------------------------------------- */

/* Check the range at @off of @pkt's descriptor; its size in bytes (> 0), or 0 if malformed. */
static uint32_t vmbus_gpa_range_check(const struct vmbus_packet *pkt, uint32_t off, struct vmbus_gpa_range *out)
{
	struct gpa_range g;
	uint32_t pfns;
	uint64_t span;

	if (off > pkt->desc_len || pkt->desc_len - off < sizeof(g))
		return 0;
	memcpy(&g, pkt->desc + off, sizeof(g));
	if (g.byte_count == 0 || g.byte_offset >= VID_PAGE_SIZE)
		return 0;
	span = (uint64_t)g.byte_offset + g.byte_count;
	pfns = (uint32_t)((span + VID_PAGE_SIZE - 1) / VID_PAGE_SIZE);
	if ((pkt->desc_len - off - sizeof(g)) / 8 < pfns)
		return 0;
	if (out)
		*out = (struct vmbus_gpa_range){ .byte_count = g.byte_count, .byte_offset = g.byte_offset,
						 .pfn_count = pfns,
						 .pfns = (const uint64_t *)(const void *)(pkt->desc + off + sizeof(g)) };
	return (uint32_t)sizeof(g) + pfns * 8;
}

int vmbus_gpa_iter_init(struct vmbus_gpa_iter *it, const struct vmbus_packet *pkt)
{
	struct vmbus_gpa_direct_header h;
	uint32_t off;

	if (pkt->type != VM_PKT_DATA_USING_GPA_DIRECT || pkt->desc_len < sizeof(h))
		return -EINVAL;
	memcpy(&h, pkt->desc, sizeof(h));
	if (h.rangecount == 0)
		return -EINVAL;
	off = sizeof(h);
	for (uint32_t i = 0; i < h.rangecount; i++) {
		uint32_t n = vmbus_gpa_range_check(pkt, off, NULL);

		if (!n)
			return -EINVAL;
		off += n;
	}
	*it = (struct vmbus_gpa_iter){ .pkt = pkt, .offset = sizeof(h), .left = h.rangecount };
	return 0;
}

int vmbus_gpa_iter_next(struct vmbus_gpa_iter *it, struct vmbus_gpa_range *r)
{
	uint32_t n;

	if (!it->left)
		return 0;
	n = vmbus_gpa_range_check(it->pkt, it->offset, r);
	if (!n)
		return 0; /* cannot happen after vmbus_gpa_iter_init */
	it->offset += n;
	it->left--;
	return 1;
}
