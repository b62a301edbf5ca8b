/*  config — options from defaults, environment, then flags (see config.h).
 *
 *  Every value, whatever its source, goes through one parser, so a bad
 *  default is caught by the same check as a bad flag. Errors name the
 *  variable or flag the value came from, since that is what an operator
 *  must fix.
 */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/discovery.h"

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
        char why[160];
        if (opt->type == CB_OPT_ENDPOINTS && cb_endpoints_validate (text, why, sizeof why) != 0)
            snprintf (reason, sizeof reason, "%s", why);
        else if (opt->choices && !is_choice (opt->choices, text))
            snprintf (reason, sizeof reason, "expected one of %s", opt->choices);
        else {
            char **target = (char **) opt->target;
            free (*target);
            *target = strdup (text);
        }
    }
    if (!*reason)
        return 0;
    if (opt->secret)
        snprintf (err, errlen, "invalid %s: %s", source, reason);
    else
        snprintf (err, errlen, "invalid %s=\"%s\": %s", source, text, reason);
    return -1;
}

static const cb_option_t *
find_option (const cb_option_t *opts, size_t count, const char *name, size_t namelen)
{
    for (size_t i = 0; i < count; i++)
        if (strlen (opts[i].name) == namelen && strncmp (opts[i].name, name, namelen) == 0)
            return &opts[i];
    return NULL;
}

static void
print_help (const char *program, const char *summary, const cb_option_t *opts, size_t count)
{
    printf ("%s — %s\n\nUsage: %s [--option=value ...]\n\n", program, summary, program);
    printf ("Every option is also read from the environment variable shown; a flag wins.\n\n");
    for (size_t i = 0; i < count; i++) {
        char env[96];
        cb_config_env_name (opts[i].name, env, sizeof env);
        const char *def = opts[i].secret ? "<secret>" : opts[i].default_value;
        printf ("  --%-22s %-30s %s (default: \"%s\")\n", opts[i].name, env, opts[i].help,
                def ? def : "");
    }
    printf ("  --%-22s %-30s %s\n", "help", "", "print this help and exit");
}

static int
apply_defaults_and_env (const cb_option_t *opts, size_t count, char *err, size_t errlen)
{
    for (size_t i = 0; i < count; i++) {
        char source[128];
        snprintf (source, sizeof source, "default of --%s", opts[i].name);
        const char *def = opts[i].default_value ? opts[i].default_value : "";
        if (opts[i].type == CB_OPT_BOOL && !*def)
            def = "false";
        if (set_value (&opts[i], def, source, err, errlen) != 0)
            return -1;
        char env[96];
        cb_config_env_name (opts[i].name, env, sizeof env);
        const char *value = getenv (env);
        if (value && set_value (&opts[i], value, env, err, errlen) != 0)
            return -1;
    }
    return 0;
}

//  One argv entry (and maybe the next): --name=value, --name value, or a
//  bare --name for a bool. Returns how many entries were used, or -1.
static int
apply_flag (const cb_option_t *opts, size_t count, int argc, char **argv, int at, char *err,
            size_t errlen)
{
    const char *arg = argv[at];
    if (strncmp (arg, "--", 2) != 0) {
        snprintf (err, errlen, "unexpected argument \"%s\" (options start with --)", arg);
        return -1;
    }
    const char *name = arg + 2;
    const char *eq = strchr (name, '=');
    size_t namelen = eq ? (size_t) (eq - name) : strlen (name);
    const cb_option_t *opt = find_option (opts, count, name, namelen);
    if (!opt) {
        snprintf (err, errlen, "unknown option --%.*s (see --help)", (int) namelen, name);
        return -1;
    }
    char source[96];
    snprintf (source, sizeof source, "--%s", opt->name);
    if (eq)
        return set_value (opt, eq + 1, source, err, errlen) == 0 ? 1 : -1;
    if (opt->type == CB_OPT_BOOL)
        return set_value (opt, "true", source, err, errlen) == 0 ? 1 : -1;
    if (at + 1 >= argc) {
        snprintf (err, errlen, "option --%s needs a value", opt->name);
        return -1;
    }
    return set_value (opt, argv[at + 1], source, err, errlen) == 0 ? 2 : -1;
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
    if (apply_defaults_and_env (opts, count, err, errlen) != 0)
        return CB_CONFIG_ERROR;
    for (int i = 1; i < argc;) {
        int used = apply_flag (opts, count, argc, argv, i, err, errlen);
        if (used < 0)
            return CB_CONFIG_ERROR;
        i += used;
    }
    return CB_CONFIG_OK;
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
            free (*target);
            *target = NULL;
        }
}
