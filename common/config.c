/*  config — options from defaults, environment, then flags (see config.h).
 *
 *  Every value, whatever its source, goes through one parser, so a bad
 *  default is caught by the same check as a bad flag. Errors name the
 *  variable or flag the value came from, since that is what an operator
 *  must fix.
 *
 *  Secrets (a token, a key, a URL that may carry a password) get three
 *  more rules: they may be read from a file (CORDBANK_X_FILE or --x-file,
 *  how Kubernetes and Docker mount secrets, so that the value is in neither
 *  the environment nor the command line); no message ever contains their
 *  text, only the name of the variable, flag or file they came from; and
 *  the copies kept here are overwritten before they are freed.
 */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/discovery.h"

//  A secret file larger than this is a mistake (a key bundle, a log): refused.
#define CONFIG_FILE_MAX (64 * 1024)

//  What argv gave each option: a value, a file, or both (refused).
enum { GIVEN_VALUE = 1, GIVEN_FILE = 2 };

//  Where each option's value came from, for --print-config: "default",
//  "CORDBANK_X", "CORDBANK_X_FILE=/path", "--x" or "--x-file=/path".
#define SOURCE_MAX 256
typedef char source_t[SOURCE_MAX];

void
cb_secret_free (char *text)
{
    if (text) {
        explicit_bzero (text, strlen (text));
        free (text);
    }
}

//  Replaces a string option's value with a copy of text.
static int
set_string (const cb_option_t *opt, const char *text)
{
    char *copy = strdup (text);
    if (!copy)
        return -1;
    char **target = (char **) opt->target;
    if (opt->secret)
        cb_secret_free (*target);
    else
        free (*target);
    *target = copy;
    return 0;
}

void
cb_config_env_name (const char *name, char *out, size_t outlen)
{
    size_t at = (size_t) snprintf (out, outlen, "CORDBANK_");
    for (const char *c = name; *c && at + 1 < outlen; c++)
        out[at++] = *c == '-' ? '_' : (char) toupper ((unsigned char) *c);
    if (at < outlen)
        out[at] = '\0';
}

static int
parse_int (const char *text, int64_t *out)
{
    if (!*text)
        return -1;
    char *end;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (errno || *end != '\0')
        return -1;
    *out = value;
    return 0;
}

//  True when text is one of the '|'-separated choices.
static bool
is_choice (const char *choices, const char *text)
{
    size_t len = strlen (text);
    for (const char *at = choices; at && *at;) {
        const char *bar = strchr (at, '|');
        size_t n = bar ? (size_t) (bar - at) : strlen (at);
        if (n == len && strncmp (at, text, n) == 0)
            return true;
        at = bar ? bar + 1 : NULL;
    }
    return false;
}

static int
parse_bool (const char *text, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp (text, yes[i]) == 0)
            return *out = true, 0;
        if (strcasecmp (text, no[i]) == 0)
            return *out = false, 0;
    }
    return -1;
}

//  Parses text into the option's target. `source` names where it came
//  from ("CORDBANK_PG_URL", "--pg-url", "default of --pg-url").
static int
set_value (const cb_option_t *opt, const char *text, const char *source, char *err, size_t errlen)
{
    char reason[200] = "";
    if (opt->type == CB_OPT_INT) {
        int64_t value;
        if (parse_int (text, &value) != 0)
            snprintf (reason, sizeof reason, "expected a whole number");
        else if (value < opt->min || value > opt->max)
            snprintf (reason, sizeof reason, "expected %" PRId64 "..%" PRId64, opt->min, opt->max);
        else
            *(int64_t *) opt->target = value;
    } else if (opt->type == CB_OPT_BOOL) {
        if (parse_bool (text, (bool *) opt->target) != 0)
            snprintf (reason, sizeof reason, "expected true or false");
    } else {
        char why[160] = "not a valid endpoint list"; // if a validator forgets to say why
        if (opt->type == CB_OPT_ENDPOINTS && cb_endpoints_validate (text, why, sizeof why) != 0)
            //  The validator quotes the endpoint it refused: not for a secret.
            snprintf (reason, sizeof reason, "%s", opt->secret ? "not a valid endpoint list" : why);
        else if (opt->choices && !is_choice (opt->choices, text))
            snprintf (reason, sizeof reason, "expected one of %s", opt->choices);
        else if (set_string (opt, text) != 0)
            snprintf (reason, sizeof reason, "out of memory");
    }
    if (!*reason)
        return 0;
    if (opt->secret)
        snprintf (err, errlen, "invalid %s: %s", source, reason);
    else
        snprintf (err, errlen, "invalid %s=\"%s\": %s", source, text, reason);
    return -1;
}

