// SPDX-License-Identifier: GPL-2.0
/*
 * Proves that the test bed catches failure: run with LL_TESTBED_FAIL=1 it
 * fails one test, and scripts/check.sh expects that run to fail.  Without
 * the variable it checks the guest's environment.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/utsname.h>

#include "layoutlease_utils.h"

TEST(environment)
{
	struct utsname u;

	ASSERT_EQ(0, uname(&u));
	ASSERT_NE(NULL, getenv("LL_KERNEL"));
	ASSERT_EQ(0, access(ll_mount("xfs"), W_OK));
	ASSERT_EQ(0, access(ll_mount("ext4"), W_OK));
	ASSERT_EQ(0, access("/sys/module/layoutlease", F_OK));
}

TEST(deliberate_failure)
{
	if (!getenv("LL_TESTBED_FAIL"))
		SKIP(return, "LL_TESTBED_FAIL is not set");
	ASSERT_EQ(0, 1) {
		TH_LOG("this failure is deliberate: the test bed must report it");
	}
}

TEST_HARNESS_MAIN
