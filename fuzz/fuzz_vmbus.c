// SPDX-License-Identifier: MIT
/*
 * fuzz/fuzz_vmbus.c - libFuzzer target for the VMBus server (TARGETS.md R1, R2): channel messages from a hostile
 * guest (connection, offers, GPADL header/body/teardown, open/close, rescind/release, MODIFYCHANNEL, UNLOAD) and
 * the contents of guest memory the server reads (ring headers and indices, packet descriptors, GPA-direct ranges),
 * while three kinds of test VSPs move packets both ways.
 *
 * Setup for every input: 1 MiB of guest RAM (what the last input wrote is zeroed), one hvi partition without KVM
 * for the whole run (2 VPs; the SynIC is turned off and on again per input, which drops queued messages; SIM/SIEF
 * pages in the low 64 KiB), a new VMBus server driven by vmbus_server_poll(srv, 0) on this thread (no I/O
 * thread: deterministic), and devices in FZ_SLOTS slots, slots 0-2 offered at start:
 *   echo    (slot 0) receives, walks GPA-direct ranges (vmbus_gpa_iter_*) reading the pages through vid_memory,
 *           answers completions (back-pressure: keeps one answer and returns false on -EAGAIN), echoes in-band
 *           payloads and sends transfer-page packets with odd descriptor lengths on request;
 *   refuse  (slot 1) sends a packet from inside open, then refuses the open (unless its mode says accept);
 *   chatty  (slot 2) pipe mode, 512-byte packets at most: sends from open and from a 0 ms timer (bursts until the
 *           ring is full, resumed from notify when the guest made room);
 *   silent  (offered by FZ_OP_OFFER) has only an open callback: no close, no notify.
 * The echo device offers sub-channels when the guest asks (an in-band packet 0x20, count), like storvsc's
 * CREATE_SUB_CHANNELS; every channel keeps its state in the channel's context. Device modes (FZ_OP_DEV_MODE) vary
 * receive buffers, back-pressure, unaligned buffers, and make a device withdraw itself from its own callback.
 *
 * Input: a little program. Each operation is an opcode byte ((b & 0x7F) % FZ_OP_COUNT; bit 7 set = no automatic
 * step afterwards) and its operands; integers are little-endian and missing bytes read as zero. After an operation,
 * unless bit 7 was set, the "automatic step" runs one vmbus_server_poll() (if the server may have work) and, while
 * autotake is on (the default), takes the host messages from the SynIC pages the way Linux does (clear the slot,
 * EOM if MessagePending), in the order the server sent them (fz_take_next).
 * At most FZ_MAX_OPS operations per input. seeds_vmbus.py mirrors the encoding: re-run it after changing it.
 *
 *   relid selector R:  u8 r; r & 0x80 ? u32 relid follows : r % 8
 *   handle selector H: u8 h; h & 0x80 ? u32 handle follows : FZ_HANDLE_BASE + h % FZ_RECS
 *   GPADL index I:     u8 i; i % FZ_RECS (the guest's own GPADL records, see fz_rec)
 *
 *   0  POST_RAW      vp u8, sel u8 (bits 0-1 connection 1/4/0x10001/u32 follows; bit 2 u32 message type follows),
 *                    size u8 (% 241), size bytes
 *   1  CONTACT       ver u8 (% 11: 5.3 5.2 5.1 5.0 4.1 4.0 3.0 2.4 1.1 0.13, u32 follows), vcpu u8 (bit 7: raw,
 *                    else % VPs), sint u8 (>= 0xF0: b & 15, else 2), flags u8 (bit 0 other connection id, bit 1 short)
 *   2  REQUEST_OFFERS
 *   3  GPADL         R, i u8, npfn u16, base u16, mode u8, split u8 (see fz_op_gpadl; npfn bit 15: a large one)
 *   4  TEARDOWN      R, H
 *   5  OPEN          R, openid u8 (0: the relid), H, vp u8, d u8 (0: the record's split), flags u8
 *                    (bit 0 hostile ring indices: two u32 follow; bit 1 leave the ring headers alone; bit 2 no
 *                    feature bits)
 *   6  CLOSE R    7  RELEASE R    8  MODIFY R, vp u8    9  UNLOAD    10  TL_CONNECT size u8
 *   11 RAM_WRITE     off u32 (into RAM above the SynIC area), len u8 (+1), bytes
 *   12 RING_HDR      I, which u8 (bit 0 host->guest ring; bits 1-3 field), value u32
 *   13 PACKET        I, kind u8, tr u16, plen u8, plen bytes, [GPA-direct ranges], [len8 u16], [offset8 u16], [type]
 *                    (see fz_op_packet; the echo device reads payload byte 0: 0x80 echo, 0x40 transfer pages,
 *                    0x20 create sub-channels, count in byte 1)
 *   14 SIGNAL        R (bit 7: a raw u32 connection id), vp u8, flag u8 (bit 7: u16 flag follows)
 *   15 GUEST_READ    I, max u8, flags u8 (see fz_op_guest_read)
 *   16 POLL n u8     17 TAKE vp u8, sint u8, flags u8 (0: next in order; bit 0 no EOM; bit 1 discard slot vp/sint)
 *   18 AUTOTAKE on u8
 *   19 OFFER slot u8, kind u8    20 RESCIND C    21 HOST_SEND C, sel u8, len u8    22 KICK C, n u8
 *   23 RECREATE max-version u8   24 SYNIC vp u8, on u8    25 DEV_MODE slot u8, mode u8
 *   26 SUBCHANNELS slot u8, n u8 (bit 7: 65, else % (FZ_SUBS + 1))
 *   (channel selector C: u8 c, device slot c % FZ_SLOTS, its channel (c / FZ_SLOTS) % (1 + FZ_SUBS), 0 = primary)
 *
 * Oracles beyond ASan/UBSan/LSan (FZ_CHECK aborts):
 *  - the documented return values of vmbus_server_poll, vmbus_channel_recv/send, vmbus_gpa_iter_*,
 *    vmbus_device_offer, HvPostMessage and HvSignalEvent (a channel's event connection exists iff it is open);
 *  - after every poll every queued channel message was dispatched (messages_in == accepted posts), every 0 ms VSP
 *    timer has fired; stats never go backwards; state and version agree;
 *  - VSP callbacks come in order (open, notify*, close), only for live devices and channels the VSP knows, never
 *    after rescind; sub-channels carry their primary's identity and go when it closes; a channel opens unstopped
 *    (the crash-* inputs of the corpus are the regressions of those two);
 *  - white-box consistency of the server (vmbus/internal.h): GPADL list and PFN accounting, channel list sorted
 *    and unique, an open channel has its rings, its ring GPADL points back at it, backlog length;
 *  - host messages as Linux sees them: message type 1, a known host->guest type no shorter than Linux requires;
 *    each VERSION_RESPONSE/UNLOAD_RESPONSE answers a reset the guest asked for, in order; an offer's relid is not
 *    already live and its instance is unique; RESCIND only for an offered relid; GPADL_CREATED with status 0 only
 *    for a GPADL the guest described completely, with every page in RAM; GPADL_TORNDOWN only for a known GPADL;
 *  - rings the guest keeps clean (exclusive pages, no hostile writes): packets arrive at the VSP in order and
 *    byte-exact, none is lost or invented, the channel is never stopped; the host -> guest ring holds well-formed
 *    packets (len8/offset8, trailer, never above the device's max packet size) and valid indices;
 *  - no fd left open after an input.
 * The semantic oracles switch themselves off where the guest made them unsound (raw GPADL/OPEN messages, a SynIC
 * page turned off, pages shared between GPADLs, a guest 32 messages behind): see fz_trust_*() and fz_poll().
 *
 * FUZZ_LOG=1 shows the server's debug log; FUZZ_VMBUS_STATS=1 prints per-input counters (channels opened,
 * packets each way, GPA ranges walked ...) to check that seeds reach the data paths; FUZZ_VMBUS_TRACE=1 each
 * operation and host message; FUZZ_VMBUS_DUMP=file writes each input there first (fuzz_main does not save them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "fuzz_input.h"
#include "hv/hv.h"
#include "lib/log.h"
#include "vid/memory.h"
#include "vmbus/internal.h" /* white-box checks of the server's state (fz_check_server) */
#include "vmbus/vmbus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_RAM (1ull << 20)
#define FZ_PAGES ((uint32_t)(FZ_RAM / 4096))
#define FZ_LOW_PAGES 16u /* pages 0-15: post-message input, SIM/SIEF pages: never ring pages */
#define FZ_VPS 2u
#define FZ_MAX_OPS 256u
#define FZ_POST_GPA 0x0000ull
#define FZ_SIMP(vp) (0x2000ull + (vp) * 0x2000ull)
#define FZ_SIEFP(vp) (0x3000ull + (vp) * 0x2000ull)
#define FZ_HANDLE_BASE 0xE1E10u /* Linux's first GPADL handle */
#define FZ_RECS 16u
#define FZ_REC_MAX_PFNS 4400u
#define FZ_PFN_BUDGET 12000u /* PFNs posted by FZ_OP_GPADL per input: bounds the ring mapping work */
#define FZ_SLOTS 6u
#define FZ_FIFO 64u
#define FZ_RELIDS 2048u
#define FZ_RESETS 64u
#define FZ_RECV_BUF 16384u
#define FZ_MAX_PKT 4096u /* the largest max_packet_bytes of the test devices */

/* ---- input --------------------------------------------------------------------------------------------------- */

static uint32_t fz_relid_sel(struct fz_input *in)
{
	uint8_t r = fz_u8(in);

	return r & 0x80 ? fz_u32(in) : r % 8u;
}

static uint32_t fz_handle_sel(struct fz_input *in)
{
	uint8_t h = fz_u8(in);

	return h & 0x80 ? fz_u32(in) : FZ_HANDLE_BASE + h % FZ_RECS;
}

static uint32_t fz_vp(uint8_t b)
{
	return b & 0x80 ? b : b % FZ_VPS;
}

static inline uint32_t fz_pad8(uint32_t v)
{
	return (v + 7u) & ~7u;
}

