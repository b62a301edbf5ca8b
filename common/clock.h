/*  clock — wall and monotonic time in milliseconds.
 *
 *  Deadlines travel between processes, so they are wall-clock Unix ms
 *  (cb_now_ms). Intervals measured inside one process use cb_mono_ms, which
 *  never jumps. Tests may pin the wall clock with CORDBANK_FAKE_NOW_MS
 *  (read once, then advanced with real time) to cross cooldowns.
 */
#ifndef CB_CLOCK_H
#define CB_CLOCK_H

#include <stdint.h>

int64_t cb_now_ms (void);
int64_t cb_mono_ms (void);
//  Microseconds, for latency histograms (buckets start below 1 ms).
int64_t cb_mono_us (void);
//  Nanoseconds, for pacing sends a few microseconds apart (the simulator).
int64_t cb_mono_ns (void);
//  Milliseconds from now until the wall-clock time at_ms (negative when it
//  has passed); a wild value that would overflow gives INT64_MAX (far
//  ahead) or 0 (far behind).
int64_t cb_ms_until (int64_t at_ms);

#endif
