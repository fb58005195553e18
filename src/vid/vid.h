/* SPDX-License-Identifier: MIT */
/*
 * vid/vid.h - the partition layer (Hyper-V's "VID"): one partition with its VPs on /dev/kvm.
 *
 * A partition borrows a struct vid_memory (guest RAM), owns the KVM VM and one thread per VP, and routes every
 * exit: port I/O and MMIO to registered handlers, synthetic/unknown MSRs to registered MSR handlers, everything
 * else to a stop of the partition with a readable reason and a register dump. Interrupts go in through the
 * in-kernel irqchip (IOAPIC lines, KVM_SIGNAL_MSI, irqfd). Platform quirks (vid/quirks.h) are applied here.
 *
 * Threads: handlers run on the VP thread that took the exit, so a handler shared by several VPs must lock its own
 * state. vid_partition_request_stop() is safe from any thread and from handlers.
 *
 * Follows the KVM API (Documentation/virt/kvm/api.rst); the shape follows Linux include/uapi/linux/mshv.h
 * (partition -> VP, irqfd/ioeventfd) so an MSHV backend could slot in.
 */
#ifndef OPENHV_VID_VID_H
#define OPENHV_VID_VID_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "vid/memory.h"

#define VID_MAX_VPS 64

struct vid_partition;
struct vid_vp;

/* Why a partition stopped. The CLI maps these to exit statuses (see worker/). */
enum vid_stop_reason {
	VID_STOP_NONE = 0,
	VID_STOP_POWEROFF,       /* guest asked for power-off (ACPI sleep S5, test port) */
	VID_STOP_RESET,          /* guest asked for a reset (ACPI reset register, i8042 pulse) */
	VID_STOP_TRIPLE_FAULT,   /* KVM_EXIT_SHUTDOWN */
	VID_STOP_GUEST_PANIC,    /* guest reported a panic (pvpanic, later the Hyper-V crash MSRs) */
	VID_STOP_HOST_REQUEST,   /* the VMM asked (signal, API) */
	VID_STOP_INTERNAL_ERROR, /* unexpected exit, emulation failure, handler error: VMM-side problem */
};

const char *vid_stop_reason_name(enum vid_stop_reason reason);

/* Quirks mode for the platform workarounds of vid/quirks.h. */
enum vid_quirks_mode {
	VID_QUIRKS_AUTO = 0, /* on when the platform is detected (default) */
	VID_QUIRKS_OFF,
	VID_QUIRKS_ON,
};

struct vid_partition_config {
	unsigned vp_count;           /* 1..VID_MAX_VPS */
	struct vid_memory *memory;   /* borrowed; must outlive the partition */
	enum vid_quirks_mode quirks;
	const char *kvm_path;        /* NULL: "/dev/kvm" */
};

/*
 * Create the VM: memslots for every RAM region, in-kernel irqchip (IOAPIC + LAPICs + PIC; KVM's default GSI
 * routing, GSI n -> IOAPIC pin n; no PIT: the board is hardware-reduced ACPI and Linux uses none), TSS and
 * identity-map addresses in the MMIO hole, the VPs (not yet running) with the CPUID table from
 * vid_cpuid_default() adjusted by the quirks. Returns 0 and *@out, -ENOENT if /dev/kvm is missing, -EINVAL for a
 * bad config, or the -errno of the failing ioctl (logged with its name).
 */
int vid_partition_create(const struct vid_partition_config *cfg, struct vid_partition **out);

/* Stop (if running), join VP threads, close every fd. NULL is a no-op. Does not free the borrowed memory. */
void vid_partition_destroy(struct vid_partition *part);

struct vid_memory *vid_partition_memory(struct vid_partition *part);
unsigned vid_partition_vp_count(const struct vid_partition *part);
struct vid_vp *vid_partition_vp(struct vid_partition *part, unsigned index);
int vid_partition_vm_fd(const struct vid_partition *part);
bool vid_partition_quirks_active(const struct vid_partition *part);

/* ---- exit handlers ------------------------------------------------------------------------------------- */

/*
 * Port I/O handler: @size is 1, 2 or 4 bytes; for a write @data holds the value (little-endian), for a read the
 * handler fills @data (pre-set to all ones). Return 0, or a -errno to stop the partition with an internal error.
 */
typedef int (*vid_pio_fn)(void *opaque, struct vid_vp *vp, uint16_t port, bool is_write, uint8_t *data,
			  unsigned size);

/* MMIO handler: @size 1..8 bytes, same conventions as vid_pio_fn; @gpa is the absolute address. */
typedef int (*vid_mmio_fn)(void *opaque, struct vid_vp *vp, uint64_t gpa, bool is_write, uint8_t *data,
			   unsigned size);

