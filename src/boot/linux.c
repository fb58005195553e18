// SPDX-License-Identifier: MIT
#define LOG_TAG "boot-linux"
#include "boot/linux.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "boot/bzimage.h"
#include "boot/elf.h"
#include "boot/layout.h"
#include "lib/log.h"
#include "openhv/bootparam.h"
#include "openhv/pvh.h"
#include "vid/vid.h"

#define SZ_1M (1ull << 20)
#define SZ_4G (1ull << 32)
#define PAGE_SIZE_4K 4096ull
#define LINUX_COMMAND_LINE_SIZE 2048u /* x86 COMMAND_LINE_SIZE (Linux 6.1): the kernel cuts longer lines */
#define SYNTH_KERNEL_ALIGNMENT 0x200000u /* CONFIG_PHYSICAL_ALIGN default, for a header we make up */

/* x86-64 paging entry bits */
#define PTE_PRESENT (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)

struct e820_map {
	unsigned n;
	struct {
		uint64_t addr, size;
		uint32_t type;
	} e[BOOT_LINUX_E820_MAX];
};

/* The kernel as loaded, before the boot data is written. */
struct loaded_kernel {
	enum boot_entry_kind kind;
	uint64_t entry;
	uint64_t start, end;
	const struct boot_bzimage *bz; /* NULL for a plain ELF file: boot_params gets a made-up header */
	uint64_t initrd_limit;         /* exclusive upper bound of the initrd */
};

const char *boot_entry_kind_name(enum boot_entry_kind kind)
{
	switch (kind) {
	case BOOT_ENTRY_AUTO:
		return "auto";
	case BOOT_ENTRY_PVH:
		return "pvh";
	case BOOT_ENTRY_LINUX64:
		return "linux64";
	}
	return "?";
}

