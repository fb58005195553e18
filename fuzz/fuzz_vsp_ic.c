// SPDX-License-Identifier: MIT
/*
 * fuzz/fuzz_vsp_ic.c - libFuzzer target for the integration-component VSPs (vsp/ic, TARGETS.md R1): everything the
 * guest sends back on the shutdown, time sync, heartbeat and KVP channels (negotiate answers, service answers, KVP
 * SET answers and ENUMERATE items with UTF-16LE keys and values, stale or forged trans_ids, other packet types),
 * mixed with the host API (vsp_ic_shutdown, vsp_ic_kvp_set with fuzzed UTF-8, vsp_ic_kvp_guest_get), the VSP's
 * timers, close/re-open and rescind (vsp_ic_destroy + create with channels open), and the UTF-8 <-> UTF-16LE
 * converters of ic_kvp.c called directly.
 *
 * The platform is fuzz_platform.h (tests/lib/vmbus_fixture.h without cmocka): one hvi partition on 4 MiB of plain
 * memory for all inputs (1 VP; its synthetic-timer thread stopped, so the process stays single-threaded; the SynIC
 * turned off and on again per input, which drops anything queued), and per input a fresh VMBus server whose loop
 * runs on this thread (vmbus_server_poll), vsp_ic on it, and the guest-side client (guest/vsc) connected with the
 * offers received. The guest end of each IC is a vsc_ic (guest/vsc/vsc_ic.h): it can answer as Linux hv_utils does
 * (AUTO), or the input builds the answer itself (REPLY: from nothing, from the host's request, or from the Linux
 * answer to it, then patched; the packet trans_id is the request's unless the input gives one).
 *
 * Input: one config byte (FZ_CFG_*), then operations, each an opcode byte followed by its operands (integers
 * little-endian; missing bytes read as zero). seeds_vsp_ic.py writes the seeds and documents the encoding too.
 * Timer periods and the KVP timeout are an hour unless the config byte makes them 1 ms, so an input replays the same
 * way; FIRE runs a service's armed timer now (re-armed with delay 0), WAIT lets 2 ms of real time pass (at most
 * FZ_MAX_WAITS an input).
 *
 * Oracles beyond ASan/UBSan: the documented return values of the vsp_ic API; vsp_ic_kvp_set against an
 * independent UTF-8 validator and the UTF-16 length limits (and the 32-key table); vsp_ic_kvp_guest_get values are
 * NUL-terminated, fit, and are valid UTF-8; ic_utf16le_to_utf8 and ic_utf8_to_utf16le against reference
 * conversions written here (exact output, buffers allocated to the byte for ASan); the stats stay consistent
 * (replies <= requests sent, negotiated versions among those offered, state CLOSED after a close, KVP counters
 * within their tables, timeouts only on KVP); heartbeat_change alternates and matches the snapshot; the server
 * never breaks a channel of this well-behaved ring client nor sends the client anything malformed, opens of live
 * offers succeed, and a destroyed server leaves no connection registered with the partition.
 *
 * Logging: FUZZ_LOG=1 shows the debug log and the results of the API calls.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "fuzz_input.h"
#include "fuzz_platform.h"
#include "hv/hv.h"
#include "lib/log.h"
#include "openhv/vmbus_ic.h"
#include "vid/memory.h"
#include "vmbus/vmbus.h"
#include "vsc/vsc.h"
#include "vsc/vsc_ic.h"
#include "vsp/ic/ic.h"
#include "vsp/ic/internal.h" /* the channels' timers (FIRE) and the UTF converters */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_RAM          (4ull << 20)
#define FZ_ALLOC_BASE   0x20000ull  /* bump allocator (rings, interrupt and monitor pages) from here */
#define FZ_LONG_MS      3600000u    /* "never" within one input */
#define FZ_MAX_OPS      512u
#define FZ_MAX_WAITS    3u
#define FZ_MAX_RECREATE 4u
#define FZ_BUF          16384u      /* largest packet the client receives (vsc_ic's buffer) */
#define FZ_SEND_MAX     12288u      /* payload bytes the 16 KiB guest -> host ring can take at most */
#define FZ_NSVC         VSP_IC_SERVICE_COUNT
#define FZ_KEY_MAX      800u        /* fuzzed UTF-8 key bytes (> 255 UTF-16 units possible) */
#define FZ_VALUE_MAX    3200u       /* fuzzed UTF-8 value bytes (> 1023 units possible) */

