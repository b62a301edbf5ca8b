/*  ledger_sql — the statements the ledger runs at request time (see
 *  ledger_sql.h).
 */
#include "services/balance/ledger_sql.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQL_TRANSFERS                                                                              \
    "SELECT status, message, transfer_id, amount, users, balances, versions, retry_at_ms, "        \
    "replayed FROM ledger_batch ($1::text[], $2::bigint[], $3::smallint[], $4::bigint[], "         \
    "$5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])"
#define SQL_GETS                                                                                   \
    "SELECT coalesce (a.balance, 0), coalesce (a.version, 0) "                                     \
    "FROM unnest ($1::bigint[], $2::bigint[]) WITH ORDINALITY AS q (g, u, n) "                     \
    "LEFT JOIN accounts a ON a.guild_id = q.g AND a.user_id = q.u ORDER BY q.n"
//  Newest first, from the legs_account index.
#define SQL_HISTORY                                                                                \
    "SELECT t.id, t.kind, t.from_user, t.to_user, t.amount, l.delta, t.actor, "                    \
    "(extract (epoch FROM t.created_at) * 1000)::bigint "                                          \
    "FROM legs l JOIN transfers t ON t.id = l.transfer_id "                                        \
    "WHERE l.guild_id = $1::bigint AND l.user_id = $2::bigint AND l.transfer_id < $3::bigint "     \
    "ORDER BY l.transfer_id DESC LIMIT $4::int"
//  From the accounts_leaderboard index (migrations/004).
#define SQL_BOARD                                                                                  \
    "SELECT user_id, balance FROM accounts "                                                       \
    "WHERE guild_id = $1::bigint AND user_id <> 0 AND balance > 0 "                                \
    "ORDER BY balance DESC, user_id LIMIT $2::int OFFSET $3::int"

//  The newest legs (legs' primary key, read backwards), their members'
//  latest transfer, then their states: bounded by the limit, never by the
//  size of the ledger.
#define SQL_ACTIVE                                                                                 \
    "SELECT a.guild_id, a.user_id, a.balance, a.version "                                          \
    "FROM (SELECT guild_id, user_id, max (transfer_id) AS last "                                   \
    "      FROM (SELECT guild_id, user_id, transfer_id FROM legs "                                 \
    "            ORDER BY transfer_id DESC LIMIT $1::int * 4) AS recent "                          \
    "      WHERE user_id <> 0 GROUP BY guild_id, user_id ORDER BY last DESC LIMIT $1::int) AS r "  \
    "JOIN accounts a USING (guild_id, user_id) ORDER BY r.last DESC"

//  A guild's members with coins, by user id: keyset paging on the primary
//  key, bounded by the limit.
#define SQL_GUILD_ACCOUNTS                                                                         \
    "SELECT guild_id, user_id, balance, version FROM accounts "                                    \
    "WHERE guild_id = $2::bigint AND user_id > $3::bigint AND balance > 0 "                        \
    "ORDER BY user_id LIMIT $1::int"

//  The columns of ledger_batch, in parameter order.
typedef enum {
    COL_KEY = 0,
    COL_GUILD,
    COL_KIND,
    COL_FROM,
    COL_TO,
    COL_AMOUNT,
    COL_ACTOR,
    COL_NOW,
    COL_COOLDOWN,
    COL_COUNT
} column_t;

void
ledger_statement_clear (ledger_statement_t *self)
{
    for (int i = 0; i < LEDGER_SQL_MAX_PARAMS; i++) {
        free (self->params[i]);
        self->params[i] = NULL;
    }
    self->nparams = 0;
}

static void
s_id (FILE *out, uint64_t id)
{
    fprintf (out, "%" PRId64, (int64_t) id);
}

//  A text[] element: quoted, with \ and " escaped.
static void
s_quoted (FILE *out, const char *text)
{
    fputc ('"', out);
    for (const char *c = text; *c; c++) {
        if (*c == '"' || *c == '\\')
            fputc ('\\', out);
        fputc (*c, out);
    }
    fputc ('"', out);
}

