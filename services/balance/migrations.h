/*  migrations — the balance schema, carried inside the binary.
 *
 *  deploy/embed-sql.sh turns services/balance/migrations/NNN_name.sql into
 *  build/gen/balance_migrations.c, which defines the array below in version
 *  order. migrate.c applies the ones a database has not seen yet.
 */
#ifndef BALANCE_MIGRATIONS_H
#define BALANCE_MIGRATIONS_H

#include <stddef.h>

typedef struct {
    int version;
    const char *name;
    const char *sql;
} balance_migration_t;

extern const balance_migration_t balance_migrations[];
extern const size_t balance_migrations_count;

#endif
