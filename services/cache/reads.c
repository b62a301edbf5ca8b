/*  reads — BalanceGetRequest: read-through in front of balance, with
 *  single-flight.
 *
 *  A cached value answers only when Redis is connected and flushed and the
 *  value's version is at least the request's min_version: command passes
 *  the version it acknowledged to the user, so a user never reads a
 *  balance older than one they were told (read-your-writes). An account
 *  never written is cached too (version 0, short TTL: negative caching), so
 *  a flood of lookups of unknown users stays in Redis. Everything else
 *  (miss, older version, Redis down or flushing) is asked of balance and
 *  its answer stored (versioned, so a late answer cannot replace a newer
 *  event) and relayed as it came, errors included.
 *
 *  Single-flight: one request per account is on its way to balance at a
 *  time; reads that miss meanwhile wait for it instead of asking too. A
 *  read may join a flight already sent only when Redis answered it (a
 *  miss): every acknowledged write is in Redis before its acknowledgement
 *  (command writes through first), so a miss proves no write was
 *  acknowledged since the flight left, as long as Redis has not changed
 *  state since (an outage and its flush delete what was written through).
 *  A read that could not look in Redis (down, flushing), or that missed in
 *  a later epoch than the flight's, cannot know that: it waits for the next
 *  flight, sent after it arrived. A joined read whose min_version the answer does not
 *  reach is asked again.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "services/cache/cache.h"

typedef struct waiter {
    struct waiter *next;
    cb_call_t *call; // owned until answered
    uint64_t min_version;
} waiter_t;

//  The request on its way to balance for one account, and who waits for it.
typedef struct {
    cache_t *cache;
    char key[48];
    uint64_t guild_id;
    uint64_t user_id;
    waiter_t *waiters; // answered by the flight on the wire
    waiter_t *next;    // arrived after it left: answered by the next one
    uint64_t epoch;    // of the Redis connection when it left
} flight_t;

static cb_metric_t *
reads_counter (const char *result)
{
    char labels[64];
    cb_metrics_labels (labels, sizeof labels, "result", result, NULL);
    return cb_metrics_counter ("cordbank_cache_requests_total",
                               "Balance reads by outcome: hit, negative_hit (an account never "
                               "written), miss, stale (cached version older than asked), "
                               "passthrough (Redis down or flushing).",
                               labels);
}

//  Every second: the share of reads answered from Redis over that second.
static int
s_on_ratio_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    cache_t *self = arg;
    uint64_t served = self->counts[0] + self->counts[1];
    uint64_t total = served + self->counts[2];
    uint64_t window_served = served - self->ratio_served, window_total = total - self->ratio_total;
    if (window_total > 0)
        cb_gauge_set (self->hit_ratio, (double) window_served / (double) window_total);
    self->ratio_served = served;
    self->ratio_total = total;
    return 0;
}

void
cache_reads_init (cache_t *self, zloop_t *loop)
{
    assert (self && loop);
    self->hit = reads_counter ("hit");
    self->negative_hit = reads_counter ("negative_hit");
    self->miss = reads_counter ("miss");
    self->stale = reads_counter ("stale");
    self->passthrough = reads_counter ("passthrough");
    self->joins = cb_metrics_counter (
        "cordbank_cache_singleflight_joins_total",
        "Reads that waited for another read's request to balance instead of sending their own.",
        NULL);
    self->hit_ratio =
        cb_metrics_gauge ("cordbank_cache_hit_ratio",
                          "Share of balance reads answered from Redis over the last second.", NULL);
    self->flights = zhashx_new ();
    if (self->flights)
        zloop_timer (loop, 1000, 0, s_on_ratio_tick, self);
}

void
cache_reads_destroy (cache_t *self)
{
    assert (self);
    //  Flights still out are answered by the client's destruction (their
    //  callbacks free them); by then nothing is left here.
    zhashx_destroy (&self->flights);
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

typedef enum { LOOK_HIT = 0, LOOK_MISS, LOOK_BLIND } look_t;

//  Answers from what Redis said (rc: 1 found, 0 absent, -1 could not be
//  asked). LOOK_MISS: nothing new enough; LOOK_BLIND: Redis was not asked.
static look_t
serve_cached (cache_t *self, cb_call_t **call_p, const Cordbank__BalanceGetRequest *request, int rc,
              cache_balance_t value)
{
    if (rc < 0) {
        cb_counter_inc (self->passthrough);
        self->counts[2]++;
        return LOOK_BLIND;
    }
    if (rc == 0 || value.version < request->min_version) {
        cb_counter_inc (rc == 0 ? self->miss : self->stale);
        self->counts[2]++;
        return LOOK_MISS;
    }
    cb_counter_inc (value.version == 0 ? self->negative_hit : self->hit);
    self->counts[value.version == 0]++;
    reply_balance (call_p, CORDBANK__STATUS__STATUS_OK, "", value.balance, value.version, true);
    return LOOK_HIT;
}

static void s_send (flight_t *flight, const char *trace_id, int64_t deadline_ms);

//  A reply envelope without a balance body carries its status on the
//  envelope (the server could not produce a body).
static void
s_fail_all (waiter_t **list, Cordbank__Status status, const char *error)
{
    if (status == CORDBANK__STATUS__STATUS_OK || status == CORDBANK__STATUS__STATUS_UNSPECIFIED)
        status = CORDBANK__STATUS__STATUS_INTERNAL;
    for (waiter_t *w = *list, *next; w; w = next) {
        next = w->next;
        cb_call_fail (&w->call, status, error && *error ? error : cb_status_name (status));
        free (w);
    }
    *list = NULL;
}

//  The latest deadline among waiters, and the first one's trace id.
static int64_t
s_deadline (const waiter_t *list)
{
    int64_t deadline = 0;
    for (const waiter_t *w = list; w; w = w->next) {
        int64_t d = cb_call_deadline_ms (w->call);
        if (d == 0)
            return 0;
        if (d > deadline)
            deadline = d;
    }
    return deadline;
}

static void
on_balance_reply (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error,
                  void *arg)
{
    flight_t *flight = arg;
    cache_t *self = flight->cache;
    if (!reply)
        s_fail_all (&flight->waiters, status, error);
    else if (reply->body_case != CORDBANK__ENVELOPE__BODY_BALANCE_GET_REPLY ||
             !reply->balance_get_reply)
        s_fail_all (&flight->waiters, reply->status,
                    reply->error && *reply->error ? reply->error : "unexpected reply");
    else {
        const Cordbank__BalanceGetReply *body = reply->balance_get_reply;
        //  Best effort: when Redis is down the next read passes through too.
        //  An answer to a request sent before the connection last changed
        //  state (an outage, a flush) may predate a write the flush has
        //  hidden: relayed, not stored.
        if (body->status == CORDBANK__STATUS__STATUS_OK && self->redis &&
            cache_redis_readable (self->redis) && cache_redis_epoch (self->redis) == flight->epoch)
            (void) cache_store (self, flight->guild_id, flight->user_id, body->balance,
                                body->version);
        for (waiter_t *w = flight->waiters, *next; w; w = next) {
            next = w->next;
            if (body->status == CORDBANK__STATUS__STATUS_OK && body->version < w->min_version) {
                //  Joined a flight that left before the write it knows of.
                w->next = flight->next;
                flight->next = w;
                continue;
            }
            reply_balance (&w->call, body->status, body->message, body->balance, body->version,
                           false);
            free (w);
        }
        flight->waiters = NULL;
    }
    if (flight->next && !self->closing) {
        //  Those who came after the flight left get their own, now.
        flight->waiters = flight->next;
        flight->next = NULL;
        s_send (flight, cb_call_trace_id (flight->waiters->call), s_deadline (flight->waiters));
        return;
    }
    if (self->flights)
        zhashx_delete (self->flights, flight->key);
    //  Only while shutting down is anyone left waiting here.
    s_fail_all (&flight->next, CORDBANK__STATUS__STATUS_UNAVAILABLE, "cache is shutting down");
    free (flight);
}

static void
s_send (flight_t *flight, const char *trace_id, int64_t deadline_ms)
{
    Cordbank__BalanceGetRequest body = CORDBANK__BALANCE_GET_REQUEST__INIT;
    body.guild_id = flight->guild_id;
    body.user_id = flight->user_id;
    Cordbank__Envelope envelope = CORDBANK__ENVELOPE__INIT;
    envelope.body_case = CORDBANK__ENVELOPE__BODY_BALANCE_GET_REQUEST;
    envelope.balance_get_request = &body;
    flight->epoch = flight->cache->redis ? cache_redis_epoch (flight->cache->redis) : 0;
    //  The callback runs exactly once, also when the call cannot even be
    //  queued, and answers the waiters then.
    (void) cb_client_call (flight->cache->balance, &envelope, trace_id, deadline_ms, true,
                           on_balance_reply, flight);
}

static void
ask_balance (cache_t *self, cb_call_t *call, const Cordbank__BalanceGetRequest *request,
             look_t look)
{
    waiter_t *waiter = malloc (sizeof *waiter);
    if (!waiter) {
        cb_call_fail (&call, CORDBANK__STATUS__STATUS_INTERNAL, "out of memory");
        return;
    }
    *waiter = (waiter_t){.call = call, .min_version = request->min_version};
    char key[48];
    snprintf (key, sizeof key, "%" PRIu64 ":%" PRIu64, request->guild_id, request->user_id);
    flight_t *flight = self->flights ? zhashx_lookup (self->flights, key) : NULL;
    if (flight) {
        //  A miss proves nothing about a flight sent before Redis last
        //  changed state: the flush on its return deletes acknowledged
        //  writes too (a miss now may hide one made after that flight left).
        bool same_epoch = !self->redis || cache_redis_epoch (self->redis) == flight->epoch;
        waiter_t **list = look == LOOK_MISS && same_epoch ? &flight->waiters : &flight->next;
        waiter->next = *list;
        *list = waiter;
        cb_counter_inc (self->joins);
        return;
    }
    flight = calloc (1, sizeof *flight);
    if (!flight) {
        free (waiter);
        cb_call_fail (&call, CORDBANK__STATUS__STATUS_INTERNAL, "out of memory");
        return;
    }
    *flight = (flight_t){.cache = self,
                         .guild_id = request->guild_id,
                         .user_id = request->user_id,
                         .waiters = waiter};
    snprintf (flight->key, sizeof flight->key, "%s", key);
    if (self->flights)
        zhashx_insert (self->flights, flight->key, flight);
    s_send (flight, cb_call_trace_id (call), cb_call_deadline_ms (call));
}

//  One read answered from Redis's answer, or sent on to balance.
static void
s_serve (cache_t *self, cb_call_t *call, int rc, cache_balance_t value)
{
    const Cordbank__BalanceGetRequest *request = cb_call_request (call)->balance_get_request;
    look_t look = serve_cached (self, &call, request, rc, value);
    if (look != LOOK_HIT)
        ask_balance (self, call, request, look);
}

//  The reads of one burst of requests, in one round trip to Redis
//  (pipelined GETs) rather than one each.
void
cache_reads_flush (void *arg)
{
    cache_t *self = arg;
    size_t n = self->pending_count;
    self->pending_count = 0;
    if (n == 0)
        return;
    uint64_t guilds[CACHE_PENDING_MAX], users[CACHE_PENDING_MAX];
    cache_balance_t values[CACHE_PENDING_MAX];
    int found[CACHE_PENDING_MAX];
    for (size_t i = 0; i < n; i++) {
        const Cordbank__BalanceGetRequest *request =
            cb_call_request (self->pending[i])->balance_get_request;
        guilds[i] = request->guild_id;
        users[i] = request->user_id;
    }
    bool asked = self->redis && cache_redis_readable (self->redis) &&
                 cache_redis_get_many (self->redis, guilds, users, n, values, found) == 0;
    for (size_t i = 0; i < n; i++)
        s_serve (self, self->pending[i], asked ? found[i] : -1, values[i]);
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
    if (!self->redis || !cache_redis_readable (self->redis)) {
        s_serve (self, call, -1, (cache_balance_t){0});
        return;
    }
    //  Answered at the end of the burst (cache_reads_flush).
    self->pending[self->pending_count++] = call;
    if (self->pending_count == CACHE_PENDING_MAX)
        cache_reads_flush (self);
}
