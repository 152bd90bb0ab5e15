// SPDX-License-Identifier: MIT
/* Disk-library back-end for the SCSI target. See storvsp_blk.h. */
#include "vsp/storvsp/storvsp_blk.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "base/util.h"
#include "openhv/disk.h"

#define BLK_QUEUE_DEPTH 128u

struct blk_uring;

struct storvsp_blk {
	struct disk *disk;
	struct scsi_disk *sd;
	struct blk_uring *u;      /* io_uring engine, or NULL */
	struct blk_pool *pool;    /* thread-pool engine, or NULL (neither: synchronous only) */
	int raw_fd;               /* raw images: an fd of the file (offset = LBA * size), else -1 */
	bool raw_fd_owned;        /* we opened raw_fd (else the disk's own file has it) */
	bool direct_ok;           /* disk_begin_direct_writes() done */
	/*
	 * Writable raw images with io_uring: the same file opened O_DIRECT, for
	 * writes whose offset, length and buffers meet the dio_* alignments (else -1).
	 * Buffered ext4 writes cannot be done by io_uring without handing them
	 * to a kernel worker thread; direct ones complete in the submitter's
	 * context. Reads stay buffered (a page-cache hit is cheaper).
	 */
	int direct_fd;
	uint32_t dio_off_align;   /* file offset, length and buffer-piece length multiple */
	uint32_t dio_mem_align;   /* buffer address multiple */
	atomic_bool direct_refused;   /* the file system said EINVAL once: buffered from then */
	atomic_ulong direct_writes;   /* writes that went O_DIRECT (tests, stats) */
	/*
	 * Reads tried with RWF_NOWAIT on the submitting thread before they go
	 * to an engine: a page-cache hit then costs one copy and no hand-off.
	 * Only the submitter touches these.
	 */
	bool no_nowait;               /* the file system refused RWF_NOWAIT */
	unsigned long inline_reads;   /* reads served that way */
};

static int blk_submit(void *o, struct scsi_io *io);

static int blk_readv(void *o, uint64_t off, const struct iovec *iov, int cnt)
{
	return disk_readv(((struct storvsp_blk *)o)->disk, off, iov, cnt);
}

static int blk_writev(void *o, uint64_t off, const struct iovec *iov, int cnt)
{
	return disk_writev(((struct storvsp_blk *)o)->disk, off, iov, cnt);
}

static int blk_flush(void *o)
{
	return disk_flush(((struct storvsp_blk *)o)->disk);
}

static int blk_discard(void *o, uint64_t off, uint64_t len)
{
	return disk_discard(((struct storvsp_blk *)o)->disk, off, len);
}

static const struct scsi_blk_ops blk_ops = {
	.readv = blk_readv, .writev = blk_writev, .flush = blk_flush, .discard = blk_discard,
	.submit = blk_submit,
};
/* Differencing images: a discarded range may read back from the parent. */
static const struct scsi_blk_ops blk_ops_nodiscard = {
	.readv = blk_readv, .writev = blk_writev, .flush = blk_flush, .submit = blk_submit,
};

/* ---- asynchronous data path (io_uring) ---- */

/*
 * Plain descriptor I/O for what io_uring left over (short transfers) and for
 * the completion thread: starts `skip` bytes into iov and off; reads past
 * end of file give zeros.
 */
static int fd_rw_from(int fd, const struct iovec *iov, int cnt, uint64_t off, size_t skip, bool wr)
{
	size_t total = 0;

	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	while (skip < total) {
		size_t k = skip;
		ssize_t got;
		int i = 0;

		while (i < cnt && k >= iov[i].iov_len)
			k -= iov[i++].iov_len;
		got = wr ? pwrite(fd, (uint8_t *)iov[i].iov_base + k, iov[i].iov_len - k,
				  (off_t)(off + skip)) :
			   pread(fd, (uint8_t *)iov[i].iov_base + k, iov[i].iov_len - k,
				 (off_t)(off + skip));
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0) {
			if (wr)
				return -EIO;
			memset((uint8_t *)iov[i].iov_base + k, 0, iov[i].iov_len - k);
			got = (ssize_t)(iov[i].iov_len - k);
		}
		skip += (size_t)got;
	}
	return 0;
}

