/*  client — a DEALER to every instance of a service, with a pending table
 *  of requests keyed by request id (see client.h for the contract).
 *
 *  Each pending request keeps its packed bytes for retries. A 5 ms timer
 *  walks the table: it fails what passed its deadline, resends what
 *  waited out its backoff, and schedules a retry for idempotent requests
 *  whose attempt timed out. A send that could not be queued (no peer
 *  connected: ZMQ_IMMEDIATE) reached nobody, so it is retried whatever
 *  the request is; one that no instance takes within 250 ms fails fast.
 *  A request an instance refused before doing any work (starting or
 *  draining: DRAINING; BUSY) is sent on to the next instance, whatever it
 *  is (resend_refused). When an instance is lost (its connection closed,
 *  or the ZMTP heartbeat gave up on it: dead, hung, cut off), what it was
 *  sent is lost with it, and nothing says which requests those were: every
 *  idempotent request in flight goes out again 20 ms later, outside the
 *  retry budget, and may be retried once more whatever the budget
 *  (on_peer_lost). Replies to the copies that were not lost come late and
 *  are dropped.
 *
 *  A breaker per client (target: the service) opens after
 *  BREAKER_THRESHOLD requests in a row got no answer from any instance
 *  (deadline passed, none reachable): calls then fail UNAVAILABLE at once
 *  instead of waiting out their deadlines, until a probe is answered. Any
 *  answer, a refusal included, shows an instance alive.
 */
#include "common/client.h"

#include <sodium.h>

#include "common/backoff.h"
#include "common/breaker.h"
#include "common/clock.h"
#include "common/curve.h"
#include "common/discovery.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/rpcstats.h"
#include "common/socket.h"

#define TICK_MS         5
#define DNS_REFRESH_MS  3000
#define BACKOFF_BASE_MS 10
#define BACKOFF_CAP_MS  200
//  A request no instance would take for this long fails fast (UNAVAILABLE)
//  rather than waiting out its deadline: the caller can degrade now.
#define UNREACHABLE_AFTER_MS 250
//  A request sent back by draining instances goes out again at most this
//  often: with round-robin over N instances and one draining, every resend
//  lands on it with probability 1/N.
#define MAX_DRAINED 16
//  Unanswered requests in a row that open the breaker; its cool-down.
#define BREAKER_THRESHOLD   10
#define BREAKER_OPEN_MS     200
#define BREAKER_MAX_OPEN_MS 2000
//  After an instance is lost, its requests go out again this much later:
//  libzmq reports the disconnect before it detaches the dead connection
//  from the DEALER, so a copy sent at once may follow the originals into it.
//  Meanwhile the loop polls the DEALER, which detaches it.
#define LOST_RESEND_DELAY_MS 20

typedef struct {
    uint64_t request_id; // the table's key points here
    uint8_t *bytes;
    size_t size;
    Cordbank__Envelope__BodyCase method;
    int64_t deadline_ms;    // wall clock, from the caller
    int64_t created_ms;     // wall clock
    int64_t attempt_end_ms; // wall clock; 0 while waiting to be (re)sent
    int64_t resend_at_ms;   // wall clock; 0 while in flight
    uint32_t attempt;
    uint32_t drained; // times a draining instance sent it back
    bool idempotent;
    bool ever_sent;
    bool after_loss; // sent again because an instance was lost; not retried since
    int64_t started_us;
    cb_reply_fn *fn;
    void *arg;
} pending_t;

struct cb_client {
    char *target;
    zsock_t *dealer;
    zloop_t *loop;
    cb_discovery_t *discovery;
    cb_peers_t *peers;
    zhashx_t *pending;
    uint64_t next_id;
    int64_t attempt_timeout_ms;
    uint32_t max_attempts;
    cb_retry_budget_t budget;
    cb_breaker_t breaker;
    int tick_timer;
    int dns_timer;
    cb_metric_t *retries;
    cb_metric_t *late;
    cb_metric_t *drained;
    cb_metric_t *lost_resends;
    cb_metric_t *pending_gauge;
    cb_rpcstats_t stats;
};

