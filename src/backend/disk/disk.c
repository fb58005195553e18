// SPDX-License-Identifier: MIT
/*
 * backend/disk/disk.c - raw image files and block devices through io_uring (liburing), for the storage VSPs.
 * Contract in disk.h; this comment says how it is done.
 *
 * Requests and slots. Each accepted request takes a slot from a table of queue_depth entries allocated at open
 * (no allocation per request); a slot holds the request's progress and is the io_uring user_data. A request has
 * at most one SQE in the ring at a time, so a ring of queue_depth entries never runs out of SQEs or overflows its
 * completion queue (twice as large).
 *
 * Paths by kind:
 *   RW      READ/WRITE straight from/to the caller's iovecs: IORING_OP_READ/WRITE for one iovec, READV/WRITEV for
 *           more. A short transfer continues from where it stopped (the rest of a partly done iovec as a plain
 *           READ/WRITE, then the remaining iovecs in place: no copy of the iovec array). A read that meets the end
 *           of the file (0 bytes) while inside the disk size zero-fills the rest.
 *   BOUNCE  O_DIRECT and something misaligned: the request moves through one of DISK_BOUNCE_COUNT buffers in
 *           windows of up to DISK_BOUNCE_SIZE bytes aligned to direct_align. Reads read the window, then copy.
 *           Writes whose start or end is inside a block read that edge block first (read-modify-write); they run
 *           alone among write-type requests (rmw_active), or a concurrent write into the same block could be
 *           overwritten with stale bytes.
 *   FALLOC  DISCARD: fallocate(PUNCH_HOLE | KEEP_SIZE) through IORING_OP_FALLOCATE (on a block device that is a
 *           zero-out with unmap; if the device cannot, BLKDISCARD is issued synchronously). WRITE_ZEROES:
 *           fallocate(ZERO_RANGE | KEEP_SIZE) (a block device's BLKZEROOUT equivalent), on a file falling back to
 *           PUNCH_HOLE, then to writing zeroes (ZWRITE, or BOUNCE when misaligned under O_DIRECT).
 *   ZWRITE  WRITE_ZEROES by writes from a shared zero buffer (anonymous memory never written: no resident pages).
 *   FSYNC   FLUSH: IORING_OP_FSYNC with IORING_FSYNC_DATASYNC.
 *   A request that needs no I/O (zero length, unsupported discard, an error found while issuing) is completed
 *   through the deferred list: its callback runs from the next disk_poll(), and the event fd is signalled.
 *
 * Flush ordering (disk.h): every write-type request carries the flush epoch current at its acceptance; a flush
 * closes the epoch (epoch++) and waits in flush_head until no write-type request of an epoch <= its own is
 * outstanding (ep_count[] counts them per epoch; epochs alive at once <= queue_depth, so a table of
 * queue_depth + 1 counters indexed by epoch modulo its size is enough). Later requests are not held back, unlike
 * IOSQE_IO_DRAIN, which would also stall the reads behind it.
 *
 * Requests that cannot start yet (no free bounce buffer, a read-modify-write write waiting for the writes in
 * flight, write-type requests behind it) wait in blocked_head in submission order; while it is not empty new
 * write-type and bounce requests queue behind, so none of them starves; aligned reads and flushes go ahead.
 *
 * Submission: SQEs prepared outside disk_poll() are sent at once (one io_uring_enter each) unless the disk is in
 * batch mode; those prepared inside it (callbacks submitting more, continuations) are sent together when it
 * returns. System calls are the cost that matters (about 2.4 us each on the development machines, each submit
 * also a virtio kick): bench_disk measured 3-5 us of CPU per 4 KiB request with bursts of ~15 SQEs per enter,
 * 8-11 us with one enter per request. Completions: the ring's eventfd (io_uring_register_eventfd) is the disk's
 * event fd, with notifications off (IORING_CQ_EVENTFD_DISABLED) until disk_event_fd() is first called;
 * disk_poll() drains it before reaping, then copies a batch of CQEs out (d->cq) and advances the ring before
 * running callbacks, so a callback may submit or even call disk_poll() again. The ring uses a registered file
 * (IOSQE_FIXED_FILE) and IORING_SETUP_SUBMIT_ALL; COOP_TASKRUN measured no better here, SQPOLL would burn a core,
 * SINGLE_ISSUER/DEFER_TASKRUN would tie the ring to the thread that opened it.
 *
 * Linux sources followed: io_uring/rw.c, io_uring/sync.c (IORING_OP_FSYNC/FALLOCATE), block/fops.c
 * (blkdev_fallocate: modes, logical-block alignment), block/ioctl.c (BLKDISCARD), fs/ext4 (punch/zero range).
 */
#define _GNU_SOURCE
#define LOG_TAG "disk"

#include "backend/disk/disk.h"
#include "backend/disk/disk_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/log.h"

#define DISK_QD_DEFAULT 128u
#define DISK_BOUNCE_COUNT 4u              /* bounce buffers per O_DIRECT disk */
#define DISK_BOUNCE_SIZE (64u * 1024u)    /* bytes each (at least 2 blocks: grown for large blocks) */
#define DISK_ZERO_SIZE (256u * 1024u)     /* bytes written per step when writing zeroes */
#define DISK_ALIGN_MAX (64u * 1024u)      /* largest logical block / O_DIRECT alignment accepted */
#define DISK_RW_MAX (1u << 30)            /* bytes in one plain READ/WRITE SQE (its length is 32 bits) */
#define DISK_REAP_BATCH 32u               /* CQEs copied out per step */

enum disk_kind {
	DISK_KIND_NONE = 0, /* deferred completion only */
	DISK_KIND_RW,
	DISK_KIND_BOUNCE,
	DISK_KIND_FALLOC,
	DISK_KIND_ZWRITE,
	DISK_KIND_FSYNC,
};

enum disk_phase {
	DISK_PH_READ = 0, /* BOUNCE read: the whole window */
	DISK_PH_HEAD,     /* BOUNCE write: read the window's first block */
	DISK_PH_TAIL,     /* BOUNCE write: read the window's last block */
	DISK_PH_WRITE,    /* BOUNCE write: write the window */
};

