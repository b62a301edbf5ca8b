/*  histogram — latency percentiles without keeping every sample.
 *
 *  A log-linear histogram of unsigned values (the simulator records
 *  microseconds): values below 256 have a bucket each; above, every power
 *  of two is split into 128 equal buckets, so a reported value is within
 *  0.8% of the true one. Recording is O(1); a percentile walks the 4,353
 *  counters (35 KB per histogram). Values at or above 2^40 (12 days in us) are
 *  clamped into the last bucket. min and max are kept exactly.
 */
#ifndef SIM_HISTOGRAM_H
#define SIM_HISTOGRAM_H

#include <stdint.h>

typedef struct sim_hist sim_hist_t;

sim_hist_t *sim_hist_new (void);
void sim_hist_destroy (sim_hist_t **self_p);

void sim_hist_record (sim_hist_t *self, uint64_t value);
void sim_hist_reset (sim_hist_t *self);
//  Adds every sample of src to self.
void sim_hist_merge (sim_hist_t *self, const sim_hist_t *src);

uint64_t sim_hist_count (const sim_hist_t *self);
uint64_t sim_hist_min (const sim_hist_t *self);
uint64_t sim_hist_max (const sim_hist_t *self);
//  The value below which p percent (0..100) of the samples fall, to within
//  the bucket precision, clamped to [min, max]; 0 when empty.
uint64_t sim_hist_percentile (const sim_hist_t *self, double p);

//  Self-test (see selftest.h): 0, or -1 after printing what failed.
int sim_hist_test (void);

#endif
