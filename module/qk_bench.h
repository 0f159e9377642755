/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qk_bench.h - the timing harness shared by the qmempool-kit bench modules
 *
 * Each bench module (qk_bench, qk_bench_queue, qk_bench_skb) includes this
 * header once and hands a table of cases to qk_run_cases() from its init
 * function.  Everything here is static, so every module carries its own
 * copy of the harness and of its parameters:
 *
 *   set=headline|full  which cases run (default headline)
 *   loops=PERCENT      scale of every case's operation count, 1..10000
 *                      (default 30)
 *   samples=N          timed samples per case, 1..16 (default 15)
 *   only=TEXT          run only the cases whose "suite/case" contains TEXT
 *
 * A case runs in a kthread created with kthread_create_on_cpu(), so it
 * stays on one CPU; a two-CPU case runs one such kthread on each of the
 * first two online CPUs.  Each case takes one warm-up sample, which is
 * discarded, then the timed samples, with cond_resched() in between.  The
 * operation count of a sample is fixed by the case table and the loops
 * parameter only, never calibrated on the running kernel, so the figures
 * of two kernels are made of the same work.
 *
 * Contexts: "process" runs the sample in the kthread; "bh-off" runs it
 * inside local_bh_disable(); "napi" runs it inside the poll function of a
 * NAPI context on a dummy net_device, i.e. in real NET_RX softirq context,
 * one poll per sample.
 *
 * Output: one line per case on the console, parsed by the host:
 *   QK-BENCH {"suite":..,"case":..,"group":..,"param":..,"unit":"ns",..}
 *   QK-BENCH {"suite":..,"case":..,..,"status":"skip","reason":..}
 *   QK-BENCH {"suite":..,"case":..,"status":"error","reason":..}
 * Samples are nanoseconds per counted operation ("per"); the loop overhead
 * is measured and reported beside them, never subtracted.  So are two
 * readings of the CPU's speed taken before each sample and after the last
 * (ref_ps, mref_ps; qk_reference()), by which the host leaves out the
 * samples taken while it ran the guest slow.  A sample whose
 * interval is zero (a clock that did not advance) fails the case instead
 * of producing an infinite rate.  A case that fails makes the module's
 * init return an error after the other cases ran.
 */
#ifndef _QK_BENCH_H
#define _QK_BENCH_H

#include <linux/atomic.h>
#include <linux/bottom_half.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/gfp.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/netdevice.h>
#include <linux/preempt.h>
#include <linux/printk.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/types.h>
#include <linux/version.h>
#if IS_ENABLED(CONFIG_QMEMPOOL)
#include <linux/qmempool.h>
#endif

#define QK_MAX_SAMPLES		16
#define QK_OBJ_SIZE		256
/* A two-CPU case gives up when the other CPU does not answer for 10 s. */
#define QK_WAIT_NS		(10ULL * NSEC_PER_SEC)
/* The empty loop whose cost is reported as loop overhead: runs, length. */
#define QK_OVERHEAD_RUNS	5
#define QK_OVERHEAD_LOOPS	100000
/*
 * The readings taken before each sample (qk_reference()): one over
 * QK_REF_SLOW_PCT percent of the best this module has seen makes the thread
 * sleep QK_REF_WAIT_MS and read again, at most QK_REF_WAITS times per case,
 * so that a short slow spell of the host passes before the sample.
 */
#define QK_REF_SLOW_PCT		110
#define QK_REF_WAIT_MS		20
#define QK_REF_WAITS		50
/* Longest QK-BENCH line we print; printk cuts lines near 1024 bytes. */
#define QK_LINE_MAX		900
/* Largest loops parameter: keeps operation counts within 32 bits. */
#define QK_MAX_LOOPS		10000

/*
 * Kernel APIs younger than the oldest base kernel we build (Linux 6.1).  A
 * case that needs one this kernel lacks is compiled out and prints a skip
 * line with the reason given here; the harness works around the others.
 */
#define QK_HAVE_SLAB_BUILD_SKB	(KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE)
#define QK_NO_SLAB_BUILD_SKB	"needs slab_build_skb() (Linux 6.2+)"
#define QK_HAVE_OBJPOOL		(KERNEL_VERSION(6, 7, 0) <= LINUX_VERSION_CODE)
#define QK_NO_OBJPOOL		"needs lib/objpool.c (Linux 6.7+)"
/* Else a usercopy region keeps a cache from being merged: qk_bench.c. */
#define QK_HAVE_SLAB_NO_MERGE	(KERNEL_VERSION(6, 5, 0) <= LINUX_VERSION_CODE)
/* Else the dummy device is set up with init_dummy_netdev(). */
#define QK_HAVE_NETDEV_DUMMY	(KERNEL_VERSION(6, 10, 0) <= LINUX_VERSION_CODE)

static char *qk_set = "headline";
module_param_named(set, qk_set, charp, 0444);
MODULE_PARM_DESC(set, "cases to run: headline (default) or full");

