// SPDX-License-Identifier: MIT
/*
 * guest/rt/vsc_hvc.c - the vsc_platform of a micro-guest (see vsc_hvc.h).
 */
#include "rt/vsc_hvc.h"

static uint8_t vsc_hvc_pool[VSC_HVC_POOL_PAGES][4096] __attribute__((aligned(4096)));
static unsigned vsc_hvc_used;

static uint16_t vsc_hvc_post(void *opaque, uint32_t vp, uint32_t conn_id, uint32_t type, const void *payload,
			     uint32_t size)
{
	return hvc_post_message(conn_id, type, payload, size);
}

static uint16_t vsc_hvc_signal(void *opaque, uint32_t vp, uint32_t conn_id)
{
	return hvc_signal_event(conn_id, 0);
}

static bool vsc_hvc_msg_take(void *opaque, uint32_t vp, struct hv_message *out)
{
	return hvc_msg_take(VMBUS_MESSAGE_SINT, out, NULL);
}

static bool vsc_hvc_event_test_clear(void *opaque, uint32_t vp, uint32_t relid)
{
	if (relid >= HV_EVENT_FLAGS_COUNT)
		return false; /* past SINT2's 2048-bit bitmap: the next SINT's flags */
	return hvc_event_flag_test_clear(VMBUS_MESSAGE_SINT, relid);
}

static void *vsc_hvc_gpa_to_ptr(void *opaque, uint64_t gpa, uint64_t len)
{
	return (void *)(uintptr_t)gpa; /* identity-mapped 0-4 GiB */
}

static uint64_t vsc_hvc_alloc_pages(void *opaque, uint32_t pages)
{
	uint64_t gpa;

	if (pages > VSC_HVC_POOL_PAGES - vsc_hvc_used)
		return 0;
	gpa = (uint64_t)(uintptr_t)vsc_hvc_pool[vsc_hvc_used];
	vsc_hvc_used += pages;
	return gpa; /* .bss: already zero */
}

static void vsc_hvc_pump(void *opaque)
{
	__asm__ volatile("pause");
}

static uint64_t vsc_hvc_now_ms(void *opaque)
{
	return hvc_time_ref_count() / 10000u;
}

static const struct vsc_platform vsc_hvc_plat = {
	.post_message = vsc_hvc_post,
	.signal_event = vsc_hvc_signal,
	.msg_take = vsc_hvc_msg_take,
	.event_test_clear = vsc_hvc_event_test_clear,
	.gpa_to_ptr = vsc_hvc_gpa_to_ptr,
	.alloc_pages = vsc_hvc_alloc_pages,
	.pump = vsc_hvc_pump,
	.now_ms = vsc_hvc_now_ms,
};

const struct vsc_platform *vsc_hvc_platform(void)
{
	return &vsc_hvc_plat;
}

unsigned vsc_hvc_pages_used(void)
{
	return vsc_hvc_used;
}
