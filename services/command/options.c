/*  options — reading a command's options and resolved users.
 *
 *  Lookups are linear: a slash command has a handful of options and
 *  Discord allows at most 25, so a table would cost more than it saves.
 */
#include "services/command/options.h"

#include <assert.h>
#include <string.h>

const Cordbank__CommandOption *
options_find (const Cordbank__CommandRequest *request, const char *name)
{
    assert (request && name);
    for (size_t i = 0; i < request->n_options; i++) {
        const Cordbank__CommandOption *option = request->options[i];
        if (option && option->name && strcmp (option->name, name) == 0)
            return option;
    }
    return NULL;
}

int
options_int (const Cordbank__CommandRequest *request, const char *name, int64_t *value)
{
    assert (value);
    const Cordbank__CommandOption *option = options_find (request, name);
    if (!option)
        return 0;
    if (option->value_case != CORDBANK__COMMAND_OPTION__VALUE_INT_VALUE)
        return -1;
    *value = option->int_value;
    return 1;
}

int
options_user (const Cordbank__CommandRequest *request, const char *name, uint64_t *user)
{
    assert (user);
    const Cordbank__CommandOption *option = options_find (request, name);
    if (!option)
        return 0;
    if (option->value_case != CORDBANK__COMMAND_OPTION__VALUE_USER_VALUE || option->user_value == 0)
        return -1;
    *user = option->user_value;
    return 1;
}

bool
options_user_is_bot (const Cordbank__CommandRequest *request, uint64_t user)
{
    assert (request);
    for (size_t i = 0; i < request->n_resolved_users; i++) {
        const Cordbank__ResolvedUser *resolved = request->resolved_users[i];
        if (resolved && resolved->id == user)
            return resolved->bot;
    }
    return false;
}