static void
s_transfer_value (FILE *out, const ledger_request_t *r, column_t column)
{
    switch (column) {
    case COL_KEY:
        s_quoted (out, r->idempotency_key);
        break;
    case COL_GUILD:
        s_id (out, r->guild_id);
        break;
    case COL_KIND:
        fprintf (out, "%d", r->kind);
        break;
    case COL_FROM:
        s_id (out, r->from_user);
        break;
    case COL_TO:
        s_id (out, r->to_user);
        break;
    case COL_AMOUNT:
        fprintf (out, "%" PRId64, r->amount);
        break;
    case COL_ACTOR:
        s_id (out, r->actor);
        break;
    case COL_NOW:
        fprintf (out, "%" PRId64, r->now_ms);
        break;
    default:
        fprintf (out, "%" PRId64, r->cooldown_ms);
        break;
    }
}

//  One '{...}' text array per column: value (out, rows[i], column).
typedef void (value_fn) (FILE *out, const void *row, int column);

static int
s_arrays (ledger_statement_t *out, const char *sql, int columns, const void *const *rows,
          size_t count, value_fn *value)
{
    *out = (ledger_statement_t){.sql = sql, .nparams = columns};
    for (int column = 0; column < columns; column++) {
        size_t size = 0;
        FILE *stream = open_memstream (&out->params[column], &size);
        if (!stream) {
            ledger_statement_clear (out);
            return -1;
        }
        fputc ('{', stream);
        for (size_t i = 0; i < count; i++) {
            if (i)
                fputc (',', stream);
            value (stream, rows[i], column);
        }
        fputc ('}', stream);
        if (fclose (stream) != 0) {
            ledger_statement_clear (out);
            return -1;
        }
    }
    return 0;
}

static void
s_transfer_cell (FILE *out, const void *row, int column)
{
    s_transfer_value (out, row, (column_t) column);
}

static void
s_account_cell (FILE *out, const void *row, int column)
{
    const ledger_account_key_t *account = row;
    s_id (out, column == 0 ? account->guild_id : account->user_id);
}

int
ledger_sql_transfers (ledger_statement_t *out, const ledger_request_t *const *requests,
                      size_t count)
{
    return s_arrays (out, SQL_TRANSFERS, COL_COUNT, (const void *const *) requests, count,
                     s_transfer_cell);
}

int
ledger_sql_gets (ledger_statement_t *out, const ledger_account_key_t *const *accounts, size_t count)
{
    return s_arrays (out, SQL_GETS, 2, (const void *const *) accounts, count, s_account_cell);
}

//  Scalar parameters, each printed into its own string.
static int
s_scalars (ledger_statement_t *out, const char *sql, int nparams, const int64_t *values)
{
    *out = (ledger_statement_t){.sql = sql, .nparams = nparams};
    for (int i = 0; i < nparams; i++)
        if (asprintf (&out->params[i], "%" PRId64, values[i]) < 0) {
            out->params[i] = NULL;
            ledger_statement_clear (out);
            return -1;
        }
    return 0;
}

int
ledger_sql_history (ledger_statement_t *out, uint64_t guild_id, uint64_t user_id, uint32_t limit,
                    uint64_t before_transfer_id)
{
    int64_t before = before_transfer_id == 0 || before_transfer_id > INT64_MAX
                         ? INT64_MAX
                         : (int64_t) before_transfer_id;
    int64_t values[] = {(int64_t) guild_id, (int64_t) user_id, before, (int64_t) limit + 1};
    return s_scalars (out, SQL_HISTORY, 4, values);
}

int
ledger_sql_board (ledger_statement_t *out, uint64_t guild_id, uint32_t page, uint32_t page_size)
{
    int64_t values[] = {(int64_t) guild_id, (int64_t) page_size + 1,
                        (int64_t) (page - 1) * page_size};
    return s_scalars (out, SQL_BOARD, 3, values);
}

int
ledger_sql_active (ledger_statement_t *out, uint32_t limit, uint64_t guild_id, uint64_t after_user)
{
    int64_t values[] = {(int64_t) limit, (int64_t) guild_id, (int64_t) after_user};
    return guild_id ? s_scalars (out, SQL_GUILD_ACCOUNTS, 3, values)
                    : s_scalars (out, SQL_ACTIVE, 1, values);
}

