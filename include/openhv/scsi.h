/* SPDX-License-Identifier: MIT */
/*
 * openhv/scsi.h - SCSI on the wire, the subset a direct-access disk target needs: operation codes, SAM status,
 * sense keys and additional sense codes, fixed-format sense data, INQUIRY data and the VPD pages, mode parameter
 * headers and pages, READ CAPACITY data, the UNMAP parameter list and REPORT LUNS data. Wire formats only.
 *
 * Names follow Linux include/scsi/scsi_proto.h where it has one (opcodes, sense keys, TYPE_*, SAM_STAT_*), so code
 * reads against the guest's drivers/scsi/sd.c and scsi_scan.c; the rest use the standards' field names with a
 * SCSI_ prefix. Sources: SPC-4 (T10/1731-D r37: INQUIRY 6.4, VPD 7.8, mode pages 7.5, sense 4.5), SBC-3
 * (T10/1799-D r35: READ CAPACITY 5.16/5.17, UNMAP 5.28, WRITE SAME 5.50/5.51, block limits 6.5.3, block device
 * characteristics 6.5.2, logical block provisioning 6.5.4, caching page 6.4.5), SAM-5 (status 5.3).
 *
 * Every multi-byte field in a SCSI data structure is big-endian; the structs below spell those as byte arrays so
 * no host-endian integer is ever read from or written to them by accident. All structs are packed.
 */
#ifndef OPENHV_SCSI_H
#define OPENHV_SCSI_H

#include <stdint.h>

/* ---- operation codes (SPC-4 annex D, SBC-3 5.1) -------------------------------------------------------------- */

#define TEST_UNIT_READY 0x00
#define REQUEST_SENSE 0x03
#define FORMAT_UNIT 0x04
#define READ_6 0x08
#define WRITE_6 0x0a
#define INQUIRY 0x12
#define MODE_SELECT 0x15
#define RESERVE 0x16
#define RELEASE 0x17
#define MODE_SENSE 0x1a
#define START_STOP 0x1b
#define SEND_DIAGNOSTIC 0x1d
#define ALLOW_MEDIUM_REMOVAL 0x1e
#define READ_CAPACITY 0x25
#define READ_10 0x28
#define WRITE_10 0x2a
#define WRITE_VERIFY 0x2e
#define VERIFY 0x2f
#define SYNCHRONIZE_CACHE 0x35
#define WRITE_SAME 0x41
#define UNMAP 0x42
#define MODE_SELECT_10 0x55
#define MODE_SENSE_10 0x5a
#define PERSISTENT_RESERVE_IN 0x5e
#define PERSISTENT_RESERVE_OUT 0x5f
#define ATA_16 0x85
#define READ_16 0x88
#define WRITE_16 0x8a
#define VERIFY_16 0x8f
#define SYNCHRONIZE_CACHE_16 0x91
#define WRITE_SAME_16 0x93
#define SERVICE_ACTION_IN_16 0x9e
#define REPORT_LUNS 0xa0
#define ATA_12 0xa1
#define MAINTENANCE_IN 0xa3
#define READ_12 0xa8
#define WRITE_12 0xaa
#define WRITE_VERIFY_12 0xae
#define VERIFY_12 0xaf

/* SERVICE ACTION IN(16) service actions (CDB byte 1, bits 4:0). */
#define SAI_READ_CAPACITY_16 0x10
#define SAI_GET_LBA_STATUS 0x12

/* CDB length by operation code group (SAM-5 5.2, SPC-4 4.2.5.1): bits 7:5 of the opcode. */
#define SCSI_CDB_GROUP(opcode) ((uint8_t)(opcode) >> 5)

/* Control byte (the last CDB byte, SAM-5 5.2): bits we do not support (NACA; LINK is obsolete). */
#define SCSI_CONTROL_NACA 0x04
#define SCSI_CONTROL_LINK 0x01

