/* SPDX-License-Identifier: MIT */
/*
 * boot/acpi.h - the virtual motherboard's ACPI tables, generated at VM start into guest RAM.
 *
 * Layout in [LAYOUT_ACPI_GPA, LAYOUT_ACPI_GPA + LAYOUT_ACPI_SIZE) (boot/layout.h), each table 16-byte aligned:
 *   RSDP (revision 2, at LAYOUT_ACPI_GPA itself, so the legacy 0xE0000-0xFFFFF scan finds it; RSDT address 0)
 *   DSDT, FADT, MADT, XSDT (XSDT lists FADT and MADT; the FADT points at the DSDT through X_DSDT). No FACS: a
 *   hardware-reduced FADT may omit it and Linux then uses none (ACPICA tbutils.c acpi_tb_initialize_facs()).
 * Wire structs: include/openhv/acpi.h. OEM ID "OPENHV".
 *
 * FADT (revision 6.5, hardware-reduced ACPI, ACPI 6.5 section 4.1 and 5.2.9):
 *   Flags = ACPI_BOARD_FADT_FLAGS = WBINVD | PWR_BUTTON | SLP_BUTTON | RESET_REG_SUP | HW_REDUCED_ACPI (0x00100431)
 *     WBINVD         the spec requires it on modern systems; the guest's WBINVD works (KVM handles it).
 *     PWR_BUTTON,    1 = no fixed-feature power/sleep button (there is none; a hardware-reduced platform has no
 *     SLP_BUTTON     fixed-feature hardware at all). Linux ignores both in HW-reduced mode anyway.
 *     RESET_REG_SUP  Linux's acpi_reboot() (drivers/acpi/reboot.c) does nothing without it.
 *     HW_REDUCED_ACPI no PM1/GPE/PM timer blocks, no SCI, no FACS; sleep goes through SLEEP_CONTROL/STATUS_REG.
 *     Not set: LOW_POWER_S0_IDLE_CAPABLE (would make Linux default to s2idle), HEADLESS, the APIC mode forcing.
 *   IAPC_BOOT_ARCH = ACPI_BOARD_IAPC_BOOT_ARCH = 8042 | VGA_NOT_PRESENT (0x0006)
 *     8042           with FADT revision >= 2 and this bit clear, Linux 6.1 (arch/x86/kernel/acpi/boot.c
 *                    acpi_parse_fadt) marks the i8042 "firmware absent" and the i8042 driver then gives up unless
 *                    it finds a PNP0303/PNP0F13 device; we set the bit and also describe PNP0303 in the DSDT, which
 *                    is what i8042_pnp_init() binds to (ports from _CRS: IO 0x60 then 0x64, IRQ 1; no AUX device
 *                    is described, so the driver sets i8042_noaux).
 *     VGA_NOT_PRESENT true: there is no VGA; on x86 Linux only Xen PVH detection reads it.
 *     Clear: LEGACY_DEVICES (only disables the 32-bit PnP BIOS probe in Linux), MSI_NOT_SUPPORTED (would make
 *     Linux call pci_no_msi(), which would break a future Hyper-V vPCI), PCIE_ASPM_CONTROLS, CMOS_RTC_NOT_PRESENT
 *     (we emulate the RTC).
 *   SCI_INT = LAYOUT_ACPI_SCI_IRQ. In hardware-reduced mode Linux 6.1 never installs an SCI handler (ACPICA
 *     evevent.c acpi_ev_install_xrupt_handlers() returns early) and does not program the SCI into the IOAPIC
 *     (acpi_parse_madt_ioapic_entries() skips acpi_sci_ioapic_setup() when acpi_gbl_reduced_hardware). So the
 *     field is informational, and the MADT deliberately has no Interrupt Source Override for IRQ 9: such an entry
 *     would make Linux set GSI 9 up as a level-triggered SCI even in hardware-reduced mode.
 *   Note: in hardware-reduced mode Linux x86 also replaces the legacy PIC with null_legacy_pic and skips the
 *     timer_init hook (no PIT/HPET clockevent setup; acpi_generic_reduced_hw_init()): the guest's clocks must
 *     come from the Hyper-V enlightenments (frequency MSRs, TSC-deadline LAPIC timer, reference TSC page).
 *   RESET_REG = System I/O, 8 bits, byte access, LAYOUT_ACPI_RESET_PORT; RESET_VALUE = LAYOUT_ACPI_RESET_VALUE.
 *   SLEEP_CONTROL_REG / SLEEP_STATUS_REG = System I/O, 8 bits, byte access, LAYOUT_ACPI_SLEEP_CTL_PORT /
 *     LAYOUT_ACPI_SLEEP_STS_PORT. X_DSDT = the DSDT (32-bit DSDT field 0, as the spec asks when X_DSDT is used).
 *
 * What Linux 6.1 writes to those ports (what vdev/acpi_pm.c must implement):
 *   poweroff: acpi_power_off() -> acpi_enter_sleep_state(ACPI_STATE_S5) -> acpi_hw_extended_sleep()
 *     (drivers/acpi/acpica/hwesleep.c), after acpi_enter_sleep_state_prep() read \_S5 (SLP_TYPa = element 0):
 *     1. outb(ACPI_SLEEP_STATUS_WAK_STS = 0x80, LAYOUT_ACPI_SLEEP_STS_PORT)  clear WAK_STS (write-1-to-clear)
 *     2. WBINVD (ACPI_FLUSH_CPU_CACHE)
 *     3. outb(ACPI_BOARD_S5_SLEEP_CONTROL = ((LAYOUT_ACPI_S5_SLP_TYP << 2) & 0x1c) | 0x20 = 0x34,
 *             LAYOUT_ACPI_SLEEP_CTL_PORT)                                 SLP_TYP=5, SLP_EN: power off here
 *     4. loops on inb(LAYOUT_ACPI_SLEEP_STS_PORT) until bit 7 (WAK_STS) is set: the VMM must stop the VM at
 *        step 3; a status read should return 0 (returning WAK_STS would make Linux believe it woke up).
 *     Linux registers the S5 power-off handler only if \_S5 evaluates and both sleep register addresses are
 *     non-zero (drivers/acpi/sleep.c acpi_sleep_state_supported()).
 *   reboot: with the default reboot=acpi (x86 BOOT_ACPI, tried first), acpi_reboot() -> acpi_reset()
 *     (ACPICA hwxface.c): outb(LAYOUT_ACPI_RESET_VALUE, LAYOUT_ACPI_RESET_PORT), always 8 bits for System I/O
 *     whatever the GAS width says. If the VM is still running afterwards, Linux falls back to the keyboard
 *     controller: outb(0xfe, 0x64) (reboot=k goes there directly).
 *
 * MADT (revision 5): Local APIC address LAYOUT_LAPIC_GPA, flags PCAT_COMPAT; one enabled Processor Local APIC per
 * VP (APIC ID = ACPI processor UID = VP index 0..vp_count-1); one I/O APIC (ID vp_count, LAYOUT_IOAPIC_GPA,
 * GSI base 0; KVM's default routing: GSI n -> pin n); no interrupt source overrides (the board has no PIT: Linux
 * in hardware-reduced mode would not use one); a Local APIC NMI entry (all processors, LINT1), as QEMU and OpenVMM
 * emit.
 *
 * DSDT (revision 2): Name(\_S5, Package(4) { LAYOUT_ACPI_S5_SLP_TYP, 0, 0, 0 }) and in \_SB:
 *   COM1 (EISAID PNP0501, _UID 1): IO 0x3F8/8, IRQNoFlags 4
 *   RTC_ (EISAID PNP0B00): IO 0x70/2, IRQNoFlags 8
 *   KBD_ (EISAID PNP0303): IO 0x60/1, IO 0x64/1, IRQNoFlags 1
 *   PEVT (_HID "QEMU0001", only with cfg->pvpanic): IO LAYOUT_PVPANIC_PORT/1
 *   VMOD and VMOD.VMBS, only with cfg->vmbus: the VMBus device as Hyper-V Gen2 exposes it (shared/reference/
 *   guest-core.md 4.2), which is how Linux's hv_vmbus finds the bus (an acpi_driver matching _HID "VMBus"; 6.1
 *   has no other discovery path, and hv_acpi_init() fails with -ENODEV without the device):
 *     Device (VMOD)  _HID "ACPI0004" (module device: Linux's container scan handler enumerates its children),
 *                    _UID 0, _CRS = DWordMemory(ResourceProducer, NonCacheable, ReadWrite) for the low window
 *                    [LAYOUT_VMBUS_LOW_MMIO_GPA, + LAYOUT_VMBUS_LOW_MMIO_SIZE) and QWordMemory(same) for the
 *                    high window (acpi_vmbus_high_mmio()). Linux 6.1 vmbus_acpi_add() walks the VMBS _CRS,
 *                    then its ancestors', collecting only these address space descriptors into its MMIO pool.
 *     Device (VMBS)  _HID "VMBus", _DDN "VMBUS", _UID 0, _ADR 0, Method (_STA) { Return (0x0F) },
 *                    _CRS = IRQ (Edge, ActiveHigh, Exclusive) { LAYOUT_VMBUS_IRQ }. The short IRQ form is what
 *                    Hyper-V emits: Linux on x86 skips it (the VMBus interrupt is the SynIC's vector 0xF3),
 *                    while an Interrupt() descriptor would be mapped and could fail the walk. The _CRS must
 *                    exist: without it vmbus_acpi_add() fails its resource walk.
 */
