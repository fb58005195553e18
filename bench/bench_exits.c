// SPDX-License-Identifier: MIT
/*
 * bench/bench_exits.c - the floor of every guest -> host path (TARGETS.md P8's baseline): the cost of one
 * port-I/O `out` that exits to userspace (a handler that does nothing), and of one that signals an ioeventfd
 * without leaving the kernel. A micro-guest (guest/tests/g_exitloop.c) does N outs; the per-out cost is the run
 * time with N outs minus the run time with none, over N, median of several runs. Printed; never asserted.
 *
 * Usage: bench_exits GUEST_DIR [N]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mg_harness.h"

#define RUNS 5

static int exit_count;
static int efd = -1;

static int nop_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data, unsigned size)
{
	exit_count++;
	return 0;
}

static int setup_exit(void *opaque, struct vid_partition *part)
{
	return vid_pio_register(part, 0x5f8, 4, nop_pio, NULL);
}

static int setup_ioeventfd(void *opaque, struct vid_partition *part)
{
	int ret = vid_pio_register(part, 0x5f8, 4, nop_pio, NULL);

	return ret ? ret : vid_ioeventfd_assign(part, true, 0x5f8, 4, true, 0x1234, efd);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median run time in seconds of g_exitloop with @n outs under @setup. */
static double run(unsigned n, int (*setup)(void *, struct vid_partition *))
{
	struct mg_harness_hooks hooks = { .setup = setup };
	double t[RUNS];
	char cmd[32];

	snprintf(cmd, sizeof(cmd), "n=%u", n);
	for (int i = 0; i < RUNS; i++) {
		struct mg_result res;

		if (mg_run("g_exitloop", 1, 32, cmd, &hooks, &res) != 0 || !mg_result_is(&res, 0)) {
			fprintf(stderr, "bench_exits: the micro-guest did not run\n");
			exit(1);
		}
		t[i] = res.seconds;
	}
	qsort(t, RUNS, sizeof(t[0]), cmp_double);
	return t[RUNS / 2];
}

int main(int argc, char **argv)
{
	unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 2000;
	double base, with_exit, with_efd;
	uint64_t signalled = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s GUEST_DIR [N]\n", argv[0]);
		return 2;
	}
	setenv("OPENHV_GUEST_DIR", argv[1], 1);
	setenv("OPENHV_LOG", "error", 1);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0 || access("/dev/kvm", R_OK | W_OK) != 0) {
		printf("P8 baseline: not measured (no /dev/kvm)\n");
		return 0;
	}
	base = run(0, setup_exit);
	exit_count = 0;
	with_exit = run(n, setup_exit);
	printf("P8 baseline: guest 'out' -> userspace port handler -> guest: %.2f us per exit (%u outs, %d exits "
	       "seen over %d runs)\n", (with_exit - base) / n * 1e6, n, exit_count, RUNS);
	exit_count = 0;
	with_efd = run(n, setup_ioeventfd);
	if (read(efd, &signalled, sizeof(signalled)) < 0)
		signalled = 0;
	printf("P8 baseline: guest 'out' -> ioeventfd (no userspace exit): %.2f us per out (%d userspace exits, "
	       "eventfd count %llu over %d runs)\n", (with_efd - base) / n * 1e6, exit_count,
	       (unsigned long long)signalled, RUNS);
	return 0;
}