static size_t
hash_id (const void *key)
{
    uint64_t id = *(const uint64_t *) key;
    return (size_t) (id * 0x9E3779B97F4A7C15ULL);
}

static int
compare_id (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static void
pending_destroy (void **item_p)
{
    pending_t *p = *item_p;
    if (p) {
        free (p->bytes);
        free (p);
        *item_p = NULL;
    }
}

//  Removes the request from the table, then calls back (the callback may
//  make new calls on this client).
static void
complete (cb_client_t *self, pending_t *p, const Cordbank__Envelope *reply, Cordbank__Status status,
          const char *error)
{
    cb_reply_fn *fn = p->fn;
    void *arg = p->arg;
    cb_rpcstats_observe (&self->stats, p->method, reply ? cb_envelope_status (reply) : status,
                         p->started_us);
    zhashx_delete (self->pending, &p->request_id);
    cb_gauge_set (self->pending_gauge, (double) zhashx_size (self->pending));
    fn (reply, status, error, arg);
}

//  Tries to queue the request now; on failure it waits a backoff.
static void
transmit (cb_client_t *self, pending_t *p, int64_t now)
{
    zframe_t *frame = zframe_new (p->bytes, p->size);
    if (zframe_send (&frame, self->dealer, ZFRAME_DONTWAIT) == 0) {
        p->ever_sent = true;
        p->resend_at_ms = 0;
        p->attempt_end_ms = now + self->attempt_timeout_ms;
        return;
    }
    zframe_destroy (&frame);
    p->attempt_end_ms = 0;
    p->resend_at_ms =
        now + cb_backoff_delay_ms (p->attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS, cb_random01 ());
}

//  Rewrites the packed request with the next attempt number.
static void
bump_attempt (pending_t *p)
{
    Cordbank__Envelope *env = cordbank__envelope__unpack (NULL, p->size, p->bytes);
    if (!env)
        return;
    env->attempt = ++p->attempt;
    size_t size = cordbank__envelope__get_packed_size (env);
    uint8_t *bytes = malloc (size);
    assert (bytes);
    cordbank__envelope__pack (env, bytes);
    cordbank__envelope__free_unpacked (env, NULL);
    free (p->bytes);
    p->bytes = bytes;
    p->size = size;
}

//  What the tick does with one request; returns true when it must fail now.
static bool
tick_one (cb_client_t *self, pending_t *p, int64_t now)
{
    if (now >= p->deadline_ms || (!p->ever_sent && now - p->created_ms >= UNREACHABLE_AFTER_MS))
        return true;
    if (p->resend_at_ms && now >= p->resend_at_ms)
        transmit (self, p, now);
    else if (p->attempt_end_ms && now >= p->attempt_end_ms && p->idempotent &&
             (p->after_loss ||
              (p->attempt < self->max_attempts && cb_retry_budget_spend (&self->budget)))) {
        //  The copy sent after a lost instance gets one retry whatever the
        //  budget and the attempts: a lost connection is not a service
        //  struggling, and the copy may still have gone down with it.
        p->after_loss = false;
        cb_counter_inc (self->retries);
        bump_attempt (p);
        p->attempt_end_ms = 0;
        p->resend_at_ms = now + cb_backoff_delay_ms (p->attempt - 1, BACKOFF_BASE_MS,
                                                     BACKOFF_CAP_MS, cb_random01 ());
    }
    return false;
}

static int
on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    cb_client_t *self = arg;
    if (zhashx_size (self->pending) == 0)
        return 0;
    int64_t now = cb_now_ms ();
    zlistx_t *expired = zlistx_new ();
    for (pending_t *p = zhashx_first (self->pending); p; p = zhashx_next (self->pending))
        if (tick_one (self, p, now))
            zlistx_add_end (expired, p);
    for (pending_t *p = zlistx_first (expired); p; p = zlistx_next (expired)) {
        cb_breaker_failure (&self->breaker);
        char error[160];
        snprintf (error, sizeof error,
                  p->ever_sent ? "no answer from %s before the deadline"
                               : "no instance of %s is reachable",
                  self->target);
        complete (self, p, NULL,
                  p->ever_sent ? CORDBANK__STATUS__STATUS_DEADLINE_EXCEEDED
                               : CORDBANK__STATUS__STATUS_UNAVAILABLE,
                  error);
    }
    zlistx_destroy (&expired);
    return 0;
}

