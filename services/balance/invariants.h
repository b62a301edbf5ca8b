/*  invariants — `cordbank-balance --check-invariants`: the ledger's two
 *  invariants checked against a live database, for operators, chaos and DR
 *  tests.
 */
#ifndef BALANCE_INVARIANTS_H
#define BALANCE_INVARIANTS_H

#include <stdint.h>

//  Connects to pg_url (no migrations), prints one line per offending guild
//  or account on stdout. Returns the process exit code: 0 when the ledger
//  is consistent, 1 when it is not, 2 when the database cannot be checked.
int invariants_main (const char *pg_url, int64_t timeout_ms);

#endif
