/*  monotime — monotonic nanoseconds for scheduling and latency.
 *
 *  common/clock.h has milliseconds, which is too coarse to measure
 *  loopback latencies of a few hundred microseconds or to pace a send
 *  every 50 us; the simulator keeps its own finer clock here.
 */
#ifndef SIM_MONOTIME_H
#define SIM_MONOTIME_H

#include <stdint.h>
#include <time.h>

#define SIM_NS_PER_S  INT64_C (1000000000)
#define SIM_NS_PER_MS INT64_C (1000000)

static inline int64_t
sim_mono_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * SIM_NS_PER_S + ts.tv_nsec;
}

#endif
