#!/usr/bin/env node
// cordbank-peer — the same Discord economy bot as cordbank, written the
// conventional way: one Node.js process (or --workers N of them, with
// node:cluster), an HTTP interactions endpoint on node:http, a pg.Pool and
// ioredis. It exists to be measured against cordbank with the same
// simulator, database and workload (issue 8; load/peer/README.md).
//
// POST /interactions, as cordbank's gateway: the Ed25519 signature first
// (401 without a valid one, so an unsigned request learns nothing about the
// parser), then the JSON (400 naming the bad field), PING -> PONG, a DM ->
// "works inside servers only", an unknown command refused, then admission
// (dedup and rate limits in Redis), then the command. A command that fails
// or takes longer than --reply-budget-ms gets cordbank's trouble text.
// Every answer is type 4 with allowed_mentions.parse empty.
//
// Prints {"port":N} as one line on stdout once it listens; logs are JSON
// lines on stderr. SIGTERM/SIGINT: stop accepting, finish what is in
// flight (up to --grace-ms), close the pool and Redis, exit 0.
'use strict';

const cluster = require('node:cluster');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const pg = require('pg');

const { Cache } = require('./cache');
const { Commands } = require('./commands');
const { Ledger } = require('./ledger');
const interaction = require('./interaction');
const render = require('./render');

const MAX_BODY = 64 * 1024;
const EPHEMERAL = 64;
// The simulator's dev key (cordbank-discord-sim --print-public-key): local runs only.
const DEV_PUBLIC_KEY = 'b0824ff5f1aabb79196af1c9c034ef045f8e4bc2a170c235321a7f1e5027f766';
// An Ed25519 SubjectPublicKeyInfo is this DER prefix and the 32 raw bytes.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

// name, default, kind ('int' | 'string'), min, max, help. Each is also read
// from the environment as NAME (PG_URL for --pg-url); a flag wins.
const OPTIONS = [
  ['port', '7700', 'int', 0, 65535, 'port of POST /interactions (0 = any free port)'],
  ['bind', '127.0.0.1', 'string', 0, 0, 'address to listen on'],
  ['pg-url', 'postgresql://postgres@127.0.0.1:5432/cordbank_peer', 'string', 0, 0,
    'PostgreSQL database (created when missing; tables peer_*, applied at start)'],
  ['redis-url', 'redis://127.0.0.1:6379', 'string', 0, 0, 'Redis (cache, rate limits, dedup)'],
  ['public-key', DEV_PUBLIC_KEY, 'string', 0, 0, "the application's Ed25519 public key, hex"],
  ['workers', '1', 'int', 1, 64, 'processes (node:cluster when > 1), each with its own pool'],
  ['pool-size', '10', 'int', 1, 1000, 'PostgreSQL connections per process'],
  ['reply-budget-ms', '2500', 'int', 100, 60000, 'a command not done by then gets the trouble text'],
  ['grace-ms', '5000', 'int', 0, 600000, 'on SIGTERM, how long in-flight requests may take'],
  ['daily-amount', '100', 'int', 1, 1e12, 'coins paid by /daily'],
  ['daily-cooldown-s', '86400', 'int', 0, 31536000, 'seconds between two /daily claims'],
  ['work-min', '10', 'int', 1, 1e12, 'least coins paid by /work'],
  ['work-max', '50', 'int', 1, 1e12, 'most coins paid by /work'],
  ['work-cooldown-s', '3600', 'int', 0, 31536000, 'seconds between two /work claims'],
  ['max-pay', '1000000000000', 'int', 1, 1e15, 'largest /pay, and largest |amount| of a /grant'],
  ['user-rate', '1', 'int', 1, 1e9, 'rate limit: commands per second per member of a guild'],
  ['user-burst', '5', 'int', 1, 1e9, 'rate limit: commands a member may send at once'],
  ['guild-rate', '50', 'int', 1, 1e9, 'rate limit: commands per second per guild'],
  ['guild-burst', '200', 'int', 1, 1e9, 'rate limit: commands a guild may send at once'],
  ['dedup-ttl-s', '900', 'int', 1, 86400, 'how long an interaction id is remembered'],
  ['balance-ttl-s', '60', 'int', 1, 86400, 'how long a cached balance lives'],
];

const camel = (name) => name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
const envName = (name) => name.toUpperCase().replace(/-/g, '_');

function usage() {
  const lines = OPTIONS.map(([n, d, , , , h]) => `  --${n} (${envName(n)}, default ${d})\n      ${h}`);
  return `usage: node bot.js [--flag value]...\n${lines.join('\n')}\n`;
}

function die(message) {
  process.stderr.write(`cordbank-peer: ${message}\n`);
  process.exit(2);
}

