/*  cmd_grant — /grant user amount: an admin mints coins to a member
 *  (amount > 0) or burns them (amount < 0).
 *
 *  Only a member with Manage Server or Administrator may grant; the
 *  gateway passes member.permissions as Discord resolved them for this
 *  channel, and validate.c refuses anyone else before the ledger hears of
 *  it. The transfer is kind GRANT between the guild's mint (0) and the
 *  member, with the admin as actor, so /history can say who did it.
 *  balance refuses a burn that would take the member below 0
 *  (INSUFFICIENT_FUNDS, with the member's balance in the reply). As with
 *  /pay, the interaction id keys the transfer, so a retried /grant mints
 *  once, and the new balance is written through to cache before the
 *  answer.
 */
#include <assert.h>

#include "services/command/command.h"

static void
on_granted (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    cmd_ctx_t *self = arg;
    const Cordbank__TransferReply *transfer = cmd_transfer_reply (&self, reply, status, error);
    if (!transfer)
        return;
    int64_t balance = 0;
    bool known = cmd_account_balance (transfer, self->target, &balance);
    switch (transfer->status) {
    case CORDBANK__STATUS__STATUS_OK:
        //  The amount asked for, not transfer->amount: the ledger reports
        //  a burn's sign its own way, and a grant moves exactly what was asked.
        render_granted (self->text, sizeof self->text, self->request->user_id, self->target,
                        self->amount, known ? &balance : NULL);
        cmd_write_through (&self, transfer);
        break;
    case CORDBANK__STATUS__STATUS_INSUFFICIENT_FUNDS:
        render_grant_insufficient (self->text, sizeof self->text, self->target,
                                   known ? &balance : NULL, self->amount);
        cmd_refuse (&self, CORDBANK__STATUS__STATUS_INSUFFICIENT_FUNDS, self->text);
        break;
    default:
        cmd_unexpected (&self, "balance", transfer->status, transfer->message);
        break;
    }
}

void
cmd_grant_start (cmd_ctx_t **self_p)
{
    assert (self_p && *self_p);
    cmd_ctx_t *self = *self_p;
    *self_p = NULL;
    validate_result_t result =
        validate_grant (self->request, self->app->max_pay, &self->target, &self->amount);
    if (result != VALIDATE_OK) {
        cmd_refuse_invalid (&self, result);
        return;
    }
    cmd_transfer (self, CORDBANK__TRANSFER_KIND__TRANSFER_KIND_GRANT, 0, self->target, self->amount,
                  on_granted);
}
