/*  discovery — which endpoints a socket should be connected to.
 *
 *  A spec is either a static list, "tcp://127.0.0.1:7301,tcp://127.0.0.1:7302",
 *  or a DNS name, "dns://balance-headless:7300" (a Kubernetes headless
 *  Service): every address the name resolves to becomes tcp://addr:port,
 *  re-resolved by cb_discovery_sync. The socket is connected to new
 *  addresses and disconnected from gone ones, so pods that leave DNS (not
 *  ready, deleted) stop receiving work.
 */
#ifndef CB_DISCOVERY_H
#define CB_DISCOVERY_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/socket.h"

typedef struct cb_discovery cb_discovery_t;

//  0 when spec is well formed; otherwise -1 and a reason in err.
int cb_endpoints_validate (const char *spec, char *err, size_t errlen);

//  NULL when the spec is invalid. An empty spec is valid and yields nothing.
cb_discovery_t *cb_discovery_new (const char *spec);
void cb_discovery_destroy (cb_discovery_t **self_p);
bool cb_discovery_is_dns (const cb_discovery_t *self);

//  Resolves the spec and connects / disconnects `sock` to match. A
//  disconnected endpoint is also forgotten by `peers` (may be NULL): libzmq
//  reports no event for a disconnect we asked for.
//  Returns how many endpoints are connected now, or -1 if DNS failed (the
//  previous set is kept).
int cb_discovery_sync (cb_discovery_t *self, zsock_t *sock, cb_peers_t *peers);
size_t cb_discovery_size (const cb_discovery_t *self);

#endif
