/* SPDX-License-Identifier: MIT */
/*
 * openhv/hvgdk.h - the Hyper-V hypervisor interface as the guest sees it: CPUID leaves and bits, synthetic MSRs,
 * hypercall codes, the hypercall input value, status codes, SynIC message slots, the reference TSC page and the
 * synthetic timer message. Wire formats only (data, no functions).
 *
 * Names and values follow Microsoft's Hypervisor Top Level Functional Specification (TLFS v6.0b: chapter 2
 * "Feature and interface discovery", 3 "Hypercall interface", 11 "Virtual interrupt controller" / SynIC, 12
 * "Timers", 15 "Virtual processor management") and Linux 6.1 include/asm-generic/hyperv-tlfs.h and
 * arch/x86/include/asm/hyperv-tlfs.h, so code can be read against either. All fields are little-endian.
 */
#ifndef OPENHV_HVGDK_H
#define OPENHV_HVGDK_H

#include <stdint.h>

/* ---- CPUID leaves (TLFS 2.4) ------------------------------------------------------------------------- */

#define HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS 0x40000000u /* EAX max leaf; EBX:ECX:EDX "Microsoft Hv" */
#define HYPERV_CPUID_INTERFACE                0x40000001u /* EAX "Hv#1" */
#define HYPERV_CPUID_VERSION                  0x40000002u /* EAX build, EBX major.minor, ECX SP, EDX branch */
#define HYPERV_CPUID_FEATURES                 0x40000003u /* EAX/EBX partition privileges, EDX misc features */
#define HYPERV_CPUID_ENLIGHTMENT_INFO         0x40000004u /* EAX recommendations, EBX spinlock retries */
#define HYPERV_CPUID_IMPLEMENT_LIMITS         0x40000005u /* EAX max VPs, EBX max LPs */
#define HYPERV_CPUID_HARDWARE_FEATURES        0x40000006u
#define HYPERV_CPUID_CPU_MANAGEMENT_FEATURES  0x40000007u
#define HYPERV_CPUID_NESTED_FEATURES          0x4000000Au
#define HYPERV_CPUID_MIN                      0x40000005u /* Linux requires max leaf >= this */

#define HYPERV_CPUID_SIGNATURE_EBX 0x7263694Du /* "Micr" */
#define HYPERV_CPUID_SIGNATURE_ECX 0x666F736Fu /* "osof" */
#define HYPERV_CPUID_SIGNATURE_EDX 0x76482074u /* "t Hv" */
#define HYPERV_CPUID_INTERFACE_HV1 0x31237648u /* "Hv#1" */

/* HYPERV_CPUID_FEATURES.EAX: partition privilege mask, low half (TLFS 4.2.2 "HV_PARTITION_PRIVILEGE_MASK"). */
#define HV_MSR_VP_RUNTIME_AVAILABLE    (1u << 0)
#define HV_MSR_TIME_REF_COUNT_AVAILABLE (1u << 1)
#define HV_MSR_SYNIC_AVAILABLE         (1u << 2)
#define HV_MSR_SYNTIMER_AVAILABLE      (1u << 3)
#define HV_MSR_APIC_ACCESS_AVAILABLE   (1u << 4)
#define HV_MSR_HYPERCALL_AVAILABLE     (1u << 5)
#define HV_MSR_VP_INDEX_AVAILABLE      (1u << 6)
#define HV_MSR_RESET_AVAILABLE         (1u << 7)
#define HV_MSR_STAT_PAGES_AVAILABLE    (1u << 8)
#define HV_MSR_REFERENCE_TSC_AVAILABLE (1u << 9)
#define HV_MSR_GUEST_IDLE_AVAILABLE    (1u << 10)
#define HV_ACCESS_FREQUENCY_MSRS       (1u << 11)
#define HV_ACCESS_REENLIGHTENMENT      (1u << 13)
#define HV_ACCESS_TSC_INVARIANT        (1u << 15)

/* HYPERV_CPUID_FEATURES.EBX: partition privilege mask, high half. */
#define HV_CREATE_PARTITIONS           (1u << 0)
#define HV_ACCESS_PARTITION_ID         (1u << 1)
#define HV_POST_MESSAGES               (1u << 4)
#define HV_SIGNAL_EVENTS               (1u << 5)
#define HV_CPU_MANAGEMENT              (1u << 12)
#define HV_ENABLE_EXTENDED_HYPERCALLS  (1u << 20)
#define HV_ISOLATION                   (1u << 22)

