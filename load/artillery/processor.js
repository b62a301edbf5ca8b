// processor — the hooks behind scenario.yml: build a Discord interaction,
// sign it as Discord does, and sort every answer into ok, refused or a
// kind of error.
//
// The bodies and the checks follow cordbank-discord-sim (load/discord-sim/
// load.c, interaction.c and check.c), so that a run here and a run of the
// simulator measure the same thing and fail for the same reasons:
//   - member i is user 100000+i, in guild 7000 + i % guilds and channel
//     9000 + i % guilds; application id 42; a random token per request;
//   - ids are snowflake-like (ms since the Discord epoch << 22 | 10-bit
//     node << 12 | 12-bit sequence), unique within a run: each Artillery
//     worker thread takes its own node;
//   - X-Signature-Ed25519 is the hex Ed25519 signature over timestamp ||
//     body, X-Signature-Timestamp the Unix seconds.
//
// Environment (all optional): CORDBANK_GATEWAY_URL (the gateway's
// interactions endpoint; else scenario.yml's target + /interactions),
// CORDBANK_USERS (1000), CORDBANK_GUILDS (10), CORDBANK_SEED (64 hex; the simulator's dev seed, whose public key is the
// gateway's default --public-key). A bad value throws when the scenario
// loads: a load run with a silently wrong setting measures nothing.
'use strict';

const crypto = require('node:crypto');
const { threadId } = require('node:worker_threads');

// The simulator's default seed (load/discord-sim/signer.h, SIM_DEV_SEED):
// local runs only.
const DEV_SEED = 'e104490d1782c27156cf45ff6d491becbbe7b8d2eb75972aa2674e60c36c4d3e';
// An Ed25519 PKCS#8 PrivateKeyInfo is this DER prefix and the 32-byte seed.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const APPLICATION_ID = '42';
const FIRST_USER = 100000;
const FIRST_GUILD = 7000;
const FIRST_CHANNEL = 9000;
const PAY_MAX = 50;
const DISCORD_EPOCH_MS = 1420070400000n;
const EPHEMERAL = 64;

// Issue 8's "mixed": 70% balance, 10% pay, 10% daily/work, 10%
// leaderboard/history (cumulative percentages).
const MIX = [
  ['balance', 70],
  ['pay', 80],
  ['daily', 85],
  ['work', 90],
  ['leaderboard', 95],
  ['history', 100],
];

// Answers a well-behaved member can legitimately get instead of success:
// short of coins, a cooldown, paying oneself or a bot (check.c).
const REFUSAL_PREFIXES = [
  'Insufficient funds',
  'You already claimed',
  'You already worked',
  'You cannot pay yourself.',
  'You cannot pay a bot.',
];

// What every ok answer of a command contains, and whether it is ephemeral
// (/history shows only to its asker), as check.c.
const OK_MARKERS = {
  balance: { markers: [' has '], ephemeral: false },
  pay: { markers: [' paid '], ephemeral: false },
  daily: { markers: ['You claimed your daily '], ephemeral: false },
  work: { markers: ['You worked and earned '], ephemeral: false },
  history: { markers: ['Transfers of <@', ' has no transfers yet.'], ephemeral: true },
  leaderboard: {
    markers: ['Leaderboard \u2014 page ', 'Nobody in this server has any coins yet.'],
    ephemeral: false,
  },
};

function positiveEnv(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^[1-9][0-9]{0,8}$/.test(text)) throw new Error(`${name} must be a positive whole number, got '${text}'`);
  return Number(text);
}

function signingKey(seedHex) {
  if (!/^[0-9a-fA-F]{64}$/.test(seedHex))
    throw new Error('CORDBANK_SEED must be 64 hex characters (an Ed25519 seed)');
  return crypto.createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.from(seedHex, 'hex')]),
    format: 'der',
    type: 'pkcs8',
  });
}

const USERS = positiveEnv('CORDBANK_USERS', 1000);
const GUILDS = positiveEnv('CORDBANK_GUILDS', 10);
if (USERS < 2 * GUILDS) throw new Error('CORDBANK_USERS must be at least twice CORDBANK_GUILDS (pay needs two members per guild)');
const KEY = signingKey(process.env.CORDBANK_SEED || DEV_SEED);
const GATEWAY_URL = process.env.CORDBANK_GATEWAY_URL || '';
if (GATEWAY_URL && !/^https?:\/\/[^/]/.test(GATEWAY_URL))
  throw new Error(`CORDBANK_GATEWAY_URL must be an http(s) URL, got '${GATEWAY_URL}'`);

// Snowflake state of this worker thread. The node mixes a random base (per
// process) with the thread id, so that two workers of one run never share it.
const ids = {
  node: BigInt((crypto.randomInt(1024) + threadId) % 1024),
  lastMs: 0n,
  sequence: 0n,
};

function nextSnowflake() {
  const ms = BigInt(Date.now()) - DISCORD_EPOCH_MS;
  if (ms > ids.lastMs) {
    ids.lastMs = ms;
    ids.sequence = 0n;
  } else if (++ids.sequence > 4095n) {
    // More than 4096 ids in one millisecond: borrow from the next one.
    ids.lastMs++;
    ids.sequence = 0n;
  }
  return ((ids.lastMs << 22n) | (ids.node << 12n) | ids.sequence).toString();
}