/* The config byte. */
#define FZ_CFG_REFTIME   0x01u /* reference_time callback: time sync offers 4.0 too */
#define FZ_CFG_NO_KVP    0x02u /* cfg.kvp off */
#define FZ_CFG_HB_FAST   0x04u /* heartbeat_period_ms 1 */
#define FZ_CFG_TS_FAST   0x08u /* timesync_period_ms 1 */
#define FZ_CFG_KVP_FAST  0x10u /* kvp_timeout_ms 1 */
#define FZ_CFG_OPEN      0x20u /* open every offered IC channel at setup */
#define FZ_CFG_NEGOTIATE 0x40u /* ... and let the Linux-like client answer (8 rounds) */

/* ---- the platform: partition, SynIC, server, and the client's view of them ----------------------------------- */

static struct vsp_ic *fz_ic;
static struct vsp_ic_config fz_cfg;
static uint8_t fz_config;
static struct vsc_ic fz_cl[FZ_NSVC];
static bool fz_open[FZ_NSVC];      /* the client has the channel open */
static bool fz_closed_ok[FZ_NSVC]; /* the client closed it cleanly since: the VSP must say CLOSED */
static unsigned fz_waits_left, fz_recreates_left;
static uint64_t fz_ref;
static bool fz_pump_off; /* fz_settle runs the server itself */
static bool fz_verbose;  /* FUZZ_LOG set: the API results are printed too */

/* The host request the client took last on each channel (REPLY builds on it). */
struct fz_request {
	bool valid;
	uint64_t trans_id;
	uint32_t len;
	uint8_t data[FZ_BUF];
};
static struct fz_request fz_req[FZ_NSVC];

/* What the VSP reported through its callbacks, for the current instance. */
static unsigned fz_sd_replies;
static uint32_t fz_sd_status;
static bool fz_hb_alive;

/* Host keys vsp_ic_kvp_set accepted for the current instance (the table holds VSP_IC_KVP_MAX_ITEMS). */
static char fz_keys[VSP_IC_KVP_MAX_ITEMS][FZ_KEY_MAX + 1];
static unsigned fz_nkeys;

static const struct vsc_ic_kvp_item fz_guest_items[] = {
	{ "FullyQualifiedDomainName", "fuzz.example" },
	{ "OSName", "Debian GNU/Linux" },
	{ "NetworkAddressIPv4", "10.0.2.15" },
};

/* GUEST_ITEMS: a bigger auto pool for the client (more than the host keeps, more than one pass takes). */
#define FZ_MANY_ITEMS 300u
static struct vsc_ic_kvp_item fz_many_items[FZ_MANY_ITEMS];

/* The client's waits run the server, unless fz_settle runs it itself. */
static void fz_pump(void *opaque)
{
	if (!fz_pump_off)
		(void)vmbus_server_poll(fz_srv, 0);
}

/* Run server and client until two idle rounds in a row (bounded). The client's own pump is off meanwhile. */
static void fz_settle(void)
{
	unsigned idle = 0;

	fz_pump_off = true;
	for (unsigned i = 0; i < 256 && idle < 2; i++) {
		int n = vmbus_server_poll(fz_srv, 0);

		n += (int)vsc_bus_poll_msgs(&fz_bus);
		idle = n > 0 ? 0 : idle + 1;
	}
	fz_pump_off = false;
}

/* ---- the VSP's callbacks --------------------------------------------------------------------------------------- */

static uint64_t fz_reference_time(void *opaque)
{
	return fz_ref += 1000; /* deterministic: 100 us a call */
}

static void fz_on_shutdown_reply(void *opaque, uint32_t hresult)
{
	struct vsp_ic_stats s;

	vsp_ic_stats(fz_ic, &s); /* callbacks run without the instance lock */
	FZ_CHECK(s.shutdown_last_status == hresult);
	fz_sd_replies++;
	fz_sd_status = hresult;
}

static void fz_on_heartbeat_change(void *opaque, bool alive)
{
	FZ_CHECK(alive != fz_hb_alive); /* transitions only */
	fz_hb_alive = alive;
}

/* ---- reference UTF-8 / UTF-16 (written from the Unicode definitions, not from ic_kvp.c) ------------------------ */

