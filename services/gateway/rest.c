/*  rest — Discord's REST API through libcurl's multi interface on the
 *  service's zloop (see rest.h for the contract).
 *
 *  libcurl runs on the loop through curl_loop.c (keep-alive connections
 *  reused across requests); the limits are rest_limits.c's (Redis or this
 *  pod); this file is the requests' life.
 *
 *  A request's life: queued → (rate limits say go) → in flight → done, or
 *  back to queued after a 429 (always retried: Discord did not apply it)
 *  or, for idempotent requests, a 5xx or a transport error (with full-
 *  jitter backoff, and only while retries stay under 10% of requests) —
 *  never past its deadline. Each wait is a one-shot zloop
 *  timer on the request. fn is always called from a timer or a curl
 *  completion, never from gw_rest_request.
 *
 *  Idempotent: GET, PUT, DELETE, PATCH (we only PATCH whole messages) and
 *  interaction callbacks (a second one is refused with 40060, which the
 *  caller treats as delivered). Other POSTs are sent once unless 429.
 *
 *  Metrics: cordbank_gateway_rest_requests_total{route,status} (status
 *  "error" when no answer), cordbank_gateway_rest_rate_limited_total{scope},
 *  cordbank_gateway_rest_invalid_requests_total (401, 403, 429 not shared),
 *  cordbank_gateway_rest_request_duration_seconds{route} per attempt,
 *  cordbank_gateway_rest_queued_requests.
 */
#include "rest.h"

#include <assert.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/breaker.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/envelope.h"
#include "common/log.h"
#include "common/metrics.h"
#include "curl_loop.h"
#include "ratelimit.h"
#include "rest_limits.h"

#define MAX_ATTEMPTS       5
#define MIN_ATTEMPT_MS     1000
#define BACKOFF_BASE_MS    100
#define BACKOFF_CAP_MS     2000
#define DEFAULT_RETRY_MS   1000 // a 429 without Retry-After
#define MAX_BODY           (1024 * 1024)
#define SWEEP_MS           10000
#define BREAKER_THRESHOLD  5
#define BREAKER_OPEN_MS    1000
#define BREAKER_MAX_MS     30000
#define DEFAULT_TIMEOUT_MS 10000
#define USER_AGENT         "DiscordBot (https://github.com/cordbank/cordbank, " CB_VERSION ")"

const char *const GW_REDIS_OP_NAMES[GW_REDIS_OP_COUNT] = {"connect", "rest_limit", "identify"};

typedef struct request request_t;

struct gw_rest {
    zloop_t *loop; // borrowed
    gw_curl_loop_t *curl;
    gw_limits_t *limits;
    int sweep_timer;
    char *api_url;
    char *auth_header; // "Authorization: Bot <token>", NULL when no token
    int64_t timeout_ms;
    cb_breaker_t breaker;
    //  Retries after a failure (not a 429) stay under 10% of requests: a
    //  slow Discord, or a gateway behind on its own work, must not get a
    //  second copy of every request.
    cb_retry_budget_t retry_budget;
    zlistx_t *requests; // every request not yet answered (request_t *)
    cb_metric_t *rate_limited[3], *invalid, *queued, *retried, *over_budget;
    cb_log_limiter_t warn_limiter;
};

struct request {
    gw_rest_t *owner;
    void *handle; // in owner->requests
    char method[8];
    char *path, *body;
    int64_t deadline_ms;
    char trace_id[CB_TRACE_ID_LEN + 1];
    gw_rest_fn *fn;
    void *arg;
    gw_route_t route;
    bool idempotent;
    gw_limits_ticket_t ticket; // what the attempt counted against
    int attempts;
    int timer; // the wait before the next attempt, -1 when none
    CURL *easy;
    struct curl_slist *headers;
    char *resp;
    size_t resp_len;
    gw_rl_headers_t rl;
    int64_t sent_us;
    char errbuf[CURL_ERROR_SIZE];
};

static void try_send (request_t *req);

//  --- answering -----------------------------------------------------------

static int
discord_code (const char *body, size_t len)
{
    json_t *root = len ? json_loadb (body, len, 0, NULL) : NULL;
    json_t *code = json_object_get (root, "code");
    int value = json_is_integer (code) ? (int) json_integer_value (code) : 0;
    json_decref (root);
    return value;
}

