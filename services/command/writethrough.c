/*  writethrough — after an applied transfer, cache learns the new balances
 *  before the user learns of the transfer.
 *
 *  balance also publishes BalanceChanged, but PUB/SUB may drop or lag; a
 *  /balance that follows a /pay must never show the balance from before it.
 *  So the command sends cache a BalanceUpdate with every account state of
 *  the transfer reply and waits for its answer. Cache applies a state only
 *  over an older version, so the update is safe to retry and to race with
 *  the event. If it fails, the money has still moved: the user is told so,
 *  and the failure is logged with the trace id for the operator.
 */
#include <assert.h>
#include <stdlib.h>

#include "common/log.h"
#include "services/command/command.h"

static void
write_through_failed (cmd_ctx_t *self, const char *problem)
{
    cb_log_warn (cmd_trace_id (self), "cache write-through failed; answering the transfer anyway",
                 "{s:s, s:s}", "command", dispatch_kind_name (self->kind), "error", problem);
}

static void
on_updated (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    cmd_ctx_t *self = arg;
    if (!reply)
        write_through_failed (self, error && *error ? error : cb_status_name (status));
    else if (reply->body_case != CORDBANK__ENVELOPE__BODY_BALANCE_UPDATE_REPLY)
        write_through_failed (self, cb_status_name (reply->status));
    else if (reply->balance_update_reply->status != CORDBANK__STATUS__STATUS_OK)
        write_through_failed (self, cb_status_name (reply->balance_update_reply->status));
    cmd_answer (&self, self->text);
}

void
cmd_write_through (cmd_ctx_t **self_p, const Cordbank__TransferReply *transfer)
{
    assert (self_p && *self_p && transfer);
    cmd_ctx_t *self = *self_p;
    *self_p = NULL;
    size_t count = transfer->n_accounts;
    if (count == 0) {
        cmd_answer (&self, self->text);
        return;
    }
    Cordbank__BalanceChanged *changes = calloc (count, sizeof *changes);
    Cordbank__BalanceChanged **pointers = calloc (count, sizeof *pointers);
    if (!changes || !pointers) {
        free (changes);
        free (pointers);
        write_through_failed (self, "out of memory");
        cmd_answer (&self, self->text);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const Cordbank__AccountState *account = transfer->accounts[i];
        cordbank__balance_changed__init (&changes[i]);
        changes[i].guild_id = self->request->guild_id;
        changes[i].user_id = account->user_id;
        changes[i].balance = account->balance;
        changes[i].version = account->version;
        pointers[i] = &changes[i];
    }
    Cordbank__BalanceUpdate update = CORDBANK__BALANCE_UPDATE__INIT;
    update.n_changes = count;
    update.changes = pointers;
    Cordbank__Envelope request = CORDBANK__ENVELOPE__INIT;
    request.body_case = CORDBANK__ENVELOPE__BODY_BALANCE_UPDATE;
    request.balance_update = &update;
    //  The request is packed before cmd_call returns; self may be gone by then.
    cmd_call (self, self->app->cache, &request, true, on_updated);
    free (pointers);
    free (changes);
}