struct disk_bounce {
	uint8_t *buf; /* DISK_BOUNCE_SIZE (or d->bounce_size) bytes, page aligned */
	struct disk_bounce *next;
};

struct disk_slot {
	struct disk_request *req;  /* NULL when free */
	struct disk_slot *next;    /* free list, deferred list, blocked or flush FIFO */
	struct disk_bounce *bounce;
	uint64_t len;              /* request bytes (READ/WRITE: sum of the iovecs; DISCARD: trimmed) */
	uint64_t off;              /* first byte (DISCARD: trimmed) */
	uint64_t done;             /* bytes of the request done */
	uint64_t epoch;            /* write-type: epoch at acceptance; FLUSH: the epoch it closes */
	int64_t result;            /* deferred completion */
	uint64_t win_off;          /* BOUNCE: file offset of the window (aligned) */
	uint32_t win_len;          /* BOUNCE: window bytes (aligned) */
	uint32_t ph_done;          /* BOUNCE: bytes of the current phase done */
	uint8_t kind;              /* enum disk_kind */
	uint8_t phase;             /* enum disk_phase */
	int falloc_mode;           /* FALLOC: fallocate mode in use */
	bool write_type;           /* WRITE, WRITE_ZEROES, DISCARD: counted in ep_count */
	bool rmw;                  /* BOUNCE write with a partial block: runs alone among write-type requests */
	bool active;               /* started (counted in writes_active when write_type) */
};

struct disk {
	int fd;                  /* image or device; flock held on files */
	int sqe_fd;              /* fd in SQEs: 0 with the registered file table, else fd */
	uint8_t sqe_flags;       /* IOSQE_FIXED_FILE or 0 */
	int efd;                 /* eventfd registered with the ring */
	bool efd_armed;          /* disk_event_fd() was called: the eventfd is signalled and drained */
	struct io_uring ring;
	bool ring_ok;
	struct disk_info info;
	uint32_t align;          /* offset/length alignment for O_DIRECT (info.direct_align) */
	uint32_t mem_align;      /* iovec base alignment for O_DIRECT (<= align) */
	unsigned qd;
	bool batch;
	unsigned quirks;         /* DISK_QUIRK_* */
	bool no_zero_range;      /* learnt: FALLOC_FL_ZERO_RANGE unsupported */
	bool no_punch;           /* learnt: FALLOC_FL_PUNCH_HOLE unsupported */

	unsigned inflight;       /* accepted, callback not yet run */
	unsigned ring_inflight;  /* SQEs prepared whose CQE is not handled yet */
	unsigned poll_depth;     /* > 0 inside disk_poll: SQEs are sent when it returns */

	struct disk_slot *slots;
	struct disk_slot *free_slots;
	struct disk_slot *done_head, *done_tail;       /* deferred completions */
	struct disk_slot *blocked_head, *blocked_tail; /* waiting for a bounce buffer or write exclusivity */
	struct disk_slot *flush_head, *flush_tail;     /* flushes waiting for earlier write-type requests */

	uint64_t epoch;          /* current flush epoch */
	uint64_t ep_oldest;      /* no write-type request of an epoch below this is outstanding */
	uint32_t *ep_count;      /* outstanding write-type requests per epoch, [epoch % ep_n] */
	unsigned ep_n;
	unsigned writes_active;  /* write-type requests started (in the ring or between phases) */
	bool rmw_active;

	uint8_t *bounce_mem;     /* mmap: DISK_BOUNCE_COUNT * bounce_size */
	size_t bounce_mem_len;
	uint32_t bounce_size;
	struct disk_bounce bounces[DISK_BOUNCE_COUNT];
	struct disk_bounce *free_bounce;
	uint8_t *zero_buf;       /* mmap, DISK_ZERO_SIZE, never written; allocated on first use */

	/* CQEs copied out of the ring, handled in order; shared so a nested disk_poll() finishes them */
	struct {
		struct disk_slot *s;
		int res;
	} cq[DISK_REAP_BATCH];
	unsigned cq_pos, cq_cnt;

	struct disk_stats stats;
};

/* ---- small helpers ---------------------------------------------------------------------------------------- */

static inline uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }
static inline uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static inline uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static inline bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

enum iov_dir { IOV_TO_BUF, IOV_FROM_BUF, IOV_ZERO };

/* Move @n bytes between @buf and the iovecs, starting @skip bytes into them (IOV_ZERO: zero the iovecs' bytes). */
static void iov_xfer(const struct iovec *iov, unsigned cnt, uint64_t skip, uint8_t *buf, uint64_t n,
		     enum iov_dir dir)
{
	for (unsigned i = 0; i < cnt && n; i++) {
		uint64_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		uint64_t c = min_u64(l - skip, n);
		uint8_t *p = (uint8_t *)iov[i].iov_base + skip;

		if (dir == IOV_TO_BUF)
			memcpy(buf, p, c);
		else if (dir == IOV_FROM_BUF)
			memcpy(p, buf, c);
		else
			memset(p, 0, c);
		if (buf)
			buf += c;
		n -= c;
		skip = 0;
	}
}

/* ---- queues ------------------------------------------------------------------------------------------------ */

static void fifo_push(struct disk_slot **head, struct disk_slot **tail, struct disk_slot *s)
{
	s->next = NULL;
	if (*tail)
		(*tail)->next = s;
	else
		*head = s;
	*tail = s;
}

static struct disk_slot *fifo_pop(struct disk_slot **head, struct disk_slot **tail)
{
	struct disk_slot *s = *head;

	if (s) {
		*head = s->next;
		if (!*head)
			*tail = NULL;
		s->next = NULL;
	}
	return s;
}

/* Complete @s with @result from the next disk_poll(); wake the owner's event loop if outside it. */
static void disk_defer(struct disk *d, struct disk_slot *s, int64_t result)
{
	s->result = result;
	fifo_push(&d->done_head, &d->done_tail, s);
	if (!d->poll_depth && d->efd_armed)
		(void)eventfd_write(d->efd, 1);
}

