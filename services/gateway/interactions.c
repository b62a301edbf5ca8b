/*  interactions — POST /interactions and Gateway interactions (see
 *  interactions.h).
 *
 *  Order of checks: the signature first (an unsigned request learns nothing
 *  about our parser), then the JSON, then the replay window (a valid
 *  signature from too long ago, or too far ahead, is refused 401 all the
 *  same: it may be a captured request sent again). Every request gets a new trace id,
 *  which travels to command and back and is on every log line about it.
 *
 *  An interaction waiting on command is an interaction_t held by its
 *  references: the client call (its reply callback is called exactly once,
 *  also when the client is destroyed), the defer timer, and each REST
 *  request about it. It is freed when the last one lets go.
 *
 *  Answering, once per interaction: an HTTP interaction is answered in its
 *  HTTP response; a Gateway one through POST /interactions/{id}/{token}/
 *  callback. Either is type 4 with command's reply, or — when command has
 *  not answered within defer_after_ms and REST is set — type 5 (deferred)
 *  followed, when the reply comes, by PATCH .../messages/@original. The
 *  deferred message's visibility is decided at defer time, since an edit
 *  cannot change it: ephemeral for /history (its answer is private),
 *  public for the others (a late refusal is then shown in it too).
 *
 *  A callback retried after an unknown outcome (timeout, 5xx) may find
 *  the first one applied: Discord answers 400 with code 40060 "already
 *  acknowledged", which counts as delivered, never as a reason to answer
 *  again. Gateway interactions already seen (a replay after a resume) are
 *  dropped by id.
 *
 *  Metrics: cordbank_gateway_interactions_total{type,outcome} and
 *  cordbank_gateway_interaction_duration_seconds{type}, series looked up
 *  once here. type: ping, application_command, other (an unsupported
 *  type), unknown (not read: bad signature or JSON). outcome: ok,
 *  unauthorized, bad_request, dm, degraded (command unavailable or late), lost
 *  (Discord could not be told). cordbank_gateway_interactions_deferred_total
 *  counts type 5 answers, cordbank_gateway_interactions_duplicate_total
 *  Gateway interactions dropped as already seen.
 */
#include "interactions.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/envelope.h"
#include "common/log.h"
#include "common/metrics.h"
#include "discord_json.h"
#include "interaction_check.h"

#define DM_TEXT      "cordbank works inside servers only."
#define TROUBLE_TEXT "cordbank is having trouble right now; please try again in a moment."
#define BUSY_TEXT    "cordbank is busy right now; please try again in a moment."
//  Discord's limits: 3 s to acknowledge, 15 min for the token.
#define ACK_WINDOW_MS 3000
#define TOKEN_LIFE_MS (15 * 60 * 1000)
#define ALREADY_ACKED 40060
#define SEEN_MAX      100000
#define EPHEMERAL     64

typedef enum { TYPE_PING, TYPE_COMMAND, TYPE_OTHER, TYPE_UNKNOWN, TYPE_COUNT } type_t;
typedef enum {
    OUTCOME_OK,
    OUTCOME_UNAUTHORIZED,
    OUTCOME_BAD_REQUEST,
    OUTCOME_DM,
    OUTCOME_DEGRADED,
    OUTCOME_BUSY,
    OUTCOME_LOST,
    OUTCOME_COUNT
} outcome_t;

static const char *const TYPE_LABELS[TYPE_COUNT] = {"ping", "application_command", "other",
                                                    "unknown"};
static const char *const OUTCOME_LABELS[OUTCOME_COUNT] = {
    "ok", "unauthorized", "bad_request", "dm", "degraded", "busy", "lost"};

struct gw_interactions {
    cb_client_t *command; // borrowed
    uint8_t public_key[GW_PUBLIC_KEY_BYTES];
    int64_t reply_budget_ms;
    size_t max_inflight; // commands waiting on command before new ones are shed
    int64_t max_skew_s;  // replay window of X-Signature-Timestamp, either way
    gw_rest_t *rest;     // borrowed; NULL: no defer, no Gateway interactions
    int64_t defer_after_ms, deferred_budget_ms;
    zloop_t *loop;
    zhashx_t *seen; // Gateway interaction ids answered or in progress → expiry (ms)
    cb_metric_t *requests[TYPE_COUNT][OUTCOME_COUNT];
    cb_metric_t *duration[TYPE_COUNT];
    cb_metric_t *deferred, *duplicates;
    cb_log_limiter_t client_errors; // 401 and 400: a flood must not flood the log
    cb_log_limiter_t degraded;
    cb_log_limiter_t lost;
};

