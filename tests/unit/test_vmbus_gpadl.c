// SPDX-License-Identifier: MIT
/*
 * Unit tests of the VMBus server (vmbus/vmbus.h), in-process with the guest client (guest/vsc): GPADLs.
 * GPADL_HEADER + GPADL_BODY as Linux 6.1 splits them (26 PFNs in the header, 28 per body; 1, 26, 27, 54, 55 and
 * many pages), GPADL_CREATED, GPADL_TEARDOWN -> GPADL_TORNDOWN, and hostile GPADLs (PFNs outside RAM, duplicate
 * handles, unknown relids, rangecount != 1, inconsistent range_buflen / byte_count / byte_offset, bodies for unknown
 * handles or with too many PFNs): refused with a non-zero creation_status or dropped, never a crash
 * (guest-core.md 5.4).
 */
#include "vmbus_fixture.h"

static struct vmbfx fx;

static const struct vmbus_guid scsi_guid = HV_SCSI_GUID;

#define RAM_PFNS (VMBFX_RAM_BYTES / VSC_PAGE_SIZE)

/* Posts of HvPostMessage that reached a handler so far (to count the client's GPADL messages). */
static uint64_t posts(void)
{
	struct hvi_stats s;

	hvi_partition_stats(fx.hv, &s);
	return s.post_messages;
}

/* A raw GPADL_HEADER: one range of @byte_count bytes at @byte_offset, the first @n of @pfns in the message. */
static void post_header(uint32_t relid, uint32_t handle, uint16_t range_buflen, uint16_t rangecount,
			uint32_t byte_count, uint32_t byte_offset, const uint64_t *pfns, unsigned n)
{
	uint8_t buf[240];
	struct vmbus_channel_gpadl_header h = { .header.msgtype = CHANNELMSG_GPADL_HEADER, .child_relid = relid,
						.gpadl = handle, .range_buflen = range_buflen,
						.rangecount = rangecount };
	struct gpa_range r = { .byte_count = byte_count, .byte_offset = byte_offset };

	assert_true(n <= VMBUS_GPADL_HEADER_MAX_PFNS);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &r, sizeof(r));
	memcpy(buf + sizeof(h) + sizeof(r), pfns, 8 * n);
	vmbfx_post_ok(&fx, buf, (uint32_t)(sizeof(h) + sizeof(r) + 8 * n));
}

static void post_body(uint32_t handle, const uint64_t *pfns, unsigned n)
{
	uint8_t buf[240];
	struct vmbus_channel_gpadl_body b = { .header.msgtype = CHANNELMSG_GPADL_BODY, .gpadl = handle };

	assert_true(n <= VMBUS_GPADL_BODY_MAX_PFNS);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &b, sizeof(b));
	memcpy(buf + sizeof(b), pfns, 8 * n);
	vmbfx_post_ok(&fx, buf, (uint32_t)(sizeof(b) + 8 * n));
}

/* A good single-header GPADL of @n pages at @pfn0, as Linux would send it. */
static void post_good_header(uint32_t relid, uint32_t handle, uint64_t pfn0, unsigned n)
{
	uint64_t pfns[VMBUS_GPADL_HEADER_MAX_PFNS];

	for (unsigned i = 0; i < n; i++)
		pfns[i] = pfn0 + i;
	post_header(relid, handle, (uint16_t)(8 + 8 * n), 1, n * 4096u, 0, pfns, n);
}

static void expect_created(uint32_t relid, uint32_t handle)
{
	struct vmbus_channel_gpadl_created c;

	vmbfx_expect_msg(&fx, CHANNELMSG_GPADL_CREATED, &c, sizeof(c));
	assert_int_equal(c.child_relid, relid);
	assert_int_equal(c.gpadl, handle);
	assert_int_equal(c.creation_status, 0);
}

