// SPDX-License-Identifier: GPL-2.0
/* 6.5 renamed ftrace_instruction_pointer_set(). */
#include <linux/ftrace.h>

void ll_probe(struct ftrace_regs *fregs);
void ll_probe(struct ftrace_regs *fregs)
{
	ftrace_regs_set_instruction_pointer(fregs, 0);
}
