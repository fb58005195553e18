// SPDX-License-Identifier: MIT
/*
 * Unit tests of the VMBus server (vmbus/vmbus.h), in-process with the guest client (guest/vsc): the rings.
 * Packets both ways (descriptor layout, 8-byte padding, trailer = start offset << 32, trans_id echo, GPA-direct
 * ranges), wrap-around, rings whose pages come from GPADL bodies, the signalling rules (empty -> non-empty only,
 * interrupt_mask both ways, pending_send_sz both ways), ring full and back-pressure, size limits, and hostile rings
 * that stop one channel (vmbus_channel_recv -EPIPE, stats.channels_broken) while the others keep working
 * (guest-core.md 5.6-5.7; Linux 6.1 drivers/hv/ring_buffer.c on the guest side).
 */
#include "vmbus_fixture.h"

static struct vmbfx fx;

static const struct vmbus_guid scsi_guid = HV_SCSI_GUID;
static const struct vmbus_guid nic_guid = HV_NIC_GUID;

static uint32_t align8(uint32_t n) { return (n + 7u) & ~7u; }

/* A byte pattern that names the packet (@seq) and the offset, so misplaced bytes show. */
static void fill(uint8_t *p, uint32_t len, uint32_t seq)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 31u + i * 7u + (i >> 8));
}

static void check_fill(const uint8_t *p, uint32_t len, uint32_t seq)
{
	uint8_t want[8192];

	assert_true(len <= sizeof(want));
	fill(want, len, seq);
	assert_memory_equal(p, want, len);
}

/* Connect, offer @n devices (echo mode) and open them with rings of @pages pages, events to VP 0. */
static void setup(unsigned n, uint32_t pages, struct vmbfx_vsp **v, struct vsc_channel *ch)
{
	vmbfx_init(&fx, 2, 0);
	for (unsigned i = 0; i < n; i++)
		v[i] = vmbfx_offer(&fx, i ? nic_guid : scsi_guid, (uint16_t)(i + 1));
	vmbfx_connect(&fx);
	for (unsigned i = 0; i < n; i++)
		vmbfx_open(&fx, v[i], &ch[i], pages, 0);
}

static void roundtrip(struct vsc_channel *ch, uint64_t trans_id)
{
	uint8_t buf[256];
	struct vsc_packet pkt;

	assert_int_equal(vsc_channel_send_inband(ch, trans_id, "roundtrp", 8), 0);
	assert_true(vsc_channel_recv_wait(ch, buf, sizeof(buf), &pkt, 2000) > 0);
	assert_int_equal(pkt.type, VM_PKT_COMP);
	assert_true(pkt.trans_id == trans_id);
	assert_memory_equal(pkt.data, "roundtrp", 8);
}

static uint64_t trailer_at(const uint8_t *data, uint32_t size, uint32_t pos)
{
	uint64_t t;
	uint8_t b[8];

	for (unsigned i = 0; i < 8; i++)
		b[i] = data[(pos + i) % size];
	memcpy(&t, b, 8);
	return t;
}

/* ---- packets ---------------------------------------------------------------------------------------------- */