//  Where an interaction stands.
typedef enum {
    STATE_WAITING,   // on command, not acknowledged
    STATE_DEFERRING, // type 5 callback in flight (Gateway)
    STATE_DEFERRED,  // acknowledged with type 5, the reply not yet edited in
    STATE_ANSWERING, // the final callback or edit in flight
    STATE_DONE
} state_t;

//  One interaction from its arrival to its answer.
typedef struct {
    gw_interactions_t *owner;
    cb_http_request_t *request; // HTTP, until responded
    bool from_gateway;
    int shard_id;
    char trace_id[CB_TRACE_ID_LEN + 1];
    int64_t started_us, started_ms;
    type_t type;
    char command[40]; // Discord names are up to 32 characters
    uint64_t interaction_id, guild_id, user_id, application_id;
    char *token; // the interaction token (secret: never logged)
    state_t state;
    int refs;          // the command call, the defer timer, REST requests
    char *reply;       // the final type 4 response, when it waits on the type 5 callback
    outcome_t outcome; // what the final response is (ok, degraded, dm)
    bool accounted;
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
    self->max_inflight = SIZE_MAX;
    self->max_skew_s = GW_MAX_SKEW_S;
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
    self->deferred = cb_metrics_counter ("cordbank_gateway_interactions_deferred_total",
                                         "Interactions acknowledged with type 5 (deferred).", NULL);
    self->duplicates =
        cb_metrics_counter ("cordbank_gateway_interactions_duplicate_total",
                            "Gateway interactions dropped because they were already seen.", NULL);
    self->seen = zhashx_new ();
    assert (self->seen);
    return self;
}

void
gw_interactions_destroy (gw_interactions_t **self_p)
{
    assert (self_p);
    gw_interactions_t *self = *self_p;
    if (self)
        zhashx_destroy (&self->seen);
    free (self);
    *self_p = NULL;
}

void
gw_interactions_set_max_inflight (gw_interactions_t *self, size_t max_inflight)
{
    assert (self && max_inflight > 0);
    self->max_inflight = max_inflight;
}

void
gw_interactions_set_max_skew (gw_interactions_t *self, int64_t max_skew_s)
{
    assert (self && max_skew_s > 0);
    self->max_skew_s = max_skew_s;
}

void
gw_interactions_set_rest (gw_interactions_t *self, zloop_t *loop, gw_rest_t *rest,
                          int64_t defer_after_ms, int64_t deferred_budget_ms)
{
    assert (self && (!rest || (loop && defer_after_ms > 0)));
    if (loop)
        self->loop = loop;
    self->rest = rest;
    self->defer_after_ms = defer_after_ms;
    self->deferred_budget_ms =
        deferred_budget_ms < TOKEN_LIFE_MS - 10000 ? deferred_budget_ms : TOKEN_LIFE_MS - 10000;
}

//  --- life --------------------------------------------------------------------

static interaction_t *
interaction_new (gw_interactions_t *self)
{
    interaction_t *it = calloc (1, sizeof *it);
    assert (it);
    *it = (interaction_t){.owner = self,
                          .started_us = cb_mono_us (),
                          .started_ms = cb_now_ms (),
                          .type = TYPE_UNKNOWN,
                          .refs = 1}; // the caller's, until it hands over
    cb_trace_id_new (it->trace_id);
    return it;
}

static void
release (interaction_t *it)
{
    assert (it->refs > 0);
    if (--it->refs > 0)
        return;
    cb_secret_free (it->token);
    free (it->reply);
    free (it);
}

//  Counts the interaction's outcome and logs its one debug line (once).
static void
account (interaction_t *it, int status, outcome_t outcome, const char *error)
{
    if (it->accounted)
        return;
    it->accounted = true;
    it->state = STATE_DONE;
    gw_interactions_t *self = it->owner;
    int64_t elapsed_us = cb_mono_us () - it->started_us;
    cb_counter_inc (self->requests[it->type][outcome]);
    cb_histogram_observe (self->duration[it->type], (double) elapsed_us / 1e6);
    cb_log_debug (it->trace_id, "interaction", "{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:s, s:b}",
                  "type", TYPE_LABELS[it->type], "command", it->command, "outcome",
                  OUTCOME_LABELS[outcome], "status", status, "duration_us", (json_int_t) elapsed_us,
                  "interaction_id", (json_int_t) it->interaction_id, "guild_id",
                  (json_int_t) it->guild_id, "user_id", (json_int_t) it->user_id, "error",
                  error ? error : "", "gateway", it->from_gateway);
    char what[sizeof it->command + 16];
    snprintf (what, sizeof what, "interaction /%s", it->command);
    cb_metrics_exemplar_offer (it->trace_id, what, (double) elapsed_us / 1e6);
}

