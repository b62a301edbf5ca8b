/*  server_control — the simulator's own API under /_sim, for tests and
 *  load runs on loopback. No authentication: it is a test tool's control
 *  port, never to be exposed (load/README.md says so).
 *
 *    GET  /_sim/stats         everything counted, one JSON object
 *    POST /_sim/fault         {"fault": NAME, "shard": -1, "seconds": S, ...}
 *    POST /_sim/interactions  {"count", "rate", "command", "options", ...}
 */
#include "load/discord-sim/server_int.h"

#include <stdio.h>
#include <string.h>

static json_t *
rest_stats (const srv_t *srv)
{
    srv_rl_stats_t rl;
    srv_ratelimit_stats (srv->ratelimit, &rl);
    return json_pack (
        "{s:I, s:O, s:{s:I, s:I, s:I}, s:I, s:I, s:I, s:I, s:I}", "requests",
        (json_int_t) srv->rest.requests, "by_route", srv->rest.by_route, "rate_limited", "user",
        (json_int_t) srv->rest.rate_limited[0], "global", (json_int_t) srv->rest.rate_limited[1],
        "shared", (json_int_t) srv->rest.rate_limited[2], "bucket_violations",
        (json_int_t) rl.bucket_violations, "global_violations", (json_int_t) rl.global_violations,
        "max_global_per_s", (json_int_t) rl.max_global_per_s, "invalid_requests",
        (json_int_t) rl.invalid_requests, "blocked", (json_int_t) rl.blocked);
}

static json_t *
stats (const srv_t *srv)
{
    json_t *root = srv_gateway_stats (srv->gateway);
    json_object_set_new (root, "uptime_s",
                         json_real ((double) (cb_mono_ms () - srv->start_ms) / 1000.0));
    json_object_set_new (root, "interactions", srv_interactions_stats (srv->interactions));
    json_object_set_new (root, "rest", rest_stats (srv));
    json_object_set_new (root, "commands", srv_commands_stats (srv->commands));
    return root;
}

void
srv_apply_fault (srv_t *srv, const srv_fault_t *fault)
{
    cb_log_info (NULL, "fault", "{s:s, s:i, s:f}", "fault", srv_fault_name (fault->kind), "shard",
                 fault->shard, "seconds", fault->seconds);
    if (srv_fault_is_connection (fault->kind))
        srv_gateway_fault (srv->gateway, fault);
    else
        srv_faults_apply (&srv->faults, fault, cb_mono_ms ());
}

static void
serve_fault (srv_t *srv, const json_t *body, srv_response_t *r)
{
    srv_fault_t fault;
    char err[160];
    if (srv_fault_from_json (body, &fault, err, sizeof err) != 0) {
        srv_respond_error (r, 400, 0, err);
        return;
    }
    srv_apply_fault (srv, &fault);
    srv_respond_json (
        r, 200,
        json_pack ("{s:s, s:i}", "applied", srv_fault_name (fault.kind), "shard", fault.shard));
}

static void
serve_interactions (srv_t *srv, const json_t *body, srv_response_t *r)
{
    char err[160];
    int64_t queued = srv_interactions_enqueue (srv->interactions, body, err, sizeof err);
    if (queued < 0)
        srv_respond_error (r, 400, 0, err);
    else
        srv_respond_json (r, 200, json_pack ("{s:I}", "queued", (json_int_t) queued));
}

void
srv_control_serve (srv_t *srv, const srv_request_t *req, srv_response_t *r)
{
    bool get = strcmp (req->method, "GET") == 0, post = strcmp (req->method, "POST") == 0;
    if (strcmp (req->path, "/_sim/stats") == 0 && get) {
        srv_respond_json (r, 200, stats (srv));
        return;
    }
    bool fault = strcmp (req->path, "/_sim/fault") == 0;
    bool interactions = strcmp (req->path, "/_sim/interactions") == 0;
    if (!(fault || interactions) || !post) {
        srv_respond_error (r, fault || interactions ? 405 : 404, 0,
                           fault || interactions ? "use POST" : "not found");
        return;
    }
    json_t *body = json_loadb (req->body, req->body_len, 0, NULL);
    if (!json_is_object (body))
        srv_respond_error (r, 400, 0, "want a JSON object");
    else if (fault)
        serve_fault (srv, body, r);
    else
        serve_interactions (srv, body, r);
    json_decref (body);
}