//  Reads a secret from path into *out (the caller's, to cb_secret_free): the
//  whole file, trailing newlines stripped, neither empty nor binary.
//  `source` names where the path came from; the path is named in errors,
//  the content never.
static int
read_secret_file (const char *path, const char *source, char **out, char *err, size_t errlen)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        snprintf (err, errlen, "cannot read %s=\"%s\": %s", source, path,
                  *path ? strerror (errno) : "the path is empty");
        return -1;
    }
    char *text = calloc (1, CONFIG_FILE_MAX + 1);
    size_t size = text ? fread (text, 1, CONFIG_FILE_MAX + 1, file) : 0;
    const char *why = !text                    ? "out of memory"
                      : ferror (file)          ? "cannot read it"
                      : size > CONFIG_FILE_MAX ? "larger than 64 KiB"
                      : memchr (text, 0, size) ? "contains a NUL byte"
                                               : NULL;
    fclose (file);
    while (!why && size > 0 && (text[size - 1] == '\n' || text[size - 1] == '\r'))
        text[--size] = '\0';
    if (!why && size == 0)
        why = "the file is empty";
    if (why) {
        snprintf (err, errlen, "invalid %s=\"%s\": %s", source, path, why);
        if (text)
            explicit_bzero (text, CONFIG_FILE_MAX + 1);
        free (text);
        return -1;
    }
    *out = text;
    return 0;
}

//  Sets a secret option from the file at path; source names the path's origin.
static int
set_from_file (const cb_option_t *opt, const char *path, const char *source, char *err,
               size_t errlen)
{
    char *text = NULL;
    if (read_secret_file (path, source, &text, err, errlen) != 0)
        return -1;
    int rc = set_value (opt, text, source, err, errlen);
    cb_secret_free (text);
    return rc;
}

static const cb_option_t *
find_option (const cb_option_t *opts, size_t count, const char *name, size_t namelen)
{
    for (size_t i = 0; i < count; i++)
        if (strlen (opts[i].name) == namelen && strncmp (opts[i].name, name, namelen) == 0)
            return &opts[i];
    return NULL;
}

//  The secret option "x" that a flag "x-file" reads from a file, or NULL.
//  An option really named "x-file" is found first, by find_option.
static const cb_option_t *
find_file_option (const cb_option_t *opts, size_t count, const char *name, size_t namelen)
{
    static const char suffix[] = "-file";
    size_t sl = sizeof suffix - 1;
    if (namelen <= sl || strncmp (name + namelen - sl, suffix, sl) != 0)
        return NULL;
    const cb_option_t *opt = find_option (opts, count, name, namelen - sl);
    return opt && opt->secret ? opt : NULL;
}

static void
print_help (const char *program, const char *summary, const cb_option_t *opts, size_t count)
{
    printf ("%s — %s\n\nUsage: %s [--option=value ...]\n\n", program, summary, program);
    printf ("Every option is also read from the environment variable shown; a flag wins.\n");
    printf ("A <secret> is never printed; it may also be read from a file (its --NAME-file\n");
    printf ("or _FILE variable, as Kubernetes and Docker mount secrets).\n\n");
    for (size_t i = 0; i < count; i++) {
        char env[96];
        cb_config_env_name (opts[i].name, env, sizeof env);
        const char *def = opts[i].secret ? "<secret>" : opts[i].default_value;
        printf ("  --%-22s %-30s %s (default: \"%s\")\n", opts[i].name, env, opts[i].help,
                def ? def : "");
        if (opts[i].secret) {
            char flag[96], env_file[112];
            snprintf (flag, sizeof flag, "%s-file", opts[i].name);
            snprintf (env_file, sizeof env_file, "%s_FILE", env);
            printf ("  --%-22s %-30s read --%s from this file (trailing newline stripped)\n", flag,
                    env_file, opts[i].name);
        }
    }
    printf ("  --%-22s %-30s %s\n", "print-config", "",
            "print the configuration these flags and variables give, with where each value came "
            "from, as JSON (secrets redacted), and exit: 0 when it is valid, 2 when not");
    printf ("  --%-22s %-30s %s\n", "help", "", "print this help and exit");
}

