/* SPDX-License-Identifier: MIT */
/*
 * boot/elf.h - validate an ELF64 x86-64 kernel image (a vmlinux or a micro-guest) and load its PT_LOAD segments
 * into guest RAM at their physical addresses.
 *
 * The image is untrusted input: every offset, size and address is checked without overflow before anything is
 * copied, and nothing is written to guest memory unless the whole image is valid. Follows the ELF-64 Object File
 * Format (program headers, notes) and what Linux's own loaders do with a vmlinux (arch/x86/boot/compressed/misc.c
 * parse_elf(); the PVH note of arch/x86/platform/pvh/head.S).
 */
#ifndef OPENHV_BOOT_ELF_H
#define OPENHV_BOOT_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vid/memory.h"

#define BOOT_ELF_MAX_PHDRS 128u /* more program headers than this: refused (a vmlinux has ~5) */

/* What a loaded ELF kernel offers. All addresses guest-physical. */
struct boot_elf_info {
	bool has_entry64;    /* e_entry lies inside a PT_LOAD (as a physical or a virtual address) */
	uint64_t entry64;    /* physical address of e_entry: the 64-bit entry (startup_64 of a vmlinux) */
	bool has_pvh;        /* a valid "Xen" XEN_ELFNOTE_PHYS32_ENTRY note inside a PT_LOAD */
	uint32_t pvh_entry;  /* its 32-bit physical entry */
	bool is_linux;       /* has a note owned by "Linux": a Linux vmlinux, whose e_entry is startup_64 */
	uint64_t start, end; /* lowest p_paddr and highest p_paddr + p_memsz over the PT_LOADs */
};

/* True if @img (@len bytes) starts with the ELF magic. */
bool boot_elf_is_elf(const uint8_t *img, size_t len);

/*
 * Validate the ELF64 little-endian x86-64 ET_EXEC image @img (@len bytes, borrowed) and describe it in *@info
 * without touching guest memory. Each PT_LOAD with p_memsz > 0 must have p_filesz <= p_memsz, file bytes inside
 * the image, p_paddr >= LAYOUT_KERNEL_MIN_GPA, [p_paddr, p_paddr + p_memsz) inside one RAM region of @mem, and no
 * overlap with another PT_LOAD. Notes are read from PT_NOTE segments (4- or 8-byte aligned as p_align says).
 * Returns 0; -ENOEXEC for a malformed image or one that is not ELF64/x86-64/ET_EXEC or has no PT_LOAD or loads
 * below 1 MiB; -ENOSPC if a segment does not fit into guest RAM.
 */
int boot_elf_parse(struct vid_memory *mem, const uint8_t *img, size_t len, struct boot_elf_info *info);

/*
 * boot_elf_parse(), then copy each PT_LOAD's p_filesz bytes to p_paddr and zero the rest up to p_memsz.
 * Same returns; guest memory is untouched on error.
 */
int boot_elf_load(struct vid_memory *mem, const uint8_t *img, size_t len, struct boot_elf_info *info);

#endif
