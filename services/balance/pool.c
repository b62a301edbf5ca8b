/*  pool — a few PostgreSQL connections, driven by the service's reactor
 *  (see pool.h).
 *
 *  Each connection is a small state machine: DOWN -> CONNECTING -> IDLE
 *  <-> BUSY, and back to DOWN on any failure. Its socket is a zloop
 *  poller while it has one; a 10 ms tick enforces deadlines and starts
 *  connections the breaker allows. libpq ignores connect_timeout in
 *  asynchronous mode, so the tick is what bounds a connect to a host that
 *  does not answer.
 */
#include "services/balance/pool.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/breaker.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "services/balance/migrate.h"
#include "services/balance/pg.h"

#define POOL_MAX_SIZE 64
#define POOL_TICK_MS  10
//  Migrations may rewrite tables, and wait for another instance's lock.
#define POOL_MIGRATE_TIMEOUT_MS 60000
//  Failures in a row before the breaker opens; its first and longest cool-down.
#define POOL_BREAKER_THRESHOLD 3
#define POOL_BREAKER_OPEN_MS   500
#define POOL_BREAKER_MAX_MS    2000

typedef enum { CONN_DOWN = 0, CONN_CONNECTING, CONN_IDLE, CONN_BUSY } conn_state_t;

typedef struct {
    pool_t *pool;
    int index;
    conn_state_t state;
    PGconn *pg;
    zmq_pollitem_t item; // registered while item.fd >= 0
    int64_t deadline_ms; // monotonic: connect or statement deadline
    int64_t timeout_ms;  // of the statement in flight, for the error text
    bool flushing;       // the statement is not all sent yet
    PGresult *result;    // of the statement in flight: the first error or the last result
    pool_result_fn *fn;
    void *arg;
} conn_t;

struct pool {
    zloop_t *loop;
    char *pg_url;
    int size;
    int64_t statement_timeout_ms;
    int64_t connect_ms;
    pool_idle_fn *on_idle;
    void *idle_arg;
    int tick_id;
    bool migrated;
    int up; // connections IDLE or BUSY
    conn_t conns[POOL_MAX_SIZE];
    cb_breaker_t breaker;
    char error[256];
    cb_log_limiter_t fail_log;
    cb_metric_t *db_up;
    cb_metric_t *idle_gauge, *busy_gauge;
};

static int s_on_socket (zloop_t *loop, zmq_pollitem_t *item, void *arg);

static void
s_gauges (pool_t *self)
{
    int busy = 0, idle = 0;
    for (int i = 0; i < self->size; i++) {
        busy += self->conns[i].state == CONN_BUSY;
        idle += self->conns[i].state == CONN_IDLE;
    }
    cb_gauge_set (self->busy_gauge, busy);
    cb_gauge_set (self->idle_gauge, idle);
    cb_gauge_set (self->db_up, self->up > 0);
}

//  Watches fd for `events` (replacing what was watched).
static void
s_watch (conn_t *conn, int fd, short events)
{
    if (conn->item.fd >= 0 && conn->item.fd == fd && conn->item.events == events)
        return;
    if (conn->item.fd >= 0)
        zloop_poller_end (conn->pool->loop, &conn->item);
    conn->item = (zmq_pollitem_t){.socket = NULL, .fd = fd, .events = events};
    if (fd < 0)
        return;
    if (zloop_poller (conn->pool->loop, &conn->item, s_on_socket, conn) != 0) {
        conn->item.fd = -1;
        return;
    }
    //  An error on the socket must reach s_on_socket, not remove the poller.
    zloop_poller_set_tolerant (conn->pool->loop, &conn->item);
}

static void
s_log_failure (pool_t *self, const char *what)
{
    uint64_t suppressed = 0;
    if (cb_log_limiter_allow (&self->fail_log, &suppressed))
        cb_log_warn (NULL, what, "{s:s, s:i}", "error", self->error, "suppressed",
                     (int) (suppressed > 1000000 ? 1000000 : suppressed));
}

//  Ends the statement in flight, if any, with rc.
static void
s_finish (conn_t *conn, int rc, const char *error)
{
    pool_result_fn *fn = conn->fn;
    PGresult *result = conn->result;
    conn->fn = NULL;
    conn->result = NULL;
    if (fn)
        fn (conn->arg, rc, rc == PG_OK || rc == PG_SQL_ERROR ? result : NULL, error);
    PQclear (result);
}

