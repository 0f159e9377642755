// SPDX-License-Identifier: GPL-2.0
/*
 * qk_bench - object allocation benchmarks of qmempool-kit: the slab
 * allocator, qmempool (with the series) and objpool.
 *
 * Every case allocates and frees 256-byte objects of its own SLAB_NO_MERGE
 * kmem_cache; qmempool cases put a pool (64 objects per CPU, a shared
 * queue of 1024) in front of it.  The same table runs on every kernel:
 * qmempool cases print a skip line where CONFIG_QMEMPOOL is not set,
 * objpool cases before Linux 6.7, which has no lib/objpool.c, and two-CPU
 * cases where fewer than two CPUs are online.
 *
 *   reuse            alloc + free of one object, per op
 *   pattern_nN       N objects allocated, then all freed, per object
 *   bulk_bN          bulk alloc of N, bulk free of N, per object
 *   remote_free      a batch of 256 allocated on one CPU and freed on
 *                    another, per object; the busy times of both CPUs add
 *                    up, the hand-over between them is not timed
 *                    (objpool: "remote", objpool_pop() then objpool_push())
 *   refill_flush     (qmempool) pattern_n2048, well above the per-CPU and
 *                    shared capacity, so every round refills from and
 *                    flushes to the slab
 *
 * "_softirq" cases run in a NAPI poll (real NET_RX softirq).  qmempool is
 * called as a user in each context would call it: qmempool_alloc() and
 * qmempool_free() in process context; the _softirq variants in softirq
 * context and under local_bh_disable() (reuse_bh, bulk_bN).
 *
 * The harness is described in qk_bench.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "qk_bench.h"

#if QK_HAVE_OBJPOOL
#include <linux/objpool.h>
#endif

/*
 * Operations per sample at loops=100, the same on every kernel: about
 * 5-120 ms on QEMU TCG, whose clock is too coarse for shorter samples.
 */
#define QK_OPS_REUSE		200000
#define QK_OPS_PATTERN		163840
#define QK_OPS_BULK		524288
#define QK_OPS_REMOTE		131072
#define QK_OPS_OBJPOOL		200000
#define QK_REMOTE_BATCH		256
#define QK_OBJPOOL_OBJS		64
#define QK_QMP_PERCPU		64
#define QK_QMP_SHARED		1024
#define QK_QMP_REFILL_N		2048

/**
 * struct qk_mem - state of an allocation case
 * @cache: the kmem_cache of slab and qmempool cases
 * @pool: the qmempool of qmempool cases
 * @opool: the objpool of objpool cases
 * @nobjs: objects held in @objs between the phases of a two-CPU sample,
 *	to be freed by the teardown if the case was aborted
 * @objs: room for &qk_case.param objects
 */
struct qk_mem {
	struct kmem_cache *cache;
	struct qmempool *pool;
#if QK_HAVE_OBJPOOL
	struct objpool_head opool;
#endif
	unsigned int nobjs;
	void *objs[];
};

/* The state of an allocation case, with room for its param objects. */
static struct qk_mem *qk_mem_alloc(struct qk_run *r)
{
	struct qk_mem *st;

	st = kzalloc(struct_size(st, objs, r->c->param), GFP_KERNEL);
	if (!st)
		return NULL;
	r->priv = st;
	return st;
}

/**
 * qk_cache_create() - create a kmem_cache of QK_OBJ_SIZE objects of its own
 * @name: name of the cache
 *
 * SLAB_NO_MERGE keeps slab from merging the cache with another one of the
 * same size.  Before Linux 6.5, which lacks it, a usercopy region does the
 * same: slab never merges a cache that has one, and the region is only
 * looked at by copy_to_user() and copy_from_user().
 *
 * Return: the cache, or NULL.
 */
static struct kmem_cache *qk_cache_create(const char *name)
{
#if QK_HAVE_SLAB_NO_MERGE
	return kmem_cache_create(name, QK_OBJ_SIZE, 0, SLAB_NO_MERGE, NULL);
#else
	return kmem_cache_create_usercopy(name, QK_OBJ_SIZE, 0, 0, 0,
					  QK_OBJ_SIZE, NULL);
#endif
}

static int slab_setup(struct qk_run *r)
{
	struct qk_mem *st = qk_mem_alloc(r);

	if (!st)
		return -ENOMEM;
	st->cache = qk_cache_create("qk_bench_256");
	if (!st->cache) {
		kfree(st);
		return -ENOMEM;
	}
	return 0;
}

