/*  metrics_text — label text, and the Prometheus text exposition (format
 *  0.0.4) of metric snapshots (see metrics.h).
 *
 *  There is one renderer, and it renders snapshots, not the registry: an
 *  instance's own /metrics renders its registry's snapshot, the metrics
 *  service renders the snapshots every instance published. Those come off
 *  the wire, and Prometheus refuses a whole scrape for one malformed line,
 *  so everything is checked before it is written and what would be refused
 *  (a bad name, bad label text, bucket counts that do not add up) is left
 *  out and counted instead.
 *
 *  Families are sorted by name across all sources, so a family that
 *  several instances publish is written once, contiguous, as the format
 *  requires. Sample labels are parsed and written again rather than
 *  copied, which lets the renderer put the source's labels in front and
 *  rename a clashing label to exported_<name>.
 *
 *  Numbers: an integer below 2^53 is written without exponent; any other
 *  value with the fewest digits (15..17) that read back as the same double
 *  (so a bound 0.005 is le="0.005"); +Inf, -Inf and NaN as Prometheus
 *  spells them.
 */
#include "common/metrics.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Most labels one sample may have; more is refused as invalid.
#define MAX_LABELS 64
#define NUMBER_MAX 40

//  A growing string; after a failed allocation every write is a no-op.
typedef struct {
    char *data;
    size_t len, cap;
    bool failed;
} text_t;

//  One label of parsed label text; the value is still escaped.
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} label_t;

//  The series a line belongs to: metric name, source labels, own labels.
typedef struct {
    const char *name;
    const label_t *extra;
    size_t extra_count;
    const label_t *own;
    size_t own_count;
} series_t;

//  A family of one source, to be sorted by name across sources.
typedef struct {
    const Cordbank__MetricFamily *family;
    const char *extra_labels;
    size_t source, index;
} entry_t;

static void
text_put (text_t *self, const char *bytes, size_t size)
{
    if (self->failed)
        return;
    if (self->len + size + 1 > self->cap) {
        size_t cap = self->cap ? self->cap : 4096;
        while (self->len + size + 1 > cap)
            cap *= 2;
        char *data = realloc (self->data, cap);
        if (!data) {
            self->failed = true;
            return;
        }
        self->data = data;
        self->cap = cap;
    }
    memcpy (self->data + self->len, bytes, size);
    self->len += size;
    self->data[self->len] = '\0';
}

static void
text_puts (text_t *self, const char *string)
{
    text_put (self, string, strlen (string));
}

