// SPDX-License-Identifier: MIT
#define LOG_TAG "boot-bzimage"
#define ZLIB_CONST
#include "boot/bzimage.h"

#include <errno.h>
#include <inttypes.h>
#include <lz4.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "lib/log.h"

/* Bytes of setup header up to and including init_size: what protocol 2.10+ guarantees. */
#define BZ_HDR_MIN_LEN (__builtin_offsetof(struct setup_header, handover_offset))

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

bool boot_bzimage_is_bzimage(const uint8_t *img, size_t len)
{
	return img && len >= 0x206 && img[0x1fe] == (BOOT_FLAG_MAGIC & 0xff) && img[0x1ff] == (BOOT_FLAG_MAGIC >> 8) &&
	       get_le32(img + 0x202) == BOOT_HDR_MAGIC;
}

int boot_bzimage_parse(const uint8_t *img, size_t len, struct boot_bzimage *bz)
{
	size_t hdr_end, setup_sects;
	uint64_t poff, plen;

	memset(bz, 0, sizeof(*bz));
	if (!boot_bzimage_is_bzimage(img, len)) {
		log_err("bzImage: no setup header (boot flag / \"HdrS\" magic missing)");
		return -ENOEXEC;
	}
	/* The header ends at 0x202 + the displacement of the short jump at 0x200 (boot.rst). */
	hdr_end = 0x202 + (size_t)img[0x201];
	if (hdr_end > len || hdr_end - BOOT_SETUP_HEADER_OFFSET < BZ_HDR_MIN_LEN) {
		log_err("bzImage: setup header of %zu bytes is truncated or too short",
			hdr_end - BOOT_SETUP_HEADER_OFFSET);
		return -ENOEXEC;
	}
	bz->hdr_len = hdr_end - BOOT_SETUP_HEADER_OFFSET;
	if (bz->hdr_len > sizeof(bz->hdr))
		bz->hdr_len = sizeof(bz->hdr);
	memcpy(&bz->hdr, img + BOOT_SETUP_HEADER_OFFSET, bz->hdr_len);

	if (bz->hdr.version < BOOT_BZIMAGE_MIN_VERSION) {
		log_err("bzImage: boot protocol %u.%02u is older than 2.12", bz->hdr.version >> 8,
			bz->hdr.version & 0xff);
		return -ENOEXEC;
	}
	setup_sects = bz->hdr.setup_sects ? bz->hdr.setup_sects : BOOT_SETUP_SECTS_DEFAULT;
	bz->pm_offset = (setup_sects + 1) * BOOT_SETUP_SECTOR_SIZE;
	if (bz->pm_offset < hdr_end || bz->pm_offset >= len) {
		log_err("bzImage: protected-mode code offset %#zx outside the %zu-byte file", bz->pm_offset, len);
		return -ENOEXEC;
	}
	bz->pm_size = len - bz->pm_offset;

	poff = bz->hdr.payload_offset;
	plen = bz->hdr.payload_length;
	if (plen < 8 || poff > bz->pm_size || plen > bz->pm_size - poff) {
		log_err("bzImage: payload [%#" PRIx64 " +%#" PRIx64 ") outside the %zu-byte protected-mode part", poff,
			plen, bz->pm_size);
		return -ENOEXEC;
	}
	bz->payload_offset = bz->pm_offset + (size_t)poff;
	bz->payload_size = (size_t)plen;
	bz->format = boot_payload_format_detect(img + bz->payload_offset, bz->payload_size);
	return 0;
}

