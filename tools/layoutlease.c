// SPDX-License-Identifier: GPL-2.0
/*
 * layoutlease: the command-line tool.
 *
 *   layoutlease info     what the running module supports
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/layoutlease.h"

static int usage(FILE *f)
{
	fprintf(f, "usage: layoutlease info\n"
		   "  info   show the interface the loaded module offers\n");
	return f == stderr ? 2 : 0;
}

static int cmd_info(void)
{
	struct layoutlease_get_info info;
	unsigned int bit;
	int fd, ret;

	fd = ll_open();
	if (fd < 0) {
		fprintf(stderr, "layoutlease: %s: %s%s\n", LAYOUTLEASE_DEVICE,
			strerror(-fd), fd == -ENOENT ? " (is the module loaded?)" : "");
		return 1;
	}
	ret = ll_get_info(fd, &info);
	if (ret) {
		fprintf(stderr, "layoutlease: GET_INFO: %s\n", strerror(-ret));
		return 1;
	}
	printf("device:      %s\n", LAYOUTLEASE_DEVICE);
	printf("api version: %u (this tool: %u)\n", info.out_api_version,
	       LAYOUTLEASE_API_VERSION);
	printf("commands:   ");
	for (bit = 0; bit < 64; bit++) {
		const char *name;

		if (!(info.out_commands & (1ULL << bit)))
			continue;
		name = ll_command_name(LAYOUTLEASE_CMD_BASE + bit);
		if (name)
			printf(" %s", name);
		else
			printf(" 0x%x", LAYOUTLEASE_CMD_BASE + bit);
	}
	printf("\nflags: GET_INFO 0x%llx LEASE_CREATE 0x%llx PIN 0x%llx UNPIN 0x%llx OWNER 0x%llx\n",
	       (unsigned long long)info.out_get_info_flags,
	       (unsigned long long)info.out_lease_create_flags,
	       (unsigned long long)info.out_pin_flags,
	       (unsigned long long)info.out_unpin_flags,
	       (unsigned long long)info.out_owner_flags);
	printf("break timeout: default %u ms, max %u ms\n",
	       info.out_default_break_timeout_ms, info.out_max_break_timeout_ms);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "info"))
		return cmd_info();
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return usage(stdout);
	return usage(stderr);
}