static void slab_teardown(struct qk_run *r)
{
	struct qk_mem *st = r->priv;
	unsigned int i;

	for (i = 0; i < st->nobjs; i++)
		kmem_cache_free(st->cache, st->objs[i]);
	kmem_cache_destroy(st->cache);
	kfree(st);
}

static int slab_reuse(struct qk_run *r)
{
	struct qk_mem *st = r->priv;
	unsigned int i;
	void *obj;

	for (i = 0; i < r->rounds; i++) {
		obj = kmem_cache_alloc(st->cache, r->gfp);
		if (unlikely(!obj))
			return qk_fail(r, -ENOMEM, "kmem_cache_alloc() failed");
		kmem_cache_free(st->cache, obj);
	}
	return 0;
}

static int slab_pattern(struct qk_run *r)
{
	struct qk_mem *st = r->priv;
	unsigned int n = r->c->param, k, i;

	for (k = 0; k < r->rounds; k++) {
		for (i = 0; i < n; i++) {
			st->objs[i] = kmem_cache_alloc(st->cache, r->gfp);
			if (unlikely(!st->objs[i])) {
				kmem_cache_free_bulk(st->cache, i, st->objs);
				return qk_fail(r, -ENOMEM, "kmem_cache_alloc() failed");
			}
		}
		for (i = 0; i < n; i++)
			kmem_cache_free(st->cache, st->objs[i]);
	}
	return 0;
}

static int slab_bulk(struct qk_run *r)
{
	struct qk_mem *st = r->priv;
	unsigned int n = r->c->param, k;

	for (k = 0; k < r->rounds; k++) {
		/*
		 * 6.x returns the number of objects (n or 0), 7.x a bool:
		 * both are 0 on failure and all-or-nothing otherwise.
		 */
		if (unlikely(!kmem_cache_alloc_bulk(st->cache, r->gfp, n,
						    st->objs)))
			return qk_fail(r, -ENOMEM, "kmem_cache_alloc_bulk() failed");
		kmem_cache_free_bulk(st->cache, n, st->objs);
	}
	return 0;
}

/**
 * qk_mem_xphase() - one CPU's share of a remote-free sample
 * @r: the run
 * @side: 0 allocates batches, 1 frees them
 * @batch: allocates (side 0) or frees (side 1) one batch in &qk_mem.objs
 *
 * The CPUs take turns: side 0 fills the batch, side 1 empties it, over
 * &qk_run.rounds rounds.  Each side adds up the time it spends in @batch;
 * the spinning hand-over is not timed.
 *
 * Return: 0 or a negative error code.
 */
static int qk_mem_xphase(struct qk_run *r, unsigned int side,
			 int (*batch)(struct qk_run *r, unsigned int side))
{
	unsigned int k;
	u64 busy = 0, t0;
	int err;

	for (k = 0; k < r->rounds; k++) {
		/* Even steps are side 0's turn, odd steps side 1's. */
		err = qk_xwait(r, &r->xseq, 2 * k + side);
		if (err)
			return err;
		t0 = ktime_get_ns();
		err = batch(r, side);
		busy += ktime_get_ns() - t0;
		if (err)
			return err;
		/* Pairs with atomic_read_acquire() in qk_xwait(). */
		atomic_set_release(&r->xseq, 2 * k + side + 1);
	}
	r->x_busy[side] = busy;
	return 0;
}

static int slab_remote_batch(struct qk_run *r, unsigned int side)
{
	struct qk_mem *st = r->priv;
	unsigned int n = r->c->param, i;

	if (side) {
		for (i = 0; i < n; i++)
			kmem_cache_free(st->cache, st->objs[i]);
		st->nobjs = 0;
		return 0;
	}
	for (i = 0; i < n; i++) {
		st->objs[i] = kmem_cache_alloc(st->cache, r->gfp);
		if (unlikely(!st->objs[i])) {
			st->nobjs = i;
			return qk_fail(r, -ENOMEM, "kmem_cache_alloc() failed");
		}
	}
	st->nobjs = n;
	return 0;
}

static int slab_remote(struct qk_run *r, unsigned int side)
{
	return qk_mem_xphase(r, side, slab_remote_batch);
}

#if IS_ENABLED(CONFIG_QMEMPOOL)
static int qmp_setup(struct qk_run *r)
{
	struct qk_mem *st = qk_mem_alloc(r);
	int err;

	if (!st)
		return -ENOMEM;
	st->cache = qk_cache_create("qk_bench_qmp_256");
	if (!st->cache) {
		kfree(st);
		return -ENOMEM;
	}
	st->pool = qmempool_create(st->cache, QK_QMP_PERCPU, QK_QMP_SHARED, 0,
				   GFP_KERNEL);
	if (IS_ERR(st->pool)) {
		err = PTR_ERR(st->pool);
		kmem_cache_destroy(st->cache);
		kfree(st);
		return err;
	}
	r->pool = st->pool;
	return 0;
}

