// SPDX-License-Identifier: MIT
/*
 * Unit tests of the disk backend (backend/disk/disk.h) on small files in a temporary directory (and on a loop
 * device when losetup works): reads and writes through many iovecs, O_DIRECT with misaligned requests (bounce
 * buffers, read-modify-write of edge blocks, several at once in one block), the queue-depth limit, flush and its
 * ordering, discard, write zeroes (fallocate and the written-zeroes fallback), read-only, ranges beyond the end,
 * callbacks that submit more, disk_close with requests in flight, the event fd, reads past a shrunken file's end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

#include "backend/disk/disk.h"
#include "backend/disk/disk_internal.h"

#define FILE_SIZE (4u << 20)
#define TIO_IOVS 160u

static char g_dir[256];
static char g_path[300];
static unsigned g_seq;

/* One test request with its own iovec array and callback record. */
struct tio {
	struct disk_request req;
	struct iovec iov[TIO_IOVS];
	int64_t result;
	int calls;
	unsigned seq; /* completion order (g_seq) */
};

static void tio_done(struct disk_request *r, int64_t result)
{
	struct tio *t = r->opaque;

	t->result = result;
	t->calls++;
	t->seq = ++g_seq;
}

static void tio_init(struct tio *t, enum disk_op op, uint64_t off, uint64_t len)
{
	memset(t, 0, sizeof(*t));
	t->req.op = op;
	t->req.offset = off;
	t->req.length = len;
	t->req.iov = t->iov;
	t->req.done = tio_done;
	t->req.opaque = t;
}

static void tio_add(struct tio *t, void *base, size_t len)
{
	assert_true(t->req.iovcnt < TIO_IOVS);
	t->iov[t->req.iovcnt].iov_base = base;
	t->iov[t->req.iovcnt].iov_len = len;
	t->req.iovcnt++;
}

/* Submit @t and poll until it completes; returns its result. */
static int64_t tio_run(struct disk *d, struct tio *t)
{
	assert_int_equal(disk_submit(d, &t->req), 0);
	while (!t->calls)
		assert_true(disk_poll(d, true) >= 0);
	assert_int_equal(t->calls, 1);
	return t->result;
}

static int64_t run_rw(struct disk *d, enum disk_op op, uint64_t off, void *buf, size_t len)
{
	struct tio t;

	tio_init(&t, op, off, 0);
	tio_add(&t, buf, len);
	return tio_run(d, &t);
}

static int64_t run_op(struct disk *d, enum disk_op op, uint64_t off, uint64_t len)
{
	struct tio t;

	tio_init(&t, op, off, len);
	return tio_run(d, &t);
}

static void wait_all(struct disk *d)
{
	while (disk_inflight(d))
		assert_true(disk_poll(d, true) >= 0);
}

/* The byte the pattern @seed puts at file offset @x. */
static uint8_t pat(uint64_t x, unsigned seed) { return (uint8_t)(x * 7u + (x >> 9) + seed * 13u + 1u); }

static void pat_fill(uint8_t *p, uint64_t off, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pat(off + i, seed);
}

static void *abuf(size_t len)
{
	void *p = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);

	assert_non_null(p);
	return p;
}

/* Write the whole test file with pattern @seed (plain I/O, not the backend), @size bytes. */
static void file_make(const char *path, uint64_t size, unsigned seed)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	uint8_t *b = malloc(65536);

	assert_true(fd >= 0);
	assert_non_null(b);
	for (uint64_t off = 0; off < size; off += 65536) {
		size_t n = (size_t)(size - off < 65536 ? size - off : 65536);

		pat_fill(b, off, n, seed);
		assert_int_equal(pwrite(fd, b, n, (off_t)off), (ssize_t)n);
	}
	free(b);
	close(fd);
}

