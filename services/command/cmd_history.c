/*  cmd_history — /history [user]: a member's last transfers, newest first.
 *
 *  Asked of balance directly: the ledger is the only place transfers are
 *  kept (cache holds balances, not their history). A read, so it is
 *  retried freely. Any member may look up another's history, as with
 *  /balance, but the answer is ephemeral: only the one who asked sees it,
 *  so a channel is not filled with other people's payments.
 */
#include <assert.h>

#include "services/command/command.h"

//  Transfers shown: Discord's content limit leaves room for about 15 of
//  the longest lines; 10 is the product's number.
#define HISTORY_LIMIT 10

static void
on_history (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    cmd_ctx_t *self = arg;
    reply = cmd_reply_check (&self, "balance", reply, status, error,
                             CORDBANK__ENVELOPE__BODY_HISTORY_REPLY);
    if (!reply)
        return;
    const Cordbank__HistoryReply *history = reply->history_reply;
    if (history->status != CORDBANK__STATUS__STATUS_OK) {
        cmd_unexpected (&self, "balance", history->status, history->message);
        return;
    }
    render_history (self->text, sizeof self->text, self->target, history->entries,
                    history->n_entries, history->has_more);
    cmd_answer_private (&self, self->text);
}

void
cmd_history_start (cmd_ctx_t **self_p)
{
    assert (self_p && *self_p);
    cmd_ctx_t *self = *self_p;
    *self_p = NULL;
    validate_result_t result = validate_history (self->request, &self->target);
    if (result != VALIDATE_OK) {
        cmd_refuse_invalid (&self, result);
        return;
    }
    Cordbank__HistoryRequest get = CORDBANK__HISTORY_REQUEST__INIT;
    get.guild_id = self->request->guild_id;
    get.user_id = self->target;
    get.limit = HISTORY_LIMIT;
    Cordbank__Envelope request = CORDBANK__ENVELOPE__INIT;
    request.body_case = CORDBANK__ENVELOPE__BODY_HISTORY_REQUEST;
    request.history_request = &get;
    cmd_call (self, self->app->balance, &request, true, on_history);
}
