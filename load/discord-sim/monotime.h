/*  monotime — the simulator's time units. The clock itself is
 *  cb_mono_ns (common/clock.h): nanoseconds, fine enough to pace a send
 *  every 50 us and to measure loopback latencies of a few hundred us.
 */
#ifndef SIM_MONOTIME_H
#define SIM_MONOTIME_H

#include <stdint.h>

#include "common/clock.h"

#define SIM_NS_PER_S  INT64_C (1000000000)
#define SIM_NS_PER_MS INT64_C (1000000)

#endif
