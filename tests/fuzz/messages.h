/*  messages — every message in proto/, in the order fuzz_proto's first
 *  input byte picks them by (so seeds.c writes seeds the same way). New
 *  messages go at the end: the corpus's selector bytes must keep meaning.
 */
#ifndef FUZZ_MESSAGES_H
#define FUZZ_MESSAGES_H

#include "command.pb-c.h"
#include "envelope.pb-c.h"
#include "ledger.pb-c.h"
#include "metrics.pb-c.h"

//  The Envelope first (selector byte 0).
static const ProtobufCMessageDescriptor *const FUZZ_MESSAGES[] = {
    &cordbank__envelope__descriptor,
    &cordbank__sender__descriptor,
    &cordbank__command_option__descriptor,
    &cordbank__resolved_user__descriptor,
    &cordbank__command_request__descriptor,
    &cordbank__embed__descriptor,
    &cordbank__command_reply__descriptor,
    &cordbank__balance_get_request__descriptor,
    &cordbank__balance_get_reply__descriptor,
    &cordbank__transfer_request__descriptor,
    &cordbank__account_state__descriptor,
    &cordbank__transfer_reply__descriptor,
    &cordbank__balance_changed__descriptor,
    &cordbank__balance_update__descriptor,
    &cordbank__balance_update_reply__descriptor,
    &cordbank__history_request__descriptor,
    &cordbank__history_entry__descriptor,
    &cordbank__history_reply__descriptor,
    &cordbank__leaderboard_request__descriptor,
    &cordbank__leaderboard_entry__descriptor,
    &cordbank__leaderboard_reply__descriptor,
    &cordbank__active_accounts_request__descriptor,
    &cordbank__active_accounts_reply__descriptor,
    &cordbank__admit_request__descriptor,
    &cordbank__admit_reply__descriptor,
    &cordbank__metric_sample__descriptor,
    &cordbank__metric_family__descriptor,
    &cordbank__metrics_snapshot__descriptor,
};
#define FUZZ_MESSAGE_COUNT (sizeof FUZZ_MESSAGES / sizeof FUZZ_MESSAGES[0])

//  The selector byte of d, or -1.
static inline int
fuzz_message_index (const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < FUZZ_MESSAGE_COUNT; i++)
        if (FUZZ_MESSAGES[i] == d)
            return (int) i;
    return -1;
}

#endif
