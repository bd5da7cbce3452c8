/* li707 common - internals shared by http_server.c and http_server_file.c (not an API). */
#ifndef LI707_COMMON_HTTP_SERVER_INT_H
#define LI707_COMMON_HTTP_SERVER_INT_H

#include <microhttpd.h>

#include "http_server.h"

#define LI707__HTTP_MAX_RESP_HEADERS 16

struct dctx;
struct pgen;
struct li707__tx;

struct li707__http_hdr {
	char *name, *value;
};

enum li707__http_sink { LI707__SINK_NONE, LI707__SINK_FD, LI707__SINK_CB };

struct li707__http_rq { /* per request */
	struct li707_http_req pub;
	struct MHD_Connection *conn;
	struct dctx *dc;
	struct pgen *pg; /* the allow-list pub.peer points into (a reference), or NULL */
	bool responded, begun, counted, failed, deferred;
	enum li707__http_sink sink;
	int fd;
	li707_http_body_fn fn;
	void *fn_cls;
	uint64_t cap;
	uint64_t win_start_ms, win_bytes; /* body rate: the current window (limits.body_min_rate) */
	unsigned max_ranges;
	char *wbuf; /* LI707__SINK_FD: MHD hands over one TLS record (16 KiB) per call; write in blocks */
	size_t wlen;
	struct li707__http_hdr h[LI707__HTTP_MAX_RESP_HEADERS];
	size_t nh;
};

/* The connection's slot for its transmit state (http_server_file.c: the GnuTLS push function
 * of mapped bodies), or NULL when the connection has no context. The connection releases it
 * with li707__tx_release() when it is closed. */
struct li707__tx **li707__conn_tx(struct MHD_Connection *conn);
void li707__tx_release(struct li707__tx *t);

/* Queues resp (consumed) with the request's extra headers; marks the request answered. */
int li707__http_queue(struct li707__http_rq *r, unsigned status, struct MHD_Response *resp);
/* The fixed page for status (404: the page refused peers get too). */
int li707__http_respond_page(struct li707__http_rq *r, unsigned status);

#endif
