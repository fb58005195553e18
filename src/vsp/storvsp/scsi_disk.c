// SPDX-License-Identifier: MIT
/*
 * vsp/storvsp/scsi_disk.c - a SCSI direct-access device on a disk backend (see scsi_disk.h).
 *
 * What the guest sees, and why (shared/reference/guest-devices.md 1.5-1.6 for what Linux 6.1 sends and reads):
 *  - INQUIRY: vendor "Msft    ", product "Virtual Disk    ", revision "1.0 ", version 6 (SPC-4), CMDQUE. The vendor
 *    is Hyper-V's on purpose: storvsc_device_configure() keys on "Msft" (SPC-3 on protocols 5.1/6.0, no_write_same
 *    cleared on >= 6.2). Linux 6.1's sd still never sends WRITE SAME by itself: storvsc's host template sets
 *    no_write_same, which sd_read_write_same() copies to every device after slave_configure, so discard goes out
 *    as UNMAP (RC16 LBPME + VPD 0xB2 LBPU + a MAXIMUM UNMAP LBA COUNT) and zeroing as plain writes. WRITE SAME
 *    below serves SG_IO users and a provisioning_mode set through sysfs.
 *  - VPD pages 0x00, 0x80 (serial), 0x83 (one NAA 3h "locally assigned" designator from cfg->id), 0xB0 (block
 *    limits; MAXIMUM TRANSFER LENGTH only when configured, like Hyper-V which leaves it 0), 0xB1 (non-rotating),
 *    0xB2 (provisioning). Not 0x89: its presence makes sd disable WRITE SAME.
 *  - Logical block provisioning (READ CAPACITY(16) LBPME, VPD 0xB2 LBPU/LBPWS/LBPWS10, thin) when the backend
 *    can discard and the disk is writable; LBPRZ (unmapped blocks read zero) only for files, where a discard is a
 *    punched hole that reads back as zeroes; a block device's discard makes no such promise.
 *  - MODE SENSE: caching page (WCE=1: the host page cache is a volatile write cache, SYNCHRONIZE CACHE flushes it)
 *    and control page; DPOFUA set (FUA writes are written then flushed); WP for read-only disks. Nothing is
 *    changeable, nothing saveable. MODE SELECT accepts pages equal to the current values (so a guest writing
 *    back what it read succeeds) and refuses to turn the write cache off (that would promise write-through).
 *  - WRITE SAME: a zero block (or NDOB) becomes DISK_OP_WRITE_ZEROES, or DISK_OP_DISCARD when UNMAP is set and
 *    LBPRZ holds; any other block is written over the range, a chunk of up to 1 MiB of copies at a time.
 *  - Errors: unknown opcode ILLEGAL REQUEST/0x20, bad CDB field 0x24, LBA range 0x21, parameter list 0x1A/0x26,
 *    writes to a read-only disk DATA PROTECT/0x27, backend -EIO MEDIUM ERROR (0x11 read, 0x0C write),
 *    -ENOSPC DATA PROTECT/0x27-07 (space allocation failed), other backend errors HARDWARE ERROR/0x44,
 *    -EAGAIN (backend queue full) and -ENOMEM BUSY status. An error never reports data transferred (storvsc
 *    forces INQUIRY and MODE SENSE to success: it must see an empty answer, guest-devices.md 1.4).
 *
 * I/O requests run as a chain of backend requests on the one struct disk_request embedded in the scsi_request:
 * normally one (the guest's iovecs go to the backend as they are); more when the guest buffer and the CDB disagree
 * in length (a partial iovec entry is described by a private iovec), for FUA (write, then flush), UNMAP (one
 * discard per descriptor) and WRITE SAME patterns. Steps run one after the other, so the first error ends the
 * request and is the one reported.
 */
#define LOG_TAG "scsi_disk"
#include "vsp/storvsp/scsi_disk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "openhv/scsi.h"

/* ---- identity and limits --------------------------------------------------------------------------------------- */

#define SD_VENDOR "Msft    "         /* 8 bytes: see the top of this file */
#define SD_PRODUCT "Virtual Disk    " /* 16 bytes */
#define SD_REVISION "1.0 "           /* 4 bytes */

#define SD_MAX_UNMAP_BYTES (2ull << 30)        /* VPD 0xB0 MAXIMUM UNMAP LBA COUNT, per UNMAP command */
#define SD_MAX_UNMAP_DESCRIPTORS 256u          /* VPD 0xB0 MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT */
#define SD_MAX_WRITE_SAME_BYTES (128u << 20)   /* VPD 0xB0 MAXIMUM WRITE SAME LENGTH */
#define SD_UNMAP_GRANULARITY_BYTES 4096u       /* VPD 0xB0 OPTIMAL UNMAP GRANULARITY: a host file system block */
#define SD_PATTERN_CHUNK_BYTES (1u << 20)      /* WRITE SAME with a non-zero block: bytes written per step */
#define SD_PATTERN_BYTES_MAX (16u << 20)       /* of such pattern buffers per disk at once; beyond: SAM BUSY */
#define SD_ZERO_CHUNK_BYTES (256u << 10)       /* zero writes when the backend cannot WRITE_ZEROES */
#define SD_MODE_SELECT_MAX 512u                /* MODE SELECT parameter list bytes we look at */
#define SD_MAX_BLOCK_SIZE 4096u

/* Never written: the source of zero writes (a DISK_OP_WRITE reads it). */
static uint8_t sd_zeroes[SD_ZERO_CHUNK_BYTES];

struct scsi_disk {
	struct disk *disk;
	uint32_t block_size;   /* bytes */
	unsigned block_shift;  /* log2(block_size) */
	unsigned phys_exp;     /* log2(physical block / logical block) */
	uint64_t blocks;       /* capacity in logical blocks */
	bool read_only;
	bool lbp;              /* logical block provisioning: UNMAP and WRITE SAME + UNMAP discard */
	bool lbprz;            /* discarded blocks read back as zeroes */
	uint64_t id;
	char serial[21];
	uint8_t serial_len;
	uint32_t max_xfer_blocks; /* 0: no limit */
	uint32_t max_unmap_blocks;
	uint32_t max_ws_blocks;
	uint32_t unmap_gran_blocks;
	uint32_t pattern_bytes;   /* WRITE SAME pattern buffers allocated now (<= SD_PATTERN_BYTES_MAX) */
};

enum sd_io_kind {
	SD_IO_NONE = 0,
	SD_IO_READ,       /* data from disk to the guest buffer, io_left bytes */
	SD_IO_WRITE,      /* data from the guest buffer to disk, then a flush if io_fua */
	SD_IO_FLUSH,      /* one DISK_OP_FLUSH */
	SD_IO_UNMAP,      /* one DISK_OP_DISCARD per descriptor of io_buf */
	SD_IO_WS_DISCARD, /* DISCARD [io_off, +io_left); -EOPNOTSUPP falls back to SD_IO_WS_ZEROES */
	SD_IO_WS_ZEROES,  /* WRITE_ZEROES [io_off, +io_left); -EOPNOTSUPP falls back to SD_IO_WS_PATTERN of zeroes */
	SD_IO_WS_PATTERN, /* write io_buf (or sd_zeroes when NULL) over [io_off, +io_left), chunk by chunk */
};

