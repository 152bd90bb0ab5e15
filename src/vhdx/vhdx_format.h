/* SPDX-License-Identifier: MIT */
/*
 * VHDX on-disk layouts (MS-VHDX v1.0). Everything here is raw, little endian
 * and untrusted: parsers copy a structure out of the file, check it, then
 * decode fields with ld_le*(). Only layouts and constants; no code.
 *
 * File layout (section 2.1): a 1 MiB header section holding the file type
 * identifier (0), header 1 (64 KiB), header 2 (128 KiB), region table 1
 * (192 KiB) and region table 2 (256 KiB); then, anywhere at 1 MiB alignment,
 * the log, the BAT region, the metadata region and the payload / sector
 * bitmap blocks.
 */
#ifndef OPENHV_VHDX_FORMAT_H
#define OPENHV_VHDX_FORMAT_H

#include <stdint.h>

#define VHDX_KiB 1024ULL
#define VHDX_MiB (1024ULL * 1024)

/* Section 2.2 */
#define VHDX_HEADER_SECTION_SIZE (1 * VHDX_MiB)
#define VHDX_FILE_ID_OFF 0
#define VHDX_HEADER1_OFF (64 * VHDX_KiB)
#define VHDX_HEADER2_OFF (128 * VHDX_KiB)
#define VHDX_REGION1_OFF (192 * VHDX_KiB)
#define VHDX_REGION2_OFF (256 * VHDX_KiB)
#define VHDX_HEADER_SIZE (4 * VHDX_KiB)        /* checksummed part of a 64 KiB slot */
#define VHDX_REGION_TABLE_SIZE (64 * VHDX_KiB)
#define VHDX_ALIGN VHDX_MiB                    /* regions, blocks: 1 MiB aligned */

/* 2.2.1 File type identifier */
struct vhdx_file_id_disk {
	uint8_t signature[8];   /* "vhdxfile" */
	uint8_t creator[512];   /* UTF-16LE, informational */
};
_Static_assert(sizeof(struct vhdx_file_id_disk) == 520, "layout");
#define VHDX_FILE_SIGNATURE "vhdxfile"

/* 2.2.2 Header */
struct vhdx_header_disk {
	uint32_t signature;        /* "head" */
	uint32_t checksum;         /* CRC-32C over the 4 KiB header, this field zero */
	uint64_t sequence_number;  /* the valid header with the larger value is current */
	uint8_t file_write_guid[16]; /* changed on the first file write after open */
	uint8_t data_write_guid[16]; /* changed on the first user-visible data write */
	uint8_t log_guid[16];      /* zero: log empty; else entries must carry this guid */
	uint16_t log_version;      /* 0 */
	uint16_t version;          /* 1 */
	uint32_t log_length;       /* bytes, multiple of 1 MiB */
	uint64_t log_offset;       /* bytes, multiple of 1 MiB, >= 1 MiB */
	uint8_t reserved[4016];
};
_Static_assert(sizeof(struct vhdx_header_disk) == 4096, "layout");
#define VHDX_HEADER_SIGNATURE 0x64616568u      /* "head" */
#define VHDX_HDR_SEQ_OFF 8
#define VHDX_HDR_FWG_OFF 16
#define VHDX_HDR_DWG_OFF 32
#define VHDX_HDR_LOG_GUID_OFF 48
#define VHDX_HDR_LOG_VERSION_OFF 64
#define VHDX_HDR_VERSION_OFF 66
#define VHDX_HDR_LOG_LENGTH_OFF 68
#define VHDX_HDR_LOG_OFFSET_OFF 72

/* 2.2.3 Region table */
struct vhdx_region_header_disk {
	uint32_t signature;        /* "regi" */
	uint32_t checksum;         /* CRC-32C over the 64 KiB table, this field zero */
	uint32_t entry_count;      /* <= 2047 */
	uint32_t reserved;
};
_Static_assert(sizeof(struct vhdx_region_header_disk) == 16, "layout");
#define VHDX_REGION_SIGNATURE 0x69676572u      /* "regi" */
#define VHDX_REGION_MAX_ENTRIES 2047