/* A refusal of GPADL @handle: GPADL_CREATED with a non-zero status (echoing the handle), or a counted drop. */
static void expect_gpadl_refused(uint32_t handle, uint64_t rejected_before)
{
	struct vmbus_channel_gpadl_created c;

	if (vmbfx_expect_refusal(&fx, CHANNELMSG_GPADL_CREATED, 16, rejected_before, &c, sizeof(c)))
		assert_int_equal(c.gpadl, handle);
}

static void expect_torndown(uint32_t handle)
{
	struct vmbus_channel_gpadl_torndown t;

	vmbfx_expect_msg(&fx, CHANNELMSG_GPADL_TORNDOWN, &t, sizeof(t));
	assert_int_equal(t.gpadl, handle);
}

static void post_teardown(uint32_t relid, uint32_t handle)
{
	struct vmbus_channel_gpadl_teardown t = { .header.msgtype = CHANNELMSG_GPADL_TEARDOWN, .child_relid = relid,
						  .gpadl = handle };

	vmbfx_post_ok(&fx, &t, sizeof(t));
}

/* Linux's split for every interesting size: messages counted, handles from 0xE1E10 in order, torn down. */
static void test_gpadl_sizes(void **state)
{
	static const uint32_t sizes[] = { 1, 2, 25, 26, 27, 53, 54, 55, 82, 83, 300, 1000 };
	struct vmbfx_vsp *v;
	uint32_t relid, expect_handle = 0xE1E10;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	relid = vmbfx_relid(v);
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t pages = sizes[i], handle = 0, bodies;
		uint64_t gpa = fx.plat.alloc_pages(&fx, pages), before = posts();

		assert_true(gpa != 0);
		assert_int_equal(vsc_gpadl_create(&fx.bus, relid, gpa, pages, &handle), 0);
		assert_int_equal(handle, expect_handle++);
		bodies = pages > 26 ? (pages - 26 + 27) / 28 : 0;
		assert_int_equal(posts() - before, 1 + bodies);
		assert_int_equal(vsc_gpadl_teardown(&fx.bus, relid, handle), 0);
	}
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, 0);
	assert_int_equal(fx.bus.unexpected, 0);
	vmbfx_fini(&fx);
}

/* Many GPADLs alive at once, torn down in another order; one channel's GPADLs do not depend on another's. */
static void test_gpadl_many_alive(void **state)
{
	struct vmbfx_vsp *a, *b;
	uint32_t h[20];

	(void)state;
	vmbfx_init_two(&fx, 1, &a, &b);
	for (unsigned i = 0; i < 20; i++)
		assert_int_equal(vsc_gpadl_create(&fx.bus, vmbfx_relid(i & 1 ? b : a), fx.plat.alloc_pages(&fx, i + 1),
						  i + 1, &h[i]), 0);
	for (unsigned i = 0; i < 20; i += 2)
		assert_int_equal(vsc_gpadl_teardown(&fx.bus, vmbfx_relid(a), h[19 - i - 1]), 0);
	for (unsigned i = 1; i < 20; i += 2)
		assert_int_equal(vsc_gpadl_teardown(&fx.bus, vmbfx_relid(b), h[i]), 0);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, 0);
	vmbfx_fini(&fx);
}

/* Two GPADLs built at once: bodies are matched to their header by handle. */
static void test_gpadl_interleaved(void **state)
{
	struct vmbfx_vsp *v;
	uint64_t pfns[40];
	uint32_t relid;
	struct vmbus_channel_gpadl_created c1, c2;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	relid = vmbfx_relid(v);
	for (unsigned i = 0; i < 40; i++)
		pfns[i] = fx.plat.alloc_pages(&fx, 1) / 4096; /* not contiguous in order: fine for a GPADL */
	post_header(relid, 0x100, 8 + 8 * 30, 1, 30 * 4096, 0, pfns, 26);
	post_header(relid, 0x200, 8 + 8 * 10, 1, 10 * 4096, 0, pfns + 30, 10);
	post_body(0x100, pfns + 26, 4);
	vmbfx_expect_msg(&fx, CHANNELMSG_GPADL_CREATED, &c1, sizeof(c1));
	vmbfx_expect_msg(&fx, CHANNELMSG_GPADL_CREATED, &c2, sizeof(c2));
	assert_int_equal(c1.gpadl, 0x200);
	assert_int_equal(c1.creation_status, 0);
	assert_int_equal(c2.gpadl, 0x100);
	assert_int_equal(c2.creation_status, 0);
	post_teardown(relid, 0x100);
	expect_torndown(0x100);
	post_teardown(relid, 0x200);
	expect_torndown(0x200);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, 0);
	vmbfx_fini(&fx);
}

