/*
 * test_rmtree.h - remove a test's temporary directory and everything under it (the unit
 * tests that open a real store in a mkdtemp() directory share this).
 */
#ifndef FW_TEST_RMTREE_H
#define FW_TEST_RMTREE_H

#include <ftw.h>
#include <stdio.h>

static int test_rmtree_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

/* Remove dir and its contents, depth first, not following symlinks. */
static inline void test_rmtree(const char *dir)
{
	nftw(dir, test_rmtree_cb, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