static uint32_t fz_hash(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* ---- state ------------------------------------------------------------------------------------------------- */

/* What one input reached (FUZZ_VMBUS_STATS=1 prints it; totals at exit). */
struct fz_counters {
	unsigned long ops, posts_ok, msgs_taken, offers_seen, gpadls_created, opens_ok, open_calls, closes,
		notifies, guest_pkts, vsp_pkts_in, vsp_pkts_fifo_checked, gpa_ranges, vsp_sends_ok, vsp_eagain,
		host_pkts_read, timer_fires, signals_ok, resets, broken, subchannels;
	/* the server's own counters at the end of the input */
	unsigned long srv_in, srv_rejected, srv_out, srv_guest_signals, srv_host_signals, srv_broken;
};
static struct fz_counters fz_c, fz_total;

/* A packet the guest wrote into a clean ring, for the VSP side to find again. */
struct fz_pkt {
	uint32_t len;
	uint16_t type, flags;
	uint64_t trans;
	uint32_t sum;
};

enum fz_rec_state { FZ_REC_NONE, FZ_REC_PENDING, FZ_REC_LIVE };

/*
 * A GPADL the guest made with FZ_OP_GPADL, kept by index (handle FZ_HANDLE_BASE + index). A record is PENDING from
 * its header until GPADL_CREATED, LIVE after a status 0, and NONE again after a failure status, GPADL_TORNDOWN or
 * the bus reset that follows it: exactly when the server forgets it. (The server may forget earlier, silently, on
 * RELID_RELEASED: the record then stays and only makes the checks more careful.)
 */
struct fz_rec {
	enum fz_rec_state state;
	uint32_t relid;
	uint32_t npfn;     /* announced */
	uint32_t seq;      /* guest post number of the header */
	uint32_t split;    /* pages of the guest -> host ring (the OPEN's downstream offset) */
	bool bad;          /* the server must refuse it (a page outside RAM, bad range) */
	bool complete;     /* every announced PFN was posted, exactly */
	bool ring_clean;   /* the guest kept both rings consistent since it initialised them */
	uint32_t open_poll; /* fz_g.polls when an OPEN initialised the rings */
	uint64_t pfns[FZ_REC_MAX_PFNS];
	struct fz_pkt fifo[FZ_FIFO]; /* packets written into the guest -> host ring, not yet taken by the VSP */
	unsigned fifo_head, fifo_n;
};

/* The guest's view of an offer (this connection). */
struct fz_offer {
	bool seen, live, rescinded;
	uint16_t sub;
	uint32_t conn_id;
	struct vmbus_guid type, instance;
};

/* Where the server posts its messages: VP and SINT (INITIATE_CONTACT's target_vcpu and msg_sint). */
struct fz_loc {
	uint32_t vp;
	unsigned sint;
};

/* A reset the guest asked for (INITIATE_CONTACT or UNLOAD), waiting for its answer, and where that answer and
 * everything after it will arrive. */
struct fz_reset {
	uint32_t seq;
	uint32_t version;
	bool unload;
	struct fz_loc loc;
};

static struct {
	struct fz_offer offers[FZ_RELIDS];
	uint32_t released[FZ_RELIDS]; /* guest post number of the last RELID_RELEASED of each relid */
	uint32_t epoch_seq;           /* post number of the reset whose answer the guest saw last */
	uint32_t max_relid;
	struct fz_rec recs[FZ_RECS];
	uint16_t page_refs[FZ_PAGES]; /* records (not NONE) that contain the page, counted per occurrence */
	uint16_t page_mask[FZ_PAGES]; /* which records contain it */
	struct fz_reset resets[FZ_RESETS];
	unsigned reset_head, reset_n;
	struct fz_loc cur;        /* where the messages the guest takes next come from */
	uint32_t seq;             /* accepted guest posts */
	uint32_t trans;           /* last transaction id of a guest packet */
	uint32_t polls;
	uint32_t version;         /* from the last VERSION_RESPONSE */
	uint64_t posts_ok;        /* accepted posts since the server was created */
	uint64_t taken;           /* host messages the guest took since the server was created */
	uint32_t pfn_budget;
	uint32_t synic_off;       /* VPs whose SIM page the guest turned off */
	bool autotake;
	bool work;                /* the server may have something to do: the automatic step polls it */
	bool lossy;               /* host messages may have been lost: message oracles off */
	bool synic_taint;         /* a raw GPADL may put rings over the SynIC pages */
	bool raw_gpadl;           /* raw GPADL/OPEN messages: GPADL and ring oracles off */
	bool raw_offer;           /* raw RELID_RELEASED: offer oracles off */
	struct vmbus_server_stats last;
} fz_g;

static bool fz_trust_msgs(void) { return !fz_g.lossy && !fz_g.synic_taint; }
static bool fz_trust_gpadl(void) { return fz_trust_msgs() && !fz_g.raw_gpadl; }
static bool fz_trust_offers(void) { return fz_trust_msgs() && !fz_g.raw_offer; }

static struct vid_memory *fz_mem;
static uint8_t fz_dirty[FZ_PAGES]; /* pages this input may have written (guest or host): zeroed before the next */
static bool fz_trace; /* FUZZ_VMBUS_TRACE=1: each operation and host message on stderr */
static struct hvi_partition *fz_hv;
static struct vmbus_server *fz_srv;
static uint32_t fz_max_version;

/* ---- the test VSPs ------------------------------------------------------------------------------------------ */

enum fz_kind { FZ_DEV_ECHO, FZ_DEV_REFUSE, FZ_DEV_CHATTY, FZ_DEV_SILENT, FZ_DEV_KINDS };

#define FZ_SUBS 5u /* sub-channels a test device can have */

struct fz_dev;

/* One channel of a device: chans[0] is the primary, then its sub-channels. The channel's context points here. */
struct fz_chan {
	struct fz_dev *dev;
	struct vmbus_channel *ch;  /* NULL: none (never offered, or rescinded, or forgotten by the server) */
	uint32_t relid;
	uint16_t sub;              /* sub-channel index (0: primary) */
	bool open;                 /* between an accepted open and its close */
	struct vmbus_timer timer;
	unsigned burst;            /* packets the timer still sends */
	uint32_t counter;
	bool reply_pending;        /* a completion that found the ring full */
	uint64_t reply_trans;
	uint32_t reply_len;
	uint8_t reply[64];
};

struct fz_dev {
	bool alive;                /* offered, not rescinded */
	enum fz_kind kind;
	uint32_t max_pkt;
	uint8_t gen, mode;
	struct vmbus_guid instance;
	struct fz_chan chans[1 + FZ_SUBS];
};
static struct fz_dev fz_devs[FZ_SLOTS];

/* The guest's GPADL record of a channel's rings, if the guest keeps that ring clean; else NULL. */
static struct fz_rec *fz_clean_rec_of(const struct vmbus_channel *ch)
{
	const struct vmbus_gpadl *g = ch->ring_gpadl;
	struct fz_rec *r;

	if (!g || g->handle - FZ_HANDLE_BASE >= FZ_RECS || !fz_trust_gpadl())
		return NULL;
	r = &fz_g.recs[g->handle - FZ_HANDLE_BASE];
	if (r->state == FZ_REC_NONE || !r->ring_clean)
		return NULL;
	/* The server's ring sizes must be what the guest set up. */
	FZ_CHECK(ch->in.size == (r->split - 1) * 4096u);
	FZ_CHECK(ch->out.size == (r->npfn - r->split - 1) * 4096u);
	return r;
}

/* vmbus_channel_send with its contract checked. */
static int fz_send(struct fz_chan *c, uint16_t type, uint16_t flags, uint64_t trans, const void *desc, uint32_t dlen,
		   const void *data, uint32_t len)
{
	bool was_open = vmbus_channel_is_open(c->ch);
	uint32_t total = 16u + fz_pad8(dlen) + fz_pad8(len);
	int ret = vmbus_channel_send(c->ch, type, flags, trans, desc, dlen, data, len);

	FZ_CHECK(ret == 0 || ret == -EAGAIN || ret == -EMSGSIZE || ret == -EPIPE);
	if (!was_open)
		FZ_CHECK(ret == -EPIPE);
	else if (total > c->dev->max_pkt)
		FZ_CHECK(ret == -EMSGSIZE);
	if (ret == -EPIPE) {
		FZ_CHECK(!vmbus_channel_is_open(c->ch));
		if (was_open) {
			fz_c.broken++;
			FZ_CHECK(!fz_clean_rec_of(c->ch)); /* a clean ring never stops the channel */
		}
	}
	if (ret == 0)
		fz_c.vsp_sends_ok++;
	if (ret == -EAGAIN)
		fz_c.vsp_eagain++;
	return ret;
}

/* vmbus_channel_recv with its contract checked, and the packet matched against what the guest wrote. */
static int fz_recv(struct fz_chan *c, void *buf, size_t cap, struct vmbus_packet *pkt)
{
	struct fz_rec *r = fz_clean_rec_of(c->ch);
	int ret = vmbus_channel_recv(c->ch, buf, cap, pkt);

	FZ_CHECK(ret > 0 || ret == -EAGAIN || ret == -EMSGSIZE || ret == -EPIPE);
	if (ret > 0) {
		FZ_CHECK(ret % 8 == 0 && ret >= 16 && (size_t)ret <= cap);
		FZ_CHECK(pkt->desc == (const uint8_t *)buf + 16);
		FZ_CHECK(16u + pkt->desc_len + pkt->data_len == (uint32_t)ret);
		FZ_CHECK(pkt->data == pkt->desc + pkt->desc_len);
		fz_c.vsp_pkts_in++;
	}
	if (ret == -EPIPE) {
		FZ_CHECK(!vmbus_channel_is_open(c->ch));
		fz_c.broken++;
	}
	if (!r)
		return ret;
	/* A clean ring: the next packet is the oldest the guest wrote, byte for byte; none is lost. */
	FZ_CHECK(ret != -EPIPE);
	if (ret == -EAGAIN) {
		FZ_CHECK(r->fifo_n == 0);
		return ret;
	}
	if (fz_trace)
		fprintf(stderr, "  vsp recv relid %u: %d, expected %u (%u queued)\n", c->relid, ret,
			r->fifo_n ? r->fifo[r->fifo_head].len : 0, r->fifo_n);
	FZ_CHECK(r->fifo_n > 0);
	if (ret > 0) {
		const struct fz_pkt *e = &r->fifo[r->fifo_head];

		FZ_CHECK((uint32_t)ret == e->len);
		FZ_CHECK(pkt->type == e->type && pkt->flags == e->flags && pkt->trans_id == e->trans);
		FZ_CHECK(fz_hash(buf, (size_t)ret) == e->sum);
		fz_c.vsp_pkts_fifo_checked++;
	} else {
		FZ_CHECK(r->fifo[r->fifo_head].len > cap);
	}
	r->fifo_head = (r->fifo_head + 1) % FZ_FIFO;
	r->fifo_n--;
	return ret;
}

/* The documented GPA-direct descriptor rules, written down independently of ring.c. */
static bool fz_gpa_desc_ok(const uint8_t *desc, uint32_t len, uint32_t *ranges)
{
	struct vmbus_gpa_direct_header h;
	uint32_t off = sizeof(h);

	if (len < sizeof(h))
		return false;
	memcpy(&h, desc, sizeof(h));
	if (!h.rangecount)
		return false;
	for (uint32_t i = 0; i < h.rangecount; i++) {
		struct gpa_range g;
		uint64_t pages;

		if (len - off < sizeof(g))
			return false;
		memcpy(&g, desc + off, sizeof(g));
		if (!g.byte_count || g.byte_offset >= 4096)
			return false;
		pages = ((uint64_t)g.byte_offset + g.byte_count + 4095) / 4096;
		if ((len - off - sizeof(g)) / 8 < pages)
			return false;
		off += (uint32_t)(sizeof(g) + pages * 8);
	}
	*ranges = h.rangecount;
	return true;
}

/* What a storage VSP does with a GPA-direct packet: walk the ranges and touch the pages (read only here). */
static void fz_walk_gpa(const struct vmbus_packet *pkt)
{
	struct vmbus_gpa_iter it;
	struct vmbus_gpa_range r;
	uint32_t want = 0, n = 0, sum = 0;
	bool ok = pkt->type == VM_PKT_DATA_USING_GPA_DIRECT && fz_gpa_desc_ok(pkt->desc, pkt->desc_len, &want);
	int ret = vmbus_gpa_iter_init(&it, pkt);

	FZ_CHECK(ret == 0 || ret == -EINVAL);
	FZ_CHECK((ret == 0) == ok);
	if (ret)
		return;
	while ((ret = vmbus_gpa_iter_next(&it, &r)) == 1) {
		uint32_t left = r.byte_count, off = r.byte_offset;

		n++;
		FZ_CHECK(n <= want);
		FZ_CHECK(r.byte_count && r.byte_offset < 4096);
		FZ_CHECK(r.pfn_count == ((uint64_t)r.byte_offset + r.byte_count + 4095) / 4096);
		FZ_CHECK((const uint8_t *)r.pfns >= pkt->desc &&
			 (const uint8_t *)r.pfns + (size_t)r.pfn_count * 8 <= pkt->desc + pkt->desc_len);
		for (uint32_t i = 0; i < r.pfn_count && left; i++) {
			uint32_t chunk = left < 4096 - off ? left : 4096 - off;
			uint64_t pfn;
			const uint8_t *p;

			memcpy(&pfn, (const uint8_t *)r.pfns + (size_t)i * 8, sizeof(pfn));
			/* The accessor checks the range; a PFN beyond RAM just fails the request. */
			p = pfn <= (UINT64_MAX >> 12) ? vid_memory_ptr(fz_mem, pfn * 4096 + off, chunk) : NULL;
			if (p)
				sum += fz_hash(p, chunk);
			left -= chunk;
			off = 0;
		}
		FZ_CHECK(left == 0);
		fz_c.gpa_ranges++;
	}
	FZ_CHECK(ret == 0 && n == want);
	(void)sum;
}

/* The harness's state of a channel a callback is about: it must be a channel of this device it knows of. */
static struct fz_chan *fz_chan_of(struct vmbus_channel *ch, void *opaque)
{
	struct fz_dev *d = opaque;
	struct fz_chan *c = vmbus_channel_context(ch);

	FZ_CHECK(d >= fz_devs && d < fz_devs + FZ_SLOTS);
	FZ_CHECK(d->alive);
	FZ_CHECK(c && c->dev == d && c->ch == ch);
	FZ_CHECK(vmbus_channel_subchannel_index(ch) == c->sub);
	FZ_CHECK(vmbus_channel_primary(ch) == d->chans[0].ch);
	return c;
}

/* The channel is gone for the VSP (rescinded, or forgotten by the server): it was closed first. */
static void fz_chan_gone(struct fz_chan *c)
{
	if (c->dev->kind == FZ_DEV_SILENT)
		c->open = false; /* no close callback */
	FZ_CHECK(!c->open);
	c->ch = NULL;
}

/* Withdraw a channel (hot-remove); the primary takes its sub-channels and the device with it. */
static void fz_chan_rescind(struct fz_chan *c)
{
	struct fz_dev *d = c->dev;

	vmbus_channel_rescind(c->ch); /* runs our close callbacks first (sub-channels, then this one) */
	fz_chan_gone(c);
	if (c->sub)
		return;
	for (unsigned i = 1; i <= FZ_SUBS; i++)
		if (d->chans[i].ch)
			fz_chan_gone(&d->chans[i]);
	d->alive = false;
}

/*
 * Sub-channels the server withdrew on its own (primary closed or rescinded, bus reset) are no longer ours. A
 * pointer comparison against the server's list, no dereference: the memory may be gone.
 */
static void fz_subs_sync(void)
{
	for (unsigned s = 0; s < FZ_SLOTS; s++) {
		for (unsigned i = 1; i <= FZ_SUBS && fz_devs[s].alive; i++) {
			struct fz_chan *c = &fz_devs[s].chans[i];
			const struct vmbus_channel *ch;

			if (!c->ch)
				continue;
			for (ch = fz_srv->channels; ch && ch != c->ch; ch = ch->next)
				;
			if (!ch || ch->context != c || ch->rescinded)
				fz_chan_gone(c);
		}
	}
}

/*
 * The VSP offers sub-channels (storvsc's CREATE_SUB_CHANNELS, netvsc's request). 1..FZ_SUBS are tracked; 0 and
 * 65 must be refused, as must a second request during one open of the primary.
 */
static void fz_dev_offer_subs(struct fz_dev *d, unsigned count)
{
	struct vmbus_channel *out[VMBUS_MAX_SUBCHANNELS];
	const struct vmbus_channel *p = d->chans[0].ch;
	bool valid = count >= 1 && count <= VMBUS_MAX_SUBCHANNELS && p->open && !p->rescinded && !p->subchannels;
	int ret;

	FZ_CHECK(count <= FZ_SUBS || !valid);
	ret = vmbus_channel_offer_subchannels(d->chans[0].ch, count, out);
	FZ_CHECK(ret == 0 || ret == -EINVAL || ret == -EBUSY || ret == -ENOSPC || ret == -ENOMEM);
	FZ_CHECK((ret == -EINVAL) == !valid);
	if (ret == -EBUSY) { /* sub-channels of an earlier open still wait for RELID_RELEASED */
		bool waiting = false;

		for (const struct vmbus_channel *c = fz_srv->channels; c; c = c->next)
			waiting |= c->sub_index && c->primary == p;
		FZ_CHECK(waiting);
	}
	if (ret)
		return;
	fz_c.subchannels += count;
	for (unsigned i = 0; i < count; i++) {
		struct fz_chan *c = &d->chans[1 + i];

		fz_subs_sync();
		FZ_CHECK(!c->ch); /* the sub-channels of an earlier open were withdrawn when the primary closed */
		memset(c, 0, sizeof(*c));
		c->dev = d;
		c->ch = out[i];
		c->sub = (uint16_t)(i + 1);
		c->relid = vmbus_channel_relid(out[i]);
		FZ_CHECK(c->relid >= 1 && c->relid <= VMBUS_MAX_RELID && !vmbus_channel_is_open(out[i]));
		FZ_CHECK(vmbus_channel_context(out[i]) == NULL);
		vmbus_channel_set_context(out[i], c);
		FZ_CHECK(vmbus_channel_subchannel_index(out[i]) == c->sub);
		FZ_CHECK(vmbus_channel_primary(out[i]) == d->chans[0].ch);
	}
}

static void fz_chan_timer(void *opaque);

static void fz_chan_arm(struct fz_chan *c)
{
	if (c->burst && c->open)
		vmbus_timer_arm(fz_srv, &c->timer, 0, fz_chan_timer, c);
}

/* Unsolicited packets: sizes vary, some above the device's max_packet_bytes. */
static void fz_chan_timer(void *opaque)
{
	struct fz_chan *c = opaque;
	struct fz_dev *d = c->dev;
	uint8_t buf[700];

	FZ_CHECK(d->alive && c->ch && c->open);
	fz_c.timer_fires++;
	while (c->burst) {
		uint32_t len = (c->counter * 37u + d->mode) % (d->kind == FZ_DEV_CHATTY ? 600u : 300u);
		int ret;

		memset(buf, (int)(c->counter & 0xFF), len);
		ret = fz_send(c, VM_PKT_DATA_INBAND, c->counter & 1 ? VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED : 0,
			      c->counter, NULL, 0, buf, len);
		if (ret == -EAGAIN)
			return; /* notify re-arms once the guest made room */
		c->counter++;
		c->burst--;
		if (ret == -EPIPE)
			c->burst = 0;
	}
	if (d->mode & 0x40)
		fz_chan_rescind(c); /* a VSP that withdraws its device from its own callback */
}

static int fz_dev_open(struct vmbus_channel *ch, void *opaque)
{
	struct fz_chan *c = fz_chan_of(ch, opaque);
	struct fz_dev *d = c->dev;
	uint8_t hello[24] = "openhv fuzz hello";

	FZ_CHECK(!c->open || d->kind == FZ_DEV_SILENT);
	FZ_CHECK(vmbus_channel_is_open(ch));
	FZ_CHECK(vmbus_channel_relid(ch) == c->relid);
	FZ_CHECK(vmbus_channel_target_vp(ch) < FZ_VPS);
	FZ_CHECK(vmbus_channel_version(ch) != 0);
	FZ_CHECK(vmbus_channel_memory(ch) == fz_mem);
	/*
	 * After notify the server watches the drained ring for VMBUS_POLL_NS. Here nothing writes the ring while the
	 * server runs, so the watch can only time out, and it would cost most of the run time: off (as a VSP with
	 * asynchronous completions does), unless mode bit 7.
	 */
	vmbus_channel_set_poll(ch, d->mode & 0x80);
	fz_c.open_calls++;
	switch (d->kind) {
	case FZ_DEV_REFUSE:
		/* Sending from open is allowed; the packet stays in the ring even if the open then fails. */
		fz_send(c, VM_PKT_DATA_INBAND, 0, 7, NULL, 0, hello, sizeof(hello));
		if (!(d->mode & 1))
			return -ENODEV;
		break;
	case FZ_DEV_CHATTY:
		fz_send(c, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, 1, NULL, 0, hello,
			sizeof(hello));
		c->burst = 2u + (d->mode & 3u) * 24u;
		break;
	default:
		break;
	}
	c->open = true;
	fz_c.opens_ok++;
	fz_chan_arm(c);
	return 0;
}

static void fz_dev_close(struct vmbus_channel *ch, void *opaque)
{
	struct fz_chan *c = fz_chan_of(ch, opaque);

	FZ_CHECK(c->open);
	vmbus_timer_cancel(fz_srv, &c->timer);
	c->open = false;
	c->burst = 0;
	c->reply_pending = false;
	fz_c.closes++;
}

static bool fz_echo_notify(struct fz_chan *c)
{
	static const uint32_t caps[4] = { FZ_RECV_BUF, 64, 24, 512 };
	static uint64_t buf[FZ_RECV_BUF / 8 + 1];
	struct fz_dev *d = c->dev;
	uint32_t cap = caps[d->mode & 3];

	for (unsigned i = 0; i < 256; i++) {
		struct vmbus_packet pkt;
		int ret;

		if (c->reply_pending) {
			ret = fz_send(c, VM_PKT_COMP, 0, c->reply_trans, NULL, 0, c->reply, c->reply_len);
			if (ret == -EAGAIN)
				return false; /* back-pressure: notified again when the guest read */
			c->reply_pending = false;
		}
		if (d->mode & 16) /* an unaligned buffer is refused (a stopped channel says so first) */
			FZ_CHECK(vmbus_channel_recv(c->ch, (uint8_t *)buf + 4, cap, &pkt) ==
				 (vmbus_channel_is_open(c->ch) ? -EINVAL : -EPIPE));
		ret = fz_recv(c, buf, cap, &pkt);
		if (ret == -EAGAIN || ret == -EPIPE)
			return true;
		if (ret == -EMSGSIZE)
			continue;
		if (pkt.type == VM_PKT_DATA_USING_GPA_DIRECT || (d->mode & 32))
			fz_walk_gpa(&pkt);
		if (d->mode & 4)
			continue; /* swallow */
		/* "Create sub-channels" (count in byte 1; 0xFF: 65, refused), on the primary only. */
		if (pkt.data_len >= 2 && pkt.data[0] == 0x20 && !c->sub)
			fz_dev_offer_subs(d, pkt.data[1] == 0xFF ? VMBUS_MAX_SUBCHANNELS + 1u : pkt.data[1] % (FZ_SUBS + 1));
		if (pkt.flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED) {
			uint32_t len = pkt.data_len < sizeof(c->reply) ? pkt.data_len : (uint32_t)sizeof(c->reply);

			memcpy(c->reply, pkt.data, len);
			ret = fz_send(c, VM_PKT_COMP, 0, pkt.trans_id, NULL, 0, c->reply, len);
			if (ret == -EAGAIN) {
				c->reply_pending = true;
				c->reply_trans = pkt.trans_id;
				c->reply_len = len;
				return false;
			}
		}
		if (pkt.data_len && (pkt.data[0] & 0x80)) /* echo the payload back in-band */
			fz_send(c, VM_PKT_DATA_INBAND, 0, pkt.trans_id, NULL, 0, pkt.data, pkt.data_len);
		if (pkt.data_len > 1 && (pkt.data[0] & 0x40)) {
			/* A transfer-page style packet whose descriptor length is not a multiple of 8. */
			uint8_t desc[48];
			uint32_t dlen = pkt.data[1] % sizeof(desc);

			memset(desc, 0xA5, sizeof(desc));
			fz_send(c, VM_PKT_DATA_USING_XFER_PAGES, 0, pkt.trans_id, desc, dlen, pkt.data,
				pkt.data_len > 100 ? 100 : pkt.data_len);
		}
		if (d->mode & 8)
			return false; /* stops early on purpose */
	}
	return true;
}

static bool fz_dev_notify(struct vmbus_channel *ch, void *opaque)
{
	static uint64_t buf[FZ_RECV_BUF / 8];
	struct fz_chan *c = fz_chan_of(ch, opaque);
	struct fz_dev *d = c->dev;
	FZ_CHECK(c->open);
	fz_c.notifies++;
	if ((d->mode & 0x40) && d->kind != FZ_DEV_CHATTY) {
		struct vmbus_packet pkt;

		fz_recv(c, buf, sizeof(buf), &pkt);
		fz_chan_rescind(c); /* a VSP that withdraws its device (or sub-channel) from its own callback */
		return true;        /* the server must not look at the channel's ops again */
	}
	if (d->kind == FZ_DEV_ECHO)
		return fz_echo_notify(c);
	for (unsigned i = 0; i < 512; i++) {
		struct vmbus_packet pkt;
		int ret = fz_recv(c, buf, sizeof(buf), &pkt);

		if (ret == -EAGAIN || ret == -EPIPE)
			break;
	}
	if (c->burst)
		fz_chan_arm(c);
	return true;
}

static const struct vmbus_device_ops fz_ops_full = {
	.open = fz_dev_open,
	.close = fz_dev_close,
	.notify = fz_dev_notify,
};
static const struct vmbus_device_ops fz_ops_silent = { .open = fz_dev_open };

static void fz_dev_config(struct fz_dev *d, struct vmbus_offer_config *cfg)
{
	static const struct vmbus_guid classes[FZ_DEV_KINDS] = { HV_SCSI_GUID, HV_SHUTDOWN_GUID, HV_KVP_GUID,
								   HV_HEART_BEAT_GUID };
	static const char *const names[FZ_DEV_KINDS] = { "fz-echo", "fz-refuse", "fz-chatty", "fz-silent" };

	memset(cfg, 0, sizeof(*cfg));
	cfg->class_id = classes[d->kind];
	cfg->instance_id = d->instance;
	cfg->name = names[d->kind];
	cfg->ops = d->kind == FZ_DEV_SILENT ? &fz_ops_silent : &fz_ops_full;
	cfg->opaque = d;
	if (d->kind == FZ_DEV_CHATTY) {
		cfg->pipe_mode = true;
		cfg->max_packet_bytes = 512;
		cfg->user_def[0] = 1;
	}
	if (d->kind == FZ_DEV_REFUSE)
		cfg->mmio_megabytes = 8;
}

/* Offer a new device of @kind in the free slot @slot. */
static void fz_dev_offer(unsigned slot, enum fz_kind kind)
{
	struct fz_dev *d = &fz_devs[slot];
	struct vmbus_offer_config cfg;
	struct vmbus_channel *ch = NULL;
	uint8_t gen = (uint8_t)(d->gen + 1);
	int ret;

	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->gen = gen;
	d->max_pkt = kind == FZ_DEV_CHATTY ? 512 : 4096;
	d->instance = (struct vmbus_guid){ { 0x4F, 0x48, 0x56, 0x46, (uint8_t)slot, gen, (uint8_t)kind, 0, 1, 2, 3, 4,
					     5, 6, 7, 8 } };
	fz_dev_config(d, &cfg);
	ret = vmbus_device_offer(fz_srv, &cfg, &ch);
	FZ_CHECK(ret == 0);
	FZ_CHECK(ch && vmbus_channel_relid(ch) >= 1 && vmbus_channel_relid(ch) <= VMBUS_MAX_RELID);
	FZ_CHECK(!vmbus_channel_is_open(ch));
	FZ_CHECK(strcmp(vmbus_channel_name(ch), cfg.name) == 0);
	FZ_CHECK(vmbus_channel_subchannel_index(ch) == 0 && vmbus_channel_primary(ch) == ch);
	for (unsigned i = 0; i < FZ_SLOTS; i++)
		for (unsigned k = 0; k <= FZ_SUBS && fz_devs[i].alive; k++)
			FZ_CHECK(!fz_devs[i].chans[k].ch || fz_devs[i].chans[k].relid != vmbus_channel_relid(ch));
	for (unsigned k = 0; k <= FZ_SUBS; k++)
		d->chans[k].dev = d;
	d->chans[0].ch = ch;
	d->chans[0].relid = vmbus_channel_relid(ch);
	vmbus_channel_set_context(ch, &d->chans[0]);
	d->alive = true;
}

/* ---- the partition and the server ----------------------------------------------------------------------------- */

static void fz_interrupt(void *opaque, uint32_t vp_index, uint8_t vector)
{
	(void)opaque;
	FZ_CHECK(vp_index < FZ_VPS);
	FZ_CHECK(vector >= HV_SYNIC_FIRST_VALID_VECTOR);
}

static void fz_stop(void *opaque, enum hvi_stop why, const char *message)
{
	(void)opaque;
	fprintf(stderr, "fuzz_vmbus: unexpected stop %d (%s)\n", (int)why, message ? message : "");
	abort();
}

static void fz_msr_ok(uint32_t vp, uint32_t msr, uint64_t v)
{
	FZ_CHECK(hvi_msr_access(fz_hv, vp, msr, true, &v) == 0);
}

static void fz_server_create(uint32_t max_version)
{
	struct vmbus_server_config cfg = { .hv = fz_hv, .mem = fz_mem, .vp_count = FZ_VPS,
					   .max_version = max_version };

	FZ_CHECK(vmbus_server_create(&cfg, &fz_srv) == 0);
	fz_max_version = max_version ? max_version : VERSION_WIN10_V5_3;
	memset(fz_devs, 0, sizeof(fz_devs));
	fz_dev_offer(0, FZ_DEV_ECHO);
	fz_dev_offer(1, FZ_DEV_REFUSE);
	fz_dev_offer(2, FZ_DEV_CHATTY);
	fz_g.posts_ok = fz_g.taken = 0;
	memset(&fz_g.last, 0, sizeof(fz_g.last));
}

/* The guest's view of the bus, as after a (re)boot of the host side. */
static void fz_view_reset(void)
{
	memset(fz_g.offers, 0, sizeof(fz_g.offers));
	memset(fz_g.released, 0, sizeof(fz_g.released));
	fz_g.epoch_seq = 0;
	fz_g.max_relid = 0;
	for (unsigned i = 0; i < FZ_RECS; i++) {
		fz_g.recs[i].state = FZ_REC_NONE;
		fz_g.recs[i].ring_clean = false;
		fz_g.recs[i].fifo_n = 0;
		fz_g.recs[i].open_poll = UINT32_MAX;
	}
	memset(fz_g.page_refs, 0, sizeof(fz_g.page_refs));
	memset(fz_g.page_mask, 0, sizeof(fz_g.page_mask));
	fz_g.reset_head = fz_g.reset_n = 0;
	fz_g.cur = (struct fz_loc){ 0, VMBUS_MESSAGE_SINT };
	fz_g.version = 0;
	fz_g.raw_gpadl = fz_g.raw_offer = fz_g.synic_taint = false;
	fz_g.lossy = fz_g.synic_off != 0;
}

static void fz_guest_msg(const struct hv_message *m);

static struct hv_message *fz_slot(uint32_t vp, unsigned sint)
{
	return vid_memory_ptr(fz_mem, FZ_SIMP(vp) + sint * HV_MESSAGE_SIZE, HV_MESSAGE_SIZE);
}

static bool fz_slot_full(struct fz_loc l)
{
	const struct hv_message *m;

	if (fz_g.synic_off & (1u << l.vp))
		return false;
	m = fz_slot(l.vp, l.sint);
	return m && __atomic_load_n(&m->header.message_type, __ATOMIC_ACQUIRE) != HVMSG_NONE;
}

/* Take the message in slot @l like Linux (copy, clear the type, EOM if MessagePending), and look at it. */
static bool fz_take(struct fz_loc l, bool eom, bool process)
{
	struct hv_message *slot, m;

	if (!fz_slot_full(l))
		return false;
	slot = fz_slot(l.vp, l.sint);
	memcpy(&m, slot, sizeof(m));
	__atomic_store_n(&slot->header.message_type, HVMSG_NONE, __ATOMIC_SEQ_CST);
	if (eom && (__atomic_load_n(&slot->header.message_flags, __ATOMIC_SEQ_CST) & HV_MESSAGE_FLAG_PENDING))
		fz_msr_ok(l.vp, HV_X64_MSR_EOM, 0);
	fz_c.msgs_taken++;
	fz_g.taken++;
	fz_g.work = true; /* a freed slot lets the server flush its backlog */
	if (fz_trace)
		fprintf(stderr, "  host msg VP%u SINT%u: type %u size %u%s\n", l.vp, l.sint, (unsigned)m.payload[0],
			m.header.payload_size, process ? "" : " (discarded)");
	if (process)
		fz_guest_msg(&m);
	return true;
}

static bool fz_loc_eq(struct fz_loc a, struct fz_loc b)
{
	return a.vp == b.vp && a.sint == b.sint;
}

/* Is the message waiting at @l the answer to a reset? */
static bool fz_slot_is_answer(struct fz_loc l)
{
	const struct hv_message *m = fz_slot(l.vp, l.sint);
	uint32_t type;

	memcpy(&type, m->payload, sizeof(type));
	return m->header.payload_size >= 8 &&
	       (type == CHANNELMSG_VERSION_RESPONSE || type == CHANNELMSG_UNLOAD_RESPONSE);
}

/*
 * Take the next host message in the order the server sent them. A reset may move the server to another VP or SINT:
 * the messages before it are all at the old place, its answer and what follows at the new one. So stay at the
 * current place until it is empty or holds the answer to a later reset; then the oldest pending reset's answer,
 * if it is there, moves us.
 */
static bool fz_take_next(void)
{
	bool here = fz_slot_full(fz_g.cur);

	if (fz_g.reset_n) {
		struct fz_loc l = fz_g.resets[fz_g.reset_head].loc;

		if (!fz_loc_eq(l, fz_g.cur) && (!here || fz_slot_is_answer(fz_g.cur)) && fz_slot_full(l)) {
			fz_g.cur = l;
			return fz_take(l, true, true);
		}
	}
	return here && fz_take(fz_g.cur, true, true);
}

static void fz_take_all(void)
{
	for (unsigned k = 0; k < 512 && fz_take_next(); k++)
		;
}

/* Throw away every message in every SynIC slot and queue (the host side was destroyed). */
static void fz_discard_all(void)
{
	for (uint32_t vp = 0; vp < FZ_VPS; vp++) {
		if (fz_g.synic_off & (1u << vp))
			continue;
		for (unsigned round = 0; round < 2 * 32 + 2; round++) {
			bool any = false;

			fz_msr_ok(vp, HV_X64_MSR_EOM, 0); /* delivers what is queued behind a freed slot */
			for (unsigned sint = 0; sint < HV_SYNIC_SINT_COUNT; sint++)
				any |= fz_take((struct fz_loc){ vp, sint }, false, false);
			if (!any)
				break;
		}
	}
}

/* White-box consistency of the server after any guest behaviour. */
static void fz_check_server(void)
{
	struct vmbus_server_stats st;
	uint32_t version, pfns = 0, last_relid = 0;
	unsigned gpadls = 0, backlog = 0;
	enum vmbus_connection_state state = vmbus_server_state(fz_srv, &version);

	vmbus_server_stats(fz_srv, &st);
	FZ_CHECK(st.messages_in >= fz_g.last.messages_in && st.messages_rejected >= fz_g.last.messages_rejected &&
		 st.messages_out >= fz_g.last.messages_out && st.resets >= fz_g.last.resets &&
		 st.guest_signals >= fz_g.last.guest_signals && st.host_signals >= fz_g.last.host_signals &&
		 st.channels_broken >= fz_g.last.channels_broken);
	FZ_CHECK(st.messages_rejected <= st.messages_in);
	FZ_CHECK(st.messages_in <= fz_g.posts_ok);
	FZ_CHECK(st.resets <= st.messages_in);
	FZ_CHECK(st.channels_broken <= fz_c.open_calls); /* only an open channel can break */
	fz_g.last = st;
	FZ_CHECK(state == VMBUS_STATE_DISCONNECTED || state == VMBUS_STATE_CONNECTED ||
		 state == VMBUS_STATE_OFFERS_SENT);
	FZ_CHECK((state == VMBUS_STATE_DISCONNECTED) == (version == 0));
	FZ_CHECK(version <= fz_max_version);
	FZ_CHECK(strcmp(vmbus_connection_state_name(state), "?") != 0);

	for (const struct vmbus_gpadl *g = fz_srv->gpadls; g; g = g->next) {
		gpadls++;
		FZ_CHECK(gpadls <= VMBUS_GPADL_MAX);
		pfns += g->pfn_count;
		FZ_CHECK(g->pfn_received <= g->pfn_count && g->pfn_count <= (65535u - 8u) / 8u);
		FZ_CHECK(!g->complete || g->pfn_received == g->pfn_count);
		if (g->ring_of) {
			FZ_CHECK(g->complete && g->ring_of->open && g->ring_of->ring_gpadl == g);
			FZ_CHECK(g->ring_of->relid == g->relid);
		}
		if (fz_srv->gpadl_count <= 64)
			for (const struct vmbus_gpadl *h = g->next; h; h = h->next)
				FZ_CHECK(h->handle != g->handle);
	}
	FZ_CHECK(gpadls == fz_srv->gpadl_count && pfns == fz_srv->gpadl_pfns);
	FZ_CHECK(pfns <= VMBUS_GPADL_TOTAL_PFNS);

	for (const struct vmbus_channel *ch = fz_srv->channels; ch; ch = ch->next) {
		FZ_CHECK(ch->srv == fz_srv);
		FZ_CHECK(ch->relid > last_relid && ch->relid <= VMBUS_MAX_RELID);
		last_relid = ch->relid;
		FZ_CHECK(ch->connection_id == VMBUS_CHANNEL_CONNECTION_BASE + ch->relid);
		FZ_CHECK(!ch->opening);
		if (ch->open) {
			FZ_CHECK(ch->offer_sent && !ch->rescinded);
			FZ_CHECK(ch->ring_gpadl && ch->ring_gpadl->ring_of == ch);
			FZ_CHECK(ch->in.map && ch->out.map && ch->in.size >= 4096 && ch->out.size >= 4096);
			FZ_CHECK(ch->in.cursor < ch->in.size && !(ch->in.cursor & 7));
			FZ_CHECK(ch->out.cursor < ch->out.size && !(ch->out.cursor & 7));
			FZ_CHECK(ch->in.size + ch->out.size + 2 * 4096u ==
				 (uint64_t)ch->ring_gpadl->pfn_count * 4096u);
			FZ_CHECK(ch->event_fd >= 0 && ch->target_vp < FZ_VPS);
		} else {
			FZ_CHECK(!ch->ring_gpadl && !ch->in.map && !ch->out.map && ch->event_fd == -1);
			FZ_CHECK(!ch->broken && !ch->pending_space);
		}
	}
	for (const struct vmbus_outmsg *o = fz_srv->backlog; o; o = o->next) {
		backlog++;
		FZ_CHECK(o->size <= HV_MESSAGE_PAYLOAD_BYTE_COUNT);
	}
	FZ_CHECK(backlog == fz_srv->backlog_len && backlog <= VMBUS_BACKLOG_MAX);
	if (backlog + 64 >= VMBUS_BACKLOG_MAX)
		fz_g.lossy = true; /* the next messages may be dropped */
	FZ_CHECK(fz_srv->msgq_count <= VMBUS_MSGQ_LEN);

	fz_subs_sync();
	for (unsigned i = 0; i < FZ_SLOTS; i++) {
		const struct fz_dev *d = &fz_devs[i];

		if (!d->alive)
			continue;
		for (unsigned k = 0; k <= FZ_SUBS; k++) {
			const struct fz_chan *c = &d->chans[k];
			const struct vmbus_channel *ch;

			if (!c->ch) {
				FZ_CHECK(k > 0 && !c->open);
				continue;
			}
			for (ch = fz_srv->channels; ch && ch != c->ch; ch = ch->next)
				;
			FZ_CHECK(ch && !ch->rescinded && ch->relid == c->relid && ch->sub_index == c->sub);
			FZ_CHECK(ch->context == c && ch->primary == d->chans[0].ch);
			if (d->kind != FZ_DEV_SILENT) /* the silent device has no close callback */
				FZ_CHECK(c->open == ch->open);
			else
				FZ_CHECK(!ch->open || c->open);
			FZ_CHECK(vmbus_channel_is_open(c->ch) == (ch->open && !ch->broken));
			/* vmbus.h: sub-channels "are rescinded when the primary closes" */
			if (k > 0)
				FZ_CHECK(d->chans[0].ch->open);
		}
	}
}

/* One round of the server, and what must hold right after it. */
static void fz_poll(void)
{
	struct vmbus_server_stats st;
	int n = vmbus_server_poll(fz_srv, 0);

	FZ_CHECK(n >= 0);
	fz_g.polls++;
	fz_g.work = false;
	vmbus_server_stats(fz_srv, &st);
	FZ_CHECK(st.messages_in == fz_g.posts_ok); /* every queued message was dispatched */
	/*
	 * The guest fell behind: the SynIC queue (32) is full and the server keeps messages in its backlog, which a
	 * bus reset drops, answers to earlier resets included (by design: nothing of the old connection survives).
	 * The guest cannot tell what it lost: the message oracles stop.
	 */
	if (st.messages_out >= fz_g.taken + 32 || fz_srv->backlog)
		fz_g.lossy = true;
	FZ_CHECK(fz_srv->msgq_count == 0);
	fz_subs_sync();
	for (unsigned i = 0; i < FZ_SLOTS; i++)
		for (unsigned k = 0; k <= FZ_SUBS && fz_devs[i].alive; k++)
			FZ_CHECK(!fz_devs[i].chans[k].ch || fz_devs[i].chans[k].timer.due_ns == 0); /* 0 ms timers fired */
}

/* ---- the guest: posting messages ------------------------------------------------------------------------------ */

static bool fz_version_known(uint32_t v)
{
	static const uint32_t known[] = { VERSION_WIN10_V5_3, VERSION_WIN10_V5_2, VERSION_WIN10_V5_1,
					  VERSION_WIN10_V5,   VERSION_WIN10_V4_1, VERSION_WIN10,
					  VERSION_WIN8_1,     VERSION_WIN8 };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i] == v)
			return true;
	return false;
}

