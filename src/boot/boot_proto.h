/* SPDX-License-Identifier: MIT */
/*
 * The x86 Linux boot protocol (Documentation/x86/boot.rst, protocol 2.15):
 * offsets into the zero page ("boot_params") and its embedded setup header.
 * Layout only, no code.
 */
#ifndef OPENHV_BOOT_PROTO_H
#define OPENHV_BOOT_PROTO_H

/* struct boot_params fields (offsets from the start of the zero page). */
#define BP_ACPI_RSDP_ADDR 0x070   /* u64, protocol 2.14+ */
#define BP_EXT_RAMDISK_IMAGE 0x0c0 /* u32: high 32 bits of ramdisk_image */
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8     /* u8 */
#define BP_HDR 0x1f1              /* setup header starts here */
#define BP_E820_TABLE 0x2d0       /* 128 entries of 20 bytes */
#define BP_E820_MAX 128
#define BP_SIZE 4096

/* Setup header fields (offsets from the start of the zero page / bzImage). */
#define SH_SETUP_SECTS 0x1f1      /* u8, 0 means 4 */
#define SH_SYSSIZE 0x1f4          /* u32, protected-mode size in 16-byte units */
#define SH_VID_MODE 0x1fa         /* u16 */
#define SH_BOOT_FLAG 0x1fe        /* u16 = 0xaa55 */
#define SH_JUMP 0x200             /* u16; byte 0x201 = end of header - 0x202 */
#define SH_HEADER 0x202           /* "HdrS" */
#define SH_VERSION 0x206          /* u16 */
#define SH_TYPE_OF_LOADER 0x210   /* u8 */
#define SH_LOADFLAGS 0x211        /* u8 */
#define SH_CODE32_START 0x214     /* u32 */
#define SH_RAMDISK_IMAGE 0x218    /* u32 */
#define SH_RAMDISK_SIZE 0x21c     /* u32 */
#define SH_HEAP_END_PTR 0x224     /* u16 */
#define SH_CMD_LINE_PTR 0x228     /* u32 */
#define SH_INITRD_ADDR_MAX 0x22c  /* u32 */
#define SH_KERNEL_ALIGNMENT 0x230 /* u32 */
#define SH_RELOCATABLE 0x234      /* u8 */
#define SH_CMDLINE_SIZE 0x238     /* u32, protocol 2.06+ */
#define SH_XLOADFLAGS 0x236       /* u16, protocol 2.12+ */
#define SH_PREF_ADDRESS 0x258     /* u64 */
#define SH_INIT_SIZE 0x260        /* u32 */

#define HDRS_MAGIC 0x53726448     /* "HdrS" */
#define LOADFLAG_LOADED_HIGH 0x01
#define LOADFLAG_KEEP_SEGMENTS 0x40
#define LOADFLAG_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x0001
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x0002
#define LOADER_TYPE_UNDEFINED 0xff

/* e820 entry types. */
#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3

#endif
