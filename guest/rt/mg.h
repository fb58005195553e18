/* SPDX-License-Identifier: MIT */
/*
 * guest/rt/mg.h - the micro-guest runtime: a tiny freestanding 64-bit environment booted through PVH.
 *
 * Boot (entry.S): the image is linked at 1 MiB (guest.ld) and carries the Xen PVH note (XEN_ELFNOTE_PHYS32_ENTRY,
 * xen/include/public/elfnote.h), so the VMM enters it like a Linux vmlinux: 32-bit protected mode, paging off,
 * EBX = GPA of struct hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h). The entry code loads its own
 * GDT (Linux's selector layout), turns on PAE + EFER.LME + paging on static identity page tables (0-4 GiB, 2 MiB
 * pages, user-accessible so tests can run CPL3 code anywhere), zeroes .bss, sets up the IDT (exception gates) and
 * calls mg_main().
 * Its return value goes to TESTDEV_REG_RESULT (0 = pass), which ends the run.
 *
 * Every CPL0 instruction is interpreted by KVM's emulator on the development platform (~1 us each;
 * shared/reference/platform.md), and every port write is a ~12 us userspace exit: keep guests small.
 *
 * Threads of execution: the BSP runs mg_main(); APs started with mg_ap_start() run mg_ap_main() (a weak default
 * halts) on their own stack. The IDT and the handler table are shared by all CPUs.
 */
#ifndef OPENHV_GUEST_MG_H
#define OPENHV_GUEST_MG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* include/ is not on the guest include path (CMakeLists.txt gives guest/ and src/boot/): reach it relatively. */
#include "../../include/openhv/pvh.h"     /* struct hvm_start_info, XEN_HVM_START_MAGIC_VALUE */
#include "../../include/openhv/testdev.h" /* TESTDEV_REG_* */
#include "layout.h"                       /* LAYOUT_TESTDEV_PORT, LAPIC/IOAPIC addresses */
#include "mg_defs.h"

/* ---- entry points the test provides -------------------------------------------------------------------- */

/* The test: runs on the BSP with interrupts off. Return 0 for pass or a failure code. */
int mg_main(const struct hvm_start_info *si);

/* Runs on each AP started by mg_ap_start(), on its own stack, interrupts off. Weak default: halt forever. */
void mg_ap_main(unsigned apic_id);

/* ---- small libc (the compiler may emit calls to the mem* functions) ------------------------------------- */

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

/* ---- CPU primitives (port I/O: 1/2/4 bytes; each is a userspace exit unless KVM serves the port) ---------- */

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* MMIO accessors: exactly one access of the given width (volatile, no tearing). */
static inline uint8_t mmio_read8(uint64_t a) { return *(volatile uint8_t *)(uintptr_t)a; }
static inline uint16_t mmio_read16(uint64_t a) { return *(volatile uint16_t *)(uintptr_t)a; }
static inline uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)(uintptr_t)a; }
static inline uint64_t mmio_read64(uint64_t a) { return *(volatile uint64_t *)(uintptr_t)a; }
static inline void mmio_write8(uint64_t a, uint8_t v) { *(volatile uint8_t *)(uintptr_t)a = v; }
static inline void mmio_write16(uint64_t a, uint16_t v) { *(volatile uint16_t *)(uintptr_t)a = v; }
static inline void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)(uintptr_t)a = v; }
static inline void mmio_write64(uint64_t a, uint64_t v) { *(volatile uint64_t *)(uintptr_t)a = v; }

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

struct mg_cpuid {
	uint32_t eax, ebx, ecx, edx;
};
static inline struct mg_cpuid cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct mg_cpuid r;
	__asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
	return r;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cli(void) { __asm__ volatile("cli" : : : "memory"); }
static inline void sti(void) { __asm__ volatile("sti" : : : "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" : : : "memory"); }
/*
 * sti; hlt: sleep until an interrupt, with no window between enabling interrupts and halting. Use it to wait:
 * on kvm_pvm a pending interrupt is taken at hlt or at an exit, not in a short "sti; nop; cli" window.
 */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" : : : "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" : : : "memory"); }
static inline void barrier(void) { __asm__ volatile("" : : : "memory"); }

/* Stop this CPU for good (interrupts off). */
__attribute__((noreturn)) void mg_halt_forever(void);

