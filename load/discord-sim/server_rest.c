/*  server_rest — Discord's REST API as far as a bot needs it: routing,
 *  authentication, rate limits and their headers, and the bot-level routes
 *  (gateway/bot, users/@me, applications/@me, application commands,
 *  channel messages). Interaction callbacks and webhooks are answered in
 *  server_webhooks.c, after the same checks.
 *
 *  Order of checks, as Discord's: an unknown route is 404 (not limited); a
 *  rate-limit storm answers 429 before anything; a bot route without the
 *  right `Authorization: Bot <token>` is 401; then the bucket and global
 *  limits. Interaction routes authenticate by the token in their path and
 *  need no Authorization header (a wrong one is still 401), and are not
 *  under the global limit.
 *
 *  Bucket limits per route (per major parameter: channel, guild, webhook
 *  id + token, interaction id) are fixed here and listed in load/README.md.
 */
#include "load/discord-sim/server_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SEGMENTS 8

typedef enum {
    R_GATEWAY,
    R_GATEWAY_BOT,
    R_USER_ME,
    R_APP_ME,
    R_COMMANDS,
    R_GUILD_COMMANDS,
    R_CHANNEL_MESSAGES,
    R_CALLBACK,
    R_WEBHOOK,
    R_WEBHOOK_MESSAGE,
} route_id_t;

//  A route template: segments, ":x" matches any one segment.
typedef struct {
    route_id_t id;
    const char *methods; // "GET PUT"
    const char *pattern;
    int major;  // index of the major parameter's segment, -1 none
    int major2; // a second segment in the major (webhook token), -1 none
    bool auth, global;
    int64_t limit, window_ms;
} route_t;

static const route_t ROUTES[] = {
    {R_GATEWAY, "GET", "/gateway", -1, -1, false, true, 30, 5000},
    {R_GATEWAY_BOT, "GET", "/gateway/bot", -1, -1, true, true, 10, 5000},
    {R_USER_ME, "GET", "/users/@me", -1, -1, true, true, 10, 5000},
    {R_APP_ME, "GET", "/applications/@me", -1, -1, true, true, 10, 5000},
    {R_COMMANDS, "GET PUT", "/applications/:app/commands", -1, -1, true, true, 4, 20000},
    {R_GUILD_COMMANDS, "GET PUT", "/applications/:app/guilds/:guild/commands", 3, -1, true, true, 4,
     20000},
    {R_CHANNEL_MESSAGES, "POST", "/channels/:channel/messages", 1, -1, true, true, 5, 5000},
    {R_CALLBACK, "POST", "/interactions/:id/:token/callback", 1, -1, false, false, 5, 5000},
    {R_WEBHOOK, "POST", "/webhooks/:app/:token", 1, 2, false, false, 5, 2000},
    {R_WEBHOOK_MESSAGE, "GET PATCH DELETE", "/webhooks/:app/:token/messages/:message", 1, 2, false,
     false, 5, 2000},
};
#define ROUTE_COUNT (sizeof ROUTES / sizeof ROUTES[0])

typedef struct {
    char *parts[MAX_SEGMENTS];
    int count;
    char buffer[1024];
} segments_t;

static void
split_path (const char *path, segments_t *s)
{
    snprintf (s->buffer, sizeof s->buffer, "%s", path);
    s->count = 0;
    char *save = NULL;
    for (char *part = strtok_r (s->buffer, "/", &save); part && s->count < MAX_SEGMENTS;
         part = strtok_r (NULL, "/", &save))
        s->parts[s->count++] = part;
}

static bool
matches (const route_t *route, const segments_t *s)
{
    segments_t p;
    split_path (route->pattern, &p);
    if (p.count != s->count)
        return false;
    for (int i = 0; i < p.count; i++)
        if (p.parts[i][0] != ':' && strcmp (p.parts[i], s->parts[i]) != 0)
            return false;
    return true;
}

