/*  ledger — the balance service's only door to PostgreSQL (see ledger.h).
 *
 *  Requests wait in one FIFO queue per kind. s_pump sends work whenever a
 *  connection is free: the kind whose oldest request is oldest goes first,
 *  and transfers (or reads) go as one batch of up to batch_max. A queue of
 *  transfers (or reads) that is not yet full waits up to batch_window_us for company
 *  (a timerfd, since zloop timers count whole milliseconds); requests that
 *  gathered while every connection was busy go at once, they have waited.
 *  A 5 ms sweep answers whatever has waited, queued or on the wire, past
 *  its deadline.
 *
 *  When PostgreSQL goes away (a restart, a failover), requests wait for
 *  the pool to reconnect rather than fail: those queued, those that come,
 *  and those whose connection broke under them (sent again: a transfer
 *  carries its idempotency key, so a second try of one that committed
 *  only returns its outcome). Past LEDGER_RIDE_THROUGH_MS of outage, or
 *  at its deadline, each is answered UNAVAILABLE, and new ones at once.
 */
#include "services/balance/ledger.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "services/balance/pg.h"
#include "services/balance/ledger_sql.h"
#include "services/balance/pool.h"

//  What the client waits beyond statement_timeout before giving up.
#define LEDGER_CLIENT_MARGIN_MS 1000
//  A request is answered this long before its deadline, so that the answer
//  reaches the caller while it still waits: ten sweeps, room for a slow
//  (sanitized, loaded) reactor; many more now wait out an outage for PostgreSQL.
#define LEDGER_ANSWER_MARGIN_MS 50
#define LEDGER_SWEEP_MS         5
//  Whole-batch retries after a conflict (deadlock, serialization, a twin's key).
#define LEDGER_MAX_ATTEMPTS 4
//  How long requests wait for PostgreSQL to come back before the outage
//  is answered at once: a restart takes a few seconds (more on a busy
//  machine), a command's own deadline still bounds each wait, and the
//  gateway defers what takes longer than 2.5 s.
#define LEDGER_RIDE_THROUGH_MS 5000

typedef enum {
    JOB_TRANSFER = 0,
    JOB_GET,
    JOB_HISTORY,
    JOB_BOARD,
    JOB_ACTIVE,
    JOB_KINDS
} job_kind_t;

static const char *const s_job_names[JOB_KINDS] = {"transfer", "get", "history", "leaderboard",
                                                   "active"};

typedef struct item {
    struct item *next;
    job_kind_t kind;
    int64_t enqueued_us; // monotonic
    int64_t deadline_ms; // monotonic: answered UNAVAILABLE by then
    bool answered;       // by the sweep, while its batch is in flight
    bool solo;           // split out of a failed batch: goes alone
    int attempts;        // batches it was in that conflicted
    ledger_done_fn *fn;
    void *arg;
    ledger_request_t transfer; // JOB_TRANSFER; idempotency_key points at key
    char *key;
    ledger_account_key_t account; // GET, HISTORY; BOARD: the guild
    uint32_t count;               // HISTORY limit, BOARD page size
    uint32_t page;                // BOARD
    uint64_t before;              // HISTORY
} item_t;

typedef struct {
    item_t *head, *tail;
    size_t count;
} queue_t;

typedef struct {
    ledger_t *ledger;
    job_kind_t kind;
    item_t **items;
    size_t count;
    int64_t started_us;
} batch_t;

struct ledger {
    zloop_t *loop;
    pool_t *pool;
    int64_t statement_timeout_ms;
    int64_t window_us;
    size_t batch_max;
    queue_t queues[JOB_KINDS];
    size_t inflight;      // items in batches on the wire
    batch_t *batches[64]; // in flight, for the sweep (at most one per connection)
    int timer_fd;         // the batch window
    zmq_pollitem_t timer_item;
    bool timer_armed;
    int sweep_id;
    int64_t down_since_ms; // monotonic; 0 while the pool is up
    ledger_late_fn *late_fn;
    void *late_arg;
    cb_log_limiter_t sql_log;
    cb_metric_t *duration[JOB_KINDS];
    cb_metric_t *batch_size;
    cb_metric_t *queue_depth;
    cb_metric_t *retries, *splits;
};

