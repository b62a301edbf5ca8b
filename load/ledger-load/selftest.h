/*  selftest — cordbank-ledger-load's own checks, run by `--self-test`.
 *
 *  Like the simulator, the tool is not linked into the unit-test runner, so
 *  each module keeps a czmq-style `<module>_test ()` beside its code. They
 *  need no network.
 */
#ifndef LL_SELFTEST_H
#define LL_SELFTEST_H

#include <stdio.h>

//  Inside a `<module>_test ()`: print the failed condition and return -1.
#define LL_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf (stderr, "self-test failed: %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

#endif