/* ---- the ring ---------------------------------------------------------------------------------------------- */

/* Send prepared SQEs. 0, or -errno of io_uring_enter (the SQEs stay queued for the next try). */
static int disk_ring_submit(struct disk *d)
{
	int ret;

	if (!io_uring_sq_ready(&d->ring))
		return 0;
	do {
		d->stats.enters++;
		ret = io_uring_submit(&d->ring);
	} while (ret == -EINTR);
	if (ret >= 0)
		return 0;
	if (ret == -EAGAIN || ret == -EBUSY) {
		/* The kernel is short of memory or has completions to hand back first: retry from disk_poll(). */
		if (d->efd_armed)
			(void)eventfd_write(d->efd, 1);
	} else {
		log_guest("io_uring submit: %s", strerror(-ret));
	}
	return ret;
}

/* A free SQE; the caller fills and commits it (an SQE taken is always submitted). NULL if the ring is full. */
static struct io_uring_sqe *disk_sqe_get(struct disk *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	if (!sqe) {
		/* Cannot happen with one SQE per request and a ring of queue_depth entries; be safe anyway. */
		(void)disk_ring_submit(d);
		sqe = io_uring_get_sqe(&d->ring);
	}
	return sqe;
}

/* Finish an SQE prepared for @s: route its completion to @s, and send it unless batching. */
static void disk_sqe_commit(struct disk *d, struct disk_slot *s, struct io_uring_sqe *sqe)
{
	sqe->flags |= d->sqe_flags;
	io_uring_sqe_set_data(sqe, s);
	d->ring_inflight++;
	d->stats.sqes++;
	if (!d->batch && !d->poll_depth)
		(void)disk_ring_submit(d);
}

/* ---- issuing the next step of a request ------------------------------------------------------------------- */

/* Write windows: must the first block be read (the data does not cover it whole)? */
static bool disk_bounce_head_needed(const struct disk *d, const struct disk_slot *s)
{
	uint64_t pos = s->off + s->done, dend = min_u64(s->off + s->len, s->win_off + s->win_len);

	return (pos & (d->align - 1)) || (dend < s->win_off + d->align && (dend & (d->align - 1)));
}

/* Write windows: must the last block be read (partly covered, and not the first block read already)? */
static bool disk_bounce_tail_needed(const struct disk *d, const struct disk_slot *s)
{
	uint64_t dend = min_u64(s->off + s->len, s->win_off + s->win_len);

	return (dend & (d->align - 1)) && !(s->win_len == d->align && disk_bounce_head_needed(d, s));
}

/* Set up the next bounce window of @s from its progress. */
static void disk_bounce_window(struct disk *d, struct disk_slot *s)
{
	uint64_t pos = s->off + s->done, end = s->off + s->len;
	uint64_t w0 = align_down(pos, d->align);
	uint64_t dend = min_u64(end, w0 + d->bounce_size);

	s->win_off = w0;
	s->win_len = (uint32_t)(align_up(dend, d->align) - w0);
	s->ph_done = 0;
	if (s->req->op == DISK_OP_READ)
		s->phase = DISK_PH_READ;
	else if (disk_bounce_head_needed(d, s))
		s->phase = DISK_PH_HEAD;
	else if (disk_bounce_tail_needed(d, s))
		s->phase = DISK_PH_TAIL;
	else
		s->phase = DISK_PH_WRITE;
}

/* Bytes of request data in the current window of @s. */
static uint64_t disk_bounce_data_len(const struct disk_slot *s)
{
	uint64_t pos = s->off + s->done;

	return min_u64(s->off + s->len, s->win_off + s->win_len) - pos;
}

/* Fill the bounce window with the data to write (caller's bytes, or zeroes). */
static void disk_bounce_fill(struct disk_slot *s)
{
	uint64_t pos = s->off + s->done, n = disk_bounce_data_len(s);
	uint8_t *dst = s->bounce->buf + (pos - s->win_off);

	if (s->req->op == DISK_OP_WRITE_ZEROES)
		memset(dst, 0, n);
	else
		iov_xfer(s->req->iov, s->req->iovcnt, s->done, dst, n, IOV_TO_BUF);
}

