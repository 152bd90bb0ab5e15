/* SPDX-License-Identifier: MIT */
/*
 * VMBus server (host side of the VMBus channel-management protocol) and the
 * API VSPs use: device registration with class/instance GUIDs, offers,
 * version negotiation, GPADLs, open/close, rescind, unload/reconnect, and the
 * per-channel ring buffers with their signalling rules.
 *
 * Not included: the SynIC itself. The server talks to it through
 * struct vmbus_host_ops (hv/ implements it in the worker; tests use a fake),
 * so this module has no dependency on hv/ or KVM. No monitor pages (every
 * offer has monitor_allocated = 0), no hv_sock (TL_CONNECT is ignored).
 *
 * Spec: hyperv-guest-interface.md §3 (messages and sequences), §4 (rings),
 * checked against Linux 6.1 drivers/hv/{connection,channel_mgmt,channel,
 * ring_buffer}.c.
 *
 * Threads:
 *  - vmbus_server_post_message() and vmbus_server_signal_event() are the hv
 *    port handlers. They run on vCPU threads, never block on VSP work: a
 *    message is copied into a bounded inbox (full -> the guest is told
 *    INSUFFICIENT_BUFFERS and retries), a signal sets an atomic per-relid bit;
 *    both then call ops->wake so the event loop runs vmbus_server_process().
 *  - vmbus_server_process() runs on the VM's event-loop thread (one per VM,
 *    woken by an eventfd the integrator writes in ops->wake). It handles the
 *    queued control messages in order, then drains the rings of signalled
 *    channels and calls the VSP callbacks.
 *  - Every other function takes the server lock, a recursive mutex, so VSP
 *    callbacks can send packets and host-side APIs (IC requests) may be
 *    called from other threads. VSP callbacks run with the lock held and
 *    must not block; they must not call vmbus_server_reset()/free().
 * This module does not log; it counts protocol errors in struct vmbus_stats.
 */
#ifndef OPENHV_VMBUS_H
#define OPENHV_VMBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"
#include "gm/gm.h"
#include "vmbus/vmbus_proto.h"

struct vmbus_server;
struct vmbus_chan;
struct vmbus_dev;

/* Side effects, provided by the integrator (SynIC of hv/) or a test fake. */
struct vmbus_host_ops {
	/* Post a SynIC message (type 1) with this VMBus message as payload. */
	int (*post_msg)(void *opaque, uint32_t vp_index, uint8_t sint, const void *msg,
			size_t len);
	/* Set event flag `flag` in the SIEFP bitmap of (vp, sint) and interrupt. */
	int (*signal_event)(void *opaque, uint32_t vp_index, uint8_t sint, uint32_t flag);
	/* Optional: drop messages still queued for (vp, sint); called when a
	 * guest (re)connects so a new kernel never sees the old one's messages. */
	void (*flush_msgs)(void *opaque, uint32_t vp_index, uint8_t sint);
	/* Optional: the guest produced work; run vmbus_server_process() soon.
	 * Called from vCPU threads without any vmbus lock held. */
	void (*wake)(void *opaque);
	/* Optional: a channel with this HvSignalEvent connection id was opened
	 * (on = true) or closed (on = false) by the guest, so the integrator can
	 * route that id's signals straight to the event loop (a doorbell that
	 * ends in vmbus_server_signal_event()). Called on the event-loop thread
	 * (or from vmbus_server_free/device removal) with the server lock held. */
	void (*doorbell)(void *opaque, uint32_t connection_id, bool on);
};

struct vmbus_server_config {
	uint32_t vp_count;    /* target VPs the guest may name: 0..vp_count-1 */
	uint32_t max_version; /* newest version to accept; 0 = VMBUS_VERSION_WIN10_V5_3 */
};

/* A packet copied out of the guest->host ring; valid during the callback. */
struct vmbus_pkt {
	uint16_t type;            /* VMBUS_PKT_* */
	uint16_t flags;           /* VMBUS_PKT_FLAG_COMPLETION_REQUESTED */
	uint64_t trans_id;
	const uint8_t *data;      /* whole packet, descriptor included */
	uint32_t len;             /* len8 * 8 */
	const uint8_t *payload;   /* data + offset8 * 8 */
	uint32_t payload_len;
};

