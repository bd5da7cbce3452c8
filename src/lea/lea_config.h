/* li707-lea - configuration (INI), as documented line by line in docs/examples/li707-lea.conf.
 * The file format, sections, line checks and common value types are the engine's
 * (src/common/config.h, lx_config_); lea_config.c holds the LEA's key tables and rules.
 *
 * Format: UTF-8 text (an initial BOM is skipped), LF or CR LF line ends, lines of at most
 * LEA_CONFIG_LINE_MAX bytes, no NUL or other control character but TAB. "[section]" headers,
 * "key = value" lines, comments start with '#' or ';' at the start of a line (after blanks).
 * Values run to the end of the line with blanks trimmed; no quoting, no continuation lines,
 * no includes, no comment after a value (a '#' there is part of the value). Sections may come
 * in any order. Every key is known: an unknown section or key, a repeated non-list key, an
 * empty or bad value or a missing mandatory key is an error naming the file and line
 * ("li707-lea.conf:12: peer 'acme': unknown key 'referenecs'"). Something missing is reported
 * at the header of the section that lacks it ([server], [peer NAME]); a missing section, at
 * the last line. Errors never quote a value (of `references` above all: they are target
 * identifiers, R-SEC-6); they quote key names, and peer names that are well-formed.
 *
 *   [server]  one, mandatory
 *     listen = ADDR:PORT          certificate (mutual TLS) listener; repeatable; at least one
 *                                 listen or listen_psk, at most LEA_CONFIG_MAX_LISTEN in all.
 *                                 ADDR is a numeric IPv4 address, [IPv6] in brackets, or
 *                                 empty (":8443", every address); PORT 0..65535 (0: any free
 *                                 port, for tests). The same address twice is an error.
 *     listen_psk = ADDR:PORT      PSK listener (R-SEC-4); repeatable; needs a peer with a
 *                                 psk_identity
 *     cert, key, cacert           PEM files (mandatory when there is a `listen`)
 *     crl                         PEM CRL (optional)
 *     store = DIR                 the store directory [/var/lib/li707-lea]
 *     delivery_path = /PATH       the HI-1 endpoint (R-TRN-1) [/hi1]
 *     binary_path = /PATH/        Model B prefix; uploads go to PREFIX{uuid}/ (R-BIN-B1)
 *                                 [/binaryData/]. Neither lies below the other. URL paths:
 *                                 RFC 3986 path characters, no '%', empty or dot segments,
 *                                 at most 256 bytes.
 *     schema_dir = DIR            li707's own schemas [the installed ones]
 *     official_schema_dir = DIR   official ETSI schema set (whole-message XSD check) [none]
 *     xsd_check = yes|no          XSD validation of every delivery besides the strict
 *                                 decoder [no]
 *     max_message_bytes = SIZE    default cap on an HI-1 POST body [64M] (1K..1G)
 *     max_upload_bytes = SIZE     default cap on a Model B upload [4G] (1K..16T)
 *     orphan_timeout = SECONDS    how long an upload waits for its binaryObject record
 *                                 before it expires (R-BIN-B4) [86400] (1..31536000)
 *     orphan_max_bytes = SIZE     total bytes of uploads waiting for their record [1G]
 *                                 (1..16T)
 *     body_memory = SIZE          HI-1 bodies held in memory at once, all requests
 *                                 together; beyond: 503 + Retry-After [256M] (1M..1T)
 *     connections, per_peer, per_ip, idle_timeout, header_timeout, drain_timeout,
 *     body_min_rate, body_rate_window
 *                                 struct lx_http_limits (0 = its default); counts
 *                                 0..100000, idle/drain_timeout 0..86400 s,
 *                                 header_timeout 0..3600 s, body_min_rate 0..1G bytes/s,
 *                                 body_rate_window 0..3600 s
 *     tls_min, tls13, tls12_suites, tls12_psk_suites, tls_groups
 *                                 the TLS policy vocabulary (tls.h)
 *     log_level = error|warn|info|debug [info]
 *     client_cert, client_key     the LEA's client certificate and key for Model A/C
 *                                 retrievals (R-BIN-A1) [none]
 *     fetch_workers = N           retrieval threads, all peers [4] (0..64; 0: no retrieval)
 *     sync = full|normal          `full` (default): fsync before every acknowledgement.
 *                                 `normal` exists for benchmarks of the non-durable path
 *                                 only and is logged as a warning at start.
 *
 *   [peer NAME]  one per CSP, at least one, at most LEA_CONFIG_MAX_PEERS.
 *                NAME: 1-64 of [A-Za-z0-9._:-], unique.
 *     subject = DN                match the certificate's RFC 4514 subject (exact string)
 *     san = NAME                  match a SAN DNS name or URI
 *     spki_sha256 = HEX           match the SHA-256 of the SubjectPublicKeyInfo (64 hex)
 *     psk_identity = ID           PSK identity (needs psk_file and a listen_psk); 1-128
 *                                 printable ASCII characters
 *     psk_file = FILE             the key (lx_tls_psk_load rules: 0600, hex or raw);
 *                                 needs psk_identity
 *                                 At least one certificate criterion or a PSK identity.
 *                                 Certificate criteria need a `listen`. Two peers may not
 *                                 have the same psk_identity, nor exactly the same
 *                                 certificate criteria (subject, san, spki_sha256).
 *     references = any | R1, R2   LIIDs/LDIDs this CSP may deliver for (R-RSP-1); "any"
 *                                 (any case) alone means every reference. Mandatory.
 *                                 Repeatable (lists add up, duplicates are merged); entries
 *                                 are trimmed, empty entries refused, each must be a TS 103
 *                                 280 LIID or LDID (li707_check_liid / li707_check_ldid), so
 *                                 a reference containing ',' cannot be listed. At most
 *                                 LEA_CONFIG_MAX_REFERENCES per peer.
 *     models = B, A, C            delivery models agreed (R-BIN-1) [none]: without B, its
 *                                 Model B uploads are refused; without A and C, DELIVERs
 *                                 announcing CSP-hosted objects (lea_ingest.c)
 *     max_message_bytes, max_upload_bytes   per-peer caps [the [server] ones]
 *     fetch_ca = FILE             CA signing the CSP's server certificate (Model A/C
 *                                 retrievals) [the system store]
 *     model_c_above = SIZE        A and C agreed: objects larger than this are fetched with
 *                                 Model C, the others with Model A [16M] (0..16T)
 *     fetch_connections = N       connections to this CSP at once [4] (1..64)
 *     fetch_parallel = N          ranges of one object in flight [2] (1..16)
 *     fetch_range = SIZE          starting Model C range size [8M] (64K..1G)
 *     fetch_range_max = SIZE      largest range size [64M] (64K..1G, >= fetch_range)
 *     fetch_retries = N           failed rounds in a row before an attempt gives up [8]
 *                                 (1..1000)
 *     fetch_backoff = SECONDS     pause after a failed attempt, doubled each time [10]
 *     fetch_backoff_max = SECONDS longest pause [600]
 *
 * SIZE: a decimal number with an optional K, M, G or T suffix (powers of 1024; lower case
 * accepted), no blanks or sign. Plain numbers (SECONDS, counts): decimal digits only.
 * Booleans: yes/no, true/false, on/off, 1/0 (any case). */
