-- SQL-level tests of the ledger functions (migrations/002, 003, 004).
--
-- Run against a database the service has migrated; everything happens in
-- one transaction that is rolled back, so no trace is left:
--   psql -X -v ON_ERROR_STOP=1 -f services/balance/tests/ledger_test.sql "$PG_URL"
-- A failed ASSERT stops the script with a non-zero exit status.
-- Arguments of ledger_transfer: key, guild, kind (1 pay, 2 daily, 3 work,
-- 4 grant), from, to, amount, actor, now_ms, cooldown_ms.

BEGIN;

DO $$
DECLARE
    r ledger_outcome;
    g constant bigint := -424242; -- a guild id no real snowflake maps to
    day constant bigint := 86400000;
BEGIN
    -- daily: applied, replayed, refused on cooldown (and that refusal
    -- replayed), then applied again once the cooldown has passed.
    r := ledger_transfer ('t-d1', g, 2::smallint, 0, 1, 100, 1, 1000, day);
    ASSERT r.status = 1 AND r.amount = 100 AND NOT r.replayed, 'daily applies';
    ASSERT r.users = '{1}' AND r.balances = '{100}' AND r.versions = '{1}', 'daily state';
    r := ledger_transfer ('t-d1', g, 2::smallint, 0, 1, 100, 1, 5000, day);
    ASSERT r.status = 1 AND r.replayed AND r.balances = '{100}', 'daily replays';
    r := ledger_transfer ('t-d2', g, 2::smallint, 0, 1, 100, 1, 2000, day);
    ASSERT r.status = 10 AND r.retry_at_ms = 1000 + day AND r.transfer_id IS NULL, 'cooldown';
    r := ledger_transfer ('t-d2', g, 2::smallint, 0, 1, 100, 1, 2 * day, day);
    ASSERT r.status = 10 AND r.replayed, 'a refusal is the first outcome too';
    r := ledger_transfer ('t-d3', g, 2::smallint, 0, 1, 100, 1, 1000 + day, day);
    ASSERT r.status = 1 AND r.balances = '{200}' AND r.versions = '{2}', 'cooldown over';

    -- pay: both states returned, payer first; refusals.
    r := ledger_transfer ('t-p1', g, 1::smallint, 1, 2, 30, 1, 0, 0);
    ASSERT r.status = 1 AND r.users = '{1,2}' AND r.balances = '{170,30}'
        AND r.versions = '{3,1}', 'pay applies';
    r := ledger_transfer ('t-p2', g, 1::smallint, 1, 2, 171, 1, 0, 0);
    ASSERT r.status = 2 AND r.users = '{1}' AND r.balances = '{170}', 'insufficient funds';
    r := ledger_transfer ('t-p3', g, 1::smallint, 1, 1, 1, 1, 0, 0);
    ASSERT r.status = 7, 'pay yourself';
    r := ledger_transfer ('t-p4', g, 1::smallint, 1, 2, 1000000000001, 1, 0, 0);
    ASSERT r.status = 7, 'amount above 10^12';
    r := ledger_transfer ('t-p5', g, 1::smallint, 0, 2, 1, 1, 0, 0);
    ASSERT r.status = 7, 'the mint cannot pay';
    r := ledger_transfer ('', g, 1::smallint, 1, 2, 1, 1, 0, 0);
    ASSERT r.status = 7, 'a key is required';
    ASSERT NOT EXISTS (SELECT 1 FROM requests WHERE idempotency_key = ''), 'empty key not kept';

    -- grant: mint, burn, burn below zero, overflow.
    r := ledger_transfer ('t-g1', g, 4::smallint, 0, 3, 50, 9, 0, 0);
    ASSERT r.status = 1 AND r.amount = 50 AND r.balances = '{50}', 'grant mints';
    r := ledger_transfer ('t-g2', g, 4::smallint, 0, 3, -51, 9, 0, 0);
    ASSERT r.status = 2 AND r.balances = '{50}', 'a burn may not go below 0';
    r := ledger_transfer ('t-g3', g, 4::smallint, 0, 3, -50, 9, 0, 0);
    ASSERT r.status = 1 AND r.amount = -50 AND r.balances = '{0}' AND r.versions = '{2}', 'burn';
    r := ledger_transfer ('t-g4', g, 4::smallint, 0, 4, 9223372036854775807, 9, 0, 0);
    ASSERT r.status = 7 AND r.message LIKE '%overflow%', 'overflow refused';
    ASSERT NOT EXISTS (SELECT 1 FROM transfers WHERE idempotency_key = 't-g4'), 'nothing written';

    -- ledger_batch (migrations/004): many requests, one outcome each, in
    -- order; a key twice in one batch applies once; a refusal in the
    -- middle fails nothing else.
    CREATE TEMP TABLE batch_out AS
    SELECT row_number () OVER () AS n, o.*
      FROM ledger_batch (ARRAY['b-1', 'b-2', 'b-1', 'b-3', '', 'b-4'],
                         ARRAY[g, g, g, g, g, g],
                         ARRAY[4, 1, 4, 1, 1, 3]::smallint[],
                         ARRAY[0, 5, 0, 6, 5, 0]::bigint[],
                         ARRAY[5, 6, 5, 7, 6, 5]::bigint[],
                         ARRAY[100, 30, 100, 31, 1, 25]::bigint[],
                         ARRAY[9, 5, 9, 6, 5, 5]::bigint[],
                         ARRAY[0, 0, 0, 0, 0, 0]::bigint[],
                         ARRAY[0, 0, 0, 0, 0, 3600000]::bigint[]) AS o;
    ASSERT (SELECT count (*) FROM batch_out) = 6, 'one outcome per request';
    ASSERT (SELECT status = 1 AND NOT replayed AND balances = '{100}' FROM batch_out WHERE n = 1),
        'batch: grant';
    ASSERT (SELECT status = 1 AND balances = '{70,30}' FROM batch_out WHERE n = 2),
        'batch: a pay sees the grant before it';
    ASSERT (SELECT status = 1 AND replayed AND balances = '{100}' FROM batch_out WHERE n = 3),
        'batch: the same key again replays';
    ASSERT (SELECT status = 2 AND balances = '{30}' FROM batch_out WHERE n = 4),
        'batch: insufficient funds';
    ASSERT (SELECT status = 7 FROM batch_out WHERE n = 5), 'batch: no key';
    ASSERT (SELECT status = 1 AND amount = 25 AND balances = '{95}' FROM batch_out WHERE n = 6),
        'batch: work after a refusal';
    ASSERT (SELECT count (*) FROM transfers WHERE idempotency_key = 'b-1') = 1, 'b-1 once';

    -- overflow is refused before anything is written (no subtransaction):
    -- a member one grant away from 2^63.
    r := ledger_transfer ('t-o1', g, 4::smallint, 0, 8, 9223372036854775000, 9, 0, 0);
    ASSERT r.status = 1, 'a huge grant fits';
    r := ledger_transfer ('t-o2', g, 4::smallint, 0, 8, 808, 9, 0, 0);
    ASSERT r.status = 7 AND r.message LIKE '%overflow%', 'a member cannot overflow';
    ASSERT NOT EXISTS (SELECT 1 FROM transfers WHERE idempotency_key = 't-o2'),
        'nothing written on overflow';
    r := ledger_transfer ('t-o3', g, 4::smallint, 0, 8, -9223372036854775000, 9, 0, 0);
    ASSERT r.status = 1 AND r.balances = '{0}', 'and burns back to 0';

    -- the invariants hold, and the mint carries the other side.
    ASSERT NOT EXISTS (SELECT 1 FROM ledger_invariant_violations WHERE guild_id = g),
        'invariants hold';
    ASSERT (SELECT balance FROM accounts WHERE guild_id = g AND user_id = 0) = -325, 'mint';
    RAISE NOTICE 'ledger_test: all assertions passed';
END
$$;

ROLLBACK;
