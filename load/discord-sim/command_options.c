/*  command_options — the options of an application command, checked as
 *  Discord checks them (see commands.h for the list of rules).
 *
 *  Options nest: a command's options are either all subcommands / groups
 *  or all plain values; a group holds only subcommands; a subcommand holds
 *  only plain values. `parent` below says which level is being checked.
 */
#include "load/discord-sim/command_check.h"

#include <stdio.h>
#include <string.h>

#define OPTIONS_MAX       25
#define CHOICES_MAX       25
#define STRING_LENGTH_MAX 6000

enum {
    OPT_SUB = 1,
    OPT_GROUP = 2,
    OPT_STRING = 3,
    OPT_INTEGER = 4,
    OPT_CHANNEL = 7,
    OPT_NUMBER = 10
};
enum { PARENT_COMMAND = 0, PARENT_SUB = OPT_SUB, PARENT_GROUP = OPT_GROUP };

static bool
has (const json_t *obj, const char *field)
{
    const json_t *value = json_object_get (obj, field);
    return value && !json_is_null (value);
}

static void
add_at (cc_errs_t *e, const char *base, const char *field, const char *code, const char *message)
{
    char path[256];
    cc_path_join (path, sizeof path, base, field);
    cc_err_add (e, path, code, message);
}

static bool
choice_value_ok (int64_t type, const json_t *value)
{
    if (type == OPT_STRING)
        return json_is_string (value) && cc_utf8_length (json_string_value (value)) >= 1 &&
               cc_utf8_length (json_string_value (value)) <= 100;
    if (type == OPT_INTEGER)
        return json_is_integer (value);
    return json_is_number (value);
}

