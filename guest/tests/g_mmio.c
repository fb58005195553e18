/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_mmio.c - MMIO through a host-registered range in the hole (tests/mg/mg_mmio.c).
 *
 * The host backs MG_MMIO_BASE..+4 KiB with a byte array preset to pattern(offset) = offset ^ 0x5a that writes
 * change. The guest reads 1/2/4/8 bytes and checks the pattern, writes 1/2/4/8 bytes and reads them back with
 * 8-byte reads, and checks that an unclaimed MMIO address reads all ones. The host checks its access log.
 */
#include "rt/mg.h"

#define MG_MMIO_BASE 0xd0000000ull
#define MG_MMIO_UNCLAIMED 0xd0100000ull

static uint64_t pattern(unsigned off, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)((off + i) ^ 0x5a) << (8 * i);
	return v;
}

int mg_main(const struct hvm_start_info *si)
{
	MG_CHECK(mmio_read8(MG_MMIO_BASE + 0x10) == pattern(0x10, 1));
	MG_CHECK(mmio_read16(MG_MMIO_BASE + 0x20) == pattern(0x20, 2));
	MG_CHECK(mmio_read32(MG_MMIO_BASE + 0x40) == pattern(0x40, 4));
	MG_CHECK(mmio_read64(MG_MMIO_BASE + 0x80) == pattern(0x80, 8));

	mmio_write8(MG_MMIO_BASE + 0x100, 0x11);
	mmio_write16(MG_MMIO_BASE + 0x102, 0x2233);
	mmio_write32(MG_MMIO_BASE + 0x104, 0x44556677u);
	mmio_write64(MG_MMIO_BASE + 0x108, 0x8899aabbccddeeffull);
	MG_CHECK(mmio_read64(MG_MMIO_BASE + 0x100) == (0x4455667722330011ull | (pattern(0x101, 1) << 8)));
	MG_CHECK(mmio_read64(MG_MMIO_BASE + 0x108) == 0x8899aabbccddeeffull);

	MG_CHECK(mmio_read32(MG_MMIO_UNCLAIMED) == 0xffffffffu);
	MG_CHECK(mmio_read64(MG_MMIO_UNCLAIMED + 8) == ~0ull);
	return 0;
}
