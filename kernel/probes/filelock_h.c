// SPDX-License-Identifier: GPL-2.0
/* 6.3 moved the file-lock API, vfs_setlease() with it, to filelock.h. */
#include <linux/filelock.h>

int ll_probe(struct file *file, void **priv);
int ll_probe(struct file *file, void **priv)
{
	return vfs_setlease(file, F_UNLCK, NULL, priv);
}
