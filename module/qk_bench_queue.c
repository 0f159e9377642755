// SPDX-License-Identifier: GPL-2.0
/*
 * qk_bench_queue - pointer queue benchmarks of qmempool-kit: alf_queue
 * (with the series) against what 6.12 has, ptr_ring and kfifo.
 *
 * Same-CPU cases enqueue and dequeue on one CPU, per element:
 *
 *   *_single       one element in, the same element out
 *   *_bulk_bN      N elements in with one call, N out with one call
 *                  (ptr_ring has no bulk produce: N single produces, then
 *                  ptr_ring_consume_batched())
 *
 * Two-CPU cases stream elements from a producer on the first CPU to a
 * consumer on the second, per element, with the rate in Melem/s; a sample
 * lasts from the producer's start to the consumer's last element.
 *
 * Every queue holds 1024 elements.  Elements are checked on the way out
 * (identity, or order across CPUs), so a queue that loses or reorders
 * elements fails its case.
 *
 * Locking of the peers, chosen as a real user would: alf MPMC is safe for
 * several producers and consumers, so it is compared with the locked
 * ptr_ring_produce()/ptr_ring_consume*(); alf SPSC leaves serialization
 * to the caller, so it is compared with __ptr_ring_produce() and
 * __ptr_ring_consume() (the caller holds the locks) and with kfifo, which
 * is single-producer/single-consumer by design.  The cross-CPU ptr_ring
 * case uses the locked calls, as ptr_ring users across CPUs do.
 *
 * The harness is described in qk_bench.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kfifo.h>
#include <linux/ptr_ring.h>
#if IS_ENABLED(CONFIG_ALF_QUEUE)
#include <linux/alf_queue.h>
#endif

#include "qk_bench.h"

/*
 * Elements per sample at loops=100, the same on every kernel: about
 * 5-80 ms on QEMU TCG, whose clock is too coarse for shorter samples.
 */
#define QK_OPS_SINGLE		500000
#define QK_OPS_BULK		1048576
#define QK_OPS_XCPU		1048576
#define QK_QUEUE_SIZE		1024
#define QK_QBULK_MAX		64
#define QK_XBULK		16

/**
 * struct qk_queue - state of a queue case
 * @alf: the alf_queue of alf_queue cases
 * @ring: the ptr_ring of ptr_ring cases
 * @fifo: the kfifo of kfifo cases
 * @in: elements to enqueue, 1..QK_QBULK_MAX as pointers
 * @out: room for dequeued elements
 */
struct qk_queue {
	struct alf_queue *alf;
	struct ptr_ring ring;
	DECLARE_KFIFO_PTR(fifo, void *);
	void *in[QK_QBULK_MAX];
	void *out[QK_QBULK_MAX];
};

/* The element of sequence number @seq; never NULL for seq >= 1. */
static inline void *qk_elem(unsigned long seq)
{
	return (void *)seq;
}

static struct qk_queue *qk_queue_alloc(struct qk_run *r)
{
	struct qk_queue *st;
	unsigned int i;

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return NULL;
	for (i = 0; i < QK_QBULK_MAX; i++)
		st->in[i] = qk_elem(i + 1);
	r->priv = st;
	return st;
}

/* Were the @n elements of @st->out those of @st->in? */
static inline bool qk_bulk_ok(const struct qk_queue *st, unsigned int n)
{
	return st->out[0] == st->in[0] && st->out[n - 1] == st->in[n - 1];
}

/**
 * qk_stream_check() - check the elements a cross-CPU consumer received
 * @r: the run
 * @buf: the elements
 * @n: how many
 * @next: sequence number of the first of them; advanced by @n
 *
 * Return: 0, or -EIO if an element was lost or out of order.
 */
static inline int qk_stream_check(struct qk_run *r, void *const *buf,
				  unsigned int n, unsigned long *next)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (unlikely(buf[i] != qk_elem(*next + i)))
			return qk_fail(r, -EIO, "an element was lost or reordered");
	}
	*next += n;
	return 0;
}

#if IS_ENABLED(CONFIG_ALF_QUEUE)
static int alf_setup(struct qk_run *r)
{
	struct qk_queue *st = qk_queue_alloc(r);
	int err;

	if (!st)
		return -ENOMEM;
	st->alf = alf_queue_alloc(QK_QUEUE_SIZE, GFP_KERNEL);
	if (IS_ERR(st->alf)) {
		err = PTR_ERR(st->alf);
		kfree(st);
		return err;
	}
	return 0;
}

static void alf_teardown(struct qk_run *r)
{
	struct qk_queue *st = r->priv;

	alf_queue_free(st->alf);
	kfree(st);
}

