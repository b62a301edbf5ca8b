/*  server_webhooks — answering interactions: the callback endpoint and the
 *  interaction webhook (edit the original response, followups), with the
 *  errors Discord gives a bot that gets them wrong.
 *
 *  - callback: 204 (or 200 with the response when ?with_response=true);
 *    a second one for the same interaction is 400 / 40060 "Interaction has
 *    already been acknowledged." (counted as answered_twice); one later
 *    than --callback-window-ms (Discord: 3 s) after the dispatch was sent,
 *    or for an interaction that does not exist, is 404 / 10062 "Unknown
 *    interaction"; type 4 without content, embeds, components, poll or
 *    attachments is 400 / 50006; content over 2000 characters or unknown
 *    flags are 400 / 50035.
 *  - webhook: the token must be an interaction's (401 / 50027 otherwise, or
 *    once it is 15 minutes old) and the interaction must have been
 *    acknowledged first (404 / 10015 Unknown Webhook).
 */
#include "load/discord-sim/server_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONTENT_MAX      2000
#define WEBHOOK_VALID_MS (15 * 60 * 1000)
#define ALLOWED_FLAGS    (4 | 64 | 4096 | 32768) // suppress embeds, ephemeral, silent, components v2
#define CALLBACK_TYPES   "4 5 9"                 // valid for an application command

static void
invalid_form (srv_response_t *r, const char *field, const char *code, const char *message)
{
    json_t *errors =
        json_pack ("{s:{s:[{s:s, s:s}]}}", field, "_errors", "code", code, "message", message);
    srv_respond_json (r, 400,
                      json_pack ("{s:i, s:o, s:s}", "code", 50035, "errors", errors, "message",
                                 "Invalid Form Body"));
}

//  A message body (callback data, edit or followup): 0, or -1 with r set.
static int
check_message (srv_t *srv, const json_t *data, bool need_something, srv_response_t *r)
{
    srv_ix_counters_t *n = srv_interactions_counters (srv->interactions);
    const json_t *content = json_object_get (data, "content");
    const json_t *flags = json_object_get (data, "flags");
    if (data && !json_is_object (data)) {
        invalid_form (r, "data", "MODEL_TYPE_CONVERT",
                      "Only dictionaries may be used in a ModelType");
    } else if (content && !json_is_null (content) &&
               (!json_is_string (content) ||
                strlen (json_string_value (content)) > CONTENT_MAX * 4 ||
                json_string_length (content) > CONTENT_MAX)) {
        invalid_form (r, "content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.");
    } else if (flags && !json_is_null (flags) &&
               (!json_is_integer (flags) || (json_integer_value (flags) & ~ALLOWED_FLAGS))) {
        invalid_form (r, "flags", "MESSAGE_FLAGS_INVALID", "Invalid message flags");
    } else if (need_something) {
        bool has_content = json_is_string (content) && json_string_length (content) > 0;
        const char *others[] = {"embeds", "components", "attachments", "poll", "sticker_ids"};
        for (size_t i = 0; i < 5 && !has_content; i++) {
            const json_t *v = json_object_get (data, others[i]);
            has_content = (json_is_array (v) && json_array_size (v) > 0) || json_is_object (v);
        }
        if (has_content)
            return 0;
        srv_respond_error (r, 400, 50006, "Cannot send an empty message");
    } else
        return 0;
    n->invalid_bodies++;
    return -1;
}

