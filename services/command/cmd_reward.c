/*  cmd_reward — /daily and /work: claim a reward from the guild's mint.
 *
 *  The two commands differ only in the transfer kind and their texts, so
 *  they share one flow, told apart by a small table keyed by the command.
 *  balance decides everything: the amount (fixed for /daily, random for
 *  /work), and whether the cooldown has ended (it answers COOLDOWN with
 *  the time the next claim is allowed). The transfer's idempotency key is
 *  the interaction id, so a retried request (a timeout, another command
 *  pod) returns the first outcome and never pays twice; that is why the
 *  transfer may be retried.
 */
#include <assert.h>

#include "common/clock.h"
#include "services/command/command.h"

typedef struct {
    Cordbank__TransferKind transfer_kind;
    char *(*claimed) (char *out, size_t outlen, int64_t amount, const int64_t *balance);
    char *(*cooldown) (char *out, size_t outlen, int64_t remaining_ms);
} reward_t;

static const reward_t daily = {CORDBANK__TRANSFER_KIND__TRANSFER_KIND_DAILY, render_daily_claimed,
                               render_daily_cooldown};
static const reward_t work = {CORDBANK__TRANSFER_KIND__TRANSFER_KIND_WORK, render_work_claimed,
                              render_work_cooldown};

static const reward_t *
reward_of (const cmd_ctx_t *self)
{
    assert (self->kind == CMD_DAILY || self->kind == CMD_WORK);
    return self->kind == CMD_WORK ? &work : &daily;
}

static void
on_claimed (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    cmd_ctx_t *self = arg;
    const Cordbank__TransferReply *transfer = cmd_transfer_reply (&self, reply, status, error);
    if (!transfer)
        return;
    const reward_t *reward = reward_of (self);
    int64_t balance = 0;
    bool known = false;
    switch (transfer->status) {
    case CORDBANK__STATUS__STATUS_OK:
        known = cmd_account_balance (transfer, self->request->user_id, &balance);
        reward->claimed (self->text, sizeof self->text, transfer->amount, known ? &balance : NULL);
        cmd_write_through (&self, transfer);
        break;
    case CORDBANK__STATUS__STATUS_COOLDOWN:
        reward->cooldown (self->text, sizeof self->text, cb_ms_until (transfer->retry_at_unix_ms));
        cmd_refuse (&self, CORDBANK__STATUS__STATUS_COOLDOWN, self->text);
        break;
    default:
        cmd_unexpected (&self, "balance", transfer->status, transfer->message);
        break;
    }
}

static void
claim (cmd_ctx_t **self_p)
{
    assert (self_p && *self_p);
    cmd_ctx_t *self = *self_p;
    *self_p = NULL;
    uint64_t invoker = self->request->user_id;
    cmd_transfer (self, reward_of (self)->transfer_kind, 0, invoker, 0, on_claimed);
}

void
cmd_daily_start (cmd_ctx_t **self_p)
{
    claim (self_p);
}

void
cmd_work_start (cmd_ctx_t **self_p)
{
    claim (self_p);
}
