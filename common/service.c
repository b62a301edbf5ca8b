/*  service — the reactor, probes, snapshots, signals and drain that every
 *  cordbank service runs on (see service.h).
 *
 *  Signals: SIGTERM and SIGINT are blocked in every thread before any
 *  thread starts, and read from a signalfd on the reactor, so the drain
 *  runs as ordinary reactor code with no async-signal-safety concerns.
 */
#include "common/service.h"

#include <signal.h>
#include <sodium.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"

#define TICK_MS        250
#define DRAIN_CHECK_MS 50
#define ADMIN_MAX_BODY 65536

struct cb_service {
    char *name;
    char *instance;
    cb_service_config_t config; // borrowed strings
    zloop_t *loop;
    cb_health_t health;
    cb_server_t *server;
    cb_curve_t *curve;   // NULL: --curve off
    zlistx_t *clients;   // cb_client_t *, owned
    zlistx_t *listeners; // cb_http_t *, owned; the first is the admin one
    cb_publisher_t *snapshots;
    int signal_fd;
    bool started;
    int64_t drain_deadline_ms; // monotonic
    cb_ready_fn *ready_fn;
    void *ready_arg;
    cb_busy_fn *busy_fn;
    void *busy_arg;
    cb_metric_t *ready_gauge;
};

static char *
default_instance (const char *name)
{
    char host[128] = "localhost";
    gethostname (host, sizeof host - 1);
    return zsys_sprintf ("%s-%s-%d", name, host, (int) getpid ());
}