static void
iso_time (int64_t ms, char out[40])
{
    time_t s = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r (&s, &tm);
    char base[24];
    strftime (base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (out, 40, "%s.%03d000+00:00", base, (int) (ms % 1000));
}

json_t *
srv_message_new (srv_t *srv, const srv_interaction_t *ix, const json_t *data)
{
    char id[24], channel[24], when[40];
    snprintf (id, sizeof id, "%" PRIu64, sim_snowflake_next (&srv->ids));
    snprintf (channel, sizeof channel, "%" PRIu64, ix->channel_id);
    iso_time (cb_now_ms (), when);
    json_t *m = json_pack (
        "{s:s, s:i, s:s, s:s, s:{s:s, s:s, s:s, s:b}, s:s, s:n, s:b, s:b, "
        "s:[], s:[], s:[], s:[], s:[], s:b, s:i, s:s, s:s}",
        "id", id, "type", ix->id ? 20 : 0, "content", "", "channel_id", channel, "author", "id",
        srv->cfg->application_id, "username", "cordbank-sim", "discriminator", "0", "bot", true,
        "timestamp", when, "edited_timestamp", "tts", false, "mention_everyone", false, "mentions",
        "mention_roles", "attachments", "embeds", "components", "pinned", false, "flags", 0,
        "application_id", srv->cfg->application_id, "webhook_id", srv->cfg->application_id);
    if (data)
        json_object_update_existing (m, (json_t *) data);
    return m;
}

//  ---------------------------------------------------------------------------
//  The callback

static bool
callback_type_ok (int64_t type)
{
    char text[8];
    snprintf (text, sizeof text, "%lld", (long long) type);
    const char *found = strstr (CALLBACK_TYPES, text);
    return found && (found[strlen (text)] == ' ' || found[strlen (text)] == '\0');
}

//  The checks before a callback is accepted: true when r is already set.
static bool
callback_refused (srv_t *srv, srv_interaction_t *ix, const char *token, srv_response_t *r)
{
    srv_ix_counters_t *n = srv_interactions_counters (srv->interactions);
    int64_t now = cb_mono_ms ();
    if (!ix || strcmp (ix->token, token) != 0 || ix->sent_ms == 0) {
        n->unknown++;
        srv_respond_error (r, 404, 10062, "Unknown interaction");
    } else if (ix->callbacks > 0) {
        n->answered_twice++;
        srv_respond_error (r, 400, 40060, "Interaction has already been acknowledged.");
    } else if (now - ix->sent_ms > srv->cfg->callback_window_ms) {
        n->expired++;
        srv_respond_error (r, 404, 10062, "Unknown interaction");
    } else
        return false;
    return true;
}

static void
callback_answer (const srv_interaction_t *ix, int64_t type, const srv_request_t *req,
                 srv_response_t *r)
{
    if (!strstr (req->query, "with_response=true")) {
        srv_respond_json (r, 204, NULL);
        return;
    }
    json_t *flags = ix->original ? json_object_get (ix->original, "flags") : NULL;
    json_t *answer = json_pack ("{s:{s:s, s:i, s:O?, s:b, s:b}}", "interaction", "id", ix->id_text,
                                "type", 2, "response_message_id",
                                ix->original ? json_object_get (ix->original, "id") : NULL,
                                "response_message_loading", type == 5, "response_message_ephemeral",
                                flags && (json_integer_value (flags) & 64));
    if (ix->original)
        json_object_set_new (
            answer, "resource",
            json_pack ("{s:I, s:O}", "type", (json_int_t) type, "message", ix->original));
    srv_respond_json (r, 200, answer);
}

void
srv_webhooks_callback (srv_t *srv, const char *id, const char *token, const srv_request_t *req,
                       srv_response_t *r)
{
    srv_interaction_t *ix = srv_interactions_find (srv->interactions, id);
    if (callback_refused (srv, ix, token, r))
        return;
    srv_ix_counters_t *n = srv_interactions_counters (srv->interactions);
    json_t *body = json_loadb (req->body, req->body_len, 0, NULL);
    const json_t *type_json = json_object_get (body, "type");
    int64_t type = json_is_integer (type_json) ? json_integer_value (type_json) : 0;
    const json_t *data = json_object_get (body, "data");
    if (!json_is_object (body)) {
        n->invalid_bodies++;
        srv_respond_error (r, 400, 50109, "The request body contains invalid JSON.");
    } else if (!callback_type_ok (type)) {
        n->invalid_bodies++;
        invalid_form (r, "type", "INTERACTION_CALLBACK_TYPE_INVALID",
                      "Interaction callback type is not valid for this interaction");
    } else if (check_message (srv, data, type == 4, r) == 0) {
        ix->callbacks++;
        n->answered++;
        sim_hist_record (n->answer_us, (uint64_t) (cb_mono_us () - ix->sent_ms * 1000));
        ix->deferred = type == 5;
        n->deferred += type == 5;
        if (type == 4) {
            ix->original = srv_message_new (srv, ix, data);
            ix->responded = true;
        }
        callback_answer (ix, type, req, r);
    }
    json_decref (body);
}

//  ---------------------------------------------------------------------------
//  The webhook

static void
edit_original (srv_t *srv, srv_interaction_t *ix, const srv_request_t *req, srv_response_t *r)
{
    json_t *body = json_loadb (req->body, req->body_len, 0, NULL);
    if (!json_is_object (body)) {
        srv_interactions_counters (srv->interactions)->invalid_bodies++;
        srv_respond_error (r, 400, 50109, "The request body contains invalid JSON.");
    } else if (check_message (srv, body, !ix->original, r) == 0) {
        if (!ix->original)
            ix->original = srv_message_new (srv, ix, NULL);
        json_object_update_existing (ix->original, body);
        char when[40];
        iso_time (cb_now_ms (), when);
        json_object_set_new (ix->original, "edited_timestamp", json_string (when));
        ix->edits++;
        ix->responded = true;
        srv_interactions_counters (srv->interactions)->edited++;
        srv_respond_json (r, 200, json_incref (ix->original));
    }
    json_decref (body);
}

static void
followup (srv_t *srv, srv_interaction_t *ix, const srv_request_t *req, srv_response_t *r)
{
    json_t *body = json_loadb (req->body, req->body_len, 0, NULL);
    if (!json_is_object (body)) {
        srv_interactions_counters (srv->interactions)->invalid_bodies++;
        srv_respond_error (r, 400, 50109, "The request body contains invalid JSON.");
    } else if (check_message (srv, body, true, r) == 0) {
        ix->followups++;
        srv_interactions_counters (srv->interactions)->followups++;
        srv_respond_json (r, 200, srv_message_new (srv, ix, body));
    }
    json_decref (body);
}

void
srv_webhooks_message (srv_t *srv, const char *app, const char *token, const char *message,
                      const srv_request_t *req, srv_response_t *r)
{
    srv_interaction_t *ix = srv_interactions_by_token (srv->interactions, token);
    if (strcmp (app, srv->cfg->application_id) != 0) {
        srv_respond_error (r, 404, 10015, "Unknown Webhook");
    } else if (!ix || ix->sent_ms == 0 || cb_mono_ms () - ix->sent_ms > WEBHOOK_VALID_MS) {
        srv_interactions_counters (srv->interactions)->unknown++;
        srv_respond_error (r, 401, 50027, "Invalid Webhook Token");
    } else if (ix->callbacks == 0) {
        srv_respond_error (r, 404, 10015, "Unknown Webhook");
    } else if (!message)
        followup (srv, ix, req, r);
    else if (strcmp (message, "@original") != 0)
        srv_respond_error (r, 404, 10008, "Unknown Message");
    else if (strcmp (req->method, "PATCH") == 0)
        edit_original (srv, ix, req, r);
    else if (!ix->original)
        srv_respond_error (r, 404, 10008, "Unknown Message");
    else if (strcmp (req->method, "GET") == 0)
        srv_respond_json (r, 200, json_incref (ix->original));
    else {
        json_decref (ix->original);
        ix->original = NULL;
        srv_respond_json (r, 204, NULL);
    }
}
