/* SPDX-License-Identifier: MIT */
/*
 * openhv/bootparam.h - wire format of the Linux/x86 boot protocol: the bzImage setup header and the "zero page"
 * (struct boot_params) a 64-bit loader hands the kernel in RSI.
 *
 * Follows Linux arch/x86/include/uapi/asm/bootparam.h and Documentation/x86/boot.rst ("THE REAL-MODE KERNEL
 * HEADER", "64-bit BOOT PROTOCOL"), Documentation/x86/zero-page.rst. Only the fields OpenHV reads or fills are
 * named; the rest of the 4 KiB page is padding that stays zero. Data only. Do not include together with Linux's
 * <asm/bootparam.h> (same struct names).
 */
#ifndef OPENHV_BOOTPARAM_H
#define OPENHV_BOOTPARAM_H

#include <stdint.h>

/* ---- bzImage file layout ------------------------------------------------------------------------------- */
#define BOOT_SETUP_HEADER_OFFSET 0x1f1u    /* struct setup_header within the image and within boot_params */
#define BOOT_SETUP_SECTOR_SIZE 512u        /* setup code is (setup_sects + 1) sectors; setup_sects 0 means 4 */
#define BOOT_SETUP_SECTS_DEFAULT 4u
#define BOOT_HDR_MAGIC 0x53726448u         /* "HdrS" at 0x202 */
#define BOOT_FLAG_MAGIC 0xaa55u            /* boot_flag at 0x1fe */
#define BOOT_64BIT_ENTRY_OFFSET 0x200u     /* 64-bit entry = protected-mode code load address + 0x200 */
#define BOOT_TYPE_OF_LOADER_UNDEFINED 0xffu
#define BOOT_CMDLINE_SIZE_DEFAULT 255u     /* command line limit for protocols before 2.06 */

/* loadflags */
#define LOADED_HIGH (1u << 0)
#define KASLR_FLAG (1u << 1)
#define QUIET_FLAG (1u << 5)
#define KEEP_SEGMENTS (1u << 6)
#define CAN_USE_HEAP (1u << 7)

/* xloadflags */
#define XLF_KERNEL_64 (1u << 0)
#define XLF_CAN_BE_LOADED_ABOVE_4G (1u << 1)

/* E820 types (arch/x86/include/asm/e820/types.h) */
#define E820_TYPE_RAM 1u
#define E820_TYPE_RESERVED 2u
#define E820_TYPE_ACPI 3u
#define E820_TYPE_NVS 4u
#define E820_TYPE_UNUSABLE 5u

#define E820_MAX_ENTRIES_ZEROPAGE 128

/* The setup header, at 0x1f1 of the bzImage file and of boot_params. Protocol version noted where it appeared. */
struct setup_header {
	uint8_t setup_sects;     /* 0x1f1: setup code size in 512-byte sectors (0: 4) */
	uint16_t root_flags;
	uint32_t syssize;        /* protected-mode code size in 16-byte paragraphs */
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;      /* 0x1fe: 0xaa55 */
	uint16_t jump;           /* 0x200: short jump; header ends at 0x202 + its second byte */
	uint32_t header;         /* 0x202: "HdrS" */
	uint16_t version;        /* 0x206: boot protocol version, major << 8 | minor */
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;  /* 0x210: write 0xff (undefined loader) */
	uint8_t loadflags;       /* 0x211: LOADED_HIGH, ... */
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;  /* 0x218: initrd address, low 32 bits */
	uint32_t ramdisk_size;   /* 0x21c: initrd bytes, low 32 bits */
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;      /* 0x228 (2.02): command line address, low 32 bits */
	uint32_t initrd_addr_max;   /* 0x22c (2.03): highest address the initrd may occupy (inclusive) */
	uint32_t kernel_alignment;  /* 0x230 (2.05): required alignment of the kernel load address */
	uint8_t relocatable_kernel; /* 0x234 (2.05) */
	uint8_t min_alignment;      /* 0x235 (2.10): log2 */
	uint16_t xloadflags;        /* 0x236 (2.12): XLF_* */
	uint32_t cmdline_size;      /* 0x238 (2.06): max command line length, without the NUL */
	uint32_t hardware_subarch;  /* 0x23c (2.07): 0 = PC */
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;    /* 0x248 (2.08): compressed payload, from the protected-mode code start */
	uint32_t payload_length;    /* 0x24c (2.08): bytes */
	uint64_t setup_data;        /* 0x250 (2.09): struct setup_data list, 0 here */
	uint64_t pref_address;      /* 0x258 (2.10): preferred load address of the protected-mode code */
	uint32_t init_size;         /* 0x260 (2.10): bytes the kernel needs from its load address while booting */
	uint32_t handover_offset;   /* 0x264 (2.11) */
	uint32_t kernel_info_offset; /* 0x268 (2.15) */
} __attribute__((packed));

