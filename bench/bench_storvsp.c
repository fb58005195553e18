// SPDX-License-Identifier: MIT
/*
 * bench/bench_storvsp.c - P4 (shared/TARGETS.md): the synthetic SCSI path end to end, in-process: the guest-side
 * storvsc client (guest/vsc/vsc_stor.h) sends EXECUTE_SRB packets with GPA-direct buffers through a VMBus ring to
 * StorVSP on the server's own I/O thread, which runs them through the SCSI target and the io_uring disk backend
 * on a 1 GiB raw file (O_DIRECT), and completes them back through the ring. Beside it, fio with its io_uring
 * engine on the same file in the same run: the machine's limit.
 *
 * Cases: 4k random read and write at QD1 and QD32, 1 MiB sequential read and write at QD8. Figures: IOPS, MB/s,
 * the ratio to fio, and the host's CPU per I/O: the whole process's CPU time minus the client thread's (the client
 * is the guest: it spins on its ring), divided by the I/Os. Medians of a few rounds alternating with fio.
 *
 * Usage: bench_storvsp [SECONDS per case, default 3] [DIR for the image, default $TMPDIR or /var/tmp] [ROUNDS]
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "bench_io.h"
#include "lib/log.h"
#include "vmbus_fixture.h"
#include "vsc/vsc_stor.h"
#include "vsp/storvsp/storvsp.h"

#define MAX_QD 32u
#define INSTANCE VMBUS_GUID_INIT(0x5c5e0001, 0xbe7c, 0x4a1e, 0x90, 0x00, 0x6f, 0x70, 0x65, 0x6e, 0x68, 0x76)

struct bench {
	struct vmbfx f;
	struct vsc_stor st;
	struct storvsp *sv;
	uint64_t buf_gpa;   /* MAX_QD buffers of up to 1 MiB (QD8 x 1 MiB, QD32 x 4 KiB) */
	uint64_t next_id;
};

/* One case through StorVSP for @seconds. */
static struct result run_storvsp(struct bench *b, const struct bench_case *c, double seconds)
{
	struct result res = { 0 };
	struct vsc_stor_result done[MAX_QD];
	uint64_t rng = 0x9e3779b97f4a7c15ull, seq = 0, ios = 0, errors = 0, blocks = IMAGE_SIZE / c->bs;
	unsigned inflight = 0;
	double t0, t1, cpu_proc0, cpu_self0;

	cpu_proc0 = cpu_s(RUSAGE_SELF);
	cpu_self0 = cpu_s(RUSAGE_THREAD);
	t0 = now_s();
	t1 = t0 + seconds;
	for (;;) {
		bool stop = now_s() >= t1;

		while (!stop && inflight < c->qd) {
			struct vsc_stor_req r;
			uint64_t lba = c->random ? xorshift(&rng) % blocks : seq++ % blocks;
			/* Buffers by trans_id: two requests in flight may share one when they complete out of order,
			 * which is harmless for a benchmark (the bytes are not checked). */
			unsigned slot = (unsigned)(b->next_id % (c->bs >= (1u << 20) ? 8 : MAX_QD));
			int ret;

			memset(&r, 0, sizeof(r));
			vsc_scsi_rw(&r, 16, c->write, lba * (c->bs / 512), c->bs / 512, false);
			r.gpa = b->buf_gpa + (uint64_t)slot * (c->bs >= (1u << 20) ? (1u << 20) : 4096u);
			r.len = c->bs;
			ret = vsc_stor_submit(&b->st, 0, ++b->next_id, &r);
			if (ret == -VSC_EAGAIN)
				break;
			if (ret) {
				fprintf(stderr, "bench_storvsp: submit: %d\n", ret);
				return res;
			}
			inflight++;
		}
		if (!inflight)
			break;
		int n = vsc_stor_poll(&b->st, done, MAX_QD);

		if (n < 0) {
			fprintf(stderr, "bench_storvsp: poll: %d\n", n);
			return res;
		}
		for (int i = 0; i < n; i++) {
			if (vsc_stor_srb(&done[i]) != SRB_STATUS_SUCCESS || done[i].data_transfer_length != c->bs)
				errors++;
			ios++;
			inflight--;
		}
		if (!n) {
			/* Nothing yet: sleep until the server signals this VP, as a halted VP would (the client must not
			 * take the CPU the server needs: this machine has two). */
			struct pollfd p = { .fd = b->f.rec.wake_fd, .events = POLLIN };
			uint64_t count;

			if (poll(&p, 1, 5) > 0 && read(b->f.rec.wake_fd, &count, sizeof(count)) < 0)
				count = 0;
		}
	}
	t1 = now_s();
	res.iops = (double)ios / (t1 - t0);
	res.mbps = res.iops * c->bs / 1e6;
	res.cpu_proc_us = (cpu_s(RUSAGE_SELF) - cpu_proc0) / (double)(ios ? ios : 1) * 1e6;
	res.cpu_thread_us = res.cpu_proc_us - (cpu_s(RUSAGE_THREAD) - cpu_self0) / (double)(ios ? ios : 1) * 1e6;
	res.ok = ios && !errors;
	if (errors)
		fprintf(stderr, "bench_storvsp: %s: %llu errors\n", c->name, (unsigned long long)errors);
	return res;
}