/*
 * Many short samples rather than a few long ones: a sample of UML's
 * slab/reuse at loops=100 took about 3 ms, as long as a host scheduler
 * timeslice, so on a busy host most samples of a boot either did or did
 * not contain the host running something else (13.5 or 33.5 ns/op, the
 * boot's median flipping between the two). At loops=30 a sample lasts
 * about a millisecond on UML, few of fifteen straddle a host context
 * switch, and the median passes over those that do.
 */
static unsigned int qk_loops = 30;
module_param_named(loops, qk_loops, uint, 0444);
MODULE_PARM_DESC(loops, "scale of every case's operation count, in percent, 1..10000 (default 30)");

static unsigned int qk_samples = 15;
module_param_named(samples, qk_samples, uint, 0444);
MODULE_PARM_DESC(samples, "timed samples per case, 1..16 (default 15)");

static char *qk_only = "";
module_param_named(only, qk_only, charp, 0444);
MODULE_PARM_DESC(only, "run only the cases whose \"suite/case\" contains this text");

enum qk_ctx {
	QK_PROCESS,
	QK_BH_OFF,
	QK_NAPI,
};

struct qk_run;
struct qmempool;

/**
 * struct qk_case - one benchmark case of a module's table
 * @suite: suite name ("slab", "qmempool", ...)
 * @name: case name, unique within @suite
 * @group: chart group the host draws the case in
 * @per: what one counted operation is: "op", "object", "element", "packet"
 * @peer: "suite/case" of the case of the same boot to compare with, or NULL
 * @skip: reason why the case cannot run on this kernel, or NULL
 * @param: N outstanding, bulk or batch size, or 1; a sample runs a whole
 *	number of rounds of @param operations
 * @ops: operations per sample at loops=100, rounded down to whole rounds
 * @ctx: context the sample runs in (single-CPU cases only)
 * @headline: part of set=headline
 * @xcpu: runs on two CPUs through @xsample, else on one through @sample
 * @span: (@xcpu) a sample lasts from &qk_run.x_start, taken on the first
 *	CPU, to &qk_run.x_end, taken on the second; otherwise it is the sum
 *	of the busy times &qk_run.x_busy of both CPUs
 * @rate: also report the throughput of each sample in Melem/s
 * @setup: prepare &qk_run.priv; on failure it cleans up after itself
 * @teardown: undo @setup; may record an error with qk_fail()
 * @sample: run &qk_run.rounds rounds; returns 0 or the qk_fail() error
 * @xsample: run one CPU's share (@side 0 or 1) of a two-CPU sample
 */
struct qk_case {
	const char *suite;
	const char *name;
	const char *group;
	const char *per;
	const char *peer;
	const char *skip;
	unsigned int param;
	unsigned int ops;
	enum qk_ctx ctx;
	bool headline;
	bool xcpu;
	bool span;
	bool rate;
	int (*setup)(struct qk_run *r);
	void (*teardown)(struct qk_run *r);
	int (*sample)(struct qk_run *r);
	int (*xsample)(struct qk_run *r, unsigned int side);
};

/**
 * struct qk_xside - what the kthread of one side of a two-CPU case gets
 * @r: the run
 * @side: 0 on the first CPU, 1 on the second
 */
struct qk_xside {
	struct qk_run *r;
	unsigned int side;
};

/**
 * struct qk_run - state of one case while it runs
 * @c: the case
 * @rounds: rounds of @c->param operations per sample
 * @loops: operations counted per sample, @rounds * @c->param
 * @nsamples: timed samples
 * @gfp: GFP_KERNEL in process context, GFP_ATOMIC otherwise
 * @priv: state of the case's family, owned by @c->setup and @c->teardown
 * @napi: the NAPI context a "napi" sample runs in
 * @napi_budget: budget of the current poll, for napi_consume_skb()
 * @ns: duration of each timed sample
 * @ref_ps: the empty loop's reading before each timed sample and after
 *	the last one (qk_reference())
 * @mref_ps: the memory reading, taken with @ref_ps
 * @ref_waits: waits for a slowed CPU left to the case (qk_reference())
 * @overhead_ps: cost of one iteration of an empty loop, in picoseconds
 * @cpus: CPUs the case ran on (@cpus[1] for two-CPU cases only)
 * @err: first error, 0 if none
 * @why: reason of @err, printed in the error line
 * @abort: set with @err; makes every wait of a two-CPU case give up
 * @pool: qmempool whose counters are reported, or NULL
 * @pool_note: why the counters of the pool that matters cannot be read,
 *	or why the case's allocations did not go through @pool
 * @pool_bypassed: the case's allocations did not go through @pool, so
 *	"allocs" is 0
 * @st: pool counters before (0) and after (1) the timed samples
 * @done: completed by the kthread of each side when it is finished
 * @sides: arguments of the kthreads
 * @bar_cnt: CPUs arrived at the current barrier
 * @bar_gen: barrier generation, advanced when both CPUs arrived
 * @xseq: hand-over sequence of the phases of a two-CPU sample
 * @x_start: start of a @c->span sample, taken on side 0
 * @x_end: end of a @c->span sample, taken on side 1
 * @x_busy: busy time of each side in a sample that is not @c->span
 */
