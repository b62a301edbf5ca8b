/*  handlers — the balance service's requests and events.
 *
 *  BalanceGetRequest, TransferRequest, HistoryRequest and
 *  LeaderboardRequest arrive on the ROUTER; each becomes one ledger request
 *  (ledger.h), answered when the ledger calls back. After a transfer is applied (not
 *  replayed) one BalanceChanged per member account goes out on the events
 *  PUB socket, so caches can move to the new version.
 */
#ifndef BALANCE_HANDLERS_H
#define BALANCE_HANDLERS_H

#include <stdint.h>

#include "common/pubsub.h"
#include "common/service.h"
#include "services/balance/ledger.h"

//  What DAILY and WORK pay and how often.
typedef struct {
    int64_t daily_amount;
    int64_t daily_cooldown_ms;
    int64_t work_min; // WORK pays uniformly in [work_min, work_max]
    int64_t work_max;
    int64_t work_cooldown_ms;
} handlers_rewards_t;

//  What history and leaderboard requests get when they name no size.
#define HANDLERS_HISTORY_DEFAULT 10
#define HANDLERS_BOARD_DEFAULT   10

typedef struct handlers handlers_t;

//  Borrows ledger and events (both must outlive the handlers). NULL on
//  allocation failure.
handlers_t *handlers_new (ledger_t *ledger, cb_publisher_t *events,
                          const handlers_rewards_t *rewards);
void handlers_destroy (handlers_t **self_p);

//  Registers the request handlers on the service's ROUTER.
void handlers_register (handlers_t *self, cb_service_t *service);

#endif
