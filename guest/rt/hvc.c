/* SPDX-License-Identifier: MIT */
/*
 * guest/rt/hvc.c - the guest side of the Hyper-V hypervisor interface (hvc.h).
 *
 * Follows Linux 6.1: arch/x86/kernel/cpu/mshyperv.c (detection), arch/x86/hyperv/hv_init.c (GUEST_OS_ID, the
 * hypercall page), arch/x86/include/asm/mshyperv.h (hv_do_hypercall() and its clobbers), drivers/hv/hv.c
 * (hv_synic_enable_regs()), drivers/hv/hyperv_vmbus.h (vmbus_signal_eom()) and
 * include/clocksource/hyperv_timer.h (hv_read_tsc_page_tsc()).
 */
#include "rt/hvc.h"

#define PAGE_SIZE 4096u

/* Linux 6.1.119: HV_LINUX_VENDOR_ID << 48 | LINUX_VERSION_CODE (6.1.119 = 0x060177) << 16. */
#define HVC_GUEST_OS_ID_LINUX ((uint64_t)HV_LINUX_VENDOR_ID << 48 | 0x060177ull << 16)

uint8_t hvc_hypercall_page_default[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
uint8_t hvc_tsc_page_default[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static uint8_t hvc_input_pages[HVC_MAX_VPS][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t hvc_sim_pages[HVC_MAX_VPS][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t hvc_sief_pages[HVC_MAX_VPS][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static void *volatile hvc_hc_page;

/* This VP's index into the per-VP pages: the LAPIC id (VP index = APIC id on OpenHV). */
static unsigned hvc_vp(void)
{
	unsigned id = mg_lapic_id();

	if (id >= HVC_MAX_VPS) {
		mg_printf("hvc: APIC id %u has no per-VP pages (HVC_MAX_VPS %u)\n", id, HVC_MAX_VPS);
		mg_exit(MG_RESULT_AP_ID_RANGE | id);
	}
	return id;
}

/* A full barrier the instruction emulator certainly knows (Linux __smp_mb() on x86-64 is a locked add too). */
static inline void hvc_mb(void) { __asm__ volatile("lock orq $0, (%%rsp)" : : : "memory", "cc"); }

/* ---- detection ---------------------------------------------------------------------------------------------- */

void hvc_cpuid_read(struct hvc_cpuid *out)
{
	struct mg_cpuid r;

	memset(out, 0, sizeof(*out));
	out->hypervisor_bit = (cpuid(1, 0).ecx >> 31) & 1;
	r = cpuid(HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS, 0);
	out->max_leaf = r.eax;
	out->vendor[0] = r.ebx;
	out->vendor[1] = r.ecx;
	out->vendor[2] = r.edx;
	if (out->max_leaf < HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS || out->max_leaf > 0x4000ffffu)
		return;
	out->interface = cpuid(HYPERV_CPUID_INTERFACE, 0).eax;
	if (out->max_leaf >= HYPERV_CPUID_FEATURES) {
		r = cpuid(HYPERV_CPUID_FEATURES, 0);
		out->features = r.eax;
		out->privileges = r.ebx;
		out->misc = r.edx;
	}
	if (out->max_leaf >= HYPERV_CPUID_ENLIGHTMENT_INFO)
		out->hints = cpuid(HYPERV_CPUID_ENLIGHTMENT_INFO, 0).eax;
	if (out->max_leaf >= HYPERV_CPUID_IMPLEMENT_LIMITS)
		out->max_vps = cpuid(HYPERV_CPUID_IMPLEMENT_LIMITS, 0).eax;
}

bool hvc_detect(const struct hvc_cpuid *c)
{
	return c->hypervisor_bit && c->vendor[0] == HYPERV_CPUID_SIGNATURE_EBX &&
	       c->vendor[1] == HYPERV_CPUID_SIGNATURE_ECX && c->vendor[2] == HYPERV_CPUID_SIGNATURE_EDX &&
	       c->max_leaf >= HYPERV_CPUID_MIN && c->max_leaf <= 0x4000ffffu &&
	       (c->features & HV_MSR_HYPERCALL_AVAILABLE) && (c->features & HV_MSR_VP_INDEX_AVAILABLE);
}

/* ---- hypercalls ----------------------------------------------------------------------------------------------- */

int hvc_hypercall_enable(void *page, uint64_t guest_os_id)
{
	uint64_t gpa = (uint64_t)(uintptr_t)page, v;

	if (gpa & ~HV_PAGE_ADDRESS_MASK)
		return -1;
	wrmsr(HV_X64_MSR_GUEST_OS_ID, guest_os_id ? guest_os_id : HVC_GUEST_OS_ID_LINUX);
	v = rdmsr(HV_X64_MSR_HYPERCALL);
	v = (v & 0xffeull) | gpa | HV_X64_MSR_HYPERCALL_ENABLE; /* hyperv_init(): keep bits 11:1, set the PFN */
	wrmsr(HV_X64_MSR_HYPERCALL, v);
	v = rdmsr(HV_X64_MSR_HYPERCALL);
	if (!(v & HV_X64_MSR_HYPERCALL_ENABLE) || (v & HV_PAGE_ADDRESS_MASK) != gpa)
		return -1;
	hvc_hc_page = page;
	return 0;
}

void hvc_hypercall_disable(void)
{
	hvc_hc_page = NULL;
	wrmsr(HV_X64_MSR_HYPERCALL, 0);
}

void *hvc_hypercall_page(void) { return hvc_hc_page; }

uint64_t hvc_hypercall(uint64_t control, uint64_t input, uint64_t output)
{
	register uint64_t r8 __asm__("r8") = output;
	void *page = hvc_hc_page;
	uint64_t status;

	if (!page)
		return HVC_NO_PAGE;
	__asm__ volatile("call *%[page]"
			 : "=a"(status), "+c"(control), "+d"(input), "+r"(r8)
			 : [page] "r"(page)
			 : "r9", "r10", "r11", "memory", "cc");
	return status;
}

uint64_t hvc_hypercall_fast8(uint16_t code, uint64_t in)
{
	return hvc_hypercall((uint64_t)code | HV_HYPERCALL_FAST_BIT, in, 0);
}

void *hvc_input_page(void) { return hvc_input_pages[hvc_vp()]; }

uint16_t hvc_post_message(uint32_t conn_id, uint32_t type, const void *payload, uint32_t size)
{
	struct hv_input_post_message *in = hvc_input_page();

	in->connectionid = conn_id;
	in->reserved = 0;
	in->message_type = type;
	in->payload_size = size;
	memcpy(in->payload, payload, size < HV_MESSAGE_PAYLOAD_BYTE_COUNT ? size : HV_MESSAGE_PAYLOAD_BYTE_COUNT);
	return (uint16_t)(hvc_hypercall(HVCALL_POST_MESSAGE, (uint64_t)(uintptr_t)in, 0) & HV_HYPERCALL_RESULT_MASK);
}

uint16_t hvc_signal_event(uint32_t conn_id, uint16_t flag)
{
	uint64_t in = conn_id | (uint64_t)flag << HV_SIGNAL_EVENT_FLAG_SHIFT;

	return (uint16_t)(hvc_hypercall_fast8(HVCALL_SIGNAL_EVENT, in) & HV_HYPERCALL_RESULT_MASK);
}

/* ---- SynIC -------------------------------------------------------------------------------------------------- */

volatile struct hv_message *hvc_sim_page(void)
{
	return (volatile struct hv_message *)(void *)hvc_sim_pages[hvc_vp()];
}

volatile uint8_t *hvc_sief_page(void) { return hvc_sief_pages[hvc_vp()]; }

/* RMW of an overlay-page MSR as Linux does it: keep bits 11:1, set the page's GPA and enable. */
static uint64_t hvc_page_msr_enable(uint32_t msr, volatile void *page)
{
	uint64_t v = rdmsr(msr);

	v = (v & 0xffeull) | (uint64_t)(uintptr_t)page | 1;
	wrmsr(msr, v);
	return v;
}

int hvc_synic_enable(void)
{
	uint64_t simp = hvc_page_msr_enable(HV_X64_MSR_SIMP, hvc_sim_page());
	uint64_t siefp = hvc_page_msr_enable(HV_X64_MSR_SIEFP, hvc_sief_page());

	wrmsr(HV_X64_MSR_SCONTROL, rdmsr(HV_X64_MSR_SCONTROL) | HV_SYNIC_CONTROL_ENABLE);
	return rdmsr(HV_X64_MSR_SIMP) == simp && rdmsr(HV_X64_MSR_SIEFP) == siefp ? 0 : -1;
}

void hvc_synic_disable(void)
{
	wrmsr(HV_X64_MSR_SCONTROL, 0);
	wrmsr(HV_X64_MSR_SIMP, 0);
	wrmsr(HV_X64_MSR_SIEFP, 0);
}

uint64_t hvc_sint_set(unsigned sint, uint8_t vector, bool masked, bool auto_eoi)
{
	uint64_t v = rdmsr(HV_X64_MSR_SINT0 + sint);

	v &= ~(HV_SYNIC_SINT_VECTOR_MASK | HV_SYNIC_SINT_MASKED | HV_SYNIC_SINT_AUTO_EOI);
	v |= vector | (masked ? HV_SYNIC_SINT_MASKED : 0) | (auto_eoi ? HV_SYNIC_SINT_AUTO_EOI : 0);
	wrmsr(HV_X64_MSR_SINT0 + sint, v);
	return v;
}

bool hvc_msg_eom(volatile struct hv_message *msg, uint32_t old_type)
{
	uint32_t expected = old_type;

	if (!__atomic_compare_exchange_n(&msg->header.message_type, &expected, HVMSG_NONE, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return false;
	hvc_mb();
	if (msg->header.message_flags & HV_MESSAGE_FLAG_PENDING) {
		wrmsr(HV_X64_MSR_EOM, 0);
		return true;
	}
	return false;
}

bool hvc_msg_take(unsigned sint, struct hv_message *out, bool *pending_seen)
{
	volatile struct hv_message *slot = hvc_msg_slot(sint);
	const volatile uint64_t *src = (const volatile uint64_t *)slot;
	uint64_t *dst = (uint64_t *)out;
	uint32_t type = slot->header.message_type;
	bool eom;

	if (type == HVMSG_NONE)
		return false;
	barrier(); /* the type is read before the body (the host writes it last) */
	for (unsigned i = 0; i < sizeof(*out) / 8; i++)
		dst[i] = src[i];
	out->header.message_type = type;
	eom = hvc_msg_eom(slot, type);
	if (pending_seen)
		*pending_seen = eom;
	return true;
}

bool hvc_event_flag_test_clear(unsigned sint, unsigned flag)
{
	volatile uint32_t *w = (volatile uint32_t *)(void *)(hvc_sief_page() + sint * HV_SYNIC_EVENT_FLAGS_BYTES);
	uint32_t bit = 1u << (flag % 32);

	return (__atomic_fetch_and(&w[flag / 32], ~bit, __ATOMIC_SEQ_CST) & bit) != 0;
}

/* ---- reference time ------------------------------------------------------------------------------------------ */

uint64_t hvc_tsc_page_enable(void *page)
{
	hvc_page_msr_enable(HV_X64_MSR_REFERENCE_TSC, page);
	return rdmsr(HV_X64_MSR_REFERENCE_TSC);
}

bool hvc_tsc_page_read(const volatile struct ms_hyperv_tsc_page *p, uint64_t *time, uint64_t *tsc_out)
{
	uint32_t seq;
	uint64_t scale, tsc;
	int64_t offset;

	do {
		seq = p->tsc_sequence;
		if (!seq)
			return false;
		barrier(); /* x86 keeps loads in order: a compiler barrier is Linux's smp_rmb() */
		scale = p->tsc_scale;
		offset = p->tsc_offset;
		tsc = rdtsc();
		barrier();
	} while (p->tsc_sequence != seq);
	*time = (uint64_t)(((unsigned __int128)tsc * scale) >> 64) + (uint64_t)offset;
	if (tsc_out)
		*tsc_out = tsc;
	return true;
}

/* ---- crash MSRs ------------------------------------------------------------------------------------------------ */

void hvc_crash_report(const uint64_t p[HV_CRASH_PARAMS], uint64_t ctl)
{
	for (unsigned i = 0; i < HV_CRASH_PARAMS; i++)
		wrmsr(HV_X64_MSR_CRASH_P0 + i, p[i]);
	wrmsr(HV_X64_MSR_CRASH_CTL, ctl);
}
