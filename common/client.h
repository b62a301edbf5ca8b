/*  client — the asking side of request/reply: one DEALER connected to every
 *  instance of a service, and a table of pending requests.
 *
 *  cb_client_call sends a request and calls back exactly once: with the
 *  reply, or with a transport status (DEADLINE_EXCEEDED when the deadline
 *  passed with no reply, UNAVAILABLE when no instance took the request within
 *  250 ms).
 *  An attempt that gets no reply within the attempt timeout is retried
 *  only when the request is idempotent (reads always; writes because they
 *  carry an idempotency key), after exponential backoff with full jitter,
 *  within a retry budget. The DEALER round-robins, so a retry goes out on
 *  the next pipe: another instance when there is one. A reply that comes
 *  after its request was answered (a slow first attempt) is dropped.
 *
 *  Sockets: ZMQ_IMMEDIATE (never queue to a peer that is not connected),
 *  ZMTP heartbeats (a hung or partitioned peer is dropped within seconds),
 *  bounded high-water marks, ZMQ_MAXMSGSIZE.
 */
#ifndef CB_CLIENT_H
#define CB_CLIENT_H

#include <czmq.h>
#include <stdbool.h>

#include "curve.h"
#include "envelope.h"

typedef struct cb_client cb_client_t;

//  The deadline of a call made with deadline_ms <= 0.
#define CB_CLIENT_DEFAULT_DEADLINE_MS 10000

//  reply is NULL unless status is STATUS_OK at the transport level; it is
//  borrowed for the duration of the callback. When reply is not NULL,
//  status is OK and the application status is in the reply's body.
typedef void (cb_reply_fn) (const Cordbank__Envelope *reply, Cordbank__Status status,
                            const char *error, void *arg);

//  Connects to every endpoint of `spec` (see discovery.h); NULL on an
//  invalid spec. `target` names the service in metrics and logs. curve
//  (borrowed, may be NULL: no CURVE) makes it a CURVE client of the
//  cluster's servers.
cb_client_t *cb_client_new (const char *target, const char *spec, const cb_curve_t *curve,
                            zloop_t *loop);
void cb_client_destroy (cb_client_t **self_p);

//  Per-attempt timeout (default 1000 ms) and most attempts (default 3).
void cb_client_set_attempts (cb_client_t *self, int64_t attempt_timeout_ms, uint32_t max_attempts);

//  Sends request (its body set; borrowed: packed before this returns).
//  Returns 0, or -1 when it could not even be queued (fn is then called
//  before this returns, with the status). fn is always called exactly once.
int cb_client_call (cb_client_t *self, Cordbank__Envelope *request, const char *trace_id,
                    int64_t deadline_ms, bool idempotent, cb_reply_fn *fn, void *arg);

size_t cb_client_pending (const cb_client_t *self);
//  Instances connected now (per discovery).
size_t cb_client_peers (const cb_client_t *self);

#endif
