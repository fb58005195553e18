/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_pio.c - port I/O through a host-registered range (tests/mg/mg_pio.c).
 *
 * The host claims ports MG_PIO_BASE..+7; its reads answer (0x11223344 ^ (port - base)) cut to the access size.
 * The guest writes 1/2/4 bytes, reads 1/2/4 bytes and checks the answers, does string I/O (rep outsb, rep insw),
 * and checks that an unclaimed port reads all ones. The host checks the access log it recorded.
 */
#include "rt/mg.h"

#define MG_PIO_BASE 0x5e0
#define MG_PIO_UNCLAIMED 0x5f0

static uint32_t answer(unsigned port, unsigned size)
{
	uint32_t v = 0x11223344u ^ (port - MG_PIO_BASE);

	return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

int mg_main(const struct hvm_start_info *si)
{
	static const uint8_t out[3] = { 'a', 'b', 'c' };
	uint16_t in[2] = { 0, 0 };
	const void *src = out;
	void *dst = in;
	unsigned long n;

	outb(MG_PIO_BASE + 0, 0x5a);
	outw(MG_PIO_BASE + 2, 0xbeef);
	outl(MG_PIO_BASE + 4, 0xdeadbeef);
	MG_CHECK(inb(MG_PIO_BASE + 1) == answer(MG_PIO_BASE + 1, 1));
	MG_CHECK(inw(MG_PIO_BASE + 2) == answer(MG_PIO_BASE + 2, 2));
	MG_CHECK(inl(MG_PIO_BASE + 4) == answer(MG_PIO_BASE + 4, 4));

	n = sizeof(out);
	__asm__ volatile("rep outsb" : "+S"(src), "+c"(n) : "d"(MG_PIO_BASE + 0) : "memory");
	n = 2;
	__asm__ volatile("rep insw" : "+D"(dst), "+c"(n) : "d"(MG_PIO_BASE + 6) : "memory");
	MG_CHECK(in[0] == answer(MG_PIO_BASE + 6, 2) && in[1] == answer(MG_PIO_BASE + 6, 2));

	MG_CHECK(inb(MG_PIO_UNCLAIMED) == 0xff);
	MG_CHECK(inw(MG_PIO_UNCLAIMED) == 0xffff);
	MG_CHECK(inl(MG_PIO_UNCLAIMED) == 0xffffffffu);
	outl(MG_PIO_UNCLAIMED, 0); /* ignored */
	return 0;
}