/* What an accepted message will do to the server, as far as the guest's view needs to know. */
static void fz_classify(uint32_t vp, const uint8_t *p, uint32_t size, bool raw)
{
	uint32_t type;

	if (size < 8)
		return;
	memcpy(&type, p, 4);
	if ((type == CHANNELMSG_INITIATE_CONTACT && size >= sizeof(struct vmbus_channel_initiate_contact)) ||
	    type == CHANNELMSG_UNLOAD) {
		struct fz_reset *r;

		if (fz_g.reset_n == FZ_RESETS) {
			fz_g.lossy = true;
			return;
		}
		/* The server answers where it posts from then on: for UNLOAD where it posted before. */
		r = &fz_g.resets[(fz_g.reset_head + fz_g.reset_n) % FZ_RESETS];
		r->loc = fz_g.reset_n ? fz_g.resets[(fz_g.reset_head + fz_g.reset_n - 1) % FZ_RESETS].loc : fz_g.cur;
		fz_g.reset_n++;
		r->seq = fz_g.seq;
		r->unload = type == CHANNELMSG_UNLOAD;
		if (fz_trace)
			fprintf(stderr, "  reset %s posted (seq %u, %u pending)\n", r->unload ? "UNLOAD" : "CONTACT", r->seq,
				fz_g.reset_n);
		r->version = 0;
		if (!r->unload) {
			struct vmbus_channel_initiate_contact c;

			memcpy(&c, p, sizeof(c));
			r->version = c.vmbus_version_requested;
			r->loc.vp = c.target_vcpu < FZ_VPS ? c.target_vcpu : vp;
			r->loc.sint = VMBUS_MESSAGE_SINT;
			if (c.vmbus_version_requested >= VERSION_WIN10_V5 && c.u.s.msg_sint < HV_SYNIC_SINT_COUNT)
				r->loc.sint = c.u.s.msg_sint;
		}
		return;
	}
	if (!raw)
		return;
	if (type == CHANNELMSG_GPADL_HEADER || type == CHANNELMSG_GPADL_BODY) {
		uint32_t first = type == CHANNELMSG_GPADL_HEADER ? 28 : 16;

		fz_g.raw_gpadl = true;
		for (uint32_t off = first; off + 8 <= size; off += 8) {
			uint64_t pfn;

			memcpy(&pfn, p + off, 8);
			if (pfn < FZ_PAGES)
				fz_dirty[pfn] = 1;
			if (pfn < FZ_LOW_PAGES)
				fz_g.synic_taint = true; /* a ring over the SynIC pages would rewrite messages */
		}
	} else if (type == CHANNELMSG_GPADL_TEARDOWN || type == CHANNELMSG_OPENCHANNEL) {
		fz_g.raw_gpadl = true;
	} else if (type == CHANNELMSG_RELID_RELEASED) {
		fz_g.raw_offer = true;
	}
}

