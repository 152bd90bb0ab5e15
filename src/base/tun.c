// SPDX-License-Identifier: MIT
/* TAP attachment shared by netvsp, switch ports and openhvd (see tun.h). */
#include "base/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int tun_open_tap(const char *name, bool want_vnet, char *ret_name, bool *ret_vnet)
{
	const char *env = getenv("OPENHV_NETVSP_OFFLOAD");
	unsigned int offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	struct ifreq ifr;
	int fd, r, sz = TUN_VNET_HDR_LEN;

	if (!name || !*name || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	if (env && !strcmp(env, "0"))
		want_vnet = false;
	else if (env && !strcmp(env, "csum"))
		offloads = TUN_F_CSUM;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (want_vnet ? IFF_VNET_HDR : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		goto fail;
	if (want_vnet) {
		if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 || ioctl(fd, TUNSETOFFLOAD, offloads) < 0)
			goto fail;
	} else if (ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		/* A persistent TAP keeps an earlier user's offloads; without the
		 * header they would hand us GSO frames and unfinished checksums. */
		goto fail;
	}
	if (ret_name)
		snprintf(ret_name, IFNAMSIZ, "%.*s", IFNAMSIZ - 1, ifr.ifr_name);
	if (ret_vnet)
		*ret_vnet = want_vnet;
	return fd;
fail:
	r = -errno;
	close(fd);
	return r;
}