//  CORDBANK_X, or for a secret CORDBANK_X_FILE (not both). Names the one
//  used in *source.
static int
apply_env (const cb_option_t *opt, source_t *source, char *err, size_t errlen)
{
    char env[96], env_file[112];
    cb_config_env_name (opt->name, env, sizeof env);
    snprintf (env_file, sizeof env_file, "%s_FILE", env);
    const char *value = getenv (env);
    const char *path = opt->secret ? getenv (env_file) : NULL;
    if (value && path) {
        snprintf (err, errlen, "both %s and %s are set: give one", env, env_file);
        return -1;
    }
    if (path) {
        snprintf (*source, sizeof *source, "%s=%s", env_file, path);
        return set_from_file (opt, path, env_file, err, errlen);
    }
    if (value) {
        snprintf (*source, sizeof *source, "%s", env);
        return set_value (opt, value, env, err, errlen);
    }
    return 0;
}

static int
apply_defaults_and_env (const cb_option_t *opts, size_t count, source_t *sources, char *err,
                        size_t errlen)
{
    for (size_t i = 0; i < count; i++) {
        snprintf (sources[i], sizeof sources[i], "default");
        char source[128];
        snprintf (source, sizeof source, "default of --%s", opts[i].name);
        const char *def = opts[i].default_value ? opts[i].default_value : "";
        if (opts[i].type == CB_OPT_BOOL && !*def)
            def = "false";
        if (set_value (&opts[i], def, source, err, errlen) != 0)
            return -1;
        if (apply_env (&opts[i], &sources[i], err, errlen) != 0)
            return -1;
    }
    return 0;
}

//  Sets opt from text given by flag `source`: a value, or a file's path.
static int
apply_text (const cb_option_t *opt, bool is_file, const char *text, const char *source, char *err,
            size_t errlen)
{
    return is_file ? set_from_file (opt, text, source, err, errlen)
                   : set_value (opt, text, source, err, errlen);
}

//  One argv entry (and maybe the next): --name=value, --name value, a bare
//  --name for a bool, or --name-file[=]PATH for a secret. Records in
//  given[] what each option got, and in sources[] the flag (and a file's
//  path). Returns how many entries were used, or -1.
static int
apply_flag (const cb_option_t *opts, size_t count, int argc, char **argv, int at,
            unsigned char *given, source_t *sources, char *err, size_t errlen)
{
    const char *arg = argv[at];
    if (strncmp (arg, "--", 2) != 0) {
        //  Not echoed: a stray word may be a secret that lost its flag.
        snprintf (err, errlen, "unexpected argument #%d (options start with --)", at);
        return -1;
    }
    const char *name = arg + 2;
    const char *eq = strchr (name, '=');
    size_t namelen = eq ? (size_t) (eq - name) : strlen (name);
    const cb_option_t *opt = find_option (opts, count, name, namelen);
    bool is_file = false;
    if (!opt && (opt = find_file_option (opts, count, name, namelen)))
        is_file = true;
    if (!opt) {
        snprintf (err, errlen, "unknown option --%.*s (see --help)", (int) namelen, name);
        return -1;
    }
    char source[112];
    snprintf (source, sizeof source, "--%s%s", opt->name, is_file ? "-file" : "");
    given[opt - opts] |= is_file ? GIVEN_FILE : GIVEN_VALUE;
    if (given[opt - opts] == (GIVEN_VALUE | GIVEN_FILE)) {
        snprintf (err, errlen, "both --%s and --%s-file given: give one", opt->name, opt->name);
        return -1;
    }
    //  The value: after '=', "true" for a bare bool flag, else the next entry.
    bool bare_bool = !eq && opt->type == CB_OPT_BOOL && !is_file;
    if (!eq && !bare_bool && at + 1 >= argc) {
        snprintf (err, errlen, "option %s needs a value", source);
        return -1;
    }
    const char *text = eq ? eq + 1 : bare_bool ? "true" : argv[at + 1];
    int used = eq || bare_bool ? 1 : 2;
    source_t *to = &sources[opt - opts];
    if (is_file) //  a path, not the secret: named like the variable's
        snprintf (*to, sizeof *to, "%s=%s", source, text);
    else
        snprintf (*to, sizeof *to, "%s", source);
    return apply_text (opt, is_file, text, source, err, errlen) == 0 ? used : -1;
}

