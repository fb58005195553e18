/* SPDX-License-Identifier: MIT */
/*
 * openhv/acpi.h - ACPI wire formats: the system description tables OpenHV generates (RSDP, XSDT, FADT, MADT, DSDT
 * header), the Generic Address Structure, the AML opcodes and resource descriptor tags its AML writer emits, and
 * the bits of the hardware-reduced sleep/reset registers.
 *
 * Data only. Names follow the ACPI Specification 6.5 (chapter 5 "ACPI Software Programming Model", chapter 6.4
 * "Resource Data Types", chapter 20 "ACPI Machine Language (AML) Specification"). All multi-byte fields are little
 * endian (the only byte order OpenHV's hosts have). Every table struct is packed and its size is checked below.
 */
#ifndef OPENHV_ACPI_H
#define OPENHV_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_PACKED __attribute__((packed))

/* ---- 5.2.5 Root System Description Pointer (RSDP) ------------------------------------------------------------ */
#define ACPI_RSDP_SIGNATURE "RSD PTR " /* 8 bytes, no NUL */
#define ACPI_RSDP_REVISION 2           /* ACPI 2.0+ layout: has Length, XsdtAddress, ExtendedChecksum */
#define ACPI_RSDP_V1_LENGTH 20         /* bytes covered by Checksum (the ACPI 1.0 part) */
#define ACPI_RSDP_ALIGN 16             /* the legacy scan looks at 16-byte boundaries of 0xE0000-0xFFFFF */

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;          /* bytes 0-19 sum to 0 */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;     /* 32-bit RSDT GPA; 0 = no RSDT */
	uint32_t length;           /* of this structure: 36 */
	uint64_t xsdt_address;     /* 64-bit XSDT GPA */
	uint8_t extended_checksum; /* all 36 bytes sum to 0 */
	uint8_t reserved[3];
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP is 36 bytes");

/* ---- 5.2.6 System Description Table Header ------------------------------------------------------------------ */
struct acpi_table_header {
	char signature[4];
	uint32_t length;           /* bytes, whole table including this header */
	uint8_t revision;
	uint8_t checksum;          /* whole table sums to 0 */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];        /* ASL compiler vendor ID */
	uint32_t creator_revision;
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_table_header) == 36, "SDT header is 36 bytes");

#define ACPI_SIG_XSDT "XSDT"
#define ACPI_SIG_FADT "FACP"
#define ACPI_SIG_MADT "APIC"
#define ACPI_SIG_DSDT "DSDT"
#define ACPI_SIG_SSDT "SSDT"

/* ---- 5.2.8 Extended System Description Table: header + uint64_t Entry[] (table GPAs) ------------------------ */
#define ACPI_XSDT_REVISION 1

