/* SPDX-License-Identifier: MIT */
/*
 * backend/disk/disk.h - disk backends: raw image files and block devices, asynchronous through io_uring
 * (liburing). The storage VSPs (vsp/storvsp) submit requests whose buffers are guest memory (iovecs into the
 * guest RAM mapping: no bounce copy) and are told of completions on their own thread.
 *
 * Threads: one thread drives a disk (submit, poll, kick, close): the VMBus server's I/O thread in a VM, the test
 * thread in unit tests. No locking inside: calls on one disk must not run concurrently (disk_open may run on
 * another thread before the disk is handed over). Completions are reported by disk_poll() on that thread;
 * disk_event_fd() becomes readable when some are ready, so the owner adds it to its event loop
 * (vmbus_server_add_fd).
 *
 * Durability contract (R3 in shared/TARGETS.md): a write's completion is reported only after the backend has
 * done the write (the data is in the host page cache, or on the device with O_DIRECT: either way it survives a
 * kill -9 of the worker); a DISK_OP_FLUSH completes only when every write completed before it was submitted is
 * durable (fdatasync). The VSP completes a guest request only from these completions.
 *
 * Flush ordering (stronger than the above): a FLUSH is handed to the kernel only once every write-type request
 * (WRITE, WRITE_ZEROES, DISCARD) accepted by disk_submit() before it has completed, and their @done callbacks run
 * before the flush's. Requests submitted after a FLUSH are not held back (no IOSQE_IO_DRAIN): they may or may not
 * be covered by it.
 *
 * Prefix disk_.
 */
#ifndef OPENHV_BACKEND_DISK_DISK_H
#define OPENHV_BACKEND_DISK_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct disk;

#define DISK_QD_MAX 4096u /* largest disk_config.queue_depth */

struct disk_config {
	const char *path;      /* image file or block device */
	bool read_only;        /* open O_RDONLY; writes, flushes of writes and discards fail with -EROFS */
	bool direct;           /* O_DIRECT (bypass the host page cache); requests must then be aligned to
				* disk_info.direct_align (offset, length and every iovec base/length): misaligned
				* ones are served through a bounce buffer */
	unsigned queue_depth;  /* requests in flight at most (1..DISK_QD_MAX; 0: 128); more submissions get -EAGAIN */
	bool batch;            /* disk_submit() only queues: requests go to the kernel with the next disk_kick() or
				* disk_poll() (one system call per burst); false: each disk_submit() outside
				* disk_poll() enters the kernel (submissions from @done callbacks are always sent
				* together at the end of disk_poll()) */
};

struct disk_info {
	uint64_t size_bytes;     /* file size, or the block device's size */
	uint32_t direct_align;   /* O_DIRECT alignment in bytes (logical block size of the device; for files the
				  * file system's, statx STATX_DIOALIGN: 512 on the usual disks, 4096 if unknown) */
	bool read_only;
	bool block_device;
	bool discard;            /* DISK_OP_DISCARD can free space (a file on a filesystem with hole punching, or a
				  * block device with discard); else it completes with -EOPNOTSUPP */
	bool direct;             /* O_DIRECT in effect (false when asked for but the file system refuses it, or the
				  * file's size is not a multiple of direct_align) */
};

enum disk_op {
	DISK_OP_READ = 0,      /* read iov from offset */
	DISK_OP_WRITE,         /* write iov at offset */
	DISK_OP_FLUSH,         /* make every completed write durable (fdatasync); iov/offset unused */
	DISK_OP_DISCARD,       /* the range [offset, offset + length) may read back as zeroes (punch a hole) */
	DISK_OP_WRITE_ZEROES,  /* the range [offset, offset + length) reads back as zeroes afterwards */
};

/*
 * One request. The caller owns it and everything it points at until @done ran; it may embed it in its own
 * per-request state. @iov entries point into memory that stays valid until completion (guest RAM).
 */
struct disk_request {
	enum disk_op op;
	uint64_t offset;        /* bytes */
	uint64_t length;        /* bytes: DISCARD / WRITE_ZEROES only (READ/WRITE: the sum of the iov lengths) */
	const struct iovec *iov;
	unsigned iovcnt;        /* <= DISK_MAX_IOV */
	/* Completion, on the thread that called disk_poll(): @result is the bytes transferred (READ/WRITE: the
	 * whole length, else an error), 0 (FLUSH/DISCARD/WRITE_ZEROES), or -errno (-EIO, -ENOSPC, -EROFS,
	 * -EOPNOTSUPP, -EINVAL for a range beyond the end of the disk). */
	void (*done)(struct disk_request *req, int64_t result);
	void *opaque;
	/* private to the backend */
	uint64_t priv[4];
};

#define DISK_MAX_IOV 1024u

/*
 * Open @cfg->path: a regular file (locked with flock: LOCK_EX, or LOCK_SH when read-only; -EBUSY if another
 * holder conflicts) or a block device (opened O_EXCL when writable: -EBUSY if mounted). 0 and *@out; -EINVAL
 * (bad config, not a file or block device), -ENOMEM, -EBUSY, or the -errno of open/io_uring_queue_init.
 */
int disk_open(const struct disk_config *cfg, struct disk **out);

/*
 * Wait for every request in flight (their callbacks run, on this thread; requests they submit are waited for
 * too), then close. NULL is a no-op.
 */
void disk_close(struct disk *d);

void disk_get_info(const struct disk *d, struct disk_info *out);

/*
 * Queue @req (submitted to the kernel at once, or with the next disk_poll when batching). 0: @req->done will be
 * called later from disk_poll() (never from inside disk_submit). -EAGAIN: queue_depth requests are in flight;
 * -EINVAL: bad request (offset/length beyond the disk, too many iovecs); -EROFS: a write to a read-only disk.
 * On an error @done is not called. -EROFS also for FLUSH, DISCARD and WRITE_ZEROES on a read-only disk.
 * Zero-length requests are accepted and complete with 0.
 *
 * With O_DIRECT, misaligned requests go through one of a few bounce buffers allocated at open (64 KiB windows,
 * copied); writes whose offset or length is misaligned read the partial edge blocks first and run alone among
 * write-type requests (the others wait in submission order). On block devices, DISCARD is trimmed to whole
 * logical blocks and WRITE_ZEROES of a misaligned range is done by writing zeroes.
 */
int disk_submit(struct disk *d, struct disk_request *req);

/* Send queued submissions to the kernel (batch mode; harmless otherwise). 0 or -errno of io_uring_enter. */
int disk_kick(struct disk *d);

/*
 * An eventfd that becomes readable when completions are waiting; the caller does not read it (disk_poll drains
 * it). It is signalled only once this has been called (an owner that only waits in disk_poll pays nothing for
 * it); the first call leaves it readable once, so the owner's first disk_poll picks up anything already done.
 */
int disk_event_fd(const struct disk *d);

/*
 * Reap completions and call their @done callbacks (which may submit new requests, and may call disk_poll again,
 * but not disk_close). With @wait, block until at least one completes (if any is in flight). Whatever was queued
 * (batch mode, or by the callbacks) has been sent to the kernel when this returns. Returns the number of
 * callbacks run, or -errno.
 *
 * Cost: system calls dominate (about 2.4 us each on the development machines): a request costs an
 * io_uring_enter of its own when submitted alone, a share of one when submitted in a burst (batch mode and
 * disk_kick, or from callbacks). A VSP should use batch mode and call disk_kick() once per ring drain.
 */
int disk_poll(struct disk *d, bool wait);

/* Requests in flight. */
unsigned disk_inflight(const struct disk *d);

#endif /* OPENHV_BACKEND_DISK_DISK_H */