static void
check_choices (cc_errs_t *e, const json_t *opt, const char *base, int64_t type, long *total)
{
    const json_t *choices = json_object_get (opt, "choices");
    if (!has (opt, "choices"))
        return;
    if (type != OPT_STRING && type != OPT_INTEGER && type != OPT_NUMBER) {
        add_at (e, base, "choices", "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                "Only STRING, INTEGER and NUMBER options have choices");
        return;
    }
    if (!json_is_array (choices) || json_array_size (choices) > CHOICES_MAX) {
        add_at (e, base, "choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.");
        return;
    }
    if (json_is_true (json_object_get (opt, "autocomplete")))
        add_at (e, base, "autocomplete", "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES",
                "Autocomplete cannot be set with choices");
    size_t i;
    const json_t *choice;
    json_array_foreach (choices, i, choice)
    {
        char at[300];
        if (snprintf (at, sizeof at, "%s.choices.%zu", base, i) >= (int) sizeof at)
            continue; // a path too deep to report
        if (!json_is_object (choice)) {
            cc_err_add (e, at, "MODEL_TYPE_CONVERT",
                        "Only dictionaries may be used in a ModelType");
            continue;
        }
        cc_text (e, choice, at, "name", 1, 100, total);
        if (!choice_value_ok (type, json_object_get (choice, "value")))
            add_at (e, at, "value", "BASE_TYPE_BAD_TYPE", "Value does not match the option type.");
    }
}

static void
check_bounds (cc_errs_t *e, const json_t *opt, const char *base, int64_t type)
{
    bool numeric = type == OPT_INTEGER || type == OPT_NUMBER;
    const json_t *min = json_object_get (opt, "min_value"),
                 *max = json_object_get (opt, "max_value");
    if ((has (opt, "min_value") || has (opt, "max_value")) && !numeric)
        add_at (e, base, "min_value", "APPLICATION_COMMAND_OPTION_BOUNDS_INVALID",
                "Only INTEGER and NUMBER options have min_value and max_value");
    else if ((has (opt, "min_value") && !json_is_number (min)) ||
             (has (opt, "max_value") && !json_is_number (max)))
        add_at (e, base, "min_value", "NUMBER_TYPE_COERCE", "Value is not a number.");
    else if (has (opt, "min_value") && has (opt, "max_value") &&
             json_number_value (min) > json_number_value (max))
        add_at (e, base, "max_value", "NUMBER_TYPE_MIN", "max_value must not be below min_value.");
    const json_t *minl = json_object_get (opt, "min_length"),
                 *maxl = json_object_get (opt, "max_length");
    if ((has (opt, "min_length") || has (opt, "max_length")) && type != OPT_STRING)
        add_at (e, base, "min_length", "APPLICATION_COMMAND_OPTION_BOUNDS_INVALID",
                "Only STRING options have min_length and max_length");
    else if (has (opt, "min_length") && (!json_is_integer (minl) || json_integer_value (minl) < 0 ||
                                         json_integer_value (minl) > STRING_LENGTH_MAX))
        add_at (e, base, "min_length", "NUMBER_TYPE_MAX", "Must be between 0 and 6000.");
    else if (has (opt, "max_length") && (!json_is_integer (maxl) || json_integer_value (maxl) < 1 ||
                                         json_integer_value (maxl) > STRING_LENGTH_MAX))
        add_at (e, base, "max_length", "NUMBER_TYPE_MAX", "Must be between 1 and 6000.");
    if (has (opt, "channel_types") && type != OPT_CHANNEL)
        add_at (e, base, "channel_types", "APPLICATION_COMMAND_OPTION_CHANNEL_TYPES_INVALID",
                "Only CHANNEL options have channel_types");
    if (has (opt, "autocomplete") && !numeric && type != OPT_STRING)
        add_at (e, base, "autocomplete", "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID",
                "Only STRING, INTEGER and NUMBER options can autocomplete");
}

//  Which option types may appear at this level.
static bool
type_allowed (int parent, int64_t type)
{
    if (parent == PARENT_GROUP)
        return type == OPT_SUB;
    if (parent == PARENT_SUB)
        return type != OPT_SUB && type != OPT_GROUP;
    return true;
}

static int64_t
check_option (cc_errs_t *e, const json_t *opt, const char *base, int parent, long *total)
{
    if (!json_is_object (opt)) {
        cc_err_add (e, base, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType");
        return 0;
    }
    const json_t *tv = json_object_get (opt, "type");
    int64_t type = json_is_integer (tv) ? json_integer_value (tv) : 0;
    if (type < 1 || type > 11) {
        add_at (e, base, "type", "BASE_TYPE_CHOICES",
                "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.");
        type = 0;
    } else if (!type_allowed (parent, type))
        add_at (e, base, "type", "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                parent == PARENT_GROUP ? "Sub-command groups may only contain sub-commands"
                                       : "Sub-commands may not contain sub-commands or groups");
    const char *name = cc_text (e, opt, base, "name", 1, NAME_MAX_CHARS, total);
    if (name && !cc_name_ok (name, true, false))
        add_at (e, base, "name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid");
    cc_text (e, opt, base, "description", 1, DESC_MAX_CHARS, total);
    cc_bool (e, opt, base, "required");
    cc_bool (e, opt, base, "autocomplete");
    if (type)
        check_choices (e, opt, base, type, total);
    if (type)
        check_bounds (e, opt, base, type);
    const json_t *nested = json_object_get (opt, "options");
    if (has (opt, "options")) {
        if (type != OPT_SUB && type != OPT_GROUP)
            add_at (e, base, "options", "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Only sub-commands and groups have options");
        else
            cc_options (e, nested, base, (int) type, total);
    }
    return type;
}

//  Options of one level are either all subcommands/groups or none are.
static void
check_level (cc_errs_t *e, const json_t *options, const char *base, const int64_t *types)
{
    size_t i, subs = 0, n = json_array_size (options);
    bool optional_seen = false;
    for (i = 0; i < n; i++) {
        const json_t *opt = json_array_get (options, i);
        char at[300];
        if (snprintf (at, sizeof at, "%s.options.%zu", base, i) >= (int) sizeof at)
            continue; // a path too deep to report
        subs += types[i] == OPT_SUB || types[i] == OPT_GROUP;
        bool required = json_is_true (json_object_get (opt, "required"));
        if (required && optional_seen)
            add_at (e, at, "required", "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options");
        optional_seen |= !required;
        const char *name = json_string_value (json_object_get (opt, "name"));
        for (size_t j = 0; name && j < i; j++) {
            const char *other =
                json_string_value (json_object_get (json_array_get (options, j), "name"));
            if (other && strcmp (other, name) == 0) {
                add_at (e, at, "name", "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                        "Option names must be unique");
                break;
            }
        }
    }
    if (subs > 0 && subs < n)
        add_at (e, base, "options", "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                "Sub-command and sub-command group option types are mutually exclusive to all "
                "other types");
}

void
cc_options (cc_errs_t *e, const json_t *options, const char *base, int parent, long *total)
{
    if (!json_is_array (options)) {
        add_at (e, base, "options", "BASE_TYPE_ARRAY", "Must be an array.");
        return;
    }
    if (json_array_size (options) > OPTIONS_MAX) {
        add_at (e, base, "options", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.");
        return;
    }
    int64_t types[OPTIONS_MAX] = {0};
    size_t i;
    const json_t *opt;
    json_array_foreach (options, i, opt)
    {
        char at[300];
        if (snprintf (at, sizeof at, "%s.options.%zu", base, i) >= (int) sizeof at)
            continue; // a path too deep to report
        types[i] = check_option (e, opt, at, parent, total);
    }
    check_level (e, options, base, types);
}