//  The instance did nothing with the request: it is stopping, or shed it.
static bool
refused_before_work (const Cordbank__Envelope *reply)
{
    return reply->status == CORDBANK__STATUS__STATUS_DRAINING ||
           reply->status == CORDBANK__STATUS__STATUS_BUSY;
}

//  A request an instance refused before doing anything is safe to send
//  again whatever it is. The DEALER round-robins, so it goes to the next
//  instance. A draining instance is a planned stop (a rolling restart):
//  its refusals are sent on at once and do not spend the retry budget,
//  which is there to keep retries from piling onto a struggling service;
//  a busy one is that case, so its refusals wait a backoff and spend it.
//  true when the request was sent on (or will be), false to fail it now.
static bool
resend_refused (cb_client_t *self, pending_t *p, Cordbank__Status why)
{
    int64_t now = cb_now_ms ();
    if (why == CORDBANK__STATUS__STATUS_DRAINING) {
        if (++p->drained > MAX_DRAINED)
            return false;
        cb_counter_inc (self->drained);
        //  Once it may have been to every instance, it waits a backoff
        //  between sends: one instance that is starting must not get
        //  all the resends at once.
        size_t peers = cb_client_peers (self);
        if (p->drained <= peers)
            transmit (self, p, now);
        else {
            p->attempt_end_ms = 0;
            p->resend_at_ms =
                now + cb_backoff_delay_ms (p->drained - (uint32_t) peers, BACKOFF_BASE_MS,
                                           BACKOFF_CAP_MS, cb_random01 ());
        }
        return true;
    }
    if (p->attempt >= self->max_attempts || !cb_retry_budget_spend (&self->budget))
        return false;
    cb_counter_inc (self->retries);
    bump_attempt (p);
    p->attempt_end_ms = 0;
    p->resend_at_ms =
        now + cb_backoff_delay_ms (p->attempt - 1, BACKOFF_BASE_MS, BACKOFF_CAP_MS, cb_random01 ());
    return true;
}

//  A connected instance is gone: the requests it held will never be
//  answered. Those safe to send again go to the instances left, almost at
//  once (LOST_RESEND_DELAY_MS), rather than after their attempt times out,
//  outside the retry budget.
static void
on_peer_lost (const char *endpoint, void *arg)
{
    cb_client_t *self = arg;
    int64_t now = cb_now_ms ();
    size_t resent = 0;
    for (pending_t *p = zhashx_first (self->pending); p; p = zhashx_next (self->pending))
        if (p->idempotent && p->attempt_end_ms && now < p->deadline_ms) {
            bump_attempt (p);
            p->after_loss = true;
            p->attempt_end_ms = 0;
            p->resend_at_ms = now + LOST_RESEND_DELAY_MS;
            resent++;
        }
    cb_counter_add (self->lost_resends, (double) resent);
    cb_log_info (NULL, "lost an instance; sent its possible requests on", "{s:s, s:s, s:I}",
                 "target", self->target, "endpoint", endpoint, "resent", (json_int_t) resent);
}

static void
on_reply (cb_client_t *self, zframe_t *frame)
{
    Cordbank__Envelope *reply = cb_envelope_decode (zframe_data (frame), zframe_size (frame));
    if (!reply) {
        cb_envelope_count_bad (self->target, zframe_size (frame));
        return;
    }
    pending_t *p = zhashx_lookup (self->pending, &reply->request_id);
    cb_breaker_success (&self->breaker); // an instance is alive, whatever it said
    if (!p)
        cb_counter_inc (self->late); // answered already (an earlier attempt won)
    else if (reply->body_case == CORDBANK__ENVELOPE__BODY__NOT_SET && refused_before_work (reply) &&
             resend_refused (self, p, reply->status))
        ; // on its way to another instance
    else if (reply->body_case == CORDBANK__ENVELOPE__BODY__NOT_SET)
        //  No body: the status says why; one claiming OK without a body is
        //  broken, and callers are promised a reply whenever status is OK.
        complete (self, p, NULL,
                  reply->status == CORDBANK__STATUS__STATUS_OK ||
                          reply->status == CORDBANK__STATUS__STATUS_UNSPECIFIED
                      ? CORDBANK__STATUS__STATUS_INTERNAL
                      : reply->status,
                  reply->error);
    else
        complete (self, p, reply, CORDBANK__STATUS__STATUS_OK, "");
    cb_envelope_free (&reply);
}

