/* SPDX-License-Identifier: MIT */
/*
 * Receive-side scaling (vRSS) for netvsp: the state the guest programs with
 * OID_GEN_RECEIVE_SCALE_PARAMETERS (Toeplitz key, hash types, indirection
 * table of channel numbers) and the choice of a receive channel for a frame
 * from the host. Pure functions over byte buffers; frames are checked before
 * any field is read, and anything we cannot classify goes to channel 0.
 *
 * Hash input, as NDIS defines it: source address, destination address, then
 * (for TCP with a TCP hash type on) source port and destination port, all in
 * network byte order. IPv6 extension headers are not walked: such frames,
 * IPv4 fragments and non-IP frames hash by address or go to channel 0.
 */
#ifndef OPENHV_NETVSP_RSS_H
#define OPENHV_NETVSP_RSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RSS_KEY_LEN 40u      /* NDIS revision 2 key; the guest's is 40 */
#define RSS_ITAB_MAX 128u    /* indirection entries we advertise and accept */

/* NDIS hash information bits (ndis_recv_scale_param.hashinfo). */
#define RSS_HASH_FUNC_TOEPLITZ 0x00000001u
#define RSS_HASH_IPV4 0x00000100u
#define RSS_HASH_TCP_IPV4 0x00000200u
#define RSS_HASH_IPV6 0x00000400u
#define RSS_HASH_TCP_IPV6 0x00001000u

struct rss_state {
	bool on;                        /* parameters set and not disabled */
	uint32_t hashinfo;
	uint8_t key[RSS_KEY_LEN];
	uint16_t itab_len;              /* 1 .. RSS_ITAB_MAX */
	uint16_t itab[RSS_ITAB_MAX];    /* channel index per bucket */
};

/* Toeplitz hash of data[0..len) with key (at least len + 4 bytes long). */
uint32_t rss_toeplitz(const uint8_t *key, const uint8_t *data, size_t len);

/*
 * The hash of an Ethernet frame under the guest's hash types, and whether it
 * has one (false: non-IP, or a type the guest did not enable). An 802.1Q tag
 * after the MAC addresses is skipped.
 */
bool rss_frame_hash(const struct rss_state *st, const uint8_t *frame, size_t len,
		    uint32_t *ret_hash);

/* Receive channel for a frame: itab[hash % itab_len], or 0 when RSS is off
 * or the frame has no hash. */
uint16_t rss_channel(const struct rss_state *st, const uint8_t *frame, size_t len);

#endif
