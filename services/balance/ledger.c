/*  ledger — the balance service's only door to PostgreSQL (see ledger.h).
 *
 *  Snowflakes are uint64 and the columns bigint: ids cross over bit for bit
 *  (two's complement), so every id, even above 2^63, maps to one row and
 *  back. A failed connection is dropped at once (ledger_ready turns false,
 *  readiness follows, the gauge cordbank_balance_db_up reads 0) and every
 *  request is answered UNAVAILABLE until the timer reconnects.
 */
#include "services/balance/ledger.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "services/balance/migrate.h"
#include "services/balance/pg.h"

//  Migrations may rewrite tables, and wait for another instance's lock.
#define LEDGER_MIGRATE_TIMEOUT_MS 60000
//  What the client waits beyond statement_timeout before giving up.
#define LEDGER_CLIENT_MARGIN_MS 1000

#define SQL_GET                                                                                    \
    "SELECT balance, version FROM accounts WHERE guild_id = $1::bigint AND user_id = $2::bigint"
#define SQL_TRANSFER                                                                               \
    "SELECT status, message, transfer_id, amount, users, balances, versions, retry_at_ms, "        \
    "replayed FROM ledger_transfer ($1::text, $2::bigint, $3::smallint, $4::bigint, $5::bigint, "  \
    "$6::bigint, $7::bigint, $8::bigint, $9::bigint)"
#define SQL_INVARIANTS                                                                             \
    "SELECT check_name, guild_id, user_id, actual, expected FROM ledger_invariant_violations "     \
    "ORDER BY check_name, guild_id, user_id"

struct ledger {
    char *pg_url;
    int64_t statement_timeout_ms;
    bool migrate;
    PGconn *conn; // NULL unless connected, migrated and prepared
    char error[256];
    cb_log_limiter_t connect_log;
    cb_metric_t *db_up;
    cb_metric_t *duration_get;
    cb_metric_t *duration_transfer;
};

bool
ledger_url_valid (const char *url)
{
    char *errmsg = NULL;
    PQconninfoOption *options = PQconninfoParse (url, &errmsg);
    PQfreemem (errmsg);
    if (!options)
        return false;
    PQconninfoFree (options);
    return true;
}

static cb_metric_t *
s_duration (const char *op)
{
    char labels[64];
    cb_metrics_labels (labels, sizeof labels, "op", op, NULL);
    return cb_metrics_histogram ("cordbank_balance_db_duration_seconds",
                                 "PostgreSQL round trips of the balance service.", labels,
                                 CB_LATENCY_BUCKETS, CB_LATENCY_BUCKETS_COUNT);
}

ledger_t *
ledger_new (const ledger_config_t *config)
{
    assert (config && config->pg_url);
    ledger_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->pg_url = strdup (config->pg_url);
    if (!self->pg_url) {
        free (self);
        return NULL;
    }
    self->statement_timeout_ms = config->statement_timeout_ms;
    self->migrate = config->migrate;
    snprintf (self->error, sizeof self->error, "not connected to PostgreSQL yet");
    self->db_up = cb_metrics_gauge ("cordbank_balance_db_up",
                                    "1 when the PostgreSQL connection is ready.", NULL);
    self->duration_get = s_duration ("get");
    self->duration_transfer = s_duration ("transfer");
    cb_gauge_set (self->db_up, 0);
    return self;
}

void
ledger_destroy (ledger_t **self_p)
{
    assert (self_p);
    ledger_t *self = *self_p;
    if (!self)
        return;
    PQfinish (self->conn);
    free (self->pg_url);
    free (self);
    *self_p = NULL;
}

//  Drops the connection; self->error says why, and keeps saying it to
//  every request until the timer reconnects.
static void
s_disconnect (ledger_t *self)
{
    if (!self->conn)
        return;
    PQfinish (self->conn);
    self->conn = NULL;
    cb_gauge_set (self->db_up, 0);
    cb_log_warn (NULL, "PostgreSQL connection lost", "{s:s}", "error", self->error);
    char why[sizeof self->error];
    snprintf (why, sizeof why, "%s", self->error);
    snprintf (self->error, sizeof self->error, "PostgreSQL connection lost: %.200s", why);
}

