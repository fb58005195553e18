// SPDX-License-Identifier: MIT
/*
 * hv/stimer.c - synthetic timers (TLFS 12.2 "Synthetic Timers"): four per VP, one-shot or periodic, expiring in
 * message mode (an HVMSG_TIMER_EXPIRED message in the SINT the config names) or in direct mode (the config's APIC
 * vector, no message). Times are partition reference time (100 ns ticks, hv/reftime.c).
 *
 * Semantics follow the TLFS and KVM's arch/x86/kvm/hyperv.c: writing COUNT re-enables a timer whose config has
 * AutoEnable; COUNT 0 disables it; a message-mode timer with SINTx 0 is disabled; a one-shot timer is disabled after
 * it fired; a periodic timer that fell behind skips the missed periods, and periods under 100 us are raised to
 * 100 us. An expiry message not yet consumed by the guest is not doubled: later expiries of that timer coalesce
 * until the slot took it.
 *
 * One thread per partition sleeps until the earliest armed expiry (CLOCK_MONOTONIC, converted from reference
 * time), fires what is due and sleeps again. It also re-offers queued SynIC messages every 10 ms while any wait,
 * a backstop for a lost EOM (guest-core.md 3.3).
 */
#define _GNU_SOURCE
#define LOG_TAG "hv"
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "hv/internal.h"
#include "lib/log.h"

#define HVI_STIMER_CONFIG_VALID (HV_STIMER_ENABLE | HV_STIMER_PERIODIC | HV_STIMER_LAZY | HV_STIMER_AUTOENABLE | \
				 HV_STIMER_APICVECTOR_MASK | HV_STIMER_DIRECT_MODE | HV_STIMER_SINT_MASK)
#define HVI_TIMER_IDLE_WAIT_NS 1000000000ull /* nothing armed: look again after 1 s */
#define HVI_TIMER_RESCAN_NS 10000000ull      /* messages queued: re-offer them every 10 ms */
/*
 * Shortest period honoured (100 ns units): 100 us. A guest asking for less gets this, so a periodic timer cannot
 * keep the timer thread spinning (Linux programs one-shot timers; Windows' shortest periodic tick is 0.5 ms).
 */
#define HVI_STIMER_MIN_PERIOD 1000ull

void hvi_stimer_kick(struct hvi_partition *hv)
{
	pthread_mutex_lock(&hv->timer_lock);
	hv->timer_kicked = true;
	pthread_cond_signal(&hv->timer_cond);
	pthread_mutex_unlock(&hv->timer_lock);
}

/* Arm timer @t from its config and count, now (vp->lock held). */
static void hvi_stimer_arm(struct hvi_vp *vp, struct hvi_stimer *t)
{
	uint64_t now = hvi_reference_time(vp->hv);

	t->expiry = 0;
	if (!(t->config & HV_STIMER_ENABLE) || t->count == 0)
		return;
	if (t->config & HV_STIMER_PERIODIC)
		t->expiry = now + (t->count < HVI_STIMER_MIN_PERIOD ? HVI_STIMER_MIN_PERIOD : t->count);
	else
		t->expiry = t->count > now ? t->count : now; /* in the past: fire at once */
	if (t->expiry == 0)
		t->expiry = 1;
	hvi_stimer_kick(vp->hv);
}

/* KVM's rule: a message-mode timer without a SINT cannot fire, so it is disabled. */
static void hvi_stimer_config_check(struct hvi_stimer *t)
{
	if ((t->config & HV_STIMER_ENABLE) && !(t->config & HV_STIMER_DIRECT_MODE) && !(t->config & HV_STIMER_SINT_MASK))
		t->config &= ~HV_STIMER_ENABLE;
}

int hvi_stimer_msr(struct hvi_vp *vp, uint32_t index, bool is_write, uint64_t *value)
{
	unsigned n = (index - HV_X64_MSR_STIMER0_CONFIG) / 2;
	bool is_count = (index - HV_X64_MSR_STIMER0_CONFIG) & 1;
	struct hvi_stimer *t;
	int ret = 0;

	if (n >= HV_SYNIC_STIMER_COUNT)
		return -EPERM;
	t = &vp->stimer[n];
	pthread_mutex_lock(&vp->lock);
	if (!is_write) {
		*value = is_count ? t->count : t->config;
	} else if (is_count) {
		t->count = *value;
		if (t->count == 0)
			t->config &= ~HV_STIMER_ENABLE;
		else if (t->config & HV_STIMER_AUTOENABLE)
			t->config |= HV_STIMER_ENABLE;
		hvi_stimer_config_check(t);
		hvi_stimer_arm(vp, t);
	} else {
		if ((*value & ~HVI_STIMER_CONFIG_VALID) ||
		    ((*value & HV_STIMER_DIRECT_MODE) && !(vp->hv->features_edx & HV_STIMER_DIRECT_MODE_AVAILABLE))) {
			ret = -EPERM;
		} else {
			t->config = *value;
			hvi_stimer_config_check(t);
			hvi_stimer_arm(vp, t);
		}
	}
	pthread_mutex_unlock(&vp->lock);
	return ret;
}

