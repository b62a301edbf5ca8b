/*  handlers — the balance service's requests and events (see handlers.h).
 *
 *  Statuses travel two ways, as elsewhere in cordbank: an outcome of the
 *  request itself (OK, INSUFFICIENT_FUNDS, COOLDOWN, INVALID_ARGUMENT) is a
 *  reply body the caller renders; a failure to answer (UNAVAILABLE when
 *  PostgreSQL is down, DEADLINE_EXCEEDED) is a bodyless cb_call_fail, like
 *  the server's own refusals, so callers treat both the same way.
 */
#include "services/balance/handlers.h"

#include <assert.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"

#define KIND_COUNT   5  // TransferKind values, UNSPECIFIED included
#define STATUS_COUNT 11 // Status values, UNSPECIFIED included

struct handlers {
    ledger_t *ledger;       // borrowed
    cb_publisher_t *events; // borrowed
    handlers_rewards_t rewards;
    cb_log_limiter_t unavailable_log;                 // an outage must not log once per request
    cb_metric_t *transfers[KIND_COUNT][STATUS_COUNT]; // looked up on first use
};

static const char *const s_kind_labels[KIND_COUNT] = {"unknown", "pay", "daily", "work", "grant"};

static void s_publish (handlers_t *self, const char *trace_id, uint64_t guild_id,
                       const ledger_outcome_t *outcome);

static void
s_on_late (void *arg, uint64_t guild_id, const ledger_outcome_t *outcome)
{
    s_publish ((handlers_t *) arg, "", guild_id, outcome);
}

handlers_t *
handlers_new (ledger_t *ledger, cb_publisher_t *events, const handlers_rewards_t *rewards)
{
    assert (ledger && events && rewards);
    assert (rewards->work_min <= rewards->work_max);
    handlers_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ledger = ledger;
    self->events = events;
    self->rewards = *rewards;
    ledger_set_late (ledger, s_on_late, self);
    return self;
}

