/*  server_int — how the parts of the --serve mode reach each other.
 *
 *  Not a public API: server.c owns one srv_t and hands it to the HTTP
 *  layer (server_http.c), REST routes (server_rest.c), webhooks and
 *  callbacks (server_webhooks.c), the Gateway (server_gateway.c), the
 *  interaction dispatcher (server_interactions.c) and the control API
 *  (server_control.c). Everything runs on the lws thread: no locks.
 */
#ifndef SIM_SERVER_INT_H
#define SIM_SERVER_INT_H

#include "load/discord-sim/commands.h"
#include "load/discord-sim/faults.h"
#include "load/discord-sim/histogram.h"
#include "load/discord-sim/interaction.h"
#include "load/discord-sim/ratelimit.h"
#include "load/discord-sim/server.h"
#include "load/discord-sim/sessions.h"
#include "common/clock.h"
#include "common/log.h"

#include <czmq.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <stdbool.h>

#define SRV_MAX_SHARDS  1024
#define SRV_MAX_HEADERS 12

//  Every per-connection struct starts with one of these, so a callback
//  that may see either kind (TIMER, WSI_DESTROY) can tell them apart.
enum { SRV_CONN_HTTP = 0x48545450, SRV_CONN_WS = 0x57534757 };

typedef struct srv_gateway srv_gateway_t;
typedef struct srv_interactions srv_interactions_t;

typedef struct {
    uint64_t requests;
    json_t *by_route;         // "METHOD /template" -> count
    uint64_t rate_limited[3]; // user, global, shared
} srv_rest_counters_t;

typedef struct {
    const sim_server_config_t *cfg;
    struct lws_context *context;
    int port;
    char ws_url[64];     // ws://127.0.0.1:P
    char resume_url[80]; // ws://127.0.0.1:P/resume
    srv_ratelimit_t *ratelimit;
    srv_commands_t *commands;
    srv_faults_t faults;
    srv_gateway_t *gateway;
    srv_interactions_t *interactions;
    srv_rest_counters_t rest;
    srv_fault_t *pending_faults; // --fault with after > 0, not yet applied
    bool *pending_done;
    size_t pending_count;
    sim_snowflake_t ids; // message ids
    int64_t start_ms;
    lws_sorted_usec_list_t tick;
    bool stop;
} srv_t;

//  ---------------------------------------------------------------------------
//  HTTP requests and responses (server_http.c)

typedef struct {
    const char *method;
    const char *path;          // without the query
    const char *query;         // "a=1&b=2" (url-decoded fragments), "" when none
    const char *authorization; // NULL when absent
    const char *content_type;  // NULL when absent
    const char *body;          // NUL-terminated; "" when none
    size_t body_len;
} srv_request_t;

typedef struct {
    int status;
    char *body; // malloc'd
    size_t body_len;
    const char *content_type;
    char names[SRV_MAX_HEADERS][32];
    char values[SRV_MAX_HEADERS][64];
    int header_count;
    int64_t delay_ms; // answer after this long (slow_rest)
} srv_response_t;

