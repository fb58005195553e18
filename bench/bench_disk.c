// SPDX-License-Identifier: MIT
/*
 * bench/bench_disk.c - P4's backend part (shared/TARGETS.md): the disk backend (backend/disk/disk.h) on a 1 GiB raw
 * file with O_DIRECT, beside fio with its io_uring engine on the same file in the same run (the machine's limit).
 *
 * Cases: 4 KiB random read and write at QD1 and QD32, 1 MiB sequential read and write at QD8. Ours: this thread
 * keeps queue-depth requests in flight and waits in disk_poll(). Three ways to submit, at QD32:
 *   cb     each callback submits the next request (inside disk_poll: sent together when it returns)
 *   burst  callbacks only count; after disk_poll returns the loop submits the completed ones again and calls
 *          disk_kick() once (batch mode): the shape StorVSP has (completions out, new requests in from the ring)
 *   each   as burst without batch mode: one io_uring_enter per request
 * Baseline: fio with the io_uring engine and default options (one submission per I/O); for "burst" fio with
 * --iodepth_batch_submit=32 --iodepth_batch_complete_max=32, the same batching.
 * Figures: IOPS, MB/s (10^6 bytes), the ratio to fio's IOPS, and host CPU per I/O: this thread's user+system time
 * (getrusage RUSAGE_THREAD) and the whole process's (which includes io_uring's io-wq workers), against fio's
 * usr_cpu+sys_cpu over its runtime; [SQEs per io_uring_enter]. The machines are shared and noisy: each case runs
 * ROUNDS rounds alternating ours and fio, and medians are printed.
 *
 * Usage: bench_disk [SECONDS per case and side, default 3] [DIRECTORY for the image, default $TMPDIR or /var/tmp]
 *                   [FILTER: only the cases whose name contains it, e.g. "QD32"] [ROUNDS, default 3]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "backend/disk/disk.h"
#include "backend/disk/disk_internal.h"
#include "bench_io.h"

#define MAX_QD 32u


struct run;

struct bench_io {
	struct disk_request req;
	struct iovec iov;
	struct run *run;
};

struct run {
	struct disk *d;
	const struct bench_case *c;
	uint64_t ios, errors, next_seq, rng;
	double t_end;
	bool stop;
	struct bench_io io[MAX_QD];
	struct bench_io *ready[MAX_QD]; /* burst/each: completed, to submit again */
	unsigned nready;
};

static void run_next_offset(struct run *r, struct bench_io *io)
{
	uint64_t blocks = IMAGE_SIZE / r->c->bs;

	if (r->c->random) {
		io->req.offset = (xorshift(&r->rng) % blocks) * r->c->bs;
	} else {
		io->req.offset = r->next_seq;
		r->next_seq = (r->next_seq + r->c->bs) % IMAGE_SIZE;
	}
}

static void bench_io_done(struct disk_request *req, int64_t result)
{
	struct bench_io *io = req->opaque;
	struct run *r = io->run;

	r->ios++;
	if (result != (int64_t)r->c->bs)
		r->errors++;
	if (r->stop)
		return;
	if (r->c->mode != SUBMIT_CB) {
		r->ready[r->nready++] = io;
		return;
	}
	/* The clock is cheap (vDSO); check it every 16 completions. */
	if (!(r->ios & 15) && now_s() >= r->t_end) {
		r->stop = true;
		return;
	}
	run_next_offset(r, io);
	if (disk_submit(r->d, req))
		r->errors++;
}

static struct result run_ours(const char *path, const struct bench_case *c, double seconds, uint8_t *bufs)
{
	struct disk_config cfg = { .path = path, .direct = true, .queue_depth = c->qd, .batch = c->mode != SUBMIT_EACH };
	struct result res = { 0 };
	static struct run r;
	struct disk_stats st;
	double t0, t1, ct0, ct1, cp0, cp1;
	int ret;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(now_s() * 1e9); /* a new sequence each run */
	ret = disk_open(&cfg, &r.d);
	if (ret) {
		fprintf(stderr, "disk_open %s: %s\n", path, strerror(-ret));
		return res;
	}
	ct0 = cpu_s(RUSAGE_THREAD);
	cp0 = cpu_s(RUSAGE_SELF);
	t0 = now_s();
	r.t_end = t0 + seconds;
	for (unsigned i = 0; i < c->qd; i++) {
		struct bench_io *io = &r.io[i];

		io->run = &r;
		io->iov.iov_base = bufs + (size_t)i * c->bs;
		io->iov.iov_len = c->bs;
		io->req.op = c->write ? DISK_OP_WRITE : DISK_OP_READ;
		io->req.iov = &io->iov;
		io->req.iovcnt = 1;
		io->req.done = bench_io_done;
		io->req.opaque = io;
		run_next_offset(&r, io);
		if (disk_submit(r.d, &io->req))
			r.errors++;
	}
	disk_kick(r.d);
	while (disk_inflight(r.d)) {
		ret = disk_poll(r.d, true);
		if (ret < 0) {
			fprintf(stderr, "disk_poll: %s\n", strerror(-ret));
			break;
		}
		if (r.nready) {
			if (now_s() >= r.t_end)
				r.stop = true;
			for (unsigned i = 0; i < r.nready && !r.stop; i++) {
				run_next_offset(&r, r.ready[i]);
				if (disk_submit(r.d, &r.ready[i]->req))
					r.errors++;
			}
			r.nready = 0;
			disk_kick(r.d);
		}
	}
	t1 = now_s();
	ct1 = cpu_s(RUSAGE_THREAD);
	cp1 = cpu_s(RUSAGE_SELF);
	disk_get_stats(r.d, &st);
	disk_close(r.d);
	if (r.errors)
		fprintf(stderr, "%s: %" PRIu64 " errors\n", c->name, r.errors);
	res.iops = (double)r.ios / (t1 - t0);
	res.mbps = res.iops * c->bs / 1e6;
	res.cpu_thread_us = (ct1 - ct0) / (double)r.ios * 1e6;
	res.cpu_proc_us = (cp1 - cp0) / (double)r.ios * 1e6;
	res.sqes_per_enter = st.enters ? (double)st.sqes / (double)st.enters : 0;
	res.ok = r.ios && !r.errors;
	return res;
}