static int alf_spsc_single(struct qk_run *r)
{
	struct qk_queue *st = r->priv;
	void *elem = st->in[0];
	unsigned int i;

	for (i = 0; i < r->rounds; i++) {
		if (unlikely(alf_sp_enqueue(st->alf, elem)))
			return qk_fail(r, -ENOBUFS, "alf_sp_enqueue() found the queue full");
		if (unlikely(alf_sc_dequeue(st->alf) != elem))
			return qk_fail(r, -EIO, "alf_sc_dequeue() did not return the element");
	}
	return 0;
}

static int alf_mpmc_single(struct qk_run *r)
{
	struct qk_queue *st = r->priv;
	void *elem = st->in[0];
	unsigned int i;

	for (i = 0; i < r->rounds; i++) {
		if (unlikely(alf_mp_enqueue(st->alf, elem)))
			return qk_fail(r, -ENOBUFS, "alf_mp_enqueue() found the queue full");
		if (unlikely(alf_mc_dequeue(st->alf) != elem))
			return qk_fail(r, -EIO, "alf_mc_dequeue() did not return the element");
	}
	return 0;
}

static int alf_spsc_bulk(struct qk_run *r)
{
	struct qk_queue *st = r->priv;
	unsigned int n = r->c->param, k;

	for (k = 0; k < r->rounds; k++) {
		if (unlikely(alf_sp_enqueue_bulk(st->alf, st->in, n) != n))
			return qk_fail(r, -ENOBUFS, "alf_sp_enqueue_bulk() found the queue full");
		if (unlikely(alf_sc_dequeue_bulk(st->alf, st->out, n) != n ||
			     !qk_bulk_ok(st, n)))
			return qk_fail(r, -EIO, "alf_sc_dequeue_bulk() returned other elements");
	}
	return 0;
}

static int alf_mpmc_bulk(struct qk_run *r)
{
	struct qk_queue *st = r->priv;
	unsigned int n = r->c->param, k;

	for (k = 0; k < r->rounds; k++) {
		if (unlikely(alf_mp_enqueue_bulk(st->alf, st->in, n) != n))
			return qk_fail(r, -ENOBUFS, "alf_mp_enqueue_bulk() found the queue full");
		if (unlikely(alf_mc_dequeue_bulk(st->alf, st->out, n) != n ||
			     !qk_bulk_ok(st, n)))
			return qk_fail(r, -EIO, "alf_mc_dequeue_bulk() returned other elements");
	}
	return 0;
}

/*
 * One side of a cross-CPU stream of &qk_run.loops elements in bulks of
 * QK_XBULK; @multi selects the MPMC calls.  Inlined into each caller with
 * a constant @multi, so the loops carry no extra branch.
 */
static __always_inline int alf_xcpu(struct qk_run *r, unsigned int side,
				    bool multi)
{
	struct qk_queue *st = r->priv;
	unsigned long next = 1;
	void *buf[QK_XBULK];
	unsigned int i, got;
	int err;

	if (!side)
		r->x_start = ktime_get_ns();
	while (next <= r->loops) {
		unsigned int spins = 0;
		u64 deadline = 0;

		if (!side) {
			for (i = 0; i < QK_XBULK; i++)
				buf[i] = qk_elem(next + i);
			while (!(multi ? alf_mp_enqueue_bulk(st->alf, buf, QK_XBULK) :
				 alf_sp_enqueue_bulk(st->alf, buf, QK_XBULK))) {
				err = qk_spin(r, &spins, &deadline);
				if (err)
					return err;
			}
			next += QK_XBULK;
			continue;
		}
		while (!(got = multi ? alf_mc_dequeue_bulk(st->alf, buf, QK_XBULK) :
			 alf_sc_dequeue_bulk(st->alf, buf, QK_XBULK))) {
			err = qk_spin(r, &spins, &deadline);
			if (err)
				return err;
		}
		err = qk_stream_check(r, buf, got, &next);
		if (err)
			return err;
	}
	if (side)
		r->x_end = ktime_get_ns();
	return 0;
}

static int alf_xcpu_mpmc(struct qk_run *r, unsigned int side)
{
	return alf_xcpu(r, side, true);
}

static int alf_xcpu_spsc(struct qk_run *r, unsigned int side)
{
	return alf_xcpu(r, side, false);
}

#define ALF_SKIP	NULL
#else
/* Without the series the alf_queue cases only print their skip line. */
#define ALF_SKIP		"CONFIG_ALF_QUEUE is not set in this kernel"
#define alf_setup		NULL
#define alf_teardown		NULL
#define alf_spsc_single		NULL
#define alf_mpmc_single		NULL
#define alf_spsc_bulk		NULL
#define alf_mpmc_bulk		NULL
#define alf_xcpu_mpmc		NULL
#define alf_xcpu_spsc		NULL
#endif /* CONFIG_ALF_QUEUE */

