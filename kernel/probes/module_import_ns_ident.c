// SPDX-License-Identifier: GPL-2.0
/* Before 6.13, MODULE_IMPORT_NS() took an identifier, not a string. */
#include <linux/module.h>

MODULE_IMPORT_NS(DMA_BUF);
MODULE_LICENSE("GPL");