static bool
method_allowed (const route_t *route, const char *method)
{
    size_t n = strlen (method);
    for (const char *m = route->methods; (m = strstr (m, method)); m += n)
        if ((m == route->methods || m[-1] == ' ') && (m[n] == ' ' || m[n] == '\0'))
            return true;
    return false;
}

//  The route for method + path; *known says whether the path exists at all.
static const route_t *
find_route (const char *method, const segments_t *s, bool *known)
{
    *known = false;
    for (size_t i = 0; i < ROUTE_COUNT; i++)
        if (matches (&ROUTES[i], s)) {
            *known = true;
            if (method_allowed (&ROUTES[i], method))
                return &ROUTES[i];
        }
    return NULL;
}

//  The simulator reads JSON bodies only (no multipart attachments).
static bool
json_content (const char *content_type)
{
    return content_type && strncasecmp (content_type, "application/json", 16) == 0;
}

static bool
auth_ok (const srv_t *srv, const char *authorization)
{
    return authorization && strncmp (authorization, "Bot ", 4) == 0 &&
           strcmp (authorization + 4, srv->cfg->token) == 0;
}

static void
count (srv_t *srv, const char *method, const route_t *route)
{
    char key[128];
    snprintf (key, sizeof key, "%s %s", method, route->pattern);
    json_t *n = json_object_get (srv->rest.by_route, key);
    json_object_set_new (srv->rest.by_route, key,
                         json_integer (n ? json_integer_value (n) + 1 : 1));
    srv->rest.requests++;
}

//  ---------------------------------------------------------------------------
//  429s and rate-limit headers

static void
bucket_headers (srv_response_t *r, const srv_rl_verdict_t *v)
{
    srv_respond_header (r, "x-ratelimit-limit", "%lld", (long long) v->limit);
    srv_respond_header (r, "x-ratelimit-remaining", "%lld", (long long) v->remaining);
    srv_respond_header (r, "x-ratelimit-reset", "%.3f", v->reset_epoch_s);
    srv_respond_header (r, "x-ratelimit-reset-after", "%.3f", v->reset_after_s);
    srv_respond_header (r, "x-ratelimit-bucket", "%s", v->bucket);
}

static int
scope_index (const char *scope)
{
    return strcmp (scope, "global") == 0 ? 1 : strcmp (scope, "shared") == 0 ? 2 : 0;
}

//  A 429 of `scope`; counted, and invalid unless shared.
static void
respond_429 (srv_t *srv, srv_response_t *r, const char *scope, double retry_after,
             const srv_rl_verdict_t *v)
{
    bool global = strcmp (scope, "global") == 0;
    json_t *body =
        json_pack ("{s:s, s:f, s:b, s:i}", "message", "You are being rate limited.", "retry_after",
                   round (retry_after * 1000.0) / 1000.0, "global", global, "code", 0);
    srv_respond_json (r, 429, body);
    if (!global && v)
        bucket_headers (r, v);
    srv_respond_header (r, "retry-after", "%lld", (long long) ceil (retry_after));
    srv_respond_header (r, "x-ratelimit-scope", "%s", scope);
    if (global)
        srv_respond_header (r, "x-ratelimit-global", "true");
    srv->rest.rate_limited[scope_index (scope)]++;
    if (strcmp (scope, "shared") != 0)
        srv_ratelimit_invalid (srv->ratelimit, cb_mono_ms ());
}

//  A storm fault: every request is limited with the storm's scope.
static bool
storm (srv_t *srv, const route_t *route, srv_response_t *r)
{
    int64_t now = cb_mono_ms ();
    const char *scope = srv_faults_storm (&srv->faults, now);
    if (!scope)
        return false;
    double left = (double) (srv->faults.storm_until_ms - now) / 1000.0;
    srv_rl_verdict_t v = {0};
    srv_ratelimit_bucket_id (route->pattern, v.bucket);
    v.limit = route->limit;
    v.reset_after_s = left < 1.0 ? left : 1.0;
    v.reset_epoch_s = (double) (cb_now_ms () + (int64_t) (v.reset_after_s * 1000)) / 1000.0;
    respond_429 (srv, r, scope, v.reset_after_s, &v);
    return true;
}