static int ring_setup(struct qk_run *r)
{
	struct qk_queue *st = qk_queue_alloc(r);
	int err;

	if (!st)
		return -ENOMEM;
	err = ptr_ring_init(&st->ring, QK_QUEUE_SIZE, GFP_KERNEL);
	if (err)
		kfree(st);
	return err;
}

static void ring_teardown(struct qk_run *r)
{
	struct qk_queue *st = r->priv;

	/* The elements are not pointers to anything: nothing to destroy. */
	ptr_ring_cleanup(&st->ring, NULL);
	kfree(st);
}

static int ring_single(struct qk_run *r)
{
	struct qk_queue *st = r->priv;
	void *elem = st->in[0];
	unsigned int i;

	for (i = 0; i < r->rounds; i++) {
		if (unlikely(ptr_ring_produce(&st->ring, elem)))
			return qk_fail(r, -ENOBUFS, "ptr_ring_produce() found the ring full");
		if (unlikely(ptr_ring_consume(&st->ring) != elem))
			return qk_fail(r, -EIO, "ptr_ring_consume() did not return the element");
	}
	return 0;
}

/* Single producer and consumer: the caller serializes, no locks taken. */
static int ring_single_nolock(struct qk_run *r)
{
	struct qk_queue *st = r->priv;
	void *elem = st->in[0];
	unsigned int i;

	for (i = 0; i < r->rounds; i++) {
		if (unlikely(__ptr_ring_produce(&st->ring, elem)))
			return qk_fail(r, -ENOBUFS, "__ptr_ring_produce() found the ring full");
		if (unlikely(__ptr_ring_consume(&st->ring) != elem))
			return qk_fail(r, -EIO, "__ptr_ring_consume() did not return the element");
	}
	return 0;
}

static int ring_batched(struct qk_run *r)
{
	struct qk_queue *st = r->priv;
	unsigned int n = r->c->param, k, i;

	for (k = 0; k < r->rounds; k++) {
		for (i = 0; i < n; i++) {
			if (unlikely(ptr_ring_produce(&st->ring, st->in[i])))
				return qk_fail(r, -ENOBUFS, "ptr_ring_produce() found it full");
		}
		if (unlikely(ptr_ring_consume_batched(&st->ring, st->out, n) != n ||
			     !qk_bulk_ok(st, n)))
			return qk_fail(r, -EIO, "ptr_ring_consume_batched(): wrong elements");
	}
	return 0;
}

static int ring_xcpu(struct qk_run *r, unsigned int side)
{
	struct qk_queue *st = r->priv;
	unsigned long next = 1;
	void *buf[QK_XBULK];
	int err, got;

	if (!side)
		r->x_start = ktime_get_ns();
	while (next <= r->loops) {
		unsigned int spins = 0;
		u64 deadline = 0;

		if (!side) {
			while (ptr_ring_produce(&st->ring, qk_elem(next))) {
				err = qk_spin(r, &spins, &deadline);
				if (err)
					return err;
			}
			next++;
			continue;
		}
		while (!(got = ptr_ring_consume_batched(&st->ring, buf, QK_XBULK))) {
			err = qk_spin(r, &spins, &deadline);
			if (err)
				return err;
		}
		err = qk_stream_check(r, buf, got, &next);
		if (err)
			return err;
	}
	if (side)
		r->x_end = ktime_get_ns();
	return 0;
}

static int fifo_setup(struct qk_run *r)
{
	struct qk_queue *st = qk_queue_alloc(r);
	int err;

	if (!st)
		return -ENOMEM;
	err = kfifo_alloc(&st->fifo, QK_QUEUE_SIZE, GFP_KERNEL);
	if (err)
		kfree(st);
	return err;
}

static void fifo_teardown(struct qk_run *r)
{
	struct qk_queue *st = r->priv;

	kfifo_free(&st->fifo);
	kfree(st);
}

static int fifo_single(struct qk_run *r)
{
	struct qk_queue *st = r->priv;
	void *elem = st->in[0], *got;
	unsigned int i;

	for (i = 0; i < r->rounds; i++) {
		if (unlikely(!kfifo_put(&st->fifo, elem)))
			return qk_fail(r, -ENOBUFS, "kfifo_put() found the fifo full");
		if (unlikely(!kfifo_get(&st->fifo, &got) || got != elem))
			return qk_fail(r, -EIO, "kfifo_get() did not return the element");
	}
	return 0;
}

static int fifo_bulk(struct qk_run *r)
{
	struct qk_queue *st = r->priv;
	unsigned int n = r->c->param, k;

	for (k = 0; k < r->rounds; k++) {
		if (unlikely(kfifo_in(&st->fifo, st->in, n) != n))
			return qk_fail(r, -ENOBUFS, "kfifo_in() found the fifo full");
		if (unlikely(kfifo_out(&st->fifo, st->out, n) != n ||
			     !qk_bulk_ok(st, n)))
			return qk_fail(r, -EIO, "kfifo_out() did not return the elements");
	}
	return 0;
}