function parseConfig(argv, env) {
  const given = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(usage());
      process.exit(0);
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m || !OPTIONS.some(([n]) => n === m[1])) die(`unknown argument '${arg}' (see --help)`);
    if (m[2] === undefined && i + 1 >= argv.length) die(`--${m[1]} needs a value`);
    given[m[1]] = m[2] !== undefined ? m[2] : argv[++i];
  }
  const config = {};
  for (const [name, def, kind, min, max] of OPTIONS) {
    const text = given[name] ?? env[envName(name)] ?? def;
    if (kind === 'string') {
      config[camel(name)] = text;
      continue;
    }
    if (!/^-?[0-9]+$/.test(text) || Number(text) < min || Number(text) > max)
      die(`--${name} / ${envName(name)}: '${text}' is not a whole number from ${min} to ${max}`);
    config[camel(name)] = Number(text);
  }
  if (config.workMin > config.workMax) die('--work-min must not exceed --work-max');
  config.dailyAmount = BigInt(config.dailyAmount);
  config.maxPay = BigInt(config.maxPay);
  config.publicKey = publicKey(config.publicKey);
  return config;
}

function publicKey(hex) {
  if (!/^[0-9a-fA-F]{64}$/.test(hex))
    die('--public-key / PUBLIC_KEY must be 64 hex characters (the application\'s Ed25519 public key)');
  try {
    return crypto.createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, 'hex')]),
      format: 'der',
      type: 'spki',
    });
  } catch (err) {
    return die(`--public-key is not a valid Ed25519 public key (${err.message})`);
  }
}

function log(level, message, fields = {}) {
  const line = { ts: new Date().toISOString(), level, service: 'peer', pid: process.pid, message, ...fields };
  process.stderr.write(JSON.stringify(line) + '\n');
}

// CORDBANK_FAKE_NOW_MS moves the wall clock's starting point, as it does
// cordbank's (common/clock.c), so tests can cross a cooldown.
function clock() {
  const fake = Number(process.env.CORDBANK_FAKE_NOW_MS || 0);
  const offset = Number.isInteger(fake) && fake > 0 ? fake - Date.now() : 0;
  return () => Date.now() + offset;
}

// ---------------------------------------------------------------------------
// The schema

async function ensureDatabase(url) {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.end();
  } catch (err) {
    await client.end().catch(() => {});
    if (err.code !== '3D000') throw err; // invalid_catalog_name: no such database
    const target = new URL(url);
    const name = decodeURIComponent(target.pathname.slice(1));
    target.pathname = '/postgres';
    const admin = new pg.Client({ connectionString: target.toString() });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      log('info', 'created the database', { database: name });
    } catch (e) {
      if (e.code !== '42P04') throw e; // a peer starting at the same time made it
    } finally {
      await admin.end();
    }
  }
}

async function applySchema(url) {
  await ensureDatabase(url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock (hashtext ('cordbank-peer-schema'))");
    await client.query(fs.readFileSync(path.join(__dirname, 'schema.sql'), 'utf8'));
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------
// HTTP

function send(res, status, body, extra = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}

function message(content, ephemeral) {
  const data = { content };
  if (ephemeral) data.flags = EPHEMERAL;
  data.allowed_mentions = { parse: [] };
  return { type: 4, data };
}

// A signed interaction whose timestamp is more than MAX_SKEW_S from now is
// a replay, as cordbank's gateway refuses it (gw_timestamp_check).
const MAX_SKEW_S = 300;
function timestampRefusal(timestamp, nowS) {
  if (!/^[0-9]{1,12}$/.test(timestamp)) return 'X-Signature-Timestamp is not a time in Unix seconds';
  const skew = nowS - Number(timestamp);
  if (Math.abs(skew) <= MAX_SKEW_S) return null;
  return `X-Signature-Timestamp is ${Math.abs(skew)} s ${skew > 0 ? 'old' : 'in the future'} (more than ${MAX_SKEW_S} s): refused as a replay`;
}

function signatureValid(key, req, body) {
  const signature = req.headers['x-signature-ed25519'];
  const timestamp = req.headers['x-signature-timestamp'];
  if (typeof signature !== 'string' || !/^[0-9a-fA-F]{128}$/.test(signature)) return false;
  if (typeof timestamp !== 'string' || timestamp.length === 0) return false;
  return crypto.verify(null, Buffer.concat([Buffer.from(timestamp), body]), key,
    Buffer.from(signature, 'hex'));
}

// The body, or null (and a 400 sent) when it is too large.
function readBody(req, res) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size <= MAX_BODY) return resolve(Buffer.concat(chunks));
      send(res, 400, { error: `request body exceeds ${MAX_BODY} bytes` });
      return resolve(null);
    });
    req.on('error', reject);
  });
}

class Bot {
  constructor(config) {
    this.config = config;
    this.now = clock();
    this.pool = new pg.Pool({
      connectionString: config.pgUrl,
      max: config.poolSize,
      connectionTimeoutMillis: config.replyBudgetMs,
    });
    this.pool.on('error', (err) => log('warn', 'idle PostgreSQL connection failed', { error: err.message }));
    this.cache = new Cache(config, log);
    this.ledger = new Ledger(this.pool);
    this.commands = new Commands({ ledger: this.ledger, cache: this.cache, config, now: this.now });
    this.inFlight = 0;
    this.draining = false;
    this.lastTrouble = 0;
    this.server = http.createServer((req, res) => this.serve(req, res));
    this.server.keepAliveTimeout = 65000;
  }

