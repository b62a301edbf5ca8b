/*  command_check — the error tree, lengths and names (see command_check.h).
 *
 *  Names are checked with the C library's wide-character classes under the
 *  C.UTF-8 locale (a locale object of our own: the process locale is left
 *  alone), which is what Discord's \p{L}\p{N} means, give or take Unicode
 *  versions; Devanagari and Thai marks are allowed as Discord allows them.
 */
#include "load/discord-sim/command_check.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

void
cc_err_add (cc_errs_t *e, const char *path, const char *code, const char *message)
{
    if (!e->errors)
        e->errors = json_object ();
    json_t *node = e->errors;
    char copy[256];
    snprintf (copy, sizeof copy, "%s", path);
    char *save = NULL;
    for (char *part = strtok_r (copy, ".", &save); part; part = strtok_r (NULL, ".", &save)) {
        json_t *child = json_object_get (node, part);
        if (!child) {
            child = json_object ();
            json_object_set_new (node, part, child);
        }
        node = child;
    }
    json_t *list = json_object_get (node, "_errors");
    if (!list) {
        list = json_array ();
        json_object_set_new (node, "_errors", list);
    }
    json_array_append_new (list, json_pack ("{s:s, s:s}", "code", code, "message", message));
}

void
cc_path_join (char *out, size_t outlen, const char *base, const char *field)
{
    snprintf (out, outlen, "%s%s%s", base, *base ? "." : "", field);
}

//  ---------------------------------------------------------------------------
//  Names and lengths

//  The next code point of valid, shortest-form UTF-8 at *p (advanced past
//  it); -1 at an invalid sequence. Decoded here rather than with mbrtowc,
//  which would follow the process locale (C, i.e. ASCII, by default).
static int32_t
utf8_next (const unsigned char **p)
{
    const unsigned char *s = *p;
    int len = s[0] < 0x80             ? 1
              : (s[0] & 0xe0) == 0xc0 ? 2
              : (s[0] & 0xf0) == 0xe0 ? 3
              : (s[0] & 0xf8) == 0xf0 ? 4
                                      : 0;
    if (len == 0)
        return -1;
    int32_t cp = len == 1 ? s[0] : s[0] & (0x7f >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const int32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *p = s + len;
    return cp;
}

long
cc_utf8_length (const char *text)
{
    const unsigned char *p = (const unsigned char *) text;
    long chars = 0;
    while (*p) {
        if (utf8_next (&p) < 0)
            return -1;
        chars++;
    }
    return chars;
}

static locale_t
utf8_locale (void)
{
    static locale_t loc; // created once, never changed: read-only after
    if (!loc)
        loc = newlocale (LC_CTYPE_MASK, "C.UTF-8", (locale_t) 0);
    return loc;
}

static bool
name_char_ok (wchar_t wc, bool lower_only, bool spaces, locale_t loc)
{
    if (wc == L'-' || wc == L'_' || wc == L'\'')
        return true;
    if (spaces && wc == L' ')
        return true;
    bool devanagari_thai = (wc >= 0x900 && wc <= 0x97f) || (wc >= 0xe00 && wc <= 0xe7f);
    bool alnum =
        loc ? iswalnum_l ((wint_t) wc, loc) : (wc < 128 && iswalnum ((wint_t) wc)) || wc >= 128;
    if (!alnum && !devanagari_thai)
        return false;
    return !lower_only || !loc || towlower_l ((wint_t) wc, loc) == (wint_t) wc;
}

//  A command or option name: 1..32 allowed characters.
bool
cc_name_ok (const char *name, bool lower_only, bool spaces)
{
    locale_t loc = utf8_locale ();
    const unsigned char *p = (const unsigned char *) name;
    long chars = 0;
    while (*p) {
        int32_t cp = utf8_next (&p);
        if (cp < 0 || !name_char_ok ((wchar_t) cp, lower_only, spaces, loc))
            return false;
        chars++;
    }
    return chars >= 1 && chars <= NAME_MAX_CHARS;
}

//  A required string of min..max characters; its length is added to *total.
const char *
cc_text (cc_errs_t *e, const json_t *obj, const char *base, const char *field, long min, long max,
         long *total)
{
    char path[256], range[64];
    cc_path_join (path, sizeof path, base, field);
    const json_t *value = json_object_get (obj, field);
    if (!value || json_is_null (value)) {
        if (min > 0)
            cc_err_add (e, path, "BASE_TYPE_REQUIRED", "This field is required");
        return NULL;
    }
    if (!json_is_string (value)) {
        cc_err_add (e, path, "BASE_TYPE_STRING", "Must be a string.");
        return NULL;
    }
    long chars = cc_utf8_length (json_string_value (value));
    if (chars < min || chars > max) {
        snprintf (range, sizeof range, "Must be between %ld and %ld in length.", min, max);
        cc_err_add (e, path, "BASE_TYPE_BAD_LENGTH", range);
        return NULL;
    }
    *total += chars;
    return json_string_value (value);
}

void
cc_bool (cc_errs_t *e, const json_t *obj, const char *base, const char *field)
{
    const json_t *value = json_object_get (obj, field);
    char path[256];
    cc_path_join (path, sizeof path, base, field);
    if (value && !json_is_null (value) && !json_is_boolean (value))
        cc_err_add (e, path, "BASE_TYPE_BOOLEAN", "Must be either true or false.");
}

//  An optional array of integers, each within [min, max].
void
cc_int_list (cc_errs_t *e, const json_t *obj, const char *base, const char *field, int64_t min,
             int64_t max)
{
    const json_t *value = json_object_get (obj, field);
    char path[256];
    cc_path_join (path, sizeof path, base, field);
    if (!value || json_is_null (value))
        return;
    if (!json_is_array (value)) {
        cc_err_add (e, path, "BASE_TYPE_ARRAY", "Must be an array.");
        return;
    }
    size_t i;
    const json_t *item;
    json_array_foreach (value, i, item)
    {
        if (!json_is_integer (item) || json_integer_value (item) < min ||
            json_integer_value (item) > max) {
            char at[300];
            if (snprintf (at, sizeof at, "%s.%zu", path, i) >= (int) sizeof at)
                continue; // a path too deep to report
            cc_err_add (e, at, "BASE_TYPE_CHOICES", "Value must be one of the allowed values.");
        }
    }
}