/* MSR numbers the runtime and tests use (Intel SDM vol. 4). */
#define MSR_IA32_APIC_BASE 0x1b
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SFMASK 0xc0000084
#define EFER_SCE (1u << 0)
#define EFER_LME (1u << 8)

/* ---- test device (include/openhv/testdev.h) -------------------------------------------------------------- */

/* Append @v to the host's value list (one 32-bit `out`, ~12 us). */
static inline void mg_report(uint32_t v) { outl(LAYOUT_TESTDEV_PORT + TESTDEV_REG_VALUE, v); }

/* Write @v to the echo latch and read back the latch + 1. */
static inline uint32_t mg_echo(uint32_t v)
{
	outl(LAYOUT_TESTDEV_PORT + TESTDEV_REG_ECHO, v);
	return inl(LAYOUT_TESTDEV_PORT + TESTDEV_REG_ECHO);
}

/* Write the result (0 = pass) and halt this CPU: the host stops the partition on the write. */
__attribute__((noreturn)) void mg_exit(uint32_t result);

/* Debug text through TESTDEV_REG_PUTC: one exit per byte (~12 us), so keep it short. Lines end with '\n'. */
void mg_putc(char c);
void mg_puts(const char *s);
void mg_put_hex(uint64_t v);
void mg_put_dec(uint64_t v);
/* printf subset: %s %c %d %i %u %x %p with l/ll/z modifiers, %%, and a field width for %x (e.g. %08x). */
void mg_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mg_vprintf(const char *fmt, va_list ap);

/* Check helper: on failure print the expression and line, then fail with result 0x1000 + line. */
#define MG_CHECK(cond)                                                                                          \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			mg_printf("CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);                      \
			mg_exit(0x1000u + __LINE__);                                                             \
		}                                                                                                \
	} while (0)

/* ---- command line (hvm_start_info.cmdline_paddr) -------------------------------------------------------- */

/* The boot command line ("" when none). Points into guest memory written by the VMM. */
const char *mg_cmdline(void);

/* true if the command line has the word @key, alone or as "key=...". */
bool mg_cmdline_has(const char *key);

/* The numeric value of "key=N" (decimal or 0x-hex), or @def when absent or malformed. */
uint64_t mg_cmdline_uint(const char *key, uint64_t def);

/* The start info the BSP was entered with. */
const struct hvm_start_info *mg_start_info(void);

/* ---- interrupts and exceptions ------------------------------------------------------------------------- */

/*
 * The register frame a trap stub builds on the stack (lowest address first). Handlers may change any field;
 * the stub restores the GPRs and returns with iretq through rip/cs/rflags/rsp/ss.
 */
struct mg_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector;
	uint64_t error_code; /* 0 for vectors without one */
	uint64_t rip, cs, rflags, rsp, ss;
};

typedef void (*mg_trap_fn)(struct mg_frame *f);

/*
 * Install @fn for @vector (0..255) as a 64-bit interrupt gate (IF cleared on entry) with descriptor privilege
 * @dpl (0, or 3 to allow `int n` from user mode). @fn NULL restores the default handler, which prints the
 * vector, error code and RIP, reports them as values (vector, error code, RIP low, RIP high) and fails the test
 * with MG_RESULT_UNEXPECTED_TRAP | vector. Exception gates (0-31) are present from boot; gates 32-255 only once
 * installed, so an interrupt on an unprepared vector arrives as #NP (IDT error code); the default handler decodes
 * it and reports the interrupt's vector (in values, message and result code) instead of 11.
 */
void mg_trap_install(unsigned vector, mg_trap_fn fn, unsigned dpl);

/* Load an empty IDT (limit 0): the next exception becomes a triple fault. */
void mg_idt_load_empty(void);

/* Load the runtime's IDT on the calling CPU (the BSP does it at boot, APs on start). */
void mg_idt_load(void);

/* Load a TSS whose RSP0 (stack for interrupts taken at CPL3) is @rsp0 and IST slots are empty. BSP only. */
void mg_tss_load(uint64_t rsp0);

/* ---- local APIC (xAPIC MMIO at LAYOUT_LAPIC_GPA; Intel SDM vol. 3 ch. 11) --------------------------------- */

#define APIC_ID 0x20
#define APIC_VERSION 0x30
#define APIC_TPR 0x80
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_ISR 0x100
#define APIC_IRR 0x200
#define APIC_ESR 0x280
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_LVT_ERROR 0x370
#define APIC_TIMER_INITIAL 0x380
#define APIC_TIMER_CURRENT 0x390
#define APIC_TIMER_DIVIDE 0x3e0