/* HvPostMessage from VP @vp with the input block at FZ_POST_GPA; returns the HV_STATUS. */
static uint16_t fz_post(uint32_t vp, uint32_t conn, uint32_t type, const void *payload, uint32_t size, bool raw)
{
	struct hv_input_post_message msg;
	bool valid = (conn == VMBUS_MESSAGE_CONNECTION_ID || conn == VMBUS_MESSAGE_CONNECTION_ID_4) &&
		     type == VMBUS_CHANNEL_MESSAGE_TYPE && size <= HV_MESSAGE_PAYLOAD_BYTE_COUNT && vp < FZ_VPS;
	uint16_t st;

	memset(&msg, 0, sizeof(msg));
	msg.connectionid = conn;
	msg.message_type = type;
	msg.payload_size = size;
	memcpy(msg.payload, payload, size < sizeof(msg.payload) ? size : sizeof(msg.payload));
	FZ_CHECK(vid_memory_write(fz_mem, FZ_POST_GPA, &msg, sizeof(msg)) == 0);
	st = (uint16_t)hvi_hypercall(fz_hv, vp, HVCALL_POST_MESSAGE, FZ_POST_GPA, 0);
	if (valid) {
		FZ_CHECK(st == HV_STATUS_SUCCESS || st == HV_STATUS_INSUFFICIENT_BUFFERS);
		FZ_CHECK(st == HV_STATUS_SUCCESS || fz_srv->msgq_count == VMBUS_MSGQ_LEN);
	} else {
		FZ_CHECK(st != HV_STATUS_SUCCESS);
	}
	if (st == HV_STATUS_SUCCESS) {
		fz_g.posts_ok++;
		fz_g.work = true;
		fz_g.seq++;
		fz_c.posts_ok++;
		fz_classify(vp, payload, size, raw);
	}
	return st;
}