/*
 * Where [off, off + len) lives: one host fd and offset, when the image
 * stores the whole range contiguously in this layer; else -EAGAIN (zero or
 * parent ranges, allocation on write, several extents) for the library.
 */
static int blk_locate(struct storvsp_blk *b, uint64_t off, uint64_t len, int *fd,
		      uint64_t *file_off)
{
	struct disk_extent e;
	int r = disk_map(b->disk, off, len, &e);

	if (r)
		return r;
	if (e.kind != DISK_EXT_DATA || e.fd < 0 || e.len < len)
		return -EAGAIN;
	*fd = e.fd;
	*file_off = e.file_off;
	return 0;
}

/*
 * The host descriptor and offset an asynchronous engine may use for io, or
 * -EAGAIN when the disk library has to do it synchronously: VHD/VHDX
 * flushes and FUA writes (they commit metadata too) and ranges that are not
 * one stored extent.
 */
static int blk_target(struct storvsp_blk *b, struct scsi_io *io, int *fd, uint64_t *file_off)
{
	int r;

	*file_off = 0;
	if (io->op == SCSI_IO_FLUSH) {
		if (b->raw_fd < 0)
			return -EAGAIN;
		*fd = b->raw_fd;
		return 0;
	}
	if (io->fua && b->raw_fd < 0)
		return -EAGAIN;
	if (b->raw_fd >= 0) {
		/* Raw: the file is the disk, holes included. */
		*fd = b->raw_fd;
		*file_off = io->off;
	} else {
		r = blk_locate(b, io->off, io->len, fd, file_off);
		if (r)
			return r;
	}
	if (io->op == SCSI_IO_WRITE && !b->direct_ok) {
		/* The engines run on other threads: only the submitter sets this. */
		if (disk_begin_direct_writes(b->disk))
			return -EAGAIN;
		b->direct_ok = true;
	}
	return 0;
}

#ifdef HAVE_LIBURING
/*
 * One ring per disk. Submissions come from the transport (under its lock,
 * serialised by sq_lock as well); one thread reaps completions, finishes
 * short transfers with plain syscalls and calls io->done() without any lock.
 *
 * Many requests complete while io_uring_enter() submits them (a page-cache
 * read, a direct write to a fast device): their completion is in the ring
 * when submit returns. The submitter then takes it itself, under cq_lock,
 * and reports the request done inline (SCSI_IO_DONE_INLINE) instead of
 * waking the reaper to hand it back. It only takes completions of its own
 * request from the head of the ring; anything else stays for the reaper,
 * which waits for a non-empty ring and so cannot miss what is left there.
 */
struct blk_uring {
	struct io_uring ring;
	pthread_mutex_t sq_lock;
	pthread_mutex_t cq_lock;  /* consuming completions: the reaper or the submitter */
	bool reap_inline;         /* the submitter may take its own completions */
	atomic_ulong inline_done; /* requests it completed that way (tests, stats) */
	pthread_t thread;
	bool thread_started;
	atomic_uint in_flight;   /* scsi_io operations started and not done */
	bool broken;             /* a submit failed (e.g. seccomp): synchronous from then on */
};

/* Per-operation state lives in the scsi_io itself (be_result, be_parts);
 * the file location of the data goes in these, set at submit time. */
struct blk_op {
	struct scsi_io *io;
	struct storvsp_blk *b;
	int fd;                   /* buffered: for leftovers and a redone direct write */
	uint64_t file_off;
	unsigned int cqes;        /* completions seen so far */
	bool sync_here;           /* a short FUA write: fdatasync in the reaper */
	bool direct;              /* the data part went through b->direct_fd */
	struct blk_op *next;      /* the reaper's list of finished operations */
};

#define BLK_STOP_TAG 1u   /* user_data of the NOP that ends the thread */

static void blk_op_done(struct blk_uring *u, struct blk_op *op)
{
	struct scsi_io *io = op->io;
	int r = io->be_result;

	free(op);
	atomic_fetch_sub(&u->in_flight, 1);
	io->done(io, r);
}

/*
 * One completion of op (result res), under cq_lock: records the outcome in
 * op->io and returns true once all of the operation's completions are in.
 */
