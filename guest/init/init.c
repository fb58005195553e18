/* SPDX-License-Identifier: MIT */
/*
 * guest/init/init.c - openhv-init, the /init of OpenHV's end-to-end guests (docs/guest-init.md).
 *
 * A static i386 program without libc: on the software KVM of the development machines only the 32-bit vDSO's
 * sysenter path reaches the guest kernel from user mode, so no ordinary userspace (which uses int $0x80 or
 * syscall) can run there. As PID 1 it mounts proc, sysfs and devtmpfs, loads the modules named by
 * openhv.modules= (with their dependencies, from modules.dep), prints the marker line "OPENHV: init reached",
 * runs the small command list of openhv.run=, then powers off, reboots, starts /bin/sh or sleeps for ever.
 * Not as PID 1 it only runs --selftest or --dry-run CMDLINE [MODULE_DIR] (nothing that changes the system).
 * Every step is bounded; a failing step prints a line and the next one runs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "parse.h"
#include "sys.h"

#define P "openhv-init: "
#define CMDLINE_MAX 4096        /* bytes of /proc/cmdline kept (x86 COMMAND_LINE_SIZE is 2048) */
#define VALUE_MAX 2048          /* bytes of one parameter's value */
#define FILE_MAX (64u << 20)    /* bytes: largest file read into memory (a module for init_module) */
#define CAT_MAX (256u << 10)    /* bytes printed by one cat */
#define LS_MAX 4096             /* entries printed by one ls */
#define LINE_MAX 1024           /* bytes of one output line */

int init_main(int argc, char **argv, char **envp);

static int g_dry;                  /* not PID 1: print what would change the system instead of doing it */
static char g_cmdline[CMDLINE_MAX];
static size_t g_cmdline_len;
static char g_value[VALUE_MAX];
static char g_cmd[VALUE_MAX];

/* ---- freestanding helpers (gcc may emit calls to these) ---------------------------------------------------- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

void *memcpy(void *dst, const void *src, size_t n)
{
	return memmove(dst, src, n);
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d < s) {
		while (n--)
			*d++ = *s++;
	} else if (d > s) {
		while (n--)
			d[n] = s[n];
	}
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++) {
		if (*x != *y)
			return *x - *y;
	}
	return 0;
}

/* ---- output --------------------------------------------------------------------------------------------------- */