#ifndef OPENHV_BOOT_ACPI_H
#define OPENHV_BOOT_ACPI_H

#include <stdbool.h>
#include <stdint.h>

#include <openhv/acpi.h>

#include "boot/layout.h"

struct vid_memory;

#define ACPI_BOARD_OEM_ID "OPENHV"         /* 6 chars */
#define ACPI_BOARD_OEM_TABLE_ID "OPENHVVM" /* 8 chars */
#define ACPI_BOARD_CREATOR_ID "OHV "       /* 4 chars */

#define ACPI_BOARD_FADT_FLAGS                                                                                          \
	(ACPI_FADT_WBINVD | ACPI_FADT_PWR_BUTTON | ACPI_FADT_SLP_BUTTON | ACPI_FADT_RESET_REG_SUP |                    \
	 ACPI_FADT_HW_REDUCED_ACPI)
#define ACPI_BOARD_IAPC_BOOT_ARCH (ACPI_IAPC_BOOT_ARCH_8042 | ACPI_IAPC_BOOT_ARCH_VGA_NOT_PRESENT)

/* The byte Linux writes to LAYOUT_ACPI_SLEEP_CTL_PORT to power off (S5), see above. */
#define ACPI_BOARD_S5_SLEEP_CONTROL                                                                                    \
	(((LAYOUT_ACPI_S5_SLP_TYP << ACPI_SLEEP_CONTROL_SLP_TYP_SHIFT) & ACPI_SLEEP_CONTROL_SLP_TYP_MASK) |           \
	 ACPI_SLEEP_CONTROL_SLP_EN)