static int disk_zero_buf_get(struct disk *d)
{
	if (d->zero_buf)
		return 0;
	void *p = mmap(NULL, DISK_ZERO_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -ENOMEM;
	d->zero_buf = p;
	return 0;
}

/* Prepare the SQE for the current step of @s. 0 or -errno (then the caller completes @s with it). */
static int disk_slot_issue(struct disk *d, struct disk_slot *s)
{
	struct disk_request *req = s->req;
	struct io_uring_sqe *sqe;
	uint64_t pos = s->off + s->done, skip = s->done;
	unsigned k = 0;

	/* Everything that can fail is checked before an SQE is taken. */
	if (s->kind == DISK_KIND_RW) {
		while (k < req->iovcnt && skip >= req->iov[k].iov_len) {
			skip -= req->iov[k].iov_len;
			k++;
		}
		if (k >= req->iovcnt) /* cannot happen: done < len */
			return -EIO;
	} else if (s->kind < DISK_KIND_RW || s->kind > DISK_KIND_FSYNC) {
		return -EINVAL;
	}
	sqe = disk_sqe_get(d);
	if (!sqe)
		return -EBUSY;
	switch (s->kind) {
	case DISK_KIND_RW:
		if (skip == 0 && req->iovcnt - k > 1) {
			if (req->op == DISK_OP_READ)
				io_uring_prep_readv(sqe, d->sqe_fd, req->iov + k, req->iovcnt - k, pos);
			else
				io_uring_prep_writev(sqe, d->sqe_fd, req->iov + k, req->iovcnt - k, pos);
		} else {
			uint8_t *p = (uint8_t *)req->iov[k].iov_base + skip;
			unsigned n = (unsigned)min_u64(req->iov[k].iov_len - skip, DISK_RW_MAX);

			if (req->op == DISK_OP_READ)
				io_uring_prep_read(sqe, d->sqe_fd, p, n, pos);
			else
				io_uring_prep_write(sqe, d->sqe_fd, p, n, pos);
		}
		break;
	case DISK_KIND_BOUNCE: {
		uint8_t *b = s->bounce->buf;
		uint32_t start = 0, len = s->win_len;

		if (s->phase == DISK_PH_HEAD) {
			len = d->align;
		} else if (s->phase == DISK_PH_TAIL) {
			start = s->win_len - d->align;
			len = d->align;
		}
		if (s->phase == DISK_PH_WRITE)
			io_uring_prep_write(sqe, d->sqe_fd, b + start + s->ph_done, len - s->ph_done,
					    s->win_off + start + s->ph_done);
		else
			io_uring_prep_read(sqe, d->sqe_fd, b + start + s->ph_done, len - s->ph_done,
					   s->win_off + start + s->ph_done);
		break;
	}
	case DISK_KIND_ZWRITE:
		io_uring_prep_write(sqe, d->sqe_fd, d->zero_buf, (unsigned)min_u64(s->len - s->done, DISK_ZERO_SIZE),
				    pos);
		break;
	case DISK_KIND_FALLOC:
		io_uring_prep_fallocate(sqe, d->sqe_fd, s->falloc_mode, (off_t)s->off, (off_t)s->len);
		break;
	default: /* DISK_KIND_FSYNC */
		io_uring_prep_fsync(sqe, d->sqe_fd, IORING_FSYNC_DATASYNC);
		break;
	}
	disk_sqe_commit(d, s, sqe);
	return 0;
}

/* ---- starting, waiting, completing ------------------------------------------------------------------------ */

static bool disk_slot_can_start(const struct disk *d, const struct disk_slot *s)
{
	if (s->kind == DISK_KIND_BOUNCE && !d->free_bounce)
		return false;
	if (s->rmw && (d->writes_active || d->rmw_active))
		return false;
	if (s->write_type && d->rmw_active)
		return false;
	return true;
}

/* Start @s (disk_slot_can_start() holds): take what it needs and issue its first step. */
static void disk_slot_start(struct disk *d, struct disk_slot *s)
{
	int ret;

	s->active = true;
	if (s->write_type)
		d->writes_active++;
	if (s->rmw)
		d->rmw_active = true;
	if (s->kind == DISK_KIND_BOUNCE) {
		s->bounce = d->free_bounce;
		d->free_bounce = s->bounce->next;
		disk_bounce_window(d, s);
		if (s->phase == DISK_PH_WRITE)
			disk_bounce_fill(s);
	}
	ret = disk_slot_issue(d, s);
	if (ret)
		disk_defer(d, s, ret);
}

/* Start @s now or queue it behind the requests waiting for resources. */
static void disk_slot_dispatch(struct disk *d, struct disk_slot *s)
{
	bool orderly = s->write_type || s->kind == DISK_KIND_BOUNCE;

	if ((orderly && d->blocked_head) || !disk_slot_can_start(d, s))
		fifo_push(&d->blocked_head, &d->blocked_tail, s);
	else
		disk_slot_start(d, s);
}

static bool disk_flush_ready(struct disk *d, const struct disk_slot *f)
{
	while (d->ep_oldest < d->epoch && !d->ep_count[d->ep_oldest % d->ep_n])
		d->ep_oldest++;
	return d->ep_oldest > f->epoch;
}

static void disk_flush_start(struct disk *d, struct disk_slot *f)
{
	int ret;

	f->active = true;
	ret = disk_slot_issue(d, f);
	if (ret)
		disk_defer(d, f, ret);
}

/* Start what waited for a completion: ready flushes, then blocked requests in order. */
static void disk_wake(struct disk *d)
{
	while (d->flush_head && disk_flush_ready(d, d->flush_head))
		disk_flush_start(d, fifo_pop(&d->flush_head, &d->flush_tail));
	while (d->blocked_head && disk_slot_can_start(d, d->blocked_head))
		disk_slot_start(d, fifo_pop(&d->blocked_head, &d->blocked_tail));
}

/* Release @s and run its callback with @result. Returns 1 (one callback run). */
static int disk_slot_complete(struct disk *d, struct disk_slot *s, int64_t result)
{
	struct disk_request *req = s->req;

	if (s->write_type) {
		d->ep_count[s->epoch % d->ep_n]--;
		if (s->active)
			d->writes_active--;
		if (s->rmw && s->active)
			d->rmw_active = false;
	}
	if (s->bounce) {
		s->bounce->next = d->free_bounce;
		d->free_bounce = s->bounce;
		s->bounce = NULL;
	}
	s->req = NULL;
	s->next = d->free_slots;
	d->free_slots = s;
	d->inflight--;
	d->stats.completed++;
	disk_wake(d);
	req->done(req, result);
	return 1;
}

/* Move @s (a started write-type request) to writing zeroes after the fallocate modes failed. */
static void disk_slot_to_zero_writes(struct disk *d, struct disk_slot *s)
{
	int ret = disk_zero_buf_get(d);

	d->stats.zero_writes++;
	if (ret) {
		disk_defer(d, s, ret);
		return;
	}
	/* Restart through dispatch: it may now need a bounce buffer or exclusivity. */
	s->active = false;
	d->writes_active--;
	s->done = 0;
	if (d->info.direct && ((s->off | s->len) & (d->align - 1))) {
		s->kind = DISK_KIND_BOUNCE;
		s->rmw = true;
		d->stats.bounced++;
		d->stats.rmw++;
	} else {
		s->kind = DISK_KIND_ZWRITE;
	}
	disk_slot_dispatch(d, s);
	disk_wake(d);
}

/* Next fallocate mode to try after @mode failed with -EOPNOTSUPP (remembered for later requests); 0: none. */
static int disk_falloc_next(struct disk *d, int mode)
{
	if (mode & FALLOC_FL_ZERO_RANGE) {
		d->no_zero_range = true;
		if (!d->info.block_device && !d->no_punch && !(d->quirks & DISK_QUIRK_NO_PUNCH_HOLE))
			return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		return 0;
	}
	d->no_punch = true;
	return 0;
}

/* BLKDISCARD, synchronously: for devices that cannot zero with unmap (no write-zeroes). 0 or -errno. */
static int disk_blkdiscard(struct disk *d, uint64_t off, uint64_t len)
{
	uint64_t range[2] = { off, len };

	return ioctl(d->fd, BLKDISCARD, range) < 0 ? -errno : 0;
}

/* Handle one CQE of @s. Returns the number of callbacks run (0 or 1). */
static int disk_slot_cqe(struct disk *d, struct disk_slot *s, int res)
{
	struct disk_request *req = s->req;
	int ret;

	d->ring_inflight--;
	if (res == -EAGAIN || res == -EINTR)
		goto again;

	switch (s->kind) {
	case DISK_KIND_RW:
		if (res < 0)
			return disk_slot_complete(d, s, res);
		if (res == 0) {
			if (req->op == DISK_OP_WRITE)
				return disk_slot_complete(d, s, -EIO);
			/* End of file inside the disk (the file shrank): the rest reads as zeroes. */
			iov_xfer(req->iov, req->iovcnt, s->done, NULL, s->len - s->done, IOV_ZERO);
			d->stats.eof_zeroed++;
			return disk_slot_complete(d, s, (int64_t)s->len);
		}
		s->done += (uint64_t)res;
		if (s->done >= s->len)
			return disk_slot_complete(d, s, (int64_t)s->len);
		goto again;

	case DISK_KIND_ZWRITE:
		if (res < 0)
			return disk_slot_complete(d, s, res);
		if (res == 0)
			return disk_slot_complete(d, s, -EIO);
		s->done += (uint64_t)res;
		if (s->done >= s->len)
			return disk_slot_complete(d, s, 0);
		goto again;

	case DISK_KIND_FSYNC:
		return disk_slot_complete(d, s, res < 0 ? res : 0);

	case DISK_KIND_FALLOC:
		if (res == -EOPNOTSUPP) {
			int next = disk_falloc_next(d, s->falloc_mode);

			if (next) {
				s->falloc_mode = next;
				goto again;
			}
			if (req->op == DISK_OP_WRITE_ZEROES) {
				disk_slot_to_zero_writes(d, s);
				return 0;
			}
			if (d->info.block_device)
				return disk_slot_complete(d, s, disk_blkdiscard(d, s->off, s->len));
		}
		return disk_slot_complete(d, s, res < 0 ? res : 0);

	case DISK_KIND_BOUNCE: {
		uint32_t plen = s->phase == DISK_PH_HEAD || s->phase == DISK_PH_TAIL ? d->align : s->win_len;
		uint32_t pstart = s->phase == DISK_PH_TAIL ? s->win_len - d->align : 0;

		if (res < 0)
			return disk_slot_complete(d, s, res);
		if (s->phase == DISK_PH_WRITE) {
			if (res == 0)
				return disk_slot_complete(d, s, -EIO);
			s->ph_done += (uint32_t)res;
			if (s->ph_done < plen)
				goto again;
		} else {
			s->ph_done += (uint32_t)res;
			if (s->ph_done < plen && res > 0 && !(s->ph_done & (d->align - 1)))
				goto again;
			if (s->ph_done < plen) {
				/* End of file inside the disk: the rest of the window reads as zeroes. */
				memset(s->bounce->buf + pstart + s->ph_done, 0, plen - s->ph_done);
				d->stats.eof_zeroed++;
			}
		}
		/* The phase is complete. */
		switch (s->phase) {
		case DISK_PH_READ: {
			uint64_t n = disk_bounce_data_len(s);

			iov_xfer(req->iov, req->iovcnt, s->done, s->bounce->buf + (s->off + s->done - s->win_off), n,
				 IOV_FROM_BUF);
			s->done += n;
			break;
		}
		case DISK_PH_HEAD:
		case DISK_PH_TAIL:
			if (s->phase == DISK_PH_HEAD && disk_bounce_tail_needed(d, s))
				s->phase = DISK_PH_TAIL;
			else
				s->phase = DISK_PH_WRITE;
			s->ph_done = 0;
			if (s->phase == DISK_PH_WRITE)
				disk_bounce_fill(s);
			goto again;
		case DISK_PH_WRITE:
			s->done += disk_bounce_data_len(s);
			break;
		}
		if (s->done >= s->len)
			return disk_slot_complete(d, s, req->op == DISK_OP_WRITE_ZEROES ? 0 : (int64_t)s->len);
		disk_bounce_window(d, s);
		if (s->phase == DISK_PH_WRITE)
			disk_bounce_fill(s);
		ret = disk_slot_issue(d, s);
		return ret ? disk_slot_complete(d, s, ret) : 0;
	}
	default:
		return disk_slot_complete(d, s, -EIO);
	}

again:
	d->stats.resubmits++;
	ret = disk_slot_issue(d, s);
	return ret ? disk_slot_complete(d, s, ret) : 0;
}

/* ---- submission -------------------------------------------------------------------------------------------- */

/* Check @req and compute its length; whether O_DIRECT needs a bounce buffer for it. 0 or -errno. */
static int disk_request_check(const struct disk *d, const struct disk_request *req, uint64_t *len, bool *misaligned)
{
	uint64_t sum = 0, mis = 0;

	*misaligned = false;
	switch (req->op) {
	case DISK_OP_READ:
	case DISK_OP_WRITE:
		if (req->iovcnt > DISK_MAX_IOV || (req->iovcnt && !req->iov))
			return -EINVAL;
		for (unsigned i = 0; i < req->iovcnt; i++) {
			uint64_t l = req->iov[i].iov_len;

			if (l > UINT64_MAX - sum)
				return -EINVAL;
			sum += l;
			if (l)
				mis |= ((uintptr_t)req->iov[i].iov_base & (d->mem_align - 1)) | (l & (d->align - 1));
		}
		break;
	case DISK_OP_DISCARD:
	case DISK_OP_WRITE_ZEROES:
		sum = req->length;
		break;
	case DISK_OP_FLUSH:
		*len = 0;
		return 0;
	default:
		return -EINVAL;
	}
	if (req->offset > d->info.size_bytes || sum > d->info.size_bytes - req->offset)
		return -EINVAL;
	*len = sum;
	*misaligned = ((req->offset | sum) & (d->align - 1)) || mis;
	return 0;
}

int disk_submit(struct disk *d, struct disk_request *req)
{
	struct disk_slot *s;
	uint64_t len;
	bool misaligned;
	int ret;

	if (!d || !req || !req->done)
		return -EINVAL;
	ret = disk_request_check(d, req, &len, &misaligned);
	if (ret)
		return ret;
	if (req->op != DISK_OP_READ && d->info.read_only)
		return -EROFS;
	s = d->free_slots;
	if (!s)
		return -EAGAIN;
	d->free_slots = s->next;
	d->inflight++;
	d->stats.submitted++;
	memset(s, 0, sizeof(*s));
	s->req = req;
	s->off = req->offset;
	s->len = len;
	s->write_type = req->op == DISK_OP_WRITE || req->op == DISK_OP_DISCARD || req->op == DISK_OP_WRITE_ZEROES;
	if (s->write_type) {
		s->epoch = d->epoch;
		d->ep_count[d->epoch % d->ep_n]++;
	}

	switch (req->op) {
	case DISK_OP_FLUSH:
		s->kind = DISK_KIND_FSYNC;
		s->epoch = d->epoch++;
		if (!d->flush_head && disk_flush_ready(d, s)) {
			disk_flush_start(d, s);
		} else {
			d->stats.flush_waits++;
			fifo_push(&d->flush_head, &d->flush_tail, s);
		}
		return 0;
	case DISK_OP_READ:
	case DISK_OP_WRITE:
		if (!len) {
			disk_defer(d, s, 0);
			return 0;
		}
		s->kind = DISK_KIND_RW;
		if (d->info.direct && misaligned) {
			s->kind = DISK_KIND_BOUNCE;
			s->rmw = req->op == DISK_OP_WRITE && ((req->offset | len) & (d->align - 1));
			d->stats.bounced++;
			d->stats.rmw += s->rmw;
		}
		break;
	case DISK_OP_DISCARD:
		if (d->info.block_device) {
			/* Whole logical blocks only (blkdev_fallocate / BLKDISCARD reject the rest). */
			uint64_t a = align_up(s->off, d->align), b = align_down(s->off + len, d->align);

			s->off = a;
			s->len = b > a ? b - a : 0;
		}
		if (!s->len) {
			disk_defer(d, s, 0);
			return 0;
		}
		if (!d->info.discard || (d->quirks & DISK_QUIRK_NO_PUNCH_HOLE)) {
			disk_defer(d, s, -EOPNOTSUPP);
			return 0;
		}
		if (d->no_punch) {
			/* Known: no hole punching (files: -EOPNOTSUPP; block devices: discard instead). */
			disk_defer(d, s, d->info.block_device ? disk_blkdiscard(d, s->off, s->len) : -EOPNOTSUPP);
			return 0;
		}
		s->kind = DISK_KIND_FALLOC;
		s->falloc_mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		break;
	case DISK_OP_WRITE_ZEROES:
		if (!len) {
			disk_defer(d, s, 0);
			return 0;
		}
		s->kind = DISK_KIND_FALLOC;
		if (d->info.block_device && ((s->off | len) & (d->align - 1))) {
			s->falloc_mode = 0; /* blkdev_fallocate wants whole blocks: write zeroes */
		} else if (!d->no_zero_range && !(d->quirks & DISK_QUIRK_NO_ZERO_RANGE)) {
			s->falloc_mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
		} else if (!d->info.block_device && !d->no_punch && !(d->quirks & DISK_QUIRK_NO_PUNCH_HOLE)) {
			s->falloc_mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		}
		if (!s->falloc_mode) {
			ret = disk_zero_buf_get(d);
			if (ret) {
				disk_defer(d, s, ret);
				return 0;
			}
			d->stats.zero_writes++;
			s->kind = DISK_KIND_ZWRITE;
			if (d->info.direct && misaligned) {
				s->kind = DISK_KIND_BOUNCE;
				s->rmw = true;
				d->stats.bounced++;
				d->stats.rmw++;
			}
		}
		break;
	}
	disk_slot_dispatch(d, s);
	return 0;
}

int disk_kick(struct disk *d)
{
	if (!d)
		return -EINVAL;
	return disk_ring_submit(d);
}

/* ---- completion -------------------------------------------------------------------------------------------- */

/*
 * Run deferred completions and handle the CQEs ready now, until neither is left. Returns callbacks run. CQEs are
 * copied to d->cq and the ring advanced before any callback runs, so callbacks may submit (and poll) freely.
 */
static int disk_reap(struct disk *d)
{
	struct io_uring_cqe *cqes[DISK_REAP_BATCH];
	int n = 0;

	for (;;) {
		bool progress = false;
		struct disk_slot *s;

		while ((s = fifo_pop(&d->done_head, &d->done_tail))) {
			n += disk_slot_complete(d, s, s->result);
			progress = true;
		}
		if (d->cq_pos == d->cq_cnt) {
			unsigned cnt = io_uring_peek_batch_cqe(&d->ring, cqes, DISK_REAP_BATCH);

			for (unsigned i = 0; i < cnt; i++) {
				d->cq[i].s = io_uring_cqe_get_data(cqes[i]);
				d->cq[i].res = cqes[i]->res;
			}
			io_uring_cq_advance(&d->ring, cnt);
			d->cq_pos = 0;
			d->cq_cnt = cnt;
		}
		while (d->cq_pos < d->cq_cnt) {
			unsigned i = d->cq_pos++;

			n += disk_slot_cqe(d, d->cq[i].s, d->cq[i].res);
			progress = true;
		}
		if (!progress)
			return n;
	}
}

/* Anything to reap without entering the kernel? */
static bool disk_ready(struct disk *d)
{
	return d->done_head || d->cq_pos < d->cq_cnt || io_uring_cq_ready(&d->ring);
}

/*
 * System calls are what a request costs (about 2.4 us each on the development machines, a PVM guest): a waiting
 * poll with nothing ready makes one (submit what is queued and wait), the eventfd costs one read per poll and
 * only once the owner uses it, and what the callbacks submitted goes out in one more when the poll returns.
 */
int disk_poll(struct disk *d, bool wait)
{
	uint64_t cnt;
	int n = 0, ret = 0;

	if (!d)
		return -EINVAL;
	d->poll_depth++;
	for (;;) {
		if (wait && d->inflight && !disk_ready(d)) {
			if (!d->ring_inflight) {
				/* Nothing can complete (a bug if requests are in flight): do not block forever. */
				log_err("disk_poll: %u requests in flight but none in the ring", d->inflight);
				ret = -EIO;
				break;
			}
			d->stats.enters++;
			ret = io_uring_submit_and_wait(&d->ring, 1);
			if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY && ret != -ETIME)
				break;
			ret = 0;
		}
		/* Drain the eventfd before reaping: a CQE posted after the reap signals it again. */
		if (d->efd_armed)
			(void)eventfd_read(d->efd, &cnt);
		n += disk_reap(d);
		if (n || !wait || !d->inflight)
			break;
	}
	d->poll_depth--;
	if (!d->poll_depth)
		(void)disk_ring_submit(d);
	return n ? n : ret;
}

