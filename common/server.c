/*  server — a ROUTER that decodes requests and dispatches them to handlers
 *  (see server.h for what happens before a handler runs).
 *
 *  A cb_call_t carries the peer's routing identity and the decoded request
 *  from arrival to reply; the server counts calls in flight for shedding
 *  and for the drain, and times each one for its metrics.
 */
#include "common/server.h"

#include "common/clock.h"
#include "common/curve.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/rpcstats.h"
#include "common/socket.h"

#define MAX_BODY_CASE 64
//  Messages read per wake-up before giving other sockets a turn.
#define READ_BATCH 64

typedef struct {
    cb_handler_fn *fn;
    void *arg;
} handler_t;

//  Why a request was refused before any work began.
enum { SHED_EXPIRED, SHED_STARTING, SHED_DRAINING, SHED_BUSY };
static const char *const SHED_REASONS[] = {"expired", "starting", "draining", "busy"};

struct cb_server {
    zsock_t *router;
    zloop_t *loop;
    cb_curve_watch_t *curve_watch; // refused handshakes, with CURVE
    handler_t handlers[MAX_BODY_CASE];
    int port;
    size_t inflight;
    size_t max_inflight;
    bool starting;
    bool draining;
    cb_metric_t *inflight_gauge;
    cb_metric_t *shed[4]; // by SHED_REASONS
    cb_rpcstats_t stats;
    cb_burst_fn *burst_end;
    void *burst_arg;
};

struct cb_call {
    cb_server_t *server;
    zframe_t *identity;
    Cordbank__Envelope *request;
    int64_t started_us;
};

static void
call_destroy (cb_call_t **call_p)
{
    cb_call_t *call = *call_p;
    call->server->inflight--;
    cb_gauge_set (call->server->inflight_gauge, (double) call->server->inflight);
    zframe_destroy (&call->identity);
    cb_envelope_free (&call->request);
    free (call);
    *call_p = NULL;
}

static void
send_reply (cb_call_t *call, Cordbank__Envelope *reply)
{
    const Cordbank__Envelope *request = call->request;
    reply->trace_id = request->trace_id;
    reply->request_id = request->request_id;
    reply->attempt = request->attempt;
    reply->deadline_unix_ms = 0;
    if (reply->status == CORDBANK__STATUS__STATUS_UNSPECIFIED)
        reply->status = CORDBANK__STATUS__STATUS_OK;
    zframe_t *frame = cb_envelope_encode (reply);
    //  The peer may be gone (ROUTER drops silently): nothing to do then.
    if (frame &&
        zframe_send (&call->identity, call->server->router, ZFRAME_MORE + ZFRAME_REUSE) == 0)
        zframe_send (&frame, call->server->router, ZFRAME_DONTWAIT);
    zframe_destroy (&frame);
    cb_rpcstats_observe (&call->server->stats, call->request->body_case, cb_envelope_status (reply),
                         call->started_us);
    //  One line per request served, in every service, under the trace id
    //  the gateway gave the interaction: a command can be followed across
    //  services with grep. The slowest of each snapshot period is also
    //  the snapshot's exemplar.
    int64_t elapsed_us = cb_mono_us () - call->started_us;
    cb_log_debug (request->trace_id, "request served", "{s:s, s:s, s:i, s:I}", "method",
                  cb_body_name (request->body_case), "status",
                  cb_status_name (cb_envelope_status (reply)), "attempt", (int) request->attempt,
                  "duration_us", (json_int_t) elapsed_us);
    cb_metrics_exemplar_offer (request->trace_id, cb_body_name (request->body_case),
                               (double) elapsed_us / 1e6);
}

void
cb_call_reply (cb_call_t **call_p, Cordbank__Envelope *reply)
{
    assert (call_p && *call_p && reply);
    send_reply (*call_p, reply);
    call_destroy (call_p);
}

void
cb_call_fail (cb_call_t **call_p, Cordbank__Status status, const char *error)
{
    assert (call_p && *call_p);
    Cordbank__Envelope reply = CORDBANK__ENVELOPE__INIT;
    reply.status = status;
    reply.error = (char *) (error ? error : "");
    cb_call_reply (call_p, &reply);
}

const Cordbank__Envelope *
cb_call_request (const cb_call_t *call)
{
    return call->request;
}

const char *
cb_call_trace_id (const cb_call_t *call)
{
    return call->request->trace_id;
}

int64_t
cb_call_deadline_ms (const cb_call_t *call)
{
    return call->request->deadline_unix_ms;
}

//  Refuses work the server will not start; true when refused.
static bool
refuse (cb_server_t *self, cb_call_t **call_p)
{
    cb_call_t *call = *call_p;
    Cordbank__Envelope__BodyCase body = call->request->body_case;
    if (cb_envelope_expired (call->request)) {
        cb_counter_inc (self->shed[SHED_EXPIRED]);
        cb_call_fail (call_p, CORDBANK__STATUS__STATUS_DEADLINE_EXCEEDED,
                      "deadline passed before work began");
    } else if (body <= 0 || body >= MAX_BODY_CASE || !self->handlers[body].fn)
        cb_call_fail (call_p, CORDBANK__STATUS__STATUS_INVALID_ARGUMENT,
                      "no handler for this request");
    else if (self->starting) {
        //  Clients connect as soon as the socket is bound, before the
        //  instance can do the work (a database not connected yet): what
        //  they send now goes on to another instance, as when draining.
        cb_counter_inc (self->shed[SHED_STARTING]);
        cb_call_fail (call_p, CORDBANK__STATUS__STATUS_DRAINING, "instance is starting");
    } else if (self->draining) {
        cb_counter_inc (self->shed[SHED_DRAINING]);
        cb_call_fail (call_p, CORDBANK__STATUS__STATUS_DRAINING, "instance is draining");
    } else if (self->inflight > self->max_inflight) {
        cb_counter_inc (self->shed[SHED_BUSY]);
        cb_call_fail (call_p, CORDBANK__STATUS__STATUS_BUSY, "instance is busy");
    }
    return *call_p == NULL;
}