static bool blk_cqe(struct blk_op *op, int res)
{
	struct scsi_io *io = op->io;

	op->cqes++;
	if (io->op == SCSI_IO_FLUSH) {
		io->be_result = res < 0 ? res : 0;
	} else if (op->cqes == 1) {
		/* The data part (linked requests complete in order). */
		if (res == -EINVAL && op->direct) {
			/*
			 * The file system refused O_DIRECT after all (an
			 * alignment it did not report): do it buffered, and
			 * its FUA sync here (the linked one was cancelled).
			 */
			atomic_store(&op->b->direct_refused, true);
			io->be_result = fd_rw_from(op->fd, io->iov, io->iovcnt, op->file_off, 0, true);
			op->sync_here = io->fua;
		} else if (res < 0) {
			io->be_result = res;
		} else if ((uint64_t)res < io->len) {
			/* Short: finish here; a linked fdatasync was cancelled. */
			io->be_result = fd_rw_from(op->fd, io->iov, io->iovcnt, op->file_off,
						   (size_t)res, io->op == SCSI_IO_WRITE);
			op->sync_here = io->fua;
		}
	} else if (!io->be_result) {
		/* The linked fdatasync of a FUA write. */
		if (op->sync_here)
			io->be_result = fdatasync(op->fd) < 0 ? -errno : 0;
		else if (res < 0)
			io->be_result = res;
	}
	return op->cqes == io->be_parts;
}

static void *blk_reaper(void *arg)
{
	struct blk_uring *u = arg;
	bool stop = false;

	while (!stop) {
		struct io_uring_cqe *cqe;
		struct blk_op *finished = NULL;
		int r;

		/* Sleep until the ring holds a completion; take them under cq_lock. */
		r = io_uring_wait_cqe(&u->ring, &cqe);
		if (r == -EINTR || r == -EAGAIN)
			continue;
		if (r < 0)
			break;   /* the ring is unusable; nothing more will complete */
		pthread_mutex_lock(&u->cq_lock);
		while (!io_uring_peek_cqe(&u->ring, &cqe)) {
			struct blk_op *op = (struct blk_op *)(uintptr_t)cqe->user_data;
			int res = cqe->res;

			io_uring_cqe_seen(&u->ring, cqe);
			if (cqe->user_data == BLK_STOP_TAG) {
				stop = true;
				break;
			}
			if (op && blk_cqe(op, res)) {
				op->next = finished;
				finished = op;
			}
		}
		pthread_mutex_unlock(&u->cq_lock);
		while (finished) {
			struct blk_op *op = finished;

			finished = op->next;
			blk_op_done(u, op);
		}
	}
	return NULL;
}

static void blk_uring_free(struct blk_uring *u)
{
	if (!u)
		return;
	if (u->thread_started && u->broken) {
		pthread_cancel(u->thread);   /* its ring cannot deliver a stop request */
		pthread_join(u->thread, NULL);
	} else if (u->thread_started) {
		struct io_uring_sqe *sqe;

		/* Everything submitted completes first (the transport waited for
		 * its requests); then a NOP tells the reaper to leave. */
		while (atomic_load(&u->in_flight))
			usleep(1000);
		pthread_mutex_lock(&u->sq_lock);
		sqe = io_uring_get_sqe(&u->ring);
		if (sqe) {
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, BLK_STOP_TAG);
			(void)io_uring_submit(&u->ring);
		}
		pthread_mutex_unlock(&u->sq_lock);
		/* With nothing in flight the ring has room for the NOP. */
		if (sqe)
			pthread_join(u->thread, NULL);
	}
	io_uring_queue_exit(&u->ring);
	pthread_mutex_destroy(&u->sq_lock);
	pthread_mutex_destroy(&u->cq_lock);
	free(u);
}

/* NULL when io_uring is not available (old kernel, seccomp): stay synchronous. */
static struct blk_uring *blk_uring_new(void)
{
	struct blk_uring *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	if (io_uring_queue_init(2 * BLK_QUEUE_DEPTH, &u->ring, 0) < 0) {
		free(u);
		return NULL;
	}
	pthread_mutex_init(&u->sq_lock, NULL);
	pthread_mutex_init(&u->cq_lock, NULL);
	atomic_init(&u->in_flight, 0);
	atomic_init(&u->inline_done, 0);
	u->reap_inline = getenv("OPENHV_STORAGE_NO_INLINE") == NULL;   /* for comparisons */
	if (pthread_create(&u->thread, NULL, blk_reaper, u)) {
		io_uring_queue_exit(&u->ring);
		pthread_mutex_destroy(&u->sq_lock);
		pthread_mutex_destroy(&u->cq_lock);
		free(u);
		return NULL;
	}
	u->thread_started = true;
	return u;
}

