// SPDX-License-Identifier: MIT
/*
 * vid/partition.c - partition and VP lifecycle on /dev/kvm, exit dispatch, interrupts (see vid/vid.h).
 */
#define _GNU_SOURCE
#define LOG_TAG "vid"
#include "vid/vid.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "boot/layout.h"
#include "lib/log.h"
#include "vid/quirks.h"

#define VID_MAX_PIO_RANGES 64
#define VID_MAX_MMIO_RANGES 64
#define VID_MAX_MSR_RANGES KVM_MSR_FILTER_MAX_RANGES
#define VID_MAX_CPUID_ENTRIES 256
#define VID_KICK_SIGNAL SIGUSR1
#define VID_EXIT_REASONS 64

struct vid_pio_range {
	uint16_t port;
	uint32_t count;
	vid_pio_fn fn;
	void *opaque;
};

struct vid_mmio_range {
	uint64_t gpa;
	uint64_t len;
	vid_mmio_fn fn;
	void *opaque;
};

struct vid_msr_range {
	uint32_t index;
	uint32_t count;
	vid_msr_fn fn;
	void *opaque;
};

struct vid_vp {
	struct vid_partition *part;
	unsigned index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;
	_Atomic bool in_thread; /* the VP thread exists and may be in KVM_RUN: kick it with a signal */
	uint64_t exits[VID_EXIT_REASONS];
	uint64_t *samples;      /* profiler: guest RIPs, owned */
	unsigned nsamples;
};

struct vid_partition {
	int kvm_fd;
	int vm_fd;
	struct vid_memory *mem;
	bool quirks;
	unsigned nvps;
	struct vid_vp vps[VID_MAX_VPS];

	struct vid_pio_range pio[VID_MAX_PIO_RANGES];
	unsigned npio;
	struct vid_mmio_range mmio[VID_MAX_MMIO_RANGES];
	unsigned nmmio;
	struct vid_msr_range msr[VID_MAX_MSR_RANGES];
	unsigned nmsr;
	bool msr_filter_set;

	struct kvm_cpuid2 *cpuid; /* with room for VID_MAX_CPUID_ENTRIES */

	bool ran;
	unsigned profile_interval_us;
	unsigned profile_max;
	pthread_t profile_thread;
	bool profile_started;
	_Atomic int stop_reason;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	char stop_message[512];
};

static const char *const vid_stop_names[] = {
	[VID_STOP_NONE] = "none",
	[VID_STOP_POWEROFF] = "power-off",
	[VID_STOP_RESET] = "reset",
	[VID_STOP_TRIPLE_FAULT] = "triple fault",
	[VID_STOP_GUEST_PANIC] = "guest panic",
	[VID_STOP_HOST_REQUEST] = "host request",
	[VID_STOP_INTERNAL_ERROR] = "internal error",
};

const char *vid_stop_reason_name(enum vid_stop_reason reason)
{
	if ((unsigned)reason < sizeof(vid_stop_names) / sizeof(vid_stop_names[0]))
		return vid_stop_names[reason];
	return "?";
}

/* ioctl wrapper that retries EINTR and logs failures with the request's name. */
static int vid_ioctl_named(int fd, unsigned long req, void *arg, const char *name)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		ret = -errno;
		log_err("%s: %s", name, strerror(-ret));
		return ret;
	}
	return ret;
}
#define vid_ioctl(fd, req, arg) vid_ioctl_named((fd), (req), (arg), #req)

static void vid_kick_handler(int sig)
{
	(void)sig;
}

static void vid_kick_handler_install_once(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vid_kick_handler; /* no SA_RESTART: KVM_RUN must return -EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(VID_KICK_SIGNAL, &sa, NULL);
}

static void vid_install_kick_handler(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, vid_kick_handler_install_once);
}

/* ---- CPUID ---------------------------------------------------------------------------------------------- */

static struct kvm_cpuid_entry2 *vid_cpuid_find(struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != function)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != index)
			continue;
		return e;
	}
	return NULL;
}

int vid_cpuid_set(struct vid_partition *part, uint32_t function, uint32_t index, uint32_t flags, uint32_t eax,
		  uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	struct kvm_cpuid_entry2 *e = vid_cpuid_find(part->cpuid, function, index);

	if (part->ran)
		return -EBUSY;
	if (!e) {
		if (part->cpuid->nent >= VID_MAX_CPUID_ENTRIES)
			return -ENOSPC;
		e = &part->cpuid->entries[part->cpuid->nent++];
	}
	memset(e, 0, sizeof(*e));
	e->function = function;
	e->index = index;
	e->flags = flags;
	e->eax = eax;
	e->ebx = ebx;
	e->ecx = ecx;
	e->edx = edx;
	return 0;
}

void vid_cpuid_remove(struct vid_partition *part, uint32_t first, uint32_t last)
{
	struct kvm_cpuid2 *c = part->cpuid;
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->nent; i++) {
		if (c->entries[i].function < first || c->entries[i].function > last)
			c->entries[n++] = c->entries[i];
	}
	c->nent = n;
}

const struct kvm_cpuid_entry2 *vid_cpuid_get(const struct vid_partition *part, uint32_t function, uint32_t index)
{
	return vid_cpuid_find(part->cpuid, function, index);
}

static int vid_cpuid_init(struct vid_partition *part)
{
	size_t sz = sizeof(struct kvm_cpuid2) + VID_MAX_CPUID_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	int ret;

	part->cpuid = calloc(1, sz);
	if (!part->cpuid)
		return -ENOMEM;
	part->cpuid->nent = VID_MAX_CPUID_ENTRIES;
	ret = vid_ioctl(part->kvm_fd, KVM_GET_SUPPORTED_CPUID, part->cpuid);
	if (ret < 0)
		return ret;
	if (part->quirks)
		vid_quirks_cpuid_adjust(part->cpuid);
	return 0;
}

