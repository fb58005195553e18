// SPDX-License-Identifier: MIT
/*
 * guest/vsc/vsc_ic.c - the integration-component client (see vsc_ic.h): answers like Linux 6.1 hv_utils.
 * Freestanding: memcpy/memset/memcmp only.
 */
#include "vsc/vsc_ic.h"

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

static const struct vmbus_guid vsc_ic_classes[VSC_IC_SERVICE_COUNT] = {
	[VSC_IC_SHUTDOWN] = HV_SHUTDOWN_GUID,
	[VSC_IC_TIMESYNC] = HV_TS_GUID,
	[VSC_IC_HEARTBEAT] = HV_HEART_BEAT_GUID,
	[VSC_IC_KVP] = HV_KVP_GUID,
};

static const uint16_t vsc_ic_msgtypes[VSC_IC_SERVICE_COUNT] = {
	[VSC_IC_SHUTDOWN] = ICMSGTYPE_SHUTDOWN,
	[VSC_IC_TIMESYNC] = ICMSGTYPE_TIMESYNC,
	[VSC_IC_HEARTBEAT] = ICMSGTYPE_HEARTBEAT,
	[VSC_IC_KVP] = ICMSGTYPE_KVPEXCHANGE,
};

const struct vmbus_guid *vsc_ic_class(enum vsc_ic_service service)
{
	return service < VSC_IC_SERVICE_COUNT ? &vsc_ic_classes[service] : NULL;
}

static void vsc_ic_set_list(uint32_t *dst, unsigned *count, const uint32_t *src, unsigned n)
{
	for (unsigned i = 0; i < n && i < VSC_IC_MAX_VERSIONS; i++)
		dst[i] = src[i];
	*count = n < VSC_IC_MAX_VERSIONS ? n : VSC_IC_MAX_VERSIONS;
}

void vsc_ic_init(struct vsc_ic *ic, enum vsc_ic_service service)
{
	static const uint32_t fw[] = { UTIL_FW_VERSION, UTIL_WS2K8_FW_VERSION };
	static const uint32_t sd[] = { SD_VERSION_3_2, SD_VERSION_3_1, SD_VERSION, SD_WS2008_VERSION };
	static const uint32_t ts[] = { TS_VERSION_4, TS_VERSION_3, TS_VERSION_1 };
	static const uint32_t hb[] = { HB_VERSION, HB_WS2008_VERSION };
	static const uint32_t kvp[] = { WIN8_SRV_VERSION, WIN7_SRV_VERSION, WS2008_SRV_VERSION };

	memset(ic, 0, sizeof(*ic));
	ic->service = service;
	vsc_ic_set_list(ic->fw_versions, &ic->fw_count, fw, 2);
	switch (service) {
	case VSC_IC_SHUTDOWN:
		vsc_ic_set_list(ic->msg_versions, &ic->msg_count, sd, 4);
		break;
	case VSC_IC_TIMESYNC:
		vsc_ic_set_list(ic->msg_versions, &ic->msg_count, ts, 3);
		break;
	case VSC_IC_HEARTBEAT:
		vsc_ic_set_list(ic->msg_versions, &ic->msg_count, hb, 2);
		break;
	default:
		vsc_ic_set_list(ic->msg_versions, &ic->msg_count, kvp, 3);
		break;
	}
}

int vsc_ic_open(struct vsc_bus *bus, struct vsc_ic *ic)
{
	const struct vsc_offer *o = vsc_bus_find_offer(bus, vsc_ic_class(ic->service), 0);

	if (!o)
		return -VSC_ENOENT;
	return vsc_channel_open(bus, &ic->ch, o->msg.child_relid, VSC_IC_RING_BYTES, VSC_IC_RING_BYTES, bus->vp);
}

int vsc_ic_close(struct vsc_ic *ic)
{
	return vsc_channel_close(&ic->ch);
}

/* ---- little helpers (no libc) -------------------------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

static size_t vsc_ic_strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static bool vsc_ic_streq(const char *a, const char *b)
{
	size_t n = vsc_ic_strlen(a);

	return n == vsc_ic_strlen(b) && memcmp(a, b, n) == 0;
}

/* UTF-16LE (@units at most, stops at NUL) to ASCII in @out (@cap bytes, NUL-terminated); others become '?'. */
static void vsc_ic_from_utf16(const uint8_t *in, uint32_t units, char *out, size_t cap)
{
	size_t o = 0;

	for (uint32_t i = 0; i < units && o + 1 < cap; i++) {
		uint16_t u = rd16(in + 2 * i);

		if (!u)
			break;
		out[o++] = u < 0x80 ? (char)u : '?';
	}
	out[o] = '\0';
}

