/*  selftest — the simulator's own checks, run by `--self-test`.
 *
 *  The simulator is not linked into the unit-test runner (that one links
 *  common/ only), so each module keeps a czmq-style `<module>_test ()`
 *  beside its code and `--self-test` runs them all. They need no network.
 */
#ifndef SIM_SELFTEST_H
#define SIM_SELFTEST_H

#include <stdio.h>

//  Inside a `<module>_test ()`: print the failed condition and return -1.
#define SIM_CHECK(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf (stderr, "self-test failed: %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

//  Runs every module's test; prints "self-test: ok" on stdout. 0 or 1 (exit code).
int sim_selftest_run (void);

#endif
