// SPDX-License-Identifier: MIT
/*
 * worker/vm.c - assemble and run one VM (see worker/vm.h).
 *
 * Threads: the caller's thread runs the partition (vid_partition_run blocks); one I/O thread polls stdin (console
 * input), a signalfd (SIGINT/SIGTERM/SIGHUP), timerfds (--timeout, the shutdown deadline, the RTC) and a wake
 * eventfd that ends it. With the Hyper-V interface the VMBus server has its own I/O thread ("vmbus-io"), where the
 * integration components run and call vm_ic_shutdown_reply() and vm_ic_heartbeat_change().
 *
 * Disks (--disk): one synthetic SCSI controller (vsp/storvsp) on the VMBus, created before the VMBus thread starts
 * and destroyed on that thread (vmbus_server_call) before the server goes; its disk I/O completes on that thread.
 *
 * Host-initiated shutdown (SIGTERM/SIGINT): the worker's I/O thread asks the Shutdown IC to send a power-off
 * request (vsp_ic_shutdown) and arms a deadline of cfg->shutdown_timeout_s; the guest's ACPI S5 write ends the run
 * with VID_STOP_POWEROFF (exit 0), the deadline or a second signal with VID_STOP_HOST_REQUEST (exit 5).
 */
#define _GNU_SOURCE
#define LOG_TAG "vm"
#include "worker/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include "boot/acpi.h"
#include "boot/layout.h"
#include "openhv/testdev.h"
#include "lib/log.h"
#include "vdev/acpi_pm.h"
#include "vdev/i8042.h"
#include "vdev/pvpanic.h"
#include "vdev/rtc.h"
#include "vdev/uart.h"
#include "vid/quirks.h"
#include "vmbus/vmbus.h"
#include "vsp/ic/ic.h"
#include "vsp/storvsp/storvsp.h"

struct vm {
	const struct vm_config *cfg;
	struct vid_memory *mem;
	struct vid_partition *part;
	struct hvi_partition *hv;
	struct vdev_uart *uart;
	struct vdev_rtc *rtc;
	struct vdev_i8042 *i8042;
	struct vdev_acpi_pm *pm;
	struct vdev_pvpanic *pvpanic;
	struct vmbus_server *vmbus; /* NULL with --hv off */
	struct vsp_ic *ic;          /* integration components on @vmbus */
	struct storvsp *scsi;       /* the SCSI controller on @vmbus when there are disks, or NULL */
	_Atomic unsigned heartbeat_losses; /* alive -> lost transitions of the Heartbeat IC */
	int console_out_fd;  /* owned when it is a file or a PTY */
	int console_in_fd;   /* stdin, the PTY, or -1 */
	bool console_out_owned;

	/* I/O thread */
	pthread_t io_thread;
	bool io_started;
	int epoll_fd;
	int wake_fd;
	int signal_fd;
	int timer_fd;
	int rtc_timer_fd;  /* fires when the RTC has an interrupt due (vdev_rtc_poll) */
	int rtc_kick_fd;   /* eventfd: the guest reprogrammed the RTC, poll it again */
	int shutdown_timer_fd; /* deadline of a guest shutdown the host asked for; -1 until the first request */
	bool shutdown_pending; /* the Shutdown IC's request went out (I/O thread only) */
	bool stdin_raw;
	struct termios stdin_saved;
};

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->memory_bytes = 256ull << 20;
	cfg->cpus = 1;
	cfg->quirks = VID_QUIRKS_AUTO;
	cfg->entry = BOOT_ENTRY_AUTO;
	cfg->console = VM_CONSOLE_STDIO;
	cfg->shutdown_timeout_s = VM_DEFAULT_SHUTDOWN_TIMEOUT_S;
}

int vm_parse_disk(char *s, struct vm_disk *out, const char **why)
{
	char *opt, *next;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (!s || !*s || *s == ',') {
		*why = "expected PATH[,ro][,direct][,sector=512|4096]";
		return -EINVAL;
	}
	out->path = s;
	opt = strchr(s, ',');
	if (opt)
		*opt++ = '\0';
	for (; opt; opt = next) {
		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		if (!strcmp(opt, "ro")) {
			out->read_only = true;
		} else if (!strcmp(opt, "rw")) {
			out->read_only = false;
		} else if (!strcmp(opt, "direct")) {
			out->direct = true;
		} else if (!strcmp(opt, "sector=512")) {
			out->block_size = 512;
		} else if (!strcmp(opt, "sector=4096")) {
			out->block_size = 4096;
		} else {
			*why = !strncmp(opt, "sector=", 7) ? "sector= takes 512 or 4096"
							   : "unknown option (known: ro, direct, sector=512|4096)";
			return -EINVAL;
		}
	}
	return 0;
}