static void s_pump (ledger_t *self, bool window_over);

bool
ledger_url_valid (const char *url)
{
    char *errmsg = NULL;
    PQconninfoOption *options = PQconninfoParse (url, &errmsg);
    PQfreemem (errmsg);
    if (!options)
        return false;
    PQconninfoFree (options);
    return true;
}

// ---------------------------------------------------------------------
//  Items and queues

static void
s_item_free (item_t *item)
{
    free (item->key);
    free (item);
}

//  Answers an item (once) and counts nothing: metrics are the caller's.
static void
s_answer (item_t *item, const ledger_result_t *result)
{
    if (item->answered)
        return;
    item->answered = true;
    item->fn (item->arg, result);
}

static void
s_answer_error (item_t *item, ledger_rc_t rc, const char *error)
{
    ledger_result_t result = {.rc = rc, .error = error};
    s_answer (item, &result);
}

static void
s_push (queue_t *queue, item_t *item, bool front)
{
    if (front) {
        item->next = queue->head;
        queue->head = item;
        if (!queue->tail)
            queue->tail = item;
    } else {
        item->next = NULL;
        if (queue->tail)
            queue->tail->next = item;
        else
            queue->head = item;
        queue->tail = item;
    }
    queue->count++;
}

static item_t *
s_pop (queue_t *queue)
{
    item_t *item = queue->head;
    if (item) {
        queue->head = item->next;
        if (!queue->head)
            queue->tail = NULL;
        queue->count--;
        item->next = NULL;
    }
    return item;
}

static size_t
s_queued (const ledger_t *self)
{
    size_t total = 0;
    for (int kind = 0; kind < JOB_KINDS; kind++)
        total += self->queues[kind].count;
    return total;
}

static void
s_depth (ledger_t *self)
{
    cb_gauge_set (self->queue_depth, (double) s_queued (self));
}

//  A monotonic deadline from the caller's wall-clock one.
static int64_t
s_deadline (const ledger_t *self, int64_t deadline_unix_ms)
{
    int64_t now = cb_mono_ms ();
    int64_t longest = now + self->statement_timeout_ms + LEDGER_CLIENT_MARGIN_MS;
    if (deadline_unix_ms <= 0)
        return longest;
    int64_t left = deadline_unix_ms - cb_now_ms () - LEDGER_ANSWER_MARGIN_MS;
    return left < self->statement_timeout_ms + LEDGER_CLIENT_MARGIN_MS ? now + left : longest;
}

//  true while requests may wait for PostgreSQL: it is up, or has been down
//  for less than LEDGER_RIDE_THROUGH_MS.
static bool
s_can_wait (ledger_t *self)
{
    if (pool_ready (self->pool)) {
        self->down_since_ms = 0;
        return true;
    }
    int64_t now = cb_mono_ms ();
    if (!self->down_since_ms)
        self->down_since_ms = now;
    return now - self->down_since_ms < LEDGER_RIDE_THROUGH_MS;
}

//  Queues item, or answers it at once when PostgreSQL has been down too long.
static void
s_submit (ledger_t *self, item_t *item, int64_t deadline_unix_ms)
{
    item->enqueued_us = cb_mono_us ();
    item->deadline_ms = s_deadline (self, deadline_unix_ms);
    if (!s_can_wait (self)) {
        s_answer_error (item, LEDGER_UNAVAILABLE, pool_error (self->pool));
        s_item_free (item);
        return;
    }
    s_push (&self->queues[item->kind], item, false);
    s_depth (self);
    s_pump (self, false);
}

static item_t *
s_item_new (job_kind_t kind, ledger_done_fn *fn, void *arg)
{
    item_t *item = calloc (1, sizeof *item);
    if (item) {
        item->kind = kind;
        item->fn = fn;
        item->arg = arg;
    }
    return item;
}

