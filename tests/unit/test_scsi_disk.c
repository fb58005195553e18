// SPDX-License-Identifier: MIT
/*
 * Unit tests for vsp/storvsp/scsi_disk (the SCSI direct-access target) on the real disk backend over a sparse
 * temporary file: the commands a Linux 6.1 guest sends (guest-devices.md 1.5) with their answers byte for byte,
 * allocation-length truncation, the missing-LUN helper (INQUIRY 0x7F, REPORT LUNS, INVALID LUN), CDB edge cases
 * (short cdb_len, reserved bits, huge transfer lengths, LBA overflow), real I/O (pattern write/read back over
 * uneven iovecs, guest buffers shorter or longer than the CDB, FUA, flush, UNMAP and WRITE SAME reading back
 * zeroes, WRITE SAME patterns over several chunks), 4096-byte blocks, a read-only disk, BUSY on a full backend
 * queue, and a seeded CDB fuzz loop that checks the completion contract and the guest buffer's bounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend/disk/disk.h"
#include "backend/disk/disk_internal.h"
#include "openhv/scsi.h"
#include "vsp/storvsp/scsi_disk.h"

#define MIB (1024u * 1024u)
#define CANARY 0xa5

/* ---- fixture ------------------------------------------------------------------------------------------------ */

struct fx {
	char path[64];
	int fd;              /* the image, for checking what reached the file */
	struct disk *disk;
	struct scsi_disk *sd;
	struct disk_info info;
	uint32_t bs;
	uint64_t size;
	uint32_t max_xfer; /* scsi_disk_config.max_transfer_bytes */
};

struct res {
	uint8_t status;
	uint8_t key, asc, ascq;
	uint32_t transferred;
	unsigned calls;
};

static void on_done(struct scsi_request *r)
{
	struct res *res = r->opaque;

	res->calls++;
}

/* The next fx_open's scsi_disk_config.max_transfer_bytes. */
static uint32_t fx_max_transfer;

static int fx_open(struct fx *f, uint64_t size, uint32_t bs, bool read_only, unsigned queue_depth)
{
	const char *dir = getenv("TMPDIR");
	struct disk_config dc = { 0 };
	struct scsi_disk_config sc = { 0 };
	int ret;

	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "%s/scsi_disk_XXXXXX", dir && strlen(dir) < 40 ? dir : "/tmp");
	f->fd = mkstemp(f->path);
	if (f->fd < 0 || ftruncate(f->fd, (off_t)size))
		return -errno;
	dc.path = f->path;
	dc.read_only = read_only;
	dc.queue_depth = queue_depth;
	ret = disk_open(&dc, &f->disk);
	if (ret)
		return ret;
	disk_get_info(f->disk, &f->info);
	sc.disk = f->disk;
	sc.block_size = bs;
	sc.read_only = read_only;
	sc.id = 0x1234567890abcdefull;
	sc.max_transfer_bytes = fx_max_transfer;
	f->max_xfer = fx_max_transfer;
	fx_max_transfer = 0;
	f->bs = bs;
	f->size = size;
	return scsi_disk_create(&sc, &f->sd);
}

static void fx_close(struct fx *f)
{
	scsi_disk_destroy(f->sd);
	disk_close(f->disk);
	if (f->fd >= 0)
		close(f->fd);
	unlink(f->path);
}

static int setup_512(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	fx_max_transfer = MIB; /* like StorVSP's default: VPD 0xB0 reports it */
	if (!f || fx_open(f, 16 * MIB, 512, false, 0))
		return -1;
	*state = f;
	return 0;
}

static int setup_4k(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || fx_open(f, 16 * MIB, 4096, false, 0))
		return -1;
	*state = f;
	return 0;
}

static int setup_ro(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || fx_open(f, 16 * MIB, 512, true, 0))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fx_close(f);
	free(f);
	return 0;
}

/* Run @r to completion (polling the backend); sense fields decoded into the result. */
static struct res run_req(struct fx *f, struct scsi_request *r)
{
	struct res res = { 0 };

	r->opaque = &res;
	r->done = on_done;
	scsi_disk_execute(f->sd, r);
	while (!res.calls) {
		assert_true(disk_inflight(f->disk) > 0); /* else done would never come */
		assert_true(disk_poll(f->disk, true) >= 0);
	}
	assert_int_equal(res.calls, 1);
	res.status = r->status;
	res.transferred = r->transferred;
	if (r->status == SCSI_STATUS_CHECK_CONDITION) {
		assert_int_equal(r->sense_len, 18);
		assert_int_equal(r->sense[0], 0x70);
		assert_int_equal(r->sense[7], 10);
		res.key = r->sense[2] & 0x0f;
		res.asc = r->sense[12];
		res.ascq = r->sense[13];
	} else {
		assert_int_equal(r->sense_len, 0);
	}
	assert_true(r->transferred <= r->xfer_len);
	return res;
}

/* One command with one buffer of @len bytes (@buf may be NULL with @len 0). */
static struct res run(struct fx *f, const uint8_t *cdb, uint8_t cdb_len, void *buf, uint32_t len, bool data_in)
{
	struct scsi_request r;
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	memset(&r, 0, sizeof(r));
	memcpy(r.cdb, cdb, cdb_len);
	r.cdb_len = cdb_len;
	r.data_in = data_in;
	r.iov = &iov;
	r.iovcnt = buf ? 1 : 0;
	r.xfer_len = len;
	return run_req(f, &r);
}

#define CDB(...) ((const uint8_t[]){ __VA_ARGS__ })
#define RUN_IN(f, buf, len, ...) run(f, CDB(__VA_ARGS__), sizeof(CDB(__VA_ARGS__)), buf, len, true)
#define RUN_OUT(f, buf, len, ...) run(f, CDB(__VA_ARGS__), sizeof(CDB(__VA_ARGS__)), buf, len, false)
#define RUN_NONE(f, ...) run(f, CDB(__VA_ARGS__), sizeof(CDB(__VA_ARGS__)), NULL, 0, false)

static void assert_good(struct res r, uint32_t transferred)
{
	assert_int_equal(r.status, SCSI_STATUS_GOOD);
	assert_int_equal(r.transferred, transferred);
}

static void assert_sense(struct res r, uint8_t key, uint8_t asc, uint8_t ascq)
{
	assert_int_equal(r.status, SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(r.key, key);
	assert_int_equal(r.asc, asc);
	assert_int_equal(r.ascq, ascq);
	assert_int_equal(r.transferred, 0);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static void fill_pattern(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131u + seed * 7u + (i >> 9)) ^ seed);
}

