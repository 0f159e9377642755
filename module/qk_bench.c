// SPDX-License-Identifier: GPL-2.0
/*
 * qk_bench - the timing harness of qmempool-kit, and its first benchmark.
 *
 * Each case runs a fixed number of operations per sample and takes several
 * samples; the per-operation time of each sample is printed, not only a
 * summary, so the host can compute medians and spreads. Loop overhead is
 * measured first and reported beside the figures (not subtracted), and a
 * sample whose interval is zero (a clock that did not advance) fails the
 * case instead of producing an infinite rate.
 *
 * Output: one line per case on the console,
 *   QK-BENCH {"suite":..,"case":..,"unit":"ns","loops":N,"samples":[..],..}
 * parsed by the host (scripts/lib/results.ts, BenchLine).
 *
 * Case here: kmem_cache_alloc + kmem_cache_free of one 256-byte object,
 * "instant reuse", the slab fast path that qmempool is compared against.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/smp.h>
#include <linux/preempt.h>

static unsigned int loops = 1000000;
module_param(loops, uint, 0444);
MODULE_PARM_DESC(loops, "operations per sample (default 1000000)");

static unsigned int samples = 5;
module_param(samples, uint, 0444);
MODULE_PARM_DESC(samples, "samples per case (default 5, at most 32)");

#define QK_MAX_SAMPLES 32
#define QK_OBJ_SIZE 256

/* Picoseconds per operation of one sample; 0 when the clock did not move. */
static u64 qk_ps_per_op(u64 ns, unsigned int n)
{
	return div_u64(ns * 1000, n);
}

static const char *qk_preempt_model(void)
{
	if (preempt_model_full())
		return "full";
	if (preempt_model_voluntary())
		return "voluntary";
	if (preempt_model_none())
		return "none";
	return "unknown";
}

/* Print one QK-BENCH line; samples are in picoseconds, printed as ns. */
static void qk_report(const char *suite, const char *name, const u64 *ps,
		      unsigned int n, u64 overhead_ps)
{
	char *buf;
	size_t len = 0, size = 512 + 24 * n;
	unsigned int i;

	buf = kmalloc(size, GFP_KERNEL);
	if (!buf)
		return;
	len += scnprintf(buf + len, size - len,
			 "{\"suite\":\"%s\",\"case\":\"%s\",\"unit\":\"ns\",\"loops\":%u,\"samples\":[",
			 suite, name, loops);
	for (i = 0; i < n; i++)
		len += scnprintf(buf + len, size - len, "%s%llu.%03llu",
				 i ? "," : "", ps[i] / 1000, ps[i] % 1000);
	len += scnprintf(buf + len, size - len,
			 "],\"loop_overhead_ns\":%llu.%03llu,\"cpu\":%d,\"preempt\":\"%s\",\"hz\":%d}",
			 overhead_ps / 1000, overhead_ps % 1000,
			 raw_smp_processor_id(), qk_preempt_model(), HZ);
	pr_info("QK-BENCH %s\n", buf);
	kfree(buf);
}

/* Cost of the empty timing loop, per iteration. */
static u64 qk_loop_overhead(void)
{
	unsigned int i;
	u64 t0, t1;

	t0 = ktime_get_ns();
	for (i = 0; i < loops; i++)
		barrier();
	t1 = ktime_get_ns();
	return qk_ps_per_op(t1 - t0, loops);
}

static int qk_bench_slab_reuse(u64 overhead_ps)
{
	u64 ps[QK_MAX_SAMPLES];
	struct kmem_cache *cache;
	unsigned int s, i;
	int err = 0;

	cache = kmem_cache_create("qk_bench_256", QK_OBJ_SIZE, 0, 0, NULL);
	if (!cache)
		return -ENOMEM;

	for (s = 0; s < samples; s++) {
		u64 t0, t1;

		t0 = ktime_get_ns();
		for (i = 0; i < loops; i++) {
			void *obj = kmem_cache_alloc(cache, GFP_KERNEL);

			if (unlikely(!obj)) {
				err = -ENOMEM;
				goto out;
			}
			/* Keep the compiler from pairing alloc and free away. */
			OPTIMIZER_HIDE_VAR(obj);
			kmem_cache_free(cache, obj);
		}
		t1 = ktime_get_ns();
		if (t1 == t0) {
			pr_err("clock did not advance over %u loops\n", loops);
			err = -EINVAL;
			goto out;
		}
		ps[s] = qk_ps_per_op(t1 - t0, loops);
		cond_resched();
	}
	qk_report("slab", "kmem_cache_alloc_free_256", ps, samples, overhead_ps);
out:
	kmem_cache_destroy(cache);
	return err;
}

static int __init qk_bench_init(void)
{
	if (!loops || !samples || samples > QK_MAX_SAMPLES) {
		pr_err("need loops > 0 and 1 <= samples <= %d\n", QK_MAX_SAMPLES);
		return -EINVAL;
	}
	return qk_bench_slab_reuse(qk_loop_overhead());
}

static void __exit qk_bench_exit(void)
{
}

module_init(qk_bench_init);
module_exit(qk_bench_exit);
MODULE_DESCRIPTION("qmempool-kit timing harness and slab baseline benchmark");
MODULE_LICENSE("GPL");
