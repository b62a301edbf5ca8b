/*  interactions — POST /interactions (see interactions.h).
 *
 *  Order of checks: the signature first (an unsigned request learns nothing
 *  about our parser), then the JSON. Every request gets a new trace id,
 *  which travels to command and back and is on every log line about it.
 *
 *  An interaction waiting on command is an interaction_t owned by the
 *  client call: the reply callback (called exactly once, also when the
 *  client is destroyed) answers Discord and frees it.
 *
 *  Metrics: cordbank_gateway_interactions_total{type,outcome} and
 *  cordbank_gateway_interaction_duration_seconds{type}, series looked up
 *  once here. type: ping, application_command, other (an unsupported
 *  type), unknown (not read: bad signature or JSON). outcome: ok,
 *  unauthorized, bad_request, dm, degraded (command unavailable or late).
 */
#include "interactions.h"

#include <assert.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/envelope.h"
#include "common/log.h"
#include "common/metrics.h"
#include "discord_json.h"

#define DM_TEXT      "cordbank works inside servers only."
#define TROUBLE_TEXT "cordbank is having trouble right now; please try again in a moment."

typedef enum { TYPE_PING, TYPE_COMMAND, TYPE_OTHER, TYPE_UNKNOWN, TYPE_COUNT } type_t;
typedef enum {
    OUTCOME_OK,
    OUTCOME_UNAUTHORIZED,
    OUTCOME_BAD_REQUEST,
    OUTCOME_DM,
    OUTCOME_DEGRADED,
    OUTCOME_COUNT
} outcome_t;

static const char *const TYPE_LABELS[TYPE_COUNT] = {"ping", "application_command", "other",
                                                    "unknown"};
static const char *const OUTCOME_LABELS[OUTCOME_COUNT] = {"ok", "unauthorized", "bad_request", "dm",
                                                          "degraded"};

struct gw_interactions {
    cb_client_t *command; // borrowed
    uint8_t public_key[GW_PUBLIC_KEY_BYTES];
    int64_t reply_budget_ms;
    cb_metric_t *requests[TYPE_COUNT][OUTCOME_COUNT];
    cb_metric_t *duration[TYPE_COUNT];
    cb_log_limiter_t client_errors; // 401 and 400: a flood must not flood the log
    cb_log_limiter_t degraded;
};

//  One interaction from its request to its response.
typedef struct {
    gw_interactions_t *owner;
    cb_http_request_t *request;
    char trace_id[CB_TRACE_ID_LEN + 1];
    int64_t started_us;
    type_t type;
    char command[40]; // Discord names are up to 32 characters
    uint64_t interaction_id, guild_id, user_id;
} interaction_t;

gw_interactions_t *
gw_interactions_new (cb_client_t *command, const uint8_t public_key[GW_PUBLIC_KEY_BYTES],
                     int64_t reply_budget_ms)
{
    assert (command && public_key && reply_budget_ms > 0);
    gw_interactions_t *self = calloc (1, sizeof *self);
    assert (self);
    self->command = command;
    memcpy (self->public_key, public_key, GW_PUBLIC_KEY_BYTES);
    self->reply_budget_ms = reply_budget_ms;
    char labels[128];
    for (int t = 0; t < TYPE_COUNT; t++) {
        for (int o = 0; o < OUTCOME_COUNT; o++) {
            cb_metrics_labels (labels, sizeof labels, "type", TYPE_LABELS[t], "outcome",
                               OUTCOME_LABELS[o], NULL);
            self->requests[t][o] = cb_metrics_counter ("cordbank_gateway_interactions_total",
                                                       "Discord interactions answered.", labels);
        }
        cb_metrics_labels (labels, sizeof labels, "type", TYPE_LABELS[t], NULL);
        self->duration[t] =
            cb_metrics_histogram ("cordbank_gateway_interaction_duration_seconds",
                                  "Time from an interaction's arrival to its answer.", labels,
                                  CB_LATENCY_BUCKETS, CB_LATENCY_BUCKETS_COUNT);
    }
    return self;
}

