/*  ratelimit — Discord's REST rate limits as pure bookkeeping: which
 *  bucket a request is in, what the response headers say, and whether a
 *  request may go now or must wait (per pod; the shared variant is a Redis
 *  script in rest.c that keeps the same rules).
 *
 *  Routes: a bucket is per route and major parameter (Discord's
 *  "Rate Limits" page): channels/{id}, guilds/{id}, webhooks/{id}/{token}
 *  and, for interaction callbacks, the interaction itself. Other numeric
 *  segments are replaced by ":id". The route (no ids, no token) is the
 *  metric label; the bucket key carries the major parameter, with tokens
 *  hashed so that they are never stored.
 *
 *  Buckets: a bucket whose state is unknown (never seen, or its window
 *  has passed) lets one request through — the probe — and learns from its
 *  X-RateLimit-* headers; after that, Remaining requests go until
 *  Reset-After. A later response in the same window can only lower what is
 *  left (its Remaining does not count requests still in flight). A route's
 *  bucket id (X-RateLimit-Bucket) is remembered: routes sharing a Discord
 *  bucket share the count.
 *
 *  Global: at most `global_per_s` requests in any window of
 *  GW_GLOBAL_WINDOW_MS, interaction callbacks exempt, and nothing while a
 *  global 429's Retry-After runs. A request holds its place in the window
 *  from when it is sent until GW_GLOBAL_WINDOW_MS after its answer: Discord
 *  counts it when it arrives, which may be late (a new connection, a busy
 *  machine), but never after the answer.
 */
#ifndef GW_RATELIMIT_H
#define GW_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  1 s plus a margin for clocks (Discord's second is not ours).
#define GW_GLOBAL_WINDOW_MS 1100
//  A probe that never reports (its pod died) frees its bucket after this.
#define GW_PROBE_TIMEOUT_MS 15000

typedef struct {
    char route[96];     // "PATCH /webhooks/:id/:token/messages/@original"
    char major[64];     // "webhooks/1234/9f86d081884c7d65" (token hashed), "" when none
    bool global_exempt; // interaction callbacks
} gw_route_t;

//  0 and *out filled, or -1 when path is not "/..." or too long.
int gw_route_of (const char *method, const char *path, gw_route_t *out);

//  What one response said about limits.
typedef struct {
    char bucket[64];        // X-RateLimit-Bucket, "" when absent
    int64_t limit;          // X-RateLimit-Limit, -1 when absent
    int64_t remaining;      // X-RateLimit-Remaining, -1 when absent
    int64_t reset_after_ms; // X-RateLimit-Reset-After (s, float) in ms, -1 when absent
    int64_t retry_after_ms; // Retry-After header or the 429 body's retry_after, -1 when absent
    bool global;            // X-RateLimit-Global, or the 429 body's "global": true
    char scope[16];         // X-RateLimit-Scope: user, global, shared; "" when absent
} gw_rl_headers_t;

void gw_rl_headers_init (gw_rl_headers_t *h);
//  One header line as libcurl gives it ("Name: value\r\n", case-insensitive
//  name); other headers are ignored.
void gw_rl_headers_line (gw_rl_headers_t *h, const char *line, size_t len);
//  A 429's JSON body: retry_after (s, float; the larger of it and the
//  header wins) and global.
void gw_rl_headers_body (gw_rl_headers_t *h, const char *body, size_t len);
//  The scope label of a 429: "global", "shared" or "user".
const char *gw_rl_scope (const gw_rl_headers_t *h);

//  The bucket key of a route: the learnt bucket id (else the route) and
//  the major parameter. out must hold GW_RL_KEY_MAX bytes.
#define GW_RL_KEY_MAX 192

typedef struct gw_ratelimit gw_ratelimit_t;

//  global_per_s: the bot's global limit; share: what this pod may use of
//  it when it limits alone (global_per_s / replicas, >= 1).
gw_ratelimit_t *gw_ratelimit_new (int global_per_s, int share);
void gw_ratelimit_destroy (gw_ratelimit_t **self_p);

//  The key route's requests count against now (route → bucket id learnt).
void gw_ratelimit_key (const gw_ratelimit_t *self, const gw_route_t *route, char *out);
//  Remembers route's bucket id (from a response).
void gw_ratelimit_learn_bucket (gw_ratelimit_t *self, const gw_route_t *route, const char *bucket);

//  What an acquired request counted against: pass it to release.
typedef struct {
    char key[GW_RL_KEY_MAX]; // its bucket
    bool probe;              // it is its bucket's probe
    bool global;             // it holds a place in the global window
    uint64_t id;             // that place
} gw_rl_ticket_t;

//  0: the request may go now and has been counted (*ticket filled). Else
//  the ms to wait before asking again.
int64_t gw_ratelimit_acquire (gw_ratelimit_t *self, const gw_route_t *route, int64_t now_ms,
                              gw_rl_ticket_t *ticket);
//  Records a request that went under limits kept elsewhere (Redis): it
//  holds a place in this pod's window too, so that falling back to this
//  pod's own limits does not start from an empty window. Release it the same way.
void gw_ratelimit_record (gw_ratelimit_t *self, const gw_route_t *route, gw_rl_ticket_t *ticket);

//  After the response (h NULL when there was none) to an acquired request.
//  Its place in the global window moves to now: when it reached Discord
//  is only known to be before its answer, so that is when it counts.
void gw_ratelimit_release (gw_ratelimit_t *self, const gw_rl_ticket_t *ticket,
                           const gw_rl_headers_t *h, int status, int64_t now_ms);
//  A global 429: nothing but exempt requests until until_ms.
void gw_ratelimit_block_global (gw_ratelimit_t *self, int64_t until_ms);
//  Forgets buckets idle since their reset (call now and then). The count left.
size_t gw_ratelimit_sweep (gw_ratelimit_t *self, int64_t now_ms);

//  The same rules as one Redis script each, for limits shared by every pod
//  (Redis's clock is the one clock). Keys and arguments: see ratelimit.c.
extern const char GW_RL_ACQUIRE_LUA[];
extern const char GW_RL_RELEASE_LUA[];

#endif
