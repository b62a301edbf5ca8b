-- The ledger: accounts, transfers and their legs (double entry), the first
-- outcome of every idempotency key, and reward cooldowns.
--
-- Ids are Discord snowflakes (uint64) stored bit for bit in bigint. Amounts
-- are bigint minor units. User 0 of every guild is the guild's mint: the
-- only account that may go negative, so that each guild's balances sum to
-- exactly 0 and every account's balance is the sum of its legs.

CREATE TABLE accounts (
    guild_id bigint NOT NULL,
    user_id  bigint NOT NULL,
    balance  bigint NOT NULL DEFAULT 0,
    -- +1 on every change; 0 means never written. Caches keep the newest.
    version  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (guild_id, user_id),
    CONSTRAINT accounts_member_not_negative CHECK (user_id = 0 OR balance >= 0)
);

-- kind: the TransferKind of proto/ledger.proto (1 pay, 2 daily, 3 work, 4 grant).
-- A burn (grant with a negative amount) is stored as member -> mint.
CREATE TABLE transfers (
    id              bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    guild_id        bigint NOT NULL,
    kind            smallint NOT NULL,
    from_user       bigint NOT NULL,
    to_user         bigint NOT NULL,
    amount          bigint NOT NULL CHECK (amount > 0),
    actor           bigint NOT NULL,
    created_at      timestamptz NOT NULL
);

CREATE TABLE legs (
    transfer_id bigint NOT NULL REFERENCES transfers (id),
    guild_id    bigint NOT NULL,
    user_id     bigint NOT NULL,
    delta       bigint NOT NULL CHECK (delta <> 0),
    PRIMARY KEY (transfer_id, user_id),
    FOREIGN KEY (guild_id, user_id) REFERENCES accounts (guild_id, user_id)
);
-- An account's history, newest first (/history), and the legs invariant.
CREATE INDEX legs_account ON legs (guild_id, user_id, transfer_id);

-- The first outcome of every idempotency key, refusals included, so that a
-- repeat returns exactly what the first request was told. status is the
-- Status of proto/status.proto; users/balances/versions are the member
-- account states that were returned, in reply order.
CREATE TABLE requests (
    idempotency_key text PRIMARY KEY,
    guild_id        bigint NOT NULL,
    kind            smallint NOT NULL,
    status          smallint NOT NULL,
    message         text NOT NULL DEFAULT '',
    transfer_id     bigint REFERENCES transfers (id),
    amount          bigint NOT NULL DEFAULT 0,
    users           bigint[] NOT NULL DEFAULT '{}',
    balances        bigint[] NOT NULL DEFAULT '{}',
    versions        bigint[] NOT NULL DEFAULT '{}',
    retry_at_ms     bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Last successful claim of a reward (kind 2 daily, 3 work), in Unix ms of
-- the service's clock.
CREATE TABLE cooldowns (
    guild_id   bigint NOT NULL,
    user_id    bigint NOT NULL,
    kind       smallint NOT NULL,
    last_at_ms bigint NOT NULL,
    PRIMARY KEY (guild_id, user_id, kind)
);
