/* SPDX-License-Identifier: MIT */
/*
 * boot/acpi.c - generates the board's ACPI tables (RSDP, XSDT, FADT, MADT, DSDT) into guest RAM.
 *
 * The tables are assembled in a host buffer the size of the ACPI area, then copied into guest memory in one write,
 * so a failure leaves the guest untouched. See acpi.h for what the tables say and why.
 */
#define LOG_TAG "acpi"

#include "boot/acpi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/aml.h"
#include "lib/log.h"
#include "vid/memory.h"

#define ACPI_TABLE_ALIGN 16u
#define ACPI_XSDT_MAX_ENTRIES 16u

_Static_assert(LAYOUT_ACPI_GPA % ACPI_RSDP_ALIGN == 0, "RSDP must be 16-byte aligned");
_Static_assert(LAYOUT_ACPI_GPA + LAYOUT_ACPI_SIZE <= 0x100000000ull, "ACPI area must be below 4 GiB");
_Static_assert(sizeof(ACPI_BOARD_OEM_ID) - 1 == 6 && sizeof(ACPI_BOARD_OEM_TABLE_ID) - 1 == 8 &&
		       sizeof(ACPI_BOARD_CREATOR_ID) - 1 == 4,
	       "OEM strings have fixed widths");

/* The ACPI area under construction: a host copy of [LAYOUT_ACPI_GPA, + LAYOUT_ACPI_SIZE). */
struct acpi_blob {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint64_t xsdt_entries[ACPI_XSDT_MAX_ENTRIES]; /* GPAs of the tables the XSDT lists */
	unsigned xsdt_count;
};

static uint64_t acpi_blob_gpa(size_t off)
{
	return LAYOUT_ACPI_GPA + off;
}

/* Reserve @size bytes at the next ACPI_TABLE_ALIGN boundary; their offset in *@off. */
static int acpi_blob_reserve(struct acpi_blob *b, size_t size, size_t *off)
{
	size_t at = (b->len + ACPI_TABLE_ALIGN - 1) & ~(size_t)(ACPI_TABLE_ALIGN - 1);

	if (at > b->cap || size > b->cap - at)
		return -ENOSPC;
	*off = at;
	b->len = at + size;
	return 0;
}

static int acpi_blob_list(struct acpi_blob *b, size_t off)
{
	if (b->xsdt_count == ACPI_XSDT_MAX_ENTRIES)
		return -ENOSPC;
	b->xsdt_entries[b->xsdt_count++] = acpi_blob_gpa(off);
	return 0;
}

static uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)(0x100 - sum);
}

