// SPDX-License-Identifier: MIT
/*
 * Unit tests for boot/linux.c, boot/elf.c and boot/bzimage.c: synthetic ELF kernels and bzImages (payloads made
 * here with zlib, liblzma, liblz4 and libzstd) are prepared into plain guest memory (no /dev/kvm), and every
 * placement and boot structure is read back. Malformed images must fail cleanly. If tools/guest-images.sh has
 * cached the stock Debian kernel, it is prepared too (skipped otherwise).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "boot/bzimage.h"
#include "boot/elf.h"
#include "boot/layout.h"
#include "boot/linux.h"
#include "openhv/bootparam.h"
#include "openhv/pvh.h"
#include "vid/memory.h"
#include "vid/vid.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static char tmpdir[64];
static unsigned file_seq;

/* ---- helpers ---------------------------------------------------------------------------------------------- */

static char *tmp_write(const void *data, size_t len)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/f%u", tmpdir, file_seq++) > 0);
	f = fopen(path, "wb");
	assert_non_null(f);
	if (len)
		assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* A sparse file of @len bytes whose first and last bytes are set (for large initrds). */
static char *tmp_sparse(uint64_t len)
{
	char *path = tmp_write(NULL, 0);
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)len), 0);
	assert_int_equal(pwrite(fd, "A", 1, 0), 1);
	assert_int_equal(pwrite(fd, "Z", 1, (off_t)len - 1), 1);
	close(fd);
	return path;
}

static struct vid_memory *mem_new(uint64_t bytes)
{
	struct vid_memory *m;

	assert_int_equal(vid_memory_create(bytes, &m), 0);
	return m;
}

static uint64_t rd64(struct vid_memory *m, uint64_t gpa)
{
	uint64_t v;

	assert_int_equal(vid_memory_read(m, gpa, &v, sizeof(v)), 0);
	return v;
}

static uint8_t pat(unsigned seg, uint64_t k)
{
	return (uint8_t)((seg + 1) * 0x35 + k * 13 + (k >> 9));
}

/* ---- synthetic ELF ------------------------------------------------------------------------------------------ */

struct tseg {
	uint64_t paddr, vaddr; /* vaddr 0: = paddr */
	uint64_t filesz, memsz;
	uint64_t offset;       /* 0: placed by the builder */
	uint32_t type;         /* 0: PT_LOAD */
};

struct telf {
	uint64_t entry;
	uint16_t machine; /* 0: EM_X86_64 */
	unsigned nseg;
	struct tseg seg[8];
	unsigned pvh_descsz; /* 0: no PVH note; 4 or 8 */
	uint64_t pvh_entry;
	uint32_t note_namesz; /* 0: 4 ("Xen") */
};

static uint8_t *telf_build(const struct telf *t, size_t *len)
{
	unsigned nph = t->nseg + (t->pvh_descsz ? 1 : 0);
	uint64_t note_off = sizeof(Elf64_Ehdr) + nph * sizeof(Elf64_Phdr);
	uint64_t note_size = t->pvh_descsz ? 12 + 4 + ((t->pvh_descsz + 3) & ~3u) : 0;
	uint64_t cur = (note_off + note_size + 0xfff) & ~0xfffull, data_off[8];
	Elf64_Ehdr eh;
	uint8_t *buf;

	for (unsigned i = 0; i < t->nseg; i++) {
		data_off[i] = cur;
		cur += (t->seg[i].filesz + 0xfff) & ~0xfffull;
	}
	buf = calloc(1, cur);
	assert_non_null(buf);
	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = t->machine ? t->machine : EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = t->entry;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = (uint16_t)nph;
	memcpy(buf, &eh, sizeof(eh));
	for (unsigned i = 0; i < t->nseg; i++) {
		const struct tseg *s = &t->seg[i];
		Elf64_Phdr ph = {
			.p_type = s->type ? s->type : PT_LOAD,
			.p_flags = PF_R | PF_W | PF_X,
			.p_offset = s->offset ? s->offset : data_off[i],
			.p_vaddr = s->vaddr ? s->vaddr : s->paddr,
			.p_paddr = s->paddr,
			.p_filesz = s->filesz,
			.p_memsz = s->memsz,
			.p_align = 0x1000,
		};

		memcpy(buf + sizeof(eh) + i * sizeof(ph), &ph, sizeof(ph));
		for (uint64_t k = 0; k < s->filesz && data_off[i] + k < cur; k++)
			buf[data_off[i] + k] = pat(i, k);
	}
	if (t->pvh_descsz) {
		Elf64_Phdr ph = { .p_type = PT_NOTE, .p_offset = note_off, .p_filesz = note_size, .p_align = 4 };
		Elf64_Nhdr nh = { .n_namesz = t->note_namesz ? t->note_namesz : 4, .n_descsz = t->pvh_descsz,
				  .n_type = XEN_ELFNOTE_PHYS32_ENTRY };

		memcpy(buf + sizeof(eh) + t->nseg * sizeof(ph), &ph, sizeof(ph));
		memcpy(buf + note_off, &nh, sizeof(nh));
		memcpy(buf + note_off + 12, "Xen", 4);
		memcpy(buf + note_off + 16, &t->pvh_entry, t->pvh_descsz);
	}
	*len = cur;
	return buf;
}

static char *telf_file(const struct telf *t)
{
	size_t len;
	uint8_t *img = telf_build(t, &len);
	char *path = tmp_write(img, len);

	free(img);
	return path;
}

/* Two segments (text+data with bss) at 1 MiB and 2 MiB, entry 1 MiB + 0x10, PVH entry 1 MiB + 0x40 (8 bytes). */
static struct telf telf_default(void)
{
	return (struct telf){
		.entry = MiB + 0x10,
		.nseg = 2,
		.seg = { { .paddr = MiB, .filesz = 0x3000, .memsz = 0x5000 },
			 { .paddr = 2 * MiB, .filesz = 0x1234, .memsz = 0x1234 } },
		.pvh_descsz = 8,
		.pvh_entry = MiB + 0x40,
	};
}

static void check_segments(struct vid_memory *m, const struct telf *t)
{
	for (unsigned i = 0; i < t->nseg; i++) {
		const struct tseg *s = &t->seg[i];
		const uint8_t *p = vid_memory_ptr(m, s->paddr, s->memsz);

		assert_non_null(p);
		for (uint64_t k = 0; k < s->filesz; k++)
			if (p[k] != pat(i, k))
				fail_msg("segment %u byte %#" PRIx64 ": %#x != %#x", i, k, p[k], pat(i, k));
		for (uint64_t k = s->filesz; k < s->memsz; k++)
			if (p[k] != 0)
				fail_msg("segment %u bss byte %#" PRIx64 " not zero", i, k);
	}
}

/* ---- compression + synthetic bzImage ---------------------------------------------------------------------- */

