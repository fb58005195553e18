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

#define IMAGE_SIZE (1ull << 30)
#define MAX_QD 32u

enum submit_mode { SUBMIT_CB, SUBMIT_BURST, SUBMIT_EACH };

struct bench_case {
	const char *name;
	bool write, random;
	uint32_t bs;
	unsigned qd;
	enum submit_mode mode;
};

struct result {
	double iops, mbps, cpu_thread_us, cpu_proc_us; /* CPU per I/O */
	double sqes_per_enter;
	bool ok;
};

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

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec * 1e-6;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

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

/* The number after the first @key (e.g. "\"iops\" : ") at or after @from, summed over the first @count hits. */
static double json_sum(const char *json, const char *key, unsigned count)
{
	double sum = 0;
	const char *p = json;

	for (unsigned i = 0; i < count && (p = strstr(p, key)); i++) {
		p += strlen(key);
		sum += strtod(p, NULL);
	}
	return sum;
}

static struct result run_fio(const char *path, const struct bench_case *c, double seconds)
{
	struct result res = { 0 };
	char cmd[1024];
	size_t len = 0, cap = 1 << 16;
	char *out = malloc(cap);
	FILE *p;

	if (!out)
		return res;
	snprintf(cmd, sizeof(cmd),
		 "fio --name=bench --ioengine=io_uring --direct=1 --rw=%s --bs=%u --iodepth=%u --filename='%s' "
		 "--runtime=%ums --time_based --norandommap --randrepeat=0 --output-format=json %s 2>/dev/null",
		 c->random ? (c->write ? "randwrite" : "randread") : (c->write ? "write" : "read"), c->bs, c->qd, path,
		 (unsigned)(seconds * 1000),
		 c->mode == SUBMIT_BURST ? "--iodepth_batch_submit=32 --iodepth_batch_complete_max=32" : "");
	p = popen(cmd, "r");
	if (!p) {
		free(out);
		return res;
	}
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			char *q = realloc(out, cap * 2);

			if (!q)
				break;
			out = q;
			cap *= 2;
		}
		n = fread(out + len, 1, cap - len - 1, p);
		if (!n)
			break;
		len += n;
	}
	out[len] = 0;
	if (pclose(p) == 0 && strstr(out, "\"jobs\"")) {
		/* read, write, trim sections each have one "iops" key (the others are iops_min, ...) */
		double iops = json_sum(out, "\"iops\" : ", 3);
		double runtime_s = json_sum(out, "\"job_runtime\" : ", 1) / 1e3;
		double cpu_pct = json_sum(out, "\"usr_cpu\" : ", 1) + json_sum(out, "\"sys_cpu\" : ", 1);

		res.iops = iops;
		res.mbps = iops * c->bs / 1e6;
		if (iops > 0 && runtime_s > 0)
			res.cpu_thread_us = cpu_pct / 100.0 * runtime_s / (iops * runtime_s) * 1e6;
		res.cpu_proc_us = res.cpu_thread_us;
		res.ok = iops > 0;
	}
	free(out);
	return res;
}

/* Fill the image with non-zero data, written and synced, so every read reaches the device. */
static int make_image(const char *path)
{
	size_t chunk = 1 << 20;
	uint8_t *b = malloc(chunk);
	uint64_t s = 12345;
	int fd, ret = 0;

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < chunk; i += 8) {
		uint64_t v = xorshift(&s);

		memcpy(b + i, &v, 8);
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(b);
		return -errno;
	}
	for (uint64_t off = 0; off < IMAGE_SIZE && !ret; off += chunk) {
		b[0] = (uint8_t)(off >> 20);
		if (pwrite(fd, b, chunk, (off_t)off) != (ssize_t)chunk)
			ret = -EIO;
	}
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	free(b);
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n ? (n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}

#define MAX_ROUNDS 15u

/* Medians over the rounds of each field. */
static struct result result_median(const struct result *r, unsigned n)
{
	double v[5][MAX_ROUNDS];
	struct result m = { .ok = true };

	for (unsigned i = 0; i < n; i++) {
		v[0][i] = r[i].iops;
		v[1][i] = r[i].mbps;
		v[2][i] = r[i].cpu_thread_us;
		v[3][i] = r[i].cpu_proc_us;
		v[4][i] = r[i].sqes_per_enter;
		m.ok = m.ok && r[i].ok;
	}
	m.iops = median(v[0], n);
	m.mbps = median(v[1], n);
	m.cpu_thread_us = median(v[2], n);
	m.cpu_proc_us = median(v[3], n);
	m.sqes_per_enter = median(v[4], n);
	return m;
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