void
handlers_destroy (handlers_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

static void
s_count (handlers_t *self, int kind, Cordbank__Status status)
{
    if (kind < 0 || kind >= KIND_COUNT)
        kind = 0;
    if ((int) status < 0 || (int) status >= STATUS_COUNT)
        status = CORDBANK__STATUS__STATUS_INTERNAL;
    cb_metric_t **series = &self->transfers[kind][status];
    if (!*series) {
        char labels[96];
        cb_metrics_labels (labels, sizeof labels, "kind", s_kind_labels[kind], "status",
                           cb_status_label (status), NULL);
        *series = cb_metrics_counter ("cordbank_balance_transfers_total",
                                      "Transfer requests answered, by kind and status.", labels);
    }
    cb_counter_inc (*series);
}

//  Uniform in [0, n) for any n > 0 (randombytes_uniform stops at 2^32).
static uint64_t
s_uniform (uint64_t n)
{
    if (n <= UINT32_MAX)
        return randombytes_uniform ((uint32_t) n);
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, value;
    do
        randombytes_buf (&value, sizeof value);
    while (value >= limit);
    return value % n;
}

//  Keys are interaction ids in practice; anything printable is allowed,
//  but bounded, so a key is always a valid, short SQL text value.
static bool
s_key_valid (const char *key)
{
    size_t length = 0;
    for (; key[length]; length++)
        if (key[length] < 0x21 || key[length] > 0x7e || length >= LEDGER_KEY_MAX)
            return false;
    return length > 0;
}

//  A refusal decided here, before any SQL (empty key, unknown kind); NULL
//  when the request may go to the ledger, which checks everything else.
static const char *
s_early_refusal (const Cordbank__TransferRequest *request)
{
    if (!request->idempotency_key || !*request->idempotency_key)
        return "idempotency_key is required";
    if (!s_key_valid (request->idempotency_key))
        return "idempotency_key must be 1 to 128 printable ASCII characters";
    if (request->kind < CORDBANK__TRANSFER_KIND__TRANSFER_KIND_PAY ||
        request->kind > CORDBANK__TRANSFER_KIND__TRANSFER_KIND_GRANT)
        return "unknown transfer kind";
    return NULL;
}

//  The ledger request; DAILY and WORK amounts are chosen here.
static ledger_request_t
s_ledger_request (const handlers_t *self, const Cordbank__TransferRequest *request)
{
    ledger_request_t out = {
        .idempotency_key = request->idempotency_key,
        .guild_id = request->guild_id,
        .kind = request->kind,
        .from_user = request->from_user,
        .to_user = request->to_user,
        .amount = request->amount,
        .actor = request->actor,
        .now_ms = cb_now_ms (),
    };
    const handlers_rewards_t *r = &self->rewards;
    if (request->kind == CORDBANK__TRANSFER_KIND__TRANSFER_KIND_DAILY) {
        out.amount = r->daily_amount;
        out.cooldown_ms = r->daily_cooldown_ms;
    } else if (request->kind == CORDBANK__TRANSFER_KIND__TRANSFER_KIND_WORK) {
        uint64_t span = (uint64_t) (r->work_max - r->work_min) + 1;
        out.amount = r->work_min + (int64_t) s_uniform (span);
        out.cooldown_ms = r->work_cooldown_ms;
    }
    return out;
}

static void
s_publish (handlers_t *self, const char *trace_id, uint64_t guild_id,
           const ledger_outcome_t *outcome)
{
    for (size_t i = 0; i < outcome->account_count; i++) {
        Cordbank__BalanceChanged changed = CORDBANK__BALANCE_CHANGED__INIT;
        changed.guild_id = guild_id;
        changed.user_id = outcome->accounts[i].user_id;
        changed.balance = outcome->accounts[i].balance;
        changed.version = outcome->accounts[i].version;
        Cordbank__Envelope event = CORDBANK__ENVELOPE__INIT;
        event.trace_id = (char *) trace_id;
        event.body_case = CORDBANK__ENVELOPE__BODY_BALANCE_CHANGED;
        event.balance_changed = &changed;
        if (cb_publisher_send (self->events, &event) != 0)
            cb_log_warn (trace_id, "BalanceChanged event dropped", NULL);
    }
}

static void
s_reply_outcome (cb_call_t **call_p, const ledger_outcome_t *outcome)
{
    Cordbank__AccountState states[LEDGER_MAX_ACCOUNTS];
    Cordbank__AccountState *pointers[LEDGER_MAX_ACCOUNTS];
    for (size_t i = 0; i < outcome->account_count; i++) {
        cordbank__account_state__init (&states[i]);
        states[i].user_id = outcome->accounts[i].user_id;
        states[i].balance = outcome->accounts[i].balance;
        states[i].version = outcome->accounts[i].version;
        pointers[i] = &states[i];
    }
    Cordbank__TransferReply body = CORDBANK__TRANSFER_REPLY__INIT;
    body.status = outcome->status;
    body.message = (char *) outcome->message;
    body.transfer_id = outcome->transfer_id;
    body.amount = outcome->amount;
    body.n_accounts = outcome->account_count;
    body.accounts = pointers;
    body.retry_at_unix_ms = outcome->retry_at_ms;
    body.replayed = outcome->replayed;
    Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
    reply.body_case = CORDBANK__ENVELOPE__BODY_TRANSFER_REPLY;
    reply.transfer_reply = &body;
    cb_call_reply (call_p, &reply);
}

//  One request waiting on the ledger.
typedef struct {
    handlers_t *self;
    cb_call_t *call;
    int kind;          // transfers: for metrics and events
    uint64_t guild_id; // transfers: for events
} pending_t;

static pending_t *
s_pending (handlers_t *self, cb_call_t **call_p, int kind, uint64_t guild_id)
{
    pending_t *pending = malloc (sizeof *pending);
    if (!pending) {
        cb_call_fail (call_p, CORDBANK__STATUS__STATUS_INTERNAL, "out of memory");
        return NULL;
    }
    *pending = (pending_t){.self = self, .call = *call_p, .kind = kind, .guild_id = guild_id};
    *call_p = NULL;
    return pending;
}

//  A ledger failure: UNAVAILABLE (down, or no answer by the deadline) or
//  INTERNAL, answered without a body. Frees pending.
static bool
s_ledger_failed (pending_t *pending, const ledger_result_t *result, const char *what)
{
    if (result->rc == LEDGER_OK)
        return false;
    handlers_t *self = pending->self;
    Cordbank__Status status = result->rc == LEDGER_UNAVAILABLE
                                  ? CORDBANK__STATUS__STATUS_UNAVAILABLE
                                  : CORDBANK__STATUS__STATUS_INTERNAL;
    uint64_t suppressed = 0;
    if (cb_log_limiter_allow (&self->unavailable_log, &suppressed))
        cb_log_warn (cb_call_trace_id (pending->call), what, "{s:s, s:i}", "error",
                     result->error ? result->error : "", "suppressed",
                     (int) (suppressed > 1000000 ? 1000000 : suppressed));
    if (pending->kind >= 0)
        s_count (self, pending->kind, status);
    cb_call_fail (&pending->call, status, result->error);
    free (pending);
    return true;
}

static void
s_transfer_done (void *arg, const ledger_result_t *result)
{
    pending_t *pending = arg;
    if (s_ledger_failed (pending, result, "transfer not answered by the database"))
        return;
    handlers_t *self = pending->self;
    const ledger_outcome_t *outcome = result->outcome;
    const char *trace_id = cb_call_trace_id (pending->call);
    if (outcome->status == CORDBANK__STATUS__STATUS_OK && !outcome->replayed)
        s_publish (self, trace_id, pending->guild_id, outcome);
    cb_log_debug (trace_id, "transfer answered", "{s:s, s:s, s:I, s:b}", "kind",
                  s_kind_labels[pending->kind], "status", cb_status_name (outcome->status),
                  "transfer_id", (json_int_t) outcome->transfer_id, "replayed", outcome->replayed);
    s_count (self, pending->kind, outcome->status);
    s_reply_outcome (&pending->call, outcome);
    free (pending);
}

static void
s_on_transfer (cb_call_t *call, void *arg)
{
    handlers_t *self = arg;
    const Cordbank__TransferRequest *request = cb_call_request (call)->transfer_request;
    int kind = request->kind;
    if (kind < 0 || kind >= KIND_COUNT)
        kind = 0;
    const char *refusal = s_early_refusal (request);
    if (refusal) {
        ledger_outcome_t outcome = {.status = CORDBANK__STATUS__STATUS_INVALID_ARGUMENT};
        snprintf (outcome.message, sizeof outcome.message, "%s", refusal);
        s_count (self, kind, outcome.status);
        s_reply_outcome (&call, &outcome);
        return;
    }
    pending_t *pending = s_pending (self, &call, kind, request->guild_id);
    if (!pending)
        return;
    ledger_request_t ledger_request = s_ledger_request (self, request);
    ledger_transfer (self->ledger, &ledger_request, cb_call_deadline_ms (pending->call),
                     s_transfer_done, pending);
}

static void
s_get_done (void *arg, const ledger_result_t *result)
{
    pending_t *pending = arg;
    if (s_ledger_failed (pending, result, "balance read failed: database unavailable"))
        return;
    Cordbank__BalanceGetReply body = CORDBANK__BALANCE_GET_REPLY__INIT;
    body.status = CORDBANK__STATUS__STATUS_OK;
    body.balance = result->balance;
    body.version = result->version;
    Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
    reply.body_case = CORDBANK__ENVELOPE__BODY_BALANCE_GET_REPLY;
    reply.balance_get_reply = &body;
    cb_call_reply (&pending->call, &reply);
    free (pending);
}

static void
s_on_balance_get (cb_call_t *call, void *arg)
{
    handlers_t *self = arg;
    const Cordbank__BalanceGetRequest *request = cb_call_request (call)->balance_get_request;
    if (request->guild_id == 0) {
        Cordbank__BalanceGetReply body = CORDBANK__BALANCE_GET_REPLY__INIT;
        body.status = CORDBANK__STATUS__STATUS_INVALID_ARGUMENT;
        body.message = (char *) "guild_id is required";
        Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
        reply.body_case = CORDBANK__ENVELOPE__BODY_BALANCE_GET_REPLY;
        reply.balance_get_reply = &body;
        cb_call_reply (&call, &reply);
        return;
    }
    pending_t *pending = s_pending (self, &call, -1, 0);
    if (pending)
        ledger_get (self->ledger, request->guild_id, request->user_id,
                    cb_call_deadline_ms (pending->call), s_get_done, pending);
}

static void
s_history_reply (cb_call_t **call_p, Cordbank__Status status, const char *message,
                 const ledger_history_t *history)
{
    Cordbank__HistoryEntry entries[LEDGER_HISTORY_MAX];
    Cordbank__HistoryEntry *pointers[LEDGER_HISTORY_MAX];
    Cordbank__HistoryReply body = CORDBANK__HISTORY_REPLY__INIT;
    body.status = status;
    body.message = (char *) message;
    for (size_t i = 0; history && i < history->count; i++) {
        const ledger_history_entry_t *in = &history->entries[i];
        cordbank__history_entry__init (&entries[i]);
        entries[i].transfer_id = in->transfer_id;
        entries[i].kind = (Cordbank__TransferKind) in->kind;
        entries[i].from_user = in->from_user;
        entries[i].to_user = in->to_user;
        entries[i].amount = in->amount;
        entries[i].delta = in->delta;
        entries[i].actor = in->actor;
        entries[i].created_unix_ms = in->created_ms;
        pointers[i] = &entries[i];
    }
    body.n_entries = history ? history->count : 0;
    body.entries = pointers;
    body.has_more = history && history->has_more;
    Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
    reply.body_case = CORDBANK__ENVELOPE__BODY_HISTORY_REPLY;
    reply.history_reply = &body;
    cb_call_reply (call_p, &reply);
}

static void
s_history_done (void *arg, const ledger_result_t *result)
{
    pending_t *pending = arg;
    if (s_ledger_failed (pending, result, "history read failed: database unavailable"))
        return;
    s_history_reply (&pending->call, CORDBANK__STATUS__STATUS_OK, "", result->history);
    free (pending);
}

static void
s_on_history (cb_call_t *call, void *arg)
{
    handlers_t *self = arg;
    const Cordbank__HistoryRequest *request = cb_call_request (call)->history_request;
    uint32_t limit = request->limit ? request->limit : HANDLERS_HISTORY_DEFAULT;
    const char *refusal = request->guild_id == 0       ? "guild_id is required"
                          : limit > LEDGER_HISTORY_MAX ? "limit must be from 1 to 50"
                                                       : NULL;
    if (refusal) {
        s_history_reply (&call, CORDBANK__STATUS__STATUS_INVALID_ARGUMENT, refusal, NULL);
        return;
    }
    pending_t *pending = s_pending (self, &call, -1, 0);
    if (pending)
        ledger_history (self->ledger, request->guild_id, request->user_id, limit,
                        request->before_transfer_id, cb_call_deadline_ms (pending->call),
                        s_history_done, pending);
}

static void
s_board_reply (cb_call_t **call_p, Cordbank__Status status, const char *message, uint32_t page,
               const ledger_board_t *board)
{
    Cordbank__LeaderboardEntry entries[LEDGER_BOARD_MAX];
    Cordbank__LeaderboardEntry *pointers[LEDGER_BOARD_MAX];
    Cordbank__LeaderboardReply body = CORDBANK__LEADERBOARD_REPLY__INIT;
    body.status = status;
    body.message = (char *) message;
    body.page = page;
    for (size_t i = 0; board && i < board->count; i++) {
        cordbank__leaderboard_entry__init (&entries[i]);
        entries[i].rank = board->entries[i].rank;
        entries[i].user_id = board->entries[i].user_id;
        entries[i].balance = board->entries[i].balance;
        pointers[i] = &entries[i];
    }
    body.n_entries = board ? board->count : 0;
    body.entries = pointers;
    body.has_more = board && board->has_more;
    Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
    reply.body_case = CORDBANK__ENVELOPE__BODY_LEADERBOARD_REPLY;
    reply.leaderboard_reply = &body;
    cb_call_reply (call_p, &reply);
}

//  The page asked for travels in kind's place (transfers only use kind).
typedef struct {
    pending_t base;
    uint32_t page;
} board_pending_t;

static void
s_board_done (void *arg, const ledger_result_t *result)
{
    board_pending_t *pending = arg;
    uint32_t page = pending->page;
    if (s_ledger_failed (&pending->base, result, "leaderboard read failed: database unavailable"))
        return;
    s_board_reply (&pending->base.call, CORDBANK__STATUS__STATUS_OK, "", page, result->board);
    free (pending);
}

static void
s_on_leaderboard (cb_call_t *call, void *arg)
{
    handlers_t *self = arg;
    const Cordbank__LeaderboardRequest *request = cb_call_request (call)->leaderboard_request;
    uint32_t page = request->page ? request->page : 1;
    uint32_t size = request->page_size ? request->page_size : HANDLERS_BOARD_DEFAULT;
    const char *refusal = request->guild_id == 0      ? "guild_id is required"
                          : page > LEDGER_BOARD_PAGES ? "page must be from 1 to 1000"
                          : size > LEDGER_BOARD_MAX   ? "page_size must be from 1 to 25"
                                                      : NULL;
    if (refusal) {
        s_board_reply (&call, CORDBANK__STATUS__STATUS_INVALID_ARGUMENT, refusal, page, NULL);
        return;
    }
    board_pending_t *pending = malloc (sizeof *pending);
    if (!pending) {
        cb_call_fail (&call, CORDBANK__STATUS__STATUS_INTERNAL, "out of memory");
        return;
    }
    *pending = (board_pending_t){.base = {.self = self, .call = call, .kind = -1}, .page = page};
    ledger_leaderboard (self->ledger, request->guild_id, page, size, cb_call_deadline_ms (call),
                        s_board_done, pending);
}

static void
s_active_done (void *arg, const ledger_result_t *result)
{
    pending_t *pending = arg;
    if (s_ledger_failed (pending, result, "active accounts read failed: database unavailable"))
        return;
    const ledger_active_t *active = result->active;
    Cordbank__BalanceChanged *states = calloc (active->count + 1, sizeof *states);
    Cordbank__BalanceChanged **pointers = calloc (active->count + 1, sizeof *pointers);
    Cordbank__ActiveAccountsReply body = CORDBANK__ACTIVE_ACCOUNTS_REPLY__INIT;
    body.status = CORDBANK__STATUS__STATUS_OK;
    if (!states || !pointers) {
        body.status = CORDBANK__STATUS__STATUS_INTERNAL;
        body.message = (char *) "out of memory";
    } else {
        for (size_t i = 0; i < active->count; i++) {
            cordbank__balance_changed__init (&states[i]);
            states[i].guild_id = active->entries[i].guild_id;
            states[i].user_id = active->entries[i].user_id;
            states[i].balance = active->entries[i].balance;
            states[i].version = active->entries[i].version;
            pointers[i] = &states[i];
        }
        body.n_accounts = active->count;
        body.accounts = pointers;
    }
    Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
    reply.body_case = CORDBANK__ENVELOPE__BODY_ACTIVE_ACCOUNTS_REPLY;
    reply.active_accounts_reply = &body;
    cb_call_reply (&pending->call, &reply);
    free (states);
    free (pointers);
    free (pending);
}

//  The accounts that changed most recently, for a cache to warm itself.
static void
s_on_active (cb_call_t *call, void *arg)
{
    handlers_t *self = arg;
    const Cordbank__ActiveAccountsRequest *request =
        cb_call_request (call)->active_accounts_request;
    uint32_t limit = request->limit ? request->limit : 1000;
    if (limit > LEDGER_ACTIVE_MAX) {
        Cordbank__ActiveAccountsReply body = CORDBANK__ACTIVE_ACCOUNTS_REPLY__INIT;
        body.status = CORDBANK__STATUS__STATUS_INVALID_ARGUMENT;
        body.message = (char *) "limit must be from 1 to 10000";
        Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
        reply.body_case = CORDBANK__ENVELOPE__BODY_ACTIVE_ACCOUNTS_REPLY;
        reply.active_accounts_reply = &body;
        cb_call_reply (&call, &reply);
        return;
    }
    pending_t *pending = s_pending (self, &call, -1, 0);
    if (pending)
        ledger_active (self->ledger, limit, request->guild_id, request->after_user,
                       cb_call_deadline_ms (pending->call), s_active_done, pending);
}

void
handlers_register (handlers_t *self, cb_service_t *service)
{
    assert (self && service);
    cb_service_handle (service, CORDBANK__ENVELOPE__BODY_BALANCE_GET_REQUEST, s_on_balance_get,
                       self);
    cb_service_handle (service, CORDBANK__ENVELOPE__BODY_TRANSFER_REQUEST, s_on_transfer, self);
    cb_service_handle (service, CORDBANK__ENVELOPE__BODY_HISTORY_REQUEST, s_on_history, self);
    cb_service_handle (service, CORDBANK__ENVELOPE__BODY_LEADERBOARD_REQUEST, s_on_leaderboard,
                       self);
    cb_service_handle (service, CORDBANK__ENVELOPE__BODY_ACTIVE_ACCOUNTS_REQUEST, s_on_active,
                       self);
}