static void append_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Compress as the kernel build does: one stream + the 32-bit size (gzip: its own ISIZE). */
static uint8_t *compress_payload(enum boot_payload_format fmt, const uint8_t *in, size_t len, size_t *out_len)
{
	size_t cap = len + len / 2 + 65536, n = 0;
	uint8_t *out = malloc(cap + 4);

	assert_non_null(out);
	switch (fmt) {
	case BOOT_PAYLOAD_GZIP: {
		z_stream z;

		memset(&z, 0, sizeof(z));
		assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
		z.next_in = (Bytef *)in;
		z.avail_in = (uInt)len;
		z.next_out = out;
		z.avail_out = (uInt)cap;
		assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
		n = z.total_out;
		deflateEnd(&z);
		*out_len = n;
		return out; /* ISIZE already at the end */
	}
	case BOOT_PAYLOAD_XZ:
		assert_int_equal(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, len, out, &n, cap), LZMA_OK);
		break;
	case BOOT_PAYLOAD_LZ4: {
		/* legacy frame: magic, then 8 MiB blocks; a second magic in the middle (concatenation) */
		append_le32(out, BOOT_LZ4_LEGACY_MAGIC);
		n = 4;
		for (size_t pos = 0; pos < len; pos += BOOT_LZ4_LEGACY_BLOCK) {
			size_t blk = len - pos > BOOT_LZ4_LEGACY_BLOCK ? BOOT_LZ4_LEGACY_BLOCK : len - pos;
			int c;

			if (pos) {
				append_le32(out + n, BOOT_LZ4_LEGACY_MAGIC);
				n += 4;
			}
			c = LZ4_compress_default((const char *)in + pos, (char *)out + n + 4, (int)blk,
						 (int)(cap - n - 4));
			assert_true(c > 0);
			append_le32(out + n, (uint32_t)c);
			n += 4 + (size_t)c;
		}
		break;
	}
	case BOOT_PAYLOAD_ZSTD:
		n = ZSTD_compress(out, cap, in, len, 19);
		assert_false(ZSTD_isError(n));
		break;
	default:
		fail();
	}
	append_le32(out + n, (uint32_t)len);
	*out_len = n + 4;
	return out;
}

struct tbz {
	uint16_t version;
	uint8_t setup_sects;
	uint8_t relocatable;
	uint16_t xloadflags;
	uint32_t initrd_addr_max, cmdline_size, init_size, kernel_alignment;
	uint64_t pref_address;
	int64_t payload_length_delta; /* added to the real payload length */
};

static struct tbz tbz_default(void)
{
	return (struct tbz){ .version = 0x020f, .setup_sects = 3, .relocatable = 1, .xloadflags = XLF_KERNEL_64 | 2,
			     .initrd_addr_max = 0x7fffffff, .cmdline_size = 2047, .init_size = 0x400000,
			     .kernel_alignment = 0x200000, .pref_address = 0x1000000 };
}

#define TBZ_STUB 0x100 /* bytes of fake decompressor before the payload */

static uint8_t *tbz_build(const struct tbz *b, const uint8_t *payload, size_t plen, size_t *len)
{
	size_t pm = ((size_t)(b->setup_sects ? b->setup_sects : 4) + 1) * 512;
	size_t total = pm + TBZ_STUB + plen + 16;
	struct setup_header h;
	uint8_t *img = calloc(1, total);

	assert_non_null(img);
	memset(img, 0x90, pm);
	memset(&h, 0, sizeof(h));
	h.setup_sects = b->setup_sects;
	h.syssize = (uint32_t)((total - pm + 15) / 16);
	h.boot_flag = BOOT_FLAG_MAGIC;
	h.jump = 0x6aeb; /* "jmp +0x6a": header ends at 0x26c */
	h.header = BOOT_HDR_MAGIC;
	h.version = b->version;
	h.loadflags = LOADED_HIGH | CAN_USE_HEAP;
	h.code32_start = 0x100000;
	h.initrd_addr_max = b->initrd_addr_max;
	h.kernel_alignment = b->kernel_alignment;
	h.relocatable_kernel = b->relocatable;
	h.min_alignment = 21;
	h.xloadflags = b->xloadflags;
	h.cmdline_size = b->cmdline_size;
	h.payload_offset = TBZ_STUB;
	h.payload_length = (uint32_t)((int64_t)plen + b->payload_length_delta);
	h.pref_address = b->pref_address;
	h.init_size = b->init_size;
	memcpy(img + BOOT_SETUP_HEADER_OFFSET, &h, sizeof(h));
	memset(img + pm, 0xcc, TBZ_STUB);
	memcpy(img + pm + TBZ_STUB, payload, plen);
	memset(img + pm + TBZ_STUB + plen, 0xee, 16); /* trailing bytes (as the real image has) */
	*len = total;
	return img;
}

/* A bzImage file wrapping @t compressed with @fmt. */
static char *tbz_file(const struct tbz *b, const struct telf *t, enum boot_payload_format fmt)
{
	size_t elf_len, plen, len;
	uint8_t *elf = telf_build(t, &elf_len);
	uint8_t *payload = compress_payload(fmt, elf, elf_len, &plen);
	uint8_t *img = tbz_build(b, payload, plen, &len);
	char *path = tmp_write(img, len);

	free(img);
	free(payload);
	free(elf);
	return path;
}

/* ---- checks of the boot data ------------------------------------------------------------------------------ */

/* The memory map for a single low region of @ram bytes (and @high bytes at 4 GiB). */
static void check_map(const uint64_t (*e)[3], unsigned n, uint64_t low_end, uint64_t high)
{
	assert_int_equal(n, high ? 4 : 3);
	assert_int_equal(e[0][0], 0);
	assert_int_equal(e[0][1], LAYOUT_LOW_RAM_END);
	assert_int_equal(e[0][2], E820_TYPE_RAM);
	assert_int_equal(e[1][0], LAYOUT_LOW_RAM_END);
	assert_int_equal(e[1][1], MiB - LAYOUT_LOW_RAM_END);
	assert_int_equal(e[1][2], E820_TYPE_RESERVED);
	assert_int_equal(e[2][0], MiB);
	assert_int_equal(e[2][1], low_end - MiB);
	assert_int_equal(e[2][2], E820_TYPE_RAM);
	if (high) {
		assert_int_equal(e[3][0], VID_HIGHMEM_BASE);
		assert_int_equal(e[3][1], high);
		assert_int_equal(e[3][2], E820_TYPE_RAM);
	}
}

