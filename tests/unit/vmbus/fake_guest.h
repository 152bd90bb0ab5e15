/* SPDX-License-Identifier: MIT */
/*
 * A fake Linux 6.1 guest for unit tests and fuzz targets: guest RAM from
 * gm_new() + gm_add_region() over a malloc'd buffer, the real hv layer (MSRs,
 * hypercalls, SynIC pages) and the real VMBus server wired together the way
 * the worker wires them, and a client that speaks the guest side of VMBus
 * the way drivers/hv in Linux 6.1 does: SynIC MSR programming, INITIATE_CONTACT
 * with each version Linux tries, REQUESTOFFERS, GPADL header + bodies,
 * OPENCHANNEL, ring-buffer reads/writes with Linux's signalling rules, close,
 * teardown, RELID_RELEASED, UNLOAD.
 *
 * The "event loop" is run synchronously: after each guest action that woke
 * the server, fg_run_host() calls vmbus_server_process().
 */
#ifndef OPENHV_TESTS_FAKE_GUEST_H
#define OPENHV_TESTS_FAKE_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hv.h"
#include "vmbus/vmbus.h"
#include "vmbus/vmbus_proto.h"

#define FG_MAX_VPS 4u
#define FG_MAX_MSGS 64u

struct fg_msg {
	uint32_t vp;
	uint32_t len;
	uint8_t data[240];
};

struct fake_guest {
	uint8_t *ram;
	uint64_t ram_bytes;
	struct gm *gm;
	struct hv *hv;
	struct vmbus_server *srv;
	uint32_t vp_count;
	uint64_t tsc;               /* the fake TSC; tests advance it */
	uint64_t next_free;         /* page allocator (bump) */
	uint64_t simp[FG_MAX_VPS], siefp[FG_MAX_VPS], input_page[FG_MAX_VPS];
	uint64_t hypercall_page;
	uint32_t irqs[FG_MAX_VPS];  /* interrupts injected per VP */
	uint8_t last_vector;
	bool wake;                  /* server asked for vmbus_server_process() */
	int wake_fd;                /* >= 0: threaded mode, wake writes this eventfd and
				     * fg_run_host() leaves processing to the loop thread */
	uint32_t msg_conn_id;       /* connection id for posts after contact */
	uint32_t version;
	uint32_t next_gpadl;
	uint32_t eoms;
	/* Messages received but not yet consumed by a test. */
	struct fg_msg msgs[FG_MAX_MSGS];
	uint32_t n_msgs;
	void *allocs[256];          /* host buffers owned by the guest, freed by fg_free */
	uint32_t n_allocs;
	struct hv_crash_report last_crash;
	uint32_t crashes;
};

struct fg_chan {
	struct fake_guest *fg;
	uint32_t relid;
	uint32_t conn_id;
	uint32_t target_vp;
	uint32_t gpadl;
	uint64_t base_gpa;          /* first page of the GPADL */
	uint32_t send_pages;        /* guest->host ring incl. header page */
	uint32_t recv_pages;
	uint64_t *pfns;             /* owned by the fake guest */
	uint32_t npfns;
	bool open;
	uint32_t signals;           /* HvSignalEvent calls made */
};

/* Build the guest: ram_bytes of RAM, vp_count VPs, hv and server wired up. */
int fg_new(uint32_t vp_count, uint64_t ram_bytes, struct fake_guest **ret);
/* Same, with the server's newest accepted VMBus version (0 = newest). */
int fg_new_ex(uint32_t vp_count, uint64_t ram_bytes, uint32_t max_version,
	      struct fake_guest **ret);
void fg_free(struct fake_guest *fg);

/* Allocate zeroed guest pages (bump allocator); returns the GPA. */
uint64_t fg_alloc_pages(struct fake_guest *fg, uint32_t pages);

/* hv_init + hv_synic_init on every VP, in Linux order. 0 or -errno. */
int fg_boot(struct fake_guest *fg);

/* HvPostMessage from VP vp via the hypercall interface; returns the HV status. */
uint16_t fg_post(struct fake_guest *fg, uint32_t vp, uint32_t conn_id, const void *msg,
		 uint32_t len);
/* Post on the negotiated connection id from VP 0, then run the host. */
uint16_t fg_send(struct fake_guest *fg, const void *msg, uint32_t len);

/* Run vmbus_server_process() while the server has asked to be woken. */
void fg_run_host(struct fake_guest *fg);

/*
 * Take messages out of every VP's SINT2 slot (Linux's vmbus_on_msg_dpc:
 * copy, clear type, EOM if pending) into fg->msgs until no slot has one.
 */
void fg_poll_msgs(struct fake_guest *fg);
/* Remove and return the first queued message of this type (0 = any). */
bool fg_take_msg(struct fake_guest *fg, uint32_t msgtype, struct fg_msg *ret);

/* One INITIATE_CONTACT with this version; returns 1 accepted, 0 refused, <0 error. */
int fg_contact(struct fake_guest *fg, uint32_t version, uint32_t target_vp);
/* Linux's loop: newest first until accepted. Returns the version or 0. */
uint32_t fg_connect(struct fake_guest *fg);
/* REQUESTOFFERS; collects offers until ALLOFFERS_DELIVERED. Returns count. */
int fg_request_offers(struct fake_guest *fg, struct vmbus_offer_channel_wire *offers, int max);

/* Create a GPADL over pages [gpa, gpa + pages) for relid; returns creation status or <0. */
int fg_gpadl_create(struct fake_guest *fg, uint32_t relid, const uint64_t *pfns, uint32_t npfns,
		    uint32_t *ret_handle);
/* Open a channel like vmbus_open(): rings of send/recv bytes (each incl. header page). */
int fg_open(struct fake_guest *fg, const struct vmbus_offer_channel_wire *offer,
	    uint32_t send_pages, uint32_t recv_pages, uint32_t target_vp, struct fg_chan *ch);
/* CLOSECHANNEL + GPADL_TEARDOWN (waits for TORNDOWN). */
int fg_close(struct fg_chan *ch);

/* Guest writes a packet into the guest->host ring (Linux hv_ringbuffer_write +
 * signalling); returns 0, -EAGAIN (ring full). */
/* Signal the host about ch (as a write to an empty ring does) and let it run. */
void fg_chan_signal(struct fg_chan *ch);
int fg_chan_write(struct fg_chan *ch, uint16_t type, uint16_t flags, uint64_t trans_id,
		  const void *payload, uint32_t len);
/* Guest reads the next host->guest packet; returns payload length, -EAGAIN. */
int fg_chan_read(struct fg_chan *ch, void *payload, uint32_t max, uint16_t *ret_type,
		 uint64_t *ret_trans_id);
/* Test-and-clear the relid bit in VP vp's SIEFP SINT2 bitmap. */
bool fg_event_pending(struct fake_guest *fg, uint32_t vp, uint32_t relid);

/* Ring header of a channel's guest->host (out = false) or host->guest ring. */
struct vmbus_ring_hdr_wire *fg_ring_hdr(struct fg_chan *ch, bool host_to_guest);

#endif
