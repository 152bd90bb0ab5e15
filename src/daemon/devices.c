// SPDX-License-Identifier: MIT
/*
 * openhvd device back-ends for a worker: the service opens every disk image
 * and TAP interface (or virtual switch port) a VM is configured with and hands the descriptors to the
 * sandboxed worker, which can open nothing itself. Each failure is one line
 * for people naming the disk or NIC and how to fix it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "openhv/disk.h"
#include "daemon/daemon.h"
#include "daemon/devices.h"
#include "base/tun.h"
#include "switch/switch.h"

static void set_label(char *label, size_t len, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	/* Keep the end (the extension tells formats apart) when the name is too long. */
	if (n >= len) {
		base += n - (len - 1);
		n = len - 1;
	}
	memcpy(label, base, n);
	label[n] = '\0';
}

/* One line for a disk (or one of its parents) whose image lock is held elsewhere. */
static int lock_fail(struct api_error *e, unsigned int idx, const char *path, int r,
		     bool parent)
{
	if (r == -EBUSY)
		return api_fail(e, API_E_CONFLICT, "disks[%u]: %s'%s' is in use by another VM or "
				"program%s; stop that first or use another image", idx,
				parent ? "its parent image " : "", path,
				parent ? " that writes it" : "");
	return api_fail(e, API_E_INTERNAL, "disks[%u]: cannot lock '%s': %s", idx, path,
			strerror(-r));
}

/*
 * The parents of the differencing image open as fd (found at d->path): the
 * chain is walked from the parent locators the way `openhv run` finds it,
 * header by header (no log is replayed here: the worker replays the
 * image's own), and each parent is opened read-only. The chain is then
 * checked from the descriptors alone, so a file swapped under a path on the
 * way is refused; when a log needs replay first, the worker makes the same
 * identity check when it opens the chain.
 */
