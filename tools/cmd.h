/* SPDX-License-Identifier: GPL-2.0 */
/* The subcommands of the layoutlease command that live in their own files. */
#ifndef _LAYOUTLEASE_CMD_H
#define _LAYOUTLEASE_CMD_H

/* layoutlease list [-J|--json] [-r|--raw] (list.c); returns the exit code. */
int cmd_list(int argc, char **argv);

/* layoutlease watch [-J] [-c COUNT] [--fd N [--pid PID]] (watch.c). */
int cmd_watch(int argc, char **argv);

#endif
