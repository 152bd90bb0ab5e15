/* SPDX-License-Identifier: MIT */
/*
 * Attaching to TAP devices the one way every openhv component does it
 * (netvsp's own back-end, switch ports, the management service): one frame
 * per read/write, no packet-info prefix, and when asked a virtio-net header
 * with the offloads netvsp implements (checksum, TSO over IPv4 and IPv6).
 */
#ifndef OPENHV_BASE_TUN_H
#define OPENHV_BASE_TUN_H

#include <stdbool.h>

/* Size of the header netvsp expects (struct virtio_net_hdr, no mergeable buffers). */
#define TUN_VNET_HDR_LEN 10

/*
 * Open /dev/net/tun and attach to TAP `name` (an existing interface, or a
 * kernel-chosen new one for a pattern such as "ohvp%d"). With want_vnet the
 * header and offloads are switched on (OPENHV_NETVSP_OFFLOAD=0 keeps them
 * off, =csum leaves out TSO, for comparisons); without it any offloads an
 * earlier user left on the TAP are switched off. Returns the fd (non-blocking,
 * close-on-exec) or -errno; ret_name (IFNAMSIZ bytes, may be NULL) gets the
 * interface name, *ret_vnet (may be NULL) whether the header is on.
 */
int tun_open_tap(const char *name, bool want_vnet, char *ret_name, bool *ret_vnet);

#endif