struct qk_run {
	const struct qk_case *c;
	unsigned int rounds;
	unsigned int loops;
	unsigned int nsamples;
	gfp_t gfp;
	void *priv;
	struct napi_struct *napi;
	int napi_budget;
	u64 ns[QK_MAX_SAMPLES];
	u64 ref_ps[QK_MAX_SAMPLES + 1];
	u64 mref_ps[QK_MAX_SAMPLES + 1];
	unsigned int ref_waits;
	u64 overhead_ps;
	int cpus[2];
	int err;
	const char *why;
	atomic_t abort;
	struct qmempool *pool;
	const char *pool_note;
	bool pool_bypassed;
#if IS_ENABLED(CONFIG_QMEMPOOL)
	struct qmempool_stats st[2];
#endif
	struct completion done[2];
	struct qk_xside sides[2];
	atomic_t bar_cnt;
	atomic_t bar_gen;
	atomic_t xseq;
	u64 x_start;
	u64 x_end;
	u64 x_busy[2];
};

/**
 * struct qk_napi - a NAPI context on a dummy net_device to run samples in
 * @dev: the dummy device, from qk_dummy_dev_alloc()
 * @napi: the NAPI context; its poll function runs one sample
 * @done: completed by the poll function
 * @run: the case of the current sample
 * @sample: index of the current sample, 0 for the warm-up
 * @err: result of the current sample
 */
struct qk_napi {
	struct net_device *dev;
	struct napi_struct napi;
	struct completion done;
	struct qk_run *run;
	unsigned int sample;
	int err;
};

/* Created by the first "napi" case of a module, freed by qk_run_cases(). */
static struct qk_napi *qk_napi_ctx;

/**
 * qk_fail() - record the error of a case
 * @r: the run
 * @err: negative error code
 * @why: reason printed in the error line; a string constant
 *
 * Only the first error is kept.  Also tells the other CPU of a two-CPU
 * case to give up.
 *
 * Return: @err, so that callers can write "return qk_fail(...);".
 */
static inline int qk_fail(struct qk_run *r, int err, const char *why)
{
	if (atomic_cmpxchg(&r->abort, 0, 1) == 0) {
		r->err = err;
		r->why = why;
	}
	return err;
}

/**
 * qk_spin() - one step of a bounded busy wait of a two-CPU case
 * @r: the run
 * @spins: counter of the caller's wait, zero before the first step
 * @deadline: end of the wait in ktime_get_ns() time, zero before the first
 *	step; set on the first time check
 *
 * Gives up when the run was aborted or the wait took longer than
 * QK_WAIT_NS.  Calls cond_resched() now and then, so that a long wait does
 * not starve the CPU's other tasks on kernels without preemption.
 *
 * Return: 0 to go on waiting, or a negative error code.
 */
static inline int qk_spin(struct qk_run *r, unsigned int *spins,
			  u64 *deadline)
{
	u64 now;

	if (atomic_read(&r->abort))
		return -ECANCELED;
	cpu_relax();
	if (++*spins % 1024)
		return 0;
	now = ktime_get_ns();
	if (!*deadline)
		*deadline = now + QK_WAIT_NS;
	else if (now > *deadline)
		return qk_fail(r, -ETIMEDOUT, "timed out waiting for the other CPU");
	cond_resched();
	return 0;
}

/**
 * qk_xwait() - wait until another CPU stores @want into @v
 * @r: the run
 * @v: hand-over variable, stored with atomic_set_release()
 * @want: value to wait for
 *
 * Return: 0 once @v holds @want, or a negative error code.
 */
static inline int qk_xwait(struct qk_run *r, atomic_t *v, int want)
{
	unsigned int spins = 0;
	u64 deadline = 0;
	int err;

	/* Pairs with atomic_set_release() of the other CPU. */
	while (atomic_read_acquire(v) != want) {
		err = qk_spin(r, &spins, &deadline);
		if (err)
			return err;
	}
	return 0;
}

/**
 * qk_xbarrier() - wait until both CPUs of a two-CPU case arrived here
 * @r: the run
 *
 * Everything a CPU stored before the barrier is visible to the other CPU
 * after it.
 *
 * Return: 0, or a negative error code if the case was aborted or timed out.
 */
static inline int qk_xbarrier(struct qk_run *r)
{
	int gen = atomic_read(&r->bar_gen);

	/* Fully ordered: our stores before it, the reset below after it. */
	if (atomic_inc_return(&r->bar_cnt) == 2) {
		atomic_set(&r->bar_cnt, 0);
		/* Pairs with atomic_read_acquire() in qk_xwait(). */
		atomic_set_release(&r->bar_gen, gen + 1);
		return 0;
	}
	return qk_xwait(r, &r->bar_gen, gen + 1);
}

/**
 * qk_loop_time() - cost of one iteration of an empty loop
 * @runs: runs of QK_OVERHEAD_LOOPS iterations
 *
 * The fastest of @runs runs, so that an interrupt in one run does not count.
 *
 * Return: picoseconds per iteration; 0 if the clock did not advance.
 */
static u64 qk_loop_time(unsigned int runs)
{
	u64 t0, t1, best = U64_MAX;
	unsigned int i, run;

	for (run = 0; run < runs; run++) {
		t0 = ktime_get_ns();
		for (i = 0; i < QK_OVERHEAD_LOOPS; i++)
			barrier();
		t1 = ktime_get_ns();
		best = min(best, t1 - t0);
	}
	return div_u64(best * 1000, QK_OVERHEAD_LOOPS);
}

