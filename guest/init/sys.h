/* SPDX-License-Identifier: MIT */
/*
 * guest/init/sys.h - i386 Linux system calls of openhv-init (numbers from arch/x86/entry/syscalls/syscall_32.tbl,
 * constants from the uapi headers). Every call goes through init_syscall6 (start.S), which enters the kernel
 * through the vDSO's __kernel_vsyscall (AT_SYSINFO) or `int $0x80`. Results are -errno on error.
 */
#ifndef OPENHV_GUEST_INIT_SYS_H
#define OPENHV_GUEST_INIT_SYS_H

#include <stddef.h>
#include <stdint.h>

long init_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
/* The gate init_syscall6 calls: AT_SYSINFO if the kernel passed it, else init_int80. */
extern void (*init_sysinfo)(void);
/* How many system calls came back through the 64-bit return stub (start.S: the platform's broken sysretl). */
extern unsigned int init_gate64_count;
void init_int80(void);

#define NR_exit 1
#define NR_fork 2
#define NR_read 3
#define NR_write 4
#define NR_open 5
#define NR_waitpid 7
#define NR_close 6
#define NR_execve 11
#define NR_chdir 12
#define NR_getpid 20
#define NR_mount 21
#define NR_pause 29
#define NR_access 33
#define NR_sync 36
#define NR_mkdir 39
#define NR_fcntl 55
#define NR_chroot 61
#define NR_dup2 63
#define NR_readlink 85
#define NR_reboot 88
#define NR_munmap 91
#define NR_fsync 118
#define NR_uname 122
#define NR_init_module 128
#define NR__llseek 140
#define NR_nanosleep 162
#define NR_pread64 180
#define NR_pwrite64 181
#define NR_mmap2 192
#define NR_fstat64 197
#define NR_getdents64 220
#define NR_exit_group 252
#define NR_clock_gettime 265
#define NR_statfs64 268
#define NR_clock_gettime64 403
#define NR_clock_nanosleep_time64 407
#define NR_finit_module 350

#define E_NOENT 2
#define E_NOEXEC 8
#define E_BADF 9
#define E_NOMEM 12
#define E_BUSY 16
#define E_EXIST 17
#define E_NOTDIR 20
#define E_INVAL 22
#define E_FBIG 27
#define E_NOSYS 38

#define O_RDONLY 0
#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_NOCTTY 0400
#define O_TRUNC 01000
#define O_DIRECT 040000
#define O_LARGEFILE 0100000
#define O_DIRECTORY 0200000
#define O_CLOEXEC 02000000
#define F_GETFD 1
#define SEEK_END 2
#define F_OK 0
#define X_OK 1
#define PROT_RW 3          /* PROT_READ | PROT_WRITE */
#define MAP_PRIVATE_ANON 0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */
#define MS_RDONLY 1ul
#define MS_REMOUNT 32ul
#define MS_MOVE 8192ul
#define RAMFS_MAGIC 0x858458f6u
#define TMPFS_MAGIC 0x01021994u
#define STATFS64_BYTES 84u   /* sizeof(struct statfs64) on i386 (packed to 4); f_type is the first u32 */
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1

#define REBOOT_MAGIC1 0xfee1deadu
#define REBOOT_MAGIC2 672274793u
#define REBOOT_CMD_POWER_OFF 0x4321fedcu
#define REBOOT_CMD_RESTART 0x01234567u
#define REBOOT_CMD_HALT 0xcdef0123u

/* struct timespec of the 32-bit calls (old_timespec32; absent without CONFIG_COMPAT_32BIT_TIME) */
struct init_timespec {
	int32_t sec;
	int32_t nsec;
};

/* struct __kernel_timespec of the time64 calls (Linux 5.1+) */
struct init_timespec64 {
	int64_t sec;
	int64_t nsec;
};

/* struct new_utsname (include/uapi/linux/utsname.h) */
struct init_utsname {
	char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65];
};

#define SYS6(n, a, b, c, d, e, f) init_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))
#define SYS3(n, a, b, c) SYS6(n, a, b, c, 0, 0, 0)

