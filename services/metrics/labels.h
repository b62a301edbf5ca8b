/*  labels — reading one label's value out of Prometheus label text.
 *
 *  Snapshots carry each sample's labels as the text that goes between
 *  the braces (a="x",b="y\"z"), written by cb_metrics_labels. The
 *  summary and the alerts need single values out of it (outcome, status,
 *  target, check); this is the one place that unescapes them.
 */
#ifndef METRICS_LABELS_H
#define METRICS_LABELS_H

#include <stdbool.h>
#include <stddef.h>

//  Copies the unescaped value of label `name` into out (always
//  terminated, cut to outlen - 1 bytes). False when labels is NULL, the
//  label is absent or the text is malformed (out is then "").
bool labels_get (const char *labels, const char *name, char *out, size_t outlen);

//  True when label `name` is present with exactly `value`.
bool labels_is (const char *labels, const char *name, const char *value);

//  Iterates over pairs: reads the pair at p (label text, or what an
//  earlier call returned) into name and value (unescaped, cut to size) and
//  returns where the next pair starts; NULL at the end or on malformed
//  text.
const char *labels_next (const char *p, char *name, size_t name_size, char *value,
                         size_t value_size);

#endif
