/* lea_query_cli - the analyst's commands of li707-lea (lea_cli.h) without the daemon, so
 * that tests/integration/test_lea_query.sh can run them before (or without) the whole
 * li707-lea executable: `lea_query_cli list|show|export|status ARGS...` is exactly
 * `li707-lea list|show|export|status ARGS...`. */
#include <stdio.h>
#include <string.h>

#include "lea_cli.h"
#include "li707/li707.h"

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {{"list", lea_cmd_list}, {"show", lea_cmd_show}, {"export", lea_cmd_export},
		    {"status", lea_cmd_status}};
	for (size_t i = 0; argc > 1 && i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(argv[1], cmds[i].name) == 0) {
			int rc = cmds[i].fn(argc - 1, argv + 1);
			li707_global_cleanup();
			return rc;
		}
	fprintf(stderr, "usage: lea_query_cli list|show|export|status ARGS...\n");
	return 2;
}