static void check_pvh(struct vid_memory *m, const char *cmdline, uint64_t rsdp, uint64_t initrd_gpa,
		      uint64_t initrd_size, uint64_t low_end, uint64_t high)
{
	struct hvm_start_info si;
	struct hvm_memmap_table_entry mm[8];
	uint64_t e[8][3];
	char buf[LAYOUT_CMDLINE_MAX];

	assert_int_equal(vid_memory_read(m, LAYOUT_BOOT_INFO_GPA, &si, sizeof(si)), 0);
	assert_int_equal(si.magic, XEN_HVM_START_MAGIC_VALUE);
	assert_int_equal(si.version, 1);
	assert_int_equal(si.flags, 0);
	assert_int_equal(si.cmdline_paddr, LAYOUT_CMDLINE_GPA);
	assert_int_equal(si.rsdp_paddr, rsdp);
	assert_int_equal(si.memmap_paddr, LAYOUT_BOOT_E820_GPA);
	assert_int_equal(si.reserved, 0);
	assert_true(si.memmap_entries <= 8);
	assert_int_equal(vid_memory_read(m, LAYOUT_BOOT_E820_GPA, mm, si.memmap_entries * sizeof(mm[0])), 0);
	for (unsigned i = 0; i < si.memmap_entries; i++) {
		e[i][0] = mm[i].addr;
		e[i][1] = mm[i].size;
		e[i][2] = mm[i].type;
		assert_int_equal(mm[i].reserved, 0);
	}
	check_map((const uint64_t(*)[3])e, si.memmap_entries, low_end, high);
	if (initrd_size) {
		struct hvm_modlist_entry mod;

		assert_int_equal(si.nr_modules, 1);
		assert_int_equal(si.modlist_paddr, LAYOUT_MODLIST_GPA);
		assert_int_equal(vid_memory_read(m, LAYOUT_MODLIST_GPA, &mod, sizeof(mod)), 0);
		assert_int_equal(mod.paddr, initrd_gpa);
		assert_int_equal(mod.size, initrd_size);
		assert_int_equal(mod.cmdline_paddr, 0);
	} else {
		assert_int_equal(si.nr_modules, 0);
	}
	assert_int_equal(vid_memory_read(m, LAYOUT_CMDLINE_GPA, buf, strlen(cmdline) + 1), 0);
	assert_string_equal(buf, cmdline);
}

static void check_page_tables(struct vid_memory *m)
{
	const uint64_t pml4 = LAYOUT_PAGE_TABLES_GPA, pdpt = pml4 + 4096, pd = pdpt + 4096;

	assert_int_equal(rd64(m, pml4), pdpt | 3);
	for (unsigned i = 1; i < 512; i++)
		assert_int_equal(rd64(m, pml4 + i * 8), 0);
	for (uint64_t i = 0; i < 4; i++)
		assert_int_equal(rd64(m, pdpt + i * 8), (pd + i * 4096) | 3);
	for (unsigned i = 4; i < 512; i++)
		assert_int_equal(rd64(m, pdpt + i * 8), 0);
	for (uint64_t i = 0; i < 4; i++)
		for (uint64_t j = 0; j < 512; j++)
			assert_int_equal(rd64(m, pd + i * 4096 + j * 8), (i * GiB + j * 2 * MiB) | 0x83);
	assert_true(LAYOUT_PAGE_TABLES_GPA + BOOT_PAGE_TABLES_SIZE <= LAYOUT_CMDLINE_GPA);
}

static void check_boot_params(struct vid_memory *m, struct boot_params *bp, const char *cmdline, uint64_t rsdp,
			      uint64_t initrd_gpa, uint64_t initrd_size, uint64_t low_end, uint64_t high)
{
	uint64_t e[E820_MAX_ENTRIES_ZEROPAGE][3];
	char buf[LAYOUT_CMDLINE_MAX];

	assert_int_equal(vid_memory_read(m, LAYOUT_BOOT_INFO_GPA, bp, sizeof(*bp)), 0);
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.header, 0x53726448);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_true(bp->hdr.loadflags & LOADED_HIGH);
	assert_false(bp->hdr.loadflags & (KASLR_FLAG | CAN_USE_HEAP));
	assert_int_equal(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE_GPA);
	assert_int_equal(bp->ext_cmd_line_ptr, 0);
	assert_int_equal(bp->hdr.ramdisk_image, initrd_gpa);
	assert_int_equal(bp->hdr.ramdisk_size, initrd_size);
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_int_equal(bp->ext_ramdisk_size, 0);
	assert_int_equal(bp->acpi_rsdp_addr, rsdp);
	assert_int_equal(bp->sentinel, 0);
	assert_int_equal(bp->hdr.setup_data, 0);
	assert_int_equal(bp->hdr.hardware_subarch, 0);
	for (unsigned i = 0; i < bp->e820_entries; i++) {
		e[i][0] = bp->e820_table[i].addr;
		e[i][1] = bp->e820_table[i].size;
		e[i][2] = bp->e820_table[i].type;
	}
	check_map((const uint64_t(*)[3])e, bp->e820_entries, low_end, high);
	assert_int_equal(vid_memory_read(m, LAYOUT_CMDLINE_GPA, buf, strlen(cmdline) + 1), 0);
	assert_string_equal(buf, cmdline);
	check_page_tables(m);
}

static void check_initrd(struct vid_memory *m, const struct boot_entry_state *st, const uint8_t *data,
			 uint64_t size, uint64_t limit)
{
	assert_int_equal(st->initrd_size, size);
	assert_int_equal(st->initrd_gpa & 0xfff, 0);
	assert_true(st->initrd_gpa >= st->kernel_end);
	assert_true(st->initrd_gpa + size <= limit);
	assert_true(st->initrd_gpa + size + 4096 > limit); /* at the top */
	if (data)
		assert_memory_equal(vid_memory_ptr(m, st->initrd_gpa, size), data, size);
}

/* ---- ELF tests -------------------------------------------------------------------------------------------- */

static void test_elf_pvh_auto(void **state)
{
	struct vid_memory *m = mem_new(64 * MiB);
	struct telf t = telf_default();
	char *kernel = telf_file(&t);
	uint8_t initrd[10000];
	char *initrd_path;
	struct boot_entry_state st;
	const char *cmd = "console=ttyS0 quiet";

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 7 + 3);
	initrd_path = tmp_write(initrd, sizeof(initrd));
	/* Dirty the bss to see it zeroed. */
	memset(vid_memory_ptr(m, MiB + 0x3000, 0x2000), 0xaa, 0x2000);

	struct boot_linux_config cfg = { .kernel_path = kernel, .initrd_path = initrd_path, .cmdline = cmd,
					 .rsdp_gpa = LAYOUT_ACPI_GPA };
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	assert_int_equal(st.kind, BOOT_ENTRY_PVH);
	assert_int_equal(st.entry, MiB + 0x40);
	assert_int_equal(st.info_gpa, LAYOUT_BOOT_INFO_GPA);
	assert_int_equal(st.pml4_gpa, 0);
	assert_int_equal(st.kernel_start, MiB);
	assert_int_equal(st.kernel_end, 2 * MiB + 0x1234);
	check_segments(m, &t);
	check_initrd(m, &st, initrd, sizeof(initrd), 64 * MiB);
	assert_int_equal(st.initrd_gpa, (64 * MiB - sizeof(initrd)) & ~0xfffull);
	check_pvh(m, cmd, LAYOUT_ACPI_GPA, st.initrd_gpa, sizeof(initrd), 64 * MiB, 0);

	free(initrd_path);
	free(kernel);
	vid_memory_destroy(m);
}