/* ASCII @s to UTF-16LE in @out (@max_units, NUL included). Returns the size in bytes including the NUL. */
static uint32_t vsc_ic_to_utf16(const char *s, uint8_t *out, uint32_t max_units)
{
	uint32_t n = 0;

	while (s[n] && n + 1 < max_units) {
		wr16(out + 2 * n, (uint8_t)s[n]);
		n++;
	}
	wr16(out + 2 * n, 0);
	return 2 * (n + 1);
}

/* The @j-th ic_version of a negotiate message's version table, as one number. */
static uint32_t vsc_ic_version_at(const uint8_t *vers, uint32_t j)
{
	return IC_MAKE_VERSION(rd16(vers + 4 * j), rd16(vers + 4 * j + 2));
}

/* ---- the services -------------------------------------------------------------------------------------------- */

/* Store @v at @off of a message of @len bytes, if it falls inside (Linux writes into a larger buffer but sends back
 * only the received length). */
static void wr16_in(uint8_t *msg, uint32_t len, uint32_t off, uint16_t v)
{
	if (off + 2 <= len)
		wr16(msg + off, v);
}

/*
 * Linux vmbus_prep_negotiate_resp (drivers/hv/channel_mgmt.c), byte for byte: the first own framework version the
 * host lists, then the first own message version. Without a match the counts become 0/0, and the two version
 * slots keep what Linux leaves there: {framework count, 0} (or the chosen framework) and {message count, 0}.
 */
static void vsc_ic_negotiate(struct vsc_ic *ic, uint8_t *msg, uint32_t len, struct icmsg_hdr *h)
{
	const uint32_t vers_off = (uint32_t)(ICMSG_HDR + sizeof(struct icmsg_negotiate));
	uint8_t *body = msg + ICMSG_HDR;
	uint32_t fcnt, mcnt, fw, mv;
	bool fw_found = false, msg_found = false;

	ic->negotiations++;
	if (len < ICMSG_HDR + 4)
		return; /* Linux: "Invalid icmsg negotiate", answered unchanged */
	h->icmsgsize = 0x10;
	fcnt = rd16(body);
	mcnt = rd16(body + 2);
	fw = IC_MAKE_VERSION(fcnt, 0);
	mv = IC_MAKE_VERSION(mcnt, 0);
	if (fcnt <= IC_VERSION_NEGOTIATION_MAX_VER_COUNT && mcnt <= IC_VERSION_NEGOTIATION_MAX_VER_COUNT &&
	    ICMSG_NEGOTIATE_PKT_SIZE(fcnt, mcnt) <= len) {
		const uint8_t *vers = msg + vers_off;

		for (unsigned i = 0; i < ic->fw_count && !fw_found; i++)
			for (uint32_t j = 0; j < fcnt && !fw_found; j++)
				if (vsc_ic_version_at(vers, j) == ic->fw_versions[i]) {
					fw = ic->fw_versions[i];
					fw_found = true;
				}
		for (unsigned i = 0; fw_found && i < ic->msg_count && !msg_found; i++)
			for (uint32_t j = fcnt; j < fcnt + mcnt && !msg_found; j++)
				if (vsc_ic_version_at(vers, j) == ic->msg_versions[i]) {
					mv = ic->msg_versions[i];
					msg_found = true;
				}
	}
	ic->negotiated = fw_found && msg_found;
	ic->fw_version = ic->negotiated ? fw : 0;
	ic->msg_version = ic->negotiated ? mv : 0;
	wr16(body, ic->negotiated ? 1 : 0);
	wr16(body + 2, ic->negotiated ? 1 : 0);
	wr16_in(msg, len, vers_off, (uint16_t)(fw >> 16));
	wr16_in(msg, len, vers_off + 2, (uint16_t)fw);
	wr16_in(msg, len, vers_off + 4, (uint16_t)(mv >> 16));
	wr16_in(msg, len, vers_off + 6, (uint16_t)mv);
}

static bool vsc_ic_shutdown(struct vsc_ic *ic, uint8_t *msg, uint32_t len, struct icmsg_hdr *h)
{
	uint32_t flags;

	if (len < ICMSG_HDR + sizeof(struct shutdown_msg_data)) {
		ic->dropped++;
		return false; /* Linux: "Invalid shutdown msg data", no answer */
	}
	flags = rd32(msg + ICMSG_HDR + 8);
	ic->shutdown_flags = flags;
	if (flags <= 3) {
		h->status = HV_S_OK;
		ic->shutdowns++;
	} else {
		h->status = HV_E_FAIL; /* 4/5: hibernate, refused without S4; others invalid */
	}
	ic->shutdown_status = h->status;
	return true;
}