void hvi_stimer_message_done(struct hvi_vp *vp, int stimer)
{
	if (stimer >= 0 && (unsigned)stimer < HV_SYNIC_STIMER_COUNT)
		vp->stimer[stimer].msg_pending = false;
}

/* Timer @n of @vp is due at @now (vp->lock held): notify the guest, then re-arm or disable. */
static void hvi_stimer_expire(struct hvi_vp *vp, unsigned n, uint64_t now)
{
	struct hvi_stimer *t = &vp->stimer[n];
	bool delivered = true;

	atomic_fetch_add(&vp->hv->stats.stimer_expirations, 1);
	if (t->config & HV_STIMER_DIRECT_MODE) {
		uint8_t vector = (uint8_t)((t->config & HV_STIMER_APICVECTOR_MASK) >> HV_STIMER_APICVECTOR_SHIFT);

		if (vector >= HV_SYNIC_FIRST_VALID_VECTOR)
			hvi_interrupt(vp->hv, vp->index, vector);
	} else if (!t->msg_pending) {
		struct hv_message msg;
		struct hv_timer_message_payload p = { .timer_index = n, .expiration_time = t->expiry,
						      .delivery_time = now };
		unsigned sint = (unsigned)((t->config & HV_STIMER_SINT_MASK) >> HV_STIMER_SINT_SHIFT);

		memset(&msg, 0, sizeof(msg));
		msg.header.message_type = HVMSG_TIMER_EXPIRED;
		msg.header.payload_size = sizeof(p);
		memcpy(msg.payload, &p, sizeof(p));
		t->msg_pending = true;
		if (hvi_synic_post_locked(vp, sint, &msg, (int)n) < 0) {
			t->msg_pending = false;
			delivered = false; /* SynIC off or queue full: this expiry is lost, as on Hyper-V */
		}
	}
	(void)delivered;
	if (t->config & HV_STIMER_PERIODIC) {
		uint64_t period = t->count < HVI_STIMER_MIN_PERIOD ? HVI_STIMER_MIN_PERIOD : t->count;

		t->expiry += period;
		if (t->expiry <= now)
			t->expiry = now + period; /* fell behind: skip the missed periods */
	} else {
		t->expiry = 0;
		t->config &= ~HV_STIMER_ENABLE;
	}
}

static void *hvi_timer_thread(void *arg)
{
	struct hvi_partition *hv = arg;

	for (;;) {
		uint64_t now, next = UINT64_MAX, wait_ns;
		bool queued = false;
		struct timespec deadline;

		pthread_mutex_lock(&hv->timer_lock);
		if (hv->timer_stop) {
			pthread_mutex_unlock(&hv->timer_lock);
			break;
		}
		hv->timer_kicked = false;
		pthread_mutex_unlock(&hv->timer_lock);

		for (unsigned v = 0; v < hv->vp_count; v++) {
			struct hvi_vp *vp = &hv->vps[v];

			pthread_mutex_lock(&vp->lock);
			now = hvi_reference_time(hv);
			for (unsigned n = 0; n < HV_SYNIC_STIMER_COUNT; n++) {
				struct hvi_stimer *t = &vp->stimer[n];

				if (t->expiry && t->expiry <= now)
					hvi_stimer_expire(vp, n, now);
				if (t->expiry && t->expiry < next)
					next = t->expiry;
			}
			if (hvi_synic_rescan(vp))
				queued = true;
			pthread_mutex_unlock(&vp->lock);
		}

		now = hvi_reference_time(hv);
		wait_ns = next == UINT64_MAX ? HVI_TIMER_IDLE_WAIT_NS : next > now ? (next - now) * 100 : 0;
		if (queued && wait_ns > HVI_TIMER_RESCAN_NS)
			wait_ns = HVI_TIMER_RESCAN_NS;
		if (wait_ns > HVI_TIMER_IDLE_WAIT_NS)
			wait_ns = HVI_TIMER_IDLE_WAIT_NS;
		if (wait_ns == 0)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += (time_t)(wait_ns / 1000000000ull);
		deadline.tv_nsec += (long)(wait_ns % 1000000000ull);
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&hv->timer_lock);
		while (!hv->timer_kicked && !hv->timer_stop) {
			if (pthread_cond_timedwait(&hv->timer_cond, &hv->timer_lock, &deadline) == ETIMEDOUT)
				break;
		}
		pthread_mutex_unlock(&hv->timer_lock);
	}
	return NULL;
}

int hvi_stimer_start(struct hvi_partition *hv)
{
	sigset_t all, old;
	int ret;

	/* The thread takes no process signals (SIGTERM must reach the worker's signalfd, not kill us here). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&hv->timer_thread, NULL, hvi_timer_thread, hv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (ret != 0)
		return -ret;
	hv->timer_started = true;
	return 0;
}

void hvi_stimer_stop(struct hvi_partition *hv)
{
	if (!hv->timer_started)
		return;
	pthread_mutex_lock(&hv->timer_lock);
	hv->timer_stop = true;
	pthread_cond_signal(&hv->timer_cond);
	pthread_mutex_unlock(&hv->timer_lock);
	pthread_join(hv->timer_thread, NULL);
	hv->timer_started = false;
}