// A stable id per command name, as a registered command would have (FNV-1a).
function commandId(name) {
  let hash = 2166136261;
  for (const ch of Buffer.from(name)) hash = Math.imul(hash ^ ch, 16777619) >>> 0;
  return (1000000000000000000n + BigInt(hash)).toString();
}

function pickCommand() {
  const draw = crypto.randomInt(100);
  return MIX.find(([, upTo]) => draw < upTo)[0];
}

// Another member of member's guild (members are g, g + guilds, ...).
function otherMember(member) {
  const guild = member % GUILDS;
  const members = Math.floor((USERS - guild + GUILDS - 1) / GUILDS);
  let k = crypto.randomInt(members - 1);
  if (k >= Math.floor(member / GUILDS)) k++;
  return guild + k * GUILDS;
}

const userJson = (id, bot) => ({
  id: String(id),
  username: `user${id}`,
  ...(bot === undefined ? {} : { bot }),
});

// data.options (and data.resolved.users for the USER option) of command.
function addOptions(data, command, member) {
  let other = null;
  if (command === 'pay') {
    other = FIRST_USER + otherMember(member);
    data.options = [
      { name: 'user', type: 6, value: String(other) },
      { name: 'amount', type: 4, value: 1 + crypto.randomInt(PAY_MAX) },
    ];
  } else if (command === 'balance' && crypto.randomInt(4) === 0) {
    // One balance in four asks about another member, as the simulator.
    other = FIRST_USER + otherMember(member);
    data.options = [{ name: 'user', type: 6, value: String(other) }];
  } else if (command === 'leaderboard') {
    data.options = [{ name: 'page', type: 4, value: 1 }];
  }
  if (other !== null) data.resolved = { users: { [other]: userJson(other, false) } };
}

// The body of command sent by a random member; key order as Discord's docs.
function interactionBody(command) {
  const member = crypto.randomInt(USERS);
  const guild = member % GUILDS;
  const user = FIRST_USER + member;
  const data = { id: commandId(command), name: command, type: 1 };
  addOptions(data, command, member);
  return JSON.stringify({
    type: 2,
    id: nextSnowflake(),
    application_id: APPLICATION_ID,
    token: `tok-${crypto.randomBytes(16).toString('hex')}`,
    version: 1,
    guild_id: String(FIRST_GUILD + guild),
    channel_id: String(FIRST_CHANNEL + guild),
    locale: 'en-US',
    member: { user: userJson(user), permissions: '0' },
    data,
  });
}

// beforeRequest: a fresh signed interaction. The body is a string without
// "{{", so Artillery's templating leaves the signed bytes as they are.
function signInteraction(requestParams, context, events, next) {
  const command = pickCommand();
  const body = interactionBody(command);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = crypto.sign(null, Buffer.from(timestamp + body), KEY).toString('hex');
  if (GATEWAY_URL) requestParams.url = GATEWAY_URL;
  requestParams.body = body;
  requestParams.headers = {
    ...requestParams.headers,
    'Content-Type': 'application/json',
    'X-Signature-Ed25519': signature,
    'X-Signature-Timestamp': timestamp,
  };
  context.vars.command = command;
  events.emit('counter', `cordbank.sent.${command}`, 1);
  return next();
}

const isRefusal = (content) =>
  REFUSAL_PREFIXES.some((p) => content.startsWith(p)) || content.includes('Try again in ');

// Whether content is an ok answer of command, given whether it came ephemeral.
function fitsCommand(command, content, ephemeral) {
  const expected = OK_MARKERS[command];
  if (!expected) return !ephemeral;
  return expected.ephemeral === ephemeral && expected.markers.some((m) => content.includes(m));
}

// 'ok', 'refused', or the error kind of one answer (check.c's kinds).
function classify(status, bodyText, command) {
  if (status !== 200) return `http_${status}`;
  let root;
  try {
    root = JSON.parse(bodyText);
  } catch {
    return 'bad_json';
  }
  if (root === null || typeof root !== 'object' || Array.isArray(root)) return 'bad_json';
  if (root.type !== 4) return 'unexpected_type';
  const data = root.data || {};
  const content = typeof data.content === 'string' ? data.content : '';
  if (!content) return 'no_content';
  if (content.startsWith('cordbank is having trouble')) return 'trouble';
  if (content.startsWith('Unknown command:')) return 'unknown_command';
  const ephemeral = (Number(data.flags) & EPHEMERAL) !== 0;
  if (fitsCommand(command, content, ephemeral)) return 'ok';
  if (ephemeral && isRefusal(content)) return 'refused';
  return 'unexpected_reply';
}

// afterResponse: one counter per answer, cordbank.ok, cordbank.refused or
// cordbank.error.<kind>.
function checkAnswer(requestParams, response, context, events, next) {
  const body = typeof response.body === 'string' ? response.body : String(response.body ?? '');
  const outcome = classify(response.statusCode, body, context.vars.command);
  const counter = outcome === 'ok' || outcome === 'refused' ? outcome : `error.${outcome}`;
  events.emit('counter', `cordbank.${counter}`, 1);
  return next();
}

module.exports = { signInteraction, checkAnswer, classify, interactionBody, signingKey };