static inline long sys_read(int fd, void *buf, size_t n) { return SYS3(NR_read, fd, buf, n); }
static inline long sys_write(int fd, const void *buf, size_t n) { return SYS3(NR_write, fd, buf, n); }
static inline long sys_open(const char *path, int flags, int mode) { return SYS3(NR_open, path, flags, mode); }
static inline long sys_close(int fd) { return SYS3(NR_close, fd, 0, 0); }
static inline long sys_getpid(void) { return SYS3(NR_getpid, 0, 0, 0); }
static inline long sys_access(const char *path, int mode) { return SYS3(NR_access, path, mode, 0); }
static inline long sys_mkdir(const char *path, int mode) { return SYS3(NR_mkdir, path, mode, 0); }
static inline long sys_fcntl(int fd, int cmd, long arg) { return SYS3(NR_fcntl, fd, cmd, arg); }
static inline long sys_dup2(int from, int to) { return SYS3(NR_dup2, from, to, 0); }
static inline long sys_readlink(const char *path, char *buf, size_t n) { return SYS3(NR_readlink, path, buf, n); }
static inline long sys_uname(struct init_utsname *u) { return SYS3(NR_uname, u, 0, 0); }
static inline long sys_sync(void) { return SYS3(NR_sync, 0, 0, 0); }
static inline long sys_fsync(int fd) { return SYS3(NR_fsync, fd, 0, 0); }
static inline long sys_pread64(int fd, void *buf, size_t n, uint64_t off)
{
	return SYS6(NR_pread64, fd, buf, n, (uint32_t)off, (uint32_t)(off >> 32), 0);
}
static inline long sys_pwrite64(int fd, const void *buf, size_t n, uint64_t off)
{
	return SYS6(NR_pwrite64, fd, buf, n, (uint32_t)off, (uint32_t)(off >> 32), 0);
}
/* _llseek: the 64-bit result lands in *result */
static inline long sys_llseek(int fd, uint64_t off, uint64_t *result, int whence)
{
	return SYS6(NR__llseek, fd, (uint32_t)(off >> 32), (uint32_t)off, result, whence, 0);
}
static inline long sys_chdir(const char *path) { return SYS3(NR_chdir, path, 0, 0); }
static inline long sys_chroot(const char *path) { return SYS3(NR_chroot, path, 0, 0); }
static inline long sys_statfs64(const char *path, void *buf) { return SYS3(NR_statfs64, path, STATFS64_BYTES, buf); }
static inline long sys_pause(void) { return SYS3(NR_pause, 0, 0, 0); }
static inline long sys_fork(void) { return SYS3(NR_fork, 0, 0, 0); }
static inline long sys_waitpid(long pid, int *status, int options) { return SYS3(NR_waitpid, pid, status, options); }
static inline void sys_exit(int code) { SYS3(NR_exit, code, 0, 0); }
static inline long sys_getdents64(int fd, void *buf, size_t n) { return SYS3(NR_getdents64, fd, buf, n); }
static inline long sys_fstat64(int fd, void *st) { return SYS3(NR_fstat64, fd, st, 0); }
static inline long sys_execve(const char *path, char *const *argv, char *const *envp)
{
	return SYS3(NR_execve, path, argv, envp);
}
static inline long sys_mount(const char *src, const char *dir, const char *type, unsigned long flags, const void *data)
{
	return SYS6(NR_mount, src, dir, type, flags, data, 0);
}
static inline long sys_reboot(uint32_t cmd)
{
	return SYS6(NR_reboot, REBOOT_MAGIC1, REBOOT_MAGIC2, cmd, 0, 0, 0);
}
static inline long sys_nanosleep(const struct init_timespec *req) { return SYS3(NR_nanosleep, req, 0, 0); }
static inline long sys_clock_gettime(int clk, struct init_timespec *ts) { return SYS3(NR_clock_gettime, clk, ts, 0); }
static inline long sys_clock_gettime64(int clk, struct init_timespec64 *ts)
{
	return SYS3(NR_clock_gettime64, clk, ts, 0);
}
static inline long sys_clock_nanosleep64(int clk, const struct init_timespec64 *req)
{
	return SYS6(NR_clock_nanosleep_time64, clk, 0, req, 0, 0, 0);
}
static inline long sys_finit_module(int fd, const char *params, int flags)
{
	return SYS3(NR_finit_module, fd, params, flags);
}
static inline long sys_init_module(const void *image, size_t len, const char *params)
{
	return SYS3(NR_init_module, image, len, params);
}
static inline long sys_mmap2(void *addr, size_t len, int prot, int flags, int fd, unsigned long pgoff)
{
	return SYS6(NR_mmap2, addr, len, prot, flags, fd, pgoff);
}
static inline long sys_munmap(void *addr, size_t len) { return SYS3(NR_munmap, addr, len, 0); }

#endif
