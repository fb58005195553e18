/* SPDX-License-Identifier: MIT */
/*
 * guest/rt/hvc.h - the guest side of the Hyper-V hypervisor interface, freestanding: what Linux's
 * arch/x86/kernel/cpu/mshyperv.c, arch/x86/hyperv/hv_init.c, drivers/hv/hv.c, drivers/hv/hyperv_vmbus.h
 * (vmbus_signal_eom) and drivers/clocksource/hyperv_timer.c do, in small functions a micro-guest can call one at a
 * time. Prefix hvc_ ("hypervisor client"); the wire constants come from include/openhv/hvgdk.h (TLFS names).
 *
 * Per-VP state (the hypercall input page, the SynIC message and event-flag pages) is kept here for VP indexes
 * 0..HVC_MAX_VPS-1 and chosen by the caller's LAPIC id (VP index = APIC id on OpenHV). The hypercall page is one
 * page shared by all VPs, as in Linux.
 *
 * Costs on the development platform (shared/reference/platform.md): every synthetic MSR access and every
 * hypercall is a userspace exit (~15 us); an HvSignalEvent on a connection the host serves with an ioeventfd is
 * not (~3 us).
 */
#ifndef OPENHV_GUEST_HVC_H
#define OPENHV_GUEST_HVC_H

#include "rt/mg.h"
#include "../../include/openhv/hvgdk.h"

#define HVC_MAX_VPS 4 /* VPs with per-VP pages here (keep .bss small: it is zeroed by interpreted code) */

/* ---- detection (TLFS 2.4; Linux ms_hyperv_platform()) ------------------------------------------------------ */

/* The Hyper-V leaves as the guest reads them. */
struct hvc_cpuid {
	bool hypervisor_bit;  /* CPUID.1:ECX[31] */
	uint32_t max_leaf;    /* 0x40000000.EAX */
	uint32_t vendor[3];   /* 0x40000000.EBX, ECX, EDX */
	uint32_t interface;   /* 0x40000001.EAX */
	uint32_t features;    /* 0x40000003.EAX: partition privileges, low */
	uint32_t privileges;  /* 0x40000003.EBX: partition privileges, high */
	uint32_t misc;        /* 0x40000003.EDX */
	uint32_t hints;       /* 0x40000004.EAX */
	uint32_t max_vps;     /* 0x40000005.EAX */
};

/* Read the leaves. */
void hvc_cpuid_read(struct hvc_cpuid *out);

/* Linux's test: hypervisor bit, "Microsoft Hv", max leaf in [0x40000005, 0x4000FFFF], HYPERCALL and VP_INDEX. */
bool hvc_detect(const struct hvc_cpuid *c);

/* ---- hypercall page (TLFS 3.13; Linux hyperv_init()) -------------------------------------------------------- */

/* What hvc_hypercall() returns when no hypercall page is enabled (Linux hv_do_hypercall(): U64_MAX). */
#define HVC_NO_PAGE UINT64_MAX

/* A page the guest may hand to hvc_hypercall_enable() (in .bss, page-aligned, executable). */
extern uint8_t hvc_hypercall_page_default[4096];

/*
 * Write GUEST_OS_ID = @guest_os_id (0: Linux 6.1.119's value), then HYPERCALL = enable | GPA of @page (page
 * aligned), preserving bits 11:2 of the old value as Linux does; read HYPERCALL back. Returns 0 when it reads
 * back enabled with the same GPA (the page is then used by hvc_hypercall()), -1 otherwise.
 */
int hvc_hypercall_enable(void *page, uint64_t guest_os_id);

/* HYPERCALL = 0 (disabled) and forget the page. */
void hvc_hypercall_disable(void);

/* The page hvc_hypercall() calls (NULL when none). */
void *hvc_hypercall_page(void);

/*
 * Call offset 0 of the hypercall page: RCX = @control, RDX = @input, R8 = @output; returns RAX (status in 15:0,
 * reps completed in 43:32). Treats RAX, RCX, RDX, R8-R11 and flags as clobbered (Linux hv_do_hypercall()).
 * HVC_NO_PAGE without a page.
 */
uint64_t hvc_hypercall(uint64_t control, uint64_t input, uint64_t output);

/* A fast hypercall with one register of input (Linux hv_do_fast_hypercall8()): RCX = @code | fast, RDX = @in. */
uint64_t hvc_hypercall_fast8(uint16_t code, uint64_t in);

/* This VP's 4 KiB hypercall input page (page aligned; VP = LAPIC id < HVC_MAX_VPS). */
void *hvc_input_page(void);

/*
 * HvPostMessage (TLFS 11.10.1) through this VP's input page: connection @conn_id, @type, @size bytes of
 * @payload. Returns the HV_STATUS (RAX bits 15:0). @size > 240 is passed through as is (for hostile tests); only
 * min(@size, 240) bytes are copied.
 */
uint16_t hvc_post_message(uint32_t conn_id, uint32_t type, const void *payload, uint32_t size);

/* HvSignalEvent (TLFS 11.10.2), fast: RDX = @conn_id | @flag << 32. Returns the HV_STATUS. */
uint16_t hvc_signal_event(uint32_t conn_id, uint16_t flag);

/* ---- SynIC (TLFS 11.8; Linux hv_synic_enable_regs()) ------------------------------------------------------- */