static void
s_out_of_memory (ledger_done_fn *fn, void *arg)
{
    ledger_result_t result = {.rc = LEDGER_INTERNAL, .error = "out of memory"};
    fn (arg, &result);
}

// ---------------------------------------------------------------------
//  Batches

static void s_on_result (void *arg, int rc, const PGresult *result, const char *error);

static void
s_batch_free (batch_t *batch)
{
    if (!batch)
        return;
    for (size_t i = 0; i < batch->count; i++)
        s_item_free (batch->items[i]);
    free (batch->items);
    free (batch);
}

static void
s_track (ledger_t *self, batch_t *batch, bool on)
{
    size_t slots = sizeof self->batches / sizeof self->batches[0];
    for (size_t i = 0; i < slots; i++)
        if (self->batches[i] == (on ? NULL : batch)) {
            self->batches[i] = on ? batch : NULL;
            break;
        }
    if (on)
        self->inflight += batch->count;
    else
        self->inflight -= batch->count;
}

//  The statement for a batch. 0, or -1 out of memory.
static int
s_statement (const batch_t *batch, ledger_statement_t *statement)
{
    const item_t *first = batch->items[0];
    if (batch->kind == JOB_HISTORY)
        return ledger_sql_history (statement, first->account.guild_id, first->account.user_id,
                                   first->count, first->before);
    if (batch->kind == JOB_BOARD)
        return ledger_sql_board (statement, first->account.guild_id, first->page, first->count);
    if (batch->kind == JOB_ACTIVE)
        return ledger_sql_active (statement, first->count, first->account.guild_id,
                                  first->account.user_id);
    const void **rows = malloc (batch->count * sizeof *rows);
    if (!rows)
        return -1;
    for (size_t i = 0; i < batch->count; i++)
        rows[i] = batch->kind == JOB_TRANSFER ? (const void *) &batch->items[i]->transfer
                                              : (const void *) &batch->items[i]->account;
    int rc =
        batch->kind == JOB_TRANSFER
            ? ledger_sql_transfers (statement, (const ledger_request_t *const *) rows, batch->count)
            : ledger_sql_gets (statement, (const ledger_account_key_t *const *) rows, batch->count);
    free (rows);
    return rc;
}

//  Sends batch on a free connection. 0, or -1 (nothing was sent).
static int
s_send (ledger_t *self, batch_t *batch)
{
    ledger_statement_t statement;
    if (s_statement (batch, &statement) != 0)
        return -1;
    batch->started_us = cb_mono_us ();
    int64_t timeout_ms = self->statement_timeout_ms + LEDGER_CLIENT_MARGIN_MS;
    int rc = pool_send (self->pool, statement.sql, statement.nparams,
                        (const char *const *) statement.params, timeout_ms, s_on_result, batch);
    ledger_statement_clear (&statement);
    return rc;
}

//  How long a batchable kind's queue still waits for company (0: it may
//  go now). Transfers and reads wait up to the window unless the queue is
//  full, split requests are in it, or the window is over for everyone.
static int64_t
s_wait_us (const ledger_t *self, int kind, bool window_over)
{
    const queue_t *queue = &self->queues[kind];
    if (window_over || self->window_us == 0 || (kind != JOB_TRANSFER && kind != JOB_GET) ||
        queue->count >= self->batch_max || queue->head->solo)
        return 0;
    int64_t waited = cb_mono_us () - queue->head->enqueued_us;
    return waited < self->window_us ? self->window_us - waited : 0;
}

//  The kind to serve next: of those that may go now, the one whose oldest
//  request is oldest. -1 when none may; *wait_us then says for how long.
static int
s_next_kind (const ledger_t *self, bool window_over, int64_t *wait_us)
{
    int best = -1;
    *wait_us = 0;
    for (int kind = 0; kind < JOB_KINDS; kind++) {
        const item_t *head = self->queues[kind].head;
        if (!head)
            continue;
        int64_t wait = s_wait_us (self, kind, window_over);
        if (wait > 0) {
            if (*wait_us == 0 || wait < *wait_us)
                *wait_us = wait;
            continue;
        }
        if (best < 0 || head->enqueued_us < self->queues[best].head->enqueued_us)
            best = kind;
    }
    return best;
}