/*
 * The eventfd is registered at open with notifications off (IORING_CQ_EVENTFD_DISABLED), so an owner that only
 * waits in disk_poll() pays nothing for it; the first call here turns them on. The disk is not const underneath
 * (disk_open allocates it), so arming it through a const pointer is sound; the one-off signal covers CQEs posted
 * while notifications were off.
 */
int disk_event_fd(const struct disk *d)
{
	struct disk *w = (struct disk *)d;

	if (!d)
		return -EINVAL;
	if (!w->efd_armed) {
		w->efd_armed = true;
		(void)io_uring_cq_eventfd_toggle(&w->ring, true);
		(void)eventfd_write(w->efd, 1);
	}
	return d->efd;
}

unsigned disk_inflight(const struct disk *d)
{
	return d ? d->inflight : 0;
}

void disk_get_info(const struct disk *d, struct disk_info *out)
{
	*out = d->info;
}

void disk_get_stats(const struct disk *d, struct disk_stats *out)
{
	*out = d->stats;
}

void disk_set_quirks(struct disk *d, unsigned quirks)
{
	d->quirks = quirks;
}

/* ---- open and close ---------------------------------------------------------------------------------------- */

/* Read a number from the block device's queue attributes (a partition's are its parent's). -1 if absent. */
static int64_t disk_sysfs_queue_u64(dev_t rdev, const char *attr)
{
	char path[128];
	unsigned long long v;
	int64_t ret = -1;

	for (int parent = 0; parent < 2 && ret < 0; parent++) {
		FILE *f;

		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%squeue/%s", major(rdev), minor(rdev),
			 parent ? "../" : "", attr);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &v) == 1)
			ret = (int64_t)v;
		fclose(f);
	}
	return ret;
}

