# load/plot/samples.gp — one figure per process over time (RSS or open fds),
# from the samples the bench takes every few seconds. dat: one block per
# process, columns t value; names: the processes, in block order;
# ylabel: what the value is.
load dir.'/common.gp'
set xlabel 'seconds into the scenario'
set ylabel ylabel
set yrange [0:*]
set key outside right top vertical noreverse Right
plot for [i=1:words(names)] dat index (i - 1) using 1:2 with lines lt i title word(names, i)
