/* SPDX-License-Identifier: MIT */
/*
 * openhv/pvh.h - wire format of the PVH boot ABI (Xen's "HVM direct boot"), as Linux's PVH entry reads it.
 *
 * Follows xen/include/public/arch-x86/hvm/start_info.h (version 1) and xen/include/public/elfnote.h. The loader
 * enters the kernel's XEN_ELFNOTE_PHYS32_ENTRY in 32-bit protected mode, paging off, with EBX = guest-physical
 * address of struct hvm_start_info. Linux: arch/x86/platform/pvh/head.S and enlighten.c. Data only.
 */
#ifndef OPENHV_PVH_H
#define OPENHV_PVH_H

#include <stdint.h>

/* ELF note carrying the 32-bit physical PVH entry point: owner "Xen", type 18, descriptor 4 or 8 bytes. */
#define XEN_ELFNOTE_NAME "Xen"
#define XEN_ELFNOTE_PHYS32_ENTRY 18

#define XEN_HVM_START_MAGIC_VALUE 0x336ec578u

/* Memory map entry types (the E820 numbering). */
#define XEN_HVM_MEMMAP_TYPE_RAM 1
#define XEN_HVM_MEMMAP_TYPE_RESERVED 2
#define XEN_HVM_MEMMAP_TYPE_ACPI 3
#define XEN_HVM_MEMMAP_TYPE_NVS 4
#define XEN_HVM_MEMMAP_TYPE_UNUSABLE 5

/* The start-of-day structure, all addresses guest-physical, all sizes in bytes. */
struct hvm_start_info {
	uint32_t magic;          /* XEN_HVM_START_MAGIC_VALUE */
	uint32_t version;        /* 0 or 1; 1 adds memmap_paddr/memmap_entries */
	uint32_t flags;          /* SIF_xxx; 0 here */
	uint32_t nr_modules;     /* entries at modlist_paddr */
	uint64_t modlist_paddr;  /* struct hvm_modlist_entry[nr_modules]; the first module is the initrd */
	uint64_t cmdline_paddr;  /* NUL-terminated ASCII command line, 0 if none */
	uint64_t rsdp_paddr;     /* ACPI RSDP, 0 if none (the guest then scans for it) */
	uint64_t memmap_paddr;   /* version 1: struct hvm_memmap_table_entry[memmap_entries] */
	uint32_t memmap_entries; /* version 1 */
	uint32_t reserved;       /* must be zero */
};

struct hvm_modlist_entry {
	uint64_t paddr;         /* module start */
	uint64_t size;          /* bytes */
	uint64_t cmdline_paddr; /* module command line, 0 if none */
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;     /* base */
	uint64_t size;     /* bytes */
	uint32_t type;     /* XEN_HVM_MEMMAP_TYPE_* */
	uint32_t reserved; /* must be zero */
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info size");
_Static_assert(__builtin_offsetof(struct hvm_start_info, modlist_paddr) == 16, "modlist_paddr offset");
_Static_assert(__builtin_offsetof(struct hvm_start_info, memmap_paddr) == 40, "memmap_paddr offset");
_Static_assert(__builtin_offsetof(struct hvm_start_info, memmap_entries) == 48, "memmap_entries offset");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry size");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry size");

#endif