/* A GPADL with a byte_offset into its first page and a byte_count that ends inside the last one is valid. */
static void test_gpadl_partial_pages(void **state)
{
	struct vmbfx_vsp *v;
	uint64_t pfns[3];
	uint32_t relid;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	relid = vmbfx_relid(v);
	for (unsigned i = 0; i < 3; i++)
		pfns[i] = VMBFX_ALLOC_BASE / 4096 + i;
	post_header(relid, 0x300, 8 + 24, 1, 2 * 4096 + 100, 512, pfns, 3);
	expect_created(relid, 0x300);
	vmbfx_fini(&fx);
}

static void test_gpadl_pfn_outside_ram(void **state)
{
	static const uint64_t bad_pfns[] = { RAM_PFNS, RAM_PFNS + 5, 0xFFFFFFFFFull, UINT64_MAX, UINT64_MAX / 4096 + 1,
					     (VID_LOWMEM_TOP / 4096) + 1 };
	struct vmbfx_vsp *v;
	uint32_t relid, handle = 0x1000;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	relid = vmbfx_relid(v);
	for (unsigned i = 0; i < sizeof(bad_pfns) / sizeof(bad_pfns[0]); i++, handle++) {
		uint64_t pfns[30], rejected = vmbfx_stats(&fx).messages_rejected;

		/* In the header (alone) ... */
		pfns[0] = VMBFX_ALLOC_BASE / 4096;
		pfns[1] = bad_pfns[i];
		post_header(relid, handle, 8 + 16, 1, 2 * 4096, 0, pfns, 2);
		expect_gpadl_refused(handle, rejected);
		/* ... and in a body: refused once the GPADL is complete. */
		handle += 0x100;
		rejected = vmbfx_stats(&fx).messages_rejected;
		for (unsigned j = 0; j < 30; j++)
			pfns[j] = VMBFX_ALLOC_BASE / 4096 + j;
		pfns[28] = bad_pfns[i];
		post_header(relid, handle, 8 + 8 * 30, 1, 30 * 4096, 0, pfns, 26);
		vmbfx_expect_no_msg(&fx); /* incomplete: no answer yet */
		post_body(handle, pfns + 26, 4);
		expect_gpadl_refused(handle, rejected);
		handle -= 0x100;
	}
	/* A refused GPADL does not exist: opening a channel with it fails, and a good one still works. */
	{
		struct vsc_channel ch;

		vmbfx_open(&fx, v, &ch, 2, 0);
		assert_int_equal(vsc_channel_close(&ch), 0);
	}
	vmbfx_fini(&fx);
}

