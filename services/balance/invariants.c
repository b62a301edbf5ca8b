/*  invariants — `cordbank-balance --check-invariants` (see invariants.h).
 *
 *  The checks themselves are the view ledger_invariant_violations
 *  (migrations/003), so a test can also run them with psql. Offenders go to
 *  stdout, one line each, in a form a script can grep; the verdict goes to
 *  stderr.
 */
#include "services/balance/invariants.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "services/balance/pg.h"
#include "services/balance/pool.h"

#define SQL_INVARIANTS                                                                             \
    "SELECT check_name, guild_id, user_id, actual, expected FROM ledger_invariant_violations "     \
    "ORDER BY check_name, guild_id, user_id"

static void
s_print (const PGresult *result, int row)
{
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

//  The number of violations printed, or -1 with err filled.
static int
s_check (const char *pg_url, int64_t timeout_ms, char *err, size_t errlen)
{
    PGconn *conn = pool_connect_once (pg_url, timeout_ms, err, errlen);
    if (!conn)
        return -1;
    pg_query_t query = {.sql = SQL_INVARIANTS};
    PGresult *result = NULL;
    int rc = pg_exec (conn, &query, timeout_ms + 1000, &result, err, errlen);
    int rows = rc == PG_OK ? PQntuples (result) : 0;
    for (int row = 0; row < rows; row++)
        s_print (result, row);
    if (rc == PG_SQL_ERROR && strcmp (pg_sqlstate (result), "42P01") == 0)
        snprintf (err, errlen,
                  "this database has no ledger schema (ledger_invariant_violations is missing)");
    PQclear (result);
    PQfinish (conn);
    return rc == PG_OK ? rows : -1;
}

int
invariants_main (const char *pg_url, int64_t timeout_ms)
{
    cb_log_init ("balance", "check-invariants");
    char err[256] = "";
    int found = s_check (pg_url, timeout_ms, err, sizeof err);
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
