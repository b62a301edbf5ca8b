/*  cmd_balance — /balance [user]: a member's wallet balance in this server.
 *
 *  A read, so it goes to cache (which falls back to balance on a miss or
 *  when Redis is down) and is retried freely. An account never written has
 *  balance 0; a cache that says NOT_FOUND for it is read the same way.
 */
#include <assert.h>

#include "services/command/command.h"

static void
on_balance (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    cmd_ctx_t *self = arg;
    reply = cmd_reply_check (&self, "cache", reply, status, error,
                             CORDBANK__ENVELOPE__BODY_BALANCE_GET_REPLY);
    if (!reply)
        return;
    const Cordbank__BalanceGetReply *got = reply->balance_get_reply;
    int64_t balance = 0;
    if (got->status == CORDBANK__STATUS__STATUS_OK)
        balance = got->balance;
    else if (got->status != CORDBANK__STATUS__STATUS_NOT_FOUND) {
        cmd_unexpected (&self, "cache", got->status, got->message);
        return;
    }
    render_balance (self->text, sizeof self->text, self->target, balance);
    cmd_answer (&self, self->text);
}

void
cmd_balance_start (cmd_ctx_t **self_p)
{
    assert (self_p && *self_p);
    cmd_ctx_t *self = *self_p;
    *self_p = NULL;
    validate_result_t result = validate_balance (self->request, &self->target);
    if (result != VALIDATE_OK) {
        cmd_refuse_invalid (&self, result);
        return;
    }
    Cordbank__BalanceGetRequest get = CORDBANK__BALANCE_GET_REQUEST__INIT;
    get.guild_id = self->request->guild_id;
    get.user_id = self->target;
    Cordbank__Envelope request = CORDBANK__ENVELOPE__INIT;
    request.body_case = CORDBANK__ENVELOPE__BODY_BALANCE_GET_REQUEST;
    request.balance_get_request = &get;
    cmd_call (self, self->app->cache, &request, true, on_balance);
}