void
gw_interactions_destroy (gw_interactions_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

//  After the response: counts, logs the interaction's one debug line, frees it.
static void
account (interaction_t **it_p, int status, outcome_t outcome, const char *error)
{
    interaction_t *it = *it_p;
    gw_interactions_t *self = it->owner;
    int64_t elapsed_us = cb_mono_us () - it->started_us;
    cb_counter_inc (self->requests[it->type][outcome]);
    cb_histogram_observe (self->duration[it->type], (double) elapsed_us / 1e6);
    cb_log_debug (it->trace_id, "interaction", "{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:s}",
                  "type", TYPE_LABELS[it->type], "command", it->command, "outcome",
                  OUTCOME_LABELS[outcome], "status", status, "duration_us", (json_int_t) elapsed_us,
                  "interaction_id", (json_int_t) it->interaction_id, "guild_id",
                  (json_int_t) it->guild_id, "user_id", (json_int_t) it->user_id, "error",
                  error ? error : "");
    free (it);
    *it_p = NULL;
}

//  Answers with json, then accounts for the interaction.
static void
finish (interaction_t **it_p, int status, const char *json, outcome_t outcome, const char *error)
{
    cb_http_respond (&(*it_p)->request, status, "application/json", json, json ? strlen (json) : 0);
    account (it_p, status, outcome, error);
}

static void
finish_message (interaction_t **it_p, const char *content, outcome_t outcome, const char *error)
{
    char *json = gw_json_message (content, true);
    finish (it_p, 200, json, outcome, error);
    free (json);
}

//  401 and 400: {"error": why}, and a warning at most once a second.
static void
finish_refused (interaction_t **it_p, int status, const char *why)
{
    interaction_t *it = *it_p;
    uint64_t suppressed = 0;
    if (cb_log_limiter_allow (&it->owner->client_errors, &suppressed))
        cb_log_warn (it->trace_id, "interaction refused", "{s:i, s:s, s:I}", "status", status,
                     "error", why, "suppressed", (json_int_t) suppressed);
    cb_http_respond_error (&it->request, status, why);
    account (it_p, status, status == 401 ? OUTCOME_UNAUTHORIZED : OUTCOME_BAD_REQUEST, why);
}

static void
on_reply (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    interaction_t *it = arg;
    const Cordbank__CommandReply *body =
        reply && reply->body_case == CORDBANK__ENVELOPE__BODY_COMMAND_REPLY ? reply->command_reply
                                                                            : NULL;
    char *json = body && (*body->content || body->n_embeds) ? gw_json_reply (body) : NULL;
    if (json) {
        finish (&it, 200, json, OUTCOME_OK, NULL);
        free (json);
        return;
    }
    Cordbank__Status why = reply ? cb_envelope_status (reply) : status;
    const char *detail = reply && *reply->error ? reply->error : error ? error : "empty reply";
    uint64_t suppressed = 0;
    if (cb_log_limiter_allow (&it->owner->degraded, &suppressed))
        cb_log_warn (it->trace_id, "command did not answer; sent the trouble message",
                     "{s:s, s:s, s:s, s:I}", "command", it->command, "status", cb_status_name (why),
                     "error", detail, "suppressed", (json_int_t) suppressed);
    finish_message (&it, TROUBLE_TEXT, OUTCOME_DEGRADED, cb_status_name (why));
}

//  Takes the command's request on to command, or answers a DM directly.
static void
dispatch (interaction_t *it, const Cordbank__CommandRequest *cmd)
{
    snprintf (it->command, sizeof it->command, "%s", cmd->command_name);
    it->interaction_id = cmd->interaction_id;
    it->guild_id = cmd->guild_id;
    it->user_id = cmd->user_id;
    if (cmd->guild_id == 0) {
        finish_message (&it, DM_TEXT, OUTCOME_DM, NULL);
        return;
    }
    gw_interactions_t *self = it->owner;
    Cordbank__Envelope env = CORDBANK__ENVELOPE__INIT;
    env.body_case = CORDBANK__ENVELOPE__BODY_COMMAND_REQUEST;
    env.command_request = (Cordbank__CommandRequest *) cmd;
    //  Idempotent: command's writes carry the interaction id as their key.
    cb_client_call (self->command, &env, it->trace_id, cb_now_ms () + self->reply_budget_ms, true,
                    on_reply, it);
}

static type_t
type_of (int64_t type)
{
    if (type == 0)
        return TYPE_UNKNOWN;
    if (type == GW_INTERACTION_PING)
        return TYPE_PING;
    return type == GW_INTERACTION_APPLICATION_COMMAND ? TYPE_COMMAND : TYPE_OTHER;
}

static bool
signature_ok (const gw_interactions_t *self, cb_http_request_t *request)
{
    size_t size;
    const uint8_t *body = cb_http_request_body (request, &size);
    return gw_signature_valid (
        self->public_key, cb_http_request_header (request, "x-signature-ed25519"),
        cb_http_request_header (request, "x-signature-timestamp"), body, size);
}

void
gw_interactions_handle (cb_http_request_t *request, void *arg)
{
    gw_interactions_t *self = arg;
    interaction_t *it = calloc (1, sizeof *it);
    assert (it);
    *it = (interaction_t){
        .owner = self, .request = request, .started_us = cb_mono_us (), .type = TYPE_UNKNOWN};
    cb_trace_id_new (it->trace_id);
    if (!signature_ok (self, request)) {
        finish_refused (&it, 401, "invalid request signature");
        return;
    }
    size_t size;
    const uint8_t *body = cb_http_request_body (request, &size);
    gw_interaction_t parsed;
    char why[200];
    int rc = gw_interaction_parse (body, size, &parsed, why, sizeof why);
    it->type = type_of (parsed.type);
    if (rc != 0)
        finish_refused (&it, 400, why);
    else if (parsed.type == GW_INTERACTION_PING) {
        char *json = gw_json_pong ();
        finish (&it, 200, json, OUTCOME_OK, NULL);
        free (json);
    } else
        dispatch (it, parsed.command);
    gw_interaction_clear (&parsed);
}