/* HYPERV_CPUID_FEATURES.EDX: miscellaneous features. */
#define HV_X64_MWAIT_AVAILABLE                  (1u << 0)
#define HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE    (1u << 4)
#define HV_FEATURE_FREQUENCY_MSRS_AVAILABLE     (1u << 8)
#define HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE    (1u << 10)
#define HV_STIMER_DIRECT_MODE_AVAILABLE         (1u << 19)

/* HYPERV_CPUID_ENLIGHTMENT_INFO.EAX: recommendations (TLFS 2.4.5). */
#define HV_X64_AS_SWITCH_RECOMMENDED            (1u << 0)
#define HV_X64_LOCAL_TLB_FLUSH_RECOMMENDED      (1u << 1)
#define HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED     (1u << 2)
#define HV_X64_APIC_ACCESS_RECOMMENDED          (1u << 3)
#define HV_X64_SYSTEM_RESET_RECOMMENDED         (1u << 4)
#define HV_X64_RELAXED_TIMING_RECOMMENDED       (1u << 5)
#define HV_DEPRECATING_AEOI_RECOMMENDED         (1u << 9)
#define HV_X64_CLUSTER_IPI_RECOMMENDED          (1u << 10)
#define HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED   (1u << 11)

/* ---- synthetic MSRs (TLFS 3.13, 7, 11.8, 12, 15.11; Linux arch/x86/include/asm/hyperv-tlfs.h) ----------- */

#define HV_X64_MSR_GUEST_OS_ID        0x40000000u
#define HV_X64_MSR_HYPERCALL          0x40000001u
#define HV_X64_MSR_VP_INDEX           0x40000002u
#define HV_X64_MSR_RESET              0x40000003u
#define HV_X64_MSR_VP_RUNTIME         0x40000010u
#define HV_X64_MSR_TIME_REF_COUNT     0x40000020u
#define HV_X64_MSR_REFERENCE_TSC      0x40000021u
#define HV_X64_MSR_TSC_FREQUENCY      0x40000022u
#define HV_X64_MSR_APIC_FREQUENCY     0x40000023u
#define HV_X64_MSR_EOI                0x40000070u
#define HV_X64_MSR_ICR                0x40000071u
#define HV_X64_MSR_TPR                0x40000072u
#define HV_X64_MSR_VP_ASSIST_PAGE     0x40000073u
#define HV_X64_MSR_SCONTROL           0x40000080u
#define HV_X64_MSR_SVERSION           0x40000081u
#define HV_X64_MSR_SIEFP              0x40000082u
#define HV_X64_MSR_SIMP               0x40000083u
#define HV_X64_MSR_EOM                0x40000084u
#define HV_X64_MSR_SINT0              0x40000090u
#define HV_X64_MSR_SINT15             0x4000009Fu
#define HV_X64_MSR_STIMER0_CONFIG     0x400000B0u
#define HV_X64_MSR_STIMER0_COUNT      0x400000B1u
#define HV_X64_MSR_STIMER3_COUNT      0x400000B7u
#define HV_X64_MSR_CRASH_P0           0x40000100u
#define HV_X64_MSR_CRASH_P4           0x40000104u
#define HV_X64_MSR_CRASH_CTL          0x40000105u
#define HV_X64_MSR_REENLIGHTENMENT_CONTROL 0x40000106u
#define HV_X64_MSR_TSC_EMULATION_STATUS    0x40000108u
#define HV_X64_MSR_TSC_INVARIANT_CONTROL   0x40000118u
#define HV_X64_MSR_LAST               0x400001FFu /* end of the range the VMM intercepts */

/* HV_X64_MSR_GUEST_OS_ID: Linux writes 0x8100 << 48 | LINUX_VERSION_CODE << 16 (asm-generic/mshyperv.h). */
#define HV_LINUX_VENDOR_ID            0x8100u

/* HV_X64_MSR_HYPERCALL */
#define HV_X64_MSR_HYPERCALL_ENABLE       (1ull << 0)
#define HV_X64_MSR_HYPERCALL_LOCKED       (1ull << 1)
#define HV_X64_MSR_HYPERCALL_PAGE_ADDRESS_SHIFT 12

/* HV_X64_MSR_REFERENCE_TSC, HV_X64_MSR_VP_ASSIST_PAGE, SIMP, SIEFP: bit 0 enable, bits 63:12 the GPA. */
#define HV_X64_MSR_TSC_REFERENCE_ENABLE   (1ull << 0)
#define HV_X64_MSR_VP_ASSIST_PAGE_ENABLE  (1ull << 0)
#define HV_SYNIC_SIMP_ENABLE              (1ull << 0)
#define HV_SYNIC_SIEFP_ENABLE             (1ull << 0)
#define HV_SYNIC_CONTROL_ENABLE           (1ull << 0)
#define HV_SYNIC_VERSION_1                1u
#define HV_PAGE_ADDRESS_MASK              (~(uint64_t)0xFFF)