//  Server notices (NOTICE, WARNING) become log lines instead of raw text
//  on stderr.
static void
s_on_notice (void *arg, const char *message)
{
    (void) arg;
    char line[256];
    snprintf (line, sizeof line, "%s", message);
    line[strcspn (line, "\n")] = '\0';
    cb_log_debug (NULL, "PostgreSQL notice", "{s:s}", "notice", line);
}

static PGconn *
s_open (const ledger_t *self)
{
    //  Ours first, the URL after it: what the operator wrote wins.
    const char *keys[] = {"connect_timeout",     "keepalives",       "keepalives_idle",
                          "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                          "application_name",    "dbname",           NULL};
    const char *values[] = {"2",          "1", "10", "2", "3", "5000", "cordbank-balance",
                            self->pg_url, NULL};
    return PQconnectdbParams (keys, values, 1);
}

static int
s_set_timeout (ledger_t *self, PGconn *conn, int64_t timeout_ms)
{
    char sql[64];
    snprintf (sql, sizeof sql, "SET statement_timeout = %lld", (long long) timeout_ms);
    pg_query_t query = {.sql = sql};
    PGresult *result = NULL;
    int rc = pg_exec (conn, &query, self->statement_timeout_ms + LEDGER_CLIENT_MARGIN_MS, &result,
                      self->error, sizeof self->error);
    PQclear (result);
    return rc;
}

//  A new connection: statement_timeout; for the service, also migrations
//  (with a longer timeout) and the prepared statements.
static int
s_setup (ledger_t *self, PGconn *conn)
{
    if (!self->migrate)
        return s_set_timeout (self, conn, self->statement_timeout_ms);
    int64_t timeout_ms = self->statement_timeout_ms + LEDGER_CLIENT_MARGIN_MS;
    int rc = s_set_timeout (self, conn, LEDGER_MIGRATE_TIMEOUT_MS);
    if (rc == PG_OK)
        rc = balance_migrate (conn, LEDGER_MIGRATE_TIMEOUT_MS + LEDGER_CLIENT_MARGIN_MS,
                              self->error, sizeof self->error);
    if (rc == PG_OK)
        rc = s_set_timeout (self, conn, self->statement_timeout_ms);
    if (rc == PG_OK)
        rc = pg_prepare (conn, "get", SQL_GET, timeout_ms, self->error, sizeof self->error);
    if (rc == PG_OK)
        rc = pg_prepare (conn, "transfer", SQL_TRANSFER, timeout_ms, self->error,
                         sizeof self->error);
    return rc;
}

int
ledger_connect (ledger_t *self)
{
    assert (self);
    if (self->conn)
        return 0;
    PGconn *conn = s_open (self);
    int rc = PG_CONN_ERROR;
    if (conn)
        PQsetNoticeProcessor (conn, s_on_notice, NULL);
    if (PQstatus (conn) != CONNECTION_OK || PQsetnonblocking (conn, 1) != 0) {
        snprintf (self->error, sizeof self->error, "cannot connect to PostgreSQL: %s",
                  conn ? PQerrorMessage (conn) : "out of memory");
        self->error[strcspn (self->error, "\n")] = '\0';
    } else
        rc = s_setup (self, conn);
    if (rc != PG_OK) {
        PQfinish (conn);
        uint64_t suppressed = 0;
        if (cb_log_limiter_allow (&self->connect_log, &suppressed))
            cb_log_warn (NULL, "PostgreSQL not ready", "{s:s, s:i}", "error", self->error,
                         "suppressed", (int) (suppressed > 1000000 ? 1000000 : suppressed));
        return -1;
    }
    self->conn = conn;
    self->error[0] = '\0';
    cb_gauge_set (self->db_up, 1);
    cb_log_info (NULL, "PostgreSQL connected", NULL);
    return 0;
}

bool
ledger_ready (const ledger_t *self)
{
    assert (self);
    return self->conn != NULL;
}

void
ledger_watch (ledger_t *self)
{
    assert (self);
    if (self->conn && !pg_alive (self->conn)) {
        snprintf (self->error, sizeof self->error, "PostgreSQL closed the connection");
        s_disconnect (self);
    }
}

const char *
ledger_error (const ledger_t *self)
{
    assert (self);
    return self->error;
}

//  A statement failed: a broken or silent connection is dropped.
static int
s_failed (ledger_t *self, int rc)
{
    if (rc == PG_CONN_ERROR || rc == PG_TIMEOUT)
        s_disconnect (self);
    return -1;
}

static int
s_not_connected (ledger_t *self)
{
    if (!self->error[0])
        snprintf (self->error, sizeof self->error, "not connected to PostgreSQL");
    return -1;
}

//  Runs a prepared statement once more after a unique_violation (a twin
//  with the same key committed first: the retry replays its outcome), a
//  deadlock or a serialization failure. The caller PQclears *result.
static int
s_exec_prepared (ledger_t *self, const char *name, int nparams, const char *const *params,
                 cb_metric_t *duration, PGresult **result)
{
    pg_query_t query = {.prepared = name, .nparams = nparams, .params = params};
    int64_t started_us = cb_mono_us ();
    int rc = PG_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = pg_exec (self->conn, &query, self->statement_timeout_ms + LEDGER_CLIENT_MARGIN_MS,
                      result, self->error, sizeof self->error);
        const char *state = pg_sqlstate (*result);
        if (rc != PG_SQL_ERROR ||
            (strcmp (state, "23505") && strcmp (state, "40P01") && strcmp (state, "40001")))
            break;
        PQclear (*result);
        *result = NULL;
    }
    cb_histogram_observe (duration, (double) (cb_mono_us () - started_us) / 1e6);
    return rc;
}