/* ---- 5.2.3.2 Generic Address Structure (GAS) ---------------------------------------------------------------- */
struct acpi_gas {
	uint8_t address_space_id;  /* ACPI_GAS_SPACE_* */
	uint8_t register_bit_width;
	uint8_t register_bit_offset;
	uint8_t access_size;       /* ACPI_GAS_ACCESS_* */
	uint64_t address;          /* GPA or I/O port */
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS is 12 bytes");

#define ACPI_GAS_SPACE_SYSTEM_MEMORY 0
#define ACPI_GAS_SPACE_SYSTEM_IO 1
#define ACPI_GAS_SPACE_PCI_CONFIG 2

#define ACPI_GAS_ACCESS_UNDEFINED 0
#define ACPI_GAS_ACCESS_BYTE 1
#define ACPI_GAS_ACCESS_WORD 2
#define ACPI_GAS_ACCESS_DWORD 3
#define ACPI_GAS_ACCESS_QWORD 4

/* ---- 5.2.9 Fixed ACPI Description Table (FADT), revision 6 layout (276 bytes) ------------------------------- */
#define ACPI_FADT_REVISION 6
#define ACPI_FADT_MINOR_REVISION 5 /* ACPI 6.5 */

struct acpi_fadt {
	struct acpi_table_header header;
	uint32_t firmware_ctrl;            /* 32-bit FACS GPA; 0 = none (allowed with HW_REDUCED_ACPI) */
	uint32_t dsdt;                     /* 32-bit DSDT GPA; must be 0 when X_DSDT is used */
	uint8_t reserved0;                 /* was INT_MODEL in ACPI 1.0 */
	uint8_t preferred_pm_profile;      /* ACPI_PM_PROFILE_* */
	uint16_t sci_int;                  /* SCI as an 8259 IRQ number (ISA vector) */
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;           /* ACPI_IAPC_BOOT_ARCH_* */
	uint8_t reserved1;
	uint32_t flags;                    /* ACPI_FADT_* feature flags */
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t fadt_minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg; /* ACPI 5.0+, hardware-reduced sleep (4.8.3.7) */
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_identity; /* ACPI 6.0+ */
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");
_Static_assert(offsetof(struct acpi_fadt, sci_int) == 46, "FADT SCI_INT offset");
_Static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "FADT IAPC_BOOT_ARCH offset");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT Flags offset");
_Static_assert(offsetof(struct acpi_fadt, reset_reg) == 116, "FADT RESET_REG offset");
_Static_assert(offsetof(struct acpi_fadt, reset_value) == 128, "FADT RESET_VALUE offset");
_Static_assert(offsetof(struct acpi_fadt, fadt_minor_version) == 131, "FADT minor version offset");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT offset");
_Static_assert(offsetof(struct acpi_fadt, sleep_control_reg) == 244, "FADT SLEEP_CONTROL_REG offset");
_Static_assert(offsetof(struct acpi_fadt, sleep_status_reg) == 256, "FADT SLEEP_STATUS_REG offset");

/* Preferred_PM_Profile (Table 5.9) */
#define ACPI_PM_PROFILE_UNSPECIFIED 0
#define ACPI_PM_PROFILE_ENTERPRISE_SERVER 4

/* FADT Flags (Table 5.10): bit numbers as masks */
#define ACPI_FADT_WBINVD (1u << 0)
#define ACPI_FADT_WBINVD_FLUSH (1u << 1)
#define ACPI_FADT_PROC_C1 (1u << 2)
#define ACPI_FADT_P_LVL2_UP (1u << 3)
#define ACPI_FADT_PWR_BUTTON (1u << 4)            /* 1: no fixed-feature power button */
#define ACPI_FADT_SLP_BUTTON (1u << 5)            /* 1: no fixed-feature sleep button */
#define ACPI_FADT_FIX_RTC (1u << 6)
#define ACPI_FADT_RTC_S4 (1u << 7)
#define ACPI_FADT_TMR_VAL_EXT (1u << 8)
#define ACPI_FADT_DCK_CAP (1u << 9)
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
#define ACPI_FADT_SEALED_CASE (1u << 11)
#define ACPI_FADT_HEADLESS (1u << 12)
#define ACPI_FADT_CPU_SW_SLP (1u << 13)
#define ACPI_FADT_PCI_EXP_WAK (1u << 14)
#define ACPI_FADT_USE_PLATFORM_CLOCK (1u << 15)
#define ACPI_FADT_S4_RTC_STS_VALID (1u << 16)
#define ACPI_FADT_REMOTE_POWER_ON_CAPABLE (1u << 17)
#define ACPI_FADT_FORCE_APIC_CLUSTER_MODEL (1u << 18)
#define ACPI_FADT_FORCE_APIC_PHYSICAL_DESTINATION_MODE (1u << 19)
#define ACPI_FADT_HW_REDUCED_ACPI (1u << 20)
#define ACPI_FADT_LOW_POWER_S0_IDLE_CAPABLE (1u << 21)

/* IA-PC Boot Architecture Flags (Table 5.11) */
#define ACPI_IAPC_BOOT_ARCH_LEGACY_DEVICES (1u << 0)
#define ACPI_IAPC_BOOT_ARCH_8042 (1u << 1)
#define ACPI_IAPC_BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)
#define ACPI_IAPC_BOOT_ARCH_MSI_NOT_SUPPORTED (1u << 3)
#define ACPI_IAPC_BOOT_ARCH_PCIE_ASPM_CONTROLS (1u << 4)
#define ACPI_IAPC_BOOT_ARCH_CMOS_RTC_NOT_PRESENT (1u << 5)

/*
 * 4.8.3.7 Sleep Control and Status Registers (hardware-reduced ACPI), 8 bits each.
 * SLEEP_CONTROL_REG: bits 4:2 SLP_TYPx, bit 5 SLP_EN (write-only), other bits reserved.
 * SLEEP_STATUS_REG: bit 7 WAK_STS (write 1 to clear), other bits reserved.
 * Linux (ACPICA hwesleep.c, ACPI_X_SLEEP_TYPE_MASK/ACPI_X_SLEEP_ENABLE/ACPI_X_WAKE_STATUS) uses the same bits.
 */
#define ACPI_SLEEP_CONTROL_SLP_TYP_SHIFT 2
#define ACPI_SLEEP_CONTROL_SLP_TYP_MASK 0x1cu
#define ACPI_SLEEP_CONTROL_SLP_EN 0x20u
#define ACPI_SLEEP_STATUS_WAK_STS 0x80u

/* ---- 5.2.12 Multiple APIC Description Table (MADT) ---------------------------------------------------------- */
#define ACPI_MADT_REVISION 5 /* ACPI 6.3+ */

struct acpi_madt {
	struct acpi_table_header header;
	uint32_t local_interrupt_controller_address; /* LAPIC GPA */
	uint32_t flags;                               /* ACPI_MADT_PCAT_COMPAT */
	/* followed by interrupt controller structures, each starting with type and length bytes */
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT fixed part is 44 bytes");

#define ACPI_MADT_PCAT_COMPAT (1u << 0) /* the system also has a PC-AT dual 8259 setup */

/* Interrupt Controller Structure types (Table 5.45) */
#define ACPI_MADT_TYPE_PROCESSOR_LOCAL_APIC 0
#define ACPI_MADT_TYPE_IO_APIC 1
#define ACPI_MADT_TYPE_INTERRUPT_SOURCE_OVERRIDE 2
#define ACPI_MADT_TYPE_NMI_SOURCE 3
#define ACPI_MADT_TYPE_LOCAL_APIC_NMI 4
#define ACPI_MADT_TYPE_PROCESSOR_LOCAL_X2APIC 9
#define ACPI_MADT_TYPE_LOCAL_X2APIC_NMI 10

/* 5.2.12.2 Processor Local APIC Structure */
struct acpi_madt_local_apic {
	uint8_t type;   /* ACPI_MADT_TYPE_PROCESSOR_LOCAL_APIC */
	uint8_t length; /* 8 */
	uint8_t acpi_processor_uid;
	uint8_t apic_id;
	uint32_t flags; /* ACPI_MADT_LAPIC_* */
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_madt_local_apic) == 8, "MADT Local APIC is 8 bytes");

#define ACPI_MADT_LAPIC_ENABLED (1u << 0)
#define ACPI_MADT_LAPIC_ONLINE_CAPABLE (1u << 1)

/* 5.2.12.3 I/O APIC Structure */
struct acpi_madt_io_apic {
	uint8_t type;   /* ACPI_MADT_TYPE_IO_APIC */
	uint8_t length; /* 12 */
	uint8_t io_apic_id;
	uint8_t reserved;
	uint32_t io_apic_address;              /* GPA */
	uint32_t global_system_interrupt_base; /* first GSI of this I/O APIC's pins */
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_madt_io_apic) == 12, "MADT I/O APIC is 12 bytes");

