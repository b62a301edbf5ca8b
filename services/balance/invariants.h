/*  invariants — the ledger's two invariants (every guild sums to 0, every
 *  account equals the sum of its legs) checked against a live database:
 *  once by `cordbank-balance --check-invariants`, for operators, chaos and
 *  DR tests, and continually by each running instance (the watch), for
 *  metrics and alerts.
 */
#ifndef BALANCE_INVARIANTS_H
#define BALANCE_INVARIANTS_H

#include <stdint.h>

//  Connects to pg_url (no migrations), prints one line per offending guild
//  or account on stdout. Returns the process exit code: 0 when the ledger
//  is consistent, 1 when it is not, 2 when the database cannot be checked.
int invariants_main (const char *pg_url, int64_t timeout_ms);

//  A check longer than this fails (and is counted): a ledger that large
//  needs a longer --invariant-check-s and --check-invariants off-peak.
#define INVARIANTS_WATCH_TIMEOUT_MS 15000

typedef struct invariants_watch invariants_watch_t;

//  Checks every interval_s in a thread of its own, on a connection of its
//  own, the first time at a random point of the first interval. Exports
//  cordbank_ledger_invariant_violations{check="guild_sum"|"account_legs"},
//  cordbank_ledger_invariant_checked_timestamp_seconds,
//  cordbank_ledger_invariant_check_duration_seconds and
//  cordbank_ledger_invariant_check_failures_total; logs an error when
//  violations appear and a line when they are gone. NULL when the thread
//  cannot start.
invariants_watch_t *invariants_watch_new (const char *pg_url, int64_t interval_s);
//  Waits for a check in progress (at most INVARIANTS_WATCH_TIMEOUT_MS).
void invariants_watch_destroy (invariants_watch_t **self_p);

#endif
