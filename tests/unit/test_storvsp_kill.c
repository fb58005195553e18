// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_storvsp_kill.c - R3 (shared/TARGETS.md) in-process: SIGKILL of the process that runs the VMBus
 * server and StorVSP while the guest writes and flushes loses nothing the guest saw acknowledged.
 *
 * A child process runs the whole storage path (the storvsc client, the server on its own I/O thread, StorVSP, the
 * SCSI disk, the io_uring backend) on an image file. The client writes 4 KiB records (each block holds its record
 * number and a pattern of it) at queue depth 16, issues SYNCHRONIZE CACHE after every 32 records, and after each
 * completion tells the parent through a pipe which records are acknowledged. The parent kills the child with
 * SIGKILL at an arbitrary point, then reads the image: every acknowledged record must be there, byte for byte.
 * A write's completion means the backend has done the write (in the host page cache or on the device), which
 * survives the death of the process; a flush's completion means it is on the device, which would also survive the
 * host's crash (not tested here). Run in several rounds, killing at different moments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/log.h"
#include "vmbus_fixture.h"
#include "vsc/vsc_stor.h"
#include "vsp/storvsp/storvsp.h"

#define RECORDS 4096u            /* 16 MiB image of 4 KiB records */
#define RECORD_BYTES 4096u
#define QD 16u
#define FLUSH_EVERY 32u
#define INSTANCE VMBUS_GUID_INIT(0x5c5e0002, 0xbe7c, 0x4a1e, 0x90, 0x00, 0x6f, 0x70, 0x65, 0x6e, 0x68, 0x76)

static struct vmbfx fx;
static struct vsc_stor st;

