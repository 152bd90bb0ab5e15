// SPDX-License-Identifier: MIT
#include "dev/cmos_rtc.h"

#include <string.h>

static time_t cmos_host_now(void)
{
	return time(NULL);
}

static uint8_t to_bcd(const struct cmos_rtc *rtc, int v)
{
	if (rtc->regs[CMOS_REG_B] & CMOS_B_BINARY)
		return (uint8_t)v;
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int from_bcd(const struct cmos_rtc *rtc, uint8_t v)
{
	if (rtc->regs[CMOS_REG_B] & CMOS_B_BINARY)
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

/* Fill the time registers from host time + offset. */
static void cmos_latch_time(struct cmos_rtc *rtc)
{
	time_t t = rtc->now() + (time_t)rtc->offset_sec;
	struct tm tm;
	int hour;

	gmtime_r(&t, &tm);
	hour = tm.tm_hour;
	rtc->regs[0] = to_bcd(rtc, tm.tm_sec);
	rtc->regs[2] = to_bcd(rtc, tm.tm_min);
	if (rtc->regs[CMOS_REG_B] & CMOS_B_24H) {
		rtc->regs[4] = to_bcd(rtc, hour);
	} else {
		int h12 = hour % 12 ? hour % 12 : 12;
		rtc->regs[4] = (uint8_t)(to_bcd(rtc, h12) | (hour >= 12 ? 0x80 : 0));
	}
	rtc->regs[6] = to_bcd(rtc, tm.tm_wday + 1);
	rtc->regs[7] = to_bcd(rtc, tm.tm_mday);
	rtc->regs[8] = to_bcd(rtc, tm.tm_mon + 1);
	rtc->regs[9] = to_bcd(rtc, tm.tm_year % 100);
	rtc->regs[CMOS_CENTURY] = to_bcd(rtc, 19 + tm.tm_year / 100);
}

/* The guest finished setting the clock: derive the new offset from the registers. */
static void cmos_commit_time(struct cmos_rtc *rtc)
{
	struct tm tm = { 0 };
	int hour = rtc->regs[4];
	time_t t;

	tm.tm_sec = from_bcd(rtc, rtc->regs[0]);
	tm.tm_min = from_bcd(rtc, rtc->regs[2]);
	if (rtc->regs[CMOS_REG_B] & CMOS_B_24H) {
		tm.tm_hour = from_bcd(rtc, (uint8_t)hour);
	} else {
		tm.tm_hour = from_bcd(rtc, (uint8_t)(hour & 0x7f)) % 12 + ((hour & 0x80) ? 12 : 0);
	}
	tm.tm_mday = from_bcd(rtc, rtc->regs[7]);
	tm.tm_mon = from_bcd(rtc, rtc->regs[8]) - 1;
	tm.tm_year = from_bcd(rtc, rtc->regs[CMOS_CENTURY]) * 100 + from_bcd(rtc, rtc->regs[9]) - 1900;
	/* SECURITY: nonsense values from the guest just give a nonsense (but bounded) offset. */
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_year < 70 ||
	    tm.tm_year > 1100)
		return;
	t = timegm(&tm);
	if (t != (time_t)-1)
		rtc->offset_sec = (int64_t)(t - rtc->now());
}

static uint32_t cmos_read(void *dev, uint16_t off, unsigned int size)
{
	struct cmos_rtc *rtc = dev;
	uint8_t idx = rtc->index & 0x7f;

	if (off == 0)
		return 0xff;
	switch (idx) {
	case 0: case 2: case 4: case 6: case 7: case 8: case 9: case CMOS_CENTURY:
		if (!(rtc->regs[CMOS_REG_B] & CMOS_B_SET))
			cmos_latch_time(rtc);
		return rtc->regs[idx];
	case CMOS_REG_A:
		return rtc->regs[CMOS_REG_A] & 0x7f; /* update-in-progress never set */
	case CMOS_REG_C:
		return 0;
	case CMOS_REG_D:
		return 0x80; /* battery good */
	}
	(void)size;
	return rtc->regs[idx];
}

static void cmos_write(void *dev, uint16_t off, unsigned int size, uint32_t val32)
{
	struct cmos_rtc *rtc = dev;
	uint8_t val = (uint8_t)val32, idx;

	if (off == 0) {
		rtc->index = val; /* bit 7 is the NMI mask; ignored */
		return;
	}
	idx = rtc->index & 0x7f;
	switch (idx) {
	case CMOS_REG_B:
		if (!(val & CMOS_B_SET) && (rtc->regs[CMOS_REG_B] & CMOS_B_SET)) {
			rtc->regs[CMOS_REG_B] = val;
			cmos_commit_time(rtc);
			return;
		}
		if ((val & CMOS_B_SET) && !(rtc->regs[CMOS_REG_B] & CMOS_B_SET)) {
			rtc->regs[CMOS_REG_B] = val;
			cmos_latch_time(rtc);
			return;
		}
		rtc->regs[CMOS_REG_B] = val;
		return;
	case CMOS_REG_C:
	case CMOS_REG_D:
		return; /* read-only */
	}
	(void)size;
	rtc->regs[idx] = val;
}

const struct io_ops cmos_io_ops = { .read = cmos_read, .write = cmos_write };

void cmos_init(struct cmos_rtc *rtc, int64_t offset_sec)
{
	memset(rtc, 0, sizeof(*rtc));
	rtc->offset_sec = offset_sec;
	rtc->now = cmos_host_now;
	rtc->regs[CMOS_REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
	rtc->regs[CMOS_REG_B] = CMOS_B_24H;
}
