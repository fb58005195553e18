// SPDX-License-Identifier: MIT
/* vdev/acpi_pm.c - hardware-reduced ACPI sleep control/status and reset registers (see vdev/acpi_pm.h). */
#define LOG_TAG "acpi-pm"
#include "vdev/acpi_pm.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "boot/layout.h"
#include "lib/log.h"

struct vdev_acpi_pm {
	struct vdev_board_ops board;
	_Atomic uint8_t sleep_sts; /* WAK_STS */
};

static void acpi_pm_sleep_control(struct vdev_acpi_pm *pm, uint8_t v)
{
	unsigned typ = (v & VDEV_ACPI_SLP_TYP_MASK) >> VDEV_ACPI_SLP_TYP_SHIFT;

	if (!(v & VDEV_ACPI_SLP_EN))
		return;
	if (typ == LAYOUT_ACPI_S5_SLP_TYP) {
		static struct log_ratelimit rl;

		if (log_ratelimit_allow(&rl))
			log_info("guest entered S5 (soft off)");
		if (pm->board.poweroff)
			pm->board.poweroff(pm->board.opaque);
		return;
	}
	/* No other sleep state is implemented: wake at once, or acpi_hw_extended_sleep() spins on WAK_STS. */
	log_guest("sleep request SLP_TYP %u not supported; waking at once", typ);
	atomic_fetch_or(&pm->sleep_sts, VDEV_ACPI_WAK_STS);
}

static void acpi_pm_access(struct vdev_acpi_pm *pm, uint32_t port, bool is_write, uint8_t *b)
{
	switch (port) {
	case LAYOUT_ACPI_SLEEP_CTL_PORT:
		if (is_write)
			acpi_pm_sleep_control(pm, *b);
		else
			*b = 0;
		break;
	case LAYOUT_ACPI_SLEEP_STS_PORT:
		if (is_write)
			atomic_fetch_and(&pm->sleep_sts, (uint8_t)~(*b & VDEV_ACPI_WAK_STS)); /* write 1 to clear */
		else
			*b = atomic_load(&pm->sleep_sts);
		break;
	case LAYOUT_ACPI_RESET_PORT:
		if (!is_write) {
			*b = 0;
		} else if (*b == LAYOUT_ACPI_RESET_VALUE) {
			static struct log_ratelimit rl;

			if (log_ratelimit_allow(&rl))
				log_info("guest wrote the ACPI reset register");
			if (pm->board.reset)
				pm->board.reset(pm->board.opaque);
		} else {
			log_guest("ACPI reset register: value 0x%02x ignored", *b);
		}
		break;
	default:
		if (!is_write)
			*b = 0xff;
		break;
	}
}

int vdev_acpi_pm_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data, unsigned size)
{
	struct vdev_acpi_pm *pm = opaque;

	if (!pm || !data || size < 1 || size > 8)
		return -EINVAL;
	for (unsigned i = 0; i < size; i++)
		acpi_pm_access(pm, (uint32_t)port + i, is_write, &data[i]);
	return 0;
}

int vdev_acpi_pm_create(const struct vdev_board_ops *board, struct vdev_acpi_pm **out)
{
	struct vdev_acpi_pm *pm;

	if (!out)
		return -EINVAL;
	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	if (board)
		pm->board = *board;
	*out = pm;
	return 0;
}

void vdev_acpi_pm_destroy(struct vdev_acpi_pm *pm)
{
	free(pm);
}