static void
dispatch (cb_server_t *self, zmsg_t *msg)
{
    zframe_t *identity = zmsg_pop (msg);
    zframe_t *payload = zmsg_pop (msg);
    Cordbank__Envelope *request =
        payload && zmsg_size (msg) == 0
            ? cb_envelope_decode (zframe_data (payload), zframe_size (payload))
            : NULL;
    if (!request) {
        cb_envelope_count_bad ("router", payload ? zframe_size (payload) : 0);
        zframe_destroy (&identity);
        zframe_destroy (&payload);
        return;
    }
    zframe_destroy (&payload);
    cb_call_t *call = calloc (1, sizeof *call);
    assert (call);
    *call = (cb_call_t){self, identity, request, cb_mono_us ()};
    self->inflight++;
    cb_gauge_set (self->inflight_gauge, (double) self->inflight);
    if (refuse (self, &call))
        return;
    handler_t *handler = &self->handlers[request->body_case];
    handler->fn (call, handler->arg);
}

static int
on_readable (zloop_t *loop, zsock_t *router, void *arg)
{
    (void) loop;
    cb_server_t *self = arg;
    for (int i = 0; i < READ_BATCH && (zsock_events (router) & ZMQ_POLLIN); i++) {
        zmsg_t *msg = zmsg_recv (router);
        if (!msg)
            break;
        dispatch (self, msg);
        zmsg_destroy (&msg);
    }
    if (self->burst_end)
        self->burst_end (self->burst_arg);
    return 0;
}

void
cb_server_on_burst_end (cb_server_t *self, cb_burst_fn *fn, void *arg)
{
    assert (self);
    self->burst_end = fn;
    self->burst_arg = arg;
}

cb_server_t *
cb_server_new (const char *endpoint, cb_curve_t *curve, zloop_t *loop)
{
    cb_server_t *self = calloc (1, sizeof *self);
    assert (self);
    self->loop = loop;
    self->max_inflight = 4096;
    cb_rpcstats_init_server (&self->stats);
    for (int r = SHED_EXPIRED; r <= SHED_BUSY; r++) {
        char labels[48];
        cb_metrics_labels (labels, sizeof labels, "reason", SHED_REASONS[r], NULL);
        self->shed[r] = cb_metrics_counter (
            "cordbank_rpc_server_shed_total",
            "Requests refused before any work began: deadline already passed, starting, draining, "
            "busy.",
            labels);
    }
    self->router = zsock_new (ZMQ_ROUTER);
    cb_socket_tune (self->router, false);
    if (curve && cb_curve_server (curve, self->router) != 0) {
        cb_server_destroy (&self);
        return NULL;
    }
    if (curve)
        self->curve_watch = cb_curve_watch_new (self->router, loop, "router");
    self->port = zsock_bind (self->router, "%s", endpoint);
    if (self->port < 0) {
        cb_log_error (NULL, "cannot bind the request socket", "{s:s, s:s}", "endpoint", endpoint,
                      "error", zmq_strerror (zmq_errno ()));
        cb_server_destroy (&self);
        return NULL;
    }
    zloop_reader (loop, self->router, on_readable, self);
    self->inflight_gauge =
        cb_metrics_gauge ("cordbank_rpc_server_inflight", "Requests being worked on.", NULL);
    return self;
}

void
cb_server_destroy (cb_server_t **self_p)
{
    assert (self_p);
    cb_server_t *self = *self_p;
    if (self) {
        if (self->inflight)
            cb_log_warn (NULL, "stopping with requests still in flight", "{s:I}", "inflight",
                         (json_int_t) self->inflight);
        if (self->router)
            zloop_reader_end (self->loop, self->router);
        cb_curve_watch_destroy (&self->curve_watch);
        zsock_destroy (&self->router);
        free (self);
        *self_p = NULL;
    }
}

void
cb_server_handle (cb_server_t *self, Cordbank__Envelope__BodyCase body, cb_handler_fn *fn,
                  void *arg)
{
    assert (self && body > 0 && body < MAX_BODY_CASE);
    self->handlers[body] = (handler_t){fn, arg};
}

int
cb_server_port (const cb_server_t *self)
{
    return self->port;
}

void
cb_server_set_max_inflight (cb_server_t *self, size_t max_inflight)
{
    self->max_inflight = max_inflight;
}

void
cb_server_set_starting (cb_server_t *self, bool starting)
{
    self->starting = starting;
}

void
cb_server_set_draining (cb_server_t *self, bool draining)
{
    self->draining = draining;
}

size_t
cb_server_inflight (const cb_server_t *self)
{
    return self->inflight;
}
