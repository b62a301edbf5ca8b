/*  run — one reactor, one cb_client_t per balance instance (see run.h).
 *
 *  Why a client per instance rather than one client over all of them: a
 *  repeat must reach a *different* instance than its original, and a DEALER
 *  over several peers picks the pipe itself. So each client gets one
 *  endpoint and a single attempt, and the retrying is done here, the way
 *  the command service's client would do it: an attempt answered
 *  UNAVAILABLE or DEADLINE_EXCEEDED is sent again with the SAME key to the
 *  next instance, after a jittered backoff, up to --max-attempts. Only an
 *  OK or a refusal acknowledges a request; one that runs out of attempts
 *  "gave up" (it may or may not have committed: its key is not acked).
 *
 *  A repeat re-sends an earlier key (picked among the most recent ones, so
 *  its original is often still in flight) with the same transfer. Every
 *  final answer to a key after the first must equal the first (keys.h).
 *
 *  Open requests are kept on a list so that the ones still waiting out a
 *  retry backoff when the run stops can be counted and freed.
 */
#include "load/ledger-load/run.h"
#include "load/ledger-load/keys.h"
#include "load/ledger-load/report.h"
#include "common/backoff.h"
#include "common/client.h"
#include "common/clock.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <sodium.h>

#define TICK_MS         50
#define CONNECT_WAIT_MS 3000
#define RETRY_BASE_MS   25
#define RETRY_CAP_MS    400
#define PAY_MAX         20
#define GRANT_ACTOR     1
//  A repeat picks among the last REPEAT_WINDOW x --concurrency keys.
#define REPEAT_WINDOW  4
#define MISMATCH_SHOWN 10

typedef enum { PHASE_CONNECT, PHASE_SEED, PHASE_LOAD, PHASE_DRAIN } phase_t;

typedef struct run run_t;
typedef struct op op_t;

//  One request: an original, a repeat or a seed grant, across its attempts.
struct op {
    run_t *run;
    op_t *prev, *next; // the run's open list
    size_t key;
    uint32_t instance; // of the current attempt
    uint32_t attempt;  // 1-based
    bool repeat, seed;
    int64_t started_us; // first send, cb_mono_us
    int64_t sent_ms;    // current attempt, cb_mono_ms
};

struct run {
    const ll_config_t *config;
    zloop_t *loop;
    cb_client_t **clients;
    ll_keys_t *keys;
    ll_report_t *report;
    phase_t phase;
    op_t *open;
    size_t open_count;
    size_t seed_next;      // next account to grant
    size_t first_load_key; // repeats never pick a seed key
    uint32_t next_instance;
    int64_t phase_ms;              // when the current phase began
    int64_t load_start_ms, end_ms; // load: its end; drain: the latest it may last
    int64_t last_answer_ms;
    size_t seconds_printed;
    uint64_t mismatches_shown;
    bool stopping; // answers from now on only close their requests
    bool filling;  // s_fill is on the stack: a callback must not re-enter it
};

static void s_send (op_t *op);
static void s_fill (run_t *run);

static uint32_t
s_uniform (uint64_t n)
{
    assert (n > 0 && n <= UINT32_MAX);
    return randombytes_uniform ((uint32_t) n);
}

static size_t
s_second (const run_t *run, int64_t now_ms)
{
    return now_ms > run->load_start_ms ? (size_t) ((now_ms - run->load_start_ms) / 1000) : 0;
}

static op_t *
s_open (run_t *run, size_t key, uint32_t instance)
{
    op_t *op = calloc (1, sizeof *op);
    if (!op)
        return NULL;
    *op = (op_t){.run = run,
                 .key = key,
                 .instance = instance,
                 .attempt = 1,
                 .started_us = cb_mono_us (),
                 .next = run->open};
    if (run->open)
        run->open->prev = op;
    run->open = op;
    run->open_count++;
    return op;
}

//  Takes the request off the list and frees it; the slot goes to the next.
static void
s_close (op_t *op)
{
    run_t *run = op->run;
    if (op->prev)
        op->prev->next = op->next;
    else
        run->open = op->next;
    if (op->next)
        op->next->prev = op->prev;
    run->open_count--;
    free (op);
    if (!run->stopping)
        s_fill (run);
}

