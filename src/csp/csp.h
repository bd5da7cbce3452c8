/* li707-csp - the CSP's delivery agent: configuration and what its modules share.
 *
 * docs/internals/csp.md maps the modules (following docs/internals/csp-contract: csp-core owns
 * this header, csp_config.c, the store, references, ingest, the daemon and the CLI; the
 * packager, delivery engine, file server, audit log and Model B push take plain structs and
 * callbacks of their own headers). docs/examples/li707-csp.conf documents every key.
 *
 *   [csp]       one, mandatory: the CSP itself (SenderIdentifier, spool, listeners)
 *   [lea NAME]  one per destination, at least one; NAME: 1-64 of [A-Za-z0-9._:-]
 *
 * Errors name the file and line and never quote a value (R-SEC-6). */
#ifndef LI707_CSP_H
#define LI707_CSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http_server.h"
#include "log.h"
#include "tls.h"

#define CSP_CONFIG_DEFAULT "/etc/li707/li707-csp.conf"
#define CSP_CONFIG_MAX_LEAS 1024
#define CSP_CONFIG_MAX_INGEST 16     /* ingest_listen entries */
#define CSP_CONFIG_MAX_DIRS 64       /* attachment_dirs entries */
#define CSP_CONVERSATION_MAX 256     /* bytes of an event's "conversation" key */
#define CSP_LEA_NAME_MAX 64

#define CSP_MODEL_A 0x1u
#define CSP_MODEL_B 0x2u
#define CSP_MODEL_C 0x4u

/* One [lea NAME] section. The LEA's identity when it fetches Model A/C objects (subject,
 * san, spki_sha256, psk_identity + psk_file) is in csp_config.tls_peers.v[i] (same index);
 * the PSK there is also the one this agent presents when it delivers over PSK. */
struct csp_lea {
	char *name;
	char *url;               /* HI-1 delivery URL (https, R-TRN-2) */
	char *ca;                /* CA of the LEA's server certificate (PEM file) */
	char *client_cert;       /* our client certificate and key for mutual TLS, or NULL */
	char *client_key;
	char *receiver_country;  /* ReceiverIdentifier (R-DEL-3) */
	char *receiver_id;
	char *etsi_version;      /* [V1.9.1] */
	unsigned models;         /* CSP_MODEL_* agreed (R-BIN-1) */
	char *modelb_url;        /* Model B scheme: contains "{id}" or ends in '/' (R-BIN-B1) */
	uint64_t batch_items;    /* handoverItems per DeliveryObject at most [1000] */
	uint64_t batch_bytes;    /* bytes of events per DeliveryObject at most [8M] */
	uint64_t batch_wait_ms;  /* longest wait for more items [0: send what is queued now] */
	uint64_t inflight;       /* DeliveryObjects in flight [4] */
	uint64_t connections;    /* kept-alive connections [2] */
	uint64_t retry_min_s;    /* backoff [1] */
	uint64_t retry_max_s;    /* backoff cap [300] */
	uint64_t expect_timeout_s; /* Model B wait for 100-continue, cap [30] */
	uint64_t model_a_max;    /* attachment without a model: A up to this size [16M] */
	uint64_t model_c_above;  /* ... C from this size (when C is agreed) [16M]; B otherwise */
	uint64_t push_rate;      /* Model B: bytes/s per push at most [0: no cap] */
	unsigned push_nice;      /* Model B: nice of the LEA's push thread, 0..19 [0] */
};

struct csp_config {
	char *path;
	char *country_code;      /* SenderIdentifier (TS 103 707 Table 1) */
	char *unique_identifier;
	char *spool;             /* csp.db, objects/, audit.log [/var/lib/li707-csp] */
	char **ingest_listen;    /* "unix:/path" or loopback "ADDR:PORT" */
	size_t n_ingest_listen;
	char **attachment_dirs;  /* absolute, as written (the daemon resolves them) */
	size_t n_attachment_dirs;
	uint64_t max_event_bytes;      /* one JSON line [1M] */
	uint64_t max_attachment_bytes; /* one attachment [4G] */
	uint64_t max_request_bytes;    /* one ingest request body [64M] */
	char **files_listen;     /* Model A/C HTTPS server (mutual TLS) */
	size_t n_files_listen;
	char **files_listen_psk;
	size_t n_files_listen_psk;
	char *files_url;         /* https base of object URLs ("https://csp.example/o/") */
	struct lx_http_creds creds; /* cert, key, ca (cacert: CA of LEA client certificates) */
	struct lx_tls_policy policy;
	uint64_t object_lifetime_s;  /* expiry of a binaryObject [7 days] */
	uint64_t retention_s;        /* content kept after expiry [1 day] */
	char *metrics_listen;
	enum lx_log_level log_level;
	bool sync_full;
	struct csp_lea *leas;    /* file order */
	size_t n_leas;
	struct lx_tls_peers tls_peers; /* the LEAs' identities (names: the LEA names) */
};

/* Reads and checks a configuration file: 0, or LI707_EINPUT with "FILE:LINE: message",
 * -errno "FILE: cannot read: ...", LI707_ENOMEM; *out untouched on error. */
int csp_config_load(const char *path, struct csp_config **out, char *err, size_t errlen);
/* The same from a buffer; with check_files false no file named in it is opened. */
int csp_config_parse(const char *name, const char *buf, size_t len, bool check_files,
		     struct csp_config **out, char *err, size_t errlen);
void csp_config_free(struct csp_config *c);
/* The [lea NAME] section, or NULL. */
const struct csp_lea *csp_config_lea(const struct csp_config *c, const char *name);

/* The hosted model an attachment gets when the event names none: A up to model_a_max, C
 * above model_c_above when C is agreed, else B when agreed, else whatever is agreed; 0 when
 * the LEA agreed no model (the event is refused). */
char csp_lea_default_model(const struct csp_lea *l, uint64_t size);

#endif
