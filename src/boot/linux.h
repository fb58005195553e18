/* SPDX-License-Identifier: MIT */
/*
 * boot/linux.h - Linux x86-64 direct boot: load a kernel (+ initrd, command line) into guest RAM and describe the
 * CPU state VP 0 must start in. Preparation is host-side only (no /dev/kvm); applying the state needs a VP.
 *
 * Kernel formats:
 *   - ELF64 vmlinux (or any x86-64 ET_EXEC ELF, e.g. a micro-guest): PT_LOADs at their p_paddr.
 *   - bzImage (boot protocol >= 2.12): by default its compressed payload (gzip, xz, lz4 legacy, zstd) is
 *     decompressed host-side into the ELF vmlinux it contains, which is then loaded as above (the kernel's own
 *     decompressor would run interpreted in the guest, which is very slow on software KVM). With
 *     decompress_in_guest, or for a payload format we cannot decompress (bzip2, lzma, lzo) unless PVH was
 *     asked for, the protected-mode code is loaded as is per the 64-bit boot protocol.
 *
 * Entry kinds:
 *   - PVH (xen/include/public/arch-x86/hvm/start_info.h; Linux arch/x86/platform/pvh/): 32-bit protected mode,
 *     paging off, EBX = struct hvm_start_info at LAYOUT_BOOT_INFO_GPA. Needs the ELF note
 *     XEN_ELFNOTE_PHYS32_ENTRY ("Xen", type 18).
 *   - LINUX64 (Documentation/x86/boot.rst "64-bit BOOT PROTOCOL"): long mode, RSI = struct boot_params at
 *     LAYOUT_BOOT_INFO_GPA, CR3 = identity map of 0-4 GiB in 2 MiB pages at LAYOUT_PAGE_TABLES_GPA. For an ELF
 *     the entry is the physical e_entry (a vmlinux links with ENTRY(phys_startup_64), so startup_64 of
 *     arch/x86/kernel/head_64.S, which expects exactly this state); for an unextracted bzImage it is the load
 *     address + 0x200 (startup_64 of arch/x86/boot/compressed/head_64.S).
 *
 * Guest-physical layout written (boot/layout.h): boot info page, PVH memory map or boot_params e820 table,
 * page tables (LINUX64), command line, PVH module list, kernel at its physical addresses (>= 1 MiB), initrd
 * page-aligned at the top of the low RAM region (below 1 GiB and the kernel's initrd_addr_max).
 *
 * Memory map given to the guest (both entry kinds), in address order:
 *   RAM       [0, LAYOUT_LOW_RAM_END)
 *   reserved  [LAYOUT_LOW_RAM_END, 1 MiB)   EBDA, VGA hole, BIOS area; holds the ACPI tables at LAYOUT_ACPI_GPA.
 *             One reserved entry rather than an ACPI (type 3) one: type 3 means "reclaimable after the tables
 *             are read", but the RSDP must stay findable by the legacy 0xE0000-0xFFFFF scan, and Linux treats
 *             the whole 640 KiB-1 MiB range as reserved anyway (so a type 3 entry buys nothing).
 *   RAM       [1 MiB, end of the low RAM region)
 *   RAM       the high region (4 GiB and up), if any.
 * Nothing is reported in the MMIO hole.
 */
#ifndef OPENHV_BOOT_LINUX_H
#define OPENHV_BOOT_LINUX_H

#include <stdbool.h>
#include <stdint.h>

#include "vid/memory.h"

struct vid_vp;

#define BOOT_LINUX_KERNEL_MAX (1ull << 30) /* largest kernel file read (bytes) */
#define BOOT_PAGE_TABLES_SIZE (6 * 4096u)  /* PML4 + PDPT + 4 PDs at LAYOUT_PAGE_TABLES_GPA */
#define BOOT_LINUX_E820_MAX 8u             /* entries we ever produce */

enum boot_entry_kind { BOOT_ENTRY_AUTO = 0, BOOT_ENTRY_PVH, BOOT_ENTRY_LINUX64 };

struct boot_linux_config {
	const char *kernel_path;   /* ELF vmlinux (with or without the PVH note) or a bzImage */
	const char *initrd_path;   /* NULL: none */
	const char *cmdline;       /* NULL: "" ; at most LAYOUT_CMDLINE_MAX-1 bytes, else -E2BIG */
	enum boot_entry_kind entry; /* AUTO: PVH if the (extracted) ELF has the PVH note, else LINUX64 */
	uint64_t rsdp_gpa;         /* 0: none (the guest scans 0xE0000-0xFFFFF) */
	bool decompress_in_guest;  /* bzImage only: load it unextracted (LINUX64 only; slow under software KVM) */
};

/* What VP 0 must be set to (applied by boot_linux_apply or by a test). Addresses guest-physical. */
struct boot_entry_state {
	enum boot_entry_kind kind;   /* PVH or LINUX64, never AUTO */
	uint64_t entry;              /* PVH: 32-bit phys entry; LINUX64: 64-bit entry RIP (phys, identity-mapped) */
	uint64_t info_gpa;           /* PVH: hvm_start_info; LINUX64: boot_params */
	uint64_t pml4_gpa;           /* LINUX64: identity-map page tables; PVH: 0 */
	uint64_t kernel_start, kernel_end; /* GPA range occupied by the kernel image (for tests/logs) */
	uint64_t initrd_gpa, initrd_size;  /* 0, 0 without an initrd; size in bytes */
};

/*
 * Load the kernel, initrd and command line of @cfg into @mem and write the boot data for the chosen entry kind;
 * describe the resulting VP 0 state in *@out. Files are read with read(2); the kernel file is refused above
 * BOOT_LINUX_KERNEL_MAX. @mem should be fresh (zeroed): only the ranges listed above are written. On error
 * *@out is zeroed and guest memory may hold a partly written image.
 * Returns 0, or:
 *   -EINVAL     bad arguments (NULL pointers, no kernel path, unknown entry kind, RSDP outside RAM, empty initrd)
 *   -E2BIG      command line longer than LAYOUT_CMDLINE_MAX - 1 bytes, or than the bzImage's cmdline_size
 *   -ENOEXEC    not a kernel we can load: neither ELF nor bzImage, malformed, wrong architecture, loads below
 *               1 MiB, corrupt compressed payload, no usable entry point
 *   -EOPNOTSUPP PVH requested but not offered (no PVH note; decompress_in_guest; payload compression we
 *               cannot decompress host-side)
 *   -ENOSPC     the kernel does not fit into guest RAM, or the initrd does not fit between it and the limits
 *   -EFBIG      kernel file or decompressed payload too large
 *   -ENOENT, -EACCES, -EIO, ... from open/read; -ENOMEM
 */
int boot_linux_prepare(struct vid_memory *mem, const struct boot_linux_config *cfg, struct boot_entry_state *out);

/*
 * Set VP @bsp to @st through vid_vp_set_pvh_state() (EIP = entry, EBX = info_gpa) or vid_vp_set_long_mode_state()
 * (RIP = entry, CR3 = pml4_gpa, RSI = info_gpa). Before the partition runs. 0, -EINVAL for a bad state (AUTO,
 * PVH addresses above 4 GiB), or the -errno of the vid call.
 */
int boot_linux_apply(struct vid_vp *bsp, const struct boot_entry_state *st);

/* "auto", "pvh", "linux64" (also for logs); "?" for anything else. */
const char *boot_entry_kind_name(enum boot_entry_kind kind);

/* Parse "auto", "pvh" or "linux64" (case-sensitive) into *@out. 0 or -EINVAL. */
int boot_entry_kind_parse(const char *s, enum boot_entry_kind *out);

#endif