/* The loop overhead reported with each case. */
static u64 qk_loop_overhead(void)
{
	return qk_loop_time(QK_OVERHEAD_RUNS);
}

/*
 * The memory reading walks a buffer of QK_REF_LINES cache lines, a working
 * set like that of the allocation cases, QK_REF_PASSES times.
 */
#define QK_REF_LINES		256
#define QK_REF_PASSES		64
static u64 qk_ref_buf[QK_REF_LINES * 8] ____cacheline_aligned;

/**
 * qk_mem_time() - cost of one load and store in a small working set
 *
 * Return: picoseconds per access, the faster of two runs.
 */
static u64 qk_mem_time(void)
{
	unsigned int run, pass, i;
	u64 t0, t1, best = U64_MAX, sum = 0;

	for (run = 0; run < 2; run++) {
		t0 = ktime_get_ns();
		for (pass = 0; pass < QK_REF_PASSES; pass++) {
			for (i = 0; i < QK_REF_LINES * 8; i += 8) {
				sum += READ_ONCE(qk_ref_buf[i]);
				WRITE_ONCE(qk_ref_buf[i], sum);
			}
		}
		t1 = ktime_get_ns();
		best = min(best, t1 - t0);
	}
	return div_u64(best * 1000, QK_REF_PASSES * QK_REF_LINES);
}

/* Best readings of this module so far, in picoseconds. */
static u64 qk_ref_best_ps = U64_MAX;
static u64 qk_mref_best_ps = U64_MAX;

/* Whether a reading is over QK_REF_SLOW_PCT percent of the best one. */
static bool qk_ref_slow(u64 ps, u64 best)
{
	return ps * 100 > best * QK_REF_SLOW_PCT;
}

/**
 * qk_reference() - how fast this CPU runs right now
 * @r: the run
 * @i: index of the reading: before sample @i, or after the last one
 * @may_wait: the caller may sleep, and no other CPU waits for it
 *
 * A guest shares its host's CPUs, and a busy host can run the guest's CPU
 * markedly slower for seconds at a time: on UML and TCG guests every case
 * of a boot, and the empty loop with them, were seen 1.5 to 1.8 times
 * slower in such spells, and some spells slowed memory accesses only.
 * Two readings that touch nothing the series changes, the empty loop and
 * a walk over a small buffer, taken before each sample and after the last
 * one, tell such a spell from the code under test.  They are reported
 * beside the samples, so that the host can leave out the samples taken in
 * a slow spell.  With @may_wait, a reading over QK_REF_SLOW_PCT percent
 * of the best this module has seen is taken again after a short sleep,
 * QK_REF_WAITS times per case at most, so that a short spell passes.
 *
 * Context: process context.
 */
static void qk_reference(struct qk_run *r, unsigned int i, bool may_wait)
{
	u64 ps = qk_loop_time(2), mps = qk_mem_time();

	while (may_wait && r->ref_waits &&
	       (qk_ref_slow(ps, qk_ref_best_ps) ||
		qk_ref_slow(mps, qk_mref_best_ps))) {
		r->ref_waits--;
		msleep(QK_REF_WAIT_MS);
		ps = qk_loop_time(2);
		mps = qk_mem_time();
	}
	qk_ref_best_ps = min(qk_ref_best_ps, ps);
	qk_mref_best_ps = min(qk_mref_best_ps, mps);
	r->ref_ps[i] = ps;
	r->mref_ps[i] = mps;
}

/**
 * qk_pool_snap() - read the counters of the run's qmempool, if any
 * @r: the run
 * @when: 0 before the timed samples, 1 after them
 */
static void qk_pool_snap(struct qk_run *r, unsigned int when)
{
#if IS_ENABLED(CONFIG_QMEMPOOL)
	if (r->pool)
		qmempool_get_stats(r->pool, &r->st[when]);
#endif
}

/**
 * qk_record() - store the duration of one sample
 * @r: the run
 * @s: sample index; 0 is the warm-up, which is not kept
 * @ns: duration of the sample
 *
 * Return: 0, or -EINVAL if the clock did not advance.
 */
static int qk_record(struct qk_run *r, unsigned int s, u64 ns)
{
	if (!ns)
		return qk_fail(r, -EINVAL, "clock did not advance over a sample");
	if (s)
		r->ns[s - 1] = ns;
	return 0;
}

/**
 * qk_timed_sample() - run and time one sample of a single-CPU case
 * @r: the run
 * @s: sample index; 0 is the warm-up
 *
 * Called in the case's kthread, or in the NAPI poll function for "napi"
 * cases.  For "bh-off" cases the sample runs with bottom halves disabled.
 *
 * Return: 0 or a negative error code.
 */
static int qk_timed_sample(struct qk_run *r, unsigned int s)
{
	bool bh_off = r->c->ctx == QK_BH_OFF;
	u64 t0, t1;
	int err;

	if (bh_off)
		local_bh_disable();
	t0 = ktime_get_ns();
	err = r->c->sample(r);
	t1 = ktime_get_ns();
	if (bh_off)
		local_bh_enable();
	if (err)
		return err;
	return qk_record(r, s, t1 - t0);
}