#ifndef LI707_LEA_CONFIG_H
#define LI707_LEA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http_server.h"
#include "log.h"
#include "tls.h"

/* The log levels are the shared ones (log.h). */
#define lea_log_level lx_log_level
#define LEA_LOG_ERROR LX_LOG_ERROR
#define LEA_LOG_WARN LX_LOG_WARN
#define LEA_LOG_INFO LX_LOG_INFO
#define LEA_LOG_DEBUG LX_LOG_DEBUG

/* Caps on the file (every user-controlled resource has one): the engine's (config.h). */
#define LEA_CONFIG_FILE_MAX LX_CONFIG_FILE_MAX /* bytes */
#define LEA_CONFIG_LINE_MAX LX_CONFIG_LINE_MAX /* bytes per line */
#define LEA_CONFIG_MAX_LISTEN 16               /* listen + listen_psk (the server's cap) */
#define LEA_CONFIG_MAX_PEERS 4096
#define LEA_CONFIG_MAX_REFERENCES 100000       /* per peer */

#define LEA_MODEL_A 0x1u
#define LEA_MODEL_B 0x2u
#define LEA_MODEL_C 0x4u
#define LEA_MODEL_C_ABOVE_DEFAULT ((uint64_t)16 << 20) /* model_c_above default */

/* One [peer NAME] section. */
struct lea_peer {
	char *name;
	bool any_reference;       /* references = any */
	char **references;        /* sorted (strcmp), unique; NULL when any_reference */
	size_t n_references;
	unsigned models;          /* LEA_MODEL_* bits */
	uint64_t max_message_bytes;
	uint64_t max_upload_bytes;
	/* Model A/C retrieval (lea_fetch.c, TS 103 707 Annex C.2, C.4, Annex E) */
	char *fetch_ca;           /* CA of the CSP's server certificate; NULL: system store */
	uint64_t model_c_above;   /* both A and C agreed: larger objects go to Model C [16M] */
	unsigned fetch_connections; /* connections to this CSP at once, all objects [4] */
	unsigned fetch_parallel;  /* ranges of one Model C object in flight [2] */
	uint64_t fetch_range;     /* starting Model C range size [8M] */
	uint64_t fetch_range_max; /* ranges grow up to this [64M] */
	unsigned fetch_retries;   /* consecutive failed rounds within one attempt [8] */
	uint64_t fetch_backoff_s; /* first pause after a failed attempt, doubled each time [10] */
	uint64_t fetch_backoff_max_s; /* longest pause [600] */
	/* a PSK peer retrieves with its own identity and key: copies of the allow-list's
	 * (which the server takes), the key wiped on free */
	char *psk_identity;
	uint8_t *psk;
	size_t psk_len;
};

