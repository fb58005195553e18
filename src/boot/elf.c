// SPDX-License-Identifier: MIT
#define LOG_TAG "boot-elf"
#include "boot/elf.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "boot/layout.h"
#include "lib/log.h"
#include "openhv/pvh.h"

bool boot_elf_is_elf(const uint8_t *img, size_t len)
{
	return img && len >= SELFMAG && memcmp(img, ELFMAG, SELFMAG) == 0;
}

/* True if [off, off + size) lies inside a buffer of @len bytes (no overflow). */
static bool range_in(uint64_t off, uint64_t size, uint64_t len)
{
	return off <= len && size <= len - off;
}

static uint64_t align_up64(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* What one pass over a note segment found. */
struct elf_notes {
	bool has_pvh;
	uint32_t pvh_entry;
	bool linux_owner; /* a note owned by "Linux": the image is a Linux kernel */
};

/*
 * Walk the note segment [off, off + size) of @img: record the PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) and
 * whether any note is owned by "Linux" (include/linux/elfnote.h; every x86 vmlinux has some). Malformed note
 * segments end the walk (logged); they do not affect the 64-bit entry.
 */
static void elf_scan_notes(const uint8_t *img, uint64_t off, uint64_t size, uint64_t align, struct elf_notes *out)
{
	static const char linux_name[] = "Linux";
	uint64_t pos = 0;

	while (size - pos >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_off, desc_off, next;

		memcpy(&nh, img + off + pos, sizeof(nh));
		name_off = pos + sizeof(nh);
		desc_off = name_off + align_up64(nh.n_namesz, align); /* n_namesz < 2^32: no overflow */
		next = desc_off + align_up64(nh.n_descsz, align);
		if (desc_off > size || !range_in(desc_off, nh.n_descsz, size)) {
			log_warn("malformed ELF note at offset %#" PRIx64 ": ignoring the rest of the note segment",
				 off + pos);
			return;
		}
		if (nh.n_namesz == sizeof(linux_name) &&
		    memcmp(img + off + name_off, linux_name, sizeof(linux_name)) == 0)
			out->linux_owner = true;
		if (!out->has_pvh && nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == sizeof(XEN_ELFNOTE_NAME) &&
		    memcmp(img + off + name_off, XEN_ELFNOTE_NAME, sizeof(XEN_ELFNOTE_NAME)) == 0) {
			uint64_t v = 0;

			/* Linux emits it as .long in newer and _ASM_PTR (8 bytes) in older x86-64 kernels. */
			if ((nh.n_descsz == 4 || nh.n_descsz == 8)) {
				memcpy(&v, img + off + desc_off, nh.n_descsz); /* little-endian host */
				if (v <= UINT32_MAX) {
					out->has_pvh = true;
					out->pvh_entry = (uint32_t)v;
				}
			}
			if (!out->has_pvh)
				log_warn("PVH entry note with bad descriptor (%u bytes, value %#" PRIx64 "): ignored",
					 nh.n_descsz, v);
		}
		if (next >= size)
			break;
		pos = next;
	}
}

/* Address @a inside [base, base + size)? (no overflow) */
static bool addr_in(uint64_t a, uint64_t base, uint64_t size)
{
	return a >= base && a - base < size;
}

/* Copy program header @i out of the image (the table was bounds-checked against the image). */
static void elf_read_phdr(const uint8_t *img, const Elf64_Ehdr *eh, unsigned i, Elf64_Phdr *ph)
{
	memcpy(ph, img + eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

int boot_elf_parse(struct vid_memory *mem, const uint8_t *img, size_t len, struct boot_elf_info *info)
{
	Elf64_Ehdr eh;
	unsigned nload = 0;

	memset(info, 0, sizeof(*info));
	if (!boot_elf_is_elf(img, len) || len < sizeof(eh)) {
		log_err("kernel: not an ELF image or truncated header (%zu bytes)", len);
		return -ENOEXEC;
	}
	memcpy(&eh, img, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_machine != EM_X86_64 || eh.e_type != ET_EXEC) {
		log_err("kernel: ELF is not a little-endian x86-64 ELF64 executable (class %u, data %u, machine %u, "
			"type %u)", eh.e_ident[EI_CLASS], eh.e_ident[EI_DATA], eh.e_machine, eh.e_type);
		return -ENOEXEC;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > BOOT_ELF_MAX_PHDRS ||
	    !range_in(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), len)) {
		log_err("kernel: bad ELF program header table (offset %#" PRIx64 ", %u entries of %u bytes)",
			(uint64_t)eh.e_phoff, eh.e_phnum, eh.e_phentsize);
		return -ENOEXEC;
	}

	info->start = UINT64_MAX;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		elf_read_phdr(img, &eh, i, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz || !range_in(ph.p_offset, ph.p_filesz, len)) {
			log_err("kernel: PT_LOAD %u: file range [%#" PRIx64 " +%#" PRIx64 ") / memsz %#" PRIx64
				" outside the %zu-byte image", i, (uint64_t)ph.p_offset, (uint64_t)ph.p_filesz,
				(uint64_t)ph.p_memsz, len);
			return -ENOEXEC;
		}
		if (ph.p_paddr < LAYOUT_KERNEL_MIN_GPA) {
			log_err("kernel: PT_LOAD %u at %#" PRIx64 " is below %#llx (boot data and firmware area)", i,
				(uint64_t)ph.p_paddr, LAYOUT_KERNEL_MIN_GPA);
			return -ENOEXEC;
		}
		if (!vid_memory_ptr(mem, ph.p_paddr, ph.p_memsz)) {
			log_err("kernel: PT_LOAD %u [%#" PRIx64 " +%#" PRIx64 ") is not inside guest RAM (%" PRIu64
				" MiB)", i, (uint64_t)ph.p_paddr, (uint64_t)ph.p_memsz, vid_memory_size(mem) >> 20);
			return -ENOSPC;
		}
		/* No overlap with an earlier PT_LOAD (both ranges are inside RAM, so no sum overflows). */
		for (unsigned j = 0; j < i; j++) {
			Elf64_Phdr o;

			elf_read_phdr(img, &eh, j, &o);
			if (o.p_type != PT_LOAD || o.p_memsz == 0)
				continue;
			if (ph.p_paddr < o.p_paddr + o.p_memsz && o.p_paddr < ph.p_paddr + ph.p_memsz) {
				log_err("kernel: PT_LOAD %u and %u overlap", j, i);
				return -ENOEXEC;
			}
		}
		if (ph.p_paddr < info->start)
			info->start = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > info->end)
			info->end = ph.p_paddr + ph.p_memsz;
		nload++;
	}
	if (nload == 0) {
		log_err("kernel: ELF has no loadable segment");
		return -ENOEXEC;
	}

	/*
	 * 64-bit entry: x86-64 vmlinux links with ENTRY(phys_startup_64), so e_entry is already physical
	 * (arch/x86/kernel/vmlinux.lds.S). Accept a virtual e_entry too, translated through its PT_LOAD.
	 */
	for (unsigned pass = 0; pass < 2 && !info->has_entry64; pass++) {
		for (unsigned i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;

			elf_read_phdr(img, &eh, i, &ph);
			if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
				continue;
			if (pass == 0 && addr_in(eh.e_entry, ph.p_paddr, ph.p_memsz)) {
				info->entry64 = eh.e_entry;
			} else if (pass == 1 && addr_in(eh.e_entry, ph.p_vaddr, ph.p_memsz)) {
				info->entry64 = ph.p_paddr + (eh.e_entry - ph.p_vaddr);
			} else {
				continue;
			}
			info->has_entry64 = true;
			break;
		}
	}

	/* Notes: the PVH entry (it must point into loaded memory) and whether this is a Linux kernel. */
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		struct elf_notes notes = { .has_pvh = false };
		Elf64_Phdr ph;
		uint32_t entry;

		elf_read_phdr(img, &eh, i, &ph);
		if (ph.p_type != PT_NOTE)
			continue;
		if (!range_in(ph.p_offset, ph.p_filesz, len)) {
			log_warn("kernel: PT_NOTE %u outside the image: ignored", i);
			continue;
		}
		elf_scan_notes(img, ph.p_offset, ph.p_filesz, ph.p_align == 8 ? 8 : 4, &notes);
		if (notes.linux_owner)
			info->is_linux = true;
		if (!notes.has_pvh || info->has_pvh)
			continue;
		entry = notes.pvh_entry;
		for (unsigned j = 0; j < eh.e_phnum; j++) {
			Elf64_Phdr l;

			elf_read_phdr(img, &eh, j, &l);
			if (l.p_type == PT_LOAD && l.p_memsz && addr_in(entry, l.p_paddr, l.p_memsz)) {
				info->has_pvh = true;
				info->pvh_entry = entry;
				break;
			}
		}
		if (!info->has_pvh)
			log_warn("kernel: PVH entry %#x is not inside a loadable segment: ignored", entry);
	}
	return 0;
}

int boot_elf_load(struct vid_memory *mem, const uint8_t *img, size_t len, struct boot_elf_info *info)
{
	Elf64_Ehdr eh;
	int ret;

	ret = boot_elf_parse(mem, img, len, info);
	if (ret)
		return ret;
	memcpy(&eh, img, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint8_t *dst;

		elf_read_phdr(img, &eh, i, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		dst = vid_memory_ptr(mem, ph.p_paddr, ph.p_memsz); /* validated by boot_elf_parse() */
		if (!dst)
			return -EFAULT;
		memcpy(dst, img + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}
	return 0;
}