enum boot_payload_format boot_payload_format_detect(const uint8_t *d, size_t len)
{
	static const uint8_t xz[] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };
	static const uint8_t zstd[] = { 0x28, 0xb5, 0x2f, 0xfd };

	if (len >= 2 && d[0] == 0x1f && d[1] == 0x8b)
		return BOOT_PAYLOAD_GZIP;
	if (len >= sizeof(xz) && memcmp(d, xz, sizeof(xz)) == 0)
		return BOOT_PAYLOAD_XZ;
	if (len >= 4 && get_le32(d) == BOOT_LZ4_LEGACY_MAGIC)
		return BOOT_PAYLOAD_LZ4;
	if (len >= sizeof(zstd) && memcmp(d, zstd, sizeof(zstd)) == 0)
		return BOOT_PAYLOAD_ZSTD;
	return BOOT_PAYLOAD_UNKNOWN;
}

const char *boot_payload_format_name(enum boot_payload_format fmt)
{
	switch (fmt) {
	case BOOT_PAYLOAD_GZIP:
		return "gzip";
	case BOOT_PAYLOAD_XZ:
		return "xz";
	case BOOT_PAYLOAD_LZ4:
		return "lz4";
	case BOOT_PAYLOAD_ZSTD:
		return "zstd";
	case BOOT_PAYLOAD_UNKNOWN:
		break;
	}
	return "unknown";
}

/* The decompressors: each fills exactly @olen bytes of @out from @in (@ilen bytes) or fails with -ENOEXEC. */

static int decompress_gzip(const uint8_t *in, size_t ilen, uint8_t *out, size_t olen)
{
	z_stream z;
	int r;

	memset(&z, 0, sizeof(z));
	if (ilen > UINT32_MAX || olen > UINT32_MAX)
		return -ENOEXEC;
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) /* gzip wrapper only; header CRC and ISIZE checked */
		return -ENOMEM;
	z.next_in = in;
	z.avail_in = (uInt)ilen;
	z.next_out = out;
	z.avail_out = (uInt)olen;
	do
		r = inflate(&z, Z_FINISH);
	while (r == Z_OK);
	inflateEnd(&z);
	if (r != Z_STREAM_END || z.total_out != olen) {
		log_err("gzip payload: %s after %lu of %zu bytes", z.msg ? z.msg : zError(r), z.total_out, olen);
		return -ENOEXEC;
	}
	return 0;
}

static int decompress_xz(const uint8_t *in, size_t ilen, uint8_t *out, size_t olen)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r;

	/* One .xz stream (the kernel's: CRC32 check, x86 BCJ + LZMA2); what follows it is ignored. */
	r = lzma_stream_decoder(&s, BOOT_DECOMPRESSED_MAX, 0);
	if (r != LZMA_OK)
		return -ENOMEM;
	s.next_in = in;
	s.avail_in = ilen;
	s.next_out = out;
	s.avail_out = olen;
	do
		r = lzma_code(&s, LZMA_FINISH);
	while (r == LZMA_OK);
	if (r != LZMA_STREAM_END || s.total_out != olen) {
		log_err("xz payload: error %d after %" PRIu64 " of %zu bytes", (int)r, (uint64_t)s.total_out, olen);
		lzma_end(&s);
		return -ENOEXEC;
	}
	lzma_end(&s);
	return 0;
}

static int decompress_zstd(const uint8_t *in, size_t ilen, uint8_t *out, size_t olen)
{
	ZSTD_DCtx *dctx;
	size_t r;

	dctx = ZSTD_createDCtx();
	if (!dctx)
		return -ENOMEM;
	/* The kernel compresses with --ultra -22 (large window); the output buffer bounds memory anyway. */
	ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 31); /* ZSTD_WINDOWLOG_MAX_64 */
	r = ZSTD_decompressDCtx(dctx, out, olen, in, ilen);
	ZSTD_freeDCtx(dctx);
	if (ZSTD_isError(r) || r != olen) {
		log_err("zstd payload: %s (%zu of %zu bytes)", ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short output",
			ZSTD_isError(r) ? (size_t)0 : r, olen);
		return -ENOEXEC;
	}
	return 0;
}

