/*  admit — dedup and rate limits for every command instance (see admit.h).
 *
 *  Why one Lua script: the dedup check, both refills and both takes must be
 *  one atomic step, or two instances could each see the last token (or an
 *  unseen id) and both admit. Why Redis's TIME inside it: cache instances'
 *  clocks differ; a bucket refilled on whichever clock wrote it last would
 *  gain or lose tokens with every skew. Needs Redis >= 5 (a script may
 *  write after TIME since effects replication became the default).
 *
 *  The script writes nothing when it refuses, so a flood of refused
 *  commands costs reads only. Bucket keys expire when they would be full
 *  again (plus a second): an absent bucket is a full one, so the expiry
 *  changes no answer and idle members leave nothing behind.
 *
 *  Redis calls are synchronous on the reactor, as every call in redis.c:
 *  one round trip to a local Redis, capped by CACHE_REDIS_TIMEOUT_MS.
 */
#include "services/cache/admit.h"

#include <assert.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "services/cache/admit_local.h"
#include "services/cache/bucket.h"

//  KEYS[1] cb:seen:<interaction>, KEYS[2] the member's bucket, KEYS[3] the
//  guild's. ARGV: dedup TTL (s), user rate (tokens/s), user burst, guild
//  rate, guild burst. Tokens are stored in milli-tokens (bucket.h holds the
//  same arithmetic in C). Returns {result, retry_after_ms, limit}: result
//  1 admitted, 2 duplicate, 3 rate limited; limit 1 user, 2 guild.
static const char ADMIT_LUA[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return {2, 0, 0} end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local function level(key, rate, burst)\n"
    "  local cap = burst * 1000\n"
    "  local v = redis.call('HMGET', key, 'tokens', 'ts')\n"
    "  local milli, ts = tonumber(v[1]), tonumber(v[2])\n"
    "  if not milli or not ts then return cap end\n"
    "  local elapsed = now - ts\n"
    "  if elapsed < 0 then elapsed = 0 end\n"
    "  if elapsed > cap then elapsed = cap end\n"
    "  milli = milli + elapsed * rate\n"
    "  if milli > cap then milli = cap end\n"
    "  if milli < 0 then milli = 0 end\n"
    "  return milli\n"
    "end\n"
    "local function wait(milli, rate)\n"
    "  if milli >= 1000 then return 0 end\n"
    "  return math.ceil((1000 - milli) / rate)\n"
    "end\n"
    "local function take(key, milli, rate, burst)\n"
    "  redis.call('HSET', key, 'tokens', milli - 1000, 'ts', now)\n"
    "  redis.call('PEXPIRE', key, math.ceil((burst * 1000 - milli + 1000) / rate) + 1000)\n"
    "end\n"
    "local ur, ub = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local gr, gb = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local u, g = level(KEYS[2], ur, ub), level(KEYS[3], gr, gb)\n"
    "local uw, gw = wait(u, ur), wait(g, gr)\n"
    "if gw > uw then return {3, gw, 2} end\n"
    "if uw > 0 then return {3, uw, 1} end\n"
    "take(KEYS[2], u, ur, ub)\n"
    "take(KEYS[3], g, gr, gb)\n"
    "redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])\n"
    "return {1, 0, 0}\n";

enum { SCOPE_GLOBAL = 0, SCOPE_LOCAL, SCOPE_COUNT };
static const char *const RESULT_NAME[ADMIT_RESULT_COUNT] = {"ok", "duplicate", "rate_limited"};
static const char *const SCOPE_NAME[SCOPE_COUNT] = {"global", "local"};

struct cache_admit {
    cache_redis_t *redis; // borrowed
    cache_admit_config_t config;
    cache_script_t script;
    admit_local_t *local;
    bool is_local; // the last decision was this instance's alone
    cb_metric_t *total[ADMIT_RESULT_COUNT][SCOPE_COUNT];
    cb_metric_t *global;
    cb_log_limiter_t odd_reply;
};

static void
register_metrics (cache_admit_t *self)
{
    for (int result = 0; result < ADMIT_RESULT_COUNT; result++)
        for (int scope = 0; scope < SCOPE_COUNT; scope++) {
            char labels[96];
            cb_metrics_labels (labels, sizeof labels, "result", RESULT_NAME[result], "scope",
                               SCOPE_NAME[scope], NULL);
            self->total[result][scope] = cb_metrics_counter (
                "cordbank_cache_admit_total",
                "Admission decisions (dedup and rate limits) by result and scope: global "
                "(through Redis, for every instance) or local (this instance alone, Redis down).",
                labels);
        }
    self->global = cb_metrics_gauge ("cordbank_cache_admit_global",
                                     "1 when the last admission decision went through Redis; "
                                     "0 when this instance decided alone.",
                                     NULL);
}

cache_admit_t *
cache_admit_new (cache_redis_t *redis, const cache_admit_config_t *config)
{
    assert (redis && config);
    assert (config->user_rate >= 1 && config->user_rate <= BUCKET_LIMIT_MAX);
    assert (config->user_burst >= 1 && config->user_burst <= BUCKET_LIMIT_MAX);
    assert (config->guild_rate >= 1 && config->guild_rate <= BUCKET_LIMIT_MAX);
    assert (config->guild_burst >= 1 && config->guild_burst <= BUCKET_LIMIT_MAX);
    assert (config->dedup_ttl_s >= 1);
    cache_admit_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->redis = redis;
    self->config = *config;
    self->script.source = ADMIT_LUA;
    self->local = admit_local_new (config);
    if (!self->local) {
        free (self);
        return NULL;
    }
    register_metrics (self);
    cb_gauge_set (self->global, cache_redis_writable (redis) ? 1 : 0);
    return self;
}

void
cache_admit_destroy (cache_admit_t **self_p)
{
    assert (self_p);
    cache_admit_t *self = *self_p;
    if (!self)
        return;
    admit_local_destroy (&self->local);
    free (self);
    *self_p = NULL;
}

//  {result, retry_after_ms, limit} as the script returns it: 0 and *out
//  filled, or -1 when the reply has another shape.
static int
parse_reply (const redisReply *reply, admit_decision_t *out)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
        return -1;
    for (size_t i = 0; i < 3; i++)
        if (reply->element[i]->type != REDIS_REPLY_INTEGER)
            return -1;
    long long result = reply->element[0]->integer;
    if (result < 1 || result > 3)
        return -1;
    *out = (admit_decision_t){.result = result == 1   ? ADMIT_OK
                                        : result == 2 ? ADMIT_DUPLICATE
                                                      : ADMIT_RATE_LIMITED,
                              .retry_after_ms = reply->element[1]->integer,
                              .limit = reply->element[2]->integer == 2   ? ADMIT_LIMIT_GUILD
                                       : reply->element[2]->integer == 1 ? ADMIT_LIMIT_USER
                                                                         : ADMIT_LIMIT_NONE};
    return 0;
}

