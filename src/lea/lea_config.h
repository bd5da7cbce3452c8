/* li707-lea - configuration (INI), as documented line by line in docs/examples/li707-lea.conf.
 *
 * Format: UTF-8 text, "[section]" headers, "key = value" lines, comments start with '#' or
 * ';' at the start of a line (after blanks). Values run to the end of the line with blanks
 * trimmed; no quoting, no continuation lines, no includes. Every key is known: an unknown
 * section or key, a repeated non-list key, a bad value or a missing mandatory key is an error
 * naming the file and line ("li707-lea.conf:12: peer 'acme': unknown key 'referenecs'").
 * Errors never quote a value of `references` (they are target identifiers, R-SEC-6).
 *
 *   [server]  one, mandatory
 *     listen = ADDR:PORT          certificate (mutual TLS) listener; repeatable; at least one
 *                                 listen or listen_psk
 *     listen_psk = ADDR:PORT      PSK listener (R-SEC-4); repeatable
 *     cert, key, cacert           PEM files (mandatory when there is a `listen`)
 *     crl                         PEM CRL (optional)
 *     store = DIR                 the store directory [/var/lib/li707-lea]
 *     delivery_path = /PATH       the HI-1 endpoint (R-TRN-1) [/hi1]
 *     binary_path = /PATH/        Model B prefix; uploads go to PREFIX{uuid}/ (R-BIN-B1)
 *                                 [/binaryData/]
 *     schema_dir = DIR            li707's own schemas [the installed ones]
 *     official_schema_dir = DIR   official ETSI schema set (whole-message XSD check) [none]
 *     xsd_check = yes|no          XSD validation of every delivery besides the strict
 *                                 decoder [no]
 *     max_message_bytes = SIZE    default cap on an HI-1 POST body [64M]
 *     max_upload_bytes = SIZE     default cap on a Model B upload [4G]
 *     orphan_timeout = SECONDS    how long an upload waits for its binaryObject record
 *                                 before it expires (R-BIN-B4) [86400]
 *     orphan_max_bytes = SIZE     total bytes of uploads waiting for their record [1G]
 *     connections, per_peer, per_ip, idle_timeout, header_timeout, drain_timeout
 *                                 struct li707_http_limits (0 = its default)
 *     tls_min, tls13, tls12_suites, tls12_psk_suites, tls_groups
 *                                 the TLS policy vocabulary (tls.h)
 *     log_level = error|warn|info|debug [info]
 *     sync = full|normal          `full` (default): fsync before every acknowledgement.
 *                                 `normal` exists for benchmarks of the non-durable path
 *                                 only and is logged as a warning at start.
 *
 *   [peer NAME]  one per CSP, at least one. NAME: 1-64 of [A-Za-z0-9._:-], unique.
 *     subject = DN                match the certificate's RFC 4514 subject
 *     san = NAME                  match a SAN DNS name or URI
 *     spki_sha256 = HEX           match the SHA-256 of the SubjectPublicKeyInfo (64 hex)
 *     psk_identity = ID           PSK identity (needs psk_file)
 *     psk_file = FILE             the key (li707_tls_psk_load rules: 0600, hex or raw)
 *                                 At least one certificate criterion or a PSK identity.
 *     references = any | R1, R2   LIIDs/LDIDs this CSP may deliver for (R-RSP-1); "any"
 *                                 alone means every reference. Mandatory. Repeatable (lists
 *                                 add up); entries are trimmed, empty entries refused.
 *     models = B, A, C            delivery models agreed (R-BIN-1) [none]: without B, its
 *                                 Model B uploads are refused
 *     max_message_bytes, max_upload_bytes   per-peer caps [the [server] ones]
 *
 * SIZE: a decimal number with an optional K, M, G or T suffix (powers of 1024).
 * Booleans: yes/no, true/false, on/off, 1/0. */
#ifndef LI707_LEA_CONFIG_H
#define LI707_LEA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_server.h"
#include "tls.h"

enum lea_log_level { LEA_LOG_ERROR = 0, LEA_LOG_WARN = 1, LEA_LOG_INFO = 2, LEA_LOG_DEBUG = 3 };

#define LEA_MODEL_A 0x1u
#define LEA_MODEL_B 0x2u
#define LEA_MODEL_C 0x4u

/* One [peer NAME] section. */
struct lea_peer {
	char *name;
	bool any_reference;       /* references = any */
	char **references;        /* sorted (strcmp), unique; NULL when any_reference */
	size_t n_references;
	unsigned models;          /* LEA_MODEL_* bits */
	uint64_t max_message_bytes;
	uint64_t max_upload_bytes;
};

struct lea_config {
	char *path;               /* the file it was read from */
	char **listen;            /* certificate listeners, in file order */
	size_t n_listen;
	char **listen_psk;
	size_t n_listen_psk;
	struct li707_http_creds creds; /* owned strings (const-cast on free) */
	char *store_dir;
	char *delivery_path;
	char *binary_path;        /* always begins and ends with '/' */
	char *schema_dir;         /* NULL = installed default */
	char *official_schema_dir;
	bool xsd_check;
	uint64_t max_message_bytes;
	uint64_t max_upload_bytes;
	uint64_t orphan_timeout_s;
	uint64_t orphan_max_bytes;
	struct li707_http_limits limits;
	struct li707_tls_policy policy;
	enum lea_log_level log_level;
	bool sync_full;
	struct lea_peer *peers;   /* file order */
	size_t n_peers;
	/* The TLS allow-list built from the peer sections (names shared with peers[i].name
	 * by value: separate copies), PSK keys loaded from their files. Handed to the HTTP
	 * server; lea_config_take_tls_peers() moves it out. */
	struct li707_tls_peers tls_peers;
};

/* Reads and checks a configuration file. On error returns LI707_EINPUT (or -errno when the
 * file cannot be read) with "FILE:LINE: message" in err, and *out untouched. PSK files are
 * read (and must be valid); certificate files are only checked to be readable (the server
 * loads them). */
int lea_config_load(const char *path, struct lea_config **out, char *err, size_t errlen);

/* Same from a buffer; name is used in messages. PSK/certificate files are resolved as given
 * (relative paths relative to the current directory). Used by tests and the fuzzer. When
 * check_files is false, no file named by the configuration is opened (PSK keys stay empty). */
int lea_config_parse(const char *name, const char *buf, size_t len, bool check_files,
		     struct lea_config **out, char *err, size_t errlen);

void lea_config_free(struct lea_config *c);

/* The peer section named name, or NULL. */
const struct lea_peer *lea_config_peer(const struct lea_config *c, const char *name);

/* True when peer p may deliver for reference ref (R-RSP-1). */
bool lea_peer_allows(const struct lea_peer *p, const char *ref);

/* Moves the TLS allow-list out of c (for li707_http_server_set_peers / the config of a new
 * server): returns a malloc'd struct owning the table; c->tls_peers is left empty. NULL on
 * allocation failure. */
struct li707_tls_peers *lea_config_take_tls_peers(struct lea_config *c);

/* Parses SIZE ("64M") and booleans as described above; false when invalid. */
bool lea_parse_size(const char *s, uint64_t *out);
bool lea_parse_bool(const char *s, bool *out);

#endif
