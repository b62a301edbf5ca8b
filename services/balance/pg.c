/*  pg — one libpq statement with a deadline the client enforces itself.
 *
 *  The flow is libpq's asynchronous API driven synchronously: send, flush,
 *  then poll() the socket until the connection is no longer busy, collect
 *  every result. Each poll() waits at most until the deadline, so the worst
 *  case is bounded by timeout_ms whatever the server does.
 */
#include "services/balance/pg.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"

//  Waits for the socket to be readable (and writable when `writing`).
//  0 when it is, PG_TIMEOUT at the deadline, PG_CONN_ERROR on failure.
static int
s_wait_socket (PGconn *conn, int writing, int64_t deadline_ms)
{
    struct pollfd pfd = {.fd = PQsocket (conn), .events = POLLIN | (writing ? POLLOUT : 0)};
    if (pfd.fd < 0)
        return PG_CONN_ERROR;
    for (;;) {
        int64_t left = deadline_ms - cb_mono_ms ();
        if (left <= 0)
            return PG_TIMEOUT;
        int rc = poll (&pfd, 1, (int) (left > 60000 ? 60000 : left));
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return PG_CONN_ERROR;
    }
}

static int
s_send (PGconn *conn, const pg_query_t *query)
{
    if (query->prepared)
        return PQsendQueryPrepared (conn, query->prepared, query->nparams, query->params, NULL,
                                    NULL, 0);
    if (query->nparams > 0)
        return PQsendQueryParams (conn, query->sql, query->nparams, NULL, query->params, NULL, NULL,
                                  0);
    return PQsendQuery (conn, query->sql);
}

//  Pushes the query out and reads until a result is complete.
static int
s_flush_and_wait (PGconn *conn, int64_t deadline_ms)
{
    int flushed;
    while ((flushed = PQflush (conn)) == 1) {
        int rc = s_wait_socket (conn, 1, deadline_ms);
        if (rc != 0)
            return rc;
        if (!PQconsumeInput (conn))
            return PG_CONN_ERROR;
    }
    if (flushed < 0)
        return PG_CONN_ERROR;
    while (PQisBusy (conn)) {
        int rc = s_wait_socket (conn, 0, deadline_ms);
        if (rc != 0)
            return rc;
        if (!PQconsumeInput (conn))
            return PG_CONN_ERROR;
    }
    return 0;
}

//  libpq's error text, on one line (its messages end with a newline).
static void
s_conn_error (char *err, size_t errlen, const char *text)
{
    snprintf (err, errlen, "%s", text && *text ? text : "PostgreSQL connection failed");
    err[strcspn (err, "\n")] = '\0';
}

static void
s_fail (char *err, size_t errlen, int rc, PGconn *conn, int64_t timeout_ms)
{
    if (rc == PG_TIMEOUT)
        snprintf (err, errlen, "PostgreSQL did not answer within %lld ms", (long long) timeout_ms);
    else
        s_conn_error (err, errlen, PQerrorMessage (conn));
}

//  Collects every result of the statement: the first error wins, otherwise
//  the last result is kept.
static int
s_collect (PGconn *conn, int64_t deadline_ms, PGresult **result)
{
    for (;;) {
        int rc = s_flush_and_wait (conn, deadline_ms);
        if (rc != 0)
            return rc;
        PGresult *next = PQgetResult (conn);
        if (!next)
            return 0;
        if (*result && PQresultStatus (*result) == PGRES_FATAL_ERROR)
            PQclear (next);
        else {
            PQclear (*result);
            *result = next;
        }
    }
}

int
pg_exec (PGconn *conn, const pg_query_t *query, int64_t timeout_ms, PGresult **result, char *err,
         size_t errlen)
{
    *result = NULL;
    if (!s_send (conn, query)) {
        s_fail (err, errlen, PG_CONN_ERROR, conn, timeout_ms);
        return PG_CONN_ERROR;
    }
    int rc = s_collect (conn, cb_mono_ms () + timeout_ms, result);
    if (rc == 0 && !*result) {
        snprintf (err, errlen, "PostgreSQL returned no result");
        rc = PG_CONN_ERROR;
    } else if (rc == 0 && PQresultStatus (*result) != PGRES_COMMAND_OK &&
               PQresultStatus (*result) != PGRES_TUPLES_OK) {
        s_conn_error (err, errlen, PQresultErrorMessage (*result));
        return PQstatus (conn) == CONNECTION_OK ? PG_SQL_ERROR : PG_CONN_ERROR;
    } else if (rc != 0)
        s_fail (err, errlen, rc, conn, timeout_ms);
    if (rc != 0) {
        PQclear (*result);
        *result = NULL;
    }
    return rc;
}

const char *
pg_sqlstate (const PGresult *result)
{
    const char *state = result ? PQresultErrorField (result, PG_DIAG_SQLSTATE) : NULL;
    return state ? state : "";
}
