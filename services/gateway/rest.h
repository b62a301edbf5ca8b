/*  rest — the gateway's one client of Discord's REST API.
 *
 *  Every call to Discord (interaction callbacks, @original edits,
 *  followups, command registration, /gateway/bot) goes through
 *  gw_rest_request, which runs libcurl's multi interface on the service's
 *  zloop: no thread, no blocking, keep-alive connections reused.
 *
 *  Inside: Discord's rate limits (per-route buckets learnt from the
 *  X-RateLimit-* headers, the global 50 requests/s, 429 answers honoured),
 *  retries (429 always, 5xx and transport errors for idempotent requests
 *  only) with backoff within the request's deadline, and a circuit breaker
 *  (target "discord_rest"). With a Redis URL the limits are shared by every
 *  gateway pod (ratelimit.h); without it each pod keeps its own and takes
 *  1/replicas of the global budget.
 *
 *  The token is sent, never logged. The process calls curl_global_init
 *  once before the first gw_rest_new (main.c does).
 */
#ifndef GW_REST_H
#define GW_REST_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "common/redis.h"

//  The gateway's one Redis connection (main.c makes it when --redis-url is
//  given) and the op label of each use, for
//  cordbank_gateway_redis_duration_seconds{op}.
typedef enum {
    GW_REDIS_OP_CONNECT = 0,
    GW_REDIS_OP_REST,     // shared REST limits (rest.c)
    GW_REDIS_OP_IDENTIFY, // identify coordination (shards)
    GW_REDIS_OP_COUNT
} gw_redis_op_t;
extern const char *const GW_REDIS_OP_NAMES[GW_REDIS_OP_COUNT];

typedef struct {
    const char *api_url; // "https://discord.com/api/v10", no trailing slash
    const char *token;   // bot token (without "Bot "); NULL or "" = no Authorization
    cb_redis_t *redis;   // borrowed, NULL = per-pod limits (also while it is down)
    int replicas;        // gateway pods sharing the bot's global limit (>= 1)
    int global_per_s;    // Discord's global limit; 0 = 50
    int64_t timeout_ms;  // one attempt's transfer timeout; 0 = 10000
} gw_rest_config_t;

typedef struct gw_rest gw_rest_t;

//  The answer to one request. Valid only during the callback.
typedef struct {
    int status;       // HTTP status; 0 when no answer (transport error, deadline, breaker)
    const char *body; // the response body ("" when none), NUL-terminated
    size_t body_len;
    const char *error; // NULL on a 2xx; else a short reason for logs
    int attempts;      // requests sent (retries included)
    int discord_code;  // the JSON body's "code" (e.g. 40060), 0 when none
} gw_rest_response_t;

typedef void (gw_rest_fn) (const gw_rest_response_t *response, void *arg);

//  The strings in cfg are copied. NULL when libcurl or the loop refuse.
gw_rest_t *gw_rest_new (zloop_t *loop, const gw_rest_config_t *cfg);
//  Calls every pending request's fn with status 0 ("shutting down").
void gw_rest_destroy (gw_rest_t **self_p);

//  Queues method (GET, POST, PUT, PATCH, DELETE) on path (after the API
//  base, starting with '/', e.g. "/interactions/1/tok/callback"), with
//  json_body (copied; NULL = no body). deadline_ms is wall-clock
//  (cb_now_ms) time after which no attempt starts and the request fails
//  with status 0. fn (may be NULL) is called exactly once, on the
//  reactor, never from inside gw_rest_request. trace_id may be NULL.
//  Returns 0, or -1 when the request was refused at once (bad arguments,
//  out of memory) — fn is then not called.
int gw_rest_request (gw_rest_t *self, const char *method, const char *path, const char *json_body,
                     int64_t deadline_ms, const char *trace_id, gw_rest_fn *fn, void *arg);

//  Requests queued or in flight (the queued gauge, for tests and /readyz).
size_t gw_rest_pending (const gw_rest_t *self);

#endif
