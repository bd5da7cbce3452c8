/* li707 common - internals shared by http_server.c and http_server_file.c (not an API). */
#ifndef LX_COMMON_HTTP_SERVER_INT_H
#define LX_COMMON_HTTP_SERVER_INT_H

#include <microhttpd.h>
#include <stdatomic.h>

#include "http_server.h"

#define LX__HTTP_MAX_RESP_HEADERS 16

struct dctx;
struct pgen;
struct lx__tx;
struct lx__meter;
struct lx_http_file_answer;

struct lx__http_hdr {
	char *name, *value;
};

enum lx__http_sink { LX__SINK_NONE, LX__SINK_FD, LX__SINK_CB };

struct lx__http_rq { /* per request */
	struct lx_http_request pub;
	struct MHD_Connection *conn;
	struct dctx *dc;
	struct pgen *pg; /* the allow-list pub.peer points into (a reference), or NULL */
	bool responded, begun, counted, failed, deferred;
	enum lx__http_sink sink;
	int fd;
	lx_http_body_fn fn;
	void *fn_cls;
	uint64_t cap;
	uint64_t win_start_ms, win_bytes; /* body rate: the current window (limits.body_min_rate) */
	unsigned max_ranges;
	char *wbuf; /* LX__SINK_FD: MHD hands over one TLS record (16 KiB) per call; write in blocks */
	size_t wlen;
	struct lx__http_hdr h[LX__HTTP_MAX_RESP_HEADERS];
	size_t nh;
	struct lx__meter *meter;          /* a file response's byte counter (shared with it) */
	struct lx_http_file_answer *ans;  /* what the file response answered, or NULL */
};

/* The byte counter of a file response, shared by the request (lx_http_sent) and the response
 * (which may outlive the request by a final TLS write): freed by the last of the two. */
struct lx__meter {
	atomic_int refs;
	atomic_uint_fast64_t sent;
};
void lx__meter_release(struct lx__meter *m);

/* The connection's slot for its transmit state (http_server_file.c: the GnuTLS push function
 * of mapped bodies), or NULL when the connection has no context. The connection releases it
 * with lx__tx_release() when it is closed. */
struct lx__tx **lx__conn_tx(struct MHD_Connection *conn);
void lx__tx_release(struct lx__tx *t);

/* Queues resp (consumed) with the request's extra headers; marks the request answered. */
int lx__http_queue(struct lx__http_rq *r, unsigned status, struct MHD_Response *resp);
/* The fixed page for status (404: the page refused peers get too). */
int lx__http_respond_page(struct lx__http_rq *r, unsigned status);

#endif
