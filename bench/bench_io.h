/* SPDX-License-Identifier: MIT */
/*
 * bench/bench_io.h - what the storage benchmarks share (bench_disk: the backend alone; bench_storvsp: the whole
 * StorVSP path): the cases, the result record, clocks, the 1 GiB image and fio with its io_uring engine on the same
 * file as the baseline measured in the same run, and medians over rounds. Header-only (static functions).
 */
#ifndef OPENHV_BENCH_IO_H
#define OPENHV_BENCH_IO_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define IMAGE_SIZE (1ull << 30)

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

#endif
