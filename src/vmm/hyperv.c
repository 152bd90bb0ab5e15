// SPDX-License-Identifier: MIT
/*
 * Wiring of hv/, vmbus/ and vsp/ic/ into a partition (see hyperv.h and the
 * integration checklist in docs/hyperv.md). The event loop is one thread per
 * VM: epoll over an eventfd (written when a guest signal or message queues
 * VMBus work) and a 250 ms timerfd for IC timers and SynIC redelivery.
 */
#include "vmm/hyperv.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "vmbus/vmbus.h"

#define TICK_MS 250
/*
 * Doorbell ports: channel connection id BASE + relid signals with a one-byte
 * write to DOORBELL_PORT_FIRST + relid - 1 (see hv.h). The platform decodes
 * nothing in 0x4000-0x47FF, and there are no PCI I/O BARs.
 */
#define DOORBELL_CONN_FIRST (VMBUS_CHAN_CONNECTION_ID_BASE + 1)
#define DOORBELL_COUNT (VMBUS_MAX_RELIDS - 1)
#define DOORBELL_PORT_FIRST 0x4000u
/* epoll data: fds are small non-negative ints; doorbells carry this tag. */
#define EV_BELL (1ull << 32)
/* Windows FILETIME epoch (1601-01-01) to Unix epoch, in 100 ns units. */
#define FILETIME_UNIX_OFFSET 116444736000000000ULL

struct vm_hyperv {
	struct gm *gm;
	unsigned int n_vps;
	struct hv *hv;
	struct vmbus_server *vmbus;
	struct ic *ic;
	struct part *part;            /* set by vm_hyperv_start */
	struct part_hooks hooks;
	struct hv_cpuid_entry cpuid[HV_CPUID_ENTRIES];
	size_t n_cpuid;
	vm_hyperv_crash_fn crash;
	void *crash_opaque;
	int wake_fd, timer_fd, epoll_fd, stop_fd;
	bool doorbells;               /* fast guest signals (off: OPENHV_NO_DOORBELLS=1) */
	bool lazy_eoi;                /* HV_X64_APIC_ACCESS_RECOMMENDED (off: OPENHV_NO_LAZY_EOI=1) */
	atomic_bool apic_msr_warned;
	int *bell_fd;                 /* [DOORBELL_COUNT]: eventfd per open channel, or -1 */
	uint64_t bells_fast_fail;     /* doorbells KVM would not take (the exit path serves) */
	uint64_t bells_kernel;        /* guest signals KVM delivered through a doorbell eventfd */
	uint64_t bells_exit;          /* doorbell writes that exited to us (atomic) */
	uint64_t hypercalls;          /* general hypercalls (atomic) */
	pthread_t loop;
	bool loop_running;
};

/* ---- hv host ops -------------------------------------------------------- */

static int hvh_inject_irq(void *opaque, uint32_t vp_index, uint8_t vector)
{
	struct vm_hyperv *h = opaque;

	return h->part ? part_send_vector(h->part, vp_index, vector) : -ENODEV;
}

static uint64_t hvh_read_tsc(void *opaque, uint32_t vp_index)
{
	struct vm_hyperv *h = opaque;

	return h->part ? part_guest_tsc(h->part, vp_index) : 0;
}

static void hvh_crash(void *opaque, const struct hv_crash_report *report)
{
	struct vm_hyperv *h = opaque;

	if (h->crash)
		h->crash(h->crash_opaque, report);
}

/* KVM's paravirtual EOI (its own Hyper-V code uses it for the APIC-assist bit). */
#define MSR_KVM_PV_EOI_EN 0x4b564d04u

static int hvh_eoi_assist(void *opaque, uint32_t vp_index, uint64_t gpa, bool on)
{
	struct vm_hyperv *h = opaque;
	uint64_t val = on ? gpa | 1 : 0;

	return h->part ? part_vp_msr(h->part, vp_index, MSR_KVM_PV_EOI_EN, true, &val) : -ENODEV;
}