/* 5.2.12.5 Interrupt Source Override Structure */
struct acpi_madt_interrupt_source_override {
	uint8_t type;   /* ACPI_MADT_TYPE_INTERRUPT_SOURCE_OVERRIDE */
	uint8_t length; /* 10 */
	uint8_t bus;    /* 0 = ISA */
	uint8_t source; /* bus-relative (ISA) IRQ */
	uint32_t global_system_interrupt;
	uint16_t flags; /* ACPI_MPS_INTI_* */
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_madt_interrupt_source_override) == 10, "MADT ISO is 10 bytes");

/* 5.2.12.7 Local APIC NMI Structure */
struct acpi_madt_local_apic_nmi {
	uint8_t type;   /* ACPI_MADT_TYPE_LOCAL_APIC_NMI */
	uint8_t length; /* 6 */
	uint8_t acpi_processor_uid; /* 0xff = all processors */
	uint16_t flags;             /* ACPI_MPS_INTI_* */
	uint8_t local_apic_lint;    /* LINTn input */
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_madt_local_apic_nmi) == 6, "MADT Local APIC NMI is 6 bytes");

/* 5.2.12.12 Processor Local x2APIC Structure (for APIC IDs >= 255; not emitted yet) */
struct acpi_madt_local_x2apic {
	uint8_t type;   /* ACPI_MADT_TYPE_PROCESSOR_LOCAL_X2APIC */
	uint8_t length; /* 16 */
	uint16_t reserved;
	uint32_t x2apic_id;
	uint32_t flags; /* ACPI_MADT_LAPIC_* */
	uint32_t acpi_processor_uid;
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_madt_local_x2apic) == 16, "MADT Local x2APIC is 16 bytes");

