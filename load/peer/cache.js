// cache — what the peer keeps in Redis, through ioredis: a read-through
// cache of balances (GET, then SET with a TTL after a database read, and
// SET again with the new balance after every committed write), per-member
// and per-guild rate limits (a fixed window: INCR, PEXPIRE NX, PTTL), and
// the dedup of interaction ids (SET NX EX).
//
// Like cordbank, the peer fails open: when Redis errors or is slow (a
// 300 ms command timeout), a read goes to PostgreSQL and a command runs
// without a rate-limit decision. A read-through SET can race a write's SET
// and leave an older balance for at most the TTL; that is the usual price
// of cache-aside, and why the TTL is short.
'use strict';

const Redis = require('ioredis');

class Cache {
  // config: {redisUrl, balanceTtlS, dedupTtlS, userRate, userBurst,
  // guildRate, guildBurst}; log (level, message, fields)
  constructor(config, log) {
    this.config = config;
    this.log = log;
    this.lastError = 0;
    this.redis = new Redis(config.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 300,
      connectTimeout: 1000,
      lazyConnect: false,
    });
    this.redis.on('error', (err) => this.warn('redis', err));
    // A fixed window of `burst` commands every burst/rate seconds: the
    // same average rate and burst as cordbank's token buckets.
    this.userWindowMs = Math.max(1000, Math.round((config.userBurst / config.userRate) * 1000));
    this.guildWindowMs = Math.max(1000, Math.round((config.guildBurst / config.guildRate) * 1000));
  }

  // Logs at most once a second: an outage must not flood the log.
  warn(what, err) {
    const now = Date.now();
    if (now - this.lastError < 1000) return;
    this.lastError = now;
    this.log('warn', `${what} failed; carrying on without it`, { error: err.message });
  }

  static balanceKey(guild, user) {
    return `peer:bal:${guild}:${user}`;
  }

  // The cached balance (BigInt), or null: a miss or Redis unavailable.
  async get(guild, user) {
    try {
      const value = await this.redis.get(Cache.balanceKey(guild, user));
      return value === null ? null : BigInt(value);
    } catch (err) {
      this.warn('cache read', err);
      return null;
    }
  }

  // After a database read; not awaited (the answer does not wait for it).
  fill(guild, user, balance) {
    this.redis
      .set(Cache.balanceKey(guild, user), String(balance), 'EX', this.config.balanceTtlS)
      .catch((err) => this.warn('cache fill', err));
  }

  // After a committed write: the members' new balances (the mint, user 0,
  // is never read by a command and is left out).
  update(guild, balances) {
    const p = this.redis.pipeline();
    for (const [user, balance] of balances)
      if (user !== 0n) p.set(Cache.balanceKey(guild, user), String(balance), 'EX', this.config.balanceTtlS);
    p.exec().catch((err) => this.warn('cache update', err));
  }

  // May this command run? {ok: true}, or {ok: false, guild (whose limit),
  // retryAfterMs}. A duplicate interaction id runs without a limit (a
  // redelivery must get its real answer; writes replay from the ledger).
  // One round trip: the dedup and both counters in one pipeline.
  async admit(interactionId, guild, user) {
    const userKey = `peer:rl:u:${guild}:${user}`;
    const guildKey = `peer:rl:g:${guild}`;
    let res;
    try {
      res = await this.redis
        .pipeline()
        .set(`peer:seen:${interactionId}`, '1', 'EX', this.config.dedupTtlS, 'NX')
        .incr(userKey)
        .pexpire(userKey, this.userWindowMs, 'NX')
        .pttl(userKey)
        .incr(guildKey)
        .pexpire(guildKey, this.guildWindowMs, 'NX')
        .pttl(guildKey)
        .exec();
    } catch (err) {
      this.warn('admission', err);
      return { ok: true };
    }
    const failed = res.find(([err]) => err);
    if (failed) {
      this.warn('admission', failed[0]);
      return { ok: true };
    }
    const [[, first], [, userCount], , [, userTtl], [, guildCount], , [, guildTtl]] = res;
    if (first === null) return { ok: true };
    if (userCount > this.config.userBurst) return { ok: false, guild: false, retryAfterMs: userTtl };
    if (guildCount > this.config.guildBurst) return { ok: false, guild: true, retryAfterMs: guildTtl };
    return { ok: true };
  }

  async close() {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}

module.exports = { Cache };