static void test_gpadl_duplicate_handle(void **state)
{
	struct vmbfx_vsp *v, *w;
	uint32_t relid;
	uint64_t rejected;

	(void)state;
	vmbfx_init_two(&fx, 1, &v, &w);
	relid = vmbfx_relid(v);
	post_good_header(relid, 0x500, VMBFX_ALLOC_BASE / 4096, 4);
	expect_created(relid, 0x500);
	/* The same handle again: on the same channel, and on another one. */
	rejected = vmbfx_stats(&fx).messages_rejected;
	post_good_header(relid, 0x500, VMBFX_ALLOC_BASE / 4096 + 8, 2);
	expect_gpadl_refused(0x500, rejected);
	rejected = vmbfx_stats(&fx).messages_rejected;
	post_good_header(vmbfx_relid(w), 0x500, VMBFX_ALLOC_BASE / 4096 + 8, 2);
	expect_gpadl_refused(0x500, rejected);
	/* While the first is still incomplete, too. */
	{
		uint64_t pfns[26];

		for (unsigned i = 0; i < 26; i++)
			pfns[i] = VMBFX_ALLOC_BASE / 4096 + i;
		post_header(relid, 0x600, 8 + 8 * 27, 1, 27 * 4096, 0, pfns, 26);
		vmbfx_expect_no_msg(&fx);
		rejected = vmbfx_stats(&fx).messages_rejected;
		post_good_header(relid, 0x600, VMBFX_ALLOC_BASE / 4096, 1);
		expect_gpadl_refused(0x600, rejected);
	}
	/* The original GPADL 0x500 is intact: it tears down normally (exactly once). */
	post_teardown(relid, 0x500);
	expect_torndown(0x500);
	rejected = vmbfx_stats(&fx).messages_rejected;
	post_teardown(relid, 0x500);
	vmbfx_expect_no_msg(&fx);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, rejected + 1);
	vmbfx_fini(&fx);
}

static void test_gpadl_bad_relid(void **state)
{
	static const uint32_t relids[] = { 0, 5, 2047, 2048, 0xFFFFFFFFu };
	struct vmbfx_vsp *v;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	for (unsigned i = 0; i < sizeof(relids) / sizeof(relids[0]); i++) {
		uint64_t rejected = vmbfx_stats(&fx).messages_rejected;

		assert_int_not_equal(relids[i], vmbfx_relid(v));
		post_good_header(relids[i], 0x700 + i, VMBFX_ALLOC_BASE / 4096, 2);
		expect_gpadl_refused(0x700 + i, rejected);
	}
	vmbfx_fini(&fx);
}

/* Headers whose range description does not add up. */
static void test_gpadl_bad_ranges(void **state)
{
	struct vmbfx_vsp *v;
	uint32_t relid, handle = 0x800;
	uint64_t pfns[26];
	struct {
		const char *what;
		uint16_t buflen, rangecount;
		uint32_t byte_count, byte_offset;
		unsigned n;
	} cases[] = {
		{ "rangecount 0", 8 + 16, 0, 8192, 0, 2 },
		{ "rangecount 2", 8 + 16, 2, 8192, 0, 2 },
		{ "rangecount 0xFFFF", 8 + 16, 0xFFFF, 8192, 0, 2 },
		{ "range_buflen 0", 0, 1, 8192, 0, 2 },
		{ "range_buflen 8: no PFN", 8, 1, 0, 0, 0 },
		{ "range_buflen not 8 + 8n", 8 + 12, 1, 8192, 0, 2 },
		{ "byte_count 0", 8 + 16, 1, 0, 0, 2 },
		{ "byte_count beyond the PFNs", 8 + 16, 1, 3 * 4096, 0, 2 },
		{ "byte_offset 4096", 8 + 16, 1, 4096, 4096, 2 },
		{ "byte_offset + byte_count beyond the PFNs", 8 + 16, 1, 8192, 8, 2 },
		{ "range_buflen of 65535", 0xFFFF, 1, 8192, 0, 2 },
	};

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	relid = vmbfx_relid(v);
	for (unsigned i = 0; i < 26; i++)
		pfns[i] = VMBFX_ALLOC_BASE / 4096 + i;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++, handle++) {
		uint64_t rejected = vmbfx_stats(&fx).messages_rejected;

		print_message("case: %s\n", cases[i].what);
		post_header(relid, handle, cases[i].buflen, cases[i].rangecount, cases[i].byte_count,
			    cases[i].byte_offset, pfns, cases[i].n);
		expect_gpadl_refused(handle, rejected);
	}
	/* None of them exists: tearing them down finds nothing. */
	for (uint32_t h = 0x800; h < handle; h++) {
		uint64_t rejected = vmbfx_stats(&fx).messages_rejected;

		post_teardown(relid, h);
		vmbfx_expect_no_msg(&fx);
		assert_int_equal(vmbfx_stats(&fx).messages_rejected, rejected + 1);
	}
	vmbfx_fini(&fx);
}

