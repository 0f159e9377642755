// SPDX-License-Identifier: GPL-2.0
/*
 * qk_bench_skb - sk_buff allocation benchmarks of qmempool-kit.
 *
 * The same code runs on every kernel; with the series (CONFIG_SKB_QMEMPOOL)
 * sk_buff heads come from a qmempool when the kernel was booted with
 * skb_qmempool=on, and from skbuff_cache otherwise.  Each line of a patched
 * kernel carries the pool's counters over the timed samples, which show
 * whether the pool was used.  Per packet, 64 bytes of data:
 *
 *   alloc_free          alloc_skb() + kfree_skb()
 *   alloc_consume       alloc_skb() + consume_skb()
 *   napi_alloc_consume  napi_alloc_skb() + napi_consume_skb() in a NAPI
 *                       poll (the per-CPU NAPI skb cache in front)
 *   build_skb           kmalloc() of a buffer, slab_build_skb() on it,
 *                       kfree_skb() of both (a skip line before Linux
 *                       6.2, which has no slab_build_skb())
 *
 * The harness is described in qk_bench.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/skbuff.h>
#include <linux/slab.h>

#include "qk_bench.h"

/*
 * Packets per sample at loops=100, the same on every kernel: about
 * 15-30 ms on QEMU TCG, whose clock is too coarse for shorter samples.
 */
#define QK_OPS_SKB		30000
#define QK_SKB_LEN		64
#define QK_SKB_BUF		(SKB_DATA_ALIGN(QK_SKB_LEN) + \
				 SKB_DATA_ALIGN(sizeof(struct skb_shared_info)))

#if IS_ENABLED(CONFIG_SKB_QMEMPOOL) && IS_ENABLED(CONFIG_KUNIT)
/*
 * Declared in net/core/skb_qmempool.h, which is not in include/; exported
 * with EXPORT_SYMBOL_IF_KUNIT(), i.e. only when CONFIG_KUNIT is enabled.
 */
struct qmempool *skb_qmempool_get(void);
/* The namespace is an identifier before 6.13 and a string literal since. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
#else
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
#endif
#endif

#if IS_ENABLED(CONFIG_SKB_QMEMPOOL) && IS_ENABLED(CONFIG_KUNIT)
/*
 * More heads than the NAPI skb cache holds (128 on 7.x, 64 before), so
 * that some of them are allocated and freed past it.
 */
#define QK_POOL_PROBE		256

/**
 * skb_pool_bypassed() - whether sk_buff heads bypass the pool
 * @pool: the sk_buff head pool
 *
 * The pool is switched on or off at boot (skb_qmempool=on|off) with a
 * static key that modules cannot read, so look at what allocating and
 * freeing heads in this task does to its counters.  On 7.x (not 6.12)
 * alloc_skb() and kfree_skb() in a task go through the NAPI skb cache
 * first, and one head may never reach the pool: hold more heads at once
 * than that cache can hold.
 *
 * Return: true if the heads left the pool's counters alone.
 */
static bool skb_pool_bypassed(struct qmempool *pool)
{
	struct qmempool_stats before, after;
	struct sk_buff **skbs;
	unsigned int i, n;

	skbs = kmalloc_array(QK_POOL_PROBE, sizeof(*skbs), GFP_KERNEL);
	if (!skbs)
		return false;
	qmempool_get_stats(pool, &before);
	for (n = 0; n < QK_POOL_PROBE; n++) {
		skbs[n] = alloc_skb(QK_SKB_LEN, GFP_KERNEL);
		if (!skbs[n])
			break;
	}
	for (i = 0; i < n; i++)
		kfree_skb(skbs[i]);
	qmempool_get_stats(pool, &after);
	kfree(skbs);
	return !memcmp(&before, &after, sizeof(before));
}
#endif

