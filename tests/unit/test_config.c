/*  config: defaults, environment, flags, and one-line refusals. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

typedef struct {
    char *url;
    int64_t port;
    bool verbose;
    char *peers;
    char *token;
    char *level;
} fixture_t;

static fixture_t f;
static cb_option_t opts[] = {
    {"url", CB_OPT_STRING, "postgresql://x", "database", &f.url, 0, 0, false, NULL},
    {"port", CB_OPT_INT, "7300", "port", &f.port, 1, 65535, false, NULL},
    {"verbose", CB_OPT_BOOL, "false", "chatty", &f.verbose, 0, 0, false, NULL},
    {"peers", CB_OPT_ENDPOINTS, "tcp://127.0.0.1:1", "peers", &f.peers, 0, 0, false, NULL},
    {"token", CB_OPT_STRING, "", "secret", &f.token, 0, 0, true, NULL},
    {"level", CB_OPT_STRING, "info", "level", &f.level, 0, 0, false, "debug|info|warn"},
};
#define N (sizeof opts / sizeof opts[0])

static int
parse (int argc, const char **argv, char *err)
{
    return cb_config_parse ("t", "test", opts, N, argc, (char **) argv, err, 256);
}

static void
teardown (void)
{
    cb_config_free (opts, N);
    unsetenv ("CORDBANK_PORT");
    unsetenv ("CORDBANK_TOKEN");
}

TestSuite (config, .fini = teardown);

Test (config, defaults)
{
    char err[256];
    const char *argv[] = {"t"};
    cr_assert_eq (parse (1, argv, err), CB_CONFIG_OK);
    cr_assert_str_eq (f.url, "postgresql://x");
    cr_assert_eq (f.port, 7300);
    cr_assert_not (f.verbose);
}

Test (config, env_then_flag_wins)
{
    char err[256];
    const char *argv[] = {"t", "--port", "9000", "--verbose", "--url=pg://y"};
    setenv ("CORDBANK_PORT", "8000", 1);
    cr_assert_eq (parse (5, argv, err), CB_CONFIG_OK);
    cr_assert_eq (f.port, 9000);
    cr_assert (f.verbose);
    cr_assert_str_eq (f.url, "pg://y");
}

Test (config, env_alone)
{
    char err[256];
    const char *argv[] = {"t"};
    setenv ("CORDBANK_PORT", "8000", 1);
    cr_assert_eq (parse (1, argv, err), CB_CONFIG_OK);
    cr_assert_eq (f.port, 8000);
}

Test (config, bad_env_names_the_variable)
{
    char err[256];
    const char *argv[] = {"t"};
    setenv ("CORDBANK_PORT", "eighty", 1);
    cr_assert_eq (parse (1, argv, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "CORDBANK_PORT") != NULL, "%s", err);
    cr_assert (strstr (err, "whole number") != NULL, "%s", err);
}

Test (config, out_of_range_flag)
{
    char err[256];
    const char *argv[] = {"t", "--port=70000"};
    cr_assert_eq (parse (2, argv, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "--port") && strstr (err, "1..65535"), "%s", err);
}

Test (config, unknown_flag_and_missing_value)
{
    char err[256];
    const char *a1[] = {"t", "--nope"}, *a2[] = {"t", "--port"}, *a3[] = {"t", "stray"};
    cr_assert_eq (parse (2, a1, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "unknown option --nope"), "%s", err);
    cr_assert_eq (parse (2, a2, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "needs a value"), "%s", err);
    cr_assert_eq (parse (2, a3, err), CB_CONFIG_ERROR);
}

Test (config, bad_endpoints)
{
    char err[256];
    const char *argv[] = {"t", "--peers", "tcp://127.0.0.1:1,udp://x:2"};
    cr_assert_eq (parse (3, argv, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "--peers") && strstr (err, "udp://x:2"), "%s", err);
}

Test (config, bad_bool)
{
    char err[256];
    const char *argv[] = {"t", "--verbose=maybe"};
    cr_assert_eq (parse (2, argv, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "true or false"), "%s", err);
}

Test (config, secret_value_never_echoed)
{
    char err[256];
    const char *argv[] = {"t"};
    opts[4].type = CB_OPT_INT; // make any value invalid for a moment
    opts[4].min = 0, opts[4].max = 1;
    f.token = NULL;
    setenv ("CORDBANK_TOKEN", "hunter2", 1);
    opts[4].default_value = "0";
    int rc = parse (1, argv, err);
    opts[4].type = CB_OPT_STRING;
    opts[4].default_value = "";
    cr_assert_eq (rc, CB_CONFIG_ERROR);
    cr_assert (strstr (err, "CORDBANK_TOKEN") && !strstr (err, "hunter2"), "%s", err);
}

Test (config, env_name)
{
    char env[64];
    cb_config_env_name ("pg-url", env, sizeof env);
    cr_assert_str_eq (env, "CORDBANK_PG_URL");
}

Test (config, choices)
{
    char err[256];
    const char *ok[] = {"t", "--level", "warn"}, *bad[] = {"t", "--level=inf"};
    cr_assert_eq (parse (3, ok, err), CB_CONFIG_OK);
    cr_assert_str_eq (f.level, "warn");
    cr_assert_eq (parse (2, bad, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "--level=\"inf\"") && strstr (err, "debug|info|warn"), "%s", err);
}

//  --- secrets from files ----------------------------------------------------

//  A temporary file holding text; its path in path (the caller unlinks it).
static void
write_file (char *path, const char *text)
{
    strcpy (path, "/tmp/cb-config-test-XXXXXX");
    int fd = mkstemp (path);
    cr_assert (fd >= 0);
    size_t len = strlen (text);
    cr_assert_eq (write (fd, text, len), (ssize_t) len);
    close (fd);
}

Test (config, secret_from_env_file_strips_the_newline)
{
    char err[256], path[64];
    const char *argv[] = {"t"};
    write_file (path, "s3cret-token\n");
    setenv ("CORDBANK_TOKEN_FILE", path, 1);
    int rc = parse (1, argv, err);
    unlink (path);
    unsetenv ("CORDBANK_TOKEN_FILE");
    cr_assert_eq (rc, CB_CONFIG_OK, "%s", err);
    cr_assert_str_eq (f.token, "s3cret-token");
}

Test (config, secret_from_flag_file_both_forms)
{
    char err[256], path[64];
    write_file (path, "tok en\r\n\n");
    const char *eq[] = {"t", NULL}, *sep[] = {"t", "--token-file", path};
    char flag[96];
    snprintf (flag, sizeof flag, "--token-file=%s", path);
    eq[1] = flag;
    cr_assert_eq (parse (2, eq, err), CB_CONFIG_OK, "%s", err);
    cr_assert_str_eq (f.token, "tok en");
    cb_config_free (opts, N);
    cr_assert_eq (parse (3, sep, err), CB_CONFIG_OK, "%s", err);
    cr_assert_str_eq (f.token, "tok en");
    unlink (path);
}

Test (config, a_flag_file_wins_over_the_env_value)
{
    char err[256], path[64];
    write_file (path, "from-file");
    const char *argv[] = {"t", "--token-file", path};
    setenv ("CORDBANK_TOKEN", "from-env", 1);
    int rc = parse (3, argv, err);
    unlink (path);
    cr_assert_eq (rc, CB_CONFIG_OK, "%s", err);
    cr_assert_str_eq (f.token, "from-file");
}

Test (config, env_value_and_file_both_given_is_refused)
{
    char err[256], path[64];
    const char *argv[] = {"t"};
    write_file (path, "hunter2-file");
    setenv ("CORDBANK_TOKEN", "hunter2-env", 1);
    setenv ("CORDBANK_TOKEN_FILE", path, 1);
    int rc = parse (1, argv, err);
    unlink (path);
    unsetenv ("CORDBANK_TOKEN_FILE");
    cr_assert_eq (rc, CB_CONFIG_ERROR);
    cr_assert (strstr (err, "both CORDBANK_TOKEN and CORDBANK_TOKEN_FILE"), "%s", err);
    cr_assert (!strstr (err, "hunter2"), "%s", err);
}

Test (config, flag_value_and_file_both_given_is_refused)
{
    char err[256], path[64];
    write_file (path, "hunter2-file");
    const char *argv[] = {"t", "--token=hunter2-flag", "--token-file", path};
    int rc = parse (4, argv, err);
    unlink (path);
    cr_assert_eq (rc, CB_CONFIG_ERROR);
    cr_assert (strstr (err, "both --token and --token-file"), "%s", err);
    cr_assert (!strstr (err, "hunter2"), "%s", err);
}

Test (config, unreadable_secret_file_names_variable_and_path)
{
    char err[256];
    const char *argv[] = {"t"};
    setenv ("CORDBANK_TOKEN_FILE", "/nonexistent/cordbank-token", 1);
    int rc = parse (1, argv, err);
    unsetenv ("CORDBANK_TOKEN_FILE");
    cr_assert_eq (rc, CB_CONFIG_ERROR);
    cr_assert (strstr (err, "CORDBANK_TOKEN_FILE=\"/nonexistent/cordbank-token\"") &&
                   strstr (err, "No such file"),
               "%s", err);
}

Test (config, empty_secret_file_is_refused)
{
    char err[256], path[64];
    write_file (path, "\n");
    const char *argv[] = {"t", "--token-file", path};
    int rc = parse (3, argv, err);
    unlink (path);
    cr_assert_eq (rc, CB_CONFIG_ERROR);
    cr_assert (strstr (err, "--token-file") && strstr (err, "empty"), "%s", err);
}

Test (config, only_secrets_have_a_file_flag)
{
    char err[256];
    const char *argv[] = {"t", "--url-file=/etc/hostname"};
    cr_assert_eq (parse (2, argv, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "unknown option --url-file"), "%s", err);
}

Test (config, invalid_secret_from_a_file_is_not_echoed)
{
    char *peers = NULL, err[256], path[64];
    cb_option_t secret_peers[] = {
        {"peers", CB_OPT_ENDPOINTS, "", "peers", &peers, 0, 0, true, NULL},
    };
    write_file (path, "tcp://hunter2:1,udp://hunter2:2\n");
    const char *argv[] = {"t", "--peers-file", path};
    int rc = cb_config_parse ("t", "test", secret_peers, 1, 3, (char **) argv, err, sizeof err);
    unlink (path);
    cr_assert_eq (rc, CB_CONFIG_ERROR);
    cr_assert (strstr (err, "--peers-file") && !strstr (err, "hunter2"), "%s", err);
    setenv ("CORDBANK_PEERS", "udp://hunter2:2", 1);
    rc = cb_config_parse ("t", "test", secret_peers, 1, 1, (char **) argv, err, sizeof err);
    unsetenv ("CORDBANK_PEERS");
    cr_assert_eq (rc, CB_CONFIG_ERROR);
    cr_assert (strstr (err, "CORDBANK_PEERS") && !strstr (err, "hunter2"), "%s", err);
    cb_config_free (secret_peers, 1);
}

Test (config, a_stray_argument_is_not_echoed)
{
    char err[256];
    const char *argv[] = {"t", "--verbose", "hunter2"};
    cr_assert_eq (parse (3, argv, err), CB_CONFIG_ERROR);
    cr_assert (strstr (err, "unexpected argument #2") && !strstr (err, "hunter2"), "%s", err);
}

//  What the test printed on stdout so far (under .init = cr_redirect_stdout).
static const char *
captured_stdout (void)
{
    static char out[8192];
    fflush (stdout);
    size_t n = fread (out, 1, sizeof out - 1, cr_get_redirected_stdout ());
    out[n] = '\0';
    return out;
}

//  --help prints <secret> for a secret's default, and its file forms.
Test (config, help_redacts_secrets, .init = cr_redirect_stdout)
{
    char *token = NULL, err[256];
    cb_option_t secret_opts[] = {
        {"token", CB_OPT_STRING, "dev-hunter2", "bot token", &token, 0, 0, true, NULL},
    };
    const char *argv[] = {"t", "--help"};
    setenv ("CORDBANK_TOKEN", "env-hunter2", 1);
    cr_assert_eq (cb_config_parse ("t", "test", secret_opts, 1, 2, (char **) argv, err, sizeof err),
                  CB_CONFIG_HELP);
    const char *out = captured_stdout ();
    cr_assert (strstr (out, "(default: \"<secret>\")"), "%s", out);
    cr_assert (strstr (out, "--token-file") && strstr (out, "CORDBANK_TOKEN_FILE"), "%s", out);
    cr_assert (!strstr (out, "hunter2"), "%s", out);
}

//  --print-config: the effective values and their sources, as JSON; a
//  secret's value never, and exit as after --help.
static json_t *
print_config (int argc, const char **argv, int want)
{
    char err[256] = "";
    cr_assert_eq (parse (argc, argv, err), want, "%s", err);
    const char *out = captured_stdout ();
    cr_assert (!strstr (out, "hunter2"), "a secret in the dump: %s", out);
    if (want != CB_CONFIG_HELP) {
        cr_assert_eq (strlen (out), 0, "printed despite the error: %s", out);
        return NULL;
    }
    json_error_t error;
    json_t *dump = json_loads (out, 0, &error);
    cr_assert (dump, "not JSON (%s): %s", error.text, out);
    return dump;
}

static void
expect_option (json_t *dump, const char *name, const char *value_json, const char *source)
{
    json_t *opt = json_object_get (json_object_get (dump, "options"), name);
    cr_assert (opt, "no %s", name);
    char *value = json_dumps (json_object_get (opt, "value"), JSON_ENCODE_ANY);
    cr_assert_str_eq (value, value_json, "%s", name);
    free (value);
    cr_assert_str_eq (json_string_value (json_object_get (opt, "source")), source, "%s", name);
}

Test (config, print_config_values_and_sources, .init = cr_redirect_stdout)
{
    char path[64], flag[96];
    write_file (path, "file-hunter2\n");
    snprintf (flag, sizeof flag, "--token-file=%s", path);
    setenv ("CORDBANK_PORT", "8000", 1);
    setenv ("CORDBANK_TOKEN", "env-hunter2", 1); // the file flag wins over it
    const char *argv[] = {"t", "--level", "debug", "--print-config", flag, "--verbose"};
    json_t *dump = print_config (6, argv, CB_CONFIG_HELP);
    unlink (path);
    cr_assert_str_eq (json_string_value (json_object_get (dump, "program")), "t");
    expect_option (dump, "url", "\"postgresql://x\"", "default");
    expect_option (dump, "port", "8000", "CORDBANK_PORT");
    expect_option (dump, "verbose", "true", "--verbose");
    expect_option (dump, "level", "\"debug\"", "--level");
    expect_option (dump, "token", "\"<redacted>\"", flag);
    cr_assert_eq (json_object_size (json_object_get (dump, "options")), N);
    json_decref (dump);
}

Test (config, print_config_shows_an_unset_secret_as_empty, .init = cr_redirect_stdout)
{
    const char *argv[] = {"t", "--print-config"};
    json_t *dump = print_config (2, argv, CB_CONFIG_HELP);
    expect_option (dump, "token", "\"\"", "default");
    json_decref (dump);
}

//  An invalid configuration is refused as always, and nothing is printed.
Test (config, print_config_of_a_bad_configuration_is_the_error, .init = cr_redirect_stdout)
{
    const char *argv[] = {"t", "--print-config", "--port=0", "--token=hunter2"};
    print_config (4, argv, CB_CONFIG_ERROR);
}