/*
 * Whether a write may go O_DIRECT: the file range in whole logical blocks,
 * each buffer piece a whole number of them at an address the device can
 * reach directly (what Linux checks before it takes a direct write).
 */
static bool blk_direct_fits(struct storvsp_blk *b, const struct scsi_io *io)
{
	if (b->direct_fd < 0 || atomic_load(&b->direct_refused) ||
	    io->off % b->dio_off_align || io->len % b->dio_off_align)
		return false;
	for (int i = 0; i < io->iovcnt; i++)
		if ((uintptr_t)io->iov[i].iov_base % b->dio_mem_align ||
		    io->iov[i].iov_len % b->dio_off_align)
			return false;
	return true;
}

/*
 * Right after submitting op, with cq_lock held (released here): take its
 * completions if they are already at the head of the ring.
 * SCSI_IO_DONE_INLINE when that finished it (the result is in
 * op->io->be_result, done() will not be called), else 0 and the reaper
 * finishes it. Holding cq_lock since before the submit, nobody else can
 * have consumed a completion of op, so op is still alive here.
 */
static int uring_reap_own(struct blk_uring *u, struct blk_op *op)
{
	struct io_uring_cqe *cqe;
	bool finished = false;

	while (!io_uring_peek_cqe(&u->ring, &cqe) && cqe->user_data == (uintptr_t)op) {
		int res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe);
		if (blk_cqe(op, res)) {
			finished = true;
			break;
		}
	}
	pthread_mutex_unlock(&u->cq_lock);
	if (!finished)
		return 0;
	free(op);
	atomic_fetch_sub(&u->in_flight, 1);
	atomic_fetch_add(&u->inline_done, 1);
	return SCSI_IO_DONE_INLINE;
}

/* io at fd/file_off (from blk_target()) on the ring. */
static int uring_submit(struct storvsp_blk *b, struct scsi_io *io, int fd, uint64_t file_off)
{
	struct blk_uring *u = b->u;
	struct io_uring_sqe *sqe, *sync = NULL;
	struct blk_op *op;
	int r;
	bool own;

	if (atomic_load(&u->in_flight) >= BLK_QUEUE_DEPTH)
		return -EAGAIN;   /* full: the caller does it synchronously (back-pressure) */
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->io = io;
	op->b = b;
	op->fd = fd;
	op->file_off = file_off;
	op->direct = io->op == SCSI_IO_WRITE && fd == b->raw_fd && blk_direct_fits(b, io);
	io->be_result = 0;
	io->be_parts = io->op != SCSI_IO_FLUSH && io->fua ? 2 : 1;
	pthread_mutex_lock(&u->sq_lock);
	if (u->broken) {
		pthread_mutex_unlock(&u->sq_lock);
		free(op);
		return -EAGAIN;
	}
	if (io_uring_sq_space_left(&u->ring) < io->be_parts)
		(void)io_uring_submit(&u->ring);
	sqe = io_uring_get_sqe(&u->ring);
	if (sqe && io->be_parts == 2) {
		sync = io_uring_get_sqe(&u->ring);
		if (!sync) {
			/* Not after the space check above; a NOP the reaper ignores. */
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, 0);
			(void)io_uring_submit(&u->ring);
			sqe = NULL;
		}
	}
	if (!sqe) {
		pthread_mutex_unlock(&u->sq_lock);
		free(op);
		return -EAGAIN;
	}
	switch (io->op) {
	case SCSI_IO_READ:
		io_uring_prep_readv(sqe, fd, io->iov, (unsigned)io->iovcnt, file_off);
		break;
	case SCSI_IO_WRITE:
		io_uring_prep_writev(sqe, op->direct ? b->direct_fd : fd, io->iov,
				     (unsigned)io->iovcnt, file_off);
		break;
	case SCSI_IO_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	}
	io_uring_sqe_set_data(sqe, op);
	if (sync) {
		sqe->flags |= IOSQE_IO_LINK;
		io_uring_prep_fsync(sync, fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data(sync, op);
	}
	atomic_fetch_add(&u->in_flight, 1);
	if (op->direct)
		atomic_fetch_add(&b->direct_writes, 1);
	/*
	 * Hold cq_lock over the submit when it is free: the reaper, woken by a
	 * completion posted during the submit, then waits until this thread has
	 * looked for its own (else it would usually win the race and hand the
	 * request back the slow way).
	 */
	own = u->reap_inline && !pthread_mutex_trylock(&u->cq_lock);
	r = io_uring_submit(&u->ring);
	if (r < 0)
		u->broken = true;   /* the SQEs stay queued: never submit this ring again */
	pthread_mutex_unlock(&u->sq_lock);
	if (r < 0) {
		if (own)
			pthread_mutex_unlock(&u->cq_lock);
		/*
		 * The kernel took none of it (io_uring_submit fails before
		 * consuming SQEs only for ring-wide errors): give it back.
		 */
		atomic_fetch_sub(&u->in_flight, 1);
		free(op);
		return -EAGAIN;
	}
	return own ? uring_reap_own(u, op) : 0;
}
#else
struct blk_uring {
	int unused;
};

