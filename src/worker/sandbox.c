// SPDX-License-Identifier: MIT
/*
 * Worker sandbox: namespaces, empty root, privilege drop and a seccomp
 * allowlist (libseccomp). The allowlist covers what the VM engine needs
 * after assembly: KVM ioctls on descriptors it already holds, memory
 * management, threads (clone with CLONE_THREAD only), signals, timers and
 * I/O on existing descriptors. Everything else, including open, execve,
 * socket, connect and fork, fails with EPERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>

#include "api/ctl_proto.h"
#include "base/util.h"
#include "worker/sandbox.h"

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/* Entered a user namespace: "root" inside it is an unprivileged uid on the host. */
static bool in_userns;

int sandbox_enter_namespaces(uint32_t *flags)
{
	int ns = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET;

	if (geteuid() != 0) {
		/* Unprivileged: a user namespace makes the others possible. */
		uid_t uid = geteuid();
		gid_t gid = getegid();
		char map[64];

		if (unshare(CLONE_NEWUSER | ns))
			return -errno;
		in_userns = true;
		if (write_file("/proc/self/setgroups", "deny"))
			return -EPERM;
		snprintf(map, sizeof(map), "0 %u 1\n", (unsigned int)uid);
		if (write_file("/proc/self/uid_map", map))
			return -EPERM;
		snprintf(map, sizeof(map), "0 %u 1\n", (unsigned int)gid);
		if (write_file("/proc/self/gid_map", map))
			return -EPERM;
	} else if (unshare(ns)) {
		return -errno;
	}
	*flags |= CTL_SBX_MNTNS | CTL_SBX_IPCNS | CTL_SBX_UTSNS | CTL_SBX_NETNS;
	if (sethostname("openhv-worker", 13))
		return -errno;
	/* Nothing we mount from here on leaks back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return -errno;
	return 0;
}

/* Replace the root with an empty read-only tmpfs; the host tree becomes unreachable. */
static int empty_root(void)
{
	static const char dir[] = "/tmp";

	if (mount("openhv-worker", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=16k,nr_inodes=8,mode=0555"))
		return -errno;
	if (mkdir("/tmp/old", 0700) && errno != EEXIST)
		return -errno;
	if (syscall(SYS_pivot_root, dir, "/tmp/old"))
		return -errno;
	if (chdir("/"))
		return -errno;
	if (umount2("/old", MNT_DETACH))
		return -errno;
	if (rmdir("/old"))
		return -errno;
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL))
		return -errno;
	return 0;
}

/* Empty the bounding set; needs CAP_SETPCAP, so it runs before the uid change. */
static int drop_bounding_set(void)
{
	for (int cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) <= 0)
			continue;   /* not in the set, or beyond the kernel's last cap */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			return -errno;
	}
	return 0;
}

static int drop_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -errno;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return 0;
}

static bool caps_empty(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return false;
	for (int i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return false;
	return true;
}

static const int allowed_syscalls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
	SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev), SCMP_SYS(preadv2),
	SCMP_SYS(pwritev2), SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(lseek),
	SCMP_SYS(ftruncate), SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(fallocate),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise),
	SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(mlock), SCMP_SYS(munlock), SCMP_SYS(ioctl),
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(set_tid_address), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigtimedwait), SCMP_SYS(sigaltstack),
	SCMP_SYS(tgkill), SCMP_SYS(tkill), SCMP_SYS(gettid), SCMP_SYS(getpid),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(exit),
	SCMP_SYS(exit_group), SCMP_SYS(restart_syscall), SCMP_SYS(epoll_create1),
	SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(pselect6), SCMP_SYS(eventfd2),
	SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime), SCMP_SYS(timerfd_gettime),
	SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(recvfrom),
	SCMP_SYS(accept4), SCMP_SYS(getsockopt), SCMP_SYS(shutdown), SCMP_SYS(pipe2),
	SCMP_SYS(dup), SCMP_SYS(dup3), SCMP_SYS(fcntl), SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(getrandom), SCMP_SYS(membarrier),
	SCMP_SYS(getrusage), SCMP_SYS(uname), SCMP_SYS(capget),
};

static int install_seccomp(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(allowed_syscalls) && !r; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed_syscalls[i], 0);
	/* Threads yes, new processes no. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	/* clone3 passes flags in memory the filter cannot see: make glibc fall back to clone. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/*
	 * fstat() of a descriptor: glibc issues newfstatat(fd, "", ...,
	 * AT_EMPTY_PATH). Only with that flag; the path argument cannot be
	 * seen by the filter, but the sealed worker's mount namespace has an
	 * empty root, so a path names nothing. (Disk hot-add checks the image
	 * it is passed.)
	 */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
				     SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
	/* Thread names and reading no_new_privs / the bounding set only. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				     SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				     SCMP_A0(SCMP_CMP_EQ, PR_GET_NO_NEW_PRIVS));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				     SCMP_A0(SCMP_CMP_EQ, PR_CAPBSET_READ));
	if (!r)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	/* A binary search over syscall numbers: KVM_RUN's ioctl pays a few compares, not ~90. */
	if (!r)
		(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (!r)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

int sandbox_seal(uid_t uid, gid_t gid, uint32_t *flags, char *err, size_t errlen)
{
	bool root = geteuid() == 0 && !in_userns;
	int r;

	if (*flags & CTL_SBX_MNTNS) {
		r = empty_root();
		if (r) {
			snprintf(err, errlen, "cannot replace the root with an empty tmpfs: %s",
				 strerror(-r));
			return r;
		}
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) {
		snprintf(err, errlen, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
		return -errno;
	}
	r = drop_bounding_set();
	if (r) {
		snprintf(err, errlen, "cannot empty the capability bounding set: %s", strerror(-r));
		return r;
	}
	if (root && uid != 0) {
		if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid)) {
			r = -errno;
			snprintf(err, errlen, "cannot switch to uid %u gid %u: %s", (unsigned)uid,
				 (unsigned)gid, strerror(-r));
			return r;
		}
		if (getuid() != uid || geteuid() != uid || getgid() != gid) {
			snprintf(err, errlen, "uid/gid change did not take effect");
			return -EPERM;
		}
		*flags |= CTL_SBX_UID;
	} else if (!root) {
		*flags |= CTL_SBX_UID;   /* already unprivileged on the host */
	}
	r = drop_caps();
	if (r || !caps_empty()) {
		snprintf(err, errlen, "cannot drop capabilities: %s", strerror(r ? -r : EPERM));
		return r ? r : -EPERM;
	}
	*flags |= CTL_SBX_NOCAPS;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		r = -errno;
		snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(-r));
		return r;
	}
	*flags |= CTL_SBX_NNP;
	r = install_seccomp();
	if (r) {
		snprintf(err, errlen, "cannot install the seccomp filter: %s", strerror(-r));
		return r;
	}
	*flags |= CTL_SBX_SECCOMP;
	return 0;
}

