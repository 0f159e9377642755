// SPDX-License-Identifier: GPL-2.0
/*
 * qk_kunit_fail - a KUnit suite with one case that passes and one that
 * fails on purpose, so that the host's handling of a failing KUnit case
 * (class test-failure, the case named in the results) is tested against
 * the real thing. Loaded only when a run asks for it (--modules).
 */
#include <kunit/test.h>
#include <linux/module.h>

static void qk_selftest_passes(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 2, 1 + 1);
}

/* Not const: the compiler cannot fold the comparison away. */
static int qk_selftest_answer = 41;
module_param(qk_selftest_answer, int, 0444);
MODULE_PARM_DESC(qk_selftest_answer, "the value the failing case compares with 42");

static void qk_selftest_fails(struct kunit *test)
{
	KUNIT_EXPECT_EQ_MSG(test, READ_ONCE(qk_selftest_answer), 42,
			    "deliberate failure (qk_kunit_fail)");
}

static struct kunit_case qk_selftest_cases[] = {
	KUNIT_CASE(qk_selftest_passes),
	KUNIT_CASE(qk_selftest_fails),
	{}
};

static struct kunit_suite qk_selftest_suite = {
	.name = "qk_selftest",
	.test_cases = qk_selftest_cases,
};
kunit_test_suite(qk_selftest_suite);

MODULE_DESCRIPTION("qmempool-kit: a KUnit suite that fails on purpose");
MODULE_LICENSE("GPL");
