/* SPDX-License-Identifier: MIT */
/*
 * boot/aml.h - a small writer of ACPI Machine Language (AML), enough to build a DSDT/SSDT in C.
 *
 * Follows ACPI 6.5 chapter 20 (AML grammar) and 6.4 (resource descriptors). The writer appends AML to a buffer the
 * caller owns. Objects with a PkgLength (Scope, Device, Method, Package, Buffer) are opened with *_begin and closed
 * with the matching *_end; the PkgLength is written at close time in its shortest form (1-4 bytes), moving the body
 * up as needed, so callers never compute lengths.
 *
 * Errors are sticky: the first failure (-ENOSPC when the buffer is full or a PkgLength would exceed 2^28-1 bytes,
 * -EINVAL for a malformed name/ID/argument or a mismatched *_end) is recorded in the writer, every later call does
 * nothing and returns it, and aml_writer_finish() reports it. So a builder can emit a whole table and check once.
 *
 * Typical use:
 *	aml_scope_begin(w, "\\_SB");
 *	aml_device_begin(w, "COM1");
 *	aml_name_eisaid(w, "_HID", "PNP0501");
 *	aml_resources_init(&res); aml_res_io(&res, 0x3f8, 0x3f8, 1, 8); aml_res_irq(&res, 4);
 *	aml_name(w, "_CRS"); aml_resource_template(w, &res);
 *	aml_device_end(w);
 *	aml_scope_end(w);
 *	err = aml_writer_finish(w, &len);
 *
 * Not thread-safe; one writer per thread. No allocation.
 */
#ifndef OPENHV_BOOT_AML_H
#define OPENHV_BOOT_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16 /* nesting of open Scope/Device/Method/Package/Buffer objects */

/* What an open PkgLength belongs to, so *_end can check it closes the right object. */
enum aml_open_kind {
	AML_OPEN_PKG = 0,  /* a raw aml_pkg_begin() */
	AML_OPEN_SCOPE,
	AML_OPEN_DEVICE,
	AML_OPEN_METHOD,
	AML_OPEN_PACKAGE,
};

struct aml_writer {
	uint8_t *buf;     /* borrowed from the caller */
	size_t cap;       /* bytes */
	size_t len;       /* bytes written so far */
	int err;          /* first error (sticky), 0 if none */
	unsigned depth;   /* open objects */
	size_t open_at[AML_MAX_DEPTH];             /* offset where each open object's PkgLength goes */
	enum aml_open_kind open_kind[AML_MAX_DEPTH];
};

/* Start writing into @buf of @cap bytes (the writer borrows it; nothing is written beyond @cap). */
void aml_writer_init(struct aml_writer *w, void *buf, size_t cap);

/*
 * End writing: 0 and the AML length in bytes in *@len (may be NULL), or the sticky error; -EINVAL if objects are
 * still open.
 */
int aml_writer_finish(struct aml_writer *w, size_t *len);

/* ---- PkgLength (20.2.4) ---- */

/*
 * Encode the PkgLength value @value (which counts the PkgLength bytes themselves plus the body) into @out in the
 * shortest form that holds it: 1 byte up to 63, 2 bytes up to 2^12-1, 3 up to 2^20-1, 4 up to 2^28-1.
 * Returns the byte count (1-4), or -EINVAL if @value > AML_PKGLENGTH_MAX.
 */
int aml_pkglength_encode(uint32_t value, uint8_t out[4]);

/*
 * Number of PkgLength bytes (1-4) needed in front of a body of @body_len bytes, i.e. the smallest n for which
 * n + @body_len fits the n-byte form; -ENOSPC if no form holds it.
 */
int aml_pkglength_size(size_t body_len);

/* Open/close a raw PkgLength at the current position (for opcodes without a helper below). */
int aml_pkg_begin(struct aml_writer *w);
int aml_pkg_end(struct aml_writer *w);

/* ---- Data objects ---- */

/* Append raw bytes (an opcode the helpers lack). */
int aml_raw(struct aml_writer *w, const void *data, size_t len);

/*
 * A NameString (20.2.2): optional root '\' or parent '^' prefixes, then NameSegs separated by '.'. Each NameSeg is
 * 1-4 characters [A-Z_][A-Z0-9_]*, padded with '_' (so "RTC" is "RTC_"). "\" alone is the root. -EINVAL otherwise.
 */
int aml_name_string(struct aml_writer *w, const char *path);

/* An integer in the shortest encoding: ZeroOp, OneOp, Byte/Word/DWord/QWord prefix. (OnesOp is never used: its
 * value depends on the table revision.) */
int aml_integer(struct aml_writer *w, uint64_t value);

/* A String: ASCII 0x01-0x7f only (-EINVAL otherwise), NUL-terminated in AML. */
int aml_string(struct aml_writer *w, const char *s);

/* Compress a 7-character EISA/PNP ID ("PNP0501": 3 letters A-Z, 4 hex digits 0-9A-F) into the 32-bit value ASL's
 * EISAID() produces. 0 or -EINVAL. */
int aml_eisaid_encode(const char *id, uint32_t *out);