static void test_elf_linux64(void **state)
{
	struct vid_memory *m = mem_new(64 * MiB);
	struct telf t = telf_default();
	char *kernel = telf_file(&t);
	char *initrd_path = tmp_write("initrd!", 7);
	struct boot_entry_state st;
	struct boot_params bp;

	struct boot_linux_config cfg = { .kernel_path = kernel, .initrd_path = initrd_path, .cmdline = "root=/dev/sda",
					 .entry = BOOT_ENTRY_LINUX64 };
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	assert_int_equal(st.kind, BOOT_ENTRY_LINUX64);
	assert_int_equal(st.entry, MiB + 0x10);
	assert_int_equal(st.info_gpa, LAYOUT_BOOT_INFO_GPA);
	assert_int_equal(st.pml4_gpa, LAYOUT_PAGE_TABLES_GPA);
	check_segments(m, &t);
	check_initrd(m, &st, (const uint8_t *)"initrd!", 7, 64 * MiB);
	check_boot_params(m, &bp, "root=/dev/sda", 0, st.initrd_gpa, 7, 64 * MiB, 0);
	/* a plain vmlinux has no header: the loader makes one up */
	assert_int_equal(bp.hdr.version, 0x020c);
	assert_int_equal(bp.hdr.initrd_addr_max, LAYOUT_INITRD_MAX_GPA);
	assert_true(bp.hdr.xloadflags & XLF_KERNEL_64);

	free(initrd_path);
	free(kernel);
	vid_memory_destroy(m);
}

/* A vmlinux-like layout: virtual addresses in the kernel map, e_entry physical (phys_startup_64) or virtual. */
static void test_elf_vmlinux_layout(void **state)
{
	struct vid_memory *m = mem_new(128 * MiB);
	struct telf t = {
		.entry = 0x1000000,
		.nseg = 3,
		.seg = { { .paddr = 0x1000000, .vaddr = 0xffffffff81000000ull, .filesz = 0x2000, .memsz = 0x2000 },
			 { .paddr = 0x1400000, .filesz = 0x800, .memsz = 0x1000 },
			 { .paddr = 0x1600000, .vaddr = 0xffffffff81600000ull, .filesz = 0x100, .memsz = 0x9000 } },
	};
	struct boot_entry_state st;
	char *k1, *k2;

	k1 = telf_file(&t);
	struct boot_linux_config cfg = { .kernel_path = k1 };
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	assert_int_equal(st.kind, BOOT_ENTRY_LINUX64); /* no PVH note */
	assert_int_equal(st.entry, 0x1000000);
	assert_int_equal(st.kernel_start, 0x1000000);
	assert_int_equal(st.kernel_end, 0x1609000);
	check_segments(m, &t);

	t.entry = 0xffffffff81000123ull; /* virtual: translated through its PT_LOAD */
	k2 = telf_file(&t);
	cfg.kernel_path = k2;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	assert_int_equal(st.entry, 0x1000123);

	cfg.entry = BOOT_ENTRY_PVH;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -EOPNOTSUPP);
	assert_int_equal(st.kind, BOOT_ENTRY_AUTO); /* zeroed on error */
	free(k1);
	free(k2);
	vid_memory_destroy(m);
}

static void test_elf_pvh_note_variants(void **state)
{
	struct vid_memory *m = mem_new(64 * MiB);
	struct boot_entry_state st;
	struct telf t = telf_default();
	char *k;

	/* 4-byte descriptor (newer kernels) */
	t.pvh_descsz = 4;
	t.pvh_entry = 2 * MiB + 8;
	k = telf_file(&t);
	struct boot_linux_config cfg = { .kernel_path = k, .entry = BOOT_ENTRY_PVH };
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	assert_int_equal(st.kind, BOOT_ENTRY_PVH);
	assert_int_equal(st.entry, 2 * MiB + 8);
	free(k);

	/* entry outside every PT_LOAD: note ignored, AUTO falls back to LINUX64, PVH refused */
	t.pvh_entry = 8 * MiB;
	k = telf_file(&t);
	cfg.kernel_path = k;
	cfg.entry = BOOT_ENTRY_AUTO;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	assert_int_equal(st.kind, BOOT_ENTRY_LINUX64);
	cfg.entry = BOOT_ENTRY_PVH;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -EOPNOTSUPP);
	free(k);

	/* 8-byte descriptor above 4 GiB: ignored */
	t.pvh_descsz = 8;
	t.pvh_entry = 0x100000000ull + MiB;
	k = telf_file(&t);
	cfg.kernel_path = k;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -EOPNOTSUPP);
	free(k);

	/* malformed note (name size past the segment): ignored, the kernel still loads */
	t = telf_default();
	t.note_namesz = 0x7fffffff;
	k = telf_file(&t);
	cfg.kernel_path = k;
	cfg.entry = BOOT_ENTRY_AUTO;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	assert_int_equal(st.kind, BOOT_ENTRY_LINUX64);
	free(k);
	vid_memory_destroy(m);
}

static void test_high_memory_map(void **state)
{
	const uint64_t ram = VID_LOWMEM_TOP + 64 * MiB;
	struct vid_memory *m = mem_new(ram);
	struct telf t = telf_default();
	char *kernel = telf_file(&t);
	char *initrd = tmp_sparse(3 * MiB + 5);
	struct boot_entry_state st;
	struct boot_params bp;

	struct boot_linux_config cfg = { .kernel_path = kernel, .initrd_path = initrd, .cmdline = "x" };
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	check_pvh(m, "x", 0, st.initrd_gpa, 3 * MiB + 5, VID_LOWMEM_TOP, 64 * MiB);
	/* below LAYOUT_INITRD_MAX_GPA, not at the top of the 3 GiB low region */
	check_initrd(m, &st, NULL, 3 * MiB + 5, LAYOUT_INITRD_MAX_GPA + 1);
	assert_int_equal(*(uint8_t *)vid_memory_ptr(m, st.initrd_gpa, 1), 'A');
	assert_int_equal(*(uint8_t *)vid_memory_ptr(m, st.initrd_gpa + 3 * MiB + 4, 1), 'Z');

	cfg.entry = BOOT_ENTRY_LINUX64;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	check_boot_params(m, &bp, "x", 0, st.initrd_gpa, 3 * MiB + 5, VID_LOWMEM_TOP, 64 * MiB);
	free(initrd);
	free(kernel);
	vid_memory_destroy(m);
}

static void test_cmdline_limits(void **state)
{
	struct vid_memory *m = mem_new(64 * MiB);
	struct telf t = telf_default();
	char *kernel = telf_file(&t);
	char *longest = malloc(LAYOUT_CMDLINE_MAX + 1);
	struct boot_entry_state st;
	char c;

	memset(longest, 'a', LAYOUT_CMDLINE_MAX);
	longest[LAYOUT_CMDLINE_MAX - 1] = '\0';
	struct boot_linux_config cfg = { .kernel_path = kernel, .cmdline = longest };
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	check_pvh(m, longest, 0, 0, 0, 64 * MiB, 0);

	longest[LAYOUT_CMDLINE_MAX - 1] = 'a';
	longest[LAYOUT_CMDLINE_MAX] = '\0';
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -E2BIG);

	cfg.cmdline = NULL; /* "" */
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	assert_int_equal(vid_memory_read(m, LAYOUT_CMDLINE_GPA, &c, 1), 0);
	assert_int_equal(c, '\0');
	free(longest);
	free(kernel);
	vid_memory_destroy(m);
}