/**
 * qk_napi_poll() - NAPI poll function: run the pending sample
 * @napi: the module's NAPI context
 * @budget: the poll budget, handed to the sample for napi_consume_skb()
 *
 * Context: NET_RX softirq on the CPU that scheduled @napi.
 * Return: 0, always below @budget: the poll is complete.
 */
static int qk_napi_poll(struct napi_struct *napi, int budget)
{
	struct qk_napi *qn = container_of(napi, struct qk_napi, napi);
	struct qk_run *r = qn->run;

	r->cpus[0] = smp_processor_id();
	r->napi_budget = budget;
	qn->err = qk_timed_sample(r, qn->sample);
	/* Its result only tells a driver whether to re-arm device interrupts. */
	napi_complete_done(napi, 0);
	complete(&qn->done);
	return 0;
}

/**
 * qk_dummy_dev_alloc() - allocate a dummy net_device for a NAPI context
 *
 * Before Linux 6.10, which has alloc_netdev_dummy(), a dummy device was a
 * zeroed struct net_device set up by init_dummy_netdev().
 *
 * Return: the device, or NULL.
 */
static struct net_device *qk_dummy_dev_alloc(void)
{
#if QK_HAVE_NETDEV_DUMMY
	return alloc_netdev_dummy(0);
#else
	struct net_device *dev = kzalloc(sizeof(*dev), GFP_KERNEL);

	if (dev)
		init_dummy_netdev(dev);
	return dev;
#endif
}

/* Free a device from qk_dummy_dev_alloc(). */
static void qk_dummy_dev_free(struct net_device *dev)
{
#if QK_HAVE_NETDEV_DUMMY
	free_netdev(dev);
#else
	kfree(dev);
#endif
}

/**
 * qk_napi_get() - create the module's NAPI context if not done yet
 *
 * Context: process context.
 * Return: 0 or -ENOMEM.
 */
static int qk_napi_get(void)
{
	struct qk_napi *qn;

	if (qk_napi_ctx)
		return 0;
	qn = kzalloc(sizeof(*qn), GFP_KERNEL);
	if (!qn)
		return -ENOMEM;
	qn->dev = qk_dummy_dev_alloc();
	if (!qn->dev) {
		kfree(qn);
		return -ENOMEM;
	}
	init_completion(&qn->done);
	netif_napi_add(qn->dev, &qn->napi, qk_napi_poll);
	napi_enable(&qn->napi);
	qk_napi_ctx = qn;
	return 0;
}

/**
 * qk_napi_put() - free the module's NAPI context, if any
 *
 * Context: process context, no sample running.
 */
static void qk_napi_put(void)
{
	struct qk_napi *qn = qk_napi_ctx;

	if (!qn)
		return;
	napi_disable(&qn->napi);
	netif_napi_del(&qn->napi);
	qk_dummy_dev_free(qn->dev);
	kfree(qn);
	qk_napi_ctx = NULL;
}

/**
 * qk_napi_sample() - run one sample in the NAPI poll function
 * @r: the run
 * @s: sample index; 0 is the warm-up
 *
 * Schedules the NAPI context on this CPU with bottom halves disabled; the
 * NET_RX softirq then runs the poll when they are enabled again, here or
 * in this CPU's ksoftirqd, and the poll runs the sample.
 *
 * Context: the case's kthread, bound to its CPU.
 * Return: 0 or a negative error code.
 */
static int qk_napi_sample(struct qk_run *r, unsigned int s)
{
	struct qk_napi *qn = qk_napi_ctx;
	bool scheduled;

	qn->run = r;
	qn->sample = s;
	qn->err = 0;
	reinit_completion(&qn->done);
	local_bh_disable();
	/* napi_schedule(), which returns whether it did so since 6.7. */
	scheduled = napi_schedule_prep(&qn->napi);
	if (scheduled)
		__napi_schedule(&qn->napi);
	local_bh_enable();
	if (!scheduled)
		return qk_fail(r, -EBUSY, "the NAPI context was already scheduled");
	wait_for_completion(&qn->done);
	return qn->err;
}

/**
 * qk_single_thread() - kthread of a single-CPU case
 * @arg: the &struct qk_run
 *
 * Measures the loop overhead, then runs the warm-up and the timed samples
 * in the case's context, reading the pool counters before and after the
 * timed samples.
 *
 * Return: 0; the result of the case is in the run.
 */
static int qk_single_thread(void *arg)
{
	struct qk_run *r = arg;
	unsigned int s;
	int err = 0;

	r->cpus[0] = raw_smp_processor_id();
	r->overhead_ps = qk_loop_overhead();
	for (s = 0; s <= r->nsamples && !err; s++) {
		if (s == 1)
			qk_pool_snap(r, 0);
		if (s)
			qk_reference(r, s - 1, true);
		if (r->c->ctx == QK_NAPI)
			err = qk_napi_sample(r, s);
		else
			err = qk_timed_sample(r, s);
		cond_resched();
	}
	qk_reference(r, r->nsamples, false);
	qk_pool_snap(r, 1);
	complete(&r->done[0]);
	return 0;
}