static int
on_readable (zloop_t *loop, zsock_t *dealer, void *arg)
{
    (void) loop;
    for (int i = 0; i < 64 && (zsock_events (dealer) & ZMQ_POLLIN); i++) {
        zframe_t *frame = zframe_recv (dealer);
        if (!frame)
            break;
        on_reply (arg, frame);
        zframe_destroy (&frame);
    }
    return 0;
}

static int
on_dns (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    cb_client_t *self = arg;
    if (cb_discovery_sync (self->discovery, self->dealer, self->peers) < 0)
        cb_log_warn (NULL, "service discovery failed; keeping the last endpoints", "{s:s}",
                     "target", self->target);
    return 0;
}

static void
init_metrics (cb_client_t *self)
{
    char labels[96];
    cb_metrics_labels (labels, sizeof labels, "target", self->target, NULL);
    self->retries = cb_metrics_counter ("cordbank_rpc_client_retries_total",
                                        "Requests sent again after an attempt timed out.", labels);
    self->late = cb_metrics_counter ("cordbank_rpc_client_late_replies_total",
                                     "Replies that came after their request was answered.", labels);
    self->drained = cb_metrics_counter (
        "cordbank_rpc_client_drain_resends_total",
        "Requests a draining instance sent back, sent on to another instance.", labels);
    self->lost_resends = cb_metrics_counter (
        "cordbank_rpc_client_lost_peer_resends_total",
        "Requests in flight sent again because an instance was lost (closed or hung).", labels);
    self->pending_gauge =
        cb_metrics_gauge ("cordbank_rpc_client_pending", "Requests waiting for an answer.", labels);
}

cb_client_t *
cb_client_new (const char *target, const char *spec, const cb_curve_t *curve, zloop_t *loop)
{
    cb_discovery_t *discovery = cb_discovery_new (spec);
    if (!discovery)
        return NULL;
    cb_client_t *self = calloc (1, sizeof *self);
    assert (self);
    self->target = strdup (target);
    cb_rpcstats_init_client (&self->stats, target);
    self->loop = loop;
    self->discovery = discovery;
    self->dealer = zsock_new (ZMQ_DEALER);
    cb_socket_tune (self->dealer, true);
    if (curve)
        cb_curve_client (curve, self->dealer);
    self->peers = cb_peers_new (self->dealer, loop);
    if (self->peers)
        cb_peers_on_lost (self->peers, on_peer_lost, self);
    self->pending = zhashx_new ();
    zhashx_set_key_hasher (self->pending, hash_id);
    zhashx_set_key_comparator (self->pending, compare_id);
    zhashx_set_key_duplicator (self->pending, NULL);
    zhashx_set_key_destructor (self->pending, NULL);
    zhashx_set_destructor (self->pending, pending_destroy);
    self->next_id = ((uint64_t) randombytes_random () << 32) | 1;
    self->attempt_timeout_ms = 1000;
    self->max_attempts = 3;
    cb_retry_budget_init (&self->budget, 0.1, 20);
    cb_breaker_init (&self->breaker, self->target, BREAKER_THRESHOLD, BREAKER_OPEN_MS,
                     BREAKER_MAX_OPEN_MS);
    init_metrics (self);
    cb_discovery_sync (discovery, self->dealer, self->peers);
    zloop_reader (loop, self->dealer, on_readable, self);
    self->tick_timer = zloop_timer (loop, TICK_MS, 0, on_tick, self);
    self->dns_timer =
        cb_discovery_is_dns (discovery) ? zloop_timer (loop, DNS_REFRESH_MS, 0, on_dns, self) : -1;
    return self;
}

