/*  rest_limits — Discord's rate limits in Redis or in this pod (see
 *  rest_limits.h).
 *
 *  Redis runs ratelimit.c's two scripts: one decides and counts (global
 *  window, bucket), one learns from the answer. Keys live under cb:gw:rl:
 *  and expire on their own. A script that fails drops the connection
 *  (common/redis), and this pod's limits take over at once.
 */
#include "rest_limits.h"

#include <assert.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "rest.h"

#define KEY_GLOBAL              "cb:gw:rl:global"
#define KEY_BLOCKED             "cb:gw:rl:blocked"
#define KEY_ROUTES              "cb:gw:rl:routes"
#define POLL_MS                 20
#define DEFAULT_GLOBAL_BLOCK_MS 1000 // a global 429 without Retry-After

typedef enum { MODE_UNKNOWN, MODE_SHARED, MODE_LOCAL } limits_mode_t;

struct gw_limits {
    cb_redis_t *redis; // borrowed, may be NULL
    cb_redis_script_t acquire_lua, release_lua;
    gw_ratelimit_t *local;
    int global_per_s, replicas;
    limits_mode_t mode;
    uint64_t member_seq;
    char member_prefix[40]; // unique to this process
};

gw_limits_t *
gw_limits_new (cb_redis_t *redis, int global_per_s, int replicas)
{
    gw_limits_t *self = calloc (1, sizeof *self);
    assert (self);
    self->redis = redis;
    self->global_per_s = global_per_s > 0 ? global_per_s : 50;
    self->replicas = replicas > 0 ? replicas : 1;
    int share = self->global_per_s / self->replicas;
    self->local = gw_ratelimit_new (self->global_per_s, share > 0 ? share : 1);
    self->acquire_lua.source = GW_RL_ACQUIRE_LUA;
    self->release_lua.source = GW_RL_RELEASE_LUA;
    char host[24] = "";
    gethostname (host, sizeof host - 1);
    snprintf (self->member_prefix, sizeof self->member_prefix, "%s-%d-%08x", host, (int) getpid (),
              (unsigned) (cb_random01 () * 4294967295.0));
    return self;
}

void
gw_limits_destroy (gw_limits_t **self_p)
{
    assert (self_p);
    gw_limits_t *self = *self_p;
    if (!self)
        return;
    gw_ratelimit_destroy (&self->local);
    free (self);
    *self_p = NULL;
}

static void
set_mode (gw_limits_t *self, limits_mode_t mode)
{
    if (self->mode == mode)
        return;
    self->mode = mode;
    if (mode == MODE_SHARED)
        cb_log_info (NULL, "discord rate limits shared through redis", "{s:i}", "global_per_s",
                     self->global_per_s);
    else
        cb_log_info (NULL, "discord rate limits per pod", "{s:i, s:i, s:s}", "global_per_s",
                     self->global_per_s / self->replicas, "replicas", self->replicas, "why",
                     self->redis ? "redis unreachable" : "no --redis-url");
}

//  The acquire script's reply: 0 (go: the bucket's key and probe flag
//  kept), a wait in ms, or -1 when it is not one.
static int64_t
acquire_answer (gw_limits_ticket_t *t, const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        return -1;
    if (r->element[0]->integer == 1 && r->element[1]->type == REDIS_REPLY_INTEGER)
        return r->element[1]->integer > 0 ? r->element[1]->integer : 1;
    if (r->elements != 3 || r->element[1]->type != REDIS_REPLY_STRING)
        return -1;
    snprintf (t->shared_key, sizeof t->shared_key, "%s", r->element[1]->str);
    t->shared_probe = r->element[2]->type == REDIS_REPLY_INTEGER && r->element[2]->integer;
    return 0;
}

