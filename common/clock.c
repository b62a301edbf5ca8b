/*  clock — wall-clock and monotonic time (see clock.h).
 *
 *  CORDBANK_FAKE_NOW_MS pins the wall clock's starting point for tests that
 *  must cross a 24 h cooldown without waiting; real time still advances
 *  from there, so timeouts keep working.
 */
#include "common/clock.h"

#include <stdlib.h>
#include <time.h>

int64_t
cb_mono_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
cb_mono_us (void)
{
    return cb_mono_ns () / 1000;
}

int64_t
cb_mono_ms (void)
{
    return cb_mono_ns () / 1000000;
}

static int64_t
real_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
cb_now_ms (void)
{
    //  Offset between the fake and the real clock, computed once.
    static int64_t offset;
    static int initialised;
    if (!initialised) {
        const char *fake = getenv ("CORDBANK_FAKE_NOW_MS");
        if (fake && *fake) {
            char *end;
            long long value = strtoll (fake, &end, 10);
            if (*end == '\0' && value > 0)
                offset = value - real_ms ();
        }
        initialised = 1;
    }
    return real_ms () + offset;
}

int64_t
cb_ms_until (int64_t at_ms)
{
    int64_t remaining;
    if (__builtin_sub_overflow (at_ms, cb_now_ms (), &remaining))
        return at_ms > 0 ? INT64_MAX : 0;
    return remaining;
}
