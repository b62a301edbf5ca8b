/*  log — one JSON object per line on stderr.
 *
 *  Every line has ts, level, service, instance, trace_id (when known) and
 *  msg, plus the fields the caller packs with a jansson json_pack format:
 *
 *      cb_log_info (trace_id, "listening", "{s:i, s:s}", "port", 7300, "bind", "0.0.0.0");
 *
 *  Fields never replace the fixed keys (ts, level, service, instance,
 *  trace_id, msg): a field of that name is dropped, so name it otherwise
 *  (sender_service, ...). Pass NULL as the format for no fields, NULL trace_id when there is none.
 *  Secrets must never be passed in. Thread-safe: one write(2) per line.
 */
#ifndef CB_LOG_H
#define CB_LOG_H

#include <jansson.h> /* json_int_t for the "I" field format */
#include <stdbool.h>
#include <stdint.h>

typedef enum { CB_LOG_DEBUG = 0, CB_LOG_INFO, CB_LOG_WARN, CB_LOG_ERROR } cb_log_level_t;

//  Sets the service and instance written on every line. Call once from main.
void cb_log_init (const char *service, const char *instance);
void cb_log_set_level (cb_log_level_t level);
//  Parses "debug" / "info" / "warn" / "error"; -1 for anything else.
int cb_log_level_parse (const char *text);

void cb_log (cb_log_level_t level, const char *trace_id, const char *msg, const char *fields_fmt,
             ...);
#define cb_log_debug(...) cb_log (CB_LOG_DEBUG, __VA_ARGS__)
#define cb_log_info(...)  cb_log (CB_LOG_INFO, __VA_ARGS__)
#define cb_log_warn(...)  cb_log (CB_LOG_WARN, __VA_ARGS__)
#define cb_log_error(...) cb_log (CB_LOG_ERROR, __VA_ARGS__)

//  At most one line per second for a recurring event (a flood of bad
//  messages must not become a flood of log lines). Returns true when the
//  caller should log now; *suppressed is how many were skipped since.
typedef struct {
    int64_t last_ms;
    uint64_t skipped;
} cb_log_limiter_t;
bool cb_log_limiter_allow (cb_log_limiter_t *self, uint64_t *suppressed);

#endif