static int
block_signals (void)
{
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGTERM);
    sigaddset (&set, SIGINT);
    if (pthread_sigmask (SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal (SIGPIPE, SIG_IGN);
    return signalfd (-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

//  The CURVE keys, when --curve is on (checked already by
//  cb_service_config_main: a failure here is a file changed since).
static int
load_curve (cb_service_t *self)
{
    cb_gauge_set (cb_metrics_gauge ("cordbank_curve_enabled",
                                    "1 when ZeroMQ connections are CURVE-encrypted (--curve).",
                                    NULL),
                  self->config.curve.enabled ? 1 : 0);
    if (!self->config.curve.enabled)
        return 0;
    char err[512];
    self->curve = cb_curve_new (&self->config.curve, false, err, sizeof err);
    if (!self->curve) {
        cb_log_error (NULL, "CURVE keys could not be loaded", "{s:s}", "error", err);
        return -1;
    }
    cb_log_info (NULL, "CURVE on: ZeroMQ connections are encrypted and authenticated", "{s:s}",
                 "public_key", cb_curve_public_key (self->curve));
    return 0;
}

int
cb_service_config_main (const char *program, const char *summary, const cb_option_t *opts,
                        size_t count, int argc, char **argv, const cb_service_config_t *config,
                        bool serves)
{
    int rc = cb_config_main (program, summary, opts, count, argc, argv);
    if (rc >= 0 || !config->curve.enabled)
        return rc;
    char err[512];
    cb_curve_t *curve = cb_curve_new (&config->curve, serves, err, sizeof err);
    if (curve) {
        cb_curve_destroy (&curve);
        return -1;
    }
    fprintf (stderr, "%s: %s\n", program, err);
    cb_config_free (opts, count);
    return 2;
}

cb_service_t *
cb_service_new (const char *name, const cb_service_config_t *config)
{
    //  Before czmq starts any thread: no czmq signal handler, signals blocked.
    zsys_handler_set (NULL);
    int fd = block_signals ();
    if (fd < 0 || sodium_init () < 0)
        return NULL;
    cb_service_t *self = calloc (1, sizeof *self);
    assert (self);
    self->name = strdup (name);
    self->instance =
        config->instance && *config->instance ? strdup (config->instance) : default_instance (name);
    self->config = *config;
    self->signal_fd = fd;
    cb_log_init (name, self->instance);
    //  The config lets only the four level names through.
    cb_log_set_level ((cb_log_level_t) cb_log_level_parse (config->log_level));
    cb_identity_set (name, self->instance);
    self->loop = zloop_new ();
    zloop_set_nonstop (self->loop, true);
    self->clients = zlistx_new ();
    self->listeners = zlistx_new ();
    atomic_store (&self->health.loop_tick_ms, cb_mono_ms ());
    cb_http_t *admin = cb_http_new ("admin", config->admin_bind, (int) config->admin_port,
                                    ADMIN_MAX_BODY, &self->health);
    if (!admin) {
        cb_service_destroy (&self);
        return NULL;
    }
    zlistx_add_end (self->listeners, admin);
    self->ready_gauge = cb_metrics_gauge ("cordbank_ready", "1 when the instance is ready.", NULL);
    if (load_curve (self) != 0)
        cb_service_destroy (&self);
    return self;
}

void
cb_service_destroy (cb_service_t **self_p)
{
    assert (self_p);
    cb_service_t *self = *self_p;
    if (!self)
        return;
    //  Clients first: their last callbacks may still answer through the server.
    for (cb_client_t *c = zlistx_first (self->clients); c; c = zlistx_next (self->clients))
        cb_client_destroy (&c);
    zlistx_destroy (&self->clients);
    cb_server_destroy (&self->server);
    cb_publisher_destroy (&self->snapshots);
    for (cb_http_t *h = zlistx_first (self->listeners); h; h = zlistx_next (self->listeners))
        cb_http_destroy (&h);
    zlistx_destroy (&self->listeners);
    zloop_destroy (&self->loop);
    //  After every socket: the ZAP handler answers their handshakes.
    cb_curve_destroy (&self->curve);
    close (self->signal_fd);
    free (self->name);
    free (self->instance);
    free (self);
    *self_p = NULL;
}

zloop_t *
cb_service_loop (cb_service_t *self)
{
    return self->loop;
}

const char *
cb_service_name (const cb_service_t *self)
{
    return self->name;
}

const char *
cb_service_instance (const cb_service_t *self)
{
    return self->instance;
}

cb_curve_t *
cb_service_curve (cb_service_t *self)
{
    return self->curve;
}

int
cb_service_serve (cb_service_t *self, const char *endpoint)
{
    assert (!self->server);
    self->server = cb_server_new (endpoint, self->curve, self->loop);
    if (!self->server)
        return -1;
    cb_server_set_max_inflight (self->server, (size_t) self->config.max_inflight);
    cb_server_set_starting (self->server, true); // until the first ready tick
    return 0;
}

void
cb_service_handle (cb_service_t *self, Cordbank__Envelope__BodyCase body, cb_handler_fn *fn,
                   void *arg)
{
    assert (self->server);
    cb_server_handle (self->server, body, fn, arg);
}

void
cb_service_on_burst_end (cb_service_t *self, cb_burst_fn *fn, void *arg)
{
    assert (self->server);
    cb_server_on_burst_end (self->server, fn, arg);
}

cb_client_t *
cb_service_client (cb_service_t *self, const char *target, const char *spec)
{
    cb_client_t *client = cb_client_new (target, spec, self->curve, self->loop);
    if (client)
        zlistx_add_end (self->clients, client);
    return client;
}

cb_http_t *
cb_service_admin (cb_service_t *self)
{
    return zlistx_head (self->listeners);
}

cb_http_t *
cb_service_http (cb_service_t *self, const char *name, const char *bind_address, int port,
                 size_t max_body)
{
    cb_http_t *http = cb_http_new (name, bind_address, port, max_body, NULL);
    if (http)
        zlistx_add_end (self->listeners, http);
    return http;
}

void
cb_service_set_ready_check (cb_service_t *self, cb_ready_fn *fn, void *arg)
{
    self->ready_fn = fn;
    self->ready_arg = arg;
}

void
cb_service_set_busy_check (cb_service_t *self, cb_busy_fn *fn, void *arg)
{
    self->busy_fn = fn;
    self->busy_arg = arg;
}

//  Work still in flight anywhere in this instance.
static size_t
work_in_flight (cb_service_t *self)
{
    size_t busy = self->server ? cb_server_inflight (self->server) : 0;
    for (cb_client_t *c = zlistx_first (self->clients); c; c = zlistx_next (self->clients))
        busy += cb_client_pending (c);
    for (cb_http_t *h = zlistx_first (self->listeners); h; h = zlistx_next (self->listeners))
        busy += cb_http_pending (h);
    if (self->busy_fn)
        busy += self->busy_fn (self->busy_arg);
    return busy;
}

static int
on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    cb_service_t *self = arg;
    atomic_store (&self->health.loop_tick_ms, cb_mono_ms ());
    bool ready = self->started && !atomic_load (&self->health.draining) &&
                 (!self->ready_fn || self->ready_fn (self->ready_arg));
    atomic_store (&self->health.ready, ready);
    cb_gauge_set (self->ready_gauge, ready ? 1 : 0);
    if (ready && self->server)
        cb_server_set_starting (self->server, false);
    return 0;
}

static int
on_drain_check (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    cb_service_t *self = arg;
    size_t busy = work_in_flight (self);
    if (busy == 0) {
        cb_log_info (NULL, "drained; stopping", NULL);
        return -1;
    }
    if (cb_mono_ms () >= self->drain_deadline_ms) {
        cb_log_warn (NULL, "grace period over; stopping with work in flight", "{s:I}", "inflight",
                     (json_int_t) busy);
        return -1;
    }
    return 0;
}

static int
on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) item;
    cb_service_t *self = arg;
    struct signalfd_siginfo info;
    if (read (self->signal_fd, &info, sizeof info) != (ssize_t) sizeof info)
        return 0;
    const char *name = info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
    if (atomic_load (&self->health.draining)) {
        cb_log_warn (NULL, "second signal; stopping now", "{s:s}", "signal", name);
        return -1;
    }
    cb_log_info (NULL, "draining", "{s:s, s:I}", "signal", name, "grace_ms",
                 (json_int_t) self->config.grace_ms);
    atomic_store (&self->health.draining, true);
    atomic_store (&self->health.ready, false);
    if (self->server)
        cb_server_set_draining (self->server, true);
    self->drain_deadline_ms = cb_mono_ms () + self->config.grace_ms;
    zloop_timer (loop, DRAIN_CHECK_MS, 0, on_drain_check, self);
    return 0;
}

