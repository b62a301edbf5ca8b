// ledger — the peer's money logic in plain SQL through a pg.Pool, the
// conventional way: one transaction per write command, rows locked with
// SELECT ... FOR UPDATE in one fixed order (user id ascending, the mint 0
// first), checks in JavaScript, then INSERTs and UPDATEs and COMMIT.
//
// The rules are cordbank's (services/balance/migrations): double entry per
// guild against the mint (user 0, the only account that may go negative);
// the interaction id is the idempotency key, looked up after the locks are
// held (a twin holding them first has committed by then) and backed by
// UNIQUE constraints (a twin that slipped past: rollback, retry, replay);
// a cooldown is checked before funds. bigint columns come back as strings
// and are handled as BigInt.
'use strict';

const { KIND } = require('./render');

// unique_violation, serialization_failure, deadlock_detected: the retry
// finds the twin's outcome (or simply runs again).
const RETRYABLE = new Set(['23505', '40001', '40P01']);
const ATTEMPTS = 3;

const s = (v) => String(v);

const SQL = {
  balance: 'SELECT balance FROM peer_accounts WHERE guild_id = $1 AND user_id = $2',
  createAccounts:
    'INSERT INTO peer_accounts (guild_id, user_id) SELECT $1, u FROM unnest ($2::bigint[]) AS u ' +
    'ORDER BY u ON CONFLICT DO NOTHING',
  lockAccounts:
    'SELECT user_id, balance FROM peer_accounts WHERE guild_id = $1 AND user_id = ANY ($2::bigint[]) ' +
    'ORDER BY user_id FOR UPDATE',
  recorded:
    'SELECT kind, content, ephemeral, retry_at_ms FROM peer_outcomes WHERE interaction_id = $1',
  cooldown:
    'SELECT last_at_ms FROM peer_cooldowns WHERE guild_id = $1 AND user_id = $2 AND kind = $3',
  insertTransfer:
    'INSERT INTO peer_transfers (interaction_id, guild_id, kind, from_user, to_user, amount, actor, ' +
    'created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id',
  updateBalance: 'UPDATE peer_accounts SET balance = $3 WHERE guild_id = $1 AND user_id = $2',
  insertLegs:
    'INSERT INTO peer_legs (transfer_id, guild_id, user_id, delta) VALUES ($1, $2, $3, $4), ' +
    '($1, $2, $5, $6)',
  claim:
    'INSERT INTO peer_cooldowns (guild_id, user_id, kind, last_at_ms) VALUES ($1, $2, $3, $4) ' +
    'ON CONFLICT (guild_id, user_id, kind) DO UPDATE SET last_at_ms = excluded.last_at_ms',
  record:
    'INSERT INTO peer_outcomes (interaction_id, guild_id, kind, content, ephemeral, retry_at_ms, ' +
    'transfer_id) VALUES ($1, $2, $3, $4, $5, $6, $7)',
  history:
    'SELECT t.id, t.kind, t.from_user, t.to_user, l.delta, t.actor, t.created_ms ' +
    'FROM peer_legs l JOIN peer_transfers t ON t.id = l.transfer_id ' +
    'WHERE l.guild_id = $1 AND l.user_id = $2 ORDER BY l.transfer_id DESC LIMIT $3',
  board:
    'SELECT user_id, balance FROM peer_accounts WHERE guild_id = $1 AND user_id <> 0 AND balance > 0 ' +
    'ORDER BY balance DESC, user_id LIMIT $2 OFFSET $3',
};

// A named statement: pg prepares it once per connection.
const q = (name, values) => ({ name, text: SQL[name], values });

class Ledger {
  constructor(pool) {
    this.pool = pool;
  }

  // A member's balance (0 for an account never written).
  async balance(guild, user) {
    const { rows } = await this.pool.query(q('balance', [s(guild), s(user)]));
    return rows.length ? BigInt(rows[0].balance) : 0n;
  }

  // The newest `limit` transfers of a member, and whether there are more.
  async history(guild, user, limit) {
    const { rows } = await this.pool.query(q('history', [s(guild), s(user), limit + 1]));
    return {
      entries: rows.slice(0, limit).map((r) => ({
        id: r.id,
        kind: r.kind,
        fromUser: r.from_user,
        toUser: r.to_user,
        delta: BigInt(r.delta),
        actor: r.actor,
        createdMs: Number(r.created_ms),
      })),
      hasMore: rows.length > limit,
    };
  }