/* The content of record @n (never all zeroes: a lost write reads back as zeroes). */
static void record_fill(uint8_t *p, uint32_t n)
{
	uint64_t x = 0x9E3779B97F4A7C15ull * (n + 1);

	for (unsigned i = 0; i < RECORD_BYTES; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
	memcpy(p, &n, sizeof(n));
}

static void child_fail(const char *what, int err)
{
	fprintf(stderr, "child: %s: %d\n", what, err);
	_exit(2);
}

/* The child: write records for ever (the parent kills it), reporting each acknowledged one on @out. */
static void child_run(const char *image, int out)
{
	struct storvsp_disk_config disk = { .path = image };
	struct storvsp_config cfg = { .instance_id = INSTANCE, .name = "scsi0", .disks = &disk, .disk_count = 1 };
	struct vsc_stor_result done[QD];
	struct storvsp *sv;
	uint64_t bufs, next_id = 0;
	uint32_t next = 0, since_flush = 0;
	unsigned inflight = 0;
	int ret;

	log_set_level(LOG_ERROR);
	vmbfx_init(&fx, 1, 0);
	cfg.srv = fx.srv;
	if ((ret = storvsp_create(&cfg, &sv)))
		child_fail("storvsp_create", ret);
	vmbfx_connect(&fx);
	vsc_stor_init(&st, &fx.bus);
	if ((ret = vsc_stor_open(&st, 0)) || (ret = vsc_stor_handshake(&st)))
		child_fail("controller", ret);
	bufs = fx.plat.alloc_pages(&fx, QD);
	if (!bufs)
		child_fail("buffers", -ENOMEM);
	fx.pump_off = true;
	fx.rec.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if ((ret = vmbus_server_start(fx.srv)))
		child_fail("server thread", ret);
	for (;;) {
		while (inflight < QD) {
			struct vsc_stor_req r;
			uint64_t id = ++next_id;

			memset(&r, 0, sizeof(r));
			if (since_flush == FLUSH_EVERY) {
				vsc_scsi_sync_cache10(&r, 0, 0);
			} else {
				uint32_t n = next % RECORDS;

				record_fill(fx.plat.gpa_to_ptr(&fx, bufs + (id % QD) * RECORD_BYTES, RECORD_BYTES), next);
				vsc_scsi_rw(&r, 10, true, (uint64_t)n * (RECORD_BYTES / 512), RECORD_BYTES / 512, false);
				r.gpa = bufs + (id % QD) * RECORD_BYTES;
				r.len = RECORD_BYTES;
				/* the trans_id carries the record number (+1 so that it is never 0) */
				id = ((uint64_t)next << 20) | (id & 0xFFFFF);
			}
			ret = vsc_stor_submit(&st, 0, id, &r);
			if (ret == -VSC_EAGAIN)
				break;
			if (ret)
				child_fail("submit", ret);
			if (since_flush == FLUSH_EVERY) {
				since_flush = 0;
			} else {
				since_flush++;
				next++;
			}
			inflight++;
		}
		int n = vsc_stor_poll(&st, done, QD);

		if (n < 0)
			child_fail("poll", n);
		for (int i = 0; i < n; i++) {
			inflight--;
			if (vsc_stor_srb(&done[i]) != SRB_STATUS_SUCCESS)
				child_fail("a request failed", done[i].srb_status);
			if (done[i].requested) { /* a write: report its record number */
				uint32_t rec = (uint32_t)(done[i].trans_id >> 20);

				if (write(out, &rec, sizeof(rec)) != sizeof(rec))
					_exit(3);
			}
		}
		if (!n) {
			struct pollfd p = { .fd = fx.rec.wake_fd, .events = POLLIN };
			uint64_t count;

			if (poll(&p, 1, 5) > 0 && read(fx.rec.wake_fd, &count, sizeof(count)) < 0)
				count = 0;
		}
	}
}

static void kill_round(const char *image, unsigned kill_after)
{
	static uint8_t want[RECORD_BYTES], got[RECORD_BYTES];
	static bool acked[RECORDS * 64];
	int fds[2], fd, status;
	unsigned acks = 0, lost = 0, max_rec = 0;
	pid_t pid;

	memset(acked, 0, sizeof(acked));
	fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)RECORDS * RECORD_BYTES), 0);
	close(fd);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child_run(image, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	/* Read acknowledgements until @kill_after of them came, then kill at once. */
	while (acks < kill_after) {
		uint32_t rec;
		ssize_t n = read(fds[0], &rec, sizeof(rec));

		if (n != sizeof(rec))
			break;
		if (rec < RECORDS * 64) {
			acked[rec] = true;
			if (rec > max_rec)
				max_rec = rec;
		}
		acks++;
	}
	kill(pid, SIGKILL);
	/* Acknowledgements already in the pipe were seen by the "guest" too. */
	for (;;) {
		uint32_t rec;

		if (read(fds[0], &rec, sizeof(rec)) != sizeof(rec))
			break;
		if (rec < RECORDS * 64) {
			acked[rec] = true;
			if (rec > max_rec)
				max_rec = rec;
		}
		acks++;
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_true(acks >= kill_after);

	/* Every acknowledged record is on the image (the newest write of each block, when records wrapped). */
	fd = open(image, O_RDONLY);
	assert_true(fd >= 0);
	for (uint32_t rec = 0; rec <= max_rec; rec++) {
		uint32_t newest = rec;

		if (!acked[rec])
			continue;
		/* a later acknowledged record in the same block overwrote it */
		for (uint32_t later = rec + RECORDS; later <= max_rec; later += RECORDS)
			if (acked[later])
				newest = later;
		if (newest != rec)
			continue;
		assert_int_equal(pread(fd, got, RECORD_BYTES, (off_t)(rec % RECORDS) * RECORD_BYTES), RECORD_BYTES);
		record_fill(want, rec);
		if (memcmp(want, got, RECORD_BYTES)) {
			uint32_t found;

			memcpy(&found, got, sizeof(found));
			/* a newer record that was written but not yet acknowledged may be there: that is fine */
			if (found > rec && found % RECORDS == rec % RECORDS) {
				record_fill(want, found);
				if (!memcmp(want, got, RECORD_BYTES))
					continue;
			}
			lost++;
		}
	}
	close(fd);
	print_message("kill after %u acknowledgements: %u acknowledged in all, %u lost\n", kill_after, acks, lost);
	assert_int_equal(lost, 0);
}

static void test_kill_during_writes(void **state)
{
	static const unsigned kill_after[] = { 1, 100, 1000, 5000 /* past the end of the image: records wrapped */ };
	char dir[] = "/var/tmp/openhv-kill-XXXXXX", image[64];

	assert_non_null(mkdtemp(dir));
	for (unsigned i = 0; i < sizeof(kill_after) / sizeof(kill_after[0]); i++) {
		/* A new image each round: the killed process's io_uring may hold the last one (and its lock) a while. */
		snprintf(image, sizeof(image), "%s/image%u.raw", dir, i);
		kill_round(image, kill_after[i]);
		unlink(image);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_during_writes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