/*
 * Clock leaves the board defines (Intel SDM vol. 2, CPUID leaves 15H and 16H), so a guest needs no calibration
 * against a PIT or HPET, which this board does not have. Leaf 0x15 states the TSC as "crystal * EBX / EAX"; Linux's
 * native_calibrate_tsc() computes crystal_khz * EBX in 32 bits, so the crystal is stated as the TSC itself with a
 * 1:1 ratio (halved, 2:1, above 4.29 GHz), exact to the kHz. The crystal is not KVM's LAPIC timer rate (1 GHz);
 * Linux does not need it to be, since it uses the TSC-deadline timer and skips APIC timer calibration then.
 * Leaf 0x16 gives the base frequency in MHz. Entries the table already defines are kept.
 */
static int vid_cpuid_add_clock_leaves(struct vid_partition *part, int vcpu_fd)
{
	struct kvm_cpuid_entry2 *max = vid_cpuid_find(part->cpuid, 0, 0);
	const struct kvm_cpuid_entry2 *e15 = vid_cpuid_find(part->cpuid, 0x15, 0);
	const struct kvm_cpuid_entry2 *e16 = vid_cpuid_find(part->cpuid, 0x16, 0);
	int khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, NULL);
	uint64_t hz;
	int ret = 0;

	if (khz <= 0 || !max)
		return 0; /* no TSC frequency known: leave the leaves as KVM reports them */
	hz = (uint64_t)khz * 1000;
	if (!e15 || !e15->ebx || !e15->ecx) {
		if (hz <= UINT32_MAX)
			ret = vid_cpuid_set(part, 0x15, 0, 0, 1, 1, (uint32_t)hz, 0);
		else
			ret = vid_cpuid_set(part, 0x15, 0, 0, 1, 2, (uint32_t)(hz / 2), 0);
	}
	if (!ret && (!e16 || !e16->eax))
		ret = vid_cpuid_set(part, 0x16, 0, 0, (uint32_t)khz / 1000, (uint32_t)khz / 1000, 1000, 0);
	max = vid_cpuid_find(part->cpuid, 0, 0);
	if (!ret && max->eax < 0x16)
		max->eax = 0x16;
	return ret;
}

/* Per-VP copy of the table with this VP's APIC id in leaves 1 and 0xB/0x1F. */
static int vid_cpuid_apply(struct vid_vp *vp)
{
	struct kvm_cpuid2 *src = vp->part->cpuid;
	size_t sz = sizeof(*src) + src->nent * sizeof(src->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	int ret;

	if (!c)
		return -ENOMEM;
	memcpy(c, src, sz);
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffffu) | ((uint32_t)vp->index << 24);
		else if (e->function == 0xb || e->function == 0x1f)
			e->edx = vp->index;
	}
	ret = vid_ioctl(vp->fd, KVM_SET_CPUID2, c);
	free(c);
	return ret < 0 ? ret : 0;
}

/* ---- creation ------------------------------------------------------------------------------------------- */

