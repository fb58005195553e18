// SPDX-License-Identifier: MIT
/*
 * bench/bench_startup.c - P1 (exec -> first guest exit, exec -> exit) and P2 (VMM resident memory minus guest
 * RAM, idle guest) for OpenHV, beside QEMU -M microvm on the same PVH micro-guest, measured in the same run.
 * Prints figures and ratios; never fails on a figure (exit status 0 unless a VMM cannot run at all).
 *
 * Usage: bench_startup OPENHV GUEST_ELF [RUNS]
 * The guest is guest/tests/g_basic.c: it exits through the test device's result port (0xf40), which QEMU serves
 * with isa-debug-exit; with "hang" on its command line it halts forever (the idle guest for P2).
 * Guest RAM is a memfd in both VMMs (QEMU: memory-backend-memfd), so it shows as RssShmem and P2 is
 * RssAnon + RssFile from /proc/PID/status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 101
#define GUEST_MEM "64M"

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static long long median(long long *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_ll);
	return n ? v[n / 2] : -1;
}

/* Spawn @argv with stdout/stdin on /dev/null and stderr into @err_fd (or /dev/null); returns the pid. */
static pid_t spawn(char *const argv[], int err_fd, long long t0)
{
	pid_t pid = fork();

	if (pid == 0) {
		char t0s[32];
		int null = open("/dev/null", O_RDWR);

		snprintf(t0s, sizeof(t0s), "%lld", t0);
		setenv("OPENHV_BENCH_T0", t0s, 1);
		dup2(null, 0);
		dup2(null, 1);
		dup2(err_fd >= 0 ? err_fd : null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Run once; return wall ns exec->exit (or -1), and the first-exit time OpenHV printed (or -1). */
static long long run_once(char *const argv[], int want_status, long long *first_exit_ns)
{
	char path[] = "/tmp/openhv-bench-XXXXXX";
	int fd = mkstemp(path);
	long long t0, t1;
	int status;
	pid_t pid;
	char buf[4096];
	ssize_t n;

	unlink(path);
	t0 = now_ns();
	pid = spawn(argv, fd, t0);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	t1 = now_ns();
	*first_exit_ns = -1;
	lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		char *p;

		buf[n] = 0;
		p = strstr(buf, "first-exit-ns=");
		if (p)
			*first_exit_ns = strtoll(p + 14, NULL, 10);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != want_status) {
		fprintf(stderr, "bench: %s exited with %d (want %d)\n", argv[0],
			WIFEXITED(status) ? WEXITSTATUS(status) : -1, want_status);
		return -1;
	}
	return t1 - t0;
}

/* RssAnon + RssFile of @pid in KiB (the VMM's own memory; guest RAM is shmem), or -1. */
static long rss_own_kib(pid_t pid)
{
	char path[64], line[256];
	long anon = -1, file = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "RssAnon: %ld", &anon);
		sscanf(line, "RssFile: %ld", &file);
	}
	fclose(f);
	return anon < 0 || file < 0 ? -1 : anon + file;
}

static long idle_rss(char *const argv[])
{
	pid_t pid = spawn(argv, -1, now_ns());
	long kib;

	usleep(1500 * 1000); /* booted and idle well before this */
	kib = rss_own_kib(pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return kib;
}

static bool have(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

int main(int argc, char **argv)
{
	long long ohv_wall[MAX_RUNS], ohv_first[MAX_RUNS], q_wall[MAX_RUNS], ignored;
	int runs = argc > 3 ? atoi(argv[3]) : 21, n_ohv = 0, n_q = 0;
	const char *qemu = "qemu-system-x86_64";
	bool with_qemu;
	long ohv_rss, q_rss = -1;
	long long mo, mf, mq = -1;

	if (argc < 3) {
		fprintf(stderr, "usage: %s OPENHV GUEST_ELF [RUNS]\n", argv[0]);
		return 2;
	}
	if (runs < 1 || runs > MAX_RUNS)
		runs = 21;
	with_qemu = have(qemu) && access("/dev/kvm", R_OK | W_OK) == 0;

	char *ohv_argv[] = { argv[1], "run", "--kernel", argv[2], "--testdev", "--memory", GUEST_MEM,
			     "--console", "none", NULL };
	char *ohv_idle[] = { argv[1], "run", "--kernel", argv[2], "--testdev", "--memory", GUEST_MEM,
			     "--console", "none", "--cmdline", "hang", NULL };
	/* isa-debug-exit at the test device's result port: QEMU exits with (value << 1) | 1, so 1 for a pass. */
	char *q_common[] = { (char *)qemu, "-M", "microvm,x-option-roms=off,rtc=off,pit=off,pic=off,isa-serial=off",
			     "-accel", "kvm", "-m", GUEST_MEM, "-object",
			     "memory-backend-memfd,id=ram,size=" GUEST_MEM, "-machine", "memory-backend=ram",
			     "-nodefaults", "-no-user-config", "-display", "none", "-serial", "none",
			     "-device", "isa-debug-exit,iobase=0xf40,iosize=4", "-kernel", argv[2], NULL, NULL, NULL };
	char *q_idle[sizeof(q_common) / sizeof(q_common[0])];
	size_t qn = 0;

	while (q_common[qn])
		qn++;
	memcpy(q_idle, q_common, sizeof(q_common));
	q_idle[qn] = "-append";
	q_idle[qn + 1] = "hang";

	for (int i = 0; i < runs; i++) {
		long long f, w = run_once(ohv_argv, 0, &f);

		if (w > 0) {
			ohv_wall[n_ohv] = w;
			ohv_first[n_ohv++] = f;
		}
		if (with_qemu) {
			w = run_once(q_common, 1, &ignored);
			if (w > 0)
				q_wall[n_q++] = w;
		}
	}
	if (n_ohv == 0) {
		fprintf(stderr, "bench: openhv did not run\n");
		return 1;
	}
	mo = median(ohv_wall, n_ohv);
	mf = median(ohv_first, n_ohv);
	if (n_q)
		mq = median(q_wall, n_q);
	ohv_rss = idle_rss(ohv_idle);
	if (with_qemu && n_q)
		q_rss = idle_rss(q_idle);

	printf("P1 startup (micro-guest %s, %s RAM, median of %d runs)\n", argv[2], GUEST_MEM, n_ohv);
	printf("  openhv: exec -> first guest exit %.2f ms, exec -> exit %.2f ms\n", mf / 1e6, mo / 1e6);
	if (mq > 0)
		printf("  qemu -M microvm: exec -> exit %.2f ms   ratio openhv/qemu %.3f (target <= 0.2)\n", mq / 1e6,
		       (double)mo / (double)mq);
	else
		printf("  qemu -M microvm: not measured (%s)\n", with_qemu ? "it failed to run" : "not installed");
	printf("P2 VMM resident memory minus guest RAM (RssAnon+RssFile, idle guest)\n");
	printf("  openhv: %.2f MiB\n", ohv_rss / 1024.0);
	if (q_rss > 0)
		printf("  qemu -M microvm: %.2f MiB   ratio openhv/qemu %.3f (target < 4 MiB)\n", q_rss / 1024.0,
		       (double)ohv_rss / (double)q_rss);
	return 0;
}