/* ---- big-endian fields ---------------------------------------------------------------------------------------- */

static uint16_t sd_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t sd_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t sd_be64(const uint8_t *p)
{
	return (uint64_t)sd_be32(p) << 32 | sd_be32(p + 4);
}

static void sd_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void sd_put24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static void sd_put32(uint8_t *p, uint32_t v)
{
	sd_put16(p, (uint16_t)(v >> 16));
	sd_put16(p + 2, (uint16_t)v);
}

static void sd_put64(uint8_t *p, uint64_t v)
{
	sd_put32(p, (uint32_t)(v >> 32));
	sd_put32(p + 4, (uint32_t)v);
}

static uint32_t sd_min32(uint64_t a, uint64_t b)
{
	return (uint32_t)(a < b ? a : b);
}

/* ---- the guest buffer ----------------------------------------------------------------------------------------- */

/* Bytes of the guest buffer: @xfer_len, but never more than the iovecs describe. */
static uint32_t sd_buf_len(const struct scsi_request *r)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < r->iovcnt && total < r->xfer_len; i++)
		total += r->iov[i].iov_len;
	return sd_min32(total, r->xfer_len);
}

/*
 * Copy between @buf and bytes [@off, @off + @len) of the guest buffer of @r, clipped to sd_buf_len(). Returns the
 * bytes copied. Each guest byte is touched once.
 */
static uint32_t sd_copy(struct scsi_request *r, uint32_t off, void *buf, uint32_t len, bool to_guest)
{
	uint32_t limit = sd_buf_len(r), done = 0;
	uint64_t pos = 0; /* guest buffer offset of iov[i] */

	if (off >= limit)
		return 0;
	if (len > limit - off)
		len = limit - off;
	for (unsigned i = 0; i < r->iovcnt && done < len; i++) {
		const struct iovec *e = &r->iov[i];
		uint64_t start = off + done, end = pos + e->iov_len;

		if (start < end) {
			size_t in = (size_t)(start - pos);
			uint32_t n = sd_min32(end - start, len - done);

			if (to_guest)
				memcpy((uint8_t *)e->iov_base + in, (uint8_t *)buf + done, n);
			else
				memcpy((uint8_t *)buf + done, (uint8_t *)e->iov_base + in, n);
			done += n;
		}
		pos = end;
	}
	return done;
}

uint32_t scsi_copy_to_guest(struct scsi_request *r, const void *src, uint32_t len)
{
	return sd_copy(r, 0, (void *)src, len, true);
}

/* ---- completion ------------------------------------------------------------------------------------------------ */

static void sd_request_init(struct scsi_request *r, struct scsi_disk *sd)
{
	r->status = SCSI_STATUS_GOOD;
	memset(r->sense, 0, sizeof(r->sense));
	r->sense_len = 0;
	r->transferred = 0;
	r->sd = sd;
	r->io_kind = SD_IO_NONE;
	r->io_fua = false;
	r->io_flushing = false;
	r->io_idx = 0;
	r->io_idx_off = 0;
	r->io_moved = 0;
	r->io_off = 0;
	r->io_left = 0;
	r->io_desc = 0;
	r->io_ndesc = 0;
	r->io_piov.iov_base = NULL;
	r->io_piov.iov_len = 0;
	r->io_buf = NULL;
	r->io_buf_len = 0;
}

static void sd_finish(struct scsi_request *r)
{
	if (r->io_buf && r->io_kind == SD_IO_WS_PATTERN)
		r->sd->pattern_bytes -= r->io_buf_len;
	free(r->io_buf);
	r->io_buf = NULL;
	r->io_kind = SD_IO_NONE;
	r->done(r);
}

static void sd_good(struct scsi_request *r, uint32_t transferred)
{
	r->status = SCSI_STATUS_GOOD;
	r->transferred = transferred;
	sd_finish(r);
}

static void sd_busy(struct scsi_request *r)
{
	r->status = SCSI_STATUS_BUSY;
	r->transferred = 0;
	sd_finish(r);
}

/* CHECK CONDITION with fixed-format sense @key / @code (SCSI_SENSE_* pair); nothing transferred. */
static void sd_check(struct scsi_request *r, uint8_t key, uint16_t code)
{
	struct scsi_sense_fixed s;

	memset(&s, 0, sizeof(s));
	s.response_code = SCSI_SENSE_RESPONSE_CURRENT_FIXED;
	s.sense_key = key;
	s.additional_length = sizeof(s) - 8;
	s.asc = SCSI_ASC(code);
	s.ascq = SCSI_ASCQ(code);
	_Static_assert(sizeof(s) == SCSI_SENSE_BYTES, "sense size");
	memcpy(r->sense, &s, sizeof(s));
	r->sense_len = sizeof(s);
	r->status = SCSI_STATUS_CHECK_CONDITION;
	r->transferred = 0;
	sd_finish(r);
}

static void sd_invalid_field(struct scsi_request *r)
{
	sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_INVALID_FIELD_IN_CDB);
}

/* The answer to a -errno of the backend (or of ours) during an I/O of kind @kind. */
static void sd_fail(struct scsi_request *r, int err)
{
	bool reading = r->io_kind == SD_IO_READ;

	switch (err) {
	case -EAGAIN:
	case -ENOMEM:
		sd_busy(r);
		return;
	case -EROFS:
		sd_check(r, DATA_PROTECT, SCSI_SENSE_WRITE_PROTECTED);
		return;
	case -ENOSPC:
	case -EDQUOT:
		sd_check(r, DATA_PROTECT, SCSI_SENSE_SPACE_ALLOCATION_FAILED_WRITE_PROTECT);
		return;
	case -EIO:
		log_guest("disk I/O error (%s at byte %" PRIu64 ")", reading ? "read" : "write", r->dreq.offset);
		sd_check(r, MEDIUM_ERROR, reading ? SCSI_SENSE_UNRECOVERED_READ_ERROR : SCSI_SENSE_WRITE_ERROR);
		return;
	default:
		log_guest("disk backend error %d (op %u at byte %" PRIu64 ")", err, (unsigned)r->dreq.op,
			  r->dreq.offset);
		sd_check(r, HARDWARE_ERROR, SCSI_SENSE_INTERNAL_TARGET_FAILURE);
		return;
	}
}

/* ---- backend steps --------------------------------------------------------------------------------------------- */

static void sd_io_done(struct disk_request *dr, int64_t result);

static int sd_submit(struct scsi_request *r, enum disk_op op, uint64_t off, uint64_t len, const struct iovec *iov,
		     unsigned iovcnt)
{
	struct disk_request *d = &r->dreq;

	d->op = op;
	d->offset = off;
	d->length = len;
	d->iov = iov;
	d->iovcnt = iovcnt;
	d->done = sd_io_done;
	d->opaque = r;
	return disk_submit(r->sd->disk, d);
}