void
cb_client_destroy (cb_client_t **self_p)
{
    assert (self_p);
    cb_client_t *self = *self_p;
    if (!self)
        return;
    //  Every caller is owed exactly one callback.
    while (zhashx_size (self->pending) > 0)
        complete (self, zhashx_first (self->pending), NULL, CORDBANK__STATUS__STATUS_UNAVAILABLE,
                  "client is shutting down");
    zloop_timer_end (self->loop, self->tick_timer);
    if (self->dns_timer >= 0)
        zloop_timer_end (self->loop, self->dns_timer);
    zloop_reader_end (self->loop, self->dealer);
    cb_peers_destroy (&self->peers);
    zsock_destroy (&self->dealer);
    zhashx_destroy (&self->pending);
    cb_discovery_destroy (&self->discovery);
    free (self->target);
    free (self);
    *self_p = NULL;
}

void
cb_client_set_attempts (cb_client_t *self, int64_t attempt_timeout_ms, uint32_t max_attempts)
{
    assert (attempt_timeout_ms > 0 && max_attempts > 0);
    self->attempt_timeout_ms = attempt_timeout_ms;
    self->max_attempts = max_attempts;
}

int
cb_client_call (cb_client_t *self, Cordbank__Envelope *request, const char *trace_id,
                int64_t deadline_ms, bool idempotent, cb_reply_fn *fn, void *arg)
{
    assert (self && request && fn);
    if (deadline_ms <= 0) // every request ends: no deadline means the default one
        deadline_ms = cb_now_ms () + CB_CLIENT_DEFAULT_DEADLINE_MS;
    pending_t *p = calloc (1, sizeof *p);
    assert (p);
    *p = (pending_t){.request_id = self->next_id++,
                     .method = request->body_case,
                     .deadline_ms = deadline_ms,
                     .created_ms = cb_now_ms (),
                     .attempt = 1,
                     .idempotent = idempotent,
                     .started_us = cb_mono_us (),
                     .fn = fn,
                     .arg = arg};
    request->trace_id = (char *) (trace_id ? trace_id : "");
    request->request_id = p->request_id;
    request->deadline_unix_ms = deadline_ms;
    request->attempt = 1;
    zframe_t *frame = cb_envelope_encode (request);
    if (!frame || zframe_size (frame) > CB_MAX_MESSAGE_BYTES) {
        zframe_destroy (&frame);
        free (p);
        fn (NULL, CORDBANK__STATUS__STATUS_INTERNAL, "request too large to send", arg);
        return -1;
    }
    p->size = zframe_size (frame);
    p->bytes = malloc (p->size);
    assert (p->bytes);
    memcpy (p->bytes, zframe_data (frame), p->size);
    zframe_destroy (&frame);
    //  Last: a call the breaker lets through (a half-open probe) must
    //  report back, so nothing may fail it before it is in the table.
    if (!cb_breaker_allow (&self->breaker)) {
        char error[160];
        snprintf (error, sizeof error, "no instance of %s has answered lately (breaker open)",
                  self->target);
        cb_rpcstats_observe (&self->stats, p->method, CORDBANK__STATUS__STATUS_UNAVAILABLE,
                             p->started_us);
        pending_destroy ((void **) &p);
        fn (NULL, CORDBANK__STATUS__STATUS_UNAVAILABLE, error, arg);
        return -1;
    }
    zhashx_insert (self->pending, &p->request_id, p);
    cb_gauge_set (self->pending_gauge, (double) zhashx_size (self->pending));
    cb_retry_budget_on_request (&self->budget);
    transmit (self, p, cb_now_ms ());
    return 0;
}

size_t
cb_client_pending (const cb_client_t *self)
{
    return zhashx_size (self->pending);
}

size_t
cb_client_peers (const cb_client_t *self)
{
    return self->peers ? cb_peers_connected (self->peers) : cb_discovery_size (self->discovery);
}
