/*  rpcstats — per-method, per-status request metrics (see rpcstats.h). */
#include "common/rpcstats.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"

void
cb_rpcstats_init_server (cb_rpcstats_t *self)
{
    memset (self, 0, sizeof *self);
    self->requests_name = "cordbank_rpc_server_requests_total";
    self->requests_help = "Requests answered, by method and status.";
    self->duration_name = "cordbank_rpc_server_duration_seconds";
    self->duration_help = "Time from a request's arrival to its reply.";
}

void
cb_rpcstats_init_client (cb_rpcstats_t *self, const char *target)
{
    memset (self, 0, sizeof *self);
    self->requests_name = "cordbank_rpc_client_requests_total";
    self->requests_help = "Requests to other services, by outcome.";
    self->duration_name = "cordbank_rpc_client_duration_seconds";
    self->duration_help = "Time from a request to its answer, retries included.";
    snprintf (self->target, sizeof self->target, "%s", target);
}

//  Label text for method (and status, when not NULL), target first if any.
static void
labels (const cb_rpcstats_t *self, const char *method, const char *status, char *out, size_t outlen)
{
    if (*self->target)
        cb_metrics_labels (out, outlen, "target", self->target, "method", method,
                           status ? "status" : NULL, status, NULL);
    else
        cb_metrics_labels (out, outlen, "method", method, status ? "status" : NULL, status, NULL);
}

void
cb_rpcstats_observe (cb_rpcstats_t *self, Cordbank__Envelope__BodyCase method,
                     Cordbank__Status status, int64_t started_us)
{
    unsigned m = (unsigned) method < CB_RPCSTATS_METHODS ? (unsigned) method : 0;
    unsigned s = (unsigned) status < CB_RPCSTATS_STATUSES ? (unsigned) status
                                                          : CORDBANK__STATUS__STATUS_INTERNAL;
    const char *name = cb_body_name ((Cordbank__Envelope__BodyCase) m);
    char text[200];
    if (!self->requests[m][s]) {
        labels (self, name, cb_status_label ((Cordbank__Status) s), text, sizeof text);
        self->requests[m][s] = cb_metrics_counter (self->requests_name, self->requests_help, text);
    }
    if (!self->duration[m]) {
        labels (self, name, NULL, text, sizeof text);
        self->duration[m] = cb_metrics_histogram (self->duration_name, self->duration_help, text,
                                                  CB_LATENCY_BUCKETS, CB_LATENCY_BUCKETS_COUNT);
    }
    cb_counter_inc (self->requests[m][s]);
    cb_histogram_observe (self->duration[m], (double) (cb_mono_us () - started_us) / 1e6);
}
