/*  warm — fills an empty Redis with the most active accounts.
 *
 *  Every (re)connection flushes Redis (redis.c), so at start and after an
 *  outage every read would miss and go to balance at once. When a flush
 *  ends, warm asks balance for the accounts that changed most recently
 *  (ActiveAccountsRequest: the members of the newest transfers) and stores
 *  them through the versioned compare-and-set, a bounded number per 10 ms
 *  tick so that the reactor keeps answering reads meanwhile.
 */
#include <assert.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/log.h"
#include "services/cache/cache.h"

#define WARM_DEADLINE_MS 5000
#define WARM_TICK_MS     10
#define WARM_PER_TICK    200

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    cache_t *self = arg;
    cache_warm_t *warm = &self->warm;
    size_t end =
        warm->next + WARM_PER_TICK < warm->count ? warm->next + WARM_PER_TICK : warm->count;
    for (; warm->next < end; warm->next++) {
        const cache_warm_entry_t *e = &warm->entries[warm->next];
        if (cache_store (self, e->guild_id, e->user_id, e->balance, e->version) < 0)
            break; // Redis went away: the next flush warms again
    }
    if (warm->next < end || warm->next == warm->count) {
        cb_counter_add (self->warmed, (double) warm->next);
        cb_log_info (NULL, warm->next == warm->count ? "cache warmed" : "cache warming stopped",
                     "{s:i, s:i}", "stored", (int) warm->next, "accounts", (int) warm->count);
        free (warm->entries);
        *warm = (cache_warm_t){.timer = -1};
        zloop_timer_end (self->loop, timer_id);
    }
    return 0;
}

static void
on_active (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    cache_t *self = arg;
    self->warm.asking = false;
    const Cordbank__ActiveAccountsReply *body =
        reply && reply->body_case == CORDBANK__ENVELOPE__BODY_ACTIVE_ACCOUNTS_REPLY
            ? reply->active_accounts_reply
            : NULL;
    if (!body || body->status != CORDBANK__STATUS__STATUS_OK || self->closing) {
        cb_log_warn (NULL, "cache not warmed: balance did not answer", "{s:s}", "error",
                     body    ? body->message
                     : error ? error
                             : cb_status_name (status));
        return;
    }
    if (body->n_accounts == 0 || self->warm.timer >= 0)
        return;
    cache_warm_entry_t *entries = calloc (body->n_accounts, sizeof *entries);
    if (!entries)
        return;
    for (size_t i = 0; i < body->n_accounts; i++)
        entries[i] = (cache_warm_entry_t){body->accounts[i]->guild_id, body->accounts[i]->user_id,
                                          body->accounts[i]->balance, body->accounts[i]->version};
    self->warm = (cache_warm_t){.entries = entries, .count = body->n_accounts};
    self->warm.timer = zloop_timer (self->loop, WARM_TICK_MS, 0, s_on_tick, self);
    if (self->warm.timer < 0) {
        free (entries);
        self->warm = (cache_warm_t){.timer = -1};
    }
}

//  Redis is flushed and serving: boards are marked for rebuilding, and
//  balance is asked what to put in it.
static void
s_on_ready (void *arg)
{
    cache_t *self = arg;
    cache_board_forget_all (self);
    if (self->warm_accounts == 0 || self->warm.asking || self->warm.timer >= 0 || self->closing)
        return;
    Cordbank__ActiveAccountsRequest body = CORDBANK__ACTIVE_ACCOUNTS_REQUEST__INIT;
    body.limit = (uint32_t) self->warm_accounts;
    Cordbank__Envelope envelope = CORDBANK__ENVELOPE__INIT;
    envelope.body_case = CORDBANK__ENVELOPE__BODY_ACTIVE_ACCOUNTS_REQUEST;
    envelope.active_accounts_request = &body;
    self->warm.asking = true;
    (void) cb_client_call (self->balance, &envelope, NULL, cb_now_ms () + WARM_DEADLINE_MS, true,
                           on_active, self);
}

void
cache_warm_init (cache_t *self, zloop_t *loop)
{
    assert (self && loop && self->redis);
    self->loop = loop;
    self->warm = (cache_warm_t){.timer = -1};
    self->warmed = cb_metrics_counter ("cordbank_cache_warmed_total",
                                       "Accounts stored by warming after a flush.", NULL);
    cache_redis_on_ready (self->redis, s_on_ready, self);
}

void
cache_warm_destroy (cache_t *self)
{
    assert (self);
    if (self->warm.timer >= 0)
        zloop_timer_end (self->loop, self->warm.timer);
    free (self->warm.entries);
    self->warm = (cache_warm_t){.timer = -1};
}