/*
 * The next piece of a READ/WRITE: from the data cursor, the largest run of whole iovec entries that fits in
 * io_left (at most DISK_MAX_IOV), handed to the backend as they are; or, when the entry at the cursor is only
 * partly needed or partly done, that part alone through io_piov. Advances the cursor and io_off/io_left.
 */
static int sd_submit_data(struct scsi_request *r)
{
	enum disk_op op = r->io_kind == SD_IO_READ ? DISK_OP_READ : DISK_OP_WRITE;
	const struct iovec *iov;
	unsigned n;
	uint64_t len;
	size_t avail;

	while (r->io_idx < r->iovcnt && r->iov[r->io_idx].iov_len <= r->io_idx_off) {
		r->io_idx++;
		r->io_idx_off = 0;
	}
	if (r->io_idx >= r->iovcnt)
		return -EIO; /* io_left never exceeds the iovecs: not reached */
	avail = r->iov[r->io_idx].iov_len - r->io_idx_off;
	if (r->io_idx_off || avail > r->io_left) {
		len = avail < r->io_left ? avail : r->io_left;
		r->io_piov.iov_base = (uint8_t *)r->iov[r->io_idx].iov_base + r->io_idx_off;
		r->io_piov.iov_len = (size_t)len;
		r->io_idx_off += (size_t)len;
		iov = &r->io_piov;
		n = 1;
	} else {
		iov = &r->iov[r->io_idx];
		len = 0;
		for (n = 0; r->io_idx + n < r->iovcnt && n < DISK_MAX_IOV; n++) {
			if (r->iov[r->io_idx + n].iov_len > r->io_left - len)
				break;
			len += r->iov[r->io_idx + n].iov_len;
		}
		r->io_idx += n;
		r->io_idx_off = 0;
	}
	r->io_off += len;
	r->io_left -= len;
	return sd_submit(r, op, r->io_off - len, len, iov, n);
}

/* Submit the next step of @r. 0: submitted; 1: nothing left (the command succeeded); -errno. */
static int sd_io_step(struct scsi_request *r)
{
	struct scsi_disk *sd = r->sd;
	uint64_t len;

	switch ((enum sd_io_kind)r->io_kind) {
	case SD_IO_READ:
	case SD_IO_WRITE:
		if (r->io_left)
			return sd_submit_data(r);
		if (r->io_kind == SD_IO_WRITE && r->io_fua && !r->io_flushing) {
			r->io_flushing = true;
			return sd_submit(r, DISK_OP_FLUSH, 0, 0, NULL, 0);
		}
		return 1;
	case SD_IO_FLUSH:
		if (r->io_flushing)
			return 1;
		r->io_flushing = true;
		return sd_submit(r, DISK_OP_FLUSH, 0, 0, NULL, 0);
	case SD_IO_UNMAP:
		while (r->io_desc < r->io_ndesc) {
			const uint8_t *d = (const uint8_t *)r->io_buf + sizeof(struct scsi_unmap_param_header) +
					   (size_t)r->io_desc * sizeof(struct scsi_unmap_block_desc);
			uint64_t lba = sd_be64(d);
			uint32_t count = sd_be32(d + 8);

			r->io_desc++;
			if (count) /* ranges were checked against the capacity before the first step */
				return sd_submit(r, DISK_OP_DISCARD, lba << sd->block_shift,
						 (uint64_t)count << sd->block_shift, NULL, 0);
		}
		return 1;
	case SD_IO_WS_DISCARD:
		return r->io_left ? sd_submit(r, DISK_OP_DISCARD, r->io_off, r->io_left, NULL, 0) : 1;
	case SD_IO_WS_ZEROES:
		return r->io_left ? sd_submit(r, DISK_OP_WRITE_ZEROES, r->io_off, r->io_left, NULL, 0) : 1;
	case SD_IO_WS_PATTERN:
		if (!r->io_left)
			return 1;
		len = r->io_buf ? r->io_buf_len : SD_ZERO_CHUNK_BYTES;
		if (len > r->io_left)
			len = r->io_left;
		r->io_piov.iov_base = r->io_buf ? r->io_buf : sd_zeroes;
		r->io_piov.iov_len = (size_t)len;
		return sd_submit(r, DISK_OP_WRITE, r->io_off, len, &r->io_piov, 1);
	case SD_IO_NONE:
		break;
	}
	return -EIO;
}

/* Run steps until one is in flight, or finish @r. */
static void sd_io_continue(struct scsi_request *r)
{
	int ret = sd_io_step(r);

	if (ret == 0)
		return;
	if (ret == 1)
		sd_good(r, r->io_moved);
	else
		sd_fail(r, ret);
}

/* Backend completion (disk_poll, the disk's thread). */
static void sd_io_done(struct disk_request *dr, int64_t result)
{
	struct scsi_request *r = dr->opaque;

	if (result < 0) {
		if (result == -EOPNOTSUPP && r->io_kind == SD_IO_WS_DISCARD) {
			r->io_kind = SD_IO_WS_ZEROES; /* the range must read back zero: zero it instead */
		} else if (result == -EOPNOTSUPP && r->io_kind == SD_IO_WS_ZEROES) {
			r->io_kind = SD_IO_WS_PATTERN; /* io_buf NULL: write sd_zeroes */
		} else if (result == -EOPNOTSUPP && r->io_kind == SD_IO_UNMAP) {
			/* UNMAP is advisory (SBC-3 4.7.3.4.1): blocks that stay mapped keep their data. */
		} else {
			sd_fail(r, result < -4095 ? -EIO : (int)result);
			return;
		}
		sd_io_continue(r);
		return;
	}
	switch ((enum sd_io_kind)r->io_kind) {
	case SD_IO_READ:
	case SD_IO_WRITE:
		if (r->io_flushing)
			break;
		if ((uint64_t)result != dr->length) {
			sd_fail(r, -EIO); /* the backend reports whole transfers or errors: a short one is an error */
			return;
		}
		r->io_moved += (uint32_t)dr->length;
		break;
	case SD_IO_WS_DISCARD:
	case SD_IO_WS_ZEROES:
		r->io_left = 0;
		break;
	case SD_IO_WS_PATTERN:
		if ((uint64_t)result != dr->length) {
			sd_fail(r, -EIO);
			return;
		}
		r->io_off += dr->length;
		r->io_left -= dr->length;
		break;
	default:
		break;
	}
	sd_io_continue(r);
}

/* ---- CDB checks ---------------------------------------------------------------------------------------------- */

/* CDB length of an operation code (SAM-5 5.2 groups); 0 for groups with no fixed length. */
static uint8_t sd_cdb_len(uint8_t op)
{
	switch (SCSI_CDB_GROUP(op)) {
	case 0:
		return 6;
	case 1:
	case 2:
		return 10;
	case 4:
		return 16;
	case 5:
		return 12;
	default:
		return 0;
	}
}

/*
 * Common CDB checks: the guest's cdb_len covers the opcode's CDB (a shorter one would leave bytes of the last
 * command to be read), and the control byte asks for nothing we lack (NACA, LINK). Answers @r when false.
 */