//  Drops a connection (whatever its state) and fails its statement.
static void
s_drop (conn_t *conn, int rc, const char *why)
{
    pool_t *self = conn->pool;
    bool was_up = conn->state == CONN_IDLE || conn->state == CONN_BUSY;
    s_watch (conn, -1, 0);
    PQfinish (conn->pg);
    conn->pg = NULL;
    conn->state = CONN_DOWN;
    conn->flushing = false;
    snprintf (self->error, sizeof self->error, "%s", why);
    if (was_up) {
        self->up--;
        cb_log_warn (NULL, "PostgreSQL connection dropped", "{s:i, s:s}", "connection", conn->index,
                     "error", why);
    } else
        s_log_failure (self, "PostgreSQL connection failed");
    cb_breaker_failure (&self->breaker);
    s_finish (conn, rc, why);
    s_gauges (self);
}

static void
s_drop_conn_error (conn_t *conn, const char *context)
{
    char why[256];
    const char *text = conn->pg ? PQerrorMessage (conn->pg) : "";
    snprintf (why, sizeof why, "%s: %s", context, *text ? text : "connection failed");
    why[strcspn (why, "\n")] = '\0';
    s_drop (conn, PG_CONN_ERROR, why);
}

//  Server notices (NOTICE, WARNING) become log lines, not raw stderr.
static void
s_on_notice (void *arg, const char *message)
{
    (void) arg;
    char line[256];
    snprintf (line, sizeof line, "%s", message);
    line[strcspn (line, "\n")] = '\0';
    cb_log_debug (NULL, "PostgreSQL notice", "{s:s}", "notice", line);
}

//  Options every connection carries; the URL last, so what an operator
//  wrote wins. statement_timeout and synchronous_commit are set at
//  connection start, so no set-up round trip is needed.
static PGconn *
s_start (const char *pg_url, int64_t statement_timeout_ms, bool blocking)
{
    char options[96];
    snprintf (options, sizeof options, "-c statement_timeout=%lld -c synchronous_commit=on",
              (long long) statement_timeout_ms);
    const char *keys[] = {"connect_timeout",  "keepalives",
                          "keepalives_idle",  "keepalives_interval",
                          "keepalives_count", "tcp_user_timeout",
                          "application_name", "options",
                          "dbname",           NULL};
    const char *values[] = {"2",     "1",    "10", "2", "3", "5000", "cordbank-balance",
                            options, pg_url, NULL};
    PGconn *pg =
        blocking ? PQconnectdbParams (keys, values, 1) : PQconnectStartParams (keys, values, 1);
    if (pg)
        PQsetNoticeProcessor (pg, s_on_notice, NULL);
    return pg;
}

//  The first connection of the process brings the schema up to date.
static int
s_migrate (pool_t *self, conn_t *conn)
{
    char sql[64];
    snprintf (sql, sizeof sql, "SET statement_timeout = %d", POOL_MIGRATE_TIMEOUT_MS);
    pg_query_t set = {.sql = sql}, reset = {.sql = "RESET statement_timeout"};
    PGresult *result = NULL;
    int64_t wait_ms = POOL_MIGRATE_TIMEOUT_MS + 1000;
    int rc = pg_exec (conn->pg, &set, wait_ms, &result, self->error, sizeof self->error);
    PQclear (result);
    if (rc == PG_OK)
        rc = balance_migrate (conn->pg, wait_ms, self->error, sizeof self->error);
    if (rc == PG_OK) {
        rc = pg_exec (conn->pg, &reset, wait_ms, &result, self->error, sizeof self->error);
        PQclear (result);
    }
    return rc;
}

static void
s_connected (conn_t *conn)
{
    pool_t *self = conn->pool;
    if (PQsetnonblocking (conn->pg, 1) != 0) {
        s_drop_conn_error (conn, "cannot make the connection non-blocking");
        return;
    }
    if (!self->migrated) {
        if (s_migrate (self, conn) != PG_OK) {
            char why[sizeof self->error];
            snprintf (why, sizeof why, "%s", self->error);
            s_drop (conn, PG_CONN_ERROR, why);
            return;
        }
        self->migrated = true;
    }
    conn->state = CONN_IDLE;
    self->up++;
    self->error[0] = '\0';
    cb_breaker_success (&self->breaker);
    s_watch (conn, PQsocket (conn->pg), ZMQ_POLLIN);
    if (self->up == 1)
        cb_log_info (NULL, "PostgreSQL connected", "{s:i}", "connections", self->size);
    s_gauges (self);
    if (self->on_idle)
        self->on_idle (self->idle_arg);
}

//  Advances a connection attempt as far as it goes without blocking.
static void
s_connect_step (conn_t *conn)
{
    switch (PQconnectPoll (conn->pg)) {
    case PGRES_POLLING_OK:
        s_connected (conn);
        break;
    case PGRES_POLLING_READING:
        s_watch (conn, PQsocket (conn->pg), ZMQ_POLLIN);
        break;
    case PGRES_POLLING_WRITING:
        s_watch (conn, PQsocket (conn->pg), ZMQ_POLLOUT);
        break;
    default:
        s_drop_conn_error (conn, "cannot connect to PostgreSQL");
        break;
    }
}

