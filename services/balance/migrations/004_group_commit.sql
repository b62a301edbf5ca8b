-- Group commit, history and leaderboards.
--
-- ledger_batch applies many transfer requests in one statement (one round
-- trip, one transaction, one WAL flush), each with its own outcome. It
-- first creates and locks every account the batch touches, in one global
-- order (guild_id, user_id), so that batches running at once on other
-- connections or other instances wait for each other instead of
-- deadlocking; then it runs ledger_transfer for each request in order.
--
-- ledger_transfer no longer catches exceptions: a subtransaction per
-- request would cost a subtransaction id each and slow a large batch.
-- Overflow is now checked before anything is written. The one error left
-- is a twin request with the same key but other accounts (a client bug)
-- racing this one: it raises unique_violation, the whole batch rolls back,
-- and the service retries it, when the twin's outcome is replayed.

-- /leaderboard: the richest members of a guild, without reading the guild.
CREATE INDEX accounts_leaderboard ON accounts (guild_id, balance DESC, user_id)
    WHERE user_id <> 0 AND balance > 0;

-- Moves p_amount (> 0) from p_debit to p_credit: the transfer, its legs and
-- both balances (version + 1 each). The caller has checked funds and
-- overflow under the locks. NULL when a transfer with this key exists
-- already (a twin with other accounts, which has committed by now: the
-- insert waited for it).
CREATE OR REPLACE FUNCTION ledger_apply (p_key text, p_guild bigint, p_kind smallint,
                                         p_debit bigint, p_credit bigint, p_amount bigint,
                                         p_actor bigint, p_now_ms bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO transfers (idempotency_key, guild_id, kind, from_user, to_user, amount, actor,
                           created_at)
    VALUES (p_key, p_guild, p_kind, p_debit, p_credit, p_amount, p_actor,
            to_timestamp (p_now_ms / 1000.0))
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE accounts
       SET balance = balance + CASE WHEN user_id = p_debit THEN -p_amount ELSE p_amount END,
           version = version + 1
     WHERE guild_id = p_guild AND user_id IN (p_debit, p_credit);
    INSERT INTO legs (transfer_id, guild_id, user_id, delta)
    VALUES (v_id, p_guild, p_debit, -p_amount), (v_id, p_guild, p_credit, p_amount);
    RETURN v_id;
END
$$;

-- One transfer request, as in migration 002, without exception handling.
-- Locks its two accounts itself (a no-op when ledger_batch holds them).
CREATE OR REPLACE FUNCTION ledger_transfer (p_key text, p_guild bigint, p_kind smallint,
                                            p_from bigint, p_to bigint, p_amount bigint,
                                            p_actor bigint, p_now_ms bigint,
                                            p_cooldown_ms bigint)
RETURNS ledger_outcome LANGUAGE plpgsql AS $$
DECLARE
    r          ledger_outcome;
    v_problem  text;
    v_debit    bigint := 0;  -- where the amount leaves (0: the mint)
    v_credit   bigint := 0;  -- where it arrives
    v_amount   bigint;       -- > 0
    v_members  bigint[] := ARRAY[p_to];
    v_last_ms  bigint;
    v_debit_b  bigint;
    v_credit_b bigint;
    v_id       bigint;
BEGIN
    IF coalesce (p_key, '') = '' THEN
        RETURN ROW (7, 'idempotency_key is required', NULL, 0, '{}', '{}', '{}', 0,
                    false)::ledger_outcome;
    END IF;
    SELECT * INTO r FROM ledger_recorded (p_key);
    IF FOUND THEN
        RETURN r;
    END IF;
    v_problem := ledger_invalid (p_guild, p_kind, p_from, p_to, p_amount);
    IF v_problem IS NOT NULL THEN
        RETURN ledger_refuse_invalid (p_key, p_guild, p_kind, v_problem);
    END IF;

    IF p_kind = 1 THEN
        v_debit := p_from; v_credit := p_to; v_amount := p_amount;
        v_members := ARRAY[p_from, p_to];
    ELSIF p_kind = 4 AND p_amount < 0 THEN
        v_debit := p_to; v_amount := -p_amount;
    ELSE
        v_credit := p_to; v_amount := p_amount;
    END IF;

    PERFORM ledger_lock (p_guild, v_debit, v_credit);
    -- A twin that held the locks first has committed by now.
    SELECT * INTO r FROM ledger_recorded (p_key);
    IF FOUND THEN
        RETURN r;
    END IF;

    IF p_kind IN (2, 3) THEN
        SELECT last_at_ms INTO v_last_ms FROM cooldowns
         WHERE guild_id = p_guild AND user_id = p_to AND kind = p_kind;
        IF FOUND AND p_now_ms < v_last_ms + p_cooldown_ms THEN
            RETURN ledger_record (p_key, p_guild, p_kind,
                ledger_result (p_guild, 10::smallint, 'on cooldown', v_members,
                               v_last_ms + p_cooldown_ms));
        END IF;
    END IF;

    SELECT max (balance) FILTER (WHERE user_id = v_debit),
           max (balance) FILTER (WHERE user_id = v_credit)
      INTO v_debit_b, v_credit_b
      FROM accounts WHERE guild_id = p_guild AND user_id IN (v_debit, v_credit);
    IF v_debit <> 0 AND v_debit_b < v_amount THEN
        RETURN ledger_record (p_key, p_guild, p_kind,
            ledger_result (p_guild, 2::smallint,
                           format ('insufficient funds: balance %s, amount %s',
                                   v_debit_b, v_amount),
                           ARRAY[v_debit], 0));
    END IF;
    -- Only the mint can go low enough to underflow, only a member high
    -- enough to overflow; both are refused before anything is written.
    IF v_credit_b > 9223372036854775807 - v_amount
       OR v_debit_b < -9223372036854775807 - 1 + v_amount THEN
        RETURN ledger_record (p_key, p_guild, p_kind,
            ledger_result (p_guild, 7::smallint, 'the amount would overflow a balance',
                           '{}', 0));
    END IF;

    v_id := ledger_apply (p_key, p_guild, p_kind, v_debit, v_credit, v_amount, p_actor, p_now_ms);
    IF v_id IS NULL THEN
        SELECT * INTO r FROM ledger_recorded (p_key);
        IF FOUND THEN
            RETURN r;
        END IF;
        RAISE unique_violation USING MESSAGE = 'idempotency key ' || p_key ||
            ' was applied by a concurrent request';
    END IF;
    IF p_kind IN (2, 3) THEN
        INSERT INTO cooldowns (guild_id, user_id, kind, last_at_ms)
        VALUES (p_guild, p_to, p_kind, p_now_ms)
        ON CONFLICT (guild_id, user_id, kind) DO UPDATE SET last_at_ms = excluded.last_at_ms;
    END IF;

    r := ledger_result (p_guild, 1::smallint, '', v_members, 0);
    r.transfer_id := v_id;
    r.amount := CASE WHEN p_kind = 4 THEN p_amount ELSE v_amount END;
    RETURN ledger_record (p_key, p_guild, p_kind, r);
END
$$;

-- Many transfer requests in one transaction; one outcome per request, in
-- request order (arrays are parallel, one element per request).
CREATE FUNCTION ledger_batch (p_keys text[], p_guilds bigint[], p_kinds smallint[],
                              p_froms bigint[], p_tos bigint[], p_amounts bigint[],
                              p_actors bigint[], p_now_ms bigint[], p_cooldowns_ms bigint[])
RETURNS SETOF ledger_outcome LANGUAGE plpgsql AS $$
DECLARE
    v_guilds bigint[];
    v_users  bigint[];
BEGIN
    -- Every account a valid request touches: the payer, or the mint, and
    -- the member; in (guild, user) order.
    SELECT coalesce (array_agg (g ORDER BY g, u), '{}'), coalesce (array_agg (u ORDER BY g, u), '{}')
      INTO v_guilds, v_users
      FROM (SELECT q.g, CASE WHEN q.kind = 1 THEN q.f ELSE 0 END AS u
              FROM unnest (p_keys, p_guilds, p_kinds, p_froms, p_tos, p_amounts)
                   AS q (k, g, kind, f, t, amt)
             WHERE coalesce (q.k, '') <> '' AND ledger_invalid (q.g, q.kind, q.f, q.t, q.amt) IS NULL
            UNION
            SELECT q.g, q.t
              FROM unnest (p_keys, p_guilds, p_kinds, p_froms, p_tos, p_amounts)
                   AS q (k, g, kind, f, t, amt)
             WHERE coalesce (q.k, '') <> '' AND ledger_invalid (q.g, q.kind, q.f, q.t, q.amt) IS NULL
           ) AS touched (g, u);
    INSERT INTO accounts (guild_id, user_id)
    SELECT g, u FROM unnest (v_guilds, v_users) AS x (g, u) ORDER BY g, u
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM accounts a
      JOIN unnest (v_guilds, v_users) AS x (g, u) ON a.guild_id = x.g AND a.user_id = x.u
     ORDER BY a.guild_id, a.user_id
       FOR UPDATE OF a;

    FOR i IN 1 .. coalesce (array_length (p_keys, 1), 0) LOOP
        RETURN NEXT ledger_transfer (p_keys[i], p_guilds[i], p_kinds[i], p_froms[i], p_tos[i],
                                     p_amounts[i], p_actors[i], p_now_ms[i], p_cooldowns_ms[i]);
    END LOOP;
END
$$;
