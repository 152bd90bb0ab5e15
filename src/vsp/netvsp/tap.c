// SPDX-License-Identifier: MIT
/*
 * TAP back-end for netvsp (see tap.h). The receive thread polls the TAP fd
 * and an eventfd (stop requests and "the guest has room again" wake-ups);
 * a frame the guest cannot take yet is kept and retried, so a slow guest
 * slows the host side down instead of losing frames.
 *
 * With a virtio-net header on the TAP (IFF_VNET_HDR) the guest's checksum
 * and LSO requests travel to the host kernel as the header says, and the
 * host may hand us frames with an unfinished checksum or 64 KiB TCP GSO
 * frames: the checksum is completed, and a GSO frame goes to the guest whole
 * when it switched RSC on (netvsp_rx_rsc), else it is cut into MSS-sized
 * frames here (offload.h); either way it is marked checksum-good.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "vsp/netvsp/tap.h"

#define TAP_VNET_HDR ((uint32_t)sizeof(struct netvsp_vnet_hdr_wire))
#define TAP_BUF_SIZE (TAP_VNET_HDR + OFFLOAD_MAX_FRAME + 64u)
/* What we let the kernel hand us with a vnet header: partial checksums and
 * TCP GSO; segmentation happens in tap_thread. */
#define TAP_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
#define TAP_LINK_POLL_MS 250

struct netvsp_tap {
	int fd;
	int wake_fd;
	int ctl_fd;               /* socket for SIOCGIFFLAGS, -1 without ifname */
	char ifname[IFNAMSIZ];
	struct netvsp *nv;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	bool vnet;                /* frames carry a virtio-net header */
	uint8_t *buf;
	uint8_t *seg;             /* one segment of a GSO frame */
	/* The frame being delivered (cur_len 0 = none) and its offload state. */
	uint32_t cur_len;
	struct offload_rx cur_rx;
	uint32_t cur_seg;
	uint64_t rx_bad_vnet;     /* frames with a header we refused */
};

static int tap_tx(void *opaque, const void *frame, size_t len)
{
	struct netvsp_tap *t = opaque;
	ssize_t n = write(t->fd, frame, len);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int tap_tx_offload(void *opaque, const struct netvsp_vnet_hdr_wire *h, const void *frame,
			  size_t len)
{
	struct netvsp_tap *t = opaque;
	struct iovec iov[2] = { { (void *)h, TAP_VNET_HDR }, { (void *)frame, len } };
	ssize_t n = writev(t->fd, iov, 2);

	if (n < 0)
		return -errno;
	return (size_t)n == len + TAP_VNET_HDR ? 0 : -EIO;
}

static int tap_tx_vnet(void *opaque, const void *frame, size_t len)
{
	static const struct netvsp_vnet_hdr_wire none;

	return tap_tx_offload(opaque, &none, frame, len);
}

static int tap_set_mtu(void *opaque, uint32_t mtu)
{
	struct netvsp_tap *t = opaque;
	struct ifreq ifr;

	if (t->ctl_fd < 0)
		return -ENOTSUP;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->ifname, sizeof(ifr.ifr_name));
	ifr.ifr_mtu = (int)mtu;
	return ioctl(t->ctl_fd, SIOCSIFMTU, &ifr) < 0 ? -errno : 0;
}

static void tap_wake(struct netvsp_tap *t)
{
	uint64_t one = 1;

	/* A saturated counter means a wake-up is pending anyway. */
	(void)!write(t->wake_fd, &one, sizeof(one));
}

static void tap_rx_room(void *opaque)
{
	tap_wake(opaque);
}