/* READ/WRITE(10/12/16) byte 1 (SBC-3 5.11): RDPROTECT/WRPROTECT bits 7:5, DPO bit 4, FUA bit 3. */
#define SCSI_RW_PROTECT_MASK 0xe0
#define SCSI_RW_DPO 0x10
#define SCSI_RW_FUA 0x08
#define SCSI_RW_OBSOLETE_RELADR 0x01 /* RELADR in SBC-1; reserved/obsolete since */

/* WRITE SAME(10/16) byte 1 (SBC-3 5.50/5.51). */
#define SCSI_WS_ANCHOR 0x10
#define SCSI_WS_UNMAP 0x08
#define SCSI_WS_PBDATA 0x04 /* obsolete in SBC-3r35 */
#define SCSI_WS_LBDATA 0x02 /* obsolete in SBC-3r35 */
#define SCSI_WS_NDOB 0x01   /* WRITE SAME(16) only: no data-out buffer, the block is all zeroes */

/* ---- SAM status (SAM-5 5.3.1) -------------------------------------------------------------------------------- */

#define SAM_STAT_GOOD 0x00
#define SAM_STAT_CHECK_CONDITION 0x02
#define SAM_STAT_CONDITION_MET 0x04
#define SAM_STAT_BUSY 0x08
#define SAM_STAT_RESERVATION_CONFLICT 0x18
#define SAM_STAT_TASK_SET_FULL 0x28
#define SAM_STAT_TASK_ABORTED 0x40

/* ---- sense (SPC-4 4.5) --------------------------------------------------------------------------------------- */

/* Sense keys (SPC-4 table 27). */
#define NO_SENSE 0x00
#define RECOVERED_ERROR 0x01
#define NOT_READY 0x02
#define MEDIUM_ERROR 0x03
#define HARDWARE_ERROR 0x04
#define ILLEGAL_REQUEST 0x05
#define UNIT_ATTENTION 0x06
#define DATA_PROTECT 0x07
#define BLANK_CHECK 0x08
#define ABORTED_COMMAND 0x0b
#define VOLUME_OVERFLOW 0x0d
#define MISCOMPARE 0x0e

/* Additional sense code / qualifier pairs (SPC-4 annex D.2), as (ASC << 8) | ASCQ. */
#define SCSI_ASC(ascq_pair) ((uint8_t)((ascq_pair) >> 8))
#define SCSI_ASCQ(ascq_pair) ((uint8_t)(ascq_pair))
#define SCSI_SENSE_NO_ADDITIONAL_SENSE 0x0000
#define SCSI_SENSE_WRITE_ERROR 0x0c00
#define SCSI_SENSE_UNRECOVERED_READ_ERROR 0x1100
#define SCSI_SENSE_PARAMETER_LIST_LENGTH_ERROR 0x1a00
#define SCSI_SENSE_INVALID_COMMAND_OPERATION_CODE 0x2000
#define SCSI_SENSE_LBA_OUT_OF_RANGE 0x2100
#define SCSI_SENSE_INVALID_FIELD_IN_CDB 0x2400
#define SCSI_SENSE_LOGICAL_UNIT_NOT_SUPPORTED 0x2500
#define SCSI_SENSE_INVALID_FIELD_IN_PARAMETER_LIST 0x2600
#define SCSI_SENSE_WRITE_PROTECTED 0x2700
#define SCSI_SENSE_SPACE_ALLOCATION_FAILED_WRITE_PROTECT 0x2707
#define SCSI_SENSE_CAPACITY_DATA_HAS_CHANGED 0x2a09
#define SCSI_SENSE_SAVING_PARAMETERS_NOT_SUPPORTED 0x3900
#define SCSI_SENSE_INTERNAL_TARGET_FAILURE 0x4400

