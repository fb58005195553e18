/* SPDX-License-Identifier: MIT */
/*
 * guest/rt/rt.c - micro-guest runtime: start-up after entry.S, IDT and trap dispatch, test-device output,
 * command line, TSS, the small libc.
 */
#include "rt/mg.h"

/* Symbols of entry.S and guest.ld. */
extern const uint8_t mg_trap_stubs[];
extern uint64_t mg_gdt[];

#define MG_TRAP_STUB_SIZE 16
#define IDT_GATE_INTERRUPT 0x8e /* present, 64-bit interrupt gate (Intel SDM vol. 3, 7.14.1) */

struct mg_idt_gate {
	uint64_t lo;
	uint64_t hi;
};

struct __attribute__((packed)) mg_dtr {
	uint16_t limit;
	uint64_t base;
};

/* 64-bit TSS, Intel SDM vol. 3, 8.7. */
struct __attribute__((packed)) mg_tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
};

static struct mg_idt_gate mg_idt[256] __attribute__((aligned(16)));
static mg_trap_fn mg_trap_handlers[256];
static struct mg_tss mg_tss_bsp __attribute__((aligned(16)));
static const struct hvm_start_info *mg_si;

void mg_rt_start(const struct hvm_start_info *si);
void mg_rt_ap_start(unsigned apic_id);
void mg_rt_trap(struct mg_frame *f);

/* ---- libc ------------------------------------------------------------------------------------------------ */

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	if (n) {
		/* Overlapping with dst above src: copy backwards (a plain loop could be turned into a memmove call). */
		d += n - 1;
		s += n - 1;
		__asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	}
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i] != b[i])
			return (uint8_t)a[i] < (uint8_t)b[i] ? -1 : 1;
		if (!a[i])
			return 0;
	}
	return 0;
}

/* ---- output ---------------------------------------------------------------------------------------------- */

void mg_putc(char c)
{
	outb(LAYOUT_TESTDEV_PORT + TESTDEV_REG_PUTC, (uint8_t)c);
}

void mg_puts(const char *s)
{
	while (*s)
		mg_putc(*s++);
}

static void mg_put_num(uint64_t v, unsigned base, unsigned width)
{
	char buf[24];
	unsigned n = 0;

	do {
		unsigned d = (unsigned)(v % base);
		buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v && n < sizeof(buf));
	while (n < width && n < sizeof(buf))
		buf[n++] = '0';
	while (n)
		mg_putc(buf[--n]);
}

void mg_put_hex(uint64_t v)
{
	mg_put_num(v, 16, 1);
}

void mg_put_dec(uint64_t v)
{
	mg_put_num(v, 10, 1);
}

void mg_vprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		unsigned width = 0, lng = 0;

		if (*fmt != '%') {
			mg_putc(*fmt);
			continue;
		}
		fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned)(*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			mg_puts(s ? s : "(null)");
			break;
		}
		case 'c':
			mg_putc((char)va_arg(ap, int));
			break;
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			if (v < 0) {
				mg_putc('-');
				v = -v;
			}
			mg_put_num((uint64_t)v, 10, width);
			break;
		}
		case 'u':
			mg_put_num(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width);
			break;
		case 'x':
			mg_put_num(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width);
			break;
		case 'p':
			mg_puts("0x");
			mg_put_num((uint64_t)(uintptr_t)va_arg(ap, void *), 16, 1);
			break;
		case '%':
			mg_putc('%');
			break;
		case '\0':
			return;
		default:
			mg_putc('%');
			mg_putc(*fmt);
			break;
		}
	}
}

void mg_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mg_vprintf(fmt, ap);
	va_end(ap);
}

void mg_exit(uint32_t result)
{
	outl(LAYOUT_TESTDEV_PORT + TESTDEV_REG_RESULT, result);
	/* The host stops the partition on the write; if it did not, say so once and stop this CPU. */
	outl(LAYOUT_TESTDEV_PORT + TESTDEV_REG_RESULT, MG_RESULT_RETURNED);
	mg_halt_forever();
}

/* ---- command line ---------------------------------------------------------------------------------------- */

const struct hvm_start_info *mg_start_info(void)
{
	return mg_si;
}

const char *mg_cmdline(void)
{
	if (!mg_si || mg_si->magic != XEN_HVM_START_MAGIC_VALUE || !mg_si->cmdline_paddr ||
	    mg_si->cmdline_paddr >= 0xc0000000ull)
		return "";
	return (const char *)(uintptr_t)mg_si->cmdline_paddr;
}

/* Find word @key ("key" or "key=value") in the command line; returns the character after the key or NULL. */
static const char *mg_cmdline_find(const char *key)
{
	const char *p = mg_cmdline();
	size_t klen = strlen(key);

	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && (p[klen] == '\0' || p[klen] == ' ' || p[klen] == '='))
			return p + klen;
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