static int vid_vp_init(struct vid_partition *part, unsigned index)
{
	struct vid_vp *vp = &part->vps[index];
	struct kvm_fpu fpu;
	int mmap_size, ret;

	vp->part = part;
	vp->index = index;
	vp->fd = vid_ioctl(part->vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)index);
	if (vp->fd < 0)
		return vp->fd;
	mmap_size = vid_ioctl(part->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (mmap_size < 0)
		return mmap_size;
	vp->run_size = (size_t)mmap_size;
	vp->run = mmap(NULL, vp->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vp->fd, 0);
	if (vp->run == MAP_FAILED) {
		vp->run = NULL;
		return -errno;
	}
	/* FPU as after reset + FNINIT: FCW 0x37f, MXCSR 0x1f80 (Intel SDM vol. 1, 8.1.5 and 10.2.3). */
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	ret = vid_ioctl(vp->fd, KVM_SET_FPU, &fpu);
	if (ret < 0)
		return ret;
	/*
	 * Mask LINT0. KVM resets the BSP's LVT0 to unmasked ExtINT (virtual wire) and its 8259 with IMR 0 and vector
	 * base 0. Linux keeps ExtINT enabled on CPU0 when it finds LINT0 unmasked (setup_local_APIC), yet in
	 * hardware-reduced ACPI mode it never programs the 8259: every ISA IRQ (COM1, RTC) would also arrive through
	 * the PIC as vector 0-15, i.e. as an exception. The board routes interrupts through the IOAPIC only.
	 */
	{
		struct kvm_lapic_state lapic;
		uint32_t lvt0;

		ret = vid_ioctl(vp->fd, KVM_GET_LAPIC, &lapic);
		if (ret < 0)
			return ret;
		memcpy(&lvt0, &lapic.regs[0x350], sizeof(lvt0));
		lvt0 |= 1u << 16; /* APIC_LVT_MASKED */
		memcpy(&lapic.regs[0x350], &lvt0, sizeof(lvt0));
		ret = vid_ioctl(vp->fd, KVM_SET_LAPIC, &lapic);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int vid_partition_create(const struct vid_partition_config *cfg, struct vid_partition **out)
{
	struct vid_partition *part;
	int ret;

	*out = NULL;
	if (!cfg || !cfg->memory || cfg->vp_count < 1 || cfg->vp_count > VID_MAX_VPS)
		return -EINVAL;
	part = calloc(1, sizeof(*part));
	if (!part)
		return -ENOMEM;
	part->kvm_fd = -1;
	part->vm_fd = -1;
	for (unsigned i = 0; i < VID_MAX_VPS; i++)
		part->vps[i].fd = -1;
	part->mem = cfg->memory;
	pthread_mutex_init(&part->stop_lock, NULL);
	pthread_cond_init(&part->stop_cond, NULL);
	switch (cfg->quirks) {
	case VID_QUIRKS_ON:
		part->quirks = true;
		break;
	case VID_QUIRKS_OFF:
		part->quirks = false;
		break;
	default:
		part->quirks = vid_quirks_platform_detected();
		break;
	}

	part->kvm_fd = open(cfg->kvm_path ? cfg->kvm_path : "/dev/kvm", O_RDWR | O_CLOEXEC);
	if (part->kvm_fd < 0) {
		ret = -errno;
		goto err;
	}
	ret = vid_ioctl(part->kvm_fd, KVM_GET_API_VERSION, NULL);
	if (ret != KVM_API_VERSION) {
		log_err("unexpected KVM API version %d", ret);
		ret = ret < 0 ? ret : -ENOTSUP;
		goto err;
	}
	part->vm_fd = vid_ioctl(part->kvm_fd, KVM_CREATE_VM, NULL);
	if (part->vm_fd < 0) {
		ret = part->vm_fd;
		goto err;
	}
	/* Addresses VMX needs for real-mode emulation; harmless elsewhere. Both sit in the MMIO hole. */
	ret = vid_ioctl(part->vm_fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)LAYOUT_KVM_TSS_GPA);
	if (ret < 0)
		goto err;
	{
		uint64_t idmap = LAYOUT_KVM_IDMAP_GPA;

		ret = vid_ioctl(part->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
		if (ret < 0)
			goto err;
	}
	for (unsigned i = 0; i < vid_memory_region_count(part->mem); i++) {
		const struct vid_memory_region *r = vid_memory_region(part->mem, i);
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->hva,
		};

		ret = vid_ioctl(part->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot);
		if (ret < 0)
			goto err;
	}
	ret = vid_ioctl(part->vm_fd, KVM_CREATE_IRQCHIP, NULL);
	if (ret < 0)
		goto err;
	{
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_X86_USER_SPACE_MSR,
			.args[0] = KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_FILTER,
		};

		ret = vid_ioctl(part->vm_fd, KVM_ENABLE_CAP, &cap);
		if (ret < 0)
			goto err;
	}
	if (ioctl(part->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_ON_EMULATION_FAILURE) > 0) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE, .args[0] = 1 };

		if (ioctl(part->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
			log_dbg("KVM_CAP_EXIT_ON_EMULATION_FAILURE: %s", strerror(errno));
	}
	ret = vid_cpuid_init(part);
	if (ret < 0)
		goto err;
	part->nvps = cfg->vp_count;
	for (unsigned i = 0; i < part->nvps; i++) {
		ret = vid_vp_init(part, i);
		if (ret < 0)
			goto err;
	}
	ret = vid_cpuid_add_clock_leaves(part, part->vps[0].fd);
	if (ret < 0)
		goto err;
	vid_install_kick_handler();
	if (part->quirks)
		log_info("platform quirks active (software KVM detected or requested)");
	*out = part;
	return 0;

err:
	vid_partition_destroy(part);
	return ret;
}