//  A reply that breaks the ledger's contract, or NULL.
static const char *
s_contract_breach (const ll_key_t *key, const Cordbank__TransferReply *body)
{
    for (size_t i = 0; i < body->n_accounts; i++)
        if (body->accounts[i]->user_id != 0 && body->accounts[i]->balance < 0)
            return "a member's balance is below 0";
    if (body->status == CORDBANK__STATUS__STATUS_OK) {
        if (body->transfer_id == 0)
            return "OK without a transfer id";
        if (body->amount != key->amount)
            return "OK moved another amount than asked";
    } else if (body->status == CORDBANK__STATUS__STATUS_INSUFFICIENT_FUNDS) {
        if (body->transfer_id != 0)
            return "a refusal with a transfer id";
    } else
        return "an unexpected status for a valid transfer";
    return NULL;
}

static void
s_compare (run_t *run, size_t index, const Cordbank__TransferReply *body)
{
    const ll_key_t *key = ll_keys_get (run->keys, index);
    uint32_t first_status = key->status;
    uint64_t first_id = key->transfer_id;
    ll_answer_t answer = ll_keys_answer (run->keys, index, body->status, body->transfer_id);
    ll_report_replay (run->report, answer);
    if (answer == LL_ANSWER_MISMATCH && run->mismatches_shown++ < MISMATCH_SHOWN) {
        char name[160];
        ll_keys_name (run->keys, index, name, sizeof name);
        fprintf (stderr,
                 "cordbank-ledger-load: replay mismatch for key %s: first %s transfer %" PRIu64
                 ", now %s transfer %" PRIu64 "\n",
                 name, cb_status_name ((Cordbank__Status) first_status), first_id,
                 cb_status_name (body->status), body->transfer_id);
    }
}

//  An OK or a refusal: the request is acknowledged.
static void
s_final (op_t *op, const Cordbank__TransferReply *body)
{
    run_t *run = op->run;
    const char *breach = s_contract_breach (ll_keys_get (run->keys, op->key), body);
    if (breach) {
        char name[160];
        ll_keys_name (run->keys, op->key, name, sizeof name);
        ll_report_bad (run->report, name, breach);
    }
    if (breach && body->status != CORDBANK__STATUS__STATUS_OK &&
        body->status != CORDBANK__STATUS__STATUS_INSUFFICIENT_FUNDS) {
        //  Not an outcome of a transfer: nothing to acknowledge or compare.
        if (op->seed)
            ll_report_seeded (run->report, false);
        s_close (op);
        return;
    }
    s_compare (run, op->key, body);
    int64_t now = cb_mono_ms ();
    if (op->seed)
        ll_report_seeded (run->report, body->status == CORDBANK__STATUS__STATUS_OK);
    else {
        ll_report_acked (run->report, body->status, (uint64_t) (cb_mono_us () - op->started_us),
                         s_second (run, now));
        run->last_answer_ms = now;
    }
    s_close (op);
}

static int
s_on_retry_due (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    s_send (arg);
    return 0;
}

//  The attempt failed to get an outcome: the same key goes to the next
//  instance after a backoff, or the request gives up.
static void
s_retry (op_t *op)
{
    run_t *run = op->run;
    if (op->attempt >= (uint32_t) run->config->max_attempts) {
        if (op->seed)
            ll_report_seeded (run->report, false);
        else
            ll_report_gave_up (run->report);
        s_close (op);
        return;
    }
    op->attempt++;
    op->instance = (op->instance + 1) % (uint32_t) run->config->endpoint_count;
    if (!op->seed)
        ll_report_retry (run->report);
    int64_t delay =
        cb_backoff_delay_ms (op->attempt - 1, RETRY_BASE_MS, RETRY_CAP_MS, cb_random01 ());
    if (zloop_timer (run->loop, (size_t) (delay > 0 ? delay : 1), 1, s_on_retry_due, op) < 0)
        s_send (op);
}

