/*  ledger_sql: requests into statement parameters, rows into outcomes.
 *
 *  Results are built with libpq's own PQmakeEmptyPGresult / PQsetvalue,
 *  so no server is needed.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "services/balance/ledger_sql.h"

static PGresult *
s_result (int columns, int rows, const char *const *cells)
{
    PGresult *result = PQmakeEmptyPGresult (NULL, PGRES_TUPLES_OK);
    PGresAttDesc attrs[16];
    char names[16][16];
    for (int c = 0; c < columns; c++) {
        snprintf (names[c], sizeof names[c], "c%d", c);
        attrs[c] = (PGresAttDesc){.name = names[c], .format = 0, .typlen = -1, .atttypmod = -1};
    }
    cr_assert (PQsetResultAttrs (result, columns, attrs));
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < columns; c++) {
            const char *cell = cells[r * columns + c];
            cr_assert (PQsetvalue (result, r, c, (char *) cell, cell ? (int) strlen (cell) : -1));
        }
    return result;
}

Test (ledger_sql, transfer_arrays_quote_keys)
{
    ledger_request_t a = {.idempotency_key = "9001",
                          .guild_id = 7,
                          .kind = 1,
                          .from_user = 1,
                          .to_user = 2,
                          .amount = 30,
                          .actor = 1,
                          .now_ms = 5};
    ledger_request_t b = {.idempotency_key = "q\"\\,{}'",
                          .guild_id = UINT64_MAX,
                          .kind = 4,
                          .to_user = 3,
                          .amount = -8,
                          .actor = 9,
                          .cooldown_ms = 3600000};
    const ledger_request_t *rows[] = {&a, &b};
    ledger_statement_t statement;
    cr_assert_eq (ledger_sql_transfers (&statement, rows, 2), 0);
    cr_assert_eq (statement.nparams, 9);
    cr_assert (strstr (statement.sql, "ledger_batch"));
    cr_assert_str_eq (statement.params[0], "{\"9001\",\"q\\\"\\\\,{}'\"}");
    cr_assert_str_eq (statement.params[1], "{7,-1}", "uint64 ids cross bit for bit");
    cr_assert_str_eq (statement.params[2], "{1,4}");
    cr_assert_str_eq (statement.params[5], "{30,-8}");
    cr_assert_str_eq (statement.params[8], "{0,3600000}");
    ledger_statement_clear (&statement);
    cr_assert_null (statement.params[0]);
}

Test (ledger_sql, gets_history_and_board_parameters)
{
    ledger_account_key_t one = {1, 2}, two = {3, 4};
    const ledger_account_key_t *rows[] = {&one, &two};
    ledger_statement_t statement;
    cr_assert_eq (ledger_sql_gets (&statement, rows, 2), 0);
    cr_assert_str_eq (statement.params[0], "{1,3}");
    cr_assert_str_eq (statement.params[1], "{2,4}");
    ledger_statement_clear (&statement);

    cr_assert_eq (ledger_sql_history (&statement, 7, 8, 10, 0), 0);
    cr_assert_str_eq (statement.params[2], "9223372036854775807", "0: from the newest");
    cr_assert_str_eq (statement.params[3], "11", "one more row than asked");
    ledger_statement_clear (&statement);
    cr_assert_eq (ledger_sql_history (&statement, 7, 8, 10, 500), 0);
    cr_assert_str_eq (statement.params[2], "500");
    ledger_statement_clear (&statement);

    cr_assert_eq (ledger_sql_board (&statement, 7, 3, 10), 0);
    cr_assert_str_eq (statement.params[1], "11");
    cr_assert_str_eq (statement.params[2], "20", "page 3 starts after 20");
    ledger_statement_clear (&statement);
}

Test (ledger_sql, outcome_rows)
{
    const char *cells[] = {
        "1",     "",
        "42",    "30",
        "{5,6}", "{70,30}",
        "{2,1}", "0",
        "f", //
        "2",     "insufficient funds",
        NULL,    "0",
        "{6}",   "{30}",
        "{1}",   "0",
        "t", //
        "1",     "",
        "43",    "30",
        "{5,6}", "{70}",
        "{2,1}", "0",
        "f", // uneven
    };
    PGresult *result = s_result (9, 3, cells);
    cr_assert (ledger_sql_transfers_shaped (result, 3));
    cr_assert_not (ledger_sql_transfers_shaped (result, 2));
    ledger_outcome_t outcome;
    cr_assert_eq (ledger_sql_outcome (result, 0, &outcome), 0);
    cr_assert_eq (outcome.status, 1);
    cr_assert_eq (outcome.transfer_id, 42);
    cr_assert_eq (outcome.account_count, 2);
    cr_assert_eq (outcome.accounts[0].user_id, 5);
    cr_assert_eq (outcome.accounts[1].balance, 30);
    cr_assert_eq (outcome.accounts[0].version, 2);
    cr_assert_not (outcome.replayed);
    cr_assert_eq (ledger_sql_outcome (result, 1, &outcome), 0);
    cr_assert_eq (outcome.transfer_id, 0, "NULL reads as 0");
    cr_assert_str_eq (outcome.message, "insufficient funds");
    cr_assert (outcome.replayed);
    cr_assert_eq (ledger_sql_outcome (result, 2, &outcome), -1, "uneven arrays are refused");
    PQclear (result);
}

Test (ledger_sql, history_and_board_rows_say_when_there_is_more)
{
    const char *history[] = {
        "9", "1", "1", "2", "30",  "-30", "1", "1700000000000", //
        "8", "2", "0", "1", "100", "100", "1", "1699999999000", //
    };
    PGresult *result = s_result (8, 2, history);
    ledger_history_t out;
    ledger_sql_history_rows (result, 1, &out);
    cr_assert_eq (out.count, 1);
    cr_assert (out.has_more);
    cr_assert_eq (out.entries[0].delta, -30);
    cr_assert_eq (out.entries[0].created_ms, 1700000000000);
    ledger_sql_history_rows (result, 10, &out);
    cr_assert_eq (out.count, 2);
    cr_assert_not (out.has_more);
    PQclear (result);

    const char *board[] = {"5", "900", "6", "800", "7", "700"};
    result = s_result (2, 3, board);
    ledger_board_t page;
    ledger_sql_board_rows (result, 2, 2, &page);
    cr_assert_eq (page.count, 2);
    cr_assert (page.has_more);
    cr_assert_eq (page.entries[0].rank, 3, "page 2 of 2 starts at rank 3");
    cr_assert_eq (page.entries[1].user_id, 6);
    PQclear (result);
}
