/*  server — the answering side of request/reply: one ROUTER socket.
 *
 *  Each request that decodes is dispatched by its body type to the handler
 *  registered for it, as a cb_call_t that the handler owns until it
 *  answers with cb_call_reply or cb_call_fail, now or after calls of its
 *  own (a command handler waits on cache and balance). The server stamps
 *  the reply with the request's trace id and request id.
 *
 *  Before a handler runs: a message that does not decode is dropped and
 *  counted; a request whose deadline has passed is answered
 *  DEADLINE_EXCEEDED; a request with no handler, INVALID_ARGUMENT; while
 *  starting (not ready yet) or draining, DRAINING (the client sends it on
 *  to another instance, whatever it is); above max_inflight, BUSY (load
 *  shedding).
 */
#ifndef CB_SERVER_H
#define CB_SERVER_H

#include <czmq.h>
#include <stdbool.h>

#include "curve.h"
#include "envelope.h"

typedef struct cb_server cb_server_t;
typedef struct cb_call cb_call_t;
typedef void (cb_handler_fn) (cb_call_t *call, void *arg);

//  Binds a ROUTER on endpoint ("tcp://*:7300"; "tcp://127.0.0.1:*" takes a
//  free port, see cb_server_port). curve (borrowed, may be NULL: no
//  CURVE) makes it a CURVE server that admits the allowed client keys.
//  NULL (and logged) on failure.
cb_server_t *cb_server_new (const char *endpoint, cb_curve_t *curve, zloop_t *loop);
//  The TCP port bound (0 for a non-TCP endpoint).
int cb_server_port (const cb_server_t *self);
void cb_server_destroy (cb_server_t **self_p);

void cb_server_handle (cb_server_t *self, Cordbank__Envelope__BodyCase body, cb_handler_fn *fn,
                       void *arg);
void cb_server_set_max_inflight (cb_server_t *self, size_t max_inflight);
//  fn runs after each burst of requests read from the socket (at most 64):
//  a handler may gather work during the burst and do it once here (cache
//  pipelines its Redis reads).
typedef void (cb_burst_fn) (void *arg);
void cb_server_on_burst_end (cb_server_t *self, cb_burst_fn *fn, void *arg);
//  Starting: not ready for work yet (cb_service clears it when the
//  instance first turns ready). Requests meanwhile are refused as when
//  draining, so that clients send them on to another instance.
void cb_server_set_starting (cb_server_t *self, bool starting);
void cb_server_set_draining (cb_server_t *self, bool draining);
size_t cb_server_inflight (const cb_server_t *self);

//  The decoded request (owned by the call).
const Cordbank__Envelope *cb_call_request (const cb_call_t *call);
const char *cb_call_trace_id (const cb_call_t *call);
int64_t cb_call_deadline_ms (const cb_call_t *call);

//  Sends reply (its body set by the caller; the envelope fields are filled
//  here) and destroys the call.
void cb_call_reply (cb_call_t **call_p, Cordbank__Envelope *reply);
//  Answers with a status and no body, and destroys the call.
void cb_call_fail (cb_call_t **call_p, Cordbank__Status status, const char *error);

#endif
