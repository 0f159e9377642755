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
#include "qk_skbprobe.h"
#endif

static int skb_setup(struct qk_run *r)
{
#if IS_ENABLED(CONFIG_SKB_QMEMPOOL) && IS_ENABLED(CONFIG_KUNIT)
	r->pool = skb_qmempool_get();
	if (!r->pool) {
		r->pool_note = "skb_qmempool_get() returned NULL: the pool was not created at boot";
	} else if (qk_skb_pool_used(r->pool) == 0) {
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
