# load/plot/percentiles.gp — latency percentile curves, cordbank against the
# peer, on a "nines" x axis: x = log10(1 / (1 - p/100)), so 90, 99, 99.9 and
# 99.99 are evenly spaced and the tail gets the room it deserves.
# dat: one block per series (separated by two blank lines), columns x ms;
# names: the series titles, one word each, in block order.
load dir.'/common.gp'
set xlabel 'percentile'
set ylabel 'latency (ms)'
set logscale y 10
set format y '%g'
set xtics ('50' log10(2), '90' 1, '99' 2, '99.9' 3, '99.99' 4, '99.999' 5, '99.9999' 6)
stats dat using 1 nooutput
set xrange [log10(2) - 0.15:STATS_max + 0.15]
plot for [i=1:words(names)] dat index (i - 1) using 1:2 with linespoints lt i title word(names, i)
