/*  fuzz_command — command's option parsing and validation of a
 *  CommandRequest off the wire.
 *
 *  Input: one byte that picks the configured --max-pay (the bound /pay and
 *  /grant check against; command's option allows 1..2^63-1), then a packed
 *  CommandRequest as command receives it from any gateway (a newer or a
 *  broken one: options of any type, repeated names, zero ids). The request
 *  goes through command_path.h: every option reader and validator, and
 *  the refusal each result is answered with.
 */
#include <stdint.h>

#include "command.pb-c.h"
#include "tests/fuzz/command_path.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const int64_t MAX_PAY[] = {1, 100, INT64_C (1000000000000), (INT64_C (1) << 53) - 1,
                                  INT64_MAX};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int64_t max_pay = MAX_PAY[data[0] % (sizeof MAX_PAY / sizeof MAX_PAY[0])];
    Cordbank__CommandRequest *request =
        cordbank__command_request__unpack (NULL, size - 1, data + 1);
    if (!request)
        return 0;
    fuzz_command_path (request, max_pay);
    cordbank__command_request__free_unpacked (request, NULL);
    return 0;
}
