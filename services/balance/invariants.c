/*  invariants — the ledger's invariants, checked once for an operator
 *  (`cordbank-balance --check-invariants`) or all the time by a running
 *  instance (the watch), see invariants.h.
 *
 *  The checks themselves are the view ledger_invariant_violations
 *  (migrations/003), so a test can also run them with psql. The command
 *  prints offenders on stdout, one line each, in a form a script can grep,
 *  and the verdict on stderr. The watch runs the same query in a thread of
 *  its own on a connection of its own (the query reads every account and
 *  every leg: it must never hold one of the pool's connections or the
 *  reactor), and turns the result into metrics and log lines.
 */
#include "services/balance/invariants.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "services/balance/migrations.h"
#include "services/balance/pg.h"
#include "services/balance/pool.h"

#define SQL_INVARIANTS                                                                             \
    "SELECT check_name, guild_id, user_id, actual, expected FROM ledger_invariant_violations "     \
    "ORDER BY check_name, guild_id, user_id"

static void
s_print (const PGresult *result, int row, void *arg)
{
    (void) arg;
    const char *check = PQgetvalue (result, row, 0);
    uint64_t guild = (uint64_t) strtoll (PQgetvalue (result, row, 1), NULL, 10);
    uint64_t user = (uint64_t) strtoll (PQgetvalue (result, row, 2), NULL, 10);
    const char *actual = PQgetvalue (result, row, 3), *expected = PQgetvalue (result, row, 4);
    if (strcmp (check, "guild_sum") == 0)
        printf ("guild %" PRIu64 ": balances sum to %s, expected %s\n", guild, actual, expected);
    else if (!PQgetisnull (result, row, 2))
        printf ("account %" PRIu64 "/%" PRIu64 ": balance %s, legs sum to %s\n", guild, user,
                actual, expected);
    else
        printf ("guild %" PRIu64 ": %s violated (%s, expected %s)\n", guild, check, actual,
                expected);
}

typedef void (row_fn) (const PGresult *result, int row, void *arg);

//  Runs the checks on *conn_p, connecting first when it is NULL; fn sees
//  each offending row. A connection that failed is closed and *conn_p set
//  to NULL; the caller closes the one left. The number of violations, or
//  -1 with err filled.
static int
s_check (PGconn **conn_p, const char *pg_url, int64_t timeout_ms, row_fn *fn, void *arg, char *err,
         size_t errlen)
{
    if (!*conn_p)
        *conn_p = pool_connect_once (pg_url, timeout_ms, err, errlen);
    if (!*conn_p)
        return -1;
    pg_query_t query = {.sql = SQL_INVARIANTS};
    PGresult *result = NULL;
    int rc = pg_exec (*conn_p, &query, timeout_ms + 1000, &result, err, errlen);
    int rows = rc == PG_OK ? PQntuples (result) : 0;
    for (int row = 0; row < rows; row++)
        fn (result, row, arg);
    if (rc == PG_SQL_ERROR && strcmp (pg_sqlstate (result), "42P01") == 0)
        snprintf (err, errlen,
                  "this database has no ledger schema (ledger_invariant_violations is missing)");
    PQclear (result);
    if (rc != PG_OK) {
        PQfinish (*conn_p);
        *conn_p = NULL;
    }
    return rc == PG_OK ? rows : -1;
}

//  The schema version a database is at: a restored backup must carry one
//  this binary knows (older ones are migrated on start). 0 when it is one,
//  else -1 with err filled.
static int
s_check_schema (PGconn *conn, int64_t timeout_ms, char *err, size_t errlen)
{
    pg_query_t query = {.sql = "SELECT coalesce(max(version), 0) FROM schema_migrations"};
    PGresult *result = NULL;
    int rc = pg_exec (conn, &query, timeout_ms + 1000, &result, err, errlen);
    int version = rc == PG_OK && PQntuples (result) == 1 ? atoi (PQgetvalue (result, 0, 0)) : -1;
    PQclear (result);
    int latest = balance_migrations[balance_migrations_count - 1].version;
    if (rc != PG_OK)
        return -1;
    if (version < 1 || version > latest) {
        snprintf (err, errlen, "schema version %d, this binary knows 1 to %d", version, latest);
        return -1;
    }
    fprintf (stderr, "cordbank-balance: schema version %d (this binary: %d)\n", version, latest);
    return 0;
}

int
invariants_main (const char *pg_url, int64_t timeout_ms)
{
    cb_log_init ("balance", "check-invariants");
    char err[256] = "";
    PGconn *conn = NULL;
    int found = s_check (&conn, pg_url, timeout_ms, s_print, NULL, err, sizeof err);
    if (found >= 0 && s_check_schema (conn, timeout_ms, err, sizeof err) != 0)
        found = -1;
    PQfinish (conn);
    fflush (stdout);
    if (found < 0)
        fprintf (stderr, "cordbank-balance: cannot check invariants: %s\n", err);
    else if (found > 0)
        fprintf (stderr, "cordbank-balance: %d invariant violation%s\n", found,
                 found == 1 ? "" : "s");
    else
        fprintf (stderr, "cordbank-balance: invariants hold: every guild sums to 0, every "
                         "account equals its legs\n");
    return found < 0 ? 2 : found > 0 ? 1 : 0;
}

