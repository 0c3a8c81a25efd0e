/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liblayoutlease: a small C library over /dev/layoutlease.
 * Every function returns 0 or a negative errno; none sets errno.
 */
#ifndef _LIBLAYOUTLEASE_H
#define _LIBLAYOUTLEASE_H

#include <linux/layoutlease.h>

/* Open /dev/layoutlease (close-on-exec); returns the fd or -errno. */
int ll_open(void);

/* LAYOUTLEASE_IOC_GET_INFO into @info, which need not be initialised. */
int ll_get_info(int devfd, struct layoutlease_get_info *info);

/* The name of command @nr (LAYOUTLEASE_CMD_*), or NULL if unknown here. */
const char *ll_command_name(unsigned int nr);

#endif /* _LIBLAYOUTLEASE_H */
