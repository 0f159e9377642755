// SPDX-License-Identifier: GPL-2.0
/*
 * qk_skbpool - the sk_buff head pool's counters, for the packet scenarios.
 *
 * While loaded, /proc/qk_skb_pool reads as "key value" lines:
 *
 *   state on|off|absent|unknown
 *   slab_alloc N  ... cached N      (struct qmempool_stats; "on"/"off" only)
 *
 * "absent": the kernel has no pool (no CONFIG_SKB_QMEMPOOL, or it was not
 * created at boot); "unknown": the pool's accessor is exported only with
 * CONFIG_KUNIT.  "on" or "off" is what allocating and freeing more heads
 * than the NAPI skb cache holds does, as in qk_bench_skb: through the pool
 * it changes the counters, past it not.  The
 * scenarios read the file before and after a run, so the deltas show how
 * many sk_buff heads the pool took from and gave back to the slab.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/version.h>

#if IS_ENABLED(CONFIG_SKB_QMEMPOOL) && IS_ENABLED(CONFIG_KUNIT)
#include <linux/qmempool.h>

/* Declared in net/core/skb_qmempool.h, which is not in include/. */
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
#define QK_POOL_PROBE	256

static const char *pool_state(struct qmempool *pool)
{
	struct qmempool_stats before, after;
	struct sk_buff **skbs;
	unsigned int i, n;

	skbs = kmalloc_array(QK_POOL_PROBE, sizeof(*skbs), GFP_KERNEL);
	if (!skbs)
		return "unknown";
	/*
	 * On 7.x alloc_skb() and kfree_skb() in a task go through the NAPI
	 * skb cache first, so one of each may never reach the pool: hold
	 * more heads at once than that cache can hold.
	 */
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
	return memcmp(&before, &after, sizeof(before)) ? "on" : "off";
}

static int qk_skbpool_show(struct seq_file *m, void *v)
{
	struct qmempool *pool = skb_qmempool_get();
	struct qmempool_stats s;

	if (!pool) {
		seq_puts(m, "state absent\n");
		return 0;
	}
	seq_printf(m, "state %s\n", pool_state(pool));
	qmempool_get_stats(pool, &s);
	seq_printf(m, "slab_alloc %lu\nslab_free %lu\n", s.slab_alloc, s.slab_free);
	seq_printf(m, "shared_refill %lu\nslab_refill %lu\n", s.shared_refill, s.slab_refill);
	seq_printf(m, "shared_flush %lu\nslab_flush %lu\n", s.shared_flush, s.slab_flush);
	seq_printf(m, "fallback_alloc %lu\nfallback_free %lu\n", s.fallback_alloc, s.fallback_free);
	/* Only fields every version of the series has (--other-series). */
	seq_printf(m, "cached %lu\n", s.cached);
	return 0;
}
#else
static int qk_skbpool_show(struct seq_file *m, void *v)
{
	seq_printf(m, "state %s\n", IS_ENABLED(CONFIG_SKB_QMEMPOOL) ? "unknown" : "absent");
	return 0;
}
#endif

static int __init qk_skbpool_init(void)
{
	if (!proc_create_single("qk_skb_pool", 0444, NULL, qk_skbpool_show))
		return -ENOMEM;
	return 0;
}

static void __exit qk_skbpool_exit(void)
{
	remove_proc_entry("qk_skb_pool", NULL);
}

module_init(qk_skbpool_init);
module_exit(qk_skbpool_exit);
MODULE_DESCRIPTION("qmempool-kit: the sk_buff head pool's counters in /proc");
MODULE_LICENSE("GPL");
