/*  pool — a few PostgreSQL connections, driven by the service's reactor.
 *
 *  Every connection is non-blocking and lives on the zloop: it connects
 *  asynchronously (PQconnectStartParams / PQconnectPoll), so a database
 *  that is down or partitioned never holds the reactor, and a statement's
 *  result is read when its socket turns readable. One statement per
 *  connection at a time; the caller (ledger.c) decides what each carries.
 *
 *  Deadlines: a connection attempt gets connect_ms, a statement its own
 *  timeout; past it the connection is dropped and the statement fails
 *  with PG_TIMEOUT (the server also cancels it: statement_timeout is set
 *  on every connection). A circuit breaker ("postgres") counts failed
 *  connects, broken connections and timeouts; while it is open no
 *  connection is attempted, and the pool reports not ready.
 *
 *  The first connection applies the schema migrations, synchronously and
 *  only once per process (start-up; the instance is not ready before).
 */
#ifndef BALANCE_POOL_H
#define BALANCE_POOL_H

#include <czmq.h>
#include <postgresql/libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pool pool_t;

typedef struct {
    const char *pg_url;           // borrowed; may carry a password: never logged
    int size;                     // connections
    int64_t statement_timeout_ms; // set on every connection
    int64_t connect_ms;           // most a connection attempt may take
} pool_config_t;

//  A statement's end: rc is a PG_* code (pg.h); result is NULL unless
//  PG_OK or PG_SQL_ERROR, and belongs to the pool (cleared after the
//  call). error is one line when rc != PG_OK.
typedef void (pool_result_fn) (void *arg, int rc, const PGresult *result, const char *error);
//  A connection is free for the next statement.
typedef void (pool_idle_fn) (void *arg);

//  Starts connecting at once. NULL on allocation failure.
pool_t *pool_new (zloop_t *loop, const pool_config_t *config, pool_idle_fn *on_idle, void *arg);
void pool_destroy (pool_t **self_p);

//  At least one connection is up (and the schema is migrated).
bool pool_ready (const pool_t *self);
//  A connection is up and free.
bool pool_has_idle (const pool_t *self);
//  Why the pool is not ready, or the last failure.
const char *pool_error (const pool_t *self);

//  Sends sql with text parameters on a free connection; fn is called
//  exactly once, later, from the reactor. -1 when no connection is free
//  or the send failed at once (fn is then not called).
int pool_send (pool_t *self, const char *sql, int nparams, const char *const *params,
               int64_t timeout_ms, pool_result_fn *fn, void *arg);

//  For --check-invariants and tests: a blocking connection with the same
//  options (non-blocking mode set, see pg.h). NULL with err filled.
PGconn *pool_connect_once (const char *pg_url, int64_t statement_timeout_ms, char *err,
                           size_t errlen);

#endif
