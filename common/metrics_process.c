/*  metrics_process — the metrics every process exposes (see metrics.h).
 *
 *  Read from /proc/self on each snapshot, so they are as fresh as the
 *  snapshot; a file that cannot be read (not Linux, /proc not mounted)
 *  leaves its metric out rather than reporting a false zero. The names are
 *  those of the Prometheus client libraries, so stock dashboards work.
 */
#include "common/metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
read_resident_bytes (double *bytes)
{
    FILE *file = fopen ("/proc/self/statm", "r");
    if (!file)
        return -1;
    unsigned long size, resident;
    int fields = fscanf (file, "%lu %lu", &size, &resident);
    fclose (file);
    if (fields != 2)
        return -1;
    *bytes = (double) resident * (double) sysconf (_SC_PAGESIZE);
    return 0;
}

//  utime + stime, fields 14 and 15 of /proc/self/stat; the command name
//  (field 2, in parentheses) may hold spaces, so parsing starts after it.
static int
read_cpu_seconds (double *seconds)
{
    char line[1024];
    FILE *file = fopen ("/proc/self/stat", "r");
    if (!file)
        return -1;
    size_t size = fread (line, 1, sizeof line - 1, file);
    fclose (file);
    line[size] = '\0';
    const char *rest = strrchr (line, ')');
    unsigned long user, system;
    if (!rest || sscanf (rest + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &user,
                         &system) != 2)
        return -1;
    *seconds = (double) (user + system) / (double) sysconf (_SC_CLK_TCK);
    return 0;
}

static int
count_open_fds (double *count)
{
    DIR *dir = opendir ("/proc/self/fd");
    if (!dir)
        return -1;
    size_t entries = 0;
    for (struct dirent *entry; (entry = readdir (dir));)
        if (entry->d_name[0] != '.')
            entries++;
    closedir (dir);
    //  One of them was the directory being read.
    *count = entries ? (double) (entries - 1) : 0;
    return 0;
}

void
cb_metrics_process_update (void)
{
    double value;
    if (read_resident_bytes (&value) == 0)
        cb_gauge_set (cb_metrics_gauge ("process_resident_memory_bytes",
                                        "Resident memory size in bytes.", NULL),
                      value);
    if (read_cpu_seconds (&value) == 0)
        cb_counter_set (cb_metrics_counter ("process_cpu_seconds_total",
                                            "Total user and system CPU time spent in seconds.",
                                            NULL),
                        value);
    if (count_open_fds (&value) == 0)
        cb_gauge_set (
            cb_metrics_gauge ("process_open_fds", "Number of open file descriptors.", NULL), value);
    char labels[128];
    cb_metrics_labels (labels, sizeof labels, "version", CB_VERSION, NULL);
    cb_gauge_set (cb_metrics_gauge ("cordbank_build_info",
                                    "Build of this process; the value is always 1.", labels),
                  1);
}
