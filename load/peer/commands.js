// commands — the seven slash commands, with cordbank's rules and texts
// (services/command/cmd_*.c, validate.c): what the request alone can
// refuse is refused before the database is asked, in cordbank's order;
// /balance reads through the Redis cache; /pay, /daily, /work and /grant
// are one ledger transaction each, keyed by the interaction id; /history
// and /leaderboard are read from PostgreSQL.
//
// Each handler returns {content, ephemeral}. A failure of PostgreSQL
// throws, and bot.js answers with the trouble text, as cordbank does.
'use strict';

const crypto = require('node:crypto');
const render = require('./render');
const { optionInt, optionUser, isBot } = require('./interaction');

const { TEXT, KIND } = render;
const PERM_ADMINISTRATOR = 1n << 3n;
const PERM_MANAGE_GUILD = 1n << 5n;
const PAGE_MAX = 1000;
const PAGE_SIZE = 10;
const HISTORY_LIMIT = 10;

const answer = (content) => ({ content, ephemeral: false });
const refuse = (content) => ({ content, ephemeral: true });

class Commands {
  // deps: {ledger, cache (cache.js), config, now () -> Unix ms}
  constructor(deps) {
    this.ledger = deps.ledger;
    this.cache = deps.cache;
    this.config = deps.config;
    this.now = deps.now || Date.now;
    this.handlers = {
      balance: (c) => this.balance(c),
      daily: (c) => this.reward(c, KIND.daily),
      work: (c) => this.reward(c, KIND.work),
      pay: (c) => this.pay(c),
      grant: (c) => this.grant(c),
      history: (c) => this.history(c),
      leaderboard: (c) => this.leaderboard(c),
    };
  }

  known(name) {
    return Object.prototype.hasOwnProperty.call(this.handlers, name);
  }

  run(cmd) {
    return this.handlers[cmd.name](cmd);
  }

  // The user option, or the invoker; null when the option is not a user.
  static memberOrInvoker(cmd) {
    const user = optionUser(cmd, 'user');
    if (user.bad) return null;
    return user.found ? user.value : cmd.userId;
  }

  async balance(cmd) {
    const target = Commands.memberOrInvoker(cmd);
    if (target === null) return refuse(TEXT.badUser);
    let coins = await this.cache.get(cmd.guildId, target);
    if (coins === null) {
      coins = await this.ledger.balance(cmd.guildId, target);
      this.cache.fill(cmd.guildId, target, coins);
    }
    return answer(render.balance(target, coins));
  }

  // A write through the ledger; new balances of members go to the cache.
  async write(cmd, req, renderFn) {
    const out = await this.ledger.transfer({
      interactionId: cmd.interactionId,
      guild: cmd.guildId,
      actor: cmd.userId,
      nowMs: this.now(),
      ...req,
      render: renderFn,
    });
    if (out.replayed) return this.replay(out);
    if (out.status === 'ok') this.cache.update(cmd.guildId, out.balances);
    return { content: out.content, ephemeral: out.ephemeral };
  }

  // A recorded outcome: as first answered, but a cooldown tells the time
  // left as of now.
  replay(out) {
    if (out.retryAtMs > 0) {
      const left = out.retryAtMs - this.now();
      const text = out.kind === KIND.work ? render.workCooldown(left) : render.dailyCooldown(left);
      return refuse(text);
    }
    return { content: out.content, ephemeral: out.ephemeral };
  }

  reward(cmd, kind) {
    const c = this.config;
    const daily = kind === KIND.daily;
    const amount = daily ? c.dailyAmount : BigInt(crypto.randomInt(c.workMin, c.workMax + 1));
    const cooldownMs = (daily ? c.dailyCooldownS : c.workCooldownS) * 1000;
    const req = { kind, from: 0n, to: cmd.userId, amount, cooldownMs };
    return this.write(cmd, req, (r) => {
      if (r.status === 'cooldown') {
        const left = r.retryAtMs - this.now();
        return refuse(daily ? render.dailyCooldown(left) : render.workCooldown(left));
      }
      const total = r.balances.get(cmd.userId);
      return answer(daily ? render.dailyClaimed(amount, total) : render.workClaimed(amount, total));
    });
  }

  // Checked in cordbank's order: amount, user, self, bot.
  pay(cmd) {
    const max = this.config.maxPay;
    const amount = optionInt(cmd, 'amount');
    if (!amount.found || amount.bad || amount.value < 1 || BigInt(amount.value) > max)
      return refuse(render.badAmount(max));
    const user = optionUser(cmd, 'user');
    if (!user.found) return refuse(TEXT.payNoUser);
    if (user.bad) return refuse(TEXT.badUser);
    if (user.value === cmd.userId) return refuse(TEXT.paySelf);
    if (isBot(cmd, user.value)) return refuse(TEXT.payBot);
    const coins = BigInt(amount.value);
    const req = { kind: KIND.pay, from: cmd.userId, to: user.value, amount: coins };
    return this.write(cmd, req, (r) => {
      const total = r.balances.get(cmd.userId);
      if (r.status === 'insufficient') return refuse(render.insufficient(total, coins));
      return answer(render.paid(cmd.userId, user.value, coins, total));
    });
  }

  // Checked in cordbank's order: permission, amount, user, bot.
  grant(cmd) {
    const max = this.config.maxPay;
    if ((cmd.permissions & (PERM_ADMINISTRATOR | PERM_MANAGE_GUILD)) === 0n)
      return refuse(TEXT.grantDenied);
    const amount = optionInt(cmd, 'amount');
    if (
      !amount.found ||
      amount.bad ||
      amount.value === 0 ||
      BigInt(amount.value) > max ||
      BigInt(amount.value) < -max
    )
      return refuse(render.badGrantAmount(max));
    const user = optionUser(cmd, 'user');
    if (!user.found) return refuse(TEXT.grantNoUser);
    if (user.bad) return refuse(TEXT.badUser);
    if (isBot(cmd, user.value)) return refuse(TEXT.grantBot);
    const coins = BigInt(amount.value);
    const req = { kind: KIND.grant, from: 0n, to: user.value, amount: coins };
    return this.write(cmd, req, (r) => {
      const total = r.balances.get(user.value);
      if (r.status === 'insufficient')
        return refuse(render.grantInsufficient(user.value, total, coins));
      return answer(render.granted(cmd.userId, user.value, coins, total));
    });
  }

  // Any member's history, shown only to the asker.
  async history(cmd) {
    const target = Commands.memberOrInvoker(cmd);
    if (target === null) return refuse(TEXT.badUser);
    const { entries, hasMore } = await this.ledger.history(cmd.guildId, target, HISTORY_LIMIT);
    return { content: render.history(target, entries, hasMore), ephemeral: true };
  }

  async leaderboard(cmd) {
    const page = optionInt(cmd, 'page');
    const number = page.found ? page.value : 1;
    if (page.bad || number < 1 || number > PAGE_MAX) return refuse(render.badPage(PAGE_MAX));
    const { entries, hasMore } = await this.ledger.leaderboard(cmd.guildId, number, PAGE_SIZE);
    if (entries.length > 0) return answer(render.leaderboard(number, entries, hasMore));
    if (number === 1) return answer(TEXT.leaderboardEmpty);
    return refuse(render.noPage(number));
  }
}

module.exports = { Commands };