//  Runs the script. 0 and *out filled, or -1 when Redis cannot decide now.
static int
decide_global (cache_admit_t *self, const Cordbank__AdmitRequest *request, admit_decision_t *out)
{
    if (!cache_redis_writable (self->redis))
        return -1;
    char seen[48], user[80], guild[48], ttl[24], ur[24], ub[24], gr[24], gb[24];
    const cache_admit_config_t *c = &self->config;
    const char *argv[] = {seen, user, guild, ttl, ur, ub, gr, gb};
    size_t lens[] = {
        (size_t) snprintf (seen, sizeof seen, "cb:seen:%" PRIu64, request->interaction_id),
        (size_t) snprintf (user, sizeof user, "cb:rl:u:%" PRIu64 ":%" PRIu64, request->guild_id,
                           request->user_id),
        (size_t) snprintf (guild, sizeof guild, "cb:rl:g:%" PRIu64, request->guild_id),
        (size_t) snprintf (ttl, sizeof ttl, "%" PRId64, c->dedup_ttl_s),
        (size_t) snprintf (ur, sizeof ur, "%" PRId64, c->user_rate),
        (size_t) snprintf (ub, sizeof ub, "%" PRId64, c->user_burst),
        (size_t) snprintf (gr, sizeof gr, "%" PRId64, c->guild_rate),
        (size_t) snprintf (gb, sizeof gb, "%" PRId64, c->guild_burst),
    };
    redisReply *reply =
        cache_redis_eval (self->redis, CACHE_OP_ADMIT, &self->script, 3, 8, argv, lens);
    if (!reply)
        return -1; // redis.c has logged it and marked Redis down
    int rc = parse_reply (reply, out);
    freeReplyObject (reply);
    uint64_t suppressed = 0;
    if (rc != 0 && cb_log_limiter_allow (&self->odd_reply, &suppressed))
        cb_log_warn (NULL, "unexpected reply to the admit script; deciding locally", "{s:I}",
                     "suppressed", (json_int_t) suppressed);
    return rc;
}