static int open_parents(int fd, const struct api_disk *d, unsigned int idx, int *parents,
			unsigned int *n_parents, struct api_error *e)
{
	static char paths[1 + CTL_MAX_DISK_PARENTS][PATH_MAX];
	struct disk_diag diag = { 0 };
	int fds[1 + CTL_MAX_DISK_PARENTS];
	const char *names[1 + CTL_MAX_DISK_PARENTS];
	unsigned int n = 0;
	int r;

	snprintf(paths[0], sizeof(paths[0]), "%s", d->path);
	for (;;) {
		struct disk *dk = NULL;
		struct disk_info info;
		int pfd;

		r = disk_open(paths[n], DISK_OPEN_INSPECT, &diag, &dk);
		if (r) {
			r = api_fail(e, API_E_BAD_REQUEST, "disks[%u] '%s': %s", idx, d->path,
				     diag.msg[0] ? diag.msg : strerror(-r));
			goto fail;
		}
		disk_get_info(dk, &info);
		if (info.type != DISK_TYPE_DIFF) {
			(void)disk_close(dk);
			break;
		}
		if (n >= CTL_MAX_DISK_PARENTS) {
			(void)disk_close(dk);
			r = api_fail(e, API_E_BAD_REQUEST, "disks[%u] '%s' has more than %d parent "
				     "images; merge part of the chain ('openhv disk merge')", idx,
				     d->path, CTL_MAX_DISK_PARENTS);
			goto fail;
		}
		r = disk_parent_path(dk, paths[n + 1], sizeof(paths[n + 1]), &diag);
		(void)disk_close(dk);
		if (r) {
			r = api_fail(e, API_E_BAD_REQUEST, "disks[%u] '%s': %s", idx, d->path,
				     diag.msg[0] ? diag.msg : strerror(-r));
			goto fail;
		}
		pfd = open(paths[n + 1], O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (pfd < 0) {
			r = api_fail(e, API_E_BAD_REQUEST, "disks[%u]: cannot open its parent image "
				     "'%s': %s", idx, paths[n + 1], strerror(errno));
			goto fail;
		}
		/* Shared: other children may read it too, no one may write it. */
		r = disk_lock_fd(pfd, false);
		if (r) {
			close(pfd);
			r = lock_fail(e, idx, paths[n + 1], r, true);
			goto fail;
		}
		parents[n++] = pfd;
	}
	fds[0] = fd;
	names[0] = paths[0];
	for (unsigned int i = 0; i < n; i++) {
		fds[i + 1] = parents[i];
		names[i + 1] = paths[i + 1];
	}
	{
		struct disk *check = NULL;

		r = disk_open_fd_chain(fds, names, n + 1, DISK_OPEN_RDONLY, &diag, &check);
		if (r && r != -EROFS) {
			r = api_fail(e, API_E_BAD_REQUEST, "disks[%u] '%s': its parent chain does "
				     "not hold together: %s", idx, d->path,
				     diag.msg[0] ? diag.msg : strerror(-r));
			goto fail;
		}
		if (!r)
			(void)disk_close(check);
	}
	*n_parents = n;
	return 0;
fail:
	for (unsigned int i = 0; i < n; i++)
		close(parents[i]);
	return r;
}

int dev_open_disk(const struct api_disk *d, unsigned int idx, struct ctl_disk_wire *w,
		  int *parents, unsigned int *n_parents, struct api_error *e)
{
	struct disk_diag diag = { 0 };
	struct disk_info info;
	struct disk *dk = NULL;
	char proc[64];
	struct stat st;
	int fd, r;

	memset(w, 0, sizeof(*w));
	if (n_parents)
		*n_parents = 0;
	fd = open(d->path, (d->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		if (r == -EACCES || r == -EROFS)
			api_fail(e, API_E_BAD_REQUEST, "cannot open disks[%u] '%s' %s: %s; fix the "
				 "file's permissions or mark the disk readonly", idx, d->path,
				 d->readonly ? "read-only" : "read-write", strerror(-r));
		else
			api_fail(e, API_E_BAD_REQUEST, "cannot open disks[%u] '%s': %s; fix the path "
				 "with 'openhv vm edit'", idx, d->path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		close(fd);
		return api_fail(e, API_E_BAD_REQUEST, "disks[%u] '%s' is not a regular file or "
				"block device", idx, d->path);
	}
	/*
	 * The lock lives on this open file description, which the worker
	 * inherits: it holds while the VM runs and ends with the worker.
	 */
	r = disk_lock_fd(fd, !d->readonly);
	if (r) {
		close(fd);
		return lock_fail(e, idx, d->path, r, false);
	}
	/*
	 * Look at the very file we pass (through our own descriptor, so a file
	 * swapped under the path cannot slip past): the worker cannot open a
	 * differencing image's parents, so they are opened here and passed too.
	 */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	r = disk_open(proc, DISK_OPEN_INSPECT | DISK_OPEN_NO_PARENT, &diag, &dk);
	if (r) {
		close(fd);
		return api_fail(e, API_E_BAD_REQUEST, "disks[%u] '%s' is not a usable disk image: "
				"%s", idx, d->path, diag.msg[0] ? diag.msg : strerror(-r));
	}
	disk_get_info(dk, &info);
	(void)disk_close(dk);
	if (info.type == DISK_TYPE_DIFF) {
		if (!parents || !n_parents) {
			close(fd);
			return api_fail(e, API_E_UNSUPPORTED, "'%s' is a differencing %s image; "
					"hot-add takes standalone images: add it to the VM's "
					"configuration while the VM is off, or merge it ('openhv "
					"disk merge')", d->path, disk_format_name(info.format));
		}
		r = open_parents(fd, d, idx, parents, n_parents, e);
		if (r) {
			close(fd);
			return r;
		}
	}
	set_label(w->label, sizeof(w->label), d->path);
	w->flags = d->readonly ? CTL_DISK_F_RDONLY : 0;
	return fd;
}

/*
 * A port on an openhv virtual switch: a fresh TAP enslaved to the switch's
 * bridge (in the NIC's access VLAN). It lives as long as a descriptor to it
 * is open, i.e. until the worker ends; nothing to clean up afterwards.
 */
static int open_switch_port(const struct api_nic *n, unsigned int idx, struct ctl_nic_wire *w,
			    struct api_error *e)
{
	struct switch_port port;
	char err[400];
	int r;

	r = switch_port_open(D.state_dir, n->switch_name, n->vlan, &port, err, sizeof(err));
	if (r)
		return api_fail(e, r == -ENOENT ? API_E_BAD_REQUEST : API_E_INTERNAL,
				"nics[%u]: %s", idx, err);
	_Static_assert(sizeof(port.ifname) <= sizeof(w->ifname), "port names fit the wire");
	memcpy(w->ifname, port.ifname, sizeof(port.ifname));
	w->ifname[sizeof(w->ifname) - 1] = '\0';
	memcpy(w->mac, n->mac, sizeof(w->mac));
	w->has_mac = n->has_mac ? 1 : 0;
	return port.fd;
}

int dev_open_tap(const struct api_nic *n, unsigned int idx, struct ctl_nic_wire *w,
		 struct api_error *e)
{
	size_t len = strlen(n->tap);
	int fd, r;

	memset(w, 0, sizeof(*w));
	if (n->switch_name[0])
		return open_switch_port(n, idx, w, e);
	if (!len || len >= IFNAMSIZ || len >= sizeof(w->ifname))
		return api_fail(e, API_E_BAD_REQUEST, "nics[%u].tap '%s' is not a valid interface "
				"name", idx, n->tap);
	if (!if_nametoindex(n->tap))
		return api_fail(e, API_E_BAD_REQUEST, "nics[%u]: TAP device '%s' does not exist; "
				"create it with 'ip tuntap add dev %s mode tap'", idx, n->tap,
				n->tap);
	/* The attachment netvsp makes itself, with the virtio-net header for offloads. */
	fd = tun_open_tap(n->tap, true, NULL, NULL);
	if (fd < 0) {
		r = fd;
		if (r == -ENOENT)
			api_fail(e, API_E_INTERNAL, "nics[%u]: cannot open /dev/net/tun for TAP '%s' "
				 "(load the tun module)", idx, n->tap);
		else if (r == -EPERM)
			api_fail(e, API_E_BAD_REQUEST, "nics[%u]: openhvd may not attach to TAP '%s'; "
				 "create it with 'ip tuntap add dev %s mode tap user USER' for "
				 "openhvd's user", idx, n->tap, n->tap);
		else if (r == -EBUSY)
			api_fail(e, API_E_CONFLICT, "nics[%u]: TAP '%s' is in use by another "
				 "process (another VM?)", idx, n->tap);
		else
			api_fail(e, API_E_BAD_REQUEST, "nics[%u]: '%s' is not a TAP device openhvd can "
				 "attach to: %s", idx, n->tap, strerror(-r));
		return r;
	}
	memcpy(w->ifname, n->tap, len);
	memcpy(w->mac, n->mac, sizeof(w->mac));
	w->has_mac = n->has_mac ? 1 : 0;
	return fd;
}