/* Fixed-format sense data (SPC-4 4.5.3), 18 bytes. */
#define SCSI_SENSE_RESPONSE_CURRENT_FIXED 0x70
#define SCSI_SENSE_RESPONSE_DEFERRED_FIXED 0x71
#define SCSI_SENSE_VALID 0x80 /* response_code bit 7: the INFORMATION field is valid */
struct scsi_sense_fixed {
	uint8_t response_code;     /* VALID bit 7 | 0x70 current / 0x71 deferred */
	uint8_t obsolete;
	uint8_t sense_key;         /* FILEMARK bit 7, EOM bit 6, ILI bit 5, SDAT_OVFL bit 4, key bits 3:0 */
	uint8_t information[4];
	uint8_t additional_length; /* bytes after this one: 10 */
	uint8_t command_specific[4];
	uint8_t asc;
	uint8_t ascq;
	uint8_t fruc;
	uint8_t sense_key_specific[3]; /* SKSV bit 7 of byte 0 */
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_sense_fixed) == 18, "scsi_sense_fixed");

/* ---- INQUIRY (SPC-4 6.4) ------------------------------------------------------------------------------------- */

/* CDB byte 1. */
#define SCSI_INQUIRY_EVPD 0x01
#define SCSI_INQUIRY_CMDDT 0x02 /* obsolete (SPC-2) */

/* Peripheral device types and qualifier (byte 0: qualifier bits 7:5, type bits 4:0). */
#define TYPE_DISK 0x00
#define TYPE_NO_LUN 0x7f /* qualifier 011b (no logical unit here) with type 1Fh */

/* VERSION (byte 2). */
#define SCSI_VERSION_SPC3 0x05
#define SCSI_VERSION_SPC4 0x06

/* Byte 3: NORMACA bit 5, HISUP bit 4, RESPONSE DATA FORMAT bits 3:0 (always 2). */
#define SCSI_INQUIRY_HISUP 0x10
#define SCSI_INQUIRY_RESPONSE_FORMAT 0x02
/* Byte 7: CMDQUE bit 1. */
#define SCSI_INQUIRY_CMDQUE 0x02

/* Standard INQUIRY data, the 36 mandatory bytes (SPC-4 table 142). */
struct scsi_inquiry_std {
	uint8_t peripheral;        /* qualifier bits 7:5 | device type bits 4:0 */
	uint8_t rmb;               /* RMB bit 7 (removable medium) */
	uint8_t version;           /* SCSI_VERSION_* */
	uint8_t response_format;   /* NORMACA, HISUP, RESPONSE DATA FORMAT */
	uint8_t additional_length; /* bytes after this one: 31 */
	uint8_t flags5;            /* SCCS, ACC, TPGS, 3PC, PROTECT */
	uint8_t flags6;            /* ENCSERV, MULTIP, ... */
	uint8_t flags7;            /* CMDQUE bit 1 */
	char vendor[8];            /* T10 vendor identification, ASCII, space-padded */
	char product[16];
	char revision[4];
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_inquiry_std) == 36, "scsi_inquiry_std");

/* VPD page codes (SPC-4 7.8, SBC-3 6.5). */
#define SCSI_VPD_SUPPORTED_PAGES 0x00
#define SCSI_VPD_UNIT_SERIAL_NUMBER 0x80
#define SCSI_VPD_DEVICE_IDENTIFICATION 0x83
#define SCSI_VPD_ATA_INFORMATION 0x89
#define SCSI_VPD_BLOCK_LIMITS 0xb0
#define SCSI_VPD_BLOCK_DEVICE_CHARACTERISTICS 0xb1
#define SCSI_VPD_LOGICAL_BLOCK_PROVISIONING 0xb2

/* Every VPD page starts with this header. */
struct scsi_vpd_header {
	uint8_t peripheral;
	uint8_t page_code;
	uint8_t page_length[2]; /* bytes after the header */
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_vpd_header) == 4, "scsi_vpd_header");

