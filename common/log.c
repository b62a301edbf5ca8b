/*  log — JSON lines on stderr (see log.h).
 *
 *  Each line is built in memory with jansson and written with a single
 *  write(2), so lines from several threads never interleave. The identity
 *  (service, instance) is process configuration, set once at start.
 */
#include "common/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

static char s_service[64] = "cordbank";
static char s_instance[128] = "";
static cb_log_level_t s_min_level = CB_LOG_INFO;

static const char *const LEVEL_NAMES[] = {"debug", "info", "warn", "error"};

void
cb_log_init (const char *service, const char *instance)
{
    snprintf (s_service, sizeof s_service, "%s", service ? service : "cordbank");
    snprintf (s_instance, sizeof s_instance, "%s", instance ? instance : "");
}

void
cb_log_set_level (cb_log_level_t level)
{
    s_min_level = level;
}

int
cb_log_level_parse (const char *text)
{
    for (int i = 0; i < 4; i++)
        if (text && strcmp (text, LEVEL_NAMES[i]) == 0)
            return i;
    return -1;
}

//  RFC 3339 UTC timestamp with milliseconds.
static void
format_ts (char *out, size_t outlen)
{
    int64_t now = cb_now_ms ();
    time_t secs = (time_t) (now / 1000);
    struct tm tm;
    gmtime_r (&secs, &tm);
    char base[32];
    strftime (base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (out, outlen, "%s.%03dZ", base, (int) (now % 1000));
}

static json_t *
pack_fields (const char *fields_fmt, va_list ap)
{
    if (!fields_fmt)
        return NULL;
    json_error_t error;
    json_t *fields = json_vpack_ex (&error, 0, fields_fmt, ap);
    if (!fields)
        return json_pack ("{s:s}", "log_error", error.text);
    return fields;
}

void
cb_log (cb_log_level_t level, const char *trace_id, const char *msg, const char *fields_fmt, ...)
{
    if (level < s_min_level || level > CB_LOG_ERROR)
        return;
    char ts[40];
    format_ts (ts, sizeof ts);
    json_t *line = json_pack ("{s:s, s:s, s:s, s:s}", "ts", ts, "level", LEVEL_NAMES[level],
                              "service", s_service, "instance", s_instance);
    if (!line)
        return;
    if (trace_id && *trace_id)
        json_object_set_new (line, "trace_id", json_string (trace_id));
    json_object_set_new (line, "msg", json_string (msg ? msg : ""));
    va_list ap;
    va_start (ap, fields_fmt);
    json_t *fields = pack_fields (fields_fmt, ap);
    va_end (ap);
    //  Fields never overwrite the fixed keys.
    if (fields && json_is_object (fields))
        json_object_update_missing (line, fields);
    json_decref (fields);
    char *text = json_dumps (line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref (line);
    if (!text)
        return;
    size_t size = strlen (text);
    text[size] = '\n'; // json_dumps leaves room only for the NUL: rewrite it
    ssize_t written = write (STDERR_FILENO, text, size + 1);
    (void) written; // nothing sensible to do when stderr is gone
    free (text);
}

bool
cb_log_limiter_allow (cb_log_limiter_t *self, uint64_t *suppressed)
{
    int64_t now = cb_mono_ms ();
    if (self->last_ms != 0 && now - self->last_ms < 1000) {
        self->skipped++;
        return false;
    }
    if (suppressed)
        *suppressed = self->skipped;
    self->skipped = 0;
    self->last_ms = now;
    return true;
}