/**
 * qk_xcpu_thread() - kthread of one side of a two-CPU case
 * @arg: the &struct qk_xside of this side
 *
 * Both sides start and end every sample together at a barrier; side 0
 * then records the sample and reads the pool counters while side 1 waits
 * at the next barrier.
 *
 * Return: 0; the result of the case is in the run.
 */
static int qk_xcpu_thread(void *arg)
{
	struct qk_xside *xs = arg;
	struct qk_run *r = xs->r;
	unsigned int side = xs->side, s;
	int err = 0;

	r->cpus[side] = raw_smp_processor_id();
	if (!side)
		r->overhead_ps = qk_loop_overhead();
	for (s = 0; s <= r->nsamples && !err; s++) {
		/* Side 1 waits at the barrier: no sleeping for a slow spell. */
		if (!side && s)
			qk_reference(r, s - 1, false);
		err = qk_xbarrier(r);
		if (err)
			break;
		err = r->c->xsample(r, side);
		if (err) {
			qk_fail(r, err, "a CPU of a two-CPU sample failed");
			break;
		}
		err = qk_xbarrier(r);
		if (err)
			break;
		/* The other side waits for us at the next barrier. */
		if (!side) {
			if (r->c->span)
				err = qk_record(r, s, r->x_end - r->x_start);
			else
				err = qk_record(r, s, r->x_busy[0] + r->x_busy[1]);
			atomic_set(&r->xseq, 0);
			if (!s)
				qk_pool_snap(r, 0);
		}
		cond_resched();
	}
	if (!side) {
		qk_reference(r, r->nsamples, false);
		qk_pool_snap(r, 1);
	}
	complete(&r->done[side]);
	return 0;
}

/**
 * qk_start_thread() - start a kthread bound to a CPU
 * @fn: thread function; it completes a &qk_run.done before it returns
 * @arg: its argument
 * @cpu: the CPU
 *
 * A reference to the task is kept, so that kthread_stop() may be called
 * after the thread function returned; put_task_struct() drops it.
 *
 * Return: the task, or an ERR_PTR().
 */
static struct task_struct *qk_start_thread(int (*fn)(void *arg), void *arg,
					   unsigned int cpu)
{
	struct task_struct *t;

	t = kthread_create_on_cpu(fn, arg, cpu, "qk_bench/%u");
	if (IS_ERR(t))
		return t;
	get_task_struct(t);
	wake_up_process(t);
	return t;
}

/**
 * qk_run_threads() - run a case's samples on its CPU or CPUs
 * @r: the run, set up
 *
 * Waits for the thread function to be finished before it stops a thread:
 * kthread_stop() on a thread that did not start yet would keep it from
 * ever running its function.
 */
static void qk_run_threads(struct qk_run *r)
{
	struct task_struct *t[2] = { NULL, NULL };
	unsigned int cpu[2], i, n = r->c->xcpu ? 2 : 1;

	cpu[0] = cpumask_first(cpu_online_mask);
	cpu[1] = cpumask_next(cpu[0], cpu_online_mask);
	for (i = 0; i < n; i++) {
		init_completion(&r->done[i]);
		r->sides[i].r = r;
		r->sides[i].side = i;
		if (r->c->xcpu)
			t[i] = qk_start_thread(qk_xcpu_thread, &r->sides[i], cpu[i]);
		else
			t[i] = qk_start_thread(qk_single_thread, r, cpu[i]);
		if (IS_ERR(t[i])) {
			qk_fail(r, PTR_ERR(t[i]), "cannot create the kthread of the case");
			t[i] = NULL;
			break;
		}
	}
	for (i = 0; i < n; i++) {
		if (!t[i])
			continue;
		wait_for_completion(&r->done[i]);
		/* kthread_stop_put(), which appeared in Linux 6.6. */
		kthread_stop(t[i]);
		put_task_struct(t[i]);
	}
}

/**
 * qk_preempt_model() - the preemption model the kernel runs with
 *
 * Return: "none", "voluntary", "full", "lazy" (Linux 6.13 and later) or
 * "rt" (or "unknown").
 */
static const char *qk_preempt_model(void)
{
	if (preempt_model_rt())
		return "rt";
	if (preempt_model_full())
		return "full";
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
	if (preempt_model_lazy())
		return "lazy";
#endif
	if (preempt_model_voluntary())
		return "voluntary";
	if (preempt_model_none())
		return "none";
	return "unknown";
}

static const char *const qk_ctx_names[] = {
	[QK_PROCESS] = "process",
	[QK_BH_OFF] = "bh-off",
	[QK_NAPI] = "napi",
};

/**
 * qk_print_line() - print one QK-BENCH line, or complain that it is too long
 * @c: the case the line is about
 * @buf: the JSON object
 * @len: its length
 *
 * Return: 0, or -EOVERFLOW if the line was too long to be printed whole.
 */
