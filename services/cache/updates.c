/*  updates — versioned balances written into Redis: BalanceChanged events
 *  from balance's PUB, and BalanceUpdate write-throughs from command.
 *
 *  Both arrive in any order and may repeat (PUB/SUB reconnects, command
 *  retries, several balance instances), so every write is the Lua
 *  compare-and-set in redis.c: the higher version wins and a replay is a
 *  no-op. Events may also be lost; the TTL bounds how long a missed update
 *  can be served to anyone but the user who made it (whose reads carry
 *  min_version).
 *
 *  TTLs get 0..10% random jitter so that keys written together (a busy
 *  minute, a warm-up after a flush) do not all expire in the same second
 *  and send their misses to balance at once.
 */
#include <assert.h>

#include "common/backoff.h"
#include "services/cache/cache.h"

static const char *const SOURCE_LABEL[CACHE_SOURCE_COUNT] = {"event", "write_through"};

void
cache_updates_init (cache_t *self)
{
    assert (self);
    for (int source = 0; source < CACHE_SOURCE_COUNT; source++)
        for (int applied = 0; applied < 2; applied++) {
            char labels[96];
            cb_metrics_labels (labels, sizeof labels, "source", SOURCE_LABEL[source], "applied",
                               applied ? "true" : "false", NULL);
            self->updates[source][applied] = cb_metrics_counter (
                "cordbank_cache_updates_total",
                "Balance updates by source; applied=false when not newer or Redis is down.",
                labels);
        }
}

static int64_t
ttl_with_jitter (const cache_t *self, uint64_t version)
{
    int64_t base = version == 0 ? self->zero_ttl_s : self->ttl_s;
    return base + (int64_t) ((double) base * 0.1 * cb_random01 ());
}

int
cache_store (cache_t *self, uint64_t guild_id, uint64_t user_id, int64_t balance, uint64_t version)
{
    assert (self);
    //  redis is NULL once main has destroyed it (a read failed at shutdown).
    if (!self->redis || !cache_redis_writable (self->redis))
        return -1;
    cache_balance_t value = {.version = version, .balance = balance};
    return cache_redis_store (self->redis, guild_id, user_id, &value,
                              ttl_with_jitter (self, version));
}

static int
apply_change (cache_t *self, const Cordbank__BalanceChanged *change, int source)
{
    int rc =
        cache_store (self, change->guild_id, change->user_id, change->balance, change->version);
    cb_counter_inc (self->updates[source][rc == 1]);
    if (rc >= 0)
        cache_board_apply (self, change);
    return rc;
}

void
cache_on_event (const Cordbank__Envelope *event, void *arg)
{
    cache_t *self = (cache_t *) arg;
    if (event->body_case != CORDBANK__ENVELOPE__BODY_BALANCE_CHANGED || !event->balance_changed)
        return;
    //  Counted by apply_change; a lost event is bounded by the TTL.
    (void) apply_change (self, event->balance_changed, CACHE_SOURCE_EVENT);
}

void
cache_on_update (cb_call_t *call, void *arg)
{
    cache_t *self = (cache_t *) arg;
    const Cordbank__BalanceUpdate *update = cb_call_request (call)->balance_update;
    if (!update) {
        cb_call_fail (&call, CORDBANK__STATUS__STATUS_INVALID_ARGUMENT, "missing request body");
        return;
    }
    bool failed = false;
    for (size_t i = 0; i < update->n_changes; i++) {
        if (failed || !update->changes[i])
            cb_counter_inc (self->updates[CACHE_SOURCE_WRITE_THROUGH][0]);
        else if (apply_change (self, update->changes[i], CACHE_SOURCE_WRITE_THROUGH) < 0)
            failed = true;
    }
    Cordbank__BalanceUpdateReply body = CORDBANK__BALANCE_UPDATE_REPLY__INIT;
    body.status = failed ? CORDBANK__STATUS__STATUS_UNAVAILABLE : CORDBANK__STATUS__STATUS_OK;
    body.message = (char *) (failed ? "cache: redis unavailable" : "");
    Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
    reply.body_case = CORDBANK__ENVELOPE__BODY_BALANCE_UPDATE_REPLY;
    reply.balance_update_reply = &body;
    cb_call_reply (&call, &reply);
}
