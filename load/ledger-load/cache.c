/*  cache — one reactor: a client per cache instance for the reads, and a
 *  writer (writes.h) for the grants and pays with their write-throughs.
 *
 *  The check is the one a user could make: per member, the newest version
 *  acknowledged so far (a transfer is acknowledged once its write-through
 *  was answered, as command answers the user only then). A transfer whose
 *  write-through failed (Redis down for that cache instance) is
 *  acknowledged to the user all the same, but the cache was never told of
 *  it, and nothing it promises covers it: such transfers are counted
 *  (write_through_failed) and do not raise the version reads are held to. A read takes a
 *  copy of that version when it is sent, and its answer must be at least
 *  as new. Everything runs on one thread, so "before the read was sent" is
 *  exact: no acknowledgement can slip between the copy and the send.
 *
 *  Reads use one attempt each and no retry: a read the cache could not
 *  answer is counted as failed, by status, rather than hidden.
 */
#include "load/ledger-load/cache.h"
#include "load/ledger-load/reads.h"
#include "load/ledger-load/writes.h"
#include "load/ledger-load/zipf.h"
#include "common/backoff.h"
#include "common/client.h"
#include "common/clock.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>

#define TICK_MS         50
#define CONNECT_WAIT_MS 3000
#define PAY_MAX         20
#define STATUSES        16

typedef enum { PHASE_CONNECT, PHASE_SEED, PHASE_LOAD, PHASE_DRAIN } phase_t;

typedef struct {
    uint64_t version; // newest acknowledged (0: none)
    int64_t balance;  // acknowledged with it
} acked_t;

typedef struct run run_t;
typedef struct read read_t;

struct read {
    run_t *run;
    read_t *prev, *next; // the run's open reads
    size_t member;
    uint32_t instance;
    uint64_t acked_at_send;
    int64_t started_us;
};

struct run {
    const ll_cache_config_t *config;
    zloop_t *loop;
    cb_client_t **caches;
    ll_writer_t *writer; // NULL when nothing is written
    ll_zipf_t *zipf;
    ll_reads_t *reads;
    acked_t *acked; // per member
    phase_t phase;
    int64_t phase_ms, load_start_ms, end_ms, last_answer_ms;
    read_t *open_reads;
    size_t reads_open, pays_open, seeds_open;
    uint64_t reads_started;
    size_t seed_next;
    uint64_t seed_ok, seed_failed;
    uint64_t pays[STATUSES];
    uint64_t write_through_failed; // kept when the writer goes
    uint32_t next_instance;
    size_t seconds_printed;
    bool filling;  // s_fill is on the stack: a callback must not re-enter it
    bool stopping; // answers from now on only close their requests
};

static void s_fill (run_t *run);

static size_t
s_second (const run_t *run, int64_t now_ms)
{
    return now_ms > run->load_start_ms ? (size_t) ((now_ms - run->load_start_ms) / 1000) : 0;
}

static uint64_t
s_guild_of (const run_t *run, size_t member)
{
    return run->config->guild_id + (uint64_t) member % (uint64_t) run->config->guilds;
}

static uint64_t
s_user_of (const run_t *run, size_t member)
{
    return (uint64_t) run->config->first_user + member;
}

//  The newest states of a transfer's members become the acknowledged ones
//  (the mint and users outside the run are not tracked).
static void
s_acknowledge (run_t *run, const ll_written_t *result)
{
    if (!result->written_through)
        return;
    for (size_t i = 0; i < result->count; i++) {
        const ll_account_t *account = &result->accounts[i];
        uint64_t first = (uint64_t) run->config->first_user;
        if (account->user_id < first || account->user_id - first >= (uint64_t) run->config->users)
            continue;
        acked_t *acked = &run->acked[account->user_id - first];
        if (account->version > acked->version)
            *acked = (acked_t){account->version, account->balance};
    }
}

// ---------------------------------------------------------------------
//  Transfers: seed grants and pays