static int skb_setup(struct qk_run *r)
{
#if IS_ENABLED(CONFIG_SKB_QMEMPOOL) && IS_ENABLED(CONFIG_KUNIT)
	r->pool = skb_qmempool_get();
	if (!r->pool) {
		r->pool_note = "skb_qmempool_get() returned NULL: the pool was not created at boot";
	} else if (skb_pool_bypassed(r->pool)) {
		r->pool_bypassed = true;
		r->pool_note = "sk_buff heads do not use the pool: booted with skb_qmempool=off";
	}
#elif IS_ENABLED(CONFIG_SKB_QMEMPOOL)
	r->pool_note = "skb_qmempool_get() is exported only with CONFIG_KUNIT";
#endif
	return 0;
}

static int skb_alloc_free(struct qk_run *r)
{
	struct sk_buff *skb;
	unsigned int i;

	for (i = 0; i < r->rounds; i++) {
		skb = alloc_skb(QK_SKB_LEN, r->gfp);
		if (unlikely(!skb))
			return qk_fail(r, -ENOMEM, "alloc_skb() failed");
		kfree_skb(skb);
	}
	return 0;
}

static int skb_alloc_consume(struct qk_run *r)
{
	struct sk_buff *skb;
	unsigned int i;

	for (i = 0; i < r->rounds; i++) {
		skb = alloc_skb(QK_SKB_LEN, r->gfp);
		if (unlikely(!skb))
			return qk_fail(r, -ENOMEM, "alloc_skb() failed");
		consume_skb(skb);
	}
	return 0;
}

/* In the NAPI poll function: softirq context, a budget > 0. */
static int skb_napi_alloc_consume(struct qk_run *r)
{
	struct sk_buff *skb;
	unsigned int i;

	for (i = 0; i < r->rounds; i++) {
		skb = napi_alloc_skb(r->napi, QK_SKB_LEN);
		if (unlikely(!skb))
			return qk_fail(r, -ENOMEM, "napi_alloc_skb() failed");
		napi_consume_skb(skb, r->napi_budget);
	}
	return 0;
}

#if QK_HAVE_SLAB_BUILD_SKB
static int skb_build(struct qk_run *r)
{
	struct sk_buff *skb;
	unsigned int i;
	void *data;

	for (i = 0; i < r->rounds; i++) {
		data = kmalloc(QK_SKB_BUF, r->gfp);
		if (unlikely(!data))
			return qk_fail(r, -ENOMEM, "kmalloc() of the skb buffer failed");
		skb = slab_build_skb(data);
		if (unlikely(!skb)) {
			kfree(data);
			return qk_fail(r, -ENOMEM, "slab_build_skb() failed");
		}
		/* Frees the buffer too: it is the skb's head now. */
		kfree_skb(skb);
	}
	return 0;
}

#define BUILD_SKB_SKIP	NULL
#else
#define BUILD_SKB_SKIP	QK_NO_SLAB_BUILD_SKB
#define skb_build	NULL
#endif /* QK_HAVE_SLAB_BUILD_SKB */

#define SKB_CASE(_name, _ctx, _hl, _skip, _fn)				\
	{ .suite = "skb", .name = _name, .group = "skb_alloc",		\
	  .per = "packet", .param = 1, .ops = QK_OPS_SKB, .ctx = _ctx,	\
	  .headline = _hl, .skip = _skip, .setup = skb_setup,		\
	  .sample = _fn }

static const struct qk_case qk_skb_cases[] = {
	SKB_CASE("alloc_free", QK_PROCESS, true, NULL, skb_alloc_free),
	SKB_CASE("alloc_consume", QK_PROCESS, false, NULL, skb_alloc_consume),
	SKB_CASE("napi_alloc_consume", QK_NAPI, true, NULL,
		 skb_napi_alloc_consume),
	SKB_CASE("build_skb", QK_PROCESS, false, BUILD_SKB_SKIP, skb_build),
};

static int __init qk_bench_skb_init(void)
{
	return qk_run_cases(qk_skb_cases, ARRAY_SIZE(qk_skb_cases));
}

static void __exit qk_bench_skb_exit(void)
{
}

module_init(qk_bench_skb_init);
module_exit(qk_bench_skb_exit);
MODULE_DESCRIPTION("qmempool-kit benchmarks: sk_buff allocation");
MODULE_LICENSE("GPL");