static int hvh_apic_msr(void *opaque, uint32_t vp_index, uint32_t msr, bool write, uint64_t *val)
{
	struct vm_hyperv *h = opaque;
	int r = h->part ? part_vp_msr(h->part, vp_index, msr, write, val) : -ENODEV;

	if (r && !atomic_exchange(&h->apic_msr_warned, true))
		log_warn("the guest used a Hyper-V APIC register while its APIC is in xAPIC mode (booted with nox2apic?); lazy EOI needs x2APIC: drop nox2apic or set OPENHV_NO_LAZY_EOI=1");
	return r;
}

static const struct hv_host_ops hv_ops = {
	.inject_irq = hvh_inject_irq,
	.read_tsc = hvh_read_tsc,
	.crash = hvh_crash,
	.eoi_assist = hvh_eoi_assist,
	.apic_msr = hvh_apic_msr,
};

/* ---- vmbus host ops ------------------------------------------------------- */

static int vbh_post_msg(void *opaque, uint32_t vp_index, uint8_t sint, const void *msg, size_t len)
{
	struct vm_hyperv *h = opaque;

	return hv_synic_post_message(h->hv, vp_index, sint, VMBUS_SYNIC_MESSAGE_TYPE, msg, len);
}

static int vbh_signal_event(void *opaque, uint32_t vp_index, uint8_t sint, uint32_t flag)
{
	struct vm_hyperv *h = opaque;

	return hv_synic_signal_event(h->hv, vp_index, sint, flag);
}

static void vbh_flush_msgs(void *opaque, uint32_t vp_index, uint8_t sint)
{
	struct vm_hyperv *h = opaque;

	hv_synic_flush_queue(h->hv, vp_index, sint);
}

static void vbh_wake(void *opaque)
{
	struct vm_hyperv *h = opaque;
	uint64_t one = 1;

	if (write(h->wake_fd, &one, sizeof(one)) < 0) {
		/* eventfd counter saturated: a wake-up is pending anyway */
	}
}

/*
 * An open channel gets an eventfd that KVM signals when the guest rings the
 * channel's doorbell port, so a guest->host signal costs no exit to us. If
 * KVM refuses, the port still exits and hook_doorbell() does the same work.
 */
static void vbh_doorbell(void *opaque, uint32_t conn_id, bool on)
{
	struct vm_hyperv *h = opaque;
	uint32_t i = conn_id - DOORBELL_CONN_FIRST;
	uint16_t port = (uint16_t)(DOORBELL_PORT_FIRST + i);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_BELL | conn_id };
	int fd;

	if (!h->doorbells || i >= DOORBELL_COUNT || !h->bell_fd || !h->part || h->epoll_fd < 0)
		return;
	fd = h->bell_fd[i];
	if (on && fd < 0) {
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0 || part_doorbell(h->part, port, fd, true)) {
			if (fd >= 0)
				close(fd);
			h->bells_fast_fail++;
			return;
		}
		if (epoll_ctl(h->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			part_doorbell(h->part, port, fd, false);
			close(fd);
			h->bells_fast_fail++;
			return;
		}
		h->bell_fd[i] = fd;
	} else if (!on && fd >= 0) {
		epoll_ctl(h->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		part_doorbell(h->part, port, fd, false);
		close(fd);
		h->bell_fd[i] = -1;
	}
}

static const struct vmbus_host_ops vmbus_ops = {
	.post_msg = vbh_post_msg,
	.signal_event = vbh_signal_event,
	.flush_msgs = vbh_flush_msgs,
	.wake = vbh_wake,
	.doorbell = vbh_doorbell,
};

/* hv port handlers -> VMBus server */
static uint16_t port_post_msg(void *opaque, uint32_t vp_index, uint32_t connection_id,
			      uint32_t message_type, const void *payload, uint32_t len)
{
	return vmbus_server_post_message(opaque, vp_index, connection_id, message_type, payload, len);
}

static uint16_t port_signal_event(void *opaque, uint32_t vp_index, uint32_t connection_id,
				  uint16_t flag_number)
{
	return vmbus_server_signal_event(opaque, vp_index, connection_id, flag_number);
}

/* ---- IC host ops ----------------------------------------------------------- */