static void vid_partition_kick_all(struct vid_partition *part)
{
	for (unsigned i = 0; i < part->nvps; i++) {
		struct vid_vp *vp = &part->vps[i];

		if (!vp->run)
			continue;
		/* immediate_exit first: a kick that lands just before KVM_RUN is still seen. */
		__atomic_store_n(&vp->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (atomic_load(&vp->in_thread))
			pthread_kill(vp->thread, VID_KICK_SIGNAL);
	}
}

void vid_partition_destroy(struct vid_partition *part)
{
	if (!part)
		return;
	if (part->ran)
		vid_partition_request_stop(part, VID_STOP_HOST_REQUEST, NULL);
	for (unsigned i = 0; i < VID_MAX_VPS; i++) {
		struct vid_vp *vp = &part->vps[i];

		if (vp->thread_started)
			pthread_join(vp->thread, NULL);
		if (vp->run)
			munmap(vp->run, vp->run_size);
		if (vp->fd >= 0)
			close(vp->fd);
		free(vp->samples);
	}
	if (part->vm_fd >= 0)
		close(part->vm_fd);
	if (part->kvm_fd >= 0)
		close(part->kvm_fd);
	free(part->cpuid);
	pthread_cond_destroy(&part->stop_cond);
	pthread_mutex_destroy(&part->stop_lock);
	free(part);
}

struct vid_memory *vid_partition_memory(struct vid_partition *part)
{
	return part->mem;
}

unsigned vid_partition_vp_count(const struct vid_partition *part)
{
	return part->nvps;
}

struct vid_vp *vid_partition_vp(struct vid_partition *part, unsigned index)
{
	return index < part->nvps ? &part->vps[index] : NULL;
}

int vid_partition_vm_fd(const struct vid_partition *part)
{
	return part->vm_fd;
}

bool vid_partition_quirks_active(const struct vid_partition *part)
{
	return part->quirks;
}

/* ---- handler registration -------------------------------------------------------------------------------- */

int vid_pio_register(struct vid_partition *part, uint16_t port, uint32_t count, vid_pio_fn fn, void *opaque)
{
	if (part->ran)
		return -EBUSY;
	if (!fn || count == 0 || (uint32_t)port + count > 0x10000)
		return -EINVAL;
	for (unsigned i = 0; i < part->npio; i++) {
		const struct vid_pio_range *r = &part->pio[i];

		if (port < r->port + r->count && r->port < port + count)
			return -EEXIST;
	}
	if (part->npio >= VID_MAX_PIO_RANGES)
		return -ENOSPC;
	part->pio[part->npio++] = (struct vid_pio_range){ port, count, fn, opaque };
	return 0;
}

int vid_mmio_register(struct vid_partition *part, uint64_t gpa, uint64_t len, vid_mmio_fn fn, void *opaque)
{
	if (part->ran)
		return -EBUSY;
	if (!fn || len == 0 || gpa + len < gpa)
		return -EINVAL;
	for (unsigned i = 0; i < vid_memory_region_count(part->mem); i++) {
		const struct vid_memory_region *m = vid_memory_region(part->mem, i);

		if (gpa < m->gpa + m->size && m->gpa < gpa + len)
			return -EEXIST;
	}
	for (unsigned i = 0; i < part->nmmio; i++) {
		const struct vid_mmio_range *r = &part->mmio[i];

		if (gpa < r->gpa + r->len && r->gpa < gpa + len)
			return -EEXIST;
	}
	if (part->nmmio >= VID_MAX_MMIO_RANGES)
		return -ENOSPC;
	part->mmio[part->nmmio++] = (struct vid_mmio_range){ gpa, len, fn, opaque };
	return 0;
}

int vid_msr_register(struct vid_partition *part, uint32_t index, uint32_t count, vid_msr_fn fn, void *opaque)
{
	if (part->ran)
		return -EBUSY;
	/* One filter range covers its bitmap; keep ranges to what one bitmap page describes. */
	if (!fn || count == 0 || count > 0x8000 || index + count < index)
		return -EINVAL;
	for (unsigned i = 0; i < part->nmsr; i++) {
		const struct vid_msr_range *r = &part->msr[i];

		if (index < r->index + r->count && r->index < index + count)
			return -EEXIST;
	}
	if (part->nmsr >= VID_MAX_MSR_RANGES)
		return -ENOSPC;
	part->msr[part->nmsr++] = (struct vid_msr_range){ index, count, fn, opaque };
	return 0;
}

/*
 * Install the MSR filter: default allow (KVM handles what it knows), and a deny range (bitmap of zeroes) for each
 * registered range, so KVM exits to userspace with KVM_MSR_EXIT_REASON_FILTER for them (KVM api.rst 4.126).
 */
static int vid_msr_filter_install(struct vid_partition *part)
{
	struct kvm_msr_filter filter;
	static const uint8_t zero_bitmap[0x8000 / 8];
	int ret;

	if (part->nmsr == 0)
		return 0;
	memset(&filter, 0, sizeof(filter));
	filter.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
	for (unsigned i = 0; i < part->nmsr; i++) {
		filter.ranges[i].flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
		filter.ranges[i].base = part->msr[i].index;
		filter.ranges[i].nmsrs = part->msr[i].count;
		filter.ranges[i].bitmap = (uint8_t *)zero_bitmap;
	}
	ret = vid_ioctl(part->vm_fd, KVM_X86_SET_MSR_FILTER, &filter);
	return ret < 0 ? ret : 0;
}

/* ---- interrupts and doorbells ---------------------------------------------------------------------------- */

int vid_irq_line(struct vid_partition *part, uint32_t gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };
	int ret = vid_ioctl(part->vm_fd, KVM_IRQ_LINE, &irq);

	return ret < 0 ? ret : 0;
}

int vid_msi_signal(struct vid_partition *part, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = { .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data };
	int ret = vid_ioctl(part->vm_fd, KVM_SIGNAL_MSI, &msi);

	return ret < 0 ? ret : 0;
}

int vid_vp_interrupt(struct vid_partition *part, uint32_t apic_id, uint8_t vector)
{
	if (apic_id > 0xff)
		return -EINVAL;
	/* MSI address: 0xFEE, destination id in bits 19:12, physical mode; data: fixed delivery, edge. */
	return vid_msi_signal(part, 0xfee00000ull | ((uint64_t)apic_id << 12), vector);
}

static int vid_irqfd(struct vid_partition *part, int fd, uint32_t gsi, uint32_t flags)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi, .flags = flags };
	int ret = vid_ioctl(part->vm_fd, KVM_IRQFD, &irqfd);

	return ret < 0 ? ret : 0;
}

int vid_irqfd_assign(struct vid_partition *part, int fd, uint32_t gsi)
{
	return vid_irqfd(part, fd, gsi, 0);
}

int vid_irqfd_deassign(struct vid_partition *part, int fd, uint32_t gsi)
{
	return vid_irqfd(part, fd, gsi, KVM_IRQFD_FLAG_DEASSIGN);
}

static int vid_ioeventfd(struct vid_partition *part, bool is_pio, uint64_t addr, uint32_t len, bool use_datamatch,
			 uint64_t datamatch, int fd, uint32_t extra)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = extra | (is_pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			 (use_datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0),
	};
	int ret;

	if (len != 0 && len != 1 && len != 2 && len != 4 && len != 8)
		return -EINVAL;
	ret = vid_ioctl(part->vm_fd, KVM_IOEVENTFD, &io);
	return ret < 0 ? ret : 0;
}

int vid_ioeventfd_assign(struct vid_partition *part, bool is_pio, uint64_t addr, uint32_t len, bool use_datamatch,
			 uint64_t datamatch, int fd)
{
	return vid_ioeventfd(part, is_pio, addr, len, use_datamatch, datamatch, fd, 0);
}

