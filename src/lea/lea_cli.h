/* li707-lea - the analyst's commands (lea_query.c) and the daemon entry (lea_daemon.c),
 * dispatched by lea_main.c:
 *
 *   li707-lea --config FILE [--check-config] [--log-level L]     the daemon
 *   li707-lea list   [--config FILE | --store DIR] [--ref R] [--since T] [--party ID]
 *                    [--peer P] [--limit N] [--json]
 *   li707-lea show   [--config FILE | --store DIR] ITEM [--json] [--xml] [--raw]
 *   li707-lea export [--config FILE | --store DIR] --ref R --out DIR
 *   li707-lea status [--config FILE | --store DIR] [--ref R] [--gaps] [--json]
 *   li707-lea fetch-status [--config FILE | --store DIR] [--json]
 *   li707-lea fetch-retry [--config FILE | --store DIR] ID
 *   li707-lea fetch-priority [--config FILE | --store DIR] REF N
 *
 * The store of the query commands: --store DIR, else the `store` of --config FILE, else the
 * one of /etc/li707/li707-lea.conf. They open it read-only (WAL: the daemon keeps running).
 * Each returns the process exit status (docs/exit-codes.md). argv[0] is the command name. */
#ifndef LI707_LEA_CLI_H
#define LI707_LEA_CLI_H

#define LEA_CONFIG_DEFAULT "/etc/li707/li707-lea.conf"

int lea_cmd_daemon(int argc, char **argv);   /* argv[0] = "li707-lea" */
int lea_cmd_list(int argc, char **argv);
int lea_cmd_show(int argc, char **argv);
int lea_cmd_export(int argc, char **argv);
int lea_cmd_status(int argc, char **argv);
int lea_cmd_fetch_status(int argc, char **argv);   /* lea_query_fetch.c */
int lea_cmd_fetch_retry(int argc, char **argv);
int lea_cmd_fetch_priority(int argc, char **argv);

/* Runs the analyst's command named by argv[0] (list, show, export or status) and returns
 * its exit status; -1 when argv[0] names none of them. */
int lea_cli_command(int argc, char **argv);

#endif