static void acpi_header_fill(struct acpi_table_header *h, const char *sig, size_t length, uint8_t revision)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->signature, sig, 4);
	h->length = (uint32_t)length;
	h->revision = revision;
	memcpy(h->oem_id, ACPI_BOARD_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_BOARD_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_BOARD_CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* Set the checksum of the table at @off, whose header (length included) is already in place. */
static void acpi_table_seal(struct acpi_blob *b, size_t off)
{
	struct acpi_table_header h;

	memcpy(&h, b->buf + off, sizeof(h));
	h.checksum = 0;
	memcpy(b->buf + off, &h, sizeof(h));
	h.checksum = acpi_checksum(b->buf + off, h.length);
	memcpy(b->buf + off, &h, sizeof(h));
}

static struct acpi_gas acpi_gas_io8(uint16_t port)
{
	struct acpi_gas g = {
		.address_space_id = ACPI_GAS_SPACE_SYSTEM_IO,
		.register_bit_width = 8,
		.register_bit_offset = 0,
		.access_size = ACPI_GAS_ACCESS_BYTE,
		.address = port,
	};

	return g;
}

/* ---- DSDT ------------------------------------------------------------------------------------------------------ */

static void acpi_dsdt_com1(struct aml_writer *w)
{
	struct aml_resources res;

	aml_resources_init(&res);
	aml_res_io(&res, LAYOUT_COM1_PORT, LAYOUT_COM1_PORT, 1, 8);
	aml_res_irq(&res, LAYOUT_COM1_IRQ);

	aml_device_begin(w, "COM1");
	aml_name_eisaid(w, "_HID", "PNP0501");
	aml_name_integer(w, "_UID", 1);
	aml_name(w, "_CRS");
	aml_resource_template(w, &res);
	aml_device_end(w);
}

static void acpi_dsdt_rtc(struct aml_writer *w)
{
	struct aml_resources res;

	aml_resources_init(&res);
	aml_res_io(&res, LAYOUT_RTC_PORT, LAYOUT_RTC_PORT, 1, 2);
	aml_res_irq(&res, LAYOUT_RTC_IRQ);

	aml_device_begin(w, "RTC");
	aml_name_eisaid(w, "_HID", "PNP0B00");
	aml_name(w, "_CRS");
	aml_resource_template(w, &res);
	aml_device_end(w);
}

/* Linux's i8042_pnp_kbd_probe() takes port resource 0 as the data port and 1 as the command port, each 1 byte. */
static void acpi_dsdt_i8042(struct aml_writer *w)
{
	struct aml_resources res;

	aml_resources_init(&res);
	aml_res_io(&res, LAYOUT_I8042_DATA_PORT, LAYOUT_I8042_DATA_PORT, 1, 1);
	aml_res_io(&res, LAYOUT_I8042_CMD_PORT, LAYOUT_I8042_CMD_PORT, 1, 1);
	aml_res_irq(&res, LAYOUT_I8042_IRQ);

	aml_device_begin(w, "KBD");
	aml_name_eisaid(w, "_HID", "PNP0303");
	aml_name(w, "_CRS");
	aml_resource_template(w, &res);
	aml_device_end(w);
}

/* Linux drivers/misc/pvpanic/pvpanic-mmio.c binds "QEMU0001" and maps the first I/O or memory resource. */
static void acpi_dsdt_pvpanic(struct aml_writer *w)
{
	struct aml_resources res;

	aml_resources_init(&res);
	aml_res_io(&res, LAYOUT_PVPANIC_PORT, LAYOUT_PVPANIC_PORT, 1, 1);

	aml_device_begin(w, "PEVT");
	aml_name_str(w, "_HID", "QEMU0001");
	aml_name(w, "_CRS");
	aml_resource_template(w, &res);
	aml_device_end(w);
}

void acpi_vmbus_high_mmio(const struct vid_memory *mem, uint64_t *base, uint64_t *size)
{
	uint64_t end = LAYOUT_VMBUS_HIGH_MMIO_MIN_GPA;

	for (unsigned i = 0; i < vid_memory_region_count(mem); i++) {
		const struct vid_memory_region *r = vid_memory_region(mem, i);

		if (r->gpa + r->size > end)
			end = r->gpa + r->size;
	}
	*base = (end + LAYOUT_VMBUS_HIGH_MMIO_ALIGN - 1) & ~(LAYOUT_VMBUS_HIGH_MMIO_ALIGN - 1);
	*size = LAYOUT_VMBUS_HIGH_MMIO_SIZE;
}

/*
 * The VMBus device, as Hyper-V Gen2 lays it out (see acpi.h): a module device VMOD owning the MMIO windows and the
 * VMBus device VMBS below it.
 */
static void acpi_dsdt_vmbus(struct aml_writer *w, const struct vid_memory *mem)
{
	struct aml_resources windows, irq;
	uint64_t high_base, high_size;

	_Static_assert(LAYOUT_VMBUS_LOW_MMIO_GPA + LAYOUT_VMBUS_LOW_MMIO_SIZE <= LAYOUT_IOAPIC_GPA &&
			       LAYOUT_VMBUS_LOW_MMIO_GPA >= VID_LOWMEM_TOP,
		       "the low VMBus window lies in the MMIO hole, below the IOAPIC");
	acpi_vmbus_high_mmio(mem, &high_base, &high_size);
	aml_resources_init(&windows);
	aml_res_dword_memory(&windows, false, AML_MEM_NON_CACHEABLE, true, (uint32_t)LAYOUT_VMBUS_LOW_MMIO_GPA,
			     (uint32_t)LAYOUT_VMBUS_LOW_MMIO_SIZE);
	aml_res_qword_memory(&windows, false, AML_MEM_NON_CACHEABLE, true, high_base, high_size);
	aml_resources_init(&irq);
	aml_res_irq_flags(&irq, LAYOUT_VMBUS_IRQ, ACPI_RES_IRQ_EDGE);

	aml_device_begin(w, "VMOD");
	aml_name_str(w, "_HID", "ACPI0004");
	aml_name_integer(w, "_UID", 0);
	aml_name(w, "_CRS");
	aml_resource_template(w, &windows);

	aml_device_begin(w, "VMBS");
	aml_name_str(w, "_HID", "VMBus");
	aml_name_str(w, "_DDN", "VMBUS");
	aml_name_integer(w, "_UID", 0);
	aml_name_integer(w, "_ADR", 0);
	aml_method_return_integer(w, "_STA", 0x0f); /* present, enabled, shown in UI, functioning */
	aml_name(w, "_CRS");
	aml_resource_template(w, &irq);
	aml_device_end(w);

	aml_device_end(w);
}

/* Emit the DSDT's AML (everything after the header). */
static void acpi_dsdt_aml(struct aml_writer *w, const struct acpi_config *cfg, const struct vid_memory *mem)
{
	/* \_S5: SLP_TYPa, SLP_TYPb (ignored by hardware-reduced sleep), two reserved (ACPI 6.5 7.4.2) */
	aml_name(w, "_S5");
	aml_package_begin(w, 4);
	aml_integer(w, LAYOUT_ACPI_S5_SLP_TYP);
	aml_integer(w, 0);
	aml_integer(w, 0);
	aml_integer(w, 0);
	aml_package_end(w);

	aml_scope_begin(w, "\\_SB");
	acpi_dsdt_com1(w);
	acpi_dsdt_rtc(w);
	acpi_dsdt_i8042(w);
	if (cfg->pvpanic)
		acpi_dsdt_pvpanic(w);
	if (cfg->vmbus)
		acpi_dsdt_vmbus(w, mem);
	aml_scope_end(w);
}

static int acpi_build_dsdt(struct acpi_blob *b, const struct acpi_config *cfg, const struct vid_memory *mem,
			   size_t *off)
{
	struct acpi_table_header h;
	struct aml_writer w;
	size_t aml_len;
	int err;

	/* The DSDT takes the rest of the area while it is written, then shrinks to its size. */
	err = acpi_blob_reserve(b, sizeof(h), off);
	if (err)
		return err;
	aml_writer_init(&w, b->buf + b->len, b->cap - b->len);
	acpi_dsdt_aml(&w, cfg, mem);
	err = aml_writer_finish(&w, &aml_len);
	if (err)
		return err;
	b->len += aml_len;

	acpi_header_fill(&h, ACPI_SIG_DSDT, sizeof(h) + aml_len, ACPI_DSDT_REVISION);
	memcpy(b->buf + *off, &h, sizeof(h));
	acpi_table_seal(b, *off);
	return 0;
}

/* The FADT's Hypervisor Vendor Identity: the bytes "OPENHV\0\0" (ACPI 6.5 5.2.9: vendor name, no version). */
static uint64_t acpi_hypervisor_vendor_identity(void)
{
	static const char id[8] = ACPI_BOARD_OEM_ID;
	uint64_t v;

	memcpy(&v, id, sizeof(v));
	return v;
}

/* ---- FADT ------------------------------------------------------------------------------------------------------ */

static int acpi_build_fadt(struct acpi_blob *b, size_t dsdt_off)
{
	struct acpi_fadt f;
	size_t off;
	int err;

	err = acpi_blob_reserve(b, sizeof(f), &off);
	if (err)
		return err;

	memset(&f, 0, sizeof(f));
	acpi_header_fill(&f.header, ACPI_SIG_FADT, sizeof(f), ACPI_FADT_REVISION);
	f.preferred_pm_profile = ACPI_PM_PROFILE_UNSPECIFIED;
	f.sci_int = LAYOUT_ACPI_SCI_IRQ;
	f.iapc_boot_arch = ACPI_BOARD_IAPC_BOOT_ARCH;
	f.flags = ACPI_BOARD_FADT_FLAGS;
	f.reset_reg = acpi_gas_io8(LAYOUT_ACPI_RESET_PORT);
	f.reset_value = LAYOUT_ACPI_RESET_VALUE;
	f.fadt_minor_version = ACPI_FADT_MINOR_REVISION;
	f.x_dsdt = acpi_blob_gpa(dsdt_off);
	f.sleep_control_reg = acpi_gas_io8(LAYOUT_ACPI_SLEEP_CTL_PORT);
	f.sleep_status_reg = acpi_gas_io8(LAYOUT_ACPI_SLEEP_STS_PORT);
	f.hypervisor_vendor_identity = acpi_hypervisor_vendor_identity();

	memcpy(b->buf + off, &f, sizeof(f));
	acpi_table_seal(b, off);
	return acpi_blob_list(b, off);
}

/* ---- MADT ------------------------------------------------------------------------------------------------------ */

static int acpi_build_madt(struct acpi_blob *b, const struct acpi_config *cfg)
{
	struct acpi_madt_io_apic ioapic = {
		.type = ACPI_MADT_TYPE_IO_APIC,
		.length = sizeof(ioapic),
		.io_apic_id = (uint8_t)cfg->vp_count,
		.io_apic_address = (uint32_t)LAYOUT_IOAPIC_GPA,
		.global_system_interrupt_base = 0,
	};
	struct acpi_madt_local_apic_nmi nmi = {
		.type = ACPI_MADT_TYPE_LOCAL_APIC_NMI,
		.length = sizeof(nmi),
		.acpi_processor_uid = 0xff, /* all processors */
		.flags = ACPI_MPS_INTI_POLARITY_CONFORMS | ACPI_MPS_INTI_TRIGGER_CONFORMS,
		.local_apic_lint = 1,
	};
	struct acpi_madt madt;
	size_t off, size, pos;
	int err;

	size = sizeof(madt) + (size_t)cfg->vp_count * sizeof(struct acpi_madt_local_apic) + sizeof(ioapic) + sizeof(nmi);
	err = acpi_blob_reserve(b, size, &off);
	if (err)
		return err;

	memset(&madt, 0, sizeof(madt));
	acpi_header_fill(&madt.header, ACPI_SIG_MADT, size, ACPI_MADT_REVISION);
	madt.local_interrupt_controller_address = (uint32_t)LAYOUT_LAPIC_GPA;
	madt.flags = ACPI_MADT_PCAT_COMPAT;
	memcpy(b->buf + off, &madt, sizeof(madt));
	pos = off + sizeof(madt);

	for (unsigned vp = 0; vp < cfg->vp_count; vp++) {
		struct acpi_madt_local_apic lapic = {
			.type = ACPI_MADT_TYPE_PROCESSOR_LOCAL_APIC,
			.length = sizeof(lapic),
			.acpi_processor_uid = (uint8_t)vp,
			.apic_id = (uint8_t)vp,
			.flags = ACPI_MADT_LAPIC_ENABLED,
		};

		memcpy(b->buf + pos, &lapic, sizeof(lapic));
		pos += sizeof(lapic);
	}
	memcpy(b->buf + pos, &ioapic, sizeof(ioapic));
	pos += sizeof(ioapic);
	memcpy(b->buf + pos, &nmi, sizeof(nmi));

	acpi_table_seal(b, off);
	return acpi_blob_list(b, off);
}

/* ---- XSDT and RSDP ------------------------------------------------------------------------------------------- */

static int acpi_build_xsdt(struct acpi_blob *b, size_t *xsdt_off)
{
	struct acpi_table_header h;
	size_t size = sizeof(h) + (size_t)b->xsdt_count * sizeof(uint64_t);
	int err;

	err = acpi_blob_reserve(b, size, xsdt_off);
	if (err)
		return err;
	acpi_header_fill(&h, ACPI_SIG_XSDT, size, ACPI_XSDT_REVISION);
	memcpy(b->buf + *xsdt_off, &h, sizeof(h));
	memcpy(b->buf + *xsdt_off + sizeof(h), b->xsdt_entries, (size_t)b->xsdt_count * sizeof(uint64_t));
	acpi_table_seal(b, *xsdt_off);
	return 0;
}

static void acpi_fill_rsdp(struct acpi_blob *b, size_t rsdp_off, size_t xsdt_off)
{
	struct acpi_rsdp r;

	memset(&r, 0, sizeof(r));
	memcpy(r.signature, ACPI_RSDP_SIGNATURE, 8);
	memcpy(r.oem_id, ACPI_BOARD_OEM_ID, 6);
	r.revision = ACPI_RSDP_REVISION;
	r.rsdt_address = 0;
	r.length = sizeof(r);
	r.xsdt_address = acpi_blob_gpa(xsdt_off);
	r.checksum = acpi_checksum((const uint8_t *)&r, ACPI_RSDP_V1_LENGTH);
	r.extended_checksum = acpi_checksum((const uint8_t *)&r, sizeof(r));
	memcpy(b->buf + rsdp_off, &r, sizeof(r));
}

int acpi_tables_build(struct vid_memory *mem, const struct acpi_config *cfg, uint64_t *rsdp_gpa)
{
	struct acpi_blob b = { .cap = LAYOUT_ACPI_SIZE };
	size_t rsdp_off, dsdt_off, xsdt_off;
	int err;

	if (!mem || !cfg || !rsdp_gpa)
		return -EINVAL;
	if (cfg->vp_count < 1 || cfg->vp_count > ACPI_BOARD_VP_MAX)
		return -EINVAL;
	if (!vid_memory_ptr(mem, LAYOUT_ACPI_GPA, LAYOUT_ACPI_SIZE))
		return -EFAULT;

	b.buf = calloc(1, b.cap);
	if (!b.buf)
		return -ENOMEM;

	err = acpi_blob_reserve(&b, sizeof(struct acpi_rsdp), &rsdp_off);
	if (!err)
		err = acpi_build_dsdt(&b, cfg, mem, &dsdt_off);
	if (!err)
		err = acpi_build_fadt(&b, dsdt_off);
	if (!err)
		err = acpi_build_madt(&b, cfg);
	if (!err)
		err = acpi_build_xsdt(&b, &xsdt_off);
	if (err) {
		log_err("building the ACPI tables failed: %d", err);
		goto out_free;
	}
	acpi_fill_rsdp(&b, rsdp_off, xsdt_off);

	err = vid_memory_write(mem, LAYOUT_ACPI_GPA, b.buf, b.cap);
	if (err)
		goto out_free;
	log_dbg("ACPI tables: %zu bytes at 0x%llx, %u VPs%s", b.len, (unsigned long long)LAYOUT_ACPI_GPA,
		cfg->vp_count, cfg->vmbus ? ", VMBus device" : "");
	*rsdp_gpa = acpi_blob_gpa(rsdp_off);
out_free:
	free(b.buf);
	return err;
}
