/* SPDX-License-Identifier: MIT */
/*
 * boot/aml.c - AML writer: encodings of ACPI 6.5 chapter 20 (names, integers, PkgLength, named objects) and the
 * resource descriptors of chapter 6.4. See aml.h for the contract.
 */
#include "boot/aml.h"

#include <errno.h>
#include <string.h>

#include <openhv/acpi.h>

/* ---- writer core ---------------------------------------------------------------------------------------------- */

void aml_writer_init(struct aml_writer *w, void *buf, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = buf ? cap : 0;
}

static int aml_fail(struct aml_writer *w, int err)
{
	if (!w->err)
		w->err = err;
	return w->err;
}

int aml_writer_finish(struct aml_writer *w, size_t *len)
{
	if (w->err)
		return w->err;
	if (w->depth)
		return aml_fail(w, -EINVAL);
	if (len)
		*len = w->len;
	return 0;
}

int aml_raw(struct aml_writer *w, const void *data, size_t len)
{
	if (w->err)
		return w->err;
	if (len > w->cap - w->len)
		return aml_fail(w, -ENOSPC);
	if (len)
		memcpy(w->buf + w->len, data, len);
	w->len += len;
	return 0;
}

static int aml_byte(struct aml_writer *w, uint8_t b)
{
	return aml_raw(w, &b, 1);
}

static int aml_le(struct aml_writer *w, uint64_t v, unsigned bytes)
{
	uint8_t b[8];

	for (unsigned i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return aml_raw(w, b, bytes);
}

/* ---- PkgLength ------------------------------------------------------------------------------------------------ */

int aml_pkglength_encode(uint32_t value, uint8_t out[4])
{
	int n;

	if (value > AML_PKGLENGTH_MAX)
		return -EINVAL;
	if (value <= 0x3f) {
		out[0] = (uint8_t)value;
		return 1;
	}
	if (value <= 0xfff)
		n = 2;
	else if (value <= 0xfffff)
		n = 3;
	else
		n = 4;
	/* byte 0: bits 7:6 = following byte count, bits 3:0 = low nibble; then 8 bits a byte */
	out[0] = (uint8_t)(((unsigned)(n - 1) << 6) | (value & 0xf));
	for (int i = 1; i < n; i++)
		out[i] = (uint8_t)(value >> (4 + 8 * (i - 1)));
	return n;
}

int aml_pkglength_size(size_t body_len)
{
	static const size_t max[4] = { 0x3f, 0xfff, 0xfffff, 0xfffffff };

	for (int n = 1; n <= 4; n++)
		if (body_len <= max[n - 1] - (size_t)n)
			return n;
	return -ENOSPC;
}

static int aml_open(struct aml_writer *w, enum aml_open_kind kind)
{
	if (w->err)
		return w->err;
	if (w->depth >= AML_MAX_DEPTH)
		return aml_fail(w, -EINVAL);
	w->open_at[w->depth] = w->len;
	w->open_kind[w->depth] = kind;
	w->depth++;
	return 0;
}

/* Close the innermost open object, which must be of @kind: insert its PkgLength in front of its body. */
static int aml_close(struct aml_writer *w, enum aml_open_kind kind)
{
	uint8_t enc[4];
	size_t at, body;
	int n;

	if (w->err)
		return w->err;
	if (!w->depth || w->open_kind[w->depth - 1] != kind)
		return aml_fail(w, -EINVAL);
	at = w->open_at[w->depth - 1];
	body = w->len - at;
	n = aml_pkglength_size(body);
	if (n < 0)
		return aml_fail(w, n);
	if ((size_t)n > w->cap - w->len)
		return aml_fail(w, -ENOSPC);
	if (aml_pkglength_encode((uint32_t)(body + (size_t)n), enc) != n)
		return aml_fail(w, -EINVAL); /* cannot happen: size and encode agree */
	memmove(w->buf + at + n, w->buf + at, body);
	memcpy(w->buf + at, enc, (size_t)n);
	w->len += (size_t)n;
	w->depth--;
	return 0;
}

int aml_pkg_begin(struct aml_writer *w)
{
	return aml_open(w, AML_OPEN_PKG);
}

int aml_pkg_end(struct aml_writer *w)
{
	return aml_close(w, AML_OPEN_PKG);
}

/* ---- names ---------------------------------------------------------------------------------------------------- */

static bool aml_name_lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool aml_name_char(char c)
{
	return aml_name_lead_char(c) || (c >= '0' && c <= '9');
}

int aml_name_string(struct aml_writer *w, const char *path)
{
	uint8_t segs[255][4];
	unsigned nsegs = 0;
	const char *p = path;

	if (w->err)
		return w->err;
	if (!path)
		return aml_fail(w, -EINVAL);

	/* prefix: one root char, or any number of parent chars */
	if (*p == '\\') {
		if (aml_byte(w, AML_ROOT_CHAR))
			return w->err;
		p++;
	} else {
		while (*p == '^') {
			if (aml_byte(w, AML_PARENT_PREFIX_CHAR))
				return w->err;
			p++;
		}
	}

	if (!*p) {
		/* "\" alone (or "^"): the prefix followed by NullName; a bare "" is not a name */
		if (p == path)
			return aml_fail(w, -EINVAL);
		return aml_byte(w, AML_NULL_NAME);
	}

	for (;;) {
		unsigned n = 0;

		if (nsegs == 255)
			return aml_fail(w, -EINVAL);
		if (!aml_name_lead_char(*p))
			return aml_fail(w, -EINVAL);
		while (*p && *p != '.') {
			if (n == 4 || !aml_name_char(*p))
				return aml_fail(w, -EINVAL);
			segs[nsegs][n++] = (uint8_t)*p++;
		}
		while (n < 4)
			segs[nsegs][n++] = '_';
		nsegs++;
		if (!*p)
			break;
		p++; /* '.' must be followed by another segment */
		if (!*p)
			return aml_fail(w, -EINVAL);
	}

	if (nsegs == 2) {
		if (aml_byte(w, AML_DUAL_NAME_PREFIX))
			return w->err;
	} else if (nsegs > 2) {
		if (aml_byte(w, AML_MULTI_NAME_PREFIX) || aml_byte(w, (uint8_t)nsegs))
			return w->err;
	}
	return aml_raw(w, segs, (size_t)nsegs * 4);
}

/* ---- data objects ---------------------------------------------------------------------------------------------- */

int aml_integer(struct aml_writer *w, uint64_t value)
{
	if (value == 0)
		return aml_byte(w, AML_ZERO_OP);
	if (value == 1)
		return aml_byte(w, AML_ONE_OP);
	if (value <= 0xff)
		return aml_byte(w, AML_BYTE_PREFIX) ?: aml_le(w, value, 1);
	if (value <= 0xffff)
		return aml_byte(w, AML_WORD_PREFIX) ?: aml_le(w, value, 2);
	if (value <= 0xffffffffull)
		return aml_byte(w, AML_DWORD_PREFIX) ?: aml_le(w, value, 4);
	return aml_byte(w, AML_QWORD_PREFIX) ?: aml_le(w, value, 8);
}

int aml_string(struct aml_writer *w, const char *s)
{
	if (w->err)
		return w->err;
	if (!s)
		return aml_fail(w, -EINVAL);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p > 0x7f)
			return aml_fail(w, -EINVAL);
	return aml_byte(w, AML_STRING_PREFIX) ?: aml_raw(w, s, strlen(s) + 1);
}

