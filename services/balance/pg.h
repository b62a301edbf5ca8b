/*  pg — one libpq statement with a deadline the client enforces itself.
 *
 *  statement_timeout bounds a slow server, but a server that is stopped or
 *  partitioned answers nothing, and TCP keepalives do not fire while the
 *  kernel still acknowledges. So every statement is sent on a non-blocking
 *  connection and its result awaited with poll() against a deadline: the
 *  reactor thread can be held for at most timeout_ms, never hung.
 */
#ifndef BALANCE_PG_H
#define BALANCE_PG_H

#include <postgresql/libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    PG_OK = 0,
    PG_SQL_ERROR = -1,  // the server refused the statement; the connection is usable
    PG_CONN_ERROR = -2, // the connection is broken
    PG_TIMEOUT = -3,    // no answer in time; the connection must be dropped
};

typedef struct {
    const char *prepared; // name of a prepared statement, or NULL
    const char *sql;      // text when not prepared (may hold several statements)
    int nparams;
    const char *const *params; // text values; NULL entries are SQL NULL
} pg_query_t;

//  Runs query on conn (which must be non-blocking). On PG_OK *result holds
//  the last result (tuples or command); on PG_SQL_ERROR the first error
//  result (read its SQLSTATE with pg_sqlstate). The caller PQclears it.
//  On any failure err holds one line saying what went wrong.
int pg_exec (PGconn *conn, const pg_query_t *query, int64_t timeout_ms, PGresult **result,
             char *err, size_t errlen);

//  The SQLSTATE of an error result ("23505"), or "" when there is none.
const char *pg_sqlstate (const PGresult *result);

#endif
