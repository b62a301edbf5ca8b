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

//  A refusal decided here, before any SQL (empty key, unknown kind); NULL
//  when the request may go to the ledger, which checks everything else.
static const char *
s_early_refusal (const Cordbank__TransferRequest *request)
{
    if (!request->idempotency_key || !*request->idempotency_key)
        return "idempotency_key is required";
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

static void
s_log_unavailable (handlers_t *self, const char *trace_id, const char *what)
{
    uint64_t suppressed = 0;
    if (cb_log_limiter_allow (&self->unavailable_log, &suppressed))
        cb_log_warn (trace_id, what, "{s:s, s:i}", "error", ledger_error (self->ledger),
                     "suppressed", (int) (suppressed > 1000000 ? 1000000 : suppressed));
}

//  UNAVAILABLE / DEADLINE_EXCEEDED: answered without a body.
static void
s_fail (handlers_t *self, cb_call_t **call_p, int kind, Cordbank__Status status, const char *error)
{
    s_count (self, kind, status);
    cb_call_fail (call_p, status, error);
}

static void
s_on_transfer (cb_call_t *call, void *arg)
{
    handlers_t *self = arg;
    const Cordbank__TransferRequest *request = cb_call_request (call)->transfer_request;
    const char *trace_id = cb_call_trace_id (call);
    int kind = request->kind;
    ledger_outcome_t outcome = {.status = CORDBANK__STATUS__STATUS_INVALID_ARGUMENT};
    const char *refusal = s_early_refusal (request);
    if (refusal)
        snprintf (outcome.message, sizeof outcome.message, "%s", refusal);
    else if (cb_envelope_expired (cb_call_request (call))) {
        s_fail (self, &call, kind, CORDBANK__STATUS__STATUS_DEADLINE_EXCEEDED,
                "deadline passed before the transfer began");
        return;
    } else {
        ledger_request_t ledger_request = s_ledger_request (self, request);
        if (ledger_transfer (self->ledger, &ledger_request, &outcome) != 0) {
            s_log_unavailable (self, trace_id, "transfer not answered: database unavailable");
            s_fail (self, &call, kind, CORDBANK__STATUS__STATUS_UNAVAILABLE,
                    ledger_error (self->ledger));
            return;
        }
    }
    if (outcome.status == CORDBANK__STATUS__STATUS_OK && !outcome.replayed)
        s_publish (self, trace_id, request->guild_id, &outcome);
    cb_log_debug (trace_id, "transfer answered", "{s:s, s:s, s:I, s:b}", "kind",
                  s_kind_labels[kind >= 0 && kind < KIND_COUNT ? kind : 0], "status",
                  cb_status_name (outcome.status), "transfer_id", (json_int_t) outcome.transfer_id,
                  "replayed", outcome.replayed);
    s_count (self, kind, outcome.status);
    s_reply_outcome (&call, &outcome);
}

static void
s_on_balance_get (cb_call_t *call, void *arg)
{
    handlers_t *self = arg;
    const Cordbank__BalanceGetRequest *request = cb_call_request (call)->balance_get_request;
    Cordbank__BalanceGetReply body = CORDBANK__BALANCE_GET_REPLY__INIT;
    body.status = CORDBANK__STATUS__STATUS_OK;
    if (request->guild_id == 0) {
        body.status = CORDBANK__STATUS__STATUS_INVALID_ARGUMENT;
        body.message = (char *) "guild_id is required";
    } else if (cb_envelope_expired (cb_call_request (call))) {
        cb_call_fail (&call, CORDBANK__STATUS__STATUS_DEADLINE_EXCEEDED,
                      "deadline passed before the read began");
        return;
    } else if (ledger_get (self->ledger, request->guild_id, request->user_id, &body.balance,
                           &body.version) != 0) {
        s_log_unavailable (self, cb_call_trace_id (call),
                           "balance read failed: database unavailable");
        cb_call_fail (&call, CORDBANK__STATUS__STATUS_UNAVAILABLE, ledger_error (self->ledger));
        return;
    }
    Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
    reply.body_case = CORDBANK__ENVELOPE__BODY_BALANCE_GET_REPLY;
    reply.balance_get_reply = &body;
    cb_call_reply (&call, &reply);
}

void
handlers_register (handlers_t *self, cb_service_t *service)
{
    assert (self && service);
    cb_service_handle (service, CORDBANK__ENVELOPE__BODY_BALANCE_GET_REQUEST, s_on_balance_get,
                       self);
    cb_service_handle (service, CORDBANK__ENVELOPE__BODY_TRANSFER_REQUEST, s_on_transfer, self);
}
