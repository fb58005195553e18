/* SPDX-License-Identifier: MIT */
/*
 * vsp/storvsp/scsi_disk.h - a SCSI direct-access device (SBC-3/SPC-4 subset) on a disk backend: the target behind
 * a LUN of the synthetic SCSI controller (vsp/storvsp). It executes CDBs against guest buffers and reports SAM
 * status and fixed-format sense; StorVSP turns those into SRB status (shared/reference/guest-devices.md 1.4-1.6
 * lists what a Debian 12 guest sends and how it reads the answers).
 *
 * Threads: the thread that drives the disk backend (the VMBus I/O thread). Prefix scsi_disk_ (device) and scsi_
 * (helpers shared with the controller).
 */
#ifndef OPENHV_VSP_STORVSP_SCSI_DISK_H
#define OPENHV_VSP_STORVSP_SCSI_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backend/disk/disk.h"

struct scsi_disk;

struct scsi_disk_config {
	struct disk *disk;      /* borrowed; must outlive the scsi_disk */
	uint32_t block_size;    /* logical block size: 512 or 4096 bytes */
	bool read_only;         /* MODE SENSE write-protect, writes fail with DATA PROTECT */
	const char *serial;     /* VPD 0x80 unit serial number (ASCII, <= 20 chars); NULL: derived from @id */
	uint64_t id;            /* unique per disk: VPD 0x83 NAA designator, default serial */
	uint32_t physical_block_size; /* bytes, a power-of-two multiple of @block_size (<= 2^15 blocks);
				       * 0: 4096 (or @block_size when larger). READ CAPACITY(16) exponent, VPD 0xB0 */
	uint32_t max_transfer_bytes;  /* READ/WRITE bytes per command at most (rounded down to blocks, >= 1 block),
				       * reported in VPD 0xB0 (the controller's max_transfer_bytes fits); larger ones
				       * get INVALID FIELD IN CDB. 0: no limit, not reported (as Hyper-V) */
};

/*
 * 0 and *@out; -EINVAL (no disk, bad block size or physical block size, a disk smaller than one block), -ENOMEM.
 * The capacity is the backend's size in whole blocks, read once here. @cfg and @serial are copied.
 */
int scsi_disk_create(const struct scsi_disk_config *cfg, struct scsi_disk **out);
/* Free @sd; no request of it may be in flight. NULL is a no-op. */
void scsi_disk_destroy(struct scsi_disk *sd);

/* SAM status codes (SAM-5 5.3.1). */
#define SCSI_STATUS_GOOD 0x00            /* SAM_STAT_GOOD */
#define SCSI_STATUS_CHECK_CONDITION 0x02 /* SAM_STAT_CHECK_CONDITION */
#define SCSI_STATUS_BUSY 0x08            /* SAM_STAT_BUSY */

#define SCSI_SENSE_BYTES 18u /* fixed-format sense data (SPC-4 4.5.3) */

/*
 * One command. The caller (StorVSP) owns it until @done ran and may embed it in its per-request state.
 * Inputs: the CDB, the direction and the guest's data buffer (@iov entries point into guest RAM: the data moves
 * between the disk and the guest without a bounce copy; @xfer_len is the buffer's size in bytes, the guest's
 * data_transfer_length). Outputs, valid in @done: @status, @sense / @sense_len (when CHECK CONDITION),
 * @transferred (bytes actually moved to or from the buffer, <= @xfer_len).
 */
struct scsi_request {
	uint8_t cdb[16];
	uint8_t cdb_len;               /* 6, 10, 12 or 16 */
	bool data_in;                  /* device -> guest (READ, INQUIRY, ...) */
	const struct iovec *iov;
	unsigned iovcnt;               /* any number: the backend steps take at most DISK_MAX_IOV at a time */
	uint32_t xfer_len;
	void (*done)(struct scsi_request *r);
	void *opaque;
	/* results */
	uint8_t status;                /* SCSI_STATUS_* */
	uint8_t sense[SCSI_SENSE_BYTES];
	uint8_t sense_len;
	uint32_t transferred;
	/* private to scsi_disk (the caller may clear everything before @dreq and must leave the rest alone while the
	 * request runs; scsi_disk_execute initialises it) */
	struct disk_request dreq;
	struct scsi_disk *sd;
	uint8_t io_kind;        /* what the backend steps do (enum in scsi_disk.c) */
	bool io_fua;            /* flush after the last write */
	bool io_flushing;       /* the FUA flush is in flight */
	unsigned io_idx;        /* data cursor: iov entry ... */
	size_t io_idx_off;      /* ... and bytes into it */
	uint32_t io_moved;      /* bytes moved to or from the guest buffer so far */
	uint64_t io_off;        /* disk offset of the next step, bytes */
	uint64_t io_left;       /* bytes still to go (data, or the range of a discard / write same) */
	uint32_t io_desc;       /* UNMAP: next descriptor of io_buf */
	uint32_t io_ndesc;
	struct iovec io_piov;   /* one iovec of our own: a partial guest iov entry, a WRITE SAME pattern chunk */
	void *io_buf;           /* malloc'd (UNMAP parameter list, WRITE SAME pattern), freed at completion */
	uint32_t io_buf_len;    /* bytes */
};

/*
 * Execute @r. @r->done is always called exactly once: before scsi_disk_execute returns for commands answered from
 * memory (INQUIRY, MODE SENSE, READ CAPACITY, TEST UNIT READY, errors, ...), or later from disk_poll() of the
 * disk for commands that go to the backend (READ, WRITE, SYNCHRONIZE CACHE, UNMAP, WRITE SAME). A backend queue
 * that is full is answered with BUSY status (the guest retries).
 *
 * The guest buffer is @xfer_len bytes, clipped to what @iov describes; nothing outside it is touched. Data-in
 * answers are cut to the CDB's allocation length and the buffer (@transferred says how much; length fields in the
 * data keep the full length). A READ/WRITE whose buffer is shorter than the CDB's transfer moves the bytes that
 * fit, GOOD; a longer buffer moves the CDB's bytes. The direction comes from the CDB (@data_in is not consulted).
 * Which commands, values and sense codes: the top of scsi_disk.c. No I/O in flight at scsi_disk_destroy.
 */
void scsi_disk_execute(struct scsi_disk *sd, struct scsi_request *r);

/* ---- helpers for the controller (LUNs that do not exist, REPORT LUNS) ------------------------------------- */

/*
 * Answer @r for a LUN with no device (guest-devices.md 1.6): INQUIRY gets a standard INQUIRY with peripheral
 * qualifier 011b / device type 0x1F (byte 0 = 0x7F), GOOD status; REPORT LUNS gets the @lun_count LUNs of
 * @luns; everything else CHECK CONDITION, ILLEGAL REQUEST, LOGICAL UNIT NOT SUPPORTED (ASC 0x25). Calls @r->done
 * before returning. The controller answers REPORT LUNS through this function for every LUN, present or not (only
 * it knows the list). Returns true when the answer means "no such LUN" (the controller reports SRB INVALID_LUN
 * for it), false for INQUIRY and REPORT LUNS.
 */
bool scsi_no_lun_execute(struct scsi_request *r, const uint16_t *luns, unsigned lun_count);

/* Copy @len bytes of @src into the data buffer of @r, at most @r->xfer_len; returns the bytes copied. */
uint32_t scsi_copy_to_guest(struct scsi_request *r, const void *src, uint32_t len);

#endif /* OPENHV_VSP_STORVSP_SCSI_DISK_H */