static int qk_print_line(const struct qk_case *c, const char *buf, size_t len)
{
	if (len >= QK_LINE_MAX - 1) {
		pr_info("QK-BENCH {\"suite\":\"%s\",\"case\":\"%s\",\"status\":\"error\",\"reason\":\"result line longer than %d bytes\"}\n",
			c->suite, c->name, QK_LINE_MAX);
		return -EOVERFLOW;
	}
	pr_info("QK-BENCH %s\n", buf);
	return 0;
}

/**
 * qk_report_skip() - print the skip line of a case
 * @c: the case
 * @reason: why it does not run
 */
static void qk_report_skip(const struct qk_case *c, const char *reason)
{
	pr_info("QK-BENCH {\"suite\":\"%s\",\"case\":\"%s\",\"group\":\"%s\",\"param\":%u,\"status\":\"skip\",\"reason\":\"%s\"}\n",
		c->suite, c->name, c->group, c->param, reason);
}

/**
 * qk_report_pool() - append the "pool" and "pool_note" members of a line
 * @r: the run
 * @buf: the line
 * @len: its length so far
 *
 * "pool" holds the counter deltas over the timed samples ("cached" is the
 * count at the end), or null with a "pool_note" saying why the pool that
 * matters could not be read.  Cases without a pool get neither member.
 *
 * Return: the new length.
 */
static size_t qk_report_pool(struct qk_run *r, char *buf, size_t len)
{
#if IS_ENABLED(CONFIG_QMEMPOOL)
	const struct qmempool_stats *a = &r->st[0], *b = &r->st[1];

	if (r->pool)
		len += scnprintf(buf + len, QK_LINE_MAX - len,
				 ",\"pool\":{\"slab_alloc\":%lu,\"slab_free\":%lu,\"shared_refill\":%lu,\"slab_refill\":%lu,\"shared_flush\":%lu,\"slab_flush\":%lu,\"fallback_alloc\":%lu,\"fallback_free\":%lu,\"cached\":%lu,\"allocs\":%llu}",
				 b->slab_alloc - a->slab_alloc,
				 b->slab_free - a->slab_free,
				 b->shared_refill - a->shared_refill,
				 b->slab_refill - a->slab_refill,
				 b->shared_flush - a->shared_flush,
				 b->slab_flush - a->slab_flush,
				 b->fallback_alloc - a->fallback_alloc,
				 b->fallback_free - a->fallback_free,
				 b->cached,
				 r->pool_bypassed ? 0 :
				 (u64)r->loops * r->nsamples);
#endif
	if (!r->pool_note)
		return len;
	return len + scnprintf(buf + len, QK_LINE_MAX - len,
			       "%s,\"pool_note\":\"%s\"",
			       r->pool ? "" : ",\"pool\":null", r->pool_note);
}

/**
 * qk_report() - print the result line of a case that ran
 * @r: the run
 *
 * Return: 0, or a negative error code if the line could not be printed.
 */