int vid_ioeventfd_deassign(struct vid_partition *part, bool is_pio, uint64_t addr, uint32_t len, bool use_datamatch,
			   uint64_t datamatch, int fd)
{
	return vid_ioeventfd(part, is_pio, addr, len, use_datamatch, datamatch, fd, KVM_IOEVENTFD_FLAG_DEASSIGN);
}

/* ---- VP state ------------------------------------------------------------------------------------------ */

unsigned vid_vp_index(const struct vid_vp *vp)
{
	return vp->index;
}

struct vid_partition *vid_vp_partition(struct vid_vp *vp)
{
	return vp->part;
}

int vid_vp_fd(const struct vid_vp *vp)
{
	return vp->fd;
}

int vid_vp_get_regs(struct vid_vp *vp, struct kvm_regs *regs)
{
	int ret = vid_ioctl(vp->fd, KVM_GET_REGS, regs);

	return ret < 0 ? ret : 0;
}

int vid_vp_set_regs(struct vid_vp *vp, const struct kvm_regs *regs)
{
	int ret = vid_ioctl(vp->fd, KVM_SET_REGS, (void *)regs);

	return ret < 0 ? ret : 0;
}

int vid_vp_get_sregs(struct vid_vp *vp, struct kvm_sregs *sregs)
{
	int ret = vid_ioctl(vp->fd, KVM_GET_SREGS, sregs);

	return ret < 0 ? ret : 0;
}

int vid_vp_set_sregs(struct vid_vp *vp, const struct kvm_sregs *sregs)
{
	int ret = vid_ioctl(vp->fd, KVM_SET_SREGS, (void *)sregs);

	return ret < 0 ? ret : 0;
}

int vid_vp_translate(struct vid_vp *vp, uint64_t gva, uint64_t *gpa, bool *user)
{
	struct kvm_translation t = { .linear_address = gva };
	int ret = vid_ioctl(vp->fd, KVM_TRANSLATE, &t);

	if (ret < 0)
		return ret;
	if (!t.valid)
		return -EFAULT;
	*gpa = t.physical_address;
	if (user)
		*user = t.usermode;
	return 0;
}

int vid_vp_get_msr(struct vid_vp *vp, uint32_t index, uint64_t *value)
{
	/* struct kvm_msrs ends in a flexible array: one header plus one entry, in one aligned buffer. */
	union {
		struct kvm_msrs hdr;
		uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} m;
	int ret;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.hdr.entries[0].index = index;
	ret = vid_ioctl(vp->fd, KVM_GET_MSRS, &m);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EINVAL;
	*value = m.hdr.entries[0].data;
	return 0;
}

static struct kvm_segment vid_flat_segment(uint16_t selector, uint8_t type, bool code64)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code64 ? 0 : 1,
		.s = 1,
		.l = code64 ? 1 : 0,
		.g = 1,
	};
}

int vid_vp_set_pvh_state(struct vid_vp *vp, uint32_t entry, uint32_t start_info_gpa)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret = vid_vp_get_sregs(vp, &sregs);

	if (ret < 0)
		return ret;
	/* PVH: 32-bit flat code (exec/read, accessed) and data (read/write, accessed), selectors as Linux's
	 * pvh head.S GDT does not matter: it loads its own. TR: a 32-bit busy TSS, as the ABI requires. */
	sregs.cs = vid_flat_segment(0x10, 0xb, false);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = vid_flat_segment(0x18, 0x3, false);
	sregs.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = 0x20, .type = 0xb, .present = 1 };
	sregs.cr0 = 0x11; /* PE | ET */
	sregs.cr3 = 0;
	sregs.cr4 = 0;
	sregs.efer = 0;
	ret = vid_vp_set_sregs(vp, &sregs);
	if (ret < 0)
		return ret;
	memset(&regs, 0, sizeof(regs));
	regs.rip = entry;
	regs.rbx = start_info_gpa;
	regs.rflags = 0x2;
	return vid_vp_set_regs(vp, &regs);
}

int vid_vp_set_long_mode_state(struct vid_vp *vp, uint64_t entry, uint64_t pml4_gpa, uint64_t boot_params_gpa)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret = vid_vp_get_sregs(vp, &sregs);

	if (ret < 0)
		return ret;
	sregs.cs = vid_flat_segment(0x10, 0xb, true);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = vid_flat_segment(0x18, 0x3, false);
	sregs.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = 0x20, .type = 0xb, .present = 1 };
	sregs.cr0 = 0x80000011;    /* PG | ET | PE */
	sregs.cr3 = pml4_gpa;
	sregs.cr4 = 0x20;          /* PAE */
	sregs.efer = 0x500;        /* LME | LMA */
	ret = vid_vp_set_sregs(vp, &sregs);
	if (ret < 0)
		return ret;
	memset(&regs, 0, sizeof(regs));
	regs.rip = entry;
	regs.rsi = boot_params_gpa;
	regs.rflags = 0x2;
	return vid_vp_set_regs(vp, &regs);
}

