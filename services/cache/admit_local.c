/*  admit_local — per-instance dedup and token buckets (see admit_local.h).
 *
 *  Keys are the Redis keys' shapes without their prefix ("u:<guild>:<user>",
 *  "g:<guild>", "<interaction>"), so a log or a debugger shows the same
 *  names in both modes. Everything here runs on the reactor thread only.
 */
#include "services/cache/admit_local.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "services/cache/bucket.h"

//  One remembered interaction, in the ring.
typedef struct {
    uint64_t id;
    int64_t expires_ms;
} seen_t;

typedef struct {
    bucket_t bucket;
    bool guild; // which limit it counts for (its rate and burst)
} entry_t;

struct admit_local {
    cache_admit_config_t config;
    zhashx_t *buckets; // key -> entry_t (owned)
    int64_t next_sweep_ms;
    zhashx_t *seen; // "<interaction>" -> its slot in ring (borrowed)
    seen_t *ring;   // ADMIT_LOCAL_SEEN_MAX slots, oldest at head
    size_t head, count;
    cb_log_limiter_t emptied; // the bucket table had to be emptied
};

static void
entry_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

admit_local_t *
admit_local_new (const cache_admit_config_t *config)
{
    assert (config);
    admit_local_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->buckets = zhashx_new ();
    self->seen = zhashx_new ();
    self->ring = calloc (ADMIT_LOCAL_SEEN_MAX, sizeof *self->ring);
    if (!self->buckets || !self->seen || !self->ring) {
        admit_local_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->buckets, entry_destroy);
    return self;
}

void
admit_local_destroy (admit_local_t **self_p)
{
    assert (self_p);
    admit_local_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->buckets);
    zhashx_destroy (&self->seen);
    free (self->ring);
    free (self);
    *self_p = NULL;
}

void
admit_local_clear (admit_local_t *self)
{
    assert (self);
    zhashx_purge (self->buckets);
    zhashx_purge (self->seen);
    self->head = self->count = 0;
}

static void
id_key (char *out, size_t outlen, uint64_t id)
{
    snprintf (out, outlen, "%" PRIu64, id);
}

//  Drops the oldest remembered id.
static void
forget_oldest (admit_local_t *self)
{
    char key[24];
    id_key (key, sizeof key, self->ring[self->head].id);
    zhashx_delete (self->seen, key);
    self->head = (self->head + 1) % ADMIT_LOCAL_SEEN_MAX;
    self->count--;
}

static void
expire_seen (admit_local_t *self, int64_t now_ms)
{
    while (self->count > 0 && self->ring[self->head].expires_ms <= now_ms)
        forget_oldest (self);
}

static void
remember (admit_local_t *self, uint64_t id, int64_t now_ms)
{
    if (self->count == ADMIT_LOCAL_SEEN_MAX)
        forget_oldest (self);
    size_t slot = (self->head + self->count) % ADMIT_LOCAL_SEEN_MAX;
    self->ring[slot] = (seen_t){id, now_ms + self->config.dedup_ttl_s * 1000};
    self->count++;
    char key[24];
    id_key (key, sizeof key, id);
    zhashx_insert (self->seen, key, &self->ring[slot]);
}

static void
limits_of (const admit_local_t *self, bool guild, int64_t *rate, int64_t *burst)
{
    *rate = guild ? self->config.guild_rate : self->config.user_rate;
    *burst = guild ? self->config.guild_burst : self->config.user_burst;
}

//  Forgets every full bucket (absent means full: no answer changes).
static void
sweep (admit_local_t *self, int64_t now_ms)
{
    zlist_t *idle = zlist_new ();
    assert (idle);
    zlist_autofree (idle);
    for (entry_t *e = zhashx_first (self->buckets); e; e = zhashx_next (self->buckets)) {
        int64_t rate, burst;
        limits_of (self, e->guild, &rate, &burst);
        if (bucket_idle (&e->bucket, now_ms, rate, burst))
            zlist_append (idle, (void *) zhashx_cursor (self->buckets));
    }
    for (const char *key = zlist_first (idle); key; key = zlist_next (idle))
        zhashx_delete (self->buckets, key);
    zlist_destroy (&idle);
    self->next_sweep_ms = now_ms + ADMIT_LOCAL_SWEEP_MS;
}

//  Room for the two buckets of one request: a sweep, and if too few of
//  the buckets are full, none kept at all.
static void
make_room (admit_local_t *self, int64_t now_ms)
{
    if (zhashx_size (self->buckets) + 2 <= ADMIT_LOCAL_BUCKETS_MAX)
        return;
    sweep (self, now_ms);
    if (zhashx_size (self->buckets) + 2 <= ADMIT_LOCAL_BUCKETS_MAX)
        return;
    uint64_t suppressed = 0;
    if (cb_log_limiter_allow (&self->emptied, &suppressed))
        cb_log_warn (NULL, "local rate-limit table full; every bucket starts full again",
                     "{s:i, s:I}", "buckets", ADMIT_LOCAL_BUCKETS_MAX, "suppressed",
                     (json_int_t) suppressed);
    zhashx_purge (self->buckets);
}

//  The bucket under key, brought up to now_ms (a new one is full). The
//  pointer is valid until a sweep or make_room: call make_room first.
static bucket_t *
bucket_at (admit_local_t *self, const char *key, bool guild, int64_t now_ms)
{
    int64_t rate, burst;
    limits_of (self, guild, &rate, &burst);
    entry_t *e = zhashx_lookup (self->buckets, key);
    if (!e) {
        e = malloc (sizeof *e);
        assert (e);
        *e = (entry_t){bucket_full (burst, now_ms), guild};
        zhashx_insert (self->buckets, key, e);
    }
    bucket_refill (&e->bucket, now_ms, rate, burst);
    return &e->bucket;
}

admit_decision_t
admit_local_decide (admit_local_t *self, uint64_t interaction_id, uint64_t guild_id,
                    uint64_t user_id, int64_t now_ms)
{
    assert (self);
    expire_seen (self, now_ms);
    if (now_ms >= self->next_sweep_ms)
        sweep (self, now_ms);
    char key[64];
    id_key (key, sizeof key, interaction_id);
    if (zhashx_lookup (self->seen, key))
        return (admit_decision_t){ADMIT_DUPLICATE, 0, ADMIT_LIMIT_NONE};
    make_room (self, now_ms);
    snprintf (key, sizeof key, "u:%" PRIu64 ":%" PRIu64, guild_id, user_id);
    bucket_t *user = bucket_at (self, key, false, now_ms);
    snprintf (key, sizeof key, "g:%" PRIu64, guild_id);
    bucket_t *guild = bucket_at (self, key, true, now_ms);
    int64_t user_wait = bucket_wait_ms (user, self->config.user_rate);
    int64_t guild_wait = bucket_wait_ms (guild, self->config.guild_rate);
    if (user_wait > 0 || guild_wait > 0) {
        bool by_guild = guild_wait > user_wait;
        return (admit_decision_t){ADMIT_RATE_LIMITED, by_guild ? guild_wait : user_wait,
                                  by_guild ? ADMIT_LIMIT_GUILD : ADMIT_LIMIT_USER};
    }
    user->milli -= BUCKET_TOKEN;
    guild->milli -= BUCKET_TOKEN;
    remember (self, interaction_id, now_ms);
    return (admit_decision_t){ADMIT_OK, 0, ADMIT_LIMIT_NONE};
}