static void qmp_teardown(struct qk_run *r)
{
	struct qk_mem *st = r->priv;
	unsigned int i;

	for (i = 0; i < st->nobjs; i++)
		qmempool_free(st->pool, st->objs[i]);
	if (qmempool_destroy(st->pool))
		qk_fail(r, -EBUSY, "qmempool_destroy() found objects still allocated");
	kmem_cache_destroy(st->cache);
	kfree(st);
}

static int qmp_reuse(struct qk_run *r)
{
	struct qk_mem *st = r->priv;
	unsigned int i;
	void *obj;

	for (i = 0; i < r->rounds; i++) {
		obj = qmempool_alloc(st->pool, r->gfp);
		if (unlikely(!obj))
			return qk_fail(r, -ENOMEM, "qmempool_alloc() failed");
		qmempool_free(st->pool, obj);
	}
	return 0;
}

/* Bottom halves are disabled: softirq context or a "bh-off" case. */
static int qmp_reuse_bh(struct qk_run *r)
{
	struct qk_mem *st = r->priv;
	unsigned int i;
	void *obj;

	for (i = 0; i < r->rounds; i++) {
		obj = qmempool_alloc_softirq(st->pool, r->gfp);
		if (unlikely(!obj))
			return qk_fail(r, -ENOMEM, "qmempool_alloc_softirq() failed");
		qmempool_free_softirq(st->pool, obj);
	}
	return 0;
}

static int qmp_pattern(struct qk_run *r)
{
	struct qk_mem *st = r->priv;
	unsigned int n = r->c->param, k, i;

	for (k = 0; k < r->rounds; k++) {
		for (i = 0; i < n; i++) {
			st->objs[i] = qmempool_alloc(st->pool, r->gfp);
			if (unlikely(!st->objs[i])) {
				qmempool_free_bulk(st->pool, i, st->objs);
				return qk_fail(r, -ENOMEM, "qmempool_alloc() failed");
			}
		}
		for (i = 0; i < n; i++)
			qmempool_free(st->pool, st->objs[i]);
	}
	return 0;
}

/* Bottom halves are disabled: softirq context. */
static int qmp_pattern_bh(struct qk_run *r)
{
	struct qk_mem *st = r->priv;
	unsigned int n = r->c->param, k, i;

	for (k = 0; k < r->rounds; k++) {
		for (i = 0; i < n; i++) {
			st->objs[i] = qmempool_alloc_softirq(st->pool, r->gfp);
			if (unlikely(!st->objs[i])) {
				qmempool_free_bulk_softirq(st->pool, i, st->objs);
				return qk_fail(r, -ENOMEM, "qmempool_alloc_softirq() failed");
			}
		}
		for (i = 0; i < n; i++)
			qmempool_free_softirq(st->pool, st->objs[i]);
	}
	return 0;
}

/* Bottom halves are disabled: a "bh-off" case. */
static int qmp_bulk(struct qk_run *r)
{
	struct qk_mem *st = r->priv;
	unsigned int n = r->c->param, k, got;

	for (k = 0; k < r->rounds; k++) {
		got = qmempool_alloc_bulk_softirq(st->pool, r->gfp, n, st->objs);
		if (unlikely(got != n)) {
			qmempool_free_bulk_softirq(st->pool, got, st->objs);
			return qk_fail(r, -ENOMEM, "qmempool_alloc_bulk_softirq() failed");
		}
		qmempool_free_bulk_softirq(st->pool, n, st->objs);
	}
	return 0;
}

static int qmp_remote_batch(struct qk_run *r, unsigned int side)
{
	struct qk_mem *st = r->priv;
	unsigned int n = r->c->param, i;

	if (side) {
		for (i = 0; i < n; i++)
			qmempool_free(st->pool, st->objs[i]);
		st->nobjs = 0;
		return 0;
	}
	for (i = 0; i < n; i++) {
		st->objs[i] = qmempool_alloc(st->pool, r->gfp);
		if (unlikely(!st->objs[i])) {
			st->nobjs = i;
			return qk_fail(r, -ENOMEM, "qmempool_alloc() failed");
		}
	}
	st->nobjs = n;
	return 0;
}

static int qmp_remote(struct qk_run *r, unsigned int side)
{
	return qk_mem_xphase(r, side, qmp_remote_batch);
}