#define ACPI_BOARD_VP_MAX 254u /* xAPIC IDs 0..253 and the I/O APIC ID vp_count stay below the broadcast ID 0xff */

struct acpi_config {
	unsigned vp_count; /* 1..ACPI_BOARD_VP_MAX: LAPIC entries 0..vp_count-1, APIC ID = processor UID = VP index */
	bool pvpanic;      /* add the QEMU0001 pvpanic device at LAYOUT_PVPANIC_PORT */
	bool vmbus;        /* add the VMBus device (VMOD/VMBS) and its MMIO windows; the high window is placed above
			    * the RAM of the memory given to acpi_tables_build() */
};

/*
 * The high VMBus MMIO window for guest RAM @mem: [*@base, *@base + *@size) with *@base = the end of the highest
 * RAM region, at least LAYOUT_VMBUS_HIGH_MMIO_MIN_GPA, rounded up to LAYOUT_VMBUS_HIGH_MMIO_ALIGN, and *@size =
 * LAYOUT_VMBUS_HIGH_MMIO_SIZE (boot/layout.h). Not RAM, not in the E820 map.
 */
void acpi_vmbus_high_mmio(const struct vid_memory *mem, uint64_t *base, uint64_t *size);

/*
 * Build the RSDP, XSDT, FADT, MADT and DSDT described above for @cfg and write them into @mem, overwriting all of
 * [LAYOUT_ACPI_GPA, LAYOUT_ACPI_GPA + LAYOUT_ACPI_SIZE) (unused bytes become zero). Nothing is written on error.
 * Returns 0 and the RSDP's GPA (LAYOUT_ACPI_GPA) in *@rsdp_gpa; -EINVAL for a NULL argument or a vp_count outside
 * 1..ACPI_BOARD_VP_MAX; -ENOSPC if the tables do not fit in LAYOUT_ACPI_SIZE bytes; -EFAULT if that range is not
 * all RAM in @mem; -ENOMEM.
 */
int acpi_tables_build(struct vid_memory *mem, const struct acpi_config *cfg, uint64_t *rsdp_gpa);

#endif
