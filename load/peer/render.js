// render — every text the peer answers with, byte for byte what cordbank's
// services/command/render.c writes, so that the simulator judges both bots
// by the same rules and load/peer/test.sh can compare answers one to one.
//
// Amounts are BigInt (balances are bigint in PostgreSQL, and the mint can
// go far below zero); a Number is accepted and converted. Lists never pass
// 2000 bytes (Discord's content limit counts characters; bytes are stricter).
'use strict';

const CONTENT_MAX = 2000;
const MINUTE_MS = 60000;
const HOUR_MS = 3600000;
const EM_DASH = '\u2014';
const MINUS_SIGN = '\u2212';
const MIDDLE_DOT = '\u00b7';

const TEXT = {
  dmOnly: 'cordbank works inside servers only.',
  trouble: 'cordbank is having trouble right now; please try again in a moment.',
  paySelf: 'You cannot pay yourself.',
  payBot: 'You cannot pay a bot.',
  payNoUser: 'Choose the member you want to pay.',
  badUser: 'The user option must name a member of this server.',
  grantDenied: 'You need the Manage Server permission to use /grant.',
  grantNoUser: 'Choose the member whose balance you want to change.',
  grantBot: 'Bots cannot hold coins; choose a member.',
  leaderboardEmpty: 'Nobody in this server has any coins yet.',
};

// 1234567n -> "1,234,567", -1234n -> "-1,234".
function amount(value) {
  const v = BigInt(value);
  const digits = (v < 0n ? -v : v).toString();
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return v < 0n ? '-' + out : out;
}

function magnitude(value) {
  const text = amount(value);
  return text[0] === '-' ? text.slice(1) : text;
}

const pad2 = (n) => String(n).padStart(2, '0');

// "23h 59m" from an hour up (minutes rounded down), else "4m 05s" (seconds
// rounded up, at least 1, at most 59m 59s).
function duration(ms) {
  if (ms >= HOUR_MS) {
    const minutes = Math.floor(ms / MINUTE_MS);
    return `${Math.floor(minutes / 60)}h ${pad2(minutes % 60)}m`;
  }
  let seconds = ms <= 0 ? 1 : Math.floor((ms + 999) / 1000);
  if (seconds > 3599) seconds = 3599;
  return `${Math.floor(seconds / 60)}m ${pad2(seconds % 60)}s`;
}

const balance = (user, coins) => `<@${user}> has ${amount(coins)} coins.`;
const dailyClaimed = (coins, total) =>
  `You claimed your daily ${amount(coins)} coins. Your balance is ${amount(total)} coins.`;
const dailyCooldown = (ms) => `You already claimed your daily reward. Try again in ${duration(ms)}.`;
const workClaimed = (coins, total) =>
  `You worked and earned ${amount(coins)} coins. Your balance is ${amount(total)} coins.`;
const workCooldown = (ms) => `You already worked this hour. Try again in ${duration(ms)}.`;
const paid = (payer, payee, coins, total) =>
  `<@${payer}> paid <@${payee}> ${amount(coins)} coins. Your balance is ${amount(total)} coins.`;
const insufficient = (have, wanted) =>
  `Insufficient funds: you have ${amount(have)} coins and tried to pay ${amount(wanted)}.`;
const badAmount = (max) => `The amount must be a whole number from 1 to ${amount(max)}.`;
const badGrantAmount = (max) =>
  `The amount must be a whole number from 1 to ${amount(max)} to grant, or from -1 to ` +
  `-${amount(max)} to remove.`;
const badPage = (max) => `The page must be a whole number from 1 to ${amount(max)}.`;
const noPage = (page) => `There is no page ${page} of the leaderboard.`;

function granted(admin, member, coins, total) {
  const c = BigInt(coins);
  const head =
    c >= 0n
      ? `<@${admin}> granted <@${member}> ${magnitude(c)} coins.`
      : `<@${admin}> removed ${magnitude(c)} coins from <@${member}>.`;
  return `${head} Their balance is ${amount(total)} coins.`;
}