//  --- HTTP answers ----------------------------------------------------------------

//  Answers the HTTP request with json (the interaction stays alive when deferred).
static void
respond (interaction_t *it, int status, const char *json)
{
    cb_http_respond (&it->request, status, "application/json", json, json ? strlen (json) : 0);
}

static void
finish (interaction_t *it, int status, const char *json, outcome_t outcome, const char *error)
{
    respond (it, status, json);
    account (it, status, outcome, error);
    release (it);
}

//  401 and 400: {"error": why}, and a warning at most once a second.
static void
finish_refused (interaction_t *it, int status, const char *why)
{
    uint64_t suppressed = 0;
    if (cb_log_limiter_allow (&it->owner->client_errors, &suppressed))
        cb_log_warn (it->trace_id, "interaction refused", "{s:i, s:s, s:I}", "status", status,
                     "error", why, "suppressed", (json_int_t) suppressed);
    cb_http_respond_error (&it->request, status, why);
    account (it, status, status == 401 ? OUTCOME_UNAUTHORIZED : OUTCOME_BAD_REQUEST, why);
    release (it);
}

//  --- REST answers ------------------------------------------------------------------

//  A REST answer that means Discord has the acknowledgement: 2xx, or 40060
//  (a retried callback whose first attempt had landed).
static bool
delivered (const gw_rest_response_t *r)
{
    return (r->status >= 200 && r->status < 300) ||
           (r->status == 400 && r->discord_code == ALREADY_ACKED);
}

//  At most once a second: when Discord is away, every interaction is lost.
static void
log_lost (interaction_t *it, const char *what, const gw_rest_response_t *r)
{
    uint64_t suppressed = 0;
    if (cb_log_limiter_allow (&it->owner->lost, &suppressed))
        cb_log_warn (it->trace_id, "could not answer an interaction",
                     "{s:s, s:s, s:i, s:i, s:s, s:I}", "command", it->command, "step", what,
                     "status", r->status, "discord_code", r->discord_code, "error",
                     r->error ? r->error : "", "suppressed", (json_int_t) suppressed);
}

static int
send_rest (interaction_t *it, const char *method, const char *path, const char *body,
           int64_t deadline_ms, gw_rest_fn *fn)
{
    if (!it->owner->rest)
        return -1; // shutting down
    it->refs++;
    if (gw_rest_request (it->owner->rest, method, path, body, deadline_ms, it->trace_id, fn, it) ==
        0)
        return 0;
    it->refs--;
    return -1;
}

static void
on_final (const gw_rest_response_t *r, void *arg)
{
    interaction_t *it = arg;
    if (delivered (r))
        account (it, r->status, it->outcome, NULL);
    else {
        log_lost (it, "answer", r);
        account (it, r->status, OUTCOME_LOST, r->error);
    }
    release (it);
}

//  The message part of a type 4 response: what PATCH @original takes
//  (without flags: an edit cannot change them).
static char *
message_of (const char *response)
{
    json_t *root = json_loads (response, 0, NULL);
    json_t *data = json_object_get (root, "data");
    if (data)
        json_object_del (data, "flags");
    char *text = data ? json_dumps (data, JSON_COMPACT) : NULL;
    json_decref (root);
    return text;
}

static void
edit_original (interaction_t *it, const char *response)
{
    char path[512];
    snprintf (path, sizeof path, "/webhooks/%" PRIu64 "/%s/messages/@original", it->application_id,
              it->token);
    char *message = message_of (response);
    it->state = STATE_ANSWERING;
    if (!message || send_rest (it, "PATCH", path, message, it->started_ms + TOKEN_LIFE_MS - 5000,
                               on_final) != 0)
        account (it, 0, OUTCOME_LOST, "could not send the edit");
    free (message);
}

static void
callback (interaction_t *it, const char *response, gw_rest_fn *fn)
{
    char path[512];
    snprintf (path, sizeof path, "/interactions/%" PRIu64 "/%s/callback", it->interaction_id,
              it->token);
    if (send_rest (it, "POST", path, response, it->started_ms + ACK_WINDOW_MS, fn) != 0)
        account (it, 0, OUTCOME_LOST, "could not send the callback");
}

