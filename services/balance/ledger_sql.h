/*  ledger_sql — the statements the ledger runs at request time: requests
 *  into parameters, rows into outcomes. No I/O: ledger.c sends them.
 *
 *  Parameters travel as text. A batch is one text array per column
 *  ('{1,2}'), keys quoted and escaped ('{"a\"b"}'). Snowflakes are uint64
 *  and the columns bigint: ids cross over bit for bit (two's complement),
 *  so every id, even above 2^63, maps to one row and back.
 */
#ifndef BALANCE_LEDGER_SQL_H
#define BALANCE_LEDGER_SQL_H

#include <postgresql/libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "services/balance/ledger.h"

#define LEDGER_SQL_MAX_PARAMS 9

//  One statement: its text and parameters (owned).
typedef struct {
    const char *sql;
    int nparams;
    char *params[LEDGER_SQL_MAX_PARAMS];
} ledger_statement_t;

//  A member account, for balance reads.
typedef struct {
    uint64_t guild_id;
    uint64_t user_id;
} ledger_account_key_t;

//  Each builder fills *out: 0, or -1 out of memory (*out then holds
//  nothing to free). Free with ledger_statement_clear.
int ledger_sql_transfers (ledger_statement_t *out, const ledger_request_t *const *requests,
                          size_t count);
int ledger_sql_gets (ledger_statement_t *out, const ledger_account_key_t *const *accounts,
                     size_t count);
//  limit + 1 rows are asked for: the extra one says there is more.
int ledger_sql_history (ledger_statement_t *out, uint64_t guild_id, uint64_t user_id,
                        uint32_t limit, uint64_t before_transfer_id);
int ledger_sql_board (ledger_statement_t *out, uint64_t guild_id, uint32_t page,
                      uint32_t page_size);
//  guild_id 0: the members whose legs are among the newest limit * 4;
//  otherwise the guild's members with coins, by user id after after_user.
int ledger_sql_active (ledger_statement_t *out, uint32_t limit, uint64_t guild_id,
                       uint64_t after_user);
void ledger_statement_clear (ledger_statement_t *self);

//  Results. Shape checks first: a result of another shape is a bug the
//  caller reports; the readers then trust it.
bool ledger_sql_transfers_shaped (const PGresult *result, size_t count);
bool ledger_sql_gets_shaped (const PGresult *result, size_t count);
//  Row `row` of ledger_batch's result. 0, or -1 when its arrays are uneven.
int ledger_sql_outcome (const PGresult *result, int row, ledger_outcome_t *outcome);
void ledger_sql_balance (const PGresult *result, int row, int64_t *balance, uint64_t *version);
void ledger_sql_history_rows (const PGresult *result, uint32_t limit, ledger_history_t *out);
void ledger_sql_board_rows (const PGresult *result, uint32_t page, uint32_t page_size,
                            ledger_board_t *out);

//  0, or -1 out of memory; out->entries is the caller's to free.
int ledger_sql_active_rows (const PGresult *result, ledger_active_t *out);

#endif
