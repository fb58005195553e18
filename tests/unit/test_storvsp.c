// SPDX-License-Identifier: MIT
/*
 * Unit tests of the synthetic SCSI controller through the whole stack, in process: the guest's storvsc client
 * (guest/vsc/vsc_stor.h, on the wire like Linux 6.1 storvsc_drv.c) -> VMBus server on plain memory
 * (tests/lib/vmbus_fixture.h) -> StorVSP (vsp/storvsp/storvsp.h) -> SCSI disk target -> io_uring disk backend ->
 * image files in a temporary directory, checked byte for byte with pread() on the host side.
 *
 * Covered (shared/reference/guest-devices.md section 1 is the reference for every expectation):
 *  - init handshake: Linux's version list (6.2), fallback to 6.0 / 5.1, unknown versions refused with a non-zero
 *    status, no common version, properties (max transfer >= 256 KiB, multi-channel, sub-channel count);
 *  - sub-channels: offered with index 1..n, each opened, I/O on each completed on its own channel;
 *  - SCSI: INQUIRY standard and VPD 0x00/0x80/0x83/0xB0/0xB1/0xB2 (truncation, unsupported page), the missing
 *    LUN answer (0x7F) and SRB INVALID_LUN for everything else there, REPORT LUNS, TEST UNIT READY, READ
 *    CAPACITY(10/16), MODE SENSE(6/10) with the write-protect bit and the caching page, READ/WRITE(6/10/16)
 *    on 512- and 4096-byte-block disks with unaligned guest buffers, SYNCHRONIZE CACHE(10/16), UNMAP and WRITE
 *    SAME(16) reading back zeroes, START STOP UNIT, unknown opcodes and bad fields -> CHECK CONDITION + sense;
 *  - several disks, a read-only disk (DATA PROTECT, file unchanged);
 *  - hostile input: GPA ranges outside guest memory, oversize transfers, data_transfer_length that does not match
 *    the PFN range, malformed GPA descriptors, short and garbled vstor packets, I/O before the handshake;
 *  - 256 requests in flight across four channels, a full queue on one channel, RESET_BUS with requests in
 *    flight, close and reopen, UNLOAD with requests in flight (nothing written to guest memory afterwards),
 *    destroying the controller with requests in flight.
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "openhv/storvsp.h"
#include "vmbus_fixture.h"
#include "vsc/vsc_stor.h"
#include "vsp/storvsp/storvsp.h"

#define MAX_DISKS 4u
#ifndef SRB_STATUS_BUS_RESET
#define SRB_STATUS_BUS_RESET 0x0E
#endif
#define DATA_BYTES (6u << 20) /* guest RAM for data buffers */
#define KiB 1024u
#define MiB (1024u * 1024u)

static struct vmbfx fx;
static struct vsc_stor st;
static struct storvsp *sp;

struct dspec {
	uint32_t bs;    /* logical block size */
	uint32_t mib;   /* size */
	bool ro;
	bool direct;    /* O_DIRECT */
};

struct tdisk {
	char path[256];
	uint64_t size;
	uint32_t bs;
	bool ro;
	bool direct;
	int fd;         /* the test's own read-only view */
};

static char tmpdir[128];
static struct tdisk td[MAX_DISKS];
static unsigned ndisks;
static uint64_t dgpa;    /* data region in guest RAM */
static uint8_t *dmem;    /* host view of it */

/* The standard controller: 512-byte rw, 4096-byte rw, 512-byte read-only. */
static const struct dspec std_disks[] = { { 512, 4, false, false }, { 4096, 4, false, false }, { 512, 2, true, false } };

/* ---- helpers ------------------------------------------------------------------------------------------- */

#define PAT_MAX_BYTES (4u << 20) /* largest disk */

/* The initial content of every disk: computed once, 8 bytes per hash. */
static uint8_t *pat_buf[MAX_DISKS];

static const uint8_t *pat_disk(unsigned d)
{
	if (!pat_buf[d]) {
		uint64_t *w = malloc(PAT_MAX_BYTES);

		assert_non_null(w);
		for (uint64_t i = 0; i < PAT_MAX_BYTES / 8; i++) {
			uint64_t x = i * 0x9E3779B97F4A7C15ull + (d + 1) * 0x632BE59BD9B4E019ull;

			x ^= x >> 29;
			x *= 0xBF58476D1CE4E5B9ull;
			w[i] = x ^ (x >> 31);
		}
		pat_buf[d] = (uint8_t *)w;
	}
	return pat_buf[d];
}

/* The initial content of disk @d at byte @off. */
static uint8_t pat(unsigned d, uint64_t off)
{
	return pat_disk(d)[off];
}

