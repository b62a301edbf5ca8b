/*  context — the life of one command, from dispatch to its one answer.
 *
 *  A cmd_ctx_t owns the server's call; the three answer functions are the
 *  only place a context is freed, and the only place a command's reply is
 *  sent and its metrics recorded. Funnelling every path through them is
 *  what makes "every call answered exactly once, every answer counted"
 *  easy to check: each callback either passes the context on or ends it
 *  here.
 *
 *  Metrics: cordbank_command_duration_seconds and cordbank_commands_total,
 *  labelled by command (balance, daily, pay, work, grant, history,
 *  leaderboard, unknown) and outcome (ok, refused, error). The 8 x 3
 *  series are looked up once at start.
 */
#include <assert.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "services/command/command.h"

static const char *const outcome_names[CMD_OUTCOME_COUNT] = {"ok", "refused", "error"};

void
command_init (command_t *self, cb_client_t *cache, cb_client_t *balance, int64_t max_pay)
{
    assert (self && cache && balance && max_pay > 0);
    self->cache = cache;
    self->balance = balance;
    self->max_pay = max_pay;
    cmd_admit_init (self);
    for (int kind = 0; kind < CMD_KIND_COUNT; kind++)
        for (int outcome = 0; outcome < CMD_OUTCOME_COUNT; outcome++) {
            char labels[128];
            cb_metrics_labels (labels, sizeof labels, "command", dispatch_kind_name (kind),
                               "outcome", outcome_names[outcome], NULL);
            self->duration[kind][outcome] = cb_metrics_histogram (
                "cordbank_command_duration_seconds", "Time from a command's arrival to its answer.",
                labels, CB_LATENCY_BUCKETS, CB_LATENCY_BUCKETS_COUNT);
            self->total[kind][outcome] =
                cb_metrics_counter ("cordbank_commands_total", "Commands answered.", labels);
        }
}

cmd_ctx_t *
cmd_ctx_new (command_t *app, cb_call_t **call_p, const Cordbank__CommandRequest *request,
             cmd_kind_t kind)
{
    assert (app && call_p && *call_p && request);
    cmd_ctx_t *self = calloc (1, sizeof *self);
    if (!self) {
        cb_call_fail (call_p, CORDBANK__STATUS__STATUS_INTERNAL, "out of memory");
        return NULL;
    }
    self->app = app;
    self->call = *call_p;
    *call_p = NULL;
    self->request = request;
    self->kind = kind;
    self->started_us = cb_mono_us ();
    return self;
}

const char *
cmd_trace_id (const cmd_ctx_t *self)
{
    assert (self && self->call);
    return cb_call_trace_id (self->call);
}

static void
finish (cmd_ctx_t **self_p, cmd_outcome_t outcome, Cordbank__Status status, bool ephemeral,
        const char *text)
{
    assert (self_p && *self_p && text);
    cmd_ctx_t *self = *self_p;
    double seconds = (double) (cb_mono_us () - self->started_us) / 1e6;
    cb_histogram_observe (self->app->duration[self->kind][outcome], seconds);
    cb_counter_inc (self->app->total[self->kind][outcome]);
    cb_log_debug (cmd_trace_id (self), "command answered", "{s:s, s:s, s:s, s:f}", "command",
                  dispatch_kind_name (self->kind), "outcome", outcome_names[outcome], "status",
                  cb_status_name (status), "seconds", seconds);

    Cordbank__CommandReply body = CORDBANK__COMMAND_REPLY__INIT;
    body.status = status;
    body.content = (char *) text;
    body.ephemeral = ephemeral;
    Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
    reply.status = CORDBANK__STATUS__STATUS_OK;
    reply.body_case = CORDBANK__ENVELOPE__BODY_COMMAND_REPLY;
    reply.command_reply = &body;
    //  text may live in self: the reply is packed before self is freed.
    cb_call_reply (&self->call, &reply);
    free (self);
    *self_p = NULL;
}

void
cmd_answer (cmd_ctx_t **self_p, const char *text)
{
    finish (self_p, CMD_OK, CORDBANK__STATUS__STATUS_OK, false, text);
}

void
cmd_answer_private (cmd_ctx_t **self_p, const char *text)
{
    finish (self_p, CMD_OK, CORDBANK__STATUS__STATUS_OK, true, text);
}

void
cmd_refuse (cmd_ctx_t **self_p, Cordbank__Status status, const char *text)
{
    finish (self_p, CMD_REFUSED, status, true, text);
}

void
cmd_refuse_invalid (cmd_ctx_t **self_p, validate_result_t result)
{
    assert (self_p && *self_p);
    cmd_ctx_t *self = *self_p;
    validate_text (result, self->app->max_pay, self->text, sizeof self->text);
    cmd_refuse (self_p, validate_status (result), self->text);
}

void
cmd_trouble (cmd_ctx_t **self_p, Cordbank__Status status, const char *why)
{
    assert (self_p && *self_p && why);
    cb_log_warn (cmd_trace_id (*self_p), "command failed", "{s:s, s:s, s:s}", "command",
                 dispatch_kind_name ((*self_p)->kind), "status", cb_status_name (status), "error",
                 why);
    finish (self_p, CMD_ERROR, status, true, RENDER_TROUBLE);
}