static void
s_on_seeded (const ll_written_t *result, void *arg)
{
    run_t *run = arg;
    run->seeds_open--;
    if (result->status == CORDBANK__STATUS__STATUS_OK) {
        run->seed_ok++;
        s_acknowledge (run, result);
    } else
        run->seed_failed++;
    s_fill (run);
}

static int
s_start_seed (run_t *run)
{
    size_t member = run->seed_next++;
    if (ll_writer_transfer (
            run->writer, s_guild_of (run, member), CORDBANK__TRANSFER_KIND__TRANSFER_KIND_GRANT, 0,
            s_user_of (run, member), run->config->seed_balance, s_on_seeded, run) != 0)
        return -1;
    run->seeds_open++;
    return 0;
}

static void
s_on_paid (const ll_written_t *result, void *arg)
{
    run_t *run = arg;
    run->pays_open--;
    run->pays[result->status < STATUSES ? result->status : CORDBANK__STATUS__STATUS_INTERNAL]++;
    if (result->status == CORDBANK__STATUS__STATUS_OK)
        s_acknowledge (run, result);
    s_fill (run);
}

static int
s_start_pay (run_t *run)
{
    uint32_t users = (uint32_t) run->config->users;
    size_t from = randombytes_uniform (users);
    size_t to = randombytes_uniform (users - 1);
    if (to >= from)
        to++;
    if (ll_writer_transfer (run->writer, run->config->guild_id,
                            CORDBANK__TRANSFER_KIND__TRANSFER_KIND_PAY, s_user_of (run, from),
                            s_user_of (run, to), 1 + (int64_t) randombytes_uniform (PAY_MAX),
                            s_on_paid, run) != 0)
        return -1;
    run->pays_open++;
    return 0;
}

// ---------------------------------------------------------------------
//  Reads

static void
s_close_read (read_t *read)
{
    run_t *run = read->run;
    if (read->prev)
        read->prev->next = read->next;
    else
        run->open_reads = read->next;
    if (read->next)
        read->next->prev = read->prev;
    run->reads_open--;
    free (read);
}

//  The promise, for one OK answer.
static void
s_check (run_t *run, const read_t *read, const Cordbank__BalanceGetReply *body, size_t second)
{
    const acked_t *now = &run->acked[read->member];
    char why[256];
    if (body->version < read->acked_at_send) {
        snprintf (why, sizeof why,
                  "t=%.3fs user %" PRIu64 " of guild %" PRIu64 " from %s: version %" PRIu64
                  " (cached=%s), but version %" PRIu64 " was acknowledged before the read",
                  (double) (cb_mono_ms () - run->load_start_ms) / 1000.0,
                  s_user_of (run, read->member), s_guild_of (run, read->member),
                  run->config->cache_endpoints[read->instance], body->version,
                  body->cached ? "true" : "false", read->acked_at_send);
        ll_reads_violation (run->reads, why, second);
    } else if (body->version == now->version && body->version > 0 &&
               body->balance != now->balance) {
        snprintf (why, sizeof why,
                  "user %" PRIu64 " of guild %" PRIu64 " from %s: version %" PRIu64
                  " with balance %" PRId64 ", acknowledged with %" PRId64,
                  s_user_of (run, read->member), s_guild_of (run, read->member),
                  run->config->cache_endpoints[read->instance], body->version, body->balance,
                  now->balance);
        ll_reads_mismatch (run->reads, why);
    }
}

static void
s_on_read (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    (void) error;
    read_t *read = arg;
    run_t *run = read->run;
    if (run->stopping) {
        ll_reads_abandoned (run->reads);
        s_close_read (read);
        return;
    }
    int64_t now = cb_mono_ms ();
    const Cordbank__BalanceGetReply *body =
        reply && reply->body_case == CORDBANK__ENVELOPE__BODY_BALANCE_GET_REPLY
            ? reply->balance_get_reply
            : NULL;
    uint32_t answer =
        body    ? (uint32_t) body->status
        : reply ? (uint32_t) (reply->status ? reply->status : CORDBANK__STATUS__STATUS_INTERNAL)
                : (uint32_t) status;
    size_t second = s_second (run, now);
    ll_reads_answer (run->reads, answer, body && body->cached, body ? body->version : 0,
                     (uint64_t) (cb_mono_us () - read->started_us), second);
    if (body && answer == CORDBANK__STATUS__STATUS_OK)
        s_check (run, read, body, second);
    run->last_answer_ms = now;
    s_close_read (read);
    s_fill (run);
}