//  Bucket and global limits: true when the request may go on (headers set).
static bool
limits (srv_t *srv, const char *method, const route_t *route, const segments_t *s,
        srv_response_t *r)
{
    char major[512] = "";
    if (route->major >= 0)
        snprintf (major, sizeof major, "%s%s%s", s->parts[route->major],
                  route->major2 >= 0 ? "/" : "", route->major2 >= 0 ? s->parts[route->major2] : "");
    //  A bucket per method and route (then per major parameter), as Discord's.
    char bucket_route[160];
    snprintf (bucket_route, sizeof bucket_route, "%s %s", method, route->pattern);
    srv_rl_request_t req = {bucket_route, major, route->limit, route->window_ms, route->global};
    srv_rl_verdict_t v;
    srv_ratelimit_check (srv->ratelimit, &req, cb_mono_ms (), cb_now_ms (), &v);
    switch (v.outcome) {
    case SRV_RL_OK:
        bucket_headers (r, &v);
        return true;
    case SRV_RL_BUCKET:
        respond_429 (srv, r, "user", v.retry_after_s, &v);
        return false;
    case SRV_RL_GLOBAL:
        respond_429 (srv, r, "global", v.retry_after_s, NULL);
        return false;
    case SRV_RL_BLOCKED:
        srv_respond_error (r, 429, 0,
                           "You are being blocked from accessing our API temporarily due to "
                           "exceeding our rate limits frequently.");
        srv_respond_header (r, "retry-after", "%lld", (long long) ceil (v.retry_after_s));
        return false;
    }
    return false;
}

//  ---------------------------------------------------------------------------
//  Bot routes

static json_t *
bot_user (const srv_t *srv)
{
    return json_pack ("{s:s, s:s, s:s, s:n, s:n, s:b, s:i, s:b}", "id", srv->cfg->application_id,
                      "username", "cordbank-sim", "discriminator", "0", "global_name", "avatar",
                      "bot", true, "flags", 0, "verified", true);
}

static void
serve_gateway (srv_t *srv, bool bot, srv_response_t *r)
{
    if (!bot) {
        srv_respond_json (r, 200, json_pack ("{s:s}", "url", srv->ws_url));
        return;
    }
    json_t *limit =
        json_pack ("{s:i, s:I, s:i, s:I}", "total", 1000, "remaining",
                   (json_int_t) srv_gateway_identifies_remaining (srv->gateway), "reset_after",
                   86400000, "max_concurrency", (json_int_t) srv->cfg->max_concurrency);
    srv_respond_json (r, 200,
                      json_pack ("{s:s, s:I, s:o}", "url", srv->ws_url, "shards",
                                 (json_int_t) srv->cfg->shards, "session_start_limit", limit));
}

static void
serve_commands (srv_t *srv, const srv_request_t *req, const char *app, const char *guild,
                srv_response_t *r)
{
    if (strcmp (app, srv->cfg->application_id) != 0) {
        srv_respond_error (r, 403, 50001, "Missing Access");
        return;
    }
    if (strcmp (req->method, "GET") == 0) {
        srv_respond_json (r, 200, srv_commands_get (srv->commands, guild));
        return;
    }
    json_error_t error;
    json_t *body = json_loadb (req->body, req->body_len, 0, &error);
    if (!body) {
        srv_respond_error (r, 400, 50109, "The request body contains invalid JSON.");
        return;
    }
    json_t *refusal = srv_commands_validate (body);
    if (refusal)
        srv_respond_json (r, 400, refusal);
    else
        srv_respond_json (r, 200, srv_commands_put (srv->commands, guild, body));
    json_decref (body);
}

