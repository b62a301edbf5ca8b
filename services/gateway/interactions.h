/*  interactions — the POST /interactions endpoint Discord calls.
 *
 *  Each request is checked (signature, then JSON), answered at once when it
 *  can be (PING, a DM, a malformed request) or sent to the command service
 *  as a CommandRequest and answered with its rendered reply; when command
 *  cannot answer within the reply budget, the user still gets an
 *  ephemeral "having trouble" message before Discord's 3 s deadline.
 */
#ifndef GW_INTERACTIONS_H
#define GW_INTERACTIONS_H

#include <stdint.h>

#include "common/client.h"
#include "common/http.h"
#include "signature.h"

//  Largest interaction body accepted.
#define GW_MAX_BODY (64 * 1024)

typedef struct gw_interactions gw_interactions_t;

//  command is borrowed (the service owns it) and must outlive the object.
gw_interactions_t *gw_interactions_new (cb_client_t *command,
                                        const uint8_t public_key[GW_PUBLIC_KEY_BYTES],
                                        int64_t reply_budget_ms);
//  Call after every interaction has been answered (after the service, whose
//  clients answer their pending calls when destroyed, is destroyed).
void gw_interactions_destroy (gw_interactions_t **self_p);

//  The route handler (cb_http_fn) for POST /interactions; arg is the object.
void gw_interactions_handle (cb_http_request_t *request, void *arg);

#endif