static void test_gpadl_bad_bodies(void **state)
{
	struct vmbfx_vsp *v;
	uint32_t relid;
	uint64_t pfns[28], rejected;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	relid = vmbfx_relid(v);
	for (unsigned i = 0; i < 28; i++)
		pfns[i] = VMBFX_ALLOC_BASE / 4096 + i;

	/* A body for a handle nobody announced: dropped. */
	rejected = vmbfx_stats(&fx).messages_rejected;
	post_body(0x900, pfns, 3);
	vmbfx_expect_no_msg(&fx);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, rejected + 1);

	/* A body for a complete GPADL: dropped, the GPADL unharmed. */
	post_good_header(relid, 0x901, pfns[0], 2);
	expect_created(relid, 0x901);
	rejected = vmbfx_stats(&fx).messages_rejected;
	post_body(0x901, pfns, 2);
	vmbfx_expect_no_msg(&fx);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, rejected + 1);
	post_teardown(relid, 0x901);
	expect_torndown(0x901);

	/* More PFNs in bodies than range_buflen announced: refused. */
	post_header(relid, 0x902, 8 + 8 * 30, 1, 30 * 4096, 0, pfns, 26);
	rejected = vmbfx_stats(&fx).messages_rejected;
	post_body(0x902, pfns, 5);
	expect_gpadl_refused(0x902, rejected);

	/* An empty body (no PFN): refused or dropped; the GPADL never completes. */
	post_header(relid, 0x903, 8 + 8 * 27, 1, 27 * 4096, 0, pfns, 26);
	rejected = vmbfx_stats(&fx).messages_rejected;
	post_body(0x903, pfns, 0);
	expect_gpadl_refused(0x903, rejected);

	/* Still fine: a good many-body GPADL. */
	{
		uint32_t h;

		assert_int_equal(vsc_gpadl_create(&fx.bus, relid, fx.plat.alloc_pages(&fx, 100), 100, &h), 0);
		assert_int_equal(vsc_gpadl_teardown(&fx.bus, relid, h), 0);
	}
	vmbfx_fini(&fx);
}

/* GPADL_TEARDOWN: of an unknown handle, of another channel's GPADL, twice. */
static void test_gpadl_teardown_errors(void **state)
{
	struct vmbfx_vsp *a, *b;
	uint32_t h;
	uint64_t rejected;

	(void)state;
	vmbfx_init_two(&fx, 1, &a, &b);
	assert_int_equal(vsc_gpadl_create(&fx.bus, vmbfx_relid(a), fx.plat.alloc_pages(&fx, 3), 3, &h), 0);
	rejected = vmbfx_stats(&fx).messages_rejected;
	post_teardown(vmbfx_relid(a), 0xDEAD);
	vmbfx_expect_no_msg(&fx);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, rejected + 1);
	post_teardown(vmbfx_relid(b), h); /* not b's */
	vmbfx_expect_no_msg(&fx);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, rejected + 2);
	assert_int_equal(vsc_gpadl_teardown(&fx.bus, vmbfx_relid(a), h), 0);
	post_teardown(vmbfx_relid(a), h);
	vmbfx_expect_no_msg(&fx);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, rejected + 3);
	vmbfx_fini(&fx);
}

/*
 * A GPADL of 2500 pages: 1 header + 89 bodies, more than the server's message queue holds at once; the client
 * retries on HV_STATUS_INSUFFICIENT_BUFFERS (Linux vmbus_post_msg) and the server gets every PFN.
 */