static void
s_arm_window (ledger_t *self, int64_t wait_us)
{
    if (self->timer_armed)
        return;
    struct itimerspec spec = {
        .it_value = {.tv_sec = wait_us / 1000000, .tv_nsec = (wait_us % 1000000) * 1000 + 1}};
    if (timerfd_settime (self->timer_fd, 0, &spec, NULL) == 0)
        self->timer_armed = true;
}

//  Takes up to batch_max requests of one kind off its queue.
static batch_t *
s_take (ledger_t *self, int kind)
{
    queue_t *queue = &self->queues[kind];
    bool batched = kind == JOB_TRANSFER || kind == JOB_GET;
    size_t want = batched && !queue->head->solo ? self->batch_max : 1;
    if (want > queue->count)
        want = queue->count;
    batch_t *batch = calloc (1, sizeof *batch);
    item_t **items = batch ? calloc (want, sizeof *items) : NULL;
    if (!items) {
        free (batch);
        return NULL;
    }
    *batch = (batch_t){.ledger = self, .kind = (job_kind_t) kind, .items = items};
    //  A solo item (split out of a failed batch) goes alone, and a batch
    //  stops before the next solo one.
    while (batch->count < want && queue->head && (batch->count == 0 || !queue->head->solo))
        batch->items[batch->count++] = s_pop (queue);
    return batch;
}

static void
s_pump (ledger_t *self, bool window_over)
{
    while (pool_has_idle (self->pool)) {
        int64_t wait_us;
        int kind = s_next_kind (self, window_over, &wait_us);
        if (wait_us > 0)
            s_arm_window (self, wait_us);
        if (kind < 0)
            break;
        batch_t *batch = s_take (self, kind);
        if (!batch)
            break; // out of memory: the sweep answers them by their deadlines
        if (s_send (self, batch) != 0) {
            //  Back to the front, in order; the pool reconnects.
            for (size_t i = batch->count; i-- > 0;)
                s_push (&self->queues[kind], batch->items[i], true);
            batch->count = 0;
            s_batch_free (batch);
            break;
        }
        cb_histogram_observe (self->batch_size, (double) batch->count);
        s_track (self, batch, true);
    }
    s_depth (self);
}

//  Answers the items of a transfer batch from ledger_batch's rows.
static void
s_transfers_done (batch_t *batch, const PGresult *result)
{
    bool shaped = ledger_sql_transfers_shaped (result, batch->count);
    for (size_t i = 0; i < batch->count; i++) {
        ledger_outcome_t outcome;
        if (!shaped || ledger_sql_outcome (result, (int) i, &outcome) != 0) {
            s_answer_error (batch->items[i], LEDGER_INTERNAL,
                            "ledger_batch returned rows of an unexpected shape");
            continue;
        }
        ledger_result_t answer = {.rc = LEDGER_OK, .outcome = &outcome};
        s_answer (batch->items[i], &answer);
    }
}

static void
s_gets_done (batch_t *batch, const PGresult *result)
{
    bool shaped = ledger_sql_gets_shaped (result, batch->count);
    for (size_t i = 0; i < batch->count; i++) {
        ledger_result_t answer = {.rc = LEDGER_OK};
        if (!shaped) {
            s_answer_error (batch->items[i], LEDGER_INTERNAL, "unexpected balance rows");
            continue;
        }
        ledger_sql_balance (result, (int) i, &answer.balance, &answer.version);
        s_answer (batch->items[i], &answer);
    }
}

static void
s_history_done (item_t *item, const PGresult *result)
{
    ledger_history_t history;
    ledger_sql_history_rows (result, item->count, &history);
    ledger_result_t answer = {.rc = LEDGER_OK, .history = &history};
    s_answer (item, &answer);
}