struct vhdx_region_entry_disk {
	uint8_t guid[16];          /* BAT, metadata, or unknown */
	uint64_t file_offset;      /* bytes, 1 MiB aligned */
	uint32_t length;           /* bytes, multiple of 1 MiB */
	uint32_t flags;            /* bit 0: required (unknown required region: refuse) */
};
_Static_assert(sizeof(struct vhdx_region_entry_disk) == 32, "layout");
#define VHDX_REGION_REQUIRED 1u

/* 2.3 Log */
struct vhdx_log_entry_header_disk {
	uint32_t signature;        /* "loge" */
	uint32_t checksum;         /* CRC-32C over entry_length bytes, this field zero */
	uint32_t entry_length;     /* bytes, multiple of 4 KiB */
	uint32_t tail;             /* log offset of the oldest entry of this sequence */
	uint64_t sequence_number;  /* > 0, +1 per entry of a sequence */
	uint32_t descriptor_count;
	uint32_t reserved;
	uint8_t log_guid[16];      /* must equal the header's LogGuid */
	uint64_t flushed_file_offset; /* file size known durable when written */
	uint64_t last_file_offset;    /* file size needed by the structures */
};
_Static_assert(sizeof(struct vhdx_log_entry_header_disk) == 64, "layout");
#define VHDX_LOG_ENTRY_SIGNATURE 0x65676f6cu   /* "loge" */
#define VHDX_LOG_SECTOR 4096u

struct vhdx_log_descriptor_disk {
	uint32_t signature;        /* "zero" or "desc" */
	uint32_t trailing_bytes;   /* desc: last 4 bytes of the sector; zero: reserved */
	uint64_t leading_bytes;    /* desc: first 8 bytes of the sector; zero: length */
	uint64_t file_offset;      /* 4 KiB aligned */
	uint64_t sequence_number;  /* equals the entry's */
};
_Static_assert(sizeof(struct vhdx_log_descriptor_disk) == 32, "layout");
#define VHDX_LOG_ZERO_SIGNATURE 0x6f72657au    /* "zero" */
#define VHDX_LOG_DESC_SIGNATURE 0x63736564u    /* "desc" */

struct vhdx_log_data_sector_disk {
	uint32_t signature;        /* "data" */
	uint32_t sequence_high;
	uint8_t data[4084];        /* bytes 8..4091 of the sector being logged */
	uint32_t sequence_low;
};
_Static_assert(sizeof(struct vhdx_log_data_sector_disk) == 4096, "layout");
#define VHDX_LOG_DATA_SIGNATURE 0x61746164u    /* "data" */

/* 2.5 BAT entries: state in bits 0-2, file offset in MiB in bits 20-63. */
#define VHDX_BAT_STATE_MASK 7u
#define VHDX_BAT_OFFSET_SHIFT 20
#define VHDX_BAT_RESERVED_MASK 0xffff8ULL     /* bits 3-19 must be zero */
enum {
	VHDX_PAYLOAD_NOT_PRESENT = 0,
	VHDX_PAYLOAD_UNDEFINED = 1,
	VHDX_PAYLOAD_ZERO = 2,
	VHDX_PAYLOAD_UNMAPPED = 3,
	VHDX_PAYLOAD_FULLY_PRESENT = 6,
	VHDX_PAYLOAD_PARTIALLY_PRESENT = 7,
	VHDX_SB_NOT_PRESENT = 0,
	VHDX_SB_PRESENT = 6,
};
#define VHDX_SECTOR_BITMAP_BLOCK VHDX_MiB     /* covers 2^23 logical sectors */
#define VHDX_SECTORS_PER_BITMAP (1ULL << 23)

/* 2.6 Metadata region */
struct vhdx_meta_header_disk {
	uint8_t signature[8];      /* "metadata" */
	uint16_t reserved;
	uint16_t entry_count;      /* <= 2047 */
	uint32_t reserved2[5];
};
_Static_assert(sizeof(struct vhdx_meta_header_disk) == 32, "layout");
#define VHDX_META_SIGNATURE "metadata"
#define VHDX_META_TABLE_SIZE (64 * VHDX_KiB)
#define VHDX_META_MAX_ENTRIES 2047