static void test_inband_both_ways(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t msg[13], buf[256];
	struct vsc_packet pkt;

	(void)state;
	setup(1, 2, &v, &ch);
	fill(msg, sizeof(msg), 1);
	assert_int_equal(vsc_channel_send_inband(&ch, 0x1122334455667788ull, msg, sizeof(msg)), 0);
	/* Guest side as Linux writes it: 16 + 16 bytes, trailer with start offset 0. */
	assert_int_equal(ch.out_hdr->write_index, 16 + 16 + 8);
	assert_true(trailer_at(ch.out_data, ch.out_size, 32) == 0);
	vmbfx_settle(&fx);
	assert_int_equal(v->packets, 1);
	assert_int_equal(v->last_type, VM_PKT_DATA_INBAND);
	assert_int_equal(v->last_flags, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	assert_true(v->last_trans_id == 0x1122334455667788ull);
	assert_int_equal(v->last_desc_len, 0);
	assert_int_equal(v->last_len, 16);
	check_fill(v->last_data, sizeof(msg), 1);
	assert_int_equal(v->last_data[13] | v->last_data[14] | v->last_data[15], 0); /* padding is zero */
	/* The host consumed it: read_index published. */
	assert_int_equal(ch.out_hdr->read_index, 40);
	/* The echo: a completion with the same trans_id, same layout, trailer 0 << 32. */
	assert_int_equal(ch.in_hdr->write_index, 40);
	assert_true(trailer_at(ch.in_data, ch.in_size, 32) == 0);
	assert_int_equal(vsc_channel_recv(&ch, buf, sizeof(buf), &pkt), 32);
	assert_int_equal(pkt.type, VM_PKT_COMP);
	assert_int_equal(pkt.flags, 0);
	assert_true(pkt.trans_id == 0x1122334455667788ull);
	assert_int_equal(pkt.data_len, 16);
	assert_int_equal(pkt.data - buf, 16);
	check_fill(pkt.data, sizeof(msg), 1);
	assert_int_equal(ch.in_hdr->read_index, 40);
	/* The second packet's trailer carries its start offset 40 << 32, both ways. */
	assert_int_equal(vsc_channel_send_inband(&ch, 5, msg, 8), 0);
	assert_true(trailer_at(ch.out_data, ch.out_size, 40 + 24) == (40ull << 32));
	vmbfx_settle(&fx);
	assert_true(trailer_at(ch.in_data, ch.in_size, 40 + 24) == (40ull << 32));
	/* A packet without completion request gets no answer. */
	assert_int_equal(vsc_channel_recv(&ch, buf, sizeof(buf), &pkt), 24);
	assert_int_equal(vsc_channel_send_inband(&ch, 0, msg, 8), 0);
	vmbfx_settle(&fx);
	assert_int_equal(v->packets, 3);
	assert_int_equal(v->last_flags, 0);
	assert_int_equal(vsc_channel_recv(&ch, buf, sizeof(buf), &pkt), -VSC_EAGAIN);
	vmbfx_fini(&fx);
}

static void test_host_packets(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t data[100], buf[512], desc[12];
	struct vsc_packet pkt;

	(void)state;
	setup(1, 2, &v, &ch);
	fill(data, sizeof(data), 7);
	assert_int_equal(vmbus_channel_send_inband(v->ch, 0, data, sizeof(data), false), 0);
	assert_int_equal(vsc_channel_recv(&ch, buf, sizeof(buf), &pkt), 16 + 104);
	assert_int_equal(pkt.type, VM_PKT_DATA_INBAND);
	assert_int_equal(pkt.flags, 0);
	assert_true(pkt.trans_id == 0);
	assert_int_equal(pkt.data_len, 104);
	check_fill(pkt.data, sizeof(data), 7);
	assert_int_equal(buf[116] | buf[117] | buf[118] | buf[119], 0);

	assert_int_equal(vmbus_channel_send_inband(v->ch, 99, data, 8, true), 0);
	assert_int_equal(vsc_channel_recv(&ch, buf, sizeof(buf), &pkt), 24);
	assert_int_equal(pkt.flags, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	assert_true(pkt.trans_id == 99);

	/* A type-specific descriptor of 12 bytes: padded to 16, payload at 32 (offset8 4). */
	fill(desc, sizeof(desc), 3);
	assert_int_equal(vmbus_channel_send(v->ch, VM_PKT_DATA_USING_XFER_PAGES, 0, 0xABCD, desc, sizeof(desc), data,
					    20), 0);
	assert_int_equal(vsc_channel_recv(&ch, buf, sizeof(buf), &pkt), 16 + 16 + 24);
	assert_int_equal(pkt.type, VM_PKT_DATA_USING_XFER_PAGES);
	assert_true(pkt.trans_id == 0xABCD);
	assert_int_equal(pkt.data - buf, 32);
	assert_int_equal(pkt.data_len, 24);
	check_fill(buf + 16, sizeof(desc), 3);
	assert_int_equal(buf[28] | buf[29] | buf[30] | buf[31], 0);
	check_fill(pkt.data, 20, 7);
	/* A descriptor and no payload. */
	assert_int_equal(vmbus_channel_send(v->ch, VM_PKT_COMP, 0, 1, desc, 8, NULL, 0), 0);
	assert_int_equal(vsc_channel_recv(&ch, buf, sizeof(buf), &pkt), 24);
	assert_int_equal(pkt.data_len, 0);
	/* Neither. */
	assert_int_equal(vmbus_channel_send_completion(v->ch, 2, NULL, 0), 0);
	assert_int_equal(vsc_channel_recv(&ch, buf, sizeof(buf), &pkt), 16);
	assert_int_equal(pkt.type, VM_PKT_COMP);
	assert_int_equal(pkt.data_len, 0);
	assert_int_equal(vsc_channel_in_avail(&ch), 0);
	vmbfx_fini(&fx);
}

/* A GPA-direct packet (storvsc/netvsc): the VSP sees the ranges through vmbus_gpa_iter. */
static void test_gpa_direct(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t desc[48], payload[24];
	struct vmbus_gpa_direct_header gh = { .reserved = 0, .rangecount = 2 };
	struct gpa_range r1 = { .byte_count = 6000, .byte_offset = 100 }, r2 = { .byte_count = 4096 };
	uint64_t p1[2] = { 0x123, 0x456 }, p2 = 0x789;
	struct vmbus_packet pkt;
	struct vmbus_gpa_iter it;
	struct vmbus_gpa_range r;

	(void)state;
	setup(1, 2, &v, &ch);
	v->mode = VMBFX_VSP_SINK;
	memcpy(desc, &gh, 8);
	memcpy(desc + 8, &r1, 8);
	memcpy(desc + 16, p1, 16);
	memcpy(desc + 32, &r2, 8);
	memcpy(desc + 40, &p2, 8);
	fill(payload, sizeof(payload), 9);
	assert_int_equal(vsc_channel_send(&ch, VM_PKT_DATA_USING_GPA_DIRECT, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
					  77, desc, sizeof(desc), payload, sizeof(payload)), 0);
	vmbfx_settle(&fx);
	assert_int_equal(v->packets, 1);
	assert_int_equal(v->last_type, VM_PKT_DATA_USING_GPA_DIRECT);
	assert_int_equal(v->last_desc_len, 48);
	assert_int_equal(v->last_len, 24);
	check_fill(v->last_data, 24, 9);
	pkt = (struct vmbus_packet){ .type = VM_PKT_DATA_USING_GPA_DIRECT, .desc = v->last_desc, .desc_len = 48,
				     .data = v->last_data, .data_len = 24 };
	assert_int_equal(vmbus_gpa_iter_init(&it, &pkt), 0);
	assert_int_equal(vmbus_gpa_iter_next(&it, &r), 1);
	assert_int_equal(r.byte_count, 6000);
	assert_int_equal(r.byte_offset, 100);
	assert_int_equal(r.pfn_count, 2);
	assert_true(r.pfns[0] == 0x123 && r.pfns[1] == 0x456);
	assert_int_equal(vmbus_gpa_iter_next(&it, &r), 1);
	assert_int_equal(r.byte_count, 4096);
	assert_int_equal(r.pfn_count, 1);
	assert_true(r.pfns[0] == 0x789);
	assert_int_equal(vmbus_gpa_iter_next(&it, &r), 0);
	vmbfx_fini(&fx);
}

/* Malformed GPA-direct descriptors are refused by vmbus_gpa_iter_init (pure function, no server needed). */
static void test_gpa_direct_malformed(void **state)
{
	_Alignas(8) uint8_t desc[64];
	struct vmbus_packet pkt = { .type = VM_PKT_DATA_USING_GPA_DIRECT, .desc = desc };
	struct vmbus_gpa_iter it;
	struct vmbus_gpa_direct_header gh = { .rangecount = 1 };
	struct gpa_range r = { .byte_count = 4096, .byte_offset = 0 };

	(void)state;
	memset(desc, 0, sizeof(desc));
	memcpy(desc, &gh, 8);
	memcpy(desc + 8, &r, 8);
	pkt.desc_len = 24; /* one range, one PFN: fine */
	assert_int_equal(vmbus_gpa_iter_init(&it, &pkt), 0);
	pkt.desc_len = 16; /* the PFN is missing */
	assert_int_equal(vmbus_gpa_iter_init(&it, &pkt), -EINVAL);
	pkt.desc_len = 4; /* not even the header */
	assert_int_equal(vmbus_gpa_iter_init(&it, &pkt), -EINVAL);
	pkt.desc_len = 24;
	pkt.type = VM_PKT_DATA_INBAND;
	assert_int_equal(vmbus_gpa_iter_init(&it, &pkt), -EINVAL);
	pkt.type = VM_PKT_DATA_USING_GPA_DIRECT;
	gh.rangecount = 0;
	memcpy(desc, &gh, 8);
	assert_int_equal(vmbus_gpa_iter_init(&it, &pkt), -EINVAL);
	gh.rangecount = 2; /* the second range is not there */
	memcpy(desc, &gh, 8);
	assert_int_equal(vmbus_gpa_iter_init(&it, &pkt), -EINVAL);
	gh.rangecount = 1;
	memcpy(desc, &gh, 8);
	r.byte_offset = 4096;
	memcpy(desc + 8, &r, 8);
	assert_int_equal(vmbus_gpa_iter_init(&it, &pkt), -EINVAL);
	r.byte_offset = 1; /* 4096 bytes from offset 1 need two PFNs */
	memcpy(desc + 8, &r, 8);
	assert_int_equal(vmbus_gpa_iter_init(&it, &pkt), -EINVAL);
	r.byte_offset = 0;
	r.byte_count = 0;
	memcpy(desc + 8, &r, 8);
	assert_int_equal(vmbus_gpa_iter_init(&it, &pkt), -EINVAL);
	r.byte_count = 0xFFFFFFFFu; /* would need 1 Mi PFNs */
	memcpy(desc + 8, &r, 8);
	assert_int_equal(vmbus_gpa_iter_init(&it, &pkt), -EINVAL);
}

/* ---- wrap-around and large rings -------------------------------------------------------------------------- */

static void test_wrap_guest_to_host(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t data[2000];
	unsigned straddles = 0;

	(void)state;
	setup(1, 2, &v, &ch); /* 4096 data bytes a ring */
	v->mode = VMBFX_VSP_SINK;
	for (uint32_t seq = 1; seq <= 80; seq++) {
		uint32_t len = (seq * 389u) % 1500u + 1u, w = ch.out_hdr->write_index;
		uint32_t pkt = 16 + align8(len) + 8;

		if (w + pkt > ch.out_size)
			straddles++;
		fill(data, len, seq);
		assert_int_equal(vsc_channel_send(&ch, VM_PKT_DATA_INBAND, 0, seq, NULL, 0, data, len), 0);
		vmbfx_settle(&fx);
		assert_int_equal(v->packets, seq);
		assert_true(v->last_trans_id == seq);
		assert_int_equal(v->last_len, align8(len));
		check_fill(v->last_data, len, seq);
		assert_int_equal(ch.out_hdr->read_index, ch.out_hdr->write_index);
		assert_int_equal(ch.out_hdr->write_index, (w + pkt) % ch.out_size);
	}
	assert_true(straddles >= 5);
	vmbfx_fini(&fx);
}

static void test_wrap_host_to_guest(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t data[2000], buf[4096];
	struct vsc_packet pkt;
	unsigned straddles = 0;

	(void)state;
	setup(1, 2, &v, &ch);
	for (uint32_t seq = 1; seq <= 80; seq++) {
		uint32_t len = (seq * 523u) % 1900u + 1u, w = ch.in_hdr->write_index;
		uint32_t total = 16 + align8(len);

		if (w + total + 8 > ch.in_size)
			straddles++;
		fill(data, len, seq);
		assert_int_equal(vmbus_channel_send_inband(v->ch, seq, data, len, false), 0);
		assert_int_equal(ch.in_hdr->write_index, (w + total + 8) % ch.in_size);
		assert_true(trailer_at(ch.in_data, ch.in_size, (w + total) % ch.in_size) == ((uint64_t)w << 32));
		assert_int_equal(vsc_channel_recv(&ch, buf, sizeof(buf), &pkt), (int)total);
		assert_true(pkt.trans_id == seq);
		check_fill(pkt.data, len, seq);
	}
	assert_true(straddles >= 5);
	vmbfx_fini(&fx);
}

/* Several packets in flight at once, echoed, through small rings for many rounds. */
static void test_echo_batches(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t data[700], buf[1024];
	struct vsc_packet pkt;
	uint32_t seq = 0;

	(void)state;
	setup(1, 2, &v, &ch);
	for (unsigned round = 0; round < 40; round++) {
		uint32_t first = seq + 1;

		for (unsigned k = 0; k < 3; k++) {
			uint32_t len = ((++seq) * 97u) % 600u + 50u;

			fill(data, len, seq);
			assert_int_equal(vsc_channel_send_inband(&ch, seq, data, len), 0);
		}
		for (uint32_t s = first; s <= seq; s++) {
			uint32_t len = (s * 97u) % 600u + 50u;

			assert_true(vsc_channel_recv_wait(&ch, buf, sizeof(buf), &pkt, 2000) > 0);
			assert_int_equal(pkt.type, VM_PKT_COMP);
			assert_true(pkt.trans_id == s);
			check_fill(pkt.data, len, s);
		}
	}
	assert_int_equal(v->replies, 120);
	assert_int_equal(v->send_errors, 0);
	vmbfx_fini(&fx);
}

/* 40 + 40 pages: the ring GPADL needs bodies, so most ring pages come from GPADL_BODY PFNs. */
static void test_large_rings(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	static uint8_t data[3000], buf[4096];
	struct vsc_packet pkt;

	(void)state;
	setup(1, 40, &v, &ch);
	assert_int_equal(ch.out_size, 39 * 4096);
	for (uint32_t seq = 1; seq <= 150; seq++) {
		fill(data, sizeof(data), seq);
		assert_int_equal(vsc_channel_send_inband(&ch, seq, data, sizeof(data)), 0);
		if (seq % 10 == 0) {
			for (uint32_t s = seq - 9; s <= seq; s++) {
				assert_true(vsc_channel_recv_wait(&ch, buf, sizeof(buf), &pkt, 2000) > 0);
				assert_true(pkt.trans_id == s);
				check_fill(pkt.data, sizeof(data), s);
			}
		}
	}
	/* 150 * 3024 bytes went each way: more than twice around each ring. */
	assert_int_equal(v->replies, 150);
	vmbfx_fini(&fx);
}

/* ---- signalling --------------------------------------------------------------------------------------------- */

/* Linux signals the host only when the ring was empty before its write (hv_signal_on_write). */
static void test_guest_signals_on_empty_only(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint64_t gs;

	(void)state;
	setup(1, 2, &v, &ch);
	v->mode = VMBFX_VSP_SINK;
	fx.pump_off = true;
	gs = vmbfx_stats(&fx).guest_signals;
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(vsc_channel_send_inband(&ch, 0, "abcdefgh", 8), 0);
	assert_int_equal(ch.signals, 1);
	vmbfx_settle(&fx);
	assert_int_equal(v->packets, 3);
	assert_true(v->notifies >= 1);
	assert_true(vmbfx_stats(&fx).guest_signals > gs);
	assert_int_equal(vsc_channel_send_inband(&ch, 0, "abcdefgh", 8), 0);
	assert_int_equal(ch.signals, 2);
	vmbfx_settle(&fx);
	assert_int_equal(v->packets, 4);
	vmbfx_fini(&fx);
}

/* The host signals only when the guest had read everything, and raises SINT2 only for a newly set flag. */
static void test_host_signals_on_empty_only(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t buf[64];
	struct vsc_packet pkt;
	uint64_t hs;
	unsigned irq;

	(void)state;
	setup(1, 2, &v, &ch);
	vmbfx_settle(&fx);
	vmbfx_event_clear(&fx, 0, ch.relid);
	hs = vmbfx_stats(&fx).host_signals;
	irq = vmbfx_interrupts(&fx, 0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(vmbus_channel_send_inband(v->ch, 0, "12345678", 8, false), 0);
	assert_int_equal(vmbfx_stats(&fx).host_signals, hs + 1);
	assert_int_equal(vmbfx_interrupts(&fx, 0), irq + 1);
	assert_int_equal(fx.rec.last_vector, VMBFX_VECTOR);
	assert_true(vmbfx_event_clear(&fx, 0, ch.relid));
	/* Read one of three: the next send finds unread packets, no signal. */
	assert_int_equal(vsc_channel_recv(&ch, buf, sizeof(buf), &pkt), 24);
	assert_int_equal(vmbus_channel_send_inband(v->ch, 0, "12345678", 8, false), 0);
	assert_int_equal(vmbfx_stats(&fx).host_signals, hs + 1);
	assert_false(vmbfx_event_pending(&fx, 0, ch.relid));
	while (vsc_channel_recv(&ch, buf, sizeof(buf), &pkt) > 0)
		;
	assert_int_equal(vsc_channel_in_avail(&ch), 0);
	assert_int_equal(vmbus_channel_send_inband(v->ch, 0, "12345678", 8, false), 0);
	assert_int_equal(vmbfx_stats(&fx).host_signals, hs + 2);
	assert_true(vmbfx_event_pending(&fx, 0, ch.relid));
	assert_int_equal(vmbfx_interrupts(&fx, 0), irq + 2);
	vmbfx_fini(&fx);
}

/* The guest masks its incoming ring (Linux does while its batched callback runs): no signals at all. */
static void test_guest_interrupt_mask(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t buf[64];
	struct vsc_packet pkt;
	uint64_t hs;
	unsigned irq;

	(void)state;
	setup(1, 2, &v, &ch);
	vmbfx_settle(&fx);
	vmbfx_event_clear(&fx, 0, ch.relid);
	hs = vmbfx_stats(&fx).host_signals;
	irq = vmbfx_interrupts(&fx, 0);
	ch.in_hdr->interrupt_mask = 1;
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(vmbus_channel_send_inband(v->ch, 0, "12345678", 8, false), 0);
	assert_int_equal(vmbfx_stats(&fx).host_signals, hs);
	assert_int_equal(vmbfx_interrupts(&fx, 0), irq);
	assert_false(vmbfx_event_pending(&fx, 0, ch.relid));
	while (vsc_channel_recv(&ch, buf, sizeof(buf), &pkt) > 0)
		;
	ch.in_hdr->interrupt_mask = 0;
	assert_int_equal(vmbus_channel_send_inband(v->ch, 0, "12345678", 8, false), 0);
	assert_int_equal(vmbfx_stats(&fx).host_signals, hs + 1);
	assert_true(vmbfx_event_pending(&fx, 0, ch.relid));
	vmbfx_fini(&fx);
}

/* While the VSP drains, the server masks the guest -> host ring: a packet the guest writes then does not signal,
 * and the server still takes it (it re-checks after unmasking). */
static struct vsc_channel *hook_ch;
static uint32_t hook_mask_seen;
static unsigned hook_calls;

static void mask_from_notify(struct vmbfx_vsp *v)
{
	(void)v;
	hook_mask_seen = hook_ch->out_hdr->interrupt_mask;
}

/* After the VSP drained and before notify returns: the server must look again once it unmasks. */
static void send_from_notify(struct vmbfx_vsp *v)
{
	(void)v;
	if (hook_calls++ == 0)
		assert_int_equal(vsc_channel_send_inband(hook_ch, 0, "in-notif", 8), 0);
}

static void test_host_masks_while_draining(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;

	(void)state;
	setup(1, 2, &v, &ch);
	v->mode = VMBFX_VSP_SINK;
	hook_ch = &ch;
	hook_calls = 0;
	hook_mask_seen = 0;
	v->hook = mask_from_notify;
	v->hook_after = send_from_notify;
	fx.pump_off = true;
	assert_int_equal(vsc_channel_send_inband(&ch, 0, "first-pk", 8), 0);
	assert_int_equal(ch.signals, 1);
	vmbfx_settle(&fx);
	assert_int_equal(hook_mask_seen, 1);
	assert_int_equal(ch.signals, 1); /* the send inside notify saw interrupt_mask 1 */
	assert_int_equal(v->packets, 2);  /* ... and was taken anyway */
	assert_memory_equal(v->last_data, "in-notif", 8);
	assert_int_equal(ch.out_hdr->interrupt_mask, 0);
	/* Idle again: the next packet signals. */
	assert_int_equal(vsc_channel_send_inband(&ch, 0, "third-pk", 8), 0);
	assert_int_equal(ch.signals, 2);
	vmbfx_settle(&fx);
	assert_int_equal(v->packets, 3);
	vmbfx_fini(&fx);
}

/* ---- full rings, pending_send_sz ---------------------------------------------------------------------------- */

/* Fill the guest -> host ring of a holding VSP with 500-byte packets: how many fit. */
static unsigned fill_out_ring(struct vsc_channel *ch)
{
	uint8_t data[500];
	unsigned n = 0;
	int ret;

	fill(data, sizeof(data), 0);
	while ((ret = vsc_channel_send_inband(ch, 0, data, sizeof(data))) == 0)
		n++;
	assert_int_equal(ret, -VSC_EAGAIN);
	return n;
}

static void test_ring_full_guest_to_host(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	unsigned n;

	(void)state;
	setup(1, 2, &v, &ch);
	v->mode = VMBFX_VSP_HOLD;
	n = fill_out_ring(&ch);
	assert_int_equal(n, 4096 / (16 + 504 + 8)); /* Linux refuses when free <= packet: 7 */
	assert_true(vsc_channel_out_free(&ch) <= 16 + 504 + 8);
	vmbfx_settle(&fx);
	assert_true(v->notifies >= 1);
	assert_int_equal(v->packets, 0);
	assert_int_equal(ch.out_hdr->read_index, 0); /* nothing consumed while the VSP holds */
	v->mode = VMBFX_VSP_SINK;
	assert_true(vmbfx_vsp_drain(v));
	assert_int_equal(v->packets, n);
	assert_int_equal(vsc_channel_out_free(&ch), ch.out_size);
	assert_int_equal(fill_out_ring(&ch), n);
	vmbfx_settle(&fx); /* a fresh signal: the sink takes them */
	assert_int_equal(v->packets, 2 * n);
	vmbfx_fini(&fx);
}

/*
 * A guest that keeps its ring full of cheap packets cannot hold the I/O thread: one loop round takes at most
 * VMBUS_RECV_BUDGET packets from a channel, then the VSP sees an empty ring, and the rest comes in later rounds
 * (found by review: a guest moving write_index behind the host's read index kept StorVSP's drain loop running).
 */
static void test_recv_budget_per_round(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	unsigned sent = 0, rounds = 0;

	(void)state;
	setup(1, 128, &v, &ch);
	v->mode = VMBFX_VSP_SINK;
	fx.pump_off = true; /* the client fills the ring before the server runs */
	while (sent < 6000 && vsc_channel_send_inband(&ch, 0, "budget!", 8) == 0)
		sent++;
	assert_int_equal(sent, 6000);
	assert_true(vmbus_server_poll(fx.srv, 0) > 0);
	assert_int_equal(v->packets, 4096); /* VMBUS_RECV_BUDGET */
	/* Once the budget is spent the VSP is not notified again in this round (regression: the watch of the
	 * non-empty ring called notify VMBUS_NOTIFY_ROUNDS times, each getting -EAGAIN at once). */
	assert_int_equal(v->notifies, 1);
	while (v->packets < sent && rounds++ < 10)
		vmbus_server_poll(fx.srv, 0);
	assert_int_equal(v->packets, sent);
	assert_int_equal(rounds, 1); /* the channel came back in the very next round */
	assert_int_equal(vmbfx_stats(&fx).channels_broken, 0);
	vmbfx_fini(&fx);
}

/* The guest asks for a signal when N bytes are free (hv_sock does): one signal, when the freed space crosses N. */
static void test_pending_send_sz_guest_to_host(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	struct vmbus_packet pkt;
	unsigned n, crossed_at = 0;
	uint64_t hs;

	(void)state;
	setup(1, 2, &v, &ch);
	v->mode = VMBFX_VSP_HOLD;
	n = fill_out_ring(&ch); /* 7 packets of 528 bytes: 400 bytes free */
	vmbfx_settle(&fx);
	vmbfx_event_clear(&fx, 0, ch.relid);
	ch.out_hdr->pending_send_sz = 2000;
	hs = vmbfx_stats(&fx).host_signals;
	for (unsigned i = 1; i <= n; i++) {
		assert_int_equal(vmbus_channel_recv(v->ch, fx.rx, sizeof(fx.rx), &pkt), 520);
		if (vmbfx_event_clear(&fx, 0, ch.relid)) {
			assert_int_equal(crossed_at, 0);
			crossed_at = i;
		}
	}
	/* The crossing is after packet 4 (400 + 3 * 528 = 1984 <= 2000 < 2512); the server shows the guest its read
	 * index in batches (VMBUS_PUBLISH_BATCH) and always once the ring is empty, so the one signal comes between
	 * the crossing and the last packet. */
	assert_true(crossed_at >= 4 && crossed_at <= n);
	assert_int_equal(vmbfx_stats(&fx).host_signals, hs + 1);
	/* Without pending_send_sz, draining signals nothing. */
	ch.out_hdr->pending_send_sz = 0;
	assert_int_equal(fill_out_ring(&ch), n);
	vmbfx_settle(&fx);
	vmbfx_event_clear(&fx, 0, ch.relid);
	hs = vmbfx_stats(&fx).host_signals;
	for (unsigned i = 1; i <= n; i++)
		assert_int_equal(vmbus_channel_recv(v->ch, fx.rx, sizeof(fx.rx), &pkt), 520);
	assert_int_equal(vmbfx_stats(&fx).host_signals, hs);
	assert_false(vmbfx_event_pending(&fx, 0, ch.relid));
	vmbfx_fini(&fx);
}

/* The host -> guest ring fills: -EAGAIN with pending_send_sz set; the guest's read signals; notify runs again. */
static void test_backpressure_host_to_guest(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t data[1000], buf[2048];
	struct vsc_packet pkt;
	unsigned sent = 0, notifies;
	int ret;

	(void)state;
	setup(1, 2, &v, &ch);
	v->mode = VMBFX_VSP_SINK;
	fill(data, sizeof(data), 1);
	while ((ret = vmbus_channel_send_inband(v->ch, sent, data, sizeof(data), false)) == 0)
		sent++;
	assert_int_equal(ret, -EAGAIN);
	assert_int_equal(sent, 3); /* 3 * 1024 of 4096: a fourth would fill the ring completely */
	assert_int_not_equal(ch.in_hdr->pending_send_sz, 0);
	assert_true(ch.in_hdr->pending_send_sz <= 1024 + 8);
	notifies = v->notifies;
	/* The guest reads one packet: free space goes from 1024 to 2048, past pending_send_sz: it signals. */
	assert_int_equal(vsc_channel_recv(&ch, buf, sizeof(buf), &pkt), 1016);
	assert_int_equal(ch.pending_signals, 1);
	vmbfx_settle(&fx);
	assert_int_equal(v->notifies, notifies + 1);
	assert_int_equal(vmbus_channel_send_inband(v->ch, 3, data, sizeof(data), false), 0);
	assert_int_equal(ch.in_hdr->pending_send_sz, 0); /* cleared once the host could send again */
	/* Reading further signals nothing more (pending_send_sz is 0). */
	for (unsigned i = 1; i <= 3; i++) {
		assert_int_equal(vsc_channel_recv(&ch, buf, sizeof(buf), &pkt), 1016);
		assert_true(pkt.trans_id == i);
	}
	assert_int_equal(ch.pending_signals, 1);
	vmbfx_fini(&fx);
}

/* End to end: the guest sends 30 requests while not reading; the echoes back up, wait, and all arrive in order. */
static void test_echo_backpressure_end_to_end(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t data[600], buf[1024];
	struct vsc_packet pkt;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	assert_int_equal(vsc_channel_open(&fx.bus, &ch, vmbfx_relid(v), 8 * 4096, 2 * 4096, 0), 0);
	for (uint32_t seq = 1; seq <= 30; seq++) {
		fill(data, sizeof(data), seq);
		assert_int_equal(vsc_channel_send_inband(&ch, seq, data, sizeof(data)), 0);
	}
	vmbfx_settle(&fx);
	assert_true(v->reply_pending); /* the echo ring is full */
	assert_int_not_equal(ch.in_hdr->pending_send_sz, 0);
	for (uint32_t seq = 1; seq <= 30; seq++) {
		assert_true(vsc_channel_recv_wait(&ch, buf, sizeof(buf), &pkt, 2000) > 0);
		assert_true(pkt.trans_id == seq);
		check_fill(pkt.data, sizeof(data), seq);
	}
	assert_int_equal(v->replies, 30);
	assert_int_equal(v->packets, 30);
	assert_false(v->reply_pending);
	vmbfx_fini(&fx);
}

/* ---- limits ----------------------------------------------------------------------------------------------- */

static void test_size_limits(void **state)
{
	struct vmbfx_offer_opts big = { .max_packet_bytes = 8192 };
	struct vmbfx_vsp *v, *w;
	struct vsc_channel cv, cw;
	static uint8_t data[20000], buf[16384];
	struct vsc_packet gp;
	struct vmbus_packet pkt;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	w = vmbfx_offer_ex(&fx, nic_guid, 2, &big);
	vmbfx_connect(&fx);
	vmbfx_open(&fx, v, &cv, 4, 0);
	vmbfx_open(&fx, w, &cw, 4, 0);
	/* Default max_packet_bytes 4096 covers the whole packet, descriptor included. */
	assert_int_equal(vmbus_channel_send_inband(v->ch, 0, data, 4096 - 16, false), 0);
	assert_int_equal(vmbus_channel_send_inband(v->ch, 0, data, 4096 - 15, false), -EMSGSIZE);
	assert_int_equal(vmbus_channel_send_inband(w->ch, 0, data, 6000, false), 0);
	assert_int_equal(vmbus_channel_send_inband(w->ch, 0, data, 8192 - 15, false), -EMSGSIZE);
	/* Larger than the ring (3 pages of data) whatever the limit. */
	assert_int_equal(vmbus_channel_send_inband(w->ch, 0, data, 13000, false), -EMSGSIZE);
	/* The guest: a buffer too small leaves the packet in the ring. */
	assert_int_equal(vsc_channel_recv(&cw, buf, 100, &gp), -VSC_EMSGSIZE);
	assert_int_equal(vsc_channel_recv(&cw, buf, sizeof(buf), &gp), 6016);
	/* The host: a buffer too small skips the packet; the next one comes whole. */
	v->mode = VMBFX_VSP_HOLD;
	assert_int_equal(vsc_channel_send_inband(&cv, 1, data, 200), 0);
	assert_int_equal(vsc_channel_send_inband(&cv, 2, data, 8), 0);
	assert_int_equal(vsc_channel_send_inband(&cv, 3, data, 4 * 4096), -VSC_EAGAIN);
	assert_int_equal(vmbus_channel_recv(v->ch, fx.rx, 64, &pkt), -EMSGSIZE);
	assert_int_equal(vmbus_channel_recv(v->ch, fx.rx, 64, &pkt), 24);
	assert_true(pkt.trans_id == 2);
	assert_int_equal(vmbus_channel_recv(v->ch, fx.rx, 64, &pkt), -EAGAIN);
	/* An unaligned buffer is refused (documented -EINVAL), nothing consumed. */
	assert_int_equal(vsc_channel_send_inband(&cv, 4, data, 8), 0);
	assert_int_equal(vmbus_channel_recv(v->ch, fx.rx + 4, 64, &pkt), -EINVAL);
	assert_int_equal(vmbus_channel_recv(v->ch, fx.rx, 64, &pkt), 24);
	vmbfx_fini(&fx);
}

/* ---- hostile rings ----------------------------------------------------------------------------------------- */

enum corruption {
	C_WRITE_INDEX_RANGE,
	C_WRITE_INDEX_MISALIGNED,
	C_TRUNCATED,
	C_LEN8_TOO_LARGE,
	C_LEN8_TOO_SMALL,
	C_LEN8_ZERO,
	C_OFFSET8_ABOVE_LEN8,
	C_OFFSET8_BELOW_HEADER,
	C_COUNT
};

static const char *const corruption_names[C_COUNT] = {
	"write_index out of range", "write_index misaligned", "truncated packet", "len8 too large",
	"len8 too small", "len8 zero", "offset8 > len8", "offset8 < 2",
};

/* Corrupt the guest -> host ring of @ch in way @c (on top of one good packet already taken). */
static void corrupt(struct vsc_channel *ch, enum corruption c)
{
	uint32_t w = ch->out_hdr->write_index;
	struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = 2, .len8 = 4, .trans_id = 1 };
	uint32_t new_w = (w + 32 + 8) % ch->out_size;

	switch (c) {
	case C_WRITE_INDEX_RANGE:
		new_w = ch->out_size + 64;
		break;
	case C_WRITE_INDEX_MISALIGNED:
		new_w = w + 4;
		break;
	case C_TRUNCATED:
		new_w = w + 8;
		break;
	case C_LEN8_TOO_LARGE:
		d.len8 = 100;
		break;
	case C_LEN8_TOO_SMALL:
		d.len8 = 1;
		d.offset8 = 1;
		break;
	case C_LEN8_ZERO:
		d.len8 = 0;
		d.offset8 = 0;
		break;
	case C_OFFSET8_ABOVE_LEN8:
		d.offset8 = 5;
		break;
	case C_OFFSET8_BELOW_HEADER:
		d.offset8 = 1;
		break;
	default:
		break;
	}
	memcpy(ch->out_data + w, &d, sizeof(d));
	__atomic_store_n(&ch->out_hdr->write_index, new_w, __ATOMIC_SEQ_CST);
}

static void test_hostile_guest_to_host_ring(void **state)
{
	(void)state;
	for (unsigned c = 0; c < C_COUNT; c++) {
		struct vmbfx_vsp *v[2];
		struct vsc_channel ch[2];
		uint64_t broken;
		unsigned notifies;
		struct vmbus_packet pkt;

		print_message("corruption: %s\n", corruption_names[c]);
		setup(2, 2, v, ch);
		roundtrip(&ch[0], 1);
		broken = vmbfx_stats(&fx).channels_broken;
		corrupt(&ch[0], (enum corruption)c);
		assert_int_equal(fx.plat.signal_event(&fx, 0, ch[0].conn_id), HV_STATUS_SUCCESS);
		vmbfx_settle(&fx);
		assert_int_equal(v[0]->last_recv_err, -EPIPE);
		assert_true(v[0]->recv_errors >= 1);
		assert_int_equal(vmbfx_stats(&fx).channels_broken, broken + 1);
		assert_int_equal(vmbus_channel_recv(v[0]->ch, fx.rx, sizeof(fx.rx), &pkt), -EPIPE);
		assert_int_equal(vmbus_channel_send_inband(v[0]->ch, 0, "x", 1, false), -EPIPE);
		assert_false(vmbus_channel_is_open(v[0]->ch));
		/* Stopped means stopped: more signals wake nobody. */
		notifies = v[0]->notifies;
		fx.plat.signal_event(&fx, 0, ch[0].conn_id);
		vmbfx_settle(&fx);
		assert_int_equal(v[0]->notifies, notifies);
		assert_int_equal(vmbfx_stats(&fx).channels_broken, broken + 1);
		/* The other channel works. */
		roundtrip(&ch[1], 2);
		/* The guest closes the broken channel normally and can open it again. */
		assert_int_equal(vsc_channel_close(&ch[0]), 0);
		assert_int_equal(v[0]->closes, 1);
		vmbfx_open(&fx, v[0], &ch[0], 2, 0);
		roundtrip(&ch[0], 3);
		vmbfx_fini(&fx);
	}
}

/* The guest corrupts the read_index of the host -> guest ring: the host's next send stops the channel. */
static void test_hostile_host_to_guest_ring(void **state)
{
	static const uint32_t bad_read[] = { 0xFFFFFFF8u, 3 * 4096, 12 };

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		struct vmbfx_vsp *v[2];
		struct vsc_channel ch[2];
		uint64_t broken;

		setup(2, 4, v, ch);
		broken = vmbfx_stats(&fx).channels_broken;
		ch[0].in_hdr->read_index = bad_read[i];
		assert_int_equal(vmbus_channel_send_inband(v[0]->ch, 0, "12345678", 8, false), -EPIPE);
		assert_int_equal(vmbfx_stats(&fx).channels_broken, broken + 1);
		assert_int_equal(vmbus_channel_send_inband(v[0]->ch, 0, "12345678", 8, false), -EPIPE);
		assert_int_equal(vmbfx_stats(&fx).channels_broken, broken + 1); /* counted once */
		assert_false(vmbus_channel_is_open(v[0]->ch));
		roundtrip(&ch[1], 4);
		vmbfx_fini(&fx);
	}
}

/* The guest client's own checks. */
static void test_client_errors(void **state)
{
	struct vmbfx_vsp *v;
	struct vsc_channel ch;
	uint8_t buf[64];
	struct vsc_packet pkt;

	(void)state;
	setup(1, 2, &v, &ch);
	assert_int_equal(vsc_channel_close(&ch), 0);
	assert_int_equal(vsc_channel_close(&ch), -VSC_EINVAL);
	assert_int_equal(vsc_channel_send_inband(&ch, 0, "x", 1), -VSC_EPIPE);
	assert_int_equal(vsc_channel_recv(&ch, buf, sizeof(buf), &pkt), -VSC_EPIPE);
	assert_int_equal(vsc_channel_modify(&ch, 1), -VSC_EPIPE);
	vmbfx_fini(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inband_both_ways),
		cmocka_unit_test(test_host_packets),
		cmocka_unit_test(test_gpa_direct),
		cmocka_unit_test(test_gpa_direct_malformed),
		cmocka_unit_test(test_wrap_guest_to_host),
		cmocka_unit_test(test_wrap_host_to_guest),
		cmocka_unit_test(test_echo_batches),
		cmocka_unit_test(test_large_rings),
		cmocka_unit_test(test_guest_signals_on_empty_only),
		cmocka_unit_test(test_host_signals_on_empty_only),
		cmocka_unit_test(test_guest_interrupt_mask),
		cmocka_unit_test(test_host_masks_while_draining),
		cmocka_unit_test(test_ring_full_guest_to_host),
		cmocka_unit_test(test_recv_budget_per_round),
		cmocka_unit_test(test_pending_send_sz_guest_to_host),
		cmocka_unit_test(test_backpressure_host_to_guest),
		cmocka_unit_test(test_echo_backpressure_end_to_end),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_hostile_guest_to_host_ring),
		cmocka_unit_test(test_hostile_host_to_guest_ring),
		cmocka_unit_test(test_client_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