static bool vsc_ic_timesync(struct vsc_ic *ic, uint8_t *msg, uint32_t len)
{
	const uint8_t *b = msg + ICMSG_HDR;

	if (ic->msg_version > TS_VERSION_3) {
		if (len < ICMSG_HDR + sizeof(struct ictimesync_ref_data)) {
			ic->dropped++;
			return false;
		}
		ic->ts_ref_format = true;
		ic->ts_parenttime = rd64(b);
		ic->ts_vmreferencetime = rd64(b + 8);
		ic->ts_childtime = 0;
		ic->ts_flags = b[16];
	} else {
		if (len < ICMSG_HDR + sizeof(struct ictimesync_data)) {
			ic->dropped++;
			return false;
		}
		ic->ts_ref_format = false;
		ic->ts_parenttime = rd64(b);
		ic->ts_childtime = rd64(b + 8);
		ic->ts_vmreferencetime = 0;
		ic->ts_flags = b[24];
	}
	ic->ts_count++;
	if (ic->ts_flags & ICTIMESYNCFLAG_SYNC)
		ic->ts_syncs++;
	else if (ic->ts_flags & ICTIMESYNCFLAG_SAMPLE)
		ic->ts_samples++;
	return true;
}

static bool vsc_ic_heartbeat(struct vsc_ic *ic, uint8_t *msg, uint32_t len)
{
	if (len < ICMSG_HDR + sizeof(uint64_t)) {
		ic->dropped++;
		return false;
	}
	ic->heartbeat_seq = rd64(msg + ICMSG_HDR);
	wr64(msg + ICMSG_HDR, ic->heartbeat_seq + 1);
	ic->heartbeats++;
	return true;
}

static void vsc_ic_kvp_store(struct vsc_ic *ic, const char *key, const char *value)
{
	struct vsc_ic_kvp_item *it = NULL;
	size_t n;

	for (unsigned i = 0; i < ic->kvp_set_count && !it; i++)
		if (vsc_ic_streq(ic->kvp_set[i].key, key))
			it = &ic->kvp_set[i];
	if (!it) {
		if (ic->kvp_set_count >= VSC_IC_KVP_ITEMS)
			return;
		it = &ic->kvp_set[ic->kvp_set_count++];
		n = vsc_ic_strlen(key);
		memcpy(it->key, key, n + 1);
	}
	n = vsc_ic_strlen(value);
	memcpy(it->value, value, n + 1);
}

/* KVP: operation and pool at the body's start; the value record after them (and after the index for ENUMERATE). */
static bool vsc_ic_kvp(struct vsc_ic *ic, uint8_t *msg, uint32_t len, struct icmsg_hdr *h)
{
	uint8_t *b = msg + ICMSG_HDR;
	uint32_t blen = len - (uint32_t)ICMSG_HDR;
	uint8_t op, pool;

	if (blen < sizeof(struct hv_kvp_hdr)) {
		h->status = HV_E_FAIL;
		return true;
	}
	op = b[0];
	pool = b[1];
	ic->kvp_requests++;
	ic->kvp_last_op = op;
	ic->kvp_last_pool = pool;
	h->status = HV_E_FAIL;
	if (op == KVP_OP_SET && blen >= HV_KVP_SET_BODY_BYTES) {
		const uint8_t *v = b + sizeof(struct hv_kvp_hdr);
		char key[VSC_IC_KVP_KEY], value[VSC_IC_KVP_VALUE];
		uint32_t ks = rd32(v + 4), vs = rd32(v + 8);

		if (rd32(v) == REG_SZ && ks <= HV_KVP_EXCHANGE_MAX_KEY_SIZE && vs <= HV_KVP_EXCHANGE_MAX_VALUE_SIZE) {
			vsc_ic_from_utf16(v + 12, ks / 2, key, sizeof(key));
			vsc_ic_from_utf16(v + 12 + HV_KVP_EXCHANGE_MAX_KEY_SIZE, vs / 2, value, sizeof(value));
			vsc_ic_kvp_store(ic, key, value);
			h->status = HV_S_OK;
		}
	} else if (op == KVP_OP_ENUMERATE && blen >= HV_KVP_ENUM_BODY_BYTES) {
		uint8_t *v = b + sizeof(struct hv_kvp_hdr) + 4;
		uint32_t index = rd32(b + sizeof(struct hv_kvp_hdr));

		ic->kvp_last_index = index;
		if (pool != KVP_POOL_AUTO || index >= ic->kvp_auto_count || !ic->kvp_auto) {
			h->status = HV_S_CONT; /* hv_kvp_daemon: past the end */
		} else {
			memset(v, 0, sizeof(struct hv_kvp_exchg_msg_value));
			wr32(v, REG_SZ);
			wr32(v + 4, vsc_ic_to_utf16(ic->kvp_auto[index].key, v + 12, HV_KVP_EXCHANGE_MAX_KEY_SIZE / 2));
			wr32(v + 8, vsc_ic_to_utf16(ic->kvp_auto[index].value, v + 12 + HV_KVP_EXCHANGE_MAX_KEY_SIZE,
						    HV_KVP_EXCHANGE_MAX_VALUE_SIZE / 2));
			h->status = HV_S_OK;
		}
	} else if (op == KVP_OP_DELETE) {
		h->status = HV_S_OK;
	}
	return true;
}