static void
s_id_text (char out[24], uint64_t id)
{
    snprintf (out, 24, "%" PRId64, (int64_t) id);
}

static int64_t
s_int (const PGresult *result, int row, int column)
{
    return PQgetisnull (result, row, column) ? 0
                                             : strtoll (PQgetvalue (result, row, column), NULL, 10);
}

int
ledger_get (ledger_t *self, uint64_t guild_id, uint64_t user_id, int64_t *balance,
            uint64_t *version)
{
    assert (self && balance && version);
    if (!self->conn)
        return s_not_connected (self);
    char guild[24], user[24];
    s_id_text (guild, guild_id);
    s_id_text (user, user_id);
    const char *params[] = {guild, user};
    PGresult *result = NULL;
    int rc = s_exec_prepared (self, "get", 2, params, self->duration_get, &result);
    if (rc == PG_OK) {
        bool found = PQntuples (result) > 0;
        *balance = found ? s_int (result, 0, 0) : 0;
        *version = found ? (uint64_t) s_int (result, 0, 1) : 0;
    }
    PQclear (result);
    return rc == PG_OK ? 0 : s_failed (self, rc);
}

//  "{1,2}" into out; how many values were read.
static size_t
s_parse_array (const char *text, int64_t *out, size_t max)
{
    size_t count = 0;
    const char *cursor = *text == '{' ? text + 1 : text;
    while (count < max && *cursor && *cursor != '}') {
        char *end;
        out[count] = strtoll (cursor, &end, 10);
        if (end == cursor)
            break;
        count++;
        cursor = *end == ',' ? end + 1 : end;
    }
    return count;
}