static void
on_deferred (const gw_rest_response_t *r, void *arg)
{
    interaction_t *it = arg;
    if (!delivered (r)) {
        log_lost (it, "defer", r);
        account (it, r->status, OUTCOME_LOST, r->error);
    } else if (it->state == STATE_DEFERRING) {
        it->state = STATE_DEFERRED;
        if (it->reply) // command answered while the callback was out
            edit_original (it, it->reply);
    }
    release (it);
}

//  --- deferring --------------------------------------------------------------------

static char *
deferred_json (const interaction_t *it)
{
    bool ephemeral = strcmp (it->command, "history") == 0;
    json_t *root =
        json_pack ("{s:i, s:{s:i}}", "type", 5, "data", "flags", ephemeral ? EPHEMERAL : 0);
    char *text = root ? json_dumps (root, JSON_COMPACT) : NULL;
    json_decref (root);
    return text;
}

static int
on_defer_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    interaction_t *it = arg;
    if (it->state == STATE_WAITING) {
        char *json = deferred_json (it);
        cb_counter_inc (it->owner->deferred);
        if (it->from_gateway) {
            it->state = STATE_DEFERRING;
            callback (it, json, on_deferred);
        } else {
            it->state = STATE_DEFERRED;
            respond (it, 200, json);
        }
        free (json);
    }
    release (it);
    return 0;
}

//  The timer is never ended early: it holds a reference and does nothing
//  once the interaction has moved on (a timer ended in the loop iteration
//  in which it is due would still fire).
static void
start_defer_timer (interaction_t *it)
{
    gw_interactions_t *self = it->owner;
    if (zloop_timer (self->loop, (size_t) self->defer_after_ms, 1, on_defer_timer, it) >= 0)
        it->refs++;
}

//  --- command's reply -----------------------------------------------------------------

//  Sends the final response (type 4 JSON) by the way the interaction is at.
static void
answer (interaction_t *it, const char *response, outcome_t outcome)
{
    it->outcome = outcome;
    switch (it->state) {
    case STATE_WAITING:
        if (it->from_gateway) {
            it->state = STATE_ANSWERING;
            callback (it, response, on_final);
        } else {
            respond (it, 200, response);
            account (it, 200, outcome,
                     outcome == OUTCOME_DEGRADED ? "command did not answer" : NULL);
        }
        break;
    case STATE_DEFERRING:
        free (it->reply);
        it->reply = strdup (response);
        break;
    case STATE_DEFERRED:
        edit_original (it, response);
        break;
    default:
        break; // already lost
    }
}

//  Shed load: an answer now beats a timeout later, and asks for a retry.
static void
answer_busy (interaction_t *it, const char *why)
{
    uint64_t suppressed = 0;
    if (cb_log_limiter_allow (&it->owner->degraded, &suppressed))
        cb_log_warn (it->trace_id, "shed the command; sent the busy message", "{s:s, s:s, s:I}",
                     "command", it->command, "why", why, "suppressed", (json_int_t) suppressed);
    char *json = gw_json_message (BUSY_TEXT, true);
    answer (it, json, OUTCOME_BUSY);
    free (json);
}

static void
answer_trouble (interaction_t *it, Cordbank__Status why, const char *detail)
{
    uint64_t suppressed = 0;
    if (cb_log_limiter_allow (&it->owner->degraded, &suppressed))
        cb_log_warn (it->trace_id, "command did not answer; sent the trouble message",
                     "{s:s, s:s, s:s, s:I}", "command", it->command, "status", cb_status_name (why),
                     "error", detail, "suppressed", (json_int_t) suppressed);
    char *json = gw_json_message (TROUBLE_TEXT, true);
    answer (it, json, OUTCOME_DEGRADED);
    free (json);
}

static void
on_reply (const Cordbank__Envelope *reply, Cordbank__Status status, const char *error, void *arg)
{
    interaction_t *it = arg;
    const Cordbank__CommandReply *body =
        reply && reply->body_case == CORDBANK__ENVELOPE__BODY_COMMAND_REPLY ? reply->command_reply
                                                                            : NULL;
    char *json = body && (*body->content || body->n_embeds) ? gw_json_reply (body) : NULL;
    if (json)
        answer (it, json, OUTCOME_OK);
    else {
        Cordbank__Status why = reply ? cb_envelope_status (reply) : status;
        const char *detail = reply && *reply->error ? reply->error : error ? error : "empty reply";
        if (why == CORDBANK__STATUS__STATUS_BUSY)
            answer_busy (it, detail);
        else
            answer_trouble (it, why, detail);
    }
    free (json);
    release (it);
}

//  --- dispatch ----------------------------------------------------------------------------

