/* li707 validate - strict decoding (docs/checks.md) and, when schemas are given, XSD
 * validation of message files. One verdict line per file:
 *
 *   FILE: OK
 *   FILE: OK (V1.1.1 form)
 *   FILE: NOT-707 (HI-1 DELIVER carrying {namespace}root)      or "... carrying binary data"
 *   FILE: INVALID
 *     FILE:LINE: error [R-ID] PATH: message
 *
 * Warnings and notes are listed under any verdict. The exit status is 0 when every file is
 * OK, else the highest status of the files (1 invalid, 3 unreadable, ...). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_dir.h"
#include "tool.h"

static const char help_text[] =
	"Usage: li707 validate [--schemas DIR] [--project-schemas DIR] FILE...\n"
	"\n"
	"Check each FILE (an HI1Message; '-' for standard input) with li707's strict decoder\n"
	"and, when a schema directory is given, against the XSDs. Prints one line per file:\n"
	"OK, OK (V1.1.1 form), NOT-707 (a valid HI-1 delivery of something else) or INVALID\n"
	"followed by the diagnostics, each with its input line and requirement ID.\n"
	"\n"
	"Options:\n"
	"  --schemas DIR           official ETSI schemas laid out as DIR/103120/schema/*.xsd,\n"
	"                          DIR/103280/*.xsd, DIR/w3c/xmldsig-core-schema.xsd: validate\n"
	"                          whole messages against TS 103 120 and TS 103 707\n"
	"  --project-schemas DIR   li707's own schemas (default: $LI707_SCHEMA_DIR, else\n"
	"                          share/li707/schemas next to or above this program's\n"
	"                          directory, else the installed ones); alone, validates\n"
	"                          each delivery's payload\n"
	"  -h, --help              print this help and exit\n"
	"\n"
	"Exit status: 0 all files OK, 1 some file invalid or not TS 103 707, 2 usage,\n"
	"3 I/O error, 5 schemas could not be loaded.\n";

/* "{ns}root" or "binary data" of the first DELIVER that is not a 707 delivery. */
static const char *not707_what(const struct li707_message *m)
{
	for (size_t i = 0; m && i < m->n_actions; i++) {
		const struct li707_delivery *d = m->actions[i].delivery;
		if (!d)
			continue;
		if (d->payload == LI707_PAYLOAD_BINARY)
			return "binary data";
		if (d->payload == LI707_PAYLOAD_FOREIGN_XML && d->foreign_root)
			return d->foreign_root;
	}
	return "another payload";
}

static bool is_v111_note(const struct li707_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].severity == LI707_SEV_NOTE && d->v[i].message &&
		    strstr(d->v[i].message, "V1.1.1"))
			return true;
	return false;
}

/* Validates one file; returns its exit status. */
static int validate_one(const char *file, const struct li707_schema_set *set,
			const struct li707_limits *lim)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = tool_read_file(file, lim->max_document_bytes, &buf, &len);
	if (rc == LI707_ELIMIT) {
		printf("%s: INVALID\n  %s: error: larger than %zu bytes\n", file, file,
		       lim->max_document_bytes);
		return li707_exit_code(rc);
	}
	if (rc) {
		printf("%s: ERROR (cannot read: %s)\n", file, li707_strerror(rc));
		return li707_exit_code(rc);
	}
	struct li707_diags d = {0};
	struct li707_message *m = NULL;
	rc = li707_message_decode(buf, len, lim, &m, &d);
	if (set && rc != LI707_EXML && rc != LI707_ELIMIT) {
		int src = li707_schema_validate(set, buf, len, lim, &d);
		if (rc == 0)
			rc = src;
	}
	int status;
	if (rc == 0) {
		printf("%s: OK%s\n", file, is_v111_note(&d) ? " (V1.1.1 form)" : "");
		status = 0;
	} else if (rc == LI707_ENOT707) {
		printf("%s: NOT-707 (HI-1 DELIVER carrying %s)\n", file, not707_what(m));
		status = li707_exit_code(rc);
	} else {
		printf("%s: INVALID\n", file);
		status = li707_exit_code(rc);
	}
	for (size_t i = 0; i < d.n; i++)
		if (rc != LI707_ENOT707 || d.v[i].severity != LI707_SEV_ERROR ||
		    d.v[i].code != LI707_ENOT707)
			tool_print_diag(stdout, file, &d.v[i]);
	if (d.dropped)
		printf("  %s: %zu more diagnostics not shown\n", file, d.dropped);
	li707_message_free(m);
	li707_diags_clear(&d);
	free(buf);
	return status;
}

int tool_cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{"schemas", required_argument, NULL, 's'},
		{"project-schemas", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *official = NULL, *project = NULL;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': official = optarg; break;
		case 'p': project = optarg; break;
		case 'h': fputs(help_text, stdout); return 0;
		default: return tool_bad_option("validate", argc, argv);
		}
	}
	if (optind >= argc)
		return tool_usage_error("validate", "at least one FILE is required");

	struct li707_limits lim = {0};
	li707_limits_resolve(&lim);
	struct li707_schema_set *set = NULL;
	if (official || project) {
		char found[4096];
		bool defaulted = !project;
		if (!project) {
			/* Not installed (build tree, other prefix): the copy next to the program. */
			int frc = lx_schema_dir_find(NULL, LI707_SCHEMA_DIR_DEFAULT, found,
							sizeof found);
			if (frc == 0 || (frc == -ENOENT && found[0]))
				project = found;
		}
		struct li707_diags d = {0};
		int rc = li707_schema_set_load(project, official, &set, &d);
		if (rc) {
			fprintf(stderr, "li707 validate: cannot load the schemas: %s\n",
				li707_strerror(rc));
			for (size_t i = 0; i < d.n; i++)
				tool_print_diag(stderr, "schemas", &d.v[i]);
			if (defaulted)
				fprintf(stderr, "li707 validate: li707's own schemas were looked for in "
					"$LI707_SCHEMA_DIR, share/li707/schemas next to or above the "
					"program, and %s; give --project-schemas DIR\n",
					LI707_SCHEMA_DIR_DEFAULT);
			li707_diags_clear(&d);
			return li707_exit_code(rc);
		}
		li707_diags_clear(&d);
	}
	int worst = 0;
	for (int i = optind; i < argc; i++) {
		int st = validate_one(argv[i], set, &lim);
		if (st > worst)
			worst = st;
	}
	li707_schema_set_free(set);
	return worst;
}