static int bench_setup(struct bench *b, const char *path)
{
	struct storvsp_disk_config disk = { .path = path, .direct = true };
	struct storvsp_config cfg = { .instance_id = INSTANCE, .name = "scsi0", .disks = &disk, .disk_count = 1 };
	int ret;

	vmbfx_init(&b->f, 1, 0);
	cfg.srv = b->f.srv;
	ret = storvsp_create(&cfg, &b->sv);
	if (ret) {
		fprintf(stderr, "bench_storvsp: storvsp_create: %s\n", strerror(-ret));
		return ret;
	}
	vmbfx_connect(&b->f);
	vsc_stor_init(&b->st, &b->f.bus);
	if (vsc_stor_open(&b->st, 0) || vsc_stor_handshake(&b->st)) {
		fprintf(stderr, "bench_storvsp: the controller did not come up\n");
		return -EIO;
	}
	b->buf_gpa = b->f.plat.alloc_pages(&b->f, 8 * 256); /* 8 MiB: 8 x 1 MiB, or 32 x 4 KiB */
	if (!b->buf_gpa)
		return -ENOMEM;
	/* The server runs on its own thread from here, as in a VM; the client no longer pumps it. */
	b->f.pump_off = true;
	b->f.rec.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->f.rec.wake_fd < 0)
		return -errno;
	return vmbus_server_start(b->f.srv);
}

static void bench_storvsp_destroy(void *sv)
{
	storvsp_destroy(sv);
}

int main(int argc, char **argv)
{
	static const struct bench_case cases[] = {
		{ "4k randread  QD1", false, true, 4096, 1, SUBMIT_CB },
		{ "4k randread  QD32", false, true, 4096, 32, SUBMIT_CB },
		{ "4k randwrite QD1", true, true, 4096, 1, SUBMIT_CB },
		{ "4k randwrite QD32", true, true, 4096, 32, SUBMIT_CB },
		{ "1M read      QD8", false, false, 1 << 20, 8, SUBMIT_CB },
		{ "1M write     QD8", true, false, 1 << 20, 8, SUBMIT_CB },
	};
	double seconds = argc > 1 && atof(argv[1]) > 0 ? atof(argv[1]) : 3;
	const char *base = argc > 2 && argv[2][0] ? argv[2] : getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	unsigned rounds = argc > 3 ? (unsigned)atoi(argv[3]) : 3;
	static struct bench b;
	char dir[256], path[300];
	int ret;

	if (!rounds || rounds > MAX_ROUNDS)
		rounds = 3;
	log_set_level(LOG_WARN);
	snprintf(dir, sizeof(dir), "%s/openhv-bench-storvsp-XXXXXX", base);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "bench_storvsp: mkdtemp in %s: %s\n", base, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/image.raw", dir);
	ret = make_image(path);
	if (ret || bench_setup(&b, path)) {
		fprintf(stderr, "bench_storvsp: setup failed\n");
		unlink(path);
		rmdir(dir);
		return 1;
	}
	printf("P4 StorVSP: in-process storvsc client -> VMBus ring -> StorVSP (I/O thread) -> SCSI disk -> io_uring, "
	       "1 GiB raw file in %s, O_DIRECT; fio io_uring on the same file; medians of %u rounds of %.1f s\n",
	       base, rounds, seconds / rounds);
	printf("  %-18s %9s %8s | %9s %8s | %6s | %s\n", "case", "IOPS", "MB/s", "fio IOPS", "MB/s", "ratio",
	       "host CPU us/IO (fio's CPU us/IO)");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bench_case *c = &cases[i];
		struct result ro[MAX_ROUNDS], rf[MAX_ROUNDS], o, f;

		for (unsigned k = 0; k < rounds; k++) {
			ro[k] = run_storvsp(&b, c, seconds / rounds);
			rf[k] = run_fio(path, c, seconds / rounds);
		}
		o = result_median(ro, rounds);
		f = result_median(rf, rounds);
		printf("  %-18s %9.0f %8.1f | %9.0f %8.1f | %5.0f%% | %.2f (%.2f)%s%s\n", c->name, o.iops, o.mbps, f.iops,
		       f.mbps, f.iops > 0 ? 100.0 * o.iops / f.iops : 0.0, o.cpu_thread_us, f.cpu_thread_us,
		       o.ok ? "" : " (errors)", f.ok ? "" : " (fio failed)");
	}
	printf("  targets (P4): >= 90%% of fio IOPS at QD32; host CPU per 4k I/O <= 5 us\n");
	vmbus_server_call(b.f.srv, bench_storvsp_destroy, b.sv); /* on the server's I/O thread */
	vmbfx_fini(&b.f);
	unlink(path);
	rmdir(dir);
	return 0;
}