/* This VP's SIM page (16 message slots) and SIEF page (16 event-flag bitmaps of 256 bytes). */
volatile struct hv_message *hvc_sim_page(void);
volatile uint8_t *hvc_sief_page(void);

/* Slot @sint of this VP's SIM page. */
static inline volatile struct hv_message *hvc_msg_slot(unsigned sint) { return hvc_sim_page() + sint; }

/*
 * Enable this VP's SynIC in Linux's order: SIMP = GPA of the SIM page | enable (RMW), SIEFP likewise, then
 * SCONTROL |= enable. SINTs are programmed with hvc_sint_set(). Returns 0, or -1 if SIMP/SIEFP do not read
 * back as written.
 */
int hvc_synic_enable(void);

/* SCONTROL, SIMP, SIEFP = 0 (Linux hv_synic_disable_regs()). */
void hvc_synic_disable(void);

/* SINT @sint (RMW, other bits preserved as Linux does): @vector, masked, auto-EOI. Returns the value written. */
uint64_t hvc_sint_set(unsigned sint, uint8_t vector, bool masked, bool auto_eoi);

/*
 * Copy slot @sint of this VP's SIM page into *@out if a message is there (message_type != HVMSG_NONE) and free
 * the slot with hvc_msg_eom(). Returns true if a message was taken. *@pending_seen says whether MessagePending was
 * set (and EOM was therefore written); may be NULL.
 */
bool hvc_msg_take(unsigned sint, struct hv_message *out, bool *pending_seen);

/*
 * Free a consumed slot exactly as Linux vmbus_signal_eom(): cmpxchg message_type @old_type -> HVMSG_NONE (give
 * up if it changed), full barrier, then write EOM (0) only if MessagePending is set. Returns true if EOM was
 * written.
 */
bool hvc_msg_eom(volatile struct hv_message *msg, uint32_t old_type);

/* Test-and-clear event flag @flag of SINT @sint in this VP's SIEF page (lock btr). Returns the old bit. */
bool hvc_event_flag_test_clear(unsigned sint, unsigned flag);

/* ---- reference time (TLFS 12.4, 12.7; Linux hyperv_timer.c) ------------------------------------------------ */

/* A page the guest may hand to hvc_tsc_page_enable(). */
extern uint8_t hvc_tsc_page_default[4096];

/* REFERENCE_TSC = GPA of @page | enable (RMW, Linux hv_init_tsc_clocksource()). Returns the MSR read back. */
uint64_t hvc_tsc_page_enable(void *page);

/*
 * Read reference time from the TSC page (Linux hv_read_tsc_page_tsc()): retry while tsc_sequence changes;
 * ((tsc * scale) >> 64) + offset in 128-bit arithmetic. Returns false (and leaves *@time) if the sequence is 0
 * ("invalid: use TIME_REF_COUNT"). *@tsc (may be NULL) gets the TSC the value was computed from.
 */
bool hvc_tsc_page_read(const volatile struct ms_hyperv_tsc_page *p, uint64_t *time, uint64_t *tsc);

/* HV_X64_MSR_TIME_REF_COUNT: 100 ns units since partition start. */
static inline uint64_t hvc_time_ref_count(void) { return rdmsr(HV_X64_MSR_TIME_REF_COUNT); }

/* ---- synthetic timers (TLFS 12.2) -------------------------------------------------------------------------- */

static inline uint32_t hvc_stimer_config_msr(unsigned n) { return HV_X64_MSR_STIMER0_CONFIG + 2 * n; }
static inline uint32_t hvc_stimer_count_msr(unsigned n) { return HV_X64_MSR_STIMER0_COUNT + 2 * n; }

/* STIMERn_CONFIG for direct mode (@vector) or message mode (SINT @sint): builds the value. */
static inline uint64_t hvc_stimer_config_direct(uint8_t vector, bool periodic)
{
	return HV_STIMER_ENABLE | (periodic ? HV_STIMER_PERIODIC : 0) | HV_STIMER_DIRECT_MODE |
	       ((uint64_t)vector << HV_STIMER_APICVECTOR_SHIFT);
}
static inline uint64_t hvc_stimer_config_message(unsigned sint, bool periodic)
{
	return HV_STIMER_ENABLE | (periodic ? HV_STIMER_PERIODIC : 0) | ((uint64_t)sint << HV_STIMER_SINT_SHIFT);
}

/*
 * Arm timer @n: COUNT = @count (100 ns units: the period of a periodic timer, the absolute expiration time of a
 * one-shot), then CONFIG = @config, so the timer starts with its count in place (TLFS 12.2.1). Linux instead
 * sets CONFIG once with AutoEnable and then only writes COUNT (hv_ce_set_next_event()).
 */
static inline void hvc_stimer_arm(unsigned n, uint64_t config, uint64_t count)
{
	wrmsr(hvc_stimer_count_msr(n), count);
	wrmsr(hvc_stimer_config_msr(n), config);
}

/* CONFIG = 0: the timer stops. */
static inline void hvc_stimer_stop(unsigned n) { wrmsr(hvc_stimer_config_msr(n), 0); }

/* ---- crash MSRs (TLFS 2.5 / guest-core.md 1.5; Linux hyperv_report_panic(), hv_kmsg_dump()) ------------------- */

/* Write CRASH_P0..P4 = @p[0..4], then CRASH_CTL = @ctl (the write that notifies the host). */
void hvc_crash_report(const uint64_t p[HV_CRASH_PARAMS], uint64_t ctl);

#endif
