/* SPDX-License-Identifier: MIT */
/*
 * VHD (Virtual Hard Disk Image Format Specification, Microsoft, 2006) on-disk
 * layouts. All fields big endian; untrusted until checked. Only layouts and
 * constants.
 *
 * Fixed:   [data][footer]
 * Dynamic: [footer copy][dynamic header][BAT][blocks...][footer]
 *          each block = sector bitmap (padded to 512) + block data
 */
#ifndef OPENHV_VHD_FORMAT_H
#define OPENHV_VHD_FORMAT_H

#include <stdint.h>

struct vhd_footer_disk {
	uint8_t cookie[8];          /* "conectix" */
	uint32_t features;          /* 2 = reserved bit, always set */
	uint32_t version;           /* 0x00010000 */
	uint64_t data_offset;       /* dynamic header offset; all ones for fixed */
	uint32_t timestamp;         /* seconds since 2000-01-01 00:00 UTC */
	uint8_t creator_app[4];
	uint32_t creator_version;
	uint8_t creator_os[4];
	uint64_t original_size;     /* bytes at creation */
	uint64_t current_size;      /* bytes */
	uint16_t cylinders;         /* CHS geometry */
	uint8_t heads;
	uint8_t sectors;
	uint32_t disk_type;         /* VHD_TYPE_* */
	uint32_t checksum;          /* ones' complement of the byte sum, this field zero */
	uint8_t unique_id[16];
	uint8_t saved_state;
	uint8_t reserved[427];
} __attribute__((packed));
_Static_assert(sizeof(struct vhd_footer_disk) == 512, "layout");
#define VHD_FOOTER_COOKIE "conectix"
#define VHD_FOOTER_SIZE 512
#define VHD_F_DATA_OFFSET 16
#define VHD_F_TIMESTAMP 24
#define VHD_F_CREATOR_APP 28
#define VHD_F_CREATOR_VER 32
#define VHD_F_CREATOR_OS 36
#define VHD_F_ORIG_SIZE 40
#define VHD_F_CUR_SIZE 48
#define VHD_F_GEOMETRY 56
#define VHD_F_TYPE 60
#define VHD_F_CHECKSUM 64
#define VHD_F_UNIQUE_ID 68

enum { VHD_TYPE_FIXED = 2, VHD_TYPE_DYNAMIC = 3, VHD_TYPE_DIFF = 4 };

struct vhd_locator_disk {
	uint8_t platform_code[4];   /* "W2ru" relative, "W2ku" absolute (UTF-16LE) */
	uint32_t data_space;        /* bytes reserved */
	uint32_t data_length;       /* bytes used */
	uint32_t reserved;
	uint64_t data_offset;       /* file offset */
} __attribute__((packed));
_Static_assert(sizeof(struct vhd_locator_disk) == 24, "layout");

struct vhd_dyn_header_disk {
	uint8_t cookie[8];          /* "cxsparse" */
	uint64_t data_offset;       /* all ones */
	uint64_t table_offset;      /* BAT file offset */
	uint32_t header_version;    /* 0x00010000 */
	uint32_t max_table_entries;
	uint32_t block_size;        /* bytes, default 2 MiB */
	uint32_t checksum;
	uint8_t parent_unique_id[16];
	uint32_t parent_timestamp;
	uint32_t reserved;
	uint8_t parent_name[512];   /* UTF-16BE */
	struct vhd_locator_disk locators[8];
	uint8_t reserved2[256];
} __attribute__((packed));
_Static_assert(sizeof(struct vhd_dyn_header_disk) == 1024, "layout");
#define VHD_DYN_COOKIE "cxsparse"
#define VHD_DYN_SIZE 1024
#define VHD_D_TABLE_OFFSET 16
#define VHD_D_MAX_ENTRIES 28
#define VHD_D_BLOCK_SIZE 32
#define VHD_D_CHECKSUM 36
#define VHD_D_PARENT_ID 40
#define VHD_D_PARENT_TS 56
#define VHD_D_PARENT_NAME 64
#define VHD_D_LOCATORS 576
#define VHD_BAT_UNUSED 0xffffffffu
#define VHD_MAX_SIZE (2040ULL << 30)  /* 2040 GiB */
/* Seconds from the Unix epoch to 2000-01-01 00:00:00 UTC. */
#define VHD_EPOCH 946684800u

#endif