/* Device identification (0x83) designation descriptor header (SPC-4 7.8.6.1). */
#define SCSI_CODE_SET_BINARY 0x1
#define SCSI_CODE_SET_ASCII 0x2
#define SCSI_ASSOC_LOGICAL_UNIT 0x00 /* byte 1 bits 5:4 */
#define SCSI_DESIGNATOR_T10_VENDOR_ID 0x1
#define SCSI_DESIGNATOR_NAA 0x3
#define SCSI_NAA_LOCALLY_ASSIGNED 0x3 /* NAA 3h: 60 bits locally assigned, no OUI (SPC-4 7.8.6.6.4) */
struct scsi_designation_desc {
	uint8_t code_set;        /* PROTOCOL IDENTIFIER bits 7:4 | CODE SET bits 3:0 */
	uint8_t type;            /* PIV bit 7 | ASSOCIATION bits 5:4 | DESIGNATOR TYPE bits 3:0 */
	uint8_t reserved;
	uint8_t length;          /* designator bytes that follow */
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_designation_desc) == 4, "scsi_designation_desc");

/* Block limits (0xB0), SBC-3 table 197: 64 bytes with the header. */
#define SCSI_VPD_B0_WSNZ 0x01      /* byte 4: WRITE SAME with 0 blocks is not supported */
#define SCSI_VPD_B0_UGAVALID 0x80  /* unmap_granularity_alignment[0] bit 7 */
struct scsi_vpd_block_limits {
	struct scsi_vpd_header hdr; /* page_length 0x3c */
	uint8_t wsnz;
	uint8_t max_compare_and_write_length;
	uint8_t optimal_transfer_length_granularity[2]; /* logical blocks */
	uint8_t max_transfer_length[4];                  /* logical blocks, 0: not reported */
	uint8_t optimal_transfer_length[4];
	uint8_t max_prefetch_length[4];
	uint8_t max_unmap_lba_count[4];
	uint8_t max_unmap_block_descriptor_count[4];
	uint8_t optimal_unmap_granularity[4];
	uint8_t unmap_granularity_alignment[4];          /* UGAVALID bit 31 */
	uint8_t max_write_same_length[8];
	uint8_t reserved[20];
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_vpd_block_limits) == 64, "scsi_vpd_block_limits");

/* Block device characteristics (0xB1), SBC-3 table 192: 64 bytes with the header. */
#define SCSI_MEDIUM_ROTATION_NON_ROTATING 0x0001
struct scsi_vpd_block_characteristics {
	struct scsi_vpd_header hdr; /* page_length 0x3c */
	uint8_t medium_rotation_rate[2];
	uint8_t product_type;
	uint8_t form_factor;        /* WABEREQ, WACEREQ, NOMINAL FORM FACTOR */
	uint8_t flags8;             /* ZONED, FUAB, VBULS */
	uint8_t reserved[55];
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_vpd_block_characteristics) == 64, "scsi_vpd_block_characteristics");

/* Logical block provisioning (0xB2), SBC-3 table 199, without provisioning group descriptor: 8 bytes. */
#define SCSI_VPD_B2_LBPU 0x80
#define SCSI_VPD_B2_LBPWS 0x40
#define SCSI_VPD_B2_LBPWS10 0x20
#define SCSI_VPD_B2_LBPRZ 0x04
#define SCSI_VPD_B2_ANC_SUP 0x02
#define SCSI_VPD_B2_DP 0x01
#define SCSI_PROVISIONING_FULL 0x0 /* provisioning type (byte 6 bits 2:0): not reported / fully provisioned */
#define SCSI_PROVISIONING_RESOURCE 0x1
#define SCSI_PROVISIONING_THIN 0x2
struct scsi_vpd_lb_provisioning {
	struct scsi_vpd_header hdr; /* page_length 4 */
	uint8_t threshold_exponent;
	uint8_t flags;              /* LBPU, LBPWS, LBPWS10, LBPRZ, ANC_SUP, DP */
	uint8_t provisioning_type;
	uint8_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_vpd_lb_provisioning) == 8, "scsi_vpd_lb_provisioning");

/* ---- MODE SENSE / MODE SELECT (SPC-4 6.11-6.14, 7.5) -------------------------------------------------------- */

