/*  ratelimit — buckets, the global second and the invalid-request window
 *  (see ratelimit.h).
 *
 *  Buckets live in a hash keyed by "bucket-id/major"; an expired bucket is
 *  simply reopened by its next request, and the whole table is swept of
 *  expired entries when it grows past a bound, so a client that spreads
 *  requests over many interaction tokens cannot grow it without end.
 */
#include "load/discord-sim/ratelimit.h"
#include "load/discord-sim/selftest.h"

#include <assert.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_ABOVE       4096
#define INVALID_WINDOW_MS (10 * 60 * 1000)

typedef struct {
    int64_t opened_ms; // start of the current window
    int64_t window_ms;
    int64_t used;
} bucket_t;

struct srv_ratelimit {
    int64_t global_per_s;
    int64_t invalid_limit;
    zhashx_t *buckets;     // "id/major" -> bucket_t
    int64_t global_second; // now_ms / 1000 of the window being counted
    int64_t global_used;   // requests let through in it
    int64_t global_seen;   // arrivals in it
    int64_t invalid_opened_ms;
    int64_t invalid_count;
    srv_rl_stats_t stats;
};

static void
bucket_free (void **item)
{
    free (*item);
    *item = NULL;
}

srv_ratelimit_t *
srv_ratelimit_new (int64_t global_per_s, int64_t invalid_limit)
{
    srv_ratelimit_t *self = calloc (1, sizeof *self);
    assert (self);
    self->global_per_s = global_per_s;
    self->invalid_limit = invalid_limit;
    self->buckets = zhashx_new ();
    zhashx_set_destructor (self->buckets, bucket_free);
    self->global_second = -1;
    self->invalid_opened_ms = -1;
    return self;
}

void
srv_ratelimit_destroy (srv_ratelimit_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    zhashx_destroy (&(*self_p)->buckets);
    free (*self_p);
    *self_p = NULL;
}

void
srv_ratelimit_bucket_id (const char *route, char out[17])
{
    uint64_t hash = UINT64_C (14695981039346656037); // FNV-1a, 64 bits
    for (const char *p = route; *p; p++)
        hash = (hash ^ (uint8_t) *p) * UINT64_C (1099511628211);
    snprintf (out, 17, "%016llx", (unsigned long long) hash);
}

static void
sweep (srv_ratelimit_t *self, int64_t now_ms)
{
    zlistx_t *keys = zhashx_keys (self->buckets);
    for (const char *key = zlistx_first (keys); key; key = zlistx_next (keys)) {
        bucket_t *b = zhashx_lookup (self->buckets, key);
        if (now_ms - b->opened_ms >= b->window_ms)
            zhashx_delete (self->buckets, key);
    }
    zlistx_destroy (&keys);
}

static bucket_t *
bucket_for (srv_ratelimit_t *self, const srv_rl_request_t *req, const char *id, int64_t now_ms)
{
    char key[256];
    snprintf (key, sizeof key, "%s/%s", id, req->major ? req->major : "");
    bucket_t *b = zhashx_lookup (self->buckets, key);
    if (!b) {
        if (zhashx_size (self->buckets) >= SWEEP_ABOVE)
            sweep (self, now_ms);
        b = calloc (1, sizeof *b);
        assert (b);
        b->opened_ms = now_ms;
        zhashx_insert (self->buckets, key, b);
    }
    b->window_ms = req->window_ms;
    if (now_ms - b->opened_ms >= b->window_ms) {
        b->opened_ms = now_ms;
        b->used = 0;
    }
    return b;
}

//  The global second: counts the arrival; true when it is already full.
static bool
global_full (srv_ratelimit_t *self, int64_t now_ms)
{
    int64_t second = now_ms / 1000;
    if (second != self->global_second) {
        self->global_second = second;
        self->global_used = self->global_seen = 0;
    }
    self->global_seen++;
    if ((uint64_t) self->global_seen > self->stats.max_global_per_s)
        self->stats.max_global_per_s = (uint64_t) self->global_seen;
    return self->global_used >= self->global_per_s;
}

static bool
blocked (srv_ratelimit_t *self, int64_t now_ms)
{
    if (self->invalid_opened_ms < 0 || now_ms - self->invalid_opened_ms >= INVALID_WINDOW_MS)
        return false;
    return self->invalid_count >= self->invalid_limit;
}

static void
fill_bucket (srv_rl_verdict_t *out, const bucket_t *b, int64_t limit, int64_t now_ms,
             int64_t now_epoch_ms)
{
    out->limit = limit;
    out->remaining = limit - b->used > 0 ? limit - b->used : 0;
    int64_t left_ms = b->opened_ms + b->window_ms - now_ms;
    out->reset_after_s = (double) left_ms / 1000.0;
    out->reset_epoch_s = (double) (now_epoch_ms + left_ms) / 1000.0;
}

