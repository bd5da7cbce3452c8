/* li707-csp - audit records appended off the caller's thread (the file server's fetch
 * records, issue 11). docs/internals/csp-audit.md "Fetch records".
 *
 * csp_audit_append() makes every record durable (fdatasync) before it returns: right for a
 * delivery, which is acknowledged only once recorded, wrong for a connection thread of the
 * file server that has just sent a range - it would wait for a disk flush per range. Here
 * csp_audit_queue_put() copies the record into a bounded queue and returns; one thread
 * writes whatever has gathered with csp_audit_append_batch() (one write, one fdatasync), so
 * a burst of fetches shares a flush. Order in the log is the order of put.
 *
 * What this costs: a record is in the log one batch after put (the time of the previous
 * flush at most, milliseconds on a local disk). A kill -9 loses the records still queued:
 * their fetches happened (the bytes went out) but are not in the log; the chain itself stays
 * intact (a batch is one write; a torn one is the torn tail csp_audit_open handles). A
 * SIGTERM writes the queue out (csp_audit_queue_free). When CSP_AUDIT_QUEUE_MAX records wait
 * (the disk is far slower than the fetches), put waits for room: records are never dropped.
 *
 * Thread safety: put from any thread. */
#ifndef LI707_CSP_AUDIT_QUEUE_H
#define LI707_CSP_AUDIT_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "csp_audit.h"

#define CSP_AUDIT_QUEUE_MAX 4096

struct csp_audit_queue;

/* Starts the writer thread on a (borrowed: must outlive the queue). 0, LI707_ENOMEM. */
int csp_audit_queue_new(struct csp_audit *a, struct csp_audit_queue **out);
/* Queues a copy of r (its strings are copied). 0; LI707_EINVAL (csp_audit_record_check
 * refuses it: nothing queued); -ESHUTDOWN after free started. */
int csp_audit_queue_put(struct csp_audit_queue *q, const struct csp_audit_record *r);
/* Waits until everything queued so far is written (tests, shutdown). */
void csp_audit_queue_flush(struct csp_audit_queue *q);
/* Records written, and records the log refused to append (an I/O error: they are lost). */
void csp_audit_queue_stats(struct csp_audit_queue *q, uint64_t *written, uint64_t *failed);
/* Writes what is queued, stops the thread, frees. NULL is a no-op. */
void csp_audit_queue_free(struct csp_audit_queue *q);

#endif