static int aml_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int aml_eisaid_encode(const char *id, uint32_t *out)
{
	unsigned l[3];
	int h[4];

	if (!id || strlen(id) != 7)
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return -EINVAL;
		l[i] = (unsigned)(id[i] - 'A' + 1); /* 5-bit "compressed ASCII": A = 1 */
	}
	for (int i = 0; i < 4; i++) {
		h[i] = aml_hex_digit(id[3 + i]);
		if (h[i] < 0)
			return -EINVAL;
	}
	/* bytes in memory order: [l0:5 l1 high 2][l1 low 3, l2:5][h0 h1][h2 h3] */
	*out = (uint32_t)((l[0] << 2) | (l[1] >> 3)) | (uint32_t)(((l[1] & 7) << 5) | l[2]) << 8 |
	       (uint32_t)((h[0] << 4) | h[1]) << 16 | (uint32_t)((h[2] << 4) | h[3]) << 24;
	return 0;
}

int aml_eisaid(struct aml_writer *w, const char *id)
{
	uint32_t v;

	if (w->err)
		return w->err;
	if (aml_eisaid_encode(id, &v))
		return aml_fail(w, -EINVAL);
	return aml_byte(w, AML_DWORD_PREFIX) ?: aml_le(w, v, 4);
}

/* BufferOp PkgLength BufferSize ByteList, with the bytes coming from up to two pieces */
static int aml_buffer2(struct aml_writer *w, const void *a, size_t alen, const void *b, size_t blen)
{
	if (w->err)
		return w->err;
	if (aml_byte(w, AML_BUFFER_OP) || aml_open(w, AML_OPEN_PKG) || aml_integer(w, (uint64_t)alen + blen) ||
	    aml_raw(w, a, alen) || aml_raw(w, b, blen))
		return w->err;
	return aml_close(w, AML_OPEN_PKG);
}

