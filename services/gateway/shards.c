/*  shards — the reactor half of the gateway's shards (see shards.h); the
 *  lws half is shard_client.c, and shard_client.h is the pipe between them.
 *
 *  This file holds what must be decided in one place for the whole pod, or
 *  with the other pods: the Gateway URL and shard count (/gateway/bot),
 *  which shards are ours, identify permission (buckets in Redis, the daily
 *  session-start budget), and the shards' states for readiness. The lws
 *  thread holds the sessions themselves.
 */
#include "shards.h"

#include <assert.h>
#include <inttypes.h>
#include <hiredis/hiredis.h>
#include <libwebsockets.h>
#include <string.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redis.h"
#include "gateway_proto.h"
#include "shard_client.h"

//  Discord: one IDENTIFY per bucket every 5 s, as Discord's clock sees
//  them arrive; the time from our grant to Discord's receipt varies by a
//  few ms to a few hundred, so grants are spaced with a margin.
#define GW_IDENTIFY_SPACING_MS 5500
#define GATEWAY_BOT_TIMEOUT_MS 15000
#define REDIS_TIMEOUT_MS       200

typedef enum { SHARD_DOWN, SHARD_CONNECTED, SHARD_FATAL } shard_state_t;

//  The argument of a /gateway/bot request: it may be answered after the
//  object is gone (gw_rest_destroy answers what is pending), so the object
//  only ever points at the ticket and clears owner when destroyed.
typedef struct {
    gw_shards_t *owner;
} ticket_t;

struct gw_shards {
    zloop_t *loop;
    gw_rest_t *rest;
    gw_interactions_t *interactions;
    char *token, *pod;
    int64_t intents;
    int want_count, replicas, ordinal;
    ticket_t *ticket; // the /gateway/bot request in flight, or NULL
    int retry_timer;  // -1 when none
    uint32_t fetch_attempt;
    bool fatal; // Discord refused the token
    gw_gateway_bot_t bot;
    int shard_count;       // 0 until /gateway/bot answered
    shard_state_t *states; // per shard id (shard_count entries)
    size_t owned, connected;
    gw_identify_gate_t gate; // buckets and budget, within this pod
    bool budget_logged;
    cb_redis_t *redis; // borrowed, may be NULL
    zactor_t *actor;
    struct lws_context *context; // the lws thread's, for lws_cancel_service only
    cb_metric_t *waits_budget, *waits_bucket;
};

static void fetch_gateway_bot (gw_shards_t *self);

//  ---------------------------------------------------------------------------
//  Identify permission

//  SET cb:identify:<bucket> <pod> NX PX 5500: 0 when this pod won the
//  bucket's slot, the wait in ms when another holds it, -1 when Redis could
//  not answer (the caller falls back to local spacing).
static int64_t
redis_take_bucket (gw_shards_t *self, int bucket)
{
    if (!self->redis || !cb_redis_connected (self->redis))
        return -1;
    char key[64];
    snprintf (key, sizeof key, "cb:identify:%d", bucket);
    char px[16];
    snprintf (px, sizeof px, "%d", GW_IDENTIFY_SPACING_MS);
    const char *argv[] = {"SET", key, self->pod, "NX", "PX", px};
    redisReply *r = cb_redis_command (self->redis, GW_REDIS_OP_IDENTIFY, 6, argv, NULL);
    if (!r)
        return -1;
    bool won = r->type == REDIS_REPLY_STATUS;
    freeReplyObject (r);
    if (won)
        return 0;
    const char *pttl[] = {"PTTL", key};
    r = cb_redis_command (self->redis, GW_REDIS_OP_IDENTIFY, 2, pttl, NULL);
    int64_t wait = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0 ? r->integer : 250;
    if (r)
        freeReplyObject (r);
    return wait;
}

//  The daily budget is spent: say so once, and ask /gateway/bot again
//  once it should have refilled.
static void
budget_spent (gw_shards_t *self, int64_t wait_ms)
{
    cb_counter_inc (self->waits_budget);
    if (!self->budget_logged)
        cb_log_error (NULL, "daily session start limit exhausted: no IDENTIFY until it resets",
                      "{s:I, s:I}", "total", (json_int_t) self->bot.total, "reset_after_ms",
                      (json_int_t) wait_ms);
    self->budget_logged = true;
    if (cb_mono_ms () >= self->gate.reset_at_ms && !self->ticket)
        fetch_gateway_bot (self);
}

//  The wait before shard may IDENTIFY (0: now, and the grant is counted).
static int64_t
identify_wait (gw_shards_t *self, int shard)
{
    int64_t now = cb_mono_ms ();
    gw_gate_reason_t reason;
    int64_t wait = gw_identify_gate_wait (&self->gate, shard, now, &reason);
    if (reason == GW_GATE_OPEN) {
        int64_t shared = redis_take_bucket (self, shard % self->gate.max_concurrency);
        wait = shared > 0 ? shared : 0;
    }
    if (reason == GW_GATE_BUDGET)
        budget_spent (self, wait);
    else if (wait > 0)
        cb_counter_inc (self->waits_bucket);
    else
        gw_identify_gate_take (&self->gate, shard, now);
    return wait;
}

