/* SPDX-License-Identifier: MIT */
/*
 * boot/bzimage.h - parse a Linux/x86 bzImage and extract its compressed vmlinux host-side.
 *
 * A bzImage is real-mode setup code ((setup_sects + 1) * 512 bytes, with the setup header at 0x1f1) followed by
 * the protected-mode code: the kernel's decompressor plus the compressed "payload" (an ELF vmlinux, possibly
 * followed by relocation data). The payload is at payload_offset from the protected-mode code start and is
 * followed (inside payload_length) by the decompressed size as a 32-bit little-endian number (gzip: its ISIZE).
 * Follows Documentation/x86/boot.rst, arch/x86/boot/header.S, arch/x86/boot/compressed/{Makefile,mkpiggy.c},
 * lib/decompress_unlz4.c (the LZ4 legacy framing). The image is untrusted input.
 */
#ifndef OPENHV_BOOT_BZIMAGE_H
#define OPENHV_BOOT_BZIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openhv/bootparam.h"

#define BOOT_BZIMAGE_MIN_VERSION 0x020cu       /* 2.12: xloadflags, the 64-bit boot protocol (Linux 3.8) */
#define BOOT_DECOMPRESSED_MAX (1ull << 30)     /* refuse payloads that claim to expand beyond 1 GiB */
#define BOOT_LZ4_LEGACY_MAGIC 0x184c2102u
#define BOOT_LZ4_LEGACY_BLOCK (8u << 20)       /* decompressed bytes per legacy-frame block */

enum boot_payload_format {
	BOOT_PAYLOAD_UNKNOWN = 0, /* bzip2, lzma, lzo, or garbage: not extracted host-side */
	BOOT_PAYLOAD_GZIP,
	BOOT_PAYLOAD_XZ,
	BOOT_PAYLOAD_LZ4,         /* LZ4 legacy frame */
	BOOT_PAYLOAD_ZSTD,
};

/* A parsed bzImage. Offsets and sizes in bytes, relative to the start of the file. */
struct boot_bzimage {
	struct setup_header hdr;   /* the file's header, zero beyond the length the image declares */
	size_t hdr_len;            /* bytes of setup header the image declares (from 0x1f1, <= sizeof(hdr)) */
	size_t pm_offset;          /* protected-mode code: (setup_sects + 1) * 512 */
	size_t pm_size;            /* to the end of the file */
	size_t payload_offset;     /* compressed payload, inside the protected-mode code */
	size_t payload_size;       /* including the trailing 32-bit decompressed size */
	enum boot_payload_format format;
};

/* True if @img looks like a bzImage: boot_flag 0xaa55 at 0x1fe and "HdrS" at 0x202. */
bool boot_bzimage_is_bzimage(const uint8_t *img, size_t len);

/*
 * Parse and validate the setup header of @img (@len bytes, borrowed) into *@bz. Requires protocol version
 * >= BOOT_BZIMAGE_MIN_VERSION, a protected-mode part inside the file and a payload range inside it (checked
 * without overflow). 0, or -ENOEXEC for anything malformed or too old.
 */
int boot_bzimage_parse(const uint8_t *img, size_t len, struct boot_bzimage *bz);

/* Format of a compressed stream, by its magic bytes. */
enum boot_payload_format boot_payload_format_detect(const uint8_t *data, size_t len);
const char *boot_payload_format_name(enum boot_payload_format fmt);

/*
 * Decompress a kernel payload (@data, @len bytes including the trailing 32-bit decompressed size) of format
 * @fmt into a new malloc()ed buffer of exactly that size (*@out, *@out_len; the caller frees it).
 * Returns 0; -EOPNOTSUPP for BOOT_PAYLOAD_UNKNOWN; -ENOEXEC for a corrupt stream or a size mismatch; -EFBIG if
 * the declared size exceeds BOOT_DECOMPRESSED_MAX; -ENOMEM.
 */
int boot_payload_decompress(enum boot_payload_format fmt, const uint8_t *data, size_t len, uint8_t **out,
			    size_t *out_len);

/* boot_payload_decompress() of the payload of a parsed bzImage @bz of @img. */
int boot_bzimage_extract(const uint8_t *img, size_t len, const struct boot_bzimage *bz, uint8_t **out,
			 size_t *out_len);

#endif