int vm_parse_size(const char *s, uint64_t *bytes)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' && shift)
		end++;
	if ((*end == 'B' || *end == 'b') && shift)
		end++;
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*bytes = (uint64_t)v << shift;
	return 0;
}

enum vm_exit_status vm_exit_status_from_stop(enum vid_stop_reason reason)
{
	switch (reason) {
	case VID_STOP_POWEROFF:
	case VID_STOP_RESET:
		return VM_EXIT_OK;
	case VID_STOP_TRIPLE_FAULT:
		return VM_EXIT_TRIPLE_FAULT;
	case VID_STOP_GUEST_PANIC:
		return VM_EXIT_GUEST_PANIC;
	case VID_STOP_HOST_REQUEST:
		return VM_EXIT_HOST_STOP;
	default:
		return VM_EXIT_ERROR;
	}
}

/* ---- board callbacks ------------------------------------------------------------------------------------ */

static int vm_irq_set_level(void *opaque, uint32_t gsi, int level)
{
	struct vm *vm = opaque;

	return vid_irq_line(vm->part, gsi, level);
}

static void vm_board_poweroff(void *opaque)
{
	struct vm *vm = opaque;

	vid_partition_request_stop(vm->part, VID_STOP_POWEROFF, "guest powered off");
}

static void vm_board_reset(void *opaque)
{
	struct vm *vm = opaque;

	vid_partition_request_stop(vm->part, VID_STOP_RESET, "guest reset");
}

static void vm_board_panic(void *opaque, uint32_t code)
{
	struct vm *vm = opaque;
	char msg[64];

	snprintf(msg, sizeof(msg), "guest panicked (pvpanic event 0x%x)", code);
	vid_partition_request_stop(vm->part, VID_STOP_GUEST_PANIC, msg);
}

/*
 * The micro-guest test device (include/openhv/testdev.h) for `openhv run --testdev`: a result of 0 powers off,
 * anything else stops the VM as a guest failure; PUTC bytes go to the console output.
 */
static int vm_testdev_pio(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data,
			  unsigned size)
{
	struct vm *vm = opaque;
	uint32_t v = 0;
	char msg[64];

	if (!is_write)
		return 0;
	memcpy(&v, data, size < sizeof(v) ? size : sizeof(v));
	switch (port - LAYOUT_TESTDEV_PORT) {
	case TESTDEV_REG_RESULT:
		if (v == TESTDEV_RESULT_PASS) {
			vid_partition_request_stop(vm->part, VID_STOP_POWEROFF, "micro-guest passed");
		} else {
			snprintf(msg, sizeof(msg), "micro-guest failed with code 0x%x", v);
			vid_partition_request_stop(vm->part, VID_STOP_GUEST_PANIC, msg);
		}
		break;
	case TESTDEV_REG_PUTC:
		if (vm->console_out_fd >= 0 && write(vm->console_out_fd, data, 1) < 0)
			log_dbg("console write failed");
		break;
	default:
		break;
	}
	return 0;
}

/* ---- console and I/O thread ----------------------------------------------------------------------------- */

static void vm_stdin_raw(struct vm *vm)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &vm->stdin_saved) < 0)
		return;
	t = vm->stdin_saved;
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR; /* keep our own log lines readable */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
		vm->stdin_raw = true;
}

static void vm_stdin_restore(struct vm *vm)
{
	if (vm->stdin_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &vm->stdin_saved);
	vm->stdin_raw = false;
}

/* Console input: Ctrl-A x quits (as QEMU's -nographic does); Ctrl-A Ctrl-A sends one Ctrl-A. */
static void vm_console_input(struct vm *vm, const uint8_t *buf, size_t len, bool *escape)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];

		if (*escape) {
			*escape = false;
			if (c == 'x' || c == 'X') {
				vid_partition_request_stop(vm->part, VID_STOP_HOST_REQUEST, "console: Ctrl-A x");
				return;
			}
			if (c != 0x01)
				continue;
		} else if (c == 0x01 && vm->stdin_raw && vm->cfg->console == VM_CONSOLE_STDIO) {
			*escape = true;
			continue;
		}
		/* The UART takes what fits in its FIFO; retry briefly for the rest (typing or a paste). */
		for (int tries = 0; tries < 1000; tries++) {
			if (vdev_uart_input(vm->uart, &c, 1) == 1)
				break;
			usleep(1000);
		}
	}
}

/* RTC interrupts: poll the RTC and arm its timer for the next event it reports (vdev/rtc.h). I/O thread. */
static void vm_rtc_service(struct vm *vm)
{
	int64_t ns = vdev_rtc_poll(vm->rtc);
	struct itimerspec its = { 0 };

	if (ns >= 0) {
		if (ns == 0)
			ns = 1;
		its.it_value.tv_sec = ns / 1000000000;
		its.it_value.tv_nsec = ns % 1000000000;
	}
	timerfd_settime(vm->rtc_timer_fd, 0, &its, NULL);
}

