/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_smp.c - AP start-up with INIT-SIPI-SIPI (tests/mg/mg_smp.c). Option "cpus=N" (default 2).
 *
 * The BSP starts APs 1..N-1 through the real-mode trampoline. Each AP, in long mode on its own stack, enables its
 * LAPIC, records its APIC id under a spinlock, bumps an atomic counter, reports SMP_AP | id and wakes the BSP with
 * a fixed IPI (vector 0x50). The BSP sleeps in sti;hlt until all arrived (or its LAPIC timer, vector 0x51, fires
 * after ~5 s), checks that every id arrived exactly once with a stack of its own, and reports SMP_ALL | count.
 */
#include "rt/mg.h"

#define SMP_AP 0x1000u
#define SMP_ALL 0x2000u
#define VEC_WAKE 0x50
#define VEC_TIMEOUT 0x51

extern uint8_t mg_ap_stacks[];

static struct mg_spinlock lock;
static volatile uint32_t arrived;
static volatile uint32_t arrived_ids[MG_MAX_CPUS];
static volatile uint32_t arrived_n;
static volatile uint32_t bad_stack;
static volatile bool timed_out;

static void on_wake(struct mg_frame *f)
{
	mg_lapic_eoi();
}

static void on_timeout(struct mg_frame *f)
{
	timed_out = true;
	mg_lapic_eoi();
}

void mg_ap_main(unsigned apic_id)
{
	uint8_t *sp = (uint8_t *)__builtin_frame_address(0);
	uint8_t *lo = mg_ap_stacks + (size_t)apic_id * MG_AP_STACK_SIZE;

	mg_lapic_enable();
	mg_spin_lock(&lock);
	if (sp < lo || sp >= lo + MG_AP_STACK_SIZE)
		bad_stack++;
	arrived_ids[arrived_n++] = apic_id;
	mg_spin_unlock(&lock);
	mg_report(SMP_AP | apic_id);
	mg_atomic_add(&arrived, 1);
	mg_lapic_send_fixed(0, VEC_WAKE);
}

int mg_main(const struct hvm_start_info *si)
{
	unsigned cpus = (unsigned)mg_cmdline_uint("cpus", 2);

	MG_CHECK(cpus >= 1 && cpus <= MG_MAX_CPUS);
	mg_trap_install(VEC_WAKE, on_wake, 0);
	mg_trap_install(VEC_TIMEOUT, on_timeout, 0);
	mg_lapic_enable();
	MG_CHECK(mg_lapic_id() == 0);
	mg_lapic_timer_oneshot(VEC_TIMEOUT, 5000000000u / 128, 128); /* ~5 s at KVM's 1 GHz APIC bus */

	for (unsigned id = 1; id < cpus; id++)
		mg_ap_start(id);
	while (mg_atomic_read(&arrived) < cpus - 1 && !timed_out) {
		sti_hlt();
		cli();
	}
	mg_lapic_write(APIC_TIMER_INITIAL, 0);
	if (timed_out)
		mg_printf("timeout: %u of %u APs arrived\n", mg_atomic_read(&arrived), cpus - 1);
	MG_CHECK(!timed_out);
	MG_CHECK(bad_stack == 0);
	MG_CHECK(arrived_n == cpus - 1);
	for (unsigned id = 1; id < cpus; id++) {
		unsigned seen = 0;

		for (unsigned i = 0; i < arrived_n; i++)
			seen += arrived_ids[i] == id;
		MG_CHECK(seen == 1);
	}
	mg_report(SMP_ALL | arrived);
	return 0;
}