static void
s_on_reply (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    (void) error;
    op_t *op = arg;
    run_t *run = op->run;
    if (run->stopping) {
        if (!op->seed)
            ll_report_abandoned (run->report);
        s_close (op);
        return;
    }
    int64_t now = cb_mono_ms ();
    const Cordbank__TransferReply *body =
        reply && reply->body_case == CORDBANK__ENVELOPE__BODY_TRANSFER_REPLY ? reply->transfer_reply
                                                                             : NULL;
    uint32_t answer = body    ? (uint32_t) body->status
                      : reply ? CORDBANK__STATUS__STATUS_INTERNAL
                              : (uint32_t) status;
    if (!op->seed)
        ll_report_attempt (run->report, answer, now - op->sent_ms < run->config->deadline_ms,
                           s_second (run, now));
    if (answer == CORDBANK__STATUS__STATUS_UNAVAILABLE ||
        answer == CORDBANK__STATUS__STATUS_DEADLINE_EXCEEDED)
        s_retry (op);
    else if (body)
        s_final (op, body);
    else {
        char name[160], why[96];
        ll_keys_name (run->keys, op->key, name, sizeof name);
        snprintf (why, sizeof why, "answered %s without a transfer reply",
                  cb_status_name ((Cordbank__Status) answer));
        ll_report_bad (run->report, name, why);
        if (op->seed)
            ll_report_seeded (run->report, false);
        s_close (op);
    }
}

//  One attempt of the request, to its current instance.
static void
s_send (op_t *op)
{
    run_t *run = op->run;
    const ll_key_t *key = ll_keys_get (run->keys, op->key);
    char name[160];
    ll_keys_name (run->keys, op->key, name, sizeof name);
    Cordbank__TransferRequest transfer = CORDBANK__TRANSFER_REQUEST__INIT;
    transfer.idempotency_key = name;
    transfer.guild_id = key->guild_id;
    transfer.kind = (Cordbank__TransferKind) key->kind;
    transfer.from_user = key->from_user;
    transfer.to_user = key->to_user;
    transfer.amount = key->amount;
    transfer.actor =
        key->kind == CORDBANK__TRANSFER_KIND__TRANSFER_KIND_GRANT ? GRANT_ACTOR : key->from_user;
    Cordbank__Envelope request = CORDBANK__ENVELOPE__INIT;
    request.body_case = CORDBANK__ENVELOPE__BODY_TRANSFER_REQUEST;
    request.transfer_request = &transfer;
    op->sent_ms = cb_mono_ms ();
    //  On a failure to queue, the callback has run (and may have freed op).
    cb_client_call (run->clients[op->instance], &request, NULL,
                    cb_now_ms () + run->config->deadline_ms, true, s_on_reply, op);
}

static void
s_start_seed (run_t *run)
{
    const ll_config_t *c = run->config;
    ll_key_t grant = {.guild_id = c->guild_id,
                      .to_user = run->seed_next + 1,
                      .amount = c->seed_balance,
                      .kind = CORDBANK__TRANSFER_KIND__TRANSFER_KIND_GRANT,
                      .first_instance = run->next_instance++ % (uint32_t) c->endpoint_count};
    int64_t index = ll_keys_add (run->keys, &grant);
    op_t *op = index >= 0 ? s_open (run, (size_t) index, grant.first_instance) : NULL;
    if (!op) {
        fprintf (stderr, "cordbank-ledger-load: out of memory\n");
        run->seed_next = (size_t) c->accounts;
        return;
    }
    run->seed_next++;
    op->seed = true;
    s_send (op);
}

//  The key of a repeat, or -1 for a new pay. Recent keys only, so that the
//  original is often still in flight (or just answered).
static int64_t
s_pick_repeat (const run_t *run)
{
    size_t count = ll_keys_count (run->keys);
    if (run->config->repeat_ratio <= 0 || count <= run->first_load_key ||
        cb_random01 () >= run->config->repeat_ratio)
        return -1;
    size_t window = REPEAT_WINDOW * (size_t) run->config->concurrency;
    size_t low = count - run->first_load_key > window ? count - window : run->first_load_key;
    return (int64_t) (low + s_uniform (count - low));
}