/* Called by the RTC (on a VP thread) when the guest changed what interrupts it wants. */
static void vm_rtc_notify(void *opaque)
{
	struct vm *vm = opaque;
	uint64_t one = 1;

	if (write(vm->rtc_kick_fd, &one, sizeof(one)) < 0)
		log_dbg("rtc kick: %s", strerror(errno));
}

static int vm_epoll_add(struct vm *vm, int fd);

/*
 * A stop signal (I/O thread). SIGTERM/SIGINT: the first asks the guest to power off through the Shutdown IC and
 * arms the shutdown deadline; without a usable Shutdown IC, with --shutdown-timeout 0, on SIGHUP or on a second
 * signal during the wait, the VM stops at once.
 */
static void vm_stop_signal(struct vm *vm, int signo)
{
	unsigned timeout = vm->cfg->shutdown_timeout_s;
	struct itimerspec its = { .it_value.tv_sec = timeout };
	char msg[96];
	int ret;

	if (vm->shutdown_pending) {
		snprintf(msg, sizeof(msg), "stopped by signal %s (again, during the guest's shutdown)",
			 strsignal(signo));
		log_info("shutdown: second signal; turning the VM off");
		vid_partition_request_stop(vm->part, VID_STOP_HOST_REQUEST, msg);
		return;
	}
	snprintf(msg, sizeof(msg), "stopped by signal %s", strsignal(signo));
	if (signo == SIGHUP || !vm->ic || !timeout) {
		vid_partition_request_stop(vm->part, VID_STOP_HOST_REQUEST, msg);
		return;
	}
	log_info("shutdown: asking the guest to power off (timeout %u s; %s again turns it off at once)", timeout,
		 strsignal(signo));
	ret = vsp_ic_shutdown(vm->ic, VSP_IC_POWEROFF, false);
	if (ret < 0) {
		log_info("shutdown: the guest's Shutdown IC is %s; turning the VM off",
			 ret == -ENOTCONN ? "not available" : strerror(-ret));
		vid_partition_request_stop(vm->part, VID_STOP_HOST_REQUEST, msg);
		return;
	}
	if (vm->shutdown_timer_fd < 0) {
		vm->shutdown_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (vm->shutdown_timer_fd >= 0 && vm_epoll_add(vm, vm->shutdown_timer_fd) < 0) {
			close(vm->shutdown_timer_fd);
			vm->shutdown_timer_fd = -1;
		}
	}
	if (vm->shutdown_timer_fd < 0 || timerfd_settime(vm->shutdown_timer_fd, 0, &its, NULL) < 0) {
		log_err("shutdown: cannot arm the deadline (%s); turning the VM off", strerror(errno));
		vid_partition_request_stop(vm->part, VID_STOP_HOST_REQUEST, msg);
		return;
	}
	vm->shutdown_pending = true;
}

/* The guest did not power off within --shutdown-timeout after the Shutdown IC's request (I/O thread). */
static void vm_shutdown_deadline(struct vm *vm)
{
	unsigned timeout = vm->cfg->shutdown_timeout_s;
	char msg[96];

	snprintf(msg, sizeof(msg), "shutdown timeout: the guest did not power off within %u s", timeout);
	log_warn("shutdown: the guest did not power off within %u s; turning the VM off", timeout);
	vid_partition_request_stop(vm->part, VID_STOP_HOST_REQUEST, msg);
}

