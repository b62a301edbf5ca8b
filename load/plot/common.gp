# load/plot/common.gp — the look every report plot shares. Each plot script
# loads it first. load/report.sh draws every plot in one gnuplot run: before
# loading a plot script it does "reset" and sets
#   dir    this directory        fmt    'png' or 'svg'
#   out    the file to write     title  the plot's title
#   dat    the data file (one block per series), and the script's own
#   variables (names, knees, ylabel).
# noenhanced everywhere: scenario and process names hold '_' and '-', which
# enhanced text would read as markup.
if (fmt eq 'png') {
    set terminal pngcairo size 900,380 font 'DejaVu Sans,10' noenhanced
} else {
    set terminal svg size 900,380 dynamic font 'DejaVu Sans,10' noenhanced background '#ffffff'
}
set output out
set title title font ',12'
set border 3 lc rgb '#555555'
set tics nomirror textcolor rgb '#333333'
set grid xtics ytics lc rgb '#e4e4e4' lw 1 lt 1 dt 1
set key top left reverse Left opaque box lc rgb '#dddddd' samplen 2 spacing 1.1
set datafile separator whitespace
# One colour per series, the same order in every plot: cordbank first, then
# the peer, then further processes.
set linetype 1 lc rgb '#1f6fb4' lw 2 pt 7 ps 0.7
set linetype 2 lc rgb '#e0672b' lw 2 pt 5 ps 0.7
set linetype 3 lc rgb '#2a9d4a' lw 2 pt 9 ps 0.8
set linetype 4 lc rgb '#c03a3a' lw 2 pt 11 ps 0.8
set linetype 5 lc rgb '#7b4fb0' lw 2 pt 13 ps 0.8
set linetype 6 lc rgb '#8c5a3c' lw 2 pt 3 ps 0.8
set linetype 7 lc rgb '#d158a8' lw 2 pt 1 ps 0.8
set linetype 8 lc rgb '#666666' lw 2 pt 2 ps 0.8
set linetype cycle 8