/* One well-formed UTF-8 character at @s (NUL-terminated): its byte length and *@cp, or 0 if malformed. */
static unsigned fz_utf8_char(const unsigned char *s, uint32_t *cp)
{
	unsigned n;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07u;
	} else {
		return 0;
	}
	for (unsigned i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Scan NUL-terminated @s: *@units = UTF-16 units of its well-formed prefix (all of it when it returns true). */
static bool fz_utf8_scan(const char *s, size_t *units)
{
	const unsigned char *p = (const unsigned char *)s;

	*units = 0;
	while (*p) {
		uint32_t cp;
		unsigned n = fz_utf8_char(p, &cp);

		if (!n)
			return false;
		*units += cp >= 0x10000 ? 2 : 1;
		p += n;
	}
	return true;
}

static unsigned fz_utf8_put(uint32_t cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* ic_utf16le_to_utf8 on @units units of fuzz data into exactly @cap bytes, against the reference decoding. */
static void fz_op_utf16(struct fz_input *in)
{
	size_t units = fz_u16(in) % 1100u, cap = fz_u16(in) % 4000u + 1u, o = 0, got;
	uint8_t *src = malloc(2 * units + 1);
	char *out = malloc(cap);
	unsigned char *want = malloc(4 * units + 1);

	FZ_CHECK(src && out && want);
	fz_bytes(in, src, 2 * units);
	for (size_t i = 0; i < units; i++) {
		uint32_t u = (uint32_t)src[2 * i] | (uint32_t)src[2 * i + 1] << 8, cp = u;
		unsigned char enc[4];
		unsigned len;

		if (u == 0)
			break;
		if (u >= 0xd800 && u <= 0xdbff && i + 1 < units) {
			uint32_t lo = (uint32_t)src[2 * i + 2] | (uint32_t)src[2 * i + 3] << 8;

			if (lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
				i++;
			} else {
				cp = 0xfffd;
			}
		} else if (u >= 0xd800 && u <= 0xdfff) {
			cp = 0xfffd; /* unpaired */
		}
		len = fz_utf8_put(cp, enc);
		if (o + len + 1 > cap)
			break; /* a character that does not fit ends the string */
		memcpy(want + o, enc, len);
		o += len;
	}
	got = ic_utf16le_to_utf8(src, units, out, cap);
	FZ_CHECK(got == o);
	FZ_CHECK(out[o] == '\0');
	FZ_CHECK(memcmp(out, want, o) == 0);
	free(want);
	free(out);
	free(src);
}

/* ic_utf8_to_utf16le on a fuzzed NUL-terminated string into exactly @max_units units, against the reference. */
static void fz_op_utf8(struct fz_input *in)
{
	size_t len = fz_u16(in) % FZ_VALUE_MAX, max_units = fz_u16(in) % 1100u, units, n = 0;
	char *s = malloc(len + 1);
	uint8_t *out = malloc(max_units ? 2 * max_units : 1);
	const unsigned char *p;
	bool valid;
	int rc;

	FZ_CHECK(s && out);
	fz_bytes(in, s, len);
	s[len] = '\0';
	valid = fz_utf8_scan(s, &units);
	rc = ic_utf8_to_utf16le(s, out, max_units);
	if (units + 1 > max_units)
		FZ_CHECK(rc == -ENAMETOOLONG); /* (the well-formed prefix already does not fit) */
	else if (!valid)
		FZ_CHECK(rc == -EINVAL);
	else
		FZ_CHECK(rc == (int)units);
	if (rc >= 0) {
		for (p = (const unsigned char *)s; *p;) {
			uint32_t cp, u[2];
			unsigned k = fz_utf8_char(p, &cp), m = 1;

			p += k;
			u[0] = cp;
			if (cp >= 0x10000) {
				u[0] = 0xd800 | ((cp - 0x10000) >> 10);
				u[1] = 0xdc00 | ((cp - 0x10000) & 0x3ff);
				m = 2;
			}
			for (unsigned j = 0; j < m; j++, n++)
				FZ_CHECK(((uint32_t)out[2 * n] | (uint32_t)out[2 * n + 1] << 8) == u[j]);
		}
		FZ_CHECK(out[2 * n] == 0 && out[2 * n + 1] == 0);
	}
	free(out);
	free(s);
}

/* ---- checks ---------------------------------------------------------------------------------------------------- */

static bool fz_version_offered(unsigned svc, uint32_t v)
{
	switch (svc) {
	case VSP_IC_SHUTDOWN:
		return v == SD_VERSION_3_2 || v == SD_VERSION_3_1 || v == SD_VERSION || v == SD_WS2008_VERSION;
	case VSP_IC_TIMESYNC:
		return ((fz_config & FZ_CFG_REFTIME) && v == TS_VERSION_4) || v == TS_VERSION_3 || v == TS_VERSION_1;
	case VSP_IC_HEARTBEAT:
		return v == HB_VERSION || v == HB_WS2008_VERSION;
	default:
		return v == WIN8_SRV_VERSION || v == WIN7_SRV_VERSION || v == WS2008_SRV_VERSION;
	}
}

static void fz_check(void)
{
	struct vsp_ic_stats s;
	struct vsp_ic_heartbeat hb;
	struct vmbus_server_stats ss;

	vmbus_server_stats(fz_srv, &ss);
	FZ_CHECK(ss.channels_broken == 0);   /* the client keeps its rings right whatever it sends */
	FZ_CHECK(fz_bus.malformed == 0);     /* nothing the server sends would make Linux WARN */
	FZ_CHECK(fz_bus.bad_offers == 0);
	vsp_ic_stats(fz_ic, &s);
	vsp_ic_heartbeat_status(fz_ic, &hb);
	if (!fz_ic)
		return;
	for (unsigned i = 0; i < FZ_NSVC; i++) {
		const struct vsp_ic_service_stats *st = &s.svc[i];

		FZ_CHECK(st->state <= VSP_IC_STATE_FAILED);
		FZ_CHECK(st->replies <= st->sent);
		if (st->state == VSP_IC_STATE_READY) {
			FZ_CHECK(st->framework_version == UTIL_FW_VERSION ||
				 st->framework_version == UTIL_WS2K8_FW_VERSION);
			FZ_CHECK(fz_version_offered(i, st->message_version));
		} else if (st->state != VSP_IC_STATE_CLOSED) {
			FZ_CHECK(st->framework_version == 0 && st->message_version == 0);
		}
		if (!fz_open[i] && fz_closed_ok[i])
			FZ_CHECK(st->state == VSP_IC_STATE_CLOSED);
		if (i != VSP_IC_KVP)
			FZ_CHECK(st->timeouts == 0);
	}
	if (fz_config & FZ_CFG_NO_KVP) {
		FZ_CHECK(s.svc[VSP_IC_KVP].state == VSP_IC_STATE_CLOSED);
		FZ_CHECK(s.svc[VSP_IC_KVP].sent == 0);
	}
	FZ_CHECK(s.kvp_guest_items <= VSP_IC_KVP_MAX_ITEMS);
	FZ_CHECK(s.kvp_host_pending <= fz_nkeys);
	FZ_CHECK(s.kvp_enumerations <= s.svc[VSP_IC_KVP].replies);
	FZ_CHECK(s.timesync_syncs + s.timesync_samples <= s.svc[VSP_IC_TIMESYNC].sent);
	FZ_CHECK(fz_sd_replies <= s.svc[VSP_IC_SHUTDOWN].replies);
	if (fz_sd_replies)
		FZ_CHECK(s.shutdown_last_status == fz_sd_status);
	else
		FZ_CHECK(s.shutdown_last_status == HV_E_FAIL);
	FZ_CHECK(hb.alive == fz_hb_alive);
	FZ_CHECK(!hb.alive || hb.replies > 0);
	FZ_CHECK(hb.replies <= s.svc[VSP_IC_HEARTBEAT].replies);
	FZ_CHECK(hb.channel_open == (s.svc[VSP_IC_HEARTBEAT].state != VSP_IC_STATE_CLOSED));
	FZ_CHECK(hb.replies == 0 || hb.last_seq > VSP_IC_HEARTBEAT_SEQ0);
}

/* ---- the guest end --------------------------------------------------------------------------------------------- */

static void fz_open_channel(unsigned svc)
{
	struct vsp_ic_stats s;
	int rc;

	if (fz_open[svc] || !fz_ic)
		return;
	rc = vsc_ic_open(&fz_bus, &fz_cl[svc]);
	/* nothing but a missing offer (KVP off) or RAM used up by re-opens may stop an open of a live offer */
	FZ_CHECK(rc == 0 || rc == -VSC_ENOENT || rc == -VSC_ENOMEM);
	if (rc)
		return;
	fz_open[svc] = true;
	fz_closed_ok[svc] = false;
	fz_req[svc].valid = false;
	vsp_ic_stats(fz_ic, &s);
	FZ_CHECK(s.svc[svc].state == VSP_IC_STATE_NEGOTIATING); /* NEGOTIATE sent from the open callback */
	fz_settle();
}

static void fz_close_channel(unsigned svc)
{
	int rc;

	if (!fz_open[svc])
		return;
	rc = vsc_ic_close(&fz_cl[svc]);
	fz_open[svc] = false;
	fz_closed_ok[svc] = rc == 0 && fz_ic;
	fz_settle();
}

/* The Linux-like client answers what waits on @svc's channel, @rounds times with the server run in between. */
static void fz_auto(unsigned svc, unsigned rounds)
{
	for (unsigned r = 0; r < rounds && fz_open[svc]; r++) {
		int n = vsc_ic_poll(&fz_cl[svc]);

		fz_settle();
		if (n <= 0)
			break;
	}
}

/* Take the next host request of @svc into fz_req[svc] (unanswered). */
static void fz_take_request(unsigned svc)
{
	struct vsc_packet pkt;
	int rc;

	if (!fz_open[svc])
		return;
	rc = vsc_channel_recv(&fz_cl[svc].ch, fz_cl[svc].buf, sizeof(fz_cl[svc].buf), &pkt);
	if (rc < 0)
		return;
	FZ_CHECK(pkt.type == VM_PKT_DATA_INBAND && pkt.data_len >= ICMSG_HDR && pkt.data_len <= FZ_BUF);
	fz_req[svc].valid = true;
	fz_req[svc].trans_id = pkt.trans_id;
	fz_req[svc].len = pkt.data_len;
	memcpy(fz_req[svc].data, pkt.data, pkt.data_len);
	fz_settle(); /* the read may have freed space the VSP waits for */
}

/* REPLY: the guest's answer, built by the input. */
#define FZ_REPLY_TAKE    0x01u /* take the next request first */
#define FZ_REPLY_BASE    0x06u /* 0: empty, 1: the request as received, 2/3: the Linux client's answer to it */
#define FZ_REPLY_TID     0x08u /* u64 trans_id (else the request's) */
#define FZ_REPLY_TYPE    0x10u /* u16 packet type, u16 flags (else INBAND, 0) */
#define FZ_REPLY_PATCH   0x20u /* u8 count, then count x (u16 offset, u8 length, bytes) */
#define FZ_REPLY_LEN     0x40u /* u16 length (truncate, or extend with zeros) */
#define FZ_REPLY_DESC    0x80u /* u8 length, bytes: a type-specific descriptor */

static void fz_op_reply(struct fz_input *in)
{
	static uint8_t buf[FZ_SEND_MAX];
	static uint8_t desc[256];
	uint8_t sel = fz_u8(in), mode = fz_u8(in);
	unsigned svc = sel % FZ_NSVC;
	struct fz_request *rq = &fz_req[svc];
	uint32_t len = 0, desc_len = 0;
	uint16_t type = VM_PKT_DATA_INBAND, flags = 0;
	uint64_t tid;
	int rc;

	if (mode & FZ_REPLY_TAKE)
		fz_take_request(svc);
	memset(buf, 0, sizeof(buf));
	if (((mode & FZ_REPLY_BASE) >> 1) != 0 && rq->valid) {
		len = rq->len < sizeof(buf) ? rq->len : sizeof(buf);
		memcpy(buf, rq->data, len);
		if (((mode & FZ_REPLY_BASE) >> 1) >= 2)
			(void)vsc_ic_answer(&fz_cl[svc], buf, len);
	}
	tid = rq->valid ? rq->trans_id : 0;
	if (mode & FZ_REPLY_TID)
		tid = fz_u64(in);
	if (mode & FZ_REPLY_TYPE) {
		type = fz_u16(in);
		flags = fz_u16(in);
	}
	if (mode & FZ_REPLY_PATCH) {
		unsigned count = fz_u8(in) % 9u;

		for (unsigned i = 0; i < count; i++) {
			uint32_t off = fz_u16(in) % sizeof(buf), plen = fz_u8(in);

			if (plen > sizeof(buf) - off)
				plen = (uint32_t)sizeof(buf) - off;
			fz_bytes(in, buf + off, plen);
			if (off + plen > len)
				len = off + plen;
		}
	}
	if (mode & FZ_REPLY_LEN) {
		uint32_t want = fz_u16(in) % (sizeof(buf) + 1);

		if (want > len)
			memset(buf + len, 0, want - len);
		len = want;
	}
	if (mode & FZ_REPLY_DESC) {
		desc_len = fz_u8(in);
		fz_bytes(in, desc, desc_len);
	}
	if (!fz_open[svc])
		return;
	rc = vsc_channel_send(&fz_cl[svc].ch, type, flags, tid, desc_len ? desc : NULL, desc_len, buf, len);
	FZ_CHECK(rc == 0 || rc == -VSC_EAGAIN || rc == -VSC_ENODEV);
	fz_settle();
}

/* VERSIONS: the client's preference lists (u8 counts: framework 0-3 in bits 0-1, message 0-4 in bits 2-4). */
static void fz_op_versions(struct fz_input *in)
{
	uint8_t sel = fz_u8(in), counts = fz_u8(in);
	struct vsc_ic *c = &fz_cl[sel % FZ_NSVC];

	c->fw_count = counts & 3u;
	c->msg_count = ((counts >> 2) & 7u) % (VSC_IC_MAX_VERSIONS + 1);
	for (unsigned i = 0; i < c->fw_count; i++)
		c->fw_versions[i] = fz_u32(in);
	for (unsigned i = 0; i < c->msg_count; i++)
		c->msg_versions[i] = fz_u32(in);
}

/* GUEST_ITEMS: u16 n; the client's auto pool becomes the first n % 301 generated items (0: the default three). */
static void fz_op_guest_items(struct fz_input *in)
{
	unsigned n = fz_u16(in) % (FZ_MANY_ITEMS + 1);
	struct vsc_ic *c = &fz_cl[VSC_IC_KVP];

	if (!fz_many_items[0].key[0]) {
		for (unsigned i = 0; i < FZ_MANY_ITEMS; i++) {
			snprintf(fz_many_items[i].key, sizeof(fz_many_items[i].key), "Item%03u", i);
			snprintf(fz_many_items[i].value, sizeof(fz_many_items[i].value), "value of item %u", i);
		}
	}
	c->kvp_auto = n ? fz_many_items : fz_guest_items;
	c->kvp_auto_count = n ? n : sizeof(fz_guest_items) / sizeof(fz_guest_items[0]);
}

/* ---- the host side --------------------------------------------------------------------------------------------- */

static void fz_op_shutdown(struct fz_input *in)
{
	uint8_t sel = fz_u8(in);
	enum vsp_ic_shutdown_kind kind = (sel & 1) ? VSP_IC_REBOOT : VSP_IC_POWEROFF;
	struct vsp_ic_stats s;
	int rc;

	if (sel & 4)
		kind = (enum vsp_ic_shutdown_kind)(sel >> 3); /* mostly not a kind at all */
	vsp_ic_stats(fz_ic, &s);
	rc = vsp_ic_shutdown(fz_ic, kind, sel & 2);
	if (fz_verbose)
		fprintf(stderr, "fuzz_vsp_ic: shutdown(kind %d, force %d) = %d\n", (int)kind, (sel & 2) != 0, rc);
	if (!fz_ic || (kind != VSP_IC_POWEROFF && kind != VSP_IC_REBOOT)) {
		FZ_CHECK(rc == -EINVAL);
		return;
	}
	FZ_CHECK(rc == 0 || rc == -ENOTCONN || rc == -EAGAIN);
	if (rc != -ENOTCONN)
		FZ_CHECK(s.svc[VSP_IC_SHUTDOWN].state == VSP_IC_STATE_READY);
	else
		FZ_CHECK(s.svc[VSP_IC_SHUTDOWN].state != VSP_IC_STATE_READY || !fz_open[VSP_IC_SHUTDOWN]);
	fz_settle();
}

static void fz_op_kvp_set(struct fz_input *in)
{
	static char key[FZ_KEY_MAX + 1], value[FZ_VALUE_MAX + 1];
	size_t klen = fz_u16(in) % FZ_KEY_MAX, vlen = fz_u16(in) % FZ_VALUE_MAX, ku, vu;
	bool kok, vok, known = false;
	int rc, want;

	fz_bytes(in, key, klen);
	key[klen] = '\0';
	fz_bytes(in, value, vlen);
	value[vlen] = '\0';
	rc = vsp_ic_kvp_set(fz_ic, key, value);
	if (fz_verbose)
		fprintf(stderr, "fuzz_vsp_ic: kvp_set(%zu + %zu bytes) = %d\n", klen, vlen, rc);
	if (!fz_ic) {
		FZ_CHECK(rc == -EINVAL);
		return;
	}
	kok = fz_utf8_scan(key, &ku);
	vok = fz_utf8_scan(value, &vu);
	for (unsigned i = 0; i < fz_nkeys; i++)
		known |= strcmp(fz_keys[i], key) == 0;
	if (fz_config & FZ_CFG_NO_KVP)
		want = -EOPNOTSUPP;
	else if (!kok || ku == 0 || ku > 255 || !vok || vu > 1023)
		want = -EINVAL;
	else if (!known && fz_nkeys == VSP_IC_KVP_MAX_ITEMS)
		want = -ENOSPC;
	else
		want = 0;
	FZ_CHECK(rc == want);
	if (rc == 0 && !known)
		memcpy(fz_keys[fz_nkeys++], key, klen + 1);
	fz_settle();
}

static void fz_op_kvp_get(struct fz_input *in)
{
	static char key[FZ_KEY_MAX + 1];
	size_t klen = fz_u16(in) % FZ_KEY_MAX, cap = fz_u16(in) % 4096u, units;
	char *out = malloc(cap ? cap : 1);
	int rc;

	FZ_CHECK(out);
	fz_bytes(in, key, klen);
	key[klen] = '\0';
	if (klen == 0 && (cap & 1)) /* now and then a key of the client's auto pool */
		snprintf(key, sizeof(key), "%s", fz_guest_items[(cap >> 1) % 3].key);
	rc = vsp_ic_kvp_guest_get(fz_ic, key, out, cap);
	if (fz_verbose)
		fprintf(stderr, "fuzz_vsp_ic: kvp_guest_get('%s', cap %zu) = %d '%s'\n", key, cap, rc, rc ? "" : out);
	if (!fz_ic || cap == 0) {
		FZ_CHECK(rc == -EINVAL);
	} else if (fz_config & FZ_CFG_NO_KVP) {
		FZ_CHECK(rc == -ENOENT && out[0] == '\0');
	} else {
		FZ_CHECK(rc == 0 || rc == -ENOENT || rc == -ERANGE);
		if (rc) {
			FZ_CHECK(out[0] == '\0');
		} else {
			FZ_CHECK(memchr(out, '\0', cap) != NULL);
			FZ_CHECK(fz_utf8_scan(out, &units)); /* decoded from UTF-16, or a decimal number */
			/* guest keys are decoded from UTF-16 too: never empty, never malformed */
			FZ_CHECK(fz_utf8_scan(key, &units) && units > 0);
		}
	}
	free(out);
}

/* FIRE: run @svc's timer now if it is armed (the function and argument it was armed with, delay 0). */
static void fz_op_fire(struct fz_input *in)
{
	struct vmbus_timer *t;

	if (!fz_ic)
		return;
	t = &fz_ic->chan[fz_u8(in) % FZ_NSVC].timer;
	if (t->due_ns && t->fn)
		vmbus_timer_arm(fz_srv, t, 0, t->fn, t->opaque);
	fz_settle();
}

/* WAIT: 2 ms of real time pass with the server running (the 1 ms periods and timeouts of the config byte). */
static void fz_op_wait(void)
{
	uint64_t end;

	if (!fz_waits_left)
		return;
	fz_waits_left--;
	end = fz_platform_now_ms(NULL) + 3; /* ms granularity: at least 2 ms */
	while (fz_platform_now_ms(NULL) < end)
		(void)vmbus_server_poll(fz_srv, 1);
	fz_settle();
}

static void fz_instance_reset(void)
{
	fz_sd_replies = 0;
	fz_sd_status = HV_E_FAIL;
	fz_hb_alive = false;
	fz_nkeys = 0;
}

/* RECREATE: vsp_ic_destroy with the channels as they are (rescinds), the client lets go, then a new instance. */
static void fz_op_recreate(void)
{
	int rc;

	if (!fz_recreates_left)
		return;
	fz_recreates_left--;
	vsp_ic_destroy(fz_ic);
	fz_ic = NULL;
	fz_settle();
	for (unsigned i = 0; i < FZ_NSVC; i++) {
		if (fz_open[i])
			(void)vsc_ic_close(&fz_cl[i]);
		fz_open[i] = false;
		fz_closed_ok[i] = false;
		fz_req[i].valid = false;
	}
	fz_settle();
	fz_instance_reset();
	fz_cfg.srv = fz_srv;
	rc = vsp_ic_create(&fz_cfg, &fz_ic);
	FZ_CHECK(rc == 0); /* every relid and instance id was released above */
	fz_settle();
}

/* ---- one input ------------------------------------------------------------------------------------------------- */

static void fz_setup(uint8_t config)
{
	static bool once;

	if (!once) {
		once = true;
		/* Guest-triggered warnings are rate-limited anyway; FUZZ_LOG=1 shows everything. */
		fz_verbose = getenv("FUZZ_LOG") != NULL;
		log_set_level(fz_verbose ? LOG_DEBUG : LOG_ERROR);
		fz_platform_create(FZ_RAM, FZ_ALLOC_BASE, fz_pump);
	}
	fz_platform_reset();
	fz_config = config;
	fz_ref = 0x0123456789abull;
	fz_waits_left = FZ_MAX_WAITS;
	fz_recreates_left = FZ_MAX_RECREATE;
	memset(fz_open, 0, sizeof(fz_open));
	memset(fz_closed_ok, 0, sizeof(fz_closed_ok));
	for (unsigned i = 0; i < FZ_NSVC; i++)
		fz_req[i].valid = false;
	fz_instance_reset();

	fz_platform_server_create();

	memset(&fz_cfg, 0, sizeof(fz_cfg));
	fz_cfg.srv = fz_srv;
	fz_cfg.reference_time = (config & FZ_CFG_REFTIME) ? fz_reference_time : NULL;
	fz_cfg.heartbeat_period_ms = (config & FZ_CFG_HB_FAST) ? 1 : FZ_LONG_MS;
	fz_cfg.timesync_period_ms = (config & FZ_CFG_TS_FAST) ? 1 : FZ_LONG_MS;
	fz_cfg.kvp_timeout_ms = (config & FZ_CFG_KVP_FAST) ? 1 : FZ_LONG_MS;
	fz_cfg.kvp = !(config & FZ_CFG_NO_KVP);
	fz_cfg.shutdown_reply = fz_on_shutdown_reply;
	fz_cfg.heartbeat_change = fz_on_heartbeat_change;
	FZ_CHECK(vsp_ic_create(&fz_cfg, &fz_ic) == 0);

	fz_platform_bus_connect();
	for (unsigned i = 0; i < FZ_NSVC; i++)
		vsc_ic_init(&fz_cl[i], (enum vsc_ic_service)i);
	fz_cl[VSC_IC_KVP].kvp_auto = fz_guest_items;
	fz_cl[VSC_IC_KVP].kvp_auto_count = sizeof(fz_guest_items) / sizeof(fz_guest_items[0]);

	if (config & FZ_CFG_OPEN)
		for (unsigned i = 0; i < FZ_NSVC; i++)
			fz_open_channel(i);
	if (config & FZ_CFG_NEGOTIATE)
		for (unsigned i = 0; i < FZ_NSVC; i++)
			fz_auto(i, 8);
}

static void fz_teardown(void)
{
	vsp_ic_destroy(fz_ic);
	fz_ic = NULL;
	fz_platform_server_destroy();
}

enum fz_op {
	FZ_OP_OPEN,      /* u8 service */
	FZ_OP_CLOSE,     /* u8 service */
	FZ_OP_AUTO,      /* u8 service (bit 7: all), u8 rounds - 1 (% 64): the Linux-like client answers */
	FZ_OP_TAKE,      /* u8 service: take the next host request, unanswered */
	FZ_OP_REPLY,     /* u8 service, u8 mode (FZ_REPLY_*), operands */
	FZ_OP_SHUTDOWN,  /* u8: bit 0 reboot, bit 1 force, bit 2 kind = bits 7:3 */
	FZ_OP_KVP_SET,   /* u16 key length, u16 value length, key bytes, value bytes */
	FZ_OP_KVP_GET,   /* u16 key length, u16 cap, key bytes */
	FZ_OP_FIRE,      /* u8 service */
	FZ_OP_WAIT,
	FZ_OP_UTF16,     /* u16 units, u16 cap, 2 x units bytes */
	FZ_OP_UTF8,      /* u16 length, u16 max units, bytes */
	FZ_OP_VERSIONS,  /* u8 service, u8 counts, u32 versions */
	FZ_OP_RECREATE,
	FZ_OP_GUEST_ITEMS, /* u16 count */
	FZ_OP_COUNT
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_input in = { data, size };

	fz_setup(fz_u8(&in));
	for (unsigned n = 0; in.left && n < FZ_MAX_OPS; n++) {
		uint8_t op = fz_u8(&in) % FZ_OP_COUNT;

		switch (op) {
		case FZ_OP_OPEN: fz_open_channel(fz_u8(&in) % FZ_NSVC); break;
		case FZ_OP_CLOSE: fz_close_channel(fz_u8(&in) % FZ_NSVC); break;
		case FZ_OP_AUTO: {
			uint8_t sel = fz_u8(&in), rounds = fz_u8(&in) % 64u + 1u;

			if (sel & 0x80)
				for (unsigned i = 0; i < FZ_NSVC; i++)
					fz_auto(i, rounds);
			else
				fz_auto(sel % FZ_NSVC, rounds);
			break;
		}
		case FZ_OP_TAKE: fz_take_request(fz_u8(&in) % FZ_NSVC); break;
		case FZ_OP_REPLY: fz_op_reply(&in); break;
		case FZ_OP_SHUTDOWN: fz_op_shutdown(&in); break;
		case FZ_OP_KVP_SET: fz_op_kvp_set(&in); break;
		case FZ_OP_KVP_GET: fz_op_kvp_get(&in); break;
		case FZ_OP_FIRE: fz_op_fire(&in); break;
		case FZ_OP_WAIT: fz_op_wait(); break;
		case FZ_OP_UTF16: fz_op_utf16(&in); break;
		case FZ_OP_UTF8: fz_op_utf8(&in); break;
		case FZ_OP_VERSIONS: fz_op_versions(&in); break;
		case FZ_OP_RECREATE: fz_op_recreate(); break;
		case FZ_OP_GUEST_ITEMS: fz_op_guest_items(&in); break;
		}
		/* vsp_ic_stats walks the whole KVP table: after the operations that move a state machine, and at the end */
		if (op == FZ_OP_OPEN || op == FZ_OP_CLOSE || op == FZ_OP_SHUTDOWN || op == FZ_OP_RECREATE)
			fz_check();
	}
	fz_check();
	fz_teardown();
	return 0;
}
