/* li707-lea - entry point: the daemon, or one of the analyst's commands (lea_cli.h). */
#include <stdio.h>

#include "lea_cli.h"

int main(int argc, char **argv)
{
	if (argc > 1 && argv[1][0] != '-') {
		int rc = lea_cli_command(argc - 1, argv + 1);
		if (rc >= 0)
			return rc;
		fprintf(stderr, "li707-lea: unknown command '%s' (try 'li707-lea --help')\n", argv[1]);
		return 2;
	}
	return lea_cmd_daemon(argc, argv);
}
