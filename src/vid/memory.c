// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#define LOG_TAG "vid-mem"
#include "vid/memory.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/log.h"

struct vid_memory {
	int fd;
	uint8_t *base; /* mapping of the whole memfd */
	uint64_t size;
	unsigned nregions;
	struct vid_memory_region regions[2];
};

int vid_memory_create(uint64_t ram_bytes, struct vid_memory **out)
{
	struct vid_memory *mem;
	uint64_t low;
	int ret;

	*out = NULL;
	if (ram_bytes < (1ull << 20) || ram_bytes > (1ull << 46))
		return -EINVAL;
	ram_bytes = (ram_bytes + VID_PAGE_SIZE - 1) & ~(VID_PAGE_SIZE - 1);

	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	mem->fd = memfd_create("openhv-ram", MFD_CLOEXEC);
	if (mem->fd < 0) {
		ret = -errno;
		goto err_free;
	}
	if (ftruncate(mem->fd, (off_t)ram_bytes) < 0) {
		ret = -errno;
		goto err_close;
	}
	mem->base = mmap(NULL, ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, mem->fd, 0);
	if (mem->base == MAP_FAILED) {
		ret = -errno;
		goto err_close;
	}
	mem->size = ram_bytes;

	low = ram_bytes < VID_LOWMEM_TOP ? ram_bytes : VID_LOWMEM_TOP;
	mem->regions[0] = (struct vid_memory_region){ .gpa = 0, .size = low, .hva = mem->base, .fd_offset = 0 };
	mem->nregions = 1;
	if (ram_bytes > low) {
		mem->regions[1] = (struct vid_memory_region){
			.gpa = VID_HIGHMEM_BASE, .size = ram_bytes - low, .hva = mem->base + low, .fd_offset = low
		};
		mem->nregions = 2;
	}
	*out = mem;
	return 0;

err_close:
	close(mem->fd);
err_free:
	free(mem);
	return ret;
}

void vid_memory_destroy(struct vid_memory *mem)
{
	if (!mem)
		return;
	munmap(mem->base, mem->size);
	close(mem->fd);
	free(mem);
}

uint64_t vid_memory_size(const struct vid_memory *mem)
{
	return mem->size;
}

unsigned vid_memory_region_count(const struct vid_memory *mem)
{
	return mem->nregions;
}

const struct vid_memory_region *vid_memory_region(const struct vid_memory *mem, unsigned i)
{
	return i < mem->nregions ? &mem->regions[i] : NULL;
}

int vid_memory_fd(const struct vid_memory *mem)
{
	return mem->fd;
}

void *vid_memory_ptr(struct vid_memory *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct vid_memory_region *r = &mem->regions[i];

		/* Written so that no sum can overflow: gpa >= r->gpa, then offsets within the region. */
		if (len == 0 || gpa < r->gpa)
			continue;
		if (gpa - r->gpa >= r->size || len > r->size - (gpa - r->gpa))
			continue;
		return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

/* Host pointer for [gpa, gpa + len) in *@p (NULL for len 0); 0, or -EFAULT if the range is not all RAM. */
static int vid_memory_span(struct vid_memory *mem, uint64_t gpa, size_t len, uint8_t **p)
{
	*p = NULL;
	if (len == 0)
		return 0;
	*p = vid_memory_ptr(mem, gpa, len);
	return *p ? 0 : -EFAULT;
}

int vid_memory_read(struct vid_memory *mem, uint64_t gpa, void *buf, size_t len)
{
	uint8_t *p;
	int ret = vid_memory_span(mem, gpa, len, &p);

	if (p)
		memcpy(buf, p, len);
	return ret;
}

int vid_memory_write(struct vid_memory *mem, uint64_t gpa, const void *buf, size_t len)
{
	uint8_t *p;
	int ret = vid_memory_span(mem, gpa, len, &p);

	if (p)
		memcpy(p, buf, len);
	return ret;
}

int vid_memory_zero(struct vid_memory *mem, uint64_t gpa, size_t len)
{
	uint8_t *p;
	int ret = vid_memory_span(mem, gpa, len, &p);

	if (p)
		memset(p, 0, len);
	return ret;
}
