/*  command — what the command service's files share: the service state,
 *  the context of one command in flight, and each file's entry points.
 *
 *  Ownership: a CommandRequest arrives as a cb_call_t; dispatch wraps it in
 *  a cmd_ctx_t that owns the call until the one answer. Every path through
 *  a command, on the reactor thread, ends in exactly one of cmd_answer,
 *  cmd_refuse or cmd_trouble, which reply, record metrics and free the
 *  context; no other function frees it. Downstream callbacks receive the
 *  context as their argument and pass it on by `cmd_ctx_t **`.
 */
#ifndef COMMAND_COMMAND_H
#define COMMAND_COMMAND_H

#include <stdbool.h>
#include <stdint.h>

#include "common/client.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/server.h"
#include "services/command/render.h"
#include "services/command/validate.h"

//  The commands this service knows; anything else is CMD_UNKNOWN, which
//  keeps metric label values bounded.
typedef enum {
    CMD_BALANCE = 0,
    CMD_DAILY,
    CMD_PAY,
    CMD_WORK,
    CMD_GRANT,
    CMD_HISTORY,
    CMD_LEADERBOARD,
    CMD_UNKNOWN,
    CMD_KIND_COUNT
} cmd_kind_t;
typedef enum { CMD_OK = 0, CMD_REFUSED, CMD_ERROR, CMD_OUTCOME_COUNT } cmd_outcome_t;

//  The service state: borrowed clients and the series each answer updates.
typedef struct {
    cb_client_t *cache;           // reads, write-through
    cb_client_t *balance;         // transfers, history, leaderboard
    int64_t max_pay;              // also the largest |amount| of one /grant
    cb_metric_t *admit_fail_open; // commands run without cache's admission
    cb_log_limiter_t admit_log;   // their log line, at most once a second
    cb_metric_t *duration[CMD_KIND_COUNT][CMD_OUTCOME_COUNT];
    cb_metric_t *total[CMD_KIND_COUNT][CMD_OUTCOME_COUNT];
} command_t;

//  One command in flight.
typedef struct {
    command_t *app;                          // borrowed
    cb_call_t *call;                         // owned until the answer
    const Cordbank__CommandRequest *request; // borrowed from call
    cmd_kind_t kind;
    int64_t started_us; // monotonic, for the duration histogram
    uint64_t target;    // /balance, /pay, /grant, /history: the member concerned
    int64_t amount;     // /pay, /grant: what the invoker asked to move (< 0: a burn)
    uint32_t page;      // /leaderboard
    //  The answer's text, held during the write-through; room for a list.
    char text[RENDER_LIST_LEN];
} cmd_ctx_t;

//  dispatch.c: the CommandRequest handler (arg: command_t *).
void dispatch_command (cb_call_t *call, void *arg);
//  Hands an admitted context to its command (takes it over).
void dispatch_start (cmd_ctx_t **self_p);
cmd_kind_t dispatch_kind (const char *name);
const char *dispatch_kind_name (cmd_kind_t kind);

//  context.c: the life of one command.
//  Registers every (command, outcome) series once; clients are borrowed.
void command_init (command_t *self, cb_client_t *cache, cb_client_t *balance, int64_t max_pay);
//  Takes ownership of *call_p. NULL only when out of memory (the call is
//  then answered INTERNAL and *call_p is NULL either way).
cmd_ctx_t *cmd_ctx_new (command_t *app, cb_call_t **call_p, const Cordbank__CommandRequest *request,
                        cmd_kind_t kind);
const char *cmd_trace_id (const cmd_ctx_t *self);
//  The answers. Each replies, records metrics, frees *self_p and NULLs it.
void cmd_answer (cmd_ctx_t **self_p, const char *text);
//  A success only the invoker sees (ephemeral), such as /history.
void cmd_answer_private (cmd_ctx_t **self_p, const char *text);
void cmd_refuse (cmd_ctx_t **self_p, Cordbank__Status status, const char *text);
//  The "having trouble" answer with `status`; logs `why` with the trace id.
void cmd_trouble (cmd_ctx_t **self_p, Cordbank__Status status, const char *why);

//  admit.c: asks cache whether the command may run (dedup, rate limits),
//  then dispatch_start, or the rate-limit refusal. Takes over the context.
void cmd_admit_init (command_t *self);
void cmd_admit (cmd_ctx_t **self_p);

//  downstream.c: calls to cache and balance on behalf of a command.
//  Sends with the command's trace id and deadline; fn gets the context as
//  its argument and is called exactly once (perhaps before this returns).
void cmd_call (cmd_ctx_t *self, cb_client_t *client, Cordbank__Envelope *request, bool idempotent,
               cb_reply_fn *fn);
//  Asks balance for a transfer by the invoker, keyed by the interaction id
//  (so it is retried safely). from/to 0 is the guild's mint.
void cmd_transfer (cmd_ctx_t *self, Cordbank__TransferKind kind, uint64_t from_user,
                   uint64_t to_user, int64_t amount, cb_reply_fn *fn);
//  The reply's envelope when it is a `want` body; otherwise answers with
//  the trouble text (transport failure, envelope-level error, wrong body)
//  and returns NULL with *self_p NULL.
const Cordbank__Envelope *cmd_reply_check (cmd_ctx_t **self_p, const char *target,
                                           const Cordbank__Envelope *reply, Cordbank__Status status,
                                           const char *error, Cordbank__Envelope__BodyCase want);
//  The transfer reply balance sent, or NULL after answering with the
//  trouble text (as cmd_reply_check) with *self_p NULL.
const Cordbank__TransferReply *cmd_transfer_reply (cmd_ctx_t **self_p,
                                                   const Cordbank__Envelope *reply,
                                                   Cordbank__Status status, const char *error);
//  Answers with the trouble text for an application status the command
//  did not expect from `target` (never with OK: that becomes INTERNAL).
void cmd_unexpected (cmd_ctx_t **self_p, const char *target, Cordbank__Status status,
                     const char *message);
//  The member's state in a transfer reply: true and *balance set if found.
bool cmd_account_balance (const Cordbank__TransferReply *reply, uint64_t user, int64_t *balance);

//  writethrough.c: after an applied transfer, tells cache every account
//  state in it and then answers self->text (money moved: a failed update
//  is logged, and the answer is a success all the same).
void cmd_write_through (cmd_ctx_t **self_p, const Cordbank__TransferReply *transfer);

//  A refusal decided by validate.c: its text and status, then cmd_refuse.
void cmd_refuse_invalid (cmd_ctx_t **self_p, validate_result_t result);

//  cmd_balance.c, cmd_reward.c (/daily, /work), cmd_pay.c, cmd_grant.c,
//  cmd_history.c, cmd_leaderboard.c: each takes over the context.
void cmd_balance_start (cmd_ctx_t **self_p);
void cmd_daily_start (cmd_ctx_t **self_p);
void cmd_work_start (cmd_ctx_t **self_p);
void cmd_pay_start (cmd_ctx_t **self_p);
void cmd_grant_start (cmd_ctx_t **self_p);
void cmd_history_start (cmd_ctx_t **self_p);
void cmd_leaderboard_start (cmd_ctx_t **self_p);

#endif