static void test_initrd_placement_errors(void **state)
{
	struct vid_memory *m = mem_new(64 * MiB);
	struct telf t = telf_default();
	struct boot_entry_state st;
	char *kernel, *big, *empty, *fits;

	/* kernel up to 60 MiB: 4 MiB left */
	t.seg[1].paddr = 40 * MiB;
	t.seg[1].memsz = 20 * MiB;
	kernel = telf_file(&t);
	big = tmp_sparse(4 * MiB + 1);
	fits = tmp_sparse(4 * MiB);
	empty = tmp_write(NULL, 0);

	struct boot_linux_config cfg = { .kernel_path = kernel, .initrd_path = big };
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -ENOSPC);
	cfg.initrd_path = fits;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	assert_int_equal(st.initrd_gpa, 60 * MiB);
	assert_int_equal(st.kernel_end, 60 * MiB);
	cfg.initrd_path = empty;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -EINVAL);
	cfg.initrd_path = "/nonexistent/initrd";
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -ENOENT);
	cfg.initrd_path = tmpdir; /* a directory */
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -EINVAL);
	free(kernel);
	free(big);
	free(fits);
	free(empty);
	vid_memory_destroy(m);
}

static void test_bad_arguments(void **state)
{
	struct vid_memory *m = mem_new(64 * MiB);
	struct telf t = telf_default();
	char *kernel = telf_file(&t);
	struct boot_entry_state st;
	struct boot_linux_config cfg = { .kernel_path = kernel };

	assert_int_equal(boot_linux_prepare(NULL, &cfg, &st), -EINVAL);
	assert_int_equal(boot_linux_prepare(m, NULL, &st), -EINVAL);
	assert_int_equal(boot_linux_prepare(m, &cfg, NULL), -EINVAL);
	cfg.entry = (enum boot_entry_kind)7;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -EINVAL);
	cfg.entry = BOOT_ENTRY_AUTO;
	cfg.rsdp_gpa = 0xfee00000; /* MMIO hole */
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -EINVAL);
	cfg.rsdp_gpa = 0;
	cfg.kernel_path = NULL;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -EINVAL);
	cfg.kernel_path = "/nonexistent/vmlinux";
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -ENOENT);
	cfg.kernel_path = tmpdir;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -EINVAL);
	free(kernel);
	vid_memory_destroy(m);
}

/* Prepare a kernel file made of @img and expect @err. */
static void expect_img(struct vid_memory *m, const uint8_t *img, size_t len, int err)
{
	char *path = tmp_write(img, len);
	struct boot_entry_state st;
	struct boot_linux_config cfg = { .kernel_path = path };

	assert_int_equal(boot_linux_prepare(m, &cfg, &st), err);
	free(path);
}

static void expect_elf(struct vid_memory *m, const struct telf *t, int err)
{
	size_t len;
	uint8_t *img = telf_build(t, &len);

	expect_img(m, img, len, err);
	free(img);
}

static void test_elf_malformed(void **state)
{
	struct vid_memory *m = mem_new(64 * MiB);
	struct telf t;
	size_t len;
	uint8_t *img;
	Elf64_Ehdr eh;

	/* truncated: inside the ELF header, inside the program headers, inside a segment's data */
	t = telf_default();
	img = telf_build(&t, &len);
	expect_img(m, img, 0, -ENOEXEC);
	expect_img(m, img, 4, -ENOEXEC);
	expect_img(m, img, 40, -ENOEXEC);
	expect_img(m, img, sizeof(Elf64_Ehdr) + 30, -ENOEXEC);
	expect_img(m, img, 0x5000, -ENOEXEC); /* segment 1's data: file offset 0x4000, 0x1234 bytes */
	expect_img(m, img, 0x5234, 0);
	expect_img(m, img, len, 0);

	/* header fields */
	memcpy(&eh, img, sizeof(eh));
	eh.e_machine = EM_386;
	memcpy(img, &eh, sizeof(eh));
	expect_img(m, img, len, -ENOEXEC);
	eh.e_machine = EM_X86_64;
	eh.e_ident[EI_CLASS] = ELFCLASS32;
	memcpy(img, &eh, sizeof(eh));
	expect_img(m, img, len, -ENOEXEC);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_type = ET_DYN;
	memcpy(img, &eh, sizeof(eh));
	expect_img(m, img, len, -ENOEXEC);
	eh.e_type = ET_EXEC;
	eh.e_phoff = UINT64_MAX - 8; /* overflowing table offset */
	memcpy(img, &eh, sizeof(eh));
	expect_img(m, img, len, -ENOEXEC);
	eh.e_phoff = sizeof(eh);
	eh.e_phnum = 0xffff;
	memcpy(img, &eh, sizeof(eh));
	expect_img(m, img, len, -ENOEXEC);
	eh.e_phnum = 3;
	eh.e_phentsize = 32;
	memcpy(img, &eh, sizeof(eh));
	expect_img(m, img, len, -ENOEXEC);
	free(img);

	/* PT_LOAD outside RAM / across its end */
	t = telf_default();
	t.seg[1].paddr = 128 * MiB;
	expect_elf(m, &t, -ENOSPC);
	t.seg[1].paddr = 64 * MiB - 0x1000;
	expect_elf(m, &t, -ENOSPC);
	/* in the MMIO hole (RAM is only 64 MiB, but also for a 3+ GiB guest) */
	t.seg[1].paddr = LAYOUT_IOAPIC_GPA;
	expect_elf(m, &t, -ENOSPC);
	/* overlapping the boot data below 1 MiB */
	t = telf_default();
	t.seg[0].paddr = LAYOUT_BOOT_INFO_GPA;
	expect_elf(m, &t, -ENOEXEC);
	t.seg[0].paddr = MiB - 0x1000; /* starts just below 1 MiB */
	expect_elf(m, &t, -ENOEXEC);
	/* huge p_memsz, p_paddr + p_memsz overflowing */
	t = telf_default();
	t.seg[0].memsz = UINT64_MAX - 0x10;
	expect_elf(m, &t, -ENOSPC);
	t.seg[0].paddr = UINT64_MAX - 0xfff;
	t.seg[0].memsz = 0x3000;
	expect_elf(m, &t, -ENOSPC);
	/* overflowing / out-of-file offsets, filesz > memsz */
	t = telf_default();
	t.seg[0].offset = UINT64_MAX - 5;
	expect_elf(m, &t, -ENOEXEC);
	t.seg[0].offset = 0x100000;
	expect_elf(m, &t, -ENOEXEC);
	t = telf_default();
	t.seg[1].filesz = 0x2000;
	t.seg[1].memsz = 0x1000;
	expect_elf(m, &t, -ENOEXEC);
	/* overlapping PT_LOADs */
	t = telf_default();
	t.seg[1].paddr = MiB + 0x4000;
	expect_elf(m, &t, -ENOEXEC);
	/* no PT_LOAD at all (only a note): nothing to boot */
	t = telf_default();
	t.seg[0].type = PT_GNU_STACK;
	t.seg[1].type = PT_GNU_STACK;
	expect_elf(m, &t, -ENOEXEC);
	/* entry outside every segment and no PVH note */
	t = telf_default();
	t.pvh_descsz = 0;
	t.entry = 0x500000;
	expect_elf(m, &t, -ENOEXEC);
	/* neither ELF nor bzImage */
	expect_img(m, (const uint8_t *)"MZ this is not a kernel at all", 30, -ENOEXEC);
	vid_memory_destroy(m);
}

/* ---- bzImage tests ---------------------------------------------------------------------------------------- */

