/* SPDX-License-Identifier: MIT */
/*
 * TAP back-end for netvsp: an existing Linux TAP interface opened through
 * /dev/net/tun (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR with checksum and TCP
 * segmentation offloads; OPENHV_NETVSP_OFFLOAD=0 in the environment turns
 * the header and the offloads off, =csum leaves TCP segmentation of host
 * frames to the host kernel, for comparisons), a receive thread
 * that feeds host frames to netvsp_rx() with back-pressure, and the
 * interface's administrative state (IFF_UP) mirrored to the guest as the
 * link state (`ip link set IF down` on the host = cable unplugged).
 */
#ifndef OPENHV_NETVSP_TAP_H
#define OPENHV_NETVSP_TAP_H

#include <stddef.h>

#include "vsp/netvsp/netvsp.h"

struct netvsp_tap;

/*
 * Attach to the existing TAP interface ifname; one line in err on failure
 * (missing interface, no permission, in use, tun module missing). Returns 0
 * or -errno.
 */
int netvsp_tap_open(const char *ifname, struct netvsp_tap **ret, char *err, size_t errlen);
/* Use an already open descriptor (a socketpair in tests); takes ownership.
 * ifname may be NULL: then no link-state polling and no MTU changes. A TAP
 * fd opened with IFF_VNET_HDR is used with the header (TUNGETIFF tells). */
int netvsp_tap_from_fd(int fd, const char *ifname, struct netvsp_tap **ret);
/* Same, saying whether frames carry a virtio-net header (-1 = ask the fd). */
int netvsp_tap_from_fd_vnet(int fd, const char *ifname, int vnet, struct netvsp_tap **ret);
/* The netvsp back-end ops for this TAP. */
void netvsp_tap_backend(struct netvsp_tap *t, struct netvsp_backend *ret_be);
/* Start the receive thread feeding nv. 0 or -errno. */
int netvsp_tap_start(struct netvsp_tap *t, struct netvsp *nv);
/* Stop the receive thread (idempotent); nv may be freed afterwards. */
void netvsp_tap_stop(struct netvsp_tap *t);
/* Stop, close and free. NULL ok. */
void netvsp_tap_free(struct netvsp_tap *t);

#endif