static int64_t
s_new_pay (run_t *run)
{
    const ll_config_t *c = run->config;
    uint64_t from = 1 + s_uniform ((uint64_t) c->accounts);
    uint64_t to = 1 + s_uniform ((uint64_t) c->accounts - 1);
    if (to >= from)
        to++;
    ll_key_t pay = {.guild_id = c->guild_id,
                    .from_user = from,
                    .to_user = to,
                    .amount = 1 + s_uniform (PAY_MAX),
                    .kind = CORDBANK__TRANSFER_KIND__TRANSFER_KIND_PAY,
                    .first_instance = run->next_instance++ % (uint32_t) c->endpoint_count};
    return ll_keys_add (run->keys, &pay);
}

static int
s_start_load (run_t *run)
{
    uint32_t n = (uint32_t) run->config->endpoint_count;
    int64_t index = s_pick_repeat (run);
    bool repeat = index >= 0;
    if (!repeat)
        index = s_new_pay (run);
    if (index < 0)
        return -1;
    uint32_t instance = ll_keys_get (run->keys, (size_t) index)->first_instance;
    if (repeat && n > 1)
        instance = (instance + 1 + s_uniform (n - 1)) % n;
    op_t *op = s_open (run, (size_t) index, instance);
    if (!op)
        return -1;
    op->repeat = repeat;
    ll_report_sent (run->report, repeat);
    s_send (op);
    return 0;
}

//  Starts requests while slots are free and the phase wants more: at most
//  one round of slots per call, and never from inside itself, so that
//  requests failing at once (no instance connected, a breaker open: the
//  callback runs inside cb_client_call) can neither recurse nor spin here;
//  the tick comes back for the rest.
static void
s_fill (run_t *run)
{
    if (run->filling)
        return;
    run->filling = true;
    size_t slots = (size_t) run->config->concurrency, budget = slots;
    if (run->phase == PHASE_SEED)
        for (; budget > 0 && run->open_count < slots &&
               run->seed_next < (size_t) run->config->accounts;
             budget--)
            s_start_seed (run);
    if (run->phase == PHASE_LOAD && cb_mono_ms () < run->end_ms)
        for (; budget > 0 && run->open_count < slots; budget--)
            if (s_start_load (run) != 0) {
                fprintf (stderr, "cordbank-ledger-load: out of memory; stopping the load\n");
                run->end_ms = cb_mono_ms ();
                break;
            }
    run->filling = false;
}

static void
s_begin_load (run_t *run, int64_t now)
{
    run->phase = PHASE_LOAD;
    run->phase_ms = run->load_start_ms = run->last_answer_ms = now;
    run->end_ms = now + run->config->duration_s * 1000;
    run->first_load_key = ll_keys_count (run->keys);
    s_fill (run);
}

static void
s_after_connect (run_t *run, int64_t now)
{
    for (size_t i = 0; i < run->config->endpoint_count; i++)
        if (cb_client_peers (run->clients[i]) == 0)
            fprintf (stderr, "cordbank-ledger-load: %s is not connected; going on\n",
                     run->config->endpoints[i]);
    if (run->config->seed_balance > 0) {
        run->phase = PHASE_SEED;
        run->phase_ms = now;
        s_fill (run);
    } else
        s_begin_load (run, now);
}

static bool
s_all_connected (const run_t *run)
{
    for (size_t i = 0; i < run->config->endpoint_count; i++)
        if (cb_client_peers (run->clients[i]) == 0)
            return false;
    return true;
}

static void
s_print_seconds (run_t *run, int64_t now)
{
    while (!run->config->quiet && s_second (run, now) > run->seconds_printed) {
        ll_report_print_second (run->report, stderr, run->seconds_printed, run->open_count);
        run->seconds_printed++;
    }
}

