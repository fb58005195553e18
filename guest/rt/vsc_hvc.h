/* SPDX-License-Identifier: MIT */
/*
 * guest/rt/vsc_hvc.h - the VMBus client library (guest/vsc/vsc.h) on a real partition: its platform made of the
 * micro-guest runtime's hypercall page and SynIC (guest/rt/hvc.h). Single VP (the BSP); guest memory is
 * identity-mapped, so a GPA is its own pointer; pages come from a small static pool; time is TIME_REF_COUNT.
 */
#ifndef OPENHV_GUEST_VSC_HVC_H
#define OPENHV_GUEST_VSC_HVC_H

#include "rt/hvc.h"
#include "vsc/vsc.h"

#define VSC_HVC_POOL_PAGES 24u /* pages vsc_hvc_platform() can hand out (in .bss: zeroed by interpreted code) */

/* The platform. Call after hvc_hypercall_enable() and hvc_synic_enable() on the BSP. */
const struct vsc_platform *vsc_hvc_platform(void);

/* Pages handed out so far. */
unsigned vsc_hvc_pages_used(void);

#endif
