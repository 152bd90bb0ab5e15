// SPDX-License-Identifier: MIT
/*
 * TAP back-end for netvsp (see tap.h). The receive thread polls the TAP fd
 * and an eventfd (stop requests and "the guest has room again" wake-ups);
 * a frame the guest cannot take yet is kept and retried, so a slow guest
 * slows the host side down instead of losing frames.
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
#include <time.h>
#include <unistd.h>

#include "vsp/netvsp/tap.h"

#define TAP_FRAME_MAX 65536u
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
	uint8_t *buf;
};

static int tap_tx(void *opaque, const void *frame, size_t len)
{
	struct netvsp_tap *t = opaque;
	ssize_t n = write(t->fd, frame, len);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
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

static void *tap_thread(void *arg)
{
	struct netvsp_tap *t = arg;
	size_t held = 0;          /* a frame the guest had no room for */
	int last_link = -1;
	uint64_t next_link = 0;

	while (!atomic_load(&t->stop)) {
		struct pollfd pfd[2] = { { .fd = t->wake_fd, .events = POLLIN },
					 { .fd = t->fd, .events = held ? 0 : POLLIN } };
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
		if (poll(pfd, 2, held ? 100 : TAP_LINK_POLL_MS) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN)
			(void)!read(t->wake_fd, &v, sizeof(v));
		if (held) {
			if (netvsp_rx(t->nv, t->buf, held) == -EAGAIN)
				continue;
			held = 0;
		}
		/* Drain what the TAP has, up to a batch, then re-check stop/link. */
		for (int i = 0; i < 64 && !atomic_load(&t->stop); i++) {
			ssize_t n = read(t->fd, t->buf, TAP_FRAME_MAX);

			if (n <= 0)
				break;
			if (netvsp_rx(t->nv, t->buf, (size_t)n) == -EAGAIN) {
				held = (size_t)n;
				break;
			}
		}
	}
	return NULL;
}

int netvsp_tap_from_fd(int fd, const char *ifname, struct netvsp_tap **ret)
{
	struct netvsp_tap *t = calloc(1, sizeof(*t));
	int fl;

	*ret = NULL;
	if (!t)
		return -ENOMEM;
	t->fd = fd;
	t->ctl_fd = -1;
	t->buf = malloc(TAP_FRAME_MAX);
	t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fl = fcntl(fd, F_GETFL);
	if (!t->buf || t->wake_fd < 0 || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int r = t->buf ? -errno : -ENOMEM;

		if (t->wake_fd >= 0)
			close(t->wake_fd);
		free(t->buf);
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

int netvsp_tap_open(const char *ifname, struct netvsp_tap **ret, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd, r;

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
	r = netvsp_tap_from_fd(fd, ifname, ret);
	if (r) {
		close(fd);
		snprintf(err, errlen, "cannot set up TAP device '%s': %s", ifname, strerror(-r));
	}
	return r;
}

void netvsp_tap_backend(struct netvsp_tap *t, struct netvsp_backend *ret_be)
{
	*ret_be = (struct netvsp_backend){ .tx = tap_tx, .rx_room = tap_rx_room, .opaque = t };
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
	free(t);
}