/* CDB: MODE SENSE byte 1 DBD bit 3, LLBAA bit 4 (10 only); byte 2 PC bits 7:6 | page code bits 5:0. */
#define SCSI_MS_DBD 0x08
#define SCSI_MS_LLBAA 0x10
#define SCSI_MS_PC_CURRENT 0
#define SCSI_MS_PC_CHANGEABLE 1
#define SCSI_MS_PC_DEFAULT 2
#define SCSI_MS_PC_SAVED 3
/* MODE SELECT byte 1: PF bit 4, SP bit 0. */
#define SCSI_MSEL_PF 0x10
#define SCSI_MSEL_SP 0x01

#define SCSI_MODE_PAGE_CACHING 0x08
#define SCSI_MODE_PAGE_CONTROL 0x0a
#define SCSI_MODE_PAGE_ALL 0x3f
#define SCSI_MODE_SUBPAGE_ALL 0xff
#define SCSI_MODE_PAGE_PS 0x80  /* page byte 0: parameters saveable */
#define SCSI_MODE_PAGE_SPF 0x40 /* page byte 0: sub-page format */

/* Device-specific parameter of a direct-access device (SBC-3 6.4.1): WP bit 7, DPOFUA bit 4. */
#define SCSI_MODE_DSP_WP 0x80
#define SCSI_MODE_DSP_DPOFUA 0x10

struct scsi_mode_header6 {
	uint8_t mode_data_length; /* bytes after this one (MODE SENSE; reserved in MODE SELECT) */
	uint8_t medium_type;
	uint8_t device_specific;
	uint8_t block_descriptor_length;
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_mode_header6) == 4, "scsi_mode_header6");

#define SCSI_MODE_LONGLBA 0x01 /* header(10) byte 4 */
struct scsi_mode_header10 {
	uint8_t mode_data_length[2]; /* bytes after this field */
	uint8_t medium_type;
	uint8_t device_specific;
	uint8_t longlba;
	uint8_t reserved;
	uint8_t block_descriptor_length[2];
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_mode_header10) == 8, "scsi_mode_header10");

/* Block descriptors of a direct-access device (SBC-3 6.4.2): short (8 bytes) and long LBA (16 bytes). */
struct scsi_mode_block_desc {
	uint8_t number_of_blocks[4]; /* 0xffffffff when the capacity does not fit */
	uint8_t reserved;
	uint8_t block_length[3];
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_mode_block_desc) == 8, "scsi_mode_block_desc");

struct scsi_mode_block_desc_long {
	uint8_t number_of_blocks[8];
	uint8_t reserved[4];
	uint8_t block_length[4];
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_mode_block_desc_long) == 16, "scsi_mode_block_desc_long");

/* Caching mode page (SBC-3 6.4.5), 20 bytes: byte 2 WCE bit 2, RCD bit 0. */
#define SCSI_CACHING_WCE 0x04
#define SCSI_CACHING_RCD 0x01
struct scsi_mode_caching_page {
	uint8_t page_code;   /* PS | 0x08 */
	uint8_t page_length; /* 0x12 */
	uint8_t flags2;      /* IC, ABPF, CAP, DISC, SIZE, WCE, MF, RCD */
	uint8_t retention;
	uint8_t disable_prefetch_transfer_length[2];
	uint8_t min_prefetch[2];
	uint8_t max_prefetch[2];
	uint8_t max_prefetch_ceiling[2];
	uint8_t flags12;     /* FSW, LBCSS, DRA, NV_DIS */
	uint8_t cache_segments;
	uint8_t cache_segment_size[2];
	uint8_t reserved;
	uint8_t obsolete[3];
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_mode_caching_page) == 20, "scsi_mode_caching_page");

