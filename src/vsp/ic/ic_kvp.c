// SPDX-License-Identifier: MIT
/*
 * vsp/ic/ic_kvp.c - the KVP (data exchange) IC, host side (see vsp/ic/ic.h). The guest end is Linux 6.1
 * drivers/hv/hv_kvp.c plus hv_kvp_daemon (tools/hv/): nothing answers until the daemon runs (guest-devices.md
 * 3.7), so a silent channel is normal. One transaction at a time, each with a timeout:
 *   SET pool 0 (KVP_POOL_EXTERNAL) for every host item not yet acknowledged (body hv_kvp_hdr + hv_kvp_msg_set),
 *   ENUMERATE pool 2 (KVP_POOL_AUTO) index 0, 1, ... until HV_S_CONT ("no more items") or an error, then again
 *   every VSP_IC_KVP_REFRESH_MS (body hv_kvp_hdr + hv_kvp_msg_enumerate). The guest answers in place with
 *   REG_SZ UTF-16LE key and value; items not seen in a complete pass are forgotten.
 */
#define LOG_TAG "ic-kvp"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "vsp/ic/internal.h"

#define KVP_KEY_UNITS   (HV_KVP_EXCHANGE_MAX_KEY_SIZE / 2)   /* UTF-16 units, NUL included */
#define KVP_VALUE_UNITS (HV_KVP_EXCHANGE_MAX_VALUE_SIZE / 2)
#define KVP_KEY_UTF8    (3 * KVP_KEY_UNITS)                  /* worst case: 3 UTF-8 bytes per unit */
#define KVP_VALUE_UTF8  (3 * KVP_VALUE_UNITS)
#define KVP_MAX_ENUM_INDEX 256u                               /* a guest that never says "no more items" */

struct kvp_item {
	bool used;
	bool pending;       /* host items: not yet acknowledged by the guest */
	uint32_t gen;       /* host items: bumped by every vsp_ic_kvp_set of the key */
	uint64_t pass;      /* guest items: enumeration pass that last reported it */
	char key[KVP_KEY_UTF8];
	char value[KVP_VALUE_UTF8];
};

enum kvp_txn { KVP_TXN_NONE = 0, KVP_TXN_SET, KVP_TXN_ENUM };

struct ic_kvp {
	struct kvp_item host[VSP_IC_KVP_MAX_ITEMS];  /* under ic->lock */
	struct kvp_item guest[VSP_IC_KVP_MAX_ITEMS]; /* under ic->lock */
	uint64_t enumerations;                       /* under ic->lock */
	/* I/O thread only */
	enum kvp_txn txn;
	uint64_t txn_tid;
	uint64_t txn_deadline_ns;
	unsigned txn_item;
	uint32_t txn_gen;
	uint32_t txn_index;
	bool enum_due;
	uint32_t enum_index;
	uint64_t enum_pass;
	uint64_t enum_next_ns;
	uint8_t msg[HV_KVP_ENUM_BODY_BYTES];         /* request body scratch */
	struct kvp_item scratch;                      /* the item being sent */
};

/* ---- UTF-8 <-> UTF-16LE ------------------------------------------------------------------------------------------ */