const grantInsufficient = (member, have, coins) =>
  `<@${member}> has only ${amount(have)} coins; you cannot remove ${magnitude(coins)}.`;

// "Unknown command: /NAME." with a long name cut at 100 bytes, on a UTF-8
// character boundary.
function unknownCommand(name) {
  let bytes = Buffer.from(name, 'utf8');
  if (bytes.length > 100) {
    let len = 100;
    while (len > 0 && (bytes[len] & 0xc0) === 0x80) len--;
    bytes = bytes.subarray(0, len);
  }
  return `Unknown command: /${bytes.toString('utf8')}.`;
}

function rateLimited(guild, retryAfterMs) {
  const who = guild
    ? 'This server is sending too many commands right now'
    : "You're going too fast";
  const left =
    retryAfterMs < MINUTE_MS
      ? `${retryAfterMs <= 0 ? 1 : Math.floor((retryAfterMs + 999) / 1000)}s`
      : duration(retryAfterMs);
  return `${who}. Try again in ${left}.`;
}

// A reply built line by line within CONTENT_MAX bytes.
class Lines {
  constructor() {
    this.lines = [];
    this.bytes = 0;
  }
  // Adds line when it fits with `reserve` bytes left for a closing line.
  add(line, reserve = 0) {
    const sep = this.lines.length > 0 ? 1 : 0;
    const len = Buffer.byteLength(line, 'utf8');
    if (this.bytes + sep + len + reserve > CONTENT_MAX) return false;
    this.lines.push(line);
    this.bytes += sep + len;
    return true;
  }
  toString() {
    return this.lines.join('\n');
  }
}

const KIND = { pay: 1, daily: 2, work: 3, grant: 4 };

// entry: {id, kind, fromUser, toUser, delta (BigInt), actor, createdMs}
function historyLine(e) {
  let what;
  if (e.kind === KIND.daily) what = 'daily';
  else if (e.kind === KIND.work) what = 'work';
  else if (e.kind === KIND.pay) what = e.delta < 0n ? `paid to <@${e.toUser}>` : `from <@${e.fromUser}>`;
  else if (e.kind === KIND.grant) what = `${e.delta < 0n ? 'removed' : 'granted'} by <@${e.actor}>`;
  else what = 'transfer';
  let line = `#${e.id} ${e.delta < 0n ? MINUS_SIGN : '+'}${magnitude(e.delta)} ${what}`;
  if (e.createdMs > 0) line += ` ${MIDDLE_DOT} <t:${Math.floor(e.createdMs / 1000)}:R>`;
  return line;
}

const HISTORY_MORE = 'Older transfers are not shown.';

function history(member, entries, hasMore) {
  const lines = new Lines();
  if (entries.length === 0) {
    lines.add(`<@${member}> has no transfers yet.`);
    return lines.toString();
  }
  lines.add(`Transfers of <@${member}>, newest first:`);
  let cut = false;
  for (const e of entries) {
    if (!lines.add(historyLine(e), 1 + HISTORY_MORE.length)) {
      cut = true;
      break;
    }
  }
  if (cut || hasMore) lines.add(HISTORY_MORE);
  return lines.toString();
}

// entries: [{rank, userId, balance}], at least one.
function leaderboard(page, entries, hasMore) {
  const lines = new Lines();
  const more = hasMore ? `More: /leaderboard page:${page + 1}` : '';
  lines.add(`Leaderboard ${EM_DASH} page ${page}`);
  const reserve = more ? 1 + more.length : 0;
  for (const e of entries) {
    if (!lines.add(`${e.rank}. <@${e.userId}> ${EM_DASH} ${amount(e.balance)} coins`, reserve)) break;
  }
  if (more) lines.add(more);
  return lines.toString();
}

module.exports = {
  TEXT,
  KIND,
  amount,
  duration,
  balance,
  dailyClaimed,
  dailyCooldown,
  workClaimed,
  workCooldown,
  paid,
  insufficient,
  badAmount,
  badGrantAmount,
  badPage,
  noPage,
  granted,
  grantInsufficient,
  unknownCommand,
  rateLimited,
  history,
  leaderboard,
};
