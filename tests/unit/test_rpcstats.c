/*  rpcstats: the same series the registry would give, counted per method
 *  and status, looked up once. */
#include <criterion/criterion.h>

#include "common/clock.h"
#include "common/rpcstats.h"

static void
reset (void)
{
    cb_metrics_reset ();
}

TestSuite (rpcstats, .init = reset, .fini = reset);

Test (rpcstats, client_series_by_target_method_status)
{
    cb_rpcstats_t stats;
    cb_rpcstats_init_client (&stats, "balance");
    int64_t now = cb_mono_us ();
    cb_rpcstats_observe (&stats, CORDBANK__ENVELOPE__BODY_TRANSFER_REQUEST,
                         CORDBANK__STATUS__STATUS_OK, now);
    cb_rpcstats_observe (&stats, CORDBANK__ENVELOPE__BODY_TRANSFER_REQUEST,
                         CORDBANK__STATUS__STATUS_OK, now);
    cb_rpcstats_observe (&stats, CORDBANK__ENVELOPE__BODY_TRANSFER_REQUEST,
                         CORDBANK__STATUS__STATUS_UNAVAILABLE, now);
    cr_assert_eq (cb_metric_value (cb_metrics_counter (
                      "cordbank_rpc_client_requests_total", "",
                      "target=\"balance\",method=\"transfer_request\",status=\"ok\"")),
                  2);
    cr_assert_eq (cb_metric_value (cb_metrics_counter (
                      "cordbank_rpc_client_requests_total", "",
                      "target=\"balance\",method=\"transfer_request\",status=\"unavailable\"")),
                  1);
    cr_assert_eq (
        cb_histogram_count (cb_metrics_histogram ("cordbank_rpc_client_duration_seconds", "",
                                                  "target=\"balance\",method=\"transfer_request\"",
                                                  CB_LATENCY_BUCKETS, CB_LATENCY_BUCKETS_COUNT)),
        3);
}

Test (rpcstats, server_series_and_out_of_range_values)
{
    cb_rpcstats_t stats;
    cb_rpcstats_init_server (&stats);
    cb_rpcstats_observe (&stats, CORDBANK__ENVELOPE__BODY_BALANCE_GET_REQUEST,
                         (Cordbank__Status) 999, cb_mono_us ());
    cr_assert_eq (
        cb_metric_value (cb_metrics_counter ("cordbank_rpc_server_requests_total", "",
                                             "method=\"balance_get_request\",status=\"internal\"")),
        1, "an unknown status is counted as internal");
}