/*
 * MSR handler: on a read fill *@value; on a write *@value is the value written. Return 0 (done), -EPERM or
 * -EINVAL to make the guest take #GP (as hardware does for a bad MSR or value), any other -errno to stop the
 * partition with an internal error.
 */
typedef int (*vid_msr_fn)(void *opaque, struct vid_vp *vp, uint32_t index, bool is_write, uint64_t *value);

/*
 * Register a handler for ports [port, port + count). Ranges must not overlap (-EEXIST). Call before
 * vid_partition_run(). Unclaimed ports read as all ones and ignore writes (as on a PC), logged at debug level
 * (Linux probes many absent ports); unclaimed MMIO does the same, logged rate-limited.
 */
int vid_pio_register(struct vid_partition *part, uint16_t port, uint32_t count, vid_pio_fn fn, void *opaque);

/* Register a handler for GPAs [gpa, gpa + len) (must not overlap RAM or another range). Before run. */
int vid_mmio_register(struct vid_partition *part, uint64_t gpa, uint64_t len, vid_mmio_fn fn, void *opaque);

/*
 * Intercept MSRs [index, index + count) to @fn (KVM_X86_SET_MSR_FILTER + KVM_CAP_X86_USER_SPACE_MSR). MSRs KVM
 * does not know also exit and go to @fn when they fall in a registered range; others raise #GP (logged
 * rate-limited). Before run. -ENOSPC when the filter's range table is full, -EEXIST on overlap.
 */
int vid_msr_register(struct vid_partition *part, uint32_t index, uint32_t count, vid_msr_fn fn, void *opaque);

/* ---- CPUID ---------------------------------------------------------------------------------------------- */

/*
 * Set one CPUID leaf/subleaf for every VP (replaces an existing entry or adds one; leaves 0x40000000+ are ours
 * to define). Before run. @flags as in struct kvm_cpuid_entry2 (KVM_CPUID_FLAG_SIGNIFCANT_INDEX for subleaves).
 */
int vid_cpuid_set(struct vid_partition *part, uint32_t function, uint32_t index, uint32_t flags, uint32_t eax,
		  uint32_t ebx, uint32_t ecx, uint32_t edx);

/* Remove every entry whose function is in [@first, @last] (e.g. KVM's own 0x40000000 signature leaves). Before run. */
void vid_cpuid_remove(struct vid_partition *part, uint32_t first, uint32_t last);

/* Look up the entry the VPs will get; NULL if absent. Valid until the next vid_cpuid_set(). */
const struct kvm_cpuid_entry2 *vid_cpuid_get(const struct vid_partition *part, uint32_t function, uint32_t index);

/* ---- interrupts and doorbells ------------------------------------------------------------------------- */

/* Drive IOAPIC/PIC input @gsi (0..23) to @level (edge devices pulse 1 then 0). 0 or -errno. Any thread. */
int vid_irq_line(struct vid_partition *part, uint32_t gsi, int level);

/* Inject an MSI (x86: @addr 0xFEExxxxx with destination APIC id in bits 19:12, @data with vector). Any thread. */
int vid_msi_signal(struct vid_partition *part, uint64_t addr, uint32_t data);

/* Fixed-delivery, edge interrupt @vector to the VP whose APIC id is @apic_id (= VP index here). Any thread. */
int vid_vp_interrupt(struct vid_partition *part, uint32_t apic_id, uint8_t vector);

/* Bind eventfd @fd to IOAPIC input @gsi (KVM_IRQFD): a write to @fd raises it with no ioctl. 0 or -errno. */
int vid_irqfd_assign(struct vid_partition *part, int fd, uint32_t gsi);
int vid_irqfd_deassign(struct vid_partition *part, int fd, uint32_t gsi);

/*
 * Bind eventfd @fd to a guest write of @len bytes (1, 2, 4, 8; 0 = any length for MMIO) at port (@is_pio) or
 * GPA @addr, optionally only when the value equals @datamatch (KVM_IOEVENTFD): the guest's write signals @fd
 * without a userspace exit.
 */
int vid_ioeventfd_assign(struct vid_partition *part, bool is_pio, uint64_t addr, uint32_t len, bool use_datamatch,
			 uint64_t datamatch, int fd);
int vid_ioeventfd_deassign(struct vid_partition *part, bool is_pio, uint64_t addr, uint32_t len, bool use_datamatch,
			   uint64_t datamatch, int fd);

/* ---- VPs ----------------------------------------------------------------------------------------------- */

unsigned vid_vp_index(const struct vid_vp *vp);
struct vid_partition *vid_vp_partition(struct vid_vp *vp);
int vid_vp_fd(const struct vid_vp *vp);