static uint64_t ich_utc_100ns(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 10000000ULL + (uint64_t)ts.tv_nsec / 100 + FILETIME_UNIX_OFFSET;
}

static uint64_t ich_ref_time(void *opaque)
{
	struct vm_hyperv *h = opaque;

	return hv_ref_time(h->hv);
}

static uint64_t ich_now_ns(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static const struct ic_host_ops ic_ops = {
	.utc_100ns = ich_utc_100ns,
	.ref_time = ich_ref_time,
	.now_ns = ich_now_ns,
};

/* ---- partition hooks ------------------------------------------------------ */

static void hook_cpuid(void *opaque, unsigned int vp_index, struct cpuid_leaf *leaves,
		       unsigned int *n, unsigned int max)
{
	struct vm_hyperv *h = opaque;
	unsigned int out = 0;

	(void)vp_index;
	/* Drop KVM's own paravirtual leaves; the guest must see Hyper-V only. */
	for (unsigned int i = 0; i < *n; i++) {
		struct cpuid_leaf l = leaves[i];
		if (l.function >= 0x40000000u && l.function <= 0x400000ffu)
			continue;
		if (l.function == 0x80000007u)
			l.edx |= 1u << 8; /* invariant TSC */
		leaves[out++] = l;
	}
	for (size_t i = 0; i < h->n_cpuid && out < max; i++)
		leaves[out++] = (struct cpuid_leaf){ .function = h->cpuid[i].function,
						     .index = h->cpuid[i].index,
						     .eax = h->cpuid[i].eax, .ebx = h->cpuid[i].ebx,
						     .ecx = h->cpuid[i].ecx, .edx = h->cpuid[i].edx };
	*n = out;
}

static int hook_msr_read(void *opaque, unsigned int vp_index, uint32_t msr, uint64_t *val)
{
	struct vm_hyperv *h = opaque;

	return hv_msr_read(h->hv, vp_index, msr, val);
}

static int hook_msr_write(void *opaque, unsigned int vp_index, uint32_t msr, uint64_t val)
{
	struct vm_hyperv *h = opaque;

	return hv_msr_write(h->hv, vp_index, msr, val);
}

static void hook_hypercall(void *opaque, struct vp *vp)
{
	struct vm_hyperv *h = opaque;
	struct vp_regs r;

	if (part_vp_get_regs(vp, &r))
		return;
	__atomic_fetch_add(&h->hypercalls, 1, __ATOMIC_RELAXED);
	/* RIP stays: KVM completes the OUT instruction when the VP runs again. */
	r.rax = hv_hypercall(h->hv, part_vp_index(vp), r.rcx, r.rdx, r.r8);
	part_vp_set_regs(vp, &r);
}

/* A doorbell write KVM did not consume (see vbh_doorbell). */
static void hook_doorbell(void *opaque, struct vp *vp, uint16_t port)
{
	struct vm_hyperv *h = opaque;
	struct vp_regs r;

	if (part_vp_get_regs(vp, &r))
		return;
	__atomic_fetch_add(&h->bells_exit, 1, __ATOMIC_RELAXED);
	r.rax = hv_doorbell(h->hv, part_vp_index(vp), port);
	part_vp_set_regs(vp, &r);
}

/* ---- event loop ------------------------------------------------------------- */

static void *event_loop(void *arg)
{
	struct vm_hyperv *h = arg;

	for (;;) {
		struct epoll_event ev[4];
		int n = epoll_wait(h->epoll_fd, ev, 4, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t cnt, tag = ev[i].data.u64;
			int fd = (int)(uint32_t)tag;

			if (tag & EV_BELL) {
				uint32_t conn = (uint32_t)tag;

				if (read(h->bell_fd[conn - DOORBELL_CONN_FIRST], &cnt, sizeof(cnt)) ==
				    sizeof(cnt))
					h->bells_kernel += cnt;
				vmbus_server_signal_event(h->vmbus, 0, conn, 0);
				continue;
			}
			if (fd == h->stop_fd)
				return NULL;
			if (read(fd, &cnt, sizeof(cnt)) < 0) {
				/* spurious wake-up: nothing to consume */
			}
			if (fd == h->timer_fd) {
				ic_tick(h->ic);
				hv_synic_retry(h->hv);
			}
		}
		/* Run until no more work: each pass handles what queued before it. */
		while (vmbus_server_process(h->vmbus) > 0)
			;
	}
	return NULL;
}

/* ---- life cycle ---------------------------------------------------------------- */

/*
 * Lazy EOI saves an exit per interrupt where EOI writes exit; with APICv or
 * AVIC they mostly do not, and KVM then never marks an EOI as lazy, so every
 * EOI would become an MSR exit to us instead: off there, as QEMU's hv-apicv
 * does. OPENHV_NO_LAZY_EOI=1 / OPENHV_LAZY_EOI=1 decide for comparisons.
 */
static bool lazy_eoi_wanted(void)
{
	const char *why = "OPENHV_NO_LAZY_EOI";
	bool on = false;

	if (getenv("OPENHV_NO_LAZY_EOI"))
		;
	else if (getenv("OPENHV_LAZY_EOI"))
		on = true;
	else if (part_host_apic_virtualization())
		why = "the host's KVM virtualizes the APIC";
	else
		on = true;
	if (on)
		log_debug("hyperv: lazy EOI on");
	else
		log_debug("hyperv: lazy EOI off (%s)", why);
	return on;
}

int vm_hyperv_new(struct gm *gm, unsigned int n_vps, vm_hyperv_crash_fn crash, void *opaque,
		  struct vm_hyperv **ret)
{
	/* The CPUID table does not depend on the TSC frequency, which only the
	 * partition can tell; hv itself is made once the partition exists. */
	struct hv_config hcfg = { .vp_count = n_vps, .crash_msrs = true, .tsc_hz = 1000000000ULL,
				  .lazy_eoi = lazy_eoi_wanted() };
	struct vm_hyperv *h;
	uint32_t first, count;
	int r;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->gm = gm;
	h->n_vps = n_vps;
	h->crash = crash;
	h->crash_opaque = opaque;
	h->wake_fd = h->timer_fd = h->epoll_fd = h->stop_fd = -1;
	/* A knob for A/B measurements (bench/hyperv) and for ruling them out when debugging. */
	h->doorbells = !getenv("OPENHV_NO_DOORBELLS");
	h->lazy_eoi = hcfg.lazy_eoi;
	r = hv_cpuid_for_config(&hcfg, h->cpuid);
	if (r) {
		free(h);
		return r;
	}
	h->n_cpuid = HV_CPUID_ENTRIES;
	hv_msr_filter_range(&first, &count);
	h->hooks = (struct part_hooks){
		.opaque = h,
		.cpuid = hook_cpuid,
		.msr_first = first,
		.msr_count = count,
		.msr_read = hook_msr_read,
		.msr_write = hook_msr_write,
		.hook_port = HV_HYPERCALL_PORT,
		.pio_hook = hook_hypercall,
		.doorbell_first = DOORBELL_PORT_FIRST,
		.doorbell_count = DOORBELL_COUNT,
		.doorbell_hook = hook_doorbell,
	};
	*ret = h;
	return 0;
}

/* Create hv (with the partition's TSC frequency), the VMBus server and the ICs. */
static int vm_hyperv_build(struct vm_hyperv *h, uint64_t tsc_hz)
{
	struct hv_config hcfg = { .vp_count = h->n_vps, .crash_msrs = true, .tsc_hz = tsc_hz,
				  .lazy_eoi = h->lazy_eoi,
				  .doorbell_conn_first = DOORBELL_CONN_FIRST,
				  .doorbell_count = h->doorbells ? DOORBELL_COUNT : 0,
				  .doorbell_port_first = DOORBELL_PORT_FIRST };
	struct vmbus_server_config vcfg = { .vp_count = h->n_vps };
	int r;

	r = hv_new(h->gm, &hcfg, &hv_ops, h, &h->hv);
	r = r ?: vmbus_server_new(h->gm, &vcfg, &vmbus_ops, h, &h->vmbus);
	r = r ?: hv_register_msg_port(h->hv, 1, 1, port_post_msg, h->vmbus);
	r = r ?: hv_register_msg_port(h->hv, 4, 1, port_post_msg, h->vmbus);
	r = r ?: hv_register_event_port(h->hv, VMBUS_CHAN_CONNECTION_ID_BASE + 1,
					VMBUS_MAX_RELIDS - 1, port_signal_event, h->vmbus);
	r = r ?: ic_new(h->vmbus, NULL, &ic_ops, h, &h->ic);
	return r;
}

const struct part_hooks *vm_hyperv_hooks(struct vm_hyperv *h)
{
	return &h->hooks;
}

struct ic *vm_hyperv_ic(struct vm_hyperv *h)
{
	return h->ic;
}

struct vmbus_server *vm_hyperv_vmbus(struct vm_hyperv *h)
{
	return h->vmbus;
}

static int add_fd(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)(uint32_t)fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int vm_hyperv_start(struct vm_hyperv *h, struct part *p)
{
	struct itimerspec its = { .it_interval = { 0, TICK_MS * 1000000L },
				  .it_value = { 0, TICK_MS * 1000000L } };
	uint64_t khz = part_tsc_khz(p);
	int r;

	if (!khz)
		return -ENOTSUP; /* without the TSC frequency the guest's clock would be wrong */
	h->part = p;
	h->bell_fd = malloc(DOORBELL_COUNT * sizeof(*h->bell_fd));
	if (!h->bell_fd)
		return -ENOMEM;
	for (unsigned int i = 0; i < DOORBELL_COUNT; i++)
		h->bell_fd[i] = -1;
	r = vm_hyperv_build(h, khz * 1000);
	if (r)
		return r;
	h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	h->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (h->wake_fd < 0 || h->stop_fd < 0 || h->timer_fd < 0 || h->epoll_fd < 0)
		return -errno;
	if (timerfd_settime(h->timer_fd, 0, &its, NULL) < 0)
		return -errno;
	r = add_fd(h->epoll_fd, h->wake_fd);
	r = r ?: add_fd(h->epoll_fd, h->stop_fd);
	r = r ?: add_fd(h->epoll_fd, h->timer_fd);
	if (r)
		return r;
	r = pthread_create(&h->loop, NULL, event_loop, h);
	if (r)
		return -r;
	h->loop_running = true;
	return 0;
}

void vm_hyperv_stop(struct vm_hyperv *h)
{
	if (!h || !h->loop_running)
		return;
	{
		uint64_t one = 1;
		if (write(h->stop_fd, &one, sizeof(one)) < 0) {
			/* cannot happen for a fresh eventfd */
		}
	}
	pthread_join(h->loop, NULL);
	h->loop_running = false;
}

void vm_hyperv_free(struct vm_hyperv *h)
{
	if (!h)
		return;
	vm_hyperv_stop(h);
	if (h->vmbus)
		log_debug("hyperv: guest signals: %" PRIu64 " by doorbell in KVM, %" PRIu64
			  " by doorbell exit, %" PRIu64 " doorbells refused by KVM; %" PRIu64
			  " other hypercalls",
			  h->bells_kernel, h->bells_exit, h->bells_fast_fail, h->hypercalls);
	if (h->hv) {
		struct hv_stats st;

		hv_get_stats(h->hv, &st);
		log_debug("hyperv: lazy EOI %s: %" PRIu64 " EOI writes reached us, %" PRIu64
			  " VP assist pages refused by KVM",
			  h->lazy_eoi ? "on" : "off", st.eoi_msr, st.eoi_assist_fail);
	}
	ic_free(h->ic);
	vmbus_server_free(h->vmbus); /* closes its channels' doorbells */
	hv_free(h->hv);
	if (h->bell_fd) {
		for (unsigned int i = 0; i < DOORBELL_COUNT; i++)
			if (h->bell_fd[i] >= 0)
				close(h->bell_fd[i]);
		free(h->bell_fd);
	}
	if (h->wake_fd >= 0)
		close(h->wake_fd);
	if (h->stop_fd >= 0)
		close(h->stop_fd);
	if (h->timer_fd >= 0)
		close(h->timer_fd);
	if (h->epoll_fd >= 0)
		close(h->epoll_fd);
	free(h);
}