static bool sd_cdb_ok(struct scsi_request *r)
{
	uint8_t need = sd_cdb_len(r->cdb[0]);

	if (!need || r->cdb_len < need || r->cdb_len > sizeof(r->cdb) ||
	    (r->cdb[need - 1] & (SCSI_CONTROL_NACA | SCSI_CONTROL_LINK))) {
		sd_invalid_field(r);
		return false;
	}
	return true;
}

/* [@lba, @lba + @count) inside the disk? Else answers LBA OUT OF RANGE. */
static bool sd_range_ok(struct scsi_disk *sd, struct scsi_request *r, uint64_t lba, uint64_t count)
{
	if (lba > sd->blocks || count > sd->blocks - lba) {
		sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_LBA_OUT_OF_RANGE);
		return false;
	}
	return true;
}

/* ---- commands answered from memory ------------------------------------------------------------------------------ */

/* Return @len bytes of @data, at most @alloc (the allocation length) and the guest buffer: GOOD. */
static void sd_reply(struct scsi_request *r, const void *data, uint32_t len, uint32_t alloc)
{
	sd_good(r, scsi_copy_to_guest(r, data, len < alloc ? len : alloc));
}

static void sd_inquiry_std(struct scsi_request *r, uint8_t peripheral, uint32_t alloc)
{
	struct scsi_inquiry_std d;

	memset(&d, 0, sizeof(d));
	d.peripheral = peripheral;
	d.version = SCSI_VERSION_SPC4;
	d.response_format = SCSI_INQUIRY_HISUP | SCSI_INQUIRY_RESPONSE_FORMAT;
	d.additional_length = sizeof(d) - 5;
	d.flags7 = SCSI_INQUIRY_CMDQUE;
	memcpy(d.vendor, SD_VENDOR, sizeof(d.vendor));
	memcpy(d.product, SD_PRODUCT, sizeof(d.product));
	memcpy(d.revision, SD_REVISION, sizeof(d.revision));
	sd_reply(r, &d, sizeof(d), alloc);
}

/* Build VPD page @page into @buf (at least 256 bytes); its total length, or 0 for a page we do not have. */
static uint32_t sd_vpd_build(struct scsi_disk *sd, uint8_t page, uint8_t *buf)
{
	static const uint8_t pages[] = { SCSI_VPD_SUPPORTED_PAGES, SCSI_VPD_UNIT_SERIAL_NUMBER,
					 SCSI_VPD_DEVICE_IDENTIFICATION, SCSI_VPD_BLOCK_LIMITS,
					 SCSI_VPD_BLOCK_DEVICE_CHARACTERISTICS, SCSI_VPD_LOGICAL_BLOCK_PROVISIONING };
	struct scsi_vpd_header *h = (struct scsi_vpd_header *)buf;
	uint8_t *p = buf + sizeof(*h);
	uint32_t len;

	memset(buf, 0, 256);
	h->peripheral = TYPE_DISK;
	h->page_code = page;
	switch (page) {
	case SCSI_VPD_SUPPORTED_PAGES:
		memcpy(p, pages, sizeof(pages));
		len = sizeof(pages);
		break;
	case SCSI_VPD_UNIT_SERIAL_NUMBER:
		memcpy(p, sd->serial, sd->serial_len);
		len = sd->serial_len;
		break;
	case SCSI_VPD_DEVICE_IDENTIFICATION: {
		struct scsi_designation_desc *dd = (struct scsi_designation_desc *)p;

		/* NAA 3h (locally assigned, SPC-4 7.8.6.6.4): the 60 low bits of the configured id. */
		dd->code_set = SCSI_CODE_SET_BINARY;
		dd->type = SCSI_ASSOC_LOGICAL_UNIT | SCSI_DESIGNATOR_NAA;
		dd->length = 8;
		sd_put64(p + sizeof(*dd), (uint64_t)SCSI_NAA_LOCALLY_ASSIGNED << 60 | (sd->id & 0x0fffffffffffffffull));
		len = sizeof(*dd) + 8;
		break;
	}
	case SCSI_VPD_BLOCK_LIMITS: {
		struct scsi_vpd_block_limits *b = (struct scsi_vpd_block_limits *)buf;

		b->wsnz = SCSI_VPD_B0_WSNZ;
		sd_put16(b->optimal_transfer_length_granularity, (uint16_t)(1u << sd->phys_exp));
		sd_put32(b->max_transfer_length, sd->max_xfer_blocks);
		if (sd->lbp) {
			sd_put32(b->max_unmap_lba_count, sd->max_unmap_blocks);
			sd_put32(b->max_unmap_block_descriptor_count, SD_MAX_UNMAP_DESCRIPTORS);
			sd_put32(b->optimal_unmap_granularity, sd->unmap_gran_blocks);
			sd_put32(b->unmap_granularity_alignment, (uint32_t)SCSI_VPD_B0_UGAVALID << 24);
		}
		sd_put64(b->max_write_same_length, sd->max_ws_blocks);
		len = sizeof(*b) - sizeof(*h);
		break;
	}
	case SCSI_VPD_BLOCK_DEVICE_CHARACTERISTICS: {
		struct scsi_vpd_block_characteristics *b = (struct scsi_vpd_block_characteristics *)buf;

		sd_put16(b->medium_rotation_rate, SCSI_MEDIUM_ROTATION_NON_ROTATING);
		len = sizeof(*b) - sizeof(*h);
		break;
	}
	case SCSI_VPD_LOGICAL_BLOCK_PROVISIONING: {
		struct scsi_vpd_lb_provisioning *b = (struct scsi_vpd_lb_provisioning *)buf;

		if (sd->lbp) {
			b->flags = SCSI_VPD_B2_LBPU | SCSI_VPD_B2_LBPWS | SCSI_VPD_B2_LBPWS10;
			b->provisioning_type = SCSI_PROVISIONING_THIN;
		}
		if (sd->lbprz)
			b->flags |= SCSI_VPD_B2_LBPRZ;
		len = sizeof(*b) - sizeof(*h);
		break;
	}
	default:
		return 0;
	}
	sd_put16(h->page_length, (uint16_t)len);
	return (uint32_t)sizeof(*h) + len;
}

static void sd_inquiry(struct scsi_disk *sd, struct scsi_request *r)
{
	const uint8_t *c = r->cdb;
	uint32_t alloc = sd_be16(c + 3), len;
	uint8_t buf[256];

	if (c[1] & ~SCSI_INQUIRY_EVPD) { /* CMDDT (obsolete) and reserved bits */
		sd_invalid_field(r);
		return;
	}
	if (!(c[1] & SCSI_INQUIRY_EVPD)) {
		if (c[2]) { /* a page code without EVPD */
			sd_invalid_field(r);
			return;
		}
		sd_inquiry_std(r, TYPE_DISK, alloc);
		return;
	}
	len = sd_vpd_build(sd, c[2], buf);
	if (!len) {
		sd_invalid_field(r); /* the guest sees an empty page and ignores it (guest-devices.md 1.6) */
		return;
	}
	sd_reply(r, buf, len, alloc);
}