int aml_buffer(struct aml_writer *w, const void *data, size_t len)
{
	if (w->err)
		return w->err;
	if (!data && len)
		return aml_fail(w, -EINVAL);
	return aml_buffer2(w, data, len, NULL, 0);
}

int aml_package_begin(struct aml_writer *w, unsigned count)
{
	if (w->err)
		return w->err;
	if (count > 255)
		return aml_fail(w, -EINVAL);
	return aml_byte(w, AML_PACKAGE_OP) ?: aml_open(w, AML_OPEN_PACKAGE) ?: aml_byte(w, (uint8_t)count);
}

int aml_package_end(struct aml_writer *w)
{
	return aml_close(w, AML_OPEN_PACKAGE);
}

/* ---- named objects ------------------------------------------------------------------------------------------- */

int aml_name(struct aml_writer *w, const char *name)
{
	return aml_byte(w, AML_NAME_OP) ?: aml_name_string(w, name);
}

int aml_name_integer(struct aml_writer *w, const char *name, uint64_t value)
{
	return aml_name(w, name) ?: aml_integer(w, value);
}

int aml_name_str(struct aml_writer *w, const char *name, const char *s)
{
	return aml_name(w, name) ?: aml_string(w, s);
}

int aml_name_eisaid(struct aml_writer *w, const char *name, const char *id)
{
	return aml_name(w, name) ?: aml_eisaid(w, id);
}

int aml_scope_begin(struct aml_writer *w, const char *path)
{
	return aml_byte(w, AML_SCOPE_OP) ?: aml_open(w, AML_OPEN_SCOPE) ?: aml_name_string(w, path);
}

int aml_scope_end(struct aml_writer *w)
{
	return aml_close(w, AML_OPEN_SCOPE);
}

int aml_device_begin(struct aml_writer *w, const char *name)
{
	if (aml_byte(w, AML_EXT_OP_PREFIX) || aml_byte(w, AML_EXT_DEVICE_OP))
		return w->err;
	return aml_open(w, AML_OPEN_DEVICE) ?: aml_name_string(w, name);
}

int aml_device_end(struct aml_writer *w)
{
	return aml_close(w, AML_OPEN_DEVICE);
}

int aml_method_begin(struct aml_writer *w, const char *name, unsigned nargs, bool serialized)
{
	if (w->err)
		return w->err;
	if (nargs > 7)
		return aml_fail(w, -EINVAL);
	return aml_byte(w, AML_METHOD_OP) ?: aml_open(w, AML_OPEN_METHOD) ?: aml_name_string(w, name)
		?: aml_byte(w, (uint8_t)(nargs | (serialized ? AML_METHOD_SERIALIZED : 0)));
}

int aml_method_end(struct aml_writer *w)
{
	return aml_close(w, AML_OPEN_METHOD);
}

int aml_return(struct aml_writer *w)
{
	return aml_byte(w, AML_RETURN_OP);
}

int aml_method_return_integer(struct aml_writer *w, const char *name, uint64_t value)
{
	return aml_method_begin(w, name, 0, false) ?: aml_return(w) ?: aml_integer(w, value) ?: aml_method_end(w);
}

/* ---- resource templates ---------------------------------------------------------------------------------------- */

void aml_resources_init(struct aml_resources *r)
{
	memset(r, 0, sizeof(*r));
}

/* Append @len bytes; 2 bytes stay reserved for the EndTag. */
static int aml_res_put(struct aml_resources *r, const uint8_t *d, size_t len)
{
	if (r->err)
		return r->err;
	if (len > AML_RESOURCES_MAX - 2 - r->len) {
		r->err = -ENOSPC;
		return r->err;
	}
	memcpy(r->data + r->len, d, len);
	r->len += len;
	return 0;
}

static int aml_res_fail(struct aml_resources *r, int err)
{
	if (!r->err)
		r->err = err;
	return r->err;
}

static void aml_put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int aml_res_io(struct aml_resources *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	uint8_t d[8] = { ACPI_RES_IO_TAG, ACPI_RES_IO_DECODE16 };

	if (min > max)
		return aml_res_fail(r, -EINVAL);
	aml_put_le(d + 2, min, 2);
	aml_put_le(d + 4, max, 2);
	d[6] = align;
	d[7] = len;
	return aml_res_put(r, d, sizeof(d));
}