static bool all_byte(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* Read disk bytes straight from the image file. */
static void file_read(struct fx *f, uint64_t off, void *buf, size_t len)
{
	assert_int_equal(pread(f->fd, buf, len, (off_t)off), (ssize_t)len);
}

static void file_write(struct fx *f, uint64_t off, const void *buf, size_t len)
{
	assert_int_equal(pwrite(f->fd, buf, len, (off_t)off), (ssize_t)len);
}

/* ---- INQUIRY ------------------------------------------------------------------------------------------------ */

static void test_inquiry_standard(void **state)
{
	struct fx *f = *state;
	uint8_t b[64];
	struct res r;

	memset(b, CANARY, sizeof(b));
	r = RUN_IN(f, b, sizeof(b), INQUIRY, 0, 0, 0, 36, 0);
	assert_good(r, 36);
	assert_int_equal(b[0], 0x00);            /* PQ 0, direct access */
	assert_int_equal(b[1], 0x00);            /* not removable */
	assert_int_equal(b[2], SCSI_VERSION_SPC4);
	assert_int_equal(b[3], 0x12);            /* HISUP, response data format 2 */
	assert_int_equal(b[4], 31);
	assert_int_equal(b[7] & SCSI_INQUIRY_CMDQUE, SCSI_INQUIRY_CMDQUE);
	assert_memory_equal(b + 8, "Msft    ", 8);
	assert_memory_equal(b + 16, "Virtual Disk    ", 16);
	assert_memory_equal(b + 32, "1.0 ", 4);
	assert_true(all_byte(b + 36, sizeof(b) - 36, CANARY));

	/* Allocation length larger than the data: 36 bytes. Smaller: truncated, the length byte still says 31. */
	memset(b, CANARY, sizeof(b));
	assert_good(RUN_IN(f, b, sizeof(b), INQUIRY, 0, 0, 0, 255, 0), 36);
	memset(b, CANARY, sizeof(b));
	assert_good(RUN_IN(f, b, sizeof(b), INQUIRY, 0, 0, 0, 5, 0), 5);
	assert_int_equal(b[4], 31);
	assert_int_equal(b[5], CANARY);
	/* Allocation length 0: nothing, GOOD. 16-bit allocation length (SPC-4): 0x0100. */
	assert_good(RUN_IN(f, b, sizeof(b), INQUIRY, 0, 0, 0, 0, 0), 0);
	assert_good(RUN_IN(f, b, sizeof(b), INQUIRY, 0, 0, 1, 0, 0), 36);
	/* A guest buffer shorter than the allocation length: only the buffer is written. */
	memset(b, CANARY, sizeof(b));
	assert_good(RUN_IN(f, b, 10, INQUIRY, 0, 0, 0, 36, 0), 10);
	assert_int_equal(b[10], CANARY);

	/* Bad fields: a page code without EVPD, CMDDT, reserved bits; unknown VPD pages (0x89 must not exist). */
	assert_sense(RUN_IN(f, b, sizeof(b), INQUIRY, 0, 0x80, 0, 36, 0), ILLEGAL_REQUEST, 0x24, 0);
	assert_sense(RUN_IN(f, b, sizeof(b), INQUIRY, 0x02, 0, 0, 36, 0), ILLEGAL_REQUEST, 0x24, 0);
	assert_sense(RUN_IN(f, b, sizeof(b), INQUIRY, 0x20, 0, 0, 36, 0), ILLEGAL_REQUEST, 0x24, 0);
	assert_sense(RUN_IN(f, b, sizeof(b), INQUIRY, 1, 0x89, 0, 64, 0), ILLEGAL_REQUEST, 0x24, 0);
	assert_sense(RUN_IN(f, b, sizeof(b), INQUIRY, 1, 0xb9, 0, 64, 0), ILLEGAL_REQUEST, 0x24, 0);
}

static void test_inquiry_vpd(void **state)
{
	struct fx *f = *state;
	bool lbp = f->info.discard;
	uint8_t b[256];

	/* Page 0: header-only first (as Linux does), then the full list. */
	memset(b, CANARY, sizeof(b));
	assert_good(RUN_IN(f, b, sizeof(b), INQUIRY, 1, 0x00, 0, 4, 0), 4);
	assert_int_equal(b[1], 0x00);
	assert_int_equal(b[3], 6);
	assert_int_equal(b[4], CANARY);
	assert_good(RUN_IN(f, b, sizeof(b), INQUIRY, 1, 0x00, 0, 255, 0), 10);
	assert_memory_equal(b + 4, CDB(0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2), 6);

	/* 0x80: the serial derived from the id. */
	assert_good(RUN_IN(f, b, sizeof(b), INQUIRY, 1, 0x80, 0, 255, 0), 20);
	assert_int_equal(b[1], 0x80);
	assert_int_equal(b[3], 16);
	assert_memory_equal(b + 4, "1234567890ABCDEF", 16);

	/* 0x83: one NAA 3h designator, binary, associated with the LU; truncated to 8 bytes on request. */
	assert_good(RUN_IN(f, b, sizeof(b), INQUIRY, 1, 0x83, 0, 255, 0), 16);
	assert_int_equal(b[1], 0x83);
	assert_int_equal(b[3], 12);
	assert_int_equal(b[4], 0x01);
	assert_int_equal(b[5], 0x03);
	assert_int_equal(b[7], 8);
	assert_int_equal(be64(b + 8), 0x3234567890abcdefull);
	memset(b, CANARY, sizeof(b));
	assert_good(RUN_IN(f, b, sizeof(b), INQUIRY, 1, 0x83, 0, 8, 0), 8);
	assert_int_equal(b[3], 12);
	assert_int_equal(b[8], CANARY);

	/* 0xB0 block limits (SBC-3 6.5.3). */
	assert_good(RUN_IN(f, b, sizeof(b), INQUIRY, 1, 0xb0, 0, 255, 0), 64);
	assert_int_equal(b[1], 0xb0);
	assert_int_equal(b[3], 0x3c);
	assert_int_equal(b[4], 0x01);                       /* WSNZ */
	assert_int_equal(b[6] << 8 | b[7], 4096 / f->bs);   /* optimal granularity: one 4 KiB physical block */
	assert_int_equal(be32(b + 8), f->max_xfer / f->bs); /* max transfer, 0: not reported */
	assert_int_equal(be32(b + 20), lbp ? (uint32_t)((2ull << 30) / f->bs) : 0);
	assert_int_equal(be32(b + 24), lbp ? 256 : 0);
	assert_int_equal(be32(b + 28), lbp ? 4096 / f->bs : 0);
	assert_int_equal(be32(b + 32), lbp ? 0x80000000u : 0);
	assert_int_equal(be64(b + 36), (128 * MIB) / f->bs);
	/* Truncated to the 4-byte header Linux asks for first. */
	memset(b, CANARY, sizeof(b));
	assert_good(RUN_IN(f, b, sizeof(b), INQUIRY, 1, 0xb0, 0, 4, 0), 4);
	assert_int_equal(b[3], 0x3c);
	assert_int_equal(b[4], CANARY);

	/* 0xB1: non-rotating. */
	assert_good(RUN_IN(f, b, sizeof(b), INQUIRY, 1, 0xb1, 0, 255, 0), 64);
	assert_int_equal(b[1], 0xb1);
	assert_int_equal(b[4] << 8 | b[5], 1);

	/* 0xB2: LBPU, LBPWS, LBPWS10, LBPRZ (files read back zero after a punch), thin. */
	assert_good(RUN_IN(f, b, sizeof(b), INQUIRY, 1, 0xb2, 0, 255, 0), 8);
	assert_int_equal(b[1], 0xb2);
	assert_int_equal(b[3], 4);
	assert_int_equal(b[5], lbp ? 0xe4 : 0x00);
	assert_int_equal(b[6], lbp ? 2 : 0);
}

static void test_serial_config(void **state)
{
	struct fx *f = *state;
	struct scsi_disk_config sc = { .disk = f->disk, .block_size = 512,
				       .serial = "SER 123\x01" "456789012345678901" };
	struct scsi_disk *sd, *saved = f->sd;
	uint8_t b[64];

	assert_int_equal(scsi_disk_create(&sc, &sd), 0);
	f->sd = sd;
	assert_good(RUN_IN(f, b, sizeof(b), INQUIRY, 1, 0x80, 0, 64, 0), 24);
	assert_memory_equal(b + 4, "SER 123_456789012345", 20);
	f->sd = saved;
	scsi_disk_destroy(sd);
}

static void test_create_invalid(void **state)
{
	struct fx *f = *state;
	struct scsi_disk_config sc = { .disk = f->disk, .block_size = 1024 };
	struct scsi_disk *sd = (struct scsi_disk *)1;

	assert_int_equal(scsi_disk_create(&sc, &sd), -EINVAL);
	assert_null(sd);
	sc.block_size = 4096;
	sc.physical_block_size = 2048;
	assert_int_equal(scsi_disk_create(&sc, &sd), -EINVAL);
	sc.physical_block_size = 12288;
	assert_int_equal(scsi_disk_create(&sc, &sd), -EINVAL);
	sc.physical_block_size = 0;
	sc.disk = NULL;
	assert_int_equal(scsi_disk_create(&sc, &sd), -EINVAL);
	scsi_disk_destroy(NULL);

	/* A disk smaller than one block. */
	struct fx small;
	assert_int_equal(fx_open(&small, 4095, 512, false, 0), 0);
	sc.disk = small.disk;
	sc.block_size = 4096;
	assert_int_equal(scsi_disk_create(&sc, &sd), -EINVAL);
	fx_close(&small);
}

/* ---- the missing-LUN helper ---------------------------------------------------------------------------------- */

static bool no_lun(struct scsi_request *r, const uint8_t *cdb, uint8_t len, void *buf, uint32_t blen,
		   const uint16_t *luns, unsigned n, struct res *res)
{
	static struct iovec iov;
	bool ret;

	memset(r, 0, sizeof(*r));
	memset(res, 0, sizeof(*res));
	memcpy(r->cdb, cdb, len);
	r->cdb_len = len;
	iov.iov_base = buf;
	iov.iov_len = blen;
	r->iov = &iov;
	r->iovcnt = 1;
	r->xfer_len = blen;
	r->done = on_done;
	r->opaque = res;
	ret = scsi_no_lun_execute(r, luns, n);
	assert_int_equal(res->calls, 1);
	return ret;
}

static void test_no_lun(void **state)
{
	static const uint16_t luns[] = { 0, 1, 300 };
	struct scsi_request r;
	struct res res;
	uint8_t b[64];

	(void)state;
	memset(b, CANARY, sizeof(b));
	assert_false(no_lun(&r, CDB(INQUIRY, 0, 0, 0, 36, 0), 6, b, sizeof(b), luns, 3, &res));
	assert_int_equal(r.status, SCSI_STATUS_GOOD);
	assert_int_equal(r.transferred, 36);
	assert_int_equal(b[0], 0x7f);
	assert_memory_equal(b + 8, "Msft    ", 8);
	assert_int_equal(b[36], CANARY);
	/* EVPD on a missing LUN: a header with page length 0. */
	assert_false(no_lun(&r, CDB(INQUIRY, 1, 0x80, 0, 36, 0), 6, b, sizeof(b), luns, 3, &res));
	assert_int_equal(r.transferred, 4);
	assert_memory_equal(b, CDB(0x7f, 0x80, 0, 0), 4);

	/* REPORT LUNS: 3 LUNs, the third above 255 in flat space addressing. */
	memset(b, CANARY, sizeof(b));
	assert_false(no_lun(&r, CDB(REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0), 12, b, sizeof(b), luns, 3, &res));
	assert_int_equal(r.status, SCSI_STATUS_GOOD);
	assert_int_equal(r.transferred, 32);
	assert_int_equal(be32(b), 24);
	assert_int_equal(be32(b + 4), 0);
	assert_memory_equal(b + 8, CDB(0, 0, 0, 0, 0, 0, 0, 0), 8);
	assert_memory_equal(b + 16, CDB(0, 1, 0, 0, 0, 0, 0, 0), 8);
	assert_memory_equal(b + 24, CDB(0x41, 0x2c, 0, 0, 0, 0, 0, 0), 8);
	assert_int_equal(b[32], CANARY);
	/* Truncated to 20 bytes: the list length still counts all. */
	memset(b, CANARY, sizeof(b));
	assert_false(no_lun(&r, CDB(REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0), 12, b, sizeof(b), luns, 3, &res));
	assert_int_equal(r.transferred, 20);
	assert_int_equal(be32(b), 24);
	assert_int_equal(b[20], CANARY);
	/* A guest buffer smaller than the allocation length. */
	assert_false(no_lun(&r, CDB(REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0), 12, b, 13, luns, 3, &res));
	assert_int_equal(r.transferred, 13);
	/* No LUNs (another target), well-known only, bad select report, allocation < 16. */
	assert_false(no_lun(&r, CDB(REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0), 12, b, sizeof(b), NULL, 0, &res));
	assert_int_equal(r.transferred, 8);
	assert_int_equal(be32(b), 0);
	assert_false(no_lun(&r, CDB(REPORT_LUNS, 0, 1, 0, 0, 0, 0, 0, 0x10, 0, 0, 0), 12, b, sizeof(b), luns, 3, &res));
	assert_int_equal(r.transferred, 8);
	assert_int_equal(be32(b), 0);
	assert_false(no_lun(&r, CDB(REPORT_LUNS, 0, 2, 0, 0, 0, 0, 0, 0x10, 0, 0, 0), 12, b, sizeof(b), luns, 3, &res));
	assert_int_equal(r.transferred, 32);
	assert_false(no_lun(&r, CDB(REPORT_LUNS, 0, 3, 0, 0, 0, 0, 0, 0x10, 0, 0, 0), 12, b, sizeof(b), luns, 3, &res));
	assert_int_equal(r.status, SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(r.sense[12], 0x24);
	assert_false(no_lun(&r, CDB(REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0), 12, b, sizeof(b), luns, 3, &res));
	assert_int_equal(r.status, SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(r.transferred, 0);

	/* Everything else: LOGICAL UNIT NOT SUPPORTED, "no such LUN". */
	assert_true(no_lun(&r, CDB(TEST_UNIT_READY, 0, 0, 0, 0, 0), 6, NULL, 0, luns, 3, &res));
	assert_int_equal(r.status, SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(r.sense[2], ILLEGAL_REQUEST);
	assert_int_equal(r.sense[12], 0x25);
	assert_int_equal(r.sense_len, 18);
	assert_true(no_lun(&r, CDB(READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0), 10, b, 512, luns, 3, &res));
	assert_int_equal(r.transferred, 0);
	assert_true(no_lun(&r, CDB(INQUIRY, 0, 0, 0), 3, b, sizeof(b), luns, 3, &res)); /* too short for INQUIRY */
}

static void test_copy_to_guest(void **state)
{
	uint8_t a[3], b[5], src[10];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct scsi_request r;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(a, CANARY, sizeof(a));
	memset(b, CANARY, sizeof(b));
	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)i;
	r.iov = iov;
	r.iovcnt = 2;
	r.xfer_len = 6; /* less than the iovecs */
	assert_int_equal(scsi_copy_to_guest(&r, src, sizeof(src)), 6);
	assert_memory_equal(a, CDB(0, 1, 2), 3);
	assert_memory_equal(b, CDB(3, 4, 5, CANARY, CANARY), 5);
	r.xfer_len = 100; /* more than the iovecs: they win */
	assert_int_equal(scsi_copy_to_guest(&r, src, sizeof(src)), 8);
	assert_int_equal(scsi_copy_to_guest(&r, src, 2), 2);
}

/* ---- small commands ------------------------------------------------------------------------------------------- */

static void test_misc_commands(void **state)
{
	struct fx *f = *state;
	uint8_t b[64];

	assert_good(RUN_NONE(f, TEST_UNIT_READY, 0, 0, 0, 0, 0), 0);
	assert_good(RUN_NONE(f, START_STOP, 0, 0, 0, 1, 0), 0);
	assert_good(RUN_NONE(f, ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 1, 0), 0);
	assert_good(RUN_NONE(f, VERIFY, 0, 0, 0, 0, 0, 0, 0, 8, 0), 0);
	assert_good(RUN_NONE(f, VERIFY_16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0), 0);
	assert_good(RUN_NONE(f, VERIFY_12, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0), 0);
	assert_sense(RUN_NONE(f, VERIFY, 0x02, 0, 0, 0, 0, 0, 0, 8, 0), ILLEGAL_REQUEST, 0x24, 0); /* BYTCHK */
	assert_sense(RUN_NONE(f, VERIFY, 0, 0xff, 0, 0, 0, 0, 0, 8, 0), ILLEGAL_REQUEST, 0x21, 0);

	/* REQUEST SENSE: fixed format, NO SENSE, truncated to the allocation length; DESC=1 is refused. */
	memset(b, CANARY, sizeof(b));
	assert_good(RUN_IN(f, b, sizeof(b), REQUEST_SENSE, 0, 0, 0, 252, 0), 18);
	assert_int_equal(b[0], 0x70);
	assert_int_equal(b[2], 0);
	assert_int_equal(b[7], 10);
	assert_int_equal(b[12], 0);
	assert_int_equal(b[18], CANARY);
	assert_good(RUN_IN(f, b, sizeof(b), REQUEST_SENSE, 0, 0, 0, 8, 0), 8);
	assert_sense(RUN_IN(f, b, sizeof(b), REQUEST_SENSE, 1, 0, 0, 18, 0), ILLEGAL_REQUEST, 0x24, 0);

	/* Opcodes we do not implement: INVALID COMMAND OPERATION CODE. */
	assert_sense(RUN_IN(f, b, sizeof(b), MAINTENANCE_IN, 0x0c, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0), ILLEGAL_REQUEST,
		     0x20, 0);
	assert_sense(RUN_IN(f, b, sizeof(b), REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0), ILLEGAL_REQUEST, 0x20, 0);
	assert_sense(RUN_IN(f, b, sizeof(b), ATA_16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xec, 0), ILLEGAL_REQUEST,
		     0x20, 0);
	assert_sense(RUN_IN(f, b, sizeof(b), 0xc0, 0, 0, 0, 0, 0), ILLEGAL_REQUEST, 0x20, 0);
	assert_sense(RUN_IN(f, b, sizeof(b), 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0), ILLEGAL_REQUEST, 0x20, 0);
	assert_sense(RUN_NONE(f, FORMAT_UNIT, 0, 0, 0, 0, 0), ILLEGAL_REQUEST, 0x20, 0);
}

/* ---- READ CAPACITY ------------------------------------------------------------------------------------------- */

static void test_read_capacity(void **state)
{
	struct fx *f = *state;
	uint64_t blocks = f->size / f->bs;
	uint8_t b[64];

	memset(b, CANARY, sizeof(b));
	assert_good(RUN_IN(f, b, sizeof(b), READ_CAPACITY, 0, 0, 0, 0, 0, 0, 0, 0, 0), 8);
	assert_int_equal(be32(b), blocks - 1);
	assert_int_equal(be32(b + 4), f->bs);
	assert_int_equal(b[8], CANARY);
	/* PMI with an LBA is fine, an LBA without PMI is not (SBC-3 5.16). */
	assert_good(RUN_IN(f, b, sizeof(b), READ_CAPACITY, 0, 0, 0, 0, 5, 0, 0, 1, 0), 8);
	assert_sense(RUN_IN(f, b, sizeof(b), READ_CAPACITY, 0, 0, 0, 0, 5, 0, 0, 0, 0), ILLEGAL_REQUEST, 0x24, 0);
	/* A 6-byte guest buffer gets 6 bytes. */
	assert_good(RUN_IN(f, b, 6, READ_CAPACITY, 0, 0, 0, 0, 0, 0, 0, 0, 0), 6);

	memset(b, CANARY, sizeof(b));
	assert_good(RUN_IN(f, b, sizeof(b), SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			   0, 32, 0, 0),
		    32);
	assert_int_equal(be64(b), blocks - 1);
	assert_int_equal(be32(b + 8), f->bs);
	assert_int_equal(b[12], 0);
	assert_int_equal(b[13], f->bs == 512 ? 3 : 0); /* 4 KiB physical blocks */
	assert_int_equal(b[14], f->info.discard ? 0xc0 : 0x00);
	assert_int_equal(b[15], 0);
	assert_int_equal(b[32], CANARY);
	/* Allocation length 12 truncates; 0 is no data. */
	memset(b, CANARY, sizeof(b));
	assert_good(RUN_IN(f, b, sizeof(b), SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			   0, 12, 0, 0),
		    12);
	assert_int_equal(b[12], CANARY);
	assert_good(RUN_IN(f, b, sizeof(b), SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			   0, 0, 0, 0),
		    0);
	/* GET LBA STATUS and other service actions: invalid field. */
	assert_sense(RUN_IN(f, b, sizeof(b), SERVICE_ACTION_IN_16, SAI_GET_LBA_STATUS, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			    0, 32, 0, 0),
		     ILLEGAL_REQUEST, 0x24, 0);
}

static void test_read_capacity_huge(void **state)
{
	struct fx f;
	uint8_t b[32];

	(void)state;
	/* 3 TiB sparse: more than 2^32 blocks of 512 bytes. Skipped where the file system cannot hold it. */
	if (fx_open(&f, 3ull << 40, 512, false, 0)) {
		fx_close(&f);
		skip();
	}
	assert_good(RUN_IN(&f, b, sizeof(b), READ_CAPACITY, 0, 0, 0, 0, 0, 0, 0, 0, 0), 8);
	assert_int_equal(be32(b), 0xffffffffu);
	assert_good(RUN_IN(&f, b, sizeof(b), SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			    0, 32, 0, 0),
		    32);
	assert_int_equal(be64(b), (3ull << 31) - 1);
	/* MODE SENSE(6) short block descriptor: number of blocks saturates. */
	assert_good(RUN_IN(&f, b, sizeof(b), MODE_SENSE, 0, 0x08, 0, 32, 0), 32);
	assert_int_equal(be32(b + 4), 0xffffffffu);
	/* READ(16) above 2^32 blocks works. */
	uint8_t blk[512];
	memset(blk, CANARY, sizeof(blk));
	assert_good(RUN_IN(&f, blk, sizeof(blk), READ_16, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0), 512);
	assert_true(all_byte(blk, sizeof(blk), 0));
	fx_close(&f);
}

/* ---- MODE SENSE / MODE SELECT ------------------------------------------------------------------------------- */

static void test_mode_sense(void **state)
{
	struct fx *f = *state;
	uint64_t blocks = f->size / f->bs;
	uint8_t b[128];

	/* (6), all pages, with the block descriptor: 4 + 8 + 20 + 12 = 44 bytes. */
	memset(b, CANARY, sizeof(b));
	assert_good(RUN_IN(f, b, sizeof(b), MODE_SENSE, 0, 0x3f, 0, 255, 0), 44);
	assert_int_equal(b[0], 43);
	assert_int_equal(b[1], 0);
	assert_int_equal(b[2], 0x10); /* DPOFUA, not write-protected */
	assert_int_equal(b[3], 8);
	assert_int_equal(be32(b + 4), blocks);
	assert_int_equal(be32(b + 8) & 0xffffff, f->bs);
	assert_int_equal(b[12], 0x08);
	assert_int_equal(b[13], 0x12);
	assert_int_equal(b[14], 0x04); /* WCE */
	assert_int_equal(b[32], 0x0a);
	assert_int_equal(b[33], 0x0a);
	assert_int_equal(b[44], CANARY);
	/* Linux's first probe: 4 bytes of page 0x3F. Header only, lengths still whole. */
	memset(b, CANARY, sizeof(b));
	assert_good(RUN_IN(f, b, sizeof(b), MODE_SENSE, 0, 0x3f, 0, 4, 0), 4);
	assert_int_equal(b[0], 43);
	assert_int_equal(b[4], CANARY);
	/* Caching page with DBD, and all sub-pages of 0x3F. */
	assert_good(RUN_IN(f, b, sizeof(b), MODE_SENSE, 0x08, 0x08, 0, 255, 0), 24);
	assert_int_equal(b[0], 23);
	assert_int_equal(b[3], 0);
	assert_int_equal(b[4], 0x08);
	assert_int_equal(b[6], 0x04);
	assert_good(RUN_IN(f, b, sizeof(b), MODE_SENSE, 0x08, 0x3f, 0xff, 255, 0), 36);
	/* Control page. */
	assert_good(RUN_IN(f, b, sizeof(b), MODE_SENSE, 0x08, 0x0a, 0, 255, 0), 16);
	assert_int_equal(b[4], 0x0a);
	assert_int_equal(b[6] & 0x04, 0); /* D_SENSE 0: fixed sense */
	/* Changeable: nothing. Default: like current. Saved: not supported. */
	assert_good(RUN_IN(f, b, sizeof(b), MODE_SENSE, 0x08, 0x48, 0, 255, 0), 24);
	assert_int_equal(b[6], 0);
	assert_good(RUN_IN(f, b, sizeof(b), MODE_SENSE, 0x08, 0x88, 0, 255, 0), 24);
	assert_int_equal(b[6], 0x04);
	assert_sense(RUN_IN(f, b, sizeof(b), MODE_SENSE, 0x08, 0xc8, 0, 255, 0), ILLEGAL_REQUEST, 0x39, 0);
	/* Unknown page, unknown sub-page. */
	assert_sense(RUN_IN(f, b, sizeof(b), MODE_SENSE, 0, 0x1c, 0, 255, 0), ILLEGAL_REQUEST, 0x24, 0);
	assert_sense(RUN_IN(f, b, sizeof(b), MODE_SENSE, 0, 0x08, 0x01, 255, 0), ILLEGAL_REQUEST, 0x24, 0);

	/* (10): 8-byte header; with LLBAA a 16-byte long block descriptor. */
	memset(b, CANARY, sizeof(b));
	assert_good(RUN_IN(f, b, sizeof(b), MODE_SENSE_10, 0, 0x08, 0, 0, 0, 0, 0, 255, 0), 36);
	assert_int_equal(b[0] << 8 | b[1], 34);
	assert_int_equal(b[3], 0x10);
	assert_int_equal(b[4], 0);
	assert_int_equal(b[6] << 8 | b[7], 8);
	assert_int_equal(b[16], 0x08);
	assert_good(RUN_IN(f, b, sizeof(b), MODE_SENSE_10, 0x10, 0x08, 0, 0, 0, 0, 0, 255, 0), 44);
	assert_int_equal(b[4], 1); /* LONGLBA */
	assert_int_equal(b[6] << 8 | b[7], 16);
	assert_int_equal(be64(b + 8), blocks);
	assert_int_equal(be32(b + 20), f->bs);
	assert_int_equal(b[24], 0x08);
	assert_good(RUN_IN(f, b, sizeof(b), MODE_SENSE_10, 0x18, 0x3f, 0, 0, 0, 0, 0, 255, 0), 40);
	/* Allocation length of MODE SENSE(10) is 16 bits: 0x0100 allows all. */
	assert_good(RUN_IN(f, b, sizeof(b), MODE_SENSE_10, 0x08, 0x3f, 0, 0, 0, 0, 1, 0, 0), 40);
}

static void test_mode_select(void **state)
{
	struct fx *f = *state;
	uint8_t b[64], cur[64];

	/* Write back what MODE SENSE(6) said about the caching page (with the block descriptor): accepted. */
	assert_good(RUN_IN(f, cur, sizeof(cur), MODE_SENSE, 0, 0x08, 0, 255, 0), 32);
	memcpy(b, cur, 32);
	b[0] = 0;
	assert_good(RUN_OUT(f, b, 32, MODE_SELECT, 0x10, 0, 0, 32, 0), 32);
	/* Turning the write cache off, or RCD: refused (INVALID FIELD IN PARAMETER LIST). */
	b[14] = 0;
	assert_sense(RUN_OUT(f, b, 32, MODE_SELECT, 0x10, 0, 0, 32, 0), ILLEGAL_REQUEST, 0x26, 0);
	b[14] = 0x05;
	assert_sense(RUN_OUT(f, b, 32, MODE_SELECT, 0x10, 0, 0, 32, 0), ILLEGAL_REQUEST, 0x26, 0);
	b[14] = 0x04;
	/* Another block length in the descriptor. */
	b[10] = 0x10;
	assert_sense(RUN_OUT(f, b, 32, MODE_SELECT, 0x10, 0, 0, 32, 0), ILLEGAL_REQUEST, 0x26, 0);
	b[10] = cur[10];
	/* SP: saving is not supported. */
	assert_sense(RUN_OUT(f, b, 32, MODE_SELECT, 0x11, 0, 0, 32, 0), ILLEGAL_REQUEST, 0x24, 0);
	/* A page cut short by the parameter list length, a list longer than the buffer, a too short list. */
	assert_sense(RUN_OUT(f, b, 32, MODE_SELECT, 0x10, 0, 0, 30, 0), ILLEGAL_REQUEST, 0x1a, 0);
	assert_sense(RUN_OUT(f, b, 20, MODE_SELECT, 0x10, 0, 0, 32, 0), ILLEGAL_REQUEST, 0x1a, 0);
	assert_sense(RUN_OUT(f, b, 32, MODE_SELECT, 0x10, 0, 0, 3, 0), ILLEGAL_REQUEST, 0x1a, 0);
	/* Length 0: nothing to do. */
	assert_good(RUN_NONE(f, MODE_SELECT, 0x10, 0, 0, 0, 0), 0);
	/* Unknown page 0x1C, a sub-page format page. */
	memset(b, 0, sizeof(b));
	b[4] = 0x1c;
	b[5] = 0x0a;
	assert_sense(RUN_OUT(f, b, 16, MODE_SELECT, 0x10, 0, 0, 16, 0), ILLEGAL_REQUEST, 0x26, 0);
	b[4] = 0x48;
	assert_sense(RUN_OUT(f, b, 16, MODE_SELECT, 0x10, 0, 0, 16, 0), ILLEGAL_REQUEST, 0x26, 0);
	/* Control page: D_SENSE=0 accepted, D_SENSE=1 refused. */
	b[4] = 0x0a;
	b[7] = 0x10;
	assert_good(RUN_OUT(f, b, 16, MODE_SELECT, 0x10, 0, 0, 16, 0), 16);
	b[6] = 0x04;
	assert_sense(RUN_OUT(f, b, 16, MODE_SELECT, 0x10, 0, 0, 16, 0), ILLEGAL_REQUEST, 0x26, 0);

	/* MODE SELECT(10) with the caching page and no block descriptor. */
	assert_good(RUN_IN(f, cur, sizeof(cur), MODE_SENSE_10, 0x08, 0x08, 0, 0, 0, 0, 0, 255, 0), 28);
	memcpy(b, cur, 28);
	b[0] = b[1] = 0;
	assert_good(RUN_OUT(f, b, 28, MODE_SELECT_10, 0x10, 0, 0, 0, 0, 0, 0, 28, 0), 28);
	b[10] = 0;
	assert_sense(RUN_OUT(f, b, 28, MODE_SELECT_10, 0x10, 0, 0, 0, 0, 0, 0, 28, 0), ILLEGAL_REQUEST, 0x26, 0);
}

/* ---- READ / WRITE ------------------------------------------------------------------------------------------- */

/* Run a data command over several iovecs. */
static struct res run_iov(struct fx *f, const uint8_t *cdb, uint8_t cdb_len, const struct iovec *iov, unsigned n,
			  uint32_t xfer_len, bool data_in)
{
	struct scsi_request r;

	memset(&r, 0, sizeof(r));
	memcpy(r.cdb, cdb, cdb_len);
	r.cdb_len = cdb_len;
	r.data_in = data_in;
	r.iov = iov;
	r.iovcnt = n;
	r.xfer_len = xfer_len;
	return run_req(f, &r);
}

static void test_read_write(void **state)
{
	struct fx *f = *state;
	uint32_t bs = f->bs, len = 8 * bs;
	uint8_t *w = malloc(len), *rd = malloc(len + 64), *file = malloc(len);
	struct iovec wi[3] = { { w, 100 }, { w + 100, 3 * bs }, { w + 100 + 3 * bs, len - 100 - 3 * bs } };
	struct iovec ri[4] = { { rd, 1 }, { rd + 1, 0 }, { rd + 1, len - 2 }, { rd + len - 1, 1 } };
	uint8_t cdb[16];

	fill_pattern(w, len, 1);
	/* WRITE(10) LBA 10, 8 blocks, from three uneven iovecs. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = WRITE_10;
	put32(cdb + 2, 10);
	cdb[8] = 8;
	assert_good(run_iov(f, cdb, 10, wi, 3, len, false), len);
	file_read(f, 10ull * bs, file, len);
	assert_memory_equal(file, w, len);

	/* READ(16) of the same into four iovecs (one of them empty). */
	memset(rd, CANARY, len + 64);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = READ_16;
	put64(cdb + 2, 10);
	put32(cdb + 10, 8);
	assert_good(run_iov(f, cdb, 16, ri, 4, len, true), len);
	assert_memory_equal(rd, w, len);
	assert_true(all_byte(rd + len, 64, CANARY));

	/* READ(6) / READ(12) of a part; WRITE(6) / WRITE(12) / WRITE(16). */
	memset(rd, 0, len);
	assert_good(RUN_IN(f, rd, bs, READ_6, 0, 0, 11, 1, 0), bs);
	assert_memory_equal(rd, w + bs, bs);
	assert_good(RUN_IN(f, rd, 2 * bs, READ_12, 0, 0, 0, 0, 12, 0, 0, 0, 2, 0, 0), 2 * bs);
	assert_memory_equal(rd, w + 2 * bs, 2 * bs);
	fill_pattern(w, len, 2);
	assert_good(RUN_OUT(f, w, bs, WRITE_6, 0, 0, 1, 1, 0), bs);
	assert_good(RUN_OUT(f, w + bs, bs, WRITE_12, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0), bs);
	assert_good(RUN_OUT(f, w + 2 * bs, bs, WRITE_16, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0), bs);
	file_read(f, bs, file, 3 * bs);
	assert_memory_equal(file, w, 3 * bs);

	/* The last block reads; the data written by pwrite shows through READ(10). */
	uint64_t last = f->size / bs - 1;
	file_write(f, last * bs, w, bs);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = READ_10;
	put32(cdb + 2, (uint32_t)last);
	cdb[8] = 1;
	assert_good(run(f, cdb, 10, rd, bs, true), bs);
	assert_memory_equal(rd, w, bs);

	/* READ(6) with transfer length 0 means 256 blocks (the buffer holds 8: 8 blocks move). */
	memset(rd, CANARY, len);
	assert_good(RUN_IN(f, rd, len, READ_6, 0, 0, 0, 0, 0), len);
	free(w);
	free(rd);
	free(file);
}

static void test_rw_bounds(void **state)
{
	struct fx *f = *state;
	uint32_t bs = f->bs;
	uint64_t blocks = f->size / bs;
	uint8_t *b = calloc(1, 2 * bs), cdb[16];

	/* LBA + count beyond the capacity; an LBA past the end; LBA + count overflowing 64 bits. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = READ_16;
	put64(cdb + 2, blocks - 1);
	put32(cdb + 10, 2);
	assert_sense(run(f, cdb, 16, b, 2 * bs, true), ILLEGAL_REQUEST, 0x21, 0);
	put64(cdb + 2, blocks);
	put32(cdb + 10, 1);
	assert_sense(run(f, cdb, 16, b, 2 * bs, true), ILLEGAL_REQUEST, 0x21, 0);
	put64(cdb + 2, UINT64_MAX);
	put32(cdb + 10, 2);
	assert_sense(run(f, cdb, 16, b, 2 * bs, true), ILLEGAL_REQUEST, 0x21, 0);
	cdb[0] = WRITE_16;
	assert_sense(run(f, cdb, 16, b, 2 * bs, false), ILLEGAL_REQUEST, 0x21, 0);
	/* Huge transfer lengths: beyond the capacity first. */
	put64(cdb + 2, 0);
	put32(cdb + 10, UINT32_MAX);
	assert_sense(run(f, cdb, 16, b, 2 * bs, false), ILLEGAL_REQUEST, 0x21, 0);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = READ_12;
	put32(cdb + 6, UINT32_MAX);
	assert_sense(run(f, cdb, 12, b, 2 * bs, true), ILLEGAL_REQUEST, 0x21, 0);
	/* Inside the capacity but above a configured maximum transfer length: INVALID FIELD IN CDB. Without a
	 * limit: the blocks that fit the buffer move. */
	if (f->max_xfer) {
		put32(cdb + 6, f->max_xfer / bs + 1);
		assert_sense(run(f, cdb, 12, b, 2 * bs, true), ILLEGAL_REQUEST, 0x24, 0);
		put32(cdb + 6, f->max_xfer / bs);
		assert_good(run(f, cdb, 12, b, 2 * bs, true), 2 * bs);
	} else {
		put32(cdb + 6, (uint32_t)blocks);
		assert_good(run(f, cdb, 12, b, 2 * bs, true), 2 * bs);
	}
	/* Transfer length 0: nothing moves, GOOD (even at the end of the disk, and for FUA writes). */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = READ_10;
	put32(cdb + 2, (uint32_t)blocks);
	assert_good(run(f, cdb, 10, b, 2 * bs, true), 0);
	cdb[0] = WRITE_10;
	cdb[1] = SCSI_RW_FUA;
	put32(cdb + 2, 0);
	assert_good(run(f, cdb, 10, b, 2 * bs, false), 0);
	put32(cdb + 2, (uint32_t)blocks + 1);
	assert_sense(run(f, cdb, 10, b, 2 * bs, false), ILLEGAL_REQUEST, 0x21, 0);
	/* No guest buffer at all for a 1-block read: GOOD, 0 bytes. */
	assert_good(RUN_NONE(f, READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0), 0);

	/* Reserved / unsupported CDB bits: RDPROTECT, WRPROTECT, RELADR; NACA and LINK in the control byte. */
	assert_sense(RUN_IN(f, b, bs, READ_10, 0x20, 0, 0, 0, 0, 0, 0, 1, 0), ILLEGAL_REQUEST, 0x24, 0);
	assert_sense(RUN_OUT(f, b, bs, WRITE_16, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0), ILLEGAL_REQUEST,
		     0x24, 0);
	assert_sense(RUN_IN(f, b, bs, READ_10, 0x01, 0, 0, 0, 0, 0, 0, 1, 0), ILLEGAL_REQUEST, 0x24, 0);
	assert_sense(RUN_IN(f, b, bs, READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0x04), ILLEGAL_REQUEST, 0x24, 0);
	assert_sense(RUN_IN(f, b, bs, READ_6, 0, 0, 0, 1, 0x01), ILLEGAL_REQUEST, 0x24, 0);
	/* DPO and FUA on reads are fine. */
	assert_good(RUN_IN(f, b, bs, READ_10, 0x18, 0, 0, 0, 0, 0, 0, 1, 0), bs);

	/* cdb_len shorter than the opcode's CDB, zero, or beyond 16. */
	assert_sense(run(f, CDB(READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0), 6, b, bs, true), ILLEGAL_REQUEST, 0x24, 0);
	assert_sense(run(f, CDB(READ_16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0), 10, b, bs, true),
		     ILLEGAL_REQUEST, 0x24, 0);
	assert_sense(run(f, CDB(INQUIRY, 0, 0, 0, 36, 0), 5, b, bs, true), ILLEGAL_REQUEST, 0x24, 0);
	assert_sense(run(f, CDB(TEST_UNIT_READY), 0, NULL, 0, false), ILLEGAL_REQUEST, 0x24, 0);
	{
		struct scsi_request r;

		memset(&r, 0, sizeof(r));
		r.cdb_len = 17;
		assert_sense(run_req(f, &r), ILLEGAL_REQUEST, 0x24, 0);
	}
	/* A longer cdb_len than needed is fine (the rest is ignored). */
	assert_good(run(f, CDB(READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xff, 0xff), 12, b, bs, true), bs);
	free(b);
}

static void test_rw_buffer_mismatch(void **state)
{
	struct fx *f = *state;
	uint32_t bs = f->bs;
	uint8_t *w = malloc(4 * bs), *rd = malloc(4 * bs + 64), *file = malloc(4 * bs);
	struct iovec ri[2];

	fill_pattern(w, 4 * bs, 3);
	file_write(f, 100ull * bs, w, 4 * bs);

	/* READ of 4 blocks into a 1000-byte buffer in two iovecs (the second one only partly needed). */
	memset(rd, CANARY, 4 * bs + 64);
	ri[0].iov_base = rd;
	ri[0].iov_len = 300;
	ri[1].iov_base = rd + 300;
	ri[1].iov_len = 700;
	assert_good(run_iov(f, CDB(READ_10, 0, 0, 0, 0, 100, 0, 0, 4, 0), 10, ri, 2, 1000, true), 1000);
	assert_memory_equal(rd, w, 1000);
	assert_true(all_byte(rd + 1000, 64, CANARY));
	/* xfer_len smaller than the iovecs: xfer_len wins. */
	memset(rd, CANARY, 4 * bs + 64);
	ri[1].iov_len = 4 * bs;
	assert_good(run_iov(f, CDB(READ_10, 0, 0, 0, 0, 100, 0, 0, 4, 0), 10, ri, 2, 777, true), 777);
	assert_memory_equal(rd, w, 777);
	assert_true(all_byte(rd + 777, 64, CANARY));
	/* xfer_len larger than the iovecs: the iovecs win. */
	ri[1].iov_len = 100;
	assert_good(run_iov(f, CDB(READ_10, 0, 0, 0, 0, 100, 0, 0, 4, 0), 10, ri, 2, 4 * bs, true), 400);
	/* A buffer longer than the CDB: only the CDB's blocks move. */
	memset(rd, CANARY, 4 * bs + 64);
	assert_good(RUN_IN(f, rd, 4 * bs, READ_10, 0, 0, 0, 0, 100, 0, 0, 1, 0), bs);
	assert_memory_equal(rd, w, bs);
	assert_true(all_byte(rd + bs, 3 * bs, CANARY));

	/* WRITE of 2 blocks from a buffer of 1.5 blocks: 1.5 blocks written, the rest of the disk unchanged. */
	fill_pattern(rd, 2 * bs, 4);
	assert_good(RUN_OUT(f, rd, bs + bs / 2, WRITE_10, 0, 0, 0, 0, 100, 0, 0, 2, 0), bs + bs / 2);
	file_read(f, 100ull * bs, file, 2 * bs);
	assert_memory_equal(file, rd, bs + bs / 2);
	assert_memory_equal(file + bs + bs / 2, w + bs + bs / 2, bs / 2);
	free(w);
	free(rd);
	free(file);
}

static void test_many_iovecs(void **state)
{
	struct fx *f = *state;
	unsigned n = 1024; /* DISK_MAX_IOV pieces of 512 bytes: one backend request */
	uint32_t len = n * 512;
	uint8_t *w = malloc(len), *rd = malloc(len), *file = malloc(len);
	struct iovec *iov = calloc(n, sizeof(*iov));
	uint8_t cdb[10] = { WRITE_10 };

	fill_pattern(w, len, 5);
	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = w + i * 512;
		iov[i].iov_len = 512;
	}
	cdb[1] = SCSI_RW_FUA;
	put32(cdb + 2, 64);
	cdb[7] = (uint8_t)((len / f->bs) >> 8);
	cdb[8] = (uint8_t)(len / f->bs);
	assert_good(run_iov(f, cdb, 10, iov, n, len, false), len);
	file_read(f, 64ull * f->bs, file, len);
	assert_memory_equal(file, w, len);
	/* Read back through iovecs that start mid-way: the 300-byte offset splits the last piece. */
	for (unsigned i = 0; i < n; i++)
		iov[i].iov_base = rd + i * 512;
	cdb[0] = READ_10;
	cdb[1] = 0;
	assert_good(run_iov(f, cdb, 10, iov, n, len - 300, true), len - 300);
	assert_memory_equal(rd, w, len - 300);
	free(iov);
	free(w);
	free(rd);
	free(file);
}

/*
 * More iovecs than one backend request takes (StorVSP passes up to max_transfer / 4096 + 2 pieces, 8194 at
 * 32 MiB): the data goes out in several steps of at most DISK_MAX_IOV entries, in order, and nothing beyond
 * the buffer is touched.
 */
static void test_iovecs_beyond_backend_limit(void **state)
{
	struct fx *f = *state;
	unsigned n = 2 * DISK_MAX_IOV + 100;
	uint32_t piece = 256, len = n * piece;
	uint8_t *w = malloc(len), *rd = malloc(len + 64), *file = malloc(len);
	struct iovec *iov = calloc(n, sizeof(*iov));
	uint8_t cdb[10] = { WRITE_10 };

	assert_int_equal(len % f->bs, 0);
	fill_pattern(w, len, 9);
	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = w + i * piece;
		iov[i].iov_len = piece;
	}
	put32(cdb + 2, 8);
	cdb[7] = (uint8_t)((len / f->bs) >> 8);
	cdb[8] = (uint8_t)(len / f->bs);
	assert_good(run_iov(f, cdb, 10, iov, n, len, false), len);
	file_read(f, 8ull * f->bs, file, len);
	assert_memory_equal(file, w, len);
	memset(rd, 0xA5, len + 64);
	for (unsigned i = 0; i < n; i++)
		iov[i].iov_base = rd + i * piece;
	cdb[0] = READ_10;
	assert_good(run_iov(f, cdb, 10, iov, n, len, true), len);
	assert_memory_equal(rd, w, len);
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(rd[len + i], 0xA5);
	free(iov);
	free(w);
	free(rd);
	free(file);
}

static void test_flush_and_fua(void **state)
{
	struct fx *f = *state;
	uint32_t bs = f->bs;
	uint8_t *w = malloc(bs), *file = malloc(bs);

	fill_pattern(w, bs, 6);
	assert_good(RUN_OUT(f, w, bs, WRITE_10, SCSI_RW_FUA, 0, 0, 0, 7, 0, 0, 1, 0), bs);
	file_read(f, 7ull * bs, file, bs);
	assert_memory_equal(file, w, bs);
	assert_good(RUN_OUT(f, w, bs, WRITE_16, SCSI_RW_FUA | SCSI_RW_DPO, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0),
		    bs);
	/* SYNCHRONIZE CACHE (10) and (16): whole disk, a range, IMMED, an LBA beyond the end. */
	assert_good(RUN_NONE(f, SYNCHRONIZE_CACHE, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0);
	assert_good(RUN_NONE(f, SYNCHRONIZE_CACHE, 0x02, 0, 0, 0, 7, 0, 0, 1, 0), 0);
	assert_good(RUN_NONE(f, SYNCHRONIZE_CACHE_16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0);
	assert_sense(RUN_NONE(f, SYNCHRONIZE_CACHE, 0, 0xff, 0, 0, 0, 0, 0, 0, 0), ILLEGAL_REQUEST, 0x21, 0);
	free(w);
	free(file);
}

/* ---- UNMAP and WRITE SAME -------------------------------------------------------------------------------------- */

static void unmap_list(uint8_t *p, const uint64_t *lba, const uint32_t *count, unsigned n)
{
	memset(p, 0, 8 + 16 * n);
	p[0] = (uint8_t)((6 + 16 * n) >> 8);
	p[1] = (uint8_t)(6 + 16 * n);
	p[2] = (uint8_t)((16 * n) >> 8);
	p[3] = (uint8_t)(16 * n);
	for (unsigned i = 0; i < n; i++) {
		put64(p + 8 + 16 * i, lba[i]);
		put32(p + 16 + 16 * i, count[i]);
	}
}

static void test_unmap(void **state)
{
	struct fx *f = *state;
	uint32_t bs = f->bs;
	uint64_t blocks = f->size / bs;
	uint8_t *w = malloc(64 * 1024), *file = malloc(64 * 1024), p[8 + 16 * 260];
	uint64_t lba[2] = { 64 * 1024 / bs, 3 * 64 * 1024 / bs };
	uint32_t cnt[2] = { 64 * 1024 / bs, 64 * 1024 / bs };

	if (!f->info.discard) {
		/* No provisioning: UNMAP is not a command of this disk. */
		unmap_list(p, lba, cnt, 1);
		assert_sense(RUN_OUT(f, p, 24, UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0), ILLEGAL_REQUEST, 0x20, 0);
		free(w);
		free(file);
		skip();
	}
	fill_pattern(w, 64 * 1024, 7);
	for (unsigned i = 0; i < 4; i++)
		file_write(f, i * 64 * 1024ull + 64 * 1024, w, 64 * 1024);

	/* Linux's shape: one descriptor, 24 bytes. Then two descriptors. The unmapped ranges read zero (LBPRZ). */
	unmap_list(p, lba, cnt, 1);
	assert_good(RUN_OUT(f, p, 24, UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0), 24);
	file_read(f, 64 * 1024, file, 64 * 1024);
	assert_true(all_byte(file, 64 * 1024, 0));
	file_read(f, 2 * 64 * 1024, file, 64 * 1024);
	assert_memory_equal(file, w, 64 * 1024);
	unmap_list(p, lba, cnt, 2);
	assert_good(RUN_OUT(f, p, 40, UNMAP, 0, 0, 0, 0, 0, 0, 0, 40, 0), 40);
	file_read(f, 3 * 64 * 1024, file, 64 * 1024);
	assert_true(all_byte(file, 64 * 1024, 0));
	file_read(f, 2 * 64 * 1024, file, 64 * 1024);
	assert_memory_equal(file, w, 64 * 1024);
	/* READ through the target agrees. */
	assert_good(RUN_IN(f, file, bs, READ_10, 0, 0, 0, 0, (uint8_t)lba[0], 0, 0, 1, 0), bs);
	assert_true(all_byte(file, bs, 0));

	/* Zero-count descriptors and an empty list are fine; parameter list length 0 too. */
	cnt[0] = 0;
	unmap_list(p, lba, cnt, 1);
	assert_good(RUN_OUT(f, p, 24, UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0), 24);
	unmap_list(p, lba, cnt, 0);
	assert_good(RUN_OUT(f, p, 8, UNMAP, 0, 0, 0, 0, 0, 0, 0, 8, 0), 8);
	assert_good(RUN_NONE(f, UNMAP, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0);
	cnt[0] = 1;

	/* Header lengths: a list shorter than 8, longer than the guest buffer, a data length or descriptor length
	 * beyond the list. */
	unmap_list(p, lba, cnt, 1);
	assert_sense(RUN_OUT(f, p, 24, UNMAP, 0, 0, 0, 0, 0, 0, 0, 7, 0), ILLEGAL_REQUEST, 0x1a, 0);
	assert_sense(RUN_OUT(f, p, 20, UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0), ILLEGAL_REQUEST, 0x1a, 0);
	p[1] = 40;
	assert_sense(RUN_OUT(f, p, 24, UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0), ILLEGAL_REQUEST, 0x1a, 0);
	unmap_list(p, lba, cnt, 1);
	p[3] = 32;
	assert_sense(RUN_OUT(f, p, 24, UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0), ILLEGAL_REQUEST, 0x1a, 0);
	/* A trailing partial descriptor is ignored. */
	unmap_list(p, lba, cnt, 1);
	p[3] = 20;
	p[1] = 26;
	assert_good(RUN_OUT(f, p, 28, UNMAP, 0, 0, 0, 0, 0, 0, 0, 28, 0), 28);
	/* Too many descriptors (VPD B0 says 256). */
	{
		uint64_t l[257];
		uint32_t c[257];

		for (unsigned i = 0; i < 257; i++) {
			l[i] = i;
			c[i] = 1;
		}
		unmap_list(p, l, c, 257);
		assert_sense(RUN_OUT(f, p, 8 + 16 * 257, UNMAP, 0, 0, 0, 0, 0, 0, (8 + 16 * 257) >> 8,
				     (uint8_t)(8 + 16 * 257), 0),
			     ILLEGAL_REQUEST, 0x26, 0);
		unmap_list(p, l, c, 256);
		assert_good(RUN_OUT(f, p, 8 + 16 * 256, UNMAP, 0, 0, 0, 0, 0, 0, (8 + 16 * 256) >> 8,
				    (uint8_t)(8 + 16 * 256), 0),
			    8 + 16 * 256);
	}
	/* Ranges: beyond the end, LBA overflow, more blocks in total than MAXIMUM UNMAP LBA COUNT. */
	lba[0] = blocks - 1;
	cnt[0] = 2;
	unmap_list(p, lba, cnt, 1);
	assert_sense(RUN_OUT(f, p, 24, UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0), ILLEGAL_REQUEST, 0x21, 0);
	lba[0] = UINT64_MAX;
	unmap_list(p, lba, cnt, 1);
	assert_sense(RUN_OUT(f, p, 24, UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0), ILLEGAL_REQUEST, 0x21, 0);
	/* ANCHOR is not supported. */
	lba[0] = 0;
	cnt[0] = 1;
	unmap_list(p, lba, cnt, 1);
	assert_sense(RUN_OUT(f, p, 24, UNMAP, 1, 0, 0, 0, 0, 0, 0, 24, 0), ILLEGAL_REQUEST, 0x24, 0);
	free(w);
	free(file);
}

static void test_unmap_limit(void **state)
{
	struct fx f;
	uint8_t p[40];
	uint64_t lba[2] = { 0, 1 };
	uint32_t cnt[2];

	(void)state;
	/* A 4 GiB sparse disk: two descriptors of 2 GiB - 1 block each pass singly but not together. */
	if (fx_open(&f, 4ull << 30, 512, false, 0) || !f.info.discard) {
		fx_close(&f);
		skip();
	}
	cnt[0] = (uint32_t)((2ull << 30) / 512);
	unmap_list(p, lba, cnt, 1);
	assert_good(RUN_OUT(&f, p, 24, UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0), 24);
	cnt[0]++;
	unmap_list(p, lba, cnt, 1);
	assert_sense(RUN_OUT(&f, p, 24, UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0), ILLEGAL_REQUEST, 0x26, 0);
	lba[1] = 1ull << 22;
	cnt[0] = cnt[1] = 1u << 21;
	unmap_list(p, lba, cnt, 2);
	assert_good(RUN_OUT(&f, p, 40, UNMAP, 0, 0, 0, 0, 0, 0, 0, 40, 0), 40);
	cnt[1]++;
	unmap_list(p, lba, cnt, 2);
	assert_sense(RUN_OUT(&f, p, 40, UNMAP, 0, 0, 0, 0, 0, 0, 0, 40, 0), ILLEGAL_REQUEST, 0x26, 0);
	fx_close(&f);
}

static void test_write_same(void **state)
{
	struct fx *f = *state;
	uint32_t bs = f->bs;
	uint32_t span = 3 * MIB + 5 * bs; /* more than one 1 MiB pattern chunk, not a multiple of it */
	uint8_t *w = malloc(span), *file = malloc(span), *blk = malloc(bs);
	uint8_t cdb[16];

	fill_pattern(w, span, 8);
	file_write(f, 0, w, span);

	/* WRITE SAME(16) + UNMAP with a zero block (Linux's write-zeroes): the range reads zero. */
	memset(blk, 0, bs);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = WRITE_SAME_16;
	cdb[1] = SCSI_WS_UNMAP;
	put64(cdb + 2, 1);
	put32(cdb + 10, 16);
	assert_good(run(f, cdb, 16, blk, bs, false), bs);
	file_read(f, 0, file, 18ull * bs);
	assert_memory_equal(file, w, bs);
	assert_true(all_byte(file + bs, 16ull * bs, 0));
	assert_memory_equal(file + 17 * bs, w + 17 * bs, bs);

	/* WRITE SAME(10) without UNMAP, zero block. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = WRITE_SAME;
	put32(cdb + 2, 20);
	cdb[8] = 4;
	assert_good(run(f, cdb, 10, blk, bs, false), bs);
	file_read(f, 19ull * bs, file, 6ull * bs);
	assert_memory_equal(file, w + 19 * bs, bs);
	assert_true(all_byte(file + bs, 4ull * bs, 0));
	assert_memory_equal(file + 5 * bs, w + 24 * bs, bs);

	/* NDOB (WRITE SAME(16)): zeroes with no data-out buffer. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = WRITE_SAME_16;
	cdb[1] = SCSI_WS_NDOB;
	put64(cdb + 2, 30);
	put32(cdb + 10, 2);
	assert_good(run(f, cdb, 16, NULL, 0, false), 0);
	file_read(f, 30ull * bs, file, 2ull * bs);
	assert_true(all_byte(file, 2ull * bs, 0));

	/* A non-zero block (with UNMAP set, which must not discard it) over > 3 MiB: every block is the pattern. */
	fill_pattern(blk, bs, 9);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = WRITE_SAME_16;
	cdb[1] = SCSI_WS_UNMAP;
	put64(cdb + 2, 2);
	put32(cdb + 10, (span - 2 * bs) / bs - 1);
	assert_good(run(f, cdb, 16, blk, bs, false), bs);
	file_read(f, 0, file, span);
	assert_memory_equal(file, w, bs);
	assert_true(file[bs] == 0); /* block 1 still zero from above */
	for (uint32_t off = 2 * bs; off < span - bs; off += bs)
		assert_memory_equal(file + off, blk, bs);
	assert_memory_equal(file + span - bs, w + span - bs, bs);

	/* The data block comes from the first bytes of a bigger buffer, over two iovecs. */
	{
		uint8_t two[2 * 4096];
		struct iovec iov[2] = { { two, 7 }, { two + 7, sizeof(two) - 7 } };

		fill_pattern(two, sizeof(two), 10);
		memset(cdb, 0, sizeof(cdb));
		cdb[0] = WRITE_SAME;
		put32(cdb + 2, 40);
		cdb[8] = 2;
		assert_good(run_iov(f, cdb, 10, iov, 2, 2 * bs, false), bs);
		file_read(f, 40ull * bs, file, 2ull * bs);
		assert_memory_equal(file, two, bs);
		assert_memory_equal(file + bs, two, bs);
	}

	/* Refused: 0 blocks (WSNZ), no whole block in the buffer, ANCHOR, PBDATA/LBDATA, protection, beyond the
	 * end, above MAXIMUM WRITE SAME LENGTH. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = WRITE_SAME;
	assert_sense(run(f, cdb, 10, blk, bs, false), ILLEGAL_REQUEST, 0x24, 0);
	cdb[8] = 1;
	assert_sense(run(f, cdb, 10, blk, bs - 1, false), ILLEGAL_REQUEST, 0x24, 0);
	cdb[1] = SCSI_WS_ANCHOR;
	assert_sense(run(f, cdb, 10, blk, bs, false), ILLEGAL_REQUEST, 0x24, 0);
	cdb[1] = SCSI_WS_LBDATA;
	assert_sense(run(f, cdb, 10, blk, bs, false), ILLEGAL_REQUEST, 0x24, 0);
	cdb[1] = 0x20;
	assert_sense(run(f, cdb, 10, blk, bs, false), ILLEGAL_REQUEST, 0x24, 0);
	cdb[1] = 0;
	put32(cdb + 2, (uint32_t)(f->size / bs));
	assert_sense(run(f, cdb, 10, blk, bs, false), ILLEGAL_REQUEST, 0x21, 0);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = WRITE_SAME_16;
	put32(cdb + 10, (uint32_t)(f->size / bs));
	if (f->size > 128ull * MIB) /* fits the disk, too long for one command */
		assert_sense(run(f, cdb, 16, blk, bs, false), ILLEGAL_REQUEST, 0x24, 0);
	free(w);
	free(file);
	free(blk);
}

static void test_write_same_limit(void **state)
{
	struct fx f;
	uint8_t blk[512] = { 0 }, cdb[16] = { WRITE_SAME_16 };

	(void)state;
	if (fx_open(&f, 256ull * MIB, 512, false, 0)) {
		fx_close(&f);
		skip();
	}
	put32(cdb + 10, (128 * MIB) / 512 + 1);
	assert_sense(run(&f, cdb, 16, blk, 512, false), ILLEGAL_REQUEST, 0x24, 0);
	put32(cdb + 10, (128 * MIB) / 512);
	assert_good(run(&f, cdb, 16, blk, 512, false), 512);
	fx_close(&f);
}

static void test_discard_fallbacks(void **state)
{
	struct fx *f = *state;
	uint8_t *w = malloc(64 * 1024), *file = malloc(64 * 1024), p[24], blk[512] = { 0 };
	uint64_t lba = 128;
	uint32_t cnt = 128;

	if (!f->info.discard) {
		free(w);
		free(file);
		skip();
	}
	/* A file system that cannot punch holes (after the disk said it could). */
	disk_set_quirks(f->disk, DISK_QUIRK_NO_PUNCH_HOLE);
	fill_pattern(w, 64 * 1024, 13);
	file_write(f, 64 * 1024, w, 64 * 1024);
	/* UNMAP is advisory: GOOD, the blocks stay mapped with their data. */
	unmap_list(p, &lba, &cnt, 1);
	assert_good(RUN_OUT(f, p, 24, UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0), 24);
	file_read(f, 64 * 1024, file, 64 * 1024);
	assert_memory_equal(file, w, 64 * 1024);
	/* WRITE SAME + UNMAP of zeroes must still read back zero (LBPRZ): zeroed instead of discarded. */
	assert_good(RUN_OUT(f, blk, 512, WRITE_SAME_16, 0x08, 0, 0, 0, 0, 0, 0, 0, 128, 0, 0, 0, 64, 0, 0), 512);
	file_read(f, 64 * 1024, file, 64 * 1024);
	assert_true(all_byte(file, 32 * 1024, 0));
	assert_memory_equal(file + 32 * 1024, w + 32 * 1024, 32 * 1024);
	/* Neither zero range nor punch: the backend writes zeroes. */
	disk_set_quirks(f->disk, DISK_QUIRK_NO_PUNCH_HOLE | DISK_QUIRK_NO_ZERO_RANGE);
	assert_good(RUN_OUT(f, blk, 512, WRITE_SAME_16, 0x08, 0, 0, 0, 0, 0, 0, 0, 192, 0, 0, 0, 64, 0, 0), 512);
	file_read(f, 64 * 1024, file, 64 * 1024);
	assert_true(all_byte(file, 64 * 1024, 0));
	free(w);
	free(file);
}

/* ---- read-only, 4 KiB, BUSY --------------------------------------------------------------------------------- */

static void test_read_only(void **state)
{
	struct fx *f = *state;
	uint8_t b[512], p[24];
	uint64_t lba = 0;
	uint32_t cnt = 1;

	fill_pattern(b, sizeof(b), 11);
	file_write(f, 512, b, sizeof(b));
	assert_sense(RUN_OUT(f, b, 512, WRITE_10, 0, 0, 0, 0, 1, 0, 0, 1, 0), DATA_PROTECT, 0x27, 0);
	assert_sense(RUN_OUT(f, b, 512, WRITE_6, 0, 0, 1, 1, 0), DATA_PROTECT, 0x27, 0);
	assert_sense(RUN_OUT(f, b, 512, WRITE_SAME_16, 0x08, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0), DATA_PROTECT,
		     0x27, 0);
	unmap_list(p, &lba, &cnt, 1);
	assert_sense(RUN_OUT(f, p, 24, UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0), DATA_PROTECT, 0x27, 0);
	/* Range errors still come first for writes. */
	assert_sense(RUN_OUT(f, b, 512, WRITE_10, 0, 0xff, 0, 0, 1, 0, 0, 1, 0), ILLEGAL_REQUEST, 0x21, 0);
	/* Reads work, the data is unchanged, SYNCHRONIZE CACHE is a no-op. */
	memset(b, 0, sizeof(b));
	assert_good(RUN_IN(f, b, 512, READ_10, 0, 0, 0, 0, 1, 0, 0, 1, 0), 512);
	{
		uint8_t want[512];

		fill_pattern(want, sizeof(want), 11);
		assert_memory_equal(b, want, 512);
	}
	assert_good(RUN_NONE(f, SYNCHRONIZE_CACHE, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0);
	/* MODE SENSE: WP set. READ CAPACITY(16) / VPD B2: no provisioning. */
	assert_good(RUN_IN(f, b, 64, MODE_SENSE, 0, 0x3f, 0, 64, 0), 44);
	assert_int_equal(b[2], 0x90);
	assert_good(RUN_IN(f, b, 64, MODE_SENSE_10, 0, 0x08, 0, 0, 0, 0, 0, 64, 0), 36);
	assert_int_equal(b[3], 0x90);
	assert_good(RUN_IN(f, b, 32, SERVICE_ACTION_IN_16, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0), 32);
	assert_int_equal(b[14], 0);
	assert_good(RUN_IN(f, b, 64, INQUIRY, 1, 0xb2, 0, 64, 0), 8);
	assert_int_equal(b[5], 0);
}

static void test_4k_blocks(void **state)
{
	struct fx *f = *state;
	uint8_t *w = malloc(3 * 4096), *rd = malloc(3 * 4096), b[64];

	assert_good(RUN_IN(f, b, 32, SERVICE_ACTION_IN_16, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0), 32);
	assert_int_equal(be64(b), 16 * MIB / 4096 - 1);
	assert_int_equal(be32(b + 8), 4096);
	assert_int_equal(b[13], 0);
	assert_good(RUN_IN(f, b, 64, INQUIRY, 1, 0xb0, 0, 64, 0), 64);
	assert_int_equal(be32(b + 8), 0); /* no max_transfer_bytes configured */
	assert_int_equal(b[6] << 8 | b[7], 1);
	/* Write 3 blocks at LBA 5, read them back, compare with the file at byte 5 * 4096. */
	fill_pattern(w, 3 * 4096, 12);
	assert_good(RUN_OUT(f, w, 3 * 4096, WRITE_10, 0, 0, 0, 0, 5, 0, 0, 3, 0), 3 * 4096);
	memset(rd, 0, 3 * 4096);
	assert_good(RUN_IN(f, rd, 3 * 4096, READ_16, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0), 3 * 4096);
	assert_memory_equal(rd, w, 3 * 4096);
	file_read(f, 5 * 4096, rd, 3 * 4096);
	assert_memory_equal(rd, w, 3 * 4096);
	/* The end of the disk is in 4 KiB blocks. */
	assert_sense(RUN_IN(f, rd, 4096, READ_10, 0, 0, 0, 0x10, 0, 0, 0, 1, 0), ILLEGAL_REQUEST, 0x21, 0);
	assert_good(RUN_IN(f, rd, 4096, READ_10, 0, 0, 0, 0x0f, 0xff, 0, 0, 1, 0), 4096);
	/* WRITE SAME with a 4 KiB zero block (buffer of 4095 bytes is too short). */
	memset(w, 0, 4096);
	assert_sense(RUN_OUT(f, w, 4095, WRITE_SAME, 0, 0, 0, 0, 5, 0, 0, 1, 0), ILLEGAL_REQUEST, 0x24, 0);
	assert_good(RUN_OUT(f, w, 4096, WRITE_SAME, 0, 0, 0, 0, 5, 0, 0, 2, 0), 4096);
	file_read(f, 5 * 4096, rd, 3 * 4096);
	assert_true(all_byte(rd, 2 * 4096, 0));
	fill_pattern(w, 3 * 4096, 12);
	assert_memory_equal(rd + 2 * 4096, w + 2 * 4096, 4096);
	free(w);
	free(rd);
}

static void test_busy(void **state)
{
	struct fx f;
	uint8_t a[512], b[512];
	struct scsi_request r1, r2;
	struct iovec i1 = { a, sizeof(a) }, i2 = { b, sizeof(b) };
	struct res res1 = { 0 }, res2 = { 0 };

	(void)state;
	assert_int_equal(fx_open(&f, MIB, 512, false, 1), 0);
	memset(&r1, 0, sizeof(r1));
	r1.cdb[0] = READ_10;
	r1.cdb[8] = 1;
	r1.cdb_len = 10;
	r1.data_in = true;
	r1.iov = &i1;
	r1.iovcnt = 1;
	r1.xfer_len = sizeof(a);
	r1.done = on_done;
	r1.opaque = &res1;
	r2 = r1;
	r2.iov = &i2;
	r2.opaque = &res2;
	scsi_disk_execute(f.sd, &r1);
	assert_int_equal(res1.calls, 0); /* in flight: queue depth 1 is full */
	scsi_disk_execute(f.sd, &r2);
	assert_int_equal(res2.calls, 1); /* answered at once */
	assert_int_equal(r2.status, SCSI_STATUS_BUSY);
	assert_int_equal(r2.transferred, 0);
	assert_int_equal(r2.sense_len, 0);
	while (!res1.calls)
		assert_true(disk_poll(f.disk, true) >= 0);
	assert_int_equal(r1.status, SCSI_STATUS_GOOD);
	assert_int_equal(r1.transferred, 512);
	/* The queue has room again. */
	memset(&res2, 0, sizeof(res2));
	scsi_disk_execute(f.sd, &r2);
	while (!res2.calls)
		assert_true(disk_poll(f.disk, true) >= 0);
	assert_int_equal(r2.status, SCSI_STATUS_GOOD);
	fx_close(&f);
}

/*
 * WRITE SAME with a non-zero block allocates a pattern buffer (1 MiB here) for the request's life: at most 16 MiB of
 * them per disk at once, beyond that SAM BUSY, so a guest queueing many cannot pin gigabytes of host memory. The
 * budget comes back when they complete.
 */
static void test_write_same_pattern_budget(void **state)
{
	enum { N = 17 };
	static struct scsi_request r[N + 1];
	static struct res res[N + 1];
	static uint8_t blk[N + 1][512], back[512];
	static struct iovec iov[N + 1];
	struct fx f;

	(void)state;
	assert_int_equal(fx_open(&f, 32 * MIB, 512, false, 64), 0);
	for (unsigned i = 0; i <= N; i++) {
		memset(blk[i], 0x40 + (int)i, sizeof(blk[i]));
		iov[i] = (struct iovec){ blk[i], sizeof(blk[i]) };
		memset(&r[i], 0, sizeof(r[i]));
		r[i].cdb[0] = WRITE_SAME_16;
		put64(r[i].cdb + 2, (uint64_t)i * 2048); /* 1 MiB apart */
		put32(r[i].cdb + 10, 2048);               /* 1 MiB: one pattern buffer of 1 MiB */
		r[i].cdb_len = 16;
		r[i].iov = &iov[i];
		r[i].iovcnt = 1;
		r[i].xfer_len = sizeof(blk[i]);
		r[i].done = on_done;
		r[i].opaque = &res[i];
	}
	for (unsigned i = 0; i < N; i++)
		scsi_disk_execute(f.sd, &r[i]);
	for (unsigned i = 0; i < N - 1; i++)
		assert_int_equal(res[i].calls, 0); /* 16 in flight */
	assert_int_equal(res[N - 1].calls, 1);     /* the 17th: over the budget */
	assert_int_equal(r[N - 1].status, SCSI_STATUS_BUSY);
	for (unsigned i = 0; i < N - 1; i++) {
		while (!res[i].calls)
			assert_true(disk_poll(f.disk, true) >= 0);
		assert_int_equal(r[i].status, SCSI_STATUS_GOOD);
	}
	/* all returned: the next one runs */
	scsi_disk_execute(f.sd, &r[N]);
	while (!res[N].calls)
		assert_true(disk_poll(f.disk, true) >= 0);
	assert_int_equal(r[N].status, SCSI_STATUS_GOOD);
	file_read(&f, (uint64_t)N * MIB + MIB - 512, back, sizeof(back));
	assert_true(all_byte(back, sizeof(back), 0x40 + N));
	file_read(&f, (uint64_t)(N - 1) * MIB, back, sizeof(back));
	assert_true(all_byte(back, sizeof(back), 0)); /* the refused one wrote nothing */
	fx_close(&f);
}

/* ---- fuzz-ish ----------------------------------------------------------------------------------------------- */

static uint32_t rnd_state = 0x12345678u;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static void test_cdb_fuzz(void **state)
{
	static const uint8_t ops[] = { TEST_UNIT_READY, REQUEST_SENSE, READ_6, WRITE_6, INQUIRY, MODE_SELECT,
				       MODE_SENSE, START_STOP, ALLOW_MEDIUM_REMOVAL, READ_CAPACITY, READ_10,
				       WRITE_10, VERIFY, SYNCHRONIZE_CACHE, WRITE_SAME, UNMAP, MODE_SELECT_10,
				       MODE_SENSE_10, READ_16, WRITE_16, VERIFY_16, SYNCHRONIZE_CACHE_16,
				       WRITE_SAME_16, SERVICE_ACTION_IN_16, READ_12, WRITE_12, VERIFY_12, REPORT_LUNS };
	struct fx *f = *state;
	static uint8_t buf[3 * 4096 + 64];
	struct iovec iov[3];

	for (unsigned it = 0; it < 6000; it++) {
		struct scsi_request r;
		struct res res;
		uint32_t len = rnd() % (3 * 4096 + 1), cut1, cut2;
		unsigned n = 1 + rnd() % 3;

		memset(&r, 0, sizeof(r));
		for (unsigned i = 0; i < 16; i++)
			r.cdb[i] = (uint8_t)rnd();
		r.cdb[0] = rnd() % 8 ? ops[rnd() % sizeof(ops)] : (uint8_t)rnd();
		/* Keep most LBAs and lengths small so that the commands get past the range checks. */
		switch (rnd() % 4) {
		case 0:
			memset(r.cdb + 2, 0, 7);
			r.cdb[rnd() % 2 ? 8 : 5] = (uint8_t)(rnd() % 16);
			r.cdb[13] = (uint8_t)(rnd() % 16);
			r.cdb[10] = r.cdb[11] = r.cdb[12] = 0;
			break;
		case 1:
			r.cdb[1] &= 0x18; /* no reserved bits */
			r.cdb[9] = r.cdb[5] = r.cdb[11] = r.cdb[15] = 0;
			break;
		default:
			break;
		}
		r.cdb_len = rnd() % 4 ? (uint8_t)(6 + 2 * (rnd() % 6)) : (uint8_t)(rnd() % 20);
		r.data_in = rnd() & 1;
		cut1 = len ? rnd() % (len + 1) : 0;
		cut2 = cut1 + (len - cut1 ? rnd() % (len - cut1 + 1) : 0);
		iov[0].iov_base = buf;
		iov[0].iov_len = n == 1 ? len : cut1;
		iov[1].iov_base = buf + cut1;
		iov[1].iov_len = n == 2 ? len - cut1 : cut2 - cut1;
		iov[2].iov_base = buf + cut2;
		iov[2].iov_len = len - cut2;
		r.iov = iov;
		r.iovcnt = n;
		r.xfer_len = rnd() % 8 ? len : rnd() % (4 * 4096);
		for (unsigned i = 0; i < len; i++)
			buf[i] = (uint8_t)rnd();
		memset(buf + len, CANARY, sizeof(buf) - len);
		res = run_req(f, &r);
		assert_true(res.status == SCSI_STATUS_GOOD || res.status == SCSI_STATUS_CHECK_CONDITION ||
			    res.status == SCSI_STATUS_BUSY);
		assert_true(res.transferred <= len);
		assert_true(all_byte(buf + len, sizeof(buf) - len, CANARY));
		if (res.status == SCSI_STATUS_CHECK_CONDITION)
			assert_true(res.key == ILLEGAL_REQUEST || res.key == DATA_PROTECT);
	}
	/* The disk still answers. */
	assert_good(RUN_NONE(f, TEST_UNIT_READY, 0, 0, 0, 0, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inquiry_standard, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_inquiry_vpd, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_inquiry_vpd, setup_4k, teardown),
		cmocka_unit_test_setup_teardown(test_serial_config, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_create_invalid, setup_512, teardown),
		cmocka_unit_test(test_no_lun),
		cmocka_unit_test(test_copy_to_guest),
		cmocka_unit_test_setup_teardown(test_misc_commands, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_read_capacity, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_read_capacity, setup_4k, teardown),
		cmocka_unit_test(test_read_capacity_huge),
		cmocka_unit_test_setup_teardown(test_mode_sense, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_mode_sense, setup_4k, teardown),
		cmocka_unit_test_setup_teardown(test_mode_select, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_read_write, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_read_write, setup_4k, teardown),
		cmocka_unit_test_setup_teardown(test_rw_bounds, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_rw_bounds, setup_4k, teardown),
		cmocka_unit_test_setup_teardown(test_rw_buffer_mismatch, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_rw_buffer_mismatch, setup_4k, teardown),
		cmocka_unit_test_setup_teardown(test_many_iovecs, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_iovecs_beyond_backend_limit, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_flush_and_fua, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_unmap, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_unmap, setup_4k, teardown),
		cmocka_unit_test(test_unmap_limit),
		cmocka_unit_test_setup_teardown(test_write_same, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_write_same, setup_4k, teardown),
		cmocka_unit_test(test_write_same_limit),
		cmocka_unit_test_setup_teardown(test_discard_fallbacks, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup_ro, teardown),
		cmocka_unit_test_setup_teardown(test_4k_blocks, setup_4k, teardown),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_write_same_pattern_budget),
		cmocka_unit_test_setup_teardown(test_cdb_fuzz, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_cdb_fuzz, setup_4k, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
