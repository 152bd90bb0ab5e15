/* SPDX-License-Identifier: MIT */
/*
 * MC146818-style CMOS real-time clock and NVRAM at ports 0x70/0x71. Time is
 * host UTC plus an offset; a guest that sets the clock changes the offset.
 * The periodic/alarm interrupt is not modelled (Linux does not need it to
 * boot; register C always reads 0).
 */
#ifndef OPENHV_DEV_CMOS_RTC_H
#define OPENHV_DEV_CMOS_RTC_H

#include <stdint.h>
#include <time.h>

#include "dev/iobus.h"

struct cmos_rtc {
	uint8_t index;
	uint8_t regs[128];       /* NVRAM and control registers */
	int64_t offset_sec;      /* guest time = host UTC + offset */
	time_t (*now)(void);     /* host clock; replaceable in tests */
};

extern const struct io_ops cmos_io_ops;

void cmos_init(struct cmos_rtc *rtc, int64_t offset_sec);

#define CMOS_REG_A 0x0a
#define CMOS_REG_B 0x0b
#define CMOS_REG_C 0x0c
#define CMOS_REG_D 0x0d
#define CMOS_CENTURY 0x32
#define CMOS_B_SET 0x80
#define CMOS_B_24H 0x02
#define CMOS_B_BINARY 0x04

#endif
