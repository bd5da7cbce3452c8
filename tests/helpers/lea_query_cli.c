/* lea_query_cli - the analyst's commands of li707-lea (lea_cli.h) without the daemon, so
 * that tests/integration/test_lea_query.sh can run them before (or without) the whole
 * li707-lea executable: `lea_query_cli list|show|export|status ARGS...` is exactly
 * `li707-lea list|show|export|status ARGS...`. */
#include <stdio.h>

#include "lea_cli.h"
#include "li707/li707.h"

int main(int argc, char **argv)
{
	int rc = lea_cli_command(argc - 1, argv + 1);
	if (rc >= 0) {
		li707_global_cleanup();
		return rc;
	}
	fprintf(stderr, "usage: lea_query_cli list|show|export|status ARGS...\n");
	return 2;
}
