/*  rpcstats — the request metrics of a server or a client, by method and
 *  status, without a registry lookup per request.
 *
 *  Each (method, status) series is looked up in the registry once, the
 *  first time it is used, and kept in a table indexed by body case and
 *  status, so the hot path is an array read and an atomic add (the
 *  registry's mutex is not taken per request).
 */
#ifndef CB_RPCSTATS_H
#define CB_RPCSTATS_H

#include "common/envelope.h"
#include "common/metrics.h"

#define CB_RPCSTATS_METHODS  64 // body cases (field numbers) below this are tabled
#define CB_RPCSTATS_STATUSES 16

typedef struct {
    const char *requests_name;
    const char *requests_help;
    const char *duration_name;
    const char *duration_help;
    char target[64]; // client side: the service called ("" on the server side)
    cb_metric_t *requests[CB_RPCSTATS_METHODS][CB_RPCSTATS_STATUSES];
    cb_metric_t *duration[CB_RPCSTATS_METHODS];
} cb_rpcstats_t;

//  The server's stats: cordbank_rpc_server_{requests_total,duration_seconds}.
void cb_rpcstats_init_server (cb_rpcstats_t *self);
//  A client's: cordbank_rpc_client_*, labelled with the target service.
void cb_rpcstats_init_client (cb_rpcstats_t *self, const char *target);

//  Counts one answered request and its duration since started_us (cb_mono_us).
void cb_rpcstats_observe (cb_rpcstats_t *self, Cordbank__Envelope__BodyCase method,
                          Cordbank__Status status, int64_t started_us);

#endif