/* Read @len bytes at @off of the file behind the backend's back. */
static void file_read(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* Check file bytes [off, off + len) hold pattern @seed. */
static void file_check_pat(const char *path, uint64_t off, size_t len, unsigned seed)
{
	uint8_t *got = malloc(len), *want = malloc(len);

	assert_non_null(got);
	assert_non_null(want);
	file_read(path, off, got, len);
	pat_fill(want, off, len, seed);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
}

static void file_check_zero(const char *path, uint64_t off, size_t len)
{
	uint8_t *got = malloc(len), *want = calloc(1, len);

	assert_non_null(got);
	assert_non_null(want);
	file_read(path, off, got, len);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
}

static struct disk *open_disk(const char *path, bool direct, bool ro, unsigned qd)
{
	struct disk_config cfg = { .path = path, .direct = direct, .read_only = ro, .queue_depth = qd };
	struct disk *d = NULL;

	assert_int_equal(disk_open(&cfg, &d), 0);
	assert_non_null(d);
	return d;
}

static int setup(void **state)
{
	/* A disk-backed file system (O_DIRECT, hole punching): the build tree under ctest, else /var/tmp. */
	const char *base = getenv("OPENHV_BUILD_DIR") ? getenv("OPENHV_BUILD_DIR") : "/var/tmp";

	(void)state;
	snprintf(g_dir, sizeof(g_dir), "%s/openhv-disk-XXXXXX", base);
	if (!mkdtemp(g_dir))
		return -1;
	snprintf(g_path, sizeof(g_path), "%s/disk.img", g_dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- open ------------------------------------------------------------------------------------------------- */

static void test_open_info(void **state)
{
	struct disk_config cfg = { .path = g_path, .direct = true };
	struct disk_info info;
	struct disk *d, *d2;

	(void)state;
	file_make(g_path, FILE_SIZE, 1);
	d = open_disk(g_path, true, false, 0);
	disk_get_info(d, &info);
	assert_true(info.size_bytes == FILE_SIZE);
	assert_false(info.block_device);
	assert_false(info.read_only);
	assert_true(info.direct);
	assert_true(info.direct_align >= 512 && !(info.direct_align & (info.direct_align - 1)));
	assert_true(disk_event_fd(d) >= 0);
	assert_int_equal(disk_inflight(d), 0);
	/* A second writer of the same image is refused (flock). */
	assert_int_equal(disk_open(&cfg, &d2), -EBUSY);
	disk_close(d);

	cfg.path = "/nonexistent/openhv.img";
	assert_int_equal(disk_open(&cfg, &d2), -ENOENT);
	cfg.path = g_dir;
	assert_int_equal(disk_open(&cfg, &d2), -EINVAL);
	cfg.path = g_path;
	cfg.queue_depth = 5000;
	assert_int_equal(disk_open(&cfg, &d2), -EINVAL);
	disk_close(NULL);
}

/* A size that is not a multiple of the O_DIRECT alignment: the page cache is used, all bytes reachable. */
static void test_open_odd_size_falls_back(void **state)
{
	struct disk_info info;
	uint8_t buf[100];
	struct disk *d;

	(void)state;
	file_make(g_path, 10000, 2);
	d = open_disk(g_path, true, false, 4);
	disk_get_info(d, &info);
	assert_true(info.size_bytes == 10000);
	assert_false(info.direct);
	assert_int_equal(run_rw(d, DISK_OP_READ, 9900, buf, 100), 100);
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(buf[i], pat(9900 + i, 2));
	disk_close(d);
}

/* ---- reads and writes ------------------------------------------------------------------------------------- */

/* Write through one iovec layout, read back through another. */
static void rw_many_iovecs(bool direct)
{
	const size_t len = 256 * 1024;
	uint8_t *src = abuf(len), *dst = abuf(len);
	struct disk_stats st;
	struct disk_info info;
	struct tio t;
	struct disk *d;

	file_make(g_path, FILE_SIZE, 1);
	d = open_disk(g_path, direct, false, 0);
	disk_get_info(d, &info);
	/* 64 iovecs of 4 KiB, scattered in memory; the pattern follows the iovec order. */
	tio_init(&t, DISK_OP_WRITE, 1 << 20, 0);
	for (unsigned i = 0; i < 64; i++) {
		uint8_t *p = src + ((i * 37u) % 64u) * 4096;

		pat_fill(p, (1u << 20) + i * 4096u, 4096, 9);
		tio_add(&t, p, 4096);
	}
	assert_true(tio_run(d, &t) == (int64_t)len);
	file_check_pat(g_path, 1 << 20, len, 9);
	file_check_pat(g_path, 0, 1 << 20, 1);
	file_check_pat(g_path, (1 << 20) + len, 4096, 1);

	/* Read back through 128 iovecs of 2 KiB plus a zero-length one. */
	memset(dst, 0, len);
	tio_init(&t, DISK_OP_READ, 1 << 20, 0);
	tio_add(&t, dst, 0);
	for (unsigned i = 0; i < 128; i++)
		tio_add(&t, dst + i * 2048u, 2048);
	assert_true(tio_run(d, &t) == (int64_t)len);
	for (size_t i = 0; i < len; i++)
		if (dst[i] != pat((1u << 20) + i, 9))
			fail_msg("byte %zu: %u != %u", i, dst[i], pat((1u << 20) + i, 9));
	disk_get_stats(d, &st);
	if (!direct || info.direct_align <= 2048)
		assert_true(st.bounced == 0);
	disk_close(d);
	free(src);
	free(dst);
}

static void test_rw_many_iovecs_direct(void **state)
{
	(void)state;
	rw_many_iovecs(true);
}

static void test_rw_many_iovecs_buffered(void **state)
{
	(void)state;
	rw_many_iovecs(false);
}

/* Page cache: any offsets and iovec lengths (1..150 bytes), 150 iovecs. */
static void test_rw_odd_iovecs_buffered(void **state)
{
	uint8_t *src = abuf(65536), *dst = abuf(65536);
	size_t total = 0;
	struct tio t;
	struct disk *d;

	(void)state;
	file_make(g_path, FILE_SIZE, 1);
	d = open_disk(g_path, false, false, 0);
	tio_init(&t, DISK_OP_WRITE, 12345, 0);
	for (unsigned i = 0; i < 150; i++) {
		tio_add(&t, src + total + i, i + 1); /* gaps of i bytes between the pieces */
		total += 2 * i + 1;
	}
	size_t len = 0;
	for (unsigned i = 0; i < 150; i++) {
		pat_fill(t.iov[i].iov_base, 12345 + len, t.iov[i].iov_len, 4);
		len += t.iov[i].iov_len;
	}
	assert_true(tio_run(d, &t) == (int64_t)len);
	file_check_pat(g_path, 12345, len, 4);
	file_check_pat(g_path, 0, 12345, 1);
	file_check_pat(g_path, 12345 + len, 999, 1);
	assert_int_equal(run_rw(d, DISK_OP_READ, 12345, dst, len), (int64_t)len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(dst[i], pat(12345 + i, 4));
	disk_close(d);
	free(src);
	free(dst);
}

/* ---- O_DIRECT bounce path --------------------------------------------------------------------------------- */

static void test_direct_misaligned(void **state)
{
	uint8_t *buf = abuf(1 << 20), *chk = abuf(1 << 20);
	struct disk_stats st;
	struct disk_info info;
	struct tio t;
	struct disk *d;

	(void)state;
	file_make(g_path, FILE_SIZE, 1);
	d = open_disk(g_path, true, false, 0);
	disk_get_info(d, &info);
	assert_true(info.direct);

	/* Memory misaligned, offset aligned: bounced, no read-modify-write. */
	pat_fill(buf + 1, 8192, 8192, 5);
	assert_int_equal(run_rw(d, DISK_OP_WRITE, 8192, buf + 1, 8192), 8192);
	file_check_pat(g_path, 8192, 8192, 5);
	memset(chk, 0, 8192 + 3);
	assert_int_equal(run_rw(d, DISK_OP_READ, 8192, chk + 3, 8192), 8192);
	for (unsigned i = 0; i < 8192; i++)
		assert_int_equal(chk[3 + i], pat(8192 + i, 5));
	disk_get_stats(d, &st);
	assert_true(st.bounced == 2);
	assert_true(st.rmw == 0);

	/* Offset and length inside one block: read-modify-write, neighbours untouched. */
	pat_fill(buf, 100, 300, 6);
	assert_int_equal(run_rw(d, DISK_OP_WRITE, 100, buf, 300), 300);
	file_check_pat(g_path, 0, 100, 1);
	file_check_pat(g_path, 100, 300, 6);
	file_check_pat(g_path, 400, 8192 - 400, 1);

	/* Several windows (> 64 KiB), odd offset and iovec lengths. */
	const uint64_t off = 3 * 65536 + 777;
	size_t len = 0;
	tio_init(&t, DISK_OP_WRITE, off, 0);
	for (unsigned i = 0; i < 7; i++) {
		size_t l = 40000 + i * 1111;

		tio_add(&t, buf + len + i, l);
		pat_fill(buf + len + i, off + len, l, 7);
		len += l;
	}
	assert_true(tio_run(d, &t) == (int64_t)len);
	file_check_pat(g_path, off - 5000, 5000, 1);
	file_check_pat(g_path, off, len, 7);
	file_check_pat(g_path, off + len, 5000, 1);
	memset(chk, 0, len + 1);
	assert_true(run_rw(d, DISK_OP_READ, off, chk + 1, len) == (int64_t)len);
	for (size_t i = 0; i < len; i++)
		if (chk[1 + i] != pat(off + i, 7))
			fail_msg("byte %zu", i);
	disk_get_stats(d, &st);
	assert_true(st.rmw == 2);

	/* The last bytes of the disk, misaligned. */
	pat_fill(buf, FILE_SIZE - 1000, 1000, 8);
	assert_int_equal(run_rw(d, DISK_OP_WRITE, FILE_SIZE - 1000, buf, 1000), 1000);
	file_check_pat(g_path, FILE_SIZE - 1000, 1000, 8);
	file_check_pat(g_path, FILE_SIZE - 8192, 8192 - 1000, 1);
	disk_close(d);
	free(buf);
	free(chk);
}

/*
 * Many small writes into the same blocks at once, with aligned writes and reads mixed in: each
 * read-modify-write must see the others' bytes (they run one at a time), nothing may be lost.
 */
static void test_direct_misaligned_concurrent(void **state)
{
	enum { N = 24 };
	static struct tio t[N];
	uint8_t *buf = abuf(N * 4096), *rd = abuf(8192);
	struct disk *d;

	(void)state;
	file_make(g_path, FILE_SIZE, 1);
	d = open_disk(g_path, true, false, 32);
	for (unsigned i = 0; i < N; i++) {
		if (i % 6 == 5) {
			/* An aligned write of block 4..5 and a read, between the misaligned ones. */
			pat_fill(buf + i * 4096, 4 * 4096, 4096, 3);
			tio_init(&t[i], i % 12 == 5 ? DISK_OP_WRITE : DISK_OP_READ, 4 * 4096, 0);
			tio_add(&t[i], i % 12 == 5 ? buf + i * 4096 : rd, 4096);
		} else {
			/* 100 bytes each, packed: blocks 0 and 1 get many writers. */
			pat_fill(buf + i * 4096, i * 100u, 100, 3);
			tio_init(&t[i], DISK_OP_WRITE, i * 100u, 0);
			tio_add(&t[i], buf + i * 4096, 100);
		}
		assert_int_equal(disk_submit(d, &t[i].req), 0);
	}
	wait_all(d);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(t[i].calls, 1);
		assert_true(t[i].result == (int64_t)t[i].iov[0].iov_len);
		if (i % 6 != 5)
			file_check_pat(g_path, i * 100u, 100, 3);
	}
	file_check_pat(g_path, 4 * 4096, 4096, 3);
	file_check_pat(g_path, N * 100u, 4096, 1);
	disk_close(d);
	free(buf);
	free(rd);
}

/* ---- queue depth ------------------------------------------------------------------------------------------ */

static void test_queue_depth_eagain(void **state)
{
	static struct tio t[5];
	uint8_t *buf = abuf(5 * 4096);
	struct disk *d;

	(void)state;
	file_make(g_path, FILE_SIZE, 1);
	d = open_disk(g_path, true, false, 4);
	for (unsigned i = 0; i < 5; i++) {
		tio_init(&t[i], DISK_OP_READ, i * 4096u, 0);
		tio_add(&t[i], buf + i * 4096, 4096);
	}
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(disk_submit(d, &t[i].req), 0);
	assert_int_equal(disk_inflight(d), 4);
	assert_int_equal(disk_submit(d, &t[4].req), -EAGAIN);
	/* Flushes and zero-length requests count too. */
	struct tio f;
	tio_init(&f, DISK_OP_FLUSH, 0, 0);
	assert_int_equal(disk_submit(d, &f.req), -EAGAIN);
	wait_all(d);
	assert_int_equal(t[4].calls, 0);
	assert_int_equal(tio_run(d, &t[4]), 4096);
	for (unsigned i = 0; i < 4; i++)
		assert_true(t[i].calls == 1 && t[i].result == 4096);
	disk_close(d);
	free(buf);
}

/* ---- flush ------------------------------------------------------------------------------------------------ */

static void test_flush(void **state)
{
	enum { N = 16 };
	static struct tio w[N], late;
	struct tio f;
	uint8_t *buf = abuf((N + 1) * 4096);
	struct disk_stats st;
	struct disk *d;

	(void)state;
	file_make(g_path, FILE_SIZE, 1);
	d = open_disk(g_path, true, false, 0);
	assert_int_equal(run_op(d, DISK_OP_FLUSH, 0, 0), 0);

	/* Writes in flight, then a flush, then one more write: the flush completes after the earlier ones. */
	for (unsigned i = 0; i < N; i++) {
		pat_fill(buf + i * 4096, i * 65536u, 4096, 11);
		tio_init(&w[i], DISK_OP_WRITE, i * 65536u, 0);
		tio_add(&w[i], buf + i * 4096, 4096);
		assert_int_equal(disk_submit(d, &w[i].req), 0);
	}
	tio_init(&f, DISK_OP_FLUSH, 0, 0);
	assert_int_equal(disk_submit(d, &f.req), 0);
	tio_init(&late, DISK_OP_WRITE, 4096, 0);
	tio_add(&late, buf + N * 4096, 4096);
	assert_int_equal(disk_submit(d, &late.req), 0);
	wait_all(d);
	assert_true(f.calls == 1 && f.result == 0);
	for (unsigned i = 0; i < N; i++) {
		assert_true(w[i].calls == 1 && w[i].result == 4096);
		assert_true(w[i].seq < f.seq);
	}
	assert_true(late.calls == 1);
	disk_get_stats(d, &st);
	assert_true(st.flush_waits >= 1);
	for (unsigned i = 0; i < N; i++)
		file_check_pat(g_path, i * 65536u, 4096, 11);
	disk_close(d);
	free(buf);
}

/* ---- discard and write zeroes ----------------------------------------------------------------------------- */

static void test_discard(void **state)
{
	struct disk_info info;
	struct disk *d;
	struct stat st0, st1;

	(void)state;
	file_make(g_path, FILE_SIZE, 1);
	d = open_disk(g_path, true, false, 0);
	disk_get_info(d, &info);
	if (!info.discard) {
		assert_int_equal(run_op(d, DISK_OP_DISCARD, 0, 65536), -EOPNOTSUPP);
		disk_close(d);
		skip();
	}
	assert_int_equal(stat(g_path, &st0), 0);
	assert_int_equal(run_op(d, DISK_OP_DISCARD, 1 << 20, 1 << 20), 0);
	file_check_zero(g_path, 1 << 20, 1 << 20);
	file_check_pat(g_path, (1 << 20) - 4096, 4096, 1);
	file_check_pat(g_path, 2 << 20, 4096, 1);
	assert_int_equal(stat(g_path, &st1), 0);
	assert_true(st1.st_blocks < st0.st_blocks);
	assert_true(st1.st_size == FILE_SIZE);
	/* Misaligned: the file system zeroes the partial blocks. */
	assert_int_equal(run_op(d, DISK_OP_DISCARD, 3 * 65536 + 100, 10000), 0);
	file_check_pat(g_path, 3 * 65536, 100, 1);
	file_check_zero(g_path, 3 * 65536 + 100, 10000);
	file_check_pat(g_path, 3 * 65536 + 10100, 1000, 1);
	assert_int_equal(run_op(d, DISK_OP_DISCARD, 0, 0), 0);
	disk_close(d);
}

static void write_zeroes(bool direct, unsigned quirks)
{
	struct disk_stats st;
	struct disk *d;

	file_make(g_path, FILE_SIZE, 1);
	d = open_disk(g_path, direct, false, 0);
	disk_set_quirks(d, quirks);
	assert_int_equal(run_op(d, DISK_OP_WRITE_ZEROES, 1 << 20, 600 * 1024), 0);
	file_check_pat(g_path, (1 << 20) - 4096, 4096, 1);
	file_check_zero(g_path, 1 << 20, 600 * 1024);
	file_check_pat(g_path, (1 << 20) + 600 * 1024, 4096, 1);
	/* Misaligned, across bounce windows when written. */
	assert_int_equal(run_op(d, DISK_OP_WRITE_ZEROES, 3 << 20 | 333, 150000), 0);
	file_check_pat(g_path, 3 << 20, 333, 1);
	file_check_zero(g_path, 3 << 20 | 333, 150000);
	file_check_pat(g_path, (3 << 20 | 333) + 150000, 5000, 1);
	/* The whole disk. */
	assert_int_equal(run_op(d, DISK_OP_WRITE_ZEROES, 0, FILE_SIZE), 0);
	file_check_zero(g_path, 0, FILE_SIZE);
	disk_get_stats(d, &st);
	if (quirks == (DISK_QUIRK_NO_ZERO_RANGE | DISK_QUIRK_NO_PUNCH_HOLE))
		assert_true(st.zero_writes == 3);
	disk_close(d);
}

static void test_write_zeroes(void **state)
{
	(void)state;
	write_zeroes(true, 0);
	write_zeroes(false, 0);
}

/* The fallbacks: punch hole instead of zero range, then writes of zeroes (bounced when misaligned). */
static void test_write_zeroes_fallbacks(void **state)
{
	(void)state;
	write_zeroes(true, DISK_QUIRK_NO_ZERO_RANGE);
	write_zeroes(true, DISK_QUIRK_NO_ZERO_RANGE | DISK_QUIRK_NO_PUNCH_HOLE);
	write_zeroes(false, DISK_QUIRK_NO_ZERO_RANGE | DISK_QUIRK_NO_PUNCH_HOLE);
}

/* ---- errors ----------------------------------------------------------------------------------------------- */

static void test_read_only(void **state)
{
	uint8_t *buf = abuf(4096);
	struct disk_info info;
	struct disk *d, *d2;
	struct tio t;

	(void)state;
	file_make(g_path, FILE_SIZE, 1);
	chmod(g_path, 0400);
	d = open_disk(g_path, true, true, 0);
	d2 = open_disk(g_path, false, true, 0); /* readers share the lock */
	disk_get_info(d, &info);
	assert_true(info.read_only);
	assert_false(info.discard);
	tio_init(&t, DISK_OP_WRITE, 0, 0);
	tio_add(&t, buf, 4096);
	assert_int_equal(disk_submit(d, &t.req), -EROFS);
	const enum disk_op ops[] = { DISK_OP_FLUSH, DISK_OP_DISCARD, DISK_OP_WRITE_ZEROES };
	for (unsigned i = 0; i < 3; i++) {
		tio_init(&t, ops[i], 0, 4096);
		assert_int_equal(disk_submit(d, &t.req), -EROFS);
	}
	assert_int_equal(disk_inflight(d), 0);
	assert_int_equal(t.calls, 0);
	assert_int_equal(run_rw(d, DISK_OP_READ, 4096, buf, 4096), 4096);
	assert_int_equal(buf[7], pat(4096 + 7, 1));
	assert_int_equal(run_rw(d2, DISK_OP_READ, 4096, buf, 4096), 4096);
	disk_close(d);
	disk_close(d2);
	chmod(g_path, 0600);
	free(buf);
}

static void test_out_of_range(void **state)
{
	uint8_t *buf = abuf(8192);
	static struct iovec many[DISK_MAX_IOV + 1];
	struct disk *d;
	struct tio t;

	(void)state;
	file_make(g_path, FILE_SIZE, 1);
	d = open_disk(g_path, true, false, 0);
	tio_init(&t, DISK_OP_READ, FILE_SIZE, 0);
	tio_add(&t, buf, 512);
	assert_int_equal(disk_submit(d, &t.req), -EINVAL);
	t.req.offset = FILE_SIZE - 512 + 1;
	assert_int_equal(disk_submit(d, &t.req), -EINVAL);
	t.req.offset = UINT64_MAX - 100;
	assert_int_equal(disk_submit(d, &t.req), -EINVAL);
	t.req.offset = FILE_SIZE + 4096;
	t.req.op = DISK_OP_WRITE;
	assert_int_equal(disk_submit(d, &t.req), -EINVAL);
	tio_init(&t, DISK_OP_DISCARD, FILE_SIZE - 4096, 8192);
	assert_int_equal(disk_submit(d, &t.req), -EINVAL);
	tio_init(&t, DISK_OP_WRITE_ZEROES, 4096, UINT64_MAX);
	assert_int_equal(disk_submit(d, &t.req), -EINVAL);
	tio_init(&t, (enum disk_op)99, 0, 0);
	assert_int_equal(disk_submit(d, &t.req), -EINVAL);
	/* Too many iovecs; lengths that overflow. */
	for (unsigned i = 0; i <= DISK_MAX_IOV; i++) {
		many[i].iov_base = buf;
		many[i].iov_len = 512;
	}
	tio_init(&t, DISK_OP_READ, 0, 0);
	t.req.iov = many;
	t.req.iovcnt = DISK_MAX_IOV + 1;
	assert_int_equal(disk_submit(d, &t.req), -EINVAL);
	many[0].iov_len = SIZE_MAX;
	t.req.iovcnt = 2;
	assert_int_equal(disk_submit(d, &t.req), -EINVAL);
	t.req.done = NULL;
	t.req.iovcnt = 1;
	many[0].iov_len = 512;
	assert_int_equal(disk_submit(d, &t.req), -EINVAL);
	assert_int_equal(disk_inflight(d), 0);
	assert_int_equal(t.calls, 0);

	/* The last block and zero-length requests at the end are fine. */
	assert_int_equal(run_rw(d, DISK_OP_READ, FILE_SIZE - 4096, buf, 4096), 4096);
	assert_int_equal(run_rw(d, DISK_OP_READ, FILE_SIZE, buf, 0), 0);
	assert_int_equal(run_op(d, DISK_OP_WRITE_ZEROES, FILE_SIZE, 0), 0);
	/* Many iovecs (DISK_MAX_IOV) in one request. */
	tio_init(&t, DISK_OP_READ, 0, 0);
	t.req.iov = many;
	t.req.iovcnt = DISK_MAX_IOV;
	for (unsigned i = 0; i < DISK_MAX_IOV; i++) {
		many[i].iov_base = buf + (i % 16) * 512;
		many[i].iov_len = 512;
	}
	assert_true(tio_run(d, &t) == DISK_MAX_IOV * 512);
	disk_close(d);
	free(buf);
}

/* ---- callbacks, close, event fd --------------------------------------------------------------------------- */

struct chain {
	struct disk *d;
	struct disk_request req;
	struct iovec iov;
	unsigned left, done;
	int64_t bad;
};

static void chain_done(struct disk_request *r, int64_t result)
{
	struct chain *c = r->opaque;

	if (result != 4096)
		c->bad = result;
	c->done++;
	if (c->left) {
		c->left--;
		r->offset = (r->offset + 3 * 4096) % FILE_SIZE;
		if (disk_submit(c->d, r))
			c->bad = -1;
	}
}

/* Each callback submits the next request of its chain; 8 chains of 50 at once. */
static void test_callbacks_submit_more(void **state)
{
	enum { CHAINS = 8 };
	static struct chain c[CHAINS];
	uint8_t *buf = abuf(CHAINS * 4096);
	struct disk_stats st;
	struct disk *d;

	(void)state;
	file_make(g_path, FILE_SIZE, 1);
	d = open_disk(g_path, true, false, CHAINS);
	for (unsigned i = 0; i < CHAINS; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].d = d;
		c[i].left = 49;
		c[i].iov.iov_base = buf + i * 4096;
		c[i].iov.iov_len = 4096;
		c[i].req.op = i & 1 ? DISK_OP_WRITE : DISK_OP_READ;
		c[i].req.offset = i * 4096u;
		c[i].req.iov = &c[i].iov;
		c[i].req.iovcnt = 1;
		c[i].req.done = chain_done;
		c[i].req.opaque = &c[i];
		assert_int_equal(disk_submit(d, &c[i].req), 0);
	}
	wait_all(d);
	for (unsigned i = 0; i < CHAINS; i++) {
		assert_int_equal(c[i].done, 50);
		assert_true(c[i].bad == 0);
	}
	disk_get_stats(d, &st);
	assert_true(st.completed == CHAINS * 50);
	disk_close(d);
	free(buf);
}

struct nested {
	struct tio t;
	struct disk *d;
	int poll_ret;
};

static void nested_done(struct disk_request *r, int64_t result)
{
	struct nested *n = r->opaque;

	n->t.result = result;
	n->t.calls++;
	/* Wait for more from inside a callback: must not block on completions the outer poll holds. */
	n->poll_ret = disk_poll(n->d, true);
}

static void test_callback_nested_poll(void **state)
{
	enum { N = 8 };
	static struct nested n[N];
	uint8_t *buf = abuf(N * 4096);
	struct disk *d;

	(void)state;
	file_make(g_path, FILE_SIZE, 1);
	d = open_disk(g_path, true, false, N);
	for (unsigned i = 0; i < N; i++) {
		tio_init(&n[i].t, DISK_OP_READ, i * 4096u, 0);
		tio_add(&n[i].t, buf + i * 4096, 4096);
		n[i].t.req.done = nested_done;
		n[i].t.req.opaque = &n[i];
		n[i].d = d;
		assert_int_equal(disk_submit(d, &n[i].t.req), 0);
	}
	wait_all(d);
	for (unsigned i = 0; i < N; i++) {
		assert_true(n[i].t.calls == 1 && n[i].t.result == 4096);
		assert_true(n[i].poll_ret >= 0);
	}
	disk_close(d);
	free(buf);
}

static void test_close_waits(void **state)
{
	enum { N = 32 };
	static struct tio t[N];
	uint8_t *buf = abuf(N * 8192);
	struct disk *d;

	(void)state;
	file_make(g_path, FILE_SIZE, 1);
	d = open_disk(g_path, true, false, N);
	for (unsigned i = 0; i < N; i++) {
		pat_fill(buf + i * 8192, i * 8192u, 8192, 12);
		tio_init(&t[i], DISK_OP_WRITE, i * 8192u, 0);
		tio_add(&t[i], buf + i * 8192, 8192);
		assert_int_equal(disk_submit(d, &t[i].req), 0);
	}
	disk_close(d);
	for (unsigned i = 0; i < N; i++)
		assert_true(t[i].calls == 1 && t[i].result == 8192);
	file_check_pat(g_path, 0, N * 8192, 12);
	free(buf);
}

static bool fd_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static void test_event_fd(void **state)
{
	uint8_t *buf = abuf(4096);
	struct disk *d;
	struct tio t;
	int efd;

	(void)state;
	file_make(g_path, FILE_SIZE, 1);
	d = open_disk(g_path, true, false, 0);
	efd = disk_event_fd(d);
	/* The first call arms it with one signal of its own; a poll drains it. */
	assert_true(fd_readable(efd, 0));
	assert_int_equal(disk_poll(d, false), 0);
	assert_false(fd_readable(efd, 0));
	tio_init(&t, DISK_OP_READ, 65536, 0);
	tio_add(&t, buf, 4096);
	assert_int_equal(disk_submit(d, &t.req), 0);
	assert_true(fd_readable(efd, 5000));
	assert_int_equal(t.calls, 0); /* never from inside disk_submit */
	assert_int_equal(disk_poll(d, false), 1);
	assert_true(t.calls == 1 && t.result == 4096);
	assert_false(fd_readable(efd, 0));
	assert_int_equal(disk_poll(d, false), 0);

	/* Completions that need no I/O signal it too. */
	tio_init(&t, DISK_OP_WRITE, 0, 0);
	assert_int_equal(disk_submit(d, &t.req), 0);
	assert_true(fd_readable(efd, 0));
	assert_int_equal(disk_poll(d, false), 1);
	assert_true(t.calls == 1 && t.result == 0);
	assert_false(fd_readable(efd, 0));
	/* Nothing in flight: a waiting poll returns at once. */
	assert_int_equal(disk_poll(d, true), 0);
	disk_close(d);
	free(buf);
}

/* Batch mode: nothing reaches the kernel before disk_kick(); one enter for the whole burst. */
static void test_batch(void **state)
{
	enum { N = 16 };
	static struct tio t[N];
	struct disk_config cfg = { .path = g_path, .direct = true, .batch = true };
	uint8_t *buf = abuf(N * 4096);
	struct disk_stats st;
	struct disk *d;

	(void)state;
	file_make(g_path, FILE_SIZE, 1);
	assert_int_equal(disk_open(&cfg, &d), 0);
	for (unsigned i = 0; i < N; i++) {
		tio_init(&t[i], DISK_OP_READ, i * 65536u, 0);
		tio_add(&t[i], buf + i * 4096, 4096);
		assert_int_equal(disk_submit(d, &t[i].req), 0);
	}
	disk_get_stats(d, &st);
	assert_true(st.enters == 0 && st.sqes == N);
	usleep(20000);
	assert_int_equal(disk_inflight(d), N);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(t[i].calls, 0);
	assert_int_equal(disk_kick(d), 0);
	disk_get_stats(d, &st);
	assert_true(st.enters == 1);
	wait_all(d);
	for (unsigned i = 0; i < N; i++) {
		assert_true(t[i].calls == 1 && t[i].result == 4096);
		assert_int_equal(buf[i * 4096 + 5], pat(i * 65536u + 5, 1));
	}
	disk_close(d);
	free(buf);
}

/* The file shrinks behind the backend's back: reads past its end inside the disk size read zeroes. */
static void short_read_eof(bool direct)
{
	uint8_t *buf = abuf(65536 + 4096);
	struct disk_stats st;
	struct disk *d;

	file_make(g_path, 65536, 1);
	d = open_disk(g_path, direct, false, 0);
	assert_int_equal(truncate(g_path, 32768), 0);
	memset(buf, 0xAA, 65536);
	assert_int_equal(run_rw(d, DISK_OP_READ, 0, buf, 65536), 65536);
	for (unsigned i = 0; i < 32768; i++)
		assert_int_equal(buf[i], pat(i, 1));
	for (unsigned i = 32768; i < 65536; i++)
		assert_int_equal(buf[i], 0);
	/* Misaligned across the end (bounced with O_DIRECT). */
	memset(buf, 0xAA, 8000);
	assert_int_equal(run_rw(d, DISK_OP_READ, 30000, buf + 1, 8000), 8000);
	for (unsigned i = 0; i < 8000; i++)
		assert_int_equal(buf[1 + i], 30000 + i < 32768 ? pat(30000 + i, 1) : 0);
	disk_get_stats(d, &st);
	assert_true(st.eof_zeroed == 2);
	disk_close(d);
	free(buf);
}

static void test_short_read_eof(void **state)
{
	(void)state;
	short_read_eof(true);
	short_read_eof(false);
}

/* ---- block device ----------------------------------------------------------------------------------------- */

/* A loop device over the test file with logical blocks of @lbs bytes (skips when losetup does not work). */
static void block_device(unsigned lbs)
{
	char cmd[400], dev[64] = "";
	uint8_t *buf = abuf(65536);
	struct disk_stats st;
	struct disk_info info;
	struct disk *d;
	FILE *p;

	file_make(g_path, 8u << 20, 1);
	snprintf(cmd, sizeof(cmd), "losetup -b %u -f --show '%s' 2>/dev/null", lbs, g_path);
	p = popen(cmd, "r");
	if (p) {
		if (!fgets(dev, sizeof(dev), p))
			dev[0] = 0;
		pclose(p);
	}
	dev[strcspn(dev, "\n")] = 0;
	if (strncmp(dev, "/dev/loop", 9) != 0) {
		free(buf);
		skip();
	}
	d = open_disk(dev, true, false, 0);
	disk_get_info(d, &info);
	assert_true(info.block_device);
	assert_true(info.size_bytes == 8u << 20);
	assert_int_equal(info.direct_align, lbs);
	/* Aligned and misaligned writes, read back through the device. */
	pat_fill(buf, 65536, 65536, 21);
	assert_int_equal(run_rw(d, DISK_OP_WRITE, 65536, buf, 65536), 65536);
	pat_fill(buf + 1, 200000, 3000, 22);
	assert_int_equal(run_rw(d, DISK_OP_WRITE, 200000, buf + 1, 3000), 3000);
	memset(buf, 0, 65536);
	assert_int_equal(run_rw(d, DISK_OP_READ, 65536, buf, 65536), 65536);
	for (unsigned i = 0; i < 65536; i++)
		assert_int_equal(buf[i], pat(65536 + i, 21));
	assert_int_equal(run_rw(d, DISK_OP_READ, 200000, buf + 3, 3000), 3000);
	for (unsigned i = 0; i < 3000; i++)
		assert_int_equal(buf[3 + i], pat(200000 + i, 22));
	assert_int_equal(run_op(d, DISK_OP_FLUSH, 0, 0), 0);
	/* Write zeroes: whole blocks (fallocate on the device), and misaligned (written). */
	assert_int_equal(run_op(d, DISK_OP_WRITE_ZEROES, 1 << 20, 65536), 0);
	assert_int_equal(run_op(d, DISK_OP_WRITE_ZEROES, (2 << 20) + 10, 5000), 0);
	if (info.discard) {
		int64_t r = run_op(d, DISK_OP_DISCARD, 4 << 20, 1 << 20);

		assert_true(r == 0 || r == -EOPNOTSUPP);
		/* Trimmed to whole blocks: a sub-block discard does nothing. */
		assert_int_equal(run_op(d, DISK_OP_DISCARD, (5 << 20) + 1, 100), 0);
	}
	disk_get_stats(d, &st);
	assert_true(st.rmw == 2); /* the misaligned write and the misaligned write-zeroes */
	disk_close(d);
	snprintf(cmd, sizeof(cmd), "losetup -d '%s'", dev);
	assert_int_equal(system(cmd), 0);
	/* The device wrote through to the file. */
	file_check_pat(g_path, 65536, 65536, 21);
	file_check_pat(g_path, 200000, 3000, 22);
	file_check_zero(g_path, 1 << 20, 65536);
	file_check_pat(g_path, (2 << 20), 10, 1);
	file_check_zero(g_path, (2 << 20) + 10, 5000);
	file_check_pat(g_path, (2 << 20) + 5010, 100, 1);
	if (info.discard)
		file_check_pat(g_path, (5 << 20), 4096, 1);
	free(buf);
}

static void test_block_device(void **state)
{
	(void)state;
	block_device(512);
}

static void test_block_device_4k(void **state)
{
	(void)state;
	block_device(4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_info),
		cmocka_unit_test(test_open_odd_size_falls_back),
		cmocka_unit_test(test_rw_many_iovecs_direct),
		cmocka_unit_test(test_rw_many_iovecs_buffered),
		cmocka_unit_test(test_rw_odd_iovecs_buffered),
		cmocka_unit_test(test_direct_misaligned),
		cmocka_unit_test(test_direct_misaligned_concurrent),
		cmocka_unit_test(test_queue_depth_eagain),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_write_zeroes),
		cmocka_unit_test(test_write_zeroes_fallbacks),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_callbacks_submit_more),
		cmocka_unit_test(test_callback_nested_poll),
		cmocka_unit_test(test_close_waits),
		cmocka_unit_test(test_event_fd),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_short_read_eof),
		cmocka_unit_test(test_block_device),
		cmocka_unit_test(test_block_device_4k),
	};

	return cmocka_run_group_tests_name("disk", tests, setup, teardown);
}
