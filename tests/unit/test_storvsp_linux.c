// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_storvsp_linux.c - StorVSP against the exact command sequences of the stock Linux 6.1 guest
 * (Debian 6.1.192: drivers/scsi/storvsc_drv.c, scsi_scan.c, scsi.c, scsi_lib.c, sd.c), in process: the guest's
 * storvsc client (guest/vsc/vsc_stor.h) -> VMBus server on plain memory (tests/lib/vmbus_fixture.h) -> StorVSP
 * -> SCSI disk target -> disk backend on image files.
 *
 * The test carries a small model of what the guest kernel does with each answer ("lx_"): storvsc's completion
 * path (storvsc_on_io_completion forcing INQUIRY and MODE SENSE to success, the sense copy only with
 * AUTOSENSE_VALID, storvsc_handle_error's host bytes, data_transfer_length -> resid), the midlayer's scan
 * (scsi_scan_host over 8 channels x 2 targets, scsi_probe_lun's INQUIRY passes, the peripheral qualifier,
 * REPORT LUNS, scsi_attach_vpd with scsi_get_vpd_size's page-0 / 4-byte / full-page reads) and sd's revalidation
 * (TEST UNIT READY, READ CAPACITY(16), the block limits / characteristics / provisioning pages, MODE SENSE(6)
 * for write protect and the caching page, write same, queue limits). It asserts the exact commands sent and the
 * disk state sd ends with, so an answer that sends the real guest down another path fails here.
 *
 * Also: the largest request Linux builds for the max_transfer_bytes we announce (max_sectors and sg_tablesize from
 * storvsc_probe, first page unaligned), and Linux's queue depth spread over sub-channels (no SAM BUSY storm).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "openhv/scsi.h"
#include "openhv/storvsp.h"
#include "vmbus_fixture.h"
#include "vsc/vsc_stor.h"
#include "vsp/storvsp/storvsp.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define MAX_DISKS 3u
#define DATA_BYTES (9u << 20) /* guest RAM for data buffers */

static struct vmbfx fx;
static struct vsc_stor st;
static struct storvsp *sp;

struct dspec {
	uint32_t bs;  /* logical block size */
	uint32_t mib; /* size */
	bool ro;
};

static char tmpdir[128];
static char paths[MAX_DISKS][256];
static struct dspec specs[MAX_DISKS];
static unsigned ndisks;
static uint64_t dgpa;  /* data region in guest RAM */
static uint8_t *dmem;  /* host view of it */

/* Initial content of disk @d at byte @off. */
static uint8_t pat(unsigned d, uint64_t off)
{
	uint64_t x = (off / 8) * 0x9E3779B97F4A7C15ull + (d + 1) * 0x632BE59BD9B4E019ull;

	x ^= x >> 31;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 29;
	return (uint8_t)(x >> ((off % 8) * 8));
}

static void make_disk(unsigned i, const struct dspec *ds)
{
	size_t size = (size_t)ds->mib * MiB;
	uint8_t *buf = malloc(size);
	int fd;

	assert_non_null(buf);
	for (size_t k = 0; k < size; k++)
		buf[k] = pat(i, k);
	snprintf(paths[i], sizeof(paths[i]), "%s/disk%u.img", tmpdir, i);
	fd = open(paths[i], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, size, 0), (ssize_t)size);
	close(fd);
	free(buf);
	specs[i] = *ds;
}

static struct vmbus_guid ctl_instance(void)
{
	return (struct vmbus_guid)VMBUS_GUID_INIT(0x5c510000, 0x0002, 0x4e57, 0x9a, 0x11, 0x00, 0x00, 0x00, 0x00,
						 0x00, 0x02);
}

/* A fixture of @vps VPs, a controller of @n disks with at most @subch sub-channels, handshake done. */
static void setup(unsigned vps, unsigned subch, const struct dspec *ds, unsigned n, uint32_t max_transfer)
{
	struct storvsp_disk_config dc[MAX_DISKS];
	struct storvsp_config c;

	vmbfx_init(&fx, vps, 0);
	strcpy(tmpdir, "/tmp/openhv-storvsp-linux.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	ndisks = n;
	memset(dc, 0, sizeof(dc));
	for (unsigned i = 0; i < n; i++) {
		make_disk(i, &ds[i]);
		dc[i].path = paths[i];
		dc[i].read_only = ds[i].ro;
		dc[i].block_size = ds[i].bs;
	}
	memset(&c, 0, sizeof(c));
	c.srv = fx.srv;
	c.instance_id = ctl_instance();
	c.name = "scsi0";
	c.disks = dc;
	c.disk_count = n;
	c.max_subchannels = subch;
	c.max_transfer_bytes = max_transfer;
	assert_int_equal(storvsp_create(&c, &sp), 0);
	vmbfx_connect(&fx);
	dgpa = vmbfx_plat_alloc_pages(&fx, DATA_BYTES / VSC_PAGE_SIZE);
	assert_true(dgpa != 0);
	dmem = vid_memory_ptr(fx.mem, dgpa, DATA_BYTES);
	assert_non_null(dmem);
	vsc_stor_init(&st, &fx.bus);
	assert_int_equal(vsc_stor_open(&st, 0), 0);
	assert_int_equal(vsc_stor_handshake(&st), 0);
}

static void teardown(void)
{
	static const struct vsc_stor_errors zero;

	/* Nothing Linux would log as "Invalid pkt", drop for its id, or leave hanging. */
	if (memcmp(&st.err, &zero, sizeof(zero)))
		fail_msg("client saw: short %u long %u unknown_id %u not_complete_io %u bad_id0 %u wrong_channel %u "
			 "stray_init %u overrun %u", st.err.short_packets, st.err.long_packets, st.err.unknown_trans_id,
			 st.err.not_complete_io, st.err.bad_id0, st.err.wrong_channel, st.err.stray_init,
			 st.err.overrun);
	storvsp_destroy(sp);
	sp = NULL;
	vmbfx_fini(&fx);
	for (unsigned i = 0; i < ndisks; i++)
		unlink(paths[i]);
	rmdir(tmpdir);
	ndisks = 0;
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }
static void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v) { put_be16(p, (uint16_t)(v >> 16)); put_be16(p + 2, (uint16_t)v); }
static void put_be64(uint8_t *p, uint64_t v) { put_be32(p, (uint32_t)(v >> 32)); put_be32(p + 4, (uint32_t)v); }

/* ---- the guest kernel's view of one command ------------------------------------------------------------- */

/* include/scsi/scsi_status.h host bytes; include/scsi/scsi.h levels */
#define DID_OK 0x00
#define DID_NO_CONNECT 0x01
#define DID_ERROR 0x07
#define DID_PASSTHROUGH 0x0a
#define DID_REQUEUE 0x0d
#define SCSI_LEVEL_2 3
#define SCSI_LEVEL_3 4
#define SCSI_LEVEL_SPC_2 5
#define SCSI_LEVEL_SPC_3 6

struct lx_res {
	int result;        /* scmnd->result: host byte << 16 | SAM status; 0 = good */
	uint32_t resid;    /* scsi_get_resid() */
	uint32_t got;      /* bytes the guest takes as transferred (request length - resid) */
	bool sense_valid;  /* scsi_normalize_sense() succeeded on the copied sense */
	uint8_t key, asc, ascq;
	struct vsc_stor_result raw;
};

/* Every command the model sent, in order. */
struct lx_cmd {
	uint8_t path, target, lun, op, b1, b2;
	uint32_t len;      /* scsi_bufflen */
};
#define LX_LOG_MAX 1024u
static struct lx_cmd lx_log[LX_LOG_MAX];
static unsigned lx_n;
static uint8_t lx_proto_is_fc; /* never: the SCSI class */

/*
 * Send one command as storvsc_queuecommand() builds it (buffer at dgpa + @off, @len bytes; @dir READ_TYPE /
 * WRITE_TYPE / UNKNOWN_TYPE) and take the completion as storvsc_on_io_completion() + storvsc_command_completion()
 * + storvsc_handle_error() do.
 */
static struct lx_res lx_exec_at(uint8_t path, uint8_t target, uint8_t lun, const uint8_t *cdb, uint8_t cdb_len,
				uint8_t dir, uint64_t off, uint32_t len)
{
	struct vsc_stor_req r;
	struct lx_res x;
	uint8_t srb, scsi, host = DID_OK;
	uint32_t dtl;
	int ret;

	memset(&r, 0, sizeof(r));
	r.path_id = path;
	r.target_id = target;
	r.lun = lun;
	memcpy(r.cdb, cdb, cdb_len);
	r.cdb_len = cdb_len;
	r.data_in = len ? dir : UNKNOWN_TYPE;
	r.gpa = dgpa + off;
	r.len = len;
	r.tagged = true;
	if (lx_n < LX_LOG_MAX)
		lx_log[lx_n++] = (struct lx_cmd){ path, target, lun, cdb[0], cdb[1], cdb[2], len };
	memset(&x, 0, sizeof(x));
	ret = vsc_stor_execute(&st, &r, &x.raw);
	if (ret)
		fail_msg("command 0x%02x to %u:%u:%u not completed: %d", cdb[0], path, target, lun, ret);
	assert_int_equal(x.raw.operation, VSTOR_OPERATION_COMPLETE_IO);
	srb = x.raw.srb_status;
	scsi = x.raw.scsi_status;
	/* storvsc_on_io_completion(): the host's INQUIRY / MODE SENSE answers are always taken as good. */
	if (cdb[0] == INQUIRY || cdb[0] == MODE_SENSE || cdb[0] == MODE_SENSE_10 ||
	    (cdb[0] == MAINTENANCE_IN && lx_proto_is_fc)) {
		scsi = 0;
		srb = SRB_STATUS_SUCCESS;
	}
	if (scsi == SAM_STAT_CHECK_CONDITION && (srb & SRB_STATUS_AUTOSENSE_VALID)) {
		const uint8_t *s = x.raw.sense;

		/* scsi_normalize_sense(): fixed format 0x70/0x71 */
		if ((s[0] & 0x7e) == 0x70) {
			x.sense_valid = true;
			x.key = s[2] & 0xf;
			x.asc = x.raw.sense_info_length > 12 ? s[12] : 0;
			x.ascq = x.raw.sense_info_length > 13 ? s[13] : 0;
		}
	}
	dtl = x.raw.data_transfer_length;
	if (srb != SRB_STATUS_SUCCESS) {
		/* storvsc_handle_error() */
		switch (srb & 0x3f) {
		case SRB_STATUS_ERROR:
		case SRB_STATUS_ABORTED:
		case SRB_STATUS_INVALID_REQUEST:
			if (srb & SRB_STATUS_AUTOSENSE_VALID) {
				if ((x.asc == 0x2a && x.ascq == 0x09) || (x.asc == 0x3f && x.ascq != 0x03 && x.ascq != 0x0e))
					host = DID_REQUEUE;
			} else if (cdb[0] == ATA_16 || cdb[0] == ATA_12) {
				host = DID_PASSTHROUGH;
			} else if (cdb[0] != TEST_UNIT_READY) {
				host = DID_ERROR;
			}
			break;
		case SRB_STATUS_INVALID_LUN:
			host = DID_NO_CONNECT;
			break;
		default:
			break;
		}
		if (srb != SRB_STATUS_DATA_OVERRUN)
			dtl = 0;
	}
	if (dtl > len)
		dtl = len;
	x.resid = len - dtl;
	x.got = dtl;
	x.result = host << 16 | scsi;
	return x;
}

static struct lx_res lx_exec(uint8_t path, uint8_t target, uint8_t lun, const uint8_t *cdb, uint8_t cdb_len,
			     uint8_t dir, uint32_t len)
{
	return lx_exec_at(path, target, lun, cdb, cdb_len, dir, 0, len);
}

/* The midlayer's retry rule for a failed command (scsi_decide_disposition): BUSY or UNIT ATTENTION come back. */
static bool lx_retryable(const struct lx_res *x)
{
	return (x->result & 0xff) == SAM_STAT_BUSY || (x->sense_valid && x->key == UNIT_ATTENTION);
}

/* scsi_execute_req() with @retries: the command again while the midlayer would retry it. */
static struct lx_res lx_execute_req(uint8_t path, uint8_t target, uint8_t lun, const uint8_t *cdb, uint8_t cdb_len,
				    uint8_t dir, uint32_t len, unsigned retries)
{
	struct lx_res x;

	do
		x = lx_exec(path, target, lun, cdb, cdb_len, dir, len);
	while (x.result && lx_retryable(&x) && retries--);
	return x;
}

/* ---- the midlayer's scan and sd's revalidation ------------------------------------------------------------ */

#define LX_VPD_PAGES 7
static const uint8_t lx_vpd_codes[LX_VPD_PAGES] = { 0x00, 0x80, 0x83, 0x89, 0xb0, 0xb1, 0xb2 };

enum { SD_LBP_FULL = 0, SD_LBP_UNMAP, SD_LBP_WS16, SD_LBP_WS10, SD_LBP_ZERO, SD_LBP_DISABLE };

struct lx_sdev {
	uint8_t channel, id, lun;
	uint8_t type, scsi_level, inquiry_len;
	bool tagged;
	char vendor[9], model[17], rev[5];
	bool vpd[LX_VPD_PAGES];                 /* sdev->vpd_pgXX attached */
	uint8_t vpd_data[LX_VPD_PAGES][256];
	uint32_t vpd_len[LX_VPD_PAGES];
	/* sd */
	uint64_t capacity;
	uint32_t sector_size, physical_block_size;
	bool lbpme, lbprz, lbpvpd, lbpu, lbpws, lbpws10;
	uint32_t min_xfer_blocks, max_xfer_blocks, opt_xfer_blocks, max_ws_blocks, max_unmap_blocks;
	uint32_t unmap_granularity, unmap_alignment;
	int provisioning;
	bool nonrot, write_prot, wp_known, wce, rcd, dpofua, cache_known, no_write_same;
	uint32_t max_dev_sectors, max_sectors, io_min, max_discard_blocks;
};

#define LX_MAX_SDEVS 8u
static struct lx_sdev lx_sdevs[LX_MAX_SDEVS];
static unsigned lx_nsdev;
static unsigned lx_targets_present; /* targets that answered LUN 0 (LUN or PQ 3) */

/* scsi_vpd_inquiry(): -1, or the page length + 4. The buffer is kmalloc'd (not cleared): garbage before. */
static int lx_vpd_inquiry(const struct lx_sdev *d, uint8_t page, uint32_t len, uint8_t *out)
{
	uint8_t cdb[6] = { INQUIRY, 1, page, (uint8_t)(len >> 8), (uint8_t)len, 0 };
	struct lx_res x;
	int n;

	assert_true(len >= 4 && len <= 256);
	memset(dmem, 0xA5, len);
	x = lx_execute_req(d->channel, d->id, d->lun, cdb, 6, READ_TYPE, len, 3);
	if (x.result)
		return -1;
	memcpy(out, dmem, len);
	if (out[1] != page)
		return -1;
	n = be16(out + 2);
	return n ? n + 4 : -1;
}

/* scsi_get_vpd_size() */
static int lx_vpd_size(const struct lx_sdev *d, uint8_t page)
{
	uint8_t vpd[36];
	int r;

	if (page != 0) {
		r = lx_vpd_inquiry(d, 0, sizeof(vpd), vpd);
		if (r < 4)
			return 0;
		if (r > (int)sizeof(vpd))
			r = sizeof(vpd);
		if (!memchr(vpd + 4, page, (size_t)r - 4))
			return 0;
	}
	r = lx_vpd_inquiry(d, page, 4, vpd);
	return r < 4 ? 0 : r;
}

/* scsi_get_vpd_buf(): the page's bytes into @buf (256), its length; 0 when not there. */
static uint32_t lx_vpd_buf(const struct lx_sdev *d, uint8_t page, uint8_t *buf)
{
	int len = lx_vpd_size(d, page), r;

	if (len <= 0)
		return 0;
	for (;;) {
		assert_true(len <= 256);
		r = lx_vpd_inquiry(d, page, (uint32_t)len, buf);
		if (r < 0)
			return 0;
		if (r <= len)
			return (uint32_t)r;
		len = r; /* "VPD page result > bytes": again with the longer length */
	}
}

/* scsi_attach_vpd() (storvsc's slave_alloc sets BLIST_TRY_VPD_PAGES: always tried) */
static void lx_attach_vpd(struct lx_sdev *d)
{
	uint8_t list[256];
	uint32_t n = lx_vpd_buf(d, 0, list);

	for (uint32_t i = 4; i < n; i++)
		for (unsigned k = 0; k < LX_VPD_PAGES; k++)
			if (list[i] == lx_vpd_codes[k]) {
				uint32_t len = lx_vpd_buf(d, lx_vpd_codes[k], d->vpd_data[k]);

				if (len) {
					d->vpd[k] = true;
					d->vpd_len[k] = len;
				}
			}
}

static int lx_vpd_index(uint8_t page)
{
	for (unsigned k = 0; k < LX_VPD_PAGES; k++)
		if (lx_vpd_codes[k] == page)
			return (int)k;
	return -1;
}

enum { LX_NO_RESPONSE = 0, LX_TARGET_PRESENT, LX_LUN_PRESENT };

/* scsi_probe_lun() + scsi_probe_and_add_lun() + scsi_add_lun() + storvsc_device_configure(). */
static int lx_probe_and_add_lun(uint8_t channel, uint8_t id, uint8_t lun, uint8_t *target_level)
{
	uint8_t inq[256];
	unsigned first = 36, try_len = first, pass = 1, response_len = 0;
	struct lx_res x;
	struct lx_sdev *d;
	unsigned level;

	/* scsi_probe_and_add_lun(): a LUN already added in this scan (LUN 0 listed by REPORT LUNS) is not probed */
	for (unsigned i = 0; i < lx_nsdev; i++)
		if (lx_sdevs[i].channel == channel && lx_sdevs[i].id == id && lx_sdevs[i].lun == lun)
			return LX_LUN_PRESENT;
next_pass:
	for (unsigned count = 0; count < 3; count++) {
		uint8_t cdb[6] = { INQUIRY, 0, 0, 0, (uint8_t)try_len, 0 };

		memset(dmem, 0, try_len);
		x = lx_execute_req(channel, id, lun, cdb, 6, READ_TYPE, try_len, 3);
		if (x.result > 0) {
			if (x.sense_valid && x.key == UNIT_ATTENTION && (x.asc == 0x28 || x.asc == 0x29) && !x.ascq)
				continue;
		} else if (x.resid == try_len) {
			continue; /* nothing transferred: again */
		}
		break;
	}
	memcpy(inq, dmem, try_len);
	if (x.result == 0) {
		response_len = inq[4] + 5u;
		if (pass == 1 && response_len > try_len) {
			try_len = response_len;
			pass = 2;
			goto next_pass;
		}
	} else if (pass == 2) {
		try_len = first;
		pass = 3;
		goto next_pass;
	}
	if (x.result)
		return LX_NO_RESPONSE;
	level = inq[2] & 7;
	if (level >= 2 || (level == 1 && (inq[3] & 0x0f) == 1))
		level++;
	*target_level = (uint8_t)level;
	if ((inq[0] >> 5) == 3)
		return LX_TARGET_PRESENT; /* peripheral qualifier 3: a target, no LUN here */
	if ((inq[0] >> 5) == 1 && (inq[0] & 0x1f) == 0x1f)
		return LX_TARGET_PRESENT;
	assert_true(lx_nsdev < LX_MAX_SDEVS);
	d = &lx_sdevs[lx_nsdev++];
	memset(d, 0, sizeof(*d));
	d->channel = channel;
	d->id = id;
	d->lun = lun;
	d->inquiry_len = (uint8_t)(try_len < response_len ? try_len : response_len);
	if (d->inquiry_len < 36)
		d->inquiry_len = 36;
	d->type = inq[0] & 0x1f;
	d->scsi_level = (uint8_t)level;
	d->tagged = level >= SCSI_LEVEL_2 && (inq[7] & 2);
	memcpy(d->vendor, inq + 8, 8);
	memcpy(d->model, inq + 16, 16);
	memcpy(d->rev, inq + 32, 4);
	/* storvsc_device_configure(): "Msft" on 5.1/6.0 claims SPC-3; no_write_same stays for sd (below). */
	if (!strncmp(d->vendor, "Msft", 4) &&
	    (st.protocol == VMSTOR_PROTO_VERSION_WIN8 || st.protocol == VMSTOR_PROTO_VERSION_WIN8_1))
		d->scsi_level = SCSI_LEVEL_SPC_3;
	if (d->scsi_level >= SCSI_LEVEL_3)
		lx_attach_vpd(d);
	return LX_LUN_PRESENT;
}

/* scsi_report_lun_scan(): 0 when it scanned the target, 1 to fall back to a sequential scan. */
static int lx_report_lun_scan(uint8_t channel, uint8_t id, uint8_t target_level)
{
	static uint8_t luns[512 * 8];
	uint8_t cdb[12] = { REPORT_LUNS };
	uint32_t length = 512 * 8, list;
	struct lx_res x;

	if (target_level < SCSI_LEVEL_2 && target_level != 0)
		return 1;
	/* (SCSI-2 would need BLIST_REPORTLUN2 and max_lun > 8: storvsc sets both) */
	put_be32(cdb + 6, length);
	for (unsigned tries = 0; tries < 3; tries++) {
		memset(dmem, 0, length);
		x = lx_execute_req(channel, id, 0, cdb, 12, READ_TYPE, length, 3);
		if (!x.result || (x.sense_valid && x.key != UNIT_ATTENTION))
			break;
	}
	if (x.result)
		return 1;
	list = be32(dmem);
	assert_true(list + 8 <= length); /* no second, longer REPORT LUNS */
	memcpy(luns, dmem, list + 8); /* lun_data: the LUN probes below reuse the data buffer */
	for (uint32_t i = 0; i < list / 8; i++) {
		const uint8_t *l = luns + 8 + 8 * i;
		uint64_t lun = (uint64_t)(be16(l) & 0x3fff); /* scsilun_to_int, single level */
		uint8_t lvl;
		int res;

		assert_int_equal(be16(l + 2) | be32(l + 4), 0);
		if (lun > 255)
			continue; /* "LUN larger than allowed by the host adapter" */
		res = lx_probe_and_add_lun(channel, id, (uint8_t)lun, &lvl);
		if (res == LX_NO_RESPONSE)
			break;
	}
	return 0;
}

/* scsi_sequential_lun_scan() (only reached when REPORT LUNS fails) */
static void lx_sequential_scan(uint8_t channel, uint8_t id)
{
	for (unsigned lun = 1; lun <= 255; lun++) {
		uint8_t lvl;

		if (lx_probe_and_add_lun(channel, id, (uint8_t)lun, &lvl) != LX_LUN_PRESENT)
			return;
	}
}

/* scsi_scan_host(): storvsc's SCSI class has max_channel 7, max_id 2, max_lun 255, this_id -1. */
static void lx_scan_host(void)
{
	lx_n = 0;
	lx_nsdev = 0;
	lx_targets_present = 0;
	for (uint8_t channel = 0; channel <= 7; channel++) {
		for (uint8_t id = 0; id < 2; id++) {
			uint8_t lvl = 0;
			int res = lx_probe_and_add_lun(channel, id, 0, &lvl);

			if (res == LX_LUN_PRESENT || res == LX_TARGET_PRESENT) {
				lx_targets_present++;
				if (lx_report_lun_scan(channel, id, lvl))
					lx_sequential_scan(channel, id);
			}
		}
	}
}

/* scsi_mode_sense() with MODE SENSE(6) (use_10_for_ms is 0 and the lengths stay <= 255): -1 or 0 and the header. */
struct lx_mode_data {
	uint32_t length;
	uint8_t device_specific, block_descriptor_length, header_length;
};
static int lx_mode_sense(const struct lx_sdev *d, int dbd, uint8_t page, uint32_t len, struct lx_mode_data *m)
{
	uint8_t cdb[6] = { MODE_SENSE, (uint8_t)(dbd & 0x18), page, 0, (uint8_t)len, 0 };
	struct lx_res x;

	memset(m, 0, sizeof(*m));
	assert_true(len >= 4 && len <= 255);
	memset(dmem, 0, len);
	x = lx_execute_req(d->channel, d->id, d->lun, cdb, 6, READ_TYPE, len, 3);
	if (x.result)
		return -1;
	m->length = dmem[0] + 1u;
	m->device_specific = dmem[2];
	m->block_descriptor_length = dmem[3];
	m->header_length = 4;
	return 0;
}

/* sd_revalidate_disk() of a TYPE_DISK device, with the host's max_sectors (storvsc_probe). */
static void lx_sd_revalidate(struct lx_sdev *d, uint32_t host_max_sectors)
{
	struct lx_mode_data m;
	struct lx_res x;
	uint32_t dev_max, rw_max;
	int res;

	/* sd_spinup_disk(): TEST UNIT READY until good (3 tries) */
	for (unsigned i = 0; i < 3; i++) {
		uint8_t cdb[6] = { TEST_UNIT_READY };

		x = lx_exec(d->channel, d->id, d->lun, cdb, 6, UNKNOWN_TYPE, 0);
		if (!x.result)
			break;
	}
	assert_int_equal(x.result, 0);

	/* sd_read_capacity(): READ CAPACITY(16) first (scsi_level > SPC-2, max_cmd_len 16) */
	assert_true(d->scsi_level > SCSI_LEVEL_SPC_2);
	{
		uint8_t cdb[16] = { SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16 };

		cdb[13] = 32;
		memset(dmem, 0, 32);
		x = lx_execute_req(d->channel, d->id, d->lun, cdb, 16, READ_TYPE, 32, 3);
		assert_int_equal(x.result, 0); /* else sd falls back to READ CAPACITY(10) */
		d->sector_size = be32(dmem + 8);
		d->capacity = be64(dmem) + 1;
		assert_int_equal(dmem[12] & 1, 0); /* PROT_EN: sd_read_protection_type */
		d->physical_block_size = (1u << (dmem[13] & 0xf)) * d->sector_size;
		assert_int_equal((dmem[14] & 0x3f) << 8 | dmem[15], 0); /* lowest aligned LBA */
		if (dmem[14] & 0x80) {
			d->lbpme = true;
			d->lbprz = (dmem[14] & 0x40) != 0;
			d->provisioning = SD_LBP_WS16;
		}
	}
	/* QUEUE_FLAG_NONROT off until page 0xB1 says otherwise */
	d->nonrot = false;
	/* sd_read_block_provisioning() */
	if (d->lbpme && d->vpd[lx_vpd_index(0xb2)] && d->vpd_len[lx_vpd_index(0xb2)] >= 8) {
		const uint8_t *v = d->vpd_data[lx_vpd_index(0xb2)];

		d->lbpvpd = true;
		d->lbpu = (v[5] >> 7) & 1;
		d->lbpws = (v[5] >> 6) & 1;
		d->lbpws10 = (v[5] >> 5) & 1;
	}
	/* sd_read_block_limits() */
	if (d->vpd[lx_vpd_index(0xb0)] && d->vpd_len[lx_vpd_index(0xb0)] >= 16) {
		const uint8_t *v = d->vpd_data[lx_vpd_index(0xb0)];

		d->min_xfer_blocks = be16(v + 6);
		d->max_xfer_blocks = be32(v + 8);
		d->opt_xfer_blocks = be32(v + 12);
		if (d->vpd_len[lx_vpd_index(0xb0)] >= 64) {
			d->max_ws_blocks = (uint32_t)be64(v + 36);
			if (d->lbpme) {
				uint32_t lba_count = be32(v + 20), desc_count = be32(v + 24);

				if (lba_count && desc_count)
					d->max_unmap_blocks = lba_count;
				d->unmap_granularity = be32(v + 28);
				if (v[32] & 0x80)
					d->unmap_alignment = be32(v + 32) & ~(1u << 31);
				if (!d->lbpvpd)
					d->provisioning = d->max_unmap_blocks ? SD_LBP_UNMAP : SD_LBP_WS16;
				else if (d->lbpu && d->max_unmap_blocks)
					d->provisioning = SD_LBP_UNMAP;
				else if (d->lbpws)
					d->provisioning = SD_LBP_WS16;
				else if (d->lbpws10)
					d->provisioning = SD_LBP_WS10;
				else
					d->provisioning = SD_LBP_DISABLE;
			}
		}
	}
	if (d->provisioning == SD_LBP_UNMAP)
		d->max_discard_blocks = d->max_unmap_blocks < 0x7fffff ? d->max_unmap_blocks : 0x7fffff;
	/* sd_read_block_characteristics() */
	if (d->vpd[lx_vpd_index(0xb1)] && d->vpd_len[lx_vpd_index(0xb1)] > 8) {
		const uint8_t *v = d->vpd_data[lx_vpd_index(0xb1)];

		d->nonrot = be16(v + 4) == 1;
		assert_int_equal((v[8] >> 4) & 3, 0); /* not zoned */
	}
	/* sd_read_write_protect_flag(): MODE SENSE(6) page 0x3F with 4 bytes, then page 0, then 255 bytes */
	res = lx_mode_sense(d, 0, 0x3f, 4, &m);
	if (res < 0)
		res = lx_mode_sense(d, 0, 0, 4, &m);
	if (res < 0)
		res = lx_mode_sense(d, 0, 0x3f, 255, &m);
	if (res == 0) {
		d->wp_known = true;
		d->write_prot = (m.device_specific & 0x80) != 0;
	}
	/* sd_read_cache_type(): page 8, 4 bytes, then data.length bytes; walk the pages */
	res = lx_mode_sense(d, 0, 0x08, 4, &m);
	if (res == 0 && m.header_length && m.length >= 3) {
		uint32_t len = m.length > 512 ? 512 : m.length, off;

		assert_true(len <= 255);
		if (len > 4)
			res = lx_mode_sense(d, 0, 0x08, len, &m);
		off = m.header_length + m.block_descriptor_length;
		while (res == 0 && off < len) {
			uint8_t code = dmem[off] & 0x3f, spf = dmem[off] & 0x40;

			if (code == 8 && len - off > 2) {
				d->cache_known = true;
				d->wce = (dmem[off + 2] & 0x04) != 0;
				d->rcd = (dmem[off + 2] & 0x01) != 0;
				d->dpofua = (m.device_specific & 0x10) != 0;
				if (d->wce && d->write_prot)
					d->wce = false; /* no cache flush for write-protected devices */
				break;
			}
			if (spf && len - off > 3)
				off += 4u + be16(dmem + off + 2);
			else if (!spf && len - off > 1)
				off += 2u + dmem[off + 1];
			else
				break;
		}
	}
	/* sd_read_write_same(): the storvsc host template has no_write_same = 1, copied to every device here,
	 * whatever storvsc_device_configure() decided: no REPORT SUPPORTED OPERATION CODES, no WRITE SAME. */
	d->no_write_same = true;
	/* queue limits */
	dev_max = 0xffff; /* use_16_for_rw only above 2^32 blocks */
	if (d->max_xfer_blocks && d->max_xfer_blocks < dev_max)
		dev_max = d->max_xfer_blocks;
	d->max_dev_sectors = dev_max * (d->sector_size / 512);
	if (d->min_xfer_blocks && !((d->min_xfer_blocks * d->sector_size) & (d->physical_block_size - 1)))
		d->io_min = d->min_xfer_blocks * d->sector_size;
	assert_int_equal(d->opt_xfer_blocks, 0); /* sd_validate_opt_xfer_size would take it */
	rw_max = d->max_dev_sectors < 2560 ? d->max_dev_sectors : 2560; /* BLK_DEF_MAX_SECTORS */
	d->max_sectors = rw_max < host_max_sectors ? rw_max : host_max_sectors;
	/* sd_config_write_same(): no_write_same -> max_ws_blocks 0, no WRITE ZEROES offload */
	d->max_ws_blocks = 0;
}

static const struct dspec std_disks[] = { { 512, 4, false }, { 4096, 4, false }, { 512, 2, true } };

/* storvsc_probe(): max_sectors and sg_tablesize from QUERY_PROPERTIES. */
static uint32_t lx_host_max_sectors(void)
{
	uint32_t bytes = st.props.max_transfer_bytes & ~4095u;

	return bytes >> 9;
}

/* ---- tests -------------------------------------------------------------------------------------------------- */

/*
 * storvsc_channel_init(): every reply COMPLETE_IO with status 0 where Linux checks it, the first offered version
 * accepted, properties that make a usable host (max_sectors, sg_tablesize), then handle_multichannel_storage():
 * min(online CPUs - 1, max_channel_cnt) sub-channels offered and opened.
 */
static void test_linux_probe_handshake(void **state)
{
	uint32_t bytes;
	int n;

	(void)state;
	setup(4, 2, std_disks, 3, 0);
	assert_int_equal(st.protocol, VMSTOR_PROTO_VERSION_WIN10);
	assert_int_equal(st.version_statuses[0], 0);
	bytes = st.props.max_transfer_bytes & ~4095u; /* round_down(max_transfer_bytes, HV_HYP_PAGE_SIZE) */
	assert_true(bytes >= 256 * KiB);
	assert_int_equal(lx_host_max_sectors(), bytes >> 9);
	assert_true((bytes >> 12) + 1 <= VSC_STOR_MAX_PFNS); /* sg_tablesize */
	assert_true(st.props.flags & STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL);
	assert_int_equal(st.props.max_channel_cnt, 2);
	/* 4 online CPUs: min(3, 2) sub-channels */
	n = vsc_stor_create_subchannels(&st, 3 < st.props.max_channel_cnt ? 3 : st.props.max_channel_cnt, 4);
	assert_int_equal(n, 2);
	assert_int_equal(st.subchannels, 2);
	teardown();
}

/*
 * scsi_scan_host() + sd_probe() of the whole controller, command by command: the three disks appear as
 * 0:0:0:{0,1,2} and nothing else; every empty target answers PQ 3 and an empty REPORT LUNS; each disk gets its VPD
 * pages attached and sd ends with the right capacity, sector sizes, write protect, cache mode, provisioning and
 * queue limits.
 */
static void test_linux_scan_and_sd_probe(void **state)
{
	unsigned inquiries = 0, report_luns = 0;

	(void)state;
	setup(1, 0, std_disks, 3, 0);
	lx_scan_host();
	assert_int_equal(lx_targets_present, 16);
	assert_int_equal(lx_nsdev, 3);
	for (unsigned i = 0; i < lx_n; i++) {
		if (lx_log[i].op == INQUIRY && !(lx_log[i].b1 & 1))
			inquiries++;
		if (lx_log[i].op == REPORT_LUNS) {
			report_luns++;
			assert_int_equal(lx_log[i].lun, 0);
		}
		/* during the scan only INQUIRY and REPORT LUNS go out */
		assert_true(lx_log[i].op == INQUIRY || lx_log[i].op == REPORT_LUNS);
	}
	/* one 36-byte standard INQUIRY per target plus one per reported LUN: no second pass, no retries */
	assert_int_equal(inquiries, 16 + 2);
	assert_int_equal(report_luns, 16);
	/* the first commands: INQUIRY 36 to 0:0:0:0, then (a LUN there) its VPD page 0 with 4 bytes */
	assert_int_equal(lx_log[0].op, INQUIRY);
	assert_int_equal(lx_log[0].len, 36);
	assert_int_equal(lx_log[1].op, INQUIRY);
	assert_int_equal(lx_log[1].b1, 1);
	assert_int_equal(lx_log[1].b2, 0);
	assert_int_equal(lx_log[1].len, 4);

	for (unsigned i = 0; i < 3; i++) {
		struct lx_sdev *d = &lx_sdevs[i];
		uint32_t bs = specs[i].bs;

		assert_int_equal(d->channel, 0);
		assert_int_equal(d->id, 0);
		assert_int_equal(d->lun, i);
		assert_int_equal(d->type, TYPE_DISK);
		assert_string_equal(d->vendor, "Msft    ");
		assert_string_equal(d->model, "Virtual Disk    ");
		assert_true(d->scsi_level > SCSI_LEVEL_SPC_2);
		assert_true(d->tagged);
		assert_int_equal(d->inquiry_len, 36);
		/* VPD: 0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2 attached; not 0x89 (would mean SAT) */
		for (unsigned k = 0; k < LX_VPD_PAGES; k++)
			assert_int_equal(d->vpd[k], lx_vpd_codes[k] != 0x89);
		assert_int_equal(d->vpd_len[lx_vpd_index(0xb0)], 64);
		assert_int_equal(d->vpd_len[lx_vpd_index(0xb1)], 64);
		assert_int_equal(d->vpd_len[lx_vpd_index(0xb2)], 8);
		{
			/* page 0x83: one logical-unit NAA designator (udev scsi_id takes it for /dev/disk/by-id) */
			const uint8_t *v = d->vpd_data[lx_vpd_index(0x83)];

			assert_true(d->vpd_len[lx_vpd_index(0x83)] >= 4 + 4 + 8);
			assert_int_equal(v[4] & 0x0f, 1);    /* binary */
			assert_int_equal(v[5] & 0x30, 0);    /* associated with the logical unit */
			assert_int_equal(v[5] & 0x0f, 3);    /* NAA */
			assert_int_equal(v[7], 8);
		}
		lx_sd_revalidate(d, lx_host_max_sectors());
		assert_int_equal(d->sector_size, bs);
		assert_int_equal(d->capacity, (uint64_t)specs[i].mib * MiB / bs);
		assert_int_equal(d->physical_block_size, 4096);
		assert_true(d->nonrot);
		assert_true(d->wp_known);
		assert_int_equal(d->write_prot, specs[i].ro);
		assert_true(d->cache_known);
		/* write back (host page cache, flushed by SYNCHRONIZE CACHE) unless write-protected; FUA honoured */
		assert_int_equal(d->wce, !specs[i].ro);
		assert_false(d->rcd);
		assert_true(d->dpofua);
		/* block limits: the controller's max transfer as the device's, granularity = physical block */
		assert_int_equal(d->max_xfer_blocks, st.props.max_transfer_bytes / bs);
		assert_int_equal(d->min_xfer_blocks, 4096 / bs);
		assert_int_equal(d->io_min, 4096);
		assert_int_equal(d->max_sectors, lx_host_max_sectors() < 2560 ? lx_host_max_sectors() : 2560);
		/* provisioning: a writable file that can punch holes is thin (UNMAP); a read-only disk is not */
		if (specs[i].ro) {
			assert_false(d->lbpme);
			assert_int_equal(d->provisioning, SD_LBP_FULL);
		} else if (d->lbpme) {
			assert_true(d->lbpvpd && d->lbpu);
			assert_int_equal(d->provisioning, SD_LBP_UNMAP);
			assert_true(d->max_discard_blocks > 0);
			assert_int_equal(d->unmap_granularity * bs, 4096);
		}
		assert_true(d->no_write_same);
	}
	/* the revalidation sent no command the device refused */
	for (unsigned i = 0; i < lx_n; i++)
		assert_true(lx_log[i].op != MAINTENANCE_IN && lx_log[i].op != WRITE_SAME_16 &&
			    lx_log[i].op != WRITE_SAME && lx_log[i].op != READ_CAPACITY);
	teardown();
}

/* storvsc_device_configure() on protocol 6.0: "Msft" gets SPC-3; the scan still finds the same disks. */
static void test_linux_scan_win8_1(void **state)
{
	(void)state;
	setup(1, 0, std_disks, 1, 0);
	/* again, as an older host would negotiate: 6.0 only */
	assert_int_equal(vsc_stor_close(&st), 0);
	assert_int_equal(vsc_stor_open(&st, 0), 0);
	st.versions[0] = VMSTOR_PROTO_VERSION_WIN8_1;
	st.version_count = 1;
	assert_int_equal(vsc_stor_handshake(&st), 0);
	assert_int_equal(st.protocol, VMSTOR_PROTO_VERSION_WIN8_1);
	lx_scan_host();
	assert_int_equal(lx_nsdev, 1);
	assert_int_equal(lx_sdevs[0].scsi_level, SCSI_LEVEL_SPC_3);
	lx_sd_revalidate(&lx_sdevs[0], lx_host_max_sectors());
	assert_int_equal(lx_sdevs[0].capacity, 4 * MiB / 512);
	teardown();
}

/*
 * The answers that keep the guest away from bad paths: a command to a LUN that is not there is SRB INVALID_LUN
 * (storvsc: DID_NO_CONNECT and the LUN is removed), not a CHECK CONDITION the midlayer would retry; an unknown
 * opcode on a disk is CHECK CONDITION with autosense (sense handled by the midlayer, no DID_ERROR that would
 * offline the device); an unsupported VPD page reads as an empty page (length 0 moved).
 */
static void test_linux_error_mapping(void **state)
{
	uint8_t tur[6] = { TEST_UNIT_READY };
	uint8_t rc10[10] = { READ_CAPACITY };
	uint8_t ata16[16] = { ATA_16 };
	uint8_t rsoc[12] = { MAINTENANCE_IN, 0x0c, 1, INQUIRY, 0, 0, 0, 0, 0, 14 }; /* scsi_report_opcode */
	uint8_t vpd_b9[6] = { INQUIRY, 1, 0xb9, 0, 64, 0 };
	struct lx_res x;

	(void)state;
	setup(1, 0, std_disks, 2, 0);
	/* LUN 5 of target 0, LUN 0 of target 1, LUN 0 of path 3 */
	x = lx_exec(0, 0, 5, tur, 6, UNKNOWN_TYPE, 0);
	assert_int_equal(x.result >> 16, DID_NO_CONNECT);
	assert_int_equal(vsc_stor_srb(&x.raw), SRB_STATUS_INVALID_LUN);
	x = lx_exec(0, 1, 0, rc10, 10, READ_TYPE, 8);
	assert_int_equal(x.result >> 16, DID_NO_CONNECT);
	assert_int_equal(x.got, 0);
	x = lx_exec(3, 0, 0, tur, 6, UNKNOWN_TYPE, 0);
	assert_int_equal(x.result >> 16, DID_NO_CONNECT);
	/* unknown opcodes on a disk: ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE with sense, host byte OK */
	x = lx_exec(0, 0, 0, ata16, 16, READ_TYPE, 512);
	assert_int_equal(x.result, SAM_STAT_CHECK_CONDITION);
	assert_true(x.sense_valid);
	assert_int_equal(x.key, ILLEGAL_REQUEST);
	assert_int_equal(x.asc, 0x20);
	assert_int_equal(x.got, 0);
	memset(dmem, 0xA5, 64);
	x = lx_exec(0, 0, 0, rsoc, 12, READ_TYPE, 14);
	assert_int_equal(x.result, SAM_STAT_CHECK_CONDITION);
	assert_true(x.sense_valid && x.key == ILLEGAL_REQUEST && x.asc == 0x20 && x.ascq == 0);
	/* page 0xB9 (sd_read_cpr asks only if listed; SG_IO users anyway): good, nothing moved */
	memset(dmem, 0xA5, 64);
	x = lx_exec(0, 0, 0, vpd_b9, 6, READ_TYPE, 64);
	assert_int_equal(x.result, 0);
	assert_int_equal(x.got, 0);
	assert_int_equal(dmem[1], 0xA5); /* scsi_vpd_inquiry: buffer[1] != page -> -EIO, page ignored */
	/* INQUIRY of a missing LUN: real data, PQ 3 (never an all-zero "disk") */
	{
		uint8_t inq[6] = { INQUIRY, 0, 0, 0, 36, 0 };

		memset(dmem, 0, 36);
		x = lx_exec(0, 0, 7, inq, 6, READ_TYPE, 36);
		assert_int_equal(x.result, 0);
		assert_int_equal(x.got, 36);
		assert_int_equal(dmem[0], 0x7f);
	}
	teardown();
}

/*
 * sd's runtime commands as it builds them: READ(10)/WRITE(10) with FUA, SYNCHRONIZE CACHE(10) with a zero range
 * (sd_setup_flush_cmnd), and UNMAP with a 24-byte special payload (sd_setup_unmap_cmnd): all good, with the
 * whole buffer counted as moved (scsi_finish_command subtracts the resid from a good WRITE).
 */
static void test_linux_sd_io(void **state)
{
	uint8_t w[10] = { WRITE_10, 0x08 }, r[10] = { READ_10 }, sync[10] = { SYNCHRONIZE_CACHE };
	uint8_t unmap[10] = { UNMAP };
	struct lx_res x;
	uint8_t *pl;

	(void)state;
	setup(1, 0, std_disks, 1, 0);
	for (unsigned i = 0; i < 64 * KiB; i++)
		dmem[512 + i] = (uint8_t)(i * 7 + 3);
	put_be32(w + 2, 100);
	put_be16(w + 7, 128);
	x = lx_exec_at(0, 0, 0, w, 10, WRITE_TYPE, 512, 64 * KiB);
	assert_int_equal(x.result, 0);
	assert_int_equal(x.resid, 0);
	x = lx_exec(0, 0, 0, sync, 10, UNKNOWN_TYPE, 0);
	assert_int_equal(x.result, 0);
	memset(dmem + 1 * MiB, 0, 64 * KiB);
	put_be32(r + 2, 100);
	put_be16(r + 7, 128);
	x = lx_exec_at(0, 0, 0, r, 10, READ_TYPE, 1 * MiB + 100, 64 * KiB);
	assert_int_equal(x.result, 0);
	assert_int_equal(x.resid, 0);
	assert_memory_equal(dmem + 1 * MiB + 100, dmem + 512, 64 * KiB);
	/* UNMAP of 8 blocks at LBA 100 (answered good whether or not the range is punched) */
	pl = dmem + 2 * MiB;
	memset(pl, 0, 4096);
	put_be16(pl, 6 + 16);
	put_be16(pl + 2, 16);
	put_be64(pl + 8, 100);
	put_be32(pl + 16, 8);
	unmap[8] = 24;
	x = lx_exec_at(0, 0, 0, unmap, 10, WRITE_TYPE, 2 * MiB, 24);
	if (x.result)
		assert_true(x.sense_valid && x.key == ILLEGAL_REQUEST && x.asc == 0x20); /* no LBP on this host fs */
	else
		assert_int_equal(x.resid, 0);
	teardown();
}

/*
 * The largest request Linux builds for the max_transfer_bytes we announce: max_sectors = bytes / 512 and an
 * sg list of up to bytes / 4096 + 1 pages, the first one entered mid-page (storvsc_queuecommand: one range,
 * offset in the first page). With a 4 MiB controller that is a GPA-direct packet of 1025 PFNs (8.3 KiB): it must
 * be served, not refused as too large (it was: the receive buffer was a fixed 8 KiB).
 */
static void test_linux_max_transfer_request(void **state)
{
	static const struct dspec big[] = { { 512, 8, false } };
	uint32_t max, sectors;
	uint8_t cdb[10] = { READ_10 };
	uint8_t wcdb[10] = { WRITE_10 };
	struct lx_res x;
	uint8_t buf[4096];

	(void)state;
	setup(1, 0, big, 1, 4 * MiB);
	max = st.props.max_transfer_bytes & ~4095u;
	assert_int_equal(max, 4 * MiB);
	sectors = lx_host_max_sectors();
	assert_int_equal(sectors, 8192);
	/* READ(10) of max_sectors, buffer starting 512 bytes into a page: 1025 pages */
	memset(dmem, 0, max + 8192);
	put_be32(cdb + 2, 16);
	put_be16(cdb + 7, (uint16_t)sectors);
	x = lx_exec_at(0, 0, 0, cdb, 10, READ_TYPE, 512, max);
	if (x.result || x.resid)
		fail_msg("max-size read: result 0x%x srb 0x%02x resid %u", x.result, x.raw.srb_status, x.resid);
	for (uint32_t i = 0; i < max; i += 4093)
		if (dmem[512 + i] != pat(0, 16 * 512 + i))
			fail_msg("byte %u of the max-size read differs", i);
	assert_int_equal(dmem[511], 0); /* nothing before the buffer written */
	assert_int_equal(dmem[512 + max], 0); /* nor after */
	/* WRITE(10) of max_sectors, page aligned (1024 PFNs), then read back by the host */
	for (uint32_t i = 0; i < max; i++)
		dmem[4096 + i] = (uint8_t)(i ^ (i >> 9));
	put_be32(wcdb + 2, 0);
	put_be16(wcdb + 7, (uint16_t)sectors);
	x = lx_exec_at(0, 0, 0, wcdb, 10, WRITE_TYPE, 4096, max);
	assert_int_equal(x.result, 0);
	assert_int_equal(x.resid, 0);
	{
		int fd = open(paths[0], O_RDONLY | O_CLOEXEC);

		assert_true(fd >= 0);
		for (uint32_t off = 0; off < max; off += 512 * 1024 + 4096) {
			assert_int_equal(pread(fd, buf, sizeof(buf), off), (ssize_t)sizeof(buf));
			assert_memory_equal(buf, dmem + 4096 + off, sizeof(buf));
		}
		close(fd);
	}
	teardown();
}

/*
 * Linux's queue depth over sub-channels: cmd_per_lun is 2048 and every hardware queue has can_queue tags (~330
 * for one channel's ring), so a 4-vCPU guest easily keeps 1024 requests in flight to one LUN, 256 per channel.
 * None may come back SAM BUSY: Linux takes BUSY as ADD_TO_MLQUEUE, blocks the device until it is idle and
 * restarts it 3 ms at a time (scsi_error.c, scsi_lib.c scsi_dev_queue_ready) - one BUSY per request would crawl.
 */
static void test_linux_deep_queue_subchannels(void **state)
{
	enum { PER = 256, CH = 4, N = PER * CH };
	static struct vsc_stor_result res[N];
	unsigned got = 0, busy = 0;
	bool *seen = calloc(N + 1, sizeof(bool));

	(void)state;
	assert_non_null(seen);
	setup(4, 3, std_disks, 1, 0);
	assert_int_equal(vsc_stor_create_subchannels(&st, 3, 4), 3);
	fx.pump_off = true; /* everything queued before the host runs */
	for (unsigned i = 0; i < N; i++) {
		struct vsc_stor_req r;

		memset(&r, 0, sizeof(r));
		r.tagged = true;
		vsc_scsi_rw(&r, 10, false, i % 8192, 1, false);
		r.gpa = dgpa + (uint64_t)i * 1024;
		r.len = 512;
		assert_int_equal(vsc_stor_submit(&st, i % CH, i + 1, &r), 0);
	}
	fx.pump_off = false;
	while (got < N) {
		int n = vsc_stor_wait(&st, res, N, 0);

		assert_true(n > 0);
		for (int k = 0; k < n; k++) {
			unsigned id = (unsigned)res[k].trans_id;

			assert_true(id >= 1 && id <= N && !seen[id]);
			seen[id] = true;
			if (res[k].scsi_status == SAM_STAT_BUSY || vsc_stor_srb(&res[k]) == SRB_STATUS_BUSY) {
				busy++;
				continue;
			}
			assert_int_equal(vsc_stor_srb(&res[k]), SRB_STATUS_SUCCESS);
			assert_int_equal(res[k].data_transfer_length, 512);
			assert_int_equal(dmem[(uint64_t)(id - 1) * 1024 + 17], pat(0, (uint64_t)((id - 1) % 8192) * 512 + 17));
		}
		got += (unsigned)n;
	}
	free(seen);
	if (busy)
		fail_msg("%u of %u requests answered BUSY", busy, N);
	{
		struct storvsp_stats s;

		storvsp_stats(sp, &s);
		assert_int_equal(s.busy, 0);
	}
	teardown();
}

/*
 * storvsc_host_reset_handler(): RESET_BUS (trans_id VMBUS_RQST_RESET, path id set) with requests in flight on
 * every channel: the reply is COMPLETE_IO (Linux only waits for it), and every request still completes with its
 * own id on its own channel (storvsc_wait_to_drain waits for all of them).
 */
static void test_linux_reset_bus(void **state)
{
	enum { N = 64 };
	static struct vsc_stor_result res[N];
	struct vstor_packet reply;
	unsigned got = 0;

	(void)state;
	setup(2, 1, std_disks, 1, 0);
	assert_int_equal(vsc_stor_create_subchannels(&st, 1, 2), 1);
	fx.pump_off = true;
	for (unsigned i = 0; i < N; i++) {
		struct vsc_stor_req r;

		memset(&r, 0, sizeof(r));
		r.tagged = true;
		vsc_scsi_rw(&r, 10, false, i, 8, false);
		r.gpa = dgpa + (uint64_t)i * 4096;
		r.len = 4096;
		assert_int_equal(vsc_stor_submit(&st, i % 2, 100 + i, &r), 0);
	}
	fx.pump_off = false;
	assert_int_equal(vsc_stor_reset_bus(&st, 0, &reply), 0);
	assert_int_equal(reply.operation, VSTOR_OPERATION_COMPLETE_IO);
	while (got < N) {
		int n = vsc_stor_wait(&st, res, N, 0);

		assert_true(n > 0);
		for (int k = 0; k < n; k++) {
			unsigned i = (unsigned)res[k].trans_id - 100;

			assert_true(i < N);
			assert_int_equal(res[k].channel, i % 2);
			assert_int_equal(vsc_stor_srb(&res[k]), SRB_STATUS_SUCCESS);
		}
		got += (unsigned)n;
	}
	assert_int_equal(vsc_stor_inflight(&st), 0);
	teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linux_probe_handshake),
		cmocka_unit_test(test_linux_scan_and_sd_probe),
		cmocka_unit_test(test_linux_scan_win8_1),
		cmocka_unit_test(test_linux_error_mapping),
		cmocka_unit_test(test_linux_sd_io),
		cmocka_unit_test(test_linux_max_transfer_request),
		cmocka_unit_test(test_linux_deep_queue_subchannels),
		cmocka_unit_test(test_linux_reset_bus),
	};

	if (getenv("OPENHV_TEST_FILTER"))
		cmocka_set_test_filter(getenv("OPENHV_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