static void
drop_transfer (request_t *req)
{
    if (req->easy) {
        gw_curl_loop_remove (req->owner->curl, req->easy);
        curl_easy_cleanup (req->easy);
    }
    req->easy = NULL;
    //  The first header is Authorization: its copy is wiped too.
    for (struct curl_slist *h = req->headers; h; h = h->next)
        explicit_bzero (h->data, strlen (h->data));
    curl_slist_free_all (req->headers);
    req->headers = NULL;
}

//  Calls fn with the outcome and frees the request.
static void
finish (request_t *req, int status, const char *error)
{
    gw_rest_t *self = req->owner;
    drop_transfer (req);
    if (req->timer >= 0)
        zloop_timer_end (self->loop, req->timer);
    zlistx_delete (self->requests, req->handle);
    cb_gauge_set (self->queued, (double) zlistx_size (self->requests));
    gw_rest_response_t r = {.status = status,
                            .body = req->resp ? req->resp : "",
                            .body_len = req->resp_len,
                            .error = error,
                            .attempts = req->attempts,
                            .discord_code = discord_code (req->resp, req->resp_len)};
    if (error)
        cb_log_debug (req->trace_id, "discord request failed", "{s:s, s:i, s:s, s:i}", "route",
                      req->route.route, "status", status, "error", error, "attempts",
                      req->attempts);
    if (req->fn)
        req->fn (&r, req->arg);
    free (req->path);
    free (req->body);
    free (req->resp);
    free (req);
}

//  --- waiting ----------------------------------------------------------------

static int
on_wake (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    request_t *req = arg;
    req->timer = -1;
    try_send (req);
    return 0;
}

//  Tries again after wait_ms, or fails now when that is past the deadline.
static void
wait_then_retry (request_t *req, int64_t wait_ms, int status, const char *why)
{
    if (cb_now_ms () + wait_ms >= req->deadline_ms) {
        finish (req, status, why);
        return;
    }
    req->timer =
        zloop_timer (req->owner->loop, (size_t) (wait_ms < 1 ? 1 : wait_ms), 1, on_wake, req);
    if (req->timer < 0)
        finish (req, status, "could not start a timer");
}

//  --- sending ------------------------------------------------------------------

static size_t
on_body (char *data, size_t size, size_t nmemb, void *arg)
{
    request_t *req = arg;
    size_t n = size * nmemb;
    if (req->resp_len + n > MAX_BODY)
        return 0; // libcurl fails the transfer
    char *grown = realloc (req->resp, req->resp_len + n + 1);
    if (!grown)
        return 0;
    memcpy (grown + req->resp_len, data, n);
    req->resp = grown;
    req->resp_len += n;
    req->resp[req->resp_len] = '\0';
    return n;
}

static size_t
on_header (char *data, size_t size, size_t nmemb, void *arg)
{
    request_t *req = arg;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp (data, "HTTP/", 5) == 0)
        gw_rl_headers_init (&req->rl); // a new response (after 100 Continue)
    else
        gw_rl_headers_line (&req->rl, data, n);
    return n;
}

static struct curl_slist *
make_headers (const gw_rest_t *self, const request_t *req)
{
    struct curl_slist *h = NULL;
    if (self->auth_header)
        h = curl_slist_append (h, self->auth_header);
    if (req->body)
        h = curl_slist_append (h, "Content-Type: application/json");
    h = curl_slist_append (h, "Expect:");
    return h;
}

//  One attempt's time: what is left before the deadline, at most the
//  configured timeout, and half of it while that leaves a second attempt
//  MIN_ATTEMPT_MS (an interaction callback's 3 s: a slow first attempt is
//  retried, and Discord's 40060 then says whether it had landed).
static int64_t
attempt_timeout (const gw_rest_t *self, const request_t *req)
{
    int64_t left = req->deadline_ms - cb_now_ms ();
    int64_t timeout = left < self->timeout_ms ? left : self->timeout_ms;
    if (req->idempotent && req->attempts == 0 && timeout > left / 2 && left / 2 >= MIN_ATTEMPT_MS)
        timeout = left / 2;
    return timeout < 1 ? 1 : timeout;
}