/* A well-formed message from VP 0, retried after running the server while the queue is full (vmbus_post_msg). */
static bool fz_post_msg(const void *payload, uint32_t size, uint32_t conn)
{
	for (unsigned i = 0; i < 3; i++) {
		uint16_t st = fz_post(0, conn, VMBUS_CHANNEL_MESSAGE_TYPE, payload, size, false);

		if (st != HV_STATUS_INSUFFICIENT_BUFFERS)
			return st == HV_STATUS_SUCCESS;
		fz_poll();
	}
	return false;
}

/* HvSignalEvent (fast) from VP @vp; the status must say whether the channel's event connection exists. */
static void fz_signal(uint32_t vp, uint32_t conn, uint16_t flag)
{
	const struct vmbus_channel *ch = NULL;
	uint16_t st = (uint16_t)hvi_hypercall(fz_hv, vp, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT,
					      conn | (uint64_t)flag << HV_SIGNAL_EVENT_FLAG_SHIFT, 0);

	if (conn > VMBUS_CHANNEL_CONNECTION_BASE && conn <= VMBUS_CHANNEL_CONNECTION_BASE + VMBUS_MAX_RELID)
		for (ch = fz_srv->channels; ch && ch->relid != conn - VMBUS_CHANNEL_CONNECTION_BASE; ch = ch->next)
			;
	if (vp >= FZ_VPS)
		FZ_CHECK(st == HV_STATUS_INVALID_VP_INDEX);
	else if (flag >= HV_EVENT_FLAGS_COUNT)
		FZ_CHECK(st == HV_STATUS_INVALID_PARAMETER);
	else if (ch && ch->open)
		FZ_CHECK(st == HV_STATUS_SUCCESS);
	else
		FZ_CHECK(st == HV_STATUS_INVALID_CONNECTION_ID);
	if (st == HV_STATUS_SUCCESS) {
		fz_c.signals_ok++;
		fz_g.work = true;
	}
}

static uint32_t fz_conn_of(uint32_t relid)
{
	if (relid < FZ_RELIDS && fz_g.offers[relid].seen)
		return fz_g.offers[relid].conn_id;
	return VMBUS_CHANNEL_CONNECTION_BASE + relid;
}

/* ---- the guest: its GPADL records and rings ------------------------------------------------------------------- */

static uint8_t *fz_page(uint64_t pfn)
{
	return pfn < FZ_PAGES ? vid_memory_ptr(fz_mem, pfn * 4096, 4096) : NULL;
}

static void fz_rec_release(struct fz_rec *r)
{
	uint16_t bit = (uint16_t)(1u << (r - fz_g.recs));

	if (r->state == FZ_REC_NONE)
		return;
	for (uint32_t i = 0; i < r->npfn; i++) {
		uint64_t p = r->pfns[i];

		if (p < FZ_PAGES) {
			FZ_CHECK(fz_g.page_refs[p] > 0);
			fz_g.page_refs[p]--;
			fz_g.page_mask[p] &= (uint16_t)~bit;
		}
	}
	r->state = FZ_REC_NONE;
	r->ring_clean = false;
	r->fifo_n = 0;
}

/* Both rings' pages in RAM, used by this record only, each once. */
static bool fz_rec_exclusive(const struct fz_rec *r)
{
	for (uint32_t i = 0; i < r->npfn; i++)
		if (r->pfns[i] < FZ_LOW_PAGES || r->pfns[i] >= FZ_PAGES || fz_g.page_refs[r->pfns[i]] != 1)
			return false;
	return true;
}

static bool fz_rec_has_rings(const struct fz_rec *r)
{
	return r->state != FZ_REC_NONE && r->split >= 2 && r->npfn >= r->split + 2;
}

/* Header page of the guest -> host (@out false) or host -> guest ring. */
static uint8_t *fz_ring_hdr(const struct fz_rec *r, bool out)
{
	return fz_page(r->pfns[out ? r->split : 0]);
}

static uint32_t fz_ring_size(const struct fz_rec *r, bool out)
{
	return (out ? r->npfn - r->split - 1 : r->split - 1) * 4096u;
}

static uint32_t fz_hdr_get(const uint8_t *hdr, unsigned off)
{
	uint32_t v;

	memcpy(&v, hdr + off, 4);
	return v;
}

static void fz_hdr_set(uint8_t *hdr, unsigned off, uint32_t v)
{
	memcpy(hdr + off, &v, 4);
}

#define FZ_HDR_WRITE 0u
#define FZ_HDR_READ 4u
#define FZ_HDR_MASK 8u
#define FZ_HDR_PENDING 12u
#define FZ_HDR_FEATURES 64u

/* Copy between @buf and the data area of a ring at @off, wrapping; false if a page is not RAM. */
static bool fz_ring_copy(const struct fz_rec *r, bool out, uint32_t off, void *buf, uint32_t len, bool write)
{
	uint32_t first = out ? r->split + 1 : 1, size = fz_ring_size(r, out);
	uint8_t *b = buf;
	bool ok = true;

	off %= size;
	while (len) {
		uint32_t in_page = off % 4096, n = len < 4096 - in_page ? len : 4096 - in_page;
		uint8_t *p = fz_page(r->pfns[first + off / 4096]);

		if (!p)
			ok = false;
		else if (write)
			memcpy(p + in_page, b, n);
		else
			memcpy(b, p + in_page, n);
		off = (off + n) % size;
		b += n;
		len -= n;
	}
	return ok;
}

static uint32_t fz_used(uint32_t read, uint32_t write, uint32_t size)
{
	return write >= read ? write - read : size - (read - write);
}

/* ---- host messages as the guest sees them ------------------------------------------------------------------- */

static uint32_t fz_host_msg_min(uint32_t type)
{
	switch (type) {
	case CHANNELMSG_OFFERCHANNEL: return sizeof(struct vmbus_channel_offer_channel);
	case CHANNELMSG_RESCIND_CHANNELOFFER: return sizeof(struct vmbus_channel_relid_message);
	case CHANNELMSG_ALLOFFERS_DELIVERED: return sizeof(struct vmbus_channel_message_header);
	case CHANNELMSG_OPENCHANNEL_RESULT: return sizeof(struct vmbus_channel_open_result);
	case CHANNELMSG_GPADL_CREATED: return sizeof(struct vmbus_channel_gpadl_created);
	case CHANNELMSG_GPADL_TORNDOWN: return sizeof(struct vmbus_channel_gpadl_torndown);
	case CHANNELMSG_VERSION_RESPONSE: return sizeof(struct vmbus_channel_version_response);
	case CHANNELMSG_UNLOAD_RESPONSE: return sizeof(struct vmbus_channel_message_header);
	case CHANNELMSG_MODIFYCHANNEL_RESPONSE: return sizeof(struct vmbus_channel_modifychannel_response);
	default: return 0;
	}
}

static struct fz_rec *fz_rec_by_handle(uint32_t handle)
{
	return handle - FZ_HANDLE_BASE < FZ_RECS ? &fz_g.recs[handle - FZ_HANDLE_BASE] : NULL;
}

/* VERSION_RESPONSE or UNLOAD_RESPONSE: the answer to the oldest reset the guest asked for. */
static void fz_on_reset_answer(uint32_t type, const uint8_t *p)
{
	struct fz_reset r;

	fz_c.resets++;
	if (!fz_g.reset_n) {
		FZ_CHECK(!fz_trust_msgs());
		return;
	}
	r = fz_g.resets[fz_g.reset_head];
	fz_g.reset_head = (fz_g.reset_head + 1) % FZ_RESETS;
	fz_g.reset_n--;
	if (fz_trust_msgs())
		FZ_CHECK(r.unload == (type == CHANNELMSG_UNLOAD_RESPONSE));
	fz_g.version = 0;
	if (type == CHANNELMSG_VERSION_RESPONSE && !r.unload) {
		struct vmbus_channel_version_response v;
		bool ok = fz_version_known(r.version) && r.version <= fz_max_version;

		memcpy(&v, p, sizeof(v));
		if (fz_trust_msgs()) {
			FZ_CHECK(!!v.version_supported == ok);
			FZ_CHECK(!v.version_supported || v.msg_conn_id == VMBUS_MESSAGE_CONNECTION_ID ||
				 v.msg_conn_id == VMBUS_MESSAGE_CONNECTION_ID_4);
		}
		if (v.version_supported)
			fz_g.version = r.version;
	}
	/* The server forgot every offer and every GPADL described before the reset. */
	fz_g.epoch_seq = r.seq;
	memset(fz_g.offers, 0, (fz_g.max_relid + 1) * sizeof(fz_g.offers[0]));
	fz_g.max_relid = 0;
	for (unsigned i = 0; i < FZ_RECS; i++)
		if (fz_g.recs[i].state != FZ_REC_NONE && fz_g.recs[i].seq < r.seq)
			fz_rec_release(&fz_g.recs[i]);
}

static void fz_on_offer(const uint8_t *p)
{
	struct vmbus_channel_offer_channel o;
	struct fz_offer *v;

	memcpy(&o, p, sizeof(o));
	fz_c.offers_seen++;
	if (fz_trace)
		fprintf(stderr, "  offer relid %u instance %02x%02x%02x\n", o.child_relid, o.if_instance.b[4],
			o.if_instance.b[5], o.if_instance.b[6]);
	if (fz_trust_msgs()) {
		FZ_CHECK(o.child_relid >= 1 && o.child_relid <= VMBUS_MAX_RELID);
		FZ_CHECK(o.connection_id == VMBUS_CHANNEL_CONNECTION_BASE + o.child_relid);
		FZ_CHECK(o.monitor_allocated == 0 && o.is_dedicated_interrupt == 1);
	}
	if (o.child_relid >= FZ_RELIDS)
		return;
	v = &fz_g.offers[o.child_relid];
	if (fz_trust_offers()) {
		/* Linux would drop it with a WARN; unless the guest released the relid since the reset (the server
		 * offers it again then: the guest may not have seen that offer when it released). */
		FZ_CHECK(!v->live || fz_g.released[o.child_relid] > fz_g.epoch_seq);
		if (o.sub_channel_index == 0) {
			/* A primary's instance is unique among the live primaries. */
			for (uint32_t r = 1; r <= fz_g.max_relid; r++)
				FZ_CHECK(r == o.child_relid || !fz_g.offers[r].live || fz_g.offers[r].sub ||
					 memcmp(&fz_g.offers[r].instance, &o.if_instance, 16) != 0);
		} else {
			/* A sub-channel repeats the type and instance of a primary offered before it. */
			bool found = false;

			for (uint32_t r = 1; r <= fz_g.max_relid && !found; r++)
				found = fz_g.offers[r].seen && !fz_g.offers[r].sub &&
					!memcmp(&fz_g.offers[r].instance, &o.if_instance, 16) &&
					!memcmp(&fz_g.offers[r].type, &o.if_type, 16);
			FZ_CHECK(found);
		}
	}
	*v = (struct fz_offer){ .seen = true, .live = true, .sub = o.sub_channel_index, .conn_id = o.connection_id,
				.type = o.if_type, .instance = o.if_instance };
	if (o.child_relid > fz_g.max_relid)
		fz_g.max_relid = o.child_relid;
}

static void fz_on_gpadl_created(const uint8_t *p)
{
	struct vmbus_channel_gpadl_created c;
	struct fz_rec *r;

	memcpy(&c, p, sizeof(c));
	r = fz_rec_by_handle(c.gpadl);
	if (!fz_trust_gpadl()) {
		if (r && c.creation_status)
			fz_rec_release(r);
		else if (r && r->state == FZ_REC_PENDING)
			r->state = FZ_REC_LIVE;
		return;
	}
	if (c.creation_status == 0) {
		/* Accepted: only what the guest described completely, every page RAM, for that channel. */
		FZ_CHECK(r && r->state == FZ_REC_PENDING);
		FZ_CHECK(r->complete && !r->bad && r->relid == c.child_relid);
		FZ_CHECK(c.child_relid < FZ_RELIDS && fz_g.offers[c.child_relid].seen);
		r->state = FZ_REC_LIVE;
		fz_c.gpadls_created++;
	} else if (r && r->state == FZ_REC_PENDING) {
		fz_rec_release(r);
	}
}