static void
serve_channel_message (srv_t *srv, const srv_request_t *req, const char *channel, srv_response_t *r)
{
    json_t *body = json_loadb (req->body, req->body_len, 0, NULL);
    if (!json_is_object (body)) {
        srv_respond_error (r, 400, 50109, "The request body contains invalid JSON.");
    } else {
        srv_interaction_t where = {.channel_id = strtoull (channel, NULL, 10)};
        srv_respond_json (r, 200, srv_message_new (srv, &where, body));
    }
    json_decref (body);
}

static void
dispatch (srv_t *srv, const route_t *route, const segments_t *s, const srv_request_t *req,
          srv_response_t *r)
{
    switch (route->id) {
    case R_GATEWAY:
    case R_GATEWAY_BOT:
        serve_gateway (srv, route->id == R_GATEWAY_BOT, r);
        break;
    case R_USER_ME:
        srv_respond_json (r, 200, bot_user (srv));
        break;
    case R_APP_ME:
        srv_respond_json (r, 200,
                          json_pack ("{s:s, s:s, s:s, s:b, s:i, s:o}", "id",
                                     srv->cfg->application_id, "name", "cordbank-sim",
                                     "description", "", "bot_public", false, "flags", 0, "bot",
                                     bot_user (srv)));
        break;
    case R_COMMANDS:
        serve_commands (srv, req, s->parts[1], NULL, r);
        break;
    case R_GUILD_COMMANDS:
        serve_commands (srv, req, s->parts[1], s->parts[3], r);
        break;
    case R_CHANNEL_MESSAGES:
        serve_channel_message (srv, req, s->parts[1], r);
        break;
    case R_CALLBACK:
        srv_webhooks_callback (srv, s->parts[1], s->parts[2], req, r);
        break;
    case R_WEBHOOK:
        srv_webhooks_message (srv, s->parts[1], s->parts[2], NULL, req, r);
        break;
    case R_WEBHOOK_MESSAGE:
        srv_webhooks_message (srv, s->parts[1], s->parts[2], s->parts[4], req, r);
        break;
    }
}

void
srv_rest_serve (srv_t *srv, const srv_request_t *req, const char *path, srv_response_t *r)
{
    segments_t s;
    split_path (path, &s);
    bool known;
    const route_t *route = find_route (req->method, &s, &known);
    if (!route) {
        if (known)
            srv_respond_error (r, 405, 0, "405: Method Not Allowed");
        else
            srv_respond_error (r, 404, 0, "404: Not Found");
        return;
    }
    count (srv, req->method, route);
    r->delay_ms = srv_faults_rest_delay_ms (&srv->faults, cb_mono_ms ());
    if (storm (srv, route, r))
        return;
    bool authorized = auth_ok (srv, req->authorization);
    if ((route->auth || req->authorization) && !authorized) {
        srv_respond_error (r, 401, 0, "401: Unauthorized");
        srv_ratelimit_invalid (srv->ratelimit, cb_mono_ms ());
        return;
    }
    if (!limits (srv, req->method, route, &s, r))
        return;
    if (req->body_len > 0 && !json_content (req->content_type)) {
        //  Discord's own words for a JSON body sent as something else.
        json_t *errors =
            json_pack ("{s:[{s:s, s:s}]}", "_errors", "code", "CONTENT_TYPE_INVALID", "message",
                       "Expected \"Content-Type\" header to be one of {'application/json', "
                       "'application/x-www-form-urlencoded', 'multipart/form-data'}.");
        srv_respond_json (r, 400,
                          json_pack ("{s:i, s:o, s:s}", "code", 50035, "errors", errors, "message",
                                     "Invalid Form Body"));
        return;
    }
    dispatch (srv, route, &s, req, r);
    if (r->status == 401 || r->status == 403)
        srv_ratelimit_invalid (srv->ratelimit, cb_mono_ms ());
}