  // A page of the guild's richest members (the mint and empty accounts left
  // out, equal balances by user id), and whether another page follows.
  async leaderboard(guild, page, size) {
    const { rows } = await this.pool.query(q('board', [s(guild), size + 1, (page - 1) * size]));
    return {
      entries: rows.slice(0, size).map((r, i) => ({
        rank: (page - 1) * size + i + 1,
        userId: r.user_id,
        balance: BigInt(r.balance),
      })),
      hasMore: rows.length > size,
    };
  }

  // One write command. req: {interactionId, guild, kind, from, to, amount
  // (BigInt: > 0, or < 0 for a burn), actor, nowMs, cooldownMs, render}.
  // render(result) -> {content, ephemeral} is called inside the transaction
  // with result {status: 'ok' | 'insufficient' | 'cooldown', balances (Map
  // user -> BigInt after the command), retryAtMs}, and its answer is
  // recorded as the interaction's first outcome. Returns {content,
  // ephemeral, replayed, retryAtMs, kind, balances}.
  async transfer(req) {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken = null;
      try {
        await client.query('BEGIN');
        const out = await this.transferIn(client, req);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch((e) => {
          broken = e;
        });
        if (attempt < ATTEMPTS && RETRYABLE.has(err.code)) continue;
        throw err;
      } finally {
        client.release(broken || undefined);
      }
    }
  }

  async transferIn(client, req) {
    const guild = s(req.guild);
    const burn = req.kind === KIND.grant && req.amount < 0n;
    const debit = req.kind === KIND.pay ? req.from : burn ? req.to : 0n;
    const credit = req.kind === KIND.pay ? req.to : burn ? 0n : req.to;
    const amount = burn ? -req.amount : req.amount;
    const ids = [...new Set([debit, credit])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(s);

    await client.query(q('createAccounts', [guild, ids]));
    const locked = await client.query(q('lockAccounts', [guild, ids]));
    const balances = new Map(locked.rows.map((r) => [BigInt(r.user_id), BigInt(r.balance)]));

    const seen = await client.query(q('recorded', [s(req.interactionId)]));
    if (seen.rows.length) {
      const r = seen.rows[0];
      return {
        replayed: true,
        kind: r.kind,
        content: r.content,
        ephemeral: r.ephemeral,
        retryAtMs: Number(r.retry_at_ms),
      };
    }

    let result = { status: 'ok', balances, retryAtMs: 0 };
    if (req.kind === KIND.daily || req.kind === KIND.work) {
      const { rows } = await client.query(q('cooldown', [guild, s(req.to), req.kind]));
      const last = rows.length ? Number(rows[0].last_at_ms) : null;
      if (last !== null && req.nowMs < last + req.cooldownMs)
        result = { status: 'cooldown', balances, retryAtMs: last + req.cooldownMs };
    }
    if (result.status === 'ok' && debit !== 0n && balances.get(debit) < amount)
      result = { status: 'insufficient', balances, retryAtMs: 0 };

    let transferId = null;
    if (result.status === 'ok') transferId = await this.apply(client, req, balances, debit, credit, amount);
    const answer = req.render(result);
    await client.query(
      q('record', [
        s(req.interactionId),
        guild,
        req.kind,
        answer.content,
        answer.ephemeral,
        result.retryAtMs,
        transferId,
      ]),
    );
    return { replayed: false, ...answer, ...result, kind: req.kind };
  }

  // Moves amount from debit to credit: the transfer, both balances (also
  // in the balances map), its legs, and a reward's claim time. Returns the
  // transfer id.
  async apply(client, req, balances, debit, credit, amount) {
    const guild = s(req.guild);
    const { rows } = await client.query(
      q('insertTransfer', [
        s(req.interactionId),
        guild,
        req.kind,
        s(debit),
        s(credit),
        s(amount),
        s(req.actor),
        req.nowMs,
      ]),
    );
    const id = rows[0].id;
    balances.set(debit, balances.get(debit) - amount);
    balances.set(credit, balances.get(credit) + amount);
    await client.query(q('updateBalance', [guild, s(debit), s(balances.get(debit))]));
    await client.query(q('updateBalance', [guild, s(credit), s(balances.get(credit))]));
    await client.query(q('insertLegs', [id, guild, s(debit), s(-amount), s(credit), s(amount)]));
    if (req.kind === KIND.daily || req.kind === KIND.work)
      await client.query(q('claim', [guild, s(req.to), req.kind, req.nowMs]));
    return id;
  }
}

module.exports = { Ledger, KIND };