static void fz_guest_msg(const struct hv_message *m)
{
	uint8_t p[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
	uint32_t size = m->header.payload_size, type, min;

	if (!fz_g.synic_taint) {
		FZ_CHECK(m->header.message_type == VMBUS_CHANNEL_MESSAGE_TYPE);
		FZ_CHECK(size >= 8 && size <= HV_MESSAGE_PAYLOAD_BYTE_COUNT);
	}
	if (size < 8 || size > HV_MESSAGE_PAYLOAD_BYTE_COUNT)
		return;
	memcpy(p, m->payload, size);
	memcpy(&type, p, 4);
	min = fz_host_msg_min(type);
	if (!fz_g.synic_taint)
		FZ_CHECK(min && size >= min);
	if (!min || size < min)
		return;
	switch (type) {
	case CHANNELMSG_VERSION_RESPONSE:
	case CHANNELMSG_UNLOAD_RESPONSE:
		fz_on_reset_answer(type, p);
		break;
	case CHANNELMSG_OFFERCHANNEL:
		fz_on_offer(p);
		break;
	case CHANNELMSG_RESCIND_CHANNELOFFER: {
		struct vmbus_channel_relid_message r;

		memcpy(&r, p, sizeof(r));
		if (fz_trust_offers())
			FZ_CHECK(r.child_relid < FZ_RELIDS && fz_g.offers[r.child_relid].seen);
		if (r.child_relid < FZ_RELIDS) {
			fz_g.offers[r.child_relid].live = false;
			fz_g.offers[r.child_relid].rescinded = true;
		}
		break;
	}
	case CHANNELMSG_OPENCHANNEL_RESULT: {
		struct vmbus_channel_open_result o;

		memcpy(&o, p, sizeof(o));
		if (o.status == 0 && fz_trust_msgs())
			FZ_CHECK(o.child_relid < FZ_RELIDS && fz_g.offers[o.child_relid].seen);
		break;
	}
	case CHANNELMSG_GPADL_CREATED:
		fz_on_gpadl_created(p);
		break;
	case CHANNELMSG_GPADL_TORNDOWN: {
		struct vmbus_channel_gpadl_torndown t;
		struct fz_rec *r;

		memcpy(&t, p, sizeof(t));
		r = fz_rec_by_handle(t.gpadl);
		if (fz_trust_gpadl())
			FZ_CHECK(r && r->state != FZ_REC_NONE);
		if (r)
			fz_rec_release(r);
		break;
	}
	case CHANNELMSG_MODIFYCHANNEL_RESPONSE:
		if (fz_trust_msgs())
			FZ_CHECK(fz_g.version >= VERSION_WIN10_V5_3);
		break;
	default:
		break;
	}
}

/* ---- the operations ------------------------------------------------------------------------------------------ */

enum fz_op {
	FZ_OP_POST_RAW,
	FZ_OP_CONTACT,
	FZ_OP_REQUEST_OFFERS,
	FZ_OP_GPADL,
	FZ_OP_TEARDOWN,
	FZ_OP_OPEN,
	FZ_OP_CLOSE,
	FZ_OP_RELEASE,
	FZ_OP_MODIFY,
	FZ_OP_UNLOAD,
	FZ_OP_TL_CONNECT,
	FZ_OP_RAM_WRITE,
	FZ_OP_RING_HDR,
	FZ_OP_PACKET,
	FZ_OP_SIGNAL,
	FZ_OP_GUEST_READ,
	FZ_OP_POLL,
	FZ_OP_TAKE,
	FZ_OP_AUTOTAKE,
	FZ_OP_OFFER,
	FZ_OP_RESCIND,
	FZ_OP_HOST_SEND,
	FZ_OP_KICK,
	FZ_OP_RECREATE,
	FZ_OP_SYNIC,
	FZ_OP_DEV_MODE,
	FZ_OP_SUBCHANNELS,
	FZ_OP_COUNT
};

static void fz_op_post_raw(struct fz_input *in)
{
	static const uint32_t conns[3] = { VMBUS_MESSAGE_CONNECTION_ID, VMBUS_MESSAGE_CONNECTION_ID_4,
					   VMBUS_CHANNEL_CONNECTION_BASE + 1 };
	uint8_t buf[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
	uint32_t vp = fz_vp(fz_u8(in)), sel = fz_u8(in), conn, type = VMBUS_CHANNEL_MESSAGE_TYPE, size;

	conn = (sel & 3) == 3 ? fz_u32(in) : conns[sel & 3];
	if (sel & 4)
		type = fz_u32(in);
	size = fz_u8(in) % (HV_MESSAGE_PAYLOAD_BYTE_COUNT + 1);
	fz_bytes(in, buf, size);
	fz_post(vp, conn, type, buf, size, true);
}

static void fz_op_contact(struct fz_input *in)
{
	static const uint32_t versions[10] = { VERSION_WIN10_V5_3, VERSION_WIN10_V5_2, VERSION_WIN10_V5_1,
					       VERSION_WIN10_V5,   VERSION_WIN10_V4_1, VERSION_WIN10,
					       VERSION_WIN8_1,     VERSION_WIN8,       0x00010001u,
					       0x0000000Du };
	struct vmbus_channel_initiate_contact c;
	uint8_t vsel = fz_u8(in) % 11, vcpu, sint, flags;
	uint32_t conn;

	memset(&c, 0, sizeof(c));
	c.header.msgtype = CHANNELMSG_INITIATE_CONTACT;
	c.vmbus_version_requested = vsel == 10 ? fz_u32(in) : versions[vsel];
	vcpu = fz_u8(in);
	sint = fz_u8(in);
	flags = fz_u8(in);
	c.target_vcpu = vcpu & 0x80 ? vcpu : vcpu % FZ_VPS;
	if (c.vmbus_version_requested >= VERSION_WIN10_V5)
		c.u.s.msg_sint = sint >= 0xF0 ? (uint8_t)(sint & 15) : VMBUS_MESSAGE_SINT;
	else
		c.u.interrupt_page = 0x6000;
	c.monitor_page1 = 0x7000;
	c.monitor_page2 = 0x8000;
	conn = c.vmbus_version_requested >= VERSION_WIN10_V5 ? VMBUS_MESSAGE_CONNECTION_ID_4
							     : VMBUS_MESSAGE_CONNECTION_ID;
	if (flags & 1)
		conn = conn == VMBUS_MESSAGE_CONNECTION_ID ? VMBUS_MESSAGE_CONNECTION_ID_4 : VMBUS_MESSAGE_CONNECTION_ID;
	fz_post_msg(&c, flags & 2 ? 8u + (flags >> 2) % 32u : (uint32_t)sizeof(c), conn);
}

static void fz_op_simple(uint32_t type, uint32_t relid, uint32_t extra, uint32_t size)
{
	uint32_t m[4] = { type, 0, relid, extra };

	fz_post_msg(m, size, VMBUS_MESSAGE_CONNECTION_ID);
}

/*
 * GPADL: relid R, index i, npfn u16 (bit 15 clear: % 64, else (& 0x7FFF) % FZ_REC_MAX_PFNS; 0 -> 1), base u16,
 * mode u8, split u8.
 *  mode bits 0-1: page layout from page FZ_LOW_PAGES + base: contiguous, stride 7, reversed, 8 pages repeated;
 *  bit 2: one page beyond RAM; bit 3: a huge PFN; bit 4: range variant (split bits 5-7: offset 100, count - 1,
 *  count 0, count + 1, offset 4096, offset 8 with a full count, bad range_buflen, rangecount 2);
 *  bit 5: the last body is not sent; else bit 6: one more body with one PFN after the end (bit 7 set: the last
 *  body carries one PFN too many instead).
 *  split bits 0-4: PFNs in the header (% 27, capped at npfn); base bit 15: bodies of 1 + (base >> 8) % 28 PFNs.
 * The record is the guest's own: index i, or the next free one (a Linux guest never reuses a live handle).
 */
static void fz_op_gpadl(struct fz_input *in)
{
	uint8_t msg[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
	uint32_t relid = fz_relid_sel(in), idx = fz_u8(in) % FZ_RECS, n = fz_u16(in);
	uint16_t base = fz_u16(in);
	uint8_t mode = fz_u8(in), split = fz_u8(in);
	const uint32_t span = FZ_PAGES - FZ_LOW_PAGES;
	struct vmbus_channel_gpadl_header h;
	struct gpa_range range;
	struct fz_rec *r = NULL;
	uint32_t hdr_n, chunk, sent, last_extra = 0;
	bool bad = false, complete = true;

	for (unsigned k = 0; k < FZ_RECS && !r; k++)
		if (fz_g.recs[(idx + k) % FZ_RECS].state == FZ_REC_NONE)
			r = &fz_g.recs[(idx + k) % FZ_RECS];
	if (!r)
		return;
	n = n & 0x8000 ? (n & 0x7FFF) % FZ_REC_MAX_PFNS : n % 64u; /* large GPADLs are costly to map: opt-in */
	if (n == 0)
		n = 1;
	if (n > fz_g.pfn_budget)
		n = fz_g.pfn_budget;
	if (n == 0)
		return;
	fz_g.pfn_budget -= n;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k;

		switch (mode & 3) {
		case 0: k = base + i; break;
		case 1: k = base + i * 7u; break;
		case 2: k = base + (n - 1 - i); break;
		default: k = base + i % 8u; break;
		}
		r->pfns[i] = FZ_LOW_PAGES + k % span;
	}
	if (mode & 4) {
		r->pfns[base % n] = FZ_PAGES + (base & 0xFF);
		bad = true;
	}
	if (mode & 8) {
		r->pfns[(base >> 3) % n] = UINT64_MAX >> (base & 7);
		bad = true;
	}
	memset(&h, 0, sizeof(h));
	h.header.msgtype = CHANNELMSG_GPADL_HEADER;
	h.child_relid = relid;
	h.gpadl = FZ_HANDLE_BASE + (uint32_t)(r - fz_g.recs);
	h.rangecount = 1;
	h.range_buflen = (uint16_t)(sizeof(range) + 8u * n);
	range.byte_offset = 0;
	range.byte_count = n * 4096u;
	if (mode & 16) {
		switch (split >> 5) {
		case 0: range.byte_offset = 100; range.byte_count -= 100; break;
		case 1: range.byte_count -= 1; break;
		case 2: range.byte_count = 0; bad = true; break;
		case 3: range.byte_count += 1; bad = true; break;
		case 4: range.byte_offset = 4096; bad = true; break;
		case 5: range.byte_offset = 8; bad = true; break;
		case 6: h.range_buflen = (uint16_t)(h.range_buflen + 4); bad = true; break;
		default: h.rangecount = 2; bad = true; break;
		}
	}
	if (sizeof(range) + 8u * n > UINT16_MAX)
		bad = true; /* range_buflen wrapped: the PFN count the server sees is not n */
	hdr_n = (split & 31u) % 27u;
	if (hdr_n > n)
		hdr_n = n;
	chunk = base & 0x8000 ? 1u + (base >> 8) % 28u : 28u;
	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), &range, sizeof(range));
	memcpy(msg + sizeof(h) + sizeof(range), r->pfns, (size_t)hdr_n * 8);
	if (!fz_post_msg(msg, (uint32_t)(sizeof(h) + sizeof(range)) + hdr_n * 8u, VMBUS_MESSAGE_CONNECTION_ID))
		return;
	r->state = FZ_REC_PENDING;
	r->relid = relid;
	r->npfn = n;
	r->seq = fz_g.seq;
	r->split = n / 2;
	r->ring_clean = false;
	r->fifo_n = r->fifo_head = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t p = r->pfns[i];

		if (p >= FZ_PAGES)
			continue;
		fz_dirty[p] = 1;
		/* A ring on a page this GPADL shares is no longer the guest's alone. */
		for (unsigned k = 0; k < FZ_RECS; k++)
			if (fz_g.page_mask[p] & (1u << k))
				fz_g.recs[k].ring_clean = false;
		fz_g.page_refs[p]++;
		fz_g.page_mask[p] |= (uint16_t)(1u << (r - fz_g.recs));
	}
	sent = hdr_n;
	r->bad = bad;
	r->complete = false;
	if ((mode & 32) && sent < n) { /* truncated: the last body never comes */
		uint32_t rem = (n - sent) % chunk;

		n -= rem ? rem : chunk;
	}
	if ((mode & 0xE0) == 0xC0) /* (not with a truncated GPADL: the extra PFN would fill the gap) */
		last_extra = 1;
	while (sent < n) {
		struct vmbus_channel_gpadl_body b = { .header.msgtype = CHANNELMSG_GPADL_BODY, .gpadl = h.gpadl };
		uint32_t m = n - sent < chunk ? n - sent : chunk;

		memcpy(msg, &b, sizeof(b));
		memcpy(msg + sizeof(b), r->pfns + sent, (size_t)m * 8);
		if (sent + m == n && last_extra && m < VMBUS_GPADL_BODY_MAX_PFNS) {
			memcpy(msg + sizeof(b) + m * 8, &r->pfns[0], 8);
			m++;
		}
		if (!fz_post_msg(msg, (uint32_t)sizeof(b) + m * 8u, VMBUS_MESSAGE_CONNECTION_ID)) {
			complete = false;
			break;
		}
		sent += m;
	}
	if (sent != r->npfn)
		complete = false;
	if ((mode & 0xE0) == 0x40) { /* a body after the GPADL is complete: dropped */
		struct vmbus_channel_gpadl_body b = { .header.msgtype = CHANNELMSG_GPADL_BODY, .gpadl = h.gpadl };

		memcpy(msg, &b, sizeof(b));
		memcpy(msg + sizeof(b), &r->pfns[0], 8);
		fz_post_msg(msg, (uint32_t)sizeof(b) + 8u, VMBUS_MESSAGE_CONNECTION_ID);
	}
	r->complete = complete;
}

static void fz_op_teardown(struct fz_input *in)
{
	uint32_t relid = fz_relid_sel(in), handle = fz_handle_sel(in);

	fz_op_simple(CHANNELMSG_GPADL_TEARDOWN, relid, handle, sizeof(struct vmbus_channel_gpadl_teardown));
}

/*
 * OPEN: like Linux, the guest initialises both ring headers first (indices 0, feature_bits 1), unless the ring is
 * the ring of an open channel already (the open will be refused: the guest must not reset a live ring).
 */
static void fz_op_open(struct fz_input *in)
{
	struct vmbus_channel_open_channel o;
	uint32_t relid = fz_relid_sel(in), openid = fz_u8(in), handle = fz_handle_sel(in), vp = fz_vp(fz_u8(in));
	uint32_t d = fz_u8(in);
	uint8_t flags = fz_u8(in);
	uint32_t bad_w = flags & 1 ? fz_u32(in) : 0, bad_r = flags & 1 ? fz_u32(in) : 0;
	struct fz_rec *r = fz_rec_by_handle(handle);

	if (r && r->state != FZ_REC_NONE && !d)
		d = r->split;
	if (r && r->state != FZ_REC_NONE && (flags & 2))
		r->ring_clean = false; /* headers left as they are, maybe at another split: the guest no longer knows */
	if (r && r->state != FZ_REC_NONE && !(flags & 2) && d >= 2 && r->npfn >= d + 2) {
		const struct vmbus_gpadl *g;
		uint8_t *hin, *hout;

		for (g = fz_srv->gpadls; g && g->handle != handle; g = g->next)
			;
		if (!g || !g->ring_of) {
			bool was_pending = r->open_poll == fz_g.polls && r->ring_clean;

			r->split = d;
			hin = fz_ring_hdr(r, false);
			hout = fz_ring_hdr(r, true);
			for (unsigned k = 0; k < 2; k++) {
				uint8_t *hdr = k ? hout : hin;

				if (!hdr)
					continue;
				fz_hdr_set(hdr, FZ_HDR_WRITE, flags & 1 ? bad_w : 0);
				fz_hdr_set(hdr, FZ_HDR_READ, flags & 1 ? bad_r : 0);
				fz_hdr_set(hdr, FZ_HDR_MASK, 0);
				fz_hdr_set(hdr, FZ_HDR_PENDING, 0);
				fz_hdr_set(hdr, FZ_HDR_FEATURES, flags & 4 ? 0 : VMBUS_RING_FEAT_PENDING_SEND_SZ);
			}
			r->fifo_n = r->fifo_head = 0;
			/* Two OPENs of one ring in flight, with different splits, leave the guest unsure: not clean. */
			r->ring_clean = hin && hout && !(flags & 1) && !was_pending && r->state == FZ_REC_LIVE &&
					fz_rec_exclusive(r);
			r->open_poll = fz_g.polls;
		}
	}
	memset(&o, 0, sizeof(o));
	o.header.msgtype = CHANNELMSG_OPENCHANNEL;
	o.child_relid = relid;
	o.openid = openid ? openid : relid;
	o.ringbuffer_gpadlhandle = handle;
	o.target_vp = vp;
	o.downstream_ringbuffer_pageoffset = d;
	fz_post_msg(&o, sizeof(o), VMBUS_MESSAGE_CONNECTION_ID);
}

