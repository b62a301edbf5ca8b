/*  labels — one label's value out of label text (see labels.h).
 *
 *  A small scanner over name="value" pairs: names up to '=', values
 *  quoted with the three escapes the exposition format allows (\\ \" \n).
 *  Anything else is malformed and reads as "absent", never as a guess.
 */
#include "services/metrics/labels.h"

#include <string.h>

//  Scans one quoted value starting at the opening quote; writes it
//  unescaped into out when out is not NULL. Returns the character after
//  the closing quote, NULL when malformed.
static const char *
scan_value (const char *p, char *out, size_t outlen)
{
    if (*p != '"')
        return NULL;
    size_t n = 0;
    for (p++; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\') {
            p++;
            if (*p == 'n')
                c = '\n';
            else if (*p == '\\' || *p == '"')
                c = *p;
            else
                return NULL;
        }
        if (out && n + 1 < outlen)
            out[n++] = c;
    }
    if (out && outlen)
        out[n] = '\0';
    return *p == '"' ? p + 1 : NULL;
}

bool
labels_get (const char *labels, const char *name, char *out, size_t outlen)
{
    if (out && outlen)
        out[0] = '\0';
    if (!labels || !name)
        return false;
    size_t name_len = strlen (name);
    const char *p = labels;
    while (*p) {
        const char *eq = strchr (p, '=');
        if (!eq)
            return false;
        bool match = (size_t) (eq - p) == name_len && memcmp (p, name, name_len) == 0;
        const char *next = scan_value (eq + 1, match ? out : NULL, outlen);
        if (!next)
            return false;
        if (match)
            return true;
        if (*next == ',')
            next++;
        else if (*next)
            return false;
        p = next;
    }
    return false;
}

bool
labels_is (const char *labels, const char *name, const char *value)
{
    char got[256];
    return labels_get (labels, name, got, sizeof got) && strcmp (got, value) == 0;
}

const char *
labels_next (const char *p, char *name, size_t name_size, char *value, size_t value_size)
{
    if (!p || !*p || !name_size)
        return NULL;
    const char *eq = strchr (p, '=');
    if (!eq)
        return NULL;
    size_t len = (size_t) (eq - p) < name_size - 1 ? (size_t) (eq - p) : name_size - 1;
    memcpy (name, p, len);
    name[len] = '\0';
    const char *next = scan_value (eq + 1, value, value_size);
    if (next && *next == ',')
        next++;
    return next;
}