void vid_vp_dump(struct vid_vp *vp)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vp->fd, KVM_GET_REGS, &r) < 0 || ioctl(vp->fd, KVM_GET_SREGS, &s) < 0) {
		log_err("VP%u: cannot read registers: %s", vp->index, strerror(errno));
		return;
	}
	log_err("VP%u: rip=%016llx rsp=%016llx rflags=%08llx cs=%04x(l=%u db=%u dpl=%u)", vp->index, r.rip, r.rsp,
		r.rflags, s.cs.selector, s.cs.l, s.cs.db, s.cs.dpl);
	log_err("VP%u: rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx", vp->index, r.rax, r.rbx, r.rcx, r.rdx);
	log_err("VP%u: rsi=%016llx rdi=%016llx rbp=%016llx r8 =%016llx", vp->index, r.rsi, r.rdi, r.rbp, r.r8);
	log_err("VP%u: r9 =%016llx r10=%016llx r11=%016llx r12=%016llx", vp->index, r.r9, r.r10, r.r11, r.r12);
	log_err("VP%u: r13=%016llx r14=%016llx r15=%016llx", vp->index, r.r13, r.r14, r.r15);
	log_err("VP%u: cr0=%llx cr2=%llx cr3=%llx cr4=%llx efer=%llx", vp->index, s.cr0, s.cr2, s.cr3, s.cr4,
		s.efer);
	log_err("VP%u: gdt=%llx/%x idt=%llx/%x ss=%04x ds=%04x tr=%04x", vp->index, s.gdt.base, s.gdt.limit,
		s.idt.base, s.idt.limit, s.ss.selector, s.ds.selector, s.tr.selector);
}

uint64_t vid_vp_exit_count(const struct vid_vp *vp, unsigned reason)
{
	return reason < VID_EXIT_REASONS ? vp->exits[reason] : 0;
}

int vid_vp_kvm_stat(struct vid_vp *vp, const char *name, uint64_t *value)
{
	struct kvm_stats_header hdr;
	uint8_t *descs = NULL;
	size_t desc_size;
	int ret = -ENOENT;
	int fd = ioctl(vp->fd, KVM_GET_STATS_FD, NULL);

	if (fd < 0)
		return -errno;
	if (pread(fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) || hdr.num_desc > 4096 || hdr.name_size > 256) {
		ret = -EIO;
		goto out;
	}
	desc_size = sizeof(struct kvm_stats_desc) + hdr.name_size;
	descs = calloc(hdr.num_desc, desc_size);
	if (!descs) {
		ret = -ENOMEM;
		goto out;
	}
	if (pread(fd, descs, desc_size * hdr.num_desc, hdr.desc_offset) != (ssize_t)(desc_size * hdr.num_desc)) {
		ret = -EIO;
		goto out;
	}
	for (uint32_t i = 0; i < hdr.num_desc; i++) {
		const struct kvm_stats_desc *d = (const void *)(descs + i * desc_size);

		if (strncmp(d->name, name, hdr.name_size) || d->size < 1)
			continue;
		ret = pread(fd, value, sizeof(*value), hdr.data_offset + d->offset) == (ssize_t)sizeof(*value) ? 0
														 : -EIO;
		break;
	}
out:
	free(descs);
	close(fd);
	return ret;
}

/* ---- stop -------------------------------------------------------------------------------------------------- */

void vid_partition_request_stop(struct vid_partition *part, enum vid_stop_reason reason, const char *message)
{
	int expected = VID_STOP_NONE;

	if (reason == VID_STOP_NONE)
		return;
	pthread_mutex_lock(&part->stop_lock);
	if (atomic_compare_exchange_strong(&part->stop_reason, &expected, (int)reason) && message)
		snprintf(part->stop_message, sizeof(part->stop_message), "%s", message);
	pthread_cond_broadcast(&part->stop_cond);
	pthread_mutex_unlock(&part->stop_lock);
	vid_partition_kick_all(part);
}

enum vid_stop_reason vid_partition_stop_reason(const struct vid_partition *part)
{
	return (enum vid_stop_reason)atomic_load(&part->stop_reason);
}

const char *vid_partition_stop_message(const struct vid_partition *part)
{
	return part->stop_message;
}

static void vid_vp_fail(struct vid_vp *vp, enum vid_stop_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void vid_vp_fail(struct vid_vp *vp, enum vid_stop_reason reason, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (vid_partition_stop_reason(vp->part) == VID_STOP_NONE) {
		log_err("VP%u: %s", vp->index, msg);
		vid_vp_dump(vp);
	}
	vid_partition_request_stop(vp->part, reason, msg);
}

/* ---- exit dispatch --------------------------------------------------------------------------------------- */

static int vid_exit_io(struct vid_vp *vp, struct kvm_run *run)
{
	struct vid_partition *part = vp->part;
	uint16_t port = run->io.port;
	unsigned size = run->io.size;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	const struct vid_pio_range *r = NULL;

	/* KVM fills size/count/data_offset; still make sure the data stays inside the kvm_run mapping. */
	if ((size != 1 && size != 2 && size != 4) || run->io.data_offset >= vp->run_size ||
	    (uint64_t)size * run->io.count > vp->run_size - run->io.data_offset)
		return -EIO;
	for (unsigned i = 0; i < part->npio; i++) {
		if (port >= part->pio[i].port && (uint32_t)(port - part->pio[i].port) < part->pio[i].count) {
			r = &part->pio[i];
			break;
		}
	}
	for (uint32_t n = 0; n < run->io.count; n++, data += size) {
		int ret;

		if (!r) {
			if (!is_write)
				memset(data, 0xff, size);
			log_dbg("VP%u: unclaimed port %s 0x%x/%u", vp->index, is_write ? "write" : "read", port, size);
			continue;
		}
		if (!is_write)
			memset(data, 0xff, size);
		ret = r->fn(r->opaque, vp, port, is_write, data, size);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int vid_exit_mmio(struct vid_vp *vp, struct kvm_run *run)
{
	struct vid_partition *part = vp->part;
	uint64_t gpa = run->mmio.phys_addr;
	unsigned len = run->mmio.len;

	if (len == 0 || len > 8)
		return -EIO;
	for (unsigned i = 0; i < part->nmmio; i++) {
		const struct vid_mmio_range *r = &part->mmio[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->len) {
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0xff, len);
			return r->fn(r->opaque, vp, gpa, run->mmio.is_write, run->mmio.data, len);
		}
	}
	if (!run->mmio.is_write)
		memset(run->mmio.data, 0xff, len);
	log_guest("VP%u: unclaimed MMIO %s at 0x%" PRIx64 "/%u", vp->index, run->mmio.is_write ? "write" : "read",
		  gpa, len);
	return 0;
}

static int vid_exit_msr(struct vid_vp *vp, struct kvm_run *run, bool is_write)
{
	struct vid_partition *part = vp->part;
	uint32_t index = run->msr.index;
	uint64_t value = is_write ? run->msr.data : 0;

	for (unsigned i = 0; i < part->nmsr; i++) {
		const struct vid_msr_range *r = &part->msr[i];
		int ret;

		if (index < r->index || index - r->index >= r->count)
			continue;
		ret = r->fn(r->opaque, vp, index, is_write, &value);
		if (ret == -EPERM || ret == -EINVAL) {
			run->msr.error = 1;
			return 0;
		}
		if (ret < 0)
			return ret;
		run->msr.error = 0;
		if (!is_write)
			run->msr.data = value;
		return 0;
	}
	log_guest("VP%u: %s of unknown MSR 0x%x -> #GP", vp->index, is_write ? "write" : "read", index);
	run->msr.error = 1;
	return 0;
}

static const char *vid_exit_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_UNKNOWN: return "UNKNOWN";
	case KVM_EXIT_EXCEPTION: return "EXCEPTION";
	case KVM_EXIT_HYPERCALL: return "HYPERCALL";
	case KVM_EXIT_DEBUG: return "DEBUG";
	case KVM_EXIT_HLT: return "HLT";
	case KVM_EXIT_IRQ_WINDOW_OPEN: return "IRQ_WINDOW_OPEN";
	case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
	case KVM_EXIT_NMI: return "NMI";
	case KVM_EXIT_TPR_ACCESS: return "TPR_ACCESS";
	case KVM_EXIT_NOTIFY: return "NOTIFY";
	default: return "?";
	}
}