static void
s_board_done (item_t *item, const PGresult *result)
{
    ledger_board_t board;
    ledger_sql_board_rows (result, item->page, item->count, &board);
    ledger_result_t answer = {.rc = LEDGER_OK, .board = &board};
    s_answer (item, &answer);
}

static void
s_active_done (item_t *item, const PGresult *result)
{
    ledger_active_t active;
    if (ledger_sql_active_rows (result, &active) != 0) {
        s_answer_error (item, LEDGER_INTERNAL, "out of memory");
        return;
    }
    ledger_result_t answer = {.rc = LEDGER_OK, .active = &active};
    s_answer (item, &answer);
    free (active.entries);
}

//  A statement that failed as a whole on a conflict, and may succeed when
//  run again: a transaction rollback (class 40: deadlock, serialization
//  failure) or a twin's key committed meanwhile (unique_violation).
static bool
s_conflict (const PGresult *result)
{
    const char *state = pg_sqlstate (result);
    return !strncmp (state, "40", 2) || !strcmp (state, "23505");
}

//  An error worth another try by the caller, not a bug: a conflict, a
//  statement cancelled (statement_timeout, a shutdown: class 57), a lock
//  not granted in time, the server short of resources (class 53), a
//  connection exception (class 08).
static bool
s_transient (const PGresult *result)
{
    const char *state = pg_sqlstate (result);
    return s_conflict (result) || !strncmp (state, "57", 2) || !strncmp (state, "53", 2) ||
           !strncmp (state, "08", 2) || !strcmp (state, "55P03");
}

//  A whole transfer batch failed in SQL. Conflicts roll everything back
//  and are retried; anything else splits the batch so that only the
//  request that causes it fails.
static bool
s_retry_or_split (ledger_t *self, batch_t *batch, const PGresult *result, const char *error)
{
    const char *state = pg_sqlstate (result);
    bool conflict = s_conflict (result);
    int attempts = 0;
    for (size_t i = 0; conflict && i < batch->count; i++)
        if (++batch->items[i]->attempts > attempts)
            attempts = batch->items[i]->attempts;
    if (conflict && attempts < LEDGER_MAX_ATTEMPTS) {
        cb_counter_inc (self->retries);
        for (size_t i = batch->count; i-- > 0;)
            s_push (&self->queues[batch->kind], batch->items[i], true);
    } else if (batch->count > 1) {
        cb_counter_inc (self->splits);
        for (size_t i = batch->count; i-- > 0;) {
            batch->items[i]->solo = true;
            s_push (&self->queues[batch->kind], batch->items[i], true);
        }
    } else
        return false;
    uint64_t suppressed = 0;
    if (cb_log_limiter_allow (&self->sql_log, &suppressed))
        cb_log_warn (NULL,
                     conflict ? "transfer batch conflicted; retrying"
                              : "transfer batch failed; splitting it",
                     "{s:s, s:s, s:i, s:i}", "sqlstate", state, "error", error, "requests",
                     (int) batch->count, "suppressed",
                     (int) (suppressed > 1000000 ? 1000000 : suppressed));
    batch->count = 0; // the items are queued again, not the batch's
    return true;
}

//  Transfers of the batch applied after their requests were answered.
static void
s_announce_late (ledger_t *self, const batch_t *batch, const PGresult *result)
{
    if (!self->late_fn || !ledger_sql_transfers_shaped (result, batch->count))
        return;
    for (size_t i = 0; i < batch->count; i++) {
        ledger_outcome_t outcome;
        if (batch->items[i]->answered && ledger_sql_outcome (result, (int) i, &outcome) == 0 &&
            outcome.status == CORDBANK__STATUS__STATUS_OK && !outcome.replayed)
            self->late_fn (self->late_arg, batch->items[i]->transfer.guild_id, &outcome);
    }
}