static void *vm_io_thread(void *arg)
{
	struct vm *vm = arg;
	bool in_open = vm->console_in_fd >= 0;
	bool escape = false;

	pthread_setname_np(pthread_self(), "openhv-io");
	for (;;) {
		struct epoll_event ev[4];
		int n = epoll_wait(vm->epoll_fd, ev, 4, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			vid_partition_request_stop(vm->part, VID_STOP_INTERNAL_ERROR, "I/O thread failed");
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == vm->wake_fd)
				return NULL;
			if (fd == vm->signal_fd) {
				struct signalfd_siginfo si;

				if (read(vm->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
					vm_stop_signal(vm, (int)si.ssi_signo);
			} else if (fd == vm->shutdown_timer_fd) {
				uint64_t expirations;

				if (read(fd, &expirations, sizeof(expirations)) > 0)
					vm_shutdown_deadline(vm);
			} else if (fd == vm->rtc_timer_fd || fd == vm->rtc_kick_fd) {
				uint64_t count;

				if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
					log_dbg("rtc fd: %s", strerror(errno));
				vm_rtc_service(vm);
			} else if (fd == vm->timer_fd) {
				uint64_t expirations;

				if (read(vm->timer_fd, &expirations, sizeof(expirations)) > 0)
					vid_partition_request_stop(vm->part, VID_STOP_HOST_REQUEST, "timeout");
			} else if (fd == vm->console_in_fd && in_open) {
				uint8_t buf[256];
				ssize_t len = read(fd, buf, sizeof(buf));

				if (len > 0) {
					vm_console_input(vm, buf, (size_t)len, &escape);
				} else if (len == 0 || (errno != EINTR && errno != EAGAIN)) {
					/* EOF (or error, e.g. a PTY with no client yet) on the input: stop reading it
					 * (a PTY is polled again below when a client opens it); the guest runs on. */
					if (len < 0 && vm->cfg->console == VM_CONSOLE_PTY && errno == EIO) {
						usleep(100 * 1000);
						continue;
					}
					epoll_ctl(vm->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
					in_open = false;
				}
			}
		}
	}
}

static int vm_epoll_add(struct vm *vm, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(vm->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int vm_io_start(struct vm *vm)
{
	sigset_t set;
	int ret;

	vm->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	vm->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/* Blocked in every thread of the process from here on (VP threads inherit the mask): the signalfd gets them. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->epoll_fd < 0 || vm->wake_fd < 0 || vm->signal_fd < 0)
		return -errno;
	if ((ret = vm_epoll_add(vm, vm->wake_fd)) < 0 || (ret = vm_epoll_add(vm, vm->signal_fd)) < 0)
		return ret;
	vm->rtc_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	vm->rtc_kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->rtc_timer_fd < 0 || vm->rtc_kick_fd < 0)
		return -errno;
	if ((ret = vm_epoll_add(vm, vm->rtc_timer_fd)) < 0 || (ret = vm_epoll_add(vm, vm->rtc_kick_fd)) < 0)
		return ret;
	vdev_rtc_set_timer_notify(vm->rtc, vm_rtc_notify, vm);
	if (vm->cfg->timeout_s) {
		struct itimerspec its = { .it_value.tv_sec = vm->cfg->timeout_s };

		vm->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (vm->timer_fd < 0 || timerfd_settime(vm->timer_fd, 0, &its, NULL) < 0)
			return -errno;
		if ((ret = vm_epoll_add(vm, vm->timer_fd)) < 0)
			return ret;
	}
	if (vm->cfg->console == VM_CONSOLE_STDIO)
		vm_stdin_raw(vm);
	/* A closed or unpollable stdin (regular file, /dev/null) just means no console input. */
	if (vm->console_in_fd >= 0 && vm_epoll_add(vm, vm->console_in_fd) < 0) {
		log_dbg("console input not pollable; no console input");
		vm->console_in_fd = -1;
	}
	if (pthread_create(&vm->io_thread, NULL, vm_io_thread, vm) != 0)
		return -EAGAIN;
	vm->io_started = true;
	return 0;
}

static void vm_io_stop(struct vm *vm)
{
	if (vm->io_started) {
		uint64_t one = 1;

		if (write(vm->wake_fd, &one, sizeof(one)) < 0)
			log_warn("cannot wake the I/O thread");
		pthread_join(vm->io_thread, NULL);
		vm->io_started = false;
	}
	vm_stdin_restore(vm);
	if (vm->rtc)
		vdev_rtc_set_timer_notify(vm->rtc, NULL, NULL);
	if (vm->rtc_timer_fd >= 0)
		close(vm->rtc_timer_fd);
	if (vm->rtc_kick_fd >= 0)
		close(vm->rtc_kick_fd);
	vm->rtc_timer_fd = vm->rtc_kick_fd = -1;
	if (vm->shutdown_timer_fd >= 0)
		close(vm->shutdown_timer_fd);
	vm->shutdown_timer_fd = -1;
	if (vm->timer_fd >= 0)
		close(vm->timer_fd);
	if (vm->signal_fd >= 0)
		close(vm->signal_fd);
	if (vm->wake_fd >= 0)
		close(vm->wake_fd);
	if (vm->epoll_fd >= 0)
		close(vm->epoll_fd);
	vm->timer_fd = vm->signal_fd = vm->wake_fd = vm->epoll_fd = -1;
}

/* ---- assembly -------------------------------------------------------------------------------------------- */

static int vm_devices_create(struct vm *vm)
{
	struct vdev_board_ops board = {
		.poweroff = vm_board_poweroff, .reset = vm_board_reset, .panic = vm_board_panic, .opaque = vm
	};
	struct vdev_irq irq = { .set_level = vm_irq_set_level, .opaque = vm };
	int ret;

	switch (vm->cfg->console) {
	case VM_CONSOLE_STDIO:
		vm->console_out_fd = STDOUT_FILENO;
		vm->console_in_fd = STDIN_FILENO;
		break;
	case VM_CONSOLE_PTY: {
		int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		struct termios t;

		if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0) {
			ret = -errno;
			log_err("console PTY: %s", strerror(-ret));
			if (fd >= 0)
				close(fd);
			return ret;
		}
		/* Raw: the guest's bytes pass unchanged both ways. */
		if (tcgetattr(fd, &t) == 0) {
			cfmakeraw(&t);
			tcsetattr(fd, TCSANOW, &t);
		}
		fcntl(fd, F_SETFL, O_NONBLOCK);
		vm->console_out_fd = fd;
		vm->console_in_fd = fd;
		vm->console_out_owned = true;
		log_info("console on %s", ptsname(fd));
		break;
	}
	case VM_CONSOLE_FILE:
		vm->console_out_fd = open(vm->cfg->console_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (vm->console_out_fd < 0) {
			ret = -errno;
			log_err("console file %s: %s", vm->cfg->console_path, strerror(-ret));
			return ret;
		}
		vm->console_out_owned = true;
		break;
	default:
		vm->console_out_fd = -1;
		break;
	}

	irq.gsi = LAYOUT_COM1_IRQ;
	ret = vdev_uart_create(vm->console_out_fd, &irq, &vm->uart);
	if (!ret)
		ret = vid_pio_register(vm->part, LAYOUT_COM1_PORT, 8, vdev_uart_pio, vm->uart);
	irq.gsi = LAYOUT_RTC_IRQ;
	if (!ret)
		ret = vdev_rtc_create(&irq, &vm->rtc);
	if (!ret) {
		vdev_rtc_set_offset(vm->rtc, vm->cfg->rtc_offset_s);
		ret = vid_pio_register(vm->part, LAYOUT_RTC_PORT, 2, vdev_rtc_pio, vm->rtc);
	}
	irq.gsi = LAYOUT_I8042_IRQ;
	if (!ret)
		ret = vdev_i8042_create(&irq, &board, &vm->i8042);
	if (!ret)
		ret = vid_pio_register(vm->part, LAYOUT_I8042_DATA_PORT, 1, vdev_i8042_pio, vm->i8042);
	if (!ret)
		ret = vid_pio_register(vm->part, LAYOUT_I8042_CMD_PORT, 1, vdev_i8042_pio, vm->i8042);
	if (!ret)
		ret = vdev_acpi_pm_create(&board, &vm->pm);
	if (!ret)
		ret = vid_pio_register(vm->part, LAYOUT_ACPI_SLEEP_CTL_PORT, 3, vdev_acpi_pm_pio, vm->pm);
	if (!ret)
		ret = vdev_pvpanic_create(&board, &vm->pvpanic);
	if (!ret)
		ret = vid_pio_register(vm->part, LAYOUT_PVPANIC_PORT, 1, vdev_pvpanic_pio, vm->pvpanic);
	if (!ret && vm->cfg->testdev)
		ret = vid_pio_register(vm->part, LAYOUT_TESTDEV_PORT, LAYOUT_TESTDEV_PORTS, vm_testdev_pio, vm);
	if (ret)
		log_err("devices: %s", strerror(-ret));
	return ret;
}

static void vm_devices_destroy(struct vm *vm)
{
	vdev_pvpanic_destroy(vm->pvpanic);
	vdev_acpi_pm_destroy(vm->pm);
	vdev_i8042_destroy(vm->i8042);
	vdev_rtc_destroy(vm->rtc);
	vdev_uart_destroy(vm->uart);
	if (vm->console_out_owned)
		close(vm->console_out_fd);
}

/* ---- VMBus and the integration components ---------------------------------------------------------------- */

static uint64_t vm_ic_reference_time(void *opaque)
{
	struct vm *vm = opaque;

	return hvi_reference_time(vm->hv);
}

/*
 * The guest answered the Shutdown IC's request (VMBus I/O thread; the IC has logged the HRESULT). S_OK: it is
 * shutting down, the deadline runs on; anything else: it refused, so waiting is pointless.
 */
static void vm_ic_shutdown_reply(void *opaque, uint32_t hresult)
{
	struct vm *vm = opaque;
	char msg[96];

	if (hresult == 0)
		return;
	log_warn("shutdown: the guest refused the request (HRESULT 0x%08x); turning the VM off", hresult);
	snprintf(msg, sizeof(msg), "the guest refused to shut down (HRESULT 0x%08x)", hresult);
	vid_partition_request_stop(vm->part, VID_STOP_HOST_REQUEST, msg);
}

/*
 * Heartbeat transitions (VMBus I/O thread): the guest started or stopped answering the Heartbeat IC. The IC logs
 * each one ("heartbeat: guest alive", "heartbeat: guest lost"); the worker counts the losses for its summary.
 */
static void vm_ic_heartbeat_change(void *opaque, bool alive)
{
	struct vm *vm = opaque;

	if (!alive)
		atomic_fetch_add(&vm->heartbeat_losses, 1);
}

/*
 * The synthetic SCSI controller: LUN i = cfg->disks[i], up to cpus - 1 sub-channels (Linux asks for online CPUs
 * - 1). Before vmbus_server_start().
 */
static int vm_scsi_create(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	struct storvsp_disk_config disks[VM_MAX_DISKS];
	struct storvsp_config scfg = {
		.srv = vm->vmbus,
		.instance_id = VM_SCSI_INSTANCE,
		.name = "scsi0",
		.disks = disks,
		.disk_count = cfg->disk_count,
		.max_subchannels = cfg->cpus - 1,
	};
	int ret;

	memset(disks, 0, sizeof(disks));
	for (unsigned i = 0; i < cfg->disk_count && i < VM_MAX_DISKS; i++) {
		disks[i].path = cfg->disks[i].path;
		disks[i].read_only = cfg->disks[i].read_only;
		disks[i].direct = cfg->disks[i].direct;
		disks[i].block_size = cfg->disks[i].block_size;
	}
	ret = storvsp_create(&scfg, &vm->scsi);
	if (ret < 0) {
		log_err("SCSI controller: %s", strerror(-ret));
		return ret;
	}
	for (unsigned i = 0; i < cfg->disk_count; i++)
		log_info("disk %u: %s%s (SCSI 0:0:%u, /dev/sd%c in a Linux guest)", i, cfg->disks[i].path,
			 cfg->disks[i].read_only ? ", read-only" : "", i, i < 26 ? 'a' + i : '?');
	return 0;
}

static void vm_scsi_destroy_call(void *opaque)
{
	struct vm *vm = opaque;

	storvsp_destroy(vm->scsi);
}

/* On the VMBus I/O thread (storvsp_destroy's rule), or directly before it started. */
static void vm_scsi_destroy(struct vm *vm)
{
	struct storvsp_stats st;
	int ret;

	if (!vm->scsi)
		return;
	storvsp_stats(vm->scsi, &st);
	log_info("scsi: %llu requests, %llu bytes read, %llu written, %llu errors", (unsigned long long)st.requests,
		 (unsigned long long)st.bytes_read, (unsigned long long)st.bytes_written,
		 (unsigned long long)st.errors);
	ret = vmbus_server_call(vm->vmbus, vm_scsi_destroy_call, vm);
	if (ret < 0) {
		log_err("scsi: cannot reach the VMBus I/O thread (%s); destroying here", strerror(-ret));
		storvsp_destroy(vm->scsi);
	}
	vm->scsi = NULL;
}

/* The VMBus server and the integration components (with the Hyper-V interface only). */
static int vm_vmbus_create(struct vm *vm)
{
	struct vmbus_server_config scfg = { .hv = vm->hv, .mem = vm->mem, .vp_count = vm->cfg->cpus };
	struct vsp_ic_config icfg = {
		.reference_time = vm_ic_reference_time,
		.opaque = vm,
		.shutdown_reply = vm_ic_shutdown_reply,
		.heartbeat_change = vm_ic_heartbeat_change,
	};
	int ret;

	ret = vmbus_server_create(&scfg, &vm->vmbus);
	if (ret < 0) {
		log_err("VMBus server: %s", strerror(-ret));
		return ret;
	}
	icfg.srv = vm->vmbus;
	icfg.kvp = true; /* a guest without hv_kvp_daemon never answers: the channel just stays quiet */
	ret = vsp_ic_create(&icfg, &vm->ic);
	if (ret < 0) {
		log_err("integration components: %s", strerror(-ret));
		return ret;
	}
	for (unsigned i = 0; i < vm->cfg->kvp_count; i++) {
		char key[512];
		const char *eq = strchr(vm->cfg->kvp[i], '=');

		snprintf(key, sizeof(key), "%.*s", (int)(eq - vm->cfg->kvp[i]), vm->cfg->kvp[i]);
		ret = vsp_ic_kvp_set(vm->ic, key, eq + 1);
		if (ret < 0) {
			log_err("--kvp %s: %s", vm->cfg->kvp[i], ret == -EINVAL ? "not valid UTF-8, or too long" :
				strerror(-ret));
			return ret;
		}
	}
	if (vm->cfg->disk_count)
		return vm_scsi_create(vm);
	return 0;
}

/* After the partition stopped: the heartbeat summary, then the ICs and the server (before the hvi partition). */
static void vm_vmbus_destroy(struct vm *vm)
{
	if (vm->ic) {
		struct vsp_ic_heartbeat hb;
		struct vsp_ic_stats st;

		vsp_ic_heartbeat_status(vm->ic, &hb);
		vsp_ic_stats(vm->ic, &st);
		log_info("heartbeat: %llu replies from the guest (last sequence %llu, lost %u times, %s)",
			 (unsigned long long)hb.replies, (unsigned long long)hb.last_seq,
			 atomic_load(&vm->heartbeat_losses), hb.alive ? "alive at the end" : "not alive at the end");
		for (unsigned i = 0;; i++) {
			char key[256], value[1024];

			if (vsp_ic_kvp_guest_item(vm->ic, i, key, sizeof(key), value, sizeof(value)) == -ENOENT)
				break;
			if (key[0])
				log_info("kvp: the guest reports %s = %s", key, value);
		}
		log_info("timesync: %llu sync and %llu sample messages sent, %llu answered (%s)",
			 (unsigned long long)st.timesync_syncs, (unsigned long long)st.timesync_samples,
			 (unsigned long long)st.svc[VSP_IC_TIMESYNC].replies,
			 vsp_ic_state_name(st.svc[VSP_IC_TIMESYNC].state));
	}
	vm_scsi_destroy(vm);
	vsp_ic_destroy(vm->ic);
	vm->ic = NULL;
	vmbus_server_destroy(vm->vmbus);
	vm->vmbus = NULL;
}

/*
 * The board has no firmware, but a guest may still jump to the BIOS reset vector F000:FFF0: Linux's
 * machine_real_restart() (reboot=b, and the last resort of an emergency restart) does. A PC would reset; so does
 * this: 16 bytes of real-mode code that write the ACPI reset register (mov dx, port; mov al, value; out dx, al;
 * hlt; jmp $-1). Without it the CPU ran on through zeroed memory into an emulation failure.
 */
static int vm_reset_vector_install(struct vm *vm)
{
	const uint8_t stub[16] = {
		0xba, LAYOUT_ACPI_RESET_PORT & 0xff, LAYOUT_ACPI_RESET_PORT >> 8, /* mov dx, LAYOUT_ACPI_RESET_PORT */
		0xb0, LAYOUT_ACPI_RESET_VALUE,                                    /* mov al, LAYOUT_ACPI_RESET_VALUE */
		0xee,                                                             /* out dx, al */
		0xf4,                                                             /* hlt */
		0xeb, 0xfd,                                                       /* jmp to the hlt */
	};

	return vid_memory_write(vm->mem, LAYOUT_RESET_VECTOR_GPA, stub, sizeof(stub));
}

/* The guest command line: the user's (or the default) plus the platform's switches when quirks are active. */
static char *vm_cmdline_build(const struct vm *vm)
{
	const char *base = vm->cfg->cmdline ? vm->cfg->cmdline : VM_DEFAULT_CMDLINE;
	const char *extra = vid_partition_quirks_active(vm->part) ? vid_quirks_linux_cmdline() : "";
	char *s = NULL;

	if (asprintf(&s, "%s%s%s", base, *extra ? " " : "", extra) < 0)
		return NULL;
	return s;
}

enum vm_exit_status vm_run(const struct vm_config *cfg)
{
	struct vm vm = { .cfg = cfg, .epoll_fd = -1, .wake_fd = -1, .signal_fd = -1, .timer_fd = -1,
			 .rtc_timer_fd = -1, .rtc_kick_fd = -1, .shutdown_timer_fd = -1, .console_out_fd = -1,
			 .console_in_fd = -1 };
	struct vid_partition_config pcfg = { .vp_count = cfg->cpus, .quirks = cfg->quirks };
	struct acpi_config acfg = { .vp_count = cfg->cpus, .pvpanic = true };
	struct boot_linux_config bcfg = { .kernel_path = cfg->kernel, .initrd_path = cfg->initrd,
					  .entry = cfg->entry };
	struct boot_entry_state entry;
	enum vm_exit_status status = VM_EXIT_ERROR;
	enum vid_stop_reason reason;
	char *cmdline = NULL;
	sigset_t stop_signals;
	int ret;

	/*
	 * Block the stop signals before any thread exists (the Hyper-V timer thread, VP threads): a SIGTERM that comes
	 * during setup waits for the I/O thread's signalfd instead of killing the process with the default action.
	 */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

	if (cfg->disk_count && cfg->hv_off) {
		log_err("disks are on the synthetic SCSI controller, a VMBus device: they need the Hyper-V interface "
			"(not --hv off)");
		return VM_EXIT_ERROR;
	}
	if (cfg->disk_count > VM_MAX_DISKS) {
		log_err("at most %u disks", VM_MAX_DISKS);
		return VM_EXIT_ERROR;
	}
	ret = vid_memory_create(cfg->memory_bytes, &vm.mem);
	if (ret < 0) {
		log_err("guest memory of %" PRIu64 " bytes: %s", cfg->memory_bytes, strerror(-ret));
		return VM_EXIT_ERROR;
	}
	pcfg.memory = vm.mem;
	ret = vid_partition_create(&pcfg, &vm.part);
	if (ret < 0) {
		log_err("cannot create the partition: %s%s", strerror(-ret),
			ret == -ENOENT || ret == -EACCES ? " (is /dev/kvm there and accessible?)" : "");
		goto out_mem;
	}
	if (!cfg->hv_off) {
		struct hvi_config hcfg = { .profile = cfg->hv_profile, .memory = vm.mem, .vp_count = cfg->cpus,
					   .partition = vm.part };

		ret = hvi_partition_create(&hcfg, &vm.hv);
		if (ret < 0) {
			log_err("cannot create the Hyper-V interface: %s", strerror(-ret));
			goto out_part;
		}
	}
	ret = vm_devices_create(&vm);
	if (ret < 0)
		goto out_part;
	if (vm.hv) {
		ret = vm_vmbus_create(&vm);
		if (ret < 0)
			goto out_devices;
		acfg.vmbus = true;
	}
	ret = acpi_tables_build(vm.mem, &acfg, &bcfg.rsdp_gpa);
	if (ret < 0) {
		log_err("ACPI tables: %s", strerror(-ret));
		goto out_devices;
	}
	ret = vm_reset_vector_install(&vm);
	if (ret < 0) {
		log_err("reset vector: %s", strerror(-ret));
		goto out_devices;
	}
	cmdline = vm_cmdline_build(&vm);
	if (!cmdline)
		goto out_devices;
	bcfg.cmdline = cmdline;
	ret = boot_linux_prepare(vm.mem, &bcfg, &entry);
	if (ret < 0) {
		log_err("cannot load kernel %s: %s", cfg->kernel, strerror(-ret));
		goto out_devices;
	}
	ret = boot_linux_apply(vid_partition_vp(vm.part, 0), &entry);
	if (ret < 0) {
		log_err("cannot set the boot VP state: %s", strerror(-ret));
		goto out_devices;
	}
	log_dbg("entry %s at 0x%" PRIx64 ", command line: %s", entry.kind == BOOT_ENTRY_PVH ? "PVH" : "64-bit",
		entry.entry, cmdline);
	if (cfg->profile_path) {
		ret = vid_partition_profile_enable(vm.part, 1000, 4u << 20);
		if (ret < 0)
			log_warn("profiler: %s", strerror(-ret));
	}
	/* The VMBus thread first: a stop signal read by the I/O thread may already need it (vsp_ic_shutdown). */
	if (vm.vmbus) {
		ret = vmbus_server_start(vm.vmbus);
		if (ret < 0) {
			log_err("VMBus I/O thread: %s", strerror(-ret));
			goto out_devices;
		}
	}
	ret = vm_io_start(&vm);
	if (ret < 0) {
		log_err("I/O thread: %s", strerror(-ret));
		vm_io_stop(&vm);
		goto out_devices;
	}

	reason = vid_partition_run(vm.part);
	hvi_partition_stop(vm.hv); /* no more stimer injections into a stopped partition */

	vm_io_stop(&vm);
	status = vm_exit_status_from_stop(reason);
	if (cfg->profile_path && vid_partition_profile_write(vm.part, cfg->profile_path) < 0)
		log_warn("cannot write the profile to %s", cfg->profile_path);
	for (unsigned i = 0; i < cfg->cpus && log_get_level() >= LOG_DEBUG; i++) {
		struct vid_vp *vp = vid_partition_vp(vm.part, i);
		uint64_t insns = 0, kexits = 0;

		vid_vp_kvm_stat(vp, "insn_emulation", &insns);
		vid_vp_kvm_stat(vp, "exits", &kexits);
		log_dbg("VP%u: %llu userspace exits (io %llu, mmio %llu, msr %llu), %llu KVM exits, %llu emulated "
			"instructions", i, (unsigned long long)(vid_vp_exit_count(vp, KVM_EXIT_IO) +
			vid_vp_exit_count(vp, KVM_EXIT_MMIO) + vid_vp_exit_count(vp, KVM_EXIT_X86_RDMSR) +
			vid_vp_exit_count(vp, KVM_EXIT_X86_WRMSR)),
			(unsigned long long)vid_vp_exit_count(vp, KVM_EXIT_IO),
			(unsigned long long)vid_vp_exit_count(vp, KVM_EXIT_MMIO),
			(unsigned long long)(vid_vp_exit_count(vp, KVM_EXIT_X86_RDMSR) +
					     vid_vp_exit_count(vp, KVM_EXIT_X86_WRMSR)),
			(unsigned long long)kexits, (unsigned long long)insns);
	}
	if (reason != VID_STOP_POWEROFF)
		log_info("VM stopped: %s%s%s", vid_stop_reason_name(reason),
			 *vid_partition_stop_message(vm.part) ? ": " : "", vid_partition_stop_message(vm.part));

out_devices:
	vm_vmbus_destroy(&vm); /* the server needs the hvi partition: before hvi_partition_destroy */
	vm_devices_destroy(&vm);
out_part:
	hvi_partition_destroy(vm.hv); /* first: its timer thread injects into the partition */
	vid_partition_destroy(vm.part);
out_mem:
	vid_memory_destroy(vm.mem);
	free(cmdline);
	return status;
}
