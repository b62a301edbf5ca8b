# load/plot/latency.gp — one scenario's latency, second by second, on a log
# axis so that P50 and the worst answer fit on one plot.
# dat columns (shared with throughput.gp): t target_rate answered errors
# p50_ms p99_ms max_ms; NaN for a second with no answer, which leaves a gap
# rather than a made-up value.
load dir.'/common.gp'
set xlabel 'seconds into the scenario'
set ylabel 'latency (ms)'
set logscale y 10
set format y '%g'
# ($n) rather than n: an expression that is NaN breaks the line.
plot dat using 1:($5) with lines lt 1 title 'P50', \
     ''  using 1:($6) with lines lt 2 title 'P99', \
     ''  using 1:($7) with lines lt 8 lw 1 title 'max'