static void
s_on_result (void *arg, int rc, const PGresult *result, const char *error)
{
    batch_t *batch = arg;
    ledger_t *self = batch->ledger;
    s_track (self, batch, false);
    cb_histogram_observe (self->duration[batch->kind],
                          (double) (cb_mono_us () - batch->started_us) / 1e6);
    if (rc == PG_OK && batch->kind == JOB_TRANSFER)
        s_announce_late (self, batch, result);
    //  The rows follow the batch's order, so the items are answered by
    //  their place in it, before the answered ones go: the sweep may have
    //  answered some at their deadline (s_answer skips those).
    if (rc == PG_OK && batch->kind == JOB_TRANSFER)
        s_transfers_done (batch, result);
    else if (rc == PG_OK && batch->kind == JOB_GET)
        s_gets_done (batch, result);
    //  Items answered are dropped here, whatever the result.
    size_t kept = 0;
    for (size_t i = 0; i < batch->count; i++) {
        if (batch->items[i]->answered)
            s_item_free (batch->items[i]);
        else
            batch->items[kept++] = batch->items[i];
    }
    batch->count = kept;
    if (rc == PG_OK) {
        if (batch->count == 1 && batch->kind == JOB_HISTORY)
            s_history_done (batch->items[0], result);
        else if (batch->count == 1 && batch->kind == JOB_ACTIVE)
            s_active_done (batch->items[0], result);
        else if (batch->count == 1)
            s_board_done (batch->items[0], result);
    } else if (rc == PG_SQL_ERROR && batch->count > 0 &&
               (batch->kind != JOB_TRANSFER || !s_retry_or_split (self, batch, result, error))) {
        uint64_t suppressed = 0;
        if (cb_log_limiter_allow (&self->sql_log, &suppressed))
            cb_log_error (NULL, "ledger statement failed", "{s:s, s:s, s:s}", "job",
                          s_job_names[batch->kind], "sqlstate", pg_sqlstate (result), "error",
                          error);
        //  A conflict that outlived its retries, or a transient error, is
        //  worth another try by the caller; any other SQL error is a bug.
        for (size_t i = 0; i < batch->count; i++)
            s_answer_error (batch->items[i],
                            s_transient (result) ? LEDGER_UNAVAILABLE : LEDGER_INTERNAL, error);
    } else if (rc == PG_CONN_ERROR && s_can_wait (self)) {
        //  The connection broke: the statement may or may not have
        //  committed. The same statement again, with the same keys, tells;
        //  it goes when the pool has a connection again.
        for (size_t i = batch->count; i-- > 0;)
            s_push (&self->queues[batch->kind], batch->items[i], true);
        batch->count = 0;
    } else if (rc != PG_SQL_ERROR) {
        for (size_t i = 0; i < batch->count; i++)
            s_answer_error (batch->items[i], LEDGER_UNAVAILABLE, error);
    }
    s_batch_free (batch);
    //  Past the ride-through, requests queued would wait for nothing.
    if (!s_can_wait (self))
        for (int kind = 0; kind < JOB_KINDS; kind++)
            for (item_t *item; (item = s_pop (&self->queues[kind]));) {
                s_answer_error (item, LEDGER_UNAVAILABLE, pool_error (self->pool));
                s_item_free (item);
            }
    s_pump (self, true);
}

// ---------------------------------------------------------------------
//  Timers

static void
s_on_idle (void *arg)
{
    s_pump ((ledger_t *) arg, true);
}

static int
s_on_window (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop, (void) item;
    ledger_t *self = arg;
    uint64_t expirations;
    if (read (self->timer_fd, &expirations, sizeof expirations) < 0) {
        //  Nothing to read: a spurious wake-up; the timer stays as it is.
    }
    self->timer_armed = false;
    s_pump (self, true);
    return 0;
}

