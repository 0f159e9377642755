/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qk_skbprobe.h - the sk_buff head pool as a module of qmempool-kit sees
 * it, shared by qk_bench_skb (its pool counters) and qk_skbpool (the
 * packet scenarios' /proc file).  Include it only where
 * CONFIG_SKB_QMEMPOOL and CONFIG_KUNIT are both enabled, once per module.
 */
#ifndef QK_SKBPROBE_H
#define QK_SKBPROBE_H

#include <linux/errno.h>
#include <linux/module.h>
#include <linux/qmempool.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/version.h>

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

/*
 * More heads than the NAPI skb cache holds (128 on 7.x, 64 before), so
 * that some of them are allocated and freed past it.
 */
#define QK_POOL_PROBE		256

/**
 * qk_skb_pool_used() - whether sk_buff heads go through the pool
 * @pool: the sk_buff head pool (skb_qmempool_get())
 *
 * The pool is switched on or off at boot (skb_qmempool=on|off) with a
 * static key that modules cannot read, so look at what allocating and
 * freeing heads in this task does to its counters.  On 7.x (not 6.12)
 * alloc_skb() and kfree_skb() in a task go through the NAPI skb cache
 * first, and one head may never reach the pool: hold more heads at once
 * than that cache can hold.
 *
 * Context: process context, may sleep.
 * Return: 1 if the heads moved the pool's counters, 0 if they left them
 * alone, -ENOMEM if the probe could not run.
 */
static inline int qk_skb_pool_used(struct qmempool *pool)
{
	struct qmempool_stats before, after;
	struct sk_buff **skbs;
	unsigned int i, n;

	skbs = kmalloc_array(QK_POOL_PROBE, sizeof(*skbs), GFP_KERNEL);
	if (!skbs)
		return -ENOMEM;
	qmempool_get_stats(pool, &before);
	for (n = 0; n < QK_POOL_PROBE; n++) {
		skbs[n] = alloc_skb(64, GFP_KERNEL);
		if (!skbs[n])
			break;
	}
	for (i = 0; i < n; i++)
		kfree_skb(skbs[i]);
	qmempool_get_stats(pool, &after);
	kfree(skbs);
	return memcmp(&before, &after, sizeof(before)) ? 1 : 0;
}

#endif /* QK_SKBPROBE_H */