static void sd_request_sense(struct scsi_request *r)
{
	struct scsi_sense_fixed s;

	if (r->cdb[1] & 0x01) { /* DESC: descriptor format is not supported (SPC-4 6.39) */
		sd_invalid_field(r);
		return;
	}
	memset(&s, 0, sizeof(s));
	s.response_code = SCSI_SENSE_RESPONSE_CURRENT_FIXED;
	s.sense_key = NO_SENSE;
	s.additional_length = sizeof(s) - 8;
	sd_reply(r, &s, sizeof(s), r->cdb[4]);
}

static void sd_read_capacity10(struct scsi_disk *sd, struct scsi_request *r)
{
	struct scsi_read_capacity10_data d;
	uint64_t last = sd->blocks - 1;

	if (!(r->cdb[8] & 0x01) && sd_be32(r->cdb + 2)) { /* LBA without PMI (SBC-3 5.16) */
		sd_invalid_field(r);
		return;
	}
	sd_put32(d.returned_lba, last > 0xfffffffeu ? 0xffffffffu : (uint32_t)last);
	sd_put32(d.block_length, sd->block_size);
	sd_reply(r, &d, sizeof(d), sizeof(d));
}

static void sd_service_action_in16(struct scsi_disk *sd, struct scsi_request *r)
{
	struct scsi_read_capacity16_data d;

	if ((r->cdb[1] & 0x1f) != SAI_READ_CAPACITY_16) {
		sd_invalid_field(r);
		return;
	}
	memset(&d, 0, sizeof(d));
	sd_put64(d.returned_lba, sd->blocks - 1);
	sd_put32(d.block_length, sd->block_size);
	d.exponents = (uint8_t)sd->phys_exp;
	d.lbp_lowest_aligned[0] = (uint8_t)((sd->lbp ? SCSI_RC16_LBPME : 0) | (sd->lbprz ? SCSI_RC16_LBPRZ : 0));
	sd_reply(r, &d, sizeof(d), sd_be32(r->cdb + 10));
}

/* Append mode page @page (caching or control) for page control @pc at @p; its length. */
static uint32_t sd_mode_page(uint8_t page, unsigned pc, uint8_t *p)
{
	if (page == SCSI_MODE_PAGE_CACHING) {
		struct scsi_mode_caching_page *c = (struct scsi_mode_caching_page *)p;

		memset(c, 0, sizeof(*c));
		c->page_code = SCSI_MODE_PAGE_CACHING;
		c->page_length = sizeof(*c) - 2;
		if (pc != SCSI_MS_PC_CHANGEABLE)
			c->flags2 = SCSI_CACHING_WCE;
		return sizeof(*c);
	} else {
		struct scsi_mode_control_page *c = (struct scsi_mode_control_page *)p;

		memset(c, 0, sizeof(*c));
		c->page_code = SCSI_MODE_PAGE_CONTROL;
		c->page_length = sizeof(*c) - 2;
		if (pc != SCSI_MS_PC_CHANGEABLE)
			c->flags3 = SCSI_CONTROL_QAM_UNRESTRICTED;
		return sizeof(*c);
	}
}

static void sd_mode_sense(struct scsi_disk *sd, struct scsi_request *r, bool ten)
{
	const uint8_t *c = r->cdb;
	bool dbd = c[1] & SCSI_MS_DBD, llbaa = ten && (c[1] & SCSI_MS_LLBAA);
	unsigned pc = c[2] >> 6;
	uint8_t page = c[2] & 0x3f, subpage = c[3];
	uint32_t alloc = ten ? sd_be16(c + 7) : c[4];
	uint32_t hdr = ten ? sizeof(struct scsi_mode_header10) : sizeof(struct scsi_mode_header6);
	uint32_t len = hdr, bdl = 0;
	uint8_t buf[128], dsp;

	if (pc == SCSI_MS_PC_SAVED) {
		sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_SAVING_PARAMETERS_NOT_SUPPORTED);
		return;
	}
	if ((page != SCSI_MODE_PAGE_CACHING && page != SCSI_MODE_PAGE_CONTROL && page != SCSI_MODE_PAGE_ALL) ||
	    (subpage != 0 && subpage != SCSI_MODE_SUBPAGE_ALL)) {
		sd_invalid_field(r);
		return;
	}
	memset(buf, 0, sizeof(buf));
	if (!dbd) {
		bool changeable = pc == SCSI_MS_PC_CHANGEABLE;

		if (llbaa) {
			struct scsi_mode_block_desc_long *b = (struct scsi_mode_block_desc_long *)(buf + len);

			if (!changeable) {
				sd_put64(b->number_of_blocks, sd->blocks);
				sd_put32(b->block_length, sd->block_size);
			}
			bdl = sizeof(*b);
		} else {
			struct scsi_mode_block_desc *b = (struct scsi_mode_block_desc *)(buf + len);

			if (!changeable) {
				sd_put32(b->number_of_blocks,
					 sd->blocks > 0xffffffffu ? 0xffffffffu : (uint32_t)sd->blocks);
				sd_put24(b->block_length, sd->block_size);
			}
			bdl = sizeof(*b);
		}
		len += bdl;
	}
	if (page == SCSI_MODE_PAGE_CACHING || page == SCSI_MODE_PAGE_ALL)
		len += sd_mode_page(SCSI_MODE_PAGE_CACHING, pc, buf + len);
	if (page == SCSI_MODE_PAGE_CONTROL || page == SCSI_MODE_PAGE_ALL)
		len += sd_mode_page(SCSI_MODE_PAGE_CONTROL, pc, buf + len);
	dsp = (uint8_t)((sd->read_only ? SCSI_MODE_DSP_WP : 0) | SCSI_MODE_DSP_DPOFUA);
	if (ten) {
		struct scsi_mode_header10 *h = (struct scsi_mode_header10 *)buf;

		sd_put16(h->mode_data_length, (uint16_t)(len - 2));
		h->device_specific = dsp;
		h->longlba = llbaa && bdl ? SCSI_MODE_LONGLBA : 0;
		sd_put16(h->block_descriptor_length, (uint16_t)bdl);
	} else {
		struct scsi_mode_header6 *h = (struct scsi_mode_header6 *)buf;

		h->mode_data_length = (uint8_t)(len - 1);
		h->device_specific = dsp;
		h->block_descriptor_length = (uint8_t)bdl;
	}
	sd_reply(r, buf, len, alloc);
}

/*
 * MODE SELECT(6)/(10) (SPC-4 6.9/6.10): the parameter list may carry a block descriptor that keeps our block
 * length and capacity, a caching page with WCE=1 and RCD=0 and a control page with D_SENSE=0 (the values we
 * report); nothing else changes, so anything else is refused. SP (save pages) is not supported.
 */
