-- Group commit, history and leaderboards.
--
-- ledger_batch applies many transfer requests in one statement (one round
-- trip, one transaction, one WAL flush), each with its own outcome. It
-- first creates and locks every account the batch touches, in one global
-- order (guild_id, user_id), so that batches running at once on other
-- connections or other instances wait for each other instead of
-- deadlocking; then it runs ledger_transfer for each request in order.
--
-- The money logic runs on the batch's account states held in arrays, and
-- every table is written once per batch, set-based, at the end: an account
-- paid 50 times in one batch is updated once, not 50 times (50 row
-- versions of one hot row, the guild's mint, made a batch quadratic).
-- Nothing here catches exceptions (a subtransaction per request would be
-- slow); overflow is checked before anything is written. The one error
-- left is a twin request with the same key but other accounts (a client
-- bug) committing while this batch runs: the insert raises
-- unique_violation, the whole batch rolls back, and the service retries
-- it, when the twin's outcome is replayed.
--
-- ledger_transfer (migration 002) becomes one request of ledger_batch, so
-- the logic lives in one place; its helpers go.

-- /leaderboard: the richest members of a guild, without reading the guild.
CREATE INDEX accounts_leaderboard ON accounts (guild_id, balance DESC, user_id)
    WHERE user_id <> 0 AND balance > 0;

DROP FUNCTION ledger_transfer (text, bigint, smallint, bigint, bigint, bigint, bigint, bigint,
                               bigint);
DROP FUNCTION ledger_apply (text, bigint, smallint, bigint, bigint, bigint, bigint, bigint);
DROP FUNCTION ledger_lock (bigint, bigint, bigint);
DROP FUNCTION ledger_refuse_invalid (text, bigint, smallint, text);
DROP FUNCTION ledger_record (text, bigint, smallint, ledger_outcome);
DROP FUNCTION ledger_recorded (text);
DROP FUNCTION ledger_result (bigint, smallint, text, bigint[], bigint);

-- Many transfer requests in one transaction; one outcome per request, in
-- request order (the arrays are parallel, one element per request).
-- Steps:
--   1. every account a valid request touches is created if missing and
--      locked, in (guild_id, user_id) order;
--   2. their states, the cooldowns the batch reads and the outcomes
--      already recorded under its keys are read (after the locks: a twin
--      that held them first has committed by now);
--   3. each request is decided in order on those states: a recorded key
--      (or one earlier in this batch) replays its outcome; then validity,
--      cooldown, funds and overflow; an applied transfer changes the
--      states, so later requests of the batch see it;
--   4. transfers, legs, accounts, cooldowns and outcomes are written, one
--      statement each.
CREATE FUNCTION ledger_batch (p_keys text[], p_guilds bigint[], p_kinds smallint[],
                              p_froms bigint[], p_tos bigint[], p_amounts bigint[],
                              p_actors bigint[], p_now_ms bigint[], p_cooldowns_ms bigint[])
RETURNS SETOF ledger_outcome LANGUAGE plpgsql
-- Every table here is reached through an index, never scanned: requests
-- and transfers grow with every request. Without this, a plan cached while
-- a table was small (or before its first ANALYZE) kept scanning it.
SET enable_seqscan = off
AS $$
DECLARE
    n         int := coalesce (array_length (p_keys, 1), 0);
    -- the touched accounts, locked: 'guild:user' keys and states
    a_guild   bigint[];
    a_user    bigint[];
    a_key     text[];
    a_balance bigint[];
    a_version bigint[];
    a_dirty   boolean[];
    -- the cooldowns read and claimed: 'guild:user:kind' keys
    c_guild   bigint[];
    c_user    bigint[];
    c_kind    smallint[];
    c_key     text[];
    c_last    bigint[];
    c_dirty   boolean[];
    -- outcomes known by key: recorded earlier, or decided in this batch
    o_key     text[];
    o_out     ledger_outcome[];
    -- what this batch writes
    t_id      bigint[] := '{}';
    t_req     int[] := '{}';
    t_debit   bigint[] := '{}';
    t_credit  bigint[] := '{}';
    t_amount  bigint[] := '{}';
    r_req     int[] := '{}';
    r_out     ledger_outcome[] := '{}';
    r         ledger_outcome;
    v_problem text;
    v_debit   bigint;
    v_credit  bigint;
    v_amount  bigint;
    v_members bigint[];
    v_states  int[];  -- a_* indexes of v_members
    di        int;
    ci        int;
    k         int;
    m         int;
BEGIN
    -- 1. lock: every touched account, in (guild, user) order
    SELECT coalesce (array_agg (g ORDER BY g, u), '{}'), coalesce (array_agg (u ORDER BY g, u), '{}')
      INTO a_guild, a_user
      FROM (SELECT DISTINCT q.g, v.u
              FROM unnest (p_keys, p_guilds, p_kinds, p_froms, p_tos, p_amounts)
                   AS q (k, g, kind, f, t, amt),
                   LATERAL (VALUES (CASE WHEN q.kind = 1 THEN q.f ELSE 0 END), (q.t)) AS v (u)
             WHERE coalesce (q.k, '') <> '' AND ledger_invalid (q.g, q.kind, q.f, q.t, q.amt) IS NULL
           ) AS touched (g, u);
    -- 2. read, in the same statement as the lock; accounts seen for the
    --    first time are created, then all are locked and read again.
    FOR attempt IN 1 .. 2 LOOP
        SELECT coalesce (array_agg (l.balance ORDER BY l.n), '{}'),
               coalesce (array_agg (l.version ORDER BY l.n), '{}'),
               coalesce (array_agg (l.g || ':' || l.u ORDER BY l.n), '{}')
          INTO a_balance, a_version, a_key
          FROM (SELECT x.n, x.g, x.u, a.balance, a.version
                  FROM unnest (a_guild, a_user) WITH ORDINALITY AS x (g, u, n)
                  JOIN accounts a ON a.guild_id = x.g AND a.user_id = x.u
                 ORDER BY a.guild_id, a.user_id
                   FOR UPDATE OF a) AS l;
        EXIT WHEN coalesce (array_length (a_key, 1), 0) = coalesce (array_length (a_guild, 1), 0);
        INSERT INTO accounts (guild_id, user_id)
        SELECT g, u FROM unnest (a_guild, a_user) AS x (g, u) ORDER BY g, u
        ON CONFLICT DO NOTHING;
    END LOOP;
    IF coalesce (array_length (a_key, 1), 0) <> coalesce (array_length (a_guild, 1), 0) THEN
        -- Only a concurrent DELETE could do this; none exists. Retried whole.
        RAISE serialization_failure USING MESSAGE = 'accounts of the batch could not be locked';
    END IF;
    a_dirty := array_fill (false, ARRAY[coalesce (array_length (a_key, 1), 0)]);

    c_guild := '{}'; c_user := '{}'; c_kind := '{}'; c_key := '{}'; c_last := '{}';
    IF 2 = ANY (p_kinds) OR 3 = ANY (p_kinds) THEN
        SELECT coalesce (array_agg (c.guild_id), '{}'), coalesce (array_agg (c.user_id), '{}'),
               coalesce (array_agg (c.kind), '{}'),
               coalesce (array_agg (c.guild_id || ':' || c.user_id || ':' || c.kind), '{}'),
               coalesce (array_agg (c.last_at_ms), '{}')
          INTO c_guild, c_user, c_kind, c_key, c_last
          FROM cooldowns c
          JOIN (SELECT DISTINCT g, t, kind FROM unnest (p_guilds, p_tos, p_kinds) AS q (g, t, kind)
                 WHERE kind IN (2, 3)) AS q
            ON c.guild_id = q.g AND c.user_id = q.t AND c.kind = q.kind;
    END IF;
    c_dirty := array_fill (false, ARRAY[coalesce (array_length (c_key, 1), 0)]);

    SELECT coalesce (array_agg (idempotency_key), '{}'),
           coalesce (array_agg (ROW (status, message, transfer_id, amount, users, balances,
                                     versions, retry_at_ms, true)::ledger_outcome), '{}')
      INTO o_key, o_out
      FROM requests WHERE idempotency_key = ANY (p_keys);

    -- 3. decide
    FOR i IN 1 .. n LOOP
        k := array_position (o_key, p_keys[i]);
        IF k IS NOT NULL THEN
            r := o_out[k];
            r.replayed := true;
            RETURN NEXT r;
            CONTINUE;
        END IF;
        IF coalesce (p_keys[i], '') = '' THEN
            RETURN NEXT ROW (7, 'idempotency_key is required', NULL, 0, '{}', '{}', '{}', 0,
                             false)::ledger_outcome;
            CONTINUE;
        END IF;
        r := ROW (1, '', NULL, 0, '{}', '{}', '{}', 0, false)::ledger_outcome;
        v_problem := ledger_invalid (p_guilds[i], p_kinds[i], p_froms[i], p_tos[i], p_amounts[i]);
        IF v_problem IS NOT NULL THEN
            r.status := 7;
            r.message := v_problem;
        ELSE
            IF p_kinds[i] = 1 THEN
                v_debit := p_froms[i]; v_credit := p_tos[i]; v_amount := p_amounts[i];
                v_members := ARRAY[p_froms[i], p_tos[i]];
            ELSIF p_kinds[i] = 4 AND p_amounts[i] < 0 THEN
                v_debit := p_tos[i]; v_credit := 0; v_amount := -p_amounts[i];
                v_members := ARRAY[p_tos[i]];
            ELSE
                v_debit := 0; v_credit := p_tos[i]; v_amount := p_amounts[i];
                v_members := ARRAY[p_tos[i]];
            END IF;
            di := array_position (a_key, p_guilds[i] || ':' || v_debit);
            ci := array_position (a_key, p_guilds[i] || ':' || v_credit);
            v_states := CASE WHEN p_kinds[i] = 1 THEN ARRAY[di, ci]
                             WHEN v_debit = 0 THEN ARRAY[ci] ELSE ARRAY[di] END;
            m := NULL;
            IF p_kinds[i] IN (2, 3) THEN
                m := array_position (c_key, p_guilds[i] || ':' || p_tos[i] || ':' || p_kinds[i]);
            END IF;
            IF m IS NOT NULL AND p_now_ms[i] < c_last[m] + p_cooldowns_ms[i] THEN
                r.status := 10;
                r.message := 'on cooldown';
                r.retry_at_ms := c_last[m] + p_cooldowns_ms[i];
            ELSIF v_debit <> 0 AND a_balance[di] < v_amount THEN
                r.status := 2;
                r.message := format ('insufficient funds: balance %s, amount %s',
                                     a_balance[di], v_amount);
                v_states := ARRAY[di];
            -- Only the mint can go low enough to underflow, only a member
            -- high enough to overflow; both are refused, nothing written.
            ELSIF a_balance[ci] > 9223372036854775807 - v_amount
                  OR a_balance[di] < -9223372036854775807 - 1 + v_amount THEN
                r.status := 7;
                r.message := 'the amount would overflow a balance';
                v_states := '{}';
            ELSE
                r.transfer_id := nextval ('transfers_id_seq');
                r.amount := CASE WHEN p_kinds[i] = 4 THEN p_amounts[i] ELSE v_amount END;
                a_balance[di] := a_balance[di] - v_amount;
                a_balance[ci] := a_balance[ci] + v_amount;
                a_version[di] := a_version[di] + 1;
                a_version[ci] := a_version[ci] + 1;
                a_dirty[di] := true;
                a_dirty[ci] := true;
                t_id := t_id || r.transfer_id;
                t_req := t_req || i;
                t_debit := t_debit || v_debit;
                t_credit := t_credit || v_credit;
                t_amount := t_amount || v_amount;
                IF p_kinds[i] IN (2, 3) THEN
                    IF m IS NULL THEN
                        c_guild := c_guild || p_guilds[i];
                        c_user := c_user || p_tos[i];
                        c_kind := c_kind || p_kinds[i];
                        c_key := c_key || (p_guilds[i] || ':' || p_tos[i] || ':' || p_kinds[i]);
                        c_last := c_last || p_now_ms[i];
                        c_dirty := c_dirty || true;
                    ELSE
                        c_last[m] := p_now_ms[i];
                        c_dirty[m] := true;
                    END IF;
                END IF;
            END IF;
            -- The member states after this request, the payer first.
            FOREACH k IN ARRAY v_states LOOP
                r.users := r.users || a_user[k];
                r.balances := r.balances || a_balance[k];
                r.versions := r.versions || a_version[k];
            END LOOP;
        END IF;
        o_key := o_key || p_keys[i];
        o_out := o_out || r;
        r_req := r_req || i;
        r_out := r_out || r;
        RETURN NEXT r;
    END LOOP;

    -- 4. write (a twin's key that committed meanwhile raises unique_violation)
    IF coalesce (array_length (r_req, 1), 0) = 0 THEN
        RETURN;  -- replays and refusals without a key: nothing to write
    END IF;
    IF coalesce (array_length (t_id, 1), 0) > 0 THEN
        INSERT INTO transfers (id, idempotency_key, guild_id, kind, from_user, to_user, amount, actor,
                               created_at)
        SELECT x.id, p_keys[x.i], p_guilds[x.i], p_kinds[x.i], x.d, x.c, x.amt, p_actors[x.i],
               to_timestamp (p_now_ms[x.i] / 1000.0)
          FROM unnest (t_id, t_req, t_debit, t_credit, t_amount) AS x (id, i, d, c, amt);
        INSERT INTO legs (transfer_id, guild_id, user_id, delta)
        SELECT x.id, p_guilds[x.i], x.d, -x.amt
          FROM unnest (t_id, t_req, t_debit, t_amount) AS x (id, i, d, amt)
        UNION ALL
        SELECT x.id, p_guilds[x.i], x.c, x.amt
          FROM unnest (t_id, t_req, t_credit, t_amount) AS x (id, i, c, amt);
        UPDATE accounts a SET balance = x.b, version = x.v
          FROM unnest (a_guild, a_user, a_balance, a_version, a_dirty) AS x (g, u, b, v, dirty)
         WHERE x.dirty AND a.guild_id = x.g AND a.user_id = x.u;
    END IF;
    IF true = ANY (c_dirty) THEN
        INSERT INTO cooldowns (guild_id, user_id, kind, last_at_ms)
        SELECT x.g, x.u, x.k, x.last
          FROM unnest (c_guild, c_user, c_kind, c_last, c_dirty) AS x (g, u, k, last, dirty)
         WHERE x.dirty
        ON CONFLICT (guild_id, user_id, kind) DO UPDATE SET last_at_ms = excluded.last_at_ms;
    END IF;
    INSERT INTO requests (idempotency_key, guild_id, kind, status, message, transfer_id, amount,
                          users, balances, versions, retry_at_ms)
    SELECT p_keys[x.i], p_guilds[x.i], p_kinds[x.i], x.status, x.message, x.transfer_id,
           x.amount, x.users, x.balances, x.versions, x.retry_at_ms
      FROM unnest (r_req, r_out) AS x (i, status, message, transfer_id, amount, users, balances,
                                       versions, retry_at_ms, replayed);
END
$$;

-- One request: a batch of one (migration 002's signature, for psql and tests).
CREATE FUNCTION ledger_transfer (p_key text, p_guild bigint, p_kind smallint, p_from bigint,
                                 p_to bigint, p_amount bigint, p_actor bigint, p_now_ms bigint,
                                 p_cooldown_ms bigint)
RETURNS ledger_outcome LANGUAGE sql AS $$
    SELECT * FROM ledger_batch (ARRAY[p_key], ARRAY[p_guild], ARRAY[p_kind], ARRAY[p_from],
                                ARRAY[p_to], ARRAY[p_amount], ARRAY[p_actor], ARRAY[p_now_ms],
                                ARRAY[p_cooldown_ms])
$$;