static int
on_snapshot (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    cb_service_t *self = arg;
    Cordbank__MetricsSnapshot *snapshot = cb_metrics_snapshot ();
    if (!snapshot)
        return 0; // out of memory: skip this period, the next may do
    Cordbank__Envelope env = CORDBANK__ENVELOPE__INIT;
    env.body_case = CORDBANK__ENVELOPE__BODY_METRICS_SNAPSHOT;
    env.metrics_snapshot = snapshot;
    cb_publisher_send (self->snapshots, &env);
    cb_metrics_snapshot_free (&snapshot);
    return 0;
}

static int
start_listeners (cb_service_t *self)
{
    for (cb_http_t *h = zlistx_first (self->listeners); h; h = zlistx_next (self->listeners))
        if (cb_http_start (h, self->loop) != 0)
            return -1;
    return 0;
}

int
cb_service_run (cb_service_t *self)
{
    if (start_listeners (self) != 0)
        return -1;
    if (self->config.metrics_endpoints && *self->config.metrics_endpoints) {
        self->snapshots =
            cb_publisher_new (self->config.metrics_endpoints, false, self->curve, self->loop);
        if (!self->snapshots)
            return -1;
        zloop_timer (self->loop, (size_t) self->config.snapshot_ms, 0, on_snapshot, self);
    }
    zmq_pollitem_t item = {NULL, self->signal_fd, ZMQ_POLLIN, 0};
    zloop_poller (self->loop, &item, on_signal, self);
    zloop_timer (self->loop, TICK_MS, 0, on_tick, self);
    self->started = true;
    on_tick (self->loop, 0, self);
    cb_log_info (NULL, "started", "{s:i}", "admin_port", cb_http_port (cb_service_admin (self)));
    zloop_start (self->loop);
    atomic_store (&self->health.ready, false);
    cb_log_info (NULL, "stopped", NULL);
    return 0;
}
