/*  cordbank-gateway — the only service that speaks to Discord.
 *
 *  Serves Discord's HTTP interactions endpoint (POST /interactions) on its
 *  own listener, checks each request's Ed25519 signature, and turns slash
 *  commands into CommandRequests for the command service (interactions.c).
 *  Ready when at least one command instance is connected.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/service.h"
#include "interactions.h"
#include "signature.h"

typedef struct {
    cb_service_config_t base;
    char *http_bind;
    int64_t http_port;
    char *command_endpoints;
    char *public_key;
    int64_t reply_budget_ms;
} config_t;

static const char SUMMARY[] =
    "Discord's HTTP interactions endpoint.\n\n"
    "POST /interactions on --http-bind:--http-port checks the Ed25519 signature\n"
    "(X-Signature-Ed25519 over X-Signature-Timestamp + body) against --public-key,\n"
    "answers PINGs, and sends each slash command to the command service\n"
    "(--command-endpoints), answering Discord within --reply-budget-ms: with\n"
    "command's reply, or an ephemeral \"having trouble\" message when command is\n"
    "down or late. /livez, /readyz (ready when a command instance is connected)\n"
    "and /metrics are on the admin port. Without --public-key the local\n"
    "development key is used (a warning is logged): never in production.";

static bool
command_reachable (void *arg)
{
    return cb_client_peers (arg) >= 1;
}

//  Checked before anything starts: exit 2 with one line, like other options.
static int
load_public_key (const char *hex, uint8_t key[GW_PUBLIC_KEY_BYTES])
{
    char why[128], env[64];
    if (sodium_init () >= 0 && gw_public_key_parse (hex, key, why, sizeof why) == 0)
        return 0;
    cb_config_env_name ("public-key", env, sizeof env);
    fprintf (stderr, "cordbank-gateway: invalid %s / --public-key: %s\n", env, why);
    return -1;
}

//  Everything after the configuration; returns the exit code.
static int
serve (const config_t *cfg, const uint8_t key[GW_PUBLIC_KEY_BYTES])
{
    cb_service_t *svc = cb_service_new ("gateway", &cfg->base);
    if (!svc)
        return 1;
    if (strcmp (cfg->public_key, GW_DEV_PUBLIC_KEY) == 0)
        cb_log_warn (NULL, "using the local development key", "{s:s}", "hint",
                     "set CORDBANK_PUBLIC_KEY to the application's public key");
    cb_client_t *command = cb_service_client (svc, "command", cfg->command_endpoints);
    cb_http_t *http =
        cb_service_http (svc, "interactions", cfg->http_bind, (int) cfg->http_port, GW_MAX_BODY);
    gw_interactions_t *interactions =
        command && http ? gw_interactions_new (command, key, cfg->reply_budget_ms) : NULL;
    int rc = 1;
    if (interactions) {
        cb_http_route (http, "POST", "/interactions", gw_interactions_handle, interactions);
        cb_service_set_ready_check (svc, command_reachable, command);
        rc = cb_service_run (svc) == 0 ? 0 : 1;
    }
    //  The service first: destroying its client answers any interaction
    //  still waiting on command, through the listener, with our state.
    cb_service_destroy (&svc);
    gw_interactions_destroy (&interactions);
    return rc;
}

int
main (int argc, char **argv)
{
    config_t cfg = {0};
    cb_option_t opts[] = {
        CB_SERVICE_OPTIONS (cfg.base, "7101"),
        {"http-bind", CB_OPT_STRING, "127.0.0.1",
         "address of the interactions listener (0.0.0.0 for every IPv4 interface)", &cfg.http_bind,
         0, 0, false, NULL},
        {"http-port", CB_OPT_INT, "7100", "port of the interactions listener (0 = any free port)",
         &cfg.http_port, 0, 65535, false, NULL},
        {"command-endpoints", CB_OPT_ENDPOINTS, "tcp://127.0.0.1:7200",
         "command service ROUTERs: tcp://h:p,... or dns://name:port", &cfg.command_endpoints, 0, 0,
         false, NULL},
        {"public-key", CB_OPT_STRING, GW_DEV_PUBLIC_KEY,
         "the Discord application's Ed25519 public key, 64 hex characters", &cfg.public_key, 0, 0,
         false, NULL},
        {"reply-budget-ms", CB_OPT_INT, "2500",
         "time allowed to command before the trouble message (Discord waits 3 s)",
         &cfg.reply_budget_ms, 100, 2900, false, NULL},
    };
    size_t n = sizeof opts / sizeof opts[0];
    int rc = cb_config_main ("cordbank-gateway", SUMMARY, opts, n, argc, argv);
    if (rc >= 0)
        return rc;
    uint8_t key[GW_PUBLIC_KEY_BYTES];
    rc = load_public_key (cfg.public_key, key) == 0 ? serve (&cfg, key) : 2;
    cb_config_free (opts, n);
    return rc;
}