static void test_gpadl_huge(void **state)
{
	struct vmbfx_vsp *v;
	uint32_t h;
	uint64_t before;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	before = posts();
	assert_int_equal(vsc_gpadl_create(&fx.bus, vmbfx_relid(v), fx.plat.alloc_pages(&fx, 2500), 2500, &h), 0);
	assert_true(posts() - before >= 1 + 89); /* plus the posts the server asked to retry */
	assert_int_equal(vsc_gpadl_teardown(&fx.bus, vmbfx_relid(v), h), 0);
	assert_int_equal(vmbfx_stats(&fx).messages_rejected, 0);
	vmbfx_fini(&fx);
}

/* A guest cannot make the host keep GPADLs without bound: creation is refused at some point, and works again
 * once one is torn down. */
static void test_gpadl_count_bounded(void **state)
{
	struct vmbfx_vsp *v;
	uint32_t relid, handle, created = 0;
	bool refused = false;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	relid = vmbfx_relid(v);
	for (handle = 0x10000; handle < 0x10000 + 8192; handle++) {
		struct vmbus_channel_gpadl_created c;

		post_good_header(relid, handle, VMBFX_ALLOC_BASE / 4096, 1);
		vmbfx_expect_msg(&fx, CHANNELMSG_GPADL_CREATED, &c, sizeof(c));
		assert_int_equal(c.gpadl, handle);
		if (c.creation_status) {
			refused = true;
			break;
		}
		created++;
	}
	assert_true(refused);
	assert_true(created >= 64);
	post_teardown(relid, 0x10000);
	expect_torndown(0x10000);
	post_good_header(relid, handle, VMBFX_ALLOC_BASE / 4096, 1);
	expect_created(relid, handle);
	/* A reset forgets them all. */
	fx.bus.next_gpadl = 0x10001;
	vmbfx_connect(&fx);
	{
		uint32_t h;

		assert_int_equal(vsc_gpadl_create(&fx.bus, relid, VMBFX_ALLOC_BASE, 1, &h), 0);
		assert_int_equal(h, 0x10001);
	}
	vmbfx_fini(&fx);
}

/* The client: GPADLs of bad sizes are refused before anything is posted. */
static void test_client_gpadl_args(void **state)
{
	struct vmbfx_vsp *v;
	uint32_t h;
	uint64_t before;

	(void)state;
	vmbfx_init(&fx, 1, 0);
	v = vmbfx_offer(&fx, scsi_guid, 1);
	vmbfx_connect(&fx);
	before = posts();
	assert_int_equal(vsc_gpadl_create(&fx.bus, vmbfx_relid(v), VMBFX_ALLOC_BASE, 0, &h), -VSC_EINVAL);
	assert_int_equal(vsc_gpadl_create(&fx.bus, vmbfx_relid(v), VMBFX_ALLOC_BASE + 1, 1, &h), -VSC_EINVAL);
	assert_int_equal(vsc_gpadl_create(&fx.bus, vmbfx_relid(v), VMBFX_ALLOC_BASE, 9000, &h), -VSC_EINVAL);
	assert_int_equal(posts(), before);
	/* A server refusal surfaces as -VSC_EIO. */
	assert_int_equal(vsc_gpadl_create(&fx.bus, vmbfx_relid(v), VMBFX_RAM_BYTES, 1, &h), -VSC_EIO);
	vmbfx_fini(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpadl_sizes),
		cmocka_unit_test(test_gpadl_many_alive),
		cmocka_unit_test(test_gpadl_interleaved),
		cmocka_unit_test(test_gpadl_partial_pages),
		cmocka_unit_test(test_gpadl_pfn_outside_ram),
		cmocka_unit_test(test_gpadl_duplicate_handle),
		cmocka_unit_test(test_gpadl_bad_relid),
		cmocka_unit_test(test_gpadl_bad_ranges),
		cmocka_unit_test(test_gpadl_bad_bodies),
		cmocka_unit_test(test_gpadl_teardown_errors),
		cmocka_unit_test(test_gpadl_huge),
		cmocka_unit_test(test_gpadl_count_bounded),
		cmocka_unit_test(test_client_gpadl_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
