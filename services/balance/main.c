/*  cordbank-balance — the ledger: the only writer of money.
 *
 *  Wires the pieces: the ROUTER that serves balance, transfer, history and
 *  leaderboard requests (handlers.c), the PUB socket for BalanceChanged
 *  events, and the ledger (ledger.c) with its pool of PostgreSQL
 *  connections, which reconnect by themselves; the instance is ready only
 *  while at least one connection is up and the schema migrated. A thread
 *  checks the ledger's invariants every --invariant-check-s for metrics
 *  (invariants.c); with --check-invariants the process instead checks them
 *  once and exits.
 */
#include <stdio.h>

#include "common/log.h"
#include "common/config.h"
#include "common/service.h"
#include "services/balance/handlers.h"
#include "services/balance/invariants.h"
#include "services/balance/ledger.h"

//  Most a single check may take: it reads every account and every leg.
#define CHECK_TIMEOUT_MS 600000

typedef struct {
    cb_service_config_t base;
    char *bind;
    char *events_bind;
    char *pg_url;
    int64_t pg_statement_timeout_ms;
    int64_t pg_pool;
    int64_t batch_window_us;
    int64_t batch_max;
    int64_t daily_amount;
    int64_t daily_cooldown_s;
    int64_t work_min;
    int64_t work_max;
    int64_t work_cooldown_s;
    int64_t invariant_check_s;
    bool check_invariants;
} config_t;

static bool
s_is_ready (void *arg)
{
    return ledger_ready ((const ledger_t *) arg);
}

//  Cross-option checks cb_config cannot express. 0, or 2 (printed).
static int
s_validate (const config_t *cfg)
{
    if (cfg->work_min > cfg->work_max) {
        fprintf (stderr,
                 "cordbank-balance: --work-min (%lld) must not exceed --work-max (%lld) "
                 "(CORDBANK_WORK_MIN, CORDBANK_WORK_MAX)\n",
                 (long long) cfg->work_min, (long long) cfg->work_max);
        return 2;
    }
    if (!ledger_url_valid (cfg->pg_url)) {
        fprintf (stderr, "cordbank-balance: invalid --pg-url (CORDBANK_PG_URL): not a "
                         "PostgreSQL connection URI or string\n");
        return 2;
    }
    return 0;
}

static int
s_serve (cb_service_t *svc, const config_t *cfg)
{
    ledger_config_t ledger_config = {.pg_url = cfg->pg_url,
                                     .pool_size = (int) cfg->pg_pool,
                                     .statement_timeout_ms = cfg->pg_statement_timeout_ms,
                                     .batch_window_us = cfg->batch_window_us,
                                     .batch_max = (int) cfg->batch_max};
    handlers_rewards_t rewards = {.daily_amount = cfg->daily_amount,
                                  .daily_cooldown_ms = cfg->daily_cooldown_s * 1000,
                                  .work_min = cfg->work_min,
                                  .work_max = cfg->work_max,
                                  .work_cooldown_ms = cfg->work_cooldown_s * 1000};
    if (cb_service_serve (svc, cfg->bind) != 0)
        return 1;
    zloop_t *loop = cb_service_loop (svc);
    ledger_t *ledger = ledger_new (loop, &ledger_config);
    cb_publisher_t *events =
        cb_publisher_new (cfg->events_bind, true, cb_service_curve (svc), loop);
    handlers_t *handlers = ledger && events ? handlers_new (ledger, events, &rewards) : NULL;
    invariants_watch_t *watch = NULL;
    if (handlers && cfg->invariant_check_s > 0)
        watch = invariants_watch_new (cfg->pg_url, cfg->invariant_check_s);
    int rc = 1;
    if (handlers && (watch || cfg->invariant_check_s == 0)) {
        handlers_register (handlers, svc);
        cb_service_set_ready_check (svc, s_is_ready, ledger);
        rc = cb_service_run (svc) == 0 ? 0 : 1;
    }
    //  The ledger first: it answers what is still waiting through the
    //  handlers, which publish through events.
    invariants_watch_destroy (&watch);
    ledger_destroy (&ledger);
    handlers_destroy (&handlers);
    cb_publisher_destroy (&events);
    return rc;
}