//  Sets status and a JSON body (takes the reference); NULL body: no body.
void srv_respond_json (srv_response_t *r, int status, json_t *body);
//  Discord's error shape: {"message": ..., "code": ...}.
void srv_respond_error (srv_response_t *r, int status, int code, const char *message);
void srv_respond_header (srv_response_t *r, const char *name, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

//  lws callback reasons for HTTP connections; -1 closes.
int srv_http_callback (srv_t *srv, struct lws *wsi, enum lws_callback_reasons reason, void *in,
                       size_t len);

//  ---------------------------------------------------------------------------
//  Routes

//  /api/v10/...: path is after the version. Fills r.
void srv_rest_serve (srv_t *srv, const srv_request_t *req, const char *path, srv_response_t *r);
//  /_sim/...
void srv_control_serve (srv_t *srv, const srv_request_t *req, srv_response_t *r);
//  A fault from --fault or /_sim/fault, now.
void srv_apply_fault (srv_t *srv, const srv_fault_t *fault);

//  ---------------------------------------------------------------------------
//  The Gateway (server_gateway.c)

srv_gateway_t *srv_gateway_new (srv_t *srv);
void srv_gateway_destroy (srv_gateway_t **self_p);
int srv_gateway_callback (srv_gateway_t *self, struct lws *wsi, enum lws_callback_reasons reason,
                          void *in, size_t len);
void srv_gateway_tick (srv_gateway_t *self, int64_t now_ms);
void srv_gateway_fault (srv_gateway_t *self, const srv_fault_t *fault);
//  The shard count guilds are routed by (the last IDENTIFY's, or --shards).
int srv_gateway_shard_count (const srv_gateway_t *self);
//  Logs a dispatch on the shard's session and sends it when connected.
//  false when the shard has no session (the caller keeps the event).
bool srv_gateway_dispatch (srv_gateway_t *self, int shard, const char *type, const char *d_json,
                           uint64_t interaction_id);
uint64_t srv_gateway_identifies_remaining (const srv_gateway_t *self);
json_t *srv_gateway_stats (const srv_gateway_t *self);
//  The guilds of a shard, for READY and GUILD_CREATE.
uint64_t srv_guild_id (int64_t index);

//  ---------------------------------------------------------------------------
//  Interactions (server_interactions.c)

srv_interactions_t *srv_interactions_new (srv_t *srv);
void srv_interactions_destroy (srv_interactions_t **self_p);
//  A /_sim/interactions body: how many were queued, or -1 with a reason.
int64_t srv_interactions_enqueue (srv_interactions_t *self, const json_t *body, char *err,
                                  size_t errlen);
void srv_interactions_tick (srv_interactions_t *self, int64_t now_ms);
//  The gateway wrote an interaction's dispatch to a live connection.
void srv_interactions_sent (srv_interactions_t *self, uint64_t id, int64_t now_ms);
//  Its session was replaced before the dispatch was written: send again.
void srv_interactions_requeue (srv_interactions_t *self, uint64_t id);
json_t *srv_interactions_stats (const srv_interactions_t *self);

//  One interaction the simulator created, as callbacks and webhooks see it.
typedef struct {
    uint64_t id;
    char id_text[24];
    char token[40];
    uint64_t guild_id, channel_id;
    int64_t sent_ms; // first written to a connection; 0 before
    int callbacks;   // accepted callbacks (at most 1)
    bool deferred;   // the callback was type 5
    bool responded;  // the original message exists (type 4, or an edit after 5)
    int edits, followups;
    json_t *original; // the original response message, or NULL
} srv_interaction_t;

typedef struct {
    uint64_t answered;       // first callbacks accepted
    uint64_t answered_twice; // callbacks refused with 40060
    uint64_t deferred;       // type 5 callbacks
    uint64_t edited;         // PATCH @original accepted
    uint64_t followups;      // POST /webhooks/{app}/{token} accepted
    uint64_t expired;        // callbacks refused because the window had passed
    uint64_t unknown;        // callbacks or webhooks for no known interaction
    uint64_t invalid_bodies; // callbacks or webhooks refused with 400 / 50035 / 50006
    sim_hist_t *answer_us;   // from the dispatch written to the first callback
} srv_ix_counters_t;

srv_interaction_t *srv_interactions_find (srv_interactions_t *self, const char *id);
srv_interaction_t *srv_interactions_by_token (srv_interactions_t *self, const char *token);
srv_ix_counters_t *srv_interactions_counters (srv_interactions_t *self);
//  A new message object (id, channel_id, content, ...) from a reply body.
json_t *srv_message_new (srv_t *srv, const srv_interaction_t *ix, const json_t *data);

//  ---------------------------------------------------------------------------
//  Callbacks and webhooks (server_webhooks.c)

//  POST /interactions/{id}/{token}/callback.
void srv_webhooks_callback (srv_t *srv, const char *id, const char *token, const srv_request_t *req,
                            srv_response_t *r);
//  /webhooks/{app}/{token} (message NULL: a followup) or .../messages/{message}.
void srv_webhooks_message (srv_t *srv, const char *app, const char *token, const char *message,
                           const srv_request_t *req, srv_response_t *r);

#endif
