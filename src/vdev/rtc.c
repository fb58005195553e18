// SPDX-License-Identifier: MIT
/*
 * vdev/rtc.c - MC146818 CMOS RTC (see vdev/rtc.h for the model and its sources).
 *
 * Guest time is kept as host CLOCK_REALTIME + (off_sec, off_nsec), split so that any year the guest can write
 * (up to 165 * 100 + 165) fits without overflow. Interrupt flags are computed lazily from the clocks.
 */
#define LOG_TAG "rtc"
#include "vdev/rtc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

#define NSEC_PER_SEC 1000000000ll
#define RTC_UIP_NS 244000ll /* t_BUC: UIP rises this long before each update */
#define SECS_PER_DAY 86400ll

/* CMOS indices */
enum {
	RTC_SECONDS = 0x00,
	RTC_SECONDS_ALARM = 0x01,
	RTC_MINUTES = 0x02,
	RTC_MINUTES_ALARM = 0x03,
	RTC_HOURS = 0x04,
	RTC_HOURS_ALARM = 0x05,
	RTC_DAY_OF_WEEK = 0x06,
	RTC_DAY_OF_MONTH = 0x07,
	RTC_MONTH = 0x08,
	RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a,
	RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c,
	RTC_REG_D = 0x0d,
};

#define REG_A_UIP 0x80
#define REG_A_DV_MASK 0x70
#define REG_A_RS_MASK 0x0f
#define REG_A_DEFAULT 0x26 /* 32.768 kHz time base, 1024 Hz periodic rate */

#define REG_B_SET 0x80
#define REG_B_PIE 0x40
#define REG_B_AIE 0x20
#define REG_B_UIE 0x10
#define REG_B_DM_BINARY 0x04
#define REG_B_24H 0x02
#define REG_B_DEFAULT REG_B_24H

#define REG_C_IRQF 0x80
#define REG_C_PF 0x40
#define REG_C_AF 0x20
#define REG_C_UF 0x10

#define REG_D_VRT 0x80

#define ALARM_DONT_CARE 0xc0 /* an alarm byte >= this matches any value */

/* The clock fields in binary, as the guest sees them (hour 0-23, month 1-12, day of week 1-7 with Sunday 1). */
struct rtc_fields {
	int sec, min, hour, wday, mday, mon, year, century;
};

struct vdev_rtc {
	pthread_mutex_t lock;
	struct vdev_irq irq;
	int64_t (*now)(void *opaque, clockid_t clk);
	void *now_opaque;
	void (*timer_notify)(void *opaque);
	void *timer_notify_opaque;

	/* under lock */
	uint8_t index;
	uint8_t cmos[VDEV_RTC_CMOS_SIZE]; /* RAM, alarm bytes, A (without UIP) and B; clock bytes are computed */
	int64_t off_sec;                  /* guest time = realtime + off_sec s + off_nsec ns */
	int64_t off_nsec;                 /* 0 .. NSEC_PER_SEC - 1 */
	bool stopped;                     /* B.SET or divider reset: the clock holds `held` */
	struct rtc_fields held;
	int64_t uf_last_sec; /* last guest second whose update was accounted in reg C */
	int64_t pf_next_ns;  /* CLOCK_MONOTONIC time of the next periodic flag */
	uint8_t regc;        /* PF, AF, UF */
	int irq_level;
};

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
}