#define QMP_SKIP	NULL
#else
/* Without the series the qmempool cases only print their skip line. */
#define QMP_SKIP	"CONFIG_QMEMPOOL is not set in this kernel"
#define qmp_setup	NULL
#define qmp_teardown	NULL
#define qmp_reuse	NULL
#define qmp_reuse_bh	NULL
#define qmp_pattern	NULL
#define qmp_pattern_bh	NULL
#define qmp_bulk	NULL
#define qmp_remote	NULL
#endif /* CONFIG_QMEMPOOL */

#if QK_HAVE_OBJPOOL
static int objpool_setup(struct qk_run *r)
{
	struct qk_mem *st = qk_mem_alloc(r);
	int err;

	if (!st)
		return -ENOMEM;
	err = objpool_init(&st->opool, max(r->c->param, QK_OBJPOOL_OBJS),
			   QK_OBJ_SIZE, GFP_KERNEL, NULL, NULL, NULL);
	if (err)
		kfree(st);
	return err;
}

static void objpool_teardown(struct qk_run *r)
{
	struct qk_mem *st = r->priv;
	unsigned int i;

	for (i = 0; i < st->nobjs; i++) {
		if (objpool_push(st->objs[i], &st->opool))
			qk_fail(r, -EINVAL, "objpool_push() refused an object");
	}
	objpool_fini(&st->opool);
	kfree(st);
}

static int objpool_reuse(struct qk_run *r)
{
	struct qk_mem *st = r->priv;
	unsigned int i;
	void *obj;

	for (i = 0; i < r->rounds; i++) {
		obj = objpool_pop(&st->opool);
		if (unlikely(!obj))
			return qk_fail(r, -ENOMEM, "objpool_pop() found the pool empty");
		if (unlikely(objpool_push(obj, &st->opool)))
			return qk_fail(r, -EINVAL, "objpool_push() refused an object");
	}
	return 0;
}

static int objpool_remote_batch(struct qk_run *r, unsigned int side)
{
	struct qk_mem *st = r->priv;
	unsigned int n = r->c->param, i;

	if (side) {
		for (i = 0; i < n; i++) {
			if (unlikely(objpool_push(st->objs[i], &st->opool))) {
				st->nobjs = 0;
				return qk_fail(r, -EINVAL, "objpool_push() refused an object");
			}
		}
		st->nobjs = 0;
		return 0;
	}
	for (i = 0; i < n; i++) {
		st->objs[i] = objpool_pop(&st->opool);
		if (unlikely(!st->objs[i])) {
			st->nobjs = i;
			return qk_fail(r, -ENOMEM, "objpool_pop() found the pool empty");
		}
	}
	st->nobjs = n;
	return 0;
}

static int objpool_remote(struct qk_run *r, unsigned int side)
{
	return qk_mem_xphase(r, side, objpool_remote_batch);
}

#define OBJPOOL_SKIP	NULL
#else
/* Without lib/objpool.c the objpool cases only print their skip line. */
#define OBJPOOL_SKIP		QK_NO_OBJPOOL
#define objpool_setup		NULL
#define objpool_teardown	NULL
#define objpool_reuse		NULL
#define objpool_remote		NULL
#endif /* QK_HAVE_OBJPOOL */

#define SLAB_CASE(_name, _group, _per, _param, _ops, _ctx, _hl, _fn)	\
	{ .suite = "slab", .name = _name, .group = _group, .per = _per,	\
	  .param = _param, .ops = _ops, .ctx = _ctx,			\
	  .headline = _hl, .setup = slab_setup,				\
	  .teardown = slab_teardown, .sample = _fn }

#define QMP_CASE(_name, _group, _per, _param, _ops, _ctx, _hl, _peer,	\
		 _fn)							\
	{ .suite = "qmempool", .name = _name, .group = _group,		\
	  .per = _per, .param = _param, .ops = _ops, .ctx = _ctx,	\
	  .headline = _hl, .peer = _peer, .skip = QMP_SKIP,		\
	  .setup = qmp_setup, .teardown = qmp_teardown, .sample = _fn }

#define SLAB_PATTERN(n, hl)						\
	SLAB_CASE("pattern_n" #n, "alloc_pattern", "object", n,	\
		  QK_OPS_PATTERN, QK_PROCESS, hl, slab_pattern)
#define SLAB_BULK(n, hl)						\
	SLAB_CASE("bulk_b" #n, "alloc_bulk", "object", n, QK_OPS_BULK,	\
		  QK_PROCESS, hl, slab_bulk)