//  The answer to ASK. Lost only if the lws thread stopped reading; it asks
//  again by itself after a while.
static void
send_grant (gw_shards_t *self, int shard, int64_t wait_ms)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, GW_PIPE_GRANT);
    zmsg_addstrf (msg, "%d", shard);
    zmsg_addstrf (msg, "%" PRId64, wait_ms);
    if (zmsg_send (&msg, zactor_sock (self->actor)) != 0)
        zmsg_destroy (&msg);
    lws_cancel_service (self->context);
}

//  ---------------------------------------------------------------------------
//  Messages from the lws thread

static void
on_state (gw_shards_t *self, int shard, const char *state)
{
    shard_state_t next = streq (state, "connected") ? SHARD_CONNECTED
                         : streq (state, "fatal")   ? SHARD_FATAL
                                                    : SHARD_DOWN;
    shard_state_t was = self->states[shard];
    self->states[shard] = next;
    if (was == SHARD_CONNECTED && next != SHARD_CONNECTED)
        self->connected--;
    if (was != SHARD_CONNECTED && next == SHARD_CONNECTED)
        self->connected++;
}

static int
on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    gw_shards_t *self = arg;
    zmsg_t *msg = zmsg_recv (pipe);
    if (!msg)
        return 0;
    char *command = zmsg_popstr (msg);
    char *id = zmsg_popstr (msg);
    zframe_t *value = zmsg_pop (msg);
    long shard = id ? strtol (id, NULL, 10) : -1;
    if (!command || shard < 0 || shard >= self->shard_count)
        ; // not ours to answer: the lws thread only sends well-formed messages
    else if (streq (command, GW_PIPE_INTERACTION) && value)
        gw_interactions_from_gateway (self->interactions, (const char *) zframe_data (value),
                                      zframe_size (value), (int) shard);
    else if (streq (command, GW_PIPE_ASK))
        send_grant (self, (int) shard, identify_wait (self, (int) shard));
    else if (streq (command, GW_PIPE_STATE) && value) {
        char *state = zframe_strdup (value);
        on_state (self, (int) shard, state);
        free (state);
    }
    free (command);
    free (id);
    zframe_destroy (&value);
    zmsg_destroy (&msg);
    return 0;
}

//  ---------------------------------------------------------------------------
//  /gateway/bot, and the lws thread

//  The owned shards: i % replicas == ordinal.
static gw_shard_client_args_t *
client_args (gw_shards_t *self)
{
    gw_shard_client_args_t *args = calloc (1, sizeof *args);
    assert (args);
    args->url = strdup (self->bot.url);
    args->token = strdup (self->token);
    args->intents = self->intents;
    args->shard_count = self->shard_count;
    args->shards = calloc ((size_t) self->shard_count, sizeof *args->shards);
    assert (args->url && args->token && args->shards);
    for (int i = 0; i < self->shard_count; i++)
        if (i % self->replicas == self->ordinal)
            args->shards[args->count++] = i;
    return args;
}

static int
start_shards (gw_shards_t *self)
{
    self->shard_count = self->want_count > 0 ? self->want_count : self->bot.shards;
    self->states = calloc ((size_t) self->shard_count, sizeof *self->states);
    assert (self->states);
    gw_shard_client_args_t *args = client_args (self);
    self->owned = args->count;
    cb_log_info (NULL, "starting gateway shards", "{s:i, s:i, s:i, s:i, s:i, s:I}", "shard_count",
                 self->shard_count, "owned", (int) self->owned, "replicas", self->replicas,
                 "ordinal", self->ordinal, "max_concurrency", self->bot.max_concurrency,
                 "session_starts_remaining", (json_int_t) self->bot.remaining);
    if (self->owned == 0)
        cb_log_warn (NULL, "this pod owns no shard: more gateway replicas than shards", NULL);
    self->actor = zactor_new (gw_shard_client_actor, args);
    int ok = 0;
    void *context = NULL;
    if (!self->actor || zsock_recv (self->actor, GW_PIPE_READY, &ok, &context) != 0 || !ok) {
        cb_log_error (NULL, "gateway shards could not start (lws client context)", NULL);
        zactor_destroy (&self->actor);
        return -1;
    }
    self->context = context;
    return zloop_reader (self->loop, zactor_sock (self->actor), on_pipe, self);
}

static int
on_retry_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    gw_shards_t *self = arg;
    self->retry_timer = -1;
    fetch_gateway_bot (self);
    return 0;
}

static void
retry_later (gw_shards_t *self)
{
    int64_t delay = cb_backoff_delay_ms (++self->fetch_attempt, 1000, 60000, cb_random01 ());
    self->retry_timer =
        zloop_timer (self->loop, (size_t) (delay > 0 ? delay : 1), 1, on_retry_timer, self);
}

