/*  migrate — applies the embedded schema migrations (see migrate.h).
 *
 *  Migrations only ever add (a rolling update runs old and new pods on one
 *  database), so a database newer than this binary is fine: its extra
 *  versions are left alone. The advisory lock is session-level: if this
 *  process dies mid-way, PostgreSQL releases it with the connection.
 */
#include "services/balance/migrate.h"

#include <stdbool.h>
#include <stdio.h>

#include "common/log.h"
#include "services/balance/migrations.h"
#include "services/balance/pg.h"

//  "cordbank" in ASCII: the one advisory lock key the balance schema uses.
#define MIGRATE_LOCK_KEY "7165071307642596971"

static int
s_run (PGconn *conn, const char *sql, int nparams, const char *const *params, int64_t timeout_ms,
       char *err, size_t errlen)
{
    pg_query_t query = {.sql = sql, .nparams = nparams, .params = params};
    PGresult *result = NULL;
    int rc = pg_exec (conn, &query, timeout_ms, &result, err, errlen);
    PQclear (result);
    return rc;
}

static bool
s_applied (PGconn *conn, int version, int64_t timeout_ms, int *rc, char *err, size_t errlen)
{
    char text[16];
    snprintf (text, sizeof text, "%d", version);
    const char *params[] = {text};
    pg_query_t query = {.sql = "SELECT 1 FROM schema_migrations WHERE version = $1::int",
                        .nparams = 1,
                        .params = params};
    PGresult *result = NULL;
    *rc = pg_exec (conn, &query, timeout_ms, &result, err, errlen);
    bool found = *rc == PG_OK && PQntuples (result) > 0;
    PQclear (result);
    return found;
}

//  One migration and its record, in one transaction.
static int
s_apply (PGconn *conn, const balance_migration_t *m, int64_t timeout_ms, char *err, size_t errlen)
{
    char version[16];
    snprintf (version, sizeof version, "%d", m->version);
    const char *params[] = {version, m->name};
    int rc = s_run (conn, "BEGIN", 0, NULL, timeout_ms, err, errlen);
    if (rc == PG_OK)
        rc = s_run (conn, m->sql, 0, NULL, timeout_ms, err, errlen);
    if (rc == PG_OK)
        rc = s_run (conn, "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)", 2,
                    params, timeout_ms, err, errlen);
    if (rc == PG_OK)
        rc = s_run (conn, "COMMIT", 0, NULL, timeout_ms, err, errlen);
    if (rc == PG_SQL_ERROR) {
        char ignored[8];
        s_run (conn, "ROLLBACK", 0, NULL, timeout_ms, ignored, sizeof ignored);
    }
    if (rc == PG_OK)
        cb_log_info (NULL, "migration applied", "{s:i, s:s}", "version", m->version, "name",
                     m->name);
    return rc;
}

static int
s_apply_all (PGconn *conn, int64_t timeout_ms, char *err, size_t errlen)
{
    int rc = s_run (conn,
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version int PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now ())",
                    0, NULL, timeout_ms, err, errlen);
    for (size_t i = 0; rc == PG_OK && i < balance_migrations_count; i++) {
        const balance_migration_t *m = &balance_migrations[i];
        if (s_applied (conn, m->version, timeout_ms, &rc, err, errlen) || rc != PG_OK)
            continue;
        rc = s_apply (conn, m, timeout_ms, err, errlen);
        if (rc != PG_OK) {
            char why[200];
            snprintf (why, sizeof why, "%s", err);
            snprintf (err, errlen, "migration %d_%s failed: %s", m->version, m->name, why);
        }
    }
    return rc;
}

int
balance_migrate (PGconn *conn, int64_t timeout_ms, char *err, size_t errlen)
{
    int rc = s_run (conn, "SELECT pg_advisory_lock (" MIGRATE_LOCK_KEY ")", 0, NULL, timeout_ms,
                    err, errlen);
    if (rc != PG_OK)
        return rc;
    rc = s_apply_all (conn, timeout_ms, err, errlen);
    if (rc == PG_OK || rc == PG_SQL_ERROR) {
        char unlock_err[200];
        int unlocked = s_run (conn, "SELECT pg_advisory_unlock (" MIGRATE_LOCK_KEY ")", 0, NULL,
                              timeout_ms, unlock_err, sizeof unlock_err);
        if (rc == PG_OK && unlocked != PG_OK) {
            snprintf (err, errlen, "%s", unlock_err);
            rc = unlocked;
        }
    }
    return rc;
}
