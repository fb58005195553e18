// SPDX-License-Identifier: MIT
/* vdev/pvpanic.c - QEMU pvpanic ISA device (see vdev/pvpanic.h). */
#define LOG_TAG "pvpanic"
#include "vdev/pvpanic.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "lib/log.h"

struct vdev_pvpanic {
	struct vdev_board_ops board;
	_Atomic uint64_t panics;
};

static void pvpanic_write(struct vdev_pvpanic *p, uint8_t v)
{
	if (v & VDEV_PVPANIC_PANICKED) {
		atomic_fetch_add(&p->panics, 1);
		log_guest("guest reported a panic (event 0x%02x)", v);
		if (p->board.panic)
			p->board.panic(p->board.opaque, v);
	} else if (v & VDEV_PVPANIC_CRASH_LOADED) {
		log_guest("guest reported a crash; its crash kernel is running (event 0x%02x)", v);
	} else if (v) {
		log_guest("unknown pvpanic event 0x%02x ignored", v);
	}
}

int vdev_pvpanic_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data, unsigned size)
{
	struct vdev_pvpanic *p = opaque;

	if (!p || !data || size < 1 || size > 8)
		return -EINVAL;
	if (is_write) {
		pvpanic_write(p, data[0]);
		return 0;
	}
	data[0] = VDEV_PVPANIC_PANICKED | VDEV_PVPANIC_CRASH_LOADED;
	for (unsigned i = 1; i < size; i++)
		data[i] = 0xff;
	return 0;
}

uint64_t vdev_pvpanic_count(struct vdev_pvpanic *p)
{
	return p ? atomic_load(&p->panics) : 0;
}

int vdev_pvpanic_create(const struct vdev_board_ops *board, struct vdev_pvpanic **out)
{
	struct vdev_pvpanic *p;

	if (!out)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (board)
		p->board = *board;
	*out = p;
	return 0;
}

void vdev_pvpanic_destroy(struct vdev_pvpanic *p)
{
	free(p);
}