struct lea_config {
	char *path;               /* the file it was read from */
	char **listen;            /* certificate listeners, in file order */
	size_t n_listen;
	char **listen_psk;
	size_t n_listen_psk;
	struct lx_http_creds creds; /* owned strings (const-cast on free) */
	char *store_dir;
	char *metrics_listen;         /* ADDR:PORT of /metrics and /healthz (plain HTTP), or NULL */
	char *delivery_path;
	char *binary_path;        /* always begins and ends with '/' */
	char *schema_dir;         /* NULL = installed default */
	char *official_schema_dir;
	bool xsd_check;
	uint64_t max_message_bytes;
	uint64_t max_upload_bytes;
	uint64_t orphan_timeout_s;
	uint64_t orphan_max_bytes;
	uint64_t body_memory_bytes; /* HI-1 bodies buffered at once, all peers */
	struct lx_http_limits limits;
	struct lx_tls_policy policy;
	enum lea_log_level log_level;
	bool sync_full;
	char *client_cert;        /* the LEA's client identity for Model A/C retrievals */
	char *client_key;
	unsigned fetch_workers;   /* retrieval threads; 0: no retrieval [4] */
	struct lea_peer *peers;   /* file order */
	size_t n_peers;
	/* The TLS allow-list built from the peer sections (names shared with peers[i].name
	 * by value: separate copies), PSK keys loaded from their files. Handed to the HTTP
	 * server; lea_config_take_tls_peers() moves it out. */
	struct lx_tls_peers tls_peers;
};

/* Reads and checks a configuration file. On error returns LI707_EINPUT with "FILE:LINE:
 * message" in err (also when a file it names is missing or bad), -errno with "FILE: cannot
 * read: reason" when the file itself cannot be read, LI707_ENOMEM; *out stays untouched.
 * PSK files are read (and must be valid); certificate files are only checked to be readable
 * regular files and schema_dir / official_schema_dir readable directories (the server and
 * the decoder load them). The store directory is not checked (the daemon creates it). */
int lea_config_load(const char *path, struct lea_config **out, char *err, size_t errlen);

/* Same from a buffer (len bytes, any content: NUL bytes are an error, not an end); name is
 * used in messages and copied into path. PSK/certificate files are resolved as given
 * (relative paths relative to the current directory). Used by tests and the fuzzer. When
 * check_files is false, no file named by the configuration is opened (PSK keys stay empty:
 * psk NULL, psk_len 0). */
int lea_config_parse(const char *name, const char *buf, size_t len, bool check_files,
		     struct lea_config **out, char *err, size_t errlen);

void lea_config_free(struct lea_config *c);

/* The peer section named name, or NULL. */
const struct lea_peer *lea_config_peer(const struct lea_config *c, const char *name);

/* True when peer p may deliver for reference ref (R-RSP-1). */
/* Exact match (a listed "LI-1" does not allow "LI-12"); false for NULL. */
bool lea_peer_allows(const struct lea_peer *p, const char *ref);

/* Moves the TLS allow-list out of c (for lx_http_server_set_peers / the config of a new
 * server): returns a malloc'd struct owning the table; c->tls_peers is left empty. NULL on
 * allocation failure. */
struct lx_tls_peers *lea_config_take_tls_peers(struct lea_config *c);

/* Parses booleans as described above; false when invalid. SIZE values: lx_parse_size
 * (size.h). */
bool lea_parse_bool(const char *s, bool *out);

#endif