static void sd_mode_select(struct scsi_disk *sd, struct scsi_request *r, bool ten)
{
	const uint8_t *c = r->cdb;
	uint32_t plen = ten ? sd_be16(c + 7) : c[4];
	uint32_t hdr = ten ? sizeof(struct scsi_mode_header10) : sizeof(struct scsi_mode_header6);
	uint32_t bdl, off;
	uint8_t p[SD_MODE_SELECT_MAX];
	bool longlba;

	if (c[1] & SCSI_MSEL_SP) {
		sd_invalid_field(r);
		return;
	}
	if (!plen) {
		sd_good(r, 0);
		return;
	}
	if (plen < hdr || plen > sizeof(p) || plen > sd_buf_len(r)) {
		sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	sd_copy(r, 0, p, plen, false); /* one copy out of guest memory, then only the copy is read */
	bdl = ten ? sd_be16(p + 6) : p[3];
	longlba = ten && (p[4] & SCSI_MODE_LONGLBA);
	if (bdl > plen - hdr) {
		sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	if (!(c[1] & SCSI_MSEL_PF) && plen > hdr + bdl) { /* pages in a vendor-specific format: none here */
		sd_invalid_field(r);
		return;
	}
	if (bdl) {
		const uint8_t *b = p + hdr;
		uint64_t nb, bl;

		if (bdl != (longlba ? sizeof(struct scsi_mode_block_desc_long) : sizeof(struct scsi_mode_block_desc))) {
			sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_INVALID_FIELD_IN_PARAMETER_LIST);
			return;
		}
		nb = longlba ? sd_be64(b) : sd_be32(b);
		bl = longlba ? sd_be32(b + 12) : (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
		if ((bl && bl != sd->block_size) ||
		    (nb && nb != sd->blocks && !(!longlba && nb == 0xffffffffu && sd->blocks > 0xffffffffu))) {
			sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_INVALID_FIELD_IN_PARAMETER_LIST);
			return;
		}
	}
	for (off = hdr + bdl; off < plen;) {
		uint8_t code, len;

		if (plen - off < 2) {
			sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_PARAMETER_LIST_LENGTH_ERROR);
			return;
		}
		code = p[off] & (uint8_t)~SCSI_MODE_PAGE_PS; /* PS is reserved in MODE SELECT: ignored */
		len = p[off + 1];
		if ((uint32_t)len + 2 > plen - off) {
			sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_PARAMETER_LIST_LENGTH_ERROR);
			return;
		}
		if (code == SCSI_MODE_PAGE_CACHING && len == sizeof(struct scsi_mode_caching_page) - 2) {
			uint8_t f = p[off + 2];

			if (!(f & SCSI_CACHING_WCE) || (f & SCSI_CACHING_RCD)) {
				/* The host cache cannot be turned off: refusing beats promising write-through. */
				sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_INVALID_FIELD_IN_PARAMETER_LIST);
				return;
			}
		} else if (code == SCSI_MODE_PAGE_CONTROL && len == sizeof(struct scsi_mode_control_page) - 2) {
			if (p[off + 2] & SCSI_CONTROL_D_SENSE) {
				sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_INVALID_FIELD_IN_PARAMETER_LIST);
				return;
			}
		} else { /* another page, a sub-page (SPF) or a wrong page length */
			sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_INVALID_FIELD_IN_PARAMETER_LIST);
			return;
		}
		off += (uint32_t)len + 2;
	}
	sd_good(r, plen);
}

/* ---- commands that go to the backend --------------------------------------------------------------------------- */

/* Decode the LBA and block count of READ/WRITE/VERIFY (6/10/12/16) CDBs (SBC-3 5.x). */
static void sd_decode_lba(const uint8_t *c, uint64_t *lba, uint64_t *count)
{
	switch (SCSI_CDB_GROUP(c[0])) {
	case 0: /* 6: 21-bit LBA, 0 blocks means 256 */
		*lba = (uint32_t)(c[1] & 0x1f) << 16 | (uint32_t)c[2] << 8 | c[3];
		*count = c[4] ? c[4] : 256;
		break;
	case 1: /* 10 */
	case 2:
		*lba = sd_be32(c + 2);
		*count = sd_be16(c + 7);
		break;
	case 5: /* 12 */
		*lba = sd_be32(c + 2);
		*count = sd_be32(c + 6);
		break;
	default: /* 16 */
		*lba = sd_be64(c + 2);
		*count = sd_be32(c + 10);
		break;
	}
}

static void sd_read_write(struct scsi_disk *sd, struct scsi_request *r, bool write)
{
	const uint8_t *c = r->cdb;
	uint8_t group = SCSI_CDB_GROUP(c[0]);
	uint64_t lba, count, bytes;

	if (group != 0 && ((c[1] & SCSI_RW_PROTECT_MASK) || (group != 4 && (c[1] & SCSI_RW_OBSOLETE_RELADR)))) {
		sd_invalid_field(r); /* protection information, relative addressing */
		return;
	}
	sd_decode_lba(c, &lba, &count);
	if (!sd_range_ok(sd, r, lba, count))
		return;
	if (sd->max_xfer_blocks && count > sd->max_xfer_blocks) {
		sd_invalid_field(r); /* above VPD 0xB0 MAXIMUM TRANSFER LENGTH (SBC-3 5.15) */
		return;
	}
	if (write && sd->read_only) {
		sd_check(r, DATA_PROTECT, SCSI_SENSE_WRITE_PROTECTED);
		return;
	}
	bytes = count << sd->block_shift;
	r->io_kind = write ? SD_IO_WRITE : SD_IO_READ;
	r->io_off = lba << sd->block_shift;
	r->io_left = sd_min32(bytes, sd_buf_len(r)); /* a shorter guest buffer: move what fits */
	r->io_fua = write && group != 0 && (c[1] & SCSI_RW_FUA) && r->io_left;
	sd_io_continue(r);
}

static void sd_verify(struct scsi_disk *sd, struct scsi_request *r)
{
	uint64_t lba, count;

	/* VRPROTECT and BYTCHK (compare with data-out) are not supported; RELADR (bit 0) is obsolete. */
	if (r->cdb[1] & (SCSI_RW_PROTECT_MASK | 0x06 | (SCSI_CDB_GROUP(r->cdb[0]) != 4 ? 0x01 : 0))) {
		sd_invalid_field(r);
		return;
	}
	sd_decode_lba(r->cdb, &lba, &count);
	if (sd_range_ok(sd, r, lba, count))
		sd_good(r, 0); /* every block of a file or block device is readable: nothing to verify */
}

static void sd_synchronize_cache(struct scsi_disk *sd, struct scsi_request *r)
{
	const uint8_t *c = r->cdb;
	bool sixteen = c[0] == SYNCHRONIZE_CACHE_16;
	uint64_t lba = sixteen ? sd_be64(c + 2) : sd_be32(c + 2);
	uint64_t count = sixteen ? sd_be32(c + 10) : sd_be16(c + 7);

	/* IMMED (bit 1) may be ignored: we answer after the flush. The whole disk is flushed whatever the range. */
	if (!sd_range_ok(sd, r, lba, count))
		return;
	if (sd->read_only) {
		sd_good(r, 0); /* nothing was written */
		return;
	}
	r->io_kind = SD_IO_FLUSH;
	sd_io_continue(r);
}