//  Answers what has waited past its deadline, queued or on the wire.
static int
s_on_sweep (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    ledger_t *self = arg;
    int64_t now = cb_mono_ms ();
    bool can_wait = s_can_wait (self);
    for (int kind = 0; kind < JOB_KINDS; kind++) {
        queue_t *queue = &self->queues[kind];
        item_t **link = &queue->head, *prev = NULL;
        while (*link) {
            item_t *item = *link;
            if (now < item->deadline_ms && can_wait) {
                prev = item;
                link = &item->next;
                continue;
            }
            *link = item->next;
            if (queue->tail == item)
                queue->tail = prev;
            queue->count--;
            s_answer_error (item, LEDGER_UNAVAILABLE,
                            pool_ready (self->pool)
                                ? "no PostgreSQL connection was free before the deadline"
                                : pool_error (self->pool));
            s_item_free (item);
        }
    }
    size_t slots = sizeof self->batches / sizeof self->batches[0];
    for (size_t b = 0; b < slots; b++) {
        batch_t *batch = self->batches[b];
        for (size_t i = 0; batch && i < batch->count; i++)
            if (!batch->items[i]->answered && now >= batch->items[i]->deadline_ms)
                s_answer_error (batch->items[i], LEDGER_UNAVAILABLE,
                                "PostgreSQL did not answer before the deadline");
    }
    s_depth (self);
    return 0;
}

// ---------------------------------------------------------------------
//  Life cycle

static cb_metric_t *
s_duration (const char *op)
{
    char labels[64];
    cb_metrics_labels (labels, sizeof labels, "op", op, NULL);
    return cb_metrics_histogram ("cordbank_balance_db_duration_seconds",
                                 "PostgreSQL statements of the balance service, by job.", labels,
                                 CB_LATENCY_BUCKETS, CB_LATENCY_BUCKETS_COUNT);
}

static const double s_batch_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

ledger_t *
ledger_new (zloop_t *loop, const ledger_config_t *config)
{
    assert (loop && config && config->pg_url);
    assert (config->pool_size > 0 && config->batch_max > 0);
    ledger_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->statement_timeout_ms = config->statement_timeout_ms;
    self->window_us = config->batch_window_us;
    self->batch_max = (size_t) config->batch_max;
    self->sweep_id = -1;
    for (int kind = 0; kind < JOB_KINDS; kind++)
        self->duration[kind] = s_duration (s_job_names[kind]);
    self->batch_size = cb_metrics_histogram (
        "cordbank_balance_batch_size", "Requests per ledger statement (group commit).", NULL,
        s_batch_buckets, sizeof s_batch_buckets / sizeof s_batch_buckets[0]);
    self->queue_depth = cb_metrics_gauge ("cordbank_balance_queue_depth",
                                          "Requests waiting for a PostgreSQL connection.", NULL);
    self->retries = cb_metrics_counter ("cordbank_balance_batch_retries_total",
                                        "Transfer batches retried after a conflict.", NULL);
    self->splits = cb_metrics_counter ("cordbank_balance_batch_splits_total",
                                       "Transfer batches split after an error.", NULL);
    self->timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    self->timer_item = (zmq_pollitem_t){.fd = self->timer_fd, .events = ZMQ_POLLIN};
    pool_config_t pool_config = {.pg_url = config->pg_url,
                                 .size = config->pool_size,
                                 .statement_timeout_ms = config->statement_timeout_ms,
                                 .connect_ms = 2000};
    if (self->timer_fd < 0 || zloop_poller (loop, &self->timer_item, s_on_window, self) != 0) {
        if (self->timer_fd >= 0)
            close (self->timer_fd);
        self->timer_fd = -1;
        ledger_destroy (&self);
        return NULL;
    }
    self->sweep_id = zloop_timer (loop, LEDGER_SWEEP_MS, 0, s_on_sweep, self);
    self->pool = self->sweep_id >= 0 ? pool_new (loop, &pool_config, s_on_idle, self) : NULL;
    if (!self->pool)
        ledger_destroy (&self);
    return self;
}