static int64_t
s_int (const PGresult *result, int row, int column)
{
    return PQgetisnull (result, row, column) ? 0
                                             : strtoll (PQgetvalue (result, row, column), NULL, 10);
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

bool
ledger_sql_transfers_shaped (const PGresult *result, size_t count)
{
    return (size_t) PQntuples (result) == count && PQnfields (result) == 9;
}

bool
ledger_sql_gets_shaped (const PGresult *result, size_t count)
{
    return (size_t) PQntuples (result) == count && PQnfields (result) == 2;
}

int
ledger_sql_outcome (const PGresult *result, int row, ledger_outcome_t *outcome)
{
    memset (outcome, 0, sizeof *outcome);
    outcome->status = (Cordbank__Status) s_int (result, row, 0);
    snprintf (outcome->message, sizeof outcome->message, "%s", PQgetvalue (result, row, 1));
    outcome->transfer_id = (uint64_t) s_int (result, row, 2);
    outcome->amount = s_int (result, row, 3);
    int64_t users[LEDGER_MAX_ACCOUNTS], balances[LEDGER_MAX_ACCOUNTS],
        versions[LEDGER_MAX_ACCOUNTS];
    size_t count = s_parse_array (PQgetvalue (result, row, 4), users, LEDGER_MAX_ACCOUNTS);
    if (s_parse_array (PQgetvalue (result, row, 5), balances, LEDGER_MAX_ACCOUNTS) != count ||
        s_parse_array (PQgetvalue (result, row, 6), versions, LEDGER_MAX_ACCOUNTS) != count)
        return -1;
    for (size_t i = 0; i < count; i++)
        outcome->accounts[i] = (ledger_account_t){.user_id = (uint64_t) users[i],
                                                  .balance = balances[i],
                                                  .version = (uint64_t) versions[i]};
    outcome->account_count = count;
    outcome->retry_at_ms = s_int (result, row, 7);
    outcome->replayed = strcmp (PQgetvalue (result, row, 8), "t") == 0;
    return 0;
}

void
ledger_sql_balance (const PGresult *result, int row, int64_t *balance, uint64_t *version)
{
    *balance = s_int (result, row, 0);
    *version = (uint64_t) s_int (result, row, 1);
}

void
ledger_sql_history_rows (const PGresult *result, uint32_t limit, ledger_history_t *out)
{
    memset (out, 0, sizeof *out);
    int rows = PQntuples (result);
    for (int row = 0; row < rows && PQnfields (result) == 8; row++) {
        if (out->count == limit || out->count == LEDGER_HISTORY_MAX) {
            out->has_more = true;
            break;
        }
        out->entries[out->count++] = (ledger_history_entry_t){
            .transfer_id = (uint64_t) s_int (result, row, 0),
            .kind = (int) s_int (result, row, 1),
            .from_user = (uint64_t) s_int (result, row, 2),
            .to_user = (uint64_t) s_int (result, row, 3),
            .amount = s_int (result, row, 4),
            .delta = s_int (result, row, 5),
            .actor = (uint64_t) s_int (result, row, 6),
            .created_ms = s_int (result, row, 7),
        };
    }
}

void
ledger_sql_board_rows (const PGresult *result, uint32_t page, uint32_t page_size,
                       ledger_board_t *out)
{
    memset (out, 0, sizeof *out);
    int rows = PQntuples (result);
    uint64_t first_rank = (uint64_t) (page - 1) * page_size + 1;
    for (int row = 0; row < rows && PQnfields (result) == 2; row++) {
        if (out->count == page_size || out->count == LEDGER_BOARD_MAX) {
            out->has_more = true;
            break;
        }
        out->entries[out->count] = (ledger_board_entry_t){
            .rank = (uint32_t) (first_rank + out->count),
            .user_id = (uint64_t) s_int (result, row, 0),
            .balance = s_int (result, row, 1),
        };
        out->count++;
    }
}

int
ledger_sql_active_rows (const PGresult *result, ledger_active_t *out)
{
    *out = (ledger_active_t){0};
    int rows = PQnfields (result) == 4 ? PQntuples (result) : 0;
    if (rows > LEDGER_ACTIVE_MAX)
        rows = LEDGER_ACTIVE_MAX;
    if (rows == 0)
        return 0;
    out->entries = calloc ((size_t) rows, sizeof *out->entries);
    if (!out->entries)
        return -1;
    for (int row = 0; row < rows; row++)
        out->entries[row] = (ledger_active_entry_t){
            .guild_id = (uint64_t) s_int (result, row, 0),
            .user_id = (uint64_t) s_int (result, row, 1),
            .balance = s_int (result, row, 2),
            .version = (uint64_t) s_int (result, row, 3),
        };
    out->count = (size_t) rows;
    return 0;
}