static void sd_unmap(struct scsi_disk *sd, struct scsi_request *r)
{
	const uint32_t max_len = sizeof(struct scsi_unmap_param_header) +
				 SD_MAX_UNMAP_DESCRIPTORS * sizeof(struct scsi_unmap_block_desc);
	uint32_t plen = sd_be16(r->cdb + 7), dlen, bdlen, ndesc, copy;
	uint64_t total = 0;
	uint8_t *p;

	if (r->cdb[1] & SCSI_UNMAP_ANCHOR) {
		sd_invalid_field(r); /* ANC_SUP is 0 */
		return;
	}
	if (sd->read_only) {
		sd_check(r, DATA_PROTECT, SCSI_SENSE_WRITE_PROTECTED);
		return;
	}
	if (!sd->lbp) {
		sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_INVALID_COMMAND_OPERATION_CODE); /* LBPME=0 (SBC-3 4.7.3) */
		return;
	}
	if (!plen) {
		sd_good(r, 0);
		return;
	}
	if (plen < sizeof(struct scsi_unmap_param_header) || plen > sd_buf_len(r)) {
		sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	copy = plen < max_len ? plen : max_len;
	p = malloc(copy);
	if (!p) {
		sd_busy(r);
		return;
	}
	r->io_buf = p; /* freed by sd_finish from here on */
	r->io_buf_len = copy;
	sd_copy(r, 0, p, copy, false);
	dlen = sd_be16(p);
	bdlen = sd_be16(p + 2);
	if (dlen + 2 > plen || bdlen + sizeof(struct scsi_unmap_param_header) > plen) {
		sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	ndesc = bdlen / sizeof(struct scsi_unmap_block_desc); /* a trailing partial descriptor is ignored (5.28.2) */
	if (ndesc > SD_MAX_UNMAP_DESCRIPTORS) {
		sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_INVALID_FIELD_IN_PARAMETER_LIST);
		return;
	}
	for (uint32_t i = 0; i < ndesc; i++) {
		const uint8_t *d = p + sizeof(struct scsi_unmap_param_header) +
				   (size_t)i * sizeof(struct scsi_unmap_block_desc);
		uint64_t lba = sd_be64(d), count = sd_be32(d + 8);

		if (!sd_range_ok(sd, r, lba, count))
			return;
		total += count;
	}
	if (total > sd->max_unmap_blocks) {
		sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_INVALID_FIELD_IN_PARAMETER_LIST);
		return;
	}
	r->io_kind = SD_IO_UNMAP;
	r->io_ndesc = ndesc;
	r->io_moved = plen;
	sd_io_continue(r);
}

static bool sd_all_zero(const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * WRITE SAME(10)/(16) (SBC-3 5.50/5.51). The block comes from the guest once (or is zero with NDOB). A zero
 * block is a WRITE_ZEROES of the range, or a discard when UNMAP is set and discarded blocks read zero (LBPRZ);
 * any other block is written over the range from a buffer of repeated copies (not the fast path: malloc).
 */
static void sd_write_same(struct scsi_disk *sd, struct scsi_request *r)
{
	const uint8_t *c = r->cdb;
	bool sixteen = c[0] == WRITE_SAME_16;
	uint64_t lba = sixteen ? sd_be64(c + 2) : sd_be32(c + 2);
	uint64_t count = sixteen ? sd_be32(c + 10) : sd_be16(c + 7);
	bool unmap = c[1] & SCSI_WS_UNMAP, ndob = sixteen && (c[1] & SCSI_WS_NDOB);
	uint8_t block[SD_MAX_BLOCK_SIZE];

	if (c[1] & (SCSI_RW_PROTECT_MASK | SCSI_WS_ANCHOR | SCSI_WS_PBDATA | SCSI_WS_LBDATA | (sixteen ? 0 : 0x01)) ||
	    count == 0) { /* protection, ANC_SUP=0, obsolete bits, WSNZ=1 */
		sd_invalid_field(r);
		return;
	}
	if (!sd_range_ok(sd, r, lba, count))
		return;
	if (count > sd->max_ws_blocks) {
		sd_invalid_field(r);
		return;
	}
	if (sd->read_only) {
		sd_check(r, DATA_PROTECT, SCSI_SENSE_WRITE_PROTECTED);
		return;
	}
	r->io_off = lba << sd->block_shift;
	r->io_left = count << sd->block_shift;
	if (ndob) {
		memset(block, 0, sd->block_size);
	} else {
		if (sd_buf_len(r) < sd->block_size) {
			sd_invalid_field(r); /* no whole block to write */
			return;
		}
		sd_copy(r, 0, block, sd->block_size, false);
		r->io_moved = sd->block_size;
	}
	if (sd_all_zero(block, sd->block_size)) {
		r->io_kind = unmap && sd->lbp && sd->lbprz ? SD_IO_WS_DISCARD : SD_IO_WS_ZEROES;
	} else {
		uint32_t n = sd_min32(r->io_left, SD_PATTERN_CHUNK_BYTES); /* a multiple of the block size */
		/* bounded per disk: a guest queueing thousands of these would otherwise pin gigabytes of host memory */
		uint8_t *buf = sd->pattern_bytes + n <= SD_PATTERN_BYTES_MAX ? malloc(n) : NULL;

		if (!buf) {
			sd_busy(r);
			return;
		}
		sd->pattern_bytes += n;
		for (uint32_t off = 0; off < n; off += sd->block_size)
			memcpy(buf + off, block, sd->block_size);
		r->io_buf = buf;
		r->io_buf_len = n;
		r->io_kind = SD_IO_WS_PATTERN;
	}
	sd_io_continue(r);
}

/* ---- dispatch ---------------------------------------------------------------------------------------------------- */

void scsi_disk_execute(struct scsi_disk *sd, struct scsi_request *r)
{
	uint8_t op = r->cdb[0];

	sd_request_init(r, sd);
	if (r->cdb_len == 0) {
		sd_invalid_field(r);
		return;
	}
	switch (op) {
	case TEST_UNIT_READY:
	case REQUEST_SENSE:
	case INQUIRY:
	case MODE_SELECT:
	case MODE_SENSE:
	case START_STOP:
	case ALLOW_MEDIUM_REMOVAL:
	case READ_6:
	case WRITE_6:
	case READ_CAPACITY:
	case READ_10:
	case WRITE_10:
	case VERIFY:
	case SYNCHRONIZE_CACHE:
	case WRITE_SAME:
	case UNMAP:
	case MODE_SELECT_10:
	case MODE_SENSE_10:
	case READ_16:
	case WRITE_16:
	case VERIFY_16:
	case SYNCHRONIZE_CACHE_16:
	case WRITE_SAME_16:
	case SERVICE_ACTION_IN_16:
	case READ_12:
	case WRITE_12:
	case VERIFY_12:
		if (!sd_cdb_ok(r))
			return;
		break;
	default:
		log_dbg("opcode 0x%02x not supported", op);
		sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_INVALID_COMMAND_OPERATION_CODE);
		return;
	}
	switch (op) {
	case TEST_UNIT_READY:
	case START_STOP:           /* a disk that is always spun up */
	case ALLOW_MEDIUM_REMOVAL: /* the medium is not removable */
		sd_good(r, 0);
		return;
	case REQUEST_SENSE:
		sd_request_sense(r);
		return;
	case INQUIRY:
		sd_inquiry(sd, r);
		return;
	case MODE_SENSE:
	case MODE_SENSE_10:
		sd_mode_sense(sd, r, op == MODE_SENSE_10);
		return;
	case MODE_SELECT:
	case MODE_SELECT_10:
		sd_mode_select(sd, r, op == MODE_SELECT_10);
		return;
	case READ_CAPACITY:
		sd_read_capacity10(sd, r);
		return;
	case SERVICE_ACTION_IN_16:
		sd_service_action_in16(sd, r);
		return;
	case READ_6:
	case READ_10:
	case READ_12:
	case READ_16:
		sd_read_write(sd, r, false);
		return;
	case WRITE_6:
	case WRITE_10:
	case WRITE_12:
	case WRITE_16:
		sd_read_write(sd, r, true);
		return;
	case VERIFY:
	case VERIFY_12:
	case VERIFY_16:
		sd_verify(sd, r);
		return;
	case SYNCHRONIZE_CACHE:
	case SYNCHRONIZE_CACHE_16:
		sd_synchronize_cache(sd, r);
		return;
	case UNMAP:
		sd_unmap(sd, r);
		return;
	case WRITE_SAME:
	case WRITE_SAME_16:
		sd_write_same(sd, r);
		return;
	default:
		sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_INVALID_COMMAND_OPERATION_CODE);
		return;
	}
}