/* Handle one exit. Returns true to keep running. */
static bool vid_vp_handle_exit(struct vid_vp *vp)
{
	struct kvm_run *run = vp->run;
	int ret = 0;

	if (run->exit_reason < VID_EXIT_REASONS)
		vp->exits[run->exit_reason]++;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		ret = vid_exit_io(vp, run);
		if (ret < 0) {
			vid_vp_fail(vp, VID_STOP_INTERNAL_ERROR, "port 0x%x handler failed: %s", run->io.port,
				    strerror(-ret));
			return false;
		}
		return true;
	case KVM_EXIT_MMIO:
		ret = vid_exit_mmio(vp, run);
		if (ret < 0) {
			vid_vp_fail(vp, VID_STOP_INTERNAL_ERROR, "MMIO 0x%llx handler failed: %s", run->mmio.phys_addr,
				    strerror(-ret));
			return false;
		}
		return true;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		ret = vid_exit_msr(vp, run, run->exit_reason == KVM_EXIT_X86_WRMSR);
		if (ret < 0) {
			vid_vp_fail(vp, VID_STOP_INTERNAL_ERROR, "MSR 0x%x handler failed: %s", run->msr.index,
				    strerror(-ret));
			return false;
		}
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; ours always has one. Treat as a spurious exit. */
		return true;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SHUTDOWN:
		vid_vp_fail(vp, VID_STOP_TRIPLE_FAULT, "triple fault (KVM_EXIT_SHUTDOWN)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vid_partition_request_stop(vp->part, VID_STOP_POWEROFF, "system event: shutdown");
			return false;
		case KVM_SYSTEM_EVENT_RESET:
			vid_partition_request_stop(vp->part, VID_STOP_RESET, "system event: reset");
			return false;
		case KVM_SYSTEM_EVENT_CRASH:
			vid_partition_request_stop(vp->part, VID_STOP_GUEST_PANIC, "system event: crash");
			return false;
		default:
			vid_vp_fail(vp, VID_STOP_INTERNAL_ERROR, "unexpected system event %u", run->system_event.type);
			return false;
		}
	case KVM_EXIT_INTERNAL_ERROR:
		if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION && vp->part->quirks) {
			ret = vid_quirks_emulation_failure(vp, run);
			if (ret == 0)
				return true;
		}
		vid_vp_fail(vp, VID_STOP_INTERNAL_ERROR, "KVM internal error, suberror %u%s", run->internal.suberror,
			    run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (instruction emulation failed)"
										 : "");
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		vid_vp_fail(vp, VID_STOP_INTERNAL_ERROR, "VM entry failed, hardware reason 0x%llx",
			    (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	default:
		vid_vp_fail(vp, VID_STOP_INTERNAL_ERROR, "unexpected KVM exit %u (%s)", run->exit_reason,
			    vid_exit_name(run->exit_reason));
		return false;
	}
}

/*
 * Benchmark hook: when OPENHV_BENCH_T0 holds a CLOCK_MONOTONIC time in ns (set by bench/ just before exec), VP 0
 * logs how long after it the first guest exit came: exec -> first guest instruction, within one exit.
 */
static void vid_bench_first_exit(const struct vid_vp *vp)
{
	static bool done;
	const char *t0 = getenv("OPENHV_BENCH_T0");
	struct timespec ts;

	if (done || vp->index != 0 || !t0)
		return;
	done = true;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "openhv-bench: first-exit-ns=%lld\n",
		(long long)ts.tv_sec * 1000000000ll + ts.tv_nsec - strtoll(t0, NULL, 10));
}