bool vsc_ic_answer(struct vsc_ic *ic, uint8_t *msg, uint32_t len)
{
	struct icmsg_hdr h;
	bool answer = true;

	if (len < ICMSG_HDR) {
		ic->dropped++;
		return false;
	}
	memcpy(&h, msg + sizeof(struct vmbuspipe_hdr), sizeof(h));
	if (h.icmsgtype == ICMSGTYPE_NEGOTIATE) {
		vsc_ic_negotiate(ic, msg, len, &h);
	} else if (h.icmsgtype == vsc_ic_msgtypes[ic->service]) {
		switch (ic->service) {
		case VSC_IC_SHUTDOWN:
			answer = vsc_ic_shutdown(ic, msg, len, &h);
			break;
		case VSC_IC_TIMESYNC:
			answer = vsc_ic_timesync(ic, msg, len);
			break;
		case VSC_IC_HEARTBEAT:
			answer = vsc_ic_heartbeat(ic, msg, len);
			break;
		default:
			answer = vsc_ic_kvp(ic, msg, len, &h);
			break;
		}
	} else {
		ic->unknown++;
		if (ic->service == VSC_IC_KVP)
			return false; /* hv_kvp.c: "Invalid msg type", no answer */
		h.status = HV_E_FAIL;
	}
	if (!answer)
		return false;
	/* the body may have been rewritten above; the header goes back last */
	if (h.icmsgtype == ICMSGTYPE_NEGOTIATE && len >= ICMSG_HDR + 4)
		h.icmsgsize = 0x10;
	h.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
	memcpy(msg + sizeof(struct vmbuspipe_hdr), &h, sizeof(h));
	return true;
}

int vsc_ic_reply(struct vsc_ic *ic, uint64_t trans_id, const void *msg, uint32_t len)
{
	int rc = vsc_channel_send(&ic->ch, VM_PKT_DATA_INBAND, 0, trans_id, NULL, 0, msg, len);

	if (!rc)
		ic->answered++;
	return rc;
}

/* Answer one received packet (its payload is in ic->buf). */
static int vsc_ic_handle(struct vsc_ic *ic, const struct vsc_packet *pkt)
{
	uint8_t *msg = (uint8_t *)pkt->data;

	if (!vsc_ic_answer(ic, msg, pkt->data_len))
		return 0;
	return vsc_ic_reply(ic, pkt->trans_id, msg, pkt->data_len);
}

int vsc_ic_poll(struct vsc_ic *ic)
{
	struct vsc_packet pkt;
	int n = 0, rc;

	if (ic->silent)
		return 0;
	for (;;) {
		rc = vsc_channel_recv(&ic->ch, ic->buf, sizeof(ic->buf), &pkt);
		if (rc == -VSC_EAGAIN)
			return n;
		if (rc < 0)
			return rc;
		rc = vsc_ic_handle(ic, &pkt);
		if (rc < 0)
			return rc;
		n++;
	}
}

int vsc_ic_wait(struct vsc_ic *ic, uint32_t timeout_ms)
{
	struct vsc_packet pkt;
	int rc;

	if (ic->silent)
		return 0;
	rc = vsc_channel_recv_wait(&ic->ch, ic->buf, sizeof(ic->buf), &pkt, timeout_ms);
	if (rc < 0)
		return rc;
	rc = vsc_ic_handle(ic, &pkt);
	return rc < 0 ? rc : 1;
}

const char *vsc_ic_kvp_get(const struct vsc_ic *ic, const char *key)
{
	for (unsigned i = 0; i < ic->kvp_set_count; i++)
		if (vsc_ic_streq(ic->kvp_set[i].key, key))
			return ic->kvp_set[i].value;
	return NULL;
}