//  Takes the command's request on to command, or answers a DM directly.
//  Consumes the caller's reference.
static void
dispatch (interaction_t *it, const Cordbank__CommandRequest *cmd)
{
    snprintf (it->command, sizeof it->command, "%s", cmd->command_name);
    it->interaction_id = cmd->interaction_id;
    it->guild_id = cmd->guild_id;
    it->user_id = cmd->user_id;
    it->application_id = cmd->application_id;
    it->token = strdup (cmd->interaction_token);
    gw_interactions_t *self = it->owner;
    bool defer = self->rest != NULL;
    if (cmd->guild_id == 0) {
        char *json = gw_json_message (DM_TEXT, true);
        answer (it, json, OUTCOME_DM);
        free (json);
        release (it);
        return;
    }
    if (cb_client_pending (self->command) >= self->max_inflight) {
        answer_busy (it, "too many commands in flight");
        release (it);
        return;
    }
    Cordbank__Envelope env = CORDBANK__ENVELOPE__INIT;
    env.body_case = CORDBANK__ENVELOPE__BODY_COMMAND_REQUEST;
    env.command_request = (Cordbank__CommandRequest *) cmd;
    if (defer)
        start_defer_timer (it);
    int64_t budget = defer ? self->deferred_budget_ms : self->reply_budget_ms;
    //  Idempotent: command's writes carry the interaction id as their key.
    //  The caller's reference becomes the call's.
    cb_client_call (self->command, &env, it->trace_id, it->started_ms + budget, true, on_reply, it);
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

void
gw_interactions_handle (cb_http_request_t *request, void *arg)
{
    gw_interactions_t *self = arg;
    interaction_t *it = interaction_new (self);
    it->request = request;
    size_t size;
    const uint8_t *body = cb_http_request_body (request, &size);
    gw_interaction_t parsed;
    char why[200];
    gw_check_t check = gw_interaction_check (
        self->public_key, cb_http_request_header (request, "x-signature-ed25519"),
        cb_http_request_header (request, "x-signature-timestamp"), body, size, &parsed, why,
        sizeof why);
    it->type = type_of (parsed.type);
    if (check != GW_CHECK_UNAUTHORIZED &&
        gw_timestamp_check (cb_http_request_header (request, "x-signature-timestamp"),
                            cb_now_ms () / 1000, self->max_skew_s, why, sizeof why) != 0)
        check = GW_CHECK_UNAUTHORIZED;
    switch (check) {
    case GW_CHECK_UNAUTHORIZED:
        finish_refused (it, 401, why);
        break;
    case GW_CHECK_BAD_REQUEST:
        finish_refused (it, 400, why);
        break;
    case GW_CHECK_PING: {
        char *json = gw_json_pong ();
        finish (it, 200, json, OUTCOME_OK, NULL);
        free (json);
        break;
    }
    case GW_CHECK_COMMAND:
        dispatch (it, parsed.command);
        break;
    }
    gw_interaction_clear (&parsed);
}

//  --- from the Gateway -------------------------------------------------------------------

//  True (and remembered) the first time an interaction id is seen.
static bool
first_sighting (gw_interactions_t *self, uint64_t id)
{
    char key[24];
    snprintf (key, sizeof key, "%" PRIu64, id);
    if (zhashx_lookup (self->seen, key))
        return false;
    if (zhashx_size (self->seen) >= SEEN_MAX)
        zhashx_purge (self->seen); // past Discord's replay horizon long ago
    zhashx_insert (self->seen, key, (void *) 1);
    return true;
}

void
gw_interactions_from_gateway (gw_interactions_t *self, const char *json, size_t len, int shard_id)
{
    assert (self && json);
    gw_interaction_t parsed;
    char why[200];
    int rc = gw_interaction_parse ((const uint8_t *) json, len, &parsed, why, sizeof why);
    if (rc != 0 || parsed.type != GW_INTERACTION_APPLICATION_COMMAND || !self->rest) {
        uint64_t suppressed = 0;
        if (cb_log_limiter_allow (&self->client_errors, &suppressed))
            cb_log_warn (NULL, "gateway interaction dropped", "{s:i, s:s, s:I}", "shard", shard_id,
                         "error",
                         rc != 0       ? why
                         : !self->rest ? "no REST client"
                                       : "not a command",
                         "suppressed", (json_int_t) suppressed);
    } else if (!first_sighting (self, parsed.command->interaction_id))
        cb_counter_inc (self->duplicates);
    else {
        interaction_t *it = interaction_new (self);
        it->from_gateway = true;
        it->shard_id = shard_id;
        it->type = TYPE_COMMAND;
        dispatch (it, parsed.command);
    }
    gw_interaction_clear (&parsed);
}