static int
s_parse_outcome (ledger_t *self, const PGresult *result, ledger_outcome_t *outcome)
{
    if (PQntuples (result) != 1 || PQnfields (result) != 9) {
        snprintf (self->error, sizeof self->error, "ledger_transfer returned an unexpected shape");
        return -1;
    }
    outcome->status = (Cordbank__Status) s_int (result, 0, 0);
    snprintf (outcome->message, sizeof outcome->message, "%s", PQgetvalue (result, 0, 1));
    outcome->transfer_id = (uint64_t) s_int (result, 0, 2);
    outcome->amount = s_int (result, 0, 3);
    int64_t users[LEDGER_MAX_ACCOUNTS], balances[LEDGER_MAX_ACCOUNTS],
        versions[LEDGER_MAX_ACCOUNTS];
    size_t count = s_parse_array (PQgetvalue (result, 0, 4), users, LEDGER_MAX_ACCOUNTS);
    if (s_parse_array (PQgetvalue (result, 0, 5), balances, LEDGER_MAX_ACCOUNTS) != count ||
        s_parse_array (PQgetvalue (result, 0, 6), versions, LEDGER_MAX_ACCOUNTS) != count) {
        snprintf (self->error, sizeof self->error, "ledger_transfer returned uneven accounts");
        return -1;
    }
    for (size_t i = 0; i < count; i++)
        outcome->accounts[i] = (ledger_account_t){.user_id = (uint64_t) users[i],
                                                  .balance = balances[i],
                                                  .version = (uint64_t) versions[i]};
    outcome->account_count = count;
    outcome->retry_at_ms = s_int (result, 0, 7);
    outcome->replayed = strcmp (PQgetvalue (result, 0, 8), "t") == 0;
    return 0;
}

int
ledger_transfer (ledger_t *self, const ledger_request_t *request, ledger_outcome_t *outcome)
{
    assert (self && request && outcome);
    memset (outcome, 0, sizeof *outcome);
    if (!self->conn)
        return s_not_connected (self);
    char guild[24], from[24], to[24], actor[24], kind[16], amount[24], now[24], cooldown[24];
    s_id_text (guild, request->guild_id);
    s_id_text (from, request->from_user);
    s_id_text (to, request->to_user);
    s_id_text (actor, request->actor);
    snprintf (kind, sizeof kind, "%d", request->kind);
    snprintf (amount, sizeof amount, "%" PRId64, request->amount);
    snprintf (now, sizeof now, "%" PRId64, request->now_ms);
    snprintf (cooldown, sizeof cooldown, "%" PRId64, request->cooldown_ms);
    const char *params[] = {
        request->idempotency_key, guild, kind, from, to, amount, actor, now, cooldown};
    PGresult *result = NULL;
    int rc = s_exec_prepared (self, "transfer", 9, params, self->duration_transfer, &result);
    int parsed = rc == PG_OK ? s_parse_outcome (self, result, outcome) : -1;
    PQclear (result);
    if (rc != PG_OK)
        return s_failed (self, rc);
    return parsed;
}

int
ledger_check_invariants (ledger_t *self, ledger_violation_fn *fn, void *arg)
{
    assert (self && fn);
    if (!self->conn)
        return s_not_connected (self);
    pg_query_t query = {.sql = SQL_INVARIANTS};
    PGresult *result = NULL;
    int rc = pg_exec (self->conn, &query, self->statement_timeout_ms + LEDGER_CLIENT_MARGIN_MS,
                      &result, self->error, sizeof self->error);
    int rows = rc == PG_OK ? PQntuples (result) : 0;
    for (int row = 0; row < rows; row++) {
        ledger_violation_t violation = {
            .check = PQgetvalue (result, row, 0),
            .guild_id = (uint64_t) s_int (result, row, 1),
            .has_user = !PQgetisnull (result, row, 2),
            .user_id = (uint64_t) s_int (result, row, 2),
            .actual = PQgetvalue (result, row, 3),
            .expected = PQgetvalue (result, row, 4),
        };
        fn (&violation, arg);
    }
    if (rc == PG_SQL_ERROR && strcmp (pg_sqlstate (result), "42P01") == 0)
        snprintf (self->error, sizeof self->error,
                  "this database has no ledger schema (ledger_invariant_violations is missing)");
    PQclear (result);
    return rc == PG_OK ? rows : s_failed (self, rc);
}