//  A /gateway/bot answer, first or after the session budget was spent.
static void
on_gateway_bot (gw_shards_t *self, const gw_rest_response_t *r)
{
    gw_gateway_bot_t bot;
    char err[160] = "";
    if (r->status == 401 || r->status == 403) {
        cb_log_error (NULL, "Discord refused the bot token on /gateway/bot: shards stay down",
                      "{s:i}", "status", r->status);
        self->fatal = true;
        return;
    }
    if (r->status != 200 || gw_gateway_bot_parse (r->body, r->body_len, &bot, err, sizeof err)) {
        cb_log_warn (NULL, "GET /gateway/bot failed, retrying", "{s:i, s:s, s:s}", "status",
                     r->status, "error", r->error ? r->error : "", "detail", err);
        retry_later (self);
        return;
    }
    self->fetch_attempt = 0;
    self->budget_logged = false;
    int64_t now = cb_mono_ms ();
    if (!self->actor) {
        self->bot = bot;
        bool ok = gw_identify_gate_init (&self->gate, bot.max_concurrency, now) == 0;
        if (ok)
            gw_identify_gate_budget (&self->gate, bot.remaining, bot.reset_after_ms, now);
        if (!ok || start_shards (self) != 0)
            self->fatal = true;
        return;
    }
    //  A refetch after the budget was spent: only the budget changes.
    self->bot.remaining = bot.remaining;
    gw_identify_gate_budget (&self->gate, bot.remaining, bot.reset_after_ms, now);
}

static void
on_gateway_bot_answer (const gw_rest_response_t *r, void *arg)
{
    ticket_t *ticket = arg;
    gw_shards_t *self = ticket->owner;
    free (ticket);
    if (!self)
        return; // the object is gone
    self->ticket = NULL;
    on_gateway_bot (self, r);
}

static void
fetch_gateway_bot (gw_shards_t *self)
{
    ticket_t *ticket = calloc (1, sizeof *ticket);
    assert (ticket);
    ticket->owner = self;
    if (gw_rest_request (self->rest, "GET", "/gateway/bot", NULL,
                         cb_now_ms () + GATEWAY_BOT_TIMEOUT_MS, NULL, on_gateway_bot_answer,
                         ticket) != 0) {
        free (ticket);
        retry_later (self);
        return;
    }
    self->ticket = ticket;
}

//  ---------------------------------------------------------------------------
//  The object

gw_shards_t *
gw_shards_new (zloop_t *loop, gw_rest_t *rest, gw_interactions_t *interactions,
               const gw_shards_config_t *cfg)
{
    assert (loop && rest && interactions && cfg && cfg->token);
    assert (cfg->replicas >= 1 && cfg->ordinal >= 0 && cfg->ordinal < cfg->replicas);
    gw_shards_t *self = calloc (1, sizeof *self);
    assert (self);
    self->loop = loop;
    self->rest = rest;
    self->interactions = interactions;
    self->token = strdup (cfg->token);
    self->pod = strdup (cfg->pod ? cfg->pod : "gateway");
    self->intents = cfg->intents;
    self->want_count = cfg->shard_count;
    self->replicas = cfg->replicas;
    self->ordinal = cfg->ordinal;
    self->retry_timer = -1;
    assert (self->token && self->pod);
    self->redis = cfg->redis;
    self->waits_budget = cb_metrics_counter (
        "cordbank_gateway_identify_waits_total",
        "IDENTIFY requests told to wait, by reason (bucket: max_concurrency spacing; "
        "session_limit: daily session starts spent).",
        "reason=\"session_limit\"");
    self->waits_bucket =
        cb_metrics_counter ("cordbank_gateway_identify_waits_total", "", "reason=\"bucket\"");
    fetch_gateway_bot (self);
    return self;
}

void
gw_shards_destroy (gw_shards_t **self_p)
{
    assert (self_p);
    gw_shards_t *self = *self_p;
    if (!self)
        return;
    if (self->ticket)
        self->ticket->owner = NULL;
    if (self->retry_timer >= 0)
        zloop_timer_end (self->loop, self->retry_timer);
    if (self->actor) {
        zsock_t *pipe = zactor_sock (self->actor);
        zloop_reader_end (self->loop, pipe);
        zsock_set_sndtimeo (pipe, 1000);
        if (zstr_send (pipe, GW_PIPE_STOP) == 0)
            lws_cancel_service (self->context);
        zactor_destroy (&self->actor);
    }
    free (self->states);
    gw_identify_gate_clear (&self->gate);
    cb_secret_free (self->token);
    free (self->pod);
    free (self);
    *self_p = NULL;
}

bool
gw_shards_ready (const gw_shards_t *self)
{
    assert (self);
    return self->actor && !self->fatal && self->connected == self->owned;
}