/* A device class (VSP). Registered explicitly with vmbus_server_add_device(). */
struct vmbus_dev_class {
	const char *name;
	uint8_t class_guid[16];    /* if_type, raw wire bytes */
	uint32_t max_pkt_size;     /* largest host->guest packet the guest driver
				    * accepts, descriptor included; 0 = 4096 */
	/* The guest opened the channel. Return 0, or -errno to fail the open. */
	int (*open)(struct vmbus_chan *chan, const uint8_t userdata[120]);
	/* Optional: called right after OPENCHANNEL_RESULT(success) was posted;
	 * the place to send the first host-initiated packet. */
	void (*start)(struct vmbus_chan *chan);
	/* The channel closed (guest close, rescind, unload, reset). */
	void (*close)(struct vmbus_chan *chan);
	/* A guest packet. Return 0, or -EPROTO to put the channel in the broken
	 * state (no more reads until it is reopened). */
	int (*packet)(struct vmbus_chan *chan, const struct vmbus_pkt *pkt);
	/* Optional: space freed in the host->guest ring after send() said -EAGAIN. */
	void (*writable)(struct vmbus_chan *chan);
	/*
	 * The guest driver reads every packet per interrupt (storvsc does;
	 * some hv_utils callbacks read only one): packets sent while the
	 * server drains this channel's inbound ring then get one signal at the
	 * end of the drain, if the guest has not masked its ring by then,
	 * instead of one each.
	 */
	bool batch_signals;
};

struct vmbus_stats {
	uint64_t msgs_in, msgs_bad, msgs_out, msgs_out_failed, inbox_full;
	uint64_t signals_in, signals_out, pkts_in, pkts_out, ring_full, chan_broken;
};

/* Create / destroy. gm and ops must outlive the server. 0, -EINVAL, -ENOMEM. */
int vmbus_server_new(const struct gm *gm, const struct vmbus_server_config *cfg,
		     const struct vmbus_host_ops *ops, void *opaque,
		     struct vmbus_server **ret_srv) MUST_CHECK;
/* Closes all channels (VSP close callbacks run) and frees everything. NULL ok. */
void vmbus_server_free(struct vmbus_server *srv);

/*
 * Guest reboot: close every channel, drop GPADLs, queued messages and the
 * connection, without sending anything. Devices stay registered and are
 * offered again when the next guest connects.
 */
void vmbus_server_reset(struct vmbus_server *srv);

/* hv port handlers (see threads above); return an HV_STATUS_* value. */
uint16_t vmbus_server_post_message(struct vmbus_server *srv, uint32_t vp_index,
				   uint32_t connection_id, uint32_t message_type,
				   const void *payload, uint32_t len);
uint16_t vmbus_server_signal_event(struct vmbus_server *srv, uint32_t vp_index,
				   uint32_t connection_id, uint16_t flag_number);

/* Run queued work (event-loop thread). Returns the number of control
 * messages and packets handled (>= 0). */
int vmbus_server_process(struct vmbus_server *srv);

/*
 * Register a device: one primary channel with a fresh relid (1..2047) and
 * HvSignalEvent connection id relid + VMBUS_CHAN_CONNECTION_ID_BASE. Offered
 * now if the guest is connected and asked for offers, else on REQUESTOFFERS.
 * instance_guid must be unique. 0, -EEXIST, -ENOSPC, -ENOMEM, -EINVAL.
 */
int vmbus_server_add_device(struct vmbus_server *srv, const struct vmbus_dev_class *cls,
			    const uint8_t instance_guid[16], void *ctx,
			    struct vmbus_dev **ret_dev) MUST_CHECK;
/* Hot-remove: RESCIND to the guest, close the channel, release its GPADLs.
 * dev is invalid afterwards; the relid is reused only after the guest sends
 * RELID_RELEASED. */
void vmbus_server_remove_device(struct vmbus_server *srv, struct vmbus_dev *dev);

/* Take / release the server lock (recursive) so a host-side API of a VSP can
 * run from any thread without racing its own callbacks. */
void vmbus_server_lock(struct vmbus_server *srv);
void vmbus_server_unlock(struct vmbus_server *srv);

/* The server a device or channel belongs to. */
struct vmbus_server *vmbus_chan_server(const struct vmbus_chan *chan);