static void
s_connect (conn_t *conn)
{
    pool_t *self = conn->pool;
    conn->pg = s_start (self->pg_url, self->statement_timeout_ms, false);
    conn->deadline_ms = cb_mono_ms () + self->connect_ms;
    if (!conn->pg || PQstatus (conn->pg) == CONNECTION_BAD) {
        s_drop_conn_error (conn, "cannot connect to PostgreSQL");
        return;
    }
    conn->state = CONN_CONNECTING;
    s_connect_step (conn);
}

//  A busy connection's socket: read what arrived; at the statement's end,
//  hand over the result and become idle.
static void
s_busy_step (conn_t *conn)
{
    if (conn->flushing) {
        int flushed = PQflush (conn->pg);
        if (flushed < 0) {
            s_drop_conn_error (conn, "PostgreSQL connection broken");
            return;
        }
        conn->flushing = flushed == 1;
        s_watch (conn, PQsocket (conn->pg), ZMQ_POLLIN | (conn->flushing ? ZMQ_POLLOUT : 0));
    }
    if (!PQconsumeInput (conn->pg)) {
        s_drop_conn_error (conn, "PostgreSQL connection broken");
        return;
    }
    while (!PQisBusy (conn->pg)) {
        PGresult *next = PQgetResult (conn->pg);
        if (!next)
            break;
        //  The first error wins; otherwise the last result is kept.
        if (conn->result && PQresultStatus (conn->result) == PGRES_FATAL_ERROR)
            PQclear (next);
        else {
            PQclear (conn->result);
            conn->result = next;
        }
    }
    if (PQisBusy (conn->pg) || conn->flushing)
        return;
    //  Done: the statement's results are all in.
    int rc = PG_OK;
    char error[256] = "";
    ExecStatusType status = conn->result ? PQresultStatus (conn->result) : PGRES_FATAL_ERROR;
    if (!conn->result) {
        rc = PG_CONN_ERROR;
        snprintf (error, sizeof error, "PostgreSQL returned no result");
    } else if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        rc = PQstatus (conn->pg) == CONNECTION_OK ? PG_SQL_ERROR : PG_CONN_ERROR;
        snprintf (error, sizeof error, "%s", PQresultErrorMessage (conn->result));
        error[strcspn (error, "\n")] = '\0';
    }
    if (rc == PG_CONN_ERROR) {
        s_drop (conn, rc, error);
        return;
    }
    conn->state = CONN_IDLE;
    s_gauges (conn->pool);
    //  The server answered: a healthy dependency, whatever the SQL said.
    cb_breaker_success (&conn->pool->breaker);
    s_finish (conn, rc, error);
    if (conn->state == CONN_IDLE && conn->pool->on_idle)
        conn->pool->on_idle (conn->pool->idle_arg);
}

static int
s_on_socket (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop, (void) item;
    conn_t *conn = arg;
    switch (conn->state) {
    case CONN_CONNECTING:
        s_connect_step (conn);
        break;
    case CONN_BUSY:
        s_busy_step (conn);
        break;
    case CONN_IDLE:
        //  Idle: only a close, an error or a notice can arrive.
        if (!PQconsumeInput (conn->pg) || PQstatus (conn->pg) != CONNECTION_OK)
            s_drop_conn_error (conn, "PostgreSQL closed the connection");
        break;
    default:
        break;
    }
    return 0;
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    pool_t *self = arg;
    int64_t now = cb_mono_ms ();
    for (int i = 0; i < self->size; i++) {
        conn_t *conn = &self->conns[i];
        if ((conn->state == CONN_CONNECTING || conn->state == CONN_BUSY) &&
            now >= conn->deadline_ms) {
            char why[128];
            if (conn->state == CONN_BUSY)
                snprintf (why, sizeof why, "PostgreSQL did not answer within %lld ms",
                          (long long) conn->timeout_ms);
            else
                snprintf (why, sizeof why, "PostgreSQL did not accept a connection within %lld ms",
                          (long long) self->connect_ms);
            s_drop (conn, PG_TIMEOUT, why);
        }
    }
    //  Connect what is down, as far as the breaker lets us: closed, every
    //  connection; half-open, one probe.
    for (int i = 0; i < self->size; i++)
        if (self->conns[i].state == CONN_DOWN && cb_breaker_allow (&self->breaker))
            s_connect (&self->conns[i]);
    return 0;
}

