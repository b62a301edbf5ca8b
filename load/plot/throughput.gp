# load/plot/throughput.gp — one scenario's throughput, second by second.
# dat columns (shared with latency.gp): t target_rate answered errors p50_ms
# p99_ms max_ms, from scenarios/NAME.timeline.jsonl. The offered rate is
# dashed so that a gap between it and the answers (saturation) stands out.
load dir.'/common.gp'
set xlabel 'seconds into the scenario'
set ylabel 'per second'
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
plot dat using 1:2 with lines lc rgb '#999999' lw 2 dt 2 title 'offered (target rate)', \
     ''  using 1:3 with lines lt 1 title 'answered', \
     ''  using 1:4 with lines lt 4 title 'errors'
