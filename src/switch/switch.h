/* SPDX-License-Identifier: MIT */
/*
 * Virtual switches managed by openhv, built from the Linux bridge:
 *
 *   private   VMs only: a bridge with no address, no IPv6 link-local and the
 *             bridge device itself in no VLAN, so the host cannot take part.
 *   internal  VMs and the host: the bridge device is the host's interface and
 *             carries the optional --address.
 *   external  VMs and a host interface (the uplink) bridged together.
 *
 * Each switch is one bridge named SWITCH_BRIDGE_PREFIX + NAME with VLAN
 * filtering on. A VM port is a TAP (named by the kernel, "ohvp%d") enslaved
 * to the bridge; an access VLAN is the port's PVID, egress untagged, and the
 * port is removed from the default VLAN 1, so isolation is the kernel's.
 * The uplink of an external switch is a trunk: VLAN 1 untagged, 2..4094
 * tagged.
 *
 * The configuration of each switch persists as DIR/switches/NAME.json in the
 * state dir (the layout openhvd uses for DIR/vms), written atomically. The
 * bridge is recreated from that file when a port is opened and it is gone
 * (after a host reboot).
 *
 * Every function that can fail writes one line for people into err and
 * returns 0 or -errno. Nothing is left half-created on failure.
 */
#ifndef OPENHV_SWITCH_H
#define OPENHV_SWITCH_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SWITCH_BRIDGE_PREFIX "ohv-"
/* Names: a letter, then letters, digits, '-' or '_'; the bridge name must fit IFNAMSIZ. */
#define SWITCH_NAME_MAX (IFNAMSIZ - 1 - (int)(sizeof(SWITCH_BRIDGE_PREFIX) - 1))
#define SWITCH_PORT_PATTERN "ohvp%d"
#define SWITCH_STATE_MAX_FILE (64 * 1024)
#define SWITCH_DEFAULT_STATE_DIR "/var/lib/openhv"

enum switch_type {
	SWITCH_PRIVATE,
	SWITCH_INTERNAL,
	SWITCH_EXTERNAL,
};

/* An interface address with its prefix length ("169.254.10.1/24", "2001:db8::1/64"). */
struct switch_addr {
	int family;          /* AF_INET or AF_INET6; 0 = none */
	uint8_t bytes[16];
	uint8_t prefix;
};

struct switch_state {
	char name[SWITCH_NAME_MAX + 1];
	enum switch_type type;
	char bridge[IFNAMSIZ];
	struct switch_addr address; /* internal only; family 0 = no address */
	char uplink[IFNAMSIZ];      /* external only */
};

/* Names, types, addresses (no I/O). */
int switch_name_check(const char *name, char *err, size_t errlen);
int switch_type_parse(const char *s, enum switch_type *ret);
const char *switch_type_name(enum switch_type t);
int switch_addr_parse(const char *s, struct switch_addr *ret);
/* "ADDR/PREFIX", or "" for no address. buf of at least 64 bytes. */
const char *switch_addr_format(const struct switch_addr *a, char *buf, size_t len);
/* A plain interface name: 1..15 bytes, no '/', no whitespace, not "." or "..". */
bool switch_ifname_ok(const char *s);

/*
 * Fill st from the create arguments and check that they fit together
 * (address only on internal, uplink only and always on external). No I/O.
 */
int switch_state_build(const char *name, const char *type, const char *address, const char *uplink,
		       struct switch_state *st, char *err, size_t errlen);

/* JSON codec for NAME.json. encode: malloc'd string or NULL. decode treats the input as hostile. */
char *switch_state_encode(const struct switch_state *st);
int switch_state_decode(const char *json, size_t len, struct switch_state *st, char *err,
			size_t errlen);

/* The state dir: dir if given, else $OPENHV_STATE_DIR, else SWITCH_DEFAULT_STATE_DIR. */
const char *switch_state_dir(const char *dir);

/* DIR/switches/NAME.json. load returns -ENOENT (with a message) when there is no such switch. */
int switch_state_save(const char *dir, const struct switch_state *st, bool replace, char *err,
		      size_t errlen);
int switch_state_load(const char *dir, const char *name, struct switch_state *st, char *err,
		      size_t errlen);
int switch_state_remove(const char *dir, const char *name, char *err, size_t errlen);
/*
 * All switches in DIR, sorted by name (*ret malloc'd, *n entries). Files that
 * do not decode are passed to bad(file, message, opaque) and skipped; a
 * missing DIR/switches is an empty list.
 */
int switch_state_list(const char *dir, struct switch_state **ret, size_t *n,
		      void (*bad)(const char *file, const char *msg, void *opaque), void *opaque,
		      char *err, size_t errlen);

/* Host side (netlink; needs CAP_NET_ADMIN). */

/* Create the switch: bridge, address, uplink, state file; rolled back on failure. */
int switch_create(const char *dir, const struct switch_state *st, char *err, size_t errlen);
/* Delete it: refused while VM ports are attached. A missing bridge is fine. */
int switch_delete(const char *dir, const char *name, char *err, size_t errlen);

struct switch_live {
	bool present;            /* the bridge exists */
	bool up;
	unsigned int ports;      /* attached VM ports (the uplink not counted) */
};
int switch_live_info(const struct switch_state *st, struct switch_live *ret, char *err,
		     size_t errlen);

/* A VM's port on a switch: an open TAP (the kernel deletes it when fd is closed). */
struct switch_port {
	int fd;
	char ifname[IFNAMSIZ];
	int ifindex;
};

/*
 * Create a TAP, enslave it to switch NAME (recreating the bridge from its
 * state file if it is gone), put it in access VLAN vlan (0 = the default,
 * untagged VLAN 1) and bring it up.
 */
int switch_port_open(const char *dir, const char *name, uint16_t vlan, struct switch_port *ret,
		     char *err, size_t errlen);
void switch_port_close(struct switch_port *p);

#endif