static void bz_roundtrip(enum boot_payload_format fmt)
{
	struct vid_memory *m = mem_new(128 * MiB);
	struct telf t = telf_default();
	struct tbz b = tbz_default();
	char *kernel, *initrd;
	struct boot_entry_state st;
	struct boot_params bp;
	uint8_t rd[5000];

	if (fmt == BOOT_PAYLOAD_LZ4) {
		/* more than one 8 MiB block */
		t.seg[1].paddr = 4 * MiB;
		t.seg[1].filesz = t.seg[1].memsz = 9 * MiB + 0x321;
	}
	b.initrd_addr_max = 0x2ffffff; /* the kernel's own limit (48 MiB) wins over the RAM top */
	kernel = tbz_file(&b, &t, fmt);
	memset(rd, 0x5a, sizeof(rd));
	initrd = tmp_write(rd, sizeof(rd));

	struct boot_linux_config cfg = { .kernel_path = kernel, .initrd_path = initrd, .cmdline = "quiet",
					 .rsdp_gpa = LAYOUT_ACPI_GPA };
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	assert_int_equal(st.kind, BOOT_ENTRY_PVH);
	assert_int_equal(st.entry, MiB + 0x40);
	check_segments(m, &t);
	check_initrd(m, &st, rd, sizeof(rd), 48 * MiB);
	check_pvh(m, "quiet", LAYOUT_ACPI_GPA, st.initrd_gpa, sizeof(rd), 128 * MiB, 0);

	cfg.entry = BOOT_ENTRY_LINUX64;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	assert_int_equal(st.kind, BOOT_ENTRY_LINUX64);
	assert_int_equal(st.entry, MiB + 0x10);
	check_segments(m, &t);
	check_boot_params(m, &bp, "quiet", LAYOUT_ACPI_GPA, st.initrd_gpa, sizeof(rd), 128 * MiB, 0);
	/* the kernel's header is carried over */
	assert_int_equal(bp.hdr.version, 0x020f);
	assert_int_equal(bp.hdr.initrd_addr_max, 0x2ffffff);
	assert_int_equal(bp.hdr.kernel_alignment, 0x200000);
	assert_int_equal(bp.hdr.pref_address, 0x1000000);
	assert_int_equal(bp.hdr.setup_sects, 3);
	free(initrd);
	free(kernel);
	vid_memory_destroy(m);
}

static void test_bzimage_gzip(void **state)
{
	bz_roundtrip(BOOT_PAYLOAD_GZIP);
}

static void test_bzimage_xz(void **state)
{
	bz_roundtrip(BOOT_PAYLOAD_XZ);
}

static void test_bzimage_lz4(void **state)
{
	bz_roundtrip(BOOT_PAYLOAD_LZ4);
}

static void test_bzimage_zstd(void **state)
{
	bz_roundtrip(BOOT_PAYLOAD_ZSTD);
}

/* 64-bit boot protocol without host-side extraction: the image as is at pref_address, entry +0x200. */
static void test_bzimage_in_guest(void **state)
{
	struct vid_memory *m = mem_new(128 * MiB);
	struct telf t = telf_default();
	struct tbz b = tbz_default();
	size_t elf_len, plen, len;
	uint8_t *elf = telf_build(&t, &elf_len), *payload, *img;
	struct boot_entry_state st;
	struct boot_params bp;
	char *kernel, *initrd;
	size_t pm = 4 * 512;

	payload = compress_payload(BOOT_PAYLOAD_XZ, elf, elf_len, &plen);
	img = tbz_build(&b, payload, plen, &len);
	kernel = tmp_write(img, len);
	initrd = tmp_write("rd", 2);

	struct boot_linux_config cfg = { .kernel_path = kernel, .initrd_path = initrd, .cmdline = "a=b",
					 .decompress_in_guest = true };
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	assert_int_equal(st.kind, BOOT_ENTRY_LINUX64);
	assert_int_equal(st.entry, 0x1000000 + 0x200);
	assert_int_equal(st.kernel_start, 0x1000000);
	assert_int_equal(st.kernel_end, 0x1000000 + 0x400000); /* init_size > file */
	assert_memory_equal(vid_memory_ptr(m, 0x1000000, len - pm), img + pm, len - pm);
	check_initrd(m, &st, (const uint8_t *)"rd", 2, 128 * MiB);
	check_boot_params(m, &bp, "a=b", 0, st.initrd_gpa, 2, 128 * MiB, 0);
	assert_int_equal(bp.hdr.version, 0x020f);
	assert_int_equal(bp.hdr.init_size, 0x400000);

	cfg.entry = BOOT_ENTRY_PVH;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -EOPNOTSUPP);
	free(kernel);

	/* not relocatable, no pref_address: 1 MiB */
	b.pref_address = 0;
	b.relocatable = 0;
	free(img);
	img = tbz_build(&b, payload, plen, &len);
	kernel = tmp_write(img, len);
	cfg.kernel_path = kernel;
	cfg.entry = BOOT_ENTRY_LINUX64;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	assert_int_equal(st.entry, MiB + 0x200);
	free(kernel);

	/* no 64-bit entry */
	b.xloadflags = 0;
	free(img);
	img = tbz_build(&b, payload, plen, &len);
	expect_img(m, img, len, 0); /* AUTO extracts the payload: fine */
	kernel = tmp_write(img, len);
	cfg.kernel_path = kernel;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -ENOEXEC);
	free(kernel);

	/* init_size beyond RAM */
	b = tbz_default();
	b.init_size = 0x7fffffff;
	free(img);
	img = tbz_build(&b, payload, plen, &len);
	kernel = tmp_write(img, len);
	cfg.kernel_path = kernel;
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -ENOSPC);
	free(kernel);

	free(initrd);
	free(img);
	free(payload);
	free(elf);
	vid_memory_destroy(m);
}

static void test_bzimage_unknown_compression(void **state)
{
	struct vid_memory *m = mem_new(128 * MiB);
	struct tbz b = tbz_default();
	uint8_t payload[64];
	size_t len;
	uint8_t *img;
	char *kernel;
	struct boot_entry_state st;

	memcpy(payload, "BZh91AY&SY", 10); /* bzip2 */
	memset(payload + 10, 0x33, sizeof(payload) - 10);
	img = tbz_build(&b, payload, sizeof(payload), &len);
	kernel = tmp_write(img, len);

	struct boot_linux_config cfg = { .kernel_path = kernel };
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0); /* AUTO: in-guest decompression */
	assert_int_equal(st.kind, BOOT_ENTRY_LINUX64);
	assert_int_equal(st.entry, 0x1000200);
	cfg.entry = BOOT_ENTRY_LINUX64; /* the same */
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	assert_int_equal(st.entry, 0x1000200);
	cfg.entry = BOOT_ENTRY_PVH; /* needs the extracted ELF */
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -EOPNOTSUPP);
	free(kernel);
	free(img);
	vid_memory_destroy(m);
}

static void expect_bz(struct vid_memory *m, const struct tbz *b, const uint8_t *payload, size_t plen, int err)
{
	size_t len;
	uint8_t *img = tbz_build(b, payload, plen, &len);

	expect_img(m, img, len, err);
	free(img);
}

