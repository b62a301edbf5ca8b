/*  admit — may this command run? One AdmitRequest to cache before any
 *  command does its work: dedup by interaction id and the per-user and
 *  per-guild token buckets that hold across every command instance.
 *
 *  RATE_LIMITED: the command does nothing and the invoker is told, in an
 *  ephemeral reply, when to try again.
 *
 *  DUPLICATE (this interaction id was admitted before, by any instance):
 *  the command runs as a replay, without taking a token. Why not refuse it
 *  with "already handled": Discord never re-sends an interaction, so a
 *  duplicate is our own infrastructure delivering it again (the gateway
 *  retrying after an attempt timed out, a gateway pod resuming a shard
 *  after a crash). In those cases the first answer may never have reached
 *  the user, and the answer that does reach them must be the real one:
 *  writes are keyed by the interaction id in the ledger, which applies
 *  them once and returns the first outcome to every repeat; reads change
 *  nothing and are simply answered again. So dedup is what makes a
 *  redelivery free (no token, never rate-limited, counted in cache's
 *  cordbank_cache_admit_total{result="duplicate"}), while "applied once"
 *  stays the ledger's guarantee, which no cache outage can weaken.
 *
 *  Cache unavailable, late, or answering anything else: the command runs
 *  anyway (fail open: a rate limit is a protection, not a reason to stop
 *  serving), counted in cordbank_command_admit_fail_open_total and logged
 *  at most once a second.
 *
 *  Latency: one round trip, never retried (an admit is not idempotent: it
 *  takes tokens), within ADMIT_BUDGET_MS, which covers cache's own Redis
 *  timeout (it then decides locally) with room to spare.
 */
#include <assert.h>

#include "common/clock.h"
#include "services/command/command.h"

#define ADMIT_BUDGET_MS 300

void
cmd_admit_init (command_t *self)
{
    assert (self);
    self->admit_fail_open = cb_metrics_counter (
        "cordbank_command_admit_fail_open_total",
        "Commands run without an admission decision (cache unavailable or late).", NULL);
}

static void
fail_open (cmd_ctx_t **self_p, const char *why)
{
    cmd_ctx_t *self = *self_p;
    cb_counter_inc (self->app->admit_fail_open);
    uint64_t suppressed = 0;
    if (cb_log_limiter_allow (&self->app->admit_log, &suppressed))
        cb_log_warn (cmd_trace_id (self), "admission unavailable; running the command anyway",
                     "{s:s, s:s, s:I}", "command", dispatch_kind_name (self->kind), "error", why,
                     "suppressed", (json_int_t) suppressed);
    dispatch_start (self_p);
}

static void
on_admit (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    cmd_ctx_t *self = arg;
    const Cordbank__AdmitReply *admit =
        reply && reply->body_case == CORDBANK__ENVELOPE__BODY_ADMIT_REPLY ? reply->admit_reply
                                                                          : NULL;
    if (!admit) {
        if (reply)
            fail_open (&self, reply->error && *reply->error ? reply->error
                                                            : cb_status_name (reply->status));
        else
            fail_open (&self, error && *error ? error : cb_status_name (status));
        return;
    }
    switch (admit->status) {
    case CORDBANK__STATUS__STATUS_OK:
        dispatch_start (&self);
        break;
    case CORDBANK__STATUS__STATUS_DUPLICATE:
        cb_log_debug (cmd_trace_id (self), "interaction admitted before; replaying it", "{s:s}",
                      "command", dispatch_kind_name (self->kind));
        dispatch_start (&self);
        break;
    case CORDBANK__STATUS__STATUS_RATE_LIMITED:
        render_rate_limited (self->text, sizeof self->text, admit->guild_limit,
                             admit->retry_after_ms);
        cmd_refuse (&self, CORDBANK__STATUS__STATUS_RATE_LIMITED, self->text);
        break;
    default:
        fail_open (&self, cb_status_name (admit->status));
        break;
    }
}

void
cmd_admit (cmd_ctx_t **self_p)
{
    assert (self_p && *self_p);
    cmd_ctx_t *self = *self_p;
    *self_p = NULL;
    Cordbank__AdmitRequest body = CORDBANK__ADMIT_REQUEST__INIT;
    body.interaction_id = self->request->interaction_id;
    body.guild_id = self->request->guild_id;
    body.user_id = self->request->user_id;
    body.command = (char *) dispatch_kind_name (self->kind);
    Cordbank__Envelope request = CORDBANK__ENVELOPE__INIT;
    request.body_case = CORDBANK__ENVELOPE__BODY_ADMIT_REQUEST;
    request.admit_request = &body;
    int64_t deadline = cb_now_ms () + ADMIT_BUDGET_MS;
    int64_t command_deadline = cb_call_deadline_ms (self->call);
    if (command_deadline > 0 && deadline > command_deadline)
        deadline = command_deadline;
    //  fn is called exactly once, also when the call cannot be queued.
    (void) cb_client_call (self->app->cache, &request, cmd_trace_id (self), deadline, false,
                           on_admit, self);
}