/* Find size, alignment and discard support of the open @d->fd. 0 or -errno. */
static int disk_probe(struct disk *d, const struct stat *st, bool want_direct)
{
	struct statx stx;
	uint32_t mem_align = 0;

	if (statx(d->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 && (stx.stx_mask & STATX_DIOALIGN)) {
		if (!stx.stx_dio_offset_align && want_direct && !d->info.block_device) {
			log_warn("the file system does not do O_DIRECT: using the page cache");
			d->info.direct = false;
		}
		d->align = stx.stx_dio_offset_align;
		mem_align = stx.stx_dio_mem_align;
	}
	if (d->info.block_device) {
		uint64_t size;
		int lbs;

		if (ioctl(d->fd, BLKGETSIZE64, &size) < 0 || ioctl(d->fd, BLKSSZGET, &lbs) < 0)
			return -errno;
		d->info.size_bytes = size;
		d->align = (uint32_t)lbs;
		d->info.discard = !d->info.read_only && (disk_sysfs_queue_u64(st->st_rdev, "discard_max_bytes") > 0 ||
							  disk_sysfs_queue_u64(st->st_rdev, "write_zeroes_max_bytes") > 0);
	} else {
		d->info.size_bytes = (uint64_t)st->st_size;
		if (!d->align)
			d->align = 4096; /* unknown: the largest common logical block size is always right */
		if (!d->info.read_only) {
			/* Punch a hole past the end of the file: frees nothing, fails where holes are unsupported. */
			off_t probe = (off_t)align_up((uint64_t)st->st_size, 1u << 20) + (1 << 20);

			d->info.discard = fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, probe, 4096) == 0;
		}
	}
	if (!is_pow2(d->align) || d->align > DISK_ALIGN_MAX) {
		log_err("unsupported logical block size %u", d->align);
		return -EINVAL;
	}
	d->mem_align = is_pow2(mem_align) && mem_align <= d->align ? mem_align : d->align;
	if (!d->mem_align)
		d->mem_align = 1;
	if (d->info.direct && (d->info.size_bytes & (d->align - 1))) {
		log_warn("image size %" PRIu64 " is not a multiple of %u bytes: using the page cache",
			 d->info.size_bytes, d->align);
		d->info.direct = false;
	}
	if (want_direct && !d->info.direct) {
		int fl = fcntl(d->fd, F_GETFL);

		if (fl < 0 || fcntl(d->fd, F_SETFL, fl & ~O_DIRECT) < 0)
			return -errno;
	}
	d->info.direct_align = d->align;
	return 0;
}

