/*  socket — the ZeroMQ options every cordbank socket shares, and a monitor
 *  that knows which peers a connecting socket is really connected to.
 *
 *  Options: ZMTP heartbeats every 250 ms with a 1 s timeout (a hung or
 *  partitioned peer is dropped in seconds, not at TCP timeout), bounded
 *  high-water marks, ZMQ_MAXMSGSIZE, no linger (a stopping service does not
 *  wait on peers that are gone), and optionally ZMQ_IMMEDIATE.
 */
#ifndef CB_SOCKET_H
#define CB_SOCKET_H

#include <czmq.h>
#include <stdbool.h>

#define CB_SOCKET_HWM 10000

void cb_socket_tune (zsock_t *sock, bool immediate);

//  libzmq's monitor of sock (zmq_socket_monitor; one per socket, a second
//  call replaces the first): the events asked for arrive on the returned
//  inproc PAIR, which fn reads on loop. NULL when it cannot start. End it
//  with cb_socket_monitor_end.
zsock_t *cb_socket_monitor (zsock_t *sock, int events, zloop_t *loop, zloop_reader_fn *fn,
                            void *arg);
void cb_socket_monitor_end (zloop_t *loop, zsock_t **pair_p);

//  Counts the peers a socket has completed a handshake with.
typedef struct cb_peers cb_peers_t;
//  Monitors sock (which the caller keeps owning) on loop.
cb_peers_t *cb_peers_new (zsock_t *sock, zloop_t *loop);
void cb_peers_destroy (cb_peers_t **self_p);
size_t cb_peers_connected (const cb_peers_t *self);
//  After zsock_disconnect: forget that endpoint.
void cb_peers_forget (cb_peers_t *self, const char *endpoint);
//  fn runs when a connected peer is lost (closed, or dropped by the ZMTP
//  heartbeat: dead, hung or cut off); not on a zsock_disconnect.
typedef void (cb_peer_lost_fn) (const char *endpoint, void *arg);
void cb_peers_on_lost (cb_peers_t *self, cb_peer_lost_fn *fn, void *arg);

#endif