/* Register access (valid on the VP's own thread while it runs, or on any thread before run). 0 or -errno. */
int vid_vp_get_regs(struct vid_vp *vp, struct kvm_regs *regs);
int vid_vp_set_regs(struct vid_vp *vp, const struct kvm_regs *regs);
int vid_vp_get_sregs(struct vid_vp *vp, struct kvm_sregs *sregs);
int vid_vp_set_sregs(struct vid_vp *vp, const struct kvm_sregs *sregs);

/*
 * Translate guest virtual address @gva with the VP's current paging (KVM_TRANSLATE). Same threading rule.
 * 0, *@gpa and (if @user is not NULL) whether the page is user-accessible; -EFAULT if unmapped; -errno.
 */
int vid_vp_translate(struct vid_vp *vp, uint64_t gva, uint64_t *gpa, bool *user);

/* Read MSR @index of the VP as KVM holds it (KVM_GET_MSRS), e.g. IA32_TSC. Same threading rule. 0 or -errno. */
int vid_vp_get_msr(struct vid_vp *vp, uint32_t index, uint64_t *value);

/*
 * Put VP @vp into the x86 32-bit protected-mode state of the PVH boot ABI (xen/include/public/arch-x86/
 * hvm/start_info.h, Linux arch/x86/platform/pvh/head.S): flat 4 GiB CS/DS/ES/SS, CR0.PE, paging off,
 * EFLAGS 0x2, EIP @entry, EBX @start_info_gpa. Only for the BSP; APs wait for INIT/SIPI from the guest.
 */
int vid_vp_set_pvh_state(struct vid_vp *vp, uint32_t entry, uint32_t start_info_gpa);

/*
 * Put VP @vp into 64-bit long mode with paging, for the Linux 64-bit boot protocol
 * (Documentation/x86/boot.rst "64-bit BOOT PROTOCOL"): CS 64-bit flat (selector 0x10), DS/ES/SS flat (0x18),
 * CR3 @pml4_gpa (identity map set up by the caller), RIP @entry, RSI @boot_params_gpa, interrupts off.
 */
int vid_vp_set_long_mode_state(struct vid_vp *vp, uint64_t entry, uint64_t pml4_gpa, uint64_t boot_params_gpa);

/* Log the VP's registers at error level (used for every unexpected stop). */
void vid_vp_dump(struct vid_vp *vp);

/* Count of userspace exits this VP took, by KVM exit reason (for benchmarks). @reason < 64; 0 if unknown. */
uint64_t vid_vp_exit_count(const struct vid_vp *vp, unsigned reason);

/*
 * Read the cumulative per-VP KVM statistic @name (binary stats, KVM api.rst "KVM_GET_STATS_FD"), e.g.
 * "insn_emulation" (instructions KVM's emulator ran: on a software KVM, the guest kernel's instruction count) or
 * "exits". 0 and *@value, -ENOENT if KVM has no such statistic, -errno if stats are unavailable. Any thread.
 */
int vid_vp_kvm_stat(struct vid_vp *vp, const char *name, uint64_t *value);

/*
 * Guest profiler (a development tool): every @interval_us a thread kicks each VP out of KVM_RUN and the VP
 * records its RIP (guest virtual). Call before vid_partition_run(); at most @max_samples per VP are kept.
 * vid_partition_profile_write() prints one line per sample, "VP RIP" in hex, for tools/profile-report.py.
 * 0 or -errno.
 */
int vid_partition_profile_enable(struct vid_partition *part, unsigned interval_us, unsigned max_samples);
int vid_partition_profile_write(const struct vid_partition *part, const char *path);

/* ---- running -------------------------------------------------------------------------------------------- */

/*
 * Start one thread per VP and block until the partition stops. Returns the stop reason (never VID_STOP_NONE).
 * A partition runs once. The BSP (VP 0) must have been given an entry state; APs start in the wait-for-SIPI
 * state and are started by the guest through its LAPIC.
 */
enum vid_stop_reason vid_partition_run(struct vid_partition *part);

/*
 * Ask the partition to stop with @reason (the first request wins) and kick every VP out of KVM_RUN.
 * @message (copied; may be NULL) is reported by vid_partition_stop_message(). Safe from any thread and from
 * exit handlers.
 */
void vid_partition_request_stop(struct vid_partition *part, enum vid_stop_reason reason, const char *message);

/* The reason and message of the first stop request ("" if none). Valid until destroy. */
enum vid_stop_reason vid_partition_stop_reason(const struct vid_partition *part);
const char *vid_partition_stop_message(const struct vid_partition *part);

#endif
