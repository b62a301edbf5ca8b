/*  dispatch — a CommandRequest from the gateway, to the command it names.
 *
 *  Checks what holds for every command (it comes from a server and names
 *  its invoker), asks cache to admit it (admit.c: dedup and rate limits),
 *  then hands the context to the command. The gateway
 *  already refuses commands outside servers; the check is repeated here
 *  because the ledger is per guild and guild 0 must never reach it.
 */
#include <assert.h>
#include <string.h>

#include "services/command/command.h"

static const char *const kind_names[CMD_KIND_COUNT] = {
    "balance", "daily", "pay", "work", "grant", "history", "leaderboard", "unknown"};

cmd_kind_t
dispatch_kind (const char *name)
{
    //  CMD_UNKNOWN is last and is never matched by name: a command called
    //  "unknown" is unknown too.
    for (int kind = 0; name && kind < CMD_UNKNOWN; kind++)
        if (strcmp (name, kind_names[kind]) == 0)
            return kind;
    return CMD_UNKNOWN;
}

const char *
dispatch_kind_name (cmd_kind_t kind)
{
    assert (kind >= 0 && kind < CMD_KIND_COUNT);
    return kind_names[kind];
}

void
dispatch_command (cb_call_t *call, void *arg)
{
    command_t *app = arg;
    assert (app && call);
    const Cordbank__CommandRequest *request = cb_call_request (call)->command_request;
    if (!request) {
        cb_call_fail (&call, CORDBANK__STATUS__STATUS_INVALID_ARGUMENT, "no command request");
        return;
    }
    cmd_ctx_t *ctx = cmd_ctx_new (app, &call, request, dispatch_kind (request->command_name));
    if (!ctx)
        return;
    if (request->guild_id == 0) {
        cmd_refuse (&ctx, CORDBANK__STATUS__STATUS_INVALID_ARGUMENT, RENDER_DM_ONLY);
        return;
    }
    if (request->user_id == 0) {
        cmd_refuse (&ctx, CORDBANK__STATUS__STATUS_INVALID_ARGUMENT, RENDER_NO_INVOKER);
        return;
    }
    //  An unknown command is refused at once: it reaches nothing that a
    //  rate limit protects, so it is not worth a round trip to cache.
    if (ctx->kind == CMD_UNKNOWN)
        dispatch_start (&ctx);
    else
        cmd_admit (&ctx);
}

void
dispatch_start (cmd_ctx_t **self_p)
{
    assert (self_p && *self_p);
    cmd_ctx_t *ctx = *self_p;
    *self_p = NULL;
    const Cordbank__CommandRequest *request = ctx->request;
    switch (ctx->kind) {
    case CMD_BALANCE:
        cmd_balance_start (&ctx);
        break;
    case CMD_DAILY:
        cmd_daily_start (&ctx);
        break;
    case CMD_PAY:
        cmd_pay_start (&ctx);
        break;
    case CMD_WORK:
        cmd_work_start (&ctx);
        break;
    case CMD_GRANT:
        cmd_grant_start (&ctx);
        break;
    case CMD_HISTORY:
        cmd_history_start (&ctx);
        break;
    case CMD_LEADERBOARD:
        cmd_leaderboard_start (&ctx);
        break;
    default:
        render_unknown_command (ctx->text, sizeof ctx->text,
                                request->command_name ? request->command_name : "");
        cmd_refuse (&ctx, CORDBANK__STATUS__STATUS_INVALID_ARGUMENT, ctx->text);
        break;
    }
}
