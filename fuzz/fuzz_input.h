/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_input.h - the fuzz targets' reader of their input: a cursor over the bytes libFuzzer (or fuzz_main.c)
 * hands to LLVMFuzzerTestOneInput, taken front to back as operands. Integers are little-endian; bytes past the end
 * of the input read as zero, so every input, however short, is a complete program. The seeds scripts pack operands
 * the same way (seedlib.py).
 *
 * Header-only (static inline): each target includes it and uses what it needs.
 */
#ifndef OPENHV_FUZZ_INPUT_H
#define OPENHV_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* What is left of one input: @left bytes from @p. Start with { data, size }; the input is used up when !left. */
struct fz_input {
	const uint8_t *p;
	size_t left;
};

/* Take a little-endian integer of @bytes bytes (at most 8); missing bytes read as zero. */
static inline uint64_t fz_input_take(struct fz_input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		if (in->left) {
			v |= (uint64_t)*in->p << (8 * i);
			in->p++;
			in->left--;
		}
	}
	return v;
}

static inline uint8_t fz_u8(struct fz_input *in)
{
	return (uint8_t)fz_input_take(in, 1);
}

static inline uint16_t fz_u16(struct fz_input *in)
{
	return (uint16_t)fz_input_take(in, 2);
}

static inline uint32_t fz_u32(struct fz_input *in)
{
	return (uint32_t)fz_input_take(in, 4);
}

static inline uint64_t fz_u64(struct fz_input *in)
{
	return fz_input_take(in, 8);
}

/* Copy the next @len bytes of input into @buf (zero-filled where the input ends). */
static inline void fz_bytes(struct fz_input *in, void *buf, size_t len)
{
	size_t n = len < in->left ? len : in->left;

	memcpy(buf, in->p, n);
	memset((uint8_t *)buf + n, 0, len - n);
	in->p += n;
	in->left -= n;
}

#endif /* OPENHV_FUZZ_INPUT_H */