static int link_state(struct netvsp_tap *t)
{
	struct ifreq ifr;

	if (t->ctl_fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->ifname, sizeof(ifr.ifr_name));
	if (ioctl(t->ctl_fd, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	return !!(ifr.ifr_flags & IFF_UP);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Deliver the current frame (or its remaining segments). -EAGAIN: keep it. */
static int push_current(struct netvsp_tap *t)
{
	uint8_t *f = t->buf + (t->vnet ? TAP_VNET_HDR : 0);

	if (t->cur_rx.nseg > 1) {
		/* Whole, when the guest takes coalesced frames (RSC). */
		if (!t->cur_seg) {
			int r = netvsp_rx_rsc(t->nv, f, t->cur_len,
					      t->cur_rx.hdr_len + MIN(t->cur_rx.mss, t->cur_rx.payload));

			if (r == -EAGAIN)
				return -EAGAIN;
			if (r != -EOPNOTSUPP) {
				t->cur_len = 0;
				return 0;
			}
		}
		while (t->cur_seg < t->cur_rx.nseg) {
			uint32_t n = offload_rx_segment(f, &t->cur_rx, t->cur_seg, t->seg);

			if (netvsp_rx_ex(t->nv, t->seg, n, NETVSP_RX_CSUM_OK | NETVSP_RX_SEGMENT) ==
			    -EAGAIN)
				return -EAGAIN;
			t->cur_seg++;
		}
	} else if (netvsp_rx_ex(t->nv, f, t->cur_len, t->cur_rx.csum_ok ? NETVSP_RX_CSUM_OK : 0) ==
		   -EAGAIN) {
		return -EAGAIN;
	}
	t->cur_len = 0;
	return 0;
}

/* A frame of n bytes was read into t->buf: make it the current one. */
static bool take_frame(struct netvsp_tap *t, size_t n)
{
	struct netvsp_vnet_hdr_wire h;

	memset(&t->cur_rx, 0, sizeof(t->cur_rx));
	t->cur_rx.nseg = 1;
	t->cur_seg = 0;
	if (t->vnet) {
		if (n < TAP_VNET_HDR) {
			t->rx_bad_vnet++;
			return false;
		}
		memcpy(&h, t->buf, sizeof(h));
		n -= TAP_VNET_HDR;
		if (offload_rx_prepare(t->buf + TAP_VNET_HDR, (uint32_t)n, &h, &t->cur_rx)) {
			t->rx_bad_vnet++;
			return false;
		}
	}
	t->cur_len = (uint32_t)n;
	return true;
}

static void *tap_thread(void *arg)
{
	struct netvsp_tap *t = arg;
	int last_link = -1;
	uint64_t next_link = 0;

	while (!atomic_load(&t->stop)) {
		struct pollfd pfd[2] = { { .fd = t->wake_fd, .events = POLLIN },
					 { .fd = t->fd, .events = t->cur_len ? 0 : POLLIN } };
		uint64_t v;
		int link;

		if (now_ms() >= next_link) {
			link = link_state(t);
			if (link >= 0 && link != last_link) {
				netvsp_set_link(t->nv, link);
				last_link = link;
			}
			next_link = now_ms() + TAP_LINK_POLL_MS;
		}
		if (poll(pfd, 2, t->cur_len ? 100 : TAP_LINK_POLL_MS) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN)
			(void)!read(t->wake_fd, &v, sizeof(v));
		if (t->cur_len && push_current(t) == -EAGAIN)
			continue;
		/* Drain what the TAP has, up to a batch, then re-check stop/link. */
		for (int i = 0; i < 64 && !atomic_load(&t->stop); i++) {
			ssize_t n = read(t->fd, t->buf, TAP_BUF_SIZE);

			if (n <= 0)
				break;
			if (take_frame(t, (size_t)n) && push_current(t) == -EAGAIN)
				break;
		}
	}
	return NULL;
}

/* Does this TAP fd carry a virtio-net header? (0 for a non-TAP fd) */
static int tap_fd_vnet(int fd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return 0;
	if (ifr.ifr_flags & IFF_VNET_HDR)
		return 1;
	/* No header: offloads left on by an earlier user must go (see
	 * netvsp_tap_open); best effort, the fd's opener may lack rights. */
	(void)ioctl(fd, TUNSETOFFLOAD, 0);
	return 0;
}

int netvsp_tap_from_fd_vnet(int fd, const char *ifname, int vnet, struct netvsp_tap **ret)
{
	struct netvsp_tap *t = calloc(1, sizeof(*t));
	int fl;

	*ret = NULL;
	if (!t)
		return -ENOMEM;
	t->fd = fd;
	t->ctl_fd = -1;
	t->vnet = vnet < 0 ? tap_fd_vnet(fd) : !!vnet;
	t->buf = malloc(TAP_BUF_SIZE);
	t->seg = malloc(OFFLOAD_MAX_FRAME);
	t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fl = fcntl(fd, F_GETFL);
	if (!t->buf || !t->seg || t->wake_fd < 0 || fl < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int r = t->buf && t->seg ? -errno : -ENOMEM;

		if (t->wake_fd >= 0)
			close(t->wake_fd);
		free(t->buf);
		free(t->seg);
		free(t);
		return r ? r : -EIO;
	}
	if (ifname) {
		snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
		t->ctl_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	}
	*ret = t;
	return 0;
}

int netvsp_tap_from_fd(int fd, const char *ifname, struct netvsp_tap **ret)
{
	return netvsp_tap_from_fd_vnet(fd, ifname, -1, ret);
}

/*
 * Ask for a virtio-net header and the offloads we handle; 1 when on.
 * OPENHV_NETVSP_OFFLOAD=csum keeps TCP segmentation in the host kernel
 * (frames arrive MTU-sized with partial checksums), for comparisons.
 */
static int tap_enable_offloads(int fd)
{
	int sz = (int)TAP_VNET_HDR;
	const char *env = getenv("OPENHV_NETVSP_OFFLOAD");
	unsigned int off = TAP_OFFLOADS;

	if (env && !strcmp(env, "0"))
		return 0; /* not reached: netvsp_tap_open does not ask for the header then */
	if (env && !strcmp(env, "csum"))
		off = TUN_F_CSUM;
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 || ioctl(fd, TUNSETOFFLOAD, off) < 0)
		return -1;
	return 1;
}

int netvsp_tap_open(const char *ifname, struct netvsp_tap **ret, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd, r, vnet;

	*ret = NULL;
	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ) {
		snprintf(err, errlen, "--nic tap='%s' is not a valid interface name",
			 ifname ? ifname : "");
		return -EINVAL;
	}
	if (!if_nametoindex(ifname)) {
		snprintf(err, errlen,
			 "TAP device '%s' does not exist; create it with 'ip tuntap add dev %s mode tap'",
			 ifname, ifname);
		return -ENODEV;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open /dev/net/tun for --nic tap=%s: %s (load the tun module)",
			 ifname, strerror(-r));
		return r;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (!getenv("OPENHV_NETVSP_OFFLOAD") || strcmp(getenv("OPENHV_NETVSP_OFFLOAD"), "0"))
		ifr.ifr_flags |= IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		close(fd);
		if (r == -EPERM)
			snprintf(err, errlen,
				 "no permission to attach to TAP device '%s'; create it with "
				 "'ip tuntap add dev %s mode tap user USER' or run as root",
				 ifname, ifname);
		else if (r == -EBUSY)
			snprintf(err, errlen, "TAP device '%s' is in use by another process", ifname);
		else
			snprintf(err, errlen, "'%s' is not a TAP device this process can attach to: %s",
				 ifname, strerror(-r));
		return r;
	}
	if (ifr.ifr_flags & IFF_VNET_HDR)
		vnet = tap_enable_offloads(fd);
	else
		/* A persistent TAP keeps the offloads an earlier user (another
		 * openhv, QEMU) set; without the header they must be off, or the
		 * kernel hands us GSO frames and unfinished checksums. */
		vnet = ioctl(fd, TUNSETOFFLOAD, 0) < 0 ? -1 : 0;
	if (vnet < 0) {
		r = -errno;
		close(fd);
		snprintf(err, errlen, "cannot enable offloads on TAP device '%s': %s", ifname,
			 strerror(-r));
		return r;
	}
	r = netvsp_tap_from_fd_vnet(fd, ifname, vnet, ret);
	if (r) {
		close(fd);
		snprintf(err, errlen, "cannot set up TAP device '%s': %s", ifname, strerror(-r));
	}
	return r;
}

