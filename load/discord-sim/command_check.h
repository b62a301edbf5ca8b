/*  command_check — field checks behind commands.c's validation: the
 *  Discord-style error tree, lengths in characters, names, and options.
 *
 *  Each check adds its errors under a dotted path ("0.options.1.name") and
 *  goes on, so one answer lists everything that is wrong, as Discord's does.
 */
#ifndef SIM_COMMAND_CHECK_H
#define SIM_COMMAND_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAME_MAX_CHARS    32
#define DESC_MAX_CHARS    100
#define COMMAND_CHARS_MAX 4000

typedef struct {
    json_t *errors; // the tree, or NULL while there is none
} cc_errs_t;

//  Adds {code, message} under path's `_errors`.
void cc_err_add (cc_errs_t *e, const char *path, const char *code, const char *message);
void cc_path_join (char *out, size_t outlen, const char *base, const char *field);

//  Code points in valid UTF-8, or -1.
long cc_utf8_length (const char *text);
//  1..32 of `-`, `_`, `'`, letters, digits; lower case when lower_only; spaces when allowed.
bool cc_name_ok (const char *name, bool lower_only, bool spaces);

//  obj[field] must be a string of min..max characters (absent/null is an
//  error only when min > 0); adds its length to *total. The string or NULL.
const char *cc_text (cc_errs_t *e, const json_t *obj, const char *base, const char *field, long min,
                     long max, long *total);
void cc_bool (cc_errs_t *e, const json_t *obj, const char *base, const char *field);
void cc_int_list (cc_errs_t *e, const json_t *obj, const char *base, const char *field, int64_t min,
                  int64_t max);

//  The options array of a command (parent 0), a subcommand (1) or a group (2).
void cc_options (cc_errs_t *e, const json_t *options, const char *base, int parent, long *total);

#endif
