/* li707-csp - entry point: the daemon, or one of the commands (csp_cli.h). */
#include <stdio.h>

#include "csp_cli.h"

int main(int argc, char **argv)
{
	if (argc > 1 && argv[1][0] != '-') {
		int rc = csp_cli_command(argc - 1, argv + 1);
		if (rc >= 0)
			return rc;
		fprintf(stderr, "li707-csp: unknown command '%s' (try 'li707-csp --help')\n", argv[1]);
		return 2;
	}
	return csp_cmd_daemon(argc, argv);
}
