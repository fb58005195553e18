// SPDX-License-Identifier: MIT
/*
 * bench/bench_hypercall.c - TARGETS.md P8: the hypercall round trips of the Hyper-V interface, beside the floor
 * measured in the same run.
 *  - bare exit: a guest `out` to a port whose userspace handler does nothing (bench_exits.c's baseline);
 *  - HvPostMessage: the hypercall page's OUT exits, userspace decodes RCX/RDX/R8, copies the 256-byte input,
 *    runs the connection's handler and writes RAX;
 *  - HvSignalEvent: fast, to a connection served by an ioeventfd: no userspace exit is expected.
 * The micro-guest guest/tests/g_hv_bench.c makes N calls; per-call figures are (run with N - run with 0) / N,
 * medians of several runs. On this platform guest kernel code is interpreted, so a call's wall time includes the
 * guest's own instructions (the page's stub and the caller), printed as "guest insns/call" (KVM's insn_emulation).
 * Printed; never asserted.
 *
 * Usage: bench_hypercall GUEST_DIR [N]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hv/hv.h"
#include "mg_harness.h"

#define RUNS 5

enum mode { MODE_OUT = 0, MODE_POST = 1, MODE_SIGNAL = 2 };

static int efd = -1;
static struct hvi_partition *hv;
static unsigned handled;
static uint64_t page_exits, page_exit_ns; /* summed over the runs with calls */

static int nop_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data, unsigned size)
{
	return 0;
}

static int on_message(void *opaque, uint32_t vp_index, uint32_t connection_id, uint32_t message_type,
		      const void *payload, uint32_t size)
{
	handled++;
	return 0;
}

static int setup(void *opaque, struct vid_partition *part)
{
	struct hvi_config cfg = { .profile = HVI_PROFILE_RECOMMENDED, .memory = vid_partition_memory(part),
				  .vp_count = 1, .partition = part };
	int ret = vid_pio_register(part, 0x5f8, 4, nop_pio, NULL);

	if (!ret)
		ret = hvi_partition_create(&cfg, &hv);
	if (!ret)
		ret = hvi_message_connection_register(hv, 1, on_message, NULL);
	if (!ret)
		ret = hvi_event_connection_register(hv, 2, NULL, NULL, efd);
	return ret;
}

struct sample {
	double seconds;
	double exits;
	double insns;
};

static int cmp_sample(const void *a, const void *b)
{
	double x = ((const struct sample *)a)->seconds, y = ((const struct sample *)b)->seconds;

	return (x > y) - (x < y);
}

/* Median (by time) of RUNS runs of the guest in @mode with @n calls. */
static void teardown(void *opaque, struct vid_partition *part)
{
	hvi_partition_stop(hv);
}

static struct sample run(enum mode mode, unsigned n)
{
	struct mg_harness_hooks hooks = { .setup = setup, .teardown = teardown };
	struct sample s[RUNS];
	char cmd[48];

	snprintf(cmd, sizeof(cmd), "mode=%u n=%u", (unsigned)mode, n);
	for (int i = 0; i < RUNS; i++) {
		struct mg_result res;

		if (mg_run("g_hv_bench", 1, 32, cmd, &hooks, &res) != 0 || !mg_result_is(&res, 0)) {
			fprintf(stderr, "bench_hypercall: the micro-guest failed (%s, result 0x%x)\n", cmd, res.result);
			exit(1);
		}
		s[i] = (struct sample){ res.seconds, (double)res.exits, (double)res.emulated_insns };
		if (n) {
			struct hvi_stats st;

			hvi_partition_stats(hv, &st);
			page_exits += st.page_exits;
			page_exit_ns += st.page_exit_ns;
		}
		hvi_partition_destroy(hv);
		hv = NULL;
	}
	qsort(s, RUNS, sizeof(s[0]), cmp_sample);
	return s[RUNS / 2];
}

static struct sample per_call(enum mode mode, unsigned n)
{
	struct sample zero = run(mode, 0), full = run(mode, n);

	return (struct sample){ (full.seconds - zero.seconds) / n * 1e6, (full.exits - zero.exits) / n,
				(full.insns - zero.insns) / n };
}

int main(int argc, char **argv)
{
	unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 2000;
	struct sample bare, post, signal;
	uint64_t signalled = 0;

	if (argc < 2 || n == 0) {
		fprintf(stderr, "usage: %s GUEST_DIR [N > 0]\n", argv[0]);
		return 2;
	}
	setenv("OPENHV_GUEST_DIR", argv[1], 1);
	setenv("OPENHV_LOG", "error", 1);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0 || access("/dev/kvm", R_OK | W_OK) != 0) {
		printf("P8: not measured (no /dev/kvm)\n");
		return 0;
	}
	bare = per_call(MODE_OUT, n);
	handled = 0;
	page_exits = page_exit_ns = 0;
	post = per_call(MODE_POST, n);
	double post_host_us = page_exits ? (double)page_exit_ns / page_exits / 1e3 : 0;
	signal = per_call(MODE_SIGNAL, n);
	if (read(efd, &signalled, sizeof(signalled)) < 0)
		signalled = 0;
	printf("P8 floor:         bare port-I/O exit    %6.2f us/call, %.2f userspace exits/call, %5.1f guest insns/call\n",
	       bare.seconds, bare.exits, bare.insns);
	printf("P8 HvPostMessage: via the page's exit   %6.2f us/call, %.2f userspace exits/call, %5.1f guest insns/call"
	       " = %.2fx the floor (target <= 1.2x)\n", post.seconds, post.exits, post.insns, post.seconds / bare.seconds);
	printf("P8 HvPostMessage: host time in the page's exit handler %.2f us/call (KVM_GET_REGS + KVM_SET_REGS + "
	       "dispatch); the floor's handler does nothing. Exit + handler = %.2fx the floor\n", post_host_us,
	       (bare.seconds + post_host_us) / bare.seconds);
	printf("P8 HvSignalEvent: via ioeventfd         %6.2f us/call, %.2f userspace exits/call, %5.1f guest insns/call"
	       " = %.2fx the floor (target: no userspace exit)\n", signal.seconds, signal.exits, signal.insns,
	       signal.seconds / bare.seconds);
	printf("P8 checks: %u messages handled, eventfd count %llu (N = %u, %d runs each, medians)\n", handled,
	       (unsigned long long)signalled, n, RUNS);
	return 0;
}
