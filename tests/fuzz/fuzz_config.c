/*  fuzz_config — cb_config_parse on a command line and an environment
 *  built from the input.
 *
 *  Input: lines. A line "CORDBANK_NAME=VALUE" sets that environment
 *  variable; any other line is one argv entry. The option table is every
 *  service's (CB_SERVICE_OPTIONS, with the CURVE options) plus options like
 *  the services' own: secrets (a string, an endpoint list), an int with
 *  bounds, a bool, a choice.
 *
 *  Secret files: a path given to --NAME-file or CORDBANK_NAME_FILE is
 *  redirected into a fixture directory made at start (its '/' become '_'),
 *  so the fuzzer reads only the fixtures (a secret, an empty file, one with
 *  a NUL, one over 64 KiB, ...), never /dev/stdin or a FIFO.
 *
 *  Oracles: after CB_CONFIG_OK every value is set and within its bounds;
 *  after an error the reason is one line; and no error text contains a
 *  secret: the marker MARKER, which the fixtures and the dictionary
 *  carry, may appear in an error only when a non-secret input carried it
 *  too. And a flag wins: after CB_CONFIG_OK, an option given a value by
 *  its last flag (else by its variable) holds exactly that value. The same
 *  holds after --print-config, whose output (captured in memory) must be
 *  JSON with every option, and, like --help's, carries no secret either.
 *  Strings are freed with cb_config_free (LeakSanitizer checks).
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/config.h"
#include "common/service.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MARKER    "S3CR3T"
#define MAX_ARGS  32
#define MAX_ENV   16
#define MAX_LINE  512
#define BIG_BYTES (70 * 1024)

static struct {
    cb_service_config_t base;
    char *token, *pg_url, *url, *endpoints, *mode;
    int64_t count;
    bool flag;
} s_cfg;

static const cb_option_t OPTS[] = {
    CB_SERVICE_OPTIONS (s_cfg.base, "7201"),
    {"discord-token", CB_OPT_STRING, "", "a secret", &s_cfg.token, 0, 0, true, NULL},
    {"pg-url", CB_OPT_STRING, "postgresql:///cordbank", "a secret with a default", &s_cfg.pg_url, 0,
     0, true, NULL},
    {"api-url", CB_OPT_STRING, "http://127.0.0.1:7000", "a string", &s_cfg.url, 0, 0, false, NULL},
    {"peers", CB_OPT_ENDPOINTS, "tcp://127.0.0.1:7300", "a secret endpoint list", &s_cfg.endpoints,
     0, 0, true, NULL},
    {"mode", CB_OPT_STRING, "http", "a choice", &s_cfg.mode, 0, 0, false, "http|gateway|both"},
    {"count", CB_OPT_INT, "1", "an int", &s_cfg.count, -1, 65536, false, NULL},
    {"register", CB_OPT_BOOL, "false", "a bool", &s_cfg.flag, 0, 0, false, NULL},
};
#define OPT_COUNT (sizeof OPTS / sizeof OPTS[0])

static char s_fixtures[64];

static void
write_fixture (const char *name, const void *bytes, size_t len)
{
    char path[128];
    snprintf (path, sizeof path, "%s/%s", s_fixtures, name);
    FILE *file = fopen (path, "wb");
    assert (file);
    assert (fwrite (bytes, 1, len, file) == len);
    fclose (file);
}

static const char *const FIXTURES[] = {"token", "url", "empty", "newlines",
                                       "crlf",  "nul", "big",   "badurl"};

static void
remove_fixtures (void)
{
    char path[128];
    for (size_t i = 0; i < sizeof FIXTURES / sizeof FIXTURES[0]; i++) {
        snprintf (path, sizeof path, "%s/%s", s_fixtures, FIXTURES[i]);
        unlink (path);
    }
    rmdir (s_fixtures);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc, (void) argv;
    //  The outside environment must not decide anything.
    extern char **environ;
    for (size_t i = 0; environ[i];) {
        if (strncmp (environ[i], "CORDBANK_", 9) != 0) {
            i++;
            continue;
        }
        char name[256];
        snprintf (name, sizeof name, "%.*s", (int) strcspn (environ[i], "="), environ[i]);
        unsetenv (name);
    }
    const char *tmp = getenv ("TMPDIR") && *getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    snprintf (s_fixtures, sizeof s_fixtures, "%.40s/cbfuzz-config.XXXXXX", tmp);
    assert (mkdtemp (s_fixtures));
    atexit (remove_fixtures);
    write_fixture ("token", MARKER "-token-1234\n", strlen (MARKER) + 12);
    write_fixture ("url", "tcp://127.0.0.1:7301," MARKER "\n", 28);
    write_fixture ("empty", "", 0);
    write_fixture ("newlines", "\n\r\n", 3);
    write_fixture ("crlf", MARKER "\r\n", strlen (MARKER) + 2);
    write_fixture ("nul", MARKER "\0x\n", strlen (MARKER) + 3);
    write_fixture ("badurl", "dns://" MARKER, strlen (MARKER) + 6);
    char *big = malloc (BIG_BYTES);
    assert (big);
    memset (big, 'S', BIG_BYTES);
    write_fixture ("big", big, BIG_BYTES);
    free (big);
    return 0;
}

//  A path inside the fixture directory for a path from the input ("" stays "").
static void
fixture_path (const char *path, char *out, size_t outlen)
{
    if (!*path) {
        snprintf (out, outlen, "%s", path);
        return;
    }
    int at = snprintf (out, outlen, "%s/", s_fixtures);
    for (const char *c = path; *c && (size_t) at + 1 < outlen; c++)
        out[at++] = *c == '/' ? '_' : *c;
    out[at] = '\0';
}

//  The option a "--name[=...]" line names, and whether it is its -file form.
static const cb_option_t *
flag_option (const char *line, bool *is_file)
{
    *is_file = false;
    if (strncmp (line, "--", 2) != 0)
        return NULL;
    const char *name = line + 2;
    size_t len = strcspn (name, "=");
    for (size_t i = 0; i < OPT_COUNT; i++)
        if (strlen (OPTS[i].name) == len && strncmp (OPTS[i].name, name, len) == 0)
            return &OPTS[i];
    if (len > 5 && strncmp (name + len - 5, "-file", 5) == 0) {
        *is_file = true;
        for (size_t i = 0; i < OPT_COUNT; i++)
            if (strlen (OPTS[i].name) == len - 5 && strncmp (OPTS[i].name, name, len - 5) == 0)
                return &OPTS[i];
    }
    return NULL;
}

typedef struct {
    char args[MAX_ARGS][MAX_LINE];
    char *argv[MAX_ARGS + 2];
    int argc;
    char env[MAX_ENV][MAX_LINE];
    int envc;
    bool marker_public; // a non-secret value carries MARKER
    //  By option: the text its last flag gave (a bare bool: "true"), the
    //  text of its variable, and whether a file was named for it either way.
    const char *flag_value[OPT_COUNT], *env_value[OPT_COUNT];
    bool from_file[OPT_COUNT];
} input_t;

//  One environment line: set it, redirecting a _FILE path; notes whether a
//  non-secret variable carries the marker.
static void
add_env (input_t *in, const char *line)
{
    if (in->envc >= MAX_ENV)
        return;
    char *entry = in->env[in->envc];
    snprintf (entry, MAX_LINE, "%s", line);
    char *eq = strchr (entry, '=');
    *eq = '\0';
    const char *value = eq + 1;
    char path[MAX_LINE];
    size_t len = strlen (entry);
    bool is_file = len > 5 && strcmp (entry + len - 5, "_FILE") == 0;
    if (is_file) {
        fixture_path (value, path, sizeof path);
        value = path;
    }
    bool secret = false; // a _FILE path is not: config.c names it in errors
    for (size_t i = 0; i < OPT_COUNT; i++) {
        char env[96];
        cb_config_env_name (OPTS[i].name, env, sizeof env);
        if (is_file && strncmp (env, entry, len - 5) == 0 && env[len - 5] == '\0')
            in->from_file[i] = true;
        else if (!is_file && strcmp (env, entry) == 0) {
            in->env_value[i] = value;
            secret = OPTS[i].secret;
        }
    }
    if (!secret && strstr (value, MARKER))
        in->marker_public = true;
    if (*entry)
        setenv (entry, value, 1);
    in->envc++;
}

//  Splits data into lines, builds argv and sets the environment.
static void
build (input_t *in, const uint8_t *data, size_t size)
{
    memset (in, 0, sizeof *in);
    in->argv[in->argc++] = (char *) "cordbank-fuzz";
    //  What the next line is to config.c: the value of a bare flag (a
    //  secret's, or a path), else an argument of its own.
    bool next_value = false, next_secret = false, next_file = false;
    const cb_option_t *value_of = NULL; // the bare flag this line is the value of
    for (size_t at = 0; at < size && in->argc <= MAX_ARGS;) {
        const uint8_t *nl = memchr (data + at, '\n', size - at);
        size_t len = nl ? (size_t) (nl - (data + at)) : size - at;
        char line[MAX_LINE];
        snprintf (line, sizeof line, "%.*s", (int) (len < MAX_LINE ? len : MAX_LINE - 1),
                  (const char *) data + at);
        at += len + 1;
        if (strncmp (line, "CORDBANK_", 9) == 0 && strchr (line, '=')) {
            add_env (in, line);
            continue;
        }
        char *arg = in->args[in->argc - 1];
        bool is_file = false;
        const cb_option_t *opt = next_value ? NULL : flag_option (line, &is_file);
        const char *eq = strchr (line, '=');
        if (next_file)
            fixture_path (line, arg, MAX_LINE);
        else if (opt && is_file && eq) {
            size_t name_len = (size_t) (eq + 1 - line);
            snprintf (arg, MAX_LINE, "%.*s", (int) name_len, line);
            fixture_path (eq + 1, arg + name_len, MAX_LINE - name_len);
        } else
            snprintf (arg, MAX_LINE, "%s", line);
        //  Secret: the value after a bare secret flag, and after "--secret=".
        //  Everything else (names, paths, other values) may be echoed.
        bool secret_value = next_secret || (opt && opt->secret && !is_file && eq);
        if (!secret_value && strstr (arg, MARKER))
            in->marker_public = true;
        if (value_of && !next_file)
            in->flag_value[value_of - OPTS] = arg;
        else if (opt && is_file)
            in->from_file[opt - OPTS] = true;
        else if (opt && eq)
            in->flag_value[opt - OPTS] = arg + (eq + 1 - line);
        else if (opt && opt->type == CB_OPT_BOOL)
            in->flag_value[opt - OPTS] = "true";
        value_of = opt && !eq && (is_file || opt->type != CB_OPT_BOOL) ? opt : NULL;
        next_value = opt && !eq && (is_file || opt->type != CB_OPT_BOOL);
        next_secret = next_value && !is_file && opt->secret;
        next_file = next_value && is_file;
        in->argv[in->argc++] = arg;
    }
    in->argv[in->argc] = NULL;
}

static void
unset_env (const input_t *in)
{
    for (int i = 0; i < in->envc; i++)
        if (in->env[i][0])
            unsetenv (in->env[i]);
}

//  True for the texts config.c reads as true (any other valid one is false).
static bool
truthy (const char *text)
{
    return !strcasecmp (text, "1") || !strcasecmp (text, "true") || !strcasecmp (text, "yes") ||
           !strcasecmp (text, "on");
}

//  After CB_CONFIG_OK: every option is set, within its bounds, and holds
//  what its last flag (else its variable) gave, unless a file gave it.
static void
check_values (const input_t *in)
{
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const cb_option_t *opt = &OPTS[i];
        const char *given = in->flag_value[i];
        if (!given && !in->from_file[i])
            given = in->env_value[i];
        if (in->from_file[i] && !in->flag_value[i])
            given = NULL;
        if (opt->type == CB_OPT_INT) {
            int64_t value = *(const int64_t *) opt->target;
            assert (value >= opt->min && value <= opt->max);
            assert (!given || value == strtoll (given, NULL, 10));
        } else if (opt->type == CB_OPT_BOOL)
            assert (!given || *(const bool *) opt->target == truthy (given));
        else {
            const char *value = *(char *const *) opt->target;
            assert (value);
            if (given && strcmp (value, given) != 0) {
                fprintf (stderr, "fuzz_config: --%s is \"%s\", given \"%s\"\n", opt->name, value,
                         given);
                abort ();
            }
            if (opt->choices) {
                size_t len = strlen (value);
                const char *found = strstr (opt->choices, value);
                assert (len && found && (found[len] == '|' || found[len] == '\0'));
            }
        }
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static input_t in;
    build (&in, data, size);
    char err[512] = "";
    //  What --help or --print-config prints, in memory.
    char *out = NULL;
    size_t out_len = 0;
    FILE *saved = stdout;
    stdout = open_memstream (&out, &out_len);
    assert (stdout);
    int rc = cb_config_parse ("cordbank-fuzz", "fuzzing", OPTS, OPT_COUNT, in.argc, in.argv, err,
                              sizeof err);
    fclose (stdout);
    stdout = saved;
    assert (rc == CB_CONFIG_OK || rc == CB_CONFIG_HELP || rc == CB_CONFIG_ERROR);
    assert (rc == CB_CONFIG_HELP || out_len == 0);
    if (rc == CB_CONFIG_HELP && strstr (out, MARKER) && !in.marker_public) {
        fprintf (stderr, "fuzz_config: a secret in --help or --print-config:\n%s\n", out);
        abort ();
    }
    if (rc == CB_CONFIG_HELP && out[0] == '{') { // --print-config, not --help
        json_t *dump = json_loads (out, 0, NULL);
        assert (dump && json_object_size (json_object_get (dump, "options")) == OPT_COUNT);
        json_decref (dump);
        check_values (&in);
    }
    free (out);
    if (rc == CB_CONFIG_OK)
        check_values (&in);
    if (rc == CB_CONFIG_ERROR) {
        assert (*err && !strchr (err, '\n'));
        if (strstr (err, MARKER) && !in.marker_public) {
            fprintf (stderr, "fuzz_config: a secret in an error message: %s\n", err);
            abort ();
        }
    }
    cb_config_free (OPTS, OPT_COUNT);
    unset_env (&in);
    return 0;
}