//  0 (go), a wait in ms, or -1 when Redis failed.
static int64_t
shared_acquire (gw_limits_t *self, const gw_route_t *route, gw_limits_ticket_t *t)
{
    char limit[16], window[16], probe_ms[16], poll[16];
    snprintf (limit, sizeof limit, "%d", self->global_per_s);
    snprintf (window, sizeof window, "%d", GW_GLOBAL_WINDOW_MS);
    snprintf (probe_ms, sizeof probe_ms, "%d", GW_PROBE_TIMEOUT_MS);
    snprintf (poll, sizeof poll, "%d", POLL_MS);
    snprintf (t->member, sizeof t->member, "%s:%llu", self->member_prefix,
              (unsigned long long) ++self->member_seq);
    const char *argv[] = {KEY_GLOBAL,
                          KEY_BLOCKED,
                          KEY_ROUTES,
                          route->route,
                          route->major,
                          limit,
                          route->global_exempt ? "1" : "0",
                          t->member,
                          window,
                          probe_ms,
                          poll};
    size_t lens[11];
    for (int i = 0; i < 11; i++)
        lens[i] = strlen (argv[i]);
    redisReply *r =
        cb_redis_eval (self->redis, GW_REDIS_OP_REST, &self->acquire_lua, 3, 11, argv, lens);
    int64_t rc = acquire_answer (t, r);
    freeReplyObject (r);
    return rc;
}

int64_t
gw_limits_acquire (gw_limits_t *self, const gw_route_t *route, gw_limits_ticket_t *ticket)
{
    assert (self && route && ticket);
    memset (ticket, 0, sizeof *ticket);
    if (self->redis && cb_redis_connected (self->redis)) {
        int64_t wait = shared_acquire (self, route, ticket);
        if (wait >= 0) {
            set_mode (self, MODE_SHARED);
            ticket->shared = wait == 0;
            if (ticket->shared)
                gw_ratelimit_record (self->local, route, &ticket->local);
            return wait;
        }
    }
    set_mode (self, MODE_LOCAL);
    return gw_ratelimit_acquire (self->local, route, cb_mono_ms (), &ticket->local);
}

static void
shared_release (gw_limits_t *self, const gw_route_t *route, const gw_limits_ticket_t *t,
                const gw_rl_headers_t *h, int status)
{
    char told[2] = {h->remaining >= 0 && h->reset_after_ms >= 0 ? '1' : '0', 0};
    char remaining[24], reset[24], code[8], retry[24];
    snprintf (remaining, sizeof remaining, "%lld",
              (long long) (h->remaining < 0 ? 0 : h->remaining));
    snprintf (reset, sizeof reset, "%lld",
              (long long) (h->reset_after_ms < 0 ? 0 : h->reset_after_ms));
    snprintf (code, sizeof code, "%d", status);
    snprintf (retry, sizeof retry, "%lld",
              (long long) (h->retry_after_ms < 0 ? 0 : h->retry_after_ms));
    const char *argv[] = {t->shared_key,
                          KEY_ROUTES,
                          KEY_BLOCKED,
                          KEY_GLOBAL,
                          route->route,
                          h->bucket,
                          t->shared_probe ? "1" : "0",
                          told,
                          remaining,
                          reset,
                          code,
                          h->global ? "1" : "0",
                          retry,
                          route->global_exempt ? "" : t->member};
    size_t lens[14];
    for (int i = 0; i < 14; i++)
        lens[i] = strlen (argv[i]);
    freeReplyObject (
        cb_redis_eval (self->redis, GW_REDIS_OP_REST, &self->release_lua, 4, 14, argv, lens));
}

void
gw_limits_release (gw_limits_t *self, const gw_route_t *route, const gw_limits_ticket_t *ticket,
                   const gw_rl_headers_t *h, int status)
{
    assert (self && route && ticket);
    gw_rl_headers_t none;
    gw_rl_headers_init (&none);
    if (ticket->shared && cb_redis_connected (self->redis))
        shared_release (self, route, ticket, h ? h : &none, status);
    int64_t now = cb_mono_ms ();
    if (h && h->bucket[0])
        gw_ratelimit_learn_bucket (self->local, route, h->bucket);
    gw_ratelimit_release (self->local, &ticket->local, h, status, now);
    if (status == 429 && h && h->global)
        gw_ratelimit_block_global (
            self->local,
            now + (h->retry_after_ms > 0 ? h->retry_after_ms : DEFAULT_GLOBAL_BLOCK_MS));
}

void
gw_limits_sweep (gw_limits_t *self)
{
    assert (self);
    gw_ratelimit_sweep (self->local, cb_mono_ms ());
}
