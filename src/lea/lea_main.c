/* li707-lea - entry point: the daemon, or one of the analyst's commands (lea_cli.h). */
#include <stdio.h>
#include <string.h>

#include "lea_cli.h"

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {{"list", lea_cmd_list}, {"show", lea_cmd_show}, {"export", lea_cmd_export},
		    {"status", lea_cmd_status}};

	if (argc > 1 && argv[1][0] != '-') {
		for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
			if (strcmp(argv[1], cmds[i].name) == 0)
				return cmds[i].fn(argc - 1, argv + 1);
		fprintf(stderr, "li707-lea: unknown command '%s' (try 'li707-lea --help')\n", argv[1]);
		return 2;
	}
	return lea_cmd_daemon(argc, argv);
}
