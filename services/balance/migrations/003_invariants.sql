-- The two ledger invariants every chaos and DR test checks, as one view
-- that lists the offenders (no rows: the ledger is consistent):
--   guild_sum     every guild's balances (the mint included) sum to 0;
--   account_legs  every account's balance equals the sum of its legs.
-- Sums are numeric, so a corrupt ledger cannot overflow the check itself.
-- `cordbank-balance --check-invariants` prints these rows; tests may also
-- SELECT * FROM ledger_invariant_violations directly.

CREATE VIEW ledger_invariant_violations AS
SELECT 'guild_sum'::text AS check_name,
       guild_id,
       NULL::bigint AS user_id,
       sum (balance) AS actual,
       0::numeric AS expected
  FROM accounts
 GROUP BY guild_id
HAVING sum (balance) <> 0
UNION ALL
SELECT 'account_legs'::text,
       guild_id,
       user_id,
       coalesce (a.balance, 0)::numeric,
       coalesce (l.total, 0)
  FROM accounts a
  FULL JOIN (SELECT guild_id, user_id, sum (delta) AS total
               FROM legs GROUP BY guild_id, user_id) l USING (guild_id, user_id)
 WHERE coalesce (a.balance, 0) <> coalesce (l.total, 0);