struct vhdx_meta_entry_disk {
	uint8_t item_id[16];
	uint32_t offset;           /* from the region start, >= 64 KiB, or 0 if length 0 */
	uint32_t length;           /* bytes, <= 1 MiB */
	uint32_t flags;            /* bit 0 user, bit 1 virtual disk, bit 2 required */
	uint32_t reserved;
};
_Static_assert(sizeof(struct vhdx_meta_entry_disk) == 32, "layout");
#define VHDX_META_IS_USER 1u
#define VHDX_META_IS_VIRTUAL_DISK 2u
#define VHDX_META_IS_REQUIRED 4u

/* 2.6.2.1 File parameters item */
struct vhdx_file_params_disk {
	uint32_t block_size;       /* 1 MiB..256 MiB, power of two */
	uint32_t flags;            /* bit 0 leave blocks allocated, bit 1 has parent */
};
_Static_assert(sizeof(struct vhdx_file_params_disk) == 8, "layout");
#define VHDX_PARAMS_LEAVE_ALLOCATED 1u
#define VHDX_PARAMS_HAS_PARENT 2u
#define VHDX_BLOCK_MIN VHDX_MiB
#define VHDX_BLOCK_MAX (256 * VHDX_MiB)
#define VHDX_MAX_SIZE (64ULL * 1024 * 1024 * VHDX_MiB)   /* 64 TiB */

/* 2.6.2.6 Parent locator item */
struct vhdx_locator_header_disk {
	uint8_t locator_type[16];  /* VHDX_LOCATOR_TYPE_VHDX */
	uint16_t reserved;
	uint16_t key_value_count;
};
_Static_assert(sizeof(struct vhdx_locator_header_disk) == 20, "layout");

struct vhdx_locator_entry_disk {
	uint32_t key_offset;       /* from the item start, UTF-16LE */
	uint32_t value_offset;
	uint16_t key_length;       /* bytes */
	uint16_t value_length;
};
_Static_assert(sizeof(struct vhdx_locator_entry_disk) == 12, "layout");

/*
 * GUIDs in on-disk byte order: the first three fields little endian, the last
 * eight bytes as written.
 */
#define VHDX_GUID(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                                  \
	{ (uint8_t)(a), (uint8_t)((a) >> 8), (uint8_t)((a) >> 16), (uint8_t)((a) >> 24),   \
	  (uint8_t)(b), (uint8_t)((b) >> 8), (uint8_t)(c), (uint8_t)((c) >> 8),            \
	  d0, d1, d2, d3, d4, d5, d6, d7 }

#define VHDX_GUID_BAT_REGION \
	VHDX_GUID(0x2DC27766, 0xF623, 0x4200, 0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08)
#define VHDX_GUID_METADATA_REGION \
	VHDX_GUID(0x8B7CA206, 0x4790, 0x4B9A, 0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E)
#define VHDX_GUID_FILE_PARAMS \
	VHDX_GUID(0xCAA16737, 0xFA36, 0x4D43, 0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B)
#define VHDX_GUID_VIRTUAL_DISK_SIZE \
	VHDX_GUID(0x2FA54224, 0xCD1B, 0x4876, 0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8)
#define VHDX_GUID_PAGE83 \
	VHDX_GUID(0xBECA12AB, 0xB2E6, 0x4523, 0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46)
#define VHDX_GUID_LOGICAL_SECTOR \
	VHDX_GUID(0x8141BF1D, 0xA96F, 0x4709, 0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F)
#define VHDX_GUID_PHYSICAL_SECTOR \
	VHDX_GUID(0xCDA348C7, 0x445D, 0x4471, 0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56)
#define VHDX_GUID_PARENT_LOCATOR \
	VHDX_GUID(0xA8D35F2D, 0xB30B, 0x454D, 0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C)
#define VHDX_GUID_LOCATOR_TYPE_VHDX \
	VHDX_GUID(0xB04AEFB7, 0xD19E, 0x4A81, 0xB7, 0x89, 0x25, 0xB8, 0xE9, 0x44, 0x59, 0x13)

#endif