static void test_bzimage_malformed(void **state)
{
	struct vid_memory *m = mem_new(64 * MiB);
	struct telf t = telf_default();
	struct tbz b = tbz_default();
	size_t elf_len, plen, len;
	uint8_t *elf = telf_build(&t, &elf_len), *payload, *bad, *img;
	char *kernel;
	struct boot_entry_state st;

	payload = compress_payload(BOOT_PAYLOAD_XZ, elf, elf_len, &plen);
	expect_bz(m, &b, payload, plen, 0);
	bad = malloc(plen);

	/* corrupt stream */
	memcpy(bad, payload, plen);
	for (size_t i = 40; i < plen - 40; i += 7)
		bad[i] ^= 0x5a;
	expect_bz(m, &b, bad, plen, -ENOEXEC);
	/* wrong declared size: smaller, larger, absurd */
	memcpy(bad, payload, plen);
	append_le32(bad + plen - 4, (uint32_t)elf_len - 1);
	expect_bz(m, &b, bad, plen, -ENOEXEC);
	append_le32(bad + plen - 4, (uint32_t)elf_len + 1);
	expect_bz(m, &b, bad, plen, -ENOEXEC);
	append_le32(bad + plen - 4, 0xffffffffu);
	expect_bz(m, &b, bad, plen, -EFBIG);
	append_le32(bad + plen - 4, 3);
	expect_bz(m, &b, bad, plen, -ENOEXEC);
	/* truncated stream */
	memcpy(bad, payload, plen);
	memcpy(bad + plen / 2, payload + plen - 4, 4);
	expect_bz(m, &b, bad, plen / 2 + 4, -ENOEXEC);
	/* payload_length past the end of the file; tiny payload */
	b.payload_length_delta = 17;
	expect_bz(m, &b, payload, plen, -ENOEXEC);
	b.payload_length_delta = -(int64_t)plen + 2;
	expect_bz(m, &b, payload, plen, -ENOEXEC);
	b.payload_length_delta = (int64_t)UINT32_MAX - (int64_t)plen; /* payload_length = 0xffffffff */
	expect_bz(m, &b, payload, plen, -ENOEXEC);
	/* too old a protocol */
	b = tbz_default();
	b.version = 0x0206;
	expect_bz(m, &b, payload, plen, -ENOEXEC);
	/* setup_sects pointing past the end of the file */
	b = tbz_default();
	img = tbz_build(&b, payload, plen, &len);
	img[BOOT_SETUP_HEADER_OFFSET] = 255;
	expect_img(m, img, len, -ENOEXEC);
	free(img);
	/* the payload decompresses, but not to an ELF */
	b = tbz_default();
	{
		uint8_t junk[4096];
		uint8_t *jp;
		size_t jl;

		memset(junk, 0x41, sizeof(junk));
		jp = compress_payload(BOOT_PAYLOAD_GZIP, junk, sizeof(junk), &jl);
		expect_bz(m, &b, jp, jl, -ENOEXEC);
		free(jp);
		jp = compress_payload(BOOT_PAYLOAD_ZSTD, junk, sizeof(junk), &jl);
		jp[jl - 8] ^= 0xff; /* corrupt zstd */
		expect_bz(m, &b, jp, jl, -ENOEXEC);
		free(jp);
		jp = compress_payload(BOOT_PAYLOAD_LZ4, junk, sizeof(junk), &jl);
		append_le32(jp + 4, 0x7fffffff); /* absurd lz4 block size */
		expect_bz(m, &b, jp, jl, -ENOEXEC);
		free(jp);
		jp = compress_payload(BOOT_PAYLOAD_GZIP, junk, sizeof(junk), &jl);
		jp[jl - 12] ^= 0xff; /* corrupt gzip */
		expect_bz(m, &b, jp, jl, -ENOEXEC);
		free(jp);
	}
	/* a payload whose ELF loads below 1 MiB */
	t.seg[0].paddr = 0x10000;
	free(elf);
	free(payload);
	elf = telf_build(&t, &elf_len);
	payload = compress_payload(BOOT_PAYLOAD_GZIP, elf, elf_len, &plen);
	expect_bz(m, &b, payload, plen, -ENOEXEC);

	/* command line over the kernel's cmdline_size */
	t = telf_default();
	b.cmdline_size = 8;
	kernel = tbz_file(&b, &t, BOOT_PAYLOAD_GZIP);
	struct boot_linux_config cfg = { .kernel_path = kernel, .cmdline = "12345678" };
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), 0);
	cfg.cmdline = "123456789";
	assert_int_equal(boot_linux_prepare(m, &cfg, &st), -E2BIG);
	free(kernel);

	/* header truncated right after the magic */
	img = tbz_build(&b, payload, plen, &len);
	expect_img(m, img, 0x210, -ENOEXEC);
	img[0x201] = 0x10; /* header claims to end at 0x212 */
	expect_img(m, img, len, -ENOEXEC);
	free(img);

	free(bad);
	free(payload);
	free(elf);
	vid_memory_destroy(m);
}

/* ---- apply (vid calls recorded) --------------------------------------------------------------------------- */

static struct {
	int calls;
	uint64_t a, b, c;
} mock;

int vid_vp_set_pvh_state(struct vid_vp *vp, uint32_t entry, uint32_t start_info_gpa)
{
	mock.calls = 1;
	mock.a = entry;
	mock.b = start_info_gpa;
	return 0;
}

int vid_vp_set_long_mode_state(struct vid_vp *vp, uint64_t entry, uint64_t pml4_gpa, uint64_t boot_params_gpa)
{
	mock.calls = 2;
	mock.a = entry;
	mock.b = pml4_gpa;
	mock.c = boot_params_gpa;
	return 0;
}

static void test_apply(void **state)
{
	struct vid_vp *vp = (struct vid_vp *)&mock; /* opaque: never dereferenced by the mocks */
	struct boot_entry_state st = { .kind = BOOT_ENTRY_PVH, .entry = 0x1000850, .info_gpa = LAYOUT_BOOT_INFO_GPA };
	enum boot_entry_kind k;

	assert_int_equal(boot_linux_apply(vp, &st), 0);
	assert_int_equal(mock.calls, 1);
	assert_int_equal(mock.a, 0x1000850);
	assert_int_equal(mock.b, LAYOUT_BOOT_INFO_GPA);
	st = (struct boot_entry_state){ .kind = BOOT_ENTRY_LINUX64, .entry = 0x1000000,
					.info_gpa = LAYOUT_BOOT_INFO_GPA, .pml4_gpa = LAYOUT_PAGE_TABLES_GPA };
	assert_int_equal(boot_linux_apply(vp, &st), 0);
	assert_int_equal(mock.calls, 2);
	assert_int_equal(mock.a, 0x1000000);
	assert_int_equal(mock.b, LAYOUT_PAGE_TABLES_GPA);
	assert_int_equal(mock.c, LAYOUT_BOOT_INFO_GPA);
	mock.calls = 0;
	st.kind = BOOT_ENTRY_AUTO;
	assert_int_equal(boot_linux_apply(vp, &st), -EINVAL);
	st = (struct boot_entry_state){ .kind = BOOT_ENTRY_PVH, .entry = 0x100000000ull };
	assert_int_equal(boot_linux_apply(vp, &st), -EINVAL);
	assert_int_equal(boot_linux_apply(NULL, &st), -EINVAL);
	assert_int_equal(mock.calls, 0);

	assert_int_equal(boot_entry_kind_parse("pvh", &k), 0);
	assert_int_equal(k, BOOT_ENTRY_PVH);
	assert_int_equal(boot_entry_kind_parse("linux64", &k), 0);
	assert_int_equal(k, BOOT_ENTRY_LINUX64);
	assert_int_equal(boot_entry_kind_parse("auto", &k), 0);
	assert_int_equal(k, BOOT_ENTRY_AUTO);
	assert_int_equal(boot_entry_kind_parse("PVH", &k), -EINVAL);
	assert_string_equal(boot_entry_kind_name(BOOT_ENTRY_LINUX64), "linux64");
}

