// SPDX-License-Identifier: GPL-2.0
/* 6.12 allocates a file's fown_struct on demand; f_owner became a pointer. */
#include <linux/fs.h>

struct fown_struct *ll_probe(struct file *file);
struct fown_struct *ll_probe(struct file *file)
{
	return file_f_owner_allocate(file) ? NULL : file_f_owner(file);
}