#define APIC_ICR_FIXED 0x000u
#define APIC_ICR_INIT 0x500u
#define APIC_ICR_STARTUP 0x600u
#define APIC_ICR_BUSY (1u << 12)
#define APIC_ICR_ASSERT (1u << 14)
#define APIC_LVT_MASKED (1u << 16)
#define APIC_LVT_PERIODIC (1u << 17)
#define MG_SPURIOUS_VECTOR 0xff

static inline uint32_t mg_lapic_read(uint32_t reg) { return mmio_read32(LAYOUT_LAPIC_GPA + reg); }
static inline void mg_lapic_write(uint32_t reg, uint32_t v) { mmio_write32(LAYOUT_LAPIC_GPA + reg, v); }
static inline unsigned mg_lapic_id(void) { return mg_lapic_read(APIC_ID) >> 24; }
static inline void mg_lapic_eoi(void) { mg_lapic_write(APIC_EOI, 0); }

/* Software-enable the LAPIC (SVR bit 8, spurious vector MG_SPURIOUS_VECTOR with a handler that ignores it). */
void mg_lapic_enable(void);

/* Send an IPI: ICR high = @dest_apic_id << 24, ICR low = @icr_lo (vector | delivery mode | flags); waits idle. */
void mg_lapic_send_ipi(unsigned dest_apic_id, uint32_t icr_lo);

/* Fixed IPI with @vector to @dest_apic_id. */
static inline void mg_lapic_send_fixed(unsigned dest, uint8_t vector)
{
	mg_lapic_send_ipi(dest, APIC_ICR_FIXED | vector);
}

/* LAPIC timer, one-shot: @count ticks of the bus clock divided by @divide (1, 2, 4, ... 128), then @vector. */
void mg_lapic_timer_oneshot(uint8_t vector, uint32_t count, unsigned divide);

/* ---- IOAPIC (MMIO at LAYOUT_IOAPIC_GPA; 82093AA datasheet) ----------------------------------------------- */

/* Indirect register access: IOREGSEL = @reg, then IOWIN (two MMIO accesses, both served in the kernel). */
uint32_t mg_ioapic_read(uint32_t reg);
void mg_ioapic_write(uint32_t reg, uint32_t v);
/* Program redirection entry @pin: fixed delivery of @vector to physical APIC @dest, edge or level, unmasked. */
void mg_ioapic_route(unsigned pin, uint8_t vector, unsigned dest, bool level);
/* Mask redirection entry @pin (written as masked, edge). */
void mg_ioapic_mask(unsigned pin);

/* Mask every input of both legacy 8259 PICs (ports 0x21/0xa1), so IOAPIC routing is the only path. */
void mg_pic_mask_all(void);

/* ---- application processors ------------------------------------------------------------------------------ */

/*
 * Start the AP with LAPIC id @apic_id: copies the real-mode trampoline to MG_TRAMPOLINE_GPA (first call), sends
 * INIT, STARTUP, STARTUP. The AP goes real mode -> protected mode -> long mode on the shared page tables, takes
 * the stack for its APIC id, loads the IDT and calls mg_ap_main(apic_id). Returns at once: the caller waits for
 * the AP through memory or an IPI. The BSP's LAPIC must be enabled (mg_lapic_enable()).
 */
void mg_ap_start(unsigned apic_id);

/* ---- atomics and a spinlock (lock-prefixed instructions; seq_cst) --------------------------------------- */

/* Add @v to *@p atomically (lock xadd); returns the new value. */
static inline uint32_t mg_atomic_add(volatile uint32_t *p, uint32_t v)
{
	return __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST);
}
static inline uint32_t mg_atomic_read(const volatile uint32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }

/* Test-and-set spinlock (xchg); zero-initialised = unlocked. Do not take it in a handler that can interrupt a
 * holder on the same CPU. */
struct mg_spinlock {
	volatile uint32_t locked;
};
static inline void mg_spin_lock(struct mg_spinlock *l)
{
	while (__atomic_exchange_n(&l->locked, 1u, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			cpu_relax();
}
static inline void mg_spin_unlock(struct mg_spinlock *l) { __atomic_store_n(&l->locked, 0u, __ATOMIC_RELEASE); }

#endif