/* ---- self-test ---- */

static int n_test, n_fail;

static void check(bool ok, const char *what, int err)
{
	n_test++;
	if (!ok)
		n_fail++;
	printf("%s %d - %s%s%s\n", ok ? "ok" : "not ok", n_test, what, err ? ": errno " : "",
	       err ? strerror(err) : "");
	fflush(stdout);
}

static void *thread_fn(void *arg)
{
	*(int *)arg = 42;
	return NULL;
}

int sandbox_selftest(uid_t uid, gid_t gid)
{
	uint32_t flags = 0;
	char err[256];
	int r, fd, inet, unixfd, pfd[2];
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *const args[] = { (char *)"/bin/true", NULL };
	pthread_t th;
	int val = 0;
	void *mem;

	bool started_as_root = geteuid() == 0;

	printf("TAP version 13\n");
	r = sandbox_enter_namespaces(&flags);
	check(r == 0, "enter mount/ipc/uts/net namespaces", r ? -r : 0);
	/* Prepare descriptors as the service would pass them, before sealing. */
	inet = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unixfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/run/openhv/openhvd.sock");
	r = sandbox_seal(uid, gid, &flags, err, sizeof(err));
	check(r == 0, "seal (empty root, drop privileges, no_new_privs, seccomp)", r ? -r : 0);
	if (r)
		printf("# %s\n", err);

	/* Started unprivileged: "root" in the user namespace maps to the caller's uid. */
	check(!started_as_root || geteuid() != 0, "runs as an unprivileged uid", 0);
	check(caps_empty(), "no capabilities left", 0);
	check(prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 0 &&
	      prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0) == 0, "capability bounding set is empty", 0);
	check(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "no_new_privs is set", 0);

	fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	check(fd < 0, "open(\"/etc/passwd\") is refused", 0);
	if (fd >= 0)
		close(fd);
	fd = openat(AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);
	check(fd < 0, "openat(\"/proc/self/status\") is refused", 0);
	if (fd >= 0)
		close(fd);
	errno = 0;
	execve("/bin/true", args, NULL);
	check(errno == EPERM, "execve(\"/bin/true\") is refused with EPERM", errno == EPERM ? 0 : errno);
	errno = 0;
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	check(fd < 0 && errno == EPERM, "socket() is refused", fd < 0 ? 0 : 0);
	errno = 0;
	r = inet >= 0 ? connect(inet, (struct sockaddr *)&sin, sizeof(sin)) : -1;
	check(r < 0 && errno == EPERM, "connect() of a TCP socket is refused with EPERM",
	      r < 0 && errno != EPERM ? errno : 0);
	errno = 0;
	r = unixfd >= 0 ? connect(unixfd, (struct sockaddr *)&sun, sizeof(sun)) : -1;
	check(r < 0 && errno == EPERM, "connect() to the service socket is refused with EPERM",
	      r < 0 && errno != EPERM ? errno : 0);
	errno = 0;
	r = (int)syscall(SYS_ptrace, PTRACE_TRACEME, 0, NULL, NULL);
	check(r < 0 && errno == EPERM, "ptrace() is refused", 0);
	errno = 0;
	r = (int)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, 0);
	if (r == 0)
		_exit(0);
	check(r < 0 && errno == EPERM, "fork (clone without CLONE_THREAD) is refused", 0);
	errno = 0;
	r = mount("none", "/", "tmpfs", 0, NULL);
	check(r < 0, "mount() is refused", 0);
	check(access("/etc", F_OK) != 0, "host /etc is not visible", 0);

	/* What the engine needs still works. */
	r = pthread_create(&th, NULL, thread_fn, &val);
	if (r == 0)
		pthread_join(th, NULL);
	check(r == 0 && val == 42, "threads can be created", r);
	mem = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(mem != MAP_FAILED && madvise(mem, 1 << 20, MADV_DONTNEED) == 0 &&
	      mprotect(mem, 4096, PROT_READ) == 0, "mmap/madvise/mprotect work", 0);
	r = pipe2(pfd, O_CLOEXEC);
	check(r == 0 && write(pfd[1], "x", 1) == 1 && read(pfd[0], &val, 1) == 1,
	      "pipes and read/write work", 0);
	printf("1..%d\n", n_test);
	return n_fail ? 1 : 0;
}
