-- The money logic, in the database so that one request is one round trip
-- and one transaction (ledger.c calls ledger_transfer once per request).
--
-- ledger_transfer, in order:
--   1. a key already recorded returns its first outcome (no locks needed:
--      a recorded outcome never changes);
--   2. invalid arguments are refused and recorded;
--   3. both accounts are created if missing and locked in user_id order, so
--      two concurrent transfers over the same pair can never deadlock;
--   4. the key is looked up again: a concurrent twin that held the locks
--      first has committed by now, and its outcome is returned;
--   5. cooldown (daily, work) and funds are checked under the locks;
--   6. the transfer, its two legs and both balance changes (version + 1
--      each) are written; a bigint overflow is refused as INVALID_ARGUMENT;
--   7. the outcome is recorded under the key (refusals too).
-- The caller retries once on unique_violation (a twin that raced past
-- step 4 with a different account pair): the retry replays the outcome.
--
-- Status and kind numbers are those of proto/status.proto and
-- proto/ledger.proto, which never renumber.

CREATE TYPE ledger_outcome AS (
    status      smallint,
    message     text,
    transfer_id bigint,   -- NULL when nothing was applied
    amount      bigint,   -- moved; a burn is negative, as requested
    users       bigint[], -- member accounts (never the mint), reply order
    balances    bigint[],
    versions    bigint[],
    retry_at_ms bigint,   -- cooldown: when the next claim is allowed
    replayed    boolean
);

-- Why a transfer request cannot be applied, or NULL when it can.
CREATE FUNCTION ledger_invalid (p_guild bigint, p_kind smallint, p_from bigint, p_to bigint,
                                p_amount bigint)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_guild = 0 THEN 'guild_id is required'
        WHEN p_kind NOT IN (1, 2, 3, 4) THEN 'unknown transfer kind ' || p_kind
        WHEN p_to = 0 THEN 'to_user is required and may not be the mint'
        WHEN p_kind = 1 AND p_from = 0 THEN 'from_user is required and may not be the mint'
        WHEN p_kind = 1 AND p_from = p_to THEN 'cannot pay yourself'
        WHEN p_kind = 1 AND (p_amount < 1 OR p_amount > 1000000000000)
            THEN 'amount must be a whole number from 1 to 1000000000000'
        WHEN p_kind IN (2, 3) AND p_amount < 1 THEN 'reward amount must be positive'
        WHEN p_kind = 4 AND p_amount = 0 THEN 'grant amount must not be 0'
        WHEN p_kind = 4 AND p_amount = -9223372036854775808 THEN 'grant amount is out of range'
    END
$$;

-- An outcome carrying the current states of the member accounts in
-- p_members (the mint left out), in that order. The caller holds their locks.
CREATE FUNCTION ledger_result (p_guild bigint, p_status smallint, p_message text,
                               p_members bigint[], p_retry_at_ms bigint)
RETURNS ledger_outcome LANGUAGE sql AS $$
    SELECT p_status, p_message, NULL::bigint, 0::bigint,
           coalesce (array_agg (a.user_id ORDER BY m.ord), '{}'),
           coalesce (array_agg (a.balance ORDER BY m.ord), '{}'),
           coalesce (array_agg (a.version ORDER BY m.ord), '{}'),
           p_retry_at_ms, false
      FROM unnest (p_members) WITH ORDINALITY AS m (user_id, ord)
      JOIN accounts a ON a.guild_id = p_guild AND a.user_id = m.user_id
     WHERE m.user_id <> 0
$$;

-- The first outcome recorded under p_key, marked replayed; no row if none.
CREATE FUNCTION ledger_recorded (p_key text)
RETURNS SETOF ledger_outcome LANGUAGE sql AS $$
    SELECT status, message, transfer_id, amount, users, balances, versions, retry_at_ms, true
      FROM requests WHERE idempotency_key = p_key
$$;