/*
 * LZ4 legacy frame (lz4 -l, as the kernel's Makefile.lib builds it; lib/decompress_unlz4.c reads it): the magic,
 * then blocks, each a 32-bit little-endian compressed size and that many bytes decompressing to at most 8 MiB. A
 * repeated magic starts a concatenated frame; a zero size ends the stream.
 */
static int decompress_lz4(const uint8_t *in, size_t ilen, uint8_t *out, size_t olen)
{
	const size_t max_block = (size_t)LZ4_compressBound(BOOT_LZ4_LEGACY_BLOCK);
	size_t pos = 4, opos = 0;

	while (pos < ilen) {
		uint32_t bsz;
		size_t cap;
		int n;

		if (ilen - pos < 4)
			goto bad;
		bsz = get_le32(in + pos);
		pos += 4;
		if (bsz == BOOT_LZ4_LEGACY_MAGIC)
			continue;
		if (bsz == 0) /* end of stream, as lib/decompress_unlz4.c accepts it */
			break;
		if (bsz > max_block || bsz > ilen - pos)
			goto bad;
		cap = olen - opos;
		if (cap > BOOT_LZ4_LEGACY_BLOCK)
			cap = BOOT_LZ4_LEGACY_BLOCK;
		if (cap == 0)
			goto bad;
		n = LZ4_decompress_safe((const char *)in + pos, (char *)out + opos, (int)bsz, (int)cap);
		if (n <= 0)
			goto bad;
		opos += (size_t)n;
		pos += bsz;
	}
	if (opos == olen)
		return 0;
bad:
	log_err("lz4 payload: corrupt block at offset %zu (%zu of %zu bytes out)", pos, opos, olen);
	return -ENOEXEC;
}

int boot_payload_decompress(enum boot_payload_format fmt, const uint8_t *data, size_t len, uint8_t **out,
			    size_t *out_len)
{
	uint8_t *buf;
	size_t olen, ilen;
	int ret;

	*out = NULL;
	*out_len = 0;
	if (fmt == BOOT_PAYLOAD_UNKNOWN)
		return -EOPNOTSUPP;
	if (len < 8)
		return -ENOEXEC;
	/* The last 4 bytes: decompressed size (size_append in the kernel build; gzip's own ISIZE trailer). */
	olen = get_le32(data + len - 4);
	if (olen > BOOT_DECOMPRESSED_MAX) {
		log_err("%s payload claims %zu bytes decompressed, more than the %llu MiB limit",
			boot_payload_format_name(fmt), olen, BOOT_DECOMPRESSED_MAX >> 20);
		return -EFBIG;
	}
	if (olen < 64) {
		log_err("%s payload claims only %zu bytes decompressed", boot_payload_format_name(fmt), olen);
		return -ENOEXEC;
	}
	buf = malloc(olen);
	if (!buf)
		return -ENOMEM;
	ilen = fmt == BOOT_PAYLOAD_GZIP ? len : len - 4; /* gzip: the size is part of the stream */
	switch (fmt) {
	case BOOT_PAYLOAD_GZIP:
		ret = decompress_gzip(data, ilen, buf, olen);
		break;
	case BOOT_PAYLOAD_XZ:
		ret = decompress_xz(data, ilen, buf, olen);
		break;
	case BOOT_PAYLOAD_LZ4:
		ret = decompress_lz4(data, ilen, buf, olen);
		break;
	case BOOT_PAYLOAD_ZSTD:
		ret = decompress_zstd(data, ilen, buf, olen);
		break;
	default:
		ret = -EOPNOTSUPP;
		break;
	}
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	*out_len = olen;
	return 0;
}

int boot_bzimage_extract(const uint8_t *img, size_t len, const struct boot_bzimage *bz, uint8_t **out,
			 size_t *out_len)
{
	if (bz->payload_offset > len || bz->payload_size > len - bz->payload_offset)
		return -EINVAL;
	return boot_payload_decompress(bz->format, img + bz->payload_offset, bz->payload_size, out, out_len);
}
