/*  stats — what a load run counts, and the two ways it reports it.
 *
 *  Counters and a latency histogram for the whole run, and the same for
 *  the current one-second window. Every second, one line on stderr:
 *
 *      t=3s sent=200 ok=180 refused=20 errors=0 cmd/s=200.0 p50=1.2ms p99=4.8ms
 *
 *  (window values: sends made and outcomes reached in that second; cmd/s
 *  is HTTP answers per second; p50/p99 are "-" when no answer came). At
 *  the end, one JSON object on stdout:
 *
 *      {"duration_s":10.0,"sent":2000,"answered":2000,"ok":1800,"refused":200,
 *       "errors":{},"commands_per_s":200.0,"p50_ms":1.2,"p90_ms":2.0,
 *       "p99_ms":4.8,"p999_ms":8.0,"max_ms":9.1,"users":100,"guilds":10,"rate":200.0,
 *       "percentiles":[{"p":50,"ms":1.2},...,{"p":100,"ms":9.1}]}
 *
 *  "answered" counts HTTP responses of any status, commands_per_s is
 *  answered / duration_s, and the latency fields are null when nothing was
 *  answered. Latency is recorded in microseconds, from a send's scheduled
 *  time to its answer, for answered requests only; max_ms is exact.
 */
#ifndef SIM_STATS_H
#define SIM_STATS_H

#include "load/discord-sim/check.h"

#include <stdint.h>
#include <stdio.h>

typedef struct sim_stats sim_stats_t;

sim_stats_t *sim_stats_new (void);
void sim_stats_destroy (sim_stats_t **self_p);

void sim_stats_on_sent (sim_stats_t *self);
void sim_stats_on_verdict (sim_stats_t *self, const sim_verdict_t *verdict, uint64_t latency_us);

uint64_t sim_stats_errors (const sim_stats_t *self);

//  Writes the window line for second t (window_s long) and starts a new window.
void sim_stats_print_window (sim_stats_t *self, FILE *out, int64_t t, double window_s);

//  Writes the current window as one JSON line, without starting a new one:
//  {"t","target_rate","sent","answered","ok","refused","errors","p50_ms",
//  "p90_ms","p99_ms","max_ms"} (target_rate null when NaN, latencies null
//  when nothing was answered). Call it before sim_stats_print_window.
void sim_stats_print_window_json (const sim_stats_t *self, FILE *out, int64_t t,
                                  double target_rate);

typedef struct {
    double duration_s;
    int64_t users;
    int64_t guilds;
    double rate;       // NaN: no fixed rate (closed model), printed as null
    const char *model; // the labels below are printed when not NULL
    const char *mix;
    const char *popularity;
    int64_t think_ms; // printed when model is "closed"
} sim_run_info_t;

//  Writes the summary object and a newline. 0, or -1 when out of memory.
int sim_stats_print_summary (const sim_stats_t *self, FILE *out, const sim_run_info_t *info);

int sim_stats_test (void);

#endif