static int
set_options (gw_rest_t *self, request_t *req, CURL *e)
{
    char url[2048];
    int n = snprintf (url, sizeof url, "%s%s", self->api_url, req->path);
    if (n < 0 || (size_t) n >= sizeof url)
        return -1;
    int64_t timeout = attempt_timeout (self, req);
    curl_easy_setopt (e, CURLOPT_URL, url);
    curl_easy_setopt (e, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body)
        curl_easy_setopt (e, CURLOPT_POSTFIELDS, req->body);
    else if (strcmp (req->method, "GET") != 0)
        curl_easy_setopt (e, CURLOPT_POSTFIELDSIZE, 0L);
    if (strcmp (req->method, "GET") == 0)
        curl_easy_setopt (e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt (e, CURLOPT_HTTPHEADER, req->headers);
    curl_easy_setopt (e, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt (e, CURLOPT_TIMEOUT_MS, (long) timeout);
    curl_easy_setopt (e, CURLOPT_CONNECTTIMEOUT_MS, (long) (timeout < 5000 ? timeout : 5000));
    curl_easy_setopt (e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt (e, CURLOPT_WRITEDATA, req);
    curl_easy_setopt (e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt (e, CURLOPT_HEADERDATA, req);
    curl_easy_setopt (e, CURLOPT_PRIVATE, req);
    curl_easy_setopt (e, CURLOPT_ERRORBUFFER, req->errbuf);
    return 0;
}

//  Hands the attempt to libcurl. 0, or -1 (nothing in flight).
static int
start_transfer (gw_rest_t *self, request_t *req)
{
    free (req->resp);
    req->resp = NULL;
    req->resp_len = 0;
    req->errbuf[0] = '\0';
    gw_rl_headers_init (&req->rl);
    req->easy = curl_easy_init ();
    req->headers = make_headers (self, req);
    if (!req->easy || !req->headers || set_options (self, req, req->easy) != 0 ||
        gw_curl_loop_add (self->curl, req->easy) != 0) {
        drop_transfer (req);
        return -1;
    }
    req->attempts++;
    req->sent_us = cb_mono_us ();
    return 0;
}

static void
try_send (request_t *req)
{
    gw_rest_t *self = req->owner;
    if (cb_now_ms () >= req->deadline_ms) {
        finish (req, 0, "deadline passed before it could be sent");
        return;
    }
    int64_t wait = gw_limits_acquire (self->limits, &req->route, &req->ticket);
    if (wait > 0) {
        wait_then_retry (req, wait, 0, "rate limited past the deadline");
        return;
    }
    if (!cb_breaker_allow (&self->breaker)) {
        gw_limits_release (self->limits, &req->route, &req->ticket, NULL, 0);
        finish (req, 0, "discord_rest breaker open");
        return;
    }
    if (start_transfer (self, req) != 0) {
        gw_limits_release (self->limits, &req->route, &req->ticket, NULL, 0);
        cb_breaker_success (&self->breaker); // not Discord's fault: the probe must report
        finish (req, 0, "could not start the transfer");
    }
}

//  --- outcomes -----------------------------------------------------------------

static void
count (gw_rest_t *self, const request_t *req, int status)
{
    char labels[160], code[8];
    snprintf (code, sizeof code, "%d", status);
    cb_metrics_labels (labels, sizeof labels, "route", req->route.route, "status",
                       status ? code : "error", NULL);
    cb_counter_inc (cb_metrics_counter ("cordbank_gateway_rest_requests_total",
                                        "Requests sent to Discord's REST API, by answer.", labels));
    cb_metrics_labels (labels, sizeof labels, "route", req->route.route, NULL);
    cb_histogram_observe (
        cb_metrics_histogram ("cordbank_gateway_rest_request_duration_seconds",
                              "Time from sending a request to Discord to its answer.", labels,
                              CB_LATENCY_BUCKETS, CB_LATENCY_BUCKETS_COUNT),
        (double) (cb_mono_us () - req->sent_us) / 1e6);
    if (status == 401 || status == 403 ||
        (status == 429 && strcmp (gw_rl_scope (&req->rl), "shared")))
        cb_counter_inc (self->invalid);
}

static void
on_429 (gw_rest_t *self, request_t *req)
{
    const char *scope = gw_rl_scope (&req->rl);
    int which = strcmp (scope, "global") == 0 ? 0 : strcmp (scope, "shared") == 0 ? 2 : 1;
    cb_counter_inc (self->rate_limited[which]);
    int64_t wait = req->rl.retry_after_ms > 0 ? req->rl.retry_after_ms : DEFAULT_RETRY_MS;
    uint64_t suppressed = 0;
    if (cb_log_limiter_allow (&self->warn_limiter, &suppressed))
        cb_log_warn (req->trace_id, "discord rate limited a request", "{s:s, s:s, s:I, s:I}",
                     "route", req->route.route, "scope", scope, "retry_after_ms", (json_int_t) wait,
                     "suppressed", (json_int_t) suppressed);
    //  Never applied by Discord: always safe to send again, after the wait.
    wait_then_retry (req, wait, 429, "rate limited past the deadline");
}

static void
on_failure (gw_rest_t *self, request_t *req, int status, const char *why)
{
    cb_breaker_failure (&self->breaker);
    int64_t delay = cb_backoff_delay_ms ((uint32_t) req->attempts, BACKOFF_BASE_MS, BACKOFF_CAP_MS,
                                         cb_random01 ());
    bool retry = req->idempotent && req->attempts < MAX_ATTEMPTS;
    if (retry && !cb_retry_budget_spend (&self->retry_budget)) {
        cb_counter_inc (self->over_budget);
        retry = false;
    }
    if (retry) {
        cb_counter_inc (self->retried);
        wait_then_retry (req, delay, status, why);
    } else
        finish (req, status, why);
}

//  One attempt has ended: status, or 0 and why when there was no answer.
static void
on_done (gw_rest_t *self, request_t *req, int status, const char *why)
{
    if (status == 429)
        gw_rl_headers_body (&req->rl, req->resp, req->resp_len);
    count (self, req, status);
    gw_limits_release (self->limits, &req->route, &req->ticket, status ? &req->rl : NULL, status);
    drop_transfer (req);
    if (status == 429) {
        cb_breaker_success (&self->breaker); // Discord is up, and a probe must report
        on_429 (self, req);
    } else if (status == 0 || status >= 500) {
        char text[64];
        snprintf (text, sizeof text, "discord answered %d", status);
        on_failure (self, req, status, status ? text : why);
    } else {
        cb_breaker_success (&self->breaker);
        char text[64];
        snprintf (text, sizeof text, "discord answered %d", status);
        finish (req, status, status < 300 ? NULL : text);
    }
}

//  curl_loop: an attempt has ended.
static void
on_transfer_done (CURL *easy, CURLcode result, void *arg)
{
    gw_rest_t *self = arg;
    request_t *req = NULL;
    curl_easy_getinfo (easy, CURLINFO_PRIVATE, (char **) &req);
    long code = 0;
    if (result == CURLE_OK)
        curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &code);
    char why[CURL_ERROR_SIZE + 32];
    snprintf (why, sizeof why, "%s", req->errbuf[0] ? req->errbuf : curl_easy_strerror (result));
    on_done (self, req, (int) code, why);
}

static int
on_sweep (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    gw_limits_sweep (((gw_rest_t *) arg)->limits);
    return 0;
}

//  --- the object ------------------------------------------------------------------

static void
register_metrics (gw_rest_t *self)
{
    static const char *const scopes[3] = {"global", "user", "shared"};
    for (int i = 0; i < 3; i++) {
        char labels[32];
        cb_metrics_labels (labels, sizeof labels, "scope", scopes[i], NULL);
        self->rate_limited[i] = cb_metrics_counter ("cordbank_gateway_rest_rate_limited_total",
                                                    "429 answers from Discord, by scope.", labels);
    }
    self->invalid = cb_metrics_counter (
        "cordbank_gateway_rest_invalid_requests_total",
        "Answers Discord counts as invalid (401, 403, 429 not shared): 10000 per 10 min ban an IP.",
        NULL);
    self->queued = cb_metrics_gauge ("cordbank_gateway_rest_queued_requests",
                                     "Requests to Discord waiting or in flight.", NULL);
    const char *retries = "Failed attempts (5xx, transport) of idempotent requests: retried, or "
                          "given up because retries would exceed 10% of requests.";
    self->retried =
        cb_metrics_counter ("cordbank_gateway_rest_retries_total", retries, "outcome=\"retried\"");
    self->over_budget = cb_metrics_counter ("cordbank_gateway_rest_retries_total", retries,
                                            "outcome=\"over_budget\"");
}

gw_rest_t *
gw_rest_new (zloop_t *loop, const gw_rest_config_t *cfg)
{
    assert (loop && cfg && cfg->api_url);
    gw_rest_t *self = calloc (1, sizeof *self);
    assert (self);
    self->loop = loop;
    self->api_url = strdup (cfg->api_url);
    size_t n = strlen (self->api_url);
    while (n > 0 && self->api_url[n - 1] == '/')
        self->api_url[--n] = '\0';
    if (cfg->token && *cfg->token &&
        asprintf (&self->auth_header, "Authorization: Bot %s", cfg->token) < 0)
        self->auth_header = NULL;
    self->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    self->limits = gw_limits_new (cfg->redis, cfg->global_per_s, cfg->replicas);
    cb_breaker_init (&self->breaker, "discord_rest", BREAKER_THRESHOLD, BREAKER_OPEN_MS,
                     BREAKER_MAX_MS);
    cb_retry_budget_init (&self->retry_budget, 0.1, 20);
    self->requests = zlistx_new ();
    register_metrics (self);
    self->curl = gw_curl_loop_new (loop, on_transfer_done, self);
    self->sweep_timer = zloop_timer (loop, SWEEP_MS, 0, on_sweep, self);
    if (!self->curl || self->sweep_timer < 0) {
        gw_rest_destroy (&self);
        return NULL;
    }
    return self;
}

void
gw_rest_destroy (gw_rest_t **self_p)
{
    assert (self_p);
    gw_rest_t *self = *self_p;
    if (!self)
        return;
    request_t *req;
    while (self->requests && (req = zlistx_first (self->requests)))
        finish (req, 0, "shutting down");
    zlistx_destroy (&self->requests);
    gw_curl_loop_destroy (&self->curl);
    if (self->sweep_timer >= 0)
        zloop_timer_end (self->loop, self->sweep_timer);
    gw_limits_destroy (&self->limits);
    free (self->api_url);
    cb_secret_free (self->auth_header);
    free (self);
    *self_p = NULL;
}

static bool
is_idempotent (const char *method, const gw_route_t *route)
{
    return strcmp (method, "POST") != 0 || route->global_exempt;
}

static bool
method_ok (const char *m)
{
    return !strcmp (m, "GET") || !strcmp (m, "POST") || !strcmp (m, "PUT") ||
           !strcmp (m, "PATCH") || !strcmp (m, "DELETE");
}

int
gw_rest_request (gw_rest_t *self, const char *method, const char *path, const char *json_body,
                 int64_t deadline_ms, const char *trace_id, gw_rest_fn *fn, void *arg)
{
    assert (self && method && path);
    request_t *req = calloc (1, sizeof *req);
    if (!req || !method_ok (method) || gw_route_of (method, path, &req->route) != 0) {
        free (req);
        return -1;
    }
    req->owner = self;
    snprintf (req->method, sizeof req->method, "%s", method);
    req->path = strdup (path);
    req->body = json_body ? strdup (json_body) : NULL;
    req->deadline_ms = deadline_ms;
    snprintf (req->trace_id, sizeof req->trace_id, "%s", trace_id ? trace_id : "");
    req->fn = fn;
    req->arg = arg;
    req->idempotent = is_idempotent (method, &req->route);
    req->timer = -1;
    cb_retry_budget_on_request (&self->retry_budget);
    req->handle = zlistx_add_end (self->requests, req);
    cb_gauge_set (self->queued, (double) zlistx_size (self->requests));
    //  Through a timer, so that fn is never called from in here.
    req->timer = zloop_timer (self->loop, 1, 1, on_wake, req);
    if (req->timer < 0) {
        req->fn = NULL;
        finish (req, 0, "could not start a timer");
        return -1;
    }
    return 0;
}

size_t
gw_rest_pending (const gw_rest_t *self)
{
    assert (self);
    return zlistx_size (self->requests);
}