//  --- The watch -----------------------------------------------------------

//  The checks by name, as the view's check_name says them.
enum { CHECK_GUILD_SUM, CHECK_ACCOUNT_LEGS, CHECK_COUNT };
static const char *const CHECK_NAMES[CHECK_COUNT] = {"guild_sum", "account_legs"};

typedef struct {
    char *pg_url;
    PGconn *conn; // kept between checks; NULL after a failure
    int64_t interval_ms;
    cb_metric_t *violations[CHECK_COUNT];
    cb_metric_t *checked_at, *duration, *failures;
    int64_t last_found; // -1 until the first check has completed
    bool failing;       // the last check could not run (logged once)
} watch_t;

struct invariants_watch {
    zactor_t *actor;
};

static void
s_count (const PGresult *result, int row, void *arg)
{
    int64_t *counts = arg;
    const char *check = PQgetvalue (result, row, 0);
    for (int c = 0; c < CHECK_COUNT; c++)
        if (strcmp (check, CHECK_NAMES[c]) == 0)
            counts[c]++;
}

//  One check: metrics always, a log line only when the verdict changes.
static void
s_watch_check (watch_t *w)
{
    int64_t counts[CHECK_COUNT] = {0};
    char err[256] = "";
    int64_t started = cb_mono_us ();
    int found = s_check (&w->conn, w->pg_url, INVARIANTS_WATCH_TIMEOUT_MS, s_count, counts, err,
                         sizeof err);
    cb_gauge_set (w->duration, (double) (cb_mono_us () - started) / 1e6);
    if (found < 0) {
        cb_counter_inc (w->failures);
        if (!w->failing)
            cb_log_warn (NULL, "ledger invariants could not be checked", "{s:s}", "error", err);
        w->failing = true;
        return;
    }
    w->failing = false;
    for (int c = 0; c < CHECK_COUNT; c++)
        cb_gauge_set (w->violations[c], (double) counts[c]);
    cb_gauge_set (w->checked_at, (double) cb_now_ms () / 1000.0);
    if (found > 0 && found != w->last_found)
        cb_log_error (NULL, "ledger invariants violated", "{s:I, s:I, s:s}", "guild_sum",
                      (json_int_t) counts[CHECK_GUILD_SUM], "account_legs",
                      (json_int_t) counts[CHECK_ACCOUNT_LEGS], "hint",
                      "run cordbank-balance --check-invariants for the offenders");
    else if (found == 0 && w->last_found > 0)
        cb_log_warn (NULL, "ledger invariants hold again", NULL);
    w->last_found = found;
}

//  The thread: a check every interval, the first at a random point of the
//  first interval (instances started together do not check together).
static void
s_watch_actor (zsock_t *pipe, void *args)
{
    watch_t *w = args;
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, NULL);
    int64_t next = cb_mono_ms () + (int64_t) randombytes_uniform ((uint32_t) w->interval_ms);
    while (poller) {
        int64_t wait = next - cb_mono_ms ();
        if (zpoller_wait (poller, (int) (wait > 0 ? wait : 0)) == pipe) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        } else if (zpoller_terminated (poller))
            break;
        else if (cb_mono_ms () >= next) {
            s_watch_check (w);
            next = cb_mono_ms () + w->interval_ms;
        }
    }
    zpoller_destroy (&poller);
    if (w->conn)
        PQfinish (w->conn);
    free (w->pg_url);
    free (w);
}

invariants_watch_t *
invariants_watch_new (const char *pg_url, int64_t interval_s)
{
    assert (pg_url && interval_s > 0);
    watch_t *w = calloc (1, sizeof *w);
    assert (w);
    w->pg_url = strdup (pg_url);
    assert (w->pg_url);
    w->interval_ms = interval_s * 1000;
    w->last_found = -1;
    char labels[64];
    for (int c = 0; c < CHECK_COUNT; c++) {
        cb_metrics_labels (labels, sizeof labels, "check", CHECK_NAMES[c], NULL);
        w->violations[c] = cb_metrics_gauge (
            "cordbank_ledger_invariant_violations",
            "Offenders found by this instance's last ledger invariant check (0: the ledger holds).",
            labels);
    }
    w->checked_at =
        cb_metrics_gauge ("cordbank_ledger_invariant_checked_timestamp_seconds",
                          "Unix time of the last completed invariant check (0: none yet).", "");
    w->duration = cb_metrics_gauge ("cordbank_ledger_invariant_check_duration_seconds",
                                    "How long the last invariant check took.", "");
    w->failures = cb_metrics_counter (
        "cordbank_ledger_invariant_check_failures_total",
        "Invariant checks that could not run (database unreachable, timeout).", "");
    invariants_watch_t *self = calloc (1, sizeof *self);
    assert (self);
    self->actor = zactor_new (s_watch_actor, w);
    if (!self->actor) {
        free (w->pg_url);
        free (w);
        free (self);
        return NULL;
    }
    return self;
}

void
invariants_watch_destroy (invariants_watch_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zactor_destroy (&(*self_p)->actor);
        free (*self_p);
        *self_p = NULL;
    }
}
