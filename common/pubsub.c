/*  pubsub — PUB and SUB sockets carrying envelopes (see pubsub.h).
 */
#include "common/pubsub.h"

#include "common/curve.h"
#include "common/discovery.h"
#include "common/log.h"
#include "common/socket.h"

#define DNS_REFRESH_MS 3000

//  What both sides share: a socket that binds one endpoint or follows a
//  discovery spec.
typedef struct {
    zsock_t *sock;
    zloop_t *loop;
    cb_discovery_t *discovery;     // NULL when bound
    cb_curve_watch_t *curve_watch; // bound with CURVE: refused handshakes
    int dns_timer;
} endpoint_t;

static int
on_dns (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    endpoint_t *ep = arg;
    if (cb_discovery_sync (ep->discovery, ep->sock, NULL) < 0)
        cb_log_warn (NULL, "event discovery failed; keeping the last endpoints", NULL);
    return 0;
}

//  With CURVE the side that binds is the server, whichever of PUB and SUB
//  it is; the side that connects, the client.
static int
endpoint_open (endpoint_t *ep, int type, const char *spec, bool bind, cb_curve_t *curve,
               zloop_t *loop)
{
    ep->loop = loop;
    ep->dns_timer = -1;
    ep->sock = zsock_new (type);
    cb_socket_tune (ep->sock, false);
    if (bind) {
        if (curve && cb_curve_server (curve, ep->sock) != 0)
            return -1;
        if (curve)
            ep->curve_watch = cb_curve_watch_new (ep->sock, loop, type == ZMQ_PUB ? "pub" : "sub");
        if (zsock_bind (ep->sock, "%s", spec) < 0) {
            cb_log_error (NULL, "cannot bind", "{s:s, s:s}", "endpoint", spec, "error",
                          zmq_strerror (zmq_errno ()));
            return -1;
        }
        return 0;
    }
    if (curve)
        cb_curve_client (curve, ep->sock);
    ep->discovery = cb_discovery_new (spec);
    if (!ep->discovery)
        return -1;
    cb_discovery_sync (ep->discovery, ep->sock, NULL);
    if (cb_discovery_is_dns (ep->discovery))
        ep->dns_timer = zloop_timer (loop, DNS_REFRESH_MS, 0, on_dns, ep);
    return 0;
}

static void
endpoint_close (endpoint_t *ep)
{
    if (ep->dns_timer >= 0)
        zloop_timer_end (ep->loop, ep->dns_timer);
    cb_discovery_destroy (&ep->discovery);
    cb_curve_watch_destroy (&ep->curve_watch);
    zsock_destroy (&ep->sock);
}

struct cb_publisher {
    endpoint_t ep;
};

cb_publisher_t *
cb_publisher_new (const char *spec, bool bind, cb_curve_t *curve, zloop_t *loop)
{
    cb_publisher_t *self = calloc (1, sizeof *self);
    assert (self);
    if (endpoint_open (&self->ep, ZMQ_PUB, spec, bind, curve, loop) != 0)
        cb_publisher_destroy (&self);
    return self;
}

void
cb_publisher_destroy (cb_publisher_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        endpoint_close (&(*self_p)->ep);
        free (*self_p);
        *self_p = NULL;
    }
}

int
cb_publisher_send (cb_publisher_t *self, Cordbank__Envelope *env)
{
    zframe_t *frame = cb_envelope_encode (env);
    if (!frame)
        return -1;
    int rc = zframe_send (&frame, self->ep.sock, ZFRAME_DONTWAIT);
    zframe_destroy (&frame);
    return rc;
}

struct cb_subscriber {
    endpoint_t ep;
    cb_event_fn *fn;
    void *arg;
};

static int
on_event (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    cb_subscriber_t *self = arg;
    for (int i = 0; i < 256 && (zsock_events (sock) & ZMQ_POLLIN); i++) {
        zframe_t *frame = zframe_recv (sock);
        if (!frame)
            break;
        Cordbank__Envelope *env = cb_envelope_decode (zframe_data (frame), zframe_size (frame));
        if (env)
            self->fn (env, self->arg);
        else
            cb_envelope_count_bad ("sub", zframe_size (frame));
        cb_envelope_free (&env);
        zframe_destroy (&frame);
    }
    return 0;
}

cb_subscriber_t *
cb_subscriber_new (const char *spec, bool bind, cb_curve_t *curve, zloop_t *loop, cb_event_fn *fn,
                   void *arg)
{
    cb_subscriber_t *self = calloc (1, sizeof *self);
    assert (self);
    self->fn = fn;
    self->arg = arg;
    if (endpoint_open (&self->ep, ZMQ_SUB, spec, bind, curve, loop) != 0) {
        cb_subscriber_destroy (&self);
        return NULL;
    }
    zsock_set_subscribe (self->ep.sock, "");
    zloop_reader (loop, self->ep.sock, on_event, self);
    return self;
}

void
cb_subscriber_destroy (cb_subscriber_t **self_p)
{
    assert (self_p);
    cb_subscriber_t *self = *self_p;
    if (self) {
        if (self->ep.sock)
            zloop_reader_end (self->ep.loop, self->ep.sock);
        endpoint_close (&self->ep);
        free (self);
        *self_p = NULL;
    }
}
