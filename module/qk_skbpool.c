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
#include <linux/string.h>
#include <linux/version.h>

#if IS_ENABLED(CONFIG_SKB_QMEMPOOL) && IS_ENABLED(CONFIG_KUNIT)
#include "qk_skbprobe.h"

static const char *pool_state(struct qmempool *pool)
{
	int used = qk_skb_pool_used(pool);

	return used < 0 ? "unknown" : used ? "on" : "off";
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