/* MPS INTI flags (Table 5.50) */
#define ACPI_MPS_INTI_POLARITY_CONFORMS 0x0u
#define ACPI_MPS_INTI_POLARITY_ACTIVE_HIGH 0x1u
#define ACPI_MPS_INTI_POLARITY_ACTIVE_LOW 0x3u
#define ACPI_MPS_INTI_TRIGGER_CONFORMS (0x0u << 2)
#define ACPI_MPS_INTI_TRIGGER_EDGE (0x1u << 2)
#define ACPI_MPS_INTI_TRIGGER_LEVEL (0x3u << 2)

/* ---- 5.2.11.1 DSDT: header + AML; revision >= 2 means 64-bit AML integers ---------------------------------- */
#define ACPI_DSDT_REVISION 2

/* ---- 20.2 AML encoding: opcodes and prefixes ---------------------------------------------------------------- */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_ALIAS_OP 0x06
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_METHOD_OP 0x14
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX 0x5b
#define AML_EXT_DEVICE_OP 0x82  /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR 0x5c      /* '\' */
#define AML_PARENT_PREFIX_CHAR 0x5e /* '^' */
#define AML_RETURN_OP 0xa4
#define AML_ONES_OP 0xff
#define AML_NULL_NAME 0x00

/* PkgLength (20.2.4): byte 0 bits 7:6 = count of following bytes; with 0 following bytes, bits 5:0 are the
 * length; else bits 3:0 are the low nibble and each following byte the next 8 bits. The length counts itself. */
#define AML_PKGLENGTH_MAX 0x0fffffffu

/* MethodFlags (20.2.5.2): bits 2:0 ArgCount, bit 3 SerializeFlag, bits 7:4 SyncLevel */
#define AML_METHOD_SERIALIZED 0x08u

/* ---- 6.4 Resource Data Types -------------------------------------------------------------------------------- */
/* Small resource items: byte 0 = tag (bits 6:3 name, bits 2:0 length of the data that follows) */
#define ACPI_RES_IRQ_NOFLAGS_TAG 0x22     /* IRQ, 2 data bytes: 16-bit IRQ mask (edge, active high, exclusive) */
#define ACPI_RES_IRQ_TAG 0x23             /* IRQ, 3 data bytes: mask + information byte */
#define ACPI_RES_IO_TAG 0x47              /* I/O port, 7 data bytes */
#define ACPI_RES_END_TAG 0x79             /* End tag, 1 data byte: checksum (0 = not checked) */
/* Large resource items: byte 0 = tag, bytes 1-2 = length of the data that follows */
#define ACPI_RES_MEMORY32_FIXED_TAG 0x86  /* 9 data bytes */
#define ACPI_RES_DWORD_ADDRESS_TAG 0x87   /* 23 data bytes (without the optional resource source) */
#define ACPI_RES_QWORD_ADDRESS_TAG 0x8a   /* 43 data bytes (without the optional resource source) */

#define ACPI_RES_IO_DECODE16 0x01         /* I/O information: decodes 16 address bits */
#define ACPI_RES_IRQ_EDGE 0x01            /* IRQ information: _HE (1 = edge) */
#define ACPI_RES_IRQ_ACTIVE_LOW 0x08      /* _LL */
#define ACPI_RES_IRQ_SHARED 0x10          /* _SHR */
#define ACPI_RES_MEMORY_READ_WRITE 0x01   /* Memory32Fixed information: _RW */

#define ACPI_RES_ADDRESS_SPACE_MEMORY 0   /* address space descriptor resource type */
#define ACPI_RES_ADDRESS_CONSUMER 0x01    /* general flags bit 0: 1 = consumer, 0 = producer */
#define ACPI_RES_ADDRESS_SUB_DECODE 0x02  /* _DEC: 1 = subtractive */
#define ACPI_RES_ADDRESS_MIN_FIXED 0x04   /* _MIF */
#define ACPI_RES_ADDRESS_MAX_FIXED 0x08   /* _MAF */
#define ACPI_RES_MEM_READ_WRITE 0x01      /* memory type-specific flags: _RW */
#define ACPI_RES_MEM_CACHE_SHIFT 1        /* _MEM, bits 2:1: 0 non-cacheable, 1 cacheable, 2 WC, 3 prefetchable */

#endif
