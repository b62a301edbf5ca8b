/*  reads — BalanceGetRequest: read-through in front of balance.
 *
 *  A cached value answers only when Redis is connected and flushed and the
 *  value's version is at least the request's min_version: command passes
 *  the version it acknowledged to the user, so a user never reads a
 *  balance older than one they were told (read-your-writes). Everything
 *  else (miss, older version, Redis down or flushing) is asked of balance
 *  with the caller's trace id and deadline; its answer is stored
 *  (versioned, so a late answer cannot replace a newer event) and relayed
 *  as it came, errors included.
 */
#include <assert.h>
#include <stdlib.h>

#include "services/cache/cache.h"

//  A request forwarded to balance, waiting for its answer.
typedef struct {
    cache_t *cache;
    cb_call_t *call; // owned until answered
    uint64_t guild_id;
    uint64_t user_id;
} forward_t;

static cb_metric_t *
reads_counter (const char *result)
{
    char labels[64];
    cb_metrics_labels (labels, sizeof labels, "result", result, NULL);
    return cb_metrics_counter ("cordbank_cache_requests_total",
                               "Balance reads by outcome: hit, miss, stale (cached version "
                               "older than asked), passthrough (Redis down or flushing).",
                               labels);
}

void
cache_reads_init (cache_t *self)
{
    assert (self);
    self->hit = reads_counter ("hit");
    self->miss = reads_counter ("miss");
    self->stale = reads_counter ("stale");
    self->passthrough = reads_counter ("passthrough");
}

static void
reply_balance (cb_call_t **call_p, Cordbank__Status status, const char *message, int64_t balance,
               uint64_t version, bool cached)
{
    Cordbank__BalanceGetReply body = CORDBANK__BALANCE_GET_REPLY__INIT;
    body.status = status;
    body.message = (char *) (message ? message : "");
    body.balance = balance;
    body.version = version;
    body.cached = cached;
    Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
    reply.body_case = CORDBANK__ENVELOPE__BODY_BALANCE_GET_REPLY;
    reply.balance_get_reply = &body;
    cb_call_reply (call_p, &reply);
}

//  Answers from Redis when it may; counts the outcome either way.
static bool
serve_cached (cache_t *self, cb_call_t **call_p, const Cordbank__BalanceGetRequest *request)
{
    cache_balance_t value;
    int rc = cache_redis_readable (self->redis)
                 ? cache_redis_get (self->redis, request->guild_id, request->user_id, &value)
                 : -1;
    if (rc < 0) {
        cb_counter_inc (self->passthrough);
        return false;
    }
    if (rc == 0 || value.version < request->min_version) {
        cb_counter_inc (rc == 0 ? self->miss : self->stale);
        return false;
    }
    cb_counter_inc (self->hit);
    reply_balance (call_p, CORDBANK__STATUS__STATUS_OK, "", value.balance, value.version, true);
    return true;
}

//  A reply envelope without a balance body carries its status on the
//  envelope (the server could not produce a body).
static void
relay_failure (cb_call_t **call_p, const Cordbank__Envelope *reply)
{
    Cordbank__Status status = reply->status;
    const char *error = reply->error && *reply->error ? reply->error : "unexpected reply";
    if (status == CORDBANK__STATUS__STATUS_OK || status == CORDBANK__STATUS__STATUS_UNSPECIFIED)
        status = CORDBANK__STATUS__STATUS_INTERNAL;
    cb_call_fail (call_p, status, error);
}

static void
on_balance_reply (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error,
                  void *arg)
{
    forward_t *forward = (forward_t *) arg;
    if (!reply)
        cb_call_fail (&forward->call, status, error && *error ? error : cb_status_name (status));
    else if (reply->body_case != CORDBANK__ENVELOPE__BODY_BALANCE_GET_REPLY ||
             !reply->balance_get_reply)
        relay_failure (&forward->call, reply);
    else {
        const Cordbank__BalanceGetReply *body = reply->balance_get_reply;
        //  Best effort: when Redis is down the next read passes through too.
        if (body->status == CORDBANK__STATUS__STATUS_OK)
            (void) cache_store (forward->cache, forward->guild_id, forward->user_id, body->balance,
                                body->version);
        reply_balance (&forward->call, body->status, body->message, body->balance, body->version,
                       false);
    }
    free (forward);
}

static void
ask_balance (cache_t *self, cb_call_t *call, const Cordbank__BalanceGetRequest *request)
{
    forward_t *forward = (forward_t *) malloc (sizeof *forward);
    if (!forward) {
        cb_call_fail (&call, CORDBANK__STATUS__STATUS_INTERNAL, "out of memory");
        return;
    }
    *forward = (forward_t){self, call, request->guild_id, request->user_id};
    Cordbank__BalanceGetRequest body = CORDBANK__BALANCE_GET_REQUEST__INIT;
    body.guild_id = request->guild_id;
    body.user_id = request->user_id;
    body.min_version = request->min_version;
    Cordbank__Envelope envelope = CORDBANK__ENVELOPE__INIT;
    envelope.body_case = CORDBANK__ENVELOPE__BODY_BALANCE_GET_REQUEST;
    envelope.balance_get_request = &body;
    //  The callback runs exactly once, also when the call cannot even be
    //  queued, and answers the caller then: nothing more to do on failure.
    (void) cb_client_call (self->balance, &envelope, cb_call_trace_id (call),
                           cb_call_deadline_ms (call), true, on_balance_reply, forward);
}

void
cache_on_get (cb_call_t *call, void *arg)
{
    cache_t *self = (cache_t *) arg;
    const Cordbank__BalanceGetRequest *request = cb_call_request (call)->balance_get_request;
    if (!request) {
        cb_call_fail (&call, CORDBANK__STATUS__STATUS_INVALID_ARGUMENT, "missing request body");
        return;
    }
    if (!serve_cached (self, &call, request))
        ask_balance (self, call, request);
}
