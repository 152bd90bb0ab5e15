// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the bzImage loader. Arbitrary bytes as the kernel file (and a
 * slice of them as initrd and command line) go through boot_check_bzimage()
 * and boot_linux() into a small guest memory; nothing may crash or write
 * outside guest memory (ASan watches the host side).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "boot/boot.h"
#include "gm/gm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gm *gm;
	struct boot_image img = { 0 };
	struct boot_regs regs;
	char err[256], cmdline[64];

	if (!gm && gm_create_ram(16 * MiB, 3 * GiB, &gm))
		abort();
	img.kernel = data;
	img.kernel_len = size;
	if (size > 64) {
		img.initrd = data + size / 2;
		img.initrd_len = size - size / 2;
		memcpy(cmdline, data + 8, 32);
		cmdline[32] = 0;
		img.cmdline = cmdline;
	}
	img.rsdp_gpa = 0xe0000;
	if (boot_check_bzimage(data, size, err, sizeof(err)) == 0)
		(void)boot_linux(gm, &img, &regs, err, sizeof(err));
	return 0;
}