//  Moves the phases along; returns -1 to end the reactor.
static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    run_t *run = arg;
    int64_t now = cb_mono_ms ();
    switch (run->phase) {
    case PHASE_CONNECT:
        if (s_all_connected (run) || now - run->phase_ms >= CONNECT_WAIT_MS)
            s_after_connect (run, now);
        break;
    case PHASE_SEED:
        if (run->seed_next >= (size_t) run->config->accounts && run->open_count == 0)
            s_begin_load (run, now);
        else
            s_fill (run);
        break;
    case PHASE_LOAD:
        s_print_seconds (run, now);
        s_fill (run);
        if (now >= run->end_ms) {
            //  Long enough for every open request to use all its attempts.
            const ll_config_t *c = run->config;
            run->phase = PHASE_DRAIN;
            run->end_ms = now + c->max_attempts * (c->deadline_ms + RETRY_CAP_MS) + 1000;
        }
        break;
    case PHASE_DRAIN:
        s_print_seconds (run, now);
        if (run->open_count == 0 || now >= run->end_ms)
            return -1;
        break;
    }
    return 0;
}

//  Ends every open request (abandoned) and writes the outputs.
static int
s_finish (run_t *run)
{
    const ll_config_t *c = run->config;
    run->stopping = true;
    //  The load's length, or less when interrupted; more when the last
    //  answers came after it.
    int64_t end = run->load_start_ms + c->duration_s * 1000;
    if (cb_mono_ms () < end)
        end = cb_mono_ms ();
    if (run->last_answer_ms > end)
        end = run->last_answer_ms;
    for (size_t i = 0; i < c->endpoint_count; i++)
        cb_client_destroy (&run->clients[i]); // calls back every request in flight
    while (run->open) {                       // the ones waiting out a backoff
        if (!run->open->seed)
            ll_report_abandoned (run->report);
        s_close (run->open);
    }
    ll_report_info_t info = {
        .duration_s = run->load_start_ms ? (double) (end - run->load_start_ms) / 1000.0 : 0,
        .endpoints = c->endpoints_text,
        .concurrency = c->concurrency,
        .accounts = c->accounts,
        .deadline_ms = c->deadline_ms,
        .max_attempts = c->max_attempts,
        .seed_balance = c->seed_balance,
        .guild_id = c->guild_id,
        .repeat_ratio = c->repeat_ratio,
        .key_prefix = c->key_prefix,
    };
    int rc = ll_report_correct (run->report) ? 0 : 1;
    if (c->acked_file && ll_keys_write_acked (run->keys, c->acked_file) != 0) {
        fprintf (stderr, "cordbank-ledger-load: could not write the acked file\n");
        rc = 1;
    }
    if (c->json_file && ll_report_write_json (run->report, c->json_file, &info) != 0) {
        fprintf (stderr, "cordbank-ledger-load: could not write the JSON summary\n");
        rc = 1;
    }
    ll_report_print_summary (run->report, stdout, &info);
    return rc;
}

int
ll_run (const ll_config_t *config)
{
    assert (config && config->endpoint_count > 0 && config->accounts >= 2);
    run_t run = {.config = config, .phase = PHASE_CONNECT, .phase_ms = cb_mono_ms ()};
    run.loop = zloop_new ();
    run.keys = ll_keys_new (config->key_prefix);
    run.report = ll_report_new ();
    run.clients = calloc (config->endpoint_count, sizeof *run.clients);
    int rc = 1;
    if (run.loop && run.keys && run.report && run.clients) {
        bool ok = true;
        for (size_t i = 0; ok && i < config->endpoint_count; i++) {
            run.clients[i] =
                cb_client_new ("balance", config->endpoints[i], config->curve, run.loop);
            if (run.clients[i])
                cb_client_set_attempts (run.clients[i], config->deadline_ms, 1);
            else {
                fprintf (stderr, "cordbank-ledger-load: cannot connect to %s\n",
                         config->endpoints[i]);
                ok = false;
            }
        }
        if (ok && zloop_timer (run.loop, TICK_MS, 0, s_on_tick, &run) >= 0) {
            zloop_start (run.loop); // until the drain ends (or SIGINT)
            rc = s_finish (&run);
        }
    }
    for (size_t i = 0; run.clients && i < config->endpoint_count; i++)
        cb_client_destroy (&run.clients[i]);
    free (run.clients);
    ll_report_destroy (&run.report);
    ll_keys_destroy (&run.keys);
    zloop_destroy (&run.loop);
    return rc;
}