int
main (int argc, char **argv)
{
    config_t cfg = {0};
    cb_option_t opts[] = {
        CB_SERVICE_OPTIONS (cfg.base, "7301"),
        {"bind", CB_OPT_STRING, "tcp://127.0.0.1:7300", "ROUTER endpoint", &cfg.bind, 0, 0, false,
         NULL},
        {"events-bind", CB_OPT_STRING, "tcp://127.0.0.1:7302",
         "PUB endpoint for BalanceChanged events", &cfg.events_bind, 0, 0, false, NULL},
        {"pg-url", CB_OPT_STRING, "postgresql://127.0.0.1:5432/cordbank",
         "PostgreSQL connection URI (may carry a password)", &cfg.pg_url, 0, 0, true, NULL},
        {"pg-timeout-ms", CB_OPT_INT, "2000",
         "PostgreSQL statement_timeout in ms (the client waits 1 s more)",
         &cfg.pg_statement_timeout_ms, 100, 600000, false, NULL},
        {"pg-pool", CB_OPT_INT, "2",
         "PostgreSQL connections of this instance (about the database's cores: more only add lock "
         "waits between batches)",
         &cfg.pg_pool, 1, 64, false, NULL},
        {"batch-window-us", CB_OPT_INT, "200",
         "how long a transfer waits for others to share its commit (group commit), in µs",
         &cfg.batch_window_us, 0, 100000, false, NULL},
        {"batch-max", CB_OPT_INT, "256", "transfers applied in one statement at most",
         &cfg.batch_max, 1, 4096, false, NULL},
        {"daily-amount", CB_OPT_INT, "100", "coins paid by /daily", &cfg.daily_amount, 1,
         1000000000000, false, NULL},
        {"daily-cooldown-s", CB_OPT_INT, "86400", "seconds between two /daily claims",
         &cfg.daily_cooldown_s, 0, 31536000, false, NULL},
        {"work-min", CB_OPT_INT, "10", "least coins paid by /work", &cfg.work_min, 1, 1000000000000,
         false, NULL},
        {"work-max", CB_OPT_INT, "50", "most coins paid by /work", &cfg.work_max, 1, 1000000000000,
         false, NULL},
        {"work-cooldown-s", CB_OPT_INT, "3600", "seconds between two /work claims",
         &cfg.work_cooldown_s, 0, 31536000, false, NULL},
        {"invariant-check-s", CB_OPT_INT, "60",
         "seconds between two checks of the ledger invariants by this instance, for metrics and "
         "alerts (0 = never)",
         &cfg.invariant_check_s, 0, 86400, false, NULL},
        {"check-invariants", CB_OPT_BOOL, "false",
         "check the ledger invariants, print offenders, exit 0 clean / 1 not / 2 unreachable",
         &cfg.check_invariants, 0, 0, false, NULL},
    };
    size_t n = sizeof opts / sizeof opts[0];
    int rc = cb_service_config_main ("cordbank-balance",
                                     "the ledger: balances and transfers in PostgreSQL", opts, n,
                                     argc, argv, &cfg.base, true);
    if (rc >= 0)
        return rc;
    rc = s_validate (&cfg);
    if (rc == 0 && cfg.check_invariants) {
        cb_log_set_level ((cb_log_level_t) cb_log_level_parse (cfg.base.log_level));
        rc = invariants_main (cfg.pg_url, CHECK_TIMEOUT_MS);
    } else if (rc == 0) {
        cb_service_t *svc = cb_service_new ("balance", &cfg.base);
        rc = svc ? s_serve (svc, &cfg) : 1;
        cb_service_destroy (&svc);
    }
    cb_config_free (opts, n);
    return rc;
}
