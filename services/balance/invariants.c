/*  invariants — `cordbank-balance --check-invariants` (see invariants.h).
 *
 *  The checks themselves are the view ledger_invariant_violations
 *  (migrations/003), so a test can also run them with psql. Offenders go to
 *  stdout, one line each, in a form a script can grep; the verdict goes to
 *  stderr.
 */
#include "services/balance/invariants.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "services/balance/ledger.h"

static void
s_print (const ledger_violation_t *violation, void *arg)
{
    (void) arg;
    if (strcmp (violation->check, "guild_sum") == 0)
        printf ("guild %" PRIu64 ": balances sum to %s, expected %s\n", violation->guild_id,
                violation->actual, violation->expected);
    else if (violation->has_user)
        printf ("account %" PRIu64 "/%" PRIu64 ": balance %s, legs sum to %s\n",
                violation->guild_id, violation->user_id, violation->actual, violation->expected);
    else
        printf ("guild %" PRIu64 ": %s violated (%s, expected %s)\n", violation->guild_id,
                violation->check, violation->actual, violation->expected);
}

int
invariants_main (const char *pg_url, int64_t timeout_ms)
{
    cb_log_init ("balance", "check-invariants");
    ledger_config_t config = {.pg_url = pg_url, .statement_timeout_ms = timeout_ms};
    ledger_t *ledger = ledger_new (&config);
    if (!ledger)
        return 2;
    int found = ledger_connect (ledger) == 0 ? ledger_check_invariants (ledger, s_print, NULL) : -1;
    fflush (stdout);
    if (found < 0)
        fprintf (stderr, "cordbank-balance: cannot check invariants: %s\n", ledger_error (ledger));
    else if (found > 0)
        fprintf (stderr, "cordbank-balance: %d invariant violation%s\n", found,
                 found == 1 ? "" : "s");
    else
        fprintf (stderr, "cordbank-balance: invariants hold: every guild sums to 0, every "
                         "account equals its legs\n");
    ledger_destroy (&ledger);
    return found < 0 ? 2 : found > 0 ? 1 : 0;
}