static int
s_start_read (run_t *run)
{
    read_t *read = calloc (1, sizeof *read);
    if (!read)
        return -1;
    size_t member = (size_t) ll_zipf_rank (run->zipf, cb_random01 ()) - 1;
    *read = (read_t){.run = run,
                     .next = run->open_reads,
                     .member = member,
                     .instance = run->next_instance++ % (uint32_t) run->config->cache_count,
                     .acked_at_send = run->acked[member].version,
                     .started_us = cb_mono_us ()};
    if (run->open_reads)
        run->open_reads->prev = read;
    run->open_reads = read;
    run->reads_open++;
    run->reads_started++;
    ll_reads_sent (run->reads);
    Cordbank__BalanceGetRequest get = CORDBANK__BALANCE_GET_REQUEST__INIT;
    get.guild_id = s_guild_of (run, member);
    get.user_id = s_user_of (run, member);
    get.min_version = 0; // a read by anyone but the writer: only the promise protects it
    Cordbank__Envelope request = CORDBANK__ENVELOPE__INIT;
    request.body_case = CORDBANK__ENVELOPE__BODY_BALANCE_GET_REQUEST;
    request.balance_get_request = &get;
    //  On a failure to queue, the callback has run (and freed read).
    (void) cb_client_call (run->caches[read->instance], &request, NULL,
                           cb_now_ms () + run->config->deadline_ms, true, s_on_read, read);
    return 0;
}

// ---------------------------------------------------------------------
//  Phases

static bool
s_reads_left (const run_t *run)
{
    return run->config->requests == 0 || run->reads_started < (uint64_t) run->config->requests;
}

//  Starts requests while slots are free and the phase wants more: at most
//  one round of slots per call, so that requests failing at once (nothing
//  to send to) cannot spin here; the tick comes back for the rest.
static void
s_fill (run_t *run)
{
    if (run->filling || run->stopping)
        return;
    run->filling = true;
    const ll_cache_config_t *c = run->config;
    size_t budget = (size_t) (c->pay_concurrency + c->read_concurrency);
    bool failed = false;
    if (run->phase == PHASE_SEED)
        for (; !failed && budget > 0 && run->seeds_open < (size_t) c->read_concurrency &&
               run->seed_next < (size_t) c->seed_users;
             budget--)
            failed = s_start_seed (run) != 0;
    if (run->phase == PHASE_LOAD && cb_mono_ms () < run->end_ms) {
        for (; !failed && budget > 0 && run->pays_open < (size_t) c->pay_concurrency; budget--)
            failed = s_start_pay (run) != 0;
        for (; !failed && budget > 0 && run->reads_open < (size_t) c->read_concurrency &&
               s_reads_left (run);
             budget--)
            failed = s_start_read (run) != 0;
    }
    if (failed) {
        fprintf (stderr, "cordbank-ledger-load: out of memory; stopping the load\n");
        run->seed_next = (size_t) c->seed_users;
        run->end_ms = cb_mono_ms ();
    }
    run->filling = false;
}

static void
s_begin_load (run_t *run, int64_t now)
{
    run->phase = PHASE_LOAD;
    run->phase_ms = run->load_start_ms = run->last_answer_ms = now;
    run->end_ms = now + run->config->duration_s * 1000;
    s_fill (run);
}

static bool
s_all_connected (const run_t *run)
{
    for (size_t i = 0; i < run->config->cache_count; i++)
        if (cb_client_peers (run->caches[i]) == 0)
            return false;
    return !run->writer || ll_writer_connected (run->writer);
}

static void
s_after_connect (run_t *run, int64_t now)
{
    if (!s_all_connected (run))
        fprintf (stderr, "cordbank-ledger-load: not every instance is connected; going on\n");
    if (run->writer && run->config->seed_users > 0 && run->config->seed_balance > 0) {
        run->phase = PHASE_SEED;
        run->phase_ms = now;
        s_fill (run);
    } else
        s_begin_load (run, now);
}

