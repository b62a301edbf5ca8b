/*  migrate — applies the embedded schema migrations (migrations.h).
 *
 *  Under a session advisory lock, so that several instances starting at
 *  once apply each migration exactly once: the others wait, then find it
 *  recorded in schema_migrations and skip it. Each migration runs in its
 *  own transaction together with its schema_migrations row, so a crash
 *  leaves it either applied and recorded or neither.
 */
#ifndef BALANCE_MIGRATE_H
#define BALANCE_MIGRATE_H

#include <postgresql/libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

//  Applies every migration newer than the database's on conn (a
//  non-blocking connection, see pg.h); each statement may take up to
//  timeout_ms. 0 when the schema is current, or a PG_* error with a reason
//  in err (conn must then be dropped unless it is PG_SQL_ERROR).
int balance_migrate (PGconn *conn, int64_t timeout_ms, char *err, size_t errlen);

#endif