static void *vid_vp_thread(void *arg)
{
	struct vid_vp *vp = arg;
	struct vid_partition *part = vp->part;
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "openhv-vp%u", vp->index);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&set);
	sigaddset(&set, VID_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (vid_partition_stop_reason(part) == VID_STOP_NONE) {
		int ret = ioctl(vp->fd, KVM_RUN, NULL);

		if (ret < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				__atomic_store_n(&vp->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				if (vp->samples && vp->nsamples < part->profile_max) {
					struct kvm_regs regs;

					if (ioctl(vp->fd, KVM_GET_REGS, &regs) == 0)
						vp->samples[vp->nsamples++] = regs.rip;
				}
				continue;
			}
			vid_vp_fail(vp, VID_STOP_INTERNAL_ERROR, "KVM_RUN: %s", strerror(errno));
			break;
		}
		if (vp->index == 0 && vp->exits[KVM_EXIT_IO] + vp->exits[KVM_EXIT_MMIO] == 0)
			vid_bench_first_exit(vp);
		if (!vid_vp_handle_exit(vp))
			break;
	}
	/* Under the stop lock, so vid_partition_run() waiting on stop_cond cannot miss it. */
	pthread_mutex_lock(&part->stop_lock);
	atomic_store(&vp->in_thread, false);
	pthread_cond_broadcast(&part->stop_cond);
	pthread_mutex_unlock(&part->stop_lock);
	return NULL;
}

int vid_partition_profile_enable(struct vid_partition *part, unsigned interval_us, unsigned max_samples)
{
	if (part->ran)
		return -EBUSY;
	if (interval_us < 100 || max_samples == 0)
		return -EINVAL;
	for (unsigned i = 0; i < part->nvps; i++) {
		part->vps[i].samples = calloc(max_samples, sizeof(uint64_t));
		if (!part->vps[i].samples)
			return -ENOMEM;
	}
	part->profile_interval_us = interval_us;
	part->profile_max = max_samples;
	return 0;
}

int vid_partition_profile_write(const struct vid_partition *part, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	for (unsigned i = 0; i < part->nvps; i++)
		for (unsigned n = 0; n < part->vps[i].nsamples; n++)
			fprintf(f, "%u %" PRIx64 "\n", i, part->vps[i].samples[n]);
	return fclose(f) == 0 ? 0 : -errno;
}

/* Profiler thread: kick every VP each interval (KVM_RUN returns -EINTR; the VP records its RIP). */
static void *vid_profile_thread(void *arg)
{
	struct vid_partition *part = arg;

	while (vid_partition_stop_reason(part) == VID_STOP_NONE) {
		usleep(part->profile_interval_us);
		for (unsigned i = 0; i < part->nvps; i++)
			if (atomic_load(&part->vps[i].in_thread))
				pthread_kill(part->vps[i].thread, VID_KICK_SIGNAL);
	}
	return NULL;
}

enum vid_stop_reason vid_partition_run(struct vid_partition *part)
{
	sigset_t block, old;
	int ret;

	if (part->ran) {
		log_err("a partition runs once");
		return VID_STOP_INTERNAL_ERROR;
	}
	part->ran = true;
	ret = vid_msr_filter_install(part);
	for (unsigned i = 0; ret == 0 && i < part->nvps; i++)
		ret = vid_cpuid_apply(&part->vps[i]);
	if (ret < 0) {
		vid_partition_request_stop(part, VID_STOP_INTERNAL_ERROR, "partition setup failed");
		return VID_STOP_INTERNAL_ERROR;
	}

	/* VP threads start with the kick signal blocked and unblock it themselves. */
	sigemptyset(&block);
	sigaddset(&block, VID_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (unsigned i = 0; i < part->nvps; i++) {
		struct vid_vp *vp = &part->vps[i];

		atomic_store(&vp->in_thread, true);
		ret = pthread_create(&vp->thread, NULL, vid_vp_thread, vp);
		if (ret != 0) {
			atomic_store(&vp->in_thread, false);
			vid_partition_request_stop(part, VID_STOP_INTERNAL_ERROR, "cannot start a VP thread");
			break;
		}
		vp->thread_started = true;
	}
	if (part->profile_interval_us && pthread_create(&part->profile_thread, NULL, vid_profile_thread, part) == 0)
		part->profile_started = true;
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	pthread_mutex_lock(&part->stop_lock);
	while (vid_partition_stop_reason(part) == VID_STOP_NONE)
		pthread_cond_wait(&part->stop_cond, &part->stop_lock);
	pthread_mutex_unlock(&part->stop_lock);

	/*
	 * Kick until every VP thread has left KVM_RUN (a kick can race with a VP re-entering it). VP threads signal
	 * stop_cond as they leave; the 1 ms timeout only bounds a lost race with the kick.
	 */
	for (unsigned i = 0; i < part->nvps; i++) {
		struct vid_vp *vp = &part->vps[i];

		if (!vp->thread_started)
			continue;
		pthread_mutex_lock(&part->stop_lock);
		while (atomic_load(&vp->in_thread)) {
			struct timespec deadline;

			vid_partition_kick_all(part);
			clock_gettime(CLOCK_REALTIME, &deadline);
			deadline.tv_nsec += 1000000;
			if (deadline.tv_nsec >= 1000000000) {
				deadline.tv_sec++;
				deadline.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&part->stop_cond, &part->stop_lock, &deadline);
		}
		pthread_mutex_unlock(&part->stop_lock);
		pthread_join(vp->thread, NULL);
		vp->thread_started = false;
	}
	if (part->profile_started) {
		pthread_join(part->profile_thread, NULL);
		part->profile_started = false;
	}
	return vid_partition_stop_reason(part);
}