void
srv_ratelimit_check (srv_ratelimit_t *self, const srv_rl_request_t *req, int64_t now_ms,
                     int64_t now_epoch_ms, srv_rl_verdict_t *out)
{
    assert (self && req && out);
    memset (out, 0, sizeof *out);
    srv_ratelimit_bucket_id (req->route, out->bucket);
    if (blocked (self, now_ms)) {
        self->stats.blocked++;
        out->outcome = SRV_RL_BLOCKED;
        out->retry_after_s = (double) (self->invalid_opened_ms + INVALID_WINDOW_MS - now_ms) / 1e3;
        return;
    }
    bucket_t *b = bucket_for (self, req, out->bucket, now_ms);
    if (req->global && global_full (self, now_ms)) {
        self->stats.global_violations++;
        out->outcome = SRV_RL_GLOBAL;
        out->retry_after_s = (double) ((self->global_second + 1) * 1000 - now_ms) / 1000.0;
        fill_bucket (out, b, req->limit, now_ms, now_epoch_ms);
        return;
    }
    if (b->used >= req->limit) {
        self->stats.bucket_violations++;
        out->outcome = SRV_RL_BUCKET;
        fill_bucket (out, b, req->limit, now_ms, now_epoch_ms);
        out->retry_after_s = out->reset_after_s;
        return;
    }
    b->used++;
    if (req->global)
        self->global_used++;
    out->outcome = SRV_RL_OK;
    fill_bucket (out, b, req->limit, now_ms, now_epoch_ms);
}

void
srv_ratelimit_invalid (srv_ratelimit_t *self, int64_t now_ms)
{
    assert (self);
    self->stats.invalid_requests++;
    if (self->invalid_opened_ms < 0 || now_ms - self->invalid_opened_ms >= INVALID_WINDOW_MS) {
        self->invalid_opened_ms = now_ms;
        self->invalid_count = 0;
    }
    self->invalid_count++;
}

void
srv_ratelimit_stats (const srv_ratelimit_t *self, srv_rl_stats_t *out)
{
    assert (self && out);
    *out = self->stats;
}

int
srv_ratelimit_test (void)
{
    srv_ratelimit_t *rl = srv_ratelimit_new (3, 2);
    srv_rl_verdict_t v;
    srv_rl_request_t a = {"PATCH /channels/:id", "1", 2, 1000, true};
    srv_rl_request_t b = {"PATCH /channels/:id", "2", 2, 1000, true};
    srv_ratelimit_check (rl, &a, 10000, 5000000, &v);
    SIM_CHECK (v.outcome == SRV_RL_OK && v.limit == 2 && v.remaining == 1);
    SIM_CHECK (v.reset_after_s == 1.0 && v.reset_epoch_s == 5001.0);
    srv_ratelimit_check (rl, &a, 10100, 5000100, &v);
    SIM_CHECK (v.outcome == SRV_RL_OK && v.remaining == 0);
    //  Bucket empty: a violation; the other major parameter has its own.
    srv_ratelimit_check (rl, &a, 10200, 5000200, &v);
    SIM_CHECK (v.outcome == SRV_RL_BUCKET && v.retry_after_s > 0.79 && v.retry_after_s < 0.81);
    srv_ratelimit_check (rl, &b, 10300, 5000300, &v);
    SIM_CHECK (v.outcome == SRV_RL_OK && v.remaining == 1);
    //  Same second: the global limit (3) is used up by the two OKs on a and one on b.
    srv_ratelimit_check (rl, &b, 10400, 5000400, &v);
    SIM_CHECK (v.outcome == SRV_RL_GLOBAL && v.retry_after_s > 0.59 && v.retry_after_s < 0.61);
    //  Not under the global limit: let through.
    srv_rl_request_t c = {"POST /interactions/:id/:token/callback", "9", 5, 5000, false};
    srv_ratelimit_check (rl, &c, 10500, 5000500, &v);
    SIM_CHECK (v.outcome == SRV_RL_OK);
    //  A new window reopens the bucket.
    srv_ratelimit_check (rl, &a, 11000, 5001000, &v);
    SIM_CHECK (v.outcome == SRV_RL_OK && v.remaining == 1);
    srv_rl_stats_t s;
    srv_ratelimit_stats (rl, &s);
    SIM_CHECK (s.bucket_violations == 1 && s.global_violations == 1 && s.max_global_per_s == 5);
    //  Two invalid requests block everything for the rest of the 10 minutes.
    srv_ratelimit_invalid (rl, 12000);
    srv_ratelimit_invalid (rl, 12001);
    srv_ratelimit_check (rl, &c, 13000, 5003000, &v);
    SIM_CHECK (v.outcome == SRV_RL_BLOCKED);
    srv_ratelimit_check (rl, &c, 12000 + INVALID_WINDOW_MS, 5003000, &v);
    SIM_CHECK (v.outcome == SRV_RL_OK);
    char id1[17], id2[17];
    srv_ratelimit_bucket_id ("GET /a", id1);
    srv_ratelimit_bucket_id ("GET /b", id2);
    SIM_CHECK (strlen (id1) == 16 && strcmp (id1, id2) != 0);
    srv_ratelimit_destroy (&rl);
    SIM_CHECK (rl == NULL);
    return 0;
}