/*
 * Create `count` sub-channels of a device (same class and instance GUID,
 * sub_channel_index 1..n, own relid, ring and target VP), e.g. when storvsc
 * sends CREATE_SUB_CHANNELS. Offered at once when the guest is connected.
 * They use the class callbacks like the primary and go away with the
 * connection (unload, reset); when the guest closes the primary channel they
 * are rescinded (a reopened primary asks again, as hv_netvsc does on an MTU
 * change). Returns how many were made (>= 0).
 */
int vmbus_dev_add_subchannels(struct vmbus_dev *dev, uint16_t count);
uint16_t vmbus_chan_sub_index(const struct vmbus_chan *chan); /* 0 = primary */
/* Sub-channels the device has now (reset to 0 when the guest disconnects). */
uint16_t vmbus_dev_subchannel_count(struct vmbus_dev *dev);

bool vmbus_server_connected(struct vmbus_server *srv);
uint32_t vmbus_server_version(struct vmbus_server *srv);
void vmbus_server_get_stats(struct vmbus_server *srv, struct vmbus_stats *ret_stats);

void *vmbus_dev_ctx(const struct vmbus_dev *dev);
struct vmbus_chan *vmbus_dev_chan(struct vmbus_dev *dev);
void *vmbus_chan_ctx(const struct vmbus_chan *chan);
uint32_t vmbus_chan_relid(const struct vmbus_chan *chan);
bool vmbus_chan_is_open(const struct vmbus_chan *chan);
/*
 * Where an open channel's rings stand (for diagnostics; caller holds the
 * server lock): bytes the guest wrote that the host has not read, bytes the
 * host wrote that the guest has not read, and each side's interrupt_mask.
 * -ENOTCONN when closed.
 */
struct vmbus_chan_rings {
	uint32_t in_unread, out_unread;
	uint32_t in_mask, out_mask;   /* host's mask (guest->host ring), guest's */
};
int vmbus_chan_rings(const struct vmbus_chan *chan, struct vmbus_chan_rings *ret);

/*
 * Send one packet on the host->guest ring: descriptor {type, offset8 = 2,
 * len8, flags, trans_id} + payload + padding + trailer. Signals the guest
 * (SIEFP bit relid on the channel's target VP) when its interrupt_mask is 0.
 * Returns 0; -EAGAIN when the ring is full (pending_send_sz is set and the
 * class's writable() runs once the guest frees space); -EMSGSIZE above the
 * class's max_pkt_size; -ENOTCONN when the channel is not open; -EPROTO when
 * the guest corrupted the ring header (channel is then broken).
 */
int vmbus_chan_send(struct vmbus_chan *chan, uint16_t type, uint16_t flags, uint64_t trans_id,
		    const void *payload, size_t len) MUST_CHECK;

/*
 * Same, where payload starts with a type-specific header of hdr_len bytes (a
 * multiple of 8, e.g. the transfer-page header of a DATA_USING_XFER_PAGES
 * packet): the descriptor's offset8 points past it. -EINVAL on a bad hdr_len.
 */
int vmbus_chan_send_hdr(struct vmbus_chan *chan, uint16_t type, uint16_t flags, uint64_t trans_id,
			size_t hdr_len, const void *payload, size_t len) MUST_CHECK;

/* COMP packet with the request's trans_id (what most VSPs answer with). */
int vmbus_chan_send_completion(struct vmbus_chan *chan, uint64_t trans_id, const void *payload,
			       size_t len) MUST_CHECK;

/*
 * Copy into / out of a GPADL the guest created for any channel of this
 * device (e.g. netvsc's receive and send buffers). [off, off+len) must lie
 * inside the GPADL's first range. 0, -ENOENT (unknown or incomplete handle,
 * or another device's), -EFAULT (out of range or not RAM).
 */
int vmbus_chan_gpadl_read(struct vmbus_chan *chan, uint32_t handle, uint64_t off, void *buf,
			  size_t len) MUST_CHECK;
int vmbus_chan_gpadl_write(struct vmbus_chan *chan, uint32_t handle, uint64_t off,
			   const void *buf, size_t len) MUST_CHECK;
int vmbus_chan_gpadl_size(struct vmbus_chan *chan, uint32_t handle, uint64_t *ret_bytes) MUST_CHECK;

#endif