/* ---- the controller's helpers ----------------------------------------------------------------------------------- */

bool scsi_no_lun_execute(struct scsi_request *r, const uint16_t *luns, unsigned lun_count)
{
	const uint8_t *c = r->cdb;

	sd_request_init(r, NULL);
	if (r->cdb_len >= 6 && c[0] == INQUIRY) {
		uint32_t alloc = sd_be16(c + 3);

		if (c[1] & SCSI_INQUIRY_EVPD) {
			/* No pages here: a header with page length 0, which Linux ignores. */
			struct scsi_vpd_header h = { .peripheral = TYPE_NO_LUN, .page_code = c[2] };

			sd_reply(r, &h, sizeof(h), alloc);
		} else {
			/* Always data, never an error: the guest forces INQUIRY to success (guest-devices.md 1.6). */
			sd_inquiry_std(r, TYPE_NO_LUN, alloc);
		}
		return false;
	}
	if (r->cdb_len >= 12 && c[0] == REPORT_LUNS) {
		uint32_t alloc = sd_be32(c + 6), total, n = c[2] == SCSI_REPORT_LUNS_SELECT_WELL_KNOWN ? 0 : lun_count;
		struct scsi_report_luns_header h;

		if (c[2] > SCSI_REPORT_LUNS_SELECT_ALL_AND_WELL_KNOWN || alloc < SCSI_REPORT_LUNS_MIN_ALLOCATION ||
		    (c[11] & (SCSI_CONTROL_NACA | SCSI_CONTROL_LINK))) {
			sd_invalid_field(r);
			return false;
		}
		if (n > (UINT32_MAX - sizeof(h)) / sizeof(struct scsi_lun))
			n = (UINT32_MAX - sizeof(h)) / sizeof(struct scsi_lun);
		memset(&h, 0, sizeof(h));
		sd_put32(h.lun_list_length, n * (uint32_t)sizeof(struct scsi_lun));
		total = sd_copy(r, 0, &h, sd_min32(sizeof(h), alloc), true);
		for (uint32_t i = 0; i < n && total < alloc; i++) {
			struct scsi_lun l;
			uint16_t lun = luns[i];
			uint32_t want, got;

			memset(&l, 0, sizeof(l));
			if (lun < 256) {
				l.scsi_lun[0] = SCSI_LUN_ADDR_PERIPHERAL;
				l.scsi_lun[1] = (uint8_t)lun;
			} else {
				l.scsi_lun[0] = (uint8_t)(SCSI_LUN_ADDR_FLAT | ((lun >> 8) & 0x3f));
				l.scsi_lun[1] = (uint8_t)lun;
			}
			want = sd_min32(sizeof(l), alloc - total);
			got = sd_copy(r, total, &l, want, true);
			total += got;
			if (got < want)
				break; /* the guest buffer is full */
		}
		sd_good(r, total);
		return false;
	}
	sd_check(r, ILLEGAL_REQUEST, SCSI_SENSE_LOGICAL_UNIT_NOT_SUPPORTED);
	return true;
}

/* ---- create / destroy -------------------------------------------------------------------------------------------- */

int scsi_disk_create(const struct scsi_disk_config *cfg, struct scsi_disk **out)
{
	struct disk_info info;
	struct scsi_disk *sd;
	uint32_t phys;

	*out = NULL;
	if (!cfg || !cfg->disk || (cfg->block_size != 512 && cfg->block_size != 4096))
		return -EINVAL;
	phys = cfg->physical_block_size ? cfg->physical_block_size
					 : (cfg->block_size > 4096 ? cfg->block_size : 4096);
	if (phys < cfg->block_size || (phys & (phys - 1)) || phys / cfg->block_size > (1u << 15))
		return -EINVAL;
	disk_get_info(cfg->disk, &info);
	if (info.size_bytes < cfg->block_size)
		return -EINVAL;
	sd = calloc(1, sizeof(*sd));
	if (!sd)
		return -ENOMEM;
	sd->disk = cfg->disk;
	sd->block_size = cfg->block_size;
	sd->block_shift = cfg->block_size == 512 ? 9 : 12;
	while ((cfg->block_size << sd->phys_exp) < phys)
		sd->phys_exp++;
	sd->blocks = info.size_bytes >> sd->block_shift;
	sd->read_only = cfg->read_only || info.read_only;
	sd->lbp = info.discard && !sd->read_only;
	sd->lbprz = sd->lbp && !info.block_device;
	sd->id = cfg->id;
	if (cfg->max_transfer_bytes)
		sd->max_xfer_blocks = cfg->max_transfer_bytes < cfg->block_size ? 1
							: cfg->max_transfer_bytes >> sd->block_shift;
	sd->max_unmap_blocks = (uint32_t)(SD_MAX_UNMAP_BYTES >> sd->block_shift);
	sd->max_ws_blocks = SD_MAX_WRITE_SAME_BYTES >> sd->block_shift;
	sd->unmap_gran_blocks = SD_UNMAP_GRANULARITY_BYTES > sd->block_size
					? SD_UNMAP_GRANULARITY_BYTES >> sd->block_shift
					: 1;
	if (cfg->serial) {
		/* VPD 0x80 is ASCII (SPC-4 7.8.15): printable characters only, at most 20. */
		for (const char *s = cfg->serial; *s && sd->serial_len < sizeof(sd->serial) - 1; s++)
			sd->serial[sd->serial_len++] = (*s >= 0x20 && *s < 0x7f) ? *s : '_';
	} else {
		sd->serial_len = (uint8_t)snprintf(sd->serial, sizeof(sd->serial), "%016" PRIX64, cfg->id);
	}
	*out = sd;
	return 0;
}

void scsi_disk_destroy(struct scsi_disk *sd)
{
	free(sd);
}