static void fill_rand(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

static void make_disk(unsigned i, const struct dspec *ds)
{
	struct tdisk *t = &td[i];
	uint8_t *buf;
	int fd;

	snprintf(t->path, sizeof(t->path), "%s/disk%u.img", tmpdir, i);
	t->size = (uint64_t)ds->mib * MiB;
	t->bs = ds->bs;
	t->ro = ds->ro;
	t->direct = ds->direct;
	assert_true(t->size <= PAT_MAX_BYTES);
	fd = open(t->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	buf = (uint8_t *)pat_disk(i);
	assert_int_equal(pwrite(fd, buf, t->size, 0), (ssize_t)t->size);
	close(fd);
	t->fd = open(t->path, O_RDONLY | O_CLOEXEC);
	assert_true(t->fd >= 0);
}

/* Bytes [off, off + len) of disk @d as the host sees them now. */
static void host_read(unsigned d, uint64_t off, void *buf, size_t len)
{
	assert_int_equal(pread(td[d].fd, buf, len, (off_t)off), (ssize_t)len);
}

/* The file still holds its initial pattern in [off, off + len). */
static void expect_host_pattern(unsigned d, uint64_t off, size_t len)
{
	uint8_t *b = malloc(len);

	assert_non_null(b);
	host_read(d, off, b, len);
	if (memcmp(b, pat_disk(d) + off, len)) {
		for (size_t i = 0; i < len; i++) {
			if (b[i] != pat(d, off + i)) {
				print_error("disk %u byte %llu changed\n", d, (unsigned long long)(off + i));
				break;
			}
		}
		free(b);
		fail();
	}
	free(b);
}

static void expect_host_bytes(unsigned d, uint64_t off, const uint8_t *want, size_t len)
{
	uint8_t *b = malloc(len);

	assert_non_null(b);
	host_read(d, off, b, len);
	assert_memory_equal(b, want, len);
	free(b);
}

static void expect_host_zero(unsigned d, uint64_t off, size_t len)
{
	uint8_t *b = malloc(len);

	assert_non_null(b);
	host_read(d, off, b, len);
	for (size_t i = 0; i < len; i++) {
		if (b[i]) {
			print_error("disk %u byte %llu is 0x%02x, not zero\n", d, (unsigned long long)(off + i), b[i]);
			fail();
		}
	}
	free(b);
}

static uint8_t *gptr(uint64_t gpa, uint64_t len)
{
	uint8_t *p = vid_memory_ptr(fx.mem, gpa, len);

	assert_non_null(p);
	return p;
}

static struct vmbus_guid ctl_instance(void)
{
	return (struct vmbus_guid)VMBUS_GUID_INIT(0x5c510000, 0x0001, 0x4e57, 0x9a, 0x11, 0x00, 0x00, 0x00, 0x00,
						 0x00, 0x01);
}

static void stor_create(unsigned subch, uint32_t max_transfer)
{
	struct storvsp_disk_config dc[MAX_DISKS];
	struct storvsp_config c;

	memset(dc, 0, sizeof(dc));
	for (unsigned i = 0; i < ndisks; i++) {
		dc[i].path = td[i].path;
		dc[i].read_only = td[i].ro;
		dc[i].block_size = td[i].bs;
		dc[i].direct = td[i].direct;
	}
	memset(&c, 0, sizeof(c));
	c.srv = fx.srv;
	c.instance_id = ctl_instance();
	c.name = "scsi0";
	c.disks = dc;
	c.disk_count = ndisks;
	c.max_subchannels = subch;
	c.max_transfer_bytes = max_transfer;
	assert_int_equal(storvsp_create(&c, &sp), 0);
	assert_non_null(sp);
}

/*
 * A fixture of @vps VPs with a controller of @n disks (@ds), at most @subch sub-channels, the client connected
 * and the primary open; the handshake done when @handshake.
 */
static void setup_ex(unsigned vps, unsigned subch, const struct dspec *ds, unsigned n, uint32_t max_transfer,
		     bool handshake)
{
	vmbfx_init(&fx, vps, 0);
	strcpy(tmpdir, "/tmp/openhv-storvsp.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	ndisks = n;
	for (unsigned i = 0; i < n; i++)
		make_disk(i, &ds[i]);
	stor_create(subch, max_transfer);
	vmbfx_connect(&fx);
	dgpa = vmbfx_plat_alloc_pages(&fx, DATA_BYTES / VSC_PAGE_SIZE);
	assert_true(dgpa != 0);
	dmem = gptr(dgpa, DATA_BYTES);
	vsc_stor_init(&st, &fx.bus);
	assert_int_equal(vsc_stor_open(&st, 0), 0);
	if (handshake)
		assert_int_equal(vsc_stor_handshake(&st), 0);
}

static void setup_std(void)
{
	setup_ex(4, 3, std_disks, 3, 0, true);
}

static void expect_client_clean(void)
{
	static const struct vsc_stor_errors zero;

	if (memcmp(&st.err, &zero, sizeof(zero))) {
		print_error("client saw: short %u long %u unknown_id %u not_complete_io %u bad_id0 %u wrong_channel %u "
			    "stray_init %u overrun %u recv_errors %u\n", st.err.short_packets, st.err.long_packets,
			    st.err.unknown_trans_id, st.err.not_complete_io, st.err.bad_id0, st.err.wrong_channel,
			    st.err.stray_init, st.err.overrun, st.err.recv_errors);
		fail();
	}
}

static void teardown_ex(bool check_clean)
{
	if (check_clean)
		expect_client_clean();
	storvsp_destroy(sp);
	sp = NULL;
	vmbfx_fini(&fx);
	for (unsigned i = 0; i < ndisks; i++) {
		close(td[i].fd);
		unlink(td[i].path);
	}
	rmdir(tmpdir);
	ndisks = 0;
}

static void teardown(void)
{
	teardown_ex(true);
}

static struct storvsp_stats stats(void)
{
	struct storvsp_stats s;

	storvsp_stats(sp, &s);
	return s;
}

static struct vsc_stor_req req(uint8_t lun)
{
	struct vsc_stor_req r;

	memset(&r, 0, sizeof(r));
	r.lun = lun;
	r.tagged = true;
	return r;
}

/* Run @r to completion on channel @ch. */
static struct vsc_stor_result run_on(unsigned ch, const struct vsc_stor_req *r)
{
	struct vsc_stor_result res;
	int ret = vsc_stor_execute_on(&st, ch, r, &res);

	if (ret)
		print_error("request (opcode 0x%02x) not completed: %d\n", r->cdb[0], ret);
	assert_int_equal(ret, 0);
	assert_int_equal(res.operation, VSTOR_OPERATION_COMPLETE_IO);
	assert_true(res.data_transfer_length <= res.requested);
	return res;
}

static struct vsc_stor_result run(const struct vsc_stor_req *r)
{
	return run_on(0, r);
}

static void expect_ok(const struct vsc_stor_result *res, uint32_t dtl)
{
	if (vsc_stor_srb(res) != SRB_STATUS_SUCCESS || res->scsi_status != 0)
		print_error("srb 0x%02x scsi 0x%02x sense %x/%02x/%02x, expected GOOD\n", res->srb_status,
			    res->scsi_status, vsc_stor_sense_key(res), vsc_stor_asc(res), vsc_stor_ascq(res));
	assert_int_equal(vsc_stor_srb(res), SRB_STATUS_SUCCESS);
	assert_int_equal(res->scsi_status, 0);
	assert_int_equal(res->data_transfer_length, dtl);
}

/* CHECK CONDITION with autosense: sense key @key and ASC @asc (-1: any); no data (guest-devices.md 1.4). */
static void expect_cc(const struct vsc_stor_result *res, uint8_t key, int asc)
{
	if (res->scsi_status != 2 || !res->sense_valid || vsc_stor_sense_key(res) != key ||
	    (asc >= 0 && vsc_stor_asc(res) != asc))
		print_error("srb 0x%02x scsi 0x%02x sense %x/%02x/%02x, expected CHECK CONDITION %x/%02x\n",
			    res->srb_status, res->scsi_status, vsc_stor_sense_key(res), vsc_stor_asc(res),
			    vsc_stor_ascq(res), key, asc);
	assert_int_equal(res->scsi_status, 2);
	assert_true(res->srb_status & SRB_STATUS_AUTOSENSE_VALID);
	assert_true(vsc_stor_srb(res) == SRB_STATUS_ERROR || vsc_stor_srb(res) == SRB_STATUS_INVALID_REQUEST);
	assert_int_equal(res->sense[0] & 0x7F, 0x70); /* fixed format, current */
	assert_int_equal(vsc_stor_sense_key(res), key);
	if (asc >= 0)
		assert_int_equal(vsc_stor_asc(res), asc);
	assert_int_equal(res->data_transfer_length, 0);
}

/* An error of any kind (not SUCCESS) that moved no data. */
static void expect_failed(const struct vsc_stor_result *res)
{
	if (vsc_stor_srb(res) == SRB_STATUS_SUCCESS || res->data_transfer_length)
		print_error("srb 0x%02x scsi 0x%02x dtl %u: expected an error without data\n", res->srb_status,
			    res->scsi_status, res->data_transfer_length);
	assert_int_not_equal(vsc_stor_srb(res), SRB_STATUS_SUCCESS);
	assert_int_equal(res->data_transfer_length, 0);
}

/* A READ/WRITE of @blocks at @lba of LUN @lun through a (@cdb_len) CDB, buffer at @gpa. */
static struct vsc_stor_result rw(uint8_t lun, unsigned cdb_len, bool write, uint64_t lba, uint32_t blocks,
				 uint64_t gpa)
{
	struct vsc_stor_req r = req(lun);

	vsc_scsi_rw(&r, cdb_len, write, lba, blocks, false);
	r.gpa = gpa;
	r.len = (cdb_len == 6 && blocks == 0 ? 256 : blocks) * td[lun].bs;
	return run(&r);
}

static struct vsc_stor_result inquiry(uint8_t lun, bool evpd, uint8_t page, uint16_t alloc, uint64_t gpa)
{
	struct vsc_stor_req r = req(lun);

	vsc_scsi_inquiry(&r, evpd, page, alloc);
	r.gpa = gpa;
	r.len = alloc;
	memset(gptr(gpa, alloc > 512 ? alloc : 512), 0xCC, alloc > 512 ? alloc : 512);
	return run(&r);
}

static struct vsc_stor_result tur(uint8_t lun)
{
	struct vsc_stor_req r = req(lun);

	vsc_scsi_test_unit_ready(&r);
	return run(&r);
}

/* The channel still works: TEST UNIT READY on LUN 0. */
static void expect_alive(void)
{
	struct vsc_stor_result res = tur(0);

	expect_ok(&res, 0);
}

/* ---- handshake ------------------------------------------------------------------------------------------ */

static void test_handshake_linux(void **state)
{
	struct storvsp_stats s;

	(void)state;
	setup_std();
	assert_int_equal(st.protocol, VMSTOR_PROTO_VERSION_WIN10);
	assert_int_equal(st.version_statuses[0], 0);
	assert_true(st.props.max_transfer_bytes >= 256 * KiB);
	assert_int_equal(st.props.max_transfer_bytes % 4096, 0);
	assert_int_equal(st.max_transfer, st.props.max_transfer_bytes);
	assert_true(st.multi_channel);
	assert_int_equal(st.props.max_channel_cnt, 3);
	s = stats();
	assert_int_equal(s.protocol, VMSTOR_PROTO_VERSION_WIN10);
	assert_int_equal(s.channels_open, 1);
	/* every reply was 64 bytes in a completion packet that fits Linux's 80-byte buffer */
	assert_int_equal(st.err.long_packets + st.err.short_packets + st.err.stray_init, 0);
	expect_alive();
	teardown();
}

/* The configured max transfer and sub-channel count reach the guest; no sub-channels: no multi-channel. */
static void test_properties_config(void **state)
{
	(void)state;
	setup_ex(1, 0, std_disks, 1, 512 * KiB, true);
	assert_int_equal(st.props.max_transfer_bytes, 512 * KiB);
	assert_true(!st.multi_channel || st.props.max_channel_cnt == 0);
	assert_int_equal(st.props.max_channel_cnt, 0);
	teardown();
}

static void handshake_versions(const uint16_t *v, unsigned n, int want, uint16_t want_proto)
{
	setup_ex(2, 1, std_disks, 1, 0, false);
	for (unsigned i = 0; i < n; i++)
		st.versions[i] = v[i];
	st.version_count = n;
	assert_int_equal(vsc_stor_handshake(&st), want);
	assert_int_equal(st.protocol, want_proto);
	if (!want) {
		assert_int_equal(stats().protocol, want_proto);
		expect_alive();
	}
}

static void test_handshake_fallback(void **state)
{
	static const uint16_t v51[] = { VMSTOR_PROTO_VERSION_WIN8 };
	static const uint16_t v60[] = { VMSTOR_PROTO_VERSION_WIN8_1 };
	/* an old guest offering versions the host does not speak first */
	static const uint16_t old_first[] = { VMSTOR_PROTO_VERSION(4, 2), VMSTOR_PROTO_VERSION(2, 0),
					      VMSTOR_PROTO_VERSION_WIN8 };

	(void)state;
	handshake_versions(v51, 1, 0, VMSTOR_PROTO_VERSION_WIN8);
	assert_true(st.props.max_transfer_bytes >= 256 * KiB);
	teardown();
	handshake_versions(v60, 1, 0, VMSTOR_PROTO_VERSION_WIN8_1);
	teardown();
	handshake_versions(old_first, 3, 0, VMSTOR_PROTO_VERSION_WIN8);
	assert_int_not_equal(st.version_statuses[0], 0);
	assert_int_not_equal(st.version_statuses[1], 0);
	assert_int_equal(st.version_statuses[2], 0);
	teardown();
}

static void test_handshake_unknown_version(void **state)
{
	static const uint16_t none[] = { VMSTOR_PROTO_VERSION(4, 2), VMSTOR_PROTO_VERSION(7, 0),
					 VMSTOR_PROTO_VERSION(0xFF, 0xFF) };
	struct vstor_packet p;

	(void)state;
	/* no common version: every answer COMPLETE_IO with a non-zero status; the guest gives up */
	handshake_versions(none, 3, -VSC_ECONNREFUSED, 0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_not_equal(st.version_statuses[i], 0);
	/* the same channel can still negotiate properly (Linux would re-probe) */
	st.versions[0] = VMSTOR_PROTO_VERSION_WIN10;
	st.version_count = 1;
	assert_int_equal(vsc_stor_handshake(&st), 0);
	assert_int_equal(st.protocol, VMSTOR_PROTO_VERSION_WIN10);
	/* one unknown version by hand: refused with REVISION_MISMATCH as Hyper-V does (Linux tests != 0) */
	memset(&p, 0, sizeof(p));
	p.operation = VSTOR_OPERATION_QUERY_PROTOCOL_VERSION;
	p.u.version.major_minor = VMSTOR_PROTO_VERSION(6, 3);
	assert_int_equal(vsc_stor_init_op(&st, &p), 0);
	assert_int_equal(p.operation, VSTOR_OPERATION_COMPLETE_IO);
	assert_int_not_equal(p.status, 0);
	teardown();
}

/* Sub-channel offers the client has seen for this controller. */
static unsigned subchannel_offers(void)
{
	unsigned n = 0;

	for (int i = 0; i < 20; i++) {
		vmbfx_settle(&fx);
		vsc_bus_poll_msgs(&fx.bus);
	}
	for (unsigned i = 0; i < fx.bus.offer_count; i++)
		if (fx.bus.offers[i].msg.sub_channel_index && !fx.bus.offers[i].rescinded)
			n++;
	return n;
}

/*
 * Out of order (guest-devices.md 1.3: CREATE_SUB_CHANNELS comes after END_INITIALIZATION): sub-channels asked
 * for before the handshake are refused and not offered.
 */
static void test_handshake_order(void **state)
{
	struct vstor_packet p;

	(void)state;
	setup_ex(2, 1, std_disks, 1, 0, false);
	memset(&p, 0, sizeof(p));
	p.operation = VSTOR_OPERATION_CREATE_SUB_CHANNELS;
	p.u.sub_channel_count = 1;
	assert_int_equal(vsc_stor_init_op(&st, &p), 0);
	assert_int_equal(p.operation, VSTOR_OPERATION_COMPLETE_IO);
	if (p.status == 0 || subchannel_offers())
		fail_msg("CREATE_SUB_CHANNELS as the first packet: status 0x%08x, %u sub-channels offered", p.status,
			 subchannel_offers());
	/* after BEGIN and a version, still before END_INITIALIZATION */
	memset(&p, 0, sizeof(p));
	p.operation = VSTOR_OPERATION_BEGIN_INITIALIZATION;
	assert_int_equal(vsc_stor_init_op(&st, &p), 0);
	memset(&p, 0, sizeof(p));
	p.operation = VSTOR_OPERATION_QUERY_PROTOCOL_VERSION;
	p.u.version.major_minor = VMSTOR_PROTO_VERSION_WIN10;
	assert_int_equal(vsc_stor_init_op(&st, &p), 0);
	assert_int_equal(p.status, 0);
	memset(&p, 0, sizeof(p));
	p.operation = VSTOR_OPERATION_CREATE_SUB_CHANNELS;
	p.u.sub_channel_count = 1;
	assert_int_equal(vsc_stor_init_op(&st, &p), 0);
	if (p.status == 0 || subchannel_offers())
		fail_msg("CREATE_SUB_CHANNELS before END_INITIALIZATION: status 0x%08x, %u sub-channels offered",
			 p.status, subchannel_offers());
	teardown_ex(false);
}

/* Control operations the host does not know, or I/O before the handshake: answered or dropped, never a crash;
 * the handshake works afterwards. */
static void test_handshake_hostile(void **state)
{
	static const uint32_t ops[] = { VSTOR_OPERATION_COMPLETE_IO, VSTOR_OPERATION_REMOVE_DEVICE,
					VSTOR_OPERATION_ENUMERATE_BUS, VSTOR_OPERATION_FCHBA_DATA, 14, 200, 0,
					0xFFFFFFFFu };
	struct vstor_packet p;
	struct vsc_stor_result res[4];
	struct vsc_stor_req r;
	int n;

	(void)state;
	setup_ex(2, 1, std_disks, 1, 0, false);
	st.timeout_ms = 300;
	/* EXECUTE_SRB before any handshake: if answered, with a status */
	r = req(0);
	vsc_scsi_test_unit_ready(&r);
	assert_int_equal(vsc_stor_submit(&st, 0, 1234, &r), 0);
	n = vsc_stor_wait(&st, res, 4, 300);
	assert_true(n == 1 || n == -VSC_ETIMEDOUT);
	/* operations a host does not serve: if answered, not with success */
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.operation = ops[i];
		if (vsc_stor_init_op(&st, &p) == 0 && p.operation == VSTOR_OPERATION_COMPLETE_IO && p.status == 0)
			fail_msg("operation %u answered with success", ops[i]);
	}
	/* the whole handshake, twice in a row */
	st.timeout_ms = 0;
	assert_int_equal(vsc_stor_handshake(&st), 0);
	assert_int_equal(vsc_stor_handshake(&st), 0);
	assert_int_equal(st.protocol, VMSTOR_PROTO_VERSION_WIN10);
	expect_alive();
	assert_int_equal(vmbfx_stats(&fx).channels_broken, 0);
	teardown_ex(false);
}

/* ---- sub-channels ---------------------------------------------------------------------------------------- */

static void test_subchannels(void **state)
{
	(void)state;
	setup_std();
	assert_int_equal(vsc_stor_create_subchannels(&st, 3, 4), 3);
	assert_int_equal(st.subchannels, 3);
	assert_int_equal(stats().channels_open, 4);
	for (unsigned c = 1; c <= 3; c++) {
		struct vsc_stor_result res;
		struct vsc_stor_req r = req(0);

		assert_int_equal(st.ch[c].target_vp, c % 4);
		vsc_scsi_test_unit_ready(&r);
		res = run_on(c, &r);
		expect_ok(&res, 0);
		assert_int_equal(res.channel, c);
		/* a data command on the sub-channel */
		vsc_scsi_rw(&r, 10, false, c, 1, false);
		r.gpa = dgpa + c * 8192;
		r.len = 512;
		res = run_on(c, &r);
		expect_ok(&res, 512);
		assert_int_equal(res.channel, c);
		for (unsigned i = 0; i < 512; i++)
			assert_int_equal(dmem[c * 8192 + i], pat(0, c * 512 + i));
	}
	teardown();
}

/* The guest asks for more than the host offers, or twice: never more than max_channel_cnt offers. */
static void test_subchannels_bounds(void **state)
{
	struct vstor_packet p;
	unsigned subs = 0;

	(void)state;
	setup_ex(4, 2, std_disks, 1, 0, true);
	memset(&p, 0, sizeof(p));
	p.operation = VSTOR_OPERATION_CREATE_SUB_CHANNELS;
	p.u.sub_channel_count = 40;
	assert_int_equal(vsc_stor_init_op(&st, &p), 0);
	assert_int_equal(p.operation, VSTOR_OPERATION_COMPLETE_IO);
	for (int i = 0; i < 50; i++) {
		vmbfx_settle(&fx);
		vsc_bus_poll_msgs(&fx.bus);
	}
	for (unsigned i = 0; i < fx.bus.offer_count; i++)
		if (fx.bus.offers[i].msg.sub_channel_index)
			subs++;
	assert_true(subs <= 2);
	/* a second request offers nothing more */
	memset(&p, 0, sizeof(p));
	p.operation = VSTOR_OPERATION_CREATE_SUB_CHANNELS;
	p.u.sub_channel_count = 1;
	assert_int_equal(vsc_stor_init_op(&st, &p), 0);
	for (int i = 0; i < 50; i++) {
		vmbfx_settle(&fx);
		vsc_bus_poll_msgs(&fx.bus);
	}
	{
		unsigned again = 0;

		for (unsigned i = 0; i < fx.bus.offer_count; i++)
			if (fx.bus.offers[i].msg.sub_channel_index)
				again++;
		assert_int_equal(again, subs);
	}
	/* count 0 is not a request for sub-channels */
	memset(&p, 0, sizeof(p));
	p.operation = VSTOR_OPERATION_CREATE_SUB_CHANNELS;
	assert_int_equal(vsc_stor_init_op(&st, &p), 0);
	expect_alive();
	teardown();
}

/* ---- SCSI commands -------------------------------------------------------------------------------------- */

static bool printable(const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

static void test_inquiry_standard(void **state)
{
	struct vsc_stor_result res;
	uint8_t *b = dmem;
	unsigned n;

	(void)state;
	setup_std();
	for (uint8_t lun = 0; lun < 3; lun++) {
		res = inquiry(lun, false, 0, 36, dgpa);
		expect_ok(&res, 36);
		assert_int_equal(b[0], 0x00);            /* PQ 0, direct-access block device */
		assert_true(b[2] >= 5);                 /* SPC-3 or later: Linux reads READ CAPACITY(16) */
		assert_int_equal(b[3] & 0x0F, 2);       /* response data format */
		assert_true(b[4] + 5u >= 36);
		assert_true(printable(b + 8, 28));      /* vendor, product, revision */
		n = b[4] + 5u;
		res = inquiry(lun, false, 0, 255, dgpa);
		expect_ok(&res, n < 255 ? n : 255);
		/* truncated to the allocation length */
		res = inquiry(lun, false, 0, 5, dgpa);
		expect_ok(&res, 5);
		assert_int_equal(dmem[5], 0xCC);
		assert_int_equal(b[0], 0x00);
	}
	/* allocation length 0: nothing moved, no error */
	{
		struct vsc_stor_req r = req(0);

		vsc_scsi_inquiry(&r, false, 0, 0);
		res = run(&r);
		expect_ok(&res, 0);
	}
	teardown();
}

static const uint8_t *vpd(uint8_t lun, uint8_t page, uint16_t alloc, unsigned *len)
{
	struct vsc_stor_result res = inquiry(lun, true, page, alloc, dgpa);

	expect_ok(&res, res.data_transfer_length);
	assert_true(res.data_transfer_length >= 4);
	assert_int_equal(dmem[1], page);
	*len = vsc_be16(dmem + 2);
	assert_true(*len > 0);
	assert_int_equal(res.data_transfer_length, 4 + *len < alloc ? 4 + *len : alloc);
	return dmem;
}

static void test_inquiry_vpd(void **state)
{
	static const uint8_t want[] = { 0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2 };
	uint8_t serial[2][64], desig[2][64];
	unsigned serial_len[2], desig_len[2];

	(void)state;
	setup_std();
	for (uint8_t lun = 0; lun < 2; lun++) {
		unsigned len, have = 0;
		const uint8_t *p;
		struct vsc_stor_result res;

		/* page 0: header only first (Linux), then the whole list, ascending */
		res = inquiry(lun, true, 0x00, 4, dgpa);
		expect_ok(&res, 4);
		p = vpd(lun, 0x00, 255, &len);
		for (unsigned i = 0; i < len; i++) {
			if (i)
				assert_true(p[4 + i] > p[4 + i - 1]);
			for (unsigned j = 0; j < sizeof(want); j++)
				if (p[4 + i] == want[j])
					have++;
		}
		assert_int_equal(have, sizeof(want));
		/* 0x80: unit serial number, printable, one per disk */
		p = vpd(lun, 0x80, 255, &len);
		assert_true(len <= 64);
		assert_true(printable(p + 4, len));
		memcpy(serial[lun], p + 4, len);
		serial_len[lun] = len;
		/* 0x83: at least one LUN-associated designator of type NAA, EUI-64 or T10 */
		p = vpd(lun, 0x83, 255, &len);
		{
			unsigned off = 4, found = 0;

			while (off + 4 <= 4 + len) {
				unsigned dl = p[off + 3], type = p[off + 1] & 0x0F, assoc = (p[off + 1] >> 4) & 3;

				assert_true(off + 4 + dl <= 4 + len);
				if (assoc == 0 && (type == 1 || type == 2 || type == 3) && !found) {
					found = 1;
					assert_true(dl <= 64);
					memcpy(desig[lun], p + off + 4, dl);
					desig_len[lun] = dl;
				}
				off += 4 + dl;
			}
			assert_int_equal(found, 1);
		}
		/* 0xB0 block limits: transfer limits within what QUERY_PROPERTIES said; unmap limits for UNMAP */
		p = vpd(lun, 0xB0, 255, &len);
		assert_true(len >= 0x3C);
		{
			uint32_t max_xfer = vsc_be32(p + 8), max_unmap = vsc_be32(p + 20), max_desc = vsc_be32(p + 24);

			if (max_xfer && (uint64_t)max_xfer * td[lun].bs > st.max_transfer)
				fail_msg("VPD 0xB0 MAXIMUM TRANSFER LENGTH %u blocks of %u bytes exceeds the controller's "
					 "max_transfer_bytes %u", max_xfer, td[lun].bs, st.max_transfer);
			assert_true(max_unmap > 0);
			assert_true(max_desc > 0);
		}
		/* 0xB1 block device characteristics */
		p = vpd(lun, 0xB1, 255, &len);
		assert_true(len >= 0x3C);
		/* 0xB2 logical block provisioning: UNMAP and WRITE SAME(16) with UNMAP (image files punch holes) */
		p = vpd(lun, 0xB2, 255, &len);
		assert_true(p[5] & 0x80); /* LBPU */
		assert_true(p[5] & 0x40); /* LBPWS */
		/* truncation: the header says the full length, the transfer what fits */
		res = inquiry(lun, true, 0xB0, 8, dgpa);
		expect_ok(&res, 8);
		assert_int_equal(dmem[1], 0xB0);
		assert_true(vsc_be16(dmem + 2) >= 0x3C);
		assert_int_equal(dmem[8], 0xCC);
		/* an unsupported page: CHECK CONDITION, ILLEGAL REQUEST, INVALID FIELD IN CDB, no data */
		res = inquiry(lun, true, 0x99, 255, dgpa);
		expect_cc(&res, 5, 0x24);
		/* a page code with EVPD clear */
		res = inquiry(lun, false, 0x80, 255, dgpa);
		expect_cc(&res, 5, 0x24);
	}
	assert_false(serial_len[0] == serial_len[1] && !memcmp(serial[0], serial[1], serial_len[0]));
	assert_false(desig_len[0] == desig_len[1] && !memcmp(desig[0], desig[1], desig_len[0]));
	/* RC16's LBPME agrees with VPD 0xB2 */
	{
		struct vsc_stor_req r = req(0);
		struct vsc_stor_result res;

		vsc_scsi_read_capacity16(&r, 32);
		r.gpa = dgpa;
		r.len = 32;
		res = run(&r);
		expect_ok(&res, 32);
		assert_true(dmem[14] & 0x80);
	}
	teardown();
}

/* The missing-LUN rule (guest-devices.md 1.6). */
static void test_missing_lun(void **state)
{
	static const struct { uint8_t path, target, lun; } nowhere[] = {
		{ 0, 0, 3 }, { 0, 0, 63 }, { 0, 0, 64 }, { 0, 0, 254 }, { 0, 1, 0 }, { 1, 0, 0 }, { 7, 1, 0 },
	};

	(void)state;
	setup_std();
	for (unsigned i = 0; i < sizeof(nowhere) / sizeof(nowhere[0]); i++) {
		struct vsc_stor_req r = req(nowhere[i].lun);
		struct vsc_stor_result res;

		r.path_id = nowhere[i].path;
		r.target_id = nowhere[i].target;
		/* INQUIRY: real data, PQ 011b / type 0x1F, success */
		vsc_scsi_inquiry(&r, false, 0, 36);
		r.gpa = dgpa;
		r.len = 36;
		memset(dmem, 0xCC, 64);
		res = run(&r);
		assert_int_equal(vsc_stor_srb(&res), SRB_STATUS_SUCCESS);
		assert_int_equal(res.scsi_status, 0);
		assert_true(res.data_transfer_length > 0);
		assert_int_equal(dmem[0], 0x7F);
		/* everything else: SRB INVALID_LUN, no data */
		vsc_scsi_test_unit_ready(&r);
		r.len = 0;
		res = run(&r);
		assert_int_equal(vsc_stor_srb(&res), SRB_STATUS_INVALID_LUN);
		assert_int_equal(res.data_transfer_length, 0);
		vsc_scsi_rw(&r, 10, false, 0, 1, false);
		r.len = 512;
		memset(dmem, 0xCC, 512);
		res = run(&r);
		assert_int_equal(vsc_stor_srb(&res), SRB_STATUS_INVALID_LUN);
		assert_int_equal(res.data_transfer_length, 0);
		assert_int_equal(dmem[0], 0xCC);
		vsc_scsi_read_capacity10(&r);
		r.len = 8;
		res = run(&r);
		assert_int_equal(vsc_stor_srb(&res), SRB_STATUS_INVALID_LUN);
		vsc_scsi_rw(&r, 10, true, 0, 1, false);
		r.len = 512;
		res = run(&r);
		assert_int_equal(vsc_stor_srb(&res), SRB_STATUS_INVALID_LUN);
	}
	for (unsigned d = 0; d < 3; d++)
		expect_host_pattern(d, 0, 512);
	teardown();
}

static void expect_lun_list(const struct vsc_stor_result *res, unsigned n)
{
	expect_ok(res, 8 + 8 * n);
	assert_int_equal(vsc_be32(dmem), 8 * n);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(vsc_be16(dmem + 8 + 8 * i), i); /* single-level LUN, peripheral addressing */
		for (unsigned j = 2; j < 8; j++)
			assert_int_equal(dmem[8 + 8 * i + j], 0);
	}
}

static void test_report_luns(void **state)
{
	struct vsc_stor_result res;
	struct vsc_stor_req r;

	(void)state;
	setup_std();
	/* from LUN 0 and from a LUN that does not exist: the same list of every disk */
	for (uint8_t lun = 0; lun < 8; lun += 7) {
		r = req(lun);
		vsc_scsi_report_luns(&r, 0, 4096);
		r.gpa = dgpa;
		r.len = 4096;
		res = run(&r);
		expect_lun_list(&res, 3);
	}
	/* truncated: the list length still says 3 */
	r = req(0);
	vsc_scsi_report_luns(&r, 0, 16);
	r.gpa = dgpa;
	r.len = 16;
	res = run(&r);
	expect_ok(&res, 16);
	assert_int_equal(vsc_be32(dmem), 24);
	teardown();

	/* a controller with one disk lists one */
	{
		static const struct dspec one[] = { { 512, 1, false, false } };

		setup_ex(1, 0, one, 1, 0, true);
		r = req(0);
		vsc_scsi_report_luns(&r, 0, 4096);
		r.gpa = dgpa;
		r.len = 4096;
		res = run(&r);
		expect_lun_list(&res, 1);
		teardown();
	}
}

static void test_tur_capacity(void **state)
{
	(void)state;
	setup_std();
	for (uint8_t lun = 0; lun < 3; lun++) {
		uint64_t blocks = td[lun].size / td[lun].bs;
		struct vsc_stor_result res = tur(lun);
		struct vsc_stor_req r = req(lun);

		expect_ok(&res, 0);
		vsc_scsi_read_capacity10(&r);
		r.gpa = dgpa;
		r.len = 8;
		res = run(&r);
		expect_ok(&res, 8);
		assert_int_equal(vsc_be32(dmem), blocks - 1);
		assert_int_equal(vsc_be32(dmem + 4), td[lun].bs);
		vsc_scsi_read_capacity16(&r, 32);
		r.len = 32;
		memset(dmem, 0xCC, 64);
		res = run(&r);
		expect_ok(&res, 32);
		assert_int_equal(vsc_be64(dmem), blocks - 1);
		assert_int_equal(vsc_be32(dmem + 8), td[lun].bs);
		assert_int_equal(dmem[12] & 1, 0);                   /* no protection */
		assert_true((dmem[13] & 0x0F) <= 3);                 /* physical block exponent */
		assert_int_equal(td[lun].bs << (dmem[13] & 0x0F), td[lun].bs == 512 ? 4096 : 4096);
		/* a short allocation length truncates */
		vsc_scsi_read_capacity16(&r, 12);
		r.len = 12;
		memset(dmem, 0xCC, 64);
		res = run(&r);
		expect_ok(&res, 12);
		assert_int_equal(vsc_be32(dmem + 8), td[lun].bs);
		assert_int_equal(dmem[12], 0xCC);
	}
	teardown();
}

/* The offset of mode page @page after a MODE SENSE header of @hdr bytes with @bd bytes of block descriptors. */
static int find_page(const uint8_t *p, unsigned hdr, unsigned bd, unsigned total, uint8_t page)
{
	unsigned off = hdr + bd;

	while (off + 2 <= total) {
		if ((p[off] & 0x3F) == page)
			return (int)off;
		off += 2u + p[off + 1];
	}
	return -1;
}

static void test_mode_sense(void **state)
{
	(void)state;
	setup_std();
	for (uint8_t lun = 0; lun < 3; lun++) {
		bool ro = td[lun].ro;
		struct vsc_stor_req r = req(lun);
		struct vsc_stor_result res;
		int pg;

		/* MODE SENSE(6), all pages, as sd_read_write_protect_flag() */
		vsc_scsi_mode_sense6(&r, false, 0, 0x3F, 0xFF);
		r.gpa = dgpa;
		r.len = 0xFF;
		res = run(&r);
		expect_ok(&res, res.data_transfer_length);
		assert_int_equal(res.data_transfer_length, dmem[0] + 1u);
		assert_int_equal(!!(dmem[2] & 0x80), ro);
		assert_true(dmem[3] == 0 || dmem[3] == 8);
		pg = find_page(dmem, 4, dmem[3], res.data_transfer_length, 0x08);
		assert_true(pg >= 0);
		assert_int_equal(dmem[pg + 1], 0x12);
		assert_true(dmem[pg + 2] & 0x04); /* WCE: the guest sends SYNCHRONIZE CACHE */
		/* the caching page alone, as sd_read_cache_type() */
		vsc_scsi_mode_sense6(&r, false, 0, 0x08, 0xFF);
		res = run(&r);
		expect_ok(&res, res.data_transfer_length);
		pg = find_page(dmem, 4, dmem[3], res.data_transfer_length, 0x08);
		assert_true(pg >= 0);
		assert_int_equal(!!(dmem[2] & 0x80), ro);
		/* truncated to 4: the header only, with the full length in it */
		vsc_scsi_mode_sense6(&r, false, 0, 0x3F, 4);
		r.len = 4;
		memset(dmem, 0xCC, 8);
		res = run(&r);
		expect_ok(&res, 4);
		assert_true(dmem[0] + 1u > 4);
		assert_int_equal(dmem[4], 0xCC);
		/* MODE SENSE(10) */
		vsc_scsi_mode_sense10(&r, false, 0, 0x3F, 512);
		r.len = 512;
		res = run(&r);
		expect_ok(&res, res.data_transfer_length);
		assert_int_equal(res.data_transfer_length, vsc_be16(dmem) + 2u);
		assert_int_equal(!!(dmem[3] & 0x80), ro);
		pg = find_page(dmem, 8, vsc_be16(dmem + 6), res.data_transfer_length, 0x08);
		assert_true(pg >= 0);
		assert_true(dmem[pg + 2] & 0x04);
		/* DBD: no block descriptors */
		vsc_scsi_mode_sense10(&r, true, 0, 0x08, 512);
		res = run(&r);
		expect_ok(&res, res.data_transfer_length);
		assert_int_equal(vsc_be16(dmem + 6), 0);
		assert_int_equal(dmem[8] & 0x3F, 0x08);
		/* a page the disk does not have */
		vsc_scsi_mode_sense6(&r, false, 0, 0x2B, 0xFF);
		r.len = 0xFF;
		res = run(&r);
		expect_cc(&res, 5, 0x24);
	}
	teardown();
}

/* READ/WRITE(6/10/16) with unaligned guest buffers; every byte checked against the image host-side. */
static void rw_disk(uint8_t lun)
{
	uint32_t bs = td[lun].bs;
	static const struct { unsigned cdb; uint64_t lba; uint32_t blocks; uint32_t goff; } w[] = {
		{ 10, 3, 5, 100 }, { 6, 20, 2, 4000 }, { 16, 40, 9, 8192 + 7 }, { 10, 0, 1, 0 },
	};
	struct vsc_stor_result res;

	for (unsigned i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		uint32_t len = w[i].blocks * bs;
		uint8_t *src = dmem + w[i].goff;
		uint8_t *dst = dmem + 2 * MiB + w[i].goff;

		fill_rand(src, len, lun * 100 + i);
		res = rw(lun, w[i].cdb, true, w[i].lba, w[i].blocks, dgpa + w[i].goff);
		expect_ok(&res, len);
		expect_host_bytes(lun, w[i].lba * bs, src, len);
		/* the neighbours are untouched */
		if (w[i].lba)
			expect_host_pattern(lun, w[i].lba * bs - bs, bs);
		expect_host_pattern(lun, (w[i].lba + w[i].blocks) * bs, bs);
		/* read back with each CDB size */
		for (unsigned c = 0; c < 3; c++) {
			unsigned cdb = c == 0 ? 6 : c == 1 ? 10 : 16;

			memset(dst - 16, 0xA5, len + 32);
			res = rw(lun, cdb, false, w[i].lba, w[i].blocks, dgpa + 2 * MiB + w[i].goff);
			expect_ok(&res, len);
			assert_memory_equal(dst, src, len);
			assert_int_equal(dst[-1], 0xA5);
			assert_int_equal(dst[len], 0xA5);
		}
	}
	/* FUA write */
	{
		struct vsc_stor_req r = req(lun);

		fill_rand(dmem, bs, 77);
		vsc_scsi_rw(&r, 10, true, 60, 1, true);
		r.gpa = dgpa;
		r.len = bs;
		res = run(&r);
		expect_ok(&res, bs);
		expect_host_bytes(lun, 60 * bs, dmem, bs);
	}
	/* unwritten areas read back as the image's initial content, over many pages */
	res = rw(lun, 10, false, 100, 64 * KiB / bs, dgpa + 3 * MiB + 300);
	expect_ok(&res, 64 * KiB);
	for (uint32_t i = 0; i < 64 * KiB; i++)
		if (dmem[3 * MiB + 300 + i] != pat(lun, 100 * bs + i))
			fail_msg("byte %u of the read differs", i);
	/* READ(6) with 0 blocks means 256 */
	if (256 * bs <= st.max_transfer) {
		res = rw(lun, 6, false, 0, 0, dgpa + 4 * MiB);
		expect_ok(&res, 256 * bs);
	}
	/* READ(10) of 0 blocks: nothing */
	res = rw(lun, 10, false, 5, 0, dgpa);
	expect_ok(&res, 0);
	/* the largest transfer the host announced */
	res = rw(lun, 10, false, 0, st.max_transfer / bs, dgpa + 512);
	expect_ok(&res, st.max_transfer);
	/* beyond the end: ILLEGAL REQUEST, LBA OUT OF RANGE */
	{
		uint64_t blocks = td[lun].size / bs;

		res = rw(lun, 10, false, blocks - 1, 2, dgpa);
		expect_cc(&res, 5, 0x21);
		res = rw(lun, 16, true, blocks, 1, dgpa);
		expect_cc(&res, 5, 0x21);
		res = rw(lun, 16, false, (uint64_t)1 << 40, 1, dgpa);
		expect_cc(&res, 5, 0x21);
		/* the last block itself is fine */
		res = rw(lun, 16, false, blocks - 1, 1, dgpa);
		expect_ok(&res, bs);
	}
}

static void test_read_write_512(void **state)
{
	(void)state;
	setup_std();
	rw_disk(0);
	expect_host_pattern(1, 0, td[1].size); /* the other disks untouched */
	expect_host_pattern(2, 0, td[2].size);
	teardown();
}

static void test_read_write_4096(void **state)
{
	(void)state;
	setup_std();
	rw_disk(1);
	expect_host_pattern(0, 0, td[0].size);
	teardown();
}

/* Writes are counted; SYNCHRONIZE CACHE (10 and 16) succeeds, also over a range. */
static void test_sync_cache_start_stop(void **state)
{
	struct vsc_stor_req r = req(0);
	struct vsc_stor_result res;
	struct storvsp_stats s;

	(void)state;
	setup_std();
	fill_rand(dmem, 4096, 5);
	res = rw(0, 10, true, 8, 8, dgpa);
	expect_ok(&res, 4096);
	vsc_scsi_sync_cache10(&r, 0, 0);
	res = run(&r);
	expect_ok(&res, 0);
	vsc_scsi_sync_cache16(&r, 8, 8);
	res = run(&r);
	expect_ok(&res, 0);
	expect_host_bytes(0, 8 * 512, dmem, 4096);
	s = stats();
	assert_true(s.bytes_written >= 4096);
	/* START STOP UNIT: start, stop, start; the disk answers TUR afterwards */
	vsc_scsi_start_stop(&r, true, false, false);
	res = run(&r);
	expect_ok(&res, 0);
	vsc_scsi_start_stop(&r, false, false, true);
	res = run(&r);
	expect_ok(&res, 0);
	vsc_scsi_start_stop(&r, true, false, false);
	res = run(&r);
	expect_ok(&res, 0);
	res = tur(0);
	expect_ok(&res, 0);
	teardown();
}

static void unmap_disk(uint8_t lun)
{
	uint32_t bs = td[lun].bs;
	struct vsc_stor_req r = req(lun);
	struct vsc_stor_result res;
	uint8_t *param = dmem + 1 * MiB;
	uint32_t plen;

	/* data in blocks 100..131, then UNMAP 100..115: zeroes there, the rest kept */
	fill_rand(dmem, 32 * bs, 11 + lun);
	res = rw(lun, 10, true, 100, 32, dgpa);
	expect_ok(&res, 32 * bs);
	plen = vsc_scsi_unmap_param(param, 100, 16);
	vsc_scsi_unmap(&r, (uint16_t)plen);
	r.gpa = dgpa + 1 * MiB;
	r.len = plen;
	res = run(&r);
	expect_ok(&res, res.data_transfer_length);
	expect_host_zero(lun, 100 * bs, 16 * bs);
	expect_host_bytes(lun, 116 * bs, dmem + 16 * bs, 16 * bs);
	res = rw(lun, 16, false, 100, 16, dgpa + 2 * MiB);
	expect_ok(&res, 16 * bs);
	for (uint32_t i = 0; i < 16 * bs; i++)
		assert_int_equal(dmem[2 * MiB + i], 0);
	/* WRITE SAME(16) with UNMAP over 116..131 from one zero block */
	memset(dmem + 3 * MiB, 0, bs);
	vsc_scsi_write_same16(&r, 116, 16, true);
	r.gpa = dgpa + 3 * MiB;
	r.len = bs;
	res = run(&r);
	expect_ok(&res, res.data_transfer_length);
	expect_host_zero(lun, 116 * bs, 16 * bs);
	res = rw(lun, 10, false, 116, 16, dgpa + 2 * MiB);
	expect_ok(&res, 16 * bs);
	for (uint32_t i = 0; i < 16 * bs; i++)
		assert_int_equal(dmem[2 * MiB + i], 0);
	expect_host_pattern(lun, 132 * bs, bs);
	expect_host_pattern(lun, 99 * bs, bs);
	/* WRITE SAME(16) without UNMAP: the block repeated */
	fill_rand(dmem + 3 * MiB, bs, 99);
	vsc_scsi_write_same16(&r, 200, 8, false);
	res = run(&r);
	expect_ok(&res, res.data_transfer_length);
	for (unsigned b = 0; b < 8; b++)
		expect_host_bytes(lun, (200 + b) * bs, dmem + 3 * MiB, bs);
	expect_host_pattern(lun, 208 * bs, bs);
	/* UNMAP beyond the end: LBA OUT OF RANGE, nothing freed */
	plen = vsc_scsi_unmap_param(param, td[lun].size / bs - 1, 2);
	vsc_scsi_unmap(&r, (uint16_t)plen);
	r.gpa = dgpa + 1 * MiB;
	r.len = plen;
	res = run(&r);
	expect_cc(&res, 5, 0x21);
	expect_host_pattern(lun, td[lun].size - bs, bs);
	/* a parameter list shorter than its header says: ILLEGAL REQUEST */
	vsc_scsi_unmap(&r, 4);
	r.len = 4;
	res = run(&r);
	assert_int_not_equal(res.scsi_status, 0);
	/* UNMAP with an empty list does nothing */
	memset(param, 0, 8);
	vsc_scsi_unmap(&r, 8);
	r.len = 8;
	res = run(&r);
	expect_ok(&res, res.data_transfer_length);
}

static void test_unmap_write_same(void **state)
{
	(void)state;
	setup_std();
	unmap_disk(0);
	unmap_disk(1);
	teardown();
}

static void test_read_only_disk(void **state)
{
	struct vsc_stor_req r = req(2);
	struct vsc_stor_result res;
	uint32_t plen;

	(void)state;
	setup_std();
	fill_rand(dmem, 8192, 3);
	res = rw(2, 10, true, 0, 4, dgpa);
	expect_cc(&res, 7, 0x27); /* DATA PROTECT, WRITE PROTECTED */
	res = rw(2, 6, true, 1, 1, dgpa);
	expect_cc(&res, 7, 0x27);
	res = rw(2, 16, true, 2, 1, dgpa);
	expect_cc(&res, 7, 0x27);
	plen = vsc_scsi_unmap_param(dmem + MiB, 0, 8);
	vsc_scsi_unmap(&r, (uint16_t)plen);
	r.gpa = dgpa + MiB;
	r.len = plen;
	res = run(&r);
	expect_cc(&res, 7, 0x27);
	vsc_scsi_write_same16(&r, 0, 8, true);
	r.gpa = dgpa;
	r.len = 512;
	res = run(&r);
	expect_cc(&res, 7, 0x27);
	/* reads, TUR and flush still work */
	res = rw(2, 10, false, 0, 8, dgpa + 2 * MiB);
	expect_ok(&res, 4096);
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(dmem[2 * MiB + i], pat(2, i));
	res = tur(2);
	expect_ok(&res, 0);
	vsc_scsi_sync_cache10(&r, 0, 0);
	r.len = 0;
	res = run(&r);
	expect_ok(&res, 0);
	expect_host_pattern(2, 0, td[2].size);
	teardown();
}

/* Unknown opcodes and bad fields: CHECK CONDITION, ILLEGAL REQUEST, with sense; the channel goes on. */
static void test_bad_cdbs(void **state)
{
	static const uint8_t unknown[] = { 0x3B /* WRITE BUFFER */, 0xA3 /* MAINTENANCE IN */, 0xC5, 0xFF,
					   0x04 /* FORMAT UNIT */, 0x85 /* ATA PASS-THROUGH(16) */ };
	struct vsc_stor_req r;
	struct vsc_stor_result res;

	(void)state;
	setup_std();
	for (unsigned i = 0; i < sizeof(unknown); i++) {
		r = req(0);
		memset(r.cdb, 0, sizeof(r.cdb));
		r.cdb[0] = unknown[i];
		r.cdb_len = 16;
		r.data_in = READ_TYPE;
		r.gpa = dgpa;
		r.len = 512;
		memset(dmem, 0xCC, 512);
		res = run(&r);
		expect_cc(&res, 5, 0x20); /* INVALID COMMAND OPERATION CODE */
		assert_int_equal(dmem[0], 0xCC);
	}
	/* a CDB shorter than its opcode needs: READ(10) in 6 bytes */
	r = req(0);
	vsc_scsi_rw(&r, 10, false, 0, 1, false);
	r.cdb_len = 6;
	r.gpa = dgpa;
	r.len = 512;
	res = run(&r);
	assert_int_not_equal(vsc_stor_srb(&res), SRB_STATUS_SUCCESS);
	assert_int_equal(res.data_transfer_length, 0);
	/* reserved / unsupported fields */
	r = req(0);
	vsc_scsi_inquiry(&r, false, 0x83, 36); /* page code without EVPD */
	r.gpa = dgpa;
	r.len = 36;
	res = run(&r);
	expect_cc(&res, 5, 0x24);
	r = req(0);
	vsc_scsi_report_luns(&r, 0xF0, 4096); /* reserved SELECT REPORT */
	r.gpa = dgpa;
	r.len = 4096;
	res = run(&r);
	expect_cc(&res, 5, 0x24);
	/*
	 * A WRITE whose data_in says READ, and the reverse. The host may go by data_in or by the CDB
	 * (guest-devices.md 1.2): either it refuses, or it does what the CDB says, consistently.
	 */
	r = req(0);
	vsc_scsi_rw(&r, 10, true, 0, 1, false);
	r.data_in = READ_TYPE;
	r.gpa = dgpa;
	r.len = 512;
	memset(dmem, 0xCC, 512);
	res = run(&r);
	if (vsc_stor_srb(&res) == SRB_STATUS_SUCCESS) {
		expect_host_bytes(0, 0, dmem, 512);
	} else {
		expect_host_pattern(0, 0, 512);
		assert_int_equal(dmem[0], 0xCC);
	}
	r = req(0);
	vsc_scsi_rw(&r, 10, false, 1, 1, false);
	r.data_in = WRITE_TYPE;
	r.gpa = dgpa;
	r.len = 512;
	memset(dmem, 0xCC, 512);
	res = run(&r);
	if (vsc_stor_srb(&res) == SRB_STATUS_SUCCESS) {
		for (unsigned i = 0; i < 512; i++)
			assert_int_equal(dmem[i], pat(0, 512 + i));
	} else {
		assert_int_equal(dmem[0], 0xCC);
	}
	expect_host_pattern(0, 512, 512);
	/* READ with no buffer at all (in-band packet, data_transfer_length 0): refused, or nothing moved */
	r = req(0);
	vsc_scsi_rw(&r, 10, false, 0, 1, false);
	res = run(&r);
	assert_int_equal(res.data_transfer_length, 0);
	expect_alive();
	teardown();
}

/* ---- hostile data descriptors --------------------------------------------------------------------------- */

static void test_gpa_outside_ram(void **state)
{
	uint64_t ram = VMBFX_RAM_BYTES;
	struct vsc_stor_req r;
	struct vsc_stor_result res;
	uint64_t pfns[2];

	(void)state;
	setup_std();
	/* wholly outside RAM, reads and writes */
	for (int write = 0; write < 2; write++) {
		res = rw(0, 10, write, 0, 8, ram + 16 * MiB);
		expect_failed(&res);
		res = rw(0, 10, write, 0, 8, (uint64_t)1 << 50);
		expect_failed(&res);
		/* straddling the end of RAM */
		res = rw(0, 10, write, 0, 8, ram - 2048);
		expect_failed(&res);
	}
	/* one good PFN, one bad */
	r = req(0);
	vsc_scsi_rw(&r, 10, false, 0, 16, false);
	pfns[0] = dgpa / 4096;
	pfns[1] = (ram + 64 * MiB) / 4096;
	r.raw_range = true;
	r.range_len = 8192;
	r.range_offset = 0;
	r.pfns = pfns;
	r.pfn_count = 2;
	res = run(&r);
	expect_failed(&res);
	/* a huge PFN that overflows when shifted */
	pfns[1] = UINT64_MAX / 2;
	res = run(&r);
	expect_failed(&res);
	expect_host_pattern(0, 0, 64 * KiB);
	expect_alive();
	assert_true(stats().errors >= 8);
	teardown();
}

static void test_oversize(void **state)
{
	struct vsc_stor_result res;
	uint32_t max;

	(void)state;
	setup_std();
	max = st.max_transfer;
	assert_true(max + 8192 <= DATA_BYTES);
	fill_rand(dmem, max + 4096, 1);
	res = rw(0, 10, true, 0, (max + 4096) / 512, dgpa);
	expect_failed(&res);
	expect_host_pattern(0, 0, max + 4096);
	memset(dmem, 0xCC, max + 8192);
	res = rw(0, 16, false, 0, (max + 4096) / 512, dgpa);
	expect_failed(&res);
	for (uint32_t i = 0; i < max + 8192; i++)
		if (dmem[i] != 0xCC)
			fail_msg("byte %u of the refused read's buffer was written", i);
	/* much larger: 4 MiB (a packet of 1025 PFNs, 8.3 KiB): still answered, with an error */
	st.timeout_ms = 1000;
	res = rw(1, 16, false, 0, 4 * MiB / 4096, dgpa);
	expect_failed(&res);
	st.timeout_ms = 0;
	/* exactly the maximum still works */
	res = rw(0, 10, false, 0, max / 512, dgpa);
	expect_ok(&res, max);
	expect_alive();
	teardown();
}

/* data_transfer_length and the GPA range disagree, or the range does not fit its PFNs. */
static void test_dtl_inconsistent(void **state)
{
	struct vsc_stor_req r;
	struct vsc_stor_result res;
	uint64_t pfns[4];

	(void)state;
	setup_std();
	/* data_transfer_length larger than the range: refused; nothing beyond the range written */
	r = req(0);
	vsc_scsi_rw(&r, 10, false, 0, 16, false);
	r.gpa = dgpa;
	r.len = 4096;
	r.raw_dtl = true;
	r.dtl = 8192;
	memset(dmem, 0xCC, 16384);
	res = run(&r);
	expect_failed(&res);
	for (unsigned i = 0; i < 16384; i++)
		assert_int_equal(dmem[i], 0xCC);
	/* ... and for a write: the file unchanged */
	vsc_scsi_rw(&r, 10, true, 0, 16, false);
	res = run(&r);
	expect_failed(&res);
	expect_host_pattern(0, 0, 8192);
	/* a range longer than its PFNs (offset + len beyond the pages): malformed descriptor */
	r = req(0);
	vsc_scsi_rw(&r, 10, false, 0, 16, false);
	pfns[0] = dgpa / 4096;
	r.raw_range = true;
	r.range_len = 8192;
	r.range_offset = 0;
	r.pfns = pfns;
	r.pfn_count = 1;
	res = run(&r);
	expect_failed(&res);
	/* byte offset beyond the page */
	pfns[1] = pfns[0] + 1;
	r.range_len = 4096;
	r.range_offset = 5000;
	r.pfn_count = 2;
	res = run(&r);
	expect_failed(&res);
	/* zero PFNs with data */
	r.range_len = 512;
	r.range_offset = 0;
	r.pfn_count = 0;
	res = run(&r);
	expect_failed(&res);
	/* the CDB asks for more than the buffer holds: at most the buffer is written, no overrun reported */
	memset(dmem, 0xCC, 16384);
	r = req(0);
	vsc_scsi_rw(&r, 10, false, 0, 8, false);
	r.gpa = dgpa;
	r.len = 2048;
	res = run(&r);
	assert_true(res.data_transfer_length <= 2048);
	for (unsigned i = 2048; i < 16384; i++)
		assert_int_equal(dmem[i], 0xCC);
	/* ... for a write: nothing beyond the buffer reaches the disk */
	r = req(0);
	vsc_scsi_rw(&r, 10, true, 16, 8, false);
	r.gpa = dgpa;
	r.len = 2048;
	res = run(&r);
	assert_true(res.data_transfer_length <= 2048);
	expect_host_pattern(0, 16 * 512 + 2048, 2048);
	/* the CDB asks for less than the buffer: only that much moves */
	memset(dmem, 0xCC, 16384);
	r = req(0);
	vsc_scsi_rw(&r, 10, false, 0, 1, false);
	r.gpa = dgpa;
	r.len = 4096;
	res = run(&r);
	assert_true(res.data_transfer_length <= 512 || vsc_stor_srb(&res) != SRB_STATUS_SUCCESS);
	for (unsigned i = 512; i < 16384; i++)
		assert_int_equal(dmem[i], 0xCC);
	expect_alive();
	teardown();
}

/* ---- malformed vstor packets ---------------------------------------------------------------------------- */

/* Send a raw packet on the primary; return the answer's payload in @ans (64 bytes) or false if none came. */
static bool raw_exchange(uint16_t type, uint16_t flags, uint64_t id, const void *desc, uint32_t dlen,
			 const void *data, uint32_t len, struct vstor_packet *ans)
{
	_Alignas(8) uint8_t buf[512];
	struct vsc_packet pkt;
	int ret;

	assert_int_equal(vsc_channel_send(&st.ch[0], type, flags, id, desc, dlen, data, len), 0);
	ret = vsc_channel_recv_wait(&st.ch[0], buf, sizeof(buf), &pkt, 300);
	if (ret == -VSC_ETIMEDOUT)
		return false;
	assert_true(ret > 0);
	assert_int_equal(pkt.trans_id, id);
	assert_true(pkt.total_len <= STORVSC_MAX_PKT_SIZE);
	assert_true(pkt.data_len >= sizeof(*ans));
	memcpy(ans, pkt.data, sizeof(*ans));
	assert_int_equal(ans->operation, VSTOR_OPERATION_COMPLETE_IO);
	return true;
}

static struct vstor_packet srb_packet(uint8_t lun, uint8_t opcode, uint8_t data_in, uint32_t dtl)
{
	struct vstor_packet p;

	memset(&p, 0, sizeof(p));
	p.operation = VSTOR_OPERATION_EXECUTE_SRB;
	p.flags = REQUEST_COMPLETION_FLAG;
	p.u.vm_srb.length = sizeof(struct vmscsi_request);
	p.u.vm_srb.lun = lun;
	p.u.vm_srb.cdb_length = 10;
	p.u.vm_srb.sense_info_length = STORVSC_SENSE_BUFFER_SIZE;
	p.u.vm_srb.data_in = data_in;
	p.u.vm_srb.data_transfer_length = dtl;
	p.u.vm_srb.u.cdb[0] = opcode;
	return p;
}

static void test_garbled_packets(void **state)
{
	struct vstor_packet p, ans;
	uint8_t small[64];
	uint64_t bad_before;
	uint64_t id = 0x1000;
	struct {
		struct vmbus_gpa_direct_header h;
		uint32_t len, off;
		uint64_t pfn[2];
	} __attribute__((packed)) gd;

	(void)state;
	setup_std();
	bad_before = stats().bad_packets;
	memset(small, 0, sizeof(small));
	small[0] = VSTOR_OPERATION_EXECUTE_SRB;
	/* shorter than a vstor_packet: 4, 8, 48 (the pre-win8 size) and 56 bytes */
	for (uint32_t len = 8; len <= 56; len += 8) {
		if (raw_exchange(VM_PKT_DATA_INBAND, 1, ++id, NULL, 0, small, len, &ans))
			assert_int_not_equal(ans.status, 0);
	}
	/* unknown operations and a guest-sent COMPLETE_IO */
	for (uint32_t op = 0; op < 16; op++) {
		if (op == VSTOR_OPERATION_EXECUTE_SRB || (op >= VSTOR_OPERATION_RESET_LUN && op <= VSTOR_OPERATION_RESET_BUS) ||
		    (op >= VSTOR_OPERATION_BEGIN_INITIALIZATION && op <= VSTOR_OPERATION_QUERY_PROPERTIES) ||
		    op == VSTOR_OPERATION_CREATE_SUB_CHANNELS)
			continue;
		memset(&p, 0, sizeof(p));
		p.operation = op;
		p.flags = REQUEST_COMPLETION_FLAG;
		if (raw_exchange(VM_PKT_DATA_INBAND, 1, ++id, NULL, 0, &p, sizeof(p), &ans))
			assert_int_not_equal(ans.status, 0);
	}
	memset(&p, 0xFF, sizeof(p));
	p.operation = 0xFFFFFFFFu;
	(void)raw_exchange(VM_PKT_DATA_INBAND, 1, ++id, NULL, 0, &p, sizeof(p), &ans);
	/* EXECUTE_SRB with a CDB length of 0 and of 17..255 */
	for (unsigned cl = 0; cl < 256; cl += 17) {
		p = srb_packet(0, 0x00, UNKNOWN_TYPE, 0);
		p.u.vm_srb.cdb_length = (uint8_t)(cl ? cl : 0);
		if (cl == 0 || cl > 16) {
			bool got = raw_exchange(VM_PKT_DATA_INBAND, 1, ++id, NULL, 0, &p, sizeof(p), &ans);

			assert_true(got); /* the guest waits for every EXECUTE_SRB */
			assert_int_not_equal(ans.u.vm_srb.srb_status & 0x3F, SRB_STATUS_SUCCESS);
		}
	}
	/* a bad data direction, a bogus srb length, path/target/LUN 255 */
	p = srb_packet(0, 0x00, 7, 0);
	assert_true(raw_exchange(VM_PKT_DATA_INBAND, 1, ++id, NULL, 0, &p, sizeof(p), &ans));
	p = srb_packet(0, 0x00, UNKNOWN_TYPE, 0);
	p.u.vm_srb.length = 0xFFFF;
	assert_true(raw_exchange(VM_PKT_DATA_INBAND, 1, ++id, NULL, 0, &p, sizeof(p), &ans));
	p = srb_packet(255, 0x00, UNKNOWN_TYPE, 0);
	p.u.vm_srb.path_id = 255;
	p.u.vm_srb.target_id = 255;
	assert_true(raw_exchange(VM_PKT_DATA_INBAND, 1, ++id, NULL, 0, &p, sizeof(p), &ans));
	assert_int_equal(ans.u.vm_srb.srb_status & 0x3F, SRB_STATUS_INVALID_LUN);
	/* READ in-band with a data length but no buffer */
	p = srb_packet(0, 0x28, READ_TYPE, 4096);
	p.u.vm_srb.u.cdb[8] = 8;
	assert_true(raw_exchange(VM_PKT_DATA_INBAND, 1, ++id, NULL, 0, &p, sizeof(p), &ans));
	assert_int_not_equal(ans.u.vm_srb.srb_status & 0x3F, SRB_STATUS_SUCCESS);
	assert_int_equal(ans.u.vm_srb.data_transfer_length, 0);
	/* GPA-direct descriptors: rangecount 0, rangecount 2 with one range, a range past the descriptor */
	p = srb_packet(0, 0x28, READ_TYPE, 512);
	p.u.vm_srb.u.cdb[8] = 1;
	memset(&gd, 0, sizeof(gd));
	gd.len = 512;
	gd.pfn[0] = dgpa / 4096;
	gd.h.rangecount = 0;
	if (raw_exchange(VM_PKT_DATA_USING_GPA_DIRECT, 1, ++id, &gd, 16 + 8, &p, sizeof(p), &ans))
		assert_int_not_equal(ans.u.vm_srb.srb_status & 0x3F, SRB_STATUS_SUCCESS);
	gd.h.rangecount = 2;
	if (raw_exchange(VM_PKT_DATA_USING_GPA_DIRECT, 1, ++id, &gd, 16 + 8, &p, sizeof(p), &ans))
		assert_int_not_equal(ans.u.vm_srb.srb_status & 0x3F, SRB_STATUS_SUCCESS);
	gd.h.rangecount = 1;
	gd.len = 64 * KiB; /* 16 PFNs promised, 1 given */
	if (raw_exchange(VM_PKT_DATA_USING_GPA_DIRECT, 1, ++id, &gd, 16 + 8, &p, sizeof(p), &ans))
		assert_int_not_equal(ans.u.vm_srb.srb_status & 0x3F, SRB_STATUS_SUCCESS);
	/* a GPA-direct packet whose payload is short */
	gd.len = 512;
	(void)raw_exchange(VM_PKT_DATA_USING_GPA_DIRECT, 1, ++id, &gd, 16 + 8, &p, 24, &ans);
	/* packet types storvsc never sends */
	p = srb_packet(0, 0x00, UNKNOWN_TYPE, 0);
	(void)raw_exchange(VM_PKT_DATA_USING_GPADL, 1, ++id, &gd, 16 + 8, &p, sizeof(p), &ans);
	(void)raw_exchange(VM_PKT_COMP, 0, ++id, NULL, 0, &p, sizeof(p), &ans);
	(void)raw_exchange(VM_PKT_DATA_USING_XFER_PAGES, 0, ++id, &gd, 16, &p, sizeof(p), &ans);
	/* no completion requested, trans_id 0 */
	vsc_channel_send(&st.ch[0], VM_PKT_DATA_INBAND, 0, 0, NULL, 0, &p, sizeof(p));
	vmbfx_settle(&fx);
	/* everything is still fine */
	{
		_Alignas(8) uint8_t buf[256];
		struct vsc_packet pkt;

		while (vsc_channel_recv(&st.ch[0], buf, sizeof(buf), &pkt) > 0)
			; /* answers to the unanswerable */
	}
	assert_int_equal(vmbfx_stats(&fx).channels_broken, 0);
	assert_true(stats().bad_packets > bad_before);
	expect_alive();
	expect_host_pattern(0, 0, 64 * KiB);
	teardown();
}

/* ---- many requests ---------------------------------------------------------------------------------------- */

#define CONC 256u

static void test_concurrent_subchannels(void **state)
{
	static struct vsc_stor_result res[CONC];
	static bool seen[CONC + 1];
	unsigned per_channel[4] = { 0 }, got = 0;

	(void)state;
	setup_std();
	assert_int_equal(vsc_stor_create_subchannels(&st, 3, 4), 3);
	/* 256 writes of 4 KiB in flight at once, spread over the four channels and both rw disks */
	for (unsigned i = 0; i < CONC; i++) {
		struct vsc_stor_req r = req((uint8_t)(i & 1));
		uint32_t bs = td[i & 1].bs;

		fill_rand(dmem + i * 4096, 4096, 1000 + i);
		vsc_scsi_rw(&r, i % 3 == 0 ? 16 : 10, true, (uint64_t)(i / 2) * 4096 / bs, 4096 / bs, false);
		r.gpa = dgpa + i * 4096;
		r.len = 4096;
		assert_int_equal(vsc_stor_submit(&st, i % 4, i + 1, &r), 0);
	}
	assert_int_equal(vsc_stor_inflight(&st), CONC);
	memset(seen, 0, sizeof(seen));
	while (got < CONC) {
		int n = vsc_stor_wait(&st, res, CONC, 0);

		assert_true(n > 0);
		for (int k = 0; k < n; k++) {
			unsigned id = (unsigned)res[k].trans_id;

			assert_true(id >= 1 && id <= CONC);
			assert_false(seen[id]);
			seen[id] = true;
			assert_int_equal(res[k].channel, (id - 1) % 4); /* completed on the channel it came on */
			per_channel[res[k].channel]++;
			expect_ok(&res[k], 4096);
		}
		got += (unsigned)n;
	}
	for (unsigned c = 0; c < 4; c++)
		assert_int_equal(per_channel[c], CONC / 4);
	for (unsigned i = 0; i < CONC; i++)
		expect_host_bytes(i & 1, (uint64_t)(i / 2) * 4096, dmem + i * 4096, 4096);
	/* 256 reads back in flight at once, every channel */
	memset(seen, 0, sizeof(seen));
	memset(dmem + 2 * MiB, 0, CONC * 4096);
	for (unsigned i = 0; i < CONC; i++) {
		struct vsc_stor_req r = req((uint8_t)(i & 1));
		uint32_t bs = td[i & 1].bs;

		vsc_scsi_rw(&r, 10, false, (uint64_t)(i / 2) * 4096 / bs, 4096 / bs, false);
		r.gpa = dgpa + 2 * MiB + i * 4096;
		r.len = 4096;
		assert_int_equal(vsc_stor_submit(&st, (i + 1) % 4, 5000 + i, &r), 0);
	}
	for (got = 0; got < CONC;) {
		int n = vsc_stor_wait(&st, res, CONC, 0);

		assert_true(n > 0);
		for (int k = 0; k < n; k++) {
			unsigned i = (unsigned)res[k].trans_id - 5000;

			assert_true(i < CONC);
			assert_int_equal(res[k].channel, (i + 1) % 4);
			expect_ok(&res[k], 4096);
		}
		got += (unsigned)n;
	}
	assert_memory_equal(dmem + 2 * MiB, dmem, CONC * 4096);
	{
		struct storvsp_stats s = stats();

		assert_true(s.completions >= s.requests); /* completions also counts the handshake's replies */
		assert_int_equal(s.channels_open, 4);
		assert_true(s.bytes_written >= CONC * 4096);
		assert_true(s.bytes_read >= CONC * 4096);
	}
	teardown();
}

/* More requests on one channel than its queue holds: each completes (GOOD, or BUSY to be retried), none lost. */
static void test_queue_full(void **state)
{
	enum { N = 400 };
	static struct vsc_stor_result res[N];
	unsigned got = 0, busy = 0;

	(void)state;
	setup_std();
	for (unsigned i = 0; i < N; i++) {
		struct vsc_stor_req r = req(0);

		vsc_scsi_rw(&r, 10, false, i % 64, 1, false);
		r.gpa = dgpa + i * 1024;
		r.len = 512;
		assert_int_equal(vsc_stor_submit(&st, 0, i + 1, &r), 0);
	}
	while (got < N) {
		int n = vsc_stor_wait(&st, res, N, 0);

		assert_true(n > 0);
		for (int k = 0; k < n; k++) {
			unsigned i = (unsigned)res[k].trans_id - 1;

			if (vsc_stor_srb(&res[k]) == SRB_STATUS_BUSY || res[k].scsi_status == 0x08) {
				busy++;
				assert_int_equal(res[k].data_transfer_length, 0);
				continue;
			}
			expect_ok(&res[k], 512);
			for (unsigned b = 0; b < 512; b++)
				assert_int_equal(dmem[i * 1024 + b], pat(0, (i % 64) * 512 + b));
		}
		got += (unsigned)n;
	}
	if (busy)
		print_message("queue full: %u of %u requests answered BUSY\n", busy, N);
	assert_int_equal(stats().busy, busy);
	expect_alive();
	teardown();
}

/*
 * Back-pressure both ways: the guest sends TEST UNIT READYs without reading a single completion until its own ring
 * is full and the host's ring of completions is full too (the host must stop taking requests, keep the completions
 * it could not send, and go on once the guest reads). Every request is answered exactly once, in order per channel.
 */
static void test_ring_full_backpressure(void **state)
{
	enum { N = 3000 };
	static uint8_t seen[N + 1];
	_Alignas(8) uint8_t buf[256];
	struct vstor_packet p;
	unsigned sent = 0, got = 0, stuck = 0;
	uint64_t last = 0;

	(void)state;
	setup_std();
	p = srb_packet(0, 0x00, UNKNOWN_TYPE, 0);
	p.u.vm_srb.cdb_length = 6;
	memset(seen, 0, sizeof(seen));
	/* phase 1: send until the guest -> host ring stays full, never reading */
	while (sent < N && stuck < 50) {
		int r = vsc_channel_send(&st.ch[0], VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
					 sent + 1, NULL, 0, &p, sizeof(p));

		if (r == -VSC_EAGAIN) {
			stuck++;
			vmbfx_settle(&fx);
			continue;
		}
		assert_int_equal(r, 0);
		stuck = 0;
		sent++;
	}
	assert_true(sent < N); /* both rings filled up before all were sent */
	print_message("rings full after %u requests\n", sent);
	/* phase 2: read everything, sending the rest as room appears */
	for (uint64_t deadline = vmbfx_now_ms(NULL) + 5000; got < N && vmbfx_now_ms(NULL) < deadline;) {
		struct vsc_packet pkt;
		int r = vsc_channel_recv(&st.ch[0], buf, sizeof(buf), &pkt);

		if (r > 0) {
			struct vstor_packet a;

			assert_true(pkt.trans_id >= 1 && pkt.trans_id <= N);
			assert_int_equal(seen[pkt.trans_id], 0);
			assert_true(pkt.trans_id > last); /* one channel: answered in order (TURs complete at once) */
			last = pkt.trans_id;
			seen[pkt.trans_id] = 1;
			memcpy(&a, pkt.data, sizeof(a));
			assert_int_equal(a.operation, VSTOR_OPERATION_COMPLETE_IO);
			assert_int_equal(a.u.vm_srb.srb_status & 0x3F, SRB_STATUS_SUCCESS);
			got++;
			continue;
		}
		if (sent < N && vsc_channel_send(&st.ch[0], VM_PKT_DATA_INBAND,
						 VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, sent + 1, NULL, 0, &p,
						 sizeof(p)) == 0) {
			sent++;
			continue;
		}
		(void)vmbus_server_poll(fx.srv, 0);
	}
	assert_int_equal(got, N);
	assert_int_equal(vmbfx_stats(&fx).channels_broken, 0);
	expect_alive();
	teardown();
}

/* RESET_BUS with requests in flight: answered COMPLETE_IO; every request completes (done or aborted). */
static void test_reset_bus(void **state)
{
	enum { N = 96 };
	static struct vsc_stor_result res[N];
	struct vstor_packet reply;
	unsigned got = 0, outstanding_at_reply;

	(void)state;
	setup_std();
	assert_int_equal(vsc_stor_create_subchannels(&st, 3, 4), 3);
	for (unsigned i = 0; i < N; i++) {
		struct vsc_stor_req r = req(0);

		fill_rand(dmem + i * 16384, 16384, i);
		vsc_scsi_rw(&r, 10, i & 1, (uint64_t)i * 32, 32, false);
		r.gpa = dgpa + i * 16384;
		r.len = 16384;
		assert_int_equal(vsc_stor_submit(&st, i % 4, i + 1, &r), 0);
	}
	/* let the host take them, then reset */
	(void)vmbus_server_poll(fx.srv, 0);
	assert_int_equal(vsc_stor_reset_bus(&st, 0, &reply), 0);
	outstanding_at_reply = vsc_stor_inflight(&st);
	assert_int_equal(reply.operation, VSTOR_OPERATION_COMPLETE_IO);
	assert_int_equal(reply.status, 0);
	while (got < N) {
		int n = vsc_stor_wait(&st, res + got, N - got, 0);

		assert_true(n > 0);
		got += (unsigned)n;
	}
	for (unsigned k = 0; k < N; k++) {
		unsigned i = (unsigned)res[k].trans_id - 1;
		uint8_t srb = vsc_stor_srb(&res[k]);

		assert_true(srb == SRB_STATUS_SUCCESS || srb == SRB_STATUS_ABORTED || srb == SRB_STATUS_BUS_RESET);
		assert_int_equal(res[k].channel, i % 4);
		if (srb == SRB_STATUS_SUCCESS && (i & 1))
			expect_host_bytes(0, (uint64_t)i * 32 * 512, dmem + i * 16384, 16384);
	}
	/* the reference: complete (or abort) everything outstanding, then answer the reset */
	if (outstanding_at_reply)
		print_message("RESET_BUS answered with %u of %u requests still outstanding\n", outstanding_at_reply, N);
	assert_int_equal(outstanding_at_reply, 0);
	expect_alive();
	for (unsigned c = 1; c < 4; c++) {
		struct vsc_stor_req r = req(1);
		struct vsc_stor_result one;

		vsc_scsi_test_unit_ready(&r);
		one = run_on(c, &r);
		expect_ok(&one, 0);
	}
	teardown();
}

/* Close everything (with requests in flight) and open again: handshake, sub-channels and I/O work as before. */
static void test_close_reopen(void **state)
{
	(void)state;
	setup_std();
	assert_int_equal(vsc_stor_create_subchannels(&st, 3, 4), 3);
	for (unsigned i = 0; i < 32; i++) {
		struct vsc_stor_req r = req(0);

		vsc_scsi_rw(&r, 10, false, i, 64, false);
		r.gpa = dgpa + i * 32768;
		r.len = 32768;
		assert_int_equal(vsc_stor_submit(&st, i % 4, i + 1, &r), 0);
	}
	assert_int_equal(vsc_stor_close(&st), 0);
	for (int i = 0; i < 20; i++) {
		vmbfx_settle(&fx);
		vsc_bus_poll_msgs(&fx.bus);
	}
	assert_int_equal(stats().channels_open, 0);
	for (int round = 0; round < 2; round++) {
		struct vsc_stor_result res;

		assert_int_equal(vsc_stor_open(&st, 0), 0);
		assert_int_equal(vsc_stor_handshake(&st), 0);
		assert_int_equal(vsc_stor_create_subchannels(&st, 3, 4), 3);
		assert_int_equal(stats().channels_open, 4);
		fill_rand(dmem, 4096, 40 + round);
		res = rw(1, 10, true, 10, 1, dgpa);
		expect_ok(&res, 4096);
		expect_host_bytes(1, 10 * 4096, dmem, 4096);
		for (unsigned c = 0; c < 4; c++) {
			struct vsc_stor_req r = req(1);

			vsc_scsi_rw(&r, 16, false, 10, 1, false);
			r.gpa = dgpa + 8192;
			r.len = 4096;
			res = run_on(c, &r);
			expect_ok(&res, 4096);
			assert_memory_equal(dmem + 8192, dmem, 4096);
		}
		assert_int_equal(vsc_stor_close(&st), 0);
		for (int i = 0; i < 20; i++) {
			vmbfx_settle(&fx);
			vsc_bus_poll_msgs(&fx.bus);
		}
	}
	teardown();
}

/*
 * UNLOAD (kexec, kdump) with requests in flight: after UNLOAD_RESPONSE nothing of the old connection may touch
 * guest memory, so neither the rings nor the data buffers change any more, whatever the disk does meanwhile.
 * Then the guest reconnects and the controller works again.
 */
static void test_unload_inflight(void **state)
{
	enum { N = 48, CHUNK = 64 * 1024 };
	uint8_t *snap;
	uint64_t req0, comp0;
	uint64_t ring_gpa[4];
	uint32_t ring_bytes[4];
	struct storvsp_stats s;

	/* O_DIRECT disks: reads go to the device, so some are still running when the UNLOAD comes */
	static const struct dspec direct_disks[] = { { 512, 4, false, true }, { 4096, 4, false, true } };

	(void)state;
	setup_ex(4, 3, direct_disks, 2, 0, true);
	assert_int_equal(vsc_stor_create_subchannels(&st, 3, 4), 3);
	for (unsigned c = 0; c < 4; c++) {
		ring_gpa[c] = st.ch[c].ring_gpa;
		ring_bytes[c] = (st.ch[c].send_pages + st.ch[c].recv_pages) * VSC_PAGE_SIZE;
	}
	memset(dmem, 0xEE, N * CHUNK);
	s = stats();
	req0 = s.requests;
	comp0 = s.completions;
	for (unsigned i = 0; i < N; i++) {
		struct vsc_stor_req r = req((uint8_t)(i & 1));

		vsc_scsi_rw(&r, 10, false, 0, CHUNK / td[i & 1].bs, false);
		r.gpa = dgpa + (uint64_t)i * CHUNK;
		r.len = CHUNK;
		assert_int_equal(vsc_stor_submit(&st, i % 4, i + 1, &r), 0);
	}
	/* the host takes the requests and starts the disk reads; then the guest unloads at once */
	(void)vmbus_server_poll(fx.srv, 0);
	assert_int_equal(vsc_bus_unload(&fx.bus), 0);
	vsc_stor_forget(&st);
	s = stats();
	assert_int_equal(s.requests - req0, N);
	print_message("UNLOAD with %llu of %u requests not completed to the guest\n",
		      (unsigned long long)(N - (s.completions - comp0)), N);
	assert_int_equal(s.channels_open, 0);
	snap = malloc(N * CHUNK);
	assert_non_null(snap);
	memcpy(snap, dmem, N * CHUNK);
	{
		uint8_t *rsnap[4];

		for (unsigned c = 0; c < 4; c++) {
			rsnap[c] = malloc(ring_bytes[c]);
			assert_non_null(rsnap[c]);
			memcpy(rsnap[c], gptr(ring_gpa[c], ring_bytes[c]), ring_bytes[c]);
		}
		/* let the disk finish whatever it had (the server keeps polling its eventfds) */
		for (int i = 0; i < 50; i++) {
			vmbfx_settle(&fx);
			usleep(2000);
		}
		for (unsigned c = 0; c < 4; c++) {
			if (memcmp(rsnap[c], gptr(ring_gpa[c], ring_bytes[c]), ring_bytes[c]))
				fail_msg("channel %u's rings were written after UNLOAD", c);
			free(rsnap[c]);
		}
	}
	if (memcmp(snap, dmem, N * CHUNK))
		fail_msg("a data buffer was written after UNLOAD");
	free(snap);
	/* reconnect: a new kernel finds the controller again */
	vsc_bus_init(&fx.bus, &fx.plat, 0);
	vmbfx_connect(&fx);
	vsc_stor_init(&st, &fx.bus);
	assert_int_equal(vsc_stor_open(&st, 0), 0);
	assert_int_equal(vsc_stor_handshake(&st), 0);
	assert_int_equal(vsc_stor_create_subchannels(&st, 3, 4), 3);
	{
		struct vsc_stor_result res = rw(0, 10, false, 0, 8, dgpa);

		expect_ok(&res, 4096);
		for (unsigned i = 0; i < 4096; i++)
			assert_int_equal(dmem[i], pat(0, i));
	}
	teardown();
}

/* The controller goes away (hot remove, VM teardown) with requests in flight: no crash, the guest sees a rescind. */
static void test_destroy_inflight(void **state)
{
	uint32_t relid;

	(void)state;
	setup_std();
	assert_int_equal(vsc_stor_create_subchannels(&st, 2, 4), 2);
	relid = st.primary_relid;
	for (unsigned i = 0; i < 64; i++) {
		struct vsc_stor_req r = req(0);

		fill_rand(dmem + i * 8192, 8192, i);
		vsc_scsi_rw(&r, 10, true, i * 16, 16, false);
		r.gpa = dgpa + i * 8192;
		r.len = 8192;
		assert_int_equal(vsc_stor_submit(&st, i % 3, i + 1, &r), 0);
	}
	(void)vmbus_server_poll(fx.srv, 0);
	storvsp_destroy(sp);
	sp = NULL;
	vsc_bus_poll_msgs(&fx.bus);
	{
		const struct vsc_offer *o = NULL;

		for (unsigned i = 0; i < fx.bus.offer_count; i++)
			if (fx.bus.offers[i].msg.child_relid == relid)
				o = &fx.bus.offers[i];
		assert_non_null(o);
		assert_true(o->rescinded);
	}
	/* whatever reached the disk is whole blocks of what the guest wrote, or the old content */
	for (unsigned i = 0; i < 64; i++) {
		uint8_t b[8192];

		host_read(0, (uint64_t)i * 8192, b, 8192);
		for (unsigned blk = 0; blk < 16; blk++) {
			bool old = true, neu = !memcmp(b + blk * 512, dmem + i * 8192 + blk * 512, 512);

			for (unsigned k = 0; k < 512 && old; k++)
				old = b[blk * 512 + k] == pat(0, (uint64_t)i * 8192 + blk * 512 + k);
			assert_true(old || neu);
		}
	}
	vsc_stor_forget(&st);
	teardown_ex(false);
}

/* Several controllers on one bus, and a controller without disks. */
static void test_two_controllers(void **state)
{
	static const struct dspec one[] = { { 4096, 1, false, false } };
	struct storvsp *sp2 = NULL;
	static struct vsc_stor st2;
	struct storvsp_config c;
	struct vsc_stor_result res;
	struct vsc_stor_req r;

	(void)state;
	setup_ex(2, 1, one, 1, 0, false);
	memset(&c, 0, sizeof(c));
	c.srv = fx.srv;
	c.instance_id = ctl_instance();
	c.instance_id.b[15] = 2;
	c.name = "scsi1";
	c.disk_count = 0;
	assert_int_equal(storvsp_create(&c, &sp2), 0);
	/* the same instance twice is refused */
	{
		struct storvsp *dup = NULL;

		assert_int_not_equal(storvsp_create(&c, &dup), 0);
		assert_null(dup);
	}
	vsc_bus_poll_msgs(&fx.bus);
	assert_int_equal(vsc_stor_handshake(&st), 0);
	vsc_stor_init(&st2, &fx.bus);
	assert_int_equal(vsc_stor_open(&st2, 1), 0);
	assert_int_equal(vsc_stor_handshake(&st2), 0);
	/* the empty controller: INQUIRY says no LUN, REPORT LUNS lists nothing, I/O gets INVALID_LUN */
	r = req(0);
	vsc_scsi_inquiry(&r, false, 0, 36);
	r.gpa = dgpa;
	r.len = 36;
	assert_int_equal(vsc_stor_execute(&st2, &r, &res), 0);
	assert_int_equal(vsc_stor_srb(&res), SRB_STATUS_SUCCESS);
	assert_int_equal(dmem[0], 0x7F);
	r = req(0);
	vsc_scsi_report_luns(&r, 0, 4096);
	r.gpa = dgpa;
	r.len = 4096;
	assert_int_equal(vsc_stor_execute(&st2, &r, &res), 0);
	if (vsc_stor_srb(&res) == SRB_STATUS_SUCCESS)
		assert_int_equal(vsc_be32(dmem), 0);
	r = req(0);
	vsc_scsi_test_unit_ready(&r);
	assert_int_equal(vsc_stor_execute(&st2, &r, &res), 0);
	assert_int_equal(vsc_stor_srb(&res), SRB_STATUS_INVALID_LUN);
	/* the first controller is not affected */
	res = rw(0, 10, false, 0, 1, dgpa);
	expect_ok(&res, 4096);
	storvsp_destroy(sp2);
	/* bad configurations */
	{
		struct storvsp_disk_config dc = { .path = "/nonexistent/openhv-disk.img" };
		struct storvsp *bad = NULL;

		c.instance_id.b[15] = 3;
		c.disks = &dc;
		c.disk_count = 1;
		assert_int_not_equal(storvsp_create(&c, &bad), 0);
		assert_null(bad);
		char spare[300];
		int fd;

		snprintf(spare, sizeof(spare), "%s/spare.img", tmpdir);
		fd = open(spare, O_RDWR | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, 1 << 20), 0);
		close(fd);
		dc.path = spare;
		dc.block_size = 1000;
		assert_int_equal(storvsp_create(&c, &bad), -EINVAL);
		dc.block_size = 0;
		c.max_transfer_bytes = 4096;
		assert_int_equal(storvsp_create(&c, &bad), -EINVAL);
		c.max_transfer_bytes = 0;
		c.disk_count = STORVSP_MAX_LUNS + 1;
		assert_int_equal(storvsp_create(&c, &bad), -EINVAL);
		assert_int_equal(storvsp_create(NULL, &bad), -EINVAL);
		unlink(spare);
	}
	storvsp_destroy(NULL);
	teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_linux),
		cmocka_unit_test(test_properties_config),
		cmocka_unit_test(test_handshake_fallback),
		cmocka_unit_test(test_handshake_unknown_version),
		cmocka_unit_test(test_handshake_order),
		cmocka_unit_test(test_handshake_hostile),
		cmocka_unit_test(test_subchannels),
		cmocka_unit_test(test_subchannels_bounds),
		cmocka_unit_test(test_inquiry_standard),
		cmocka_unit_test(test_inquiry_vpd),
		cmocka_unit_test(test_missing_lun),
		cmocka_unit_test(test_report_luns),
		cmocka_unit_test(test_tur_capacity),
		cmocka_unit_test(test_mode_sense),
		cmocka_unit_test(test_read_write_512),
		cmocka_unit_test(test_read_write_4096),
		cmocka_unit_test(test_sync_cache_start_stop),
		cmocka_unit_test(test_unmap_write_same),
		cmocka_unit_test(test_read_only_disk),
		cmocka_unit_test(test_bad_cdbs),
		cmocka_unit_test(test_gpa_outside_ram),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_dtl_inconsistent),
		cmocka_unit_test(test_garbled_packets),
		cmocka_unit_test(test_concurrent_subchannels),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_ring_full_backpressure),
		cmocka_unit_test(test_reset_bus),
		cmocka_unit_test(test_close_reopen),
		cmocka_unit_test(test_unload_inflight),
		cmocka_unit_test(test_destroy_inflight),
		cmocka_unit_test(test_two_controllers),
	};

	/* OPENHV_TEST_FILTER=test_name (cmocka pattern) runs a subset */
	if (getenv("OPENHV_TEST_FILTER"))
		cmocka_set_test_filter(getenv("OPENHV_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