/* Decode one UTF-8 character at *@s; advance. Returns the code point, or -1 if malformed. */
static int32_t utf8_next(const unsigned char **s)
{
	const unsigned char *p = *s;
	uint32_t cp;
	unsigned n;

	if (p[0] < 0x80) {
		*s = p + 1;
		return p[0];
	}
	if ((p[0] & 0xe0) == 0xc0) {
		cp = p[0] & 0x1f;
		n = 1;
	} else if ((p[0] & 0xf0) == 0xe0) {
		cp = p[0] & 0x0f;
		n = 2;
	} else if ((p[0] & 0xf8) == 0xf0) {
		cp = p[0] & 0x07;
		n = 3;
	} else {
		return -1;
	}
	for (unsigned i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return -1;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*s = p + n + 1;
	return (int32_t)cp;
}

static void put_u16le(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

int ic_utf8_to_utf16le(const char *s, uint8_t *out, size_t max_units)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	if (!max_units)
		return -ENAMETOOLONG;
	while (*p) {
		int32_t cp = utf8_next(&p);

		if (cp < 0)
			return -EINVAL;
		if (cp >= 0x10000) {
			if (n + 2 >= max_units)
				return -ENAMETOOLONG;
			cp -= 0x10000;
			put_u16le(out + 2 * n++, (uint16_t)(0xd800 | (cp >> 10)));
			put_u16le(out + 2 * n++, (uint16_t)(0xdc00 | (cp & 0x3ff)));
		} else {
			if (n + 1 >= max_units)
				return -ENAMETOOLONG;
			put_u16le(out + 2 * n++, (uint16_t)cp);
		}
	}
	put_u16le(out + 2 * n, 0);
	return (int)n;
}

size_t ic_utf16le_to_utf8(const uint8_t *in, size_t units, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < units; i++) {
		uint32_t cp = (uint32_t)in[2 * i] | (uint32_t)in[2 * i + 1] << 8;
		char enc[4];
		size_t len;

		if (cp == 0)
			break;
		if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < units) {
			uint32_t lo = (uint32_t)in[2 * i + 2] | (uint32_t)in[2 * i + 3] << 8;

			if (lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i++;
			} else {
				cp = 0xfffd;
			}
		} else if (cp >= 0xd800 && cp <= 0xdfff) {
			cp = 0xfffd;
		}
		if (cp < 0x80) {
			enc[0] = (char)cp;
			len = 1;
		} else if (cp < 0x800) {
			enc[0] = (char)(0xc0 | cp >> 6);
			enc[1] = (char)(0x80 | (cp & 0x3f));
			len = 2;
		} else if (cp < 0x10000) {
			enc[0] = (char)(0xe0 | cp >> 12);
			enc[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			enc[2] = (char)(0x80 | (cp & 0x3f));
			len = 3;
		} else {
			enc[0] = (char)(0xf0 | cp >> 18);
			enc[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
			enc[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
			enc[3] = (char)(0x80 | (cp & 0x3f));
			len = 4;
		}
		if (o + len + 1 > cap)
			break;
		memcpy(out + o, enc, len);
		o += len;
	}
	out[o] = '\0';
	return o;
}

/* ---- tables (any thread, under ic->lock) ------------------------------------------------------------------------ */

static struct kvp_item *kvp_find(struct kvp_item *tab, const char *key)
{
	for (unsigned i = 0; i < VSP_IC_KVP_MAX_ITEMS; i++)
		if (tab[i].used && strcmp(tab[i].key, key) == 0)
			return &tab[i];
	return NULL;
}

static struct kvp_item *kvp_free_slot(struct kvp_item *tab)
{
	for (unsigned i = 0; i < VSP_IC_KVP_MAX_ITEMS; i++)
		if (!tab[i].used)
			return &tab[i];
	return NULL;
}

int ic_kvp_host_set(struct vsp_ic *ic, const char *key, const char *value)
{
	uint8_t scratch[HV_KVP_EXCHANGE_MAX_VALUE_SIZE];
	struct ic_kvp *k = ic->kvp;
	struct kvp_item *it;
	int n;

	/* validate by encoding: the limits are UTF-16 units on the wire */
	n = ic_utf8_to_utf16le(key, scratch, KVP_KEY_UNITS);
	if (n <= 0)
		return -EINVAL;
	n = ic_utf8_to_utf16le(value, scratch, KVP_VALUE_UNITS);
	if (n < 0)
		return -EINVAL;
	if (strlen(key) >= KVP_KEY_UTF8 || strlen(value) >= KVP_VALUE_UTF8)
		return -EINVAL; /* cannot happen after the checks above; keeps the copies below obviously bounded */
	ic_lock(ic);
	it = kvp_find(k->host, key);
	if (!it) {
		it = kvp_free_slot(k->host);
		if (!it) {
			ic_unlock(ic);
			return -ENOSPC;
		}
		memset(it, 0, sizeof(*it));
		it->used = true;
		snprintf(it->key, sizeof(it->key), "%s", key);
	}
	snprintf(it->value, sizeof(it->value), "%s", value);
	it->gen++;
	it->pending = true;
	ic_unlock(ic);
	return 0;
}

int ic_kvp_guest_get(struct vsp_ic *ic, const char *key, char *value, size_t cap)
{
	struct kvp_item *it;
	int rc = 0;

	ic_lock(ic);
	it = kvp_find(ic->kvp->guest, key);
	if (!it) {
		rc = -ENOENT;
		value[0] = '\0';
	} else if (strlen(it->value) >= cap) {
		rc = -ERANGE;
		value[0] = '\0';
	} else {
		memcpy(value, it->value, strlen(it->value) + 1);
	}
	ic_unlock(ic);
	return rc;
}

int ic_kvp_guest_item(struct vsp_ic *ic, unsigned index, char *key, size_t kcap, char *value, size_t vcap)
{
	int rc = -ENOENT;

	ic_lock(ic);
	for (unsigned i = 0, n = 0; i < VSP_IC_KVP_MAX_ITEMS; i++) {
		const struct kvp_item *it = &ic->kvp->guest[i];

		if (!it->used || n++ != index)
			continue;
		rc = strlen(it->key) < kcap && strlen(it->value) < vcap ? 0 : -ERANGE;
		snprintf(key, kcap, "%s", rc ? "" : it->key);
		snprintf(value, vcap, "%s", rc ? "" : it->value);
		break;
	}
	ic_unlock(ic);
	return rc;
}

void ic_kvp_stats(struct vsp_ic *ic, struct vsp_ic_stats *out)
{
	struct ic_kvp *k = ic->kvp;

	for (unsigned i = 0; i < VSP_IC_KVP_MAX_ITEMS; i++) {
		out->kvp_host_pending += k->host[i].used && k->host[i].pending;
		out->kvp_guest_items += k->guest[i].used;
	}
	out->kvp_enumerations = k->enumerations;
}

/* ---- transactions (I/O thread) ----------------------------------------------------------------------------------- */

static void kvp_timer(void *opaque);

/* Arm the channel timer for the nearest deadline: the transaction's timeout, or the next enumeration. */
static void kvp_arm(struct ic_chan *c)
{
	struct ic_kvp *k = c->ic->kvp;
	uint64_t due, now = ic_now_ns();

	if (k->txn != KVP_TXN_NONE)
		due = k->txn_deadline_ns;
	else if (!k->enum_due)
		due = k->enum_next_ns;
	else
		return; /* waiting for ring space: notify (writable) resumes */
	vmbus_timer_arm(c->ic->cfg.srv, &c->timer, due > now ? (due - now + 999999u) / 1000000u : 0, kvp_timer, c);
}

static int kvp_send_set(struct ic_chan *c, const struct kvp_item *it)
{
	struct ic_kvp *k = c->ic->kvp;
	struct hv_kvp_hdr hdr = { .operation = KVP_OP_SET, .pool = KVP_POOL_EXTERNAL };
	struct hv_kvp_exchg_msg_value *v;
	int kn, vn;

	memset(k->msg, 0, sizeof(k->msg));
	memcpy(k->msg, &hdr, sizeof(hdr));
	v = (struct hv_kvp_exchg_msg_value *)(k->msg + sizeof(hdr));
	kn = ic_utf8_to_utf16le(it->key, v->key, KVP_KEY_UNITS);
	vn = ic_utf8_to_utf16le(it->value, v->value, KVP_VALUE_UNITS);
	if (kn <= 0 || vn < 0)
		return -EINVAL; /* validated in ic_kvp_host_set */
	v->value_type = REG_SZ;
	v->key_size = 2u * (uint32_t)(kn + 1);
	v->value_size = 2u * (uint32_t)(vn + 1);
	return ic_chan_send(c, k->msg, HV_KVP_SET_BODY_BYTES, &k->txn_tid);
}

static int kvp_send_enum(struct ic_chan *c, uint32_t index)
{
	struct ic_kvp *k = c->ic->kvp;
	struct hv_kvp_hdr hdr = { .operation = KVP_OP_ENUMERATE, .pool = KVP_POOL_AUTO };

	memset(k->msg, 0, sizeof(k->msg));
	memcpy(k->msg, &hdr, sizeof(hdr));
	memcpy(k->msg + sizeof(hdr), &index, sizeof(index));
	return ic_chan_send(c, k->msg, HV_KVP_ENUM_BODY_BYTES, &k->txn_tid);
}

/* Start the next transaction if the channel is ready and idle: host items first, then the enumeration. */
static void kvp_pump(struct ic_chan *c)
{
	struct vsp_ic *ic = c->ic;
	struct ic_kvp *k = ic->kvp;
	int found = -1, rc;

	if (!ic_chan_ready(c))
		return;
	if (k->txn == KVP_TXN_NONE) {
		ic_lock(ic);
		for (unsigned i = 0; i < VSP_IC_KVP_MAX_ITEMS; i++) {
			if (k->host[i].used && k->host[i].pending) {
				found = (int)i;
				k->scratch = k->host[i];
				break;
			}
		}
		ic_unlock(ic);
		if (found >= 0) {
			rc = kvp_send_set(c, &k->scratch);
			if (!rc) {
				k->txn = KVP_TXN_SET;
				k->txn_item = (unsigned)found;
				k->txn_gen = k->scratch.gen;
			}
		} else if (k->enum_due) {
			rc = kvp_send_enum(c, k->enum_index);
			if (!rc) {
				k->txn = KVP_TXN_ENUM;
				k->txn_index = k->enum_index;
			}
		} else {
			rc = 0;
		}
		if (rc == -EAGAIN) {
			log_dbg("kvp: ring full, waiting for the guest");
			return;
		}
		if (rc)
			log_warn("kvp: request not sent: %s", strerror(-rc));
		if (k->txn != KVP_TXN_NONE)
			k->txn_deadline_ns = ic_now_ns() + (uint64_t)ic->cfg.kvp_timeout_ms * 1000000u;
	}
	kvp_arm(c);
}

/* An enumeration pass ends: @complete (HV_S_CONT seen) forgets the guest items the pass did not report. */
static void kvp_enum_end(struct ic_chan *c, bool complete)
{
	struct vsp_ic *ic = c->ic;
	struct ic_kvp *k = ic->kvp;

	if (complete) {
		ic_lock(ic);
		for (unsigned i = 0; i < VSP_IC_KVP_MAX_ITEMS; i++)
			if (k->guest[i].used && k->guest[i].pass != k->enum_pass)
				k->guest[i].used = false;
		k->enumerations++;
		ic_unlock(ic);
		log_dbg("kvp: enumeration pass %" PRIu64 " done, %u items", k->enum_pass, k->enum_index);
	}
	k->enum_due = false;
	k->enum_next_ns = ic_now_ns() + (uint64_t)VSP_IC_KVP_REFRESH_MS * 1000000u;
}

static void kvp_timer(void *opaque)
{
	struct ic_chan *c = opaque;
	struct ic_kvp *k = c->ic->kvp;
	uint64_t now = ic_now_ns();

	if (!ic_chan_ready(c))
		return;
	if (k->txn != KVP_TXN_NONE && now >= k->txn_deadline_ns) {
		ic_lock(c->ic);
		c->timeouts++;
		ic_unlock(c->ic);
		log_guest("kvp: %s transaction timed out after %u ms", k->txn == KVP_TXN_SET ? "SET" : "ENUMERATE",
			  c->ic->cfg.kvp_timeout_ms);
		ic_chan_abandon(c);
		if (k->txn == KVP_TXN_ENUM)
			kvp_enum_end(c, false);
		k->txn = KVP_TXN_NONE; /* a SET stays pending: retried now */
	}
	if (k->txn == KVP_TXN_NONE && !k->enum_due && now >= k->enum_next_ns) {
		k->enum_due = true;
		k->enum_index = 0;
		k->enum_pass++;
	}
	kvp_pump(c);
}

/* Store one enumerated item (answer already copied and its sizes checked). */
static void kvp_store_guest(struct ic_chan *c, const struct hv_kvp_exchg_msg_value *v)
{
	struct vsp_ic *ic = c->ic;
	struct ic_kvp *k = ic->kvp;
	struct kvp_item *it;
	char key[KVP_KEY_UTF8];
	char value[KVP_VALUE_UTF8];

	if (ic_utf16le_to_utf8(v->key, v->key_size / 2, key, sizeof(key)) == 0)
		return; /* no key: nothing to keep */
	switch (v->value_type) {
	case REG_SZ:
		ic_utf16le_to_utf8(v->value, v->value_size / 2, value, sizeof(value));
		break;
	case REG_U32:
		snprintf(value, sizeof(value), "%" PRIu32, v->value_u32);
		break;
	default: /* REG_U64, checked by the caller */
		snprintf(value, sizeof(value), "%" PRIu64, v->value_u64);
		break;
	}
	ic_lock(ic);
	it = kvp_find(k->guest, key);
	if (!it) {
		it = kvp_free_slot(k->guest);
		/* A full table: reuse an item the current pass has not reported (yet); the pass's end would forget it
		 * anyway, and otherwise a new set of items could never replace an old full one. */
		for (unsigned i = 0; !it && i < VSP_IC_KVP_MAX_ITEMS; i++)
			if (k->guest[i].pass != k->enum_pass)
				it = &k->guest[i];
		if (it) {
			memset(it, 0, sizeof(*it));
			it->used = true;
			memcpy(it->key, key, sizeof(key));
		}
	}
	if (it) {
		memcpy(it->value, value, sizeof(value));
		it->pass = k->enum_pass;
	}
	ic_unlock(ic);
	if (!it)
		log_dbg("kvp: guest table full, '%s' not kept", key);
}

static bool kvp_reply(struct ic_chan *c, const struct ic_reply *r)
{
	struct vsp_ic *ic = c->ic;
	struct ic_kvp *k = ic->kvp;
	struct hv_kvp_hdr hdr;

	if (k->txn == KVP_TXN_NONE || r->trans_id != k->txn_tid)
		return ic_chan_drop(c, r->trans_id, "no KVP transaction with this trans_id");
	if (r->body_len < sizeof(hdr))
		return ic_chan_drop(c, r->trans_id, "KVP body of %u bytes", r->body_len);
	memcpy(&hdr, r->body, sizeof(hdr));
	if (k->txn == KVP_TXN_SET) {
		if (hdr.operation != KVP_OP_SET || hdr.pool != KVP_POOL_EXTERNAL)
			return ic_chan_drop(c, r->trans_id, "SET answered as operation %u pool %u", hdr.operation,
					    hdr.pool);
		ic_lock(ic);
		if (k->host[k->txn_item].used && k->host[k->txn_item].gen == k->txn_gen)
			k->host[k->txn_item].pending = false;
		ic_unlock(ic);
		if (r->status != HV_S_OK)
			log_guest("kvp: the guest refused host item '%s': 0x%08" PRIx32 " (not retried)",
				  k->scratch.key, r->status);
		else
			log_dbg("kvp: host item '%s' set", k->scratch.key);
	} else {
		struct hv_kvp_msg_enumerate e;

		if (hdr.operation != KVP_OP_ENUMERATE || hdr.pool != KVP_POOL_AUTO)
			return ic_chan_drop(c, r->trans_id, "ENUMERATE answered as operation %u pool %u",
					    hdr.operation, hdr.pool);
		if (r->status == HV_S_OK) {
			if (r->body_len < HV_KVP_ENUM_BODY_BYTES)
				return ic_chan_drop(c, r->trans_id, "ENUMERATE answer of %u bytes", r->body_len);
			memcpy(&e, r->body + sizeof(hdr), sizeof(e));
			if (e.index != k->txn_index)
				return ic_chan_drop(c, r->trans_id, "ENUMERATE answer for index %u, asked %u", e.index,
						    k->txn_index);
			if (e.data.key_size > HV_KVP_EXCHANGE_MAX_KEY_SIZE ||
			    e.data.value_size > HV_KVP_EXCHANGE_MAX_VALUE_SIZE ||
			    (e.data.value_type != REG_SZ && e.data.value_type != REG_U32 &&
			     e.data.value_type != REG_U64))
				return ic_chan_drop(c, r->trans_id, "ENUMERATE item: type %u, key %u, value %u bytes",
						    e.data.value_type, e.data.key_size, e.data.value_size);
			kvp_store_guest(c, &e.data);
			k->enum_index++;
			if (k->enum_index >= KVP_MAX_ENUM_INDEX) {
				log_guest("kvp: the guest reports more than %u items; pass ended", KVP_MAX_ENUM_INDEX);
				kvp_enum_end(c, false);
			}
		} else {
			kvp_enum_end(c, r->status == HV_S_CONT);
			if (r->status != HV_S_CONT)
				log_dbg("kvp: enumeration ended with 0x%08" PRIx32, r->status);
		}
	}
	k->txn = KVP_TXN_NONE;
	kvp_pump(c);
	return true;
}

static void kvp_ready(struct ic_chan *c)
{
	struct ic_kvp *k = c->ic->kvp;

	k->txn = KVP_TXN_NONE;
	k->enum_due = true;
	k->enum_index = 0;
	k->enum_pass++;
	kvp_pump(c);
}

static void kvp_closed(struct ic_chan *c)
{
	struct vsp_ic *ic = c->ic;
	struct ic_kvp *k = ic->kvp;

	k->txn = KVP_TXN_NONE;
	ic_lock(ic);
	for (unsigned i = 0; i < VSP_IC_KVP_MAX_ITEMS; i++)
		if (k->host[i].used)
			k->host[i].pending = true; /* a new guest driver instance gets them all again */
	ic_unlock(ic);
}

static void kvp_writable(struct ic_chan *c)
{
	kvp_pump(c);
}

void ic_kvp_kick(struct vsp_ic *ic)
{
	if (ic->kvp)
		kvp_pump(&ic->chan[VSP_IC_KVP]);
}

int ic_kvp_create(struct vsp_ic *ic)
{
	ic->kvp = calloc(1, sizeof(*ic->kvp));
	return ic->kvp ? 0 : -ENOMEM;
}

void ic_kvp_destroy(struct vsp_ic *ic)
{
	free(ic->kvp);
	ic->kvp = NULL;
}

const struct ic_service_ops ic_kvp_ops = {
	.name = VSP_IC_KVP_NAME,
	.class_id = HV_KVP_GUID,
	.instance_id = VSP_IC_KVP_INSTANCE,
	.msgtype = ICMSGTYPE_KVPEXCHANGE,
	.max_packet_bytes = 16384,
	.rx_bytes = 16384,
	.tx_body_bytes = HV_KVP_ENUM_BODY_BYTES,
	.ready = kvp_ready,
	.reply = kvp_reply,
	.closed = kvp_closed,
	.writable = kvp_writable,
};