/* EISAID(@id) as a DWordConst (always 5 bytes, as iasl emits it). */
int aml_eisaid(struct aml_writer *w, const char *id);

/* Buffer(@len) { @data } (BufferSize as the shortest integer). @data may be NULL only if @len is 0. */
int aml_buffer(struct aml_writer *w, const void *data, size_t len);

/* Package(@count) { ... }: emit exactly @count elements (integers, strings, names, nested packages) between begin
 * and end. @count <= 255 (VarPackage is not supported). */
int aml_package_begin(struct aml_writer *w, unsigned count);
int aml_package_end(struct aml_writer *w);

/* ---- Named objects and scopes ---- */

/* Name(@name, <object>): emits NameOp and the name; the caller then emits exactly one data object. */
int aml_name(struct aml_writer *w, const char *name);

/* Shorthands: Name(@name, @value), Name(@name, "@s"), Name(@name, EISAID("@id")). */
int aml_name_integer(struct aml_writer *w, const char *name, uint64_t value);
int aml_name_str(struct aml_writer *w, const char *name, const char *s);
int aml_name_eisaid(struct aml_writer *w, const char *name, const char *id);

/* Scope(@path) { ... } */
int aml_scope_begin(struct aml_writer *w, const char *path);
int aml_scope_end(struct aml_writer *w);

/* Device(@name) { ... } */
int aml_device_begin(struct aml_writer *w, const char *name);
int aml_device_end(struct aml_writer *w);

/* Method(@name, @nargs (0-7), Serialized/NotSerialized) { ... } with SyncLevel 0. */
int aml_method_begin(struct aml_writer *w, const char *name, unsigned nargs, bool serialized);
int aml_method_end(struct aml_writer *w);

/* Return (<object>): emits ReturnOp; the caller then emits the object. */
int aml_return(struct aml_writer *w);

/* Method (@name, 0, NotSerialized) { Return (@value) }: a method that returns a constant integer (e.g. _STA). */
int aml_method_return_integer(struct aml_writer *w, const char *name, uint64_t value);

/* ---- Resource templates (6.4) ---- */

#define AML_RESOURCES_MAX 512 /* bytes of descriptors in one template, EndTag included */

/* A resource template under construction, emitted into AML with aml_resource_template(). Same sticky errors. */
struct aml_resources {
	uint8_t data[AML_RESOURCES_MAX];
	size_t len;
	int err;
};

/* _MEM values of address space descriptors */
enum aml_mem_cache {
	AML_MEM_NON_CACHEABLE = 0,
	AML_MEM_CACHEABLE = 1,
	AML_MEM_WRITE_COMBINING = 2,
	AML_MEM_PREFETCHABLE = 3,
};

void aml_resources_init(struct aml_resources *r);

/* IO(Decode16, @min, @max, @align, @len): I/O port range descriptor. -EINVAL if @min > @max. */
int aml_res_io(struct aml_resources *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len);

/* IRQNoFlags() { @irq }: 2-byte-mask IRQ descriptor, meaning edge-triggered, active-high, exclusive. @irq 0-15. */
int aml_res_irq(struct aml_resources *r, unsigned irq);

/* IRQ(...) { @irq } with an information byte of ACPI_RES_IRQ_* bits (EDGE, ACTIVE_LOW, SHARED). @irq 0-15. */
int aml_res_irq_flags(struct aml_resources *r, unsigned irq, uint8_t info);

/* Memory32Fixed(ReadWrite|ReadOnly, @base, @len) */
int aml_res_memory32_fixed(struct aml_resources *r, bool writable, uint32_t base, uint32_t len);

/*
 * DWordMemory(@consumer ? ResourceConsumer : ResourceProducer, PosDecode, MinFixed, MaxFixed, @cache,
 * @writable ? ReadWrite : ReadOnly, granularity 0, @base, @base + @len - 1, translation 0, @len): a fixed 32-bit
 * memory window (ACPI 6.5 6.4.3.5.2). -EINVAL if @len is 0 or the range passes 4 GiB.
 */
int aml_res_dword_memory(struct aml_resources *r, bool consumer, enum aml_mem_cache cache, bool writable,
			 uint32_t base, uint32_t len);

/*
 * QWordMemory(@consumer ? ResourceConsumer : ResourceProducer, PosDecode, MinFixed, MaxFixed, @cache,
 * @writable ? ReadWrite : ReadOnly, granularity 0, @base, @base + @len - 1, translation 0, @len): a fixed 64-bit
 * memory window. -EINVAL if @len is 0 or the range wraps.
 */
int aml_res_qword_memory(struct aml_resources *r, bool consumer, enum aml_mem_cache cache, bool writable,
			 uint64_t base, uint64_t len);

/*
 * Emit ResourceTemplate() { ... } for @r: a Buffer holding @r's descriptors followed by an EndTag whose checksum
 * makes the template's bytes sum to 0. Fails with @r's sticky error if building it failed. @r is not modified (it
 * can be emitted again, or extended).
 */
int aml_resource_template(struct aml_writer *w, struct aml_resources *r);

#endif
