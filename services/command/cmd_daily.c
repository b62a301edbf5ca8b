/*  cmd_daily — /daily: claim the daily reward from the guild's mint.
 *
 *  balance decides everything: the amount, and whether the cooldown has
 *  ended (it answers COOLDOWN with the time the next claim is allowed).
 *  The transfer's idempotency key is the interaction id, so a retried
 *  request (a timeout, another command pod) returns the first outcome and
 *  never pays twice; that is why the transfer may be retried.
 */
#include <assert.h>

#include "common/clock.h"
#include "services/command/command.h"

//  Time until retry_at, saturating instead of overflowing on a wild value.
static int64_t
remaining_ms (int64_t retry_at_ms)
{
    int64_t remaining;
    if (__builtin_sub_overflow (retry_at_ms, cb_now_ms (), &remaining))
        return retry_at_ms > 0 ? INT64_MAX : 0;
    return remaining;
}

static void
on_claimed (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    cmd_ctx_t *self = arg;
    const Cordbank__TransferReply *transfer = cmd_transfer_reply (&self, reply, status, error);
    if (!transfer)
        return;
    int64_t balance = 0;
    bool known = false;
    switch (transfer->status) {
    case CORDBANK__STATUS__STATUS_OK:
        known = cmd_account_balance (transfer, self->request->user_id, &balance);
        render_daily_claimed (self->text, sizeof self->text, transfer->amount,
                              known ? &balance : NULL);
        cmd_write_through (&self, transfer);
        break;
    case CORDBANK__STATUS__STATUS_COOLDOWN:
        render_daily_cooldown (self->text, sizeof self->text,
                               remaining_ms (transfer->retry_at_unix_ms));
        cmd_refuse (&self, CORDBANK__STATUS__STATUS_COOLDOWN, self->text);
        break;
    default:
        cmd_unexpected (&self, "balance", transfer->status, transfer->message);
        break;
    }
}

void
cmd_daily_start (cmd_ctx_t **self_p)
{
    assert (self_p && *self_p);
    cmd_ctx_t *self = *self_p;
    *self_p = NULL;
    uint64_t invoker = self->request->user_id;
    cmd_transfer (self, CORDBANK__TRANSFER_KIND__TRANSFER_KIND_DAILY, 0, invoker, 0, on_claimed);
}
