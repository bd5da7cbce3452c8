/* libFuzzer target: the li707-lea configuration parser (src/lea/lea_config.c).
 *
 * The input is a whole configuration file (arbitrary bytes: NUL, CR, invalid UTF-8, long
 * lines, missing ']' ...), parsed with check_files = false, so nothing it names is opened.
 * Every call must return 0 or one of the documented codes; an error must name the file and a
 * line ("fuzz.conf:N: ...") and must never repeat a reference value; a configuration that
 * parses must keep the documented invariants (sorted unique references, binary_path between
 * slashes, the TLS allow-list parallel to the peers). Leaks are caught by the leak checker. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lea_config.h"
#include "li707/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_config(const struct lea_config *c)
{
	if (c->n_listen + c->n_listen_psk == 0 || c->n_peers == 0 || c->tls_peers.n != c->n_peers)
		abort();
	size_t bl = strlen(c->binary_path);
	if (bl < 2 || c->binary_path[0] != '/' || c->binary_path[bl - 1] != '/' || c->delivery_path[0] != '/')
		abort();
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct lea_peer *p = &c->peers[i];
		if (strcmp(p->name, c->tls_peers.v[i].name) != 0 || lea_config_peer(c, p->name) != p)
			abort();
		if (p->any_reference != (p->references == NULL) || (p->any_reference && p->n_references))
			abort();
		for (size_t k = 0; k < p->n_references; k++) {
			if (k && strcmp(p->references[k - 1], p->references[k]) >= 0)
				abort();
			if (!lea_peer_allows(p, p->references[k]))
				abort();
		}
		if (c->tls_peers.v[i].psk || p->max_message_bytes == 0 || p->max_upload_bytes == 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lea_config *c = NULL;
	char err[512];
	err[0] = '\0';
	int rc = lea_config_parse("fuzz.conf", (const char *)data, size, false, &c, err, sizeof err);
	if (rc == LI707_ENOMEM)
		return 0;
	if (rc == LI707_EINPUT) {
		if (c || strncmp(err, "fuzz.conf:", 10) != 0 || err[10] < '1' || err[10] > '9')
			abort();
		return 0;
	}
	if (rc != 0 || !c)
		abort();
	check_config(c);
	struct lx_tls_peers *t = lea_config_take_tls_peers(c);
	if (t) {
		if (c->tls_peers.n || c->tls_peers.v)
			abort();
		lx_tls_peers_clear(t);
		free(t);
	}
	lea_config_free(c);
	return 0;
}