static void blk_uring_free(struct blk_uring *u)
{
	free(u);
}

static struct blk_uring *blk_uring_new(void)
{
	return NULL;
}

static int uring_submit(struct storvsp_blk *b, struct scsi_io *io, int fd, uint64_t file_off)
{
	(void)b;
	(void)io;
	(void)fd;
	(void)file_off;
	return -EAGAIN;
}
#endif

/* ---- asynchronous data path (thread pool) ---- */

/*
 * Where io_uring is not to be had (the sealed worker's seccomp filter refuses
 * it, as its operations would pass the filter by), a few threads per disk do
 * the same single-extent reads, writes and flushes with preadv/pwritev/
 * fdatasync, which the filter sees. A request the pool takes is done on one of
 * its threads; io->done() is called there, no lock held. Threads are made on
 * demand (none while the disk is idle, one more whenever a request finds
 * every thread busy, up to BLK_POOL_THREADS), so a worker with many quiet
 * disks stays well inside its cgroup's pids.max; if not even one can be
 * made, the request runs synchronously.
 */
#define BLK_POOL_THREADS 4

struct blk_pool_op {
	struct blk_pool_op *next;
	struct scsi_io *io;
	int fd;
	uint64_t file_off;
};

struct blk_pool {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct blk_pool_op *head, **tail;
	unsigned int queued;      /* taken and not yet done */
	unsigned int idle;        /* threads waiting for work */
	bool stop;
	unsigned int nthreads;
	pthread_t thread[BLK_POOL_THREADS];
};

static int pool_do(struct blk_pool_op *op)
{
	struct scsi_io *io = op->io;
	int r;

	switch (io->op) {
	case SCSI_IO_READ:
		return fd_rw_from(op->fd, io->iov, io->iovcnt, op->file_off, 0, false);
	case SCSI_IO_WRITE:
		r = fd_rw_from(op->fd, io->iov, io->iovcnt, op->file_off, 0, true);
		if (!r && io->fua && fdatasync(op->fd) < 0)
			r = -errno;
		return r;
	case SCSI_IO_FLUSH:
		return fdatasync(op->fd) < 0 ? -errno : 0;
	}
	return -EINVAL;
}

