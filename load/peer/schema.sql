-- The peer's ledger: the same rules as cordbank's (services/balance/
-- migrations), written the way a conventional bot would: plain tables, and
-- the logic in the application, one transaction per command.
--
-- Double entry per guild: user 0 is the guild's mint, the only account that
-- may go negative, so every guild's balances sum to 0 and every balance is
-- the sum of its legs. The interaction id is the idempotency key: a write
-- command records its first outcome (refusals too) in peer_outcomes, and a
-- retried interaction gets that outcome back.
--
-- Tables are prefixed peer_, so the peer may share a database with cordbank;
-- bot.js applies this file at start (every statement is IF NOT EXISTS)
-- under an advisory lock, so several peers starting at once do not race.

CREATE TABLE IF NOT EXISTS peer_accounts (
    guild_id bigint NOT NULL,
    user_id  bigint NOT NULL,
    balance  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (guild_id, user_id),
    CONSTRAINT peer_accounts_member_not_negative CHECK (user_id = 0 OR balance >= 0)
);

-- /leaderboard: the richest members of a guild, without reading the guild.
CREATE INDEX IF NOT EXISTS peer_accounts_leaderboard
    ON peer_accounts (guild_id, balance DESC, user_id) WHERE user_id <> 0 AND balance > 0;

-- kind: 1 pay, 2 daily, 3 work, 4 grant (cordbank's numbers). A burn (a
-- grant with a negative amount) is stored as member -> mint.
CREATE TABLE IF NOT EXISTS peer_transfers (
    id             bigserial PRIMARY KEY,
    interaction_id bigint NOT NULL UNIQUE,
    guild_id       bigint NOT NULL,
    kind           smallint NOT NULL,
    from_user      bigint NOT NULL,
    to_user        bigint NOT NULL,
    amount         bigint NOT NULL CHECK (amount > 0),
    actor          bigint NOT NULL,
    created_ms     bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS peer_legs (
    transfer_id bigint NOT NULL REFERENCES peer_transfers (id),
    guild_id    bigint NOT NULL,
    user_id     bigint NOT NULL,
    delta       bigint NOT NULL CHECK (delta <> 0),
    PRIMARY KEY (transfer_id, user_id),
    FOREIGN KEY (guild_id, user_id) REFERENCES peer_accounts (guild_id, user_id)
);
-- An account's history, newest first (/history), and the legs invariant.
CREATE INDEX IF NOT EXISTS peer_legs_account ON peer_legs (guild_id, user_id, transfer_id);

-- The first outcome of every write command, by interaction id: the text
-- answered and whether it was ephemeral; a cooldown keeps when the next
-- claim is allowed, so a replay tells the time left as of the replay.
CREATE TABLE IF NOT EXISTS peer_outcomes (
    interaction_id bigint PRIMARY KEY,
    guild_id       bigint NOT NULL,
    kind           smallint NOT NULL,
    content        text NOT NULL,
    ephemeral      boolean NOT NULL,
    retry_at_ms    bigint NOT NULL DEFAULT 0,
    transfer_id    bigint REFERENCES peer_transfers (id)
);

-- Last successful claim of a reward (kind 2 daily, 3 work), Unix ms.
CREATE TABLE IF NOT EXISTS peer_cooldowns (
    guild_id   bigint NOT NULL,
    user_id    bigint NOT NULL,
    kind       smallint NOT NULL,
    last_at_ms bigint NOT NULL,
    PRIMARY KEY (guild_id, user_id, kind)
);
