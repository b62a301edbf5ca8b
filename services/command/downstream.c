/*  downstream — calls to cache and balance on behalf of one command.
 *
 *  Every downstream call carries the incoming command's trace id, so one
 *  id follows the command through every service's logs, and its deadline,
 *  so no hop works on a command the gateway has already given up on.
 *
 *  A reply can fail at three levels, and all three end the command with
 *  the same "having trouble" answer: the transport (no instance reachable,
 *  deadline passed), the envelope (the peer was busy, draining, or saw the
 *  deadline pass, and answered with a status and no body), or the body (a
 *  body of another type). Application statuses inside the body are the
 *  command's business.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

#include "services/command/command.h"

//  Downstream calls end this much before the command's own deadline, so
//  that when a dependency is down the command's answer still reaches the
//  gateway before the gateway gives up on it.
#define ANSWER_MARGIN_MS 50

static int64_t
downstream_deadline (const cmd_ctx_t *self)
{
    int64_t deadline = cb_call_deadline_ms (self->call);
    return deadline > ANSWER_MARGIN_MS ? deadline - ANSWER_MARGIN_MS : deadline;
}

void
cmd_call (cmd_ctx_t *self, cb_client_t *client, Cordbank__Envelope *request, bool idempotent,
          cb_reply_fn *fn)
{
    assert (self && client && request && fn);
    //  On -1 the client has already called fn, which answered the command
    //  and freed self: there is nothing left to do here in either case.
    (void) cb_client_call (client, request, cmd_trace_id (self), downstream_deadline (self),
                           idempotent, fn, self);
}

void
cmd_transfer (cmd_ctx_t *self, Cordbank__TransferKind kind, uint64_t from_user, uint64_t to_user,
              int64_t amount, cb_reply_fn *fn)
{
    assert (self && fn);
    //  The interaction id is unique forever: the ledger applies a key once
    //  and answers any repeat with the first outcome.
    char key[24];
    snprintf (key, sizeof key, "%" PRIu64, self->request->interaction_id);
    Cordbank__TransferRequest transfer = CORDBANK__TRANSFER_REQUEST__INIT;
    transfer.idempotency_key = key;
    transfer.guild_id = self->request->guild_id;
    transfer.kind = kind;
    transfer.from_user = from_user;
    transfer.to_user = to_user;
    transfer.amount = amount;
    transfer.actor = self->request->user_id;
    Cordbank__Envelope request = CORDBANK__ENVELOPE__INIT;
    request.body_case = CORDBANK__ENVELOPE__BODY_TRANSFER_REQUEST;
    request.transfer_request = &transfer;
    cmd_call (self, self->app->balance, &request, true, fn);
}

//  The status to answer with: a failure must never read as success.
static Cordbank__Status
failure_status (Cordbank__Status status)
{
    if (status == CORDBANK__STATUS__STATUS_OK || status == CORDBANK__STATUS__STATUS_UNSPECIFIED)
        return CORDBANK__STATUS__STATUS_INTERNAL;
    return status;
}

const Cordbank__Envelope *
cmd_reply_check (cmd_ctx_t **self_p, const char *target, const Cordbank__Envelope *reply,
                 Cordbank__Status status, const char *error, Cordbank__Envelope__BodyCase want)
{
    assert (self_p && *self_p && target);
    char why[256];
    if (!reply) {
        snprintf (why, sizeof why, "%s call failed: %s", target,
                  error && *error ? error : cb_status_name (status));
        cmd_trouble (self_p, failure_status (status), why);
        return NULL;
    }
    if (reply->body_case != want) {
        snprintf (why, sizeof why, "%s answered %s without the expected body: %s", target,
                  cb_status_name (reply->status), reply->error ? reply->error : "");
        cmd_trouble (self_p, failure_status (reply->status), why);
        return NULL;
    }
    return reply;
}

const Cordbank__TransferReply *
cmd_transfer_reply (cmd_ctx_t **self_p, const Cordbank__Envelope *reply, Cordbank__Status status,
                    const char *error)
{
    reply = cmd_reply_check (self_p, "balance", reply, status, error,
                             CORDBANK__ENVELOPE__BODY_TRANSFER_REPLY);
    return reply ? reply->transfer_reply : NULL;
}

bool
cmd_account_balance (const Cordbank__TransferReply *reply, uint64_t user, int64_t *balance)
{
    assert (reply && balance);
    for (size_t i = 0; i < reply->n_accounts; i++)
        if (reply->accounts[i] && reply->accounts[i]->user_id == user) {
            *balance = reply->accounts[i]->balance;
            return true;
        }
    return false;
}

void
cmd_unexpected (cmd_ctx_t **self_p, const char *target, Cordbank__Status status,
                const char *message)
{
    assert (self_p && *self_p && target);
    char why[256];
    snprintf (why, sizeof why, "%s answered %s: %s", target, cb_status_name (status),
              message ? message : "");
    cmd_trouble (self_p, failure_status (status), why);
}