//  Logs a change of scope once, when it happens.
static void
note_scope (cache_admit_t *self, bool is_local)
{
    if (is_local == self->is_local)
        return;
    self->is_local = is_local;
    cb_gauge_set (self->global, is_local ? 0 : 1);
    if (is_local)
        cb_log_warn (NULL, "admission without Redis: dedup and rate limits per instance", NULL);
    else {
        //  What this instance counted alone is forgotten: Redis decides again.
        admit_local_clear (self->local);
        cb_log_info (NULL, "admission through Redis again: dedup and rate limits are global", NULL);
    }
}

static void
reply_decision (cb_call_t **call_p, const admit_decision_t *decision, bool global)
{
    Cordbank__AdmitReply body = CORDBANK__ADMIT_REPLY__INIT;
    body.global = global;
    body.message = (char *) "";
    if (decision->result == ADMIT_OK)
        body.status = CORDBANK__STATUS__STATUS_OK;
    else if (decision->result == ADMIT_DUPLICATE) {
        body.status = CORDBANK__STATUS__STATUS_DUPLICATE;
        body.message = (char *) "interaction admitted before";
    } else {
        body.status = CORDBANK__STATUS__STATUS_RATE_LIMITED;
        body.retry_after_ms = decision->retry_after_ms > 0 ? decision->retry_after_ms : 1;
        body.guild_limit = decision->limit == ADMIT_LIMIT_GUILD;
        body.message = (char *) (decision->limit == ADMIT_LIMIT_GUILD ? CACHE_ADMIT_GUILD_LIMIT
                                                                      : CACHE_ADMIT_USER_LIMIT);
    }
    Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
    reply.body_case = CORDBANK__ENVELOPE__BODY_ADMIT_REPLY;
    reply.admit_reply = &body;
    cb_call_reply (call_p, &reply);
}

void
cache_admit_on_request (cb_call_t *call, void *arg)
{
    cache_admit_t *self = (cache_admit_t *) arg;
    assert (self && call);
    const Cordbank__AdmitRequest *request = cb_call_request (call)->admit_request;
    if (!request) {
        cb_call_fail (&call, CORDBANK__STATUS__STATUS_INVALID_ARGUMENT, "missing request body");
        return;
    }
    if (request->interaction_id == 0 || request->guild_id == 0 || request->user_id == 0) {
        cb_call_fail (&call, CORDBANK__STATUS__STATUS_INVALID_ARGUMENT,
                      "interaction_id, guild_id and user_id must be set");
        return;
    }
    admit_decision_t decision;
    bool global = decide_global (self, request, &decision) == 0;
    if (!global)
        decision = admit_local_decide (self->local, request->interaction_id, request->guild_id,
                                       request->user_id, cb_mono_us () / 1000);
    note_scope (self, !global);
    cb_counter_inc (self->total[decision.result][global ? SCOPE_GLOBAL : SCOPE_LOCAL]);
    if (decision.result != ADMIT_OK)
        cb_log_debug (cb_call_trace_id (call), "admission: not a new admit", "{s:s, s:s, s:I, s:b}",
                      "command", request->command ? request->command : "", "result",
                      RESULT_NAME[decision.result], "retry_after_ms",
                      (json_int_t) decision.retry_after_ms, "global", global);
    reply_decision (&call, &decision, global);
}
