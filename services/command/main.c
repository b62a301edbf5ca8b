/*  cordbank-command — stateless business logic between gateway and the
 *  data services.
 *
 *  Serves CommandRequest on a ROUTER: parses options, refuses what the
 *  request alone can refuse, reads balances from cache, asks balance for
 *  transfers, writes their results through to cache, and renders the
 *  Discord reply. It keeps no state between commands, so any number of
 *  instances run side by side behind the gateway's DEALER.
 *
 *  Ready when it can reach at least one cache and one balance instance.
 */
#include <stdint.h>

#include "common/config.h"
#include "common/service.h"
#include "services/command/command.h"

typedef struct {
    cb_service_config_t base;
    char *bind;
    char *cache_endpoints;
    char *balance_endpoints;
    int64_t max_pay;
} config_t;

static bool
dependencies_ready (void *arg)
{
    command_t *app = arg;
    return cb_client_peers (app->cache) >= 1 && cb_client_peers (app->balance) >= 1;
}

static int
serve (const config_t *cfg)
{
    cb_service_t *svc = cb_service_new ("command", &cfg->base);
    if (!svc)
        return 1;
    //  app outlives the service: destroying the clients calls back the
    //  commands still waiting on them, which answer through app.
    command_t app = {0};
    int rc = 1;
    cb_client_t *cache = cb_service_client (svc, "cache", cfg->cache_endpoints);
    cb_client_t *balance = cb_service_client (svc, "balance", cfg->balance_endpoints);
    if (cache && balance && cb_service_serve (svc, cfg->bind) == 0) {
        command_init (&app, cache, balance, cfg->max_pay);
        cb_service_handle (svc, CORDBANK__ENVELOPE__BODY_COMMAND_REQUEST, dispatch_command, &app);
        cb_service_set_ready_check (svc, dependencies_ready, &app);
        rc = cb_service_run (svc) == 0 ? 0 : 1;
    }
    cb_service_destroy (&svc);
    return rc;
}

int
main (int argc, char **argv)
{
    config_t cfg = {0};
    cb_option_t opts[] = {
        CB_SERVICE_OPTIONS (cfg.base, "7201"),
        {"bind", CB_OPT_STRING, "tcp://127.0.0.1:7200", "ROUTER endpoint the gateway calls",
         &cfg.bind, 0, 0, false, NULL},
        {"cache-endpoints", CB_OPT_ENDPOINTS, "tcp://127.0.0.1:7400",
         "cache instances (static list or dns://name:port)", &cfg.cache_endpoints, 0, 0, false,
         NULL},
        {"balance-endpoints", CB_OPT_ENDPOINTS, "tcp://127.0.0.1:7300",
         "balance instances (static list or dns://name:port)", &cfg.balance_endpoints, 0, 0, false,
         NULL},
        {"max-pay", CB_OPT_INT, "1000000000000", "largest amount one /pay may move", &cfg.max_pay,
         1, INT64_MAX, false, NULL},
    };
    size_t count = sizeof opts / sizeof opts[0];
    int rc = cb_service_config_main (
        "cordbank-command", "Discord command logic: options, refusals, ledger calls, replies", opts,
        count, argc, argv, &cfg.base, true);
    if (rc >= 0)
        return rc;
    rc = serve (&cfg);
    cb_config_free (opts, count);
    return rc;
}