//  Length of the valid UTF-8 sequence at s, 0 when it is not one
//  (overlong forms, surrogates and code points past U+10FFFF included).
//  s is NUL-terminated, and NUL ends any sequence.
static size_t
utf8_sequence (const char *s)
{
    const unsigned char *u = (const unsigned char *) s;
    if (u[0] < 0x80)
        return 1;
    size_t n = (u[0] & 0xE0) == 0xC0   ? 2
               : (u[0] & 0xF0) == 0xE0 ? 3
               : (u[0] & 0xF8) == 0xF0 ? 4
                                       : 0;
    if (n == 0)
        return 0;
    static const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t code = u[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return 0;
        code = (code << 6) | (u[i] & 0x3F);
    }
    if (code < smallest[n] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        return 0;
    return n;
}

//  The escaped form of the character at s: its bytes in out, how many
//  bytes of s it stands for in *consumed.
static size_t
escape_char (const char *s, char out[4], size_t *consumed)
{
    *consumed = 1;
    if (*s == '\\' || *s == '"' || *s == '\n') {
        out[0] = '\\';
        out[1] = *s == '\n' ? 'n' : *s;
        return 2;
    }
    size_t n = utf8_sequence (s);
    if (n == 0) {
        out[0] = '?';
        return 1;
    }
    memcpy (out, s, n);
    *consumed = n;
    return n;
}

static bool
is_name_char (char c, bool first, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
           (!first && c >= '0' && c <= '9');
}

//  Label names are metric names without colons.
static bool
label_name_valid (const char *name)
{
    if (!is_name_char (name[0], true, false))
        return false;
    for (const char *p = name + 1; *p; p++)
        if (!is_name_char (*p, false, false))
            return false;
    return true;
}

char *
cb_metrics_labels (char *out, size_t outlen, ...)
{
    assert (out && outlen > 0);
    size_t pos = 0;
    out[0] = '\0';
    va_list ap;
    va_start (ap, outlen);
    const char *name;
    while ((name = va_arg (ap, const char *))) {
        const char *value = va_arg (ap, const char *);
        assert (label_name_valid (name));
        size_t name_len = strlen (name);
        //  [,]name="" and the NUL must fit, or this pair and the rest go.
        if (pos + (pos ? 1 : 0) + name_len + 4 > outlen)
            break;
        if (pos)
            out[pos++] = ',';
        memcpy (out + pos, name, name_len);
        pos += name_len;
        out[pos++] = '=';
        out[pos++] = '"';
        for (const char *s = value ? value : ""; *s;) {
            char unit[4];
            size_t consumed;
            size_t n = escape_char (s, unit, &consumed);
            if (pos + n + 2 > outlen)
                break;
            memcpy (out + pos, unit, n);
            pos += n;
            s += consumed;
        }
        out[pos++] = '"';
        out[pos] = '\0';
    }
    va_end (ap);
    return out;
}

bool
cb_metrics_name_valid (const char *name)
{
    if (!name || !is_name_char (name[0], true, true))
        return false;
    for (const char *p = name + 1; *p; p++)
        if (!is_name_char (*p, false, true))
            return false;
    return true;
}

//  The closing quote of the label value starting at p, NULL when the value
//  has a bad escape, a raw newline, invalid UTF-8 or no end.
static const char *
scan_value (const char *p)
{
    while (*p != '"') {
        if (*p == '\0' || *p == '\n')
            return NULL;
        if (*p == '\\') {
            if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
                return NULL;
            p += 2;
            continue;
        }
        size_t n = utf8_sequence (p);
        if (n == 0)
            return NULL;
        p += n;
    }
    return p;
}

static bool
label_named (const label_t *labels, size_t count, const char *name, size_t name_len)
{
    for (size_t i = 0; i < count; i++)
        if (labels[i].name_len == name_len && memcmp (labels[i].name, name, name_len) == 0)
            return true;
    return false;
}

//  Splits label text into at most max labels: how many, or -1 when the
//  text is not valid label text (see cb_metrics_labels_valid).
static int
labels_parse (const char *text, label_t *labels, size_t max)
{
    size_t count = 0;
    const char *p = text ? text : "";
    while (*p) {
        if (count == max || !is_name_char (*p, true, false))
            return -1;
        label_t *label = &labels[count];
        label->name = p;
        while (is_name_char (*p, false, false))
            p++;
        label->name_len = (size_t) (p - label->name);
        if (p[0] != '=' || p[1] != '"')
            return -1;
        label->value = p + 2;
        p = scan_value (label->value);
        if (!p || label_named (labels, count, label->name, label->name_len))
            return -1;
        label->value_len = (size_t) (p - label->value);
        count++;
        p++;
        if (*p == ',') {
            if (*++p == '\0')
                return -1; // a trailing comma
        } else if (*p != '\0')
            return -1;
    }
    return (int) count;
}

bool
cb_metrics_labels_valid (const char *text)
{
    label_t labels[MAX_LABELS];
    return labels_parse (text, labels, MAX_LABELS) >= 0;
}

static void
format_double (double value, char out[NUMBER_MAX])
{
    if (isnan (value))
        snprintf (out, NUMBER_MAX, "NaN");
    else if (isinf (value))
        snprintf (out, NUMBER_MAX, "%s", value > 0 ? "+Inf" : "-Inf");
    else if (value == trunc (value) && fabs (value) < 9007199254740992.0)
        snprintf (out, NUMBER_MAX, "%.0f", value == 0 ? 0.0 : value); // and -0 is "0"
    else
        for (int precision = 15; precision <= 17; precision++) {
            snprintf (out, NUMBER_MAX, "%.*g", precision, value);
            if (strtod (out, NULL) == value)
                break;
        }
}

static void
format_uint (uint64_t value, char out[NUMBER_MAX])
{
    snprintf (out, NUMBER_MAX, "%" PRIu64, value);
}

//  HELP text escapes backslash and newline only.
static void
put_help (text_t *text, const char *help)
{
    for (const char *s = help; *s;) {
        char unit[4];
        size_t consumed = 1, n = 1;
        if (*s == '"')
            unit[0] = '"';
        else
            n = escape_char (s, unit, &consumed);
        text_put (text, unit, n);
        s += consumed;
    }
}

static void
put_label (text_t *text, bool *first, const char *prefix, const label_t *label)
{
    if (!*first)
        text_put (text, ",", 1);
    *first = false;
    if (prefix)
        text_puts (text, prefix);
    text_put (text, label->name, label->name_len);
    text_put (text, "=\"", 2);
    text_put (text, label->value, label->value_len);
    text_put (text, "\"", 1);
}

//  One sample line: name[suffix]{extra,own,le="..."} number
static void
put_line (text_t *text, const series_t *series, const char *suffix, const char *le,
          const char *number)
{
    text_puts (text, series->name);
    text_puts (text, suffix);
    if (series->extra_count || series->own_count || le) {
        bool first = true;
        text_put (text, "{", 1);
        for (size_t i = 0; i < series->extra_count; i++)
            put_label (text, &first, NULL, &series->extra[i]);
        for (size_t i = 0; i < series->own_count; i++) {
            const label_t *label = &series->own[i];
            bool clash =
                label_named (series->extra, series->extra_count, label->name, label->name_len);
            put_label (text, &first, clash ? "exported_" : NULL, label);
        }
        if (le) {
            text_puts (text, first ? "le=\"" : ",le=\"");
            text_puts (text, le);
            text_put (text, "\"", 1);
        }
        text_put (text, "}", 1);
    }
    text_put (text, " ", 1);
    text_puts (text, number);
    text_put (text, "\n", 1);
}

static bool
histogram_sample_valid (const Cordbank__MetricFamily *family, const Cordbank__MetricSample *sample)
{
    if (sample->n_bucket_counts != family->n_bounds)
        return false;
    uint64_t previous = 0;
    for (size_t i = 0; i < sample->n_bucket_counts; i++) {
        if (sample->bucket_counts[i] < previous)
            return false;
        previous = sample->bucket_counts[i];
    }
    return sample->count >= previous;
}

static void
put_histogram (text_t *text, const series_t *series, const Cordbank__MetricFamily *family,
               const Cordbank__MetricSample *sample)
{
    char le[NUMBER_MAX], number[NUMBER_MAX];
    for (size_t i = 0; i < family->n_bounds; i++) {
        format_double (family->bounds[i], le);
        format_uint (sample->bucket_counts[i], number);
        put_line (text, series, "_bucket", le, number);
    }
    format_uint (sample->count, number);
    put_line (text, series, "_bucket", "+Inf", number);
    format_double (sample->sum, number);
    put_line (text, series, "_sum", NULL, number);
    format_uint (sample->count, number);
    put_line (text, series, "_count", NULL, number);
}

static bool
is_histogram (const Cordbank__MetricFamily *family)
{
    return family->type == CORDBANK__METRIC_TYPE__METRIC_TYPE_HISTOGRAM;
}

static const char *
type_name (const Cordbank__MetricFamily *family)
{
    switch (family->type) {
    case CORDBANK__METRIC_TYPE__METRIC_TYPE_COUNTER:
        return "counter";
    case CORDBANK__METRIC_TYPE__METRIC_TYPE_GAUGE:
        return "gauge";
    case CORDBANK__METRIC_TYPE__METRIC_TYPE_HISTOGRAM:
        return "histogram";
    default:
        return "untyped";
    }
}

static bool
family_valid (const Cordbank__MetricFamily *family)
{
    if (!cb_metrics_name_valid (family->name))
        return false;
    if (is_histogram (family))
        for (size_t i = 0; i < family->n_bounds; i++)
            if (!isfinite (family->bounds[i]) ||
                (i > 0 && family->bounds[i] <= family->bounds[i - 1]))
                return false;
    return true;
}

//  Writes the samples of one source's family; returns how many it left out.
static size_t
put_samples (text_t *text, const entry_t *entry)
{
    const Cordbank__MetricFamily *family = entry->family;
    label_t extra[MAX_LABELS], own[MAX_LABELS];
    int extra_count = labels_parse (entry->extra_labels, extra, MAX_LABELS);
    assert (extra_count >= 0); // the caller's own label text
    size_t skipped = 0;
    for (size_t i = 0; i < family->n_samples; i++) {
        const Cordbank__MetricSample *sample = family->samples[i];
        int own_count = sample ? labels_parse (sample->labels, own, MAX_LABELS) : -1;
        bool ok = own_count >= 0;
        if (ok && is_histogram (family))
            ok = !label_named (own, (size_t) own_count, "le", 2) &&
                 histogram_sample_valid (family, sample);
        if (!ok) {
            skipped++;
            continue;
        }
        series_t series = {family->name, extra, (size_t) extra_count, own, (size_t) own_count};
        if (is_histogram (family))
            put_histogram (text, &series, family, sample);
        else {
            char number[NUMBER_MAX];
            format_double (sample->value, number);
            put_line (text, &series, "", NULL, number);
        }
    }
    return skipped;
}

//  Writes a run of entries of one family name: HELP and TYPE of the first
//  valid one, then the samples of those of the same type.
static size_t
put_family (text_t *text, const entry_t *entries, size_t count)
{
    const Cordbank__MetricFamily *first = NULL;
    for (size_t i = 0; i < count && !first; i++)
        if (family_valid (entries[i].family))
            first = entries[i].family;
    if (first) {
        if (first->help && *first->help) {
            text_puts (text, "# HELP ");
            text_puts (text, first->name);
            text_put (text, " ", 1);
            put_help (text, first->help);
            text_put (text, "\n", 1);
        }
        text_puts (text, "# TYPE ");
        text_puts (text, first->name);
        text_put (text, " ", 1);
        text_puts (text, type_name (first));
        text_put (text, "\n", 1);
    }
    size_t skipped = 0;
    for (size_t i = 0; i < count; i++) {
        const Cordbank__MetricFamily *family = entries[i].family;
        if (first && family_valid (family) && strcmp (type_name (family), type_name (first)) == 0)
            skipped += put_samples (text, &entries[i]);
        else
            skipped += family->n_samples;
    }
    return skipped;
}

static int
entry_compare (const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    int order = strcmp (x->family->name, y->family->name);
    if (order == 0)
        order = x->source != y->source ? (x->source < y->source ? -1 : 1)
                                       : (x->index < y->index ? -1 : x->index > y->index);
    return order;
}

//  Every family of every source with a name, in render order.
static entry_t *
collect_entries (const cb_metrics_source_t *sources, size_t count, size_t *entry_count,
                 size_t *skipped)
{
    size_t total = 0;
    for (size_t s = 0; s < count; s++)
        total += sources[s].snapshot ? sources[s].snapshot->n_families : 0;
    entry_t *entries = calloc (total ? total : 1, sizeof *entries);
    if (!entries)
        return NULL;
    size_t n = 0;
    for (size_t s = 0; s < count; s++) {
        const Cordbank__MetricsSnapshot *snapshot = sources[s].snapshot;
        for (size_t f = 0; snapshot && f < snapshot->n_families; f++) {
            const Cordbank__MetricFamily *family = snapshot->families[f];
            if (family && family->name)
                entries[n++] = (entry_t){family, sources[s].extra_labels, s, f};
            else if (family)
                *skipped += family->n_samples;
        }
    }
    qsort (entries, n, sizeof *entries, entry_compare);
    *entry_count = n;
    return entries;
}

char *
cb_metrics_render_snapshots (const cb_metrics_source_t *sources, size_t count, size_t *skipped)
{
    assert (sources || count == 0);
    size_t left_out = 0, entry_count = 0;
    entry_t *entries = collect_entries (sources, count, &entry_count, &left_out);
    if (!entries)
        return NULL;
    text_t text = {0};
    text_put (&text, "", 0);
    for (size_t i = 0, j; i < entry_count; i = j) {
        for (j = i + 1; j < entry_count; j++)
            if (strcmp (entries[j].family->name, entries[i].family->name) != 0)
                break;
        left_out += put_family (&text, entries + i, j - i);
    }
    free (entries);
    if (text.failed) {
        free (text.data);
        return NULL;
    }
    if (skipped)
        *skipped = left_out;
    return text.data;
}