-- Records r as the first outcome of p_key. A duplicate key raises
-- unique_violation (the caller's retry then replays the first outcome).
CREATE FUNCTION ledger_record (p_key text, p_guild bigint, p_kind smallint, r ledger_outcome)
RETURNS ledger_outcome LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO requests (idempotency_key, guild_id, kind, status, message, transfer_id, amount,
                          users, balances, versions, retry_at_ms)
    VALUES (p_key, p_guild, p_kind, r.status, r.message, r.transfer_id, r.amount,
            r.users, r.balances, r.versions, r.retry_at_ms);
    r.replayed := false;
    RETURN r;
END
$$;

-- Refuses and records an invalid request; no account is locked, so a twin
-- may have recorded first: then its outcome is returned.
CREATE FUNCTION ledger_refuse_invalid (p_key text, p_guild bigint, p_kind smallint,
                                       p_message text)
RETURNS ledger_outcome LANGUAGE plpgsql AS $$
DECLARE
    r ledger_outcome;
BEGIN
    INSERT INTO requests (idempotency_key, guild_id, kind, status, message)
    VALUES (p_key, p_guild, p_kind, 7, p_message)
    ON CONFLICT (idempotency_key) DO NOTHING;
    IF FOUND THEN
        RETURN ROW (7, p_message, NULL, 0, '{}', '{}', '{}', 0, false)::ledger_outcome;
    END IF;
    SELECT * INTO r FROM ledger_recorded (p_key);
    RETURN r;
END
$$;

-- Creates the accounts if missing and locks both rows, always in user_id
-- order (inserts too: a new row is locked by its inserter until commit).
CREATE FUNCTION ledger_lock (p_guild bigint, p_a bigint, p_b bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO accounts (guild_id, user_id)
    VALUES (p_guild, least (p_a, p_b)), (p_guild, greatest (p_a, p_b))
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM accounts
      WHERE guild_id = p_guild AND user_id IN (p_a, p_b)
      ORDER BY user_id
        FOR UPDATE;
END
$$;

-- Moves p_amount (> 0) from p_debit to p_credit: the transfer, its legs and
-- both balances. Returns the transfer id, or NULL when a balance would
-- overflow (nothing is written then: the block is a subtransaction).
CREATE FUNCTION ledger_apply (p_key text, p_guild bigint, p_kind smallint, p_debit bigint,
                              p_credit bigint, p_amount bigint, p_actor bigint, p_now_ms bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO transfers (idempotency_key, guild_id, kind, from_user, to_user, amount, actor,
                           created_at)
    VALUES (p_key, p_guild, p_kind, p_debit, p_credit, p_amount, p_actor,
            to_timestamp (p_now_ms / 1000.0))
    RETURNING id INTO v_id;
    UPDATE accounts SET balance = balance - p_amount, version = version + 1
     WHERE guild_id = p_guild AND user_id = p_debit;
    UPDATE accounts SET balance = balance + p_amount, version = version + 1
     WHERE guild_id = p_guild AND user_id = p_credit;
    INSERT INTO legs (transfer_id, guild_id, user_id, delta)
    VALUES (v_id, p_guild, p_debit, -p_amount), (v_id, p_guild, p_credit, p_amount);
    RETURN v_id;
EXCEPTION WHEN numeric_value_out_of_range THEN
    RETURN NULL;
END
$$;

-- One transfer request; see the top of this file. p_amount is the
-- requested amount (PAY, GRANT) or the one balance chose (DAILY, WORK);
-- p_cooldown_ms applies to DAILY and WORK; p_now_ms is the service's clock.
CREATE FUNCTION ledger_transfer (p_key text, p_guild bigint, p_kind smallint, p_from bigint,
                                 p_to bigint, p_amount bigint, p_actor bigint, p_now_ms bigint,
                                 p_cooldown_ms bigint)
RETURNS ledger_outcome LANGUAGE plpgsql AS $$
DECLARE
    r         ledger_outcome;
    v_problem text;
    v_debit   bigint := 0;  -- where the amount leaves (0: the mint)
    v_credit  bigint := 0;  -- where it arrives
    v_amount  bigint;       -- > 0
    v_members bigint[] := ARRAY[p_to];
    v_last_ms bigint;
    v_balance bigint;
    v_id      bigint;
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

    IF v_debit <> 0 THEN
        SELECT balance INTO v_balance FROM accounts
         WHERE guild_id = p_guild AND user_id = v_debit;
        IF v_balance < v_amount THEN
            RETURN ledger_record (p_key, p_guild, p_kind,
                ledger_result (p_guild, 2::smallint,
                               format ('insufficient funds: balance %s, amount %s',
                                       v_balance, v_amount),
                               ARRAY[v_debit], 0));
        END IF;
    END IF;

    v_id := ledger_apply (p_key, p_guild, p_kind, v_debit, v_credit, v_amount, p_actor, p_now_ms);
    IF v_id IS NULL THEN
        RETURN ledger_record (p_key, p_guild, p_kind,
            ledger_result (p_guild, 7::smallint, 'the amount would overflow a balance',
                           '{}', 0));
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