  listen() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.port, this.config.bind, () => resolve(this.server.address().port));
    });
  }

  async serve(req, res) {
    this.inFlight++;
    if (this.draining) res.setHeader('Connection', 'close');
    try {
      await this.route(req, res);
    } catch (err) {
      log('error', 'request failed', { error: err.stack });
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    } finally {
      this.inFlight--;
    }
  }

  async route(req, res) {
    const url = req.url.split('?')[0];
    if (url !== '/interactions') {
      req.resume();
      return send(res, 404, { error: 'not found' });
    }
    if (req.method !== 'POST') {
      req.resume();
      return send(res, 405, { error: 'method not allowed' }, { Allow: 'POST' });
    }
    const body = await readBody(req, res);
    if (body === null) return undefined;
    if (!signatureValid(this.config.publicKey, req, body))
      return send(res, 401, { error: 'invalid request signature' });
    const stale = timestampRefusal(req.headers['x-signature-timestamp'], Math.floor(this.now() / 1000));
    if (stale) return send(res, 401, { error: stale });
    let cmd;
    try {
      cmd = interaction.parse(body);
    } catch (err) {
      if (!(err instanceof interaction.BadRequest)) throw err;
      return send(res, 400, { error: err.message });
    }
    if (cmd.type === 1) return send(res, 200, { type: 1 });
    const reply = await this.answer(cmd);
    return send(res, 200, message(reply.content, reply.ephemeral));
  }

  // A command's {content, ephemeral}, whatever happens.
  async answer(cmd) {
    if (cmd.guildId === 0n) return { content: render.TEXT.dmOnly, ephemeral: true };
    if (!this.commands.known(cmd.name))
      return { content: render.unknownCommand(cmd.name), ephemeral: true };
    let timer;
    const late = new Promise((resolve) => {
      timer = setTimeout(() => resolve(null), this.config.replyBudgetMs);
    });
    try {
      const reply = await Promise.race([this.admitted(cmd), late]);
      if (reply) return reply;
      this.trouble(cmd, 'the command did not finish within the reply budget');
    } catch (err) {
      this.trouble(cmd, err.message);
    } finally {
      clearTimeout(timer);
    }
    return { content: render.TEXT.trouble, ephemeral: true };
  }

  async admitted(cmd) {
    const admit = await this.cache.admit(cmd.interactionId, cmd.guildId, cmd.userId);
    if (!admit.ok) return { content: render.rateLimited(admit.guild, admit.retryAfterMs), ephemeral: true };
    return this.commands.run(cmd);
  }

  trouble(cmd, why) {
    const now = Date.now();
    if (now - this.lastTrouble < 1000) return;
    this.lastTrouble = now;
    log('warn', 'command failed; sent the trouble message', { command: cmd.name, error: why });
  }

  // Stops accepting, lets in-flight requests finish (up to grace), closes.
  async stop() {
    this.draining = true;
    const closed = new Promise((resolve) => this.server.close(resolve));
    this.server.closeIdleConnections();
    const deadline = Date.now() + this.config.graceMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.server.closeAllConnections();
    await closed;
    await Promise.allSettled([this.pool.end(), this.cache.close()]);
  }
}

// ---------------------------------------------------------------------------
// Processes

async function runWorker(config, announce) {
  const bot = new Bot(config);
  const port = await bot.listen();
  if (announce) process.stdout.write(JSON.stringify({ port }) + '\n');
  log('info', 'listening', { port, pool_size: config.poolSize });
  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    log('info', 'stopping', { signal, in_flight: bot.inFlight });
    await bot.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function runPrimary(config) {
  let announced = false;
  let stopping = false;
  let exitCode = 0;
  const workers = [];
  for (let i = 0; i < config.workers; i++) workers.push(cluster.fork({ CORDBANK_PEER_WORKER: '1' }));
  cluster.on('listening', (worker, address) => {
    if (announced) return;
    announced = true;
    process.stdout.write(JSON.stringify({ port: address.port }) + '\n');
  });
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      log('error', 'a worker died; stopping', { worker_pid: worker.process.pid, code, signal });
      shutdown('worker exit', 1);
    } else if (Object.keys(cluster.workers).length === 0) process.exit(exitCode);
  });
  const shutdown = (why, code = 0) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    log('info', 'stopping', { signal: why, workers: workers.length });
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    if (Object.keys(cluster.workers).length === 0) process.exit(exitCode);
    setTimeout(() => process.exit(exitCode || 1), config.graceMs + 5000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function main() {
  const config = parseConfig(process.argv.slice(2), process.env);
  const worker = process.env.CORDBANK_PEER_WORKER === '1';
  if (!worker) await applySchema(config.pgUrl);
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config);
  return runWorker(config, !worker);
}

main().catch((err) => {
  log('error', 'could not start', { error: err.message });
  process.exit(1);
});