struct boot_e820_entry {
	uint64_t addr;
	uint64_t size; /* bytes */
	uint32_t type; /* E820_TYPE_* */
} __attribute__((packed));

/* The "zero page": 4 KiB, guest-physical address in RSI at the 64-bit entry. */
struct boot_params {
	uint8_t _pad0[0x70];                 /* screen_info, apm_bios_info, tboot_addr, ist_info */
	uint64_t acpi_rsdp_addr;             /* 0x070: RSDP address, 0 if none */
	uint8_t _pad1[0x48];                 /* hd0/hd1_info, sys_desc_table, olpc_ofw_header */
	uint32_t ext_ramdisk_image;          /* 0x0c0: initrd address bits 63:32 */
	uint32_t ext_ramdisk_size;           /* 0x0c4: initrd size bits 63:32 */
	uint32_t ext_cmd_line_ptr;           /* 0x0c8: command line address bits 63:32 */
	uint8_t _pad2[0x11c];                /* cc_blob_address, edid_info, efi_info, alt_mem_k, scratch */
	uint8_t e820_entries;                /* 0x1e8 */
	uint8_t _pad3[6];                    /* eddbuf_entries, edd_mbr_sig_buf_entries, kbd_status, secure_boot */
	uint8_t sentinel;                    /* 0x1ef: must stay 0 (else the kernel wipes fields it distrusts) */
	uint8_t _pad4;
	struct setup_header hdr;             /* 0x1f1 */
	uint8_t _pad5[0x64];                 /* up to edd_mbr_sig_buffer[] */
	struct boot_e820_entry e820_table[E820_MAX_ENTRIES_ZEROPAGE]; /* 0x2d0 */
	uint8_t _pad6[0x330];                /* eddbuf, padding */
} __attribute__((packed));

_Static_assert(sizeof(struct setup_header) == 0x7b, "setup_header size");
_Static_assert(__builtin_offsetof(struct setup_header, boot_flag) == 0x1fe - 0x1f1, "boot_flag offset");
_Static_assert(__builtin_offsetof(struct setup_header, header) == 0x202 - 0x1f1, "header offset");
_Static_assert(__builtin_offsetof(struct setup_header, version) == 0x206 - 0x1f1, "version offset");
_Static_assert(__builtin_offsetof(struct setup_header, type_of_loader) == 0x210 - 0x1f1, "type_of_loader offset");
_Static_assert(__builtin_offsetof(struct setup_header, ramdisk_image) == 0x218 - 0x1f1, "ramdisk_image offset");
_Static_assert(__builtin_offsetof(struct setup_header, cmd_line_ptr) == 0x228 - 0x1f1, "cmd_line_ptr offset");
_Static_assert(__builtin_offsetof(struct setup_header, initrd_addr_max) == 0x22c - 0x1f1, "initrd_addr_max offset");
_Static_assert(__builtin_offsetof(struct setup_header, kernel_alignment) == 0x230 - 0x1f1, "kernel_alignment");
_Static_assert(__builtin_offsetof(struct setup_header, xloadflags) == 0x236 - 0x1f1, "xloadflags offset");
_Static_assert(__builtin_offsetof(struct setup_header, cmdline_size) == 0x238 - 0x1f1, "cmdline_size offset");
_Static_assert(__builtin_offsetof(struct setup_header, payload_offset) == 0x248 - 0x1f1, "payload_offset offset");
_Static_assert(__builtin_offsetof(struct setup_header, payload_length) == 0x24c - 0x1f1, "payload_length offset");
_Static_assert(__builtin_offsetof(struct setup_header, pref_address) == 0x258 - 0x1f1, "pref_address offset");
_Static_assert(__builtin_offsetof(struct setup_header, init_size) == 0x260 - 0x1f1, "init_size offset");
_Static_assert(sizeof(struct boot_e820_entry) == 20, "boot_e820_entry size");
_Static_assert(sizeof(struct boot_params) == 4096, "boot_params size");
_Static_assert(__builtin_offsetof(struct boot_params, acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr offset");
_Static_assert(__builtin_offsetof(struct boot_params, ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image offset");
_Static_assert(__builtin_offsetof(struct boot_params, ext_cmd_line_ptr) == 0x0c8, "ext_cmd_line_ptr offset");
_Static_assert(__builtin_offsetof(struct boot_params, e820_entries) == 0x1e8, "e820_entries offset");
_Static_assert(__builtin_offsetof(struct boot_params, sentinel) == 0x1ef, "sentinel offset");
_Static_assert(__builtin_offsetof(struct boot_params, hdr) == 0x1f1, "hdr offset");
_Static_assert(__builtin_offsetof(struct boot_params, e820_table) == 0x2d0, "e820_table offset");

#endif