/* Control mode page (SPC-4 7.5.8), 12 bytes: byte 2 D_SENSE bit 2; byte 3 QUEUE ALGORITHM MODIFIER bits 7:4. */
#define SCSI_CONTROL_D_SENSE 0x04
#define SCSI_CONTROL_QAM_UNRESTRICTED 0x10
struct scsi_mode_control_page {
	uint8_t page_code;   /* PS | 0x0a */
	uint8_t page_length; /* 0x0a */
	uint8_t flags2;      /* TST, TMF_ONLY, DPICZ, D_SENSE, GLTSD, RLEC */
	uint8_t flags3;      /* QUEUE ALGORITHM MODIFIER, NUAR, QERR */
	uint8_t flags4;      /* VS, RAC, UA_INTLCK_CTRL, SWP */
	uint8_t flags5;      /* ATO, TAS, ATMPE, RWWP, AUTOLOAD MODE */
	uint8_t obsolete[2];
	uint8_t busy_timeout_period[2];
	uint8_t extended_self_test_completion_time[2];
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_mode_control_page) == 12, "scsi_mode_control_page");

/* ---- READ CAPACITY (SBC-3 5.16, 5.17) ------------------------------------------------------------------------ */

struct scsi_read_capacity10_data {
	uint8_t returned_lba[4]; /* last LBA, 0xffffffff: use READ CAPACITY(16) */
	uint8_t block_length[4]; /* bytes */
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_read_capacity10_data) == 8, "scsi_read_capacity10_data");

/* byte 13: P_I_EXPONENT bits 7:4, LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT bits 3:0; byte 14: LBPME bit 7,
 * LBPRZ bit 6, LOWEST ALIGNED LBA bits 13:8 in bits 5:0. */
#define SCSI_RC16_LBPME 0x80
#define SCSI_RC16_LBPRZ 0x40
struct scsi_read_capacity16_data {
	uint8_t returned_lba[8];
	uint8_t block_length[4];
	uint8_t prot;            /* P_TYPE bits 3:1, PROT_EN bit 0 */
	uint8_t exponents;
	uint8_t lbp_lowest_aligned[2];
	uint8_t reserved[16];
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_read_capacity16_data) == 32, "scsi_read_capacity16_data");

/* ---- UNMAP (SBC-3 5.28) --------------------------------------------------------------------------------------- */

#define SCSI_UNMAP_ANCHOR 0x01 /* CDB byte 1 */
struct scsi_unmap_param_header {
	uint8_t unmap_data_length[2];            /* bytes after this field */
	uint8_t block_descriptor_data_length[2]; /* bytes of descriptors (a multiple of 16) */
	uint8_t reserved[4];
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_unmap_param_header) == 8, "scsi_unmap_param_header");

struct scsi_unmap_block_desc {
	uint8_t lba[8];
	uint8_t number_of_blocks[4];
	uint8_t reserved[4];
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_unmap_block_desc) == 16, "scsi_unmap_block_desc");

/* ---- REPORT LUNS (SPC-4 6.33) --------------------------------------------------------------------------------- */

#define SCSI_REPORT_LUNS_SELECT_ALL 0x00
#define SCSI_REPORT_LUNS_SELECT_WELL_KNOWN 0x01
#define SCSI_REPORT_LUNS_SELECT_ALL_AND_WELL_KNOWN 0x02
#define SCSI_REPORT_LUNS_MIN_ALLOCATION 16u

struct scsi_report_luns_header {
	uint8_t lun_list_length[4]; /* bytes of LUN entries: 8 per LUN */
	uint8_t reserved[4];
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_report_luns_header) == 8, "scsi_report_luns_header");

/* One 8-byte LUN (SAM-5 4.7): single level, peripheral device addressing (byte 0 = 00b << 6 | bus 0, byte 1 =
 * LUN) for LUN < 256, flat space addressing (byte 0 = 01b << 6 | LUN bits 13:8, byte 1 = LUN bits 7:0) above. */
#define SCSI_LUN_ADDR_PERIPHERAL 0x00
#define SCSI_LUN_ADDR_FLAT 0x40
struct scsi_lun {
	uint8_t scsi_lun[8];
} __attribute__((packed));
_Static_assert(sizeof(struct scsi_lun) == 8, "scsi_lun");

#endif /* OPENHV_SCSI_H */
