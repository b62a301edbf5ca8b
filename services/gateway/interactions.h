/*  interactions — the POST /interactions endpoint Discord calls.
 *
 *  Each request is checked (signature, then JSON), answered at once when it
 *  can be (PING, a DM, a malformed request) or sent to the command service
 *  as a CommandRequest and answered with its rendered reply; when command
 *  cannot answer within the reply budget, the user still gets an
 *  ephemeral "having trouble" message before Discord's 3 s deadline.
 */
#ifndef GW_INTERACTIONS_H
#define GW_INTERACTIONS_H

#include <stdint.h>

#include "common/client.h"
#include "common/http.h"
#include "rest.h"
#include "signature.h"

//  Largest interaction body accepted.
#define GW_MAX_BODY (64 * 1024)

typedef struct gw_interactions gw_interactions_t;

//  command is borrowed (the service owns it) and must outlive the object.
gw_interactions_t *gw_interactions_new (cb_client_t *command,
                                        const uint8_t public_key[GW_PUBLIC_KEY_BYTES],
                                        int64_t reply_budget_ms);
//  Call after every interaction has been answered (after the service, whose
//  clients answer their pending calls when destroyed, is destroyed).
void gw_interactions_destroy (gw_interactions_t **self_p);

//  The route handler (cb_http_fn) for POST /interactions; arg is the object.
void gw_interactions_handle (cb_http_request_t *request, void *arg);

//  Turns on deferred replies and Gateway interactions: rest (borrowed)
//  carries callbacks and @original edits, timers run on loop. A command
//  not answered within defer_after_ms is deferred (type 5) and its reply,
//  when it comes within deferred_budget_ms of the interaction (at most
//  Discord's 15-minute token life), edited into @original. Without this
//  call, HTTP interactions are answered as before (trouble message after
//  the reply budget) and Gateway interactions are dropped with a warning.
//  Call again with rest NULL before destroying rest: interactions still
//  waiting are then answered where possible without it.
//  Commands waiting on command at most: past it, a new one is answered at
//  once with an ephemeral "busy, try again in a moment" (outcome busy),
//  as is one command shed as BUSY. Default: no limit.
void gw_interactions_set_max_inflight (gw_interactions_t *self, size_t max_inflight);

//  The replay window of POST /interactions: a request whose
//  X-Signature-Timestamp is further than max_skew_s from now, either way,
//  is refused with 401 even when its signature is valid. Default
//  GW_MAX_SKEW_S.
void gw_interactions_set_max_skew (gw_interactions_t *self, int64_t max_skew_s);

void gw_interactions_set_rest (gw_interactions_t *self, zloop_t *loop, gw_rest_t *rest,
                               int64_t defer_after_ms, int64_t deferred_budget_ms);

//  The d of an INTERACTION_CREATE dispatch received by shard shard_id
//  (json, len bytes, need not be NUL-terminated; copied as needed): sent to
//  command and answered through POST /interactions/{id}/{token}/callback
//  (type 4), or type 5 then PATCH @original when past defer_after_ms.
//  Exactly one callback per interaction id, ever (a callback retried after
//  an unknown outcome that Discord answers 40060 "already acknowledged"
//  counts as delivered). Call on the reactor thread.
void gw_interactions_from_gateway (gw_interactions_t *self, const char *json, size_t len,
                                   int shard_id);

#endif