#define QMP_PATTERN(n, hl)						\
	QMP_CASE("pattern_n" #n, "alloc_pattern", "object", n,		\
		 QK_OPS_PATTERN, QK_PROCESS, hl, "slab/pattern_n" #n,	\
		 qmp_pattern)
#define QMP_BULK(n)							\
	QMP_CASE("bulk_b" #n, "alloc_bulk", "object", n, QK_OPS_BULK,	\
		 QK_BH_OFF, false, "slab/bulk_b" #n, qmp_bulk)

static const struct qk_case qk_mem_cases[] = {
	SLAB_CASE("reuse", "alloc_reuse", "op", 1, QK_OPS_REUSE, QK_PROCESS,
		  true, slab_reuse),
	SLAB_PATTERN(16, false),
	SLAB_PATTERN(64, false),
	SLAB_PATTERN(256, true),
	SLAB_PATTERN(1024, false),
	SLAB_BULK(1, false),
	SLAB_BULK(8, false),
	SLAB_BULK(16, true),
	SLAB_BULK(32, false),
	SLAB_BULK(64, false),
	SLAB_CASE("reuse_softirq", "alloc_reuse_softirq", "op", 1,
		  QK_OPS_REUSE, QK_NAPI, true, slab_reuse),
	SLAB_CASE("pattern_n256_softirq", "alloc_pattern_softirq", "object",
		  256, QK_OPS_PATTERN, QK_NAPI, true, slab_pattern),
	{ .suite = "slab", .name = "remote_free", .group = "alloc_remote",
	  .per = "object", .param = QK_REMOTE_BATCH, .ops = QK_OPS_REMOTE,
	  .xcpu = true, .setup = slab_setup, .teardown = slab_teardown,
	  .xsample = slab_remote },

	QMP_CASE("reuse", "alloc_reuse", "op", 1, QK_OPS_REUSE, QK_PROCESS,
		 true, "slab/reuse", qmp_reuse),
	QMP_CASE("reuse_softirq", "alloc_reuse_softirq", "op", 1,
		 QK_OPS_REUSE, QK_NAPI, true, "slab/reuse_softirq",
		 qmp_reuse_bh),
	QMP_CASE("reuse_bh", "alloc_reuse", "op", 1, QK_OPS_REUSE, QK_BH_OFF,
		 false, "slab/reuse", qmp_reuse_bh),
	QMP_PATTERN(16, false),
	QMP_PATTERN(64, false),
	QMP_PATTERN(256, true),
	QMP_PATTERN(1024, false),
	QMP_CASE("pattern_n256_softirq", "alloc_pattern_softirq", "object",
		 256, QK_OPS_PATTERN, QK_NAPI, false,
		 "slab/pattern_n256_softirq", qmp_pattern_bh),
	QMP_BULK(1),
	QMP_BULK(8),
	QMP_BULK(16),
	QMP_BULK(32),
	QMP_BULK(64),
	{ .suite = "qmempool", .name = "remote_free", .group = "alloc_remote",
	  .per = "object", .param = QK_REMOTE_BATCH, .ops = QK_OPS_REMOTE,
	  .xcpu = true, .peer = "slab/remote_free", .skip = QMP_SKIP,
	  .setup = qmp_setup, .teardown = qmp_teardown,
	  .xsample = qmp_remote },
	QMP_CASE("refill_flush", "alloc_pattern", "object", QK_QMP_REFILL_N,
		 QK_OPS_PATTERN, QK_PROCESS, false, NULL, qmp_pattern),

	{ .suite = "objpool", .name = "reuse", .group = "alloc_reuse",
	  .per = "op", .param = 1, .ops = QK_OPS_OBJPOOL,
	  .peer = "slab/reuse", .skip = OBJPOOL_SKIP,
	  .setup = objpool_setup, .teardown = objpool_teardown,
	  .sample = objpool_reuse },
	{ .suite = "objpool", .name = "remote", .group = "alloc_remote",
	  .per = "object", .param = QK_REMOTE_BATCH, .ops = QK_OPS_REMOTE,
	  .xcpu = true, .peer = "slab/remote_free", .skip = OBJPOOL_SKIP,
	  .setup = objpool_setup, .teardown = objpool_teardown,
	  .xsample = objpool_remote },
};

static int __init qk_bench_init(void)
{
	return qk_run_cases(qk_mem_cases, ARRAY_SIZE(qk_mem_cases));
}

static void __exit qk_bench_exit(void)
{
}

module_init(qk_bench_init);
module_exit(qk_bench_exit);
MODULE_DESCRIPTION("qmempool-kit benchmarks: slab, qmempool and objpool allocation");
MODULE_LICENSE("GPL");