/* SINTx (TLFS 11.8.4): bits 7:0 vector, 16 masked, 17 auto-EOI, 18 polling. Reset value: masked. */
#define HV_SYNIC_SINT_VECTOR_MASK         0xFFull
#define HV_SYNIC_SINT_MASKED              (1ull << 16)
#define HV_SYNIC_SINT_AUTO_EOI            (1ull << 17)
#define HV_SYNIC_SINT_POLLING             (1ull << 18)
#define HV_SYNIC_SINT_COUNT               16u
#define HV_SYNIC_FIRST_VALID_VECTOR       16u

/* STIMERx_CONFIG (TLFS 12.2.1 "Synthetic Timer Configuration Register"). */
#define HV_STIMER_ENABLE                  (1ull << 0)
#define HV_STIMER_PERIODIC                (1ull << 1)
#define HV_STIMER_LAZY                    (1ull << 2)
#define HV_STIMER_AUTOENABLE              (1ull << 3)
#define HV_STIMER_APICVECTOR_SHIFT        4
#define HV_STIMER_APICVECTOR_MASK         (0xFFull << 4)
#define HV_STIMER_DIRECT_MODE             (1ull << 12)
#define HV_STIMER_SINT_SHIFT              16
#define HV_STIMER_SINT_MASK               (0xFull << 16)
#define HV_SYNIC_STIMER_COUNT             4u

/* HV_X64_MSR_CRASH_CTL */
#define HV_CRASH_CTL_CRASH_NOTIFY_MSG     (1ull << 62) /* P3 = GPA of a message page, P4 = its length */
#define HV_CRASH_CTL_CRASH_NOTIFY         (1ull << 63)
#define HV_CRASH_PARAMS                   5u
#define HV_CRASH_MSG_MAX                  4096u        /* Linux hv_kmsg_dump: one page (HV_HYP_PAGE_SIZE) */

/* HV_X64_MSR_RESET, HV_X64_MSR_TSC_INVARIANT_CONTROL */
#define HV_X64_MSR_RESET_VALUE            (1ull << 0)
#define HV_EXPOSE_INVARIANT_TSC           (1ull << 0)

/* ---- hypercalls (TLFS 3.6-3.8) -------------------------------------------------------------------------- */

#define HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE 0x0002u
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST  0x0003u
#define HVCALL_NOTIFY_LONG_SPIN_WAIT       0x0008u
#define HVCALL_SEND_IPI                    0x000Bu
#define HVCALL_GET_PARTITION_ID            0x0046u
#define HVCALL_POST_MESSAGE                0x005Cu
#define HVCALL_SIGNAL_EVENT                0x005Du

/* Hypercall input value (RCX): TLFS 3.7 "Hypercall Inputs". */
#define HV_HYPERCALL_CODE_MASK           0xFFFFull
#define HV_HYPERCALL_FAST_BIT            (1ull << 16)
#define HV_HYPERCALL_VARHEAD_OFFSET      17
#define HV_HYPERCALL_VARHEAD_MASK        (0x3FFull << 17)  /* variable header size, 8-byte units */
#define HV_HYPERCALL_NESTED              (1ull << 31)
#define HV_HYPERCALL_REP_COMP_OFFSET     32
#define HV_HYPERCALL_REP_COMP_MASK       (0xFFFull << 32)  /* rep count */
#define HV_HYPERCALL_REP_START_OFFSET    48
#define HV_HYPERCALL_REP_START_MASK      (0xFFFull << 48)  /* rep start index */
/* Bits that must be zero: 30:27, 31 (nested: never offered here), 47:44, 63:60. */
#define HV_HYPERCALL_RSVD_MASK           0xF000F000F8000000ull

/* Hypercall result value (RAX): 15:0 status, 43:32 reps completed. */
#define HV_HYPERCALL_RESULT_MASK         0xFFFFull
#define HV_HYPERCALL_REP_COMP_RESULT_OFFSET 32

