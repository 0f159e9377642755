// SPDX-License-Identifier: GPL-2.0
/*
 * qk-thp: transparent huge pages for the compiler's heap (LD_PRELOAD).
 *
 * gcc's cc1 takes its garbage-collected heap straight from mmap(), in
 * blocks of 2 MiB and more, and a kernel object's compile touches a few
 * hundred MiB of it. With the host's THP mode at "madvise" (as on this
 * project's build machines; Debian's own kernels say "always", which needs
 * none of this) only memory a program advises with MADV_HUGEPAGE gets huge
 * pages, and gcc advises none: every compile then faults its heap in
 * 4 KiB at a time and walks the TLB for it, which costs most in a virtual
 * machine. Preloaded into make and what it runs, this advises each large
 * anonymous mapping as it is made. glibc's malloc, which does not go
 * through this symbol, is advised by the glibc.malloc.hugetlb=1 tunable
 * that the kit sets beside it.
 *
 * It changes where memory comes from, not what is computed: the objects
 * come out byte for byte the same (hugepages.ts says what was measured).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/types.h>

/* The smallest mapping that can hold a huge page (x86_64: 2 MiB). */
#define QK_THP_MIN_LEN (2UL << 20)

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

static mmap_fn real_mmap;

__attribute__((constructor))
static void qk_thp_init(void)
{
	real_mmap = (mmap_fn)dlsym(RTLD_NEXT, "mmap");
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p;

	/* A constructor of another preloaded library may map before ours ran. */
	if (!real_mmap)
		qk_thp_init();
	if (!real_mmap) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	p = real_mmap(addr, len, prot, flags, fd, off);
	/* Advice is a hint: a kernel without THP refuses it, and that is fine. */
	if (p != MAP_FAILED && (flags & MAP_ANONYMOUS) && len >= QK_THP_MIN_LEN)
		madvise(p, len, MADV_HUGEPAGE);
	return p;
}

/* The same call under its large-file name (one function on 64-bit glibc). */
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}
