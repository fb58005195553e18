/* SPDX-License-Identifier: MIT */
/*
 * boot/layout.h - the virtual motherboard's fixed addresses: guest-physical layout of boot data, port map, IRQs.
 *
 * One place for the numbers that the ACPI tables (boot/acpi.c), the boot loader (boot/linux.c), the emulated
 * devices (vdev/) and the worker must agree on.
 */
#ifndef OPENHV_BOOT_LAYOUT_H
#define OPENHV_BOOT_LAYOUT_H

/* ---- guest-physical layout of boot data (all in the first MiB, below the kernel) -------------------------- */
#define LAYOUT_BOOT_INFO_GPA 0x7000ull        /* PVH hvm_start_info or Linux boot_params ("zero page"), 4 KiB */
#define LAYOUT_BOOT_E820_GPA 0x8000ull        /* PVH memory map (hvm_memmap_table_entry[]), 4 KiB */
#define LAYOUT_PAGE_TABLES_GPA 0x9000ull      /* 64-bit entry: PML4, PDPT, 4 PDs (identity map 0-4 GiB), 24 KiB */
#define LAYOUT_CMDLINE_GPA 0x20000ull         /* kernel command line, NUL-terminated */
#define LAYOUT_CMDLINE_MAX 4096u              /* bytes including the NUL */
#define LAYOUT_MODLIST_GPA 0x21000ull         /* PVH module list (initrd) */
#define LAYOUT_LOW_RAM_END 0x9fc00ull         /* conventional RAM below the EBDA */
#define LAYOUT_ACPI_GPA 0xe0000ull            /* ACPI tables: RSDP first (legacy scan range), 128 KiB */
#define LAYOUT_ACPI_SIZE 0x20000ull
#define LAYOUT_RESET_VECTOR_GPA 0xffff0ull    /* F000:FFF0, where a real-mode restart jumps: see worker/vm.c */
#define LAYOUT_KERNEL_MIN_GPA 0x100000ull     /* kernels load at or above 1 MiB */
#define LAYOUT_INITRD_MAX_GPA 0x3fffffffull   /* keep the initrd below 1 GiB (bzImage initrd_addr_max default) */

/* ---- MMIO hole (between VID_LOWMEM_TOP and 4 GiB) ------------------------------------------------------ */
#define LAYOUT_IOAPIC_GPA 0xfec00000ull
#define LAYOUT_LAPIC_GPA 0xfee00000ull
#define LAYOUT_KVM_TSS_GPA 0xfffbd000ull      /* KVM_SET_TSS_ADDR: 3 pages */
#define LAYOUT_KVM_IDMAP_GPA 0xfffbc000ull    /* KVM_SET_IDENTITY_MAP_ADDR: 1 page */

/*
 * VMBus MMIO windows (the _CRS of \_SB.VMOD, boot/acpi.h): address space the guest's hv_vmbus may hand out to
 * VMBus devices that need MMIO (the synthetic framebuffer's VRAM, vPCI BARs); Linux 6.1 vmbus_allocate_mmio().
 * Like Hyper-V Gen2, one window below 4 GiB and one above all RAM. Neither is RAM or in the E820 map.
 *  - low: [0xF8000000, LAYOUT_IOAPIC_GPA) = 108 MiB, ending below the IOAPIC page (and so below Linux's vTPM cut
 *    at 0xFED40000, the LAPIC and the KVM TSS/identity-map pages). [VID_LOWMEM_TOP, 0xF8000000) stays free for
 *    other MMIO (a future PCI host bridge).
 *  - high: LAYOUT_VMBUS_HIGH_MMIO_SIZE bytes at the end of RAM (or at 4 GiB if all RAM is below it), rounded up
 *    to LAYOUT_VMBUS_HIGH_MMIO_ALIGN; computed by acpi_vmbus_high_mmio() from the guest's memory map.
 */
#define LAYOUT_VMBUS_LOW_MMIO_GPA 0xf8000000ull
#define LAYOUT_VMBUS_LOW_MMIO_SIZE (LAYOUT_IOAPIC_GPA - LAYOUT_VMBUS_LOW_MMIO_GPA)
#define LAYOUT_VMBUS_HIGH_MMIO_MIN_GPA 0x100000000ull /* 4 GiB */
#define LAYOUT_VMBUS_HIGH_MMIO_ALIGN 0x40000000ull    /* 1 GiB */
#define LAYOUT_VMBUS_HIGH_MMIO_SIZE 0x40000000ull     /* 1 GiB */
#define LAYOUT_VMBUS_IRQ 5                            /* the IRQ in VMBS's _CRS, as on Hyper-V; Linux ignores it */

/* ---- port map and ISA IRQs (legacy PC numbers where a PC has the device) ------------------------------- */
#define LAYOUT_COM1_PORT 0x3f8
#define LAYOUT_COM1_IRQ 4
#define LAYOUT_RTC_PORT 0x70                  /* index 0x70, data 0x71 */
#define LAYOUT_RTC_IRQ 8
#define LAYOUT_I8042_DATA_PORT 0x60
#define LAYOUT_I8042_CMD_PORT 0x64
#define LAYOUT_I8042_IRQ 1
#define LAYOUT_PVPANIC_PORT 0x505             /* QEMU pvpanic ISA port; ACPI _HID "QEMU0001" */
#define LAYOUT_ACPI_SLEEP_CTL_PORT 0x600      /* FADT SLEEP_CONTROL_REG, 8 bits: SLP_TYP bits 4:2, SLP_EN bit 5 */
#define LAYOUT_ACPI_SLEEP_STS_PORT 0x601      /* FADT SLEEP_STATUS_REG, 8 bits: WAK_STS bit 7 */
#define LAYOUT_ACPI_RESET_PORT 0x602          /* FADT RESET_REG, 8 bits */
#define LAYOUT_ACPI_RESET_VALUE 0x01
#define LAYOUT_ACPI_S5_SLP_TYP 5              /* \_S5 package value written into SLP_TYP */
#define LAYOUT_ACPI_SCI_IRQ 9
#define LAYOUT_TESTDEV_PORT 0xf40             /* micro-guest test device, include/openhv/testdev.h */
#define LAYOUT_TESTDEV_PORTS 16

#endif
