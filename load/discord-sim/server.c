/*  server — the --serve mode's lifetime: the lws context and its one vhost
 *  on 127.0.0.1, the callback that sends each connection to HTTP or the
 *  Gateway, the 50 ms tick, signals, --duration and --fault ... after=S.
 *
 *  Everything runs on this thread inside lws_service. Signals only set a
 *  flag; the tick (at most 50 ms later) sees it and leaves the loop.
 */
#include "load/discord-sim/server_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_US (50 * 1000)

//  The one global: a signal handler has no other way to reach the loop.
static volatile sig_atomic_t stop_requested;

static void
on_signal (int signal)
{
    (void) signal;
    stop_requested = 1;
}

static int
on_lws (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    (void) user;
    struct lws_context *context = lws_get_context (wsi);
    srv_t *srv = context ? lws_context_user (context) : NULL;
    if (!srv)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    case LWS_CALLBACK_CLOSED:
        return srv_gateway_callback (srv->gateway, wsi, reason, in, len);
    case LWS_CALLBACK_HTTP:
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    case LWS_CALLBACK_HTTP_WRITEABLE:
    case LWS_CALLBACK_TIMER:
    case LWS_CALLBACK_WSI_DESTROY:
        return srv_http_callback (srv, wsi, reason, in, len);
    default:
        return 0;
    }
}

static const struct lws_protocols PROTOCOLS[] = {{"discord", on_lws, 0, 4096, 0, NULL, 0},
                                                 {NULL, NULL, 0, 0, 0, NULL, 0}};

//  --fault SPECs with after > 0 wait for their time here.
static void
run_pending_faults (srv_t *srv, int64_t now_ms)
{
    for (size_t i = 0; i < srv->pending_count; i++)
        if (!srv->pending_done[i] &&
            now_ms - srv->start_ms >= (int64_t) (srv->pending_faults[i].after_s * 1000.0)) {
            srv->pending_done[i] = true;
            srv_apply_fault (srv, &srv->pending_faults[i]);
        }
}

static void
on_tick (lws_sorted_usec_list_t *sul)
{
    srv_t *srv = lws_container_of (sul, srv_t, tick);
    int64_t now = cb_mono_ms ();
    run_pending_faults (srv, now);
    srv_gateway_tick (srv->gateway, now);
    srv_interactions_tick (srv->interactions, now);
    if (stop_requested ||
        (srv->cfg->duration_s > 0 && now - srv->start_ms >= srv->cfg->duration_s * 1000)) {
        srv->stop = true;
        //  lws runs due timers before it polls: wake that poll, or it waits forever.
        lws_cancel_service (srv->context);
    } else
        lws_sul_schedule (srv->context, 0, &srv->tick, on_tick, TICK_US);
}

static int
parse_faults (srv_t *srv)
{
    const sim_server_config_t *cfg = srv->cfg;
    srv->pending_faults = calloc (cfg->fault_count + 1, sizeof *srv->pending_faults);
    srv->pending_done = calloc (cfg->fault_count + 1, sizeof *srv->pending_done);
    assert (srv->pending_faults && srv->pending_done);
    for (size_t i = 0; i < cfg->fault_count; i++) {
        char err[160];
        if (srv_fault_from_spec (cfg->faults[i], &srv->pending_faults[i], err, sizeof err) != 0) {
            fprintf (stderr, "cordbank-discord-sim: invalid --fault \"%s\": %s\n", cfg->faults[i],
                     err);
            return -1;
        }
    }
    srv->pending_count = cfg->fault_count;
    return 0;
}

//  The context and its vhost on 127.0.0.1; srv->port is the bound port.
static int
open_context (srv_t *srv)
{
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.fd_limit_per_thread = 4096;
    info.server_string = "cordbank-discord-sim";
    info.user = srv;
    srv->context = lws_create_context (&info);
    if (!srv->context)
        return -1;
    info.port = (int) srv->cfg->listen_port;
    info.iface = "127.0.0.1";
    info.protocols = PROTOCOLS;
    info.vhost_name = "discord";
    struct lws_vhost *vhost = lws_create_vhost (srv->context, &info);
    srv->port = vhost ? lws_get_vhost_listen_port (vhost) : -1;
    if (srv->port <= 0)
        return -1;
    snprintf (srv->ws_url, sizeof srv->ws_url, "ws://127.0.0.1:%d", srv->port);
    snprintf (srv->resume_url, sizeof srv->resume_url, "ws://127.0.0.1:%d/resume", srv->port);
    return 0;
}

static int
write_port_file (const srv_t *srv)
{
    if (!srv->cfg->port_file || !*srv->cfg->port_file)
        return 0;
    char tmp[4096];
    snprintf (tmp, sizeof tmp, "%s.tmp", srv->cfg->port_file);
    FILE *f = fopen (tmp, "w");
    if (!f || fprintf (f, "%d\n", srv->port) < 0 || fclose (f) != 0 ||
        rename (tmp, srv->cfg->port_file) != 0) {
        fprintf (stderr, "cordbank-discord-sim: cannot write --port-file %s\n",
                 srv->cfg->port_file);
        return -1;
    }
    return 0;
}

static void
srv_free (srv_t *srv)
{
    lws_sul_cancel (&srv->tick);
    if (srv->context)
        lws_context_destroy (srv->context); // closes every connection first
    srv_gateway_destroy (&srv->gateway);
    srv_interactions_destroy (&srv->interactions);
    srv_commands_destroy (&srv->commands);
    srv_ratelimit_destroy (&srv->ratelimit);
    json_decref (srv->rest.by_route);
    free (srv->pending_faults);
    free (srv->pending_done);
}

int
sim_server_run (const sim_server_config_t *cfg)
{
    srv_t srv = {.cfg = cfg};
    srv.start_ms = cb_mono_ms ();
    sim_snowflake_init (&srv.ids);
    srv.ratelimit = srv_ratelimit_new (cfg->global_limit, cfg->invalid_limit);
    srv.commands = srv_commands_new (cfg->application_id);
    srv.gateway = srv_gateway_new (&srv);
    srv.interactions = srv_interactions_new (&srv);
    srv.rest.by_route = json_object ();
    lws_set_log_level (LLL_ERR, NULL);
    int rc = 0;
    if (parse_faults (&srv) != 0)
        rc = 2;
    else if (open_context (&srv) != 0) {
        fprintf (stderr, "cordbank-discord-sim: cannot listen on 127.0.0.1:%lld\n",
                 (long long) cfg->listen_port);
        rc = 2;
    } else if (write_port_file (&srv) != 0)
        rc = 2;
    if (rc == 0) {
        struct sigaction action = {.sa_handler = on_signal};
        sigemptyset (&action.sa_mask);
        sigaction (SIGINT, &action, NULL);
        sigaction (SIGTERM, &action, NULL);
        cb_log_info (NULL, "serving", "{s:i, s:s, s:I}", "port", srv.port, "gateway", srv.ws_url,
                     "shards", (json_int_t) cfg->shards);
        lws_sul_schedule (srv.context, 0, &srv.tick, on_tick, TICK_US);
        while (!srv.stop && lws_service (srv.context, 0) >= 0)
            ;
    }
    srv_free (&srv);
    return rc;
}