//  text as a JSON string; bytes of text that is not UTF-8 become '?'.
static json_t *
json_text (const char *text)
{
    json_t *string = json_string (text);
    if (string)
        return string;
    char *ascii = strdup (text);
    for (char *c = ascii; c && *c; c++)
        if ((unsigned char) *c >= 0x80)
            *c = '?';
    string = ascii ? json_string (ascii) : NULL;
    free (ascii);
    return string;
}

//  --print-config: every option's value and where it came from, as JSON on
//  stdout. A secret's value is "<redacted>" (or "" when it is empty: that
//  it is unset is what an operator needs to see, and is no secret).
static int
print_config (const char *program, const cb_option_t *opts, size_t count, const source_t *sources)
{
    json_t *options = json_object ();
    for (size_t i = 0; options && i < count; i++) {
        const cb_option_t *opt = &opts[i];
        json_t *value;
        if (opt->type == CB_OPT_INT)
            value = json_integer (*(const int64_t *) opt->target);
        else if (opt->type == CB_OPT_BOOL)
            value = json_boolean (*(const bool *) opt->target);
        else {
            const char *text = *(char *const *) opt->target;
            value = json_text (!text || !*text ? "" : opt->secret ? "<redacted>" : text);
        }
        json_object_set_new (
            options, opt->name,
            json_pack ("{s:o, s:o}", "value", value, "source", json_text (sources[i])));
    }
    json_t *root = json_pack ("{s:s, s:o*}", "program", program, "options", options);
    char *text = root ? json_dumps (root, JSON_INDENT (2)) : NULL;
    json_decref (root);
    if (!text)
        return -1;
    printf ("%s\n", text);
    free (text);
    return fflush (stdout) == 0 ? 0 : -1;
}

int
cb_config_parse (const char *program, const char *summary, const cb_option_t *opts, size_t count,
                 int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++)
        if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0) {
            print_help (program, summary, opts, count);
            return CB_CONFIG_HELP;
        }
    unsigned char *given = calloc (count ? count : 1, 1);
    source_t *sources = calloc (count ? count : 1, sizeof *sources);
    int rc = CB_CONFIG_OK;
    if (!given || !sources) {
        snprintf (err, errlen, "out of memory");
        rc = CB_CONFIG_ERROR;
    } else if (apply_defaults_and_env (opts, count, sources, err, errlen) != 0)
        rc = CB_CONFIG_ERROR;
    bool dump = false;
    for (int i = 1; i < argc && rc == CB_CONFIG_OK;) {
        if (strcmp (argv[i], "--print-config") == 0) {
            dump = true;
            i++;
            continue;
        }
        int used = apply_flag (opts, count, argc, argv, i, given, sources, err, errlen);
        if (used < 0)
            rc = CB_CONFIG_ERROR;
        else
            i += used;
    }
    if (rc == CB_CONFIG_OK && dump) {
        rc = CB_CONFIG_HELP;
        if (print_config (program, opts, count, sources) != 0) {
            snprintf (err, errlen, "cannot print the configuration");
            rc = CB_CONFIG_ERROR;
        }
    }
    free (given);
    free (sources);
    return rc;
}

int
cb_config_main (const char *program, const char *summary, const cb_option_t *opts, size_t count,
                int argc, char **argv)
{
    char err[512];
    int rc = cb_config_parse (program, summary, opts, count, argc, argv, err, sizeof err);
    if (rc == CB_CONFIG_HELP) {
        cb_config_free (opts, count);
        return 0;
    }
    if (rc == CB_CONFIG_ERROR) {
        fprintf (stderr, "%s: %s\n", program, err);
        cb_config_free (opts, count);
        return 2;
    }
    return -1;
}

void
cb_config_free (const cb_option_t *opts, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (opts[i].type == CB_OPT_STRING || opts[i].type == CB_OPT_ENDPOINTS) {
            char **target = (char **) opts[i].target;
            if (opts[i].secret)
                cb_secret_free (*target);
            else
                free (*target);
            *target = NULL;
        }
}
