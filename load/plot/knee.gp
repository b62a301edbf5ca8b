# load/plot/knee.gp — stress: P99 against the offered rate, one curve per
# target, and a dotted line at each knee (the highest rate the bench counted
# as sustained). dat: one block per series, columns rate p99_ms;
# names: series titles; knees: one knee rate per series ('null' for none).
load dir.'/common.gp'
set xlabel 'offered rate (commands/s)'
set ylabel 'P99 latency (ms)'
set logscale y 10
set format y '%g'
set xrange [0:*]
do for [i=1:words(knees)] {
    k = word(knees, i)
    if (k ne 'null') {
        set arrow from real(k), graph 0 to real(k), graph 1 nohead dt 3 lw 1.5 lt i
        set label sprintf('knee %s: %s/s', word(names, i), k) at real(k), graph 0.95 offset 0.5, 0 textcolor lt i
    }
}
plot for [i=1:words(names)] dat index (i - 1) using 1:2 with linespoints lt i title word(names, i)