/* ---- the stock Debian kernel, if tools/guest-images.sh cached it ------------------------------------------ */

/* The PVH entry as binutils' readelf reports it (note type 0x12 of owner Xen); 0 if unavailable. */
static uint64_t readelf_pvh_entry(const char *path)
{
	char *cmd, line[1024];
	uint64_t v = 0;
	FILE *p;

	assert_true(asprintf(&cmd, "readelf -nW '%s' 2>/dev/null", path) > 0);
	p = popen(cmd, "r");
	free(cmd);
	if (!p)
		return 0;
	while (fgets(line, sizeof(line), p)) {
		char *d;
		unsigned shift = 0, byte;
		int n;

		if (!strstr(line, "Xen") || !strstr(line, "(0x00000012)") || !(d = strstr(line, "description data:")))
			continue;
		d += strlen("description data:");
		while (shift < 64 && sscanf(d, " %2x%n", &byte, &n) == 1) {
			v |= (uint64_t)byte << shift;
			shift += 8;
			d += n;
		}
	}
	pclose(p);
	return v;
}

/* Prepare one cached stock kernel (bzImage and its extracted vmlinux) and cross-check both. */
static void stock_kernel_check(const char *bz, const char *vmlinux, const char *initrd)
{
	struct vid_memory *m1, *m2;
	struct boot_entry_state s1, s2;
	struct timespec t0, t1;
	uint64_t want = readelf_pvh_entry(vmlinux);

	m1 = mem_new(256 * MiB);
	m2 = mem_new(256 * MiB);

	struct boot_linux_config cfg = { .kernel_path = bz, .initrd_path = initrd, .cmdline = "console=ttyS0",
					 .entry = BOOT_ENTRY_PVH };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(boot_linux_prepare(m1, &cfg, &s1), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("%s: prepared (host-side decompression included) in %.3f s, PVH entry %#" PRIx64 "\n", bz,
		      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, s1.entry);
	assert_int_equal(s1.kind, BOOT_ENTRY_PVH);
	if (want)
		assert_int_equal(s1.entry, want);
	else
		print_message("readelf unavailable: PVH entry not cross-checked\n");

	cfg.kernel_path = vmlinux;
	assert_int_equal(boot_linux_prepare(m2, &cfg, &s2), 0);
	assert_int_equal(s2.kind, BOOT_ENTRY_PVH);
	assert_int_equal(s2.entry, s1.entry);
	assert_int_equal(s2.kernel_start, s1.kernel_start);
	assert_int_equal(s2.kernel_end, s1.kernel_end);
	assert_int_equal(s2.initrd_gpa, s1.initrd_gpa);
	/* the extracted image and the cached vmlinux load the same bytes */
	assert_int_equal(memcmp(vid_memory_ptr(m1, s1.kernel_start, s1.kernel_end - s1.kernel_start),
				vid_memory_ptr(m2, s2.kernel_start, s2.kernel_end - s2.kernel_start),
				s1.kernel_end - s1.kernel_start), 0);
	if (initrd)
		assert_true(s1.initrd_gpa >= s1.kernel_end && s1.initrd_size > 0);

	/* 64-bit entry: startup_64 at phys_startup_64 == e_entry, the start of the image */
	cfg.entry = BOOT_ENTRY_LINUX64;
	assert_int_equal(boot_linux_prepare(m2, &cfg, &s2), 0);
	assert_int_equal(s2.kind, BOOT_ENTRY_LINUX64);
	assert_int_equal(s2.entry, s1.kernel_start);

	/* AUTO: a Linux vmlinux (it has "Linux" notes) takes the 64-bit entry, measured faster than PVH */
	cfg.entry = BOOT_ENTRY_AUTO;
	assert_int_equal(boot_linux_prepare(m2, &cfg, &s2), 0);
	assert_int_equal(s2.kind, BOOT_ENTRY_LINUX64);

	vid_memory_destroy(m1);
	vid_memory_destroy(m2);
}

static void test_stock_debian_kernel(void **state)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME"), *cache = getenv("OPENHV_CACHE");
	char *pat = NULL;
	unsigned done = 0;
	glob_t g;

	if (cache && *cache)
		assert_true(asprintf(&pat, "%s/stock/*/vmlinux", cache) > 0);
	else if (xdg && *xdg)
		assert_true(asprintf(&pat, "%s/openhv/stock/*/vmlinux", xdg) > 0);
	else if (home)
		assert_true(asprintf(&pat, "%s/.cache/openhv/stock/*/vmlinux", home) > 0);
	if (!pat || glob(pat, 0, NULL, &g) != 0) {
		free(pat);
		skip();
	}
	free(pat);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char *dir = strndup(g.gl_pathv[i], strlen(g.gl_pathv[i]) - strlen("/vmlinux"));
		char *p1, *p2;
		glob_t gb, gi;

		assert_true(asprintf(&p1, "%s/root/boot/vmlinuz-*", dir) > 0);
		assert_true(asprintf(&p2, "%s/initrd-*.cpio", dir) > 0);
		if (glob(p1, 0, NULL, &gb) == 0) {
			int have_rd = glob(p2, 0, NULL, &gi) == 0;

			stock_kernel_check(gb.gl_pathv[0], g.gl_pathv[i], have_rd ? gi.gl_pathv[0] : NULL);
			done++;
			if (have_rd)
				globfree(&gi);
			globfree(&gb);
		}
		free(p1);
		free(p2);
		free(dir);
	}
	globfree(&g);
	if (!done)
		skip();
}

/* ---- main ------------------------------------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int group_setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/openhv-boot-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf_pvh_auto),
		cmocka_unit_test(test_elf_linux64),
		cmocka_unit_test(test_elf_vmlinux_layout),
		cmocka_unit_test(test_elf_pvh_note_variants),
		cmocka_unit_test(test_high_memory_map),
		cmocka_unit_test(test_cmdline_limits),
		cmocka_unit_test(test_initrd_placement_errors),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_elf_malformed),
		cmocka_unit_test(test_bzimage_gzip),
		cmocka_unit_test(test_bzimage_xz),
		cmocka_unit_test(test_bzimage_lz4),
		cmocka_unit_test(test_bzimage_zstd),
		cmocka_unit_test(test_bzimage_in_guest),
		cmocka_unit_test(test_bzimage_unknown_compression),
		cmocka_unit_test(test_bzimage_malformed),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_stock_debian_kernel),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