static int disk_ring_init(struct disk *d)
{
	struct io_uring_params p;
	int ret;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SUBMIT_ALL;
	ret = io_uring_queue_init_params(d->qd, &d->ring, &p);
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(d->qd, &d->ring, &p);
	}
	if (ret < 0)
		return ret;
	d->ring_ok = true;
	if (!(p.features & IORING_FEAT_SUBMIT_STABLE) || !(p.features & IORING_FEAT_NODROP)) {
		log_err("io_uring lacks SUBMIT_STABLE/NODROP (kernel too old)");
		return -EOPNOTSUPP;
	}
	/* A registered file saves a file-table lookup per request; plain fds work as well. */
	d->sqe_fd = d->fd;
	if (io_uring_register_files(&d->ring, &d->fd, 1) == 0) {
		d->sqe_fd = 0;
		d->sqe_flags = IOSQE_FIXED_FILE;
	}
	ret = io_uring_register_eventfd(&d->ring, d->efd);
	if (ret < 0)
		return ret;
	/* Off until disk_event_fd() is called (see there); kernels without CQ ring flags keep it on. */
	if (io_uring_cq_eventfd_toggle(&d->ring, false) < 0)
		d->efd_armed = true;
	return 0;
}

int disk_open(const struct disk_config *cfg, struct disk **out)
{
	struct disk *d;
	struct stat st;
	unsigned qd;
	int flags, ret;

	if (!cfg || !cfg->path || !out)
		return -EINVAL;
	qd = cfg->queue_depth ? cfg->queue_depth : DISK_QD_DEFAULT;
	if (qd > DISK_QD_MAX)
		return -EINVAL;
	if (stat(cfg->path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = -1;
	d->efd = -1;
	d->qd = qd;
	d->batch = cfg->batch;
	d->info.read_only = cfg->read_only;
	d->info.block_device = S_ISBLK(st.st_mode);
	d->info.direct = cfg->direct;

	flags = (cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (cfg->direct ? O_DIRECT : 0);
	if (d->info.block_device && !cfg->read_only)
		flags |= O_EXCL; /* refuses a device that is mounted or held by another exclusive opener */
	d->fd = open(cfg->path, flags);
	if (d->fd < 0 && errno == EINVAL && cfg->direct) {
		log_warn("%s: O_DIRECT refused: using the page cache", cfg->path);
		d->info.direct = false;
		d->fd = open(cfg->path, flags & ~O_DIRECT);
	}
	if (d->fd < 0) {
		ret = -errno;
		goto err_free;
	}
	if (fstat(d->fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		ret = -EINVAL;
		goto err_close;
	}
	if (S_ISREG(st.st_mode) && flock(d->fd, (cfg->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		log_err("%s: in use by another process (flock): %s", cfg->path, strerror(-ret));
		goto err_close;
	}
	ret = disk_probe(d, &st, cfg->direct);
	if (ret)
		goto err_close;

	d->slots = calloc(qd, sizeof(*d->slots));
	d->ep_n = qd + 1;
	d->ep_count = calloc(d->ep_n, sizeof(*d->ep_count));
	if (!d->slots || !d->ep_count) {
		ret = -ENOMEM;
		goto err_mem;
	}
	for (unsigned i = qd; i-- > 0;) {
		d->slots[i].next = d->free_slots;
		d->free_slots = &d->slots[i];
	}
	if (d->info.direct) {
		/* Anonymous memory: pages become resident only when a misaligned request uses them. */
		d->bounce_size = DISK_BOUNCE_SIZE > 2 * d->align ? DISK_BOUNCE_SIZE : 2 * d->align;
		d->bounce_mem_len = (size_t)DISK_BOUNCE_COUNT * d->bounce_size;
		d->bounce_mem = mmap(NULL, d->bounce_mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
				     0);
		if (d->bounce_mem == MAP_FAILED) {
			d->bounce_mem = NULL;
			ret = -ENOMEM;
			goto err_mem;
		}
		for (unsigned i = DISK_BOUNCE_COUNT; i-- > 0;) {
			d->bounces[i].buf = d->bounce_mem + (size_t)i * d->bounce_size;
			d->bounces[i].next = d->free_bounce;
			d->free_bounce = &d->bounces[i];
		}
	}
	d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->efd < 0) {
		ret = -errno;
		goto err_mem;
	}
	ret = disk_ring_init(d);
	if (ret)
		goto err_ring;

	log_dbg("%s: %" PRIu64 " bytes, %s%s%s, align %u/%u, qd %u", cfg->path, d->info.size_bytes,
		d->info.block_device ? "block device" : "file", d->info.direct ? ", O_DIRECT" : "",
		d->info.read_only ? ", read-only" : "", d->align, d->mem_align, qd);
	*out = d;
	return 0;

err_ring:
	if (d->ring_ok)
		io_uring_queue_exit(&d->ring);
	close(d->efd);
err_mem:
	if (d->bounce_mem)
		munmap(d->bounce_mem, d->bounce_mem_len);
	free(d->ep_count);
	free(d->slots);
err_close:
	close(d->fd);
err_free:
	free(d);
	return ret;
}

void disk_close(struct disk *d)
{
	if (!d)
		return;
	while (d->inflight) {
		int ret = disk_poll(d, true);

		if (ret < 0) {
			log_err("close: %u requests still in flight: %s", d->inflight, strerror(-ret));
			break;
		}
	}
	/*
	 * The ring's teardown is asynchronous and its registered file keeps the open file (and with it the flock,
	 * or a block device's O_EXCL claim) alive: unregister it and unlock explicitly, so the image can be opened
	 * again as soon as this returns.
	 */
	if (d->sqe_flags & IOSQE_FIXED_FILE)
		(void)io_uring_unregister_files(&d->ring);
	io_uring_queue_exit(&d->ring);
	if (!d->info.block_device)
		(void)flock(d->fd, LOCK_UN);
	close(d->efd);
	close(d->fd);
	if (d->bounce_mem)
		munmap(d->bounce_mem, d->bounce_mem_len);
	if (d->zero_buf)
		munmap(d->zero_buf, DISK_ZERO_SIZE);
	free(d->ep_count);
	free(d->slots);
	free(d);
}