static void
s_print_seconds (run_t *run, int64_t now)
{
    while (!run->config->quiet && s_second (run, now) > run->seconds_printed)
        ll_reads_print_second (run->reads, stderr, run->seconds_printed++);
}

//  Moves the phases along (and refills what the last round could not
//  start); returns -1 to end the reactor.
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
        if (run->seed_next >= (size_t) run->config->seed_users && run->seeds_open == 0)
            s_begin_load (run, now);
        else
            s_fill (run);
        break;
    case PHASE_LOAD:
        s_print_seconds (run, now);
        if (now >= run->end_ms || (!s_reads_left (run) && run->config->pay_concurrency == 0)) {
            run->phase = PHASE_DRAIN;
            run->end_ms = now + 2 * run->config->deadline_ms + 1000;
        } else
            s_fill (run);
        break;
    case PHASE_DRAIN:
        s_print_seconds (run, now);
        if ((run->reads_open == 0 && run->pays_open == 0) || now >= run->end_ms)
            return -1;
        break;
    }
    return 0;
}

// ---------------------------------------------------------------------
//  Outputs

static json_t *
s_pays_json (const run_t *run)
{
    json_t *out = json_object ();
    for (uint32_t i = 0; out && i < STATUSES; i++)
        if ((run->pays[i] || i == CORDBANK__STATUS__STATUS_OK) &&
            json_object_set_new (out, cb_status_name ((Cordbank__Status) i),
                                 json_integer ((json_int_t) run->pays[i])) != 0) {
            json_decref (out);
            return NULL;
        }
    return out;
}

static json_t *
s_config_json (const run_t *run)
{
    const ll_cache_config_t *c = run->config;
    return json_pack ("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:s}",
                      "cache_endpoints", c->cache_text, "balance_endpoints",
                      c->balance_endpoints ? c->balance_endpoints : "", "pay_concurrency",
                      (json_int_t) c->pay_concurrency, "read_concurrency",
                      (json_int_t) c->read_concurrency, "requests", (json_int_t) c->requests,
                      "guild", (json_int_t) c->guild_id, "guilds", (json_int_t) c->guilds, "users",
                      (json_int_t) c->users, "first_user", (json_int_t) c->first_user, "seed_users",
                      (json_int_t) c->seed_users, "zipf", c->zipf, "seed_balance",
                      (json_int_t) c->seed_balance, "deadline_ms", (json_int_t) c->deadline_ms,
                      "duration_s", (json_int_t) c->duration_s, "key_prefix", c->key_prefix);
}

static bool
s_correct (const run_t *run)
{
    return ll_reads_violations (run->reads) == 0 && ll_reads_mismatches (run->reads) == 0;
}

static int
s_write_json (const run_t *run, double duration_s)
{
    uint64_t acked_members = 0;
    for (int64_t i = 0; i < run->config->users; i++)
        acked_members += run->acked[i].version > 0;
    json_t *summary = json_pack (
        "{s:s, s:f, s:o*, s:{s:I, s:I, s:o*, s:I, s:I}, s:o*, s:b}", "mode", run->config->mode,
        "duration_s", round (duration_s * 1000) / 1000, "reads",
        ll_reads_json (run->reads, duration_s), "writes", "seed_ok", (json_int_t) run->seed_ok,
        "seed_failed", (json_int_t) run->seed_failed, "pays", s_pays_json (run),
        "write_through_failed", (json_int_t) run->write_through_failed, "acknowledged_members",
        (json_int_t) acked_members, "config", s_config_json (run), "correct", s_correct (run));
    if (!summary)
        return -1;
    int rc = json_dumpf (summary, run->config->json_file, JSON_COMPACT | JSON_REAL_PRECISION (12));
    json_decref (summary);
    fputc ('\n', run->config->json_file);
    return rc == 0 && fflush (run->config->json_file) == 0 ? 0 : -1;
}

