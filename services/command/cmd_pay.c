/*  cmd_pay — /pay user amount: move coins from the invoker to a member.
 *
 *  Everything the request alone can refuse (amount, self, bot) is refused
 *  before the ledger is asked (validate.c). balance refuses what only it
 *  knows: INSUFFICIENT_FUNDS, with the payer's balance in the reply. The
 *  interaction id is the idempotency key, so the transfer may be retried
 *  and still moves the money at most once.
 */
#include <assert.h>

#include "services/command/command.h"

static void
on_paid (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    cmd_ctx_t *self = arg;
    const Cordbank__TransferReply *transfer = cmd_transfer_reply (&self, reply, status, error);
    if (!transfer)
        return;
    int64_t balance = 0;
    bool known = cmd_account_balance (transfer, self->request->user_id, &balance);
    switch (transfer->status) {
    case CORDBANK__STATUS__STATUS_OK:
        render_paid (self->text, sizeof self->text, self->request->user_id, self->target,
                     transfer->amount, known ? &balance : NULL);
        cmd_write_through (&self, transfer);
        break;
    case CORDBANK__STATUS__STATUS_INSUFFICIENT_FUNDS:
        render_insufficient (self->text, sizeof self->text, known ? &balance : NULL, self->amount);
        cmd_refuse (&self, CORDBANK__STATUS__STATUS_INSUFFICIENT_FUNDS, self->text);
        break;
    default:
        cmd_unexpected (&self, "balance", transfer->status, transfer->message);
        break;
    }
}

void
cmd_pay_start (cmd_ctx_t **self_p)
{
    assert (self_p && *self_p);
    cmd_ctx_t *self = *self_p;
    *self_p = NULL;
    validate_result_t result =
        validate_pay (self->request, self->app->max_pay, &self->target, &self->amount);
    if (result != VALIDATE_OK) {
        cmd_refuse_invalid (&self, result);
        return;
    }
    cmd_transfer (self, CORDBANK__TRANSFER_KIND__TRANSFER_KIND_PAY, self->request->user_id,
                  self->target, self->amount, on_paid);
}
