/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/hv_fixture.h - the Hyper-V interface (hv/hv.h) on plain memory for cmocka unit tests: a partition of
 * a few VPs on 1 MiB of vid_memory without /dev/kvm (hvi_config.partition NULL), a recorder of the interrupts
 * and stops the interface reports, and MSR access helpers.
 *
 * The recorder takes its lock in the callbacks (the synthetic-timer thread injects too); hvfx_interrupts() reads
 * the count under it. Single-threaded tests read the other fields of hvfx.rec directly.
 *
 * Header-only: every function is static inline, a test uses what it needs.
 */
#ifndef OPENHV_TESTS_HV_FIXTURE_H
#define OPENHV_TESTS_HV_FIXTURE_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "hv/hv.h"
#include "vid/memory.h"
#include "vid/vid.h"

#define HVFX_RAM_BYTES (1ull << 20)

/* What the interface reported through hvi_config.interrupt and hvi_config.stop. */
struct hvfx_rec {
	pthread_mutex_t lock;
	unsigned interrupts;            /* in total */
	unsigned per_vp[VID_MAX_VPS];   /* by VP index */
	uint32_t last_vp;
	uint8_t last_vector;
	unsigned stops;
	enum hvi_stop last_stop;
	char last_message[512];
};

struct hvfx {
	struct vid_memory *mem;
	struct hvi_partition *hv;
	struct hvfx_rec rec;
};

static inline void hvfx_on_interrupt(void *opaque, uint32_t vp_index, uint8_t vector)
{
	struct hvfx_rec *r = opaque;

	pthread_mutex_lock(&r->lock);
	r->interrupts++;
	if (vp_index < VID_MAX_VPS)
		r->per_vp[vp_index]++;
	r->last_vp = vp_index;
	r->last_vector = vector;
	pthread_mutex_unlock(&r->lock);
}

static inline void hvfx_on_stop(void *opaque, enum hvi_stop why, const char *message)
{
	struct hvfx_rec *r = opaque;

	pthread_mutex_lock(&r->lock);
	r->stops++;
	r->last_stop = why;
	snprintf(r->last_message, sizeof(r->last_message), "%s", message ? message : "");
	pthread_mutex_unlock(&r->lock);
}

/* The interrupts recorded so far (safe against the synthetic-timer thread). */
static inline unsigned hvfx_interrupts(struct hvfx *f)
{
	unsigned n;

	pthread_mutex_lock(&f->rec.lock);
	n = f->rec.interrupts;
	pthread_mutex_unlock(&f->rec.lock);
	return n;
}

/* A partition of @vps VPs with @profile on HVFX_RAM_BYTES of plain memory; @tsc_hz 0 lets hv pick the host's. */
static inline void hvfx_init(struct hvfx *f, enum hvi_profile profile, unsigned vps, uint64_t tsc_hz)
{
	struct hvi_config cfg;

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->rec.lock, NULL);
	assert_int_equal(vid_memory_create(HVFX_RAM_BYTES, &f->mem), 0);
	cfg = (struct hvi_config){
		.profile = profile,
		.memory = f->mem,
		.vp_count = vps,
		.partition = NULL,
		.interrupt = hvfx_on_interrupt,
		.stop = hvfx_on_stop,
		.opaque = &f->rec,
		.tsc_hz = tsc_hz,
	};
	assert_int_equal(hvi_partition_create(&cfg, &f->hv), 0);
	assert_non_null(f->hv);
}

static inline void hvfx_fini(struct hvfx *f)
{
	hvi_partition_destroy(f->hv);
	vid_memory_destroy(f->mem);
	pthread_mutex_destroy(&f->rec.lock);
}

/* RDMSR by VP @vp: 0 or -EPERM (#GP). *@v is poisoned first, so a read that fills nothing shows. */
static inline int hvfx_rd(struct hvfx *f, uint32_t vp, uint32_t msr, uint64_t *v)
{
	*v = 0xDEADBEEFDEADBEEFull;
	return hvi_msr_access(f->hv, vp, msr, false, v);
}

/* WRMSR by VP @vp: 0 or -EPERM (#GP). */
static inline int hvfx_wr(struct hvfx *f, uint32_t vp, uint32_t msr, uint64_t v)
{
	return hvi_msr_access(f->hv, vp, msr, true, &v);
}

/* An RDMSR that must succeed: the value. */
static inline uint64_t hvfx_rd_ok(struct hvfx *f, uint32_t vp, uint32_t msr)
{
	uint64_t v;

	assert_int_equal(hvfx_rd(f, vp, msr, &v), 0);
	return v;
}

/* A WRMSR that must succeed. */
static inline void hvfx_wr_ok(struct hvfx *f, uint32_t vp, uint32_t msr, uint64_t v)
{
	assert_int_equal(hvfx_wr(f, vp, msr, v), 0);
}

#endif /* OPENHV_TESTS_HV_FIXTURE_H */
