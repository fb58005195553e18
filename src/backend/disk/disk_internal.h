/* SPDX-License-Identifier: MIT */
/*
 * backend/disk/disk_internal.h - counters and test hooks of the disk backend (backend/disk/disk.c), for its unit
 * tests and benchmark only; other modules use disk.h.
 *
 * Threads: as disk.h (the thread that drives the disk).
 */
#ifndef OPENHV_BACKEND_DISK_DISK_INTERNAL_H
#define OPENHV_BACKEND_DISK_DISK_INTERNAL_H

#include <stdint.h>

#include "backend/disk/disk.h"

/* Counters since disk_open. */
struct disk_stats {
	uint64_t submitted;     /* requests accepted by disk_submit */
	uint64_t completed;     /* @done callbacks run */
	uint64_t sqes;          /* io_uring submission queue entries prepared */
	uint64_t enters;        /* io_uring_enter calls: submits, and submit-and-waits in disk_poll (sqes/enters:
				 * SQEs sent per call) */
	uint64_t bounced;       /* requests served through a bounce buffer (O_DIRECT, misaligned) */
	uint64_t rmw;           /* of those, writes that read partial edge blocks first */
	uint64_t resubmits;     /* short transfers continued, or -EAGAIN/-EINTR retried */
	uint64_t eof_zeroed;    /* reads that met the end of the file within the disk size (rest zero-filled) */
	uint64_t zero_writes;   /* WRITE_ZEROES done by writing zeroes (no fallocate mode available) */
	uint64_t flush_waits;   /* flushes that waited for earlier write-type requests */
};

void disk_get_stats(const struct disk *d, struct disk_stats *out);

/* Test hooks: pretend the file system lacks a feature (so the fallback paths can be tested anywhere). */
#define DISK_QUIRK_NO_ZERO_RANGE (1u << 0) /* FALLOC_FL_ZERO_RANGE fails with -EOPNOTSUPP */
#define DISK_QUIRK_NO_PUNCH_HOLE (1u << 1) /* FALLOC_FL_PUNCH_HOLE fails with -EOPNOTSUPP */

void disk_set_quirks(struct disk *d, unsigned quirks);

#endif /* OPENHV_BACKEND_DISK_DISK_INTERNAL_H */