void
ledger_destroy (ledger_t **self_p)
{
    assert (self_p);
    ledger_t *self = *self_p;
    if (!self)
        return;
    //  The pool fails what is in flight (s_on_result answers and frees).
    pool_destroy (&self->pool);
    for (int kind = 0; kind < JOB_KINDS; kind++)
        for (item_t *item; (item = s_pop (&self->queues[kind]));) {
            s_answer_error (item, LEDGER_UNAVAILABLE, "shutting down");
            s_item_free (item);
        }
    if (self->sweep_id >= 0)
        zloop_timer_end (self->loop, self->sweep_id);
    if (self->timer_fd >= 0) {
        zloop_poller_end (self->loop, &self->timer_item);
        close (self->timer_fd);
    }
    free (self);
    *self_p = NULL;
}

bool
ledger_ready (const ledger_t *self)
{
    assert (self);
    return pool_ready (self->pool);
}

const char *
ledger_error (const ledger_t *self)
{
    assert (self);
    return pool_error (self->pool);
}

void
ledger_set_late (ledger_t *self, ledger_late_fn *fn, void *arg)
{
    assert (self);
    self->late_fn = fn;
    self->late_arg = arg;
}

size_t
ledger_pending (const ledger_t *self)
{
    assert (self);
    return s_queued (self) + self->inflight;
}

void
ledger_transfer (ledger_t *self, const ledger_request_t *request, int64_t deadline_unix_ms,
                 ledger_done_fn *fn, void *arg)
{
    assert (self && request && request->idempotency_key && fn);
    item_t *item = s_item_new (JOB_TRANSFER, fn, arg);
    char *key = item ? strdup (request->idempotency_key) : NULL;
    if (!key) {
        free (item);
        s_out_of_memory (fn, arg);
        return;
    }
    item->key = key;
    item->transfer = *request;
    item->transfer.idempotency_key = key;
    s_submit (self, item, deadline_unix_ms);
}

void
ledger_get (ledger_t *self, uint64_t guild_id, uint64_t user_id, int64_t deadline_unix_ms,
            ledger_done_fn *fn, void *arg)
{
    assert (self && fn);
    item_t *item = s_item_new (JOB_GET, fn, arg);
    if (!item) {
        s_out_of_memory (fn, arg);
        return;
    }
    item->account = (ledger_account_key_t){guild_id, user_id};
    s_submit (self, item, deadline_unix_ms);
}

void
ledger_history (ledger_t *self, uint64_t guild_id, uint64_t user_id, uint32_t limit,
                uint64_t before_transfer_id, int64_t deadline_unix_ms, ledger_done_fn *fn,
                void *arg)
{
    assert (self && fn && limit >= 1 && limit <= LEDGER_HISTORY_MAX);
    item_t *item = s_item_new (JOB_HISTORY, fn, arg);
    if (!item) {
        s_out_of_memory (fn, arg);
        return;
    }
    item->account = (ledger_account_key_t){guild_id, user_id};
    item->count = limit;
    item->before = before_transfer_id;
    s_submit (self, item, deadline_unix_ms);
}

void
ledger_leaderboard (ledger_t *self, uint64_t guild_id, uint32_t page, uint32_t page_size,
                    int64_t deadline_unix_ms, ledger_done_fn *fn, void *arg)
{
    assert (self && fn);
    assert (page >= 1 && page <= LEDGER_BOARD_PAGES && page_size >= 1 &&
            page_size <= LEDGER_BOARD_MAX);
    item_t *item = s_item_new (JOB_BOARD, fn, arg);
    if (!item) {
        s_out_of_memory (fn, arg);
        return;
    }
    item->account.guild_id = guild_id;
    item->count = page_size;
    item->page = page;
    s_submit (self, item, deadline_unix_ms);
}

void
ledger_active (ledger_t *self, uint32_t limit, uint64_t guild_id, uint64_t after_user,
               int64_t deadline_unix_ms, ledger_done_fn *fn, void *arg)
{
    assert (self && fn && limit >= 1 && limit <= LEDGER_ACTIVE_MAX);
    item_t *item = s_item_new (JOB_ACTIVE, fn, arg);
    if (!item) {
        s_out_of_memory (fn, arg);
        return;
    }
    item->count = limit;
    item->account = (ledger_account_key_t){guild_id, after_user};
    s_submit (self, item, deadline_unix_ms);
}