static void fz_op_ram_write(struct fz_input *in)
{
	uint8_t buf[256];
	uint64_t gpa = FZ_LOW_PAGES * 4096ull + fz_u32(in) % (FZ_RAM - FZ_LOW_PAGES * 4096ull);
	uint32_t len = fz_u8(in) + 1u;

	fz_bytes(in, buf, len);
	if (gpa + len > FZ_RAM)
		len = (uint32_t)(FZ_RAM - gpa);
	FZ_CHECK(vid_memory_write(fz_mem, gpa, buf, len) == 0);
	/* Rings on those pages are no longer the guest's clean rings. */
	for (uint64_t p = gpa / 4096; p <= (gpa + len - 1) / 4096; p++) {
		fz_dirty[p] = 1;
		for (unsigned i = 0; i < FZ_RECS; i++)
			if (fz_g.page_mask[p] & (1u << i))
				fz_g.recs[i].ring_clean = false;
	}
}

/* RING_HDR: any header field of either ring. Only the indices make the ring unclean: the other fields are the
 * guest's to set (pending_send_sz, interrupt_mask of its own side) or the host's to rewrite. */
static void fz_op_ring_hdr(struct fz_input *in)
{
	static const unsigned fields[8] = { FZ_HDR_WRITE, FZ_HDR_READ, FZ_HDR_MASK, FZ_HDR_PENDING, FZ_HDR_FEATURES,
					    FZ_HDR_WRITE, FZ_HDR_PENDING, FZ_HDR_MASK };
	struct fz_rec *r = &fz_g.recs[fz_u8(in) % FZ_RECS];
	uint8_t which = fz_u8(in);
	uint32_t value = fz_u32(in);
	unsigned field = fields[(which >> 1) & 7];
	uint8_t *hdr;

	if (!fz_rec_has_rings(r) || !(hdr = fz_ring_hdr(r, which & 1)))
		return;
	if (field == FZ_HDR_WRITE || field == FZ_HDR_READ)
		r->ring_clean = false;
	fz_hdr_set(hdr, field, value);
}

/*
 * PACKET: the guest writes one packet into the guest -> host ring of record I, as Linux's hv_ringbuffer_write does
 * (free-space check, descriptor, payload, trailer, write_index, signal if the host is not masking and the ring was
 * empty). kind bits 0-1: in-band, GPA-direct, completion, raw type (u8 follows at the end); bit 2: completion
 * requested; bit 3: bogus len8 (u16 follows); bit 4: bogus offset8 (u16 follows); bit 5: no free-space check;
 * bit 6: no signal; bit 7: always signal. tr bit 15: the payload is plen * 16 bytes (plen from the input, the rest
 * a pattern). GPA-direct: rc u8 (ranges: rc % 4 + 1; bit 7: rangecount field is rc), then per range pfn u8
 * (255: beyond RAM), pages u8 (% 3 + 1), offset u16 (bit 15: raw, else % 4096), count u16 (0: the rest of the pages).
 */
static void fz_op_packet(struct fz_input *in)
{
	static uint8_t pkt[16 + 8 + 4 * (8 + 3 * 8) + 255 * 16 + 8];
	struct fz_rec *r = &fz_g.recs[fz_u8(in) % FZ_RECS];
	uint8_t kind = fz_u8(in);
	uint16_t tr = fz_u16(in);
	uint32_t plen = fz_u8(in), payload = tr & 0x8000 ? plen * 16u : plen, dlen = 0, total, size, wr, rd;
	struct vmpacket_descriptor d;
	uint8_t desc[8 + 4 * (8 + 3 * 8)];
	uint8_t *hdr;
	uint64_t trailer;
	bool clean;

	fz_bytes(in, pkt + 200, plen); /* payload staged, moved into place below */
	if ((kind & 3) == 1) {
		uint8_t rc = fz_u8(in);
		uint32_t ranges = rc % 4u + 1u, off = 8;
		struct vmbus_gpa_direct_header gh = { .rangecount = rc & 0x80 ? rc : ranges };

		memcpy(desc, &gh, sizeof(gh));
		for (uint32_t i = 0; i < ranges; i++) {
			uint8_t pb = fz_u8(in), np = fz_u8(in) % 3u + 1u;
			uint16_t o = fz_u16(in), cnt = fz_u16(in);
			struct gpa_range g;

			g.byte_offset = o & 0x8000 ? o : o % 4096u;
			g.byte_count = cnt ? cnt : np * 4096u - g.byte_offset % 4096u;
			memcpy(desc + off, &g, sizeof(g));
			off += 8;
			for (uint32_t k = 0; k < np; k++) {
				uint64_t pfn = pb == 255 ? FZ_PAGES + k : FZ_LOW_PAGES + (pb + k) % (FZ_PAGES - FZ_LOW_PAGES);

				memcpy(desc + off, &pfn, 8);
				off += 8;
			}
		}
		dlen = off;
	}
	d.type = (kind & 3) == 0 ? VM_PKT_DATA_INBAND : (kind & 3) == 1 ? VM_PKT_DATA_USING_GPA_DIRECT : VM_PKT_COMP;
	d.flags = kind & 4 ? VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED : 0;
	d.trans_id = (uint64_t)tr << 32 | ++fz_g.trans;
	d.offset8 = (uint16_t)((16 + dlen) / 8);
	total = 16 + dlen + fz_pad8(payload);
	d.len8 = (uint16_t)(total / 8);
	if (kind & 8)
		d.len8 = fz_u16(in);
	if (kind & 16)
		d.offset8 = fz_u16(in);
	if ((kind & 3) == 3)
		d.type = fz_u8(in);
	/* Assemble: descriptor, type-specific part, payload (input bytes, then a pattern), padding. */
	memmove(pkt + 16 + dlen, pkt + 200, plen);
	for (uint32_t i = plen; i < fz_pad8(payload); i++)
		pkt[16 + dlen + i] = i < payload ? (uint8_t)(i * 13u + tr) : 0;
	memcpy(pkt, &d, sizeof(d));
	memcpy(pkt + 16, desc, dlen);

	if (!fz_rec_has_rings(r) || !(hdr = fz_ring_hdr(r, false)))
		return;
	size = fz_ring_size(r, false);
	wr = fz_hdr_get(hdr, FZ_HDR_WRITE);
	rd = fz_hdr_get(hdr, FZ_HDR_READ);
	clean = r->ring_clean && fz_trust_gpadl();
	if (clean)
		FZ_CHECK(rd < size && !(rd & 7)); /* the host's read index */
	if (wr >= size || (wr & 7) || rd >= size || (rd & 7)) {
		r->ring_clean = false;
		wr = (wr % size) & ~7u;
		rd = (rd % size) & ~7u;
	}
	if (fz_trace)
		fprintf(stderr, "  packet rec %u: kind 0x%x type %u len %u at %u (read %u, size %u)%s\n",
			(unsigned)(r - fz_g.recs), kind, d.type, total, wr, rd, size, r->ring_clean ? " clean" : "");
	if (!(kind & 32) && total + 8 >= size - fz_used(rd, wr, size))
		return; /* full: Linux returns -EAGAIN */
	if (kind & 0x38)
		r->ring_clean = false;
	trailer = (uint64_t)wr << 32;
	memcpy(pkt + total, &trailer, 8);
	if (!fz_ring_copy(r, false, wr, pkt, total + 8, true))
		r->ring_clean = false;
	if (r->ring_clean) {
		struct fz_pkt *e;

		if (r->fifo_n == FZ_FIFO) {
			r->ring_clean = false;
		} else {
			e = &r->fifo[(r->fifo_head + r->fifo_n++) % FZ_FIFO];
			*e = (struct fz_pkt){ .len = total, .type = d.type, .flags = d.flags, .trans = d.trans_id,
					      .sum = fz_hash(pkt, total) };
		}
	}
	fz_hdr_set(hdr, FZ_HDR_WRITE, (wr + total + 8) % size);
	fz_c.guest_pkts++;
	if (!(kind & 64) && ((kind & 128) || (fz_hdr_get(hdr, FZ_HDR_MASK) == 0 && wr == rd)))
		fz_signal(0, fz_conn_of(r->relid), 0);
}

static void fz_op_signal(struct fz_input *in)
{
	uint8_t rs = fz_u8(in);
	uint32_t conn = rs & 0x80 ? fz_u32(in) : fz_conn_of(rs % 8u), vp = fz_vp(fz_u8(in));
	uint8_t f = fz_u8(in);
	uint16_t flag = f & 0x80 ? fz_u16(in) : f % 16u;

	fz_signal(vp, conn, flag);
}

/*
 * GUEST_READ: the guest reads up to max packets from the host -> guest ring of record I (Linux hv_pkt_iter_*):
 * checks each packet where the ring is clean, advances read_index, and signals the host when the freed space
 * crosses its pending_send_sz. flags bit 0: never signal; bit 1: always signal; bit 2: a bogus read_index;
 * bit 3/4: set/clear interrupt_mask; bit 5: read but do not advance.
 */
static void fz_op_guest_read(struct fz_input *in)
{
	struct fz_rec *r = &fz_g.recs[fz_u8(in) % FZ_RECS];
	uint32_t max = fz_u8(in) % 64u + 1u, size, rd, wr, rd0, pending;
	uint8_t flags = fz_u8(in), *hdr;
	bool clean;

	if (!fz_rec_has_rings(r) || !(hdr = fz_ring_hdr(r, true)))
		return;
	size = fz_ring_size(r, true);
	if (flags & 8)
		fz_hdr_set(hdr, FZ_HDR_MASK, 1);
	if (flags & 16)
		fz_hdr_set(hdr, FZ_HDR_MASK, 0);
	rd = rd0 = fz_hdr_get(hdr, FZ_HDR_READ);
	wr = fz_hdr_get(hdr, FZ_HDR_WRITE);
	clean = r->ring_clean && fz_trust_gpadl();
	if (clean)
		FZ_CHECK(wr < size && !(wr & 7));
	if (rd >= size || (rd & 7) || wr >= size || (wr & 7)) {
		r->ring_clean = false;
		fz_hdr_set(hdr, FZ_HDR_READ, (wr % size) & ~7u);
		return;
	}
	for (uint32_t k = 0; k < max && rd != wr; k++) {
		uint32_t avail = fz_used(rd, wr, size), len, off;
		struct vmpacket_descriptor d;
		uint64_t trailer = 0;

		if (avail < 24 || !fz_ring_copy(r, true, rd, &d, sizeof(d), false)) {
			FZ_CHECK(!clean);
			rd = wr;
			break;
		}
		len = d.len8 * 8u;
		off = d.offset8 * 8u;
		if (len < 16 || off < 16 || off > len || len + 8 > avail) {
			FZ_CHECK(!clean);
			rd = wr;
			break;
		}
		fz_ring_copy(r, true, rd + len, &trailer, 8, false);
		if (clean) {
			FZ_CHECK(trailer == (uint64_t)rd << 32);
			FZ_CHECK(len <= FZ_MAX_PKT); /* max_packet_bytes is never exceeded */
		}
		fz_c.host_pkts_read++;
		rd = (rd + len + 8) % size;
	}
	if (flags & 4) {
		rd = (rd + 8) % size;
		r->ring_clean = false;
	}
	if (flags & 32)
		return;
	fz_hdr_set(hdr, FZ_HDR_READ, rd);
	pending = fz_hdr_get(hdr, FZ_HDR_PENDING);
	if (!(flags & 1) &&
	    ((flags & 2) || (pending && size - fz_used(rd0, wr, size) <= pending && size - fz_used(rd, wr, size) > pending)))
		fz_signal(0, fz_conn_of(r->relid), 0);
}

static void fz_op_offer(struct fz_input *in)
{
	unsigned slot = fz_u8(in) % FZ_SLOTS;
	uint8_t kind = fz_u8(in);
	struct fz_dev *d = &fz_devs[slot];
	struct vmbus_offer_config cfg;
	struct vmbus_channel *ch = NULL;

	if (kind & 0x80) {
		/* No ops: refused. */
		memset(&cfg, 0, sizeof(cfg));
		FZ_CHECK(vmbus_device_offer(fz_srv, &cfg, &ch) == -EINVAL);
	}
	if (d->alive) {
		/* The instance id is in use: refused, nothing changes. */
		fz_dev_config(d, &cfg);
		FZ_CHECK(vmbus_device_offer(fz_srv, &cfg, &ch) == -EEXIST);
		return;
	}
	fz_dev_offer(slot, (enum fz_kind)(kind % FZ_DEV_KINDS));
}

/* The harness's channel @b selects: device b % FZ_SLOTS, its channel (b / FZ_SLOTS) % (1 + FZ_SUBS); or NULL. */
static struct fz_chan *fz_chan_sel(uint8_t b)
{
	struct fz_dev *d = &fz_devs[b % FZ_SLOTS];
	struct fz_chan *c = &d->chans[(b / FZ_SLOTS) % (1 + FZ_SUBS)];

	fz_subs_sync();
	return d->alive && c->ch ? c : NULL;
}

/* RESCIND: a device (its primary), or one sub-channel. */
static void fz_op_rescind(struct fz_input *in)
{
	struct fz_chan *c = fz_chan_sel(fz_u8(in));

	if (c)
		fz_chan_rescind(c);
}

static void fz_op_subchannels(struct fz_input *in)
{
	struct fz_dev *d = &fz_devs[fz_u8(in) % FZ_SLOTS];
	uint8_t n = fz_u8(in);

	if (d->alive)
		fz_dev_offer_subs(d, n & 0x80 ? VMBUS_MAX_SUBCHANNELS + 1u : n % (FZ_SUBS + 1));
}

/* HOST_SEND: the VSP sends on its own (outside a callback). sel bits 0-1: in-band, completion, transfer pages with
 * a descriptor of sel >> 2 bytes, raw type sel; bit 7: len * 32 bytes. */
static void fz_op_host_send(struct fz_input *in)
{
	static uint8_t buf[255 * 32];
	struct fz_chan *d = fz_chan_sel(fz_u8(in));
	uint8_t sel = fz_u8(in), desc[64];
	uint32_t len = fz_u8(in) * (sel & 0x80 ? 32u : 1u);

	if (!d)
		return;
	memset(buf, sel, len);
	memset(desc, 0x5A, sizeof(desc));
	switch (sel & 3) {
	case 0: fz_send(d, VM_PKT_DATA_INBAND, 0, 0, NULL, 0, buf, len); break;
	case 1: fz_send(d, VM_PKT_COMP, 0, 42, NULL, 0, buf, len); break;
	case 2: fz_send(d, VM_PKT_DATA_USING_XFER_PAGES, 0, 0, desc, (sel >> 2) & 31u, buf, len); break;
	default: fz_send(d, sel, sel & 1, 0, desc, 8, buf, len); break;
	}
}