static void *pool_thread(void *arg)
{
	struct blk_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct blk_pool_op *op;
		struct scsi_io *io;
		int r;

		while (!p->head && !p->stop) {
			p->idle++;
			pthread_cond_wait(&p->cv, &p->lock);
			p->idle--;
		}
		if (!p->head)
			break;   /* stopping, and nothing left */
		op = p->head;
		p->head = op->next;
		if (!p->head)
			p->tail = &p->head;
		pthread_mutex_unlock(&p->lock);
		io = op->io;
		r = pool_do(op);
		free(op);
		io->done(io, r);
		pthread_mutex_lock(&p->lock);
		p->queued--;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void blk_pool_free(struct blk_pool *p)
{
	if (!p)
		return;
	/* The transport has nothing in flight; the threads finish the queue anyway. */
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->lock);
	for (unsigned int i = 0; i < p->nthreads; i++)
		pthread_join(p->thread[i], NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static struct blk_pool *blk_pool_new(void)
{
	struct blk_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->tail = &p->head;
	return p;
}

/* io at fd/file_off (from blk_target()) on the thread pool. */
static int pool_submit(struct storvsp_blk *b, struct scsi_io *io, int fd, uint64_t file_off)
{
	struct blk_pool *p = b->pool;
	struct blk_pool_op *op;

	if (__atomic_load_n(&p->queued, __ATOMIC_RELAXED) >= BLK_QUEUE_DEPTH)
		return -EAGAIN;   /* full: the caller does it synchronously (back-pressure) */
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->io = io;
	op->fd = fd;
	op->file_off = file_off;
	pthread_mutex_lock(&p->lock);
	if (!p->idle && p->nthreads < BLK_POOL_THREADS &&
	    !pthread_create(&p->thread[p->nthreads], NULL, pool_thread, p))
		p->nthreads++;
	if (!p->nthreads) {
		/* No thread at all (pids limit): the caller does it synchronously. */
		pthread_mutex_unlock(&p->lock);
		free(op);
		return -EAGAIN;
	}
	*p->tail = op;
	p->tail = &op->next;
	p->queued++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static _Atomic enum storvsp_blk_engine blk_engine_wanted = STORVSP_BLK_URING;

void storvsp_blk_set_engine(enum storvsp_blk_engine e)
{
	atomic_store(&blk_engine_wanted, e);
}

/*
 * A read served from the page cache right here, when all of it is there:
 * preadv2(RWF_NOWAIT) copies what is cached and never waits for the device.
 * Anything less (a miss, a partial hit, end of file, an error) goes to the
 * engine as before; the engine then reads the whole range again.
 */
static int blk_read_inline(struct storvsp_blk *b, struct scsi_io *io, int fd, uint64_t file_off)
{
	ssize_t got;

	if (b->no_nowait)
		return -EAGAIN;
	got = preadv2(fd, io->iov, io->iovcnt, (off_t)file_off, RWF_NOWAIT);
	if (got >= 0 && (uint64_t)got == io->len) {
		io->be_result = 0;
		b->inline_reads++;
		return SCSI_IO_DONE_INLINE;
	}
	if (got < 0 && (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS ||
			errno == EPERM))
		b->no_nowait = true;   /* not on this file (system): stop trying */
	return -EAGAIN;
}

static int blk_submit(void *o, struct scsi_io *io)
{
	struct storvsp_blk *b = o;
	uint64_t file_off;
	int fd, r;

	if (!b->u && !b->pool)
		return -EAGAIN;
	/* Where the data lives, once for the inline try and the engine. */
	r = blk_target(b, io, &fd, &file_off);
	if (r)
		return r;
	if (io->op == SCSI_IO_READ && blk_read_inline(b, io, fd, file_off) == SCSI_IO_DONE_INLINE)
		return SCSI_IO_DONE_INLINE;
	return b->u ? uring_submit(b, io, fd, file_off) : pool_submit(b, io, fd, file_off);
}

/* FNV-1a, to derive stable identifiers from the path when the image has none. */
static uint64_t fnv1a(const void *data, size_t len, uint64_t h)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void make_ids(const struct disk_info *info, const char *path, struct scsi_disk_params *p)
{
	static const uint8_t zero[16];
	uint8_t id[16];

	if (memcmp(info->disk_id, zero, sizeof(zero))) {
		memcpy(id, info->disk_id, sizeof(id));
	} else {
		uint64_t a = fnv1a(path, strlen(path), 0xcbf29ce484222325ull);
		uint64_t b = fnv1a(path, strlen(path), a);

		memcpy(id, &a, 8);
		memcpy(id + 8, &b, 8);
	}
	memcpy(p->naa, id, sizeof(p->naa));
	for (int i = 0; i < 10; i++)
		snprintf(p->serial + 2 * i, 3, "%02x", id[i]);
}

/*
 * A second, O_DIRECT descriptor of a writable raw image, with the alignment
 * the file system reports (statx STATX_DIOALIGN, Linux 6.1+; 4096 when the
 * kernel does not say). Leaves direct_fd at -1 where direct I/O is not to be
 * had: tmpfs before Linux 6.6, /proc missing for a passed descriptor, or
 * OPENHV_STORAGE_NO_DIRECT set. Costs nothing when absent: writes stay
 * buffered.
 */
static void blk_open_direct(struct storvsp_blk *b, const char *path, bool by_fd)
{
	char proc[64];
	int fd;

	b->direct_fd = -1;
	if (getenv("OPENHV_STORAGE_NO_DIRECT"))
		return;
	if (by_fd) {
		/* Reopen the passed file itself, not whatever path names now. */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", b->raw_fd);
		path = proc;
	}
	fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return;
	b->dio_off_align = 4096;
	b->dio_mem_align = 4096;
#ifdef STATX_DIOALIGN
	{
		struct statx stx;

		if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
		    (stx.stx_mask & STATX_DIOALIGN)) {
			if (!stx.stx_dio_offset_align) {
				close(fd);   /* the file system has no direct I/O for this file */
				return;
			}
			b->dio_off_align = stx.stx_dio_offset_align < 512 ? 512 :
					   stx.stx_dio_offset_align;
			b->dio_mem_align = stx.stx_dio_mem_align ? stx.stx_dio_mem_align : 1;
		}
	}
#endif
	b->direct_fd = fd;
}

int storvsp_blk_open(const char *path, int fd, bool read_only, bool dvd,
		     struct storvsp_blk **ret, char *err, size_t errlen)
{
	return storvsp_blk_open_chain(path, fd, NULL, 0, read_only, dvd, ret, err, errlen);
}

int storvsp_blk_open_chain(const char *path, int fd, const int *parent_fds, unsigned n_parents,
			   bool read_only, bool dvd, struct storvsp_blk **ret, char *err,
			   size_t errlen)
{
	struct scsi_disk_params p = { 0 };
	struct disk_diag diag = { 0 };
	struct disk_info info;
	enum storvsp_blk_engine engine;
	struct storvsp_blk *b;
	unsigned flags = 0;
	int raw_file_fd = -1;
	int r;

	if (read_only || dvd)
		flags |= DISK_OPEN_RDONLY;
	if (dvd)
		flags |= DISK_OPEN_FMT_RAW;
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "disk '%s': out of memory", path);
		return -ENOMEM;
	}
	b->raw_fd = -1;
	b->direct_fd = -1;
	if (n_parents && (fd < 0 || dvd || n_parents > STORVSP_BLK_PARENTS_MAX)) {
		snprintf(err, errlen, "disk '%s': %u parent images cannot be used here (they come "
			 "with the image's descriptor, at most %d, and not for a DVD)", path,
			 n_parents, STORVSP_BLK_PARENTS_MAX);
		free(b);
		return -EINVAL;
	}
	if (n_parents) {
		/* A differencing image with its chain, as the service resolved it. */
		int fds[1 + STORVSP_BLK_PARENTS_MAX];
		const char *names[1 + STORVSP_BLK_PARENTS_MAX];
		char pnames[STORVSP_BLK_PARENTS_MAX][64];

		fds[0] = fd;
		names[0] = path;
		for (unsigned i = 0; i < n_parents; i++) {
			fds[i + 1] = parent_fds[i];
			snprintf(pnames[i], sizeof(pnames[i]), "parent %u of the disk", i + 1);
			names[i + 1] = pnames[i];
		}
		r = disk_open_fd_chain(fds, names, n_parents + 1, flags, &diag, &b->disk);
	} else if (fd >= 0) {
		struct disk_file *f = NULL;

		r = disk_file_fdopen(fd, flags & DISK_OPEN_RDONLY, &f);
		if (r) {
			snprintf(err, errlen, "disk '%s': the passed descriptor %d is unusable (%s); "
				 "pass an open%s file", path, fd, strerror(-r),
				 flags & DISK_OPEN_RDONLY ? "" : " read-write");
			free(b);
			return r;
		}
		raw_file_fd = f->fd;
		r = disk_open_file(f, path, flags, &diag, &b->disk);
	} else {
		r = disk_open(path, flags, &diag, &b->disk);
	}
	if (r) {
		snprintf(err, errlen, "disk '%s': %s", path, diag.msg[0] ? diag.msg : strerror(-r));
		free(b);
		return r;
	}
	disk_get_info(b->disk, &info);
	if (info.type == DISK_TYPE_DIFF && !disk_parent(b->disk)) {
		/* Without its parents the image would read as zeros where it has no data. */
		snprintf(err, errlen, "disk '%s' is a differencing image passed without its parent "
			 "images; pass the whole chain", path);
		r = -EINVAL;
		goto fail;
	}
	p.size = info.virtual_size;
	p.read_only = read_only || dvd || info.rdonly;
	p.dvd = dvd;
	if (dvd) {
		p.block_size = 2048;
	} else {
		p.block_size = info.logical_sector == 4096 ? 4096 : 512;
		p.phys_block_size = info.physical_sector >= p.block_size &&
				    info.physical_sector <= 65536 ? info.physical_sector : 0;
	}
	make_ids(&info, path, &p);
	if (p.size < p.block_size) {
		snprintf(err, errlen, "disk '%s' is smaller than one %u-byte sector; use a larger image",
			 path, p.block_size);
		r = -EINVAL;
		goto fail;
	}
	if (info.format == DISK_FMT_RAW) {
		if (fd >= 0) {
			b->raw_fd = raw_file_fd;
		} else {
			/* The library keeps its fd to itself: our own on the same file. */
			b->raw_fd = open(path, (p.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
			b->raw_fd_owned = b->raw_fd >= 0;
		}
	}
	engine = atomic_load(&blk_engine_wanted);
	/* For comparisons: the environment may only step down (io_uring > threads > sync). */
	if (getenv("OPENHV_STORAGE_SYNC"))
		engine = STORVSP_BLK_SYNC;
	else if (getenv("OPENHV_STORAGE_THREADS") && engine == STORVSP_BLK_URING)
		engine = STORVSP_BLK_THREADS;
	if (engine == STORVSP_BLK_URING)
		b->u = blk_uring_new();
	if (engine != STORVSP_BLK_SYNC && !b->u)
		b->pool = blk_pool_new();
	if (b->u && b->raw_fd >= 0 && !p.read_only)
		blk_open_direct(b, path, fd >= 0);
	/* For comparisons: NO_INLINE turns off both inline paths, NO_CACHED_READS this one. */
	b->no_nowait = getenv("OPENHV_STORAGE_NO_INLINE") || getenv("OPENHV_STORAGE_NO_CACHED_READS");
	r = scsi_disk_new(&p, info.type == DISK_TYPE_DIFF ? &blk_ops_nodiscard : &blk_ops, b,
			  &b->sd);
	if (r) {
		snprintf(err, errlen, "disk '%s': unsupported geometry (sector %u, physical %u)", path,
			 p.block_size, p.phys_block_size);
		goto fail;
	}
	*ret = b;
	return 0;
fail:
	blk_uring_free(b->u);
	blk_pool_free(b->pool);
	if (b->direct_fd >= 0)
		close(b->direct_fd);
	if (b->raw_fd_owned)
		close(b->raw_fd);
	(void)disk_close(b->disk);
	free(b);
	return r;
}

struct scsi_disk *storvsp_blk_disk(struct storvsp_blk *b)
{
	return b->sd;
}

bool storvsp_blk_async(const struct storvsp_blk *b)
{
	return b->u || b->pool;
}

const char *storvsp_blk_engine_name(const struct storvsp_blk *b)
{
	return b->u ? "io_uring" : b->pool ? "thread pool" : "synchronous";
}

unsigned long storvsp_blk_direct_writes(struct storvsp_blk *b)
{
	return atomic_load(&b->direct_writes);
}

unsigned long storvsp_blk_inline_reads(const struct storvsp_blk *b)
{
	return b->inline_reads;
}

unsigned long storvsp_blk_inline_completions(const struct storvsp_blk *b)
{
#ifdef HAVE_LIBURING
	return b->u ? atomic_load(&b->u->inline_done) : 0;
#else
	(void)b;
	return 0;
#endif
}

int storvsp_blk_close(struct storvsp_blk *b)
{
	int r;

	if (!b)
		return 0;
	/* The transport has no request in flight any more (storvsp_free waited). */
	blk_uring_free(b->u);
	blk_pool_free(b->pool);
	if (b->direct_fd >= 0)
		close(b->direct_fd);
	if (b->raw_fd_owned)
		close(b->raw_fd);
	scsi_disk_free(b->sd);
	r = disk_close(b->disk);
	free(b);
	return r;
}