/* HV_STATUS (TLFS appendix B "Hypercall status codes"). */
#define HV_STATUS_SUCCESS                  0u
#define HV_STATUS_INVALID_HYPERCALL_CODE   2u
#define HV_STATUS_INVALID_HYPERCALL_INPUT  3u
#define HV_STATUS_INVALID_ALIGNMENT        4u
#define HV_STATUS_INVALID_PARAMETER        5u
#define HV_STATUS_ACCESS_DENIED            6u
#define HV_STATUS_INVALID_PARTITION_STATE  7u
#define HV_STATUS_OPERATION_DENIED         8u
#define HV_STATUS_UNKNOWN_PROPERTY         9u
#define HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE 10u
#define HV_STATUS_INSUFFICIENT_MEMORY      11u
#define HV_STATUS_INVALID_PARTITION_ID     13u
#define HV_STATUS_INVALID_VP_INDEX         14u
#define HV_STATUS_NOT_FOUND                16u
#define HV_STATUS_INVALID_PORT_ID          17u
#define HV_STATUS_INVALID_CONNECTION_ID    18u
#define HV_STATUS_INSUFFICIENT_BUFFERS     19u
#define HV_STATUS_NOT_ACKNOWLEDGED         20u
#define HV_STATUS_INVALID_VP_STATE         21u
#define HV_STATUS_NO_RESOURCES             29u
#define HV_STATUS_TIME_OUT                 120u

/* HvPostMessage input (TLFS 11.10.1), 8-byte aligned in guest memory, 256 bytes. */
#define HV_MESSAGE_SIZE                256u
#define HV_MESSAGE_PAYLOAD_BYTE_COUNT  240u
#define HV_MESSAGE_PAYLOAD_QWORD_COUNT 30u
#define HV_CONNECTION_ID_MASK          0x00FFFFFFu  /* low 24 bits are the id; the rest reserved */

struct hv_input_post_message {
	uint32_t connectionid;
	uint32_t reserved;
	uint32_t message_type;   /* > 0, < 0x80000000 (the hypervisor's own types) */
	uint32_t payload_size;   /* bytes, <= HV_MESSAGE_PAYLOAD_BYTE_COUNT */
	uint64_t payload[HV_MESSAGE_PAYLOAD_QWORD_COUNT];
};
_Static_assert(sizeof(struct hv_input_post_message) == 256, "hv_input_post_message");

/* HvSignalEvent fast input (RDX): 31:0 connection id (24 bits used), 47:32 flag number, 63:48 reserved. */
#define HV_SIGNAL_EVENT_FLAG_SHIFT 32
#define HV_EVENT_FLAGS_COUNT       (256u * 8u) /* flags per SINT in the SIEF page */

/* ---- SynIC message page (TLFS 11.9) --------------------------------------------------------------------- */

#define HVMSG_NONE                 0x00000000u
#define HVMSG_UNMAPPED_GPA         0x80000000u
#define HVMSG_GPA_INTERCEPT        0x80000001u
#define HVMSG_TIMER_EXPIRED        0x80000010u
#define HVMSG_INVALID_VP_REGISTER_VALUE 0x80000020u
#define HVMSG_UNRECOVERABLE_EXCEPTION   0x80000021u
#define HVMSG_UNSUPPORTED_FEATURE  0x80000022u
#define HVMSG_EVENTLOG_BUFFERCOMPLETE   0x80000040u

#define HV_MESSAGE_FLAG_PENDING    0x01u

struct hv_message_header {
	uint32_t message_type;
	uint8_t payload_size;
	uint8_t message_flags;     /* HV_MESSAGE_FLAG_PENDING */
	uint8_t reserved[2];
	uint64_t sender;           /* port id / originator; Linux ignores it */
};
_Static_assert(sizeof(struct hv_message_header) == 16, "hv_message_header");

struct hv_message {
	struct hv_message_header header;
	uint64_t payload[HV_MESSAGE_PAYLOAD_QWORD_COUNT];
};
_Static_assert(sizeof(struct hv_message) == HV_MESSAGE_SIZE, "hv_message");

/* The SIM page is HV_SYNIC_SINT_COUNT slots of struct hv_message; the SIEF page 16 bitmaps of 256 bytes. */
#define HV_SYNIC_EVENT_FLAGS_BYTES 256u

/* HVMSG_TIMER_EXPIRED payload (TLFS 12.2.2). Times in 100 ns reference-time units. */
struct hv_timer_message_payload {
	uint32_t timer_index;
	uint32_t reserved;
	uint64_t expiration_time;
	uint64_t delivery_time;
};
_Static_assert(sizeof(struct hv_timer_message_payload) == 24, "hv_timer_message_payload");

/* ---- reference TSC page (TLFS 12.7) --------------------------------------------------------------------- */

/*
 * reference time (100 ns) = ((guest TSC * tsc_scale) >> 64) + tsc_offset. tsc_sequence 0 means "invalid, read
 * HV_X64_MSR_TIME_REF_COUNT"; readers retry while it changes.
 */
struct ms_hyperv_tsc_page {
	volatile uint32_t tsc_sequence;
	uint32_t reserved1;
	volatile uint64_t tsc_scale;
	volatile int64_t tsc_offset;
};
_Static_assert(sizeof(struct ms_hyperv_tsc_page) == 24, "ms_hyperv_tsc_page");

#endif