#define ALF_CASE(_name, _group, _param, _ops, _hl, _peer, _fn)	\
	{ .suite = "alf_queue", .name = _name, .group = _group,		\
	  .per = "element", .param = _param, .ops = _ops,		\
	  .headline = _hl, .peer = _peer, .skip = ALF_SKIP,		\
	  .setup = alf_setup, .teardown = alf_teardown, .sample = _fn }
#define ALF_BULK(mode, n, hl, peer)					\
	ALF_CASE(#mode "_bulk_b" #n, "queue_bulk", n, QK_OPS_BULK, hl,	\
		 peer, alf_##mode##_bulk)
#define ALF_XCPU(mode, hl)						\
	{ .suite = "alf_queue", .name = "xcpu_" #mode,			\
	  .group = "queue_xcpu", .per = "element", .param = QK_XBULK,	\
	  .ops = QK_OPS_XCPU, .headline = hl, .xcpu = true, .span = true,	\
	  .rate = true, .peer = "ptr_ring/xcpu", .skip = ALF_SKIP,	\
	  .setup = alf_setup, .teardown = alf_teardown,			\
	  .xsample = alf_xcpu_##mode }
#define QUEUE_CASE(_suite, _name, _group, _param, _ops, _hl, _fam, _fn)	\
	{ .suite = _suite, .name = _name, .group = _group,		\
	  .per = "element", .param = _param, .ops = _ops,		\
	  .headline = _hl, .setup = _fam##_setup,			\
	  .teardown = _fam##_teardown, .sample = _fn }

static const struct qk_case qk_queue_cases[] = {
	ALF_CASE("spsc_single", "queue_single", 1, QK_OPS_SINGLE, false,
		 "ptr_ring/single_nolock", alf_spsc_single),
	ALF_CASE("mpmc_single", "queue_single", 1, QK_OPS_SINGLE, true,
		 "ptr_ring/single", alf_mpmc_single),
	ALF_BULK(spsc, 1, false, NULL),
	ALF_BULK(spsc, 2, false, NULL),
	ALF_BULK(spsc, 4, false, NULL),
	ALF_BULK(spsc, 8, false, NULL),
	ALF_BULK(spsc, 16, false, "kfifo/bulk_b16"),
	ALF_BULK(spsc, 32, false, NULL),
	ALF_BULK(spsc, 64, false, NULL),
	ALF_BULK(mpmc, 1, false, NULL),
	ALF_BULK(mpmc, 2, false, NULL),
	ALF_BULK(mpmc, 4, false, NULL),
	ALF_BULK(mpmc, 8, false, NULL),
	ALF_BULK(mpmc, 16, true, "ptr_ring/batched_b16"),
	ALF_BULK(mpmc, 32, false, NULL),
	ALF_BULK(mpmc, 64, false, NULL),
	ALF_XCPU(mpmc, true),
	ALF_XCPU(spsc, false),

	QUEUE_CASE("ptr_ring", "single", "queue_single", 1, QK_OPS_SINGLE,
		   true, ring, ring_single),
	QUEUE_CASE("ptr_ring", "single_nolock", "queue_single", 1,
		   QK_OPS_SINGLE, false, ring, ring_single_nolock),
	QUEUE_CASE("ptr_ring", "batched_b16", "queue_bulk", 16, QK_OPS_BULK,
		   false, ring, ring_batched),
	{ .suite = "ptr_ring", .name = "xcpu", .group = "queue_xcpu",
	  .per = "element", .param = QK_XBULK, .ops = QK_OPS_XCPU,
	  .headline = true, .xcpu = true, .span = true, .rate = true,
	  .setup = ring_setup, .teardown = ring_teardown,
	  .xsample = ring_xcpu },

	QUEUE_CASE("kfifo", "single", "queue_single", 1, QK_OPS_SINGLE, false,
		   fifo, fifo_single),
	QUEUE_CASE("kfifo", "bulk_b16", "queue_bulk", 16, QK_OPS_BULK, false,
		   fifo, fifo_bulk),
};

static int __init qk_bench_queue_init(void)
{
	return qk_run_cases(qk_queue_cases, ARRAY_SIZE(qk_queue_cases));
}

static void __exit qk_bench_queue_exit(void)
{
}

module_init(qk_bench_queue_init);
module_exit(qk_bench_queue_exit);
MODULE_DESCRIPTION("qmempool-kit benchmarks: alf_queue, ptr_ring and kfifo");
MODULE_LICENSE("GPL");
