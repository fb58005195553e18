/* SPDX-License-Identifier: MIT */
/*
 * vid/memory.h - guest physical memory (Hyper-V's GPA space), backed by one memfd.
 *
 * The RAM is one memfd of @ram_bytes, mapped once into the VMM. It is laid out in up to two GPA regions, the way
 * a PC has it: [0, min(ram, VID_LOWMEM_TOP)) and, for the rest, [4 GiB, 4 GiB + rest). The hole between
 * VID_LOWMEM_TOP and 4 GiB holds MMIO (IOAPIC, LAPIC, VMBus window, ...).
 *
 * Guest memory is hostile: every access from the VMM goes through the bounds-checked accessors here. A range that
 * is not entirely inside one RAM region is refused with -EFAULT; nothing is partially copied. The memory object does
 * not need /dev/kvm, so protocol code and its tests can run on plain memory; a vid_partition borrows it.
 */
#ifndef OPENHV_VID_MEMORY_H
#define OPENHV_VID_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#define VID_PAGE_SIZE 4096ull
#define VID_LOWMEM_TOP 0xC0000000ull /* 3 GiB: RAM below this, MMIO hole above up to 4 GiB */
#define VID_HIGHMEM_BASE 0x100000000ull

struct vid_memory;

/* One contiguous run of guest RAM: [gpa, gpa + size) is at host address hva. */
struct vid_memory_region {
	uint64_t gpa;
	uint64_t size; /* bytes, a multiple of VID_PAGE_SIZE */
	uint8_t *hva;
	uint64_t fd_offset; /* offset of the region in the memfd */
};

/*
 * Create guest RAM of @ram_bytes (rounded up to a page; at least 1 MiB). The memory reads as zeroes.
 * Returns 0 and the object in *@out, -EINVAL for a bad size, -ENOMEM or another -errno from memfd/mmap.
 */
int vid_memory_create(uint64_t ram_bytes, struct vid_memory **out);

/* Unmap and close. NULL is a no-op. Must outlive every partition that borrowed it. */
void vid_memory_destroy(struct vid_memory *mem);

/* Total RAM in bytes. */
uint64_t vid_memory_size(const struct vid_memory *mem);

/* Number of RAM regions (1 or 2) and region @i (0-based); NULL if @i is out of range. */
unsigned vid_memory_region_count(const struct vid_memory *mem);
const struct vid_memory_region *vid_memory_region(const struct vid_memory *mem, unsigned i);

/* The memfd behind the RAM (owned by @mem; do not close). */
int vid_memory_fd(const struct vid_memory *mem);

/*
 * Host pointer to [gpa, gpa + len) if that range lies entirely inside one RAM region, else NULL.
 * len 0 is refused (NULL). The pointer stays valid for the life of @mem. The guest may change the bytes at any
 * time: copy what you validate (no double fetch).
 */
void *vid_memory_ptr(struct vid_memory *mem, uint64_t gpa, uint64_t len);

/* Copy @len bytes from guest memory at @gpa into @buf. 0, or -EFAULT if the range is not all RAM. */
int vid_memory_read(struct vid_memory *mem, uint64_t gpa, void *buf, size_t len);

/* Copy @len bytes from @buf into guest memory at @gpa. 0, or -EFAULT if the range is not all RAM. */
int vid_memory_write(struct vid_memory *mem, uint64_t gpa, const void *buf, size_t len);

/* Fill [gpa, gpa + len) with zeroes. 0 or -EFAULT. */
int vid_memory_zero(struct vid_memory *mem, uint64_t gpa, size_t len);

#endif