static int qk_report(struct qk_run *r)
{
	const struct qk_case *c = r->c;
	size_t len = 0;
	unsigned int i;
	char *buf;
	int err;

	buf = kmalloc(QK_LINE_MAX, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	len += scnprintf(buf + len, QK_LINE_MAX - len,
			 "{\"suite\":\"%s\",\"case\":\"%s\",\"group\":\"%s\",\"param\":%u,\"unit\":\"ns\",\"per\":\"%s\",\"loops\":%u,\"samples\":[",
			 c->suite, c->name, c->group, c->param, c->per, r->loops);
	for (i = 0; i < r->nsamples; i++) {
		u64 ps = div64_u64(r->ns[i] * 1000, r->loops);

		len += scnprintf(buf + len, QK_LINE_MAX - len, "%s%llu.%03llu",
				 i ? "," : "", ps / 1000, ps % 1000);
	}
	len += scnprintf(buf + len, QK_LINE_MAX - len, "],\"ref_ps\":[");
	for (i = 0; i <= r->nsamples; i++)
		len += scnprintf(buf + len, QK_LINE_MAX - len, "%s%llu",
				 i ? "," : "", r->ref_ps[i]);
	len += scnprintf(buf + len, QK_LINE_MAX - len, "],\"mref_ps\":[");
	for (i = 0; i <= r->nsamples; i++)
		len += scnprintf(buf + len, QK_LINE_MAX - len, "%s%llu",
				 i ? "," : "", r->mref_ps[i]);
	len += scnprintf(buf + len, QK_LINE_MAX - len,
			 "],\"ref_waits\":%u,\"loop_overhead_ns\":%llu.%03llu,\"cpu\":%d,",
			 QK_REF_WAITS - r->ref_waits,
			 r->overhead_ps / 1000, r->overhead_ps % 1000, r->cpus[0]);
	if (c->xcpu)
		len += scnprintf(buf + len, QK_LINE_MAX - len,
				 "\"cpus\":\"%d,%d\",", r->cpus[0], r->cpus[1]);
	else
		len += scnprintf(buf + len, QK_LINE_MAX - len,
				 "\"cpus\":\"%d\",", r->cpus[0]);
	len += scnprintf(buf + len, QK_LINE_MAX - len,
			 "\"context\":\"%s\",\"preempt\":\"%s\",\"hz\":%d,\"init_on_alloc\":%s,\"init_on_free\":%s",
			 c->xcpu ? "process" : qk_ctx_names[c->ctx],
			 qk_preempt_model(), HZ,
			 want_init_on_alloc(GFP_KERNEL) ? "true" : "false",
			 want_init_on_free() ? "true" : "false");
	if (c->peer)
		len += scnprintf(buf + len, QK_LINE_MAX - len,
				 ",\"peer\":\"%s\"", c->peer);
	if (c->rate) {
		len += scnprintf(buf + len, QK_LINE_MAX - len,
				 ",\"rate\":{\"unit\":\"Melem/s\",\"samples\":[");
		for (i = 0; i < r->nsamples; i++) {
			/* Thousandths of Melem/s: loops / ns * 1e3 * 1e3. */
			u64 milli = div64_u64((u64)r->loops * 1000000, r->ns[i]);

			len += scnprintf(buf + len, QK_LINE_MAX - len,
					 "%s%llu.%03llu", i ? "," : "",
					 milli / 1000, milli % 1000);
		}
		len += scnprintf(buf + len, QK_LINE_MAX - len, "]}");
	}
	len = qk_report_pool(r, buf, len);
	len += scnprintf(buf + len, QK_LINE_MAX - len, "}");
	err = qk_print_line(c, buf, len);
	kfree(buf);
	return err;
}

/**
 * qk_run_case() - run one case and print its line
 * @c: the case; it can run on this kernel and this machine
 *
 * Context: process context (module init).
 * Return: 0, or the negative error code of the case, which printed an
 * error line.
 */
static int qk_run_case(const struct qk_case *c)
{
	struct qk_run *r;
	int err;

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->c = c;
	r->nsamples = qk_samples;
	r->ref_waits = QK_REF_WAITS;
	r->rounds = max_t(u64, 1, div_u64((u64)c->ops * qk_loops, 100 * c->param));
	r->loops = r->rounds * c->param;
	r->gfp = (c->xcpu || c->ctx == QK_PROCESS) ? GFP_KERNEL : GFP_ATOMIC;

	err = c->ctx == QK_NAPI ? qk_napi_get() : 0;
	if (err) {
		qk_fail(r, err, "cannot create the NAPI context");
	} else {
		if (c->ctx == QK_NAPI)
			r->napi = &qk_napi_ctx->napi;
		err = c->setup ? c->setup(r) : 0;
		if (err) {
			qk_fail(r, err, "the setup of the case failed");
		} else {
			qk_run_threads(r);
			if (c->teardown)
				c->teardown(r);
		}
	}

	if (r->err) {
		pr_info("QK-BENCH {\"suite\":\"%s\",\"case\":\"%s\",\"status\":\"error\",\"reason\":\"%s (%d)\"}\n",
			c->suite, c->name, r->why, r->err);
		err = r->err;
	} else {
		err = qk_report(r);
	}
	kfree(r);
	return err;
}

/**
 * qk_selected() - whether the parameters select a case
 * @c: the case
 * @full: set=full
 *
 * Return: true if the case is to run (or to print its skip line).
 */
static bool qk_selected(const struct qk_case *c, bool full)
{
	char id[64];

	if (!full && !c->headline)
		return false;
	if (!*qk_only)
		return true;
	scnprintf(id, sizeof(id), "%s/%s", c->suite, c->name);
	return strstr(id, qk_only);
}

/**
 * qk_run_cases() - run the selected cases of a table, in order
 * @cases: the table
 * @n: its size
 *
 * Cases that cannot run on this kernel or with this few online CPUs print
 * a skip line; the others print a result or an error line.
 *
 * Context: process context (module init).
 * Return: 0, -EINVAL for bad module parameters, or the error of the first
 * case that failed.
 */
static int qk_run_cases(const struct qk_case *cases, unsigned int n)
{
	bool full = !strcmp(qk_set, "full");
	unsigned int i, ran = 0, skipped = 0, failed = 0;
	u64 t0 = ktime_get_ns();
	int ret = 0, err;

	if ((!full && strcmp(qk_set, "headline")) || !qk_loops ||
	    qk_loops > QK_MAX_LOOPS || !qk_samples ||
	    qk_samples > QK_MAX_SAMPLES) {
		pr_err("need set=headline|full, 1 <= loops <= %d and 1 <= samples <= %d\n",
		       QK_MAX_LOOPS, QK_MAX_SAMPLES);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		const struct qk_case *c = &cases[i];

		if (!qk_selected(c, full))
			continue;
		if (c->skip) {
			qk_report_skip(c, c->skip);
			skipped++;
			continue;
		}
		if (c->xcpu && num_online_cpus() < 2) {
			qk_report_skip(c, "needs 2 online CPUs");
			skipped++;
			continue;
		}
		err = qk_run_case(c);
		ran++;
		if (err) {
			failed++;
			if (!ret)
				ret = err;
		}
	}
	qk_napi_put();
	pr_info("set=%s: %u cases ran (%u failed), %u skipped, in %llu ms\n",
		qk_set, ran, failed, skipped,
		div_u64(ktime_get_ns() - t0, NSEC_PER_MSEC));
	return ret;
}

#endif /* _QK_BENCH_H */