//  Ends every open request (abandoned) and writes the outputs.
static int
s_finish (run_t *run)
{
    const ll_cache_config_t *c = run->config;
    run->stopping = true;
    int64_t end = run->load_start_ms + c->duration_s * 1000;
    if (cb_mono_ms () < end)
        end = cb_mono_ms ();
    if (run->last_answer_ms > end)
        end = run->last_answer_ms;
    double duration_s = run->load_start_ms ? (double) (end - run->load_start_ms) / 1000.0 : 0;
    for (size_t i = 0; i < c->cache_count; i++)
        cb_client_destroy (&run->caches[i]); // calls back every read in flight
    if (run->writer)
        run->write_through_failed = ll_writer_write_through_failed (run->writer);
    ll_writer_destroy (&run->writer);
    int rc = s_correct (run) ? 0 : 1;
    if (c->json_file && s_write_json (run, duration_s) != 0) {
        fprintf (stderr, "cordbank-ledger-load: could not write the JSON summary\n");
        rc = 1;
    }
    printf ("%s, %.1f s: seeded %" PRIu64 " (%" PRIu64 " failed), pays OK %" PRIu64 "\n", c->mode,
            duration_s, run->seed_ok, run->seed_failed, run->pays[CORDBANK__STATUS__STATUS_OK]);
    ll_reads_print_summary (run->reads, stdout, duration_s);
    printf ("%s\n", s_correct (run) ? "correct" : "INCORRECT");
    return rc;
}

static int
s_setup (run_t *run)
{
    const ll_cache_config_t *c = run->config;
    run->loop = zloop_new ();
    run->zipf = ll_zipf_new ((uint64_t) c->users, c->zipf);
    run->reads = ll_reads_new ();
    run->acked = calloc ((size_t) c->users, sizeof *run->acked);
    run->caches = calloc (c->cache_count, sizeof *run->caches);
    if (!run->loop || !run->zipf || !run->reads || !run->acked || !run->caches)
        return -1;
    for (size_t i = 0; i < c->cache_count; i++) {
        run->caches[i] = cb_client_new ("cache", c->cache_endpoints[i], c->curve, run->loop);
        if (!run->caches[i]) {
            fprintf (stderr, "cordbank-ledger-load: cannot connect to %s\n", c->cache_endpoints[i]);
            return -1;
        }
        cb_client_set_attempts (run->caches[i], c->deadline_ms, 1);
    }
    bool writes = c->pay_concurrency > 0 || (c->seed_users > 0 && c->seed_balance > 0);
    if (writes) {
        run->writer = ll_writer_new (run->loop, c->balance_endpoints, c->cache_endpoints[0],
                                     c->curve, c->key_prefix, c->deadline_ms);
        if (!run->writer) {
            fprintf (stderr, "cordbank-ledger-load: cannot connect to %s\n", c->balance_endpoints);
            return -1;
        }
    }
    return zloop_timer (run->loop, TICK_MS, 0, s_on_tick, run) >= 0 ? 0 : -1;
}

int
ll_cache_run (const ll_cache_config_t *config)
{
    assert (config && config->cache_count > 0 && config->users >= 1 && config->guilds >= 1);
    assert (config->read_concurrency > 0 && config->deadline_ms > 0);
    assert (config->pay_concurrency == 0 || (config->guilds == 1 && config->users >= 2));
    run_t run = {.config = config, .phase = PHASE_CONNECT, .phase_ms = cb_mono_ms ()};
    int rc = 1;
    if (s_setup (&run) == 0) {
        zloop_start (run.loop); // until the drain ends (or SIGINT)
        rc = s_finish (&run);
    }
    for (size_t i = 0; run.caches && i < config->cache_count; i++)
        cb_client_destroy (&run.caches[i]);
    while (run.open_reads) // only when the reactor never ran
        s_close_read (run.open_reads);
    ll_writer_destroy (&run.writer);
    free (run.caches);
    free (run.acked);
    ll_reads_destroy (&run.reads);
    ll_zipf_destroy (&run.zipf);
    zloop_destroy (&run.loop);
    return rc;
}