pool_t *
pool_new (zloop_t *loop, const pool_config_t *config, pool_idle_fn *on_idle, void *arg)
{
    assert (loop && config && config->pg_url);
    assert (config->size > 0 && config->size <= POOL_MAX_SIZE);
    pool_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->pg_url = strdup (config->pg_url);
    self->size = config->size;
    self->statement_timeout_ms = config->statement_timeout_ms;
    self->connect_ms = config->connect_ms > 0 ? config->connect_ms : 2000;
    self->on_idle = on_idle;
    self->idle_arg = arg;
    snprintf (self->error, sizeof self->error, "not connected to PostgreSQL yet");
    for (int i = 0; i < self->size; i++)
        self->conns[i] = (conn_t){.pool = self, .index = i, .item = {.fd = -1}};
    cb_breaker_init (&self->breaker, "postgres", POOL_BREAKER_THRESHOLD, POOL_BREAKER_OPEN_MS,
                     POOL_BREAKER_MAX_MS);
    self->db_up = cb_metrics_gauge ("cordbank_balance_db_up",
                                    "1 when at least one PostgreSQL connection is up.", NULL);
    self->idle_gauge =
        cb_metrics_gauge ("cordbank_balance_db_connections",
                          "PostgreSQL connections of the pool, by state.", "state=\"idle\"");
    self->busy_gauge =
        cb_metrics_gauge ("cordbank_balance_db_connections",
                          "PostgreSQL connections of the pool, by state.", "state=\"busy\"");
    s_gauges (self);
    self->tick_id = self->pg_url ? zloop_timer (loop, POOL_TICK_MS, 0, s_on_tick, self) : -1;
    if (self->tick_id < 0) {
        pool_destroy (&self);
        return NULL;
    }
    s_on_tick (loop, self->tick_id, self);
    return self;
}

void
pool_destroy (pool_t **self_p)
{
    assert (self_p);
    pool_t *self = *self_p;
    if (!self)
        return;
    if (self->tick_id >= 0)
        zloop_timer_end (self->loop, self->tick_id);
    //  Every connection is down before any callback runs, so that no
    //  callback sends on one being torn down.
    self->up = 0;
    for (int i = 0; i < self->size; i++) {
        conn_t *conn = &self->conns[i];
        s_watch (conn, -1, 0);
        PQfinish (conn->pg);
        conn->pg = NULL;
        conn->state = CONN_DOWN;
    }
    snprintf (self->error, sizeof self->error, "shutting down");
    for (int i = 0; i < self->size; i++)
        s_finish (&self->conns[i], PG_CONN_ERROR, "shutting down");
    free (self->pg_url);
    free (self);
    *self_p = NULL;
}

bool
pool_ready (const pool_t *self)
{
    assert (self);
    return self->up > 0;
}

bool
pool_has_idle (const pool_t *self)
{
    assert (self);
    for (int i = 0; i < self->size; i++)
        if (self->conns[i].state == CONN_IDLE)
            return true;
    return false;
}

const char *
pool_error (const pool_t *self)
{
    assert (self);
    if (cb_breaker_state (&self->breaker) == CB_BREAKER_OPEN && self->up == 0)
        return *self->error ? self->error : "PostgreSQL unavailable (breaker open)";
    return *self->error ? self->error : "PostgreSQL unavailable";
}

int
pool_send (pool_t *self, const char *sql, int nparams, const char *const *params,
           int64_t timeout_ms, pool_result_fn *fn, void *arg)
{
    assert (self && sql && fn);
    conn_t *conn = NULL;
    for (int i = 0; i < self->size && !conn; i++)
        if (self->conns[i].state == CONN_IDLE)
            conn = &self->conns[i];
    if (!conn)
        return -1;
    if (!PQsendQueryParams (conn->pg, sql, nparams, NULL, params, NULL, NULL, 0)) {
        s_drop_conn_error (conn, "cannot send to PostgreSQL");
        return -1;
    }
    conn->state = CONN_BUSY;
    conn->fn = fn;
    conn->arg = arg;
    conn->timeout_ms = timeout_ms;
    conn->deadline_ms = cb_mono_ms () + timeout_ms;
    //  A failed flush is left to the socket handler, which flushes again,
    //  fails and drops the connection: fn is never called from here.
    conn->flushing = PQflush (conn->pg) != 0;
    s_watch (conn, PQsocket (conn->pg), ZMQ_POLLIN | (conn->flushing ? ZMQ_POLLOUT : 0));
    s_gauges (self);
    return 0;
}

PGconn *
pool_connect_once (const char *pg_url, int64_t statement_timeout_ms, char *err, size_t errlen)
{
    PGconn *pg = s_start (pg_url, statement_timeout_ms, true);
    if (!pg || PQstatus (pg) != CONNECTION_OK || PQsetnonblocking (pg, 1) != 0) {
        snprintf (err, errlen, "cannot connect to PostgreSQL: %s",
                  pg ? PQerrorMessage (pg) : "out of memory");
        err[strcspn (err, "\n")] = '\0';
        PQfinish (pg);
        return NULL;
    }
    return pg;
}
