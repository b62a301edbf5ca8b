/*  socket — shared socket options and a peer monitor (see socket.h).
 *
 *  The monitor is libzmq's own (zmq_socket_monitor): events arrive on an
 *  inproc PAIR read by the reactor, so the count is exact without probing.
 */
#include "common/socket.h"

#include <string.h>

#include "common/envelope.h"

void
cb_socket_tune (zsock_t *sock, bool immediate)
{
    zsock_set_linger (sock, 0);
    zsock_set_sndhwm (sock, CB_SOCKET_HWM);
    zsock_set_rcvhwm (sock, CB_SOCKET_HWM);
    zsock_set_maxmsgsize (sock, CB_MAX_MESSAGE_BYTES);
    zsock_set_heartbeat_ivl (sock, 250);
    zsock_set_heartbeat_timeout (sock, 1000);
    zsock_set_heartbeat_ttl (sock, 1000);
    zsock_set_reconnect_ivl (sock, 100);
    zsock_set_reconnect_ivl_max (sock, 2000);
    if (immediate)
        zsock_set_immediate (sock, 1);
}

struct cb_peers {
    zsock_t *pair; // monitor events
    zloop_t *loop;
    zhashx_t *connected; // endpoint -> (unused)
    cb_peer_lost_fn *on_lost;
    void *on_lost_arg;
};

static int
on_event (zloop_t *loop, zsock_t *pair, void *arg)
{
    (void) loop;
    cb_peers_t *self = arg;
    zmsg_t *msg = zmsg_recv (pair);
    if (!msg)
        return 0;
    zframe_t *head = zmsg_first (msg);
    zframe_t *addr = zmsg_next (msg);
    if (head && addr && zframe_size (head) >= 2) {
        uint16_t event;
        memcpy (&event, zframe_data (head), sizeof event);
        char *endpoint = zframe_strdup (addr);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            zhashx_update (self->connected, endpoint, self);
        else if (event == ZMQ_EVENT_DISCONNECTED && zhashx_lookup (self->connected, endpoint)) {
            zhashx_delete (self->connected, endpoint);
            if (self->on_lost)
                self->on_lost (endpoint, self->on_lost_arg);
        }
        free (endpoint);
    }
    zmsg_destroy (&msg);
    return 0;
}

zsock_t *
cb_socket_monitor (zsock_t *sock, int events, zloop_t *loop, zloop_reader_fn *fn, void *arg)
{
    static int sequence;
    char endpoint[64], connect[72];
    snprintf (endpoint, sizeof endpoint, "inproc://cb-monitor-%d-%p", ++sequence, (void *) sock);
    if (zmq_socket_monitor (zsock_resolve (sock), endpoint, events) != 0)
        return NULL;
    snprintf (connect, sizeof connect, ">%s", endpoint);
    zsock_t *pair = zsock_new_pair (connect);
    if (pair && zloop_reader (loop, pair, fn, arg) != 0)
        zsock_destroy (&pair);
    return pair;
}

void
cb_socket_monitor_end (zloop_t *loop, zsock_t **pair_p)
{
    if (*pair_p)
        zloop_reader_end (loop, *pair_p);
    zsock_destroy (pair_p);
}

cb_peers_t *
cb_peers_new (zsock_t *sock, zloop_t *loop)
{
    cb_peers_t *self = calloc (1, sizeof *self);
    assert (self);
    self->loop = loop;
    self->connected = zhashx_new ();
    self->pair = cb_socket_monitor (sock, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED,
                                    loop, on_event, self);
    if (!self->pair)
        cb_peers_destroy (&self);
    return self;
}

void
cb_peers_destroy (cb_peers_t **self_p)
{
    assert (self_p);
    cb_peers_t *self = *self_p;
    if (self) {
        cb_socket_monitor_end (self->loop, &self->pair);
        zhashx_destroy (&self->connected);
        free (self);
        *self_p = NULL;
    }
}

size_t
cb_peers_connected (const cb_peers_t *self)
{
    return zhashx_size (self->connected);
}

void
cb_peers_forget (cb_peers_t *self, const char *endpoint)
{
    zhashx_delete (self->connected, endpoint);
}

void
cb_peers_on_lost (cb_peers_t *self, cb_peer_lost_fn *fn, void *arg)
{
    self->on_lost = fn;
    self->on_lost_arg = arg;
}