int boot_entry_kind_parse(const char *s, enum boot_entry_kind *out)
{
	static const enum boot_entry_kind kinds[] = { BOOT_ENTRY_AUTO, BOOT_ENTRY_PVH, BOOT_ENTRY_LINUX64 };

	if (!s || !out)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(s, boot_entry_kind_name(kinds[i])) == 0) {
			*out = kinds[i];
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- files ------------------------------------------------------------------------------------------------ */

static int file_open_regular(const char *path, const char *what, int *fd_out, uint64_t *size)
{
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		log_err("%s %s: %s", what, path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("%s %s: not a regular file", what, path);
		close(fd);
		return -EINVAL;
	}
	*fd_out = fd;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Read exactly @len bytes; a file that shrank underneath us is -EIO. */
static int file_read_full(int fd, uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t chunk = len - done > (1u << 30) ? (1u << 30) : len - done;
		ssize_t n = read(fd, buf + done, chunk);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int file_read_all(const char *path, const char *what, uint64_t max, uint8_t **buf, size_t *len)
{
	uint64_t size;
	uint8_t *p;
	int fd, ret;

	*buf = NULL;
	*len = 0;
	ret = file_open_regular(path, what, &fd, &size);
	if (ret)
		return ret;
	if (size > max) {
		log_err("%s %s: %" PRIu64 " bytes, more than the %" PRIu64 " MiB limit", what, path, size, max >> 20);
		close(fd);
		return -EFBIG;
	}
	p = malloc(size ? size : 1);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	ret = file_read_full(fd, p, size);
	close(fd);
	if (ret) {
		log_err("%s %s: read: %s", what, path, strerror(-ret));
		free(p);
		return ret;
	}
	*buf = p;
	*len = size;
	return 0;
}

/* ---- kernel ----------------------------------------------------------------------------------------------- */

static uint64_t initrd_limit_of(const struct boot_bzimage *bz)
{
	uint64_t limit = LAYOUT_INITRD_MAX_GPA + 1;

	if (bz && (uint64_t)bz->hdr.initrd_addr_max + 1 < limit)
		limit = (uint64_t)bz->hdr.initrd_addr_max + 1;
	return limit;
}

static int kernel_load_elf(struct vid_memory *mem, const struct boot_linux_config *cfg, const uint8_t *img,
			   size_t len, const struct boot_bzimage *bz, struct loaded_kernel *lk)
{
	struct boot_elf_info ei;
	enum boot_entry_kind kind;
	int ret;

	ret = boot_elf_parse(mem, img, len, &ei);
	if (ret)
		return ret;
	if (ei.end > SZ_4G) {
		log_err("kernel: image [%#" PRIx64 ", %#" PRIx64 ") reaches above 4 GiB", ei.start, ei.end);
		return -ENOEXEC;
	}
	kind = cfg->entry;
	/*
	 * AUTO: a Linux vmlinux takes the 64-bit boot protocol, measured slightly faster than PVH on the software
	 * KVM (lean kernel to power-off: 40.58 M vs 40.79 M interpreted instructions; PVH's 32-bit entry code builds
	 * page tables first). Other ELF images with the PVH note (micro-guests, whose e_entry is 32-bit code) take
	 * PVH; the rest the 64-bit entry.
	 */
	if (kind == BOOT_ENTRY_AUTO)
		kind = ei.has_pvh && !(ei.is_linux && ei.has_entry64) ? BOOT_ENTRY_PVH : BOOT_ENTRY_LINUX64;
	if (kind == BOOT_ENTRY_PVH && !ei.has_pvh) {
		log_err("kernel: PVH entry requested but the ELF has no XEN_ELFNOTE_PHYS32_ENTRY note");
		return -EOPNOTSUPP;
	}
	if (kind == BOOT_ENTRY_LINUX64 && !ei.has_entry64) {
		log_err("kernel: ELF entry point is not inside a loadable segment");
		return -ENOEXEC;
	}
	ret = boot_elf_load(mem, img, len, &ei);
	if (ret)
		return ret;
	lk->kind = kind;
	lk->entry = kind == BOOT_ENTRY_PVH ? ei.pvh_entry : ei.entry64;
	lk->start = ei.start;
	lk->end = ei.end;
	lk->bz = bz;
	lk->initrd_limit = initrd_limit_of(bz);
	return 0;
}

/*
 * bzImage as is, per Documentation/x86/boot.rst "64-bit BOOT PROTOCOL": the protected-mode code at pref_address
 * (aligned to kernel_alignment when relocatable), 1 MiB if there is none; the entry at +0x200; the kernel uses
 * init_size bytes from there while it decompresses itself.
 */
static int kernel_load_bzimage_raw(struct vid_memory *mem, const struct boot_linux_config *cfg, const uint8_t *img,
				   const struct boot_bzimage *bz, struct loaded_kernel *lk)
{
	uint64_t load, span, align = bz->hdr.kernel_alignment;
	uint8_t *dst;

	if (cfg->entry == BOOT_ENTRY_PVH) {
		log_err("kernel: PVH entry needs the extracted vmlinux, not in-guest decompression");
		return -EOPNOTSUPP;
	}
	if (!(bz->hdr.xloadflags & XLF_KERNEL_64)) {
		log_err("kernel: bzImage has no 64-bit entry point (xloadflags %#x)", bz->hdr.xloadflags);
		return -ENOEXEC;
	}
	load = bz->hdr.pref_address;
	if (load < LAYOUT_KERNEL_MIN_GPA || load >= SZ_4G)
		load = LAYOUT_KERNEL_MIN_GPA;
	if (bz->hdr.relocatable_kernel && align >= PAGE_SIZE_4K && (align & (align - 1)) == 0)
		load = (load + align - 1) & ~(align - 1);
	span = bz->hdr.init_size > bz->pm_size ? bz->hdr.init_size : bz->pm_size;
	dst = vid_memory_ptr(mem, load, span);
	if (!dst || load + span > SZ_4G) {
		log_err("kernel: bzImage needs [%#" PRIx64 " +%#" PRIx64 ") of RAM below 4 GiB (guest has %" PRIu64
			" MiB)", load, span, vid_memory_size(mem) >> 20);
		return -ENOSPC;
	}
	memcpy(dst, img + bz->pm_offset, bz->pm_size);
	lk->kind = BOOT_ENTRY_LINUX64;
	lk->entry = load + BOOT_64BIT_ENTRY_OFFSET;
	lk->start = load;
	lk->end = load + span;
	lk->bz = bz;
	lk->initrd_limit = initrd_limit_of(bz);
	return 0;
}

static double elapsed_s(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static int kernel_load_bzimage(struct vid_memory *mem, const struct boot_linux_config *cfg, const uint8_t *img,
			       size_t len, const struct boot_bzimage *bz, size_t cmdlen, struct loaded_kernel *lk)
{
	struct timespec t0;
	uint8_t *elf;
	size_t elf_len;
	bool raw = cfg->decompress_in_guest;
	int ret;

	if (cmdlen > bz->hdr.cmdline_size) {
		log_err("kernel command line of %zu bytes exceeds the kernel's limit of %u", cmdlen,
			bz->hdr.cmdline_size);
		return -E2BIG;
	}
	if (!raw && bz->format == BOOT_PAYLOAD_UNKNOWN) {
		if (cfg->entry == BOOT_ENTRY_PVH) {
			log_err("kernel: PVH entry needs the vmlinux, but the bzImage payload compression is not "
				"supported host-side");
			return -EOPNOTSUPP;
		}
		log_warn("kernel: bzImage payload compression not supported host-side: decompressing in the guest");
		raw = true;
	}
	if (raw)
		return kernel_load_bzimage_raw(mem, cfg, img, bz, lk);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = boot_bzimage_extract(img, len, bz, &elf, &elf_len);
	if (ret)
		return ret;
	log_info("kernel: %s payload %zu -> %zu bytes in %.3f s", boot_payload_format_name(bz->format),
		 bz->payload_size, elf_len, elapsed_s(&t0));
	if (!boot_elf_is_elf(elf, elf_len)) {
		log_err("kernel: the decompressed bzImage payload is not an ELF image");
		free(elf);
		return -ENOEXEC;
	}
	ret = kernel_load_elf(mem, cfg, elf, elf_len, bz, lk);
	free(elf);
	return ret;
}

/* ---- initrd ----------------------------------------------------------------------------------------------- */

/* Top of the low RAM region, page-aligned down, under @lk->initrd_limit, above the kernel; read straight in. */
static int initrd_load(struct vid_memory *mem, const char *path, const struct loaded_kernel *lk, uint64_t *gpa_out,
		       uint64_t *size_out)
{
	const struct vid_memory_region *low = vid_memory_region(mem, 0);
	uint64_t size, top, floor, gpa;
	uint8_t *dst;
	int fd, ret;

	ret = file_open_regular(path, "initrd", &fd, &size);
	if (ret)
		return ret;
	if (size == 0) {
		log_err("initrd %s: empty file", path);
		ret = -EINVAL;
		goto out_close;
	}
	top = low->gpa + low->size;
	if (top > lk->initrd_limit)
		top = lk->initrd_limit;
	top &= ~(PAGE_SIZE_4K - 1);
	floor = (lk->end + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
	if (floor < LAYOUT_KERNEL_MIN_GPA)
		floor = LAYOUT_KERNEL_MIN_GPA;
	if (size > top || ((top - size) & ~(PAGE_SIZE_4K - 1)) < floor) {
		log_err("initrd %s: %" PRIu64 " bytes do not fit between the kernel end %#" PRIx64 " and %#" PRIx64,
			path, size, floor, top);
		ret = -ENOSPC;
		goto out_close;
	}
	gpa = (top - size) & ~(PAGE_SIZE_4K - 1);
	dst = vid_memory_ptr(mem, gpa, size);
	if (!dst) {
		ret = -ENOSPC;
		goto out_close;
	}
	ret = file_read_full(fd, dst, size);
	if (ret) {
		log_err("initrd %s: read: %s", path, strerror(-ret));
		goto out_close;
	}
	*gpa_out = gpa;
	*size_out = size;
out_close:
	close(fd);
	return ret;
}

/* ---- boot data -------------------------------------------------------------------------------------------- */

static void e820_add(struct e820_map *m, uint64_t addr, uint64_t end, uint32_t type)
{
	if (end <= addr || m->n >= BOOT_LINUX_E820_MAX)
		return;
	m->e[m->n].addr = addr;
	m->e[m->n].size = end - addr;
	m->e[m->n].type = type;
	m->n++;
}

/* RAM below the EBDA, the reserved legacy area, RAM from 1 MiB on; regions come in ascending GPA order. */
static void e820_build(struct vid_memory *mem, struct e820_map *m)
{
	unsigned nr = vid_memory_region_count(mem);

	memset(m, 0, sizeof(*m));
	for (unsigned i = 0; i < nr; i++) {
		const struct vid_memory_region *r = vid_memory_region(mem, i);
		uint64_t end = r->gpa + r->size;

		if (r->gpa < LAYOUT_LOW_RAM_END)
			e820_add(m, r->gpa, end < LAYOUT_LOW_RAM_END ? end : LAYOUT_LOW_RAM_END, E820_TYPE_RAM);
	}
	e820_add(m, LAYOUT_LOW_RAM_END, LAYOUT_KERNEL_MIN_GPA, E820_TYPE_RESERVED);
	for (unsigned i = 0; i < nr; i++) {
		const struct vid_memory_region *r = vid_memory_region(mem, i);

		if (r->gpa + r->size > LAYOUT_KERNEL_MIN_GPA)
			e820_add(m, r->gpa > LAYOUT_KERNEL_MIN_GPA ? r->gpa : LAYOUT_KERNEL_MIN_GPA, r->gpa + r->size,
				 E820_TYPE_RAM);
	}
}

static int pvh_write(struct vid_memory *mem, const struct e820_map *m, uint64_t rsdp, uint64_t initrd_gpa,
		     uint64_t initrd_size)
{
	struct hvm_memmap_table_entry mm[BOOT_LINUX_E820_MAX];
	struct hvm_start_info si;
	int ret;

	memset(mm, 0, sizeof(mm));
	for (unsigned i = 0; i < m->n; i++) {
		mm[i].addr = m->e[i].addr;
		mm[i].size = m->e[i].size;
		mm[i].type = m->e[i].type; /* same numbering as E820 */
	}
	ret = vid_memory_write(mem, LAYOUT_BOOT_E820_GPA, mm, m->n * sizeof(mm[0]));
	if (ret)
		return ret;

	memset(&si, 0, sizeof(si));
	si.magic = XEN_HVM_START_MAGIC_VALUE;
	si.version = 1;
	si.cmdline_paddr = LAYOUT_CMDLINE_GPA;
	si.rsdp_paddr = rsdp;
	si.memmap_paddr = LAYOUT_BOOT_E820_GPA;
	si.memmap_entries = m->n;
	if (initrd_size) {
		struct hvm_modlist_entry mod = { .paddr = initrd_gpa, .size = initrd_size };

		ret = vid_memory_write(mem, LAYOUT_MODLIST_GPA, &mod, sizeof(mod));
		if (ret)
			return ret;
		si.nr_modules = 1;
		si.modlist_paddr = LAYOUT_MODLIST_GPA;
	}
	return vid_memory_write(mem, LAYOUT_BOOT_INFO_GPA, &si, sizeof(si));
}

static int boot_params_write(struct vid_memory *mem, const struct loaded_kernel *lk, const struct e820_map *m,
			     uint64_t rsdp, uint64_t initrd_gpa, uint64_t initrd_size)
{
	struct boot_params bp;

	memset(&bp, 0, sizeof(bp));
	if (lk->bz) {
		/* The kernel's own header (zero past what the image declares), then the loader's fields. */
		bp.hdr = lk->bz->hdr;
	} else {
		/* Plain vmlinux: no header in the file; describe a 2.12 kernel the way its header would. */
		bp.hdr.version = BOOT_BZIMAGE_MIN_VERSION;
		bp.hdr.kernel_alignment = SYNTH_KERNEL_ALIGNMENT;
		bp.hdr.xloadflags = XLF_KERNEL_64;
		bp.hdr.cmdline_size = LAYOUT_CMDLINE_MAX - 1;
		bp.hdr.initrd_addr_max = (uint32_t)LAYOUT_INITRD_MAX_GPA;
	}
	bp.hdr.boot_flag = BOOT_FLAG_MAGIC;
	bp.hdr.header = BOOT_HDR_MAGIC;
	bp.hdr.type_of_loader = BOOT_TYPE_OF_LOADER_UNDEFINED;
	/* KASLR_FLAG is the decompressor's report to the kernel: nothing was randomised here. No real-mode heap. */
	bp.hdr.loadflags = (uint8_t)((bp.hdr.loadflags | LOADED_HIGH) & ~(KASLR_FLAG | CAN_USE_HEAP));
	bp.hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE_GPA;
	bp.ext_cmd_line_ptr = (uint32_t)(LAYOUT_CMDLINE_GPA >> 32);
	bp.hdr.ramdisk_image = (uint32_t)initrd_gpa;
	bp.ext_ramdisk_image = (uint32_t)(initrd_gpa >> 32);
	bp.hdr.ramdisk_size = (uint32_t)initrd_size;
	bp.ext_ramdisk_size = (uint32_t)(initrd_size >> 32);
	bp.hdr.setup_data = 0;
	bp.hdr.hardware_subarch = 0; /* X86_SUBARCH_PC */
	bp.hdr.hardware_subarch_data = 0;
	bp.acpi_rsdp_addr = rsdp;
	bp.e820_entries = (uint8_t)m->n;
	for (unsigned i = 0; i < m->n; i++) {
		bp.e820_table[i].addr = m->e[i].addr;
		bp.e820_table[i].size = m->e[i].size;
		bp.e820_table[i].type = m->e[i].type;
	}
	return vid_memory_write(mem, LAYOUT_BOOT_INFO_GPA, &bp, sizeof(bp));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v)); /* little-endian host */
}

/* PML4 -> PDPT -> 4 PDs of 2 MiB pages: identity map of [0, 4 GiB), writable, supervisor. */
static int page_tables_write(struct vid_memory *mem)
{
	const uint64_t pml4 = LAYOUT_PAGE_TABLES_GPA, pdpt = pml4 + PAGE_SIZE_4K, pd = pdpt + PAGE_SIZE_4K;
	uint8_t *p = vid_memory_ptr(mem, LAYOUT_PAGE_TABLES_GPA, BOOT_PAGE_TABLES_SIZE);

	if (!p)
		return -EFAULT;
	memset(p, 0, BOOT_PAGE_TABLES_SIZE);
	put_le64(p, pdpt | PTE_PRESENT | PTE_RW);
	for (uint64_t i = 0; i < 4; i++) {
		put_le64(p + PAGE_SIZE_4K + i * 8, (pd + i * PAGE_SIZE_4K) | PTE_PRESENT | PTE_RW);
		for (uint64_t j = 0; j < 512; j++)
			put_le64(p + 2 * PAGE_SIZE_4K + i * PAGE_SIZE_4K + j * 8,
				 (i << 30 | j << 21) | PTE_PRESENT | PTE_RW | PTE_PS);
	}
	return 0;
}

/* ---- entry points ----------------------------------------------------------------------------------------- */

int boot_linux_prepare(struct vid_memory *mem, const struct boot_linux_config *cfg, struct boot_entry_state *out)
{
	struct loaded_kernel lk;
	struct boot_bzimage bz;
	struct e820_map map;
	const char *cmdline;
	uint64_t initrd_gpa = 0, initrd_size = 0;
	uint8_t *img = NULL;
	size_t img_len, cmdlen;
	int ret;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	memset(&lk, 0, sizeof(lk));
	if (!mem || !cfg || !cfg->kernel_path || (unsigned)cfg->entry > BOOT_ENTRY_LINUX64)
		return -EINVAL;
	cmdline = cfg->cmdline ? cfg->cmdline : "";
	cmdlen = strnlen(cmdline, LAYOUT_CMDLINE_MAX);
	if (cmdlen >= LAYOUT_CMDLINE_MAX) {
		log_err("kernel command line longer than %u bytes", LAYOUT_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	if (cfg->rsdp_gpa && !vid_memory_ptr(mem, cfg->rsdp_gpa, 20)) {
		log_err("RSDP address %#" PRIx64 " is not in guest RAM", cfg->rsdp_gpa);
		return -EINVAL;
	}

	ret = file_read_all(cfg->kernel_path, "kernel", BOOT_LINUX_KERNEL_MAX, &img, &img_len);
	if (ret)
		return ret;
	if (boot_elf_is_elf(img, img_len)) {
		if (cmdlen >= LINUX_COMMAND_LINE_SIZE)
			log_warn("kernel command line of %zu bytes: Linux keeps only %u", cmdlen,
				 LINUX_COMMAND_LINE_SIZE - 1);
		ret = kernel_load_elf(mem, cfg, img, img_len, NULL, &lk);
	} else if (boot_bzimage_is_bzimage(img, img_len)) {
		ret = boot_bzimage_parse(img, img_len, &bz);
		if (!ret)
			ret = kernel_load_bzimage(mem, cfg, img, img_len, &bz, cmdlen, &lk);
	} else {
		log_err("kernel %s: neither an ELF image nor a bzImage", cfg->kernel_path);
		ret = -ENOEXEC;
	}
	free(img);
	if (ret)
		return ret;

	if (cfg->initrd_path) {
		ret = initrd_load(mem, cfg->initrd_path, &lk, &initrd_gpa, &initrd_size);
		if (ret)
			return ret;
	}

	ret = vid_memory_write(mem, LAYOUT_CMDLINE_GPA, cmdline, cmdlen + 1);
	if (ret)
		return ret;
	e820_build(mem, &map);
	if (lk.kind == BOOT_ENTRY_PVH) {
		ret = pvh_write(mem, &map, cfg->rsdp_gpa, initrd_gpa, initrd_size);
	} else {
		ret = boot_params_write(mem, &lk, &map, cfg->rsdp_gpa, initrd_gpa, initrd_size);
		if (!ret)
			ret = page_tables_write(mem);
	}
	if (ret)
		return ret;

	out->kind = lk.kind;
	out->entry = lk.entry;
	out->info_gpa = LAYOUT_BOOT_INFO_GPA;
	out->pml4_gpa = lk.kind == BOOT_ENTRY_LINUX64 ? LAYOUT_PAGE_TABLES_GPA : 0;
	out->kernel_start = lk.start;
	out->kernel_end = lk.end;
	out->initrd_gpa = initrd_gpa;
	out->initrd_size = initrd_size;
	log_info("kernel %s: %s entry %#" PRIx64 ", image [%#" PRIx64 ", %#" PRIx64 "), initrd [%#" PRIx64
		 " +%#" PRIx64 ")", cfg->kernel_path, boot_entry_kind_name(lk.kind), lk.entry, lk.start, lk.end,
		 initrd_gpa, initrd_size);
	return 0;
}

int boot_linux_apply(struct vid_vp *bsp, const struct boot_entry_state *st)
{
	if (!bsp || !st)
		return -EINVAL;
	switch (st->kind) {
	case BOOT_ENTRY_PVH:
		if (st->entry > UINT32_MAX || st->info_gpa > UINT32_MAX)
			return -EINVAL;
		return vid_vp_set_pvh_state(bsp, (uint32_t)st->entry, (uint32_t)st->info_gpa);
	case BOOT_ENTRY_LINUX64:
		return vid_vp_set_long_mode_state(bsp, st->entry, st->pml4_gpa, st->info_gpa);
	case BOOT_ENTRY_AUTO:
		break;
	}
	return -EINVAL;
}