static void fz_op_recreate(struct fz_input *in)
{
	static const uint32_t maxv[4] = { 0, VERSION_WIN10, VERSION_WIN10_V5, VERSION_WIN8_1 };
	uint8_t sel = fz_u8(in);

	vmbus_server_destroy(fz_srv);
	fz_srv = NULL;
	for (unsigned i = 0; i < FZ_SLOTS; i++)
		for (unsigned k = 0; k <= FZ_SUBS; k++)
			FZ_CHECK(!fz_devs[i].alive || fz_devs[i].kind == FZ_DEV_SILENT || !fz_devs[i].chans[k].open);
	fz_discard_all(); /* what the old server left in the SynIC */
	fz_view_reset();
	fz_server_create(maxv[sel % 4]);
}

static void fz_op_synic(struct fz_input *in)
{
	uint32_t vp = fz_u8(in) % FZ_VPS;
	bool on = fz_u8(in) & 1;

	if (on) {
		fz_msr_ok(vp, HV_X64_MSR_SIMP, FZ_SIMP(vp) | HV_SYNIC_SIMP_ENABLE);
		fz_g.synic_off &= ~(1u << vp);
	} else {
		fz_msr_ok(vp, HV_X64_MSR_SIMP, 0);
		fz_g.synic_off |= 1u << vp;
	}
	fz_g.lossy = true; /* messages to a VP without a SIM page are dropped */
}

/* ---- one input ------------------------------------------------------------------------------------------------ */

static int fz_lowest_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd;
}

static int fz_fd_base;
static uint64_t fz_fd_open; /* which of fz_fd_base .. +63 were open before the input */
static bool fz_fd_scan;
static unsigned long fz_inputs;

static uint64_t fz_fds_open(void)
{
	uint64_t m = 0;

	for (int i = 0; i < 64 && fz_fd_base >= 0; i++)
		if (fcntl(fz_fd_base + i, F_GETFD) >= 0)
			m |= 1ull << i;
	return m;
}

static void fz_setup(void)
{
	static bool once;
	struct hvi_config cfg = {
		.profile = HVI_PROFILE_RECOMMENDED,
		.vp_count = FZ_VPS,
		.interrupt = fz_interrupt,
		.stop = fz_stop,
		.tsc_hz = 2000000000ull,
	};

	/*
	 * One partition for the whole run (creating one per input, with its timer thread, costs more than most
	 * inputs). Each input starts from a SynIC that is off (which drops whatever was queued) and zeroed RAM; the
	 * server of the last input unregistered every connection (fz_teardown checks).
	 */
	if (!once) {
		once = true;
		log_set_level(getenv("FUZZ_LOG") ? LOG_DEBUG : LOG_ERROR);
		if (vid_memory_create(FZ_RAM, &fz_mem) < 0)
			abort();
		cfg.memory = fz_mem;
		if (hvi_partition_create(&cfg, &fz_hv) < 0)
			abort();
	}
	fz_fd_base = fz_lowest_fd();
	fz_fd_scan = (++fz_inputs & 31) == 1; /* the full scan costs 64 syscalls: every 32nd input */
	if (fz_fd_scan)
		fz_fd_open = fz_fds_open();
	for (uint32_t vp = 0; vp < FZ_VPS; vp++) {
		fz_msr_ok(vp, HV_X64_MSR_SCONTROL, 0);
		fz_msr_ok(vp, HV_X64_MSR_SIMP, 0);
		fz_msr_ok(vp, HV_X64_MSR_SIEFP, 0);
	}
	/* Zero what the last input wrote: the low pages, GPADL pages, RAM_WRITE pages (all of RAM the first time). */
	for (uint32_t p = 0; p < FZ_PAGES; p++) {
		if (p < FZ_LOW_PAGES || fz_dirty[p] || fz_total.ops == 0)
			FZ_CHECK(vid_memory_zero(fz_mem, (uint64_t)p * 4096, 4096) == 0);
	}
	memset(fz_dirty, 0, sizeof(fz_dirty));
	/* What Linux does before hv_vmbus connects: guest OS id, then SynIC on every VP (SINT2, vector 0xF3). */
	fz_msr_ok(0, HV_X64_MSR_GUEST_OS_ID, 0x8100000601770000ull);
	for (uint32_t vp = 0; vp < FZ_VPS; vp++) {
		fz_msr_ok(vp, HV_X64_MSR_SIMP, FZ_SIMP(vp) | HV_SYNIC_SIMP_ENABLE);
		fz_msr_ok(vp, HV_X64_MSR_SIEFP, FZ_SIEFP(vp) | HV_SYNIC_SIEFP_ENABLE);
		fz_msr_ok(vp, HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT, 0xF3);
		fz_msr_ok(vp, HV_X64_MSR_SCONTROL, HV_SYNIC_CONTROL_ENABLE);
	}
	memset(&fz_c, 0, sizeof(fz_c));
	fz_g.synic_off = 0;
	fz_view_reset();
	fz_g.seq = fz_g.polls = fz_g.trans = 0;
	fz_g.autotake = true;
	fz_g.pfn_budget = FZ_PFN_BUDGET;
	fz_server_create(0);
}

static void fz_print(const char *what, const struct fz_counters *c)
{
	fprintf(stderr,
		"fuzz_vmbus %s: ops %lu posts %lu msgs %lu offers %lu gpadls %lu opens %lu/%lu closes %lu notifies %lu "
		"guest-pkts %lu vsp-in %lu (checked %lu) gpa-ranges %lu vsp-sent %lu eagain %lu host-pkts-read %lu "
		"timers %lu signals %lu resets %lu broken %lu subchannels %lu | server: in %lu rejected %lu out %lu "
		"guest-signals %lu "
		"host-signals %lu broken %lu\n",
		what, c->ops, c->posts_ok, c->msgs_taken, c->offers_seen, c->gpadls_created, c->opens_ok,
		c->open_calls, c->closes, c->notifies, c->guest_pkts, c->vsp_pkts_in, c->vsp_pkts_fifo_checked,
		c->gpa_ranges, c->vsp_sends_ok, c->vsp_eagain, c->host_pkts_read, c->timer_fires, c->signals_ok,
		c->resets, c->broken, c->subchannels, c->srv_in, c->srv_rejected, c->srv_out, c->srv_guest_signals,
		c->srv_host_signals, c->srv_broken);
}

static void fz_print_total(void)
{
	fz_print("total", &fz_total);
}

static void fz_teardown(void)
{
	static bool registered;
	unsigned long *t = (unsigned long *)&fz_total;
	const unsigned long *c = (const unsigned long *)&fz_c;

	fz_check_server();
	fz_c.srv_in = fz_g.last.messages_in;
	fz_c.srv_rejected = fz_g.last.messages_rejected;
	fz_c.srv_out = fz_g.last.messages_out;
	fz_c.srv_guest_signals = fz_g.last.guest_signals;
	fz_c.srv_host_signals = fz_g.last.host_signals;
	fz_c.srv_broken = fz_g.last.channels_broken;
	vmbus_server_destroy(fz_srv);
	fz_srv = NULL;
	/* The server unregistered its message connections and every channel's event connection. */
	for (uint32_t id = 1; id <= 0x10000u + 64u; id = id == 4 ? 0x10001u : id + 1)
		FZ_CHECK(hvi_connection_unregister(fz_hv, id) == -ENOENT);
	/* Nothing of this input may stay open (channel eventfds, epoll, ...). */
	if (fz_fd_base >= 0) {
		FZ_CHECK(fz_lowest_fd() == fz_fd_base);
		if (fz_fd_scan)
			FZ_CHECK(fz_fds_open() == fz_fd_open);
	}
	for (size_t i = 0; i < sizeof(fz_c) / sizeof(unsigned long); i++)
		t[i] += c[i];
	if (getenv("FUZZ_VMBUS_STATS")) {
		fz_print("input", &fz_c);
		if (!registered) {
			registered = true;
			atexit(fz_print_total);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *dump;
	static bool dump_checked;
	struct fz_input in = { data, size };

	/* FUZZ_VMBUS_DUMP=file: every input is written there first (to catch the one fuzz_main aborts on). */
	if (!dump_checked) {
		dump_checked = true;
		dump = getenv("FUZZ_VMBUS_DUMP");
		fz_trace = getenv("FUZZ_VMBUS_TRACE") != NULL;
	}
	if (dump) {
		FILE *f = fopen(dump, "wb");

		if (f) {
			fwrite(data, 1, size, f);
			fclose(f);
		}
	}
	fz_setup();
	for (unsigned n = 0; in.left && n < FZ_MAX_OPS; n++) {
		uint8_t b = fz_u8(&in);

		fz_c.ops++;
		if (fz_trace)
			fprintf(stderr, "op %u: %u%s\n", n, (b & 0x7F) % FZ_OP_COUNT, b & 0x80 ? " (no step)" : "");
		switch ((b & 0x7F) % FZ_OP_COUNT) {
		case FZ_OP_POST_RAW: fz_op_post_raw(&in); break;
		case FZ_OP_CONTACT: fz_op_contact(&in); break;
		case FZ_OP_REQUEST_OFFERS: fz_op_simple(CHANNELMSG_REQUESTOFFERS, 0, 0, 8); break;
		case FZ_OP_GPADL: fz_op_gpadl(&in); break;
		case FZ_OP_TEARDOWN: fz_op_teardown(&in); break;
		case FZ_OP_OPEN: fz_op_open(&in); break;
		case FZ_OP_CLOSE: fz_op_simple(CHANNELMSG_CLOSECHANNEL, fz_relid_sel(&in), 0, 12); break;
		case FZ_OP_RELEASE: {
			uint32_t relid = fz_relid_sel(&in);

			if (relid < FZ_RELIDS)
				fz_g.offers[relid].live = false; /* the guest forgets it now */
			fz_op_simple(CHANNELMSG_RELID_RELEASED, relid, 0, 12);
			if (relid < FZ_RELIDS)
				fz_g.released[relid] = fz_g.seq;
			break;
		}
		case FZ_OP_MODIFY: {
			uint32_t relid = fz_relid_sel(&in);

			fz_op_simple(CHANNELMSG_MODIFYCHANNEL, relid, fz_vp(fz_u8(&in)), 16);
			break;
		}
		case FZ_OP_UNLOAD: fz_op_simple(CHANNELMSG_UNLOAD, 0, 0, 8); break;
		case FZ_OP_TL_CONNECT: {
			uint8_t m[40] = { CHANNELMSG_TL_CONNECT_REQUEST, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3 };

			fz_post_msg(m, 8u + fz_u8(&in) % 33u, VMBUS_MESSAGE_CONNECTION_ID);
			break;
		}
		case FZ_OP_RAM_WRITE: fz_op_ram_write(&in); break;
		case FZ_OP_RING_HDR: fz_op_ring_hdr(&in); break;
		case FZ_OP_PACKET: fz_op_packet(&in); break;
		case FZ_OP_SIGNAL: fz_op_signal(&in); break;
		case FZ_OP_GUEST_READ: fz_op_guest_read(&in); break;
		case FZ_OP_POLL:
			for (unsigned k = fz_u8(&in) % 4u + 1u; k; k--)
				fz_poll();
			break;
		case FZ_OP_TAKE: {
			struct fz_loc l = { fz_u8(&in) % FZ_VPS, fz_u8(&in) % HV_SYNIC_SINT_COUNT };
			uint8_t f = fz_u8(&in);

			/* In order, or (bit 1) whatever slot l holds, thrown away; bit 0: no EOM. Either way the guest
			 * may lose messages: the message oracles stop. */
			if (f & 3)
				fz_g.lossy = true;
			if (f & 2)
				fz_take(l, !(f & 1), false);
			else if (f & 1)
				fz_take(fz_g.cur, false, true);
			else
				fz_take_next();
			break;
		}
		case FZ_OP_AUTOTAKE: fz_g.autotake = fz_u8(&in) & 1; break;
		case FZ_OP_OFFER: fz_op_offer(&in); break;
		case FZ_OP_RESCIND: fz_op_rescind(&in); break;
		case FZ_OP_HOST_SEND: fz_op_host_send(&in); break;
		case FZ_OP_KICK: {
			struct fz_chan *c = fz_chan_sel(fz_u8(&in));
			unsigned more = fz_u8(&in) % 16u + 1u;

			if (c && c->open && c->dev->kind != FZ_DEV_SILENT) {
				c->burst += more;
				fz_chan_arm(c);
			}
			break;
		}
		case FZ_OP_SUBCHANNELS: fz_op_subchannels(&in); break;
		case FZ_OP_RECREATE: fz_op_recreate(&in); break;
		case FZ_OP_SYNIC: fz_op_synic(&in); break;
		case FZ_OP_DEV_MODE: {
			struct fz_dev *d = &fz_devs[fz_u8(&in) % FZ_SLOTS];

			d->mode = fz_u8(&in);
			break;
		}
		}
		if (!(b & 0x80)) {
			/* A round with nothing queued, signalled, armed or freed changes nothing: skip the syscalls. */
			switch ((b & 0x7F) % FZ_OP_COUNT) {
			case FZ_OP_OFFER: case FZ_OP_RESCIND: case FZ_OP_HOST_SEND: case FZ_OP_KICK: case FZ_OP_RECREATE:
			case FZ_OP_SYNIC: case FZ_OP_DEV_MODE: case FZ_OP_SUBCHANNELS:
				fz_g.work = true;
				break;
			default:
				break;
			}
			if (fz_g.work)
				fz_poll();
			if (fz_g.autotake)
				fz_take_all();
		}
		fz_check_server();
	}
	/* The guest settles: runs the server and takes what it says until nothing is left. */
	for (unsigned k = 0; k < 200; k++) {
		fz_poll();
		fz_take_all();
		if (!fz_srv->backlog)
			break;
	}
	fz_poll();
	fz_take_all();
	if (fz_trust_msgs()) {
		/* Every reset was answered, and no message was posted anywhere the guest did not name. */
		FZ_CHECK(fz_g.reset_n == 0);
		for (uint32_t vp = 0; vp < FZ_VPS; vp++)
			for (unsigned sint = 0; sint < HV_SYNIC_SINT_COUNT; sint++)
				FZ_CHECK(!fz_slot_full((struct fz_loc){ vp, sint }));
	}
	fz_teardown();
	return 0;
}
