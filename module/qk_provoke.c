// SPDX-License-Identifier: GPL-2.0
/*
 * qk_provoke - make the kernel report a failure on purpose, so that the
 * host's console classifier is tested against the real thing.
 *
 *   what=warn  a WARN() splat ("WARNING: CPU: ...")
 *   what=oops  a NULL pointer dereference (an Oops; the insmod dies)
 *
 * Loaded only when the run asks for it (run.mjs --provoke).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>

static char *what = "warn";
module_param(what, charp, 0444);
MODULE_PARM_DESC(what, "failure to provoke: warn or oops");

/* Not static and written through a volatile: the compiler cannot prove it NULL. */
int *qk_provoke_null;
EXPORT_SYMBOL_GPL(qk_provoke_null);

static int __init qk_provoke_init(void)
{
	if (!strcmp(what, "warn")) {
		WARN(1, "qk_provoke: deliberate warning\n");
		return 0;
	}
	if (!strcmp(what, "oops")) {
		pr_info("dereferencing NULL on purpose\n");
		return *(volatile int *)READ_ONCE(qk_provoke_null);
	}
	pr_err("unknown what=%s\n", what);
	return -EINVAL;
}

static void __exit qk_provoke_exit(void)
{
}

module_init(qk_provoke_init);
module_exit(qk_provoke_exit);
MODULE_DESCRIPTION("qmempool-kit: provoke kernel failure reports for testing");
MODULE_LICENSE("GPL");