int aml_res_irq(struct aml_resources *r, unsigned irq)
{
	uint8_t d[3] = { ACPI_RES_IRQ_NOFLAGS_TAG };

	if (irq > 15)
		return aml_res_fail(r, -EINVAL);
	aml_put_le(d + 1, 1u << irq, 2);
	return aml_res_put(r, d, sizeof(d));
}

int aml_res_irq_flags(struct aml_resources *r, unsigned irq, uint8_t info)
{
	uint8_t d[4] = { ACPI_RES_IRQ_TAG };

	if (irq > 15 || (info & ~(ACPI_RES_IRQ_EDGE | ACPI_RES_IRQ_ACTIVE_LOW | ACPI_RES_IRQ_SHARED)))
		return aml_res_fail(r, -EINVAL);
	aml_put_le(d + 1, 1u << irq, 2);
	d[3] = info;
	return aml_res_put(r, d, sizeof(d));
}

int aml_res_memory32_fixed(struct aml_resources *r, bool writable, uint32_t base, uint32_t len)
{
	uint8_t d[12] = { ACPI_RES_MEMORY32_FIXED_TAG, 9, 0 };

	d[3] = writable ? ACPI_RES_MEMORY_READ_WRITE : 0;
	aml_put_le(d + 4, base, 4);
	aml_put_le(d + 8, len, 4);
	return aml_res_put(r, d, sizeof(d));
}

/* General and type-specific flags of a fixed memory address space descriptor (6.4.3.5.1, 6.4.3.5.4). */
static void aml_res_memory_flags(uint8_t *d, bool consumer, enum aml_mem_cache cache, bool writable)
{
	d[0] = ACPI_RES_ADDRESS_MIN_FIXED | ACPI_RES_ADDRESS_MAX_FIXED | (consumer ? ACPI_RES_ADDRESS_CONSUMER : 0);
	d[1] = (uint8_t)(((unsigned)cache << ACPI_RES_MEM_CACHE_SHIFT) | (writable ? ACPI_RES_MEM_READ_WRITE : 0));
}

int aml_res_dword_memory(struct aml_resources *r, bool consumer, enum aml_mem_cache cache, bool writable,
			 uint32_t base, uint32_t len)
{
	uint8_t d[26] = { ACPI_RES_DWORD_ADDRESS_TAG, 23, 0, ACPI_RES_ADDRESS_SPACE_MEMORY };

	if (!len || base + (len - 1) < base || (unsigned)cache > AML_MEM_PREFETCHABLE)
		return aml_res_fail(r, -EINVAL);
	aml_res_memory_flags(d + 4, consumer, cache, writable);
	aml_put_le(d + 6, 0, 4);              /* _GRA */
	aml_put_le(d + 10, base, 4);          /* _MIN */
	aml_put_le(d + 14, base + len - 1, 4); /* _MAX */
	aml_put_le(d + 18, 0, 4);             /* _TRA */
	aml_put_le(d + 22, len, 4);           /* _LEN */
	return aml_res_put(r, d, sizeof(d));
}

int aml_res_qword_memory(struct aml_resources *r, bool consumer, enum aml_mem_cache cache, bool writable,
			 uint64_t base, uint64_t len)
{
	uint8_t d[46] = { ACPI_RES_QWORD_ADDRESS_TAG, 43, 0, ACPI_RES_ADDRESS_SPACE_MEMORY };

	if (!len || base + (len - 1) < base || (unsigned)cache > AML_MEM_PREFETCHABLE)
		return aml_res_fail(r, -EINVAL);
	aml_res_memory_flags(d + 4, consumer, cache, writable);
	aml_put_le(d + 6, 0, 8);              /* _GRA */
	aml_put_le(d + 14, base, 8);          /* _MIN */
	aml_put_le(d + 22, base + len - 1, 8); /* _MAX */
	aml_put_le(d + 30, 0, 8);             /* _TRA */
	aml_put_le(d + 38, len, 8);           /* _LEN */
	return aml_res_put(r, d, sizeof(d));
}

int aml_resource_template(struct aml_writer *w, struct aml_resources *r)
{
	uint8_t end[2] = { ACPI_RES_END_TAG, 0 };
	uint8_t sum = 0;

	if (w->err)
		return w->err;
	if (r->err)
		return aml_fail(w, r->err);
	for (size_t i = 0; i < r->len; i++)
		sum = (uint8_t)(sum + r->data[i]);
	sum = (uint8_t)(sum + end[0]);
	end[1] = (uint8_t)(0x100 - sum);
	return aml_buffer2(w, r->data, r->len, end, sizeof(end));
}
