/*  cmd_leaderboard — /leaderboard [page]: the richest members of this
 *  server, 10 a page.
 *
 *  Asked of cache, which keeps one sorted set per guild and asks balance
 *  when it has none (balance ranks the same way: the mint left out, equal
 *  balances by user id); a read, retried freely. The answer is public, as
 *  a leaderboard is meant to be. An empty first page is a guild where
 *  nobody has coins yet, which is an answer; an empty later page is a
 *  page that does not exist, which is a refusal only the asker sees.
 */
#include <assert.h>

#include "services/command/command.h"

#define LEADERBOARD_PAGE_SIZE 10

static void
on_leaderboard (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error,
                void *arg)
{
    cmd_ctx_t *self = arg;
    reply = cmd_reply_check (&self, "cache", reply, status, error,
                             CORDBANK__ENVELOPE__BODY_LEADERBOARD_REPLY);
    if (!reply)
        return;
    const Cordbank__LeaderboardReply *board = reply->leaderboard_reply;
    if (board->status != CORDBANK__STATUS__STATUS_OK) {
        cmd_unexpected (&self, "cache", board->status, board->message);
        return;
    }
    if (board->n_entries > 0) {
        render_leaderboard (self->text, sizeof self->text, self->page, board->entries,
                            board->n_entries, board->has_more);
        cmd_answer (&self, self->text);
    } else if (self->page == 1)
        cmd_answer (&self, RENDER_LEADERBOARD_EMPTY);
    else {
        render_no_page (self->text, sizeof self->text, self->page);
        cmd_refuse (&self, CORDBANK__STATUS__STATUS_NOT_FOUND, self->text);
    }
}

void
cmd_leaderboard_start (cmd_ctx_t **self_p)
{
    assert (self_p && *self_p);
    cmd_ctx_t *self = *self_p;
    *self_p = NULL;
    validate_result_t result = validate_leaderboard (self->request, &self->page);
    if (result != VALIDATE_OK) {
        cmd_refuse_invalid (&self, result);
        return;
    }
    Cordbank__LeaderboardRequest get = CORDBANK__LEADERBOARD_REQUEST__INIT;
    get.guild_id = self->request->guild_id;
    get.page = self->page;
    get.page_size = LEADERBOARD_PAGE_SIZE;
    Cordbank__Envelope request = CORDBANK__ENVELOPE__INIT;
    request.body_case = CORDBANK__ENVELOPE__BODY_LEADERBOARD_REQUEST;
    request.leaderboard_request = &get;
    cmd_call (self, self->app->cache, &request, true, on_leaderboard);
}