int main(int argc, char **argv)
{
	static const struct bench_case cases[] = {
		{ "4k randread  QD1", false, true, 4096, 1, SUBMIT_CB },
		{ "4k randread  QD32 cb", false, true, 4096, 32, SUBMIT_CB },
		{ "4k randread  QD32 burst", false, true, 4096, 32, SUBMIT_BURST },
		{ "4k randread  QD32 each", false, true, 4096, 32, SUBMIT_EACH },
		{ "4k randwrite QD1", true, true, 4096, 1, SUBMIT_CB },
		{ "4k randwrite QD32 cb", true, true, 4096, 32, SUBMIT_CB },
		{ "4k randwrite QD32 burst", true, true, 4096, 32, SUBMIT_BURST },
		{ "4k randwrite QD32 each", true, true, 4096, 32, SUBMIT_EACH },
		{ "1M read      QD8", false, false, 1 << 20, 8, SUBMIT_CB },
		{ "1M write     QD8", true, false, 1 << 20, 8, SUBMIT_CB },
	};
	double seconds = argc > 1 && atof(argv[1]) > 0 ? atof(argv[1]) : 3;
	const char *base = argc > 2 && argv[2][0] ? argv[2] : getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	const char *filter = argc > 3 && argv[3][0] ? argv[3] : NULL;
	unsigned rounds = argc > 4 ? (unsigned)atoi(argv[4]) : 3;
	char dir[256], path[300];
	uint8_t *bufs;
	int ret;

	if (!rounds || rounds > MAX_ROUNDS)
		rounds = 3;
	snprintf(dir, sizeof(dir), "%s/openhv-bench-disk-XXXXXX", base);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "bench_disk: mkdtemp in %s: %s\n", base, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/image.raw", dir);
	bufs = aligned_alloc(4096, (size_t)MAX_QD << 20);
	if (!bufs)
		return 1;
	memset(bufs, 0x5a, (size_t)MAX_QD << 20);
	printf("P4 disk backend: 1 GiB raw file in %s, O_DIRECT, io_uring; fio %s in the same run; "
	       "medians of %u rounds of %.1f s each side\n",
	       base, system("fio --version >/dev/null 2>&1") == 0 ? "io_uring" : "(missing)", rounds,
	       seconds / rounds);
	double t = now_s();
	ret = make_image(path);
	if (ret) {
		fprintf(stderr, "bench_disk: writing %s: %s\n", path, strerror(-ret));
		goto out;
	}
	printf("  (image written in %.1f s)\n", now_s() - t);
	printf("  %-24s %9s %8s | %9s %8s | %6s | %s\n", "case", "IOPS", "MB/s", "fio IOPS", "MB/s", "ratio",
	       "CPU us/IO: thread, process (fio) [SQEs per enter]");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bench_case *c = &cases[i];
		struct result ro[MAX_ROUNDS], rf[MAX_ROUNDS], o, f;

		if (filter && !strstr(c->name, filter))
			continue;
		for (unsigned k = 0; k < rounds; k++) {
			ro[k] = run_ours(path, c, seconds / rounds, bufs);
			rf[k] = run_fio(path, c, seconds / rounds);
		}
		o = result_median(ro, rounds);
		f = result_median(rf, rounds);
		if (!o.ok) {
			printf("  %-24s failed\n", c->name);
			continue;
		}
		printf("  %-24s %9.0f %8.1f | %9.0f %8.1f | %5.0f%% | %5.2f, %5.2f (%5.2f) [%.1f]%s\n", c->name,
		       o.iops, o.mbps, f.iops, f.mbps, f.ok ? 100.0 * o.iops / f.iops : 0.0, o.cpu_thread_us,
		       o.cpu_proc_us, f.cpu_thread_us, o.sqes_per_enter, f.ok ? "" : " (fio failed)");
		fflush(stdout);
	}
	printf("  targets (P4): >= 90%% of fio IOPS at QD32; host CPU per 4k I/O <= 5 us. burst is compared with "
	       "fio batching 32\n");
out:
	unlink(path);
	rmdir(dir);
	free(bufs);
	return ret ? 1 : 0;
}
