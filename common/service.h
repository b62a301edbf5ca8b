/*  service — the skeleton every cordbank service runs on.
 *
 *  A service's main() parses its config, creates the service object,
 *  registers one handler per request type it serves and one client per
 *  service it calls, then runs. The service object owns the reactor
 *  (zloop), the ROUTER server, the clients, the admin HTTP listener
 *  (/livez, /readyz, /metrics), the metrics snapshot publisher, the log
 *  identity and signal handling:
 *
 *    SIGTERM / SIGINT: readiness turns 503 at once, new requests are
 *    refused with UNAVAILABLE (clients retry elsewhere), in-flight work
 *    finishes within the grace period, then cb_service_run returns 0.
 *    A second signal stops at once.
 */
#ifndef CB_SERVICE_H
#define CB_SERVICE_H

#include <czmq.h>
#include <stdbool.h>

#include "client.h"
#include "config.h"
#include "curve.h"
#include "http.h"
#include "pubsub.h"
#include "server.h"

typedef struct {
    char *instance;   // "" = <service>-<hostname>-<pid>
    char *admin_bind; // address of the admin HTTP listener
    int64_t admin_port;
    char *metrics_endpoints; // metrics instances to PUB snapshots to ("" = none)
    int64_t snapshot_ms;     // snapshot period
    char *log_level;
    int64_t grace_ms;     // drain grace period after SIGTERM
    int64_t max_inflight; // requests in progress before shedding
    cb_curve_config_t curve;
} cb_service_config_t;

//  The options every service has, for its option table:
//      cb_option_t opts[] = { CB_SERVICE_OPTIONS (cfg.base, "7311"), { ... own ... } };
// clang-format off
#define CB_SERVICE_OPTIONS(cfg, admin_port_default)                                                \
    {"instance", CB_OPT_STRING, "", "instance name in logs and metrics (empty: service-host-pid)", \
     &(cfg).instance, 0, 0, false, NULL},                                                          \
    {"admin-bind", CB_OPT_STRING, "127.0.0.1", "address of the admin HTTP listener",               \
     &(cfg).admin_bind, 0, 0, false, NULL},                                                        \
    {"admin-port", CB_OPT_INT, admin_port_default,                                                 \
     "admin HTTP port: /livez /readyz /metrics (0 = any free port)", &(cfg).admin_port, 0, 65535, \
     false, NULL},                                                                                 \
    {"metrics-endpoints", CB_OPT_ENDPOINTS, "tcp://127.0.0.1:7500",                                \
     "metrics service SUB endpoints to publish snapshots to (empty = none)",                       \
     &(cfg).metrics_endpoints, 0, 0, false, NULL},                                                 \
    {"snapshot-ms", CB_OPT_INT, "1000", "metrics snapshot period in ms", &(cfg).snapshot_ms, 100,  \
     60000, false, NULL},                                                                          \
    {"log-level", CB_OPT_STRING, "info", "debug, info, warn or error", &(cfg).log_level, 0, 0,     \
     false, "debug|info|warn|error"},                                                              \
    {"grace-ms", CB_OPT_INT, "20000", "drain grace period after SIGTERM, in ms", &(cfg).grace_ms,  \
     0, 600000, false, NULL},                                                                      \
    {"max-inflight", CB_OPT_INT, "4096", "requests in progress before new ones are shed",          \
     &(cfg).max_inflight, 1, 1000000, false, NULL},                                                \
    CB_CURVE_OPTIONS ((cfg).curve)
// clang-format on

//  What a service's main() does with its option table: cb_config_main,
//  then, with --curve, loads the CURVE keys once to refuse a missing or bad
//  file up front. serves: the service binds sockets (needs the server's
//  secret key and the allowed keys; only the gateway does not). Returns -1
//  to go on, or the exit code (0 after --help, 2 after an error, printed as
//  "program: reason"; the options are freed then).
int cb_service_config_main (const char *program, const char *summary, const cb_option_t *opts,
                            size_t count, int argc, char **argv, const cb_service_config_t *config,
                            bool serves);

typedef struct cb_service cb_service_t;

//  Sets the log and envelope identity, blocks SIGTERM/SIGINT for every
//  thread (they are read from a signalfd on the reactor), loads the CURVE
//  keys (--curve), starts the admin listener's configuration. NULL on
//  failure (logged).
cb_service_t *cb_service_new (const char *name, const cb_service_config_t *config);
void cb_service_destroy (cb_service_t **self_p);

zloop_t *cb_service_loop (cb_service_t *self);
const char *cb_service_name (const cb_service_t *self);
const char *cb_service_instance (const cb_service_t *self);

//  The CURVE keys (NULL when --curve is off), for the sockets a service
//  makes itself (balance's event PUB, cache's SUB, metrics' SUB).
cb_curve_t *cb_service_curve (cb_service_t *self);

//  Binds the ROUTER on endpoint; handlers are registered on it.
int cb_service_serve (cb_service_t *self, const char *endpoint);
void cb_service_handle (cb_service_t *self, Cordbank__Envelope__BodyCase body, cb_handler_fn *fn,
                        void *arg);

//  See cb_server_on_burst_end.
void cb_service_on_burst_end (cb_service_t *self, cb_burst_fn *fn, void *arg);

//  A client of another service, owned by the service. NULL on a bad spec.
cb_client_t *cb_service_client (cb_service_t *self, const char *target, const char *spec);

//  The admin listener, to add routes before cb_service_run.
cb_http_t *cb_service_admin (cb_service_t *self);
//  Another listener owned by the service (the gateway's public port).
cb_http_t *cb_service_http (cb_service_t *self, const char *name, const char *bind_address,
                            int port, size_t max_body);

//  Asked on the reactor every 250 ms: can the service do useful work now?
//  Readiness is also false while starting and draining.
typedef bool (cb_ready_fn) (void *arg);
void cb_service_set_ready_check (cb_service_t *self, cb_ready_fn *fn, void *arg);

//  Asked while draining: work the service still has in flight beyond the
//  server's calls and the clients' pending requests (0 = none).
typedef size_t (cb_busy_fn) (void *arg);
void cb_service_set_busy_check (cb_service_t *self, cb_busy_fn *fn, void *arg);

//  Runs the reactor until a signal and the drain that follows.
//  Returns 0 after a clean drain, -1 if the service could not start.
int cb_service_run (cb_service_t *self);

#endif