static int64_t rtc_default_now(void *opaque, clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static int64_t rtc_clock(const struct vdev_rtc *r, clockid_t clk)
{
	return r->now(r->now_opaque, clk);
}

static void rtc_guest_now(const struct vdev_rtc *r, int64_t *sec, int64_t *nsec)
{
	int64_t rt = rtc_clock(r, CLOCK_REALTIME);
	int64_t s = floor_div(rt, NSEC_PER_SEC) + r->off_sec;
	int64_t ns = floor_mod(rt, NSEC_PER_SEC) + r->off_nsec;

	if (ns >= NSEC_PER_SEC) {
		ns -= NSEC_PER_SEC;
		s++;
	}
	*sec = s;
	*nsec = ns;
}

/* Set the offset so that guest time is (@sec, @nsec) now. */
static void rtc_guest_set(struct vdev_rtc *r, int64_t sec, int64_t nsec)
{
	int64_t rt = rtc_clock(r, CLOCK_REALTIME);

	r->off_sec = sec - floor_div(rt, NSEC_PER_SEC);
	r->off_nsec = nsec - floor_mod(rt, NSEC_PER_SEC);
	if (r->off_nsec < 0) {
		r->off_nsec += NSEC_PER_SEC;
		r->off_sec--;
	}
	r->uf_last_sec = sec;
}

static void rtc_fields_from_epoch(int64_t sec, struct rtc_fields *f)
{
	time_t t = (time_t)sec;
	struct tm tm;
	int year;

	memset(f, 0, sizeof(*f));
	if (!gmtime_r(&t, &tm))
		return;
	year = tm.tm_year + 1900;
	if (year < 0)
		year = 0;
	f->sec = tm.tm_sec > 59 ? 59 : tm.tm_sec;
	f->min = tm.tm_min;
	f->hour = tm.tm_hour;
	f->wday = tm.tm_wday + 1;
	f->mday = tm.tm_mday;
	f->mon = tm.tm_mon + 1;
	f->year = year % 100;
	f->century = year / 100;
}

static int64_t rtc_fields_to_epoch(const struct rtc_fields *f)
{
	struct tm tm = {
		.tm_sec = f->sec,
		.tm_min = f->min,
		.tm_hour = f->hour,
		.tm_mday = f->mday,
		.tm_mon = f->mon - 1,
		.tm_year = f->century * 100 + f->year - 1900,
	};

	/* Every field is 0..255 after decoding, so timegm() normalises rather than overflows. */
	return (int64_t)timegm(&tm);
}

static bool rtc_binary(const struct vdev_rtc *r)
{
	return (r->cmos[RTC_REG_B] & REG_B_DM_BINARY) != 0;
}

static uint8_t rtc_encode(const struct vdev_rtc *r, int v)
{
	if (v < 0)
		v = 0;
	if (rtc_binary(r))
		return (uint8_t)v;
	v %= 100;
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int rtc_decode(const struct vdev_rtc *r, uint8_t v)
{
	return rtc_binary(r) ? v : (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t rtc_encode_hour(const struct vdev_rtc *r, int hour)
{
	int h12;

	if (r->cmos[RTC_REG_B] & REG_B_24H)
		return rtc_encode(r, hour);
	h12 = hour % 12 ? hour % 12 : 12;
	return (uint8_t)(rtc_encode(r, h12) | (hour >= 12 ? 0x80 : 0));
}

static int rtc_decode_hour(const struct vdev_rtc *r, uint8_t v)
{
	if (r->cmos[RTC_REG_B] & REG_B_24H)
		return rtc_decode(r, v);
	return rtc_decode(r, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
}

/* The clock runs unless B.SET holds it or the divider is in reset (A.DV 11x); as QEMU: DV must be <= 010. */
static bool rtc_running(const struct vdev_rtc *r)
{
	return !(r->cmos[RTC_REG_B] & REG_B_SET) && (r->cmos[RTC_REG_A] & REG_A_DV_MASK) <= 0x20;
}

static bool rtc_divider_running(const struct vdev_rtc *r)
{
	return (r->cmos[RTC_REG_A] & 0x60) != 0x60;
}

static void rtc_current_fields(const struct vdev_rtc *r, struct rtc_fields *f)
{
	int64_t sec, nsec;

	if (r->stopped) {
		*f = r->held;
		return;
	}
	rtc_guest_now(r, &sec, &nsec);
	rtc_fields_from_epoch(sec, f);
}

/* Periodic interrupt period for A.RS, in ns; 0 when off. RS 1 and 2 repeat RS 8 and 9 (32.768 kHz base). */
static int64_t rtc_period_ns(const struct vdev_rtc *r)
{
	unsigned rs = r->cmos[RTC_REG_A] & REG_A_RS_MASK;

	if (!rs || !rtc_divider_running(r))
		return 0;
	if (rs <= 2)
		rs += 7;
	return (int64_t)((1000000000ull << (rs - 1)) / 32768u);
}

static bool rtc_alarm_field_matches(const struct vdev_rtc *r, uint8_t alarm, int value, bool hour)
{
	if (alarm >= ALARM_DONT_CARE)
		return true;
	return (hour ? rtc_decode_hour(r, alarm) : rtc_decode(r, alarm)) == value;
}

/* Does any second in (@from, @to] match the alarm? Looks at most one day back. */
static bool rtc_alarm_in_range(const struct vdev_rtc *r, int64_t from, int64_t to)
{
	uint8_t as = r->cmos[RTC_SECONDS_ALARM], am = r->cmos[RTC_MINUTES_ALARM], ah = r->cmos[RTC_HOURS_ALARM];

	if (to - from > SECS_PER_DAY)
		from = to - SECS_PER_DAY;
	for (int64_t s = from + 1; s <= to; s++) {
		int64_t tod = floor_mod(s, SECS_PER_DAY);

		if (rtc_alarm_field_matches(r, as, (int)(tod % 60), false) &&
		    rtc_alarm_field_matches(r, am, (int)(tod / 60 % 60), false) &&
		    rtc_alarm_field_matches(r, ah, (int)(tod / 3600), true))
			return true;
	}
	return false;
}

/* Bring reg C's flags up to date and drive the line (level = IRQF). */
static void rtc_update_flags(struct vdev_rtc *r)
{
	int64_t period = rtc_period_ns(r);
	int level;

	if (period) {
		int64_t mono = rtc_clock(r, CLOCK_MONOTONIC);

		if (mono >= r->pf_next_ns) {
			r->regc |= REG_C_PF;
			r->pf_next_ns += ((mono - r->pf_next_ns) / period + 1) * period;
		}
	}
	if (!r->stopped) {
		int64_t sec, nsec;

		rtc_guest_now(r, &sec, &nsec);
		if (sec > r->uf_last_sec) {
			r->regc |= REG_C_UF;
			if (rtc_alarm_in_range(r, r->uf_last_sec, sec))
				r->regc |= REG_C_AF;
		}
		r->uf_last_sec = sec;
	}
	level = (r->regc & r->cmos[RTC_REG_B] & (REG_C_PF | REG_C_AF | REG_C_UF)) != 0;
	if (level != r->irq_level) {
		r->irq_level = level;
		vdev_irq_set(&r->irq, level);
	}
}

static void rtc_restart_periodic(struct vdev_rtc *r)
{
	int64_t period = rtc_period_ns(r);

	r->pf_next_ns = rtc_clock(r, CLOCK_MONOTONIC) + (period ? period : 0);
}

/* Apply a change of B.SET or A.DV: stop the clock holding the current time, or restart it from the held fields. */
static void rtc_apply_run_state(struct vdev_rtc *r)
{
	bool run = rtc_running(r);

	if (!run && !r->stopped) {
		rtc_current_fields(r, &r->held);
		r->stopped = true;
	} else if (run && r->stopped) {
		r->stopped = false;
		/* As the chip: the first update comes 500 ms after the divider chain restarts. */
		rtc_guest_set(r, rtc_fields_to_epoch(&r->held), NSEC_PER_SEC / 2);
	}
}

static uint8_t rtc_read_locked(struct vdev_rtc *r, uint8_t idx)
{
	struct rtc_fields f;
	uint8_t v;

	switch (idx) {
	case RTC_SECONDS:
	case RTC_MINUTES:
	case RTC_HOURS:
	case RTC_DAY_OF_WEEK:
	case RTC_DAY_OF_MONTH:
	case RTC_MONTH:
	case RTC_YEAR:
	case VDEV_RTC_CENTURY_INDEX:
		rtc_current_fields(r, &f);
		switch (idx) {
		case RTC_SECONDS:
			return rtc_encode(r, f.sec);
		case RTC_MINUTES:
			return rtc_encode(r, f.min);
		case RTC_HOURS:
			return rtc_encode_hour(r, f.hour);
		case RTC_DAY_OF_WEEK:
			return rtc_encode(r, f.wday);
		case RTC_DAY_OF_MONTH:
			return rtc_encode(r, f.mday);
		case RTC_MONTH:
			return rtc_encode(r, f.mon);
		case RTC_YEAR:
			return rtc_encode(r, f.year);
		default:
			return rtc_encode(r, f.century);
		}
	case RTC_REG_A:
		v = r->cmos[RTC_REG_A] & 0x7f;
		if (!r->stopped) {
			int64_t sec, nsec;

			rtc_guest_now(r, &sec, &nsec);
			if (nsec >= NSEC_PER_SEC - RTC_UIP_NS)
				v |= REG_A_UIP;
		}
		return v;
	case RTC_REG_C:
		rtc_update_flags(r);
		v = r->regc;
		if (v & r->cmos[RTC_REG_B] & (REG_C_PF | REG_C_AF | REG_C_UF))
			v |= REG_C_IRQF;
		r->regc = 0;
		rtc_update_flags(r); /* lowers the line; a flag that came due meanwhile re-raises it */
		return v;
	case RTC_REG_D:
		return REG_D_VRT;
	default:
		return r->cmos[idx];
	}
}

/* Returns true when the timer notification should fire. */
static bool rtc_write_locked(struct vdev_rtc *r, uint8_t idx, uint8_t val)
{
	struct rtc_fields f;
	uint8_t old;

	switch (idx) {
	case RTC_SECONDS:
	case RTC_MINUTES:
	case RTC_HOURS:
	case RTC_DAY_OF_WEEK:
	case RTC_DAY_OF_MONTH:
	case RTC_MONTH:
	case RTC_YEAR:
	case VDEV_RTC_CENTURY_INDEX: {
		int64_t sec = 0, nsec = 0;

		if (r->stopped) {
			f = r->held;
		} else {
			rtc_update_flags(r); /* account updates up to now before the time jumps */
			rtc_guest_now(r, &sec, &nsec);
			rtc_fields_from_epoch(sec, &f);
		}
		switch (idx) {
		case RTC_SECONDS:
			f.sec = rtc_decode(r, val);
			break;
		case RTC_MINUTES:
			f.min = rtc_decode(r, val);
			break;
		case RTC_HOURS:
			f.hour = rtc_decode_hour(r, val);
			break;
		case RTC_DAY_OF_WEEK:
			f.wday = rtc_decode(r, val);
			break;
		case RTC_DAY_OF_MONTH:
			f.mday = rtc_decode(r, val);
			break;
		case RTC_MONTH:
			f.mon = rtc_decode(r, val);
			break;
		case RTC_YEAR:
			f.year = rtc_decode(r, val);
			break;
		default:
			f.century = rtc_decode(r, val);
			break;
		}
		if (r->stopped) {
			r->held = f;
			return false;
		}
		/* A running clock keeps its phase within the second. */
		rtc_guest_set(r, rtc_fields_to_epoch(&f), nsec);
		return true;
	}
	case RTC_REG_A:
		old = r->cmos[RTC_REG_A];
		rtc_update_flags(r);
		r->cmos[RTC_REG_A] = val & 0x7f;
		rtc_apply_run_state(r);
		if ((old ^ val) & (REG_A_DV_MASK | REG_A_RS_MASK))
			rtc_restart_periodic(r);
		rtc_update_flags(r);
		return true;
	case RTC_REG_B:
		rtc_update_flags(r);
		if (val & REG_B_SET)
			val &= (uint8_t)~REG_B_UIE; /* SET clears UIE (data sheet) */
		r->cmos[RTC_REG_B] = val;
		rtc_apply_run_state(r);
		rtc_update_flags(r);
		return true;
	case RTC_REG_C:
	case RTC_REG_D:
		return false; /* read-only */
	default:
		r->cmos[idx] = val;
		return false;
	}
}

static void rtc_access(struct vdev_rtc *r, unsigned reg, bool is_write, uint8_t *b)
{
	void (*notify_fn)(void *) = NULL;
	void *notify_opaque = NULL;

	pthread_mutex_lock(&r->lock);
	if (reg == 0) {
		if (is_write)
			r->index = *b & 0x7f; /* bit 7 is the PC's NMI mask, not part of the index */
		else
			*b = 0xff; /* the index port is write-only */
	} else if (is_write) {
		if (rtc_write_locked(r, r->index, *b)) {
			notify_fn = r->timer_notify;
			notify_opaque = r->timer_notify_opaque;
		}
	} else {
		*b = rtc_read_locked(r, r->index);
	}
	pthread_mutex_unlock(&r->lock);
	if (notify_fn)
		notify_fn(notify_opaque);
}

int vdev_rtc_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data, unsigned size)
{
	struct vdev_rtc *r = opaque;
	uint32_t base = port & ~(uint32_t)(VDEV_RTC_PORTS - 1);

	if (!r || !data || size < 1 || size > 8)
		return -EINVAL;
	for (unsigned i = 0; i < size; i++) {
		uint32_t p = (uint32_t)port + i;

		if (p >= base + VDEV_RTC_PORTS) {
			if (!is_write)
				data[i] = 0xff;
			continue;
		}
		rtc_access(r, p - base, is_write, &data[i]);
	}
	return 0;
}

int64_t vdev_rtc_poll(struct vdev_rtc *rtc)
{
	int64_t delay = -1;
	uint8_t b;

	if (!rtc)
		return -1;
	pthread_mutex_lock(&rtc->lock);
	rtc_update_flags(rtc);
	b = rtc->cmos[RTC_REG_B];
	if (b & REG_B_PIE) {
		int64_t period = rtc_period_ns(rtc);

		if (period) {
			delay = rtc->pf_next_ns - rtc_clock(rtc, CLOCK_MONOTONIC);
			if (delay < 0)
				delay = 0;
		}
	}
	if ((b & (REG_B_UIE | REG_B_AIE)) && !rtc->stopped) {
		int64_t sec, nsec, d;

		rtc_guest_now(rtc, &sec, &nsec);
		d = NSEC_PER_SEC - nsec;
		if (delay < 0 || d < delay)
			delay = d;
	}
	pthread_mutex_unlock(&rtc->lock);
	return delay;
}

void vdev_rtc_set_timer_notify(struct vdev_rtc *rtc, void (*fn)(void *opaque), void *opaque)
{
	if (!rtc)
		return;
	pthread_mutex_lock(&rtc->lock);
	rtc->timer_notify = fn;
	rtc->timer_notify_opaque = opaque;
	pthread_mutex_unlock(&rtc->lock);
}

void vdev_rtc_set_clock(struct vdev_rtc *rtc, int64_t (*now)(void *opaque, clockid_t clk), void *opaque)
{
	if (!rtc)
		return;
	pthread_mutex_lock(&rtc->lock);
	rtc->now = now ? now : rtc_default_now;
	rtc->now_opaque = now ? opaque : NULL;
	/* Re-anchor what depends on the clocks, keeping the guest's offset. */
	if (!rtc->stopped) {
		int64_t sec, nsec;

		rtc_guest_now(rtc, &sec, &nsec);
		rtc->uf_last_sec = sec;
	}
	rtc_restart_periodic(rtc);
	pthread_mutex_unlock(&rtc->lock);
}

int vdev_rtc_cmos_set(struct vdev_rtc *rtc, uint8_t index, uint8_t value)
{
	if (!rtc || index <= RTC_REG_D || index >= VDEV_RTC_CMOS_SIZE || index == VDEV_RTC_CENTURY_INDEX)
		return -EINVAL;
	pthread_mutex_lock(&rtc->lock);
	rtc->cmos[index] = value;
	pthread_mutex_unlock(&rtc->lock);
	return 0;
}

void vdev_rtc_set_offset(struct vdev_rtc *rtc, int64_t sec)
{
	int64_t rt;

	if (!rtc)
		return;
	pthread_mutex_lock(&rtc->lock);
	rt = rtc_clock(rtc, CLOCK_REALTIME);
	rtc_guest_set(rtc, floor_div(rt, NSEC_PER_SEC) + sec, floor_mod(rt, NSEC_PER_SEC));
	pthread_mutex_unlock(&rtc->lock);
}

int64_t vdev_rtc_offset_ns(struct vdev_rtc *rtc)
{
	int64_t off;

	if (!rtc)
		return 0;
	pthread_mutex_lock(&rtc->lock);
	if (rtc->off_sec > INT64_MAX / NSEC_PER_SEC - 1)
		off = INT64_MAX;
	else if (rtc->off_sec < INT64_MIN / NSEC_PER_SEC + 1)
		off = INT64_MIN;
	else
		off = rtc->off_sec * NSEC_PER_SEC + rtc->off_nsec;
	pthread_mutex_unlock(&rtc->lock);
	return off;
}

int vdev_rtc_create(const struct vdev_irq *irq, struct vdev_rtc **out)
{
	struct vdev_rtc *r;

	if (!out)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	if (irq)
		r->irq = *irq;
	r->now = rtc_default_now;
	r->cmos[RTC_REG_A] = REG_A_DEFAULT;
	r->cmos[RTC_REG_B] = REG_B_DEFAULT;
	r->cmos[RTC_SECONDS_ALARM] = 0;
	r->cmos[RTC_MINUTES_ALARM] = 0;
	r->cmos[RTC_HOURS_ALARM] = 0;
	{
		int64_t sec, nsec;

		rtc_guest_now(r, &sec, &nsec);
		r->uf_last_sec = sec;
	}
	rtc_restart_periodic(r);
	*out = r;
	return 0;
}

void vdev_rtc_destroy(struct vdev_rtc *rtc)
{
	if (!rtc)
		return;
	pthread_mutex_destroy(&rtc->lock);
	free(rtc);
}