/* Minimal vsnprintf: %s %.*s %c %d %u %x with l, a '0' flag and a width. Returns the length written. */
static size_t init_vfmt(char *buf, size_t size, const char *fmt, va_list ap)
{
	size_t n = 0;

#define PUT(ch)                                                                                                    \
	do {                                                                                                       \
		if (n + 1 < size)                                                                                  \
			buf[n++] = (ch);                                                                           \
	} while (0)
	for (; *fmt; fmt++) {
		char tmp[12];
		unsigned long u;
		int width = 0, zero = 0, prec = -1, neg = 0, t = 0;
		const char *s;

		if (*fmt != '%') {
			PUT(*fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0')
			zero = 1, fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == '.' && fmt[1] == '*')
			prec = va_arg(ap, int), fmt += 2;
		if (*fmt == 'l')
			fmt++;
		switch (*fmt) {
		case 's':
			s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			while (s[t] && (prec < 0 || t < prec))
				t++;
			for (; width > t; width--)
				PUT(' ');
			for (width = 0; width < t; width++)
				PUT(s[width]);
			break;
		case 'c': PUT((char)va_arg(ap, int)); break;
		case 'd':
		case 'u':
		case 'x':
			if (*fmt == 'd') {
				long v = va_arg(ap, long);

				neg = v < 0;
				u = neg ? 0ul - (unsigned long)v : (unsigned long)v;
			} else {
				u = va_arg(ap, unsigned long);
			}
			do {
				unsigned int base = *fmt == 'x' ? 16 : 10;

				tmp[t++] = "0123456789abcdef"[u % base];
				u /= base;
			} while (u && t < (int)sizeof(tmp));
			if (neg)
				width--;
			if (neg && zero)
				PUT('-');
			for (; width > t; width--)
				PUT(zero ? '0' : ' ');
			if (neg && !zero)
				PUT('-');
			while (t)
				PUT(tmp[--t]);
			break;
		case '%': PUT('%'); break;
		default: goto out; /* unknown conversion or the end of fmt: stop */
		}
	}
out:
#undef PUT
	if (size)
		buf[n] = 0;
	return n;
}

static size_t init_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static size_t init_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = init_vfmt(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void init_write_all(int fd, const char *s, size_t n)
{
	while (n) {
		long r = sys_write(fd, s, n);

		if (r <= 0)
			return;
		s += r;
		n -= (size_t)r;
	}
}

/* Print one formatted line (or several: the format carries its newlines) to stdout with one write. */
static void pr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void pr(const char *fmt, ...)
{
	char buf[LINE_MAX];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = init_vfmt(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n && n == sizeof(buf) - 1)
		buf[n - 1] = '\n'; /* truncated: still end the line */
	init_write_all(1, buf, n);
}

/* ---- memory and files ----------------------------------------------------------------------------------------- */

static int init_is_err(long r)
{
	return r < 0 && r >= -4095;
}

static void *init_map(size_t size)
{
	long r = sys_mmap2(NULL, size, PROT_RW, MAP_PRIVATE_ANON, -1, 0);

	return init_is_err(r) ? NULL : (void *)r;
}

/*
 * Read a whole file (up to max bytes) into a new mapping of *cap bytes, NUL-terminated; the caller unmaps it.
 * Returns 0, -errno, -E_FBIG if the file holds more than max bytes.
 */
static int init_file_read(const char *path, size_t max, char **buf, size_t *len, size_t *cap)
{
	uint32_t st[24]; /* struct stat64 (i386): st_size is the long long at byte 44 */
	size_t c = 4096, n = 0;
	char *p;
	long fd, r;

	*buf = NULL;
	*len = *cap = 0;
	fd = sys_open(path, O_RDONLY | O_CLOEXEC | O_LARGEFILE, 0);
	if (fd < 0)
		return (int)fd;
	if (sys_fstat64((int)fd, st) == 0 && !st[12] && st[11] < max)
		c = (st[11] + 4096u) & ~4095u; /* room for the NUL */
	p = init_map(c);
	if (!p) {
		sys_close((int)fd);
		return -E_NOMEM;
	}
	for (;;) {
		if (n + 1 == c) { /* full: grow (proc and sys files report size 0) */
			char *q;

			if (c > max) {
				r = -E_FBIG;
				break;
			}
			q = init_map(c * 2);
			if (!q) {
				r = -E_NOMEM;
				break;
			}
			memcpy(q, p, n);
			sys_munmap(p, c);
			p = q;
			c *= 2;
		}
		r = sys_read((int)fd, p + n, c - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	sys_close((int)fd);
	if (r < 0) {
		sys_munmap(p, c);
		return (int)r;
	}
	p[n] = 0;
	*buf = p;
	*len = n;
	*cap = c;
	return 0;
}

/* Monotonic time in seconds and nanoseconds: the time64 call first (kernels without CONFIG_COMPAT_32BIT_TIME lack
 * the old one), the 32-bit one on -ENOSYS. */
static void init_now(struct init_timespec *out)
{
	struct init_timespec64 t = { 0, 0 };

	out->sec = out->nsec = 0;
	if (sys_clock_gettime64(CLOCK_MONOTONIC, &t) == 0) {
		out->sec = (int32_t)t.sec;
		out->nsec = (int32_t)t.nsec;
	} else {
		sys_clock_gettime(CLOCK_MONOTONIC, out);
	}
}

/*
 * `date`: the guest's CLOCK_REALTIME as seconds.nanoseconds since the Unix epoch, for e2e tests that compare it
 * with the host's clock (the Hyper-V time synchronisation IC sets it).
 */
static void init_cmd_date(void)
{
	struct init_timespec64 t = { 0, 0 };
	struct init_timespec ts = { 0, 0 };

	if (sys_clock_gettime64(CLOCK_REALTIME, &t) != 0) {
		sys_clock_gettime(CLOCK_REALTIME, &ts);
		t.sec = ts.sec;
		t.nsec = ts.nsec;
	}
	pr(P "date: %lu.%09lu\n", (unsigned long)t.sec, (unsigned long)t.nsec);
}

/* Monotonic milliseconds (wraps after 49 days; only differences are used). */
static uint32_t init_now_ms(void)
{
	struct init_timespec ts;

	init_now(&ts);
	return (uint32_t)ts.sec * 1000u + (uint32_t)ts.nsec / 1000000u;
}

static void init_sleep_ms(uint32_t ms)
{
	struct init_timespec64 t = { ms / 1000u, (ms % 1000u) * 1000000u };
	struct init_timespec ts = { (int32_t)(ms / 1000u), (int32_t)(ms % 1000u) * 1000000 };

	if (sys_clock_nanosleep64(CLOCK_MONOTONIC, &t) == -E_NOSYS)
		sys_nanosleep(&ts);
}

/* ---- boot steps ----------------------------------------------------------------------------------------------- */

static void init_console(void)
{
	long fd;

	if (sys_fcntl(1, F_GETFD, 0) >= 0)
		return;
	fd = sys_open("/dev/console", O_RDWR, 0);
	if (fd < 0)
		return;
	sys_dup2((int)fd, 0);
	sys_dup2((int)fd, 1);
	sys_dup2((int)fd, 2);
	if (fd > 2)
		sys_close((int)fd);
}

static void init_mount_one(const char *type, const char *dir)
{
	long r;

	sys_mkdir(dir, 0755);
	r = sys_mount(type, dir, type, 0, NULL);
	if (r < 0 && r != -E_BUSY)
		pr(P "mount %s on %s failed: %ld\n", type, dir, r);
}

/* The first word of /proc/uptime: seconds since boot with two decimals. */
static void init_print_uptime(const char *what)
{
	char *buf;
	size_t len, cap, n = 0;
	int r = init_file_read("/proc/uptime", 4096, &buf, &len, &cap);

	if (r < 0) {
		pr(P "uptime: failed: %d\n", r);
		return;
	}
	while (n < len && n < 32 && buf[n] != ' ' && buf[n] != '\n')
		n++;
	pr(P "uptime %.*s s%s%s\n", (int)n, buf, what ? " " : "", what ? what : "");
	sys_munmap(buf, cap);
}

static int init_module_present(const char *name)
{
	char path[32 + INIT_MODNAME_MAX];

	init_fmt(path, sizeof(path), "/sys/module/%s", name);
	return sys_access(path, F_OK) == 0;
}

static long init_module_load_file(const char *path)
{
	char *buf;
	size_t len, cap;
	long fd, r;

	fd = sys_open(path, O_RDONLY | O_CLOEXEC | O_LARGEFILE, 0);
	if (fd < 0)
		return fd;
	r = sys_finit_module((int)fd, "", 0);
	sys_close((int)fd);
	if (r != -E_NOSYS)
		return r;
	r = init_file_read(path, FILE_MAX, &buf, &len, &cap);
	if (r < 0)
		return r;
	r = sys_init_module(buf, len, "");
	sys_munmap(buf, cap);
	return r;
}

/*
 * openhv.modules=a,b,c: load each with its dependencies (modules.dep of moddir) and soft dependencies
 * (modules.softdep "pre:", names resolved through modules.alias), one line per module.
 */
static void init_modules(const char *list, const char *moddir)
{
	static struct init_plan plan;
	char path[512], name[INIT_MODNAME_MAX];
	char *dep = NULL, *soft = NULL, *alias = NULL;
	size_t dep_len = 0, soft_len = 0, alias_len = 0, cap = 0, i = 0;
	struct init_moddb db;
	unsigned int k;
	int r;

	init_fmt(path, sizeof(path), "%s/modules.dep", moddir);
	r = init_file_read(path, FILE_MAX, &dep, &dep_len, &cap);
	if (r < 0)
		pr(P "%s: %d\n", path, r);
	/* optional: soft dependencies (ext4 and jbd2 need crypto-crc32c, which no modules.dep line names) */
	init_fmt(path, sizeof(path), "%s/modules.softdep", moddir);
	if (init_file_read(path, FILE_MAX, &soft, &soft_len, &cap) < 0)
		soft_len = 0;
	init_fmt(path, sizeof(path), "%s/modules.alias", moddir);
	if (init_file_read(path, FILE_MAX, &alias, &alias_len, &cap) < 0)
		alias_len = 0;
	db.dep = dep;
	db.dep_len = dep_len;
	db.softdep = soft;
	db.softdep_len = soft_len;
	db.alias = alias;
	db.alias_len = alias_len;
	while (list[i]) {
		size_t start = i;

		while (list[i] && list[i] != ',')
			i++;
		r = init_modname(list + start, i - start, name, sizeof(name));
		if (list[i])
			i++;
		if (r == -INIT_EINVAL)
			continue;
		if (r < 0) {
			pr(P "%.*s failed: %d\n", (int)(i - start), list + start, r);
			continue;
		}
		if (!g_dry && init_module_present(name)) {
			if (init_plan_index(&plan, name) < 0)
				pr(P "loaded %s (built in or already loaded)\n", name);
			continue;
		}
		r = dep ? init_plan_add_db(&plan, &db, name) : -INIT_ENOENT;
		if (r < 0 && init_plan_index(&plan, name) < 0)
			pr(P "%s failed: %d\n", name, r);
	}
	for (k = 0; k < plan.n; k++) {
		const struct init_plan_entry *e = &plan.e[k];
		uint32_t t0;
		long lr;

		if (e->path_len && dep[e->path_off] == '/')
			init_fmt(path, sizeof(path), "%.*s", (int)e->path_len, dep + e->path_off);
		else
			init_fmt(path, sizeof(path), "%s/%.*s", moddir, (int)e->path_len, dep + e->path_off);
		if (g_dry) {
			pr(P "would load %s (%s)\n", e->name, path);
			continue;
		}
		if (init_module_present(e->name)) {
			pr(P "loaded %s (built in or already loaded)\n", e->name);
			continue;
		}
		t0 = init_now_ms();
		lr = init_module_load_file(path);
		t0 = init_now_ms() - t0;
		if (lr == 0 || lr == -E_EXIST)
			pr(P "loaded %s (%lu.%03lu s%s)\n", e->name, (unsigned long)(t0 / 1000u),
			   (unsigned long)(t0 % 1000u), lr ? ", already loaded" : "");
		else
			pr(P "%s failed: %ld\n", e->name, lr);
	}
	if (dep)
		sys_munmap(dep, cap);
	memset(&plan, 0, sizeof(plan));
}

/* ---- openhv.run commands -------------------------------------------------------------------------------------- */

static void init_cmd_ls(const char *path)
{
	static char buf[4096];
	unsigned int count = 0;
	long fd, n;

	fd = sys_open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_LARGEFILE, 0);
	if (fd < 0) {
		pr(P "ls %s: failed: %ld\n", path, fd);
		return;
	}
	while (count < LS_MAX && (n = sys_getdents64((int)fd, buf, sizeof(buf))) > 0) {
		long off = 0;

		while (off + 19 < n && count < LS_MAX) {
			/* struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, char name[] */
			uint16_t reclen;
			const char *name = buf + off + 19;
			size_t max;

			memcpy(&reclen, buf + off + 16, 2);
			if (reclen < 20 || off + reclen > n)
				break;
			max = (size_t)reclen - 19;
			if (!init_streq(name, ".") && !init_streq(name, "..")) {
				pr(P "ls %s: %.*s\n", path, (int)init_strnlen(name, max), name);
				count++;
			}
			off += reclen;
		}
	}
	sys_close((int)fd);
	if (!count)
		pr(P "ls %s: (empty)\n", path);
}

static void init_cmd_cat(const char *path)
{
	static char buf[4096], line[512];
	size_t ln = 0, total = 0;
	long fd, n = 0;

	fd = sys_open(path, O_RDONLY | O_CLOEXEC | O_LARGEFILE, 0);
	if (fd < 0) {
		pr(P "cat %s: failed: %ld\n", path, fd);
		return;
	}
	while (total < CAT_MAX && (n = sys_read((int)fd, buf, sizeof(buf))) > 0) {
		long i;

		for (i = 0; i < n; i++) {
			char c = buf[i];

			if (c == '\n' || ln == sizeof(line) - 1) {
				pr(P "cat %s: %.*s\n", path, (int)ln, line);
				ln = 0;
				if (c == '\n')
					continue;
			}
			line[ln++] = ((unsigned char)c < 0x20 && c != '\t') || c == 0x7f ? '.' : c;
		}
		total += (size_t)n;
	}
	if (ln)
		pr(P "cat %s: %.*s\n", path, (int)ln, line);
	if (n < 0)
		pr(P "cat %s: failed: %ld\n", path, n);
	else if (total >= CAT_MAX)
		pr(P "cat %s: (truncated at %u bytes)\n", path, (unsigned int)total);
	else if (!total)
		pr(P "cat %s: (empty)\n", path);
	sys_close((int)fd);
}

static void init_cmd_readlink(const char *path)
{
	static char buf[4096];
	long n = sys_readlink(path, buf, sizeof(buf) - 1);

	if (n < 0)
		pr(P "readlink %s: failed: %ld\n", path, n);
	else
		pr(P "readlink %s: %.*s\n", path, (int)n, buf);
}

static void init_cmd_write(const char *path, const char *text)
{
	size_t len = init_strnlen(text, VALUE_MAX);
	long fd, r = 0;

	if (g_dry) {
		pr(P "write %s: skipped (not PID 1)\n", path);
		return;
	}
	fd = sys_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_LARGEFILE, 0644);
	if (fd < 0) {
		pr(P "write %s: failed: %ld\n", path, fd);
		return;
	}
	if (len)
		r = sys_write((int)fd, text, len);
	sys_close((int)fd);
	if (r < 0)
		pr(P "write %s: failed: %ld\n", path, r);
	else
		pr(P "write %s: %ld bytes\n", path, r);
}

/* A decimal number below 2^31, or -1. */
static long init_parse_uint(const char *s)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (0x7fffffffL - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return *s ? -1 : v;
}

/*
 * `fill:PATH:SEED:BYTES`: write BYTES bytes of a pattern a host test can recompute from offset 0 of PATH (a file or
 * a block device such as /dev/sdb), then fsync. Byte i is bits 23:16 of x(i + 1), where x(0) = SEED and
 * x(k + 1) = x(k) * 1103515245 + 12345 mod 2^32.
 */
static void init_cmd_fill(char *args)
{
	static uint8_t buf[65536];
	char *f[3] = { NULL, NULL, NULL };
	int n = init_cmd_split(args, f, 3);
	long fd, r = 0, seed, bytes;
	uint32_t x;
	long done = 0;

	seed = n == 3 ? init_parse_uint(f[1]) : -1;
	bytes = n == 3 ? init_parse_uint(f[2]) : -1;
	if (n != 3 || seed < 0 || bytes < 0) {
		pr(P "fill: expected fill:PATH:SEED:BYTES\n");
		return;
	}
	if (g_dry) {
		pr(P "fill %s: skipped (not PID 1)\n", f[0]);
		return;
	}
	fd = sys_open(f[0], O_WRONLY | O_CREAT | O_CLOEXEC | O_LARGEFILE, 0644);
	if (fd < 0) {
		pr(P "fill %s: failed: %ld\n", f[0], fd);
		return;
	}
	x = (uint32_t)seed;
	while (done < bytes && r >= 0) {
		long chunk = bytes - done < (long)sizeof(buf) ? bytes - done : (long)sizeof(buf);

		for (long i = 0; i < chunk; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (uint8_t)(x >> 16);
		}
		r = sys_write((int)fd, buf, (size_t)chunk);
		if (r > 0)
			done += r;
		if (r >= 0 && r != chunk)
			r = -E_INVAL;
	}
	if (r >= 0)
		r = sys_fsync((int)fd);
	sys_close((int)fd);
	if (r < 0)
		pr(P "fill %s: failed after %ld bytes: %ld\n", f[0], done, r);
	else
		pr(P "fill %s: %ld bytes\n", f[0], done);
}

/*
 * `io:PATH:MODE:BS:JOBS:COUNT`: a load generator for measuring the storage path from inside a guest (P5: exits per
 * guest I/O), like fio's psync engine with numjobs: JOBS forked processes (1..64) each issue COUNT (1..1000000)
 * O_DIRECT I/Os of BS bytes (a power of two, 512..1 MiB) on their own descriptor, so up to JOBS requests are in
 * flight. MODE: randread / randwrite (BS-aligned offsets from a per-job LCG over the whole device or file) or read /
 * write (job j walks the j-th of JOBS equal slices, wrapping). Writes put a fixed pattern (use a scratch disk).
 * Prints the I/O count, the time, IOPS and MB/s; a failing job prints its error. Read modes also run under
 * --dry-run. 32-bit arithmetic only (no libgcc): block numbers are capped at 2^32 - 1.
 */
#define IO_JOBS_MAX 64u
#define IO_COUNT_MAX 1000000

static long init_io_job(const char *path, int write, int rnd, unsigned shift, uint32_t job, uint32_t jobs,
			long count)
{
	uint32_t bs = 1u << shift, x = 0x9e3779b9u * (job + 1), blocks, slice, blk, pos = 0;
	uint64_t size = 0;
	uint8_t *buf;
	long fd, r, i;

	buf = init_map(bs); /* page-aligned: fine for O_DIRECT */
	if (!buf)
		return -E_NOMEM;
	for (i = 0; i < (long)bs; i++)
		buf[i] = (uint8_t)(i * 7 + job);
	fd = sys_open(path, (write ? O_RDWR : O_RDONLY) | O_DIRECT | O_LARGEFILE | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	r = sys_llseek((int)fd, 0, &size, SEEK_END);
	blocks = (size >> shift) > 0xffffffffu ? 0xffffffffu : (uint32_t)(size >> shift);
	if (r == 0 && blocks == 0)
		r = -E_INVAL; /* smaller than one block */
	slice = blocks / jobs;
	for (i = 0; r == 0 && i < count; i++) {
		if (rnd) {
			x = x * 1103515245u + 12345u;
			blk = ((x >> 16) | (x << 16)) % blocks;
		} else {
			blk = slice ? job * slice + pos % slice : pos % blocks;
			pos++;
		}
		r = write ? sys_pwrite64((int)fd, buf, bs, (uint64_t)blk << shift)
			  : sys_pread64((int)fd, buf, bs, (uint64_t)blk << shift);
		r = r == (long)bs ? 0 : r < 0 ? r : -E_INVAL;
	}
	sys_close((int)fd);
	return r;
}

/* n per second over ms milliseconds, without overflowing 32 bits */
static uint32_t init_per_second(uint32_t n, uint32_t ms)
{
	return n / ms * 1000u + n % ms * 1000u / ms;
}

static void init_cmd_io(char *args)
{
	char *f[5] = { NULL, NULL, NULL, NULL, NULL };
	int n = init_cmd_split(args, f, 5), write = 0, rnd = 0, failed = 0;
	long bs = -1, jobs = -1, count = -1, pid;
	uint32_t t0, ms, j, started = 0, total;
	unsigned shift = 9;

	if (n == 5) {
		write = init_streq(f[1], "write") || init_streq(f[1], "randwrite");
		rnd = init_streq(f[1], "randread") || init_streq(f[1], "randwrite");
		if (!write && !rnd && !init_streq(f[1], "read"))
			n = 0;
		bs = init_parse_uint(f[2]);
		jobs = init_parse_uint(f[3]);
		count = init_parse_uint(f[4]);
		while (shift < 20 && (1l << shift) < bs)
			shift++;
	}
	if (n != 5 || bs != (1l << shift) || jobs < 1 || jobs > (long)IO_JOBS_MAX || count < 1 || count > IO_COUNT_MAX) {
		pr(P "io: expected io:PATH:read|write|randread|randwrite:BS:JOBS:COUNT (BS a power of two 512..1048576, "
		     "JOBS 1..%u, COUNT 1..%u)\n", IO_JOBS_MAX, (unsigned)IO_COUNT_MAX);
		return;
	}
	if (g_dry && write) {
		pr(P "io %s: skipped (not PID 1)\n", f[0]);
		return;
	}
	t0 = init_now_ms();
	for (j = 0; j < (uint32_t)jobs; j++) {
		pid = sys_fork();
		if (pid == 0) {
			long r = init_io_job(f[0], write, rnd, shift, j, (uint32_t)jobs, count);

			if (r < 0)
				pr(P "io %s: job %u failed: %ld\n", f[0], j, r);
			sys_exit(r < 0 ? 1 : 0);
		}
		if (pid < 0) {
			pr(P "io %s: fork: %ld\n", f[0], pid);
			failed++;
			break;
		}
		started++;
	}
	for (j = 0; j < started; j++) {
		int st = 0;

		if (sys_waitpid(-1, &st, 0) < 0 || st != 0)
			failed++;
	}
	ms = init_now_ms() - t0;
	if (!ms)
		ms = 1;
	total = started * (uint32_t)count;
	pr(P "io %s: %s bs %ld, %u jobs x %ld: %u I/Os in %u ms (%u IOPS, %u MB/s)%s\n", f[0], f[1], bs, started,
	   count, total, ms, init_per_second(total, ms),
	   init_per_second((uint32_t)(((uint64_t)total << shift) >> 20), ms), failed ? ", FAILED" : "");
}

static void init_cmd_mount(char *args)
{
	char *f[4] = { NULL, NULL, NULL, NULL };
	int n = init_cmd_split(args, f, 4);
	long r;

	if (n < 3 || !*f[1] || !*f[2]) {
		pr(P "mount: expected mount:DEV:DIR:FSTYPE[:OPTIONS]\n");
		return;
	}
	if (g_dry) {
		pr(P "mount %s %s %s: skipped (not PID 1)\n", f[0], f[1], f[2]);
		return;
	}
	sys_mkdir(f[1], 0755);
	r = sys_mount(f[0], f[1], f[2], 0, n > 3 ? f[3] : NULL);
	if (r < 0)
		pr(P "mount %s %s %s: failed: %ld\n", f[0], f[1], f[2], r);
	else
		pr(P "mount %s %s %s: ok\n", f[0], f[1], f[2]);
}

/* "SECONDS[.FRACTION]" -> milliseconds, at most a day; -1 if malformed. */
static long init_parse_ms(const char *s)
{
	uint32_t sec = 0, ms = 0, scale = 100;

	if (!*s)
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		sec = sec * 10 + (uint32_t)(*s - '0');
		if (sec > 86400)
			return -1;
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++) {
			ms += (uint32_t)(*s - '0') * scale;
			scale /= 10;
		}
	}
	return *s ? -1 : (long)(sec * 1000 + ms);
}

static void init_run_one(char *cmd)
{
	char *f[2] = { NULL, NULL };
	int n = init_cmd_split(cmd, f, 2);
	const char *verb = f[0];
	char *arg = n > 1 ? f[1] : NULL;

	if (init_streq(verb, "echo")) {
		pr(P "echo: %s\n", arg ? arg : "");
	} else if (init_streq(verb, "sync")) {
		if (!g_dry)
			sys_sync();
		pr(P "sync: %s\n", g_dry ? "skipped (not PID 1)" : "ok");
	} else if (init_streq(verb, "uptime")) {
		init_print_uptime(NULL);
	} else if (init_streq(verb, "date")) {
		init_cmd_date();
	} else if (!init_streq(verb, "ls") && !init_streq(verb, "cat") && !init_streq(verb, "readlink") &&
		   !init_streq(verb, "write") && !init_streq(verb, "mount") && !init_streq(verb, "sleep") &&
		   !init_streq(verb, "fill") && !init_streq(verb, "io")) {
		pr(P "%s: unknown command (verbs: ls cat readlink write fill io sync mount sleep echo uptime date)\n", verb);
	} else if (!arg || !*arg) {
		pr(P "%s: missing argument\n", verb);
	} else if (init_streq(verb, "ls")) {
		init_cmd_ls(arg);
	} else if (init_streq(verb, "cat")) {
		init_cmd_cat(arg);
	} else if (init_streq(verb, "readlink")) {
		init_cmd_readlink(arg);
	} else if (init_streq(verb, "write")) {
		char *w[2] = { NULL, NULL };

		init_cmd_split(arg, w, 2);
		init_cmd_write(w[0], w[1] ? w[1] : "");
	} else if (init_streq(verb, "mount")) {
		init_cmd_mount(arg);
	} else if (init_streq(verb, "fill")) {
		init_cmd_fill(arg);
	} else if (init_streq(verb, "io")) {
		init_cmd_io(arg);
	} else {
		long ms = init_parse_ms(arg);

		if (ms < 0) {
			pr(P "sleep %s: bad duration\n", arg);
		} else {
			init_sleep_ms((uint32_t)ms);
			pr(P "sleep %s: ok\n", arg);
		}
	}
}

static void init_run(const char *list, size_t len)
{
	size_t pos = 0;
	unsigned int count = 0;
	int r;

	while (count++ < 256 && (r = init_runlist_next(list, len, &pos, g_cmd, sizeof(g_cmd))) != 0) {
		if (r < 0) {
			pr(P "run: command too long: %.*s...\n", 40, g_cmd);
			continue;
		}
		init_run_one(g_cmd);
	}
}

/* Value of a parameter of the command line, or NULL. Uses the shared g_value buffer. */
static const char *init_param(const char *key)
{
	int r = init_cmdline_get(g_cmdline, g_cmdline_len, key, g_value, sizeof(g_value));

	if (r == -INIT_ENOENT)
		return NULL;
	if (r < 0)
		pr(P "%s: value too long, truncated\n", key);
	return g_value;
}

static int init_param_flag(const char *key)
{
	const char *v = init_param(key);

	return v && init_flag_value(v);
}

/*
 * Can a libc program run here? Fork a child that runs `/bin/sh -c "exit 0"` and check it exits with 0. On a
 * software KVM such as kvm_pvm (shared/reference/platform.md) glibc's `int $0x80` arrives as #UD and the child
 * dies of SIGILL; on hardware it works. Bounded: the parent waits for the child, which cannot block.
 */
static int init_shell_works(char **envp)
{
	static char *const probe_argv[] = { "/bin/sh", "-c", "exit 0", NULL };
	int status = -1;
	long pid = sys_fork();

	if (pid == 0) {
		sys_execve("/bin/sh", probe_argv, envp);
		sys_exit(127);
	}
	if (pid < 0) {
		pr(P "fork: %ld\n", pid);
		return 0;
	}
	if (sys_waitpid(pid, &status, 0) != pid)
		return 0;
	if (status != 0)
		pr(P "/bin/sh cannot run here (status 0x%x: its libc's system calls fail on this platform)\n",
		   (unsigned int)status);
	return status == 0;
}

/*
 * The built-in shell: one command per line on the console, words separated by spaces. The verbs of
 * openhv.run (ls cat readlink write mount sync sleep echo uptime) plus help, poweroff and reboot. Used where
 * /bin/sh cannot run (see init_shell_works), so the default guest still ends at a prompt.
 */
static void init_shell(void)
{
	static char line[VALUE_MAX];

	pr(P "built-in shell; 'help' lists the commands\n");
	for (;;) {
		size_t n = 0;
		long r;

		pr("openhv-init# ");
		while (n + 1 < sizeof(line)) {
			r = sys_read(0, &line[n], 1);
			if (r <= 0) {
				if (r == 0 || n == 0)
					init_sleep_ms(1000); /* no console input (yet) */
				break;
			}
			if (line[n] == '\n' || line[n] == '\r')
				break;
			n++;
		}
		line[n] = '\0';
		if (n == 0)
			continue;
		if (init_streq(line, "help")) {
			pr("ls DIR | cat FILE | readlink PATH | write FILE TEXT | mount DEV DIR FSTYPE | sync | "
			   "sleep SECONDS | echo TEXT | uptime | poweroff | reboot\n");
			continue;
		}
		if (init_streq(line, "poweroff") || init_streq(line, "reboot")) {
			sys_sync();
			r = sys_reboot(line[0] == 'p' ? REBOOT_CMD_POWER_OFF : REBOOT_CMD_RESTART);
			pr(P "reboot() failed: %ld\n", r);
			continue;
		}
		/* "verb args" -> the "verb:args" form of openhv.run: the first space always; for write the next one
		 * (FILE TEXT), for mount every one (DEV DIR FSTYPE); echo keeps its text as typed. */
		{
			char *sp = line;
			int colons;

			while (*sp && *sp != ' ')
				sp++;
			colons = !memcmp(line, "mount ", 6) ? 3 : !memcmp(line, "write ", 6) ? 2 : 1;
			for (char *c = sp; *c && colons > 0; c++) {
				if (*c == ' ') {
					*c = ':';
					colons--;
				}
			}
		}
		init_run_one(line);
	}
}

/*
 * root= on the command line while / is the initramfs: mount the root filesystem and continue there, as
 * switch_root does (docs/guest-init.md). rootfstype= (default ext4), rw (else read-only), rootflags=, rootwait /
 * rootdelay=SECONDS (wait for the device node; default: up to 300 s with rootwait, 5 s without), init= (default
 * /sbin/init). Moves /dev, /proc and /sys along, makes the new root /, and execs its init with the same arguments.
 * Returns only when it could not switch (the reason printed): the caller goes on in the initramfs.
 */
static void init_switch_root(char **argv, char **envp)
{
	static char dev[256], fstype[64], flags[256], init[256];
	static const char *const moves[] = { "/dev", "/proc", "/sys" };
	uint32_t st[STATFS64_BYTES / 4];
	const char *v;
	unsigned long mflags;
	uint32_t wait_ms, waited = 0;
	long r;

	v = init_param("root");
	if (!v || !*v)
		return;
	init_strlcpy(dev, sizeof(dev), v, sizeof(dev));
	/* On the real root already (this is /sbin/init there): nothing to do. --dry-run shows the plan anyway. */
	if (!g_dry && (sys_statfs64("/", st) != 0 || (st[0] != RAMFS_MAGIC && st[0] != TMPFS_MAGIC)))
		return;
	v = init_param("rootfstype");
	init_strlcpy(fstype, sizeof(fstype), v && *v ? v : "ext4", sizeof(fstype));
	v = init_param("rootflags");
	init_strlcpy(flags, sizeof(flags), v ? v : "", sizeof(flags));
	v = init_param("init");
	init_strlcpy(init, sizeof(init), v && *v ? v : "/sbin/init", sizeof(init));
	mflags = init_param("rw") ? 0 : MS_RDONLY;
	wait_ms = init_param("rootwait") ? 300000 : 5000; /* interpreted guest kernels scan slowly */
	v = init_param("rootdelay");
	if (v && init_parse_uint(v) >= 0 && init_parse_uint(v) < 3600)
		wait_ms = (uint32_t)init_parse_uint(v) * 1000;
	if (g_dry) {
		pr(P "would switch root to %s (%s, %s) and exec %s\n", dev, fstype, mflags ? "ro" : "rw", init);
		return;
	}
	while (sys_access(dev, F_OK) != 0 && waited < wait_ms) {
		init_sleep_ms(100);
		waited += 100;
	}
	pr(P "switching root to %s (%s, %s) after %u ms\n", dev, fstype, mflags ? "ro" : "rw", waited);
	sys_mkdir("/newroot", 0755);
	r = sys_mount(dev, "/newroot", fstype, mflags, flags[0] ? flags : NULL);
	if (r < 0) {
		pr(P "switch root: mount %s on /newroot: %ld; staying in the initramfs\n", dev, r);
		return;
	}
	for (unsigned i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
		char to[32];

		init_fmt(to, sizeof(to), "/newroot%s", moves[i]);
		sys_mkdir(to, 0755);
		r = sys_mount(moves[i], to, NULL, MS_MOVE, NULL);
		if (r < 0)
			pr(P "switch root: moving %s: %ld (the new init mounts it again)\n", moves[i], r);
	}
	if ((r = sys_chdir("/newroot")) < 0 || (r = sys_mount(".", "/", NULL, MS_MOVE, NULL)) < 0 ||
	    (r = sys_chroot(".")) < 0 || (r = sys_chdir("/")) < 0) {
		pr(P "switch root: making /newroot the root: %ld; staying in the initramfs\n", r);
		return;
	}
	r = sys_execve(init, argv, envp);
	/* Past the point of no return: the initramfs is no longer reachable. Use what the new root has. */
	pr(P "switch root: exec %s: %ld; going on with this init on the new root\n", init, r);
}

static void init_finish(char **envp)
{
	static char *const sh_argv[] = { "/bin/sh", NULL };
	int off = init_param_flag("openhv.poweroff"), rst = init_param_flag("openhv.reboot");
	const char *shell = init_param("openhv.shell");
	long r;

	if (off || rst) {
		pr(P "%s\n", off ? "power off" : "reboot");
		if (g_dry)
			return;
		sys_sync();
		r = sys_reboot(off ? REBOOT_CMD_POWER_OFF : REBOOT_CMD_RESTART);
		pr(P "reboot() failed: %ld\n", r);
	} else if ((!shell || init_flag_value(shell)) && sys_access("/bin/sh", X_OK) == 0) {
		if (g_dry) {
			pr(P "would start /bin/sh\n");
			return;
		}
		pr(P "%u system calls so far came back through the 64-bit return stub\n", init_gate64_count);
		if (init_shell_works(envp)) {
			pr(P "starting /bin/sh\n");
			r = sys_execve("/bin/sh", sh_argv, envp);
			pr(P "execve /bin/sh failed: %ld\n", r);
		}
		init_shell();
	} else if (g_dry) {
		return;
	} else if (!shell || init_flag_value(shell)) {
		init_shell();
	}
	pr(P "nothing left to do; sleeping\n");
	for (;;)
		sys_pause();
}

/* ---- self-test (any PID; changes nothing) --------------------------------------------------------------------- */

static unsigned int g_checks, g_failed;

static void init_check(int ok, const char *what)
{
	g_checks++;
	if (!ok)
		g_failed++;
	pr(P "selftest: %s %s\n", ok ? "ok  " : "FAIL", what);
}

static int init_selftest(void)
{
	static const char dep[] = "kernel/drivers/scsi/scsi_mod.ko: kernel/drivers/scsi/scsi_common.ko\n"
				  "kernel/drivers/scsi/scsi_common.ko:\n"
				  "kernel/drivers/hv/hv_vmbus.ko:\n"
				  "kernel/drivers/scsi/scsi_transport_fc.ko: kernel/drivers/scsi/scsi_mod.ko "
				  "kernel/drivers/scsi/scsi_common.ko\n"
				  "kernel/drivers/scsi/hv_storvsc.ko: kernel/drivers/scsi/scsi_transport_fc.ko "
				  "kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko "
				  "kernel/drivers/hv/hv_vmbus.ko\n";
	static const char *const order[] = { "hv_vmbus", "scsi_common", "scsi_mod", "scsi_transport_fc", "hv_storvsc" };
	static struct init_plan plan;
	static const char cl[] = "a=1 openhv.run=\"echo:x y;ls:/\" openhv.poweroff openhv.modules=a-b,c";
	struct init_utsname u;
	struct init_timespec a, b;
	char out[64], tmp[64];
	void (*gate)(void) = init_sysinfo;
	long pid_gate, pid_int80, n;
	char *buf;
	size_t len, cap, pos = 0;
	unsigned int i;
	int ok;

	pr(P "selftest: system call gate %s at 0x%lx\n", gate == init_int80 ? "int $0x80" : "AT_SYSINFO (vDSO)",
	   (unsigned long)(uintptr_t)gate);
	pid_gate = sys_getpid();
	init_sysinfo = init_int80;
	pid_int80 = sys_getpid();
	init_sysinfo = gate;
	init_check(pid_gate > 0 && pid_gate == pid_int80, "getpid() agrees through the gate and int $0x80");
	init_check(sys_uname(&u) == 0 && u.release[0], "uname()");
	init_check(init_file_read("/proc/self/stat", 1 << 20, &buf, &len, &cap) == 0 && len > 0, "read /proc/self/stat");
	if (buf)
		sys_munmap(buf, cap);
	n = sys_readlink("/proc/self/exe", tmp, sizeof(tmp) - 1);
	init_check(n > 0, "readlink /proc/self/exe");
	init_check(sys_open("/nonexistent/openhv", O_RDONLY, 0) == -E_NOENT, "open() of a missing file: -ENOENT");
	init_now(&a);
	init_sleep_ms(20);
	init_now(&b);
	n = (b.sec - a.sec) * 1000 + (b.nsec - a.nsec) / 1000000;
	init_check(n >= 15 && n < 5000, "clock_nanosleep(20 ms) and clock_gettime()");
	buf = init_map(1 << 20);
	if (buf) {
		buf[(1 << 20) - 1] = 1;
		sys_munmap(buf, 1 << 20);
	}
	init_check(buf != NULL, "mmap2() 1 MiB");
	init_fmt(tmp, sizeof(tmp), "%d|%u|%x|%03u|%5s|%.*s|%ld", -42, 7u, 0xbeefu, 5u, "ab", 2, "xyz", -2147483647L - 1);
	init_check(init_streq(tmp, "-42|7|beef|005|   ab|xy|-2147483648"), "formatting");
	ok = init_cmdline_get(cl, sizeof(cl), "openhv.run", out, sizeof(out)) == 13 && init_streq(out, "echo:x y;ls:/");
	ok = ok && init_cmdline_get(cl, sizeof(cl), "openhv.poweroff", out, sizeof(out)) == 0;
	ok = ok && init_cmdline_get(cl, sizeof(cl), "openhv.reboot", out, sizeof(out)) == -INIT_ENOENT;
	init_check(ok, "command line parameters");
	ok = init_runlist_next("echo:a\\;b;;ls:/", 15, &pos, out, sizeof(out)) == 8 && init_streq(out, "echo:a;b");
	ok = ok && init_runlist_next("echo:a\\;b;;ls:/", 15, &pos, out, sizeof(out)) == 4 && init_streq(out, "ls:/");
	ok = ok && init_runlist_next("echo:a\\;b;;ls:/", 15, &pos, out, sizeof(out)) == 0;
	init_check(ok, "openhv.run list");
	ok = init_plan_add(&plan, dep, sizeof(dep) - 1, "hv-storvsc") == 0 && plan.n == 5;
	for (i = 0; ok && i < 5; i++)
		ok = init_streq(plan.e[i].name, order[i]);
	init_check(ok, "modules.dep load order");
	pr(P "selftest: %u checks, %u failed\n", g_checks, g_failed);
	return g_failed ? 1 : 0;
}

/*
 * Run as /sbin/poweroff, /sbin/reboot or /sbin/halt (links the disk images make to this program): what the kernel's
 * orderly_poweroff()/orderly_reboot() exec when the Shutdown IC asks the guest to power off or restart
 * (kernel/reboot.c poweroff_cmd, reboot_cmd), and what a user types. Busybox's applets would signal PID 1, which
 * ignores signals, and on a software KVM they cannot make system calls at all. So: sync, remount / read-only, and
 * reboot(2) directly. Only when PID 1 runs this same program (/proc/1/exe = /proc/self/exe) or / is one of
 * OpenHV's disk images (/etc/openhv-disk; there PID 1 may be the /bin/sh openhv-init handed over to): anywhere
 * else, e.g. on a build machine, it refuses. Returns the exit status (only on failure).
 */
static int init_as_shutdown_applet(const char *what)
{
	static char self[256], pid1[256];
	uint32_t cmd = init_streq(what, "reboot") ? REBOOT_CMD_RESTART
		       : init_streq(what, "halt") ? REBOOT_CMD_HALT
						  : REBOOT_CMD_POWER_OFF;
	long a = sys_readlink("/proc/self/exe", self, sizeof(self) - 1);
	long b = sys_readlink("/proc/1/exe", pid1, sizeof(pid1) - 1);
	long r;

	if (a > 0)
		self[a] = 0;
	if (b > 0)
		pid1[b] = 0;
	if ((a <= 0 || b <= 0 || !init_streq(self, pid1)) && sys_access("/etc/openhv-disk", F_OK) != 0) {
		pr(P "%s: PID 1 is not openhv-init (%s) and / is no OpenHV disk image: refusing\n", what,
		   b > 0 ? pid1 : "unknown");
		return 1;
	}
	pr(P "%s: syncing, remounting / read-only\n", what);
	sys_sync();
	r = sys_mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
	if (r < 0)
		pr(P "%s: remount / read-only: %ld\n", what, r);
	sys_sync();
	r = sys_reboot(cmd);
	pr(P "%s: reboot() failed: %ld\n", what, r);
	return 1;
}

/* ---- main ----------------------------------------------------------------------------------------------------- */

int init_main(int argc, char **argv, char **envp)
{
	static char moddir[256];
	const char *v;
	char *buf;
	size_t len, cap;
	int r;

	if (sys_getpid() != 1 && argc >= 1 && argv[0]) {
		const char *base = argv[0];

		for (const char *q = argv[0]; *q; q++)
			if (*q == '/')
				base = q + 1;
		if (init_streq(base, "poweroff") || init_streq(base, "reboot") || init_streq(base, "halt"))
			return init_as_shutdown_applet(base);
	}
	if (sys_getpid() != 1) {
		if (argc >= 2 && init_streq(argv[1], "--selftest"))
			return init_selftest();
		if (argc < 3 || !init_streq(argv[1], "--dry-run")) {
			pr("usage: openhv-init --selftest | --dry-run CMDLINE [MODULE_DIR]\n"
			   "(as PID 1, the guest's /init; see docs/guest-init.md)\n");
			return 2;
		}
		g_dry = 1;
		g_cmdline_len = init_strlcpy(g_cmdline, sizeof(g_cmdline), argv[2], CMDLINE_MAX);
		init_strlcpy(moddir, sizeof(moddir), argc > 3 ? argv[3] : "", sizeof(moddir));
	} else {
		struct init_utsname u;

		init_console();
		pr(P "started; system calls through %s\n", init_sysinfo == init_int80 ? "int $0x80" : "the vDSO");
		init_mount_one("proc", "/proc");
		init_mount_one("sysfs", "/sys");
		init_mount_one("devtmpfs", "/dev");
		init_console();
		r = init_file_read("/proc/cmdline", CMDLINE_MAX - 1, &buf, &len, &cap);
		if (r < 0) {
			pr(P "/proc/cmdline: %d\n", r);
		} else {
			g_cmdline_len = init_strlcpy(g_cmdline, sizeof(g_cmdline), buf, len);
			sys_munmap(buf, cap);
		}
		if (sys_uname(&u) == 0)
			init_fmt(moddir, sizeof(moddir), "/lib/modules/%.*s", 64, u.release);
	}

	v = init_param("openhv.modules");
	if (v && *v) {
		if (moddir[0])
			init_modules(v, moddir);
		else
			pr(P "openhv.modules: no module folder\n");
	}

	if (sys_getpid() == 1 || g_dry)
		init_switch_root(argv, envp);

	pr("OPENHV: init reached\n");
	init_print_uptime(NULL);

	v = init_param("openhv.run");
	if (v && *v) {
		/* the command buffer is separate, but keep the list itself apart from g_value */
		static char list[VALUE_MAX];
		size_t n = init_strlcpy(list, sizeof(list), v, VALUE_MAX);

		init_run(list, n);
	}
	init_finish(envp);
	return 0;
}