bool mg_cmdline_has(const char *key)
{
	return mg_cmdline_find(key) != NULL;
}

uint64_t mg_cmdline_uint(const char *key, uint64_t def)
{
	const char *p = mg_cmdline_find(key);
	uint64_t v = 0;
	unsigned base = 10, digits = 0;

	if (!p || *p != '=')
		return def;
	p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++, digits++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			break;
		v = v * base + d;
	}
	if (!digits || (*p && *p != ' '))
		return def;
	return v;
}

/* ---- IDT and traps ------------------------------------------------------------------------------------- */

static void mg_idt_set_gate(unsigned vector, uint64_t handler, unsigned dpl)
{
	uint64_t attr = IDT_GATE_INTERRUPT | ((dpl & 3u) << 5);

	mg_idt[vector].lo = (handler & 0xffff) | ((uint64_t)MG_SEL_KERNEL_CS << 16) | (attr << 40) |
			    (((handler >> 16) & 0xffff) << 48);
	mg_idt[vector].hi = handler >> 32;
}

void mg_idt_load(void)
{
	struct mg_dtr dtr = { .limit = sizeof(mg_idt) - 1, .base = (uint64_t)(uintptr_t)mg_idt };

	__asm__ volatile("lidt %0" : : "m"(dtr) : "memory");
}

void mg_idt_load_empty(void)
{
	struct mg_dtr dtr = { .limit = 0, .base = 0 };

	__asm__ volatile("lidt %0" : : "m"(dtr) : "memory");
}

void mg_trap_install(unsigned vector, mg_trap_fn fn, unsigned dpl)
{
	if (vector > 255)
		return;
	mg_trap_handlers[vector] = fn;
	mg_idt_set_gate(vector, (uint64_t)(uintptr_t)(mg_trap_stubs + vector * MG_TRAP_STUB_SIZE), dpl);
}

static void mg_rt_unexpected(struct mg_frame *f)
{
	unsigned vector = (unsigned)(f->vector & 0xff);

	/* Gates 32-255 stay not-present until installed: an interrupt there arrives as #NP with the IDT bit (1) set
	 * and the vector in the selector index of the error code (Intel SDM vol. 3, 7.13, 7.15). Name that vector. */
	if ((vector == 11 || vector == 13) && (f->error_code & 2)) {
		vector = (unsigned)(f->error_code >> 3) & 0xff;
		mg_printf("interrupt on vector %u without a handler (#%s error %lx)\n", vector,
			  f->vector == 11 ? "NP" : "GP", f->error_code);
	}
	mg_printf("unexpected trap: vector %u error %lx rip %lx cs %lx rflags %lx rsp %lx\n", vector, f->error_code,
		  f->rip, f->cs, f->rflags, f->rsp);
	mg_report(vector);
	mg_report((uint32_t)f->error_code);
	mg_report((uint32_t)f->rip);
	mg_report((uint32_t)(f->rip >> 32));
	mg_exit(MG_RESULT_UNEXPECTED_TRAP | vector);
}

void mg_rt_trap(struct mg_frame *f)
{
	mg_trap_fn fn = mg_trap_handlers[f->vector & 0xff];

	if (fn)
		fn(f);
	else
		mg_rt_unexpected(f);
}

/* ---- TSS ------------------------------------------------------------------------------------------------ */

void mg_tss_load(uint64_t rsp0)
{
	uint64_t base = (uint64_t)(uintptr_t)&mg_tss_bsp;
	uint64_t limit = sizeof(mg_tss_bsp) - 1;
	unsigned slot = MG_SEL_TSS / 8;

	mg_tss_bsp.rsp[0] = rsp0;
	mg_tss_bsp.iomap_base = sizeof(mg_tss_bsp); /* no I/O bitmap: user port I/O faults */
	/* Available 64-bit TSS (type 9), present; rewritten each time so ltr never sees a busy descriptor. */
	mg_gdt[slot] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
		       (((base >> 24) & 0xff) << 56);
	mg_gdt[slot + 1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(MG_SEL_TSS) : "memory");
}

/* ---- start-up --------------------------------------------------------------------------------------------- */

__attribute__((weak)) void mg_ap_main(unsigned apic_id)
{
	(void)apic_id;
}

void mg_rt_start(const struct hvm_start_info *si)
{
	uint64_t stubs = (uint64_t)(uintptr_t)mg_trap_stubs;

	mg_si = si;
	/* Exceptions get gates now; interrupt vectors when a handler is installed (filling all 256 would cost ~2k
	 * interpreted instructions per boot). */
	for (unsigned v = 0; v < 32; v++)
		mg_idt_set_gate(v, stubs + v * MG_TRAP_STUB_SIZE, 0);
	mg_idt_load();
	mg_exit((uint32_t)mg_main(si));
}

void mg_rt_ap_start(unsigned apic_id)
{
	mg_idt_load();
	mg_ap_main(apic_id);
}