void netvsp_tap_backend(struct netvsp_tap *t, struct netvsp_backend *ret_be)
{
	*ret_be = (struct netvsp_backend){ .tx = t->vnet ? tap_tx_vnet : tap_tx,
					   .tx_offload = t->vnet ? tap_tx_offload : NULL,
					   .set_mtu = t->ctl_fd >= 0 ? tap_set_mtu : NULL,
					   .rx_room = tap_rx_room, .rx_rsc = t->vnet, .opaque = t };
}

int netvsp_tap_start(struct netvsp_tap *t, struct netvsp *nv)
{
	int r;

	if (t->running)
		return -EBUSY;
	t->nv = nv;
	atomic_store(&t->stop, false);
	r = pthread_create(&t->thread, NULL, tap_thread, t);
	if (r)
		return -r;
	t->running = true;
	return 0;
}

void netvsp_tap_stop(struct netvsp_tap *t)
{
	if (!t || !t->running)
		return;
	atomic_store(&t->stop, true);
	tap_wake(t);
	pthread_join(t->thread, NULL);
	t->running = false;
}

void netvsp_tap_free(struct netvsp_tap *t)
{
	if (!t)
		return;
	netvsp_tap_stop(t);
	close(t->fd);
	close(t->wake_fd);
	if (t->ctl_fd >= 0)
		close(t->ctl_fd);
	free(t->buf);
	free(t->seg);
	free(t);
}
